//! Whole-file writes: a temp file beside the target, flushed, then renamed over it,
//! so readers (and a crash) never see half a file.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating its folder; `private` makes it mode 0600,
/// otherwise it gets an ordinary file's mode (0666 less the umask).
pub fn write(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
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
    tmp.persist(path).map_err(|e| e.error)?;
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
}
