//! Hurl files: each entry (a method line, headers, sections, a body, then `HTTP …` with
//! captures and asserts) becomes a step. Hurl's `{{var}}` is baton's; the predicates baton
//! has (`==`, `exists`, `count`, `contains`, `matches`, comparisons, `is…` types) become
//! expectations, and any other line a `# not translated:` comment.

use serde_json::Value as Json;

use super::{Draft, DraftAuth, DraftBody, DraftStep, Renames, template};

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"];

#[derive(PartialEq, Clone, Copy)]
enum Section {
    Headers,
    Query,
    Form,
    Multipart,
    Cookies,
    BasicAuth,
    Options,
    Response,
    Captures,
    Asserts,
    Other,
}

fn section(name: &str) -> Section {
    match name {
        "QueryStringParams" | "Query" => Section::Query,
        "FormParams" | "Form" => Section::Form,
        "MultipartFormData" | "Multipart" => Section::Multipart,
        "Cookies" => Section::Cookies,
        "BasicAuth" => Section::BasicAuth,
        "Options" => Section::Options,
        "Captures" => Section::Captures,
        "Asserts" => Section::Asserts,
        _ => Section::Other,
    }
}

/// A quoted Hurl string (`"a \"b\""`) or a bare word, and the rest of the line.
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        out.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                }
                '"' => return Some((out, &rest[i + 1..])),
                c => out.push(c),
            }
        }
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_string(), &s[end..]))
}

/// A Hurl predicate value as JSON: a quoted string, a number, true/false/null.
fn value(s: &str) -> Option<Json> {
    let s = s.trim();
    if s.starts_with('"') {
        return quoted(s).map(|(v, _)| Json::String(v));
    }
    serde_json::from_str(s).ok()
}

/// The draft of a Hurl file.
pub fn file(text: &str, name: &str, origin: &str, renames: &mut Renames) -> Draft {
    let mut d = Draft { name: name.to_string(), ..Draft::default() };
    let mut cur: Option<DraftStep> = None;
    let mut sec = Section::Headers;
    let mut body_lines: Vec<String> = Vec::new();
    let mut in_fence = false;
    let finish = |s: Option<DraftStep>, body: &mut Vec<String>, d: &mut Draft| {
        if let Some(mut s) = s {
            set_body(&mut s, body);
            same_entry_captures(&mut s);
            d.requests.push(s);
        }
        body.clear();
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if in_fence {
            body_lines.push(raw.to_string());
            if line.trim() == "```" {
                in_fence = false;
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let first = t.split_whitespace().next().unwrap_or("");
        if METHODS.contains(&first) && t.split_whitespace().nth(1).is_some() {
            finish(cur.take(), &mut body_lines, &mut d);
            let mut s = DraftStep {
                method: first.to_string(),
                origin: format!("{origin}:{}", i + 1),
                ..DraftStep::default()
            };
            let url = t[first.len()..].trim();
            s.url = template(url, renames, &mut s.changes);
            cur = Some(s);
            sec = Section::Headers;
            continue;
        }
        let Some(s) = cur.as_mut() else { continue };
        if first.starts_with("HTTP") && (first == "HTTP" || first.starts_with("HTTP/")) {
            set_body(s, &mut body_lines);
            let status = t.split_whitespace().nth(1).unwrap_or("*");
            if let Ok(code) = status.parse::<u16>() {
                s.status.push(code);
            }
            sec = Section::Response;
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sec = section(name);
            if sec == Section::Other {
                s.untranslated.push(format!("section [{name}]"));
            }
            continue;
        }
        match sec {
            Section::Headers | Section::Response => {
                // Before `HTTP`: a header or the body; after: a response header to check.
                let is_header = t.split_once(':').is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
                if sec == Section::Headers && is_header && body_lines.is_empty() {
                    let (k, v) = t.split_once(':').unwrap_or_default();
                    let v = template(v.trim(), renames, &mut s.changes);
                    s.headers.push((k.trim().to_string(), v));
                } else if sec == Section::Response && is_header {
                    let (k, v) = t.split_once(':').unwrap_or_default();
                    s.header_checks.push((k.trim().to_ascii_lowercase(), Json::String(v.trim().to_string())));
                } else if sec == Section::Headers {
                    if t.starts_with("```") {
                        in_fence = t != "```" || body_lines.is_empty();
                    }
                    body_lines.push(raw.to_string());
                } else {
                    s.untranslated.push(t.to_string());
                }
            }
            Section::Query | Section::Form | Section::Multipart | Section::Cookies | Section::BasicAuth => {
                let Some((k, v)) = t.split_once(':') else {
                    s.untranslated.push(t.to_string());
                    continue;
                };
                let (k, v) = (k.trim().to_string(), v.trim());
                let v = quoted(v).map_or_else(
                    || v.to_string(),
                    |(q, _)| if v.starts_with('"') { q } else { v.to_string() },
                );
                let v = template(&v, renames, &mut s.changes);
                match sec {
                    Section::Query => s.query.push((k, v)),
                    Section::Form => match &mut s.body {
                        Some(DraftBody::Form(f)) => f.push((k, v)),
                        _ => s.body = Some(DraftBody::Form(vec![(k, v)])),
                    },
                    Section::Multipart => {
                        let part = match v.strip_prefix("file,") {
                            Some(f) => (k, f.split(';').next().unwrap_or(f).trim().to_string(), true),
                            None => (k, v, false),
                        };
                        match &mut s.body {
                            Some(DraftBody::Multipart(p)) => p.push(part),
                            _ => s.body = Some(DraftBody::Multipart(vec![part])),
                        }
                    }
                    Section::Cookies => {
                        let cookie = format!("{k}={v}");
                        match s.headers.iter_mut().find(|(h, _)| h.eq_ignore_ascii_case("cookie")) {
                            Some((_, c)) => c.push_str(&format!("; {cookie}")),
                            None => s.headers.push(("Cookie".into(), cookie)),
                        }
                    }
                    _ => s.auth = Some(DraftAuth::Basic(k, v)),
                }
            }
            Section::Options => s.untranslated.push(format!("option {t}")),
            Section::Captures => capture(t, s),
            Section::Asserts => assert(t, s),
            Section::Other => s.untranslated.push(t.to_string()),
        }
    }
    finish(cur.take(), &mut body_lines, &mut d);
    for (n, s) in d.requests.iter_mut().enumerate() {
        s.name = super::short_name(n + 1, &s.method, &s.url);
        super::bearer_from_header(s);
    }
    d
}

fn set_body(s: &mut DraftStep, lines: &mut Vec<String>) {
    if lines.is_empty() || s.body.is_some() {
        lines.clear();
        return;
    }
    let text = lines.join("\n");
    lines.clear();
    let trimmed = text.trim();
    if let Some(inner) = trimmed.strip_prefix("```") {
        let (lang, rest) = inner.split_once('\n').unwrap_or(("", ""));
        let content = rest.trim_end().strip_suffix("```").unwrap_or(rest).to_string();
        s.body = Some(match lang.trim() {
            "json" => match serde_json::from_str(&content) {
                Ok(v) => DraftBody::Json(v),
                Err(_) => DraftBody::Raw(content, Some("application/json".into())),
            },
            "xml" => DraftBody::Raw(content, Some("application/xml".into())),
            _ => DraftBody::Raw(content, None),
        });
    } else if let Some(f) = trimmed.strip_prefix("file,") {
        s.body = Some(DraftBody::File(f.trim_end_matches(';').trim().to_string()));
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        s.body = Some(match serde_json::from_str(trimmed) {
            Ok(v) => DraftBody::Json(v),
            Err(_) => DraftBody::Raw(trimmed.to_string(), Some("application/json".into())),
        });
    } else if trimmed.starts_with('<') {
        s.body = Some(DraftBody::Raw(trimmed.to_string(), Some("application/xml".into())));
    } else if let Some((q, _)) = quoted(trimmed).filter(|_| trimmed.starts_with('"')) {
        s.body = Some(DraftBody::Raw(q, None));
    } else {
        s.body = Some(DraftBody::Raw(trimmed.to_string(), None));
    }
}

/// Hurl asserts may read what their own entry captured; a baton step's expectations see
/// only earlier steps' captures, so such asserts are left out (and said so).
fn same_entry_captures(s: &mut DraftStep) {
    let names: Vec<String> = s.captures.iter().map(|(n, _)| n.clone()).collect();
    let reads = |v: &Json| {
        let text = v.to_string();
        names
            .iter()
            .any(|n| text.contains(&format!("{{{{{n}}}}}")) || text.contains(&format!("{{{{ {n} }}}}")))
    };
    let mut left = Vec::new();
    s.json.retain(|(path, v)| {
        let keep = !reads(v);
        if !keep {
            left.push(format!("assert jsonpath \"{path}\" reads a capture of its own entry"));
        }
        keep
    });
    s.header_checks.retain(|(h, v)| {
        let keep = !reads(v);
        if !keep {
            left.push(format!("assert header \"{h}\" reads a capture of its own entry"));
        }
        keep
    });
    s.untranslated.extend(left);
}

fn capture(t: &str, s: &mut DraftStep) {
    let Some((name, rest)) = t.split_once(':') else {
        s.untranslated.push(format!("capture {t}"));
        return;
    };
    let name = name.trim().to_string();
    let rest = rest.trim();
    let (kind, arg) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(k, a)| (k, a.trim()));
    let arg_text = quoted(arg).map(|(q, _)| q).unwrap_or_default();
    // A query built from variables, or a cookie's attribute (`foo[Path]`), has no
    // baton equivalent.
    if arg_text.contains("{{") || (kind == "cookie" && arg_text.contains('[')) {
        s.untranslated.push(format!("capture {t}"));
        return;
    }
    // Inside a flow mapping, `[`, `]`, `{`, `}` and `,` would end the value: quoted then.
    let json = |v: &str| {
        if v.contains(['[', ']', '{', '}', ',']) {
            serde_json::to_string(v).unwrap_or_default()
        } else {
            super::scalar(v)
        }
    };
    let source = match kind {
        "jsonpath" if !arg_text.is_empty() => arg_text,
        "header" => format!("{{header: {}}}", json(&arg_text)),
        "cookie" => format!("{{cookie: {}}}", json(&arg_text)),
        "regex" => format!("{{regex: {}}}", serde_json::to_string(&arg_text).unwrap_or_default()),
        "status" => "status".into(),
        "body" => "body".into(),
        "url" => "{url: true}".into(),
        "duration" => "{duration: true}".into(),
        _ => {
            s.untranslated.push(format!("capture {t}"));
            return;
        }
    };
    if arg.contains(" | ") || arg.ends_with('|') {
        s.untranslated.push(format!("filters of capture `{name}`: {arg}"));
    }
    s.captures.push((name, source));
}

fn assert(t: &str, s: &mut DraftStep) {
    let (query, rest) = t.split_once(char::is_whitespace).map_or((t, ""), |(q, r)| (q, r.trim()));
    let (arg, rest) = match query {
        "jsonpath" | "header" | "xpath" | "regex" | "cookie" => match quoted(rest) {
            Some((a, r)) => (a, r.trim()),
            None => return s.untranslated.push(format!("assert {t}")),
        },
        _ => (String::new(), rest),
    };
    if arg.contains("{{") {
        return s.untranslated.push(format!("assert {t} (a query built from variables)"));
    }
    // `count` after the query: the length of what it selects.
    let (count, rest) = match rest.strip_prefix("count") {
        Some(r) => (true, r.trim()),
        None => (false, rest),
    };
    let (negated, rest) = match rest.strip_prefix("not ") {
        Some(r) => (true, r.trim()),
        None => (false, rest),
    };
    let (op, operand) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(o, v)| (o, v.trim()));
    let matcher: Option<Json> = match (op, negated) {
        ("==", false) => value(operand).map(|v| if count { serde_json::json!({"len": v}) } else { v }),
        ("exists", n) => Some(serde_json::json!({"exists": !n})),
        ("isString", false) => Some(serde_json::json!({"type": "string"})),
        ("isInteger", false) => Some(serde_json::json!({"type": "integer"})),
        ("isFloat" | "isNumber", false) => Some(serde_json::json!({"type": "number"})),
        ("isBoolean", false) => Some(serde_json::json!({"type": "boolean"})),
        ("isCollection" | "isList", false) => Some(serde_json::json!({"type": "array"})),
        ("isObject", false) => Some(serde_json::json!({"type": "object"})),
        ("contains" | "includes", false) => value(operand).map(|v| serde_json::json!({"contains": v})),
        ("matches", false) => {
            let re = operand
                .strip_prefix('/')
                .and_then(|r| r.strip_suffix('/'))
                .map(str::to_string)
                .or_else(|| quoted(operand).map(|(q, _)| q));
            re.map(|r| serde_json::json!({"matches": r}))
        }
        (">" | ">=" | "<" | "<=", false) => {
            let key = match op {
                ">" => "gt",
                ">=" => "gte",
                "<" => "lt",
                _ => "lte",
            };
            value(operand).map(|v| {
                let m = serde_json::json!({key: v});
                if count { serde_json::json!({"len": m}) } else { m }
            })
        }
        _ => None,
    };
    let Some(m) = matcher else { return s.untranslated.push(format!("assert {t}")) };
    match query {
        "jsonpath" => s.json.push((arg, m)),
        "header" => s.header_checks.push((arg.to_ascii_lowercase(), m)),
        "status" if op == "==" => {
            if let Some(code) = m.as_u64().and_then(|c| u16::try_from(c).ok()) {
                s.status = vec![code];
            }
        }
        "body" if op == "contains" => {
            if let Some(text) = m.get("contains").and_then(Json::as_str) {
                s.body_contains.push(text.to_string());
            }
        }
        "duration" if matches!(op, "<" | "<=" | ">" | ">=") => {
            let (key, ms) = m
                .as_object()
                .and_then(|o| o.iter().next())
                .map(|(k, v)| (k.clone(), v.as_u64()))
                .unwrap_or_default();
            match ms {
                Some(ms) => s.duration.push((key, ms)),
                None => s.untranslated.push(format!("assert {t}")),
            }
        }
        _ => s.untranslated.push(format!("assert {t}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sections_captures_and_asserts_become_steps() {
        let text = r#"# Log in, then read
POST {{base}}/login
Accept: application/json
[FormParams]
user: demo
password: {{password}}
HTTP 200
[Captures]
token: jsonpath "$.access_token"
where: header "Location"
[Asserts]
jsonpath "$.token_type" == "Bearer"
jsonpath "$.scopes" count == 2
jsonpath "$.id" exists
header "Content-Type" contains "json"
duration < 1000
xpath "//x" exists

GET {{base}}/items?x=1
Authorization: Bearer {{token}}
```json
{"a": 1}
```
HTTP *
"#;
        let d = file(text, "t", "t.hurl", &mut Renames::default());
        assert_eq!(d.requests.len(), 2);
        let first = &d.requests[0];
        assert_eq!((first.method.as_str(), first.status.as_slice()), ("POST", &[200][..]));
        assert!(matches!(&first.body, Some(DraftBody::Form(f)) if f.len() == 2));
        assert_eq!(first.captures[0], ("token".into(), "$.access_token".into()));
        assert_eq!(first.captures[1].1, "{header: Location}");
        assert_eq!(first.json.len(), 3, "{:?}", first.json);
        assert_eq!(first.json[1].1, serde_json::json!({"len": 2}));
        assert_eq!(first.duration, [("lt".to_string(), 1000)]);
        assert_eq!(first.untranslated, ["assert xpath \"//x\" exists"]);
        let second = &d.requests[1];
        assert!(matches!(&second.body, Some(DraftBody::Json(v)) if v["a"] == 1), "{:?}", second.body);
        assert!(second.status.is_empty());
        assert_eq!(second.origin, "t.hurl:19");
    }
}
