//! Persisted state: `once` results and cached credentials, kept between runs.
//!
//! One JSON file in the user's cache directory (or `--state PATH`), mode 0600,
//! replaced atomically (temp file + rename) under an exclusive lock on a sidecar
//! `.lock` file, so parallel runs never lose each other's entries. Entries are keyed
//! by collection, environment, step and a fingerprint of the inputs that produced
//! them (credentials excluded), so changing an input runs the step again. A file that
//! is not a baton state file, or is corrupt, is reported and never overwritten.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic};
use crate::exit::Exit;

const FORMAT: &str = "baton-state";
const VERSION: u32 = 1;

/// One persisted result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Collection file (absolute when known).
    pub collection: String,
    /// `--env` name, or empty.
    pub environment: String,
    /// Step name.
    pub step: String,
    /// Captured variables.
    pub captures: serde_json::Map<String, serde_json::Value>,
    /// Names of the captures that are secret (masked by `state show`).
    pub secret: Vec<String>,
    /// Unix seconds when saved.
    pub saved_at: i64,
    /// Unix seconds after which the entry is stale (`None`: never).
    pub expires_at: Option<i64>,
}

impl Entry {
    /// Whether the entry can still be used at `now` (unix seconds).
    pub fn is_fresh(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Data {
    format: String,
    version: u32,
    entries: BTreeMap<String, Entry>,
}

impl Default for Data {
    fn default() -> Self {
        Data { format: FORMAT.into(), version: VERSION, entries: BTreeMap::new() }
    }
}

/// The state file of a run.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    data: Data,
}

/// The default location: the user's cache directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "baton").map(|d| d.cache_dir().join("state.json"))
}

/// A stable key for one step's persisted result.
pub fn key(collection: &str, environment: &str, step: &str, fingerprint: &str) -> String {
    let mut h = Sha256::new();
    for part in [collection, environment, step, fingerprint] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn problem(path: &Path, what: String, help: &str) -> Diagnostic {
    Diagnostic::usage(Code::StateFile, format!("state file `{}`: {what}", path.display()))
        .help(help)
        .with_exit(Exit::Usage)
}

fn lock(path: &Path) -> Result<File, Diagnostic> {
    let lock_path = path.with_extension("json.lock");
    if let Some(dir) = lock_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            problem(path, format!("cannot create its folder: {e}"), "pass `--state PATH` elsewhere")
        })?;
    }
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| {
        problem(path, format!("cannot open its lock file: {e}"), "pass `--state PATH` elsewhere")
    })?;
    file.lock().map_err(|e| problem(path, format!("cannot lock it: {e}"), "is another process stuck?"))?;
    Ok(file)
}

fn read(path: &Path) -> Result<Data, Diagnostic> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Data::default()),
        Err(e) => return Err(problem(path, format!("cannot read it: {e}"), "check its permissions")),
    };
    let fix = "it was left untouched; remove it with `baton state clear` (or delete the file), or pass `--state PATH`";
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| problem(path, format!("corrupt ({e})"), fix))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(problem(path, "not a baton state file".into(), fix));
    }
    let data: Data =
        serde_json::from_value(value).map_err(|e| problem(path, format!("corrupt ({e})"), fix))?;
    if data.version != VERSION {
        return Err(problem(path, format!("written by another version (format {})", data.version), fix));
    }
    Ok(data)
}

fn write_atomic(path: &Path, data: &Data) -> Result<(), Diagnostic> {
    let text = serde_json::to_string_pretty(data).map_err(|e| problem(path, e.to_string(), ""))?;
    crate::atomic::write(path, text.as_bytes(), true)
        .map_err(|e| problem(path, format!("cannot write it: {e}"), "check the folder's permissions"))
}

impl StateStore {
    /// Opens (reads) the state at `path`; a missing file is an empty state.
    pub fn open(path: PathBuf) -> Result<Self, Diagnostic> {
        let _guard = lock(&path)?;
        let data = read(&path)?;
        Ok(StateStore { path, data })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh entry for `key`, if any.
    pub fn get(&self, key: &str, now: i64) -> Option<&Entry> {
        self.data.entries.get(key).filter(|e| e.is_fresh(now))
    }

    /// All entries, by key.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.data.entries.iter()
    }

    /// Saves entries: re-reads the file under the lock, merges, and replaces it atomically.
    pub fn save(&mut self, updates: Vec<(String, Entry)>) -> Result<(), Diagnostic> {
        if updates.is_empty() {
            return Ok(());
        }
        let _guard = lock(&self.path)?;
        let mut data = read(&self.path)?;
        data.entries.extend(updates);
        write_atomic(&self.path, &data)?;
        self.data = data;
        Ok(())
    }

    /// Removes every entry; returns how many there were.
    pub fn clear(&mut self) -> Result<usize, Diagnostic> {
        let _guard = lock(&self.path)?;
        // A corrupt or foreign file is still reported, never silently replaced.
        let n = match read(&self.path) {
            Ok(d) => d.entries.len(),
            Err(d) => return Err(d),
        };
        if self.path.exists() {
            write_atomic(&self.path, &Data::default())?;
        }
        self.data = Data::default();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: &str, expires_at: Option<i64>) -> Entry {
        Entry {
            collection: "c.yaml".into(),
            environment: String::new(),
            step: step.into(),
            captures: serde_json::Map::new(),
            secret: Vec::new(),
            saved_at: 0,
            expires_at,
        }
    }

    #[test]
    fn entries_survive_reopen_and_expire() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mut s = StateStore::open(path.clone()).expect("open");
        s.save(vec![("a".into(), entry("a", None)), ("b".into(), entry("b", Some(100)))]).expect("save");
        let s = StateStore::open(path.clone()).expect("reopen");
        assert!(s.get("a", 1_000).is_some());
        assert!(s.get("b", 99).is_some());
        assert!(s.get("b", 100).is_none(), "expired");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn foreign_and_corrupt_files_are_reported_not_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{\"hello\": 1}").expect("write");
        let err = StateStore::open(path.clone()).expect_err("foreign");
        assert!(err.message.contains("not a baton state file"), "{}", err.message);
        std::fs::write(&path, "{not json").expect("write");
        let err = StateStore::open(path.clone()).expect_err("corrupt");
        assert!(err.message.contains("corrupt"), "{}", err.message);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{not json");
    }

    #[test]
    fn concurrent_saves_keep_every_entry() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut s = StateStore::open(path).expect("open");
                    s.save(vec![(format!("k{i}"), entry("x", None))]).expect("save");
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let s = StateStore::open(path).expect("open");
        assert_eq!(s.entries().count(), 8);
    }

    #[test]
    fn keys_are_stable_and_the_parts_never_run_together() {
        let k = key("c.yaml", "staging", "login", "fp");
        assert_eq!(k, key("c.yaml", "staging", "login", "fp"));
        assert_eq!(k.len(), 64, "hex sha-256");
        assert_ne!(k, key("c.yaml", "", "login", "fp"), "the environment is part of the key");
        assert_ne!(k, key("c.yaml", "staging", "login", "fp2"), "so is the fingerprint");
        assert_ne!(key("ab", "c", "s", "f"), key("a", "bc", "s", "f"), "parts are separated");
    }

    #[test]
    fn an_entry_without_expiry_is_always_fresh_and_one_with_expiry_is_stale_from_it_on() {
        assert!(entry("a", None).is_fresh(i64::MAX));
        let e = entry("a", Some(100));
        assert!(e.is_fresh(99));
        assert!(!e.is_fresh(100));
    }

    #[test]
    fn a_missing_file_is_an_empty_state_and_is_not_created_until_something_is_saved() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("nested/state.json");
        let mut s = StateStore::open(path.clone()).expect("open");
        assert_eq!(s.entries().count(), 0);
        s.save(Vec::new()).expect("nothing to save");
        assert!(!path.exists());
        assert_eq!(s.clear().expect("clear"), 0);
        assert!(!path.exists(), "clearing nothing writes nothing");
    }

    #[test]
    fn save_merges_with_what_another_store_wrote_meanwhile() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mut first = StateStore::open(path.clone()).expect("open");
        let mut second = StateStore::open(path.clone()).expect("open");
        first.save(vec![("a".into(), entry("a", None))]).expect("save a");
        second.save(vec![("b".into(), entry("b", None))]).expect("save b");
        let keys: Vec<&String> = second.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"], "the second save re-read the file first");
        // The same key saved again replaces the entry.
        let mut newer = entry("a", Some(5));
        newer.saved_at = 7;
        first.save(vec![("a".into(), newer.clone())]).expect("save a again");
        assert_eq!(StateStore::open(path).expect("open").get("a", 0), Some(&newer));
    }

    #[test]
    fn clear_counts_and_forgets_entries_but_refuses_a_foreign_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mut s = StateStore::open(path.clone()).expect("open");
        s.save(vec![("a".into(), entry("a", None)), ("b".into(), entry("b", None))]).expect("save");
        assert_eq!(s.clear().expect("clear"), 2);
        assert_eq!(StateStore::open(path.clone()).expect("open").entries().count(), 0);
        std::fs::write(&path, "[1, 2]").expect("write");
        let err = s.clear().expect_err("not ours");
        assert_eq!(err.code, "state-file");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "[1, 2]", "left untouched");
    }

    #[test]
    fn a_state_file_of_another_format_version_is_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        std::fs::write(&path, r#"{"format": "baton-state", "version": 9, "entries": {}}"#).expect("write");
        let err = StateStore::open(path).expect_err("future version");
        assert!(err.message.contains("another version (format 9)"), "{}", err.message);
        assert_eq!(err.exit, Exit::Usage);
    }
}
