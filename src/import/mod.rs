//! `baton import KIND SOURCE… [-o DIR] [--strict]`: collections from other tools as baton
//! collections, with a translation report that says, per request, what was translated,
//! what was changed and what was left out (kept as a comment beside the step).
//!
//! Each source format is read into [`Draft`]s (this module's plain model of a collection),
//! written as YAML by [`write_collection`], and then checked like any collection: the
//! import ends by validating what it wrote.

pub mod bruno;
pub mod curl;
pub mod hurl;
pub mod openapi;
pub mod opencollection;
pub mod postman;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value as Json;

/// A collection being imported.
#[derive(Debug, Default, Clone)]
pub struct Draft {
    /// `name:`.
    pub name: String,
    /// `description:`.
    pub description: Option<String>,
    /// `vars:` (values are baton templates).
    pub vars: Vec<(String, String)>,
    /// Names whose values are secrets (`secrets:`), besides secret-looking names.
    pub secrets: Vec<String>,
    /// Requests in order.
    pub requests: Vec<DraftStep>,
    /// Entries of the source that became no request: (where, why).
    pub skipped: Vec<(String, String)>,
}

/// One request being imported.
#[derive(Debug, Default, Clone)]
pub struct DraftStep {
    /// `name:`.
    pub name: String,
    /// Where it came from (`file:line`, or the folder path in a JSON collection).
    pub origin: String,
    /// `description:`.
    pub description: Option<String>,
    /// Upper-case method.
    pub method: String,
    /// URL template.
    pub url: String,
    /// Query parameters (templates).
    pub query: Vec<(String, String)>,
    /// Headers (templates).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Option<DraftBody>,
    /// Credentials.
    pub auth: Option<DraftAuth>,
    /// Captures: name → source (a JSONPath, or a mapping written as YAML flow text).
    pub captures: Vec<(String, String)>,
    /// Expected status codes.
    pub status: Vec<u16>,
    /// `expect.json`: JSONPath → expected value.
    pub json: Vec<(String, Json)>,
    /// Headers that must exist.
    pub headers_exist: Vec<String>,
    /// `expect.headers`: header → value or matchers.
    pub header_checks: Vec<(String, Json)>,
    /// `expect.body_contains`.
    pub body_contains: Vec<String>,
    /// `expect.duration`: bound → milliseconds (`lt`, `lte`, `gt`, `gte`).
    pub duration: Vec<(String, u64)>,
    /// `tags:` (folders).
    pub tags: Vec<String>,
    /// What was not translated, kept as comments beside the step.
    pub untranslated: Vec<String>,
    /// What was changed on the way (renamed variables, dynamic values).
    pub changes: Vec<String>,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum DraftBody {
    /// JSON.
    Json(Json),
    /// Text with a content type.
    Raw(String, Option<String>),
    /// urlencoded fields.
    Form(Vec<(String, String)>),
    /// Multipart fields: name, text value or `@path` for a file.
    Multipart(Vec<(String, String, bool)>),
    /// A file's bytes.
    File(String),
}

/// Credentials.
#[derive(Debug, Clone)]
pub enum DraftAuth {
    /// `bearer:`.
    Bearer(String),
    /// `basic:`.
    Basic(String, String),
    /// `bearer: null`: none, overriding an inherited one.
    None,
    /// `digest: {username, password}`.
    Digest(String, String),
    /// An OAuth2 profile (its `oauth2:` keys, in order): the request sends its token.
    OAuth2(Vec<(String, String)>),
}

/// The OAuth2 profile keys an importer asks a source's OAuth2 auth for.
pub const OAUTH2_KEYS: &[&str] = &[
    "token_url",
    "authorization_url",
    "client_id",
    "client_secret",
    "scope",
    "audience",
    "username",
    "password",
    "redirect_uri",
    "device_url",
];

/// The OAuth2 profile for a source's OAuth2 auth: `grant` as the source names it, `get`
/// the source's value (a baton template) for each of baton's profile keys. `None` (and a
/// note) for a grant baton has no profile for.
pub fn oauth2_profile(
    grant: &str,
    get: &dyn Fn(&str) -> Option<String>,
    s: &mut DraftStep,
) -> Option<DraftAuth> {
    let grant = match grant.to_ascii_lowercase().replace('-', "_").as_str() {
        "client_credentials" => "client_credentials",
        "password" | "password_credentials" => "password",
        "authorization_code" | "authorization_code_with_pkce" | "" => "authorization_code",
        "device_code" => "device_code",
        other => {
            s.untranslated.push(format!("OAuth2 `{other}` grant: baton has no profile for it"));
            return None;
        }
    };
    let mut fields = vec![("grant".to_string(), grant.to_string())];
    let mut keys = vec!["token_url", "client_id", "client_secret", "scope", "audience"];
    match grant {
        "password" => keys.extend(["username", "password"]),
        "authorization_code" => keys.extend(["authorization_url", "redirect_uri"]),
        "device_code" => keys.push("device_url"),
        _ => {}
    }
    for key in keys {
        let Some(v) = get(key).filter(|v| !v.trim().is_empty()) else { continue };
        // baton listens for the code on loopback only; another callback is the source
        // tool's own page.
        if key == "redirect_uri" && !v.starts_with("http://127.0.0.1") && !v.starts_with("http://localhost") {
            s.changes
                .push(format!("the OAuth2 callback `{v}` is not a loopback URL: baton listens on 127.0.0.1"));
            continue;
        }
        fields.push((key.to_string(), v));
    }
    let basic = get("client_auth").as_deref() == Some("basic");
    if basic {
        fields.push(("client_auth".into(), "basic".into()));
    }
    if !fields.iter().any(|(k, _)| k == "token_url") {
        // Only a token pasted in: the caller sends it as it is, if there is one.
        return None;
    }
    // What baton's profile needs for this grant (as `validate` asks): a profile without
    // it would not load, so the auth is left for the user to finish.
    let mut needed = vec!["client_id"];
    match grant {
        "password" => needed.extend(["username", "password"]),
        "authorization_code" => needed.push("authorization_url"),
        "device_code" => needed.push("device_url"),
        _ => {}
    }
    if basic {
        needed.push("client_secret");
    }
    let missing: Vec<&str> = needed.into_iter().filter(|k| !fields.iter().any(|(f, _)| f == k)).collect();
    if !missing.is_empty() {
        s.untranslated.push(format!(
            "OAuth2 ({grant}) without {}: baton's profile needs {}",
            missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
        return None;
    }
    s.changes.push(format!("OAuth2 ({grant}) became a profile: baton fetches, renews and masks the token"));
    Some(DraftAuth::OAuth2(fields))
}

/// How a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fidelity {
    /// Everything it said is in the step.
    Translated,
    /// Everything is there, with changes (renamed variables, dynamic values).
    Changed,
    /// Something was left out (kept as a comment).
    Partial,
}

impl DraftStep {
    /// How faithfully this request was translated.
    pub fn fidelity(&self) -> Fidelity {
        if !self.untranslated.is_empty() {
            Fidelity::Partial
        } else if !self.changes.is_empty() {
            Fidelity::Changed
        } else {
            Fidelity::Translated
        }
    }
}

/// Converts another tool's `{{var}}` template text into baton's: names that are not
/// identifiers are renamed (through `renames`, which records each), dynamic variables
/// (`{{$guid}}`, `{{$randomInt}}`, `{{$timestamp}}`…) become baton functions.
pub fn template(text: &str, renames: &mut Renames, changes: &mut Vec<String>) -> String {
    static VAR: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\{\{\s*([^{}]+?)\s*\}\}").expect("var regex"));
    // Text around the variables goes out as written: a `{{`, `{%` or `{#` in it that is
    // not a variable (a nested `{{a_{{b}}}}`, a template language of the API) is escaped.
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut escaped = false;
    for m in VAR.find_iter(text) {
        escaped |= escape_literal(&text[last..m.start()], &mut out);
        out.push_str(&variable(m.as_str(), renames, changes));
        last = m.end();
    }
    escaped |= escape_literal(&text[last..], &mut out);
    if escaped {
        changes.push("a `{{`, `{%` or `{#` that is not a variable is sent as written".into());
    }
    out
}

/// Appends `literal` with template delimiters escaped; true when there were some.
fn escape_literal(literal: &str, out: &mut String) -> bool {
    let mut escaped = false;
    let mut rest = literal;
    while let Some(i) = ["{{", "{%", "{#"].iter().filter_map(|d| rest.find(d)).min() {
        out.push_str(&rest[..i]);
        let _ = write!(out, "{{{{ '{}' }}}}", &rest[i..i + 2]);
        rest = &rest[i + 2..];
        escaped = true;
    }
    out.push_str(rest);
    escaped
}

/// One `{{ name }}` of a source: a renamed variable, or a dynamic one's function.
fn variable(found: &str, renames: &mut Renames, changes: &mut Vec<String>) -> String {
    static VAR: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\{\{\s*([^{}]+?)\s*\}\}").expect("var regex"));
    let Some(c) = VAR.captures(found) else { return found.to_string() };
    {
        let name = c[1].trim();
        if let Some(dynamic) = name.strip_prefix('$') {
            let (f, known) = dynamic_function(dynamic);
            changes.push(if known {
                format!("`{{{{${dynamic}}}}}` became `{{{{ {f} }}}}`")
            } else {
                format!("`{{{{${dynamic}}}}}` has no baton equivalent; it became `{{{{ {f} }}}}`")
            });
            return format!("{{{{ {f} }}}}");
        }
        let new = renames.name(name);
        if new != name {
            changes.push(format!("variable `{name}` is `{new}`"));
        }
        format!("{{{{ {new} }}}}")
    }
}

/// baton's function for a Postman dynamic variable, and whether it is a real equivalent.
fn dynamic_function(name: &str) -> (String, bool) {
    let f = match name {
        "guid" | "randomUUID" => "uuid()",
        "timestamp" => "now(format='unix')",
        "isoTimestamp" => "now()",
        "randomInt" => "random_int(0, 1000)",
        "randomEmail" | "randomExampleEmail" => "fake('email')",
        "randomFirstName" => "fake('first_name')",
        "randomLastName" => "fake('last_name')",
        "randomFullName" | "randomUserName" => "fake('name')",
        "randomPhoneNumber" => "fake('phone')",
        "randomIP" => "fake('ipv4')",
        "randomWord" | "randomNoun" | "randomAdjective" => "fake('word')",
        "randomCity" => "fake('city')",
        "randomCountry" => "fake('country')",
        "randomCompanyName" => "fake('company')",
        "randomUrl" => "fake('url')",
        "randomPassword" => "fake('password')",
        "randomStreetAddress" => "fake('street')",
        "randomAlphaNumeric" => "random_string(1)",
        "randomBoolean" => "random_int(0, 1) == 1",
        _ => return ("random_string(8)".to_string(), false),
    };
    (f.to_string(), true)
}

/// Variable renames of one import: another tool's names (`base-url`, `api.key`) to baton
/// identifiers, refusing to merge two distinct names into one.
#[derive(Debug, Default, Clone)]
pub struct Renames {
    map: BTreeMap<String, String>,
    /// Two names that would have become one: an error of the import.
    pub clashes: Vec<(String, String, String)>,
}

impl Renames {
    /// The baton name for `name` (itself when it is an identifier).
    pub fn name(&mut self, name: &str) -> String {
        if let Some(n) = self.map.get(name) {
            return n.clone();
        }
        let mut new: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        if new.is_empty() || new.starts_with(|c: char| c.is_ascii_digit()) {
            new.insert(0, '_');
        }
        // A variable named like a function (`env`, `now`) would hide it from templates.
        const BUILTINS: &[&str] =
            &["range", "dict", "namespace", "lipsum", "cycler", "joiner", "value", "loop"];
        if crate::template::FUNCTIONS.contains(&new.as_str()) || BUILTINS.contains(&new.as_str()) {
            new.push_str("_var");
        }
        if let Some((other, _)) = self.map.iter().find(|(k, v)| **v == new && k.as_str() != name) {
            self.clashes.push((other.clone(), name.to_string(), new.clone()));
        }
        self.map.insert(name.to_string(), new.clone());
        new
    }

    /// `(from, to)` for every name that changed.
    pub fn changed(&self) -> Vec<(&str, &str)> {
        self.map.iter().filter(|(k, v)| k != v).map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

/// A YAML scalar: plain when that reads back as the same string, else double-quoted
/// (JSON's escapes are YAML's).
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.trim() == s
        && !s.starts_with([
            '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
            '$',
        ])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\n')
        && !s.ends_with(':')
        && !s.contains("{{")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err()
        && s.chars().all(|c| !c.is_control());
    if plain { s.to_string() } else { serde_json::to_string(s).unwrap_or_default() }
}

/// Checks of one JSONPath (or header) written once: several become one mapping of
/// matchers (a plain value joins as `equals`).
fn merged(checks: &[(String, Json)]) -> Vec<(String, Json)> {
    let mut out: Vec<(String, Json)> = Vec::new();
    for (path, v) in checks {
        let as_matchers = |v: &Json| match v {
            Json::Object(m) => m.clone(),
            other => std::iter::once(("equals".to_string(), other.clone())).collect(),
        };
        match out.iter_mut().find(|(p, _)| p == path) {
            Some((_, existing)) => {
                let mut m = as_matchers(existing);
                m.extend(as_matchers(v));
                *existing = Json::Object(m);
            }
            None => out.push((path.clone(), v.clone())),
        }
    }
    out
}

/// Makes step names unique in a draft: a repeated name gets ` (2)`, ` (3)`…
pub fn unique_names(d: &mut Draft) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for s in &mut d.requests {
        let n = seen.entry(s.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            s.name = format!("{} ({n})", s.name);
        }
    }
}

/// A JavaScript property path (`.data.items[0].id`, `["x-y"]`) as a JSONPath.
pub fn js_path(js: &str) -> Option<String> {
    let mut out = String::from("$");
    let mut rest = js.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                return None;
            }
            out.push('.');
            out.push_str(name);
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit()) {
                out.push_str(&format!("[{inner}]"));
            } else {
                out.push_str(&format!("['{}']", inner.trim_matches(['"', '\''])));
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

/// `3 POST /items`: a step name from its position, method and path.
pub fn short_name(n: usize, method: &str, url: &str) -> String {
    // `{{ base_url }}/x` and `https://host/x` both read as `/x`.
    let url = url.strip_prefix("{{").and_then(|r| r.split_once("}}")).map_or(url, |(_, rest)| rest);
    let path = match url.split_once("://") {
        Some((_, r)) => r.find('/').map_or("/", |i| &r[i..]),
        None if url.is_empty() => "/",
        None => url,
    };
    let path = path.split('?').next().unwrap_or(path);
    format!("{n} {method} {path}")
}

/// `Authorization: Bearer …` written as a header is baton's `bearer:`.
pub fn bearer_from_header(s: &mut DraftStep) {
    if s.auth.is_some() {
        return;
    }
    if let Some(pos) = s
        .headers
        .iter()
        .position(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.starts_with("Bearer "))
    {
        let (_, v) = s.headers.remove(pos);
        s.auth = Some(DraftAuth::Bearer(v["Bearer ".len()..].to_string()));
    }
}

/// A JSON value as YAML flow text (JSON is YAML).
fn flow(v: &Json) -> String {
    match v {
        Json::String(s) => scalar(s),
        other => other.to_string(),
    }
}

fn pairs(out: &mut String, indent: &str, key: &str, items: &[(String, String)]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    // A name given several times (a repeated header or query parameter) is written once,
    // with the list of its values: a YAML mapping cannot repeat a key.
    let same = |a: &str, b: &str| if key == "headers" { a.eq_ignore_ascii_case(b) } else { a == b };
    for (i, (k, _)) in items.iter().enumerate() {
        if items[..i].iter().any(|(e, _)| same(e, k)) {
            continue;
        }
        let values: Vec<&String> = items.iter().filter(|(o, _)| same(o, k)).map(|(_, v)| v).collect();
        match values.as_slice() {
            [one] => {
                let _ = writeln!(out, "{indent}  {}: {}", scalar(k), scalar(one));
            }
            many => {
                let list: Vec<String> = many.iter().map(|v| scalar(v)).collect();
                let _ = writeln!(out, "{indent}  {}: [{}]", scalar(k), list.join(", "));
            }
        }
    }
}

/// The YAML text of a draft, with a header saying where it came from.
pub fn write_collection(d: &Draft, source: &str) -> String {
    let mut out = format!(
        "# Imported by `baton import` from {source}.\n# See the translation report for what changed or was left out.\n"
    );
    let _ = writeln!(out, "name: {}", scalar(&d.name));
    if let Some(desc) = &d.description {
        let _ = writeln!(out, "description: {}", scalar(desc));
    }
    pairs(&mut out, "", "vars", &d.vars);
    if !d.secrets.is_empty() {
        let _ = writeln!(
            out,
            "secrets: [{}]",
            d.secrets.iter().map(|s| scalar(s)).collect::<Vec<_>>().join(", ")
        );
    }
    // The distinct OAuth2 profiles, named in the order the requests use them.
    let mut profiles: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for s in &d.requests {
        if let Some(DraftAuth::OAuth2(fields)) = &s.auth
            && !profiles.iter().any(|(_, f)| f == fields)
        {
            profiles.push((format!("profile_{}", profiles.len() + 1), fields.clone()));
        }
    }
    // One profile is the collection's (requests send its token unless they say
    // `auth: none`); several are named, and each request names its own.
    if let [(_, fields)] = profiles.as_slice() {
        out.push_str("auth:\n  oauth2:\n");
        for (k, v) in fields {
            let _ = writeln!(out, "    {k}: {}", scalar(v));
        }
    } else if !profiles.is_empty() {
        out.push_str("auth:\n");
        for (name, fields) in &profiles {
            let _ = writeln!(out, "  {name}:\n    oauth2:");
            for (k, v) in fields {
                let _ = writeln!(out, "      {k}: {}", scalar(v));
            }
        }
    }
    out.push_str("requests:\n");
    if d.requests.is_empty() {
        out.push_str("  []\n");
    }
    for s in &d.requests {
        out.push('\n');
        for line in &s.untranslated {
            for l in line.lines() {
                let _ = writeln!(out, "  # not translated: {l}");
            }
        }
        let _ = writeln!(out, "  - name: {}", scalar(&s.name));
        if let Some(desc) = &s.description {
            let _ = writeln!(out, "    description: {}", scalar(desc));
        }
        if !s.tags.is_empty() {
            let _ = writeln!(
                out,
                "    tags: [{}]",
                s.tags.iter().map(|t| scalar(t)).collect::<Vec<_>>().join(", ")
            );
        }
        if s.method != "GET" {
            let _ = writeln!(out, "    method: {}", s.method);
        }
        let _ = writeln!(out, "    url: {}", scalar(&s.url));
        pairs(&mut out, "    ", "query", &s.query);
        pairs(&mut out, "    ", "headers", &s.headers);
        match &s.auth {
            Some(DraftAuth::Bearer(t)) => {
                let _ = writeln!(out, "    bearer: {}", scalar(t));
            }
            Some(DraftAuth::Basic(u, p)) => {
                let _ = writeln!(out, "    basic: {{username: {}, password: {}}}", scalar(u), scalar(p));
            }
            Some(DraftAuth::None) => out.push_str("    bearer: null\n"),
            Some(DraftAuth::Digest(u, p)) => {
                let _ = writeln!(out, "    digest: {{username: {}, password: {}}}", scalar(u), scalar(p));
            }
            Some(DraftAuth::OAuth2(fields)) if profiles.len() > 1 => {
                let name =
                    profiles.iter().find(|(_, f)| f == fields).map_or("profile_1", |(n, _)| n.as_str());
                let _ = writeln!(out, "    auth: {name}");
            }
            Some(DraftAuth::OAuth2(_)) => {}
            // The source sent no credentials: not the profile's either.
            None if !profiles.is_empty() => out.push_str("    auth: none\n"),
            None => {}
        }
        match &s.body {
            None => {}
            Some(DraftBody::Json(v)) => {
                let _ = writeln!(out, "    json: {}", v);
            }
            Some(DraftBody::Raw(text, ct)) => {
                let _ = writeln!(out, "    body: {}", scalar(text));
                if let Some(ct) = ct {
                    let _ = writeln!(out, "    content_type: {}", scalar(ct));
                }
            }
            Some(DraftBody::Form(items)) => pairs(&mut out, "    ", "form", items),
            // An empty form sends nothing: no body at all.
            Some(DraftBody::Multipart(items)) if items.is_empty() => {}
            Some(DraftBody::Multipart(items)) => {
                out.push_str("    multipart:\n");
                for (k, v, file) in items {
                    if *file {
                        let _ = writeln!(out, "      {}: {{file: {}}}", scalar(k), scalar(v));
                    } else {
                        let _ = writeln!(out, "      {}: {}", scalar(k), scalar(v));
                    }
                }
            }
            Some(DraftBody::File(path)) => {
                let _ = writeln!(out, "    body: {{file: {}}}", scalar(path));
            }
        }
        if !s.captures.is_empty() {
            out.push_str("    capture:\n");
            // A name captured twice keeps the last source, as the script would have.
            let last = |i: usize, k: &String| !s.captures[i + 1..].iter().any(|(o, _)| o == k);
            for (_, (k, v)) in s.captures.iter().enumerate().filter(|(i, (k, _))| last(*i, k)) {
                // A capture mapping (`{header: Location}`) is written as flow YAML.
                let v = if v.starts_with('{') && v.ends_with('}') { v.clone() } else { scalar(v) };
                let _ = writeln!(out, "      {}: {v}", scalar(k));
            }
        }
        let checks = !s.header_checks.is_empty() || !s.body_contains.is_empty() || !s.duration.is_empty();
        if !s.status.is_empty() || !s.json.is_empty() || !s.headers_exist.is_empty() || checks {
            out.push_str("    expect:\n");
            match s.status.as_slice() {
                [] => {}
                [one] => {
                    let _ = writeln!(out, "      status: {one}");
                }
                many => {
                    let _ = writeln!(
                        out,
                        "      status: [{}]",
                        many.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
                    );
                }
            }
            if !s.headers_exist.is_empty() || !s.header_checks.is_empty() {
                out.push_str("      headers:\n");
                for (i, h) in s.headers_exist.iter().enumerate() {
                    if !s.headers_exist[..i].iter().any(|o| o.eq_ignore_ascii_case(h)) {
                        let _ = writeln!(out, "        {}: {{exists: true}}", scalar(h));
                    }
                }
                for (i, (h, v)) in s.header_checks.iter().enumerate() {
                    let later = s.header_checks[i + 1..].iter().any(|(o, _)| o.eq_ignore_ascii_case(h));
                    let exists = s.headers_exist.iter().any(|o| o.eq_ignore_ascii_case(h));
                    if !later && !exists {
                        let _ = writeln!(out, "        {}: {}", scalar(h), flow(v));
                    }
                }
            }
            if !s.body_contains.is_empty() {
                let _ = writeln!(
                    out,
                    "      body_contains: [{}]",
                    s.body_contains.iter().map(|b| scalar(b)).collect::<Vec<_>>().join(", ")
                );
            }
            if !s.duration.is_empty() {
                let bounds: Vec<String> = s.duration.iter().map(|(op, ms)| format!("{op}: {ms}ms")).collect();
                let _ = writeln!(out, "      duration: {{{}}}", bounds.join(", "));
            }
            if !s.json.is_empty() {
                out.push_str("      json:\n");
                for (path, v) in merged(&s.json) {
                    let _ = writeln!(out, "        {}: {}", scalar(&path), flow(&v));
                }
            }
        }
    }
    out
}

/// Every string of a step that may hold templates.
fn step_texts(s: &DraftStep) -> Vec<String> {
    let mut out = vec![s.url.clone()];
    out.extend(s.query.iter().chain(&s.headers).map(|(_, v)| v.clone()));
    match &s.body {
        Some(DraftBody::Json(v)) => out.push(v.to_string()),
        Some(DraftBody::Raw(t, _) | DraftBody::File(t)) => out.push(t.clone()),
        Some(DraftBody::Form(items)) => out.extend(items.iter().map(|(_, v)| v.clone())),
        Some(DraftBody::Multipart(items)) => out.extend(items.iter().map(|(_, v, _)| v.clone())),
        None => {}
    }
    // Expectations may read variables too (`== {{expected}}`).
    out.extend(s.json.iter().chain(&s.header_checks).map(|(_, v)| v.to_string()));
    match &s.auth {
        Some(DraftAuth::Bearer(t)) => out.push(t.clone()),
        Some(DraftAuth::Basic(u, p) | DraftAuth::Digest(u, p)) => out.extend([u.clone(), p.clone()]),
        Some(DraftAuth::OAuth2(fields)) => out.extend(fields.iter().map(|(_, v)| v.clone())),
        _ => {}
    }
    out
}

/// Variables the requests read that nothing defines (the source tool had them in an
/// environment or a global) become variables read from the process environment, so the
/// collection validates and says where each value comes from.
pub fn define_undefined(d: &mut Draft, elsewhere: &[String]) {
    static NAME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}").expect("name regex")
    });
    // What the variables define, then what each request captures, in order: a name read
    // before the request that captures it (the source tool kept it from an earlier run)
    // is read from the environment until then.
    let mut defined: Vec<String> = d.vars.iter().map(|(k, _)| k.clone()).collect();
    let mut added: Vec<String> = Vec::new();
    // A variable's value may read one only the source tool's runtime set.
    for (_, value) in &d.vars {
        for c in NAME.captures_iter(value) {
            let name = c[1].to_string();
            if !defined.contains(&name) && !added.contains(&name) {
                added.push(name);
            }
        }
    }
    let all_captures: Vec<String> =
        d.requests.iter().flat_map(|s| s.captures.iter().map(|(k, _)| k.clone())).collect();
    for s in &mut d.requests {
        for text in step_texts(s) {
            for c in NAME.captures_iter(&text) {
                let name = c[1].to_string();
                if defined.contains(&name) || added.contains(&name) {
                    continue;
                }
                let env = env_name(&name);
                let from_profile = if elsewhere.contains(&name) {
                    " (the imported environment sets it with --env)"
                } else {
                    ""
                };
                let captured_later =
                    if all_captures.contains(&name) { ", until a later request captures it" } else { "" };
                s.changes.push(format!(
                    "`{name}` is not defined before this request: it is read from ${env}{from_profile}{captured_later}"
                ));
                added.push(name);
            }
        }
        defined.extend(s.captures.iter().map(|(k, _)| k.clone()));
    }
    // A variable used as a host (`http://{{host}}/…`) that also starts other URLs
    // (`{{host}}/…`): those get the `http://` the source tool adds to a URL without one.
    let host_of = |url: &str| {
        url.split_once("://")
            .and_then(|(_, rest)| rest.strip_prefix("{{"))
            .and_then(|r| r.split_once("}}"))
            .map(|(n, _)| n.trim().to_string())
    };
    let hosts: Vec<String> = d.requests.iter().filter_map(|s| host_of(&s.url)).collect();
    for s in &mut d.requests {
        let starts =
            s.url.strip_prefix("{{").and_then(|r| r.split_once("}}")).map(|(n, _)| n.trim().to_string());
        if starts.is_some_and(|n| hosts.contains(&n) && added.contains(&n)) {
            s.url = format!("http://{}", s.url);
            s.changes.push("the URL has no scheme: `http://` added, as the source tool does".into());
        }
    }
    for name in added {
        let env = env_name(&name);
        let value = env_default(&name, &env, &d.requests);
        d.vars.push((name, value));
    }
}

/// The environment variable an imported variable is read from: its name in capitals,
/// prefixed with `API_` when that is one the shell sets for itself (`USER`, `HOME`…).
pub fn env_name(name: &str) -> String {
    const SHELL: &[&str] = &[
        "USER", "HOME", "PATH", "SHELL", "PWD", "LANG", "TERM", "HOSTNAME", "LOGNAME", "TMPDIR", "TMP",
        "TEMP", "EDITOR",
    ];
    let upper = name.to_ascii_uppercase();
    if SHELL.contains(&upper.as_str()) { format!("API_{upper}") } else { upper }
}

/// A variable read from environment variable `env`: a secret-looking name through
/// `secret_env()`; one that starts URLs defaults to a loopback origin (so the collection
/// validates, and runs against `baton playground` as it is), anything else to "".
pub fn env_default(name: &str, env: &str, steps: &[DraftStep]) -> String {
    if crate::secret::is_secret_name(name) {
        return format!("{{{{ secret_env('{env}', default='') }}}}");
    }
    // `{{name}}…` (the origin), `{{name}}://…` (the scheme), `…://{{name}}…` (the host).
    let placeholder = regex::Regex::new(&format!(r"^\{{\{{\s*{}\s*\}}\}}", regex::escape(name))).ok();
    fn rest<'t>(p: Option<&regex::Regex>, text: &'t str) -> Option<&'t str> {
        p?.find(text).map(|m| &text[m.end()..])
    }
    let starts = |text| rest(placeholder.as_ref(), text);
    let mut default = "";
    for s in steps {
        let url = s.url.trim_start();
        let after_scheme = url.split_once("://").map(|(_, rest)| rest);
        default = match (starts(url), after_scheme.and_then(starts)) {
            (Some(rest), _) if rest.starts_with("://") => "http",
            (Some(_), _) => "http://127.0.0.1:8080",
            // The first label of a host (`{{sub}}.{{domain}}`), or the whole host.
            (None, Some(rest)) if rest.starts_with('.') => "localhost",
            // A host given its port in the URL (`http://{{host}}:8080`).
            (None, Some(rest)) if rest.starts_with(':') => "127.0.0.1",
            (None, Some(_)) => "127.0.0.1:8080",
            (None, None) => continue,
        };
        break;
    }
    format!("{{{{ env('{env}', default='{default}') }}}}")
}

/// The environment variables a draft's `vars` read (for `.env.example`).
pub fn environment_reads(d: &Draft) -> Vec<String> {
    static READ: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"env\('([A-Za-z_][A-Za-z0-9_]*)'").expect("env regex")
    });
    d.vars
        .iter()
        .flat_map(|(_, v)| READ.captures_iter(v).map(|c| c[1].to_string()).collect::<Vec<_>>())
        .collect()
}

/// The translation report (Markdown): per request its fidelity, origin and notes.
pub fn report(files: &[(String, Draft)], renames: &Renames) -> String {
    let mut out = String::from("# Translation report\n\n");
    let all: Vec<&DraftStep> = files.iter().flat_map(|(_, d)| &d.requests).collect();
    let count = |f: Fidelity| all.iter().filter(|s| s.fidelity() == f).count();
    let _ = writeln!(
        out,
        "{} requests: {} translated, {} changed, {} partial (left out parts are comments beside the step).\n",
        all.len(),
        count(Fidelity::Translated),
        count(Fidelity::Changed),
        count(Fidelity::Partial)
    );
    let renamed = renames.changed();
    if !renamed.is_empty() {
        out.push_str("## Renamed variables\n\n");
        for (from, to) in renamed {
            let _ = writeln!(out, "- `{from}` → `{to}`");
        }
        out.push('\n');
    }
    let skipped: Vec<&(String, String)> = files.iter().flat_map(|(_, d)| &d.skipped).collect();
    if !skipped.is_empty() {
        out.push_str("## Left out\n\n");
        for (origin, why) in skipped {
            let _ = writeln!(out, "- `{origin}`: {why}");
        }
        out.push('\n');
    }
    for (file, d) in files {
        let _ = writeln!(out, "## {file}\n");
        out.push_str("| request | result | from | notes |\n|---|---|---|---|\n");
        for s in &d.requests {
            let result = match s.fidelity() {
                Fidelity::Translated => "translated",
                Fidelity::Changed => "changed",
                Fidelity::Partial => "partial",
            };
            let notes: Vec<String> = s
                .changes
                .iter()
                .map(|c| c.replace('|', "\\|"))
                .chain(
                    s.untranslated
                        .iter()
                        .map(|u| format!("left out: {}", u.lines().next().unwrap_or("").replace('|', "\\|"))),
                )
                .collect();
            let _ = writeln!(
                out,
                "| {} | {result} | {} | {} |",
                s.name.replace('|', "\\|"),
                s.origin,
                notes.join("; ")
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_keep_identifiers_rename_the_rest_and_refuse_merges() {
        let mut r = Renames::default();
        let mut changes = Vec::new();
        assert_eq!(
            template("{{baseUrl}}/users/{{user-id}}", &mut r, &mut changes),
            "{{ baseUrl }}/users/{{ user_id }}"
        );
        assert_eq!(changes, ["variable `user-id` is `user_id`"]);
        assert_eq!(template("{{$guid}}", &mut r, &mut changes), "{{ uuid() }}");
        assert!(r.clashes.is_empty());
        template("{{user.id}}", &mut r, &mut changes);
        assert_eq!(r.clashes, [("user-id".to_string(), "user.id".to_string(), "user_id".to_string())]);
    }

    #[test]
    fn scalars_that_would_read_back_differently_are_quoted() {
        assert_eq!(scalar("plain text"), "plain text");
        for s in ["true", "10", "a: b", "{{ x }}", "- x", "", " x", "@x", "x #y", "yes"] {
            assert!(scalar(s).starts_with('"'), "{s}");
        }
    }
}
