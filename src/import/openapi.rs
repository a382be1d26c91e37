//! OpenAPI 3.x (YAML or JSON): one request per operation, against the first server, with
//! path and required query parameters from their examples (or a variable to set), the
//! JSON request body from its example (or a skeleton built from the schema), the
//! security scheme as credentials read from the environment, and the first 2xx response
//! as the expected status.

use serde_json::{Map, Value as Json, json};

use super::{Draft, DraftAuth, DraftBody, DraftStep};

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The draft of a spec, or why it is not one.
pub fn spec(doc: &Json, file: &str) -> Result<Draft, String> {
    let version = doc.get("openapi").and_then(Json::as_str).ok_or_else(|| {
        if doc.get("swagger").is_some() {
            "Swagger 2.0: only OpenAPI 3 is read (convert it first, e.g. with swagger2openapi)".to_string()
        } else {
            "not an OpenAPI document: no `openapi:` version".to_string()
        }
    })?;
    if !version.starts_with('3') {
        return Err(format!("OpenAPI {version}: only 3.x is read"));
    }
    let info = doc.get("info");
    let mut d = Draft {
        name: info.and_then(|i| i.get("title")).and_then(Json::as_str).unwrap_or("API").to_string(),
        description: info
            .and_then(|i| i.get("description"))
            .and_then(Json::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        ..Draft::default()
    };
    let server = doc
        .pointer("/servers/0/url")
        .and_then(Json::as_str)
        .map(|u| server_url(u, doc.pointer("/servers/0/variables")))
        .unwrap_or_default();
    let server = if server.starts_with("http://") || server.starts_with("https://") {
        server
    } else {
        // A relative server (`/v1`) or none: the origin is the user's to set.
        format!("http://127.0.0.1:8080{server}")
    };
    d.vars.push((
        "base_url".into(),
        format!("{{{{ env('BASE_URL', default='{}') }}}}", server.trim_end_matches('/')),
    ));
    let schemes = doc.pointer("/components/securitySchemes").cloned().unwrap_or(Json::Null);
    let global_security = doc.get("security").cloned();
    let mut extra_vars: Vec<(String, String)> = Vec::new();
    let paths = doc.get("paths").and_then(Json::as_object).cloned().unwrap_or_default();
    for (path, item) in &paths {
        let shared_params = item.get("parameters").and_then(Json::as_array).cloned().unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(*method) else { continue };
            let mut s = DraftStep {
                method: method.to_ascii_uppercase(),
                origin: format!("{file}: {} {path}", method.to_ascii_uppercase()),
                ..DraftStep::default()
            };
            s.name = op
                .get("operationId")
                .and_then(Json::as_str)
                .map_or_else(|| format!("{} {path}", s.method), str::to_string);
            s.description = op.get("summary").and_then(Json::as_str).map(str::to_string);
            s.tags = op
                .get("tags")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(|t| t.to_ascii_lowercase().replace(' ', "-"))
                .collect();
            let mut url_path = path.clone();
            let params: Vec<Json> = shared_params
                .iter()
                .chain(op.get("parameters").and_then(Json::as_array).into_iter().flatten())
                .map(|p| resolve(doc, p))
                .collect();
            for p in &params {
                let (Some(name), Some(place)) =
                    (p.get("name").and_then(Json::as_str), p.get("in").and_then(Json::as_str))
                else {
                    continue;
                };
                let var = identifier(name);
                let example = example_of(doc, p);
                match place {
                    "path" => {
                        url_path = url_path.replace(&format!("{{{name}}}"), &format!("{{{{ {var} }}}}"));
                        let value = example.map_or_else(|| "1".to_string(), |e| text(&e));
                        if !extra_vars.iter().any(|(k, _)| *k == var)
                            && !d.vars.iter().any(|(k, _)| *k == var)
                        {
                            extra_vars.push((var, value));
                        }
                    }
                    "query" if p.get("required").and_then(Json::as_bool) == Some(true) => {
                        s.query.push((name.to_string(), example.map_or_else(String::new, |e| text(&e))));
                    }
                    "header" if p.get("required").and_then(Json::as_bool) == Some(true) => {
                        s.headers.push((name.to_string(), example.map_or_else(String::new, |e| text(&e))));
                    }
                    _ => {}
                }
            }
            s.url = format!("{{{{ base_url }}}}{url_path}");
            if let Some(body) = op.get("requestBody").map(|b| resolve(doc, b)) {
                request_body(doc, &body, &mut s);
            }
            let security = op.get("security").cloned().or_else(|| global_security.clone());
            credentials(security.as_ref(), &schemes, &mut s, &mut extra_vars);
            if let Some(code) = op
                .get("responses")
                .and_then(Json::as_object)
                .and_then(|r| r.keys().find(|k| k.starts_with('2')))
                .and_then(|k| k.parse::<u16>().ok())
            {
                s.status.push(code);
            }
            d.requests.push(s);
        }
    }
    d.vars.extend(extra_vars);
    super::unique_names(&mut d);
    Ok(d)
}

fn identifier(name: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `https://{region}.api.example.com/{version}` with its variables' defaults.
fn server_url(url: &str, vars: Option<&Json>) -> String {
    let mut out = url.to_string();
    for (k, v) in vars.and_then(Json::as_object).into_iter().flatten() {
        if let Some(def) = v.get("default").and_then(Json::as_str) {
            out = out.replace(&format!("{{{k}}}"), def);
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/…`), a few levels deep.
fn resolve(doc: &Json, v: &Json) -> Json {
    let mut v = v.clone();
    for _ in 0..8 {
        let Some(r) = v.get("$ref").and_then(Json::as_str) else { break };
        let Some(target) = r.strip_prefix('#').and_then(|p| doc.pointer(p)) else { break };
        v = target.clone();
    }
    v
}

fn example_of(doc: &Json, p: &Json) -> Option<Json> {
    p.get("example")
        .cloned()
        .or_else(|| {
            p.get("examples")
                .and_then(Json::as_object)
                .and_then(|m| m.values().next())
                .map(|e| resolve(doc, e))
                .and_then(|e| e.get("value").cloned())
        })
        .or_else(|| {
            p.get("schema")
                .map(|s| resolve(doc, s))
                .and_then(|s| s.get("example").or_else(|| s.get("default")).cloned())
        })
}

fn request_body(doc: &Json, body: &Json, s: &mut DraftStep) {
    let Some(content) = body.get("content").and_then(Json::as_object) else { return };
    if let Some(media) = content.iter().find(|(k, _)| k.contains("json")).map(|(_, v)| v) {
        let example = example_of(doc, media).unwrap_or_else(|| {
            s.changes.push("no example body: a skeleton was built from the schema".into());
            media.get("schema").map(|sc| skeleton(doc, sc, 0)).unwrap_or_else(|| json!({}))
        });
        s.body = Some(DraftBody::Json(example));
    } else if let Some(media) = content.get("application/x-www-form-urlencoded") {
        let schema = media.get("schema").map(|sc| resolve(doc, sc)).unwrap_or(Json::Null);
        let fields = schema
            .get("properties")
            .and_then(Json::as_object)
            .map(|p| p.iter().map(|(k, v)| (k.clone(), text(&skeleton(doc, v, 1)))).collect())
            .unwrap_or_default();
        s.body = Some(DraftBody::Form(fields));
    } else if let Some((media, _)) = content.iter().next() {
        s.untranslated.push(format!("request body `{media}`: write the body by hand"));
    }
}

/// A value shaped like `schema`: its example or default, else a placeholder of its type.
fn skeleton(doc: &Json, schema: &Json, depth: usize) -> Json {
    let schema = resolve(doc, schema);
    if let Some(e) = schema.get("example").or_else(|| schema.get("default")) {
        return e.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Json::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    if depth > 6 {
        return Json::Null;
    }
    if let Some(all) = schema.get("allOf").and_then(Json::as_array) {
        let mut merged = Map::new();
        for part in all {
            if let Json::Object(m) = skeleton(doc, part, depth + 1) {
                merged.extend(m);
            }
        }
        return Json::Object(merged);
    }
    if let Some(one) =
        schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Json::as_array).and_then(|o| o.first())
    {
        return skeleton(doc, one, depth + 1);
    }
    match schema.get("type").and_then(Json::as_str) {
        Some("object") | None if schema.get("properties").is_some() => {
            let props = schema.get("properties").and_then(Json::as_object).cloned().unwrap_or_default();
            Json::Object(props.iter().map(|(k, v)| (k.clone(), skeleton(doc, v, depth + 1))).collect())
        }
        Some("array") => {
            Json::Array(schema.get("items").map(|i| vec![skeleton(doc, i, depth + 1)]).unwrap_or_default())
        }
        Some("integer") => json!(0),
        Some("number") => json!(0.0),
        Some("boolean") => json!(false),
        Some("string") => json!(match schema.get("format").and_then(Json::as_str) {
            Some("date-time") => "2024-01-01T00:00:00Z",
            Some("date") => "2024-01-01",
            Some("email") => "user@example.test",
            Some("uuid") => "00000000-0000-4000-8000-000000000000",
            Some("uri" | "url") => "https://example.test/",
            _ => "string",
        }),
        _ => json!({}),
    }
}

fn credentials(security: Option<&Json>, schemes: &Json, s: &mut DraftStep, vars: &mut Vec<(String, String)>) {
    let Some(first) = security.and_then(Json::as_array).and_then(|a| a.first()).and_then(Json::as_object)
    else {
        return;
    };
    let Some((name, _)) = first.iter().next() else { return };
    let Some(scheme) = schemes.get(name) else { return };
    let mut secret_var = |var: &str, env: &str| {
        if !vars.iter().any(|(k, _)| k == var) {
            vars.push((var.to_string(), format!("{{{{ secret_env('{env}', default='') }}}}")));
        }
    };
    match (scheme.get("type").and_then(Json::as_str), scheme.get("scheme").and_then(Json::as_str)) {
        (Some("http"), Some(sch)) if sch.eq_ignore_ascii_case("bearer") => {
            secret_var("token", "API_TOKEN");
            s.auth = Some(DraftAuth::Bearer("{{ token }}".into()));
        }
        (Some("http"), Some(sch)) if sch.eq_ignore_ascii_case("basic") => {
            secret_var("password", "API_PASSWORD");
            if !vars.iter().any(|(k, _)| k == "username") {
                vars.push(("username".into(), "{{ env('API_USERNAME', default='') }}".into()));
            }
            s.auth = Some(DraftAuth::Basic("{{ username }}".into(), "{{ password }}".into()));
        }
        (Some("apiKey"), _) => {
            let key = scheme.get("name").and_then(Json::as_str).unwrap_or("X-API-Key").to_string();
            secret_var("api_key", "API_KEY");
            match scheme.get("in").and_then(Json::as_str) {
                Some("query") => s.query.push((key, "{{ api_key }}".into())),
                Some("cookie") => s.headers.push(("Cookie".into(), format!("{key}={{{{ api_key }}}}"))),
                _ => s.headers.push((key, "{{ api_key }}".into())),
            }
        }
        (Some("oauth2" | "openIdConnect"), _) => {
            secret_var("token", "API_TOKEN");
            s.auth = Some(DraftAuth::Bearer("{{ token }}".into()));
            s.changes.push(format!("security `{name}` (OAuth2): a bearer token from $API_TOKEN; an `auth: {{oauth2: …}}` profile can fetch it"));
        }
        _ => s.untranslated.push(format!("security scheme `{name}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_become_requests_with_examples_and_credentials() {
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "Pets"},
            "servers": [{"url": "https://{env}.pets.example.test/v1", "variables": {"env": {"default": "api"}}}],
            "security": [{"bearer": []}],
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string", "example": "Rex"}, "age": {"type": "integer"}}}}
            },
            "paths": {
                "/pets/{petId}": {
                    "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "integer", "example": 7}}],
                    "get": {"operationId": "getPet", "responses": {"200": {}}},
                    "put": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}, "responses": {"204": {}}}
                }
            }
        });
        let d = spec(&doc, "pets.yaml").expect("spec");
        assert_eq!(d.requests.len(), 2);
        assert_eq!(d.requests[0].name, "getPet");
        assert_eq!(d.requests[0].url, "{{ base_url }}/pets/{{ petId }}");
        assert_eq!(d.requests[0].status, [200]);
        assert!(
            matches!(&d.requests[1].body, Some(DraftBody::Json(v)) if v == &json!({"name": "Rex", "age": 0}))
        );
        assert!(matches!(&d.requests[1].auth, Some(DraftAuth::Bearer(_))));
        assert!(
            d.vars.iter().any(|(k, v)| k == "base_url" && v.contains("https://api.pets.example.test/v1")),
            "{:?}",
            d.vars
        );
        assert!(d.vars.iter().any(|(k, v)| k == "petId" && v == "7"));
        assert!(spec(&json!({"swagger": "2.0"}), "x").expect_err("swagger").contains("Swagger 2.0"));
    }
}
