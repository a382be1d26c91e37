//! Postman collections (v2.0, v2.1, and the `{"collection": …}` API export) and
//! environments. Folders become tags and name prefixes, auth is inherited through
//! folders, test scripts that only read the response become captures and expectations;
//! any other script line is kept as a comment and reported.

use serde_json::Value as Json;

use super::{Draft, DraftAuth, DraftBody, DraftStep, Renames, template};

/// Whether `doc` is a Postman environment export.
pub fn is_environment(doc: &Json) -> bool {
    doc.get("values").is_some_and(Json::is_array) && doc.get("item").is_none()
}

/// An environment's name and its values as baton vars (secret-typed or secret-named
/// values become `secret_env()` reads, listed for `.env.example`).
pub fn environment(doc: &Json, renames: &mut Renames) -> (String, Vec<(String, String)>, Vec<String>) {
    let name = doc.get("name").and_then(Json::as_str).unwrap_or("environment").to_string();
    let mut vars = Vec::new();
    let mut secret = Vec::new();
    for v in doc.get("values").and_then(Json::as_array).into_iter().flatten() {
        if v.get("enabled").and_then(Json::as_bool) == Some(false) {
            continue;
        }
        let Some(key) = v.get("key").and_then(Json::as_str) else { continue };
        let key = renames.name(key);
        let is_secret =
            v.get("type").and_then(Json::as_str) == Some("secret") || crate::secret::is_secret_name(&key);
        if is_secret {
            let env = key.to_ascii_uppercase();
            vars.push((key.clone(), format!("{{{{ secret_env('{env}') }}}}")));
            secret.push(env);
        } else {
            let value = v.get("value").map(|x| match x {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
            vars.push((key, template(&value.unwrap_or_default(), renames, &mut Vec::new())));
        }
    }
    (name, vars, secret)
}

/// The draft of a collection.
pub fn collection(doc: &Json, renames: &mut Renames) -> Result<Draft, String> {
    let doc = doc.get("collection").unwrap_or(doc);
    if doc.get("item").is_none() {
        return Err("not a Postman collection: no `item`".into());
    }
    // Some exports leave `info` out and name the collection at the top.
    let top = serde_json::json!({"name": doc.get("name").cloned().unwrap_or(Json::Null)});
    let info = doc.get("info").unwrap_or(&top);
    let schema = info.get("schema").and_then(Json::as_str).unwrap_or("");
    if !schema.is_empty() && !schema.contains("v2.0") && !schema.contains("v2.1") {
        return Err(format!(
            "Postman collection schema `{schema}`: only v2.0 and v2.1 are read (export as v2.1)"
        ));
    }
    let mut d = Draft {
        name: info.get("name").and_then(Json::as_str).unwrap_or("imported").to_string(),
        description: text(info.get("description")),
        ..Draft::default()
    };
    for v in doc.get("variable").and_then(Json::as_array).into_iter().flatten() {
        if v.get("disabled").and_then(Json::as_bool) == Some(true) {
            continue;
        }
        let Some(key) = v.get("key").and_then(Json::as_str) else { continue };
        let key = renames.name(key);
        let value = match v.get("value") {
            Some(Json::String(s)) => template(s, renames, &mut Vec::new()),
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if v.get("type").and_then(Json::as_str) == Some("secret") {
            d.secrets.push(key.clone());
        }
        d.vars.push((key, value));
    }
    let auth = doc.get("auth");
    walk(doc.get("item"), &[], auth, renames, &mut d);
    super::unique_names(&mut d);
    Ok(d)
}

fn text(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Json::Object(o) => o.get("content").and_then(Json::as_str).map(|s| s.trim().to_string()),
        _ => None,
    }
}

fn walk(items: Option<&Json>, folders: &[String], auth: Option<&Json>, renames: &mut Renames, d: &mut Draft) {
    for item in items.and_then(Json::as_array).into_iter().flatten() {
        let name = item.get("name").and_then(Json::as_str).unwrap_or("request").to_string();
        // An item's own auth wins; without one it inherits its folder's.
        let auth = match item.get("auth") {
            Some(a) if !a.is_null() => Some(a),
            _ => auth,
        };
        if item.get("item").is_some() {
            let mut path = folders.to_vec();
            path.push(name);
            walk(item.get("item"), &path, auth, renames, d);
        } else if let Some(req) = item.get("request") {
            let s = step(&name, item, req, folders, auth, renames);
            if s.url.trim().is_empty() {
                d.skipped.push((s.origin, "the request has no URL".into()));
            } else {
                d.requests.push(s);
            }
        }
    }
}

fn enabled(v: &Json) -> bool {
    v.get("disabled").and_then(Json::as_bool) != Some(true)
}

fn kv(list: Option<&Json>, renames: &mut Renames, changes: &mut Vec<String>) -> Vec<(String, String)> {
    list.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|v| enabled(v))
        .filter_map(|v| {
            let k = v.get("key").and_then(Json::as_str)?;
            let val = match v.get("value") {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            Some((k.to_string(), template(&val, renames, changes)))
        })
        .collect()
}

fn step(
    name: &str,
    item: &Json,
    req: &Json,
    folders: &[String],
    auth: Option<&Json>,
    renames: &mut Renames,
) -> DraftStep {
    let mut s = DraftStep {
        name: if folders.is_empty() { name.to_string() } else { format!("{} / {name}", folders.join(" / ")) },
        origin: folders.iter().map(String::as_str).chain([name]).collect::<Vec<_>>().join(" / "),
        tags: folders.iter().map(|f| tag(f)).filter(|t| !t.is_empty()).collect(),
        ..DraftStep::default()
    };
    // v2.0 allows a bare URL string as the request.
    let req =
        if let Json::String(url) = req { &serde_json::json!({"url": url, "method": "GET"}) } else { req };
    s.description = text(req.get("description"));
    s.method = req.get("method").and_then(Json::as_str).unwrap_or("GET").to_ascii_uppercase();
    s.url = url(req.get("url"), renames, &mut s);
    s.headers = kv(req.get("header"), renames, &mut s.changes);
    body(req.get("body"), renames, &mut s);
    auth_of(req.get("auth").filter(|a| !a.is_null()).or(auth), renames, &mut s);
    for e in item.get("event").and_then(Json::as_array).into_iter().flatten() {
        let lines = script_lines(e);
        match e.get("listen").and_then(Json::as_str) {
            Some("test") => tests(&lines, &mut s),
            _ => {
                let code: Vec<&str> = lines
                    .iter()
                    .map(|l| l.trim())
                    .filter(|l| !l.is_empty() && !l.starts_with("//"))
                    .collect();
                if !code.is_empty() {
                    s.untranslated.push(format!("pre-request script: {}", code.join(" ")));
                }
            }
        }
    }
    s
}

fn tag(folder: &str) -> String {
    let t: String = folder
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    t.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

fn url(u: Option<&Json>, renames: &mut Renames, s: &mut DraftStep) -> String {
    let (raw, object) = match u {
        Some(Json::String(raw)) => (raw.clone(), None),
        Some(o @ Json::Object(_)) => (o.get("raw").and_then(Json::as_str).unwrap_or("").to_string(), Some(o)),
        _ => (String::new(), None),
    };
    // Path variables `:id` take the request's values (or become variables of their own).
    let mut raw = raw;
    if let Some(vars) = object.and_then(|o| o.get("variable")).and_then(Json::as_array) {
        for v in vars {
            let Some(key) = v.get("key").and_then(Json::as_str) else { continue };
            let value = v.get("value").and_then(Json::as_str).unwrap_or("");
            let with = if value.is_empty() { format!("{{{{{key}}}}}") } else { value.to_string() };
            raw = replace_segment(&raw, &format!(":{key}"), &with);
        }
    }
    // Disabled query parameters are dropped from the URL.
    if let Some(query) = object.and_then(|o| o.get("query")).and_then(Json::as_array)
        && query.iter().any(|q| !enabled(q))
        && let Some((base, _)) = raw.split_once('?')
    {
        let kept: Vec<String> = query
            .iter()
            .filter(|q| enabled(q))
            .filter_map(|q| {
                let k = q.get("key").and_then(Json::as_str)?;
                Some(match q.get("value").and_then(Json::as_str) {
                    Some(v) => format!("{k}={v}"),
                    None => k.to_string(),
                })
            })
            .collect();
        raw = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    }
    let mut out = template(&raw, renames, &mut s.changes);
    if !out.contains("://") && !out.starts_with("{{") && !out.trim().is_empty() {
        out = format!("https://{out}");
        s.changes.push("the URL had no scheme: `https://` was added".into());
    }
    out
}

/// Replaces a whole path segment (`:id` in `/users/:id/x`, not in `:identity`).
fn replace_segment(url: &str, from: &str, to: &str) -> String {
    let re = regex::Regex::new(&format!("{}(/|\\?|#|$)", regex::escape(from))).expect("segment regex");
    re.replace_all(url, |c: &regex::Captures<'_>| format!("{to}{}", &c[1])).into_owned()
}

fn body(b: Option<&Json>, renames: &mut Renames, s: &mut DraftStep) {
    let Some(b) = b.filter(|b| !b.is_null()) else { return };
    if b.get("disabled").and_then(Json::as_bool) == Some(true) {
        return;
    }
    match b.get("mode").and_then(Json::as_str) {
        Some("raw") => {
            let raw = b.get("raw").and_then(Json::as_str).unwrap_or("");
            if raw.is_empty() {
                return;
            }
            let text = template(raw, renames, &mut s.changes);
            let language = b.pointer("/options/raw/language").and_then(Json::as_str);
            let declared = s
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone());
            let looks_json =
                language == Some("json") || declared.as_deref().is_some_and(|c| c.contains("json"));
            match serde_json::from_str::<Json>(&text) {
                Ok(v) if looks_json || v.is_object() || v.is_array() => {
                    s.headers.retain(|(k, _)| {
                        !k.eq_ignore_ascii_case("content-type")
                            || declared.as_deref() != Some("application/json")
                    });
                    s.body = Some(DraftBody::Json(v));
                }
                _ => {
                    let ct = if declared.is_some() {
                        None
                    } else {
                        match language {
                            Some("json") => Some("application/json".to_string()),
                            Some("xml") => Some("application/xml".to_string()),
                            Some("html") => Some("text/html".to_string()),
                            Some("javascript") => Some("application/javascript".to_string()),
                            _ => Some("text/plain".to_string()),
                        }
                    };
                    s.body = Some(DraftBody::Raw(text, ct));
                }
            }
        }
        Some("urlencoded") => {
            let fields = kv(b.get("urlencoded"), renames, &mut s.changes);
            s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            s.body = Some(DraftBody::Form(fields));
        }
        Some("formdata") => {
            let mut parts = Vec::new();
            for f in b.get("formdata").and_then(Json::as_array).into_iter().flatten().filter(|f| enabled(f)) {
                let Some(k) = f.get("key").and_then(Json::as_str) else { continue };
                if f.get("type").and_then(Json::as_str) == Some("file") {
                    let src = match f.get("src") {
                        Some(Json::String(p)) => p.clone(),
                        Some(Json::Array(a)) => a.first().and_then(Json::as_str).unwrap_or("").to_string(),
                        _ => String::new(),
                    };
                    if src.is_empty() {
                        s.untranslated.push(format!("form-data file field `{k}` names no file"));
                        continue;
                    }
                    parts.push((k.to_string(), src, true));
                } else {
                    let v = f.get("value").and_then(Json::as_str).unwrap_or("");
                    parts.push((k.to_string(), template(v, renames, &mut s.changes), false));
                }
            }
            s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            s.body = Some(DraftBody::Multipart(parts));
        }
        Some("file") => {
            if let Some(src) = b.pointer("/file/src").and_then(Json::as_str) {
                s.body = Some(DraftBody::File(src.to_string()));
            }
        }
        Some("graphql") => {
            let query = b.pointer("/graphql/query").and_then(Json::as_str).unwrap_or("");
            let variables: Json = b
                .pointer("/graphql/variables")
                .and_then(Json::as_str)
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or(Json::Null);
            let query = template(query, renames, &mut s.changes);
            s.body = Some(DraftBody::Json(serde_json::json!({"query": query, "variables": variables})));
            s.changes.push("GraphQL body sent as JSON `{query, variables}`".into());
        }
        Some(other) => s.untranslated.push(format!("body mode `{other}`")),
        None => {}
    }
}

fn auth_of(a: Option<&Json>, renames: &mut Renames, s: &mut DraftStep) {
    let Some(a) = a else { return };
    let kind = a.get("type").and_then(Json::as_str).unwrap_or("noauth");
    // v2.1: `{"type": "bearer", "bearer": [{"key": "token", "value": …}]}`; v2.0: an object.
    let field = |name: &str| -> Option<String> {
        match a.get(kind)? {
            Json::Array(items) => items
                .iter()
                .find(|i| i.get("key").and_then(Json::as_str) == Some(name))
                .and_then(|i| i.get("value"))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
            Json::Object(o) => o.get(name).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
            _ => None,
        }
    };
    let mut t = |v: Option<String>| template(&v.unwrap_or_default(), renames, &mut s.changes);
    s.auth = match kind {
        "noauth" => Some(DraftAuth::None),
        "bearer" => Some(DraftAuth::Bearer(t(field("token")))),
        "basic" => Some(DraftAuth::Basic(t(field("username")), t(field("password")))),
        "apikey" => {
            let (key, value) = (field("key").unwrap_or_else(|| "x-api-key".into()), t(field("value")));
            if field("in").as_deref() == Some("query") {
                s.query.push((key, value));
            } else {
                s.headers.push((key, value));
            }
            None
        }
        "digest" => Some(DraftAuth::Digest(t(field("username")), t(field("password")))),
        "oauth2" => {
            let source_key = |key: &'static str| -> &'static str {
                match key {
                    "token_url" => "accessTokenUrl",
                    "authorization_url" => "authUrl",
                    "client_id" => "clientId",
                    "client_secret" => "clientSecret",
                    "redirect_uri" => "redirect_uri",
                    "client_auth" => "client_authentication",
                    other => other,
                }
            };
            let mut changes = Vec::new();
            let values: Vec<(String, Option<String>)> = super::OAUTH2_KEYS
                .iter()
                .map(|k| (k.to_string(), field(source_key(k)).map(|v| template(&v, renames, &mut changes))))
                .collect();
            let client_auth =
                field("client_authentication").map(|c| if c == "header" { "basic".to_string() } else { c });
            s.changes.extend(changes);
            let get = |k: &str| {
                if k == "client_auth" {
                    return client_auth.clone();
                }
                values.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone())
            };
            let grant = field("grant_type").unwrap_or_default();
            match super::oauth2_profile(&grant, &get, s) {
                Some(profile) => Some(profile),
                None => match field("accessToken").filter(|t| !t.is_empty()) {
                    Some(tok) => {
                        s.changes.push(
                            "OAuth2 auth with a pasted token and no token URL: the token is sent as `bearer:`".into(),
                        );
                        Some(DraftAuth::Bearer(template(&tok, renames, &mut s.changes)))
                    }
                    None => {
                        if !s.untranslated.iter().any(|u| u.starts_with("OAuth2")) {
                            s.untranslated.push("OAuth2 auth without a token URL or a token".into());
                        }
                        None
                    }
                },
            }
        }
        other => {
            s.untranslated.push(format!("`{other}` auth"));
            None
        }
    };
}

fn script_lines(e: &Json) -> Vec<String> {
    match e.pointer("/script/exec") {
        Some(Json::Array(lines)) => lines
            .iter()
            .filter_map(Json::as_str)
            .flat_map(|l| l.lines().map(str::to_string).collect::<Vec<_>>())
            .collect(),
        Some(Json::String(s)) => s.lines().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A JavaScript literal as JSON (`'a'`, `"a"`, numbers, true/false/null).
fn literal(js: &str) -> Option<Json> {
    let js = js.trim();
    if let Some(inner) = js.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(Json::String(inner.to_string()));
    }
    serde_json::from_str(js).ok()
}

fn tests(lines: &[String], s: &mut DraftStep) {
    static JSON_ALIAS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(?:var|let|const)\s+(\w+)\s*=\s*(?:pm|postman)\.response\.json\(\)\s*;?$")
            .expect("re")
    });
    static SET: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"^(?:pm\.(?:environment|collectionVariables|globals|variables)\.set|postman\.setEnvironmentVariable|postman\.setGlobalVariable)\(\s*["']([^"']+)["']\s*,\s*(.+?)\s*\)\s*;?$"#,
        )
        .expect("re")
    });
    static STATUS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(?:pm\.response\.to\.have\.status|pm\.expect\(pm\.response\.code\)\.to\.(?:eql|equal|be\.equal))\((\d{3})\)\s*;?$").expect("re")
    });
    static HEADER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^pm\.response\.to\.have\.header\(\s*["']([^"']+)["']\s*\)\s*;?$"#).expect("re")
    });
    static EXPECT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^pm\.expect\((.+?)\)\.to\.(?:eql|equal|be\.equal|deep\.equal)\((.+)\)\s*;?$")
            .expect("re")
    });
    static STRUCTURE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^(?:pm\.test\(.*function\s*\(\s*\)\s*\{|pm\.test\(.*\(\s*\)\s*=>\s*\{|\}\s*\)\s*;?|\}\s*;?|\{)$"#)
            .expect("re")
    });
    // The legacy sandbox: `tests["name"] = responseCode.code === 200;`, `… = responseBody.has("x");`,
    // `… = responseTime < 500;`.
    static LEGACY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"^tests\[\s*(?:"[^"]*"|'[^']*')\s*\]\s*=\s*(?:responseCode\.code\s*===?\s*(\d{3})|responseBody\.has\(\s*(?:"([^"]*)"|'([^']*)')\s*\)|responseTime\s*<\s*(\d+))\s*;?$"#,
        )
        .expect("re")
    });
    static ONE_LINE_TEST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^pm\.test\(.*?(?:function\s*\(\s*\)|\(\s*\)\s*=>)\s*\{(.*)\}\s*\)\s*;?$"#)
            .expect("re")
    });
    // `pm.test("ok", function () { a; b; });` on one line: its statements, one by one.
    let lines: Vec<String> = lines
        .iter()
        .flat_map(|l| match ONE_LINE_TEST.captures(l.trim()) {
            Some(c) => c[1].split(';').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            None => vec![l.clone()],
        })
        .collect();
    let mut aliases: Vec<String> = Vec::new();
    let read = |expr: &str, aliases: &[String]| -> Option<String> {
        let expr = expr.trim();
        for prefix in ["pm.response.json()", "postman.response.json()"]
            .iter()
            .map(|p| p.to_string())
            .chain(aliases.iter().cloned())
        {
            if let Some(rest) = expr.strip_prefix(prefix.as_str()) {
                return super::js_path(rest);
            }
        }
        None
    };
    for raw in &lines {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") || STRUCTURE.is_match(line) {
            continue;
        }
        if let Some(c) = JSON_ALIAS.captures(line) {
            aliases.push(c[1].to_string());
            continue;
        }
        if let Some(c) = SET.captures(line)
            && let Some(path) = read(&c[2], &aliases)
        {
            let name: String = c[1]
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() || ch == '_' { ch } else { '_' })
                .collect();
            if !s.captures.iter().any(|(n, _)| *n == name) {
                s.captures.push((name, path));
            }
            continue;
        }
        if let Some(c) = STATUS.captures(line) {
            if let Ok(code) = c[1].parse::<u16>()
                && !s.status.contains(&code)
            {
                s.status.push(code);
            }
            continue;
        }
        if let Some(c) = HEADER.captures(line) {
            s.headers_exist.push(c[1].to_ascii_lowercase());
            continue;
        }
        if let Some(c) = LEGACY.captures(line) {
            if let Some(code) = c.get(1).and_then(|m| m.as_str().parse::<u16>().ok()) {
                if !s.status.contains(&code) {
                    s.status.push(code);
                }
            } else if let Some(text) = c.get(2).or(c.get(3)) {
                s.body_contains.push(text.as_str().to_string());
            } else if let Some(ms) = c.get(4).and_then(|m| m.as_str().parse::<u64>().ok()) {
                s.duration.push(("lt".into(), ms));
            }
            continue;
        }
        if let Some(c) = EXPECT.captures(line)
            && let (Some(path), Some(value)) = (read(&c[1], &aliases), literal(&c[2]))
        {
            s.json.push((path, value));
            continue;
        }
        s.untranslated.push(format!("test script: {line}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_sandbox_tests_become_status_body_and_duration_checks() {
        let mut s = DraftStep::default();
        let lines: Vec<String> = [
            r#"tests["Status code is 200"] = responseCode.code === 200;"#,
            r#"tests['has it'] = responseBody.has("authenticated");"#,
            r#"tests["fast"] = responseTime < 500;"#,
            r#"tests["other"] = responseHeaders["X"] == 1;"#,
        ]
        .iter()
        .map(|l| l.to_string())
        .collect();
        tests(&lines, &mut s);
        assert_eq!(s.status, [200]);
        assert_eq!(s.body_contains, ["authenticated"]);
        assert_eq!(s.duration, [("lt".to_string(), 500)]);
        assert_eq!(s.untranslated.len(), 1, "{:?}", s.untranslated);
    }

    #[test]
    fn javascript_paths_become_jsonpaths() {
        assert_eq!(crate::import::js_path(".data.items[0].id").as_deref(), Some("$.data.items[0].id"));
        assert_eq!(crate::import::js_path("[\"x-y\"].z").as_deref(), Some("$['x-y'].z"));
        assert_eq!(crate::import::js_path("").as_deref(), Some("$"));
        assert_eq!(crate::import::js_path(".a()"), None);
    }

    #[test]
    fn response_reading_scripts_become_captures_and_checks_and_the_rest_is_kept() {
        let mut s = DraftStep::default();
        let lines: Vec<String> = [
            "var jsonData = pm.response.json();",
            "pm.test(\"ok\", function () {",
            "    pm.response.to.have.status(201);",
            "    pm.expect(jsonData.user.name).to.eql('ann');",
            "});",
            "pm.environment.set(\"user-id\", jsonData.user.id);",
            "pm.response.to.have.header(\"Location\");",
            "for (let i = 0; i < 3; i++) { console.log(i); }",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        tests(&lines, &mut s);
        assert_eq!(s.status, [201]);
        assert_eq!(s.captures, [("user_id".to_string(), "$.user.id".to_string())]);
        assert_eq!(s.json, [("$.user.name".to_string(), Json::String("ann".into()))]);
        assert_eq!(s.headers_exist, ["location"]);
        assert_eq!(s.untranslated.len(), 1, "{:?}", s.untranslated);
    }
}
