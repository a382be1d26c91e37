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
    let mut profiles: Vec<crate::model::Profile> = Vec::new();
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
        c.secrets.extend(recipe.secrets);
        overrides.extend(inc.vars);
        auth.extend(recipe.auth);
        requests.extend(recipe.requests);
        for p in recipe.profiles {
            join_profile(&mut profiles, p, &mut diags);
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
    for p in std::mem::take(&mut c.profiles) {
        join_profile(&mut profiles, p, &mut diags);
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    c.profiles = profiles;
    auth.append(&mut c.auth);
    c.auth = auth;
    requests.append(&mut c.requests);
    c.requests = requests;
    check_unique(&c)?;
    Ok(c)
}

/// Adds a recipe's (or the collection's own) profile: the auth steps of the single
/// profiles join into one (one OAuth2 profile at most); a named profile is defined once.
fn join_profile(
    profiles: &mut Vec<crate::model::Profile>,
    p: crate::model::Profile,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(same) = profiles.iter_mut().find(|q| q.label() == p.label()) else {
        profiles.push(p);
        return;
    };
    let (what, help) = match &p.name {
        None if !(same.oauth2 && p.oauth2) => {
            same.oauth2 |= p.oauth2;
            return;
        }
        None => (
            "two OAuth2 profiles: the collection's and a recipe's".to_string(),
            "keep one `auth: {oauth2: …}`".to_string(),
        ),
        Some(k) => (format!("two profiles named `{}`", k.name), "rename one of them".to_string()),
    };
    diags.push(
        Diagnostic::error(Code::ConflictingAuth, what)
            .at(p.span, "this profile")
            .also(same.span, "and this one (a recipe's)")
            .help(help),
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Step;

    /// Writes `files` (name, text) into a fresh temp dir.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    /// Loads `main` from `dir` and expands its includes.
    fn expanded(dir: &Path, main: &str) -> (SourceMap, Result<Collection, Vec<Diagnostic>>) {
        let mut sources = SourceMap::default();
        let c = load_collection(&dir.join(main), &mut sources).expect("the collection parses");
        let result = expand_includes(c, &mut sources);
        (sources, result)
    }

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    fn vars(c: &Collection) -> Vec<(&str, String)> {
        c.vars.iter().map(|(k, v)| (k.name.as_str(), v.to_json().to_string())).collect()
    }

    fn only(result: Result<Collection, Vec<Diagnostic>>) -> Diagnostic {
        let mut diags = result.expect_err("rejected");
        assert_eq!(diags.len(), 1, "{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>());
        diags.remove(0)
    }

    const RECIPE: &str = "vars: {a: recipe, b: recipe}
auth:
  - name: login
    url: http://localhost:9/login
requests:
  - name: recipe request
    url: http://localhost:9/r
";

    #[test]
    fn recipe_steps_come_first_and_vars_layer_recipe_collection_then_include_entry() {
        let main = "include:
  - path: recipe.yaml
    vars: {b: entry}
vars: {a: main}
requests:
  - name: own
    url: http://localhost:9/own
";
        let dir = tree(&[("recipe.yaml", RECIPE), ("main.yaml", main)]);
        let (_, result) = expanded(dir.path(), "main.yaml");
        let c = result.expect("expanded");
        assert!(c.includes.is_empty(), "includes are consumed");
        assert_eq!(names(&c.auth), ["login"]);
        assert_eq!(names(&c.requests), ["recipe request", "own"]);
        let expected = [("a", "\"recipe\""), ("b", "\"recipe\""), ("a", "\"main\""), ("b", "\"entry\"")];
        let got = vars(&c);
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(got, expected, "later entries win");
    }

    #[test]
    fn nested_includes_resolve_relative_to_the_file_that_includes_them() {
        let dir = tree(&[
            (
                "main.yaml",
                "include: [lib/first.yaml]\nrequests:\n  - {name: main, url: http://localhost:9/}\n",
            ),
            (
                "lib/first.yaml",
                "include: [second.yaml]\nrequests:\n  - {name: first, url: http://localhost:9/}\n",
            ),
            ("lib/second.yaml", "requests:\n  - {name: second, url: http://localhost:9/}\n"),
        ]);
        let (_, result) = expanded(dir.path(), "main.yaml");
        assert_eq!(names(&result.expect("expanded").requests), ["second", "first", "main"]);
    }

    #[test]
    fn an_include_cycle_is_reported_at_the_include_that_closes_it() {
        let dir = tree(&[
            ("a.yaml", "include: [b.yaml]\nrequests:\n  - {name: a, url: http://localhost:9/}\n"),
            ("b.yaml", "include: [a.yaml]\nrequests:\n  - {name: b, url: http://localhost:9/}\n"),
        ]);
        let (sources, result) = expanded(dir.path(), "a.yaml");
        let d = only(result);
        assert_eq!(d.code, "include-cycle");
        assert!(
            sources.position(d.labels[0].span).ends_with("b.yaml:1:11"),
            "{}",
            sources.position(d.labels[0].span)
        );
    }

    #[test]
    fn includes_nest_at_most_eight_deep() {
        let mut files: Vec<(String, String)> = (1..=9)
            .map(|i| {
                let text = format!(
                    "include: [r{}.yaml]\nrequests:\n  - {{name: r{i}, url: http://localhost:9/}}\n",
                    i + 1
                );
                (format!("r{i}.yaml"), text)
            })
            .collect();
        files.push(("r10.yaml".into(), "requests:\n  - {name: r10, url: http://localhost:9/}\n".into()));
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let dir = tree(&borrowed);
        let (_, result) = expanded(dir.path(), "r1.yaml");
        assert_eq!(only(result).code, "include-depth");
        let (_, result) = expanded(dir.path(), "r3.yaml");
        assert_eq!(names(&result.expect("eight levels are fine").requests).len(), 8);
    }

    #[test]
    fn a_missing_include_says_paths_are_relative_to_the_including_file() {
        let dir = tree(&[(
            "main.yaml",
            "include: [nope.yaml]\nrequests:\n  - {name: a, url: http://localhost:9/}\n",
        )]);
        let (_, result) = expanded(dir.path(), "main.yaml");
        let d = only(result);
        assert_eq!(d.code, "missing-include");
        assert!(d.message.ends_with("nope.yaml`"), "{}", d.message);
        assert_eq!(d.help.as_deref(), Some("include paths are relative to the file that includes them"));
    }

    #[test]
    fn step_names_stay_unique_once_recipes_join() {
        let main =
            "include: [recipe.yaml]\nrequests:\n  - name: recipe request\n    url: http://localhost:9/\n";
        let dir = tree(&[("recipe.yaml", RECIPE), ("main.yaml", main)]);
        let (sources, result) = expanded(dir.path(), "main.yaml");
        let d = only(result);
        assert_eq!(d.code, "duplicate-step");
        let primary = d.labels.iter().find(|l| l.primary).expect("primary");
        let first = d.labels.iter().find(|l| !l.primary).expect("first");
        assert!(
            sources.position(primary.span).contains("main.yaml:3:"),
            "{}",
            sources.position(primary.span)
        );
        assert!(sources.position(first.span).contains("recipe.yaml:6:"), "{}", sources.position(first.span));
    }

    #[test]
    fn the_collections_defaults_win_and_header_names_ignore_case() {
        let recipe = "defaults:\n  headers: {X-Api: recipe, x-only-recipe: r}\n  timeout: 5s\nrequests:\n  - {name: r, url: http://localhost:9/}\n";
        let main = "include: [recipe.yaml]\ndefaults:\n  headers: {x-api: main}\nrequests:\n  - {name: m, url: http://localhost:9/}\n";
        let dir = tree(&[("recipe.yaml", recipe), ("main.yaml", main)]);
        let (_, result) = expanded(dir.path(), "main.yaml");
        let c = result.expect("expanded");
        let headers: Vec<(&str, Option<&str>)> =
            c.defaults.headers.iter().map(|(k, v)| (k.name.as_str(), v.as_str())).collect();
        assert_eq!(headers, [("x-only-recipe", Some("r")), ("x-api", Some("main"))]);
        assert_eq!(c.defaults.timeout, Some(std::time::Duration::from_secs(5)), "taken from the recipe");
    }

    #[test]
    fn two_oauth2_profiles_are_a_conflict_showing_both() {
        let oauth = "auth:\n  oauth2:\n    token_url: http://localhost:9/token\n    grant: client_credentials\n    client_id: id\n    client_secret: s\n";
        let main =
            format!("include: [recipe.yaml]\n{oauth}requests:\n  - {{name: m, url: http://localhost:9/}}\n");
        let recipe = format!("{oauth}requests:\n  - {{name: r, url: http://localhost:9/}}\n");
        let dir = tree(&[("recipe.yaml", &recipe), ("main.yaml", &main)]);
        let (sources, result) = expanded(dir.path(), "main.yaml");
        let d = only(result);
        assert_eq!(d.code, "conflicting-auth");
        let files: Vec<String> = d.labels.iter().map(|l| sources.position(l.span)).collect();
        assert!(files[0].contains("main.yaml") && files[1].contains("recipe.yaml"), "{files:?}");
    }

    fn with_environment(files: &[(&str, &str)], name: &str) -> (Result<Collection, Diagnostic>, SourceMap) {
        let dir = tree(files);
        let mut sources = SourceMap::default();
        let mut c = load_collection(&dir.path().join("main.yaml"), &mut sources).expect("parses");
        let result = apply_environment(&mut c, name, &mut sources).map(|()| c);
        (result, sources)
    }

    const MAIN: &str = "vars: {greeting: collection}\nrequests:\n  - {name: m, url: http://localhost:9/}\n";

    #[test]
    fn an_environment_profile_adds_its_vars_last() {
        let (result, _) = with_environment(
            &[
                ("main.yaml", MAIN),
                ("environments/staging.yaml", "name: Staging\nvars: {greeting: staging}\n"),
            ],
            "staging",
        );
        let c = result.expect("applied");
        let got = vars(&c);
        assert_eq!(got.last().map(|(k, v)| (*k, v.as_str())), Some(("greeting", "\"staging\"")));
        assert_eq!(got.len(), 2, "added on top, the collection's own value kept below it");
    }

    #[test]
    fn an_unknown_environment_is_a_usage_error_with_a_suggestion() {
        let files = [
            ("main.yaml", MAIN),
            ("environments/staging.yaml", "vars: {}\n"),
            ("environments/prod.yaml", "vars: {}\n"),
        ];
        let (result, _) = with_environment(&files, "stagign");
        let d = result.expect_err("unknown");
        assert_eq!((d.code, d.exit), (Code::MissingEnvironment, Exit::Usage));
        assert_eq!(d.help.as_deref(), Some("did you mean `--env staging`?"));
        let (result, _) = with_environment(&files, "qa");
        assert_eq!(result.expect_err("unknown").help.as_deref(), Some("available: prod, staging"));
    }

    #[test]
    fn an_environment_profile_holds_only_vars_and_a_name() {
        let (result, sources) =
            with_environment(&[("main.yaml", MAIN), ("environments/e.yaml", "vars: {}\nheaders: {}\n")], "e");
        let d = result.expect_err("unknown field");
        assert_eq!(d.code, "unknown-field");
        assert!(
            sources.position(d.labels[0].span).ends_with("e.yaml:2:1"),
            "{}",
            sources.position(d.labels[0].span)
        );
        let (result, _) =
            with_environment(&[("main.yaml", MAIN), ("environments/e.yaml", "vars: [a, b]\n")], "e");
        assert_eq!(result.expect_err("not a mapping").code, "wrong-type");
        let (result, _) = with_environment(&[("main.yaml", MAIN), ("environments/e.yaml", "- vars\n")], "e");
        assert_eq!(result.expect_err("not a mapping").code, "wrong-type");
    }
}
