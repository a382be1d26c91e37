//! `--curl FILE`: every request a run sends, as a curl command line, in the order sent.
//!
//! The command says what baton sent: the headers as they went out (those the client adds
//! included, `host` and `content-length` left to curl), the body, the step's TLS and
//! HTTP version settings. Secrets are masked unless the run was asked to keep them
//! (`--curl-with-secrets`): a file of commands is easy to paste where it should not go.

use std::sync::{Arc, Mutex, PoisonError};

use crate::event::{Event, Sink};
use crate::exchange::{ResolvedBody, ResolvedPart, ResolvedRequest};
use crate::secret::Masker;

/// Quotes `s` for a POSIX shell: single quotes, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The curl command line for `request`, sent with `sent` headers (empty: its own).
pub fn command(request: &ResolvedRequest, sent: &[(String, String)]) -> String {
    let mut parts: Vec<String> = vec!["curl".into()];
    if request.method != "GET" || !matches!(request.body, ResolvedBody::None) {
        parts.push(format!("-X {}", request.method));
    }
    parts.push(shell_quote(&request.url));
    if let Some(tls) = &request.tls {
        if tls.insecure {
            parts.push("--insecure".into());
        }
        if let Some(ca) = &tls.ca {
            parts.push(format!("--cacert {}", shell_quote(&ca.display().to_string())));
        }
        if let Some((cert, key)) = &tls.identity {
            parts.push(format!("--cert {}", shell_quote(&cert.display().to_string())));
            parts.push(format!("--key {}", shell_quote(&key.display().to_string())));
        }
        match tls.http {
            Some(crate::model::HttpVersion::Http1) => parts.push("--http1.1".into()),
            Some(crate::model::HttpVersion::Http2) => parts.push("--http2-prior-knowledge".into()),
            None => {}
        }
    }
    let headers = if sent.is_empty() { &request.headers } else { sent };
    let multipart = matches!(request.body, ResolvedBody::Multipart(_));
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        // curl writes these itself (a multipart boundary is its own).
        if lower == "host" || lower == "content-length" || (multipart && lower == "content-type") {
            continue;
        }
        // `--compressed` asks the same and decodes the answer.
        if lower == "accept-encoding" {
            parts.push("--compressed".into());
            continue;
        }
        parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    match &request.body {
        ResolvedBody::None => {}
        ResolvedBody::Json(v) => parts.push(format!("--data-binary {}", shell_quote(&v.to_string()))),
        ResolvedBody::Form(pairs) => {
            let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            parts.push(format!("--data-binary {}", shell_quote(&encoded)));
        }
        ResolvedBody::Raw { text, .. } => parts.push(format!("--data-binary {}", shell_quote(text))),
        ResolvedBody::File { path, .. } => {
            parts.push(format!("--data-binary {}", shell_quote(&format!("@{}", path.display()))));
        }
        ResolvedBody::Multipart(items) => {
            for p in items {
                let field = match p {
                    ResolvedPart::Text { name, value } => format!("{name}={value}"),
                    ResolvedPart::File { name, path, filename, content_type } => {
                        let ty = content_type.as_ref().map_or_else(String::new, |t| format!(";type={t}"));
                        format!("{name}=@{};filename={filename}{ty}", path.display())
                    }
                };
                parts.push(format!("-F {}", shell_quote(&field)));
            }
        }
    }
    parts.join(" \\\n  ")
}

/// Collects the commands of one run (shared by every file's sink).
#[derive(Clone, Default)]
pub struct CurlLog {
    text: Arc<Mutex<String>>,
}

impl CurlLog {
    /// Everything recorded so far.
    pub fn take(&self) -> String {
        std::mem::take(&mut *self.text.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A sink recording one file's requests into this log, masked with `masker` unless
    /// `reveal`.
    pub fn sink(&self, masker: Masker, reveal: bool) -> CurlSink {
        CurlSink { log: self.clone(), masker, reveal, block: String::new() }
    }
}

/// Records the requests of one collection; its block joins the log when it finishes, so
/// parallel files never interleave.
pub struct CurlSink {
    log: CurlLog,
    masker: Masker,
    reveal: bool,
    block: String,
}

impl Sink for CurlSink {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::CollectionStarted { name, path, .. } => {
                self.block = format!("# {} ({})\n", crate::printable::line(name), path.display());
            }
            Event::Exchange { request, response } => {
                let sent = response.map(|r| r.sent.as_slice()).unwrap_or_default();
                let cmd = command(request, sent);
                let cmd = if self.reveal { cmd } else { self.masker.mask(&cmd) };
                self.block.push_str(&cmd);
                self.block.push_str("\n\n");
            }
            Event::StepFinished(_) | Event::Notice(_) => {}
            Event::CollectionFinished(_) => {
                let block = std::mem::take(&mut self.block);
                self.log.text.lock().unwrap_or_else(PoisonError::into_inner).push_str(&block);
            }
        }
    }
}

/// Sends every event to each sink in turn.
pub struct Tee<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Tee<'_> {
    fn event(&mut self, event: &Event<'_>) {
        for s in &mut self.0 {
            s.event(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, body: ResolvedBody) -> ResolvedRequest {
        ResolvedRequest {
            headers: vec![("Authorization".into(), "Bearer t0k3n".into())],
            body,
            ..ResolvedRequest::new(method, "http://127.0.0.1:9/x?q=it's")
        }
    }

    #[test]
    fn quotes_survive_a_shell_and_bodies_keep_their_kind() {
        let get = command(&request("GET", ResolvedBody::None), &[]);
        assert_eq!(
            get,
            "curl \\\n  'http://127.0.0.1:9/x?q=it'\\''s' \\\n  -H 'Authorization: Bearer t0k3n'"
        );
        let form = command(&request("POST", ResolvedBody::Form(vec![("a b".into(), "c&d".into())])), &[]);
        assert!(form.contains("-X POST") && form.contains("--data-binary 'a+b=c%26d'"), "{form}");
        let parts = vec![ResolvedPart::Text { name: "n".into(), value: "v".into() }];
        let multipart = command(&request("POST", ResolvedBody::Multipart(parts)), &[]);
        assert!(multipart.contains("-F 'n=v'"), "{multipart}");
    }
}
