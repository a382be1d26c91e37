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
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::usage(Code::MissingPath, format!("cannot read `{}`: {}", path.display(), io_reason(&e)))
    })?;
    if bytes.len() > MAX_FILE_BYTES {
        // Keep only the first line, so the message can still point at the file.
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
        let first = String::from_utf8_lossy(&first[..first.len().min(200)]).into_owned();
        let id = sources.add(path, first);
        return Err(Diagnostic::error(
            Code::FileTooLarge,
            format!(
                "`{}` is {:.1} MiB; collections are limited to {} MiB",
                path.display(),
                bytes.len() as f64 / 1048576.0,
                MAX_FILE_BYTES / 1048576
            ),
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
