//! Bruno collections: a folder with `bruno.json`, `.bru` requests (in `seq` order, folders
//! as tags and name prefixes), `collection.bru`/`folder.bru` headers and auth inherited,
//! `environments/*.bru`. `vars:post-response`, `bru.setVar(…)` reading the response and
//! `assert {}` become captures and expectations; other script lines stay comments.

use std::path::Path;

use serde_json::Value as Json;

use super::{Draft, DraftAuth, DraftBody, DraftStep, Renames, template};

/// One block of a `.bru` file.
#[derive(Debug, Clone)]
pub struct Block {
    /// `meta`, `get`, `headers`, `body:json`, `auth:bearer`…
    pub name: String,
    /// `key: value` entries with whether each is enabled (`~key` is not).
    pub pairs: Vec<(String, String, bool)>,
    /// The text of a text block (bodies, scripts, tests, docs), dedented.
    pub text: String,
    /// A list block's items (`vars:secret [a, b]`).
    pub list: Vec<String>,
}

impl Block {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _, on)| k == key && *on).map(|(_, v, _)| v.as_str())
    }
}

fn is_text(name: &str) -> bool {
    (name.starts_with("body") && !matches!(name, "body:form-urlencoded" | "body:multipart-form"))
        || name.starts_with("script")
        || name == "tests"
        || name == "docs"
}

/// The blocks of a `.bru` file.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_end();
        if t.is_empty() || t.starts_with(' ') {
            continue;
        }
        if let Some(name) = t.strip_suffix('[').map(str::trim) {
            let mut list = Vec::new();
            for l in lines.by_ref() {
                let l = l.trim();
                if l == "]" {
                    break;
                }
                list.extend(l.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
            }
            out.push(Block { name: name.to_string(), pairs: Vec::new(), text: String::new(), list });
            continue;
        }
        let Some(name) = t.strip_suffix('{').map(str::trim) else { continue };
        let mut body: Vec<&str> = Vec::new();
        for l in lines.by_ref() {
            if l.trim_end() == "}" && !l.starts_with(' ') {
                break;
            }
            body.push(l);
        }
        let mut block =
            Block { name: name.to_string(), pairs: Vec::new(), text: String::new(), list: Vec::new() };
        if is_text(name) {
            block.text =
                body.iter().map(|l| l.strip_prefix("  ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
        } else {
            let mut body = body.into_iter();
            while let Some(l) = body.next() {
                let l = l.trim();
                if l.is_empty() {
                    continue;
                }
                // An annotation (`@number`, `@description('''…''')`, perhaps over several
                // lines) says something about the next entry; it is not one.
                if l.starts_with('@') {
                    if l.contains("('''") && !l.ends_with("''')") {
                        body.by_ref().find(|m| m.trim_end().ends_with("''')"));
                    }
                    continue;
                }
                let (enabled, l) = match l.strip_prefix('~') {
                    Some(rest) => (false, rest),
                    None => (true, l),
                };
                let (k, v) = l.split_once(':').map_or((l, ""), |(k, v)| (k, v));
                let mut value = v.trim().to_string();
                // `key: '''` starts a value over several lines, up to `'''`.
                if value == "'''" {
                    let lines: Vec<&str> = body.by_ref().take_while(|m| m.trim() != "'''").collect();
                    let indent = lines
                        .iter()
                        .filter(|m| !m.trim().is_empty())
                        .map(|m| m.len() - m.trim_start().len())
                        .min()
                        .unwrap_or(0);
                    value = lines
                        .iter()
                        .map(|m| m.get(indent..).unwrap_or("").trim_end())
                        .collect::<Vec<_>>()
                        .join("\n");
                }
                block.pairs.push((k.trim().to_string(), value, enabled));
            }
        }
        out.push(block);
    }
    out
}

/// The blocks of a `.bru` file, or of a YAML (OpenCollection) one.
fn read_blocks(path: &Path) -> Option<Vec<Block>> {
    let text = std::fs::read_to_string(path).ok()?;
    if path.extension().is_some_and(|x| x == "bru") {
        return Some(blocks(&text));
    }
    super::opencollection::parse(&text).map(|doc| super::opencollection::blocks(&doc))
}

fn find<'b>(blocks: &'b [Block], name: &str) -> Option<&'b Block> {
    blocks.iter().find(|b| b.name == name)
}

/// The auth a block list declares, `Some(None)` for `none`, `None` for `inherit`/absent.
fn auth(
    blocks: &[Block],
    mode: Option<&str>,
    renames: &mut Renames,
    s: &mut DraftStep,
) -> Option<Option<DraftAuth>> {
    let mode = mode.or_else(|| find(blocks, "auth").and_then(|b| b.get("mode")))?;
    let mut t = |v: Option<&str>| template(v.unwrap_or(""), renames, &mut s.changes);
    Some(match mode {
        "none" => Some(DraftAuth::None),
        "inherit" => return None,
        "bearer" => Some(DraftAuth::Bearer(t(find(blocks, "auth:bearer").and_then(|b| b.get("token"))))),
        "basic" => {
            let b = find(blocks, "auth:basic");
            Some(DraftAuth::Basic(t(b.and_then(|b| b.get("username"))), t(b.and_then(|b| b.get("password")))))
        }
        "apikey" => {
            let b = find(blocks, "auth:apikey");
            let key = b.and_then(|b| b.get("key")).unwrap_or("x-api-key").to_string();
            let value = t(b.and_then(|b| b.get("value")));
            if b.and_then(|b| b.get("placement")) == Some("queryparams") {
                s.query.push((key, value));
            } else {
                s.headers.push((key, value));
            }
            None
        }
        "digest" => {
            let b = find(blocks, "auth:digest");
            Some(DraftAuth::Digest(
                t(b.and_then(|b| b.get("username"))),
                t(b.and_then(|b| b.get("password"))),
            ))
        }
        "oauth2" => {
            let b = find(blocks, "auth:oauth2");
            let source_key = |key: &'static str| -> &'static str {
                match key {
                    "token_url" => "access_token_url",
                    "redirect_uri" => "callback_url",
                    other => other,
                }
            };
            let values: Vec<(String, Option<String>)> = super::OAUTH2_KEYS
                .iter()
                .map(|k| (k.to_string(), b.and_then(|b| b.get(source_key(k))).map(|v| t(Some(v)))))
                .collect();
            let placement = b.and_then(|b| b.get("credentials_placement")).map(str::to_string);
            let get = |k: &str| {
                if k == "client_auth" {
                    return placement
                        .as_deref()
                        .filter(|p| p.contains("header"))
                        .map(|_| "basic".to_string());
                }
                values.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.clone())
            };
            let grant = b.and_then(|b| b.get("grant_type")).unwrap_or("").to_string();
            let profile = super::oauth2_profile(&grant, &get, s);
            if profile.is_none() && !s.untranslated.iter().any(|u| u.starts_with("OAuth2")) {
                s.untranslated.push("OAuth2 auth without a token URL".into());
            }
            profile
        }
        other => {
            s.untranslated.push(format!("`{other}` auth"));
            None
        }
    })
}

/// `res.body.a.b` / `res.headers.x` / `res.status` as a capture source.
fn response_source(expr: &str) -> Option<String> {
    let expr = expr.trim().trim_end_matches(';');
    if expr == "res.status" || expr == "res.getStatus()" {
        return Some("status".into());
    }
    if let Some(h) = expr.strip_prefix("res.headers.").or_else(|| expr.strip_prefix("res.headers[")) {
        let h = h.trim_end_matches(']').trim_matches(['"', '\'']);
        return Some(format!("{{header: {}}}", super::scalar(h)));
    }
    let rest = expr.strip_prefix("res.body").or_else(|| expr.strip_prefix("res.getBody()"))?;
    super::js_path(rest)
}

fn literal(v: &str) -> Json {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Json::String(inner.to_string());
    }
    serde_json::from_str(v).unwrap_or_else(|_| Json::String(v.to_string()))
}

fn assertion(target: &str, rule: &str, s: &mut DraftStep) -> bool {
    let (op, operand) =
        rule.trim().split_once(char::is_whitespace).map_or((rule.trim(), ""), |(o, r)| (o, r.trim()));
    let m: Json = match op {
        "eq" => literal(operand),
        "neq" => return false,
        "gt" | "gte" | "lt" | "lte" => serde_json::json!({op: literal(operand)}),
        "contains" => serde_json::json!({"contains": literal(operand)}),
        "matches" => serde_json::json!({"matches": operand.trim_matches(['"', '\''])}),
        "isDefined" | "isNotEmpty" => serde_json::json!({"exists": true}),
        "isUndefined" => serde_json::json!({"exists": false}),
        "isString" => serde_json::json!({"type": "string"}),
        "isNumber" => serde_json::json!({"type": "number"}),
        "isBoolean" => serde_json::json!({"type": "boolean"}),
        "isArray" => serde_json::json!({"type": "array"}),
        "isJson" => serde_json::json!({"type": "object"}),
        "length" => serde_json::json!({"len": literal(operand)}),
        _ => return false,
    };
    if target == "res.status" {
        return match m.as_u64().and_then(|c| u16::try_from(c).ok()) {
            Some(code) if op == "eq" => {
                s.status = vec![code];
                true
            }
            _ => false,
        };
    }
    if let Some(h) = target.strip_prefix("res.headers.") {
        s.header_checks.push((h.to_ascii_lowercase(), m));
        return true;
    }
    match target.strip_prefix("res.body").and_then(super::js_path) {
        Some(path) => {
            s.json.push((path, m));
            true
        }
        None => false,
    }
}

fn scripts(text: &str, s: &mut DraftStep, what: &str) {
    static SET: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^bru\.(?:setVar|setEnvVar)\(\s*["']([^"']+)["']\s*,\s*(.+?)\s*\)\s*;?$"#)
            .expect("re")
    });
    static STATUS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^expect\(res\.(?:getStatus\(\)|status)\)\.to\.(?:equal|eql)\((\d{3})\)\s*;?$")
            .expect("re")
    });
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty()
            || l.starts_with("//")
            || matches!(l, "});" | "}" | "{")
            || (l.starts_with("test(") && l.ends_with('{'))
        {
            continue;
        }
        if let Some(c) = SET.captures(l)
            && let Some(source) = response_source(&c[2])
        {
            let name: String = c[1]
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() || ch == '_' { ch } else { '_' })
                .collect();
            s.captures.push((name, source));
            continue;
        }
        if let Some(c) = STATUS.captures(l)
            && let Ok(code) = c[1].parse::<u16>()
        {
            s.status = vec![code];
            continue;
        }
        s.untranslated.push(format!("{what}: {l}"));
    }
}

/// The settings a folder (or the collection) passes down.
#[derive(Clone, Default)]
struct Inherited {
    headers: Vec<(String, String)>,
    auth: Option<DraftAuth>,
}

fn inherit(blocks: &[Block], parent: &Inherited, renames: &mut Renames) -> Inherited {
    let mut scratch = DraftStep::default();
    let mut out = parent.clone();
    if let Some(h) = find(blocks, "headers") {
        for (k, v, on) in &h.pairs {
            if *on {
                out.headers.push((k.clone(), template(v, renames, &mut scratch.changes)));
            }
        }
    }
    if let Some(a) = auth(blocks, None, renames, &mut scratch) {
        out.auth = a;
    }
    out.headers.extend(scratch.headers);
    out
}

fn request(
    blocks: &[Block],
    folders: &[String],
    file: &str,
    up: &Inherited,
    renames: &mut Renames,
) -> Result<DraftStep, String> {
    let meta = find(blocks, "meta");
    let method_block = blocks
        .iter()
        .find(|b| {
            matches!(
                b.name.as_str(),
                "get" | "post" | "put" | "delete" | "patch" | "options" | "head" | "trace" | "connect"
            )
        })
        .ok_or_else(|| {
            if meta.is_some() {
                "no HTTP request in it (a GraphQL, gRPC or WebSocket request, or a script)".to_string()
            } else {
                "not a `.bru` request of Bruno 1.0 or later (re-save the collection in a current Bruno)"
                    .to_string()
            }
        })?;
    if method_block.get("url").is_none_or(|u| u.trim().is_empty()) {
        return Err("the request has no URL (in Bruno, such a request only fetches its OAuth2 token)".into());
    }
    let name = meta.and_then(|m| m.get("name")).unwrap_or("request").to_string();
    let mut s = DraftStep {
        name: if folders.is_empty() { name.clone() } else { format!("{} / {name}", folders.join(" / ")) },
        origin: file.to_string(),
        method: method_block.name.to_ascii_uppercase(),
        tags: folders.iter().map(|f| f.to_ascii_lowercase().replace(' ', "-")).collect(),
        ..DraftStep::default()
    };
    let mut url = method_block.get("url").unwrap_or("").to_string();
    if let Some(p) = find(blocks, "params:path") {
        for (k, v, _) in &p.pairs {
            url = url.replace(&format!(":{k}"), v);
        }
    }
    s.url = template(&url, renames, &mut s.changes);
    if !s.url.contains("://") && !s.url.starts_with("{{") {
        s.url = format!("http://{}", s.url);
        s.changes.push("the URL had no scheme: `http://` was added".into());
    }
    s.headers = up.headers.clone();
    if let Some(h) = find(blocks, "headers") {
        for (k, v, on) in &h.pairs {
            if *on {
                s.headers.retain(|(hk, _)| !hk.eq_ignore_ascii_case(k));
                s.headers.push((k.clone(), template(v, renames, &mut s.changes)));
            }
        }
    }
    // Query parameters already in the URL stay there; `params:query` repeats them.
    if let Some(q) = find(blocks, "params:query").or_else(|| find(blocks, "query"))
        && !url.contains('?')
    {
        for (k, v, on) in &q.pairs {
            if *on {
                s.query.push((k.clone(), template(v, renames, &mut s.changes)));
            }
        }
    }
    match auth(blocks, method_block.get("auth"), renames, &mut s) {
        Some(a) => s.auth = a,
        None => s.auth.clone_from(&up.auth),
    }
    let kind = method_block.get("body").unwrap_or("none");
    let body_text = |name: &str| find(blocks, name).map(|b| b.text.clone()).unwrap_or_default();
    s.body = match kind {
        "json" => {
            let text = template(&body_text("body:json"), renames, &mut s.changes);
            Some(match serde_json::from_str(&text) {
                Ok(v) => DraftBody::Json(v),
                Err(_) => DraftBody::Raw(text, Some("application/json".into())),
            })
        }
        "xml" => Some(DraftBody::Raw(
            template(&body_text("body:xml"), renames, &mut s.changes),
            Some("application/xml".into()),
        )),
        "text" => Some(DraftBody::Raw(
            template(&body_text("body:text"), renames, &mut s.changes),
            Some("text/plain".into()),
        )),
        "formUrlEncoded" => find(blocks, "body:form-urlencoded").map(|b| {
            DraftBody::Form(
                b.pairs
                    .iter()
                    .filter(|(_, _, on)| *on)
                    .map(|(k, v, _)| (k.clone(), template(v, renames, &mut s.changes)))
                    .collect(),
            )
        }),
        "multipartForm" => find(blocks, "body:multipart-form").map(|b| {
            DraftBody::Multipart(
                b.pairs
                    .iter()
                    .filter(|(_, _, on)| *on)
                    .map(|(k, v, _)| match v.strip_prefix("@file(").and_then(|r| r.strip_suffix(')')) {
                        Some(path) => (k.clone(), path.split('|').next().unwrap_or(path).to_string(), true),
                        None => (k.clone(), template(v, renames, &mut s.changes), false),
                    })
                    .collect(),
            )
        }),
        "graphql" => {
            let query = template(&body_text("body:graphql"), renames, &mut s.changes);
            let vars: Json = serde_json::from_str(&body_text("body:graphql:vars")).unwrap_or(Json::Null);
            Some(DraftBody::Json(serde_json::json!({"query": query, "variables": vars})))
        }
        "none" => None,
        other => {
            s.untranslated.push(format!("body `{other}`"));
            None
        }
    };
    if s.body.is_some() {
        s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type") || kind == "xml" || kind == "text");
    }
    if let Some(v) = find(blocks, "vars:post-response") {
        for (k, expr, on) in &v.pairs {
            match response_source(expr) {
                Some(src) if *on => s.captures.push((k.clone(), src)),
                Some(_) => {}
                None => s.untranslated.push(format!("vars:post-response {k}: {expr}")),
            }
        }
    }
    if let Some(a) = find(blocks, "assert") {
        for (target, rule, on) in &a.pairs {
            if *on && !assertion(target, rule, &mut s) {
                s.untranslated.push(format!("assert {target}: {rule}"));
            }
        }
    }
    if let Some(b) = find(blocks, "script:post-response") {
        scripts(&b.text, &mut s, "post-response script");
    }
    if let Some(b) = find(blocks, "tests") {
        scripts(&b.text, &mut s, "tests");
    }
    if let Some(b) = find(blocks, "script:pre-request").filter(|b| !b.text.trim().is_empty()) {
        s.untranslated.push(format!(
            "pre-request script: {}",
            b.text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
        ));
    }
    if let Some(v) = find(blocks, "vars:pre-request").filter(|v| !v.pairs.is_empty()) {
        let names: Vec<&str> = v.pairs.iter().map(|(k, _, _)| k.as_str()).collect();
        s.untranslated.push(format!("vars:pre-request {} (set them under `vars:`)", names.join(", ")));
    }
    s.description = find(blocks, "docs").map(|d| d.text.trim().to_string()).filter(|d| !d.is_empty());
    Ok(s)
}

/// An imported environment: its name and its vars.
pub type Environment = (String, Vec<(String, String)>);

/// The draft of a Bruno collection folder, its environments, and the environment
/// variables their secrets are read from.
pub fn collection(
    dir: &Path,
    renames: &mut Renames,
) -> Result<(Draft, Vec<Environment>, Vec<String>), String> {
    // `bruno.json` and `collection.bru`, or the YAML format's `opencollection.yml`.
    let (name, root_blocks) = match std::fs::read_to_string(dir.join("bruno.json")) {
        Ok(manifest) => {
            let manifest: Json =
                serde_json::from_str(&manifest).map_err(|e| format!("bruno.json is not JSON: {e}"))?;
            let name = manifest.get("name").and_then(Json::as_str).unwrap_or("bruno").to_string();
            (name, read_blocks(&dir.join("collection.bru")).unwrap_or_default())
        }
        Err(e) => {
            let yaml = ["opencollection.yml", "opencollection.yaml"]
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.is_file());
            let Some(path) = yaml else {
                return Err(format!("not a Bruno collection: no bruno.json ({e}) nor opencollection.yml"));
            };
            let doc = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| super::opencollection::parse(&t))
                .ok_or_else(|| format!("{} is not a YAML mapping", path.display()))?;
            let name = doc.pointer("/info/name").and_then(Json::as_str).unwrap_or("bruno").to_string();
            (name, super::opencollection::blocks(&doc))
        }
    };
    let mut d = Draft { name, ..Draft::default() };
    if let Some(doc) = find(&root_blocks, "docs") {
        d.description = Some(doc.text.trim().to_string()).filter(|t| !t.is_empty());
    }
    if let Some(v) = find(&root_blocks, "vars:pre-request") {
        for (k, v, on) in &v.pairs {
            if *on {
                let key = renames.name(k);
                d.vars.push((key, template(v, renames, &mut Vec::new())));
            }
        }
    }
    let up = inherit(&root_blocks, &Inherited::default(), renames);
    walk(dir, dir, &[], &up, renames, &mut d)?;
    let mut envs = Vec::new();
    let mut secrets = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("environments")) {
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "bru" || x == "yml" || x == "yaml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
            let b = if p.extension().is_some_and(|x| x == "bru") {
                blocks(&text)
            } else {
                super::opencollection::parse(&text)
                    .map(|doc| super::opencollection::environment(&doc))
                    .unwrap_or_default()
            };
            let secret: Vec<String> = find(&b, "vars:secret").map(|s| s.list.clone()).unwrap_or_default();
            let mut vars = Vec::new();
            for (k, v, on) in find(&b, "vars").map(|v| v.pairs.clone()).unwrap_or_default() {
                if !on {
                    continue;
                }
                let key = renames.name(&k);
                if secret.contains(&k) || crate::secret::is_secret_name(&key) {
                    let env = key.to_ascii_uppercase();
                    vars.push((key, format!("{{{{ secret_env('{env}') }}}}")));
                    secrets.push(env);
                } else {
                    vars.push((key, template(&v, renames, &mut Vec::new())));
                }
            }
            for k in &secret {
                let key = renames.name(k);
                if !vars.iter().any(|(n, _)| *n == key) {
                    let env = key.to_ascii_uppercase();
                    vars.push((key, format!("{{{{ secret_env('{env}') }}}}")));
                    secrets.push(env);
                }
            }
            let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            envs.push((name, vars));
        }
    }
    super::unique_names(&mut d);
    Ok((d, envs, secrets))
}

fn walk(
    root: &Path,
    dir: &Path,
    folders: &[String],
    up: &Inherited,
    renames: &mut Renames,
    d: &mut Draft,
) -> Result<(), String> {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).map_err(|e| e.to_string())?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    let mut requests: Vec<(f64, DraftStep)> = Vec::new();
    for p in &entries {
        let file = p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let request_file = p.extension().is_some_and(|x| x == "bru" || x == "yml" || x == "yaml")
            && !matches!(
                file.as_str(),
                "collection.bru"
                    | "folder.bru"
                    | "folder.yml"
                    | "folder.yaml"
                    | "opencollection.yml"
                    | "opencollection.yaml"
            );
        if p.is_file() && request_file {
            let Some(b) = read_blocks(p) else {
                d.skipped.push((
                    p.strip_prefix(root).unwrap_or(p).display().to_string(),
                    "not readable as a request".into(),
                ));
                continue;
            };
            let seq = find(&b, "meta")
                .and_then(|m| m.get("seq"))
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(f64::MAX);
            let rel = p.strip_prefix(root).unwrap_or(p).display().to_string();
            match request(&b, folders, &rel, up, renames) {
                Ok(s) => requests.push((seq, s)),
                Err(why) => d.skipped.push((rel, why)),
            }
        }
    }
    requests.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.requests.extend(requests.into_iter().map(|(_, s)| s));
    for p in &entries {
        let name = p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if p.is_dir() && name != "environments" && !name.starts_with('.') && name != "node_modules" {
            let folder_blocks = ["folder.bru", "folder.yml", "folder.yaml"]
                .iter()
                .find_map(|f| read_blocks(&p.join(f)))
                .unwrap_or_default();
            let folder_name =
                find(&folder_blocks, "meta").and_then(|m| m.get("name")).map_or(name, str::to_string);
            let here = inherit(&folder_blocks, up, renames);
            let mut path = folders.to_vec();
            path.push(folder_name);
            walk(root, p, &path, &here, renames, d)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bru_file_reads_into_blocks_and_a_step() {
        let text = "meta {\n  name: Create user\n  type: http\n  seq: 2\n}\n\npost {\n  url: {{baseUrl}}/users/:org\n  body: json\n  auth: bearer\n}\n\nparams:path {\n  org: acme\n}\n\nheaders {\n  X-Trace: on\n  ~X-Off: no\n}\n\nauth:bearer {\n  token: {{token}}\n}\n\nbody:json {\n  {\n    \"name\": \"ann\"\n  }\n}\n\nvars:post-response {\n  userId: res.body.id\n}\n\nassert {\n  res.status: eq 201\n  res.body.name: eq \"ann\"\n  res.body.id: isDefined\n}\n\nscript:post-response {\n  bru.setVar(\"loc\", res.headers.location);\n  console.log(res.body);\n}\n";
        let b = blocks(text);
        let s = request(
            &b,
            &["Users".to_string()],
            "users/create.bru",
            &Inherited::default(),
            &mut Renames::default(),
        )
        .expect("request");
        assert_eq!(s.name, "Users / Create user");
        assert_eq!((s.method.as_str(), s.url.as_str()), ("POST", "{{ baseUrl }}/users/acme"));
        assert_eq!(s.headers, [("X-Trace".to_string(), "on".to_string())]);
        assert!(matches!(&s.auth, Some(DraftAuth::Bearer(t)) if t == "{{ token }}"));
        assert!(matches!(&s.body, Some(DraftBody::Json(v)) if v["name"] == "ann"));
        assert_eq!(
            s.captures,
            [
                ("userId".to_string(), "$.id".to_string()),
                ("loc".to_string(), "{header: location}".to_string())
            ]
        );
        assert_eq!(s.status, [201]);
        assert_eq!(s.json.len(), 2);
        assert_eq!(s.untranslated, ["post-response script: console.log(res.body);"]);
    }
}
