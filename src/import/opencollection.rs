//! Bruno's YAML format (OpenCollection): `opencollection.yml`, `folder.yml`, one `.yml`
//! per request and `environments/*.yml`, read into the same blocks a `.bru` file gives,
//! so both formats share one translation.

use serde_json::Value as Json;

use super::bruno::Block;

/// A YAML document as JSON (`None`: not YAML, or not a mapping).
pub fn parse(text: &str) -> Option<Json> {
    let doc: Json = serde_saphyr::from_str(text).ok()?;
    doc.is_object().then_some(doc)
}

fn block(name: &str) -> Block {
    Block { name: name.to_string(), pairs: Vec::new(), text: String::new(), list: Vec::new() }
}

/// A scalar as text; a typed value (`{type: number, data: "42"}`) as its data.
fn scalar(v: Option<&Json>) -> String {
    match v {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(Json::Object(o)) if o.contains_key("data") => scalar(o.get("data")),
        Some(other) => other.to_string(),
    }
}

/// `[{name, value, disabled?}]` as block pairs.
fn pairs(list: Option<&Json>) -> Vec<(String, String, bool)> {
    list.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let name = item.get("name").and_then(Json::as_str)?;
            let on = item.get("disabled").and_then(Json::as_bool) != Some(true)
                && item.get("enabled").and_then(Json::as_bool) != Some(false);
            Some((name.to_string(), scalar(item.get("value")), on))
        })
        .collect()
}

/// The `.bru` body mode of an OpenCollection body type.
fn body_mode(kind: &str) -> &str {
    match kind {
        "form-urlencoded" | "formUrlEncoded" => "formUrlEncoded",
        "multipart-form" | "multipartForm" => "multipartForm",
        other => other,
    }
}

/// `auth: inherit | none | {type: bearer, token: …}` as the auth mode and its block.
fn auth(v: Option<&Json>, out: &mut Vec<Block>) -> Option<String> {
    match v? {
        Json::String(mode) => Some(mode.clone()),
        Json::Object(o) => {
            let mode = o.get("type").and_then(Json::as_str).unwrap_or("none").to_string();
            let mut b = block(&format!("auth:{mode}"));
            for (k, v) in o.iter().filter(|(k, _)| *k != "type") {
                b.pairs.push((k.clone(), scalar(Some(v)), true));
            }
            out.push(b);
            Some(mode)
        }
        _ => None,
    }
}

/// The blocks of a request, folder or collection YAML document.
pub fn blocks(doc: &Json) -> Vec<Block> {
    let mut out = Vec::new();
    if let Some(info) = doc.get("info").and_then(Json::as_object) {
        let mut meta = block("meta");
        for key in ["name", "type", "seq"] {
            if let Some(v) = info.get(key) {
                meta.pairs.push((key.to_string(), scalar(Some(v)), true));
            }
        }
        out.push(meta);
    }
    // A request has `http:`; a folder or the collection, `request:` defaults.
    let http = doc.get("http");
    let settings = http.or_else(|| doc.get("request"));
    if let Some(h) = http {
        let method = h.get("method").and_then(Json::as_str).unwrap_or("GET").to_ascii_lowercase();
        let mut m = block(&method);
        m.pairs.push(("url".into(), scalar(h.get("url")), true));
        let body = h.get("body");
        let kind = body.and_then(|b| b.get("type")).and_then(Json::as_str).unwrap_or("none");
        m.pairs.push(("body".into(), body_mode(kind).to_string(), true));
        if let Some(mode) = auth(h.get("auth"), &mut out) {
            m.pairs.push(("auth".into(), mode, true));
        }
        out.push(m);
        if let Some(b) = body {
            let data = b.get("data");
            match body_mode(kind) {
                "formUrlEncoded" => {
                    let mut f = block("body:form-urlencoded");
                    f.pairs = pairs(data);
                    out.push(f);
                }
                "multipartForm" => {
                    let mut f = block("body:multipart-form");
                    f.pairs = pairs(data);
                    out.push(f);
                }
                "graphql" => {
                    let mut q = block("body:graphql");
                    q.text = scalar(data.and_then(|d| d.get("query")).or(data));
                    out.push(q);
                    if let Some(vars) = data.and_then(|d| d.get("variables")) {
                        let mut v = block("body:graphql:vars");
                        v.text = scalar(Some(vars));
                        out.push(v);
                    }
                }
                "none" => {}
                other => {
                    let mut t = block(&format!("body:{other}"));
                    t.text = scalar(data);
                    out.push(t);
                }
            }
        }
        let params: Vec<&Json> = h.get("params").and_then(Json::as_array).into_iter().flatten().collect();
        for (kind, name) in [("query", "params:query"), ("path", "params:path")] {
            let list: Vec<Json> = params
                .iter()
                .filter(|p| p.get("type").and_then(Json::as_str).unwrap_or("query") == kind)
                .map(|p| (*p).clone())
                .collect();
            if !list.is_empty() {
                let mut b = block(name);
                b.pairs = pairs(Some(&Json::Array(list)));
                out.push(b);
            }
        }
    }
    if let Some(s) = settings {
        if let Some(headers) = s.get("headers") {
            let mut b = block("headers");
            b.pairs = pairs(Some(headers));
            out.push(b);
        }
        if http.is_none()
            && let Some(mode) = auth(s.get("auth"), &mut out)
        {
            let mut a = block("auth");
            a.pairs.push(("mode".into(), mode, true));
            out.push(a);
        }
        if let Some(vars) = s.get("variables") {
            let mut b = block("vars:pre-request");
            b.pairs = pairs(Some(vars));
            out.push(b);
        }
    }
    let runtime = doc.get("runtime").or(settings);
    if let Some(r) = runtime {
        if http.is_some()
            && let Some(vars) = r.get("variables")
        {
            let mut b = block("vars:pre-request");
            b.pairs = pairs(Some(vars));
            out.push(b);
        }
        for script in r.get("scripts").and_then(Json::as_array).into_iter().flatten() {
            let name = match script.get("type").and_then(Json::as_str).unwrap_or("") {
                "before-request" => "script:pre-request",
                "after-response" => "script:post-response",
                "tests" => "tests",
                _ => continue,
            };
            let mut b = block(name);
            b.text = scalar(script.get("code"));
            out.push(b);
        }
        let assertions: Vec<&Json> =
            r.get("assertions").and_then(Json::as_array).into_iter().flatten().collect();
        if !assertions.is_empty() {
            let mut b = block("assert");
            for a in assertions {
                let expr = scalar(a.get("expression"));
                let op = scalar(a.get("operator"));
                let value = scalar(a.get("value"));
                let on = a.get("enabled").and_then(Json::as_bool) != Some(false);
                b.pairs.push((expr, format!("{op} {value}").trim().to_string(), on));
            }
            out.push(b);
        }
    }
    if let Some(docs) = doc.get("docs") {
        let mut b = block("docs");
        b.text = scalar(Some(docs));
        out.push(b);
    }
    out
}

/// An environment file's blocks: `vars` and the `vars:secret` names.
pub fn environment(doc: &Json) -> Vec<Block> {
    let mut vars = block("vars");
    let mut secret = block("vars:secret");
    for item in doc.get("variables").and_then(Json::as_array).into_iter().flatten() {
        let Some(name) = item.get("name").and_then(Json::as_str) else { continue };
        if item.get("secret").and_then(Json::as_bool) == Some(true) {
            secret.list.push(name.to_string());
        } else {
            let on = item.get("enabled").and_then(Json::as_bool) != Some(false);
            vars.pairs.push((name.to_string(), scalar(item.get("value")), on));
        }
    }
    vec![vars, secret]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yaml_request_reads_into_the_blocks_of_its_bru_twin() {
        let doc = parse(
            "info: {name: Create, type: http, seq: 2}\nhttp:\n  method: POST\n  url: '{{host}}/items'\n  headers:\n    - {name: X-Trace, value: on}\n    - {name: X-Off, value: no, disabled: true}\n  params:\n    - {name: page, value: '2', type: query}\n  body:\n    type: json\n    data: '{\"name\": \"ann\"}'\n  auth: {type: bearer, token: '{{token}}'}\nruntime:\n  variables:\n    - {name: count, value: {type: number, data: '42'}}\n  scripts:\n    - {type: after-response, code: 'bru.setVar(\"id\", res.body.id);'}\n  assertions:\n    - {expression: res.status, operator: eq, value: '201'}\n",
        )
        .expect("yaml");
        let b = blocks(&doc);
        let get = |name: &str| b.iter().find(|x| x.name == name).unwrap_or_else(|| panic!("{name} in {b:?}"));
        assert_eq!(get("meta").get("seq"), Some("2"));
        assert_eq!(get("post").get("body"), Some("json"));
        assert_eq!(get("post").get("auth"), Some("bearer"));
        assert_eq!(get("auth:bearer").get("token"), Some("{{token}}"));
        assert_eq!(get("headers").pairs.len(), 2);
        assert!(!get("headers").pairs[1].2, "disabled stays disabled");
        assert_eq!(get("params:query").get("page"), Some("2"));
        assert_eq!(get("body:json").text, "{\"name\": \"ann\"}");
        assert_eq!(get("vars:pre-request").get("count"), Some("42"));
        assert!(get("script:post-response").text.contains("setVar"));
        assert_eq!(get("assert").get("res.status"), Some("eq 201"));
    }
}
