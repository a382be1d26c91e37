//! Module boundaries, checked on the source text.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel =
                path.strip_prefix(crate::support::root()).expect("rel").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("read");
            // Ignore inline test modules: they may use anything.
            let text = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            out.push((rel, text));
        }
    }
}

fn all() -> Vec<(String, String)> {
    let mut out = Vec::new();
    sources(&crate::support::root().join("src"), &mut out);
    assert!(out.len() > 10, "found the sources");
    out
}

#[test]
fn only_http_touches_the_network_client() {
    for (file, text) in all() {
        if file == "src/http.rs" {
            continue;
        }
        assert!(!text.contains("reqwest::"), "{file} uses reqwest; only src/http.rs may");
    }
}

#[test]
fn model_imports_no_io_or_framework_crates() {
    for (file, text) in all().into_iter().filter(|(f, _)| f.starts_with("src/model/")) {
        for banned in ["reqwest", "minijinja", "tokio", "clap", "std::fs"] {
            assert!(!text.contains(banned), "{file} mentions {banned}");
        }
    }
}

#[test]
fn reports_never_import_http_or_exec() {
    for (file, text) in all().into_iter().filter(|(f, _)| f.starts_with("src/report/")) {
        for banned in ["crate::http", "crate::exec"] {
            assert!(!text.contains(banned), "{file} imports {banned}");
        }
    }
}

#[test]
fn only_the_edges_read_argv_and_the_environment() {
    for (file, text) in all() {
        if file == "src/main.rs" || file == "src/cli.rs" {
            continue;
        }
        for banned in ["std::env::var", "std::env::args", "env::vars"] {
            assert!(!text.contains(banned), "{file} reads {banned}; only main.rs/cli.rs may");
        }
    }
}

#[test]
fn the_playground_crate_does_not_depend_on_baton() {
    let manifest = crate::support::root().join("crates/playground/Cargo.toml");
    let manifest = std::fs::read_to_string(manifest).expect("read the playground's Cargo.toml");
    let mut names = manifest.lines().filter_map(|l| l.split_once('=')).map(|(name, _)| name.trim());
    let depends = names.any(|name| name == "baton") || manifest.contains("dependencies.baton]");
    assert!(!depends, "crates/playground must not depend on baton");
}
