//! Sharing: `include:` recipes and `--env NAME` environment profiles.
//!
//! Runs after parsing and before validation. An include's `vars`, auth steps, defaults
//! and requests join the collection: recipe steps first, then the collection's own.
//! Variables are layered by position in `vars` (later wins): recipe `vars`, the
//! collection's `vars`, the include entry's `vars:`, then the environment profile.
//! Includes may nest; cycles and runaway depth are errors.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::exit::Exit;
use crate::model::{Collection, Role};
use crate::source::SourceMap;
use crate::yaml::{Key, Node, Value};
use crate::{load, parse, yaml};

/// How deep includes may nest.
const MAX_DEPTH: usize = 8;

fn dir_of(sources: &SourceMap, c: &Collection) -> PathBuf {
    sources.get(c.file).and_then(|f| f.path.parent().map(Path::to_path_buf)).unwrap_or_default()
}

/// Reads and parses one YAML file as a collection.
fn load_collection(path: &Path, sources: &mut SourceMap) -> Result<Collection, Vec<Diagnostic>> {
    let id = load::read(path, sources).map_err(|d| vec![d])?;
    let file = sources.get(id).ok_or_else(Vec::new)?;
    let node = yaml::parse(file, id).map_err(|d| vec![d])?;
    let stem = path.file_stem().map_or_else(|| "recipe".into(), |s| s.to_string_lossy().into_owned());
    parse::parse_collection(&node, id, &file.text, &stem)
}

/// Merges every include of `c` into it (recursively).
pub fn expand_includes(c: Collection, sources: &mut SourceMap) -> Result<Collection, Vec<Diagnostic>> {
    let mut stack = Vec::new();
    if let Some(f) = sources.get(c.file) {
        stack.push(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone()));
    }
    expand(c, sources, &mut stack)
}

fn expand(
    mut c: Collection,
    sources: &mut SourceMap,
    stack: &mut Vec<PathBuf>,
) -> Result<Collection, Vec<Diagnostic>> {
    if c.includes.is_empty() {
        return Ok(c);
    }
    let dir = dir_of(sources, &c);
    let mut diags = Vec::new();
    let mut vars: Vec<(Key, Node)> = Vec::new();
    let mut auth = Vec::new();
    let mut requests = Vec::new();
    let mut overrides = Vec::new();
    for inc in std::mem::take(&mut c.includes) {
        let path = dir.join(&inc.path);
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if stack.contains(&canonical) {
            diags.push(
                Diagnostic::error(
                    Code::IncludeCycle,
                    format!("`{}` includes itself (through the chain)", inc.path),
                )
                .at(inc.span, "this include closes a cycle")
                .help("a recipe cannot include a collection that includes it"),
            );
            continue;
        }
        if stack.len() >= MAX_DEPTH {
            diags.push(
                Diagnostic::error(
                    Code::IncludeDepth,
                    format!("includes nest deeper than {MAX_DEPTH} levels"),
                )
                .at(inc.span, "here"),
            );
            continue;
        }
        if !path.is_file() {
            diags.push(
                Diagnostic::error(Code::MissingInclude, format!("cannot read `{}`", path.display()))
                    .at(inc.span, "no such file")
                    .help("include paths are relative to the file that includes them"),
            );
            continue;
        }
        let recipe = match load_collection(&path, sources) {
            Ok(r) => r,
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        stack.push(canonical);
        let recipe = expand(recipe, sources, stack);
        stack.pop();
        let recipe = match recipe {
            Ok(r) => r,
            Err(d) => {
                diags.extend(d);
                continue;
            }
        };
        vars.extend(recipe.vars);
        overrides.extend(inc.vars);
        auth.extend(recipe.auth);
        requests.extend(recipe.requests);
        if let Some(o) = recipe.oauth2 {
            if let Some(mine) = &c.oauth2 {
                diags.push(
                    Diagnostic::error(
                        Code::ConflictingAuth,
                        "two OAuth2 profiles: the collection's and a recipe's",
                    )
                    .at(mine.span, "the collection's profile")
                    .also(o.span, "the recipe's profile")
                    .help("keep one `auth: {oauth2: …}`"),
                );
            } else {
                c.oauth2 = Some(o);
            }
        }
        let d = recipe.defaults;
        let mine = &mut c.defaults;
        let keep = |own: &[(Key, Node)], theirs: Vec<(Key, Node)>| -> Vec<(Key, Node)> {
            theirs
                .into_iter()
                .filter(|(k, _)| !own.iter().any(|(o, _)| o.name.eq_ignore_ascii_case(&k.name)))
                .collect()
        };
        let mut headers = keep(&mine.headers, d.headers);
        headers.append(&mut mine.headers);
        mine.headers = headers;
        let mut query = keep(&mine.query, d.query);
        query.append(&mut mine.query);
        mine.query = query;
        mine.auth = mine.auth.take().or(d.auth);
        mine.timeout = mine.timeout.or(d.timeout);
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    vars.append(&mut c.vars);
    vars.extend(overrides);
    c.vars = vars;
    auth.append(&mut c.auth);
    c.auth = auth;
    requests.append(&mut c.requests);
    c.requests = requests;
    check_unique(&c)?;
    Ok(c)
}

/// Step names must stay unique once recipes joined in.
fn check_unique(c: &Collection) -> Result<(), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let steps: Vec<_> = c.steps().collect();
    for (i, s) in steps.iter().enumerate() {
        if let Some(first) = steps[..i].iter().find(|o| o.name == s.name) {
            let kind = if s.role == Role::Auth { "auth step" } else { "request" };
            diags.push(
                Diagnostic::error(
                    Code::DuplicateStep,
                    format!("two steps are named `{}` after includes", s.name),
                )
                .at(s.name_span, format!("this {kind}"))
                .also(first.name_span, "first defined here")
                .help("rename one of them; step names are unique across a collection and its recipes"),
            );
        }
    }
    if diags.is_empty() { Ok(()) } else { Err(diags) }
}

/// Adds the `--env NAME` profile's `vars` on top of the collection's.
pub fn apply_environment(c: &mut Collection, name: &str, sources: &mut SourceMap) -> Result<(), Diagnostic> {
    let dir = dir_of(sources, c);
    let candidates = [dir.join("environments"), PathBuf::from("environments")];
    let Some(path) = candidates.iter().map(|d| d.join(format!("{name}.yaml"))).find(|p| p.is_file()) else {
        let mut known: Vec<String> = candidates
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| e.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        known.sort();
        known.dedup();
        let help = match did_you_mean(name, known.iter().map(String::as_str)) {
            Some(k) => format!("did you mean `--env {k}`?"),
            None if known.is_empty() => {
                "create `environments/NAME.yaml` with `vars:` beside the collection".into()
            }
            None => format!("available: {}", known.join(", ")),
        };
        return Err(Diagnostic::usage(Code::MissingEnvironment, format!("no environment `{name}`"))
            .note(format!("looked for {}", candidates[0].join(format!("{name}.yaml")).display()))
            .help(help)
            .with_exit(Exit::Usage));
    };
    let id = load::read(&path, sources)?;
    let Some(file) = sources.get(id) else { return Ok(()) };
    let node = yaml::parse(file, id)?;
    let Value::Map(entries) = &node.value else {
        return Err(Diagnostic::error(Code::WrongType, "an environment profile is a mapping with `vars:`")
            .at(node.span, "expected `vars: {name: value}`"));
    };
    for (k, v) in entries {
        match k.name.as_str() {
            "vars" => match &v.value {
                Value::Map(vars) => c.vars.extend(vars.iter().cloned()),
                Value::Null => {}
                _ => {
                    return Err(Diagnostic::error(Code::WrongType, "`vars` must be a mapping")
                        .at(v.span, "expected `name: value` pairs"));
                }
            },
            "name" => {}
            other => {
                return Err(Diagnostic::error(
                    Code::UnknownField,
                    format!("unknown field `{other}` in an environment profile"),
                )
                .at(k.span, "not a known field")
                .help("an environment profile holds `vars:` (and an optional `name:`)"));
            }
        }
    }
    Ok(())
}
