//! The authored collection: what the user wrote, checked for shape, not yet rendered.
//!
//! No I/O lives here and nothing from the HTTP, template or CLI layers. JSONPaths and
//! regexes are compiled once, when the collection is parsed, so a bad one is reported
//! before anything is sent.
//!
//! Every type that holds a templated value is generic over its *slot* type `T`: as
//! authored, `T` is a positioned YAML [`Node`]; validation maps each slot to a compiled
//! template (see [`Step::map`]), so a step after validation carries its own templates and
//! a new templated field cannot be forgotten: the map in `slots.rs` destructures every
//! field, and the compiler rejects it until the new field is handled.

use std::time::Duration;

use regex::Regex;
use serde_json_path::JsonPath;

use crate::source::{FileId, Key, Span};
use crate::yaml::Node;

mod slots;

/// The longest timeout a step or run may set: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// The longest lifetime a credential may have, from a collection or a token server:
/// ten years. Longer values are refused, never wrapped or clamped silently.
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A parsed collection file.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The file it came from.
    pub file: FileId,
    /// `name:`, or the file stem.
    pub name: String,
    /// `vars:` in source order; values may be templates.
    pub vars: Vec<(Key, Node)>,
    /// `auth:` steps, run first.
    pub auth: Vec<Step<Node>>,
    /// `defaults:` applied to every step.
    pub defaults: Defaults,
    /// `requests:` steps.
    pub requests: Vec<Step<Node>>,
    /// `include:` entries, in order (resolved by the loader, which merges them in).
    pub includes: Vec<IncludeSpec>,
    /// The credential profiles: the one of `auth: [steps]` or `auth: {oauth2: …}`, or the
    /// named ones of `auth: {user: …, admin: …}` (the first is the requests' default).
    /// Their steps are in `auth`, each marked with its profile.
    pub profiles: Vec<Profile>,
    /// `tags:` for `--tag` / `--skip-tag`.
    pub tags: Vec<String>,
    /// `secrets:` names of variables and captures that are secret whatever their names
    /// (an OTP, a 2FA `code`), from the collection and its recipes.
    pub secrets: Vec<Key>,
    /// `description:` free text, kept in `plan` and the reports.
    pub description: Option<String>,
    /// `cookies: false`: no cookie jar for this collection (on by default).
    pub cookies: bool,
    /// `data:` rows the requests run once each for.
    pub data: Option<DataSpec>,
}

/// `data: file.csv | file.json | [{…}, …]`.
#[derive(Debug, Clone)]
pub enum DataSpec {
    /// A CSV (`.csv`, `.tsv`) or JSON (a list of objects) file, relative to the collection.
    File {
        /// As written.
        path: String,
        /// Where it is written.
        span: Span,
    },
    /// Rows written in the collection.
    Inline {
        /// One mapping per row.
        rows: Vec<Node>,
        /// Where `data:` is written.
        span: Span,
    },
}

impl DataSpec {
    /// Where it is written.
    pub fn span(&self) -> Span {
        match self {
            DataSpec::File { span, .. } | DataSpec::Inline { span, .. } => *span,
        }
    }
}

/// One `include:` entry.
#[derive(Debug, Clone)]
pub struct IncludeSpec {
    /// Path relative to the including file.
    pub path: String,
    /// Where it is written.
    pub span: Span,
    /// `vars:` given to this include; they override the recipe's own.
    pub vars: Vec<(Key, Node)>,
}

/// A set of credentials with its own lifecycle (renewal, 401 re-authentication, cache).
#[derive(Debug, Clone)]
pub struct Profile {
    /// `admin` in `auth: {admin: …}`; `None` for a collection's single profile.
    pub name: Option<Key>,
    /// Where it is written (the `oauth2:` key, or the profile's name).
    pub span: Span,
    /// Whether it is `oauth2:` (requests then send its token) or a list of auth steps.
    pub oauth2: bool,
}

impl Profile {
    /// Its name, `None` for the single profile.
    pub fn label(&self) -> Option<&str> {
        self.name.as_ref().map(|k| k.name.as_str())
    }
}

/// Capture names an OAuth2 profile fills in (and templates may read).
pub mod oauth2_vars {
    /// The token.
    pub const ACCESS_TOKEN: &str = "access_token";
    /// The issued scheme (`bearer` → `Bearer` when applied).
    pub const TOKEN_TYPE: &str = "token_type";
    /// Lifetime in seconds, when issued.
    pub const EXPIRES_IN: &str = "expires_in";
    /// Refresh token, when issued.
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// The signed client assertion a token step sends (made fresh for each request).
    pub const CLIENT_ASSERTION: &str = "client_assertion";
    /// The device code a device-code token step gets with its first request.
    pub const DEVICE_CODE: &str = "device_code";
    /// The polling interval that device authorization answer gave.
    pub const DEVICE_INTERVAL: &str = "device_interval";
    /// The code an authorization-code token step gets from the user's approval.
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    /// Its PKCE verifier.
    pub const CODE_VERIFIER: &str = "code_verifier";
    /// The redirect URI the code was sent to (the token request repeats it).
    pub const REDIRECT_URI: &str = "redirect_uri";

    /// The variable `var` of a profile: `access_token` for the single profile,
    /// `admin_access_token` for the one named `admin`.
    pub fn of(profile: Option<&str>, var: &str) -> String {
        match profile {
            Some(p) => format!("{p}_{var}"),
            None => var.to_string(),
        }
    }
}

impl Collection {
    /// Auth steps then requests, in run order (refresh-only steps included).
    pub fn steps(&self) -> impl Iterator<Item = &Step<Node>> {
        self.auth.iter().chain(self.requests.iter())
    }
}

/// Values applied to every request of a collection.
#[derive(Debug, Clone)]
pub struct Defaults<T = Node> {
    /// Headers added unless a step sets the same name (null removes).
    pub headers: Vec<(Key, T)>,
    /// Query parameters added unless a step sets the same name.
    pub query: Vec<(Key, T)>,
    /// Credentials for requests (not auth steps) unless a step has its own (`bearer: null` drops them).
    pub auth: Option<AuthSpec<T>>,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
    /// `follow_redirects:` / `max_redirects:` for every step that does not say.
    pub redirects: Option<u32>,
    /// `tls:` for every step (auth steps too) that has none of its own.
    pub tls: Option<TlsSpec<T>>,
    /// `http:` for every step that does not pin its own.
    pub http: Option<HttpVersion>,
}

/// `tls: {insecure, ca, cert, key}`: how one step (or every step) sets up TLS.
#[derive(Debug, Clone)]
pub struct TlsSpec<T = Node> {
    /// Skip certificate verification (warned about, and shown by `plan`).
    pub insecure: bool,
    /// Extra trusted CA certificates (a PEM file).
    pub ca: Option<T>,
    /// A client certificate (PEM) for mutual TLS.
    pub cert: Option<T>,
    /// Its private key (PEM).
    pub key: Option<T>,
    /// Where `tls:` is written.
    pub span: Span,
}

/// `http: 1.1 | 2`: the HTTP version a step speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 (over TLS by ALPN, or plain-text h2c with prior knowledge).
    Http2,
}

/// Whether a step establishes credentials or is an ordinary request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Listed under `auth:`: its failure stops the collection; its captures are secret.
    Auth,
    /// Listed under `requests:`.
    Request,
}

impl<T> Default for Defaults<T> {
    fn default() -> Self {
        Defaults {
            headers: Vec::new(),
            query: Vec::new(),
            auth: None,
            timeout: None,
            redirects: None,
            tls: None,
            http: None,
        }
    }
}

/// One HTTP exchange: as authored (`T` = [`Node`]) or compiled (`T` = a template).
#[derive(Debug, Clone)]
pub struct Step<T = Node> {
    /// Unique name within the collection.
    pub name: String,
    /// Whether `name:` was written (otherwise the name is `METHOD url`).
    pub named: bool,
    /// Where the name (or the step, when unnamed) is written.
    pub name_span: Span,
    /// Auth step or request.
    pub role: Role,
    /// Upper-case HTTP method.
    pub method: String,
    /// The `url:` template.
    pub url: T,
    /// Query parameters.
    pub query: Vec<(Key, T)>,
    /// Headers.
    pub headers: Vec<(Key, T)>,
    /// At most one body kind.
    pub body: Option<Body<T>>,
    /// `bearer:` / `basic:` shorthand; `Some(AuthSpec::None)` when set to null.
    pub auth: Option<AuthSpec<T>>,
    /// Per-step timeout.
    pub timeout: Option<Duration>,
    /// Values to capture from the response, then `let:` values derived from them.
    pub captures: Vec<CaptureSpec<T>>,
    /// Expectations on the response.
    pub expect: Expect<T>,
    /// The whole step mapping.
    pub span: Span,
    /// Persistence and token-lifetime settings.
    pub lifecycle: Lifecycle,
    /// `snapshot:` settings, when the response is snapshot-tested.
    pub snapshot: Option<SnapshotSpec>,
    /// `tags:` for `--tag` / `--skip-tag`.
    pub tags: Vec<String>,
    /// `retry:` polling settings.
    pub retry: Option<RetrySpec<T>>,
    /// `description:` free text, kept in `plan` and the reports.
    pub description: Option<String>,
    /// `if:` / `skip_if:`: whether the step runs, decided just before it would.
    pub condition: Option<Condition<T>>,
    /// `delay:` a pause before the step is sent.
    pub delay: Option<Duration>,
    /// A `wait:` step: it pauses this long and sends nothing.
    pub wait: Option<Duration>,
    /// Redirects followed at most (`follow_redirects: false` is 0); `None`: the run's.
    pub redirects: Option<u32>,
    /// `repeat: N`: the step runs N times in a row.
    pub repeat: u32,
    /// `tls:` settings of this step (else the collection's).
    pub tls: Option<TlsSpec<T>>,
    /// `http:` version pinned for this step (else the collection's).
    pub http: Option<HttpVersion>,
    /// An OAuth2 device-code token step: the device authorization request it makes
    /// first (only when it has to fetch a token, never when one is kept).
    pub device: Option<DeviceRequest<T>>,
    /// A token step that authenticates its client with a signed assertion, made fresh
    /// for each token request.
    pub assertion: Option<ClientAssertion<T>>,
    /// An auth step: the named profile it belongs to. A request: the profile it chose
    /// with `auth: NAME`.
    pub profile: Option<Key>,
    /// An authorization-code token step: the user's approval it gets first (only when it
    /// has to fetch a token, never when one is kept or can be refreshed).
    pub authorize: Option<AuthorizeRequest<T>>,
}

/// The front channel of the authorization code grant (RFC 6749 4.1, PKCE RFC 7636,
/// loopback redirect RFC 8252 7.3).
#[derive(Debug, Clone)]
pub struct AuthorizeRequest<T = Node> {
    /// The authorization endpoint.
    pub url: T,
    /// Its parameters besides those baton makes (`response_type`, `redirect_uri`, `state`,
    /// `code_challenge`): `client_id`, `scope`, `audience`, `authorize_params:`.
    pub fields: Vec<(Key, T)>,
    /// `redirect_uri:` (a loopback `http://` URL; port 0 or none: a free port).
    pub redirect_uri: Option<T>,
    /// How long to wait for the browser to come back.
    pub wait: Duration,
    /// Where the profile is written.
    pub span: Span,
}

/// A signed JWT a token request carries: the client's credentials with `client_auth:
/// private_key_jwt | client_secret_jwt` (RFC 7523 2.2, OpenID Connect Core 9), or the grant
/// itself with `grant: jwt_bearer` (RFC 7523 2.1).
#[derive(Debug, Clone)]
pub struct ClientAssertion<T = Node> {
    /// `RS256`, `ES256`, `PS256`… for a private key; `HS256` for a client secret.
    pub alg: String,
    /// The client id: the assertion's issuer and subject.
    pub client_id: T,
    /// A PEM private key file (relative to the collection) or, for `HS256`, the secret.
    pub key: T,
    /// `kid` in the header, when the server has several keys.
    pub key_id: Option<T>,
    /// Claims that replace or join the standard ones (`assertion_claims:`).
    pub claims: Vec<(Key, T)>,
}

/// The device authorization request of a device-code grant (RFC 8628 3.1).
#[derive(Debug, Clone)]
pub struct DeviceRequest<T = Node> {
    /// The device authorization endpoint.
    pub url: T,
    /// Form fields: `client_id`, `scope`, `audience`.
    pub fields: Vec<(Key, T)>,
}

/// `if: <template>` or `skip_if: <template>`: a template rendering to true or false.
#[derive(Debug, Clone)]
pub struct Condition<T = Node> {
    /// The condition.
    pub when: T,
    /// `skip_if:` (the step is skipped when it holds) rather than `if:`.
    pub skip_if: bool,
}

/// `retry: {count, interval, until, fail_if}`: poll until a condition holds.
#[derive(Debug, Clone)]
pub struct RetrySpec<T = Node> {
    /// Attempts in all (the first included), at most 100.
    pub count: u32,
    /// Pause between attempts (a `Retry-After` header on 429/503 may lengthen it).
    pub interval: Duration,
    /// Done when these hold (default: the step's own expectations).
    pub until: Option<Expect<T>>,
    /// Stop at once, failing, when these hold (a terminal failure state).
    pub fail_if: Option<Expect<T>>,
    /// Where `retry:` is written.
    pub span: Span,
    /// A device-code poll (RFC 8628): the server's `interval` sets the pace, and each
    /// `slow_down` answer adds five seconds to it.
    pub device: bool,
}

/// `snapshot: true` or `snapshot: {redact: [...], headers: [...]}`.
#[derive(Debug, Clone)]
pub struct SnapshotSpec {
    /// JSONPaths whose values become `[redacted]` (ids, timestamps…).
    pub redact: Vec<Compiled<JsonPath>>,
    /// Response headers recorded in the snapshot (lower-case); `content-type` always is.
    pub headers: Vec<String>,
    /// Where `snapshot:` is written.
    pub span: Span,
}

/// How a step's results live beyond one exchange.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// `once: true`: run once per collection and environment; captures persist.
    pub once: bool,
    /// `once: {forget_on: [401]}`: when a later auth step that reads what this step saved
    /// is answered with one of these statuses, the saved result is forgotten and the auth
    /// steps run again, once per run (a server that forgot a registration).
    pub forget_on: Option<StatusExpect>,
    /// `cache: true`: captures persist across runs until they expire.
    pub cache: bool,
    /// `expires_in:` how long the credentials this step captures stay valid.
    pub expires_in: Option<Expiry>,
    /// Only run to refresh credentials (the OAuth2 refresh_token grant), never in sequence.
    pub refresh_only: bool,
    /// The credentials are shared by every file of a run that asks for the same identity
    /// (an OAuth2 profile's token step; `cache: true` implies it).
    pub share: bool,
}

impl Lifecycle {
    /// Whether the step's result is kept by key (for this run, or in the state file).
    pub fn keeps(&self) -> bool {
        self.once || self.cache || self.share
    }
}

/// Where a credential's lifetime comes from.
#[derive(Debug, Clone)]
pub enum Expiry {
    /// A fixed duration.
    Fixed(Duration),
    /// A JSONPath on the response giving seconds.
    JsonPath(Compiled<JsonPath>),
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body<T = Node> {
    /// `json:` any value, sent as `application/json`.
    Json(T),
    /// `form:` urlencoded fields.
    Form(Vec<(Key, T)>),
    /// `multipart:` fields and files.
    Multipart(Vec<Part<T>>),
    /// `body:` raw text with an optional `content_type:`.
    Raw {
        /// The text template.
        body: T,
        /// `content_type:` template.
        content_type: Option<T>,
    },
    /// `body:` text sent as written (`raw: true`): no template is rendered in it.
    Literal {
        /// The text.
        text: String,
        /// `content_type:` template.
        content_type: Option<T>,
    },
    /// `body: {file: path}`: a file's bytes, read when sending.
    File {
        /// Path template (relative to the collection file).
        path: T,
        /// Content type; guessed from the extension otherwise.
        content_type: Option<T>,
    },
}

/// One multipart part.
#[derive(Debug, Clone)]
pub struct Part<T = Node> {
    /// Field name.
    pub name: Key,
    /// Text or file.
    pub kind: PartKind<T>,
}

/// What a multipart part carries.
#[derive(Debug, Clone)]
pub enum PartKind<T = Node> {
    /// A text field.
    Text(T),
    /// A file read from disk (relative to the collection file).
    File {
        /// Path template.
        path: T,
        /// File name sent; defaults to the path's name.
        filename: Option<T>,
        /// Content type; guessed from the extension otherwise.
        content_type: Option<T>,
    },
}

/// Credential shorthands.
#[derive(Debug, Clone)]
pub enum AuthSpec<T = Node> {
    /// `bearer: <token>` → `Authorization: Bearer <token>`.
    Bearer(T),
    /// `basic: {username, password}`.
    Basic {
        /// User name template.
        username: T,
        /// Password template.
        password: T,
    },
    /// `bearer: null`: no credentials for this step.
    None,
    /// `digest: {username, password}`: HTTP Digest, answering the server's challenge.
    Digest {
        /// User name template.
        username: T,
        /// Password template.
        password: T,
    },
    /// `aws_sigv4: {access_key, secret_key, region, service, session_token}`.
    AwsSigV4 {
        /// Access key id.
        access_key: T,
        /// Secret access key.
        secret_key: T,
        /// Region.
        region: T,
        /// Service name.
        service: T,
        /// A temporary credential's session token.
        session_token: Option<T>,
    },
    /// An OAuth2 profile's token: `Authorization: <token_type> <access_token>`, of the
    /// profile named (`None`: the single profile).
    OAuth2(Option<String>),
}

/// One value to capture.
#[derive(Debug, Clone)]
pub struct CaptureSpec<T = Node> {
    /// Variable name it is stored under.
    pub name: Key,
    /// Where it comes from.
    pub source: CaptureSource,
    /// Explicit `secret:`; auth-step captures default to secret.
    pub secret: Option<bool>,
    /// `optional: true`: a missing value is not a failure.
    pub optional: bool,
    /// For a capture that is not written in the collection (an OAuth2 profile's token):
    /// what it is and where it is read, for the failure message.
    pub implied: Option<String>,
    /// `then:` a template over the captured `value` whose result is kept instead (for
    /// `let:` entries, the value itself).
    pub then: Option<T>,
}

/// The part of a response a capture reads.
#[derive(Debug, Clone)]
pub enum CaptureSource {
    /// A JSONPath query on the JSON body; exactly one match (a list when several match).
    JsonPath(Compiled<JsonPath>),
    /// A response header.
    Header(String),
    /// The status code.
    Status,
    /// The whole body as text (or JSON when it is JSON).
    Body,
    /// A regex on the body text; group 1 when there is one, else the whole match.
    Regex(Compiled<Regex>),
    /// A regex on a response header's value (`{header: Name, regex: …}`).
    HeaderRegex(String, Compiled<Regex>),
    /// A cookie the response set (`Set-Cookie`, redirects included).
    Cookie(String),
    /// The URL that answered last (after redirects).
    Url,
    /// The response time in milliseconds.
    Duration,
    /// A `let:` entry: no part of the response, its `then` template is the value.
    Let,
}

impl std::fmt::Display for CaptureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureSource::JsonPath(p) => f.write_str(&p.source),
            CaptureSource::Header(h) => write!(f, "header {h}"),
            CaptureSource::Status => f.write_str("status"),
            CaptureSource::Body => f.write_str("body"),
            CaptureSource::Regex(r) => write!(f, "regex /{}/", r.source),
            CaptureSource::HeaderRegex(h, r) => write!(f, "header {h} regex /{}/", r.source),
            CaptureSource::Cookie(c) => write!(f, "cookie {c}"),
            CaptureSource::Url => f.write_str("url"),
            CaptureSource::Duration => f.write_str("duration"),
            CaptureSource::Let => f.write_str("let"),
        }
    }
}

/// A compiled pattern with its source text and position.
#[derive(Debug, Clone)]
pub struct Compiled<T> {
    /// The compiled form.
    pub compiled: T,
    /// As written.
    pub source: String,
    /// Where it is written.
    pub span: Span,
}

/// Expectations on a response.
#[derive(Debug, Clone)]
pub struct Expect<T = Node> {
    /// Allowed statuses; `None` means "any 1xx–3xx".
    pub status: Option<StatusExpect>,
    /// Header name → matcher.
    pub headers: Vec<(Key, Matcher<T>)>,
    /// JSONPath → matcher.
    pub json: Vec<(Compiled<JsonPath>, Matcher<T>)>,
    /// Substrings the body must contain.
    pub body_contains: Vec<T>,
    /// Expected media type (parameters like charset are ignored unless given).
    pub content_type: Option<T>,
    /// Cookie name → matcher on the value the response set.
    pub cookies: Vec<(Key, Matcher<T>)>,
    /// Bounds on the response time.
    pub duration: Vec<(CompareOp, Duration, Span)>,
    /// `json_schema: path`: the JSON body must validate against this schema.
    pub json_schema: Option<LocalFile>,
    /// `body:` the whole body: matchers, or `{file: path}` to equal a file.
    pub body: Option<BodyExpect<T>>,
}

/// A file an expectation reads (relative to the collection), loaded and checked by
/// validation before anything is sent.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// As written.
    pub path: String,
    /// Where it is written.
    pub span: Span,
    /// Its contents, once validation loaded it.
    pub loaded: Option<std::sync::Arc<Loaded>>,
}

/// What validation made of a [`LocalFile`].
#[derive(Debug)]
pub enum Loaded {
    /// A compiled JSON Schema.
    Schema(jsonschema::Validator),
    /// An expected body: its bytes, and the JSON in them when they are JSON.
    Body(Vec<u8>, Option<serde_json::Value>),
}

/// `expect.body`.
#[derive(Debug, Clone)]
pub enum BodyExpect<T = Node> {
    /// Matchers on the body (its JSON when it is JSON, else its text).
    Matcher(Matcher<T>),
    /// `{file: path}`: equal to the file (as JSON when both are JSON).
    File(LocalFile),
}

impl<T> Default for Expect<T> {
    fn default() -> Self {
        Expect {
            status: None,
            headers: Vec::new(),
            json: Vec::new(),
            body_contains: Vec::new(),
            content_type: None,
            cookies: Vec::new(),
            duration: Vec::new(),
            json_schema: None,
            body: None,
        }
    }
}

/// `status:` as written.
#[derive(Debug, Clone)]
pub struct StatusExpect {
    /// Any of these passes.
    pub allowed: Vec<StatusPattern>,
    /// Where it is written.
    pub span: Span,
}

/// One allowed status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    /// An exact code.
    Code(u16),
    /// A class such as `2xx` (stores 2).
    Class(u16),
}

impl StatusPattern {
    /// Whether `status` is allowed by this pattern.
    pub fn allows(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(c) => c == status,
            StatusPattern::Class(c) => status / 100 == c,
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// A check on one value (a JSONPath result or a header).
#[derive(Debug, Clone)]
pub struct Matcher<T = Node> {
    /// The checks; all must hold.
    pub checks: Vec<Check<T>>,
    /// Where the matcher is written.
    pub span: Span,
}

/// A single check.
#[derive(Debug, Clone)]
pub enum Check<T = Node> {
    /// Equal to the rendered value (numbers compare by value).
    Equals(T),
    /// Present (`true`) or absent (`false`).
    Exists(bool),
    /// A string matching this regex.
    Matches(Compiled<Regex>),
    /// Length of a string, list or object.
    Len(T),
    /// Length of a string, list or object, checked by matchers (`len: {gt: 0}`).
    LenMatches(Box<Matcher<T>>),
    /// Every element of a list holds these (true on an empty list).
    Each(Box<Matcher<T>>),
    /// Numeric comparisons.
    Compare(CompareOp, T),
    /// A string containing, or a list holding, the value.
    Contains(T),
    /// JSON type name: string, number, integer, boolean, array, object, null.
    Type(JsonType, Span),
}

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
}

impl CompareOp {
    /// The operator as written in YAML.
    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Gt => "gt",
            CompareOp::Gte => "gte",
            CompareOp::Lt => "lt",
            CompareOp::Lte => "lte",
        }
    }
}

/// JSON value types for the `type:` matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// string
    String,
    /// number (integer or float)
    Number,
    /// integer
    Integer,
    /// boolean
    Boolean,
    /// array
    Array,
    /// object
    Object,
    /// null
    Null,
}

impl JsonType {
    /// All names accepted in YAML.
    pub const NAMES: [&'static str; 7] =
        ["string", "number", "integer", "boolean", "array", "object", "null"];

    /// Parses a type name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "boolean" | "bool" => JsonType::Boolean,
            "array" | "list" => JsonType::Array,
            "object" | "map" => JsonType::Object,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    /// Whether `v` has this type.
    pub fn matches(self, v: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match self {
            JsonType::String => v.is_string(),
            JsonType::Number => v.is_number(),
            JsonType::Integer => v.is_i64() || v.is_u64(),
            JsonType::Boolean => v.is_boolean(),
            JsonType::Array => v.is_array(),
            JsonType::Object => v.is_object(),
            JsonType::Null => matches!(v, J::Null),
        }
    }

    /// Type name of a JSON value.
    pub fn of(v: &serde_json::Value) -> &'static str {
        use serde_json::Value as J;
        match v {
            J::Null => "null",
            J::Bool(_) => "boolean",
            J::Number(n) if n.is_f64() => "number",
            J::Number(_) => "integer",
            J::String(_) => "string",
            J::Array(_) => "array",
            J::Object(_) => "object",
        }
    }
}
