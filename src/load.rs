//! Finding and reading collection files.
//!
//! Files are read whole before anything runs (no blocking I/O on the async path).
//! Folders contribute their `*.yaml` / `*.yml` files in name order.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic};
use crate::exit::Exit;
use crate::source::{FileId, SourceMap, Span};

/// Largest collection file accepted.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Expands the command-line paths into collection files.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            Diagnostic::usage(Code::MissingPath, format!("cannot read `{}`: {}", p.display(), io_reason(&e)))
                .help("give a collection file (.yaml/.yml) or a folder of them")
        })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    Diagnostic::usage(
                        Code::MissingPath,
                        format!("cannot list `{}`: {}", p.display(), io_reason(&e)),
                    )
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file() && is_yaml(f))
                .collect();
            if found.is_empty() {
                return Err(Diagnostic::usage(
                    Code::EmptyFolder,
                    format!("`{}` holds no .yaml or .yml file", p.display()),
                )
                .help("baton runs the collections directly inside a folder, in name order"));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// A short, platform-independent reason for an I/O error.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads one file into the source map, checking size and encoding.
pub fn read(path: &Path, sources: &mut SourceMap) -> Result<FileId, Diagnostic> {
    let cannot = |e: std::io::Error| {
        Diagnostic::usage(Code::MissingPath, format!("cannot read `{}`: {}", path.display(), io_reason(&e)))
    };
    // Read at most one byte past the limit: an endless file (`/dev/zero`, a pipe) costs
    // no more than a file just over it.
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&file, MAX_FILE_BYTES as u64 + 1), &mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_FILE_BYTES {
        let size = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        // Keep only the first line, so the message can still point at the file.
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let first = String::from_utf8_lossy(&first[..first.len().min(200)]).into_owned();
        let id = sources.add(path, first);
        return Err(Diagnostic::error(
            Code::FileTooLarge,
            match size {
                Some(len) => format!(
                    "`{}` is {:.1} MiB; collections are limited to {} MiB",
                    path.display(),
                    len as f64 / 1048576.0,
                    MAX_FILE_BYTES / 1048576
                ),
                None => format!(
                    "`{}` holds more than {} MiB; collections are limited to that",
                    path.display(),
                    MAX_FILE_BYTES / 1048576
                ),
            },
        )
        .at(Span::new(id, 0, 0), "this file")
        .help("split it into several collections, or move large payloads into files sent with `multipart:`")
        .with_exit(Exit::Invalid));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(sources.add(path, text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text))),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let bad = bytes.get(valid).copied().unwrap_or(0);
            // Keep the valid prefix (plus the rest, lossily) so the caret lands on the bad byte.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let offset = String::from_utf8_lossy(&bytes[..valid]).len();
            let id = sources.add(path, text);
            Err(Diagnostic::error(
                Code::NotUtf8,
                format!("`{}` is not valid UTF-8 (byte 0x{bad:02x})", path.display()),
            )
            .at(Span::new(id, offset, offset + 1), "invalid byte here")
            .help("save the file as UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_endless_file_is_read_only_up_to_the_limit() {
        let mut sources = SourceMap::default();
        let started = std::time::Instant::now();
        let d = read(Path::new("/dev/zero"), &mut sources).expect_err("too large");
        assert_eq!(d.code, Code::FileTooLarge);
        assert_eq!(d.message, "`/dev/zero` holds more than 4 MiB; collections are limited to that");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    fn names(files: &[PathBuf]) -> Vec<String> {
        files.iter().map(|f| f.file_name().expect("name").to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn a_folder_gives_its_yaml_files_in_name_order_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tmp");
        for f in ["b.yml", "a.yaml", "c.YAML.txt", "notes.md", "z.yaml"] {
            std::fs::write(dir.path().join(f), "x").expect("write");
        }
        std::fs::create_dir(dir.path().join("sub.yaml")).expect("a folder named like a file");
        std::fs::write(dir.path().join("sub.yaml/inner.yaml"), "x").expect("write");
        let single = dir.path().join("z.yaml");
        let files = expand(&[dir.path().to_path_buf(), single.clone()]).expect("expand");
        assert_eq!(
            names(&files),
            ["a.yaml", "b.yml", "z.yaml", "z.yaml"],
            "folders sorted, files kept as given"
        );
        assert_eq!(files[3], single);
    }

    #[test]
    fn an_empty_folder_and_a_missing_path_are_usage_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("readme.txt"), "x").expect("write");
        let d = expand(&[dir.path().to_path_buf()]).expect_err("no yaml");
        assert_eq!((d.code, d.exit), (Code::EmptyFolder, Exit::Usage));
        let d = expand(&[dir.path().join("gone.yaml")]).expect_err("missing");
        assert_eq!((d.code, d.exit), (Code::MissingPath, Exit::Usage));
        assert!(d.message.ends_with("gone.yaml`: no such file or folder"), "{}", d.message);
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("bom.yaml");
        std::fs::write(&path, "\u{feff}name: x\n").expect("write");
        let mut sources = SourceMap::default();
        let id = read(&path, &mut sources).expect("read");
        assert_eq!(sources.get(id).expect("file").text, "name: x\n");
    }

    #[test]
    fn invalid_utf8_points_at_the_first_bad_byte() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("latin1.yaml");
        std::fs::write(&path, b"name: caf\xe9\nurl: x\n").expect("write");
        let mut sources = SourceMap::default();
        let d = read(&path, &mut sources).expect_err("not utf-8");
        assert_eq!(d.code, "not-utf8");
        assert!(d.message.contains("(byte 0xe9)"), "{}", d.message);
        let label = d.labels.first().expect("position");
        assert!(
            sources.position(label.span).ends_with("latin1.yaml:1:10"),
            "{}",
            sources.position(label.span)
        );
    }

    #[test]
    fn an_oversized_file_is_refused_and_keeps_only_its_first_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("big.yaml");
        let mut text = String::from("# first line\n");
        text.push_str(&"x".repeat(MAX_FILE_BYTES));
        std::fs::write(&path, &text).expect("write");
        let mut sources = SourceMap::default();
        let d = read(&path, &mut sources).expect_err("too large");
        assert_eq!((d.code, d.exit), (Code::FileTooLarge, Exit::Invalid));
        assert!(d.message.contains("limited to 4 MiB"), "{}", d.message);
        let id = d.labels.first().expect("position").span.file;
        assert_eq!(sources.get(id).expect("file").text, "# first line");
    }

    #[test]
    fn io_reasons_are_short_and_platform_independent() {
        use std::io::{Error, ErrorKind};
        assert_eq!(io_reason(&Error::from(ErrorKind::NotFound)), "no such file or folder");
        assert_eq!(io_reason(&Error::from(ErrorKind::PermissionDenied)), "permission denied");
        assert_eq!(io_reason(&Error::other("disk on fire")), "disk on fire");
    }
}
