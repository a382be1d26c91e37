//! What is sent and received, as plain data: rendered requests and read responses.
//!
//! No network here (that is `http`); reports and the executor share these types.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// A request ready to send: every template rendered.
#[derive(Debug, Clone)]
pub struct ResolvedRequest {
    /// Upper-case method.
    pub method: String,
    /// Full URL, query included.
    pub url: String,
    /// Header pairs in send order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: ResolvedBody,
    /// Timeout for this request.
    pub timeout: Option<Duration>,
    /// Lower-case names of headers whose values hold a secret whatever their names
    /// (`X-Session: {{ token }}`): treated like credential headers on a redirect.
    pub secret_headers: Vec<String>,
    /// The step's redirect limit (`follow_redirects: false` is 0); `None`: the run's.
    pub redirects: Option<u32>,
    /// The step's own TLS and HTTP version settings; `None`: the run's.
    pub tls: Option<TlsChoice>,
    /// Credentials computed from what is sent: Digest or AWS Signature Version 4.
    pub signing: Option<Signing>,
}

/// Credentials the client computes per request, after rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// HTTP Digest: answer the server's challenge.
    Digest {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// AWS Signature Version 4.
    SigV4(crate::signing::AwsCredentials),
}

/// A step's TLS and HTTP version settings, paths resolved: one HTTP client per distinct
/// choice serves every step that makes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsChoice {
    /// Skip certificate verification.
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM).
    pub ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// The HTTP version pinned.
    pub http: Option<crate::model::HttpVersion>,
}

impl ResolvedRequest {
    /// A request with no headers, body, or settings of its own.
    pub fn new(method: &str, url: &str) -> Self {
        ResolvedRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: ResolvedBody::None,
            timeout: None,
            secret_headers: Vec::new(),
            redirects: None,
            tls: None,
            signing: None,
        }
    }
}

/// A rendered body.
#[derive(Debug, Clone)]
pub enum ResolvedBody {
    /// No body.
    None,
    /// JSON, sent as `application/json`.
    Json(serde_json::Value),
    /// urlencoded fields.
    Form(Vec<(String, String)>),
    /// multipart parts.
    Multipart(Vec<ResolvedPart>),
    /// Raw text.
    Raw {
        /// Text.
        text: String,
        /// Content type, if given.
        content_type: Option<String>,
    },
    /// A file's bytes (read when sending).
    File {
        /// Path on disk.
        path: PathBuf,
        /// Content type, given or guessed from the extension.
        content_type: String,
    },
}

/// One rendered multipart part.
#[derive(Debug, Clone)]
pub enum ResolvedPart {
    /// Text field.
    Text {
        /// Field name.
        name: String,
        /// Value.
        value: String,
    },
    /// File field (read when sending).
    File {
        /// Field name.
        name: String,
        /// Path on disk.
        path: PathBuf,
        /// File name sent.
        filename: String,
        /// Content type.
        content_type: Option<String>,
    },
}

impl ResolvedBody {
    /// A short textual rendering for `-v` and `plan`.
    pub fn preview(&self) -> Option<String> {
        match self {
            ResolvedBody::None => None,
            ResolvedBody::Json(v) => serde_json::to_string_pretty(v).ok(),
            ResolvedBody::Form(pairs) => {
                Some(form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
            }
            ResolvedBody::Multipart(parts) => Some(
                parts
                    .iter()
                    .map(|p| match p {
                        ResolvedPart::Text { name, value } => format!("{name}={value}"),
                        ResolvedPart::File { name, path, .. } => format!("{name}=@{}", path.display()),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            ResolvedBody::Raw { text, .. } => Some(text.clone()),
            ResolvedBody::File { path, content_type } => {
                Some(format!("@{} ({content_type})", path.display()))
            }
        }
    }
}

/// How one request follows redirects: a per-run default (`--max-redirects`,
/// `--allow-insecure-redirects`) that a step may later narrow.
///
/// Whatever the policy, a redirect to another origin never carries credentials, and a
/// body holding secrets is never re-sent there (the `http` module enforces both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Most redirects followed for one request; `0` returns a redirect as the response.
    pub max: u32,
    /// Follow redirects from `https` to plain `http` (refused by default).
    pub allow_insecure: bool,
}

impl RedirectPolicy {
    /// Redirects followed by default (reqwest's own default): plenty for login flows,
    /// few enough that a redirect loop fails fast.
    pub const DEFAULT_MAX: u32 = 10;
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy { max: Self::DEFAULT_MAX, allow_insecure: false }
    }
}

/// A response, read fully.
#[derive(Debug)]
pub struct Exchange {
    /// Status code.
    pub status: u16,
    /// HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers (lower-case names) in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Time from send to last body byte (redirects included).
    pub elapsed: Duration,
    /// Every URL a redirect led to, in order: the last one answered with this response.
    /// Empty when the first answer was final.
    pub redirects: Vec<String>,
    /// The request headers as sent (the first request of a redirect chain), the ones
    /// the client adds included; empty for exchanges not received over HTTP.
    pub sent: Vec<(String, String)>,
    /// Whether the request was sent again on a fresh connection because the server had
    /// closed the reused one before answering (idempotent methods only).
    pub resent: bool,
    /// The cookies the answers set (`Set-Cookie`, redirects included), in order.
    pub cookies: Vec<crate::cookies::SetCookie>,
    /// The URL that gave this answer (the last redirect's target, or the request's).
    pub url: String,
    json: OnceLock<Option<serde_json::Value>>,
    /// The pruned document of [`Exchange::select`], when a step read only simple paths.
    selected: OnceLock<Option<serde_json::Value>>,
}

impl Exchange {
    /// A response as received.
    pub fn received(
        status: u16,
        version: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        elapsed: Duration,
    ) -> Self {
        Exchange {
            status,
            version,
            headers,
            body,
            elapsed,
            redirects: Vec::new(),
            sent: Vec::new(),
            resent: false,
            cookies: Vec::new(),
            url: String::new(),
            json: OnceLock::new(),
            selected: OnceLock::new(),
        }
    }

    /// Builds an exchange in memory, for tests of capture and assert logic.
    #[cfg(test)]
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        Exchange {
            status,
            version: "HTTP/1.1".into(),
            headers,
            body,
            elapsed: Duration::ZERO,
            redirects: Vec::new(),
            sent: Vec::new(),
            resent: false,
            cookies: Vec::new(),
            url: String::new(),
            json: OnceLock::new(),
            selected: OnceLock::new(),
        }
    }

    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Reads the body once for `paths` (simple JSONPaths, see `json_select`): the pruned
    /// document answers [`Exchange::json_at`] from then on. Returns the strings under
    /// secret-looking keys; `None` when the body is not JSON (nothing is kept then, and
    /// `json_at` falls back to [`Exchange::json`]).
    pub fn select(&self, paths: &[Vec<crate::json_select::Seg>]) -> Option<Vec<String>> {
        if self.selected.get().is_some() {
            return Some(Vec::new()); // read already, its secrets registered then
        }
        let trimmed = self.body.trim_ascii_start();
        if trimmed.is_empty() {
            return None;
        }
        let selected = crate::json_select::select(&self.body, paths).ok()?;
        let _ = self.selected.set(Some(selected.doc));
        Some(selected.secrets)
    }

    /// The document JSONPaths are read on: the pruned one when [`Exchange::select`] made
    /// it, else the whole body parsed ([`Exchange::json`]).
    pub fn json_at(&self) -> Option<&serde_json::Value> {
        match self.selected.get() {
            Some(Some(doc)) => Some(doc),
            _ => self.json(),
        }
    }

    /// The body parsed as JSON, once; `None` when it is not JSON.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| {
                let trimmed = self.body.trim_ascii_start();
                if trimmed.is_empty() {
                    return None;
                }
                serde_json::from_slice(&self.body).ok()
            })
            .as_ref()
    }

    /// The media type without parameters, lower-case.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)], body: &[u8]) -> Exchange {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        Exchange::new(200, headers, body.to_vec())
    }

    #[test]
    fn header_lookup_ignores_case_and_takes_the_first_value() {
        let ex = response(&[("set-cookie", "a=1"), ("Set-Cookie", "b=2")], b"");
        assert_eq!(ex.header("SET-COOKIE"), Some("a=1"));
        assert_eq!(ex.header("etag"), None);
    }

    #[test]
    fn media_type_drops_parameters_and_case() {
        let ex = response(&[("Content-Type", " Application/JSON ; charset=UTF-8")], b"{}");
        assert_eq!(ex.media_type().as_deref(), Some("application/json"));
        assert_eq!(response(&[], b"").media_type(), None);
    }

    #[test]
    fn json_is_parsed_once_and_only_when_the_body_is_json() {
        let ex = response(&[], b"  {\"id\": 7}");
        let first = ex.json().expect("json") as *const serde_json::Value;
        assert_eq!(ex.json().and_then(|v| v["id"].as_i64()), Some(7));
        assert_eq!(first, ex.json().expect("json") as *const _, "the same parsed value every time");
        assert!(response(&[], b"").json().is_none());
        assert!(response(&[], b" \n\t").json().is_none());
        assert!(response(&[], b"id,name\n1,a\n").json().is_none());
    }

    #[test]
    fn text_is_lossy_for_bytes_that_are_not_utf8() {
        assert_eq!(response(&[], b"caf\xe9").text(), "caf\u{fffd}");
    }

    #[test]
    fn body_previews_show_what_is_sent() {
        assert_eq!(ResolvedBody::None.preview(), None);
        let form = ResolvedBody::Form(vec![("a".into(), "x y&z".into()), ("b".into(), "1".into())]);
        assert_eq!(form.preview().as_deref(), Some("a=x+y%26z&b=1"));
        let json = ResolvedBody::Json(serde_json::json!({"k": [1]}));
        assert_eq!(json.preview().as_deref(), Some("{\n  \"k\": [\n    1\n  ]\n}"));
        let parts = ResolvedBody::Multipart(vec![
            ResolvedPart::Text { name: "title".into(), value: "hello".into() },
            ResolvedPart::File {
                name: "doc".into(),
                path: PathBuf::from("files/upload.txt"),
                filename: "upload.txt".into(),
                content_type: None,
            },
        ]);
        assert_eq!(parts.preview().as_deref(), Some("title=hello\ndoc=@files/upload.txt"));
        let raw = ResolvedBody::Raw { text: "line".into(), content_type: Some("text/plain".into()) };
        assert_eq!(raw.preview().as_deref(), Some("line"));
    }
}
