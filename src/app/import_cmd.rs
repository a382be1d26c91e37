//! `baton import`: reads other tools' collections, writes baton collections, a
//! translation report and (for environments) profiles and `.env.example`, then validates
//! what it wrote.

use std::path::{Path, PathBuf};

use crate::cli::ImportKind;
use crate::exit::Exit;
use crate::import::{self, Draft, Renames};
use crate::secret::Masker;

/// Runs an import; `strict` fails when anything was left untranslated.
pub(super) fn import(
    kind: ImportKind,
    sources: &[PathBuf],
    out: &Path,
    strict: bool,
    env: std::collections::HashMap<String, String>,
) -> Exit {
    let say = |t: &str| super::eprint(t, &Masker::default());
    let mut renames = Renames::default();
    let mut drafts: Vec<(String, Draft)> = Vec::new();
    let mut envs: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut env_secrets: Vec<String> = Vec::new();
    for src in sources {
        if kind == ImportKind::Bruno {
            match import::bruno::collection(src, &mut renames) {
                Ok((d, e, secrets)) => {
                    drafts.push((format!("{}.yaml", slug(&d.name)), d));
                    envs.extend(e.into_iter().map(|(n, v)| (slug(&n), v)));
                    env_secrets.extend(secrets);
                }
                Err(e) => {
                    say(&format!("error: `{}`: {e}", src.display()));
                    return Exit::Invalid;
                }
            }
            continue;
        }
        let text = match std::fs::read_to_string(src) {
            Ok(t) => t,
            Err(e) => {
                say(&format!("error: cannot read `{}`: {e}", src.display()));
                return Exit::Usage;
            }
        };
        let stem =
            src.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "imported".into());
        match kind {
            ImportKind::Postman => {
                let doc: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(d) => d,
                    Err(e) => {
                        say(&format!("error: `{}` is not JSON: {e}", src.display()));
                        return Exit::Invalid;
                    }
                };
                if import::postman::is_environment(&doc) {
                    let (name, vars, secrets) = import::postman::environment(&doc, &mut renames);
                    env_secrets.extend(secrets);
                    envs.push((slug(&name), vars));
                    continue;
                }
                match import::postman::collection(&doc, &mut renames) {
                    Ok(d) => drafts.push((format!("{}.yaml", slug(&d.name)), d)),
                    Err(e) => {
                        say(&format!("error: `{}`: {e}", src.display()));
                        return Exit::Invalid;
                    }
                }
            }
            ImportKind::Bruno => {}
            ImportKind::Openapi => {
                let doc = match parse_document(src, text) {
                    Ok(d) => d,
                    Err(e) => {
                        say(&format!("error: `{}`: {e}", src.display()));
                        return Exit::Invalid;
                    }
                };
                match import::openapi::spec(&doc, &src.display().to_string()) {
                    Ok(d) => drafts.push((format!("{}.yaml", slug(&d.name)), d)),
                    Err(e) => {
                        say(&format!("error: `{}`: {e}", src.display()));
                        return Exit::Invalid;
                    }
                }
            }
            ImportKind::Hurl => {
                let d = import::hurl::file(&text, &stem, &src.display().to_string(), &mut renames);
                if d.requests.is_empty() {
                    say(&format!("error: `{}` holds no Hurl entry", src.display()));
                    return Exit::Invalid;
                }
                drafts.push((format!("{}.yaml", slug(&stem)), d));
            }
            ImportKind::Curl => {
                let d = import::curl::script(&text, &stem, &src.display().to_string());
                if d.requests.is_empty() && d.skipped.is_empty() {
                    say(&format!("error: `{}` holds no curl command", src.display()));
                    return Exit::Invalid;
                }
                drafts.push((format!("{}.yaml", slug(&stem)), d));
            }
        }
    }
    if !renames.clashes.is_empty() {
        for (a, b, to) in &renames.clashes {
            say(&format!(
                "error: the variables `{a}` and `{b}` would both become `{to}`; rename one in the source"
            ));
        }
        return Exit::Invalid;
    }
    let env_names: Vec<String> = envs.iter().flat_map(|(_, v)| v.iter().map(|(k, _)| k.clone())).collect();
    for (_, d) in &mut drafts {
        import::define_undefined(d, &env_names);
    }
    // Nothing is written over an existing file; everything is checked before the first write.
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let label = |p: &PathBuf| p.display().to_string();
    for (name, d) in &drafts {
        let from = sources.iter().map(label).collect::<Vec<_>>().join(", ");
        files.push((out.join(name), import::write_collection(d, &from)));
    }
    for (name, vars) in &envs {
        let mut text = format!("# An imported environment: `baton run … --env {name}`.\nvars:\n");
        for (k, v) in vars {
            text.push_str(&format!("  {}: {}\n", import::scalar(k), import::scalar(v)));
        }
        files.push((out.join("environments").join(format!("{name}.yaml")), text));
    }
    let mut env_example: Vec<String> = env_secrets;
    for (_, d) in &drafts {
        env_example.extend(import::environment_reads(d));
    }
    env_example.sort();
    env_example.dedup();
    if !env_example.is_empty() {
        let text = format!(
            "# Values the imported collections read from the environment; copy to .env, fill in, pass --env-file .env.\n{}",
            env_example.iter().map(|n| format!("{n}=\n")).collect::<String>()
        );
        files.push((out.join(".env.example"), text));
    }
    files.push((out.join("import-report.md"), import::report(&drafts, &renames)));
    if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
        say(&format!(
            "error: `{}` exists already; baton import writes nothing over existing files",
            p.display()
        ));
        return Exit::Usage;
    }
    for (path, text) in &files {
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::atomic::write(path, text.as_bytes(), false));
        if let Err(e) = written {
            say(&format!("error: cannot write `{}`: {e}", path.display()));
            return Exit::Runtime;
        }
        println!("wrote {}", path.display());
    }
    let steps: Vec<&import::DraftStep> = drafts.iter().flat_map(|(_, d)| &d.requests).collect();
    let partial = steps.iter().filter(|s| s.fidelity() == import::Fidelity::Partial).count();
    let skipped = drafts.iter().map(|(_, d)| d.skipped.len()).sum::<usize>();
    let left_out = if skipped > 0 { format!(", {skipped} entries left out") } else { String::new() };
    println!(
        "{} requests imported: {} translated, {} changed, {partial} partial{left_out} (see import-report.md)",
        steps.len(),
        steps.iter().filter(|s| s.fidelity() == import::Fidelity::Translated).count(),
        steps.iter().filter(|s| s.fidelity() == import::Fidelity::Changed).count(),
    );
    // What was written is checked like any collection.
    let paths: Vec<PathBuf> = drafts.iter().map(|(name, _)| out.join(name)).collect();
    let checked = super::collections::validate_paths(paths, env);
    if checked != Exit::Passed {
        return checked;
    }
    if strict && partial + skipped > 0 {
        say(&format!(
            "error: --strict: {partial} requests were not fully translated and {skipped} entries left out (see import-report.md)"
        ));
        return Exit::Failed;
    }
    Exit::Passed
}

/// A JSON or YAML document as JSON.
fn parse_document(path: &Path, text: String) -> Result<serde_json::Value, String> {
    if let Ok(doc) = serde_json::from_str(&text) {
        return Ok(doc);
    }
    let mut sources = crate::source::SourceMap::default();
    let id = sources.add(path, text);
    let file = sources.get(id).ok_or("unreadable")?;
    crate::yaml::parse(file, id).map(|n| n.to_json()).map_err(|d| d.message)
}

/// A file name from a collection or environment name.
fn slug(name: &str) -> String {
    let s: String =
        name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let s = s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if s.is_empty() { "imported".into() } else { s }
}
