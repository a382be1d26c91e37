//! YAML tree → [`Collection`], checking shape and collecting every problem.
//!
//! Unknown keys get a did-you-mean, wrong types say what was expected and what was
//! found, JSONPaths and regexes are compiled here (once), and each problem points at
//! the exact node. Parsing never stops at the first problem.

use std::str::FromStr;
use std::time::Duration;

use regex::Regex;
use serde_json_path::JsonPath;

use crate::diagnostic::{Code, Diagnostic, did_you_mean, suggest};
use crate::model::{
    AuthSpec, Body, BodyExpect, CaptureSource, CaptureSpec, Check, Collection, CompareOp, Compiled,
    Condition, DataSpec, Defaults, Expect, Expiry, HttpVersion, IncludeSpec, JsonType, Lifecycle, LocalFile,
    MAX_LIFETIME, MAX_TIMEOUT, Matcher, Part, PartKind, RetrySpec, Role, SnapshotSpec, StatusExpect,
    StatusPattern, Step, TlsSpec,
};
use crate::source::{FileId, Span};
use crate::yaml::{Key, Node, Value};

pub(crate) mod oauth2;

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "tags",
    "include",
    "vars",
    "secrets",
    "cookies",
    "data",
    "auth",
    "defaults",
    "requests",
];
pub(crate) const RETRY_KEYS: &[&str] = &["count", "interval", "until", "fail_if"];
pub(crate) const INCLUDE_KEYS: &[&str] = &["path", "vars"];
pub(crate) const STEP_KEYS: &[&str] = &[
    "name",
    "method",
    "url",
    "query",
    "headers",
    "json",
    "form",
    "multipart",
    "body",
    "content_type",
    "bearer",
    "basic",
    "timeout",
    "capture",
    "expect",
    "once",
    "cache",
    "expires_in",
    "snapshot",
    "tags",
    "retry",
    "description",
    "if",
    "skip_if",
    "delay",
    "follow_redirects",
    "max_redirects",
    "raw",
    "repeat",
    "tls",
    "http",
    "let",
    "digest",
    "aws_sigv4",
    "auth",
];
/// The keys of a `wait:` step (it sends nothing).
pub(crate) const WAIT_KEYS: &[&str] = &["name", "wait", "description", "if", "skip_if", "tags"];
/// The most redirects a step or run may follow.
pub const MAX_REDIRECTS: u32 = 1000;
pub(crate) const SNAPSHOT_KEYS: &[&str] = &["redact", "headers"];
pub(crate) const DEFAULT_KEYS: &[&str] = &[
    "headers",
    "query",
    "bearer",
    "basic",
    "timeout",
    "follow_redirects",
    "max_redirects",
    "tls",
    "http",
    "digest",
    "aws_sigv4",
];
pub(crate) const EXPECT_KEYS: &[&str] = &[
    "status",
    "headers",
    "json",
    "json_schema",
    "body",
    "body_contains",
    "content_type",
    "cookies",
    "duration",
];
pub(crate) const CAPTURE_KEYS: &[&str] = &[
    "jsonpath", "header", "status", "body", "regex", "cookie", "url", "duration", "secret", "optional",
    "then",
];
pub(crate) const MATCHER_KEYS: &[&str] =
    &["equals", "exists", "matches", "len", "gt", "gte", "lt", "lte", "contains", "type", "each"];
pub(crate) const DURATION_KEYS: &[&str] = &["gt", "gte", "lt", "lte"];
/// `tls:` keys.
pub(crate) const TLS_KEYS: &[&str] = &["insecure", "ca", "cert", "key"];
/// `body: {…}` keys.
pub(crate) const BODY_FILE_KEYS: &[&str] = &["file", "content_type"];
/// `once: {…}` keys.
pub(crate) const ONCE_KEYS: &[&str] = &["forget_on"];
/// `digest:` keys.
pub(crate) const DIGEST_KEYS: &[&str] = &["username", "password"];
/// `aws_sigv4:` keys.
pub(crate) const SIGV4_KEYS: &[&str] = &["access_key", "secret_key", "region", "service", "session_token"];
pub(crate) const BASIC_KEYS: &[&str] = &["username", "password"];
pub(crate) const FILE_PART_KEYS: &[&str] = &["file", "filename", "content_type"];
/// HTTP methods baton sends.
pub const METHODS: &[&str] =
    &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"];
/// Registered extension methods (WebDAV, link relations, cache purging, QUERY) sent as
/// written; any other word is a typo until proven otherwise.
pub const EXTENSION_METHODS: &[&str] = &[
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "LINK",
    "UNLINK",
    "PURGE",
    "REPORT",
    "SEARCH",
    "QUERY",
    "VIEW",
];

/// Parses a collection tree, returning it or every problem found.
pub fn parse_collection(
    root: &Node,
    file: FileId,
    text: &str,
    default_name: &str,
) -> Result<Collection, Vec<Diagnostic>> {
    let mut p = Parser { diags: Vec::new(), text, profile: None };
    let collection = p.collection(root, file, default_name);
    match collection {
        Some(c) if p.diags.is_empty() => Ok(c),
        _ => Err(p.diags),
    }
}

struct Parser<'t> {
    diags: Vec<Diagnostic>,
    text: &'t str,
    /// The named profile being parsed (its OAuth2 variables carry its name).
    profile: Option<Key>,
}

fn field<'a>(map: &'a [(Key, Node)], name: &str) -> Option<&'a Node> {
    map.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
}

fn key_span(map: &[(Key, Node)], name: &str) -> Option<Span> {
    map.iter().find(|(k, _)| k.name == name).map(|(k, _)| k.span)
}

impl Parser<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        self.err(
            Diagnostic::error(
                Code::WrongType,
                format!("`{what}` must be {expected}, found {}", node.type_name()),
            )
            .at(node.span, format!("expected {expected}"))
            .help_opt(shape_hint(what)),
        );
    }

    /// Expects a mapping and reports keys not in `known`.
    fn map<'a>(&mut self, node: &'a Node, what: &str, known: &[&str]) -> Option<&'a [(Key, Node)]> {
        match &node.value {
            Value::Map(entries) => {
                for (k, _) in entries {
                    if !known.contains(&k.name.as_str()) {
                        self.err(
                            Diagnostic::error(
                                Code::UnknownField,
                                format!("unknown field `{}` in {what}", k.name),
                            )
                            .at(k.span, "not a known field")
                            .help(suggest(&k.name, known)),
                        );
                    }
                }
                Some(entries)
            }
            _ => {
                self.wrong_type(node, what, "a mapping");
                None
            }
        }
    }

    /// A mapping of names to template values (query, headers, vars, form).
    fn pairs(&mut self, node: &Node, what: &str) -> Vec<(Key, Node)> {
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    if matches!(v.value, Value::Map(_)) && what != "vars" && what != "json" {
                        self.wrong_type(v, &format!("{what}.{}", k.name), "a scalar or list");
                    }
                }
                entries.clone()
            }
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(node, what, "a mapping");
                Vec::new()
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    fn collection(&mut self, root: &Node, file: FileId, default_name: &str) -> Option<Collection> {
        let top = self.map(root, "the collection", TOP_KEYS)?;
        let name = field(top, "name")
            .and_then(|n| self.string(n, "name"))
            .unwrap_or_else(|| default_name.to_string());
        let vars = field(top, "vars").map_or_else(Vec::new, |n| self.pairs(n, "vars"));
        let defaults = field(top, "defaults").map_or_else(Defaults::default, |n| self.defaults(n));
        let (auth, profiles) = match field(top, "auth") {
            Some(n) => self.profiles(n),
            None => (Vec::new(), Vec::new()),
        };
        let includes = field(top, "include").map_or_else(Vec::new, |n| self.includes(n));
        let requests = match field(top, "requests") {
            Some(n) => self.steps(n, "requests", Role::Request),
            None => {
                // A near-miss such as `reqests:` is already reported as an unknown field.
                let misspelled = top.iter().any(|(k, _)| did_you_mean(&k.name, ["requests"]).is_some());
                if field(top, "auth").is_none() && field(top, "include").is_none() && !misspelled {
                    self.err(
                        Diagnostic::error(Code::MissingField, "the collection has no `requests:`")
                            .at(root.span, "expected `requests:` in this mapping")
                            .help("add `requests:` with a list of steps, each with at least `url:`"),
                    );
                }
                Vec::new()
            }
        };
        let tags = field(top, "tags").map_or_else(Vec::new, |n| self.tags(n));
        let secrets = field(top, "secrets").map_or_else(Vec::new, |n| self.secret_names(n));
        let description = field(top, "description").and_then(|n| self.string(n, "description"));
        let cookies = field(top, "cookies").is_none_or(|_| self.flag(top, "cookies"));
        let data = field(top, "data").and_then(|n| self.data(n, key_span(top, "data").unwrap_or(n.span)));
        let collection = Collection {
            file,
            name,
            vars,
            auth,
            defaults,
            requests,
            includes,
            profiles,
            tags,
            secrets,
            description,
            cookies,
            data,
        };
        self.unique_names(&collection);
        Some(collection)
    }

    fn includes(&mut self, node: &Node) -> Vec<IncludeSpec> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            _ => {
                self.wrong_type(node, "include", "a list of recipe paths");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(path) => {
                    out.push(IncludeSpec { path: path.clone(), span: item.span, vars: Vec::new() })
                }
                Value::Map(_) => {
                    let Some(m) = self.map(item, "an include", INCLUDE_KEYS) else { continue };
                    let Some(path) = field(m, "path").and_then(|p| self.string(p, "path")) else {
                        self.err(
                            Diagnostic::error(Code::MissingField, "this include has no `path:`")
                                .at(item.span, "expected `path: recipes/…yaml`")
                                .help("write `- path: recipes/auth.yaml` (with optional `vars:`)"),
                        );
                        continue;
                    };
                    let vars = field(m, "vars").map_or_else(Vec::new, |n| self.pairs(n, "vars"));
                    out.push(IncludeSpec { path, span: item.span, vars });
                }
                _ => self.wrong_type(item, "include", "a path or `{path: …, vars: {…}}`"),
            }
        }
        out
    }

    fn unique_names(&mut self, c: &Collection) {
        let mut seen: std::collections::HashMap<&str, &Step> = std::collections::HashMap::new();
        for step in c.steps() {
            if let Some(first) = seen.get(step.name.as_str()) {
                self.err(
                    Diagnostic::error(Code::DuplicateStep, format!("two steps are named `{}`", step.name))
                        .at(step.name_span, "second use of the name")
                        .also(first.name_span, "first defined here")
                        .help("step names must be unique within a collection; rename one"),
                );
            } else {
                seen.insert(&step.name, step);
            }
        }
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let Some(map) = self.map(node, "defaults", DEFAULT_KEYS) else {
            return Defaults::default();
        };
        Defaults {
            headers: field(map, "headers").map_or_else(Vec::new, |n| self.pairs(n, "headers")),
            query: field(map, "query").map_or_else(Vec::new, |n| self.pairs(n, "query")),
            auth: self.step_credentials(map),
            timeout: field(map, "timeout").and_then(|n| self.duration(n, "timeout", MAX_TIMEOUT)),
            redirects: self.redirects(map),
            tls: field(map, "tls").and_then(|n| self.tls(n)),
            http: field(map, "http").and_then(|n| self.http_version(n)),
        }
    }

    /// `tls: {insecure: true}`, `{ca: path}`, `{cert: path, key: path}`.
    fn tls(&mut self, node: &Node) -> Option<TlsSpec> {
        let m = self.map(node, "tls", TLS_KEYS)?;
        let path = |p: &mut Self, name: &str| {
            let n = field(m, name)?;
            if !matches!(n.value, Value::Str(_)) {
                p.wrong_type(n, &format!("tls.{name}"), "a path to a PEM file");
                return None;
            }
            Some(n.clone())
        };
        let (ca, cert, key) = (path(self, "ca"), path(self, "cert"), path(self, "key"));
        if cert.is_some() != key.is_some() {
            let (given, missing) = if cert.is_some() { ("cert", "key") } else { ("key", "cert") };
            self.err(
                Diagnostic::error(Code::MissingField, format!("`tls.{given}` without `tls.{missing}`"))
                    .at(key_span(m, given).unwrap_or(node.span), format!("no `{missing}:` beside it"))
                    .help("a client certificate needs its private key: `tls: {cert: client.pem, key: client.key}`"),
            );
        }
        Some(TlsSpec { insecure: self.flag(m, "insecure"), ca, cert, key, span: node.span })
    }

    /// `http: 1.1` or `http: 2`.
    fn http_version(&mut self, node: &Node) -> Option<HttpVersion> {
        let text = match &node.value {
            Value::Str(s) => s.trim().to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            _ => String::new(),
        };
        match text.to_ascii_lowercase().trim_start_matches("http/") {
            "1.1" | "1" => Some(HttpVersion::Http1),
            "2" | "2.0" => Some(HttpVersion::Http2),
            _ => {
                self.err(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("`http: {text}` is not an HTTP version baton speaks"),
                    )
                    .at(node.span, "expected 1.1 or 2")
                    .help("write `http: 1.1` or `http: 2` (plain-text `http://` URLs then use h2c)"),
                );
                None
            }
        }
    }

    /// `follow_redirects: false` (none) and `max_redirects: N`.
    fn redirects(&mut self, map: &[(Key, Node)]) -> Option<u32> {
        let follow = field(map, "follow_redirects").map(|_| self.flag(map, "follow_redirects"));
        let max = field(map, "max_redirects").and_then(|n| match n.value {
            Value::Int(i) if (0..=i64::from(MAX_REDIRECTS)).contains(&i) => u32::try_from(i).ok(),
            _ => {
                self.err(
                    Diagnostic::error(Code::WrongType, "`max_redirects:` must be a whole number 0–1000")
                        .at(n.span, "not a redirect count")
                        .help("write `max_redirects: 5`, or `follow_redirects: false` to follow none"),
                );
                None
            }
        });
        match (follow, max) {
            (Some(false), Some(m)) if m > 0 => {
                let span = key_span(map, "max_redirects").unwrap_or_default();
                self.err(
                    Diagnostic::error(
                        Code::MisplacedField,
                        "`max_redirects:` with `follow_redirects: false`",
                    )
                    .at(span, "no redirect is followed")
                    .help("remove one of the two"),
                );
                Some(0)
            }
            (Some(false), _) => Some(0),
            (_, Some(m)) => Some(m),
            (Some(true), None) => Some(crate::exchange::RedirectPolicy::DEFAULT_MAX),
            (None, None) => None,
        }
    }

    fn steps(&mut self, node: &Node, what: &str, role: Role) -> Vec<Step> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|n| self.step(n, role)).collect(),
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(node, what, "a list of steps");
                Vec::new()
            }
        }
    }

    fn step(&mut self, node: &Node, role: Role) -> Option<Step> {
        if let Value::Map(entries) = &node.value
            && entries.iter().any(|(k, _)| k.name == "wait")
        {
            return self.wait_step(node, role);
        }
        let map = self.map(node, "a step", STEP_KEYS)?;
        let method_node = field(map, "method");
        let method = match method_node {
            None => "GET".to_string(),
            Some(n) => {
                let m = self.string(n, "method")?;
                let upper = m.to_ascii_uppercase();
                if !METHODS.contains(&upper.as_str()) && !EXTENSION_METHODS.contains(&upper.as_str()) {
                    self.err(
                        Diagnostic::error(Code::BadMethod, format!("`{m}` is not an HTTP method"))
                            .at(n.span, "unknown method")
                            .help(suggest(&upper, METHODS)),
                    );
                }
                upper
            }
        };
        let Some(url) = field(map, "url").cloned() else {
            self.err(
                Diagnostic::error(Code::MissingField, "this step has no `url:`")
                    .at(map.first().map_or(node.span, |(k, _)| k.span), "step starts here")
                    .help("add `url: https://…` (templates such as `{{ base_url }}/path` work)"),
            );
            return None;
        };
        if !matches!(url.value, Value::Str(_)) {
            self.wrong_type(&url, "url", "a string");
        }
        let named = field(map, "name").is_some();
        let (name, name_span) = match field(map, "name") {
            Some(n) => (self.string(n, "name").unwrap_or_default(), n.span),
            None => (
                format!("{method} {}", url.as_str().unwrap_or("?")),
                map.first().map_or(node.span, |(k, _)| k.span),
            ),
        };
        let body = self.body(map);
        Some(Step {
            name,
            named,
            name_span,
            role,
            method,
            url,
            query: field(map, "query").map_or_else(Vec::new, |n| self.pairs(n, "query")),
            headers: field(map, "headers").map_or_else(Vec::new, |n| self.pairs(n, "headers")),
            body,
            auth: self.step_credentials(map),
            timeout: field(map, "timeout").and_then(|n| self.duration(n, "timeout", MAX_TIMEOUT)),
            captures: self.step_captures(map),
            expect: field(map, "expect").map_or_else(Expect::default, |n| self.expect(n)),
            span: node.span,
            lifecycle: self.lifecycle(map, role),
            snapshot: field(map, "snapshot").and_then(|n| self.snapshot(n)),
            tags: field(map, "tags").map_or_else(Vec::new, |n| self.tags(n)),
            retry: field(map, "retry").and_then(|n| self.retry(n)),
            description: field(map, "description").and_then(|n| self.string(n, "description")),
            condition: self.condition(map),
            delay: field(map, "delay").and_then(|n| self.duration(n, "delay", MAX_TIMEOUT)),
            wait: None,
            redirects: self.redirects(map),
            repeat: self.repeat(map),
            tls: field(map, "tls").and_then(|n| self.tls(n)),
            http: field(map, "http").and_then(|n| self.http_version(n)),
            device: None,
            assertion: None,
            profile: self.chosen_profile(map),
            authorize: None,
        })
    }

    /// `repeat: N` (1–10,000).
    fn repeat(&mut self, map: &[(Key, Node)]) -> u32 {
        match field(map, "repeat") {
            None => 1,
            Some(Node { value: Value::Int(n), .. }) if (1..=10_000).contains(n) => {
                u32::try_from(*n).unwrap_or(1)
            }
            Some(n) => {
                self.err(
                    Diagnostic::error(Code::WrongType, "`repeat:` must be a number of runs from 1 to 10,000")
                        .at(n.span, "not 1–10,000")
                        .help("write `repeat: 3`"),
                );
                1
            }
        }
    }

    /// `data: rows.csv`, `data: rows.json` or `data: [{email: …}, …]`.
    fn data(&mut self, node: &Node, span: Span) -> Option<DataSpec> {
        match &node.value {
            Value::Str(path) => Some(DataSpec::File { path: path.clone(), span: node.span }),
            Value::Seq(rows) => Some(DataSpec::Inline { rows: rows.clone(), span }),
            _ => {
                self.wrong_type(node, "data", "a CSV or JSON file, or a list of rows");
                None
            }
        }
    }

    /// `- wait: 2s`: a step that pauses and sends nothing.
    fn wait_step(&mut self, node: &Node, role: Role) -> Option<Step> {
        let map = self.map(node, "a wait step", WAIT_KEYS)?;
        let wait_node = field(map, "wait")?;
        let wait = self.duration(wait_node, "wait", MAX_TIMEOUT)?;
        // An unnamed wait is named after what it does, so the report has a label for it.
        let named = true;
        let (name, name_span) = match field(map, "name") {
            Some(n) => (self.string(n, "name").unwrap_or_default(), n.span),
            None => (
                format!("wait {}", crate::event::human_duration(wait)),
                key_span(map, "wait").unwrap_or(node.span),
            ),
        };
        if role == Role::Auth {
            self.err(
                Diagnostic::error(Code::MisplacedField, "a `wait:` step under `auth:`")
                    .at(wait_node.span, "auth steps send requests")
                    .help("put the wait under `requests:`, or give the auth step a `delay:`"),
            );
        }
        Some(Step {
            name,
            named,
            name_span,
            role,
            method: "WAIT".to_string(),
            url: Node { value: Value::Str(String::new()), span: wait_node.span },
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            auth: Some(AuthSpec::None),
            timeout: None,
            captures: Vec::new(),
            expect: Expect::default(),
            span: node.span,
            lifecycle: Lifecycle::default(),
            snapshot: None,
            tags: field(map, "tags").map_or_else(Vec::new, |n| self.tags(n)),
            retry: None,
            description: field(map, "description").and_then(|n| self.string(n, "description")),
            condition: self.condition(map),
            delay: None,
            wait: Some(wait),
            redirects: None,
            repeat: 1,
            tls: None,
            http: None,
            device: None,
            assertion: None,
            profile: None,
            authorize: None,
        })
    }

    /// `if:` or `skip_if:` (not both): a template, or a literal true/false.
    fn condition(&mut self, map: &[(Key, Node)]) -> Option<Condition> {
        match (field(map, "if"), field(map, "skip_if")) {
            (Some(_), Some(_)) => {
                let span = key_span(map, "skip_if").unwrap_or_default();
                self.err(
                    Diagnostic::error(Code::MisplacedField, "a step with both `if:` and `skip_if:`")
                        .at(span, "second condition")
                        .help("keep one: `skip_if: X` is `if: not X`"),
                );
                None
            }
            (Some(n), None) => self.condition_node(n, false),
            (None, Some(n)) => self.condition_node(n, true),
            (None, None) => None,
        }
    }

    fn condition_node(&mut self, node: &Node, skip_if: bool) -> Option<Condition> {
        match &node.value {
            Value::Bool(_) | Value::Str(_) => Some(Condition { when: node.clone(), skip_if }),
            _ => {
                self.wrong_type(
                    node,
                    if skip_if { "skip_if" } else { "if" },
                    "a template such as \"{{ x == 1 }}\"",
                );
                None
            }
        }
    }

    /// `secrets: [otp, code]`: names, each where it is written.
    fn secret_names(&mut self, node: &Node) -> Vec<Key> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![node],
            _ => {
                self.wrong_type(node, "secrets", "a list of variable or capture names");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            let Some(name) = self.string(item, "secrets") else { continue };
            let key = Key { name, span: item.span };
            match bad_variable_name(&key) {
                Some(d) => self.err(d),
                None => out.push(key),
            }
        }
        out
    }

    fn tags(&mut self, node: &Node) -> Vec<String> {
        match &node.value {
            Value::Str(s) => vec![s.clone()],
            Value::Seq(items) => items.iter().filter_map(|i| self.string(i, "tags")).collect(),
            _ => {
                self.wrong_type(node, "tags", "a tag or a list of tags");
                Vec::new()
            }
        }
    }

    fn retry(&mut self, node: &Node) -> Option<RetrySpec> {
        let m = self.map(node, "retry", RETRY_KEYS)?;
        let count = match field(m, "count") {
            None => 10,
            Some(Node { value: Value::Int(c), .. }) if (1..=100).contains(c) => *c as u32,
            Some(n) => {
                self.err(
                    Diagnostic::error(
                        Code::BadRetry,
                        "`retry.count` must be a number of attempts from 1 to 100",
                    )
                    .at(n.span, "not 1–100"),
                );
                return None;
            }
        };
        let interval = match field(m, "interval") {
            None => Duration::from_secs(1),
            Some(n) => self.duration(n, "retry.interval", MAX_RETRY_INTERVAL)?,
        };
        let until = field(m, "until").map(|n| self.expect(n));
        let fail_if = field(m, "fail_if").map(|n| self.expect(n));
        Some(RetrySpec { count, interval, until, fail_if, span: node.span, device: false })
    }

    fn snapshot(&mut self, node: &Node) -> Option<SnapshotSpec> {
        let span = node.span;
        match &node.value {
            Value::Bool(false) | Value::Null => None,
            Value::Bool(true) => Some(SnapshotSpec { redact: Vec::new(), headers: Vec::new(), span }),
            Value::Map(_) => {
                let m = self.map(node, "snapshot", SNAPSHOT_KEYS)?;
                let list = |p: &mut Self, name: &str| -> Vec<(String, Span)> {
                    match field(m, name) {
                        None => Vec::new(),
                        Some(Node { value: Value::Seq(items), .. }) => {
                            items.iter().filter_map(|i| p.string(i, name).map(|s| (s, i.span))).collect()
                        }
                        Some(n) => {
                            p.wrong_type(n, name, "a list");
                            Vec::new()
                        }
                    }
                };
                let redact =
                    list(self, "redact").into_iter().filter_map(|(s, sp)| self.jsonpath(&s, sp)).collect();
                let headers =
                    list(self, "headers").into_iter().map(|(s, _)| s.to_ascii_lowercase()).collect();
                Some(SnapshotSpec { redact, headers, span })
            }
            _ => {
                self.wrong_type(node, "snapshot", "true or `{redact: [...], headers: [...]}`");
                None
            }
        }
    }

    fn flag(&mut self, map: &[(Key, Node)], name: &str) -> bool {
        match field(map, name) {
            None => false,
            Some(Node { value: Value::Bool(b), .. }) => *b,
            Some(n) => {
                self.wrong_type(n, name, "true or false");
                false
            }
        }
    }

    fn lifecycle(&mut self, map: &[(Key, Node)], role: Role) -> Lifecycle {
        let expires_in = field(map, "expires_in").and_then(|n| self.expiry(n));
        if let (Some(_), Role::Request) = (&expires_in, role) {
            let span = key_span(map, "expires_in").unwrap_or_default();
            self.err(
                Diagnostic::error(Code::MisplacedField, "`expires_in:` only applies to auth steps")
                    .at(span, "in a request")
                    .help("put the step that fetches the credential under `auth:`"),
            );
        }
        let (once, forget_on) = self.once(map);
        Lifecycle {
            once,
            forget_on,
            cache: self.flag(map, "cache"),
            expires_in,
            refresh_only: false,
            share: false,
        }
    }

    /// `once: true`, or `once: {forget_on: 401 | [401, 403]}`.
    fn once(&mut self, map: &[(Key, Node)]) -> (bool, Option<StatusExpect>) {
        let Some(node) = field(map, "once") else { return (false, None) };
        if !matches!(node.value, Value::Map(_)) {
            return (self.flag(map, "once"), None);
        }
        let Some(options) = self.map(node, "once", ONCE_KEYS) else { return (true, None) };
        let forget_on = field(options, "forget_on").and_then(|n| self.status(n));
        (true, forget_on)
    }

    fn expiry(&mut self, node: &Node) -> Option<Expiry> {
        match &node.value {
            Value::Str(s) if s.starts_with('$') => self.jsonpath(s, node.span).map(Expiry::JsonPath),
            _ => self.duration(node, "expires_in", MAX_LIFETIME).map(Expiry::Fixed),
        }
    }

    fn body(&mut self, map: &[(Key, Node)]) -> Option<Body> {
        let kinds: Vec<&Key> = map
            .iter()
            .filter(|(k, _)| matches!(k.name.as_str(), "json" | "form" | "multipart" | "body"))
            .map(|(k, _)| k)
            .collect();
        if kinds.len() > 1 {
            self.err(
                Diagnostic::error(
                    Code::ConflictingBody,
                    format!("a step can have one body, found `{}` and `{}`", kinds[0].name, kinds[1].name),
                )
                .at(kinds[1].span, "second body")
                .also(kinds[0].span, "first body")
                .help("keep one of `json:`, `form:`, `multipart:` or `body:`"),
            );
        }
        if let Some(ct) = key_span(map, "content_type")
            && field(map, "body").is_none()
        {
            self.err(
                Diagnostic::error(Code::OrphanContentType, "`content_type:` only applies to a raw `body:`")
                    .at(ct, "no `body:` in this step")
                    .help("for JSON, form or multipart bodies the content type is set for you; use `headers:` to override"),
            );
        }
        let found =
            map.iter().find(|(k, _)| matches!(k.name.as_str(), "json" | "form" | "multipart" | "body"));
        if field(map, "raw").is_some() && !matches!(found, Some((k, _)) if k.name == "body") {
            self.raw_misplaced(map, "this step has no text `body:`");
        }
        let (key, node) = found?;
        Some(match key.name.as_str() {
            "json" => Body::Json(node.clone()),
            "form" => Body::Form(self.pairs(node, "form")),
            "multipart" => Body::Multipart(self.multipart(node)),
            _ => self.raw_body(map, node)?,
        })
    }

    /// `body:` text (templated, or as written with `raw: true`) or `{file: path}`.
    fn raw_body(&mut self, map: &[(Key, Node)], node: &Node) -> Option<Body> {
        let raw = self.flag(map, "raw");
        let step_type = field(map, "content_type").cloned();
        if let Value::Map(_) = node.value {
            let m = self.map(node, "body", BODY_FILE_KEYS)?;
            let unknown = m.iter().any(|(k, _)| k.name != "file" && k.name != "content_type");
            let Some(path) = field(m, "file") else {
                if unknown {
                    // Reported already, with a did-you-mean for `file`.
                    return None;
                }
                self.err(
                    Diagnostic::error(Code::MissingField, "a `body:` mapping names a `file:`")
                        .at(node.span, "no `file:`")
                        .help("write `body: {file: data/upload.bin}`, or `json:` for structured data"),
                );
                return None;
            };
            if !matches!(path.value, Value::Str(_)) {
                self.wrong_type(path, "body.file", "a path");
            }
            if raw {
                self.raw_misplaced(map, "a file is sent as its bytes already");
            }
            let content_type = field(m, "content_type").cloned().or(step_type);
            return Some(Body::File { path: path.clone(), content_type });
        }
        if matches!(node.value, Value::Seq(_)) {
            self.err(
                Diagnostic::error(Code::WrongType, "`body:` is raw text or `{file: path}`")
                    .at(node.span, format!("found {}", node.type_name()))
                    .help("use `json:` to send structured data, or quote the text"),
            );
        }
        if raw {
            let text = match &node.value {
                Value::Str(s) => s.clone(),
                _ => node.to_json().to_string(),
            };
            return Some(Body::Literal { text, content_type: step_type });
        }
        Some(Body::Raw { body: node.clone(), content_type: step_type })
    }

    fn raw_misplaced(&mut self, map: &[(Key, Node)], why: &str) {
        let span = key_span(map, "raw").unwrap_or_default();
        self.err(
            Diagnostic::error(Code::MisplacedField, "`raw: true` applies to a text `body:`")
                .at(span, why)
                .help("remove `raw:`; it sends a `body:` text without rendering `{{ }}` in it"),
        );
    }

    fn multipart(&mut self, node: &Node) -> Vec<Part> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, "multipart", "a mapping of field names to values or `{file: path}`");
            return Vec::new();
        };
        let mut parts = Vec::new();
        for (k, v) in entries {
            let kind = match &v.value {
                Value::Map(_) => {
                    let Some(m) = self.map(v, "a multipart file", FILE_PART_KEYS) else {
                        continue;
                    };
                    let Some(path) = field(m, "file").cloned() else {
                        self.err(
                            Diagnostic::error(
                                Code::MissingField,
                                format!("multipart part `{}` has no `file:`", k.name),
                            )
                            .at(v.span, "expected `file: path`")
                            .help("write `{file: path/to/file}` or a plain text value"),
                        );
                        continue;
                    };
                    PartKind::File {
                        path,
                        filename: field(m, "filename").cloned(),
                        content_type: field(m, "content_type").cloned(),
                    }
                }
                Value::Seq(_) => {
                    self.wrong_type(v, &format!("multipart.{}", k.name), "text or `{file: path}`");
                    continue;
                }
                _ => PartKind::Text(v.clone()),
            };
            parts.push(Part { name: k.clone(), kind });
        }
        parts
    }

    /// A step's credentials: `auth: none`, or a shorthand (`bearer:`, `basic:`, `digest:`,
    /// `aws_sigv4:`); `auth: NAME` (a profile) is read by [`chosen_profile`](Self::chosen_profile).
    fn step_credentials(&mut self, map: &[(Key, Node)]) -> Option<AuthSpec> {
        let shorthand = self.auth_shorthand(map);
        match field(map, "auth") {
            Some(Node { value: Value::Str(s), .. }) if s == "none" => {
                if let Some((k, _)) = map
                    .iter()
                    .find(|(k, _)| matches!(k.name.as_str(), "bearer" | "basic" | "digest" | "aws_sigv4"))
                {
                    self.err(
                        Diagnostic::error(
                            Code::ConflictingAuth,
                            format!("`auth: none` and `{}:` on one step", k.name),
                        )
                        .at(k.span, "credentials")
                        .help("drop `auth: none`, or the credentials"),
                    );
                }
                Some(AuthSpec::None)
            }
            // A profile's name: checked by `validate`, which knows the profiles.
            _ => shorthand,
        }
    }

    /// `auth: NAME` on a request: the profile whose credentials it uses (`none`: no
    /// credentials). Checked against the profiles by `validate`.
    fn chosen_profile(&mut self, map: &[(Key, Node)]) -> Option<Key> {
        let n = field(map, "auth")?;
        match &n.value {
            Value::Str(s) if s == "none" => None,
            Value::Str(s) => Some(Key { name: s.clone(), span: n.span }),
            _ => {
                self.wrong_type(n, "auth", "a profile's name, or `none`");
                None
            }
        }
    }

    /// `auth:` of a collection: a list of auth steps, `{oauth2: …}`, or named profiles
    /// (`{user: {oauth2: …}, admin: [steps]}`), with the profiles they make.
    fn profiles(&mut self, node: &Node) -> (Vec<Step>, Vec<crate::model::Profile>) {
        use crate::model::Profile;
        let entries = match &node.value {
            Value::Map(m) if field(m, "oauth2").is_some() || m.is_empty() => {
                return match self.oauth2_profile(node, None) {
                    Some((steps, p)) => (steps, vec![p]),
                    None => (Vec::new(), Vec::new()),
                };
            }
            Value::Map(m) => m,
            _ => {
                let steps = self.steps(node, "auth", Role::Auth);
                let profiles = if steps.is_empty() {
                    Vec::new()
                } else {
                    vec![Profile { name: None, span: node.span, oauth2: false }]
                };
                return (steps, profiles);
            }
        };
        let (mut steps, mut profiles) = (Vec::new(), Vec::new());
        for (k, v) in entries {
            // A near miss of `oauth2:` (`oauth`, `OAuth2`, `oath`), not a profile's name
            // that merely starts like it (`oauth2_admin`, `oauth_user`).
            let lower = k.name.to_ascii_lowercase();
            if !lower.contains('_')
                && k.name != "oauth2"
                && strsim::damerau_levenshtein(&lower, "oauth2") <= 2
            {
                self.err(
                    Diagnostic::error(Code::UnknownField, format!("unknown field `{}` in `auth`", k.name))
                        .at(k.span, "not `oauth2`")
                        .help("did you mean `oauth2`? (named profiles are `auth: {NAME: {oauth2: …}}`)"),
                );
                continue;
            }
            let valid = k.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && k.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || k.name == "none" {
                self.err(
                    Diagnostic::error(Code::BadValue, format!("`{}` cannot name a profile", k.name))
                        .at(k.span, "not a name")
                        .help("a profile's name is letters, digits and `_` (its token lands in `NAME_access_token`); `none` is reserved"),
                );
                continue;
            }
            match &v.value {
                Value::Map(_) => {
                    if let Some((s, p)) = self.oauth2_profile(v, Some(k)) {
                        steps.extend(s);
                        profiles.push(p);
                    }
                }
                Value::Seq(_) => {
                    let mut own = self.steps(v, "auth", Role::Auth);
                    for s in &mut own {
                        s.profile = Some(k.clone());
                    }
                    steps.extend(own);
                    profiles.push(Profile { name: Some(k.clone()), span: k.span, oauth2: false });
                }
                _ => self.wrong_type(v, &k.name, "a profile: `{oauth2: …}` or a list of auth steps"),
            }
        }
        (steps, profiles)
    }

    fn auth_shorthand(&mut self, map: &[(Key, Node)]) -> Option<AuthSpec> {
        let given: Vec<&Key> = map
            .iter()
            .filter(|(k, _)| matches!(k.name.as_str(), "digest" | "aws_sigv4"))
            .map(|(k, _)| k)
            .collect();
        if let Some(k) = given.first() {
            if let Some((other, _)) = map.iter().find(|(o, _)| {
                matches!(o.name.as_str(), "bearer" | "basic" | "digest" | "aws_sigv4") && o.name != k.name
            }) {
                let (first, second) = if other.span.start < k.span.start { (other, *k) } else { (*k, other) };
                self.err(
                    Diagnostic::error(
                        Code::ConflictingAuth,
                        format!("a step uses one credential, found `{}` and `{}`", first.name, second.name),
                    )
                    .at(second.span, "second credential")
                    .also(first.span, "first credential")
                    .help("keep one of `bearer:`, `basic:`, `digest:` or `aws_sigv4:`"),
                );
                return None;
            }
            return self.signed_auth(map, &k.name);
        }
        let bearer = field(map, "bearer");
        let basic = field(map, "basic");
        if let (Some(_), Some(b)) = (bearer, basic) {
            let mut d =
                Diagnostic::error(Code::ConflictingAuth, "a step can use `bearer:` or `basic:`, not both")
                    .at(key_span(map, "basic").unwrap_or(b.span), "second credential")
                    .help("remove one of them");
            if let Some(first) = key_span(map, "bearer") {
                d = d.also(first, "first credential");
            }
            self.err(d);
        }
        if let Some(b) = bearer {
            return Some(match b.value {
                Value::Null => AuthSpec::None,
                Value::Str(_) => AuthSpec::Bearer(b.clone()),
                _ => {
                    self.wrong_type(b, "bearer", "a token string (or null to send none)");
                    AuthSpec::None
                }
            });
        }
        let b = basic?;
        if matches!(b.value, Value::Null) {
            return Some(AuthSpec::None);
        }
        let m = self.map(b, "basic", BASIC_KEYS)?;
        let mut get = |name: &str| match field(m, name) {
            Some(n) => Some(n.clone()),
            None => {
                self.err(
                    Diagnostic::error(Code::MissingField, format!("`basic:` needs `{name}:`"))
                        .at(b.span, format!("no `{name}` here"))
                        .help("write `basic: {username: …, password: …}`"),
                );
                None
            }
        };
        let username = get("username");
        let password = get("password");
        Some(AuthSpec::Basic { username: username?, password: password? })
    }

    /// `digest: {username, password}` or `aws_sigv4: {access_key, secret_key, region, service}`.
    fn signed_auth(&mut self, map: &[(Key, Node)], key: &str) -> Option<AuthSpec> {
        let node = field(map, key)?;
        let keys: &[&str] = if key == "digest" { DIGEST_KEYS } else { SIGV4_KEYS };
        let m = self.map(node, key, keys)?;
        let mut get = |name: &str| match field(m, name) {
            Some(n) => Some(n.clone()),
            None => {
                self.err(
                    Diagnostic::error(Code::MissingField, format!("`{key}:` needs `{name}:`"))
                        .at(node.span, format!("no `{name}` here"))
                        .help(format!(
                            "write `{key}: {{{}}}`",
                            keys.iter()
                                .filter(|k| **k != "session_token")
                                .map(|k| format!("{k}: …"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                );
                None
            }
        };
        if key == "digest" {
            let (username, password) = (get("username"), get("password"));
            return Some(AuthSpec::Digest { username: username?, password: password? });
        }
        let (access_key, secret_key, region, service) =
            (get("access_key"), get("secret_key"), get("region"), get("service"));
        Some(AuthSpec::AwsSigV4 {
            access_key: access_key?,
            secret_key: secret_key?,
            region: region?,
            service: service?,
            session_token: field(m, "session_token").cloned(),
        })
    }

    /// A positive duration of at most `max`: whole or fractional seconds, or text like `500ms`.
    /// A timeout or interval given as a bare number of more than [`MAX_BARE_SECONDS`] is
    /// refused: `timeout: 5000` is what Postman and Bruno users write for five seconds.
    fn duration(&mut self, node: &Node, what: &str, max: Duration) -> Option<Duration> {
        let bare = matches!(node.value, Value::Int(_) | Value::Float(_));
        let bare_limit = what != "expires_in";
        let parsed = match &node.value {
            Value::Int(i) if *i > 0 => Some(Duration::from_secs(i.unsigned_abs())),
            Value::Float(f) if *f > 0.0 => Duration::try_from_secs_f64(*f).ok().or(Some(Duration::MAX)),
            Value::Str(s) => jiff::SignedDuration::from_str(s)
                .ok()
                .filter(|d| d.is_positive())
                .and_then(|d| Duration::try_from(d).ok()),
            _ => None,
        };
        match parsed {
            None => self.err(
                Diagnostic::error(Code::BadDuration, format!("`{what}` is not a positive duration"))
                    .at(node.span, "expected e.g. `5s`, `500ms`, `1m` or a number of seconds"),
            ),
            Some(d) if bare && bare_limit && d > MAX_BARE_SECONDS => {
                let written = self.text.get(node.span.start..node.span.end).unwrap_or("").trim();
                let n = written.parse::<f64>().ok().filter(|n| n.is_finite() && *n < 1e12);
                let ms = n.map_or_else(|| "500ms".to_string(), |n| format!("{n}ms"));
                let s = n.map_or_else(|| "5s".to_string(), |n| format!("{}s", n / 1000.0));
                self.err(
                    Diagnostic::error(
                        Code::BadDuration,
                        format!("`{what}: {written}` would be {written} seconds"),
                    )
                    .at(node.span, "a bare number is seconds")
                    .help(format!(
                        "for milliseconds write `{ms}` (that is `{s}`); a bare number may be up to {} \
                             seconds, longer durations take a unit (`10m`)",
                        MAX_BARE_SECONDS.as_secs()
                    )),
                )
            }
            Some(d) if d > max => self.err(
                Diagnostic::error(
                    Code::BadDuration,
                    format!("`{what}` is longer than {}", long_duration(max)),
                )
                .at(node.span, "out of range")
                .help(format!("give `{what}` a value up to {}", long_duration(max))),
            ),
            Some(d) => return Some(d),
        }
        None
    }

    fn jsonpath(&mut self, text: &str, span: Span) -> Option<Compiled<JsonPath>> {
        match JsonPath::parse(text) {
            Ok(p) => Some(Compiled { compiled: p, source: text.to_string(), span }),
            Err(e) => {
                let pos = e.position();
                let q = value_offset(self.text, span);
                let at = if pos < text.len() { span.sub(pos + q, pos + q + 1) } else { span };
                let d = Diagnostic::error(Code::BadJsonpath, format!("invalid JSONPath `{text}`"))
                    .at(at, e.message().to_string())
                    .help(if let Some(name) = text.split(['.', '[']).find(|seg| seg.contains('-')) {
                        format!("RFC 9535 member names with `-` need brackets: write `['{name}']` instead of `.{name}`")
                    } else if text.starts_with('$') {
                        "JSONPath follows RFC 9535: `$.field`, `$.list[0]`, `$['odd key']`, `$..name`, `$.items[?@.id == 1]`".to_string()
                    } else {
                        format!("a JSONPath starts with `$`: did you mean `$.{}`?", text.trim_start_matches('.'))
                    });
                self.err(d);
                None
            }
        }
    }

    fn regex(&mut self, node: &Node, what: &str) -> Option<Compiled<Regex>> {
        let text = self.string(node, what)?;
        match Regex::new(&text) {
            Ok(r) => Some(Compiled { compiled: r, source: text, span: node.span }),
            Err(e) => {
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or("invalid regex").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                self.err(
                    Diagnostic::error(Code::BadRegex, format!("invalid regular expression in `{what}`"))
                        .at(node.span, last)
                        .help("regex syntax: https://docs.rs/regex/latest/regex/#syntax"),
                );
                None
            }
        }
    }

    /// `capture:` then `let:`: each `let` entry is a value derived from what the step
    /// captured (and anything else in scope), kept like a capture.
    fn step_captures(&mut self, map: &[(Key, Node)]) -> Vec<CaptureSpec> {
        let mut out = field(map, "capture").map_or_else(Vec::new, |n| self.captures(n));
        let Some(lets) = field(map, "let") else { return out };
        let Value::Map(entries) = &lets.value else {
            self.wrong_type(lets, "let", "a mapping of names to templates");
            return out;
        };
        for (name, v) in entries {
            if let Some(d) = bad_variable_name(name) {
                self.err(d);
                continue;
            }
            if let Some(c) = out.iter().find(|c| c.name.name == name.name) {
                self.err(
                    Diagnostic::error(
                        Code::DuplicateKey,
                        format!("`{}` is both captured and `let`", name.name),
                    )
                    .at(name.span, "second definition")
                    .also(c.name.span, "captured here")
                    .help("rename one, or derive the value with `then:` on the capture"),
                );
                continue;
            }
            out.push(CaptureSpec {
                name: name.clone(),
                source: CaptureSource::Let,
                secret: None,
                optional: false,
                implied: None,
                then: Some(v.clone()),
            });
        }
        out
    }

    fn captures(&mut self, node: &Node) -> Vec<CaptureSpec> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, "capture", "a mapping of variable names to sources");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, v) in entries {
            if let Some(d) = bad_variable_name(name) {
                self.err(d);
                continue;
            }
            let mut then: Option<Node> = None;
            let (source, secret, optional) = match &v.value {
                Value::Str(s) => (self.capture_shorthand(s, v.span), None, false),
                Value::Map(_) => {
                    let Some(m) = self.map(v, "a capture", CAPTURE_KEYS) else {
                        continue;
                    };
                    let secret = field(m, "secret").and_then(|s| match s.value {
                        Value::Bool(b) => Some(b),
                        _ => {
                            self.wrong_type(s, "secret", "true or false");
                            None
                        }
                    });
                    let optional = self.flag(m, "optional");
                    then = field(m, "then").cloned();
                    let sources: Vec<&(Key, Node)> = m
                        .iter()
                        .filter(|(k, _)| !matches!(k.name.as_str(), "secret" | "optional" | "then"))
                        .collect();
                    let header_regex =
                        sources.len() == 2 && field(m, "header").is_some() && field(m, "regex").is_some();
                    if header_regex {
                        let header = field(m, "header").and_then(|h| self.string(h, "header"));
                        let regex = field(m, "regex").and_then(|r| self.regex(r, "regex"));
                        let (Some(header), Some(regex)) = (header, regex) else { continue };
                        out.push(CaptureSpec {
                            name: name.clone(),
                            source: CaptureSource::HeaderRegex(header, regex),
                            secret,
                            optional,
                            implied: None,
                            then: then.clone(),
                        });
                        continue;
                    }
                    if sources.len() != 1 {
                        self.err(
                            Diagnostic::error(
                                Code::BadCapture,
                                format!("capture `{}` needs exactly one source", name.name),
                            )
                            .at(v.span, format!("found {}", sources.len()))
                            .help(
                                "one of `jsonpath:`, `header:`, `status: true`, `body: true`, `regex:`, \
                                 `cookie:`, `url: true`, `duration: true` (or `header:` with `regex:`)",
                            ),
                        );
                        continue;
                    }
                    let (k, sv) = sources[0];
                    let source = match k.name.as_str() {
                        "jsonpath" => self
                            .string(sv, "jsonpath")
                            .and_then(|t| self.jsonpath(&t, sv.span))
                            .map(CaptureSource::JsonPath),
                        "header" => self.string(sv, "header").map(CaptureSource::Header),
                        "status" => Some(CaptureSource::Status),
                        "body" => Some(CaptureSource::Body),
                        "cookie" => self.string(sv, "cookie").map(CaptureSource::Cookie),
                        "url" => Some(CaptureSource::Url),
                        "duration" => Some(CaptureSource::Duration),
                        _ => self.regex(sv, "regex").map(CaptureSource::Regex),
                    };
                    (source, secret, optional)
                }
                _ => {
                    self.wrong_type(v, &format!("capture.{}", name.name), "a JSONPath string or a mapping");
                    continue;
                }
            };
            if let Some(source) = source {
                out.push(CaptureSpec { name: name.clone(), source, secret, optional, implied: None, then });
            }
        }
        out
    }

    fn capture_shorthand(&mut self, s: &str, span: Span) -> Option<CaptureSource> {
        match s {
            "status" => Some(CaptureSource::Status),
            "body" => Some(CaptureSource::Body),
            _ if s.starts_with('$') => self.jsonpath(s, span).map(CaptureSource::JsonPath),
            _ => {
                self.err(
                    Diagnostic::error(Code::BadCapture, format!("`{s}` is not a capture source"))
                        .at(span, "expected a JSONPath, `status` or `body`")
                        .help(if s.contains('.') || s.contains('[') {
                            format!(
                                "JSONPaths start with `$`: did you mean `$.{}`?",
                                s.trim_start_matches('.')
                            )
                        } else {
                            "write `$.path`, `status`, `body`, `{header: Name}` or `{regex: '…'}`".to_string()
                        }),
                );
                None
            }
        }
    }

    fn expect(&mut self, node: &Node) -> Expect {
        let Some(map) = self.map(node, "expect", EXPECT_KEYS) else {
            return Expect::default();
        };
        let status = field(map, "status").and_then(|n| self.status(n));
        let headers = match field(map, "headers") {
            Some(n) => match &n.value {
                Value::Map(entries) => {
                    entries.iter().filter_map(|(k, v)| self.matcher(v).map(|m| (k.clone(), m))).collect()
                }
                _ => {
                    self.wrong_type(n, "expect.headers", "a mapping of header names to values");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let json = match field(map, "json") {
            Some(n) => match &n.value {
                Value::Map(entries) => entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let path = self.jsonpath(&k.name, k.span);
                        let m = self.matcher(v);
                        Some((path?, m?))
                    })
                    .collect(),
                _ => {
                    self.wrong_type(n, "expect.json", "a mapping of JSONPaths to values or matchers");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let body_contains = match field(map, "body_contains") {
            Some(n) => match &n.value {
                Value::Seq(items) => items.clone(),
                Value::Map(_) => {
                    self.wrong_type(n, "body_contains", "text or a list of texts");
                    Vec::new()
                }
                _ => vec![n.clone()],
            },
            None => Vec::new(),
        };
        let cookies = match field(map, "cookies") {
            Some(n) => match &n.value {
                Value::Map(entries) => {
                    entries.iter().filter_map(|(k, v)| self.matcher(v).map(|m| (k.clone(), m))).collect()
                }
                _ => {
                    self.wrong_type(n, "expect.cookies", "a mapping of cookie names to values or matchers");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let duration = field(map, "duration").map_or_else(Vec::new, |n| self.duration_bounds(n));
        let json_schema = field(map, "json_schema").and_then(|n| self.local_file(n, "json_schema"));
        let body = field(map, "body").and_then(|n| match &n.value {
            Value::Map(entries) if entries.iter().any(|(k, _)| k.name == "file") => {
                let m = self.map(n, "expect.body", &["file"])?;
                field(m, "file").and_then(|f| self.local_file(f, "expect.body.file")).map(BodyExpect::File)
            }
            _ => self.matcher(n).map(BodyExpect::Matcher),
        });
        Expect {
            status,
            headers,
            json,
            body_contains,
            content_type: field(map, "content_type").cloned(),
            cookies,
            duration,
            json_schema,
            body,
        }
    }

    /// A path to a file an expectation reads (loaded by validation).
    fn local_file(&mut self, node: &Node, what: &str) -> Option<LocalFile> {
        let path = self.string(node, what)?;
        Some(LocalFile { path, span: node.span, loaded: None })
    }

    /// `duration: {lt: 500ms}`: bounds on the response time.
    fn duration_bounds(&mut self, node: &Node) -> Vec<(CompareOp, Duration, Span)> {
        let Value::Map(_) = node.value else {
            self.wrong_type(node, "expect.duration", "bounds such as `{lt: 500ms}`");
            return Vec::new();
        };
        let Some(map) = self.map(node, "expect.duration", DURATION_KEYS) else { return Vec::new() };
        let mut out = Vec::new();
        for (k, v) in map {
            let op = match k.name.as_str() {
                "gt" => CompareOp::Gt,
                "gte" => CompareOp::Gte,
                "lt" => CompareOp::Lt,
                "lte" => CompareOp::Lte,
                _ => continue,
            };
            if let Some(d) = self.duration(v, &format!("duration.{}", k.name), MAX_TIMEOUT) {
                out.push((op, d, v.span));
            }
        }
        out
    }

    fn status(&mut self, node: &Node) -> Option<StatusExpect> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut allowed = Vec::new();
        for n in items {
            let pat = match &n.value {
                Value::Int(c) if (100..=599).contains(c) => Some(StatusPattern::Code(*c as u16)),
                Value::Str(s) => {
                    let b = s.as_bytes();
                    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && s[1..].eq_ignore_ascii_case("xx") {
                        Some(StatusPattern::Class(u16::from(b[0] - b'0')))
                    } else {
                        s.parse::<u16>().ok().filter(|c| (100..=599).contains(c)).map(StatusPattern::Code)
                    }
                }
                _ => None,
            };
            match pat {
                Some(p) => allowed.push(p),
                None => self.err(
                    Diagnostic::error(Code::BadStatus, "not a valid status expectation")
                        .at(n.span, "expected a code 100–599 or a class like \"2xx\"")
                        .help("examples: `status: 200`, `status: [200, 201]`, `status: 2xx`"),
                ),
            }
        }
        (!allowed.is_empty()).then_some(StatusExpect { allowed, span: node.span })
    }

    fn matcher(&mut self, node: &Node) -> Option<Matcher> {
        // A mapping is always a matcher: an unknown key is a mistake (`regex:` for
        // `matches:`), never silently compared as a literal object; that needs `equals:`.
        let ops = match &node.value {
            Value::Map(entries) if !entries.is_empty() => entries,
            _ => {
                return Some(Matcher { checks: vec![Check::Equals(node.clone())], span: node.span });
            }
        };
        let mut checks = Vec::new();
        for (k, v) in ops {
            let check = match k.name.as_str() {
                "equals" => Check::Equals(v.clone()),
                "exists" => match v.value {
                    Value::Bool(b) => Check::Exists(b),
                    _ => {
                        self.wrong_type(v, "exists", "true or false");
                        continue;
                    }
                },
                "matches" => match self.regex(v, "matches") {
                    Some(r) => Check::Matches(r),
                    None => continue,
                },
                "len" => match &v.value {
                    Value::Map(_) => match self.matcher(v) {
                        Some(m) => Check::LenMatches(Box::new(m)),
                        None => continue,
                    },
                    _ => Check::Len(v.clone()),
                },
                "each" => match self.matcher(v) {
                    Some(m) => Check::Each(Box::new(m)),
                    None => continue,
                },
                "gt" => Check::Compare(CompareOp::Gt, v.clone()),
                "gte" => Check::Compare(CompareOp::Gte, v.clone()),
                "lt" => Check::Compare(CompareOp::Lt, v.clone()),
                "lte" => Check::Compare(CompareOp::Lte, v.clone()),
                "contains" => Check::Contains(v.clone()),
                "type" => {
                    let Some(t) = self.string(v, "type") else { continue };
                    match JsonType::from_name(&t) {
                        Some(jt) => Check::Type(jt, v.span),
                        None => {
                            self.err(
                                Diagnostic::error(Code::BadTypeName, format!("`{t}` is not a JSON type"))
                                    .at(v.span, "unknown type")
                                    .help(suggest(&t, &JsonType::NAMES)),
                            );
                            continue;
                        }
                    }
                }
                other => {
                    self.err(
                        Diagnostic::error(Code::UnknownMatcher, format!("unknown matcher `{other}`"))
                            .at(k.span, "not a matcher")
                            .help(format!(
                                "{} (to compare with an object literally, write `equals: {{…}}`)",
                                matcher_hint(other)
                            )),
                    );
                    continue;
                }
            };
            checks.push(check);
        }
        Some(Matcher { checks, span: node.span })
    }
}

/// A did-you-mean for a key that is not a matcher, knowing the names other tools use.
fn matcher_hint(other: &str) -> String {
    let alias = match other.to_ascii_lowercase().as_str() {
        "regex" | "regexp" | "re" | "pattern" | "match" => "matches",
        "includes" | "include" | "has" | "contain" => "contains",
        "eq" | "equal" | "is" | "value" => "equals",
        "length" | "size" | "count" => "len",
        "ge" | "min" => "gte",
        "le" | "max" => "lte",
        "exist" | "present" | "defined" => "exists",
        "not" | "ne" | "not_equals" => {
            return "there is no `not`: `exists: false` checks that a value is absent".to_string();
        }
        _ => return suggest(other, MATCHER_KEYS),
    };
    format!("did you mean `{alias}`?")
}

/// The longest pause between polling attempts.
const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(300);

/// The longest timeout or interval written as a bare number of seconds.
const MAX_BARE_SECONDS: Duration = Duration::from_secs(300);

/// A limit in words: `5 minutes`, `1 day`, `10 years`.
fn long_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s % (365 * 86_400) == 0 => (s / (365 * 86_400), "year"),
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// How to write a field whose shape was wrong.
fn shape_hint(what: &str) -> Option<String> {
    let last = what.rsplit('.').next().unwrap_or(what);
    Some(match last {
        "headers" | "query" | "form" | "vars" => format!("write `{last}: {{name: value, other: value}}`"),
        "requests" | "auth" => {
            format!("write `{last}:` followed by a list of steps (`- name: …` with `url: …`)")
        }
        "url" | "name" | "method" => format!("write `{last}:` as text; quote it if it starts with `{{`"),
        "capture" => "write `capture: {name: $.json.path}`".to_string(),
        "expect" => "write `expect: {status: 200, json: {$.path: value}}`".to_string(),
        _ => return None,
    })
}

/// Whether `s` is a valid variable name.
/// A variable or capture name that a template could not read, as a problem saying why
/// and what to write instead (`client-id` reads as `client` minus `id`).
pub fn bad_variable_name(key: &Key) -> Option<Diagnostic> {
    let name = key.name.as_str();
    if is_identifier(name) {
        return None;
    }
    let fixed: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let fixed = if fixed.starts_with(|c: char| c.is_ascii_digit()) { format!("_{fixed}") } else { fixed };
    let why = match name.find(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        Some(i) if name[i..].starts_with('-') => format!(
            "in a template `-` is minus: `{{{{ {name} }}}}` reads `{}` minus `{}`",
            &name[..i],
            &name[i + 1..]
        ),
        _ => "a template reads names of letters, digits and `_`, starting with a letter or `_`".to_string(),
    };
    Some(
        Diagnostic::error(Code::BadVariableName, format!("`{name}` cannot be used as a variable name"))
            .at(key.span, "not an identifier")
            .help(format!("name it `{fixed}`; {why}")),
    )
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Offset of a scalar's value inside its span: 1 when the scalar is quoted.
pub fn value_offset(text: &str, span: Span) -> usize {
    match text.as_bytes().get(span.start) {
        Some(b'"' | b'\'') => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn parse_str(text: &str) -> Result<Collection, Vec<Diagnostic>> {
        let mut map = SourceMap::default();
        let id = map.add("t.yaml", text.to_string());
        let file = map.get(id).expect("file");
        let node = crate::yaml::parse(file, id).map_err(|d| vec![d])?;
        parse_collection(&node, id, &file.text, "t")
    }

    #[test]
    fn unknown_step_field_gets_a_did_you_mean() {
        let errs = parse_str("requests:\n  - url: http://x\n    methd: GET\n").expect_err("invalid");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, "unknown-field");
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `method`?"));
    }

    #[test]
    fn a_near_miss_of_oauth2_is_flagged_but_a_profile_named_like_it_is_not() {
        let profile = "{oauth2: {token_url: http://x/t, client_id: a, client_secret: b}}";
        for typo in ["oauth", "oath2", "OAuth2", "oauth3"] {
            let errs = parse_str(&format!("auth:\n  {typo}: {profile}\nrequests: []\n")).expect_err(typo);
            assert_eq!(errs[0].code, "unknown-field", "{typo}");
        }
        for name in ["oauth2_admin", "oauth_user", "profile_1", "admin"] {
            let c = parse_str(&format!("auth:\n  {name}: {profile}\nrequests: []\n"))
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(c.profiles[0].label(), Some(name));
        }
    }

    #[test]
    fn every_problem_is_collected_not_just_the_first() {
        let errs =
            parse_str("requests:\n  - method: GTE\n    url: x\n  - name: b\n    expect: {status: 700}\n")
                .expect_err("invalid");
        let codes: Vec<&str> = errs.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["bad-method", "missing-field"]);
    }

    #[test]
    fn status_accepts_codes_lists_and_classes() {
        let c = parse_str("requests:\n  - url: x\n    expect: {status: [200, '2xx', 404]}\n").expect("valid");
        let s = c.requests[0].expect.status.as_ref().expect("status");
        assert_eq!(s.allowed, [StatusPattern::Code(200), StatusPattern::Class(2), StatusPattern::Code(404)]);
        assert!(s.allowed[1].allows(204) && !s.allowed[1].allows(301));
    }

    #[test]
    fn jsonpath_with_a_hyphen_suggests_brackets() {
        let errs = parse_str("requests:\n  - url: x\n    capture: {ct: $.headers.content-type}\n")
            .expect_err("invalid");
        assert!(errs[0].help.as_deref().unwrap_or("").contains("['content-type']"), "{:?}", errs[0].help);
    }

    #[test]
    fn steps_without_names_are_named_after_method_and_url() {
        let c = parse_str("requests:\n  - url: /a\n  - method: post\n    url: /b\n").expect("valid");
        assert_eq!(c.requests[0].name, "GET /a");
        assert_eq!(c.requests[1].name, "POST /b");
    }
}

#[cfg(test)]
mod limits {
    use super::*;
    use crate::testing::Fixture;

    fn duration_problem(field: &str) -> String {
        let mut map = crate::source::SourceMap::default();
        let text = format!("auth:\n  - url: x\n{field}\nrequests: []\n");
        let id = map.add("t.yaml", text.clone());
        let node = crate::yaml::parse(map.get(id).expect("file"), id).expect("yaml");
        let errs = parse_collection(&node, id, &text, "t").expect_err("out of range");
        assert_eq!(errs[0].code, "bad-duration", "{field}");
        errs[0].message.clone()
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        assert_eq!(duration_problem("    timeout: 1e20"), "`timeout: 1e20` would be 1e20 seconds");
        assert_eq!(duration_problem("    timeout: 90000"), "`timeout: 90000` would be 90000 seconds");
        assert_eq!(duration_problem("    timeout: 25h"), "`timeout` is longer than 1 day");
        assert_eq!(duration_problem("    expires_in: 1e300"), "`expires_in` is longer than 10 years");
        assert_eq!(
            duration_problem("    expires_in: 9223372036854775807"),
            "`expires_in` is longer than 10 years"
        );
        assert_eq!(
            duration_problem("    retry: {interval: 1e300}"),
            "`retry.interval: 1e300` would be 1e300 seconds"
        );
        assert_eq!(
            duration_problem("    retry: {interval: 6m}"),
            "`retry.interval` is longer than 5 minutes"
        );
        assert_eq!(duration_problem("    timeout: -1"), "`timeout` is not a positive duration");
    }

    #[test]
    fn durations_within_range_parse_from_numbers_and_text() {
        let f = Fixture::new(
            "auth:\n  - url: x\n    timeout: 1.5\n    expires_in: 315360000\nrequests:\n  - url: y\n    timeout: 250ms\n",
        );
        assert_eq!(f.collection.auth[0].timeout, Some(Duration::from_millis(1500)));
        assert_eq!(f.collection.requests[0].timeout, Some(Duration::from_millis(250)));
        assert!(
            matches!(f.collection.auth[0].lifecycle.expires_in, Some(Expiry::Fixed(d)) if d == MAX_LIFETIME)
        );
        assert_eq!(long_duration(Duration::from_secs(90)), "90 seconds");
    }
}
