//! The shipped collections, built into the binary: `baton demo` runs them from any
//! folder, `baton demo --list` names them, `baton init --example NAME` writes one out.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

static COLLECTIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/collections");

/// One built-in example: its name (the file stem) and what its first comment says.
#[cfg_attr(not(feature = "playground"), allow(dead_code))]
pub struct Example {
    /// `web-session`.
    pub name: String,
    /// The first line of its leading comment.
    pub summary: String,
}

/// The examples, by name.
pub fn list() -> Vec<Example> {
    let mut out: Vec<Example> = COLLECTIONS
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "yaml"))
        .map(|f| {
            let text = f.contents_utf8().unwrap_or_default();
            // The first sentence of the leading comment.
            let comment: Vec<&str> = text.lines().map_while(|l| l.strip_prefix('#')).map(str::trim).collect();
            let joined = comment.join(" ");
            let first = joined.split_inclusive(". ").next().unwrap_or("").trim().trim_end_matches('.');
            let summary = if first.chars().count() > 90 {
                first.chars().take(89).collect::<String>() + "…"
            } else {
                first.to_string()
            };
            let name = f.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Example { name, summary }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `baton demo --list`.
#[cfg(feature = "playground")]
pub fn list_text() -> String {
    let examples = list();
    let width = examples.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut out = String::from(
        "Built-in examples (`baton demo` runs them all, `baton init --example NAME` writes one):\n",
    );
    for e in &examples {
        out.push_str(&format!("  {:width$}  {}\n", e.name, e.summary));
    }
    out
}

/// Writes every built-in collection (with its data, recipes and snapshots) under `dir`.
#[cfg(feature = "playground")]
pub fn extract_all(dir: &Path) -> std::io::Result<()> {
    write_dir(&COLLECTIONS, dir)
}

#[cfg(feature = "playground")]
fn write_dir(d: &Dir<'_>, root: &Path) -> std::io::Result<()> {
    for f in d.files() {
        let path = root.join(f.path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, f.contents())?;
    }
    for sub in d.dirs() {
        write_dir(sub, root)?;
    }
    Ok(())
}

/// Writes example `name` into `dir`, with the files it reads (its `data/` and `recipes/`
/// neighbours); returns the paths written. Existing files are never overwritten.
pub fn write_example(name: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let file = format!("{name}.yaml");
    let Some(collection) = COLLECTIONS.get_file(&file) else {
        let names: Vec<String> = list().into_iter().map(|e| e.name).collect();
        let hint = crate::diagnostic::did_you_mean(name, names.iter().map(String::as_str)).map_or_else(
            || format!("the examples: {}", names.join(", ")),
            |n| format!("did you mean `{n}`?"),
        );
        return Err(format!("no built-in example is named `{name}`; {hint}"));
    };
    let text = collection.contents_utf8().unwrap_or_default();
    let mut files = vec![collection];
    // The files it names beside it: `data/…` and `recipes/…`.
    for sub in ["data", "recipes"] {
        if let Some(d) = COLLECTIONS.get_dir(sub) {
            files.extend(d.files().filter(|f| f.path().to_str().is_some_and(|p| text.contains(p))));
        }
    }
    let mut written = Vec::new();
    for f in files {
        let path = dir.join(f.path());
        if path.exists() {
            return Err(format!("`{}` exists already; nothing was written over it", path.display()));
        }
        written.push((path, f.contents()));
    }
    let mut out = Vec::new();
    for (path, bytes) in written {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        crate::atomic::write(&path, bytes, false)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_collection_is_built_in_and_named_by_its_comment() {
        let names: Vec<String> = list().into_iter().map(|e| e.name).collect();
        for expected in ["demo", "web-session", "sign-ups", "mtls", "bodies-and-checks"] {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
        assert!(list().iter().all(|e| !e.summary.is_empty()), "every example says what it is");
    }

    #[test]
    fn an_example_comes_with_the_data_it_reads_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = write_example("sign-ups", dir.path()).expect("written");
        assert!(written.iter().any(|p| p.ends_with("data/sign-ups.csv")), "{written:?}");
        assert!(write_example("sign-ups", dir.path()).expect_err("exists").contains("exists already"));
        assert!(write_example("sigups", dir.path()).expect_err("typo").contains("did you mean `sign-ups`"));
    }
}
