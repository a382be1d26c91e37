//! Persisted state: `once` results and cached credentials, kept between runs.
//!
//! One JSON file in the user's cache directory (or `--state PATH`), mode 0600,
//! replaced atomically (temp file + rename) under an exclusive lock on a sidecar
//! `.lock` file, so parallel runs never lose each other's entries. Entries are keyed
//! by collection, environment, step and a fingerprint of the inputs that produced
//! them (credentials excluded), so changing an input runs the step again.
//!
//! The edges of the file system:
//! - a state path that is a symbolic link stays one: the link is resolved once, and the
//!   file it points to is read, locked beside and replaced (the temp file is created in
//!   the target's folder, so the rename stays on one file system);
//! - the lock file is never a link: baton opens it without following links (`O_NOFOLLOW`
//!   on Unix) and refuses one it finds, so a planted link cannot make baton create or
//!   lock a file elsewhere;
//! - a state file that others may read (it holds tokens) is reported once when opened and
//!   is 0600 again after the next save;
//! - a file that is not a baton state file is reported and never overwritten; a baton
//!   state file that cannot be read (corrupt, or from another format version) is reported
//!   too, and only `baton state clear` replaces it, with an empty state.

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
    /// The path as given (shown in messages).
    path: PathBuf,
    /// The file behind it, symbolic links followed: what is read, written and locked.
    file: PathBuf,
    data: Data,
    /// The file's mode when others could read it at open (Unix only).
    loose_mode: Option<u32>,
}

/// What `baton state clear` found and removed.
#[derive(Debug, PartialEq)]
pub enum Cleared {
    /// A readable state with this many entries (0 when there was no file).
    Entries(usize),
    /// A baton state file that could not be read, replaced by an empty one; says why.
    Unreadable(String),
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

/// The `baton state clear` command line that empties the state at `path`.
fn clear_command(path: &Path) -> String {
    if default_path().as_deref() == Some(path) {
        return "baton state clear".into();
    }
    let text = path.display().to_string();
    let plain = text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@=~".contains(c));
    if plain {
        format!("baton state clear --state {text}")
    } else {
        format!("baton state clear --state '{}'", text.replace('\'', r"'\''"))
    }
}

/// The file `path` names, symbolic links followed.
fn resolve(path: &Path) -> Result<PathBuf, Diagnostic> {
    crate::atomic::resolve_links(path).map_err(|e| {
        problem(path, format!("cannot follow its symbolic link: {e}"), "point `--state` at a regular file")
    })
}

/// Opens `file`'s lock file for locking, never through a symbolic link.
fn open_lock(lock_path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The check in `lock` explains a link; this flag closes the race between that check
        // and the open, so a link planted meanwhile fails the open instead of being followed.
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(lock_path)
}

/// Refuses a lock path that is anything but a regular file (or nothing yet).
fn check_lock_path(path: &Path, lock_path: &Path) -> Result<(), Diagnostic> {
    let Ok(meta) = std::fs::symlink_metadata(lock_path) else {
        return Ok(());
    };
    let what = if meta.file_type().is_symlink() {
        "a symbolic link"
    } else if meta.is_file() {
        return Ok(());
    } else {
        "not a regular file"
    };
    Err(problem(
        path,
        format!("its lock file `{}` is {what}; baton does not follow or reuse it", lock_path.display()),
        "remove it (baton creates the lock file itself), or pass `--state PATH` elsewhere",
    ))
}

/// Takes the exclusive lock beside `file` (`path` is the state path as given).
fn lock(path: &Path, file: &Path) -> Result<File, Diagnostic> {
    let lock_path = file.with_extension("json.lock");
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            problem(path, format!("cannot create its folder: {e}"), "pass `--state PATH` elsewhere")
        })?;
    }
    check_lock_path(path, &lock_path)?;
    let lock = open_lock(&lock_path).map_err(|e| {
        // A link that appeared after the check: say so rather than quote ELOOP.
        check_lock_path(path, &lock_path).err().unwrap_or_else(|| {
            problem(path, format!("cannot open its lock file: {e}"), "pass `--state PATH` elsewhere")
        })
    })?;
    lock.lock().map_err(|e| problem(path, format!("cannot lock it: {e}"), "is another process stuck?"))?;
    Ok(lock)
}

/// Why the file at a state path cannot be used.
enum Unusable {
    /// It cannot be read at all.
    Io(std::io::Error),
    /// Not written by baton: never overwritten.
    Foreign(String),
    /// A baton state file that cannot be used; `state clear` may replace it.
    Broken(String),
}

impl Unusable {
    fn diagnostic(self, path: &Path) -> Diagnostic {
        match self {
            Unusable::Io(e) => problem(path, format!("cannot read it: {e}"), "check its permissions"),
            Unusable::Foreign(what) => problem(
                path,
                what,
                "baton never overwrites a file it did not write: pass `--state PATH` to keep state \
                 elsewhere, or delete the file yourself if it is an old state file",
            ),
            Unusable::Broken(what) => problem(
                path,
                what,
                &format!(
                    "it was left untouched; `{}` replaces it with an empty state (or delete the \
                     file), or pass `--state PATH` to keep state elsewhere",
                    clear_command(path)
                ),
            ),
        }
    }
}

/// Reads the state in `file`; a missing or empty file is an empty state.
fn read(file: &Path) -> Result<Data, Unusable> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Data::default()),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Unusable::Foreign("not a baton state file (not UTF-8 text)".into()));
        }
        Err(e) => return Err(Unusable::Io(e)),
    };
    // Nothing to lose: an empty file (created ahead with `touch` or `install`) is empty state.
    if text.trim().is_empty() {
        return Ok(Data::default());
    }
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        // The writer puts `"format": "baton-state"` first, so a damaged file of ours
        // (cut short, edited by hand, a merge conflict) still names its format.
        Err(e) if text.contains(&format!("\"{FORMAT}\"")) => {
            return Err(Unusable::Broken(format!("corrupt ({e})")));
        }
        Err(e) => return Err(Unusable::Foreign(format!("not a baton state file (not JSON: {e})"))),
    };
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Unusable::Foreign("not a baton state file".into()));
    }
    // The version before the shape: another version may store entries differently.
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => return Err(Unusable::Broken(format!("written by another version (format {v})"))),
        None => return Err(Unusable::Broken("corrupt (no format version)".into())),
    }
    serde_json::from_value(value).map_err(|e| Unusable::Broken(format!("corrupt ({e})")))
}

fn write_atomic(path: &Path, file: &Path, data: &Data) -> Result<(), Diagnostic> {
    let text = serde_json::to_string_pretty(data).map_err(|e| problem(path, e.to_string(), ""))?;
    crate::atomic::write(file, text.as_bytes(), true)
        .map_err(|e| problem(path, format!("cannot write it: {e}"), "check the folder's permissions"))
}

/// The mode of `file` when its group or others may read or write it.
#[cfg(unix)]
fn loose_mode(file: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Windows keeps access in ACLs, not mode bits: nothing to check.
#[cfg(not(unix))]
fn loose_mode(_file: &Path) -> Option<u32> {
    None
}

impl StateStore {
    /// Opens (reads) the state at `path`; a missing file is an empty state.
    pub fn open(path: PathBuf) -> Result<Self, Diagnostic> {
        let file = resolve(&path)?;
        let _guard = lock(&path, &file)?;
        let data = read(&file).map_err(|u| u.diagnostic(&path))?;
        let loose_mode = loose_mode(&file);
        Ok(StateStore { path, file, data, loose_mode })
    }

    /// Where the state lives (as given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The warning to show once when the file was readable by others at open, if it was.
    pub fn permission_warning(&self) -> Option<String> {
        self.loose_mode.map(|mode| {
            format!(
                "state file `{}` has mode {mode:04o}: others may read the credentials it holds; \
                 baton makes it 0600 when it next saves it (or run `chmod 600` on it now)",
                self.path.display()
            )
        })
    }

    /// A fresh entry for `key` as read at open, if any (the run reads under the lock
    /// instead: [`StateStore::read_locked`]).
    #[cfg(test)]
    pub fn get(&self, key: &str, now: i64) -> Option<&Entry> {
        self.data.entries.get(key).filter(|e| e.is_fresh(now))
    }

    /// All entries, by key.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.data.entries.iter()
    }

    /// Saves entries: re-reads the file under the lock, merges, and replaces it atomically
    /// (mode 0600, through a symbolic link). The run saves one entry at a time instead
    /// ([`StateStore::put_locked`]).
    #[cfg(test)]
    pub fn save(&mut self, updates: Vec<(String, Entry)>) -> Result<(), Diagnostic> {
        if updates.is_empty() {
            return Ok(());
        }
        let _guard = lock(&self.path, &self.file)?;
        self.data = self.write_locked(updates)?;
        self.loose_mode = None;
        Ok(())
    }

    /// Takes the exclusive lock beside the file if it is free: `Ok(None)` while another
    /// process (or another open of this process) holds it. Nothing else is read or
    /// written; the lock lasts as long as the returned [`StateLock`].
    pub fn try_lock(&self) -> Result<Option<StateLock>, Diagnostic> {
        let lock_path = self.file.with_extension("json.lock");
        check_lock_path(&self.path, &lock_path)?;
        let file = open_lock(&lock_path).map_err(|e| {
            check_lock_path(&self.path, &lock_path).err().unwrap_or_else(|| {
                problem(
                    &self.path,
                    format!("cannot open its lock file: {e}"),
                    "pass `--state PATH` elsewhere",
                )
            })
        })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(StateLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(problem(&self.path, format!("cannot lock it: {e}"), "is another process stuck?"))
            }
        }
    }

    /// The entry at `key` as the file holds it now, fresh or not. The caller holds the
    /// lock ([`StateStore::try_lock`]), so what it reads stays true until it writes.
    pub fn read_locked(&self, key: &str) -> Result<Option<Entry>, Diagnostic> {
        let mut data = read(&self.file).map_err(|u| u.diagnostic(&self.path))?;
        Ok(data.entries.remove(key))
    }

    /// Merges `updates` into the file as it is now and replaces it atomically; the caller
    /// holds the lock. Returns what the file holds afterwards.
    fn write_locked(&self, updates: Vec<(String, Entry)>) -> Result<Data, Diagnostic> {
        let mut data = read(&self.file).map_err(|u| u.diagnostic(&self.path))?;
        data.entries.extend(updates);
        write_atomic(&self.path, &self.file, &data)?;
        Ok(data)
    }

    /// Removes the entry at `key` from the file as it is now; the caller holds the lock.
    pub fn remove_locked(&self, key: &str) -> Result<(), Diagnostic> {
        let mut data = read(&self.file).map_err(|u| u.diagnostic(&self.path))?;
        if data.entries.remove(key).is_some() {
            write_atomic(&self.path, &self.file, &data)?;
        }
        Ok(())
    }

    /// Saves one entry at once (re-read, merged, replaced atomically); the caller holds
    /// the lock ([`StateStore::try_lock`]).
    pub fn put_locked(&self, key: String, entry: Entry) -> Result<(), Diagnostic> {
        self.write_locked(vec![(key, entry)]).map(drop)
    }
}

/// The state file's exclusive lock, held until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Empties the state at `path` (`baton state clear`). A baton state file that cannot be
/// read is replaced by an empty one; a file baton did not write is refused, untouched.
pub fn clear(path: &Path) -> Result<Cleared, Diagnostic> {
    let file = resolve(path)?;
    let _guard = lock(path, &file)?;
    let cleared = match read(&file) {
        Ok(data) => Cleared::Entries(data.entries.len()),
        Err(Unusable::Broken(why)) => Cleared::Unreadable(why),
        Err(other) => return Err(other.diagnostic(path)),
    };
    // Clearing nothing writes nothing: no file appears where there was none.
    if file.exists() {
        write_atomic(path, &file, &Data::default())?;
    }
    Ok(cleared)
}

/// Removes the entries `forget` picks from the state at `path` and keeps the others;
/// returns how many were removed. Unlike [`clear`], a file that cannot be read is an
/// error (nothing can be picked from it).
pub fn clear_some(path: &Path, forget: impl Fn(&Entry) -> bool) -> Result<usize, Diagnostic> {
    let file = resolve(path)?;
    let _guard = lock(path, &file)?;
    let mut data = read(&file).map_err(|u| u.diagnostic(path))?;
    let before = data.entries.len();
    data.entries.retain(|_, e| !forget(e));
    let removed = before - data.entries.len();
    if removed > 0 {
        write_atomic(path, &file, &data)?;
    }
    Ok(removed)
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
        assert!(!err.help.as_deref().unwrap_or("").contains("state clear"), "never advise clearing it");
        std::fs::write(&path, "{not json").expect("write");
        let err = StateStore::open(path.clone()).expect_err("not json, not ours");
        assert!(err.message.contains("not a baton state file (not JSON"), "{}", err.message);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{not json");
        // One of ours, cut short: still recognisable by its format, and clearable.
        let cut = "{\n  \"format\": \"baton-state\",\n  \"version\": 1,\n  \"entr";
        std::fs::write(&path, cut).expect("write");
        let err = StateStore::open(path.clone()).expect_err("corrupt");
        assert!(err.message.contains("corrupt"), "{}", err.message);
        let help = err.help.expect("help");
        assert!(help.contains(&format!("`baton state clear --state {}`", path.display())), "{help}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), cut, "left untouched");
    }

    #[test]
    fn clear_replaces_an_unreadable_state_file_of_ours_but_never_a_foreign_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        std::fs::write(&path, "<<<<<<< HEAD\n{\"format\": \"baton-state\"").expect("write");
        assert!(matches!(clear(&path), Ok(Cleared::Unreadable(why)) if why.starts_with("corrupt")));
        assert_eq!(StateStore::open(path.clone()).expect("usable again").entries().count(), 0);
        // Another version's file is ours too: clearing starts again with an empty state.
        std::fs::write(&path, r#"{"format": "baton-state", "version": 9, "entries": []}"#).expect("write");
        assert!(matches!(clear(&path), Ok(Cleared::Unreadable(why)) if why.contains("format 9")));
        for foreign in ["{\"hello\": 1}", "{not json", "[1, 2]"] {
            std::fs::write(&path, foreign).expect("write");
            let err = clear(&path).expect_err("not ours");
            assert!(err.message.contains("not a baton state file"), "{}", err.message);
            assert_eq!(std::fs::read_to_string(&path).expect("read"), foreign, "left untouched");
        }
    }

    #[test]
    fn an_empty_file_is_an_empty_state() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        std::fs::write(&path, "\n").expect("write");
        let mut s = StateStore::open(path.clone()).expect("open");
        assert_eq!(s.entries().count(), 0);
        s.save(vec![("a".into(), entry("a", None))]).expect("save");
        assert_eq!(StateStore::open(path).expect("reopen").entries().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_state_file_stays_a_link_and_the_file_it_points_to_is_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let real = dir.path().join("dotfiles/baton-state.json");
        std::fs::create_dir_all(real.parent().expect("dir")).expect("mkdir");
        let link = dir.path().join("cache/state.json");
        std::fs::create_dir_all(link.parent().expect("dir")).expect("mkdir");
        // A relative link, as `ln -s ../dotfiles/baton-state.json` makes.
        std::os::unix::fs::symlink("../dotfiles/baton-state.json", &link).expect("symlink");
        let mut s = StateStore::open(link.clone()).expect("open through a dangling link");
        s.save(vec![("a".into(), entry("a", None))]).expect("save creates the target");
        s.save(vec![("b".into(), entry("b", None))]).expect("save replaces the target");
        assert!(std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink(), "still a link");
        assert_eq!(StateStore::open(real.clone()).expect("open the target").entries().count(), 2);
        // The lock and the temp file live beside the target: links to one file share a lock.
        let beside_link: Vec<_> = std::fs::read_dir(link.parent().expect("dir")).expect("ls").collect();
        assert_eq!(beside_link.len(), 1, "only the link itself");
        assert!(real.with_extension("json.lock").exists());
        assert_eq!(clear(&link).expect("clear"), Cleared::Entries(2));
        assert!(std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink(), "still a link");
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_is_a_symlink_is_refused_and_what_it_points_to_is_not_created() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("state.json.lock")).expect("symlink");
        let err = StateStore::open(path.clone()).expect_err("a planted lock link");
        assert!(err.message.contains("lock file"), "{}", err.message);
        assert!(err.message.contains("is a symbolic link"), "{}", err.message);
        assert!(err.help.as_deref().is_some_and(|h| h.contains("remove it")), "{:?}", err.help);
        assert!(clear(&path).is_err(), "clear takes the same lock");
        assert!(!elsewhere.exists(), "the link was not followed");
        // The open itself does not follow links either (the check before it may lose a race).
        assert!(open_lock(&dir.path().join("state.json.lock")).is_err(), "O_NOFOLLOW");
        assert!(!elsewhere.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_state_file_others_can_read_is_reported_and_made_private_by_the_next_save() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        StateStore::open(path.clone())
            .expect("open")
            .save(vec![("a".into(), entry("a", None))])
            .expect("save");
        assert!(StateStore::open(path.clone()).expect("open").permission_warning().is_none(), "0600 is fine");
        for loose in [0o644, 0o666, 0o640] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).expect("chmod");
            let mut s = StateStore::open(path.clone()).expect("still usable");
            let warning = s.permission_warning().expect("a warning");
            assert!(warning.contains(&format!("mode {loose:04o}")), "{warning}");
            assert!(warning.contains("0600"), "{warning}");
            s.save(vec![("b".into(), entry("b", None))]).expect("save");
            assert_eq!(mode(&path), 0o600, "tightened from {loose:o}");
            assert!(s.permission_warning().is_none(), "said once, and no longer true");
        }
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
        assert_eq!(clear(&path).expect("clear"), Cleared::Entries(0));
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
    fn clear_counts_and_forgets_entries() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        let mut s = StateStore::open(path.clone()).expect("open");
        s.save(vec![("a".into(), entry("a", None)), ("b".into(), entry("b", None))]).expect("save");
        assert_eq!(clear(&path).expect("clear"), Cleared::Entries(2));
        assert_eq!(StateStore::open(path.clone()).expect("open").entries().count(), 0);
        std::fs::write(&path, "[1, 2]").expect("write");
        let err = clear(&path).expect_err("not ours");
        assert_eq!(err.code, "state-file");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "[1, 2]", "left untouched");
    }

    #[test]
    fn a_state_file_of_another_format_version_is_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.json");
        // Checked before the shape: a later version may store entries differently.
        std::fs::write(&path, r#"{"format": "baton-state", "version": 9, "entries": []}"#).expect("write");
        let err = StateStore::open(path).expect_err("future version");
        assert!(err.message.contains("another version (format 9)"), "{}", err.message);
        assert_eq!(err.exit, Exit::Usage);
    }
}
