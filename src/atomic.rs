//! Whole-file writes: a temp file beside the target, flushed, then renamed over it,
//! so readers (and a crash) never see half a file.
//!
//! A path that is a symbolic link is written through: the link is resolved and the temp
//! file is renamed onto the file it points to, so the link stays a link (as a plain
//! `fs::write` would leave it) instead of being replaced by a regular file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Symbolic links followed before giving up, as the kernel's own limit (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The file `path` names once every symbolic link on its last component is followed;
/// `path` itself when it is not a link. The result need not exist (a dangling link
/// resolves to the file it would create). Folders on the way are left as written: a
/// rename inside a linked folder stays inside the folder it points to.
pub fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!("more than {MAX_LINKS} symbolic links in a row")))
}

/// Writes `bytes` to `path` atomically, creating its folder; `private` makes it mode 0600,
/// otherwise it gets an ordinary file's mode (0666 less the umask). A symbolic link is
/// written through (see the module doc).
pub fn write(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let path = resolve_links(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    // The mode is set when the temp file is created: a private file is never readable by
    // others, even briefly, and the rest do not inherit the temp file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(if private { 0o600 } else { 0o666 }));
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_missing_folders_and_replaces_the_whole_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a/b/out.txt");
        write(&path, b"a long first version\n", false).expect("write");
        write(&path, b"short\n", false).expect("rewrite");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "short\n");
        let left: Vec<_> = std::fs::read_dir(path.parent().expect("dir")).expect("list").collect();
        assert_eq!(left.len(), 1, "no temp file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only_and_others_get_an_ordinary_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        // What this process's umask gives a file created the ordinary way.
        let ordinary = dir.path().join("ordinary");
        std::fs::write(&ordinary, "x").expect("write");
        let (secret, snapshot) = (dir.path().join("state.json"), dir.path().join("s.snap"));
        write(&secret, b"{}", true).expect("write");
        write(&snapshot, b"x", false).expect("write");
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(mode(&snapshot), mode(&ordinary), "not the temp file's 0600");
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_written_through_and_stays_a_link() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("real/out.txt");
        std::fs::create_dir_all(target.parent().expect("dir")).expect("mkdir");
        std::fs::write(&target, "old").expect("write");
        // A chain: a relative link to an absolute one.
        let first = dir.path().join("first");
        symlink(&target, &first).expect("symlink");
        let link = dir.path().join("link.txt");
        symlink("first", &link).expect("symlink");
        assert_eq!(resolve_links(&link).expect("resolve"), target);
        write(&link, b"new", false).expect("write through");
        assert!(std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink());
        assert!(std::fs::symlink_metadata(&first).expect("meta").file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        let beside: Vec<_> = std::fs::read_dir(target.parent().expect("dir")).expect("ls").collect();
        assert_eq!(beside.len(), 1, "the temp file was renamed onto the target");
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_link_creates_its_target_and_a_loop_is_an_error() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tmp");
        let link = dir.path().join("link");
        symlink("made.txt", &link).expect("symlink");
        write(&link, b"x", false).expect("write");
        assert_eq!(std::fs::read_to_string(dir.path().join("made.txt")).expect("read"), "x");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        symlink(&b, &a).expect("symlink");
        symlink(&a, &b).expect("symlink");
        let err = write(&a, b"x", false).expect_err("a loop");
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }
}
