//! Local files a step sends (`body: {file: …}`, multipart files) stay inside the
//! collection's folder, or a folder the run allows with `--file-root`: a shared collection
//! (or a value captured from a server) cannot make baton upload `~/.ssh/id_rsa`.
//!
//! Paths are compared after resolving `..` and symbolic links, so neither escapes.

use std::path::{Path, PathBuf};

use crate::event::StepError;
use crate::exchange::{ResolvedBody, ResolvedPart, ResolvedRequest};
use crate::source::Span;

/// Refuses a request whose files lie outside `base_dir` and every root in `roots`.
pub(super) fn check(
    request: &ResolvedRequest,
    base_dir: &Path,
    roots: &[PathBuf],
    span: Span,
) -> Result<(), StepError> {
    let files: Vec<&Path> = match &request.body {
        ResolvedBody::File { path, .. } => vec![path.as_path()],
        ResolvedBody::Multipart(parts) => parts
            .iter()
            .filter_map(|p| match p {
                ResolvedPart::File { path, .. } => Some(path.as_path()),
                ResolvedPart::Text { .. } => None,
            })
            .collect(),
        _ => return Ok(()),
    };
    let allowed: Vec<PathBuf> =
        std::iter::once(base_dir).chain(roots.iter().map(PathBuf::as_path)).filter_map(canonical).collect();
    for file in files {
        // A file that does not exist is reported when it is read, with the OS's reason.
        let Some(real) = canonical(file) else { continue };
        if allowed.iter().any(|root| real.starts_with(root)) {
            continue;
        }
        return Err(StepError {
            message: format!(
                "the file `{}` is outside the collection's folder (`{}`)",
                crate::printable::line(&file.display().to_string()),
                crate::printable::line(&base_dir.display().to_string())
            ),
            span: Some(span),
            help: Some(
                "keep the files a collection sends beside it, or allow their folder with `--file-root DIR`"
                    .into(),
            ),
        });
    }
    Ok(())
}

fn canonical(path: &Path) -> Option<PathBuf> {
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    std::fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_body(path: PathBuf) -> ResolvedRequest {
        ResolvedRequest {
            body: ResolvedBody::File { path, content_type: "application/octet-stream".into() },
            ..ResolvedRequest::new("POST", "http://127.0.0.1:9/")
        }
    }

    #[test]
    fn files_beside_the_collection_pass_and_escapes_need_a_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("collection");
        let other = dir.path().join("elsewhere");
        std::fs::create_dir_all(base.join("data")).expect("mkdir");
        std::fs::create_dir_all(&other).expect("mkdir");
        std::fs::write(base.join("data/a.bin"), b"a").expect("write");
        std::fs::write(other.join("b.bin"), b"b").expect("write");
        let span = Span::default();
        assert!(check(&file_body(base.join("data/a.bin")), &base, &[], span).is_ok());
        let escape = file_body(base.join("../elsewhere/b.bin"));
        let err = check(&escape, &base, &[], span).expect_err("outside");
        assert!(err.message.contains("outside the collection's folder"), "{}", err.message);
        assert!(check(&escape, &base, std::slice::from_ref(&other), span).is_ok(), "allowed by --file-root");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(other.join("b.bin"), base.join("data/link.bin")).expect("symlink");
            assert!(
                check(&file_body(base.join("data/link.bin")), &base, &[], span).is_err(),
                "a link out is out"
            );
        }
    }
}
