//! The JSON Schema of the collection format, for editors (yaml-language-server, VS Code):
//! built from the parser's own key tables, so a key the parser knows is in the schema and
//! one it refuses is refused here too (`additionalProperties: false`). `baton schema`
//! prints it; `docs/collection.schema.json` is the same text, checked by a test.

use serde_json::{Map, Value, json};

use crate::model::JsonType;
use crate::parse::oauth2::{BODY_FORMATS, CLIENT_AUTH, GRANTS, PROFILE_KEYS};
use crate::parse::{
    BASIC_KEYS, BODY_FILE_KEYS, CAPTURE_KEYS, DEFAULT_KEYS, DIGEST_KEYS, DURATION_KEYS, EXPECT_KEYS,
    EXTENSION_METHODS, FILE_PART_KEYS, INCLUDE_KEYS, MATCHER_KEYS, METHODS, ONCE_KEYS, RETRY_KEYS,
    SIGV4_KEYS, SNAPSHOT_KEYS, STEP_KEYS, TLS_KEYS, TOP_KEYS, WAIT_KEYS,
};

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/$defs/{name}")})
}

fn text(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// An object with exactly `keys`, each typed by `prop`, which must know every one.
fn object(keys: &[&str], description: &str, prop: impl Fn(&str) -> Option<Value>) -> Value {
    let mut props = Map::new();
    for k in keys {
        let schema = prop(k).unwrap_or_else(|| panic!("the schema has no entry for the key `{k}`"));
        props.insert((*k).to_string(), schema);
    }
    json!({"type": "object", "description": description, "properties": props, "additionalProperties": false})
}

/// The schema, as a JSON value.
pub fn schema() -> Value {
    let template = json!({"description": "a value; strings may hold {{ templates }}"});
    let pairs = json!({"type": "object", "additionalProperties": true,
        "description": "name: value pairs (templates; null removes a default; a list repeats the key)"});
    let duration = json!({"type": ["string", "number"], "description": "5s, 500ms, 1m, or seconds"});
    let flag = json!({"type": "boolean"});
    let tags = json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]});
    let status = json!({"oneOf": [
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "string", "pattern": "^[1-5]([0-9]{2}|xx|XX)$"},
        {"type": "array", "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}
    ], "description": "200, [200, 201] or \"2xx\""});

    let matcher_ops = object(MATCHER_KEYS, "matchers: all must hold", |k| {
        Some(match k {
            "equals" | "contains" => template.clone(),
            "exists" => flag.clone(),
            "matches" => text("a regex"),
            "len" => json!({"oneOf": [{"type": ["integer", "string"]}, r("matcher_ops")]}),
            "gt" | "gte" | "lt" | "lte" => json!({"type": ["number", "string"]}),
            "type" => {
                json!({"enum": JsonType::NAMES.iter().chain(["bool", "list", "map"].iter()).collect::<Vec<_>>()})
            }
            "each" => r("matcher"),
            _ => return None,
        })
    });
    let matcher = json!({"description": "a value to equal, or a mapping of matchers",
        "anyOf": [{"not": {"type": "object"}}, r("matcher_ops")]});
    let matchers_by_name = json!({"type": "object", "additionalProperties": r("matcher")});
    let expect = object(EXPECT_KEYS, "expectations on the answer", |k| {
        Some(match k {
            "status" => status.clone(),
            "headers" | "cookies" => matchers_by_name.clone(),
            "json" => json!({"type": "object", "description": "JSONPath: value or matchers",
                "propertyNames": {"pattern": "^\\$"}, "additionalProperties": r("matcher")}),
            "json_schema" => text("a JSON Schema file, relative to the collection"),
            "body" => {
                json!({"anyOf": [r("matcher"), object(&["file"], "equal to a file", |_| Some(text("path")))]})
            }
            "body_contains" => {
                json!({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
            }
            "content_type" => text("media type"),
            "duration" => object(DURATION_KEYS, "bounds on the response time", |_| Some(duration.clone())),
            _ => return None,
        })
    });
    let capture = json!({"anyOf": [
        {"type": "string", "description": "$.json.path, status or body"},
        object(CAPTURE_KEYS, "where the value comes from (one source)", |k| Some(match k {
            "jsonpath" | "regex" | "cookie" => text(k),
            "header" => text("a header name"),
            "status" | "body" | "url" | "duration" | "secret" | "optional" => flag.clone(),
            "then" => text("a template over `value`; its result is kept"),
            _ => return None,
        }))
    ]});
    let tls = object(TLS_KEYS, "TLS settings", |k| {
        Some(if k == "insecure" { flag.clone() } else { text("a PEM file (templates allowed)") })
    });
    let http = json!({"enum": ["1.1", "2", 1.1, 2, "HTTP/1.1", "HTTP/2"]});
    let redirects = json!({"type": "integer", "minimum": 0, "maximum": 1000});
    let basic = object(BASIC_KEYS, "Basic credentials", |_| Some(template.clone()));
    let mut digest = object(DIGEST_KEYS, "HTTP Digest credentials", |_| Some(template.clone()));
    digest["required"] = json!(DIGEST_KEYS);
    let mut sigv4 = object(SIGV4_KEYS, "AWS Signature Version 4", |_| Some(template.clone()));
    sigv4["required"] = json!(["access_key", "secret_key", "region", "service"]);
    let condition = json!({"type": ["string", "boolean"], "description": "a template giving true or false"});
    let step = object(STEP_KEYS, "a request", |k| {
        Some(match k {
            "name" | "description" => text(k),
            "method" => {
                json!({"enum": METHODS.iter().chain(EXTENSION_METHODS).flat_map(|m| [m.to_string(), m.to_ascii_lowercase()]).collect::<Vec<_>>()})
            }
            "url" => text("an absolute http(s) URL (templates allowed)"),
            "query" | "headers" | "form" => pairs.clone(),
            "json" => template.clone(),
            "multipart" => json!({"type": "object", "additionalProperties": {"anyOf": [
                {"not": {"type": "object"}},
                object(FILE_PART_KEYS, "a file part", |_| Some(text("path or name")))]}}),
            "body" => json!({"anyOf": [{"type": ["string", "number", "boolean"]},
                object(BODY_FILE_KEYS, "a file's bytes", |_| Some(text("path")))]}),
            "content_type" => text("the body's media type"),
            "bearer" => json!({"type": ["string", "null"]}),
            "basic" => basic.clone(),
            "digest" => digest.clone(),
            "aws_sigv4" => sigv4.clone(),
            "auth" => {
                json!({"type": "string", "description": "a profile's name (its credentials are sent), or `none`"})
            }
            "timeout" | "delay" => duration.clone(),
            "capture" => json!({"type": "object", "additionalProperties": capture}),
            "let" => json!({"type": "object", "additionalProperties": {"type": "string"}}),
            "expect" => r("expect"),
            "once" => json!({"anyOf": [flag, object(ONCE_KEYS, "once options", |_| Some(status.clone()))]}),
            "cache" | "raw" | "follow_redirects" => flag.clone(),
            "expires_in" => json!({"type": ["string", "number"]}),
            "snapshot" => json!({"anyOf": [flag, object(SNAPSHOT_KEYS, "snapshot options", |_| Some(
                json!({"type": "array", "items": {"type": "string"}})))]}),
            "tags" => tags.clone(),
            "retry" => object(RETRY_KEYS, "polling", |k| {
                Some(match k {
                    "count" => json!({"type": "integer", "minimum": 1, "maximum": 100}),
                    "interval" => duration.clone(),
                    _ => r("expect"),
                })
            }),
            "if" | "skip_if" => condition.clone(),
            "max_redirects" => redirects.clone(),
            "repeat" => json!({"type": "integer", "minimum": 1, "maximum": 10000}),
            "tls" => tls.clone(),
            "http" => http.clone(),
            _ => return None,
        })
    });
    let mut request_step = step;
    request_step["required"] = json!(["url"]);
    let wait_step = object(WAIT_KEYS, "a pause that sends nothing", |k| {
        Some(match k {
            "wait" => duration.clone(),
            "tags" => tags.clone(),
            "if" | "skip_if" => condition.clone(),
            _ => text(k),
        })
    });
    let mut wait_step = wait_step;
    wait_step["required"] = json!(["wait"]);
    let profile = object(PROFILE_KEYS, "an OAuth2 profile", |k| {
        Some(match k {
            "grant" => json!({"enum": GRANTS}),
            "client_auth" => json!({"enum": CLIENT_AUTH}),
            "body_format" => json!({"enum": BODY_FORMATS}),
            "method" => json!({"enum": ["GET", "POST", "get", "post"]}),
            "headers" | "params" => pairs.clone(),
            "cache" => flag.clone(),
            _ => template.clone(),
        })
    });
    let defaults = object(DEFAULT_KEYS, "for every request (timeout, tls and http: every step)", |k| {
        Some(match k {
            "headers" | "query" => pairs.clone(),
            "bearer" => json!({"type": ["string", "null"]}),
            "basic" => basic.clone(),
            "digest" => digest.clone(),
            "aws_sigv4" => sigv4.clone(),
            "timeout" => duration.clone(),
            "follow_redirects" => flag.clone(),
            "max_redirects" => redirects.clone(),
            "tls" => tls.clone(),
            "http" => http.clone(),
            _ => return None,
        })
    });
    let steps = json!({"type": ["array", "null"], "items": r("step")});
    let mut top = object(TOP_KEYS, "a baton collection (or recipe)", |k| {
        Some(match k {
            "name" | "description" => text(k),
            "tags" => tags.clone(),
            "include" => json!({"type": "array", "items": {"anyOf": [{"type": "string"},
                object(INCLUDE_KEYS, "an include", |k| Some(if k == "vars" { pairs.clone() } else { text("path") }))]}}),
            "vars" => pairs.clone(),
            "secrets" => json!({"type": "array", "items": {"type": "string"}}),
            "cookies" => flag.clone(),
            "data" => json!({"anyOf": [text("a CSV, TSV or JSON file"),
                {"type": "array", "items": {"type": "object"}}]}),
            "auth" => {
                let single = json!({"type": "object", "properties": {"oauth2": r("oauth2")},
                    "required": ["oauth2"], "additionalProperties": false});
                json!({"anyOf": [steps.clone(), single.clone(), {"type": "object",
                    "description": "named profiles, each with its own lifecycle; the first is the requests' default",
                    "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$", "not": {"enum": ["oauth2", "none"]}},
                    "additionalProperties": {"anyOf": [steps.clone(), single]}}]})
            }
            "defaults" => defaults.clone(),
            "requests" => steps.clone(),
            _ => return None,
        })
    });
    top["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    top["$id"] = json!("https://baton.invalid/collection.schema.json");
    top["title"] = json!("baton collection");
    top["$defs"] = json!({
        "step": {"oneOf": [request_step, wait_step]},
        "expect": expect,
        "matcher": matcher,
        "matcher_ops": matcher_ops,
        "oauth2": profile,
    });
    top
}

/// The schema as published: pretty JSON with a final newline.
pub fn text_form() -> String {
    serde_json::to_string_pretty(&schema()).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&schema()).expect("the schema is a valid JSON Schema")
    }

    /// A YAML file as the JSON the schema checks.
    fn as_json(path: &std::path::Path) -> Value {
        let text = std::fs::read_to_string(path).expect("read");
        let mut sources = crate::source::SourceMap::default();
        let id = sources.add(path, text);
        let file = sources.get(id).expect("file");
        crate::yaml::parse(file, id).expect("yaml").to_json()
    }

    #[test]
    fn the_published_schema_is_the_generated_one() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("docs/collection.schema.json");
        if std::env::var_os("BATON_WRITE_DOCS").is_some() {
            std::fs::write(&path, text_form()).expect("write");
        }
        let published = std::fs::read_to_string(&path).expect("docs/collection.schema.json");
        assert_eq!(published, text_form(), "regenerate with BATON_WRITE_DOCS=1 cargo test --lib schema");
    }

    #[test]
    fn every_shipped_collection_and_recipe_validates_and_an_unknown_key_does_not() {
        let v = validator();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for dir in ["collections", "collections/recipes"] {
            for e in std::fs::read_dir(root.join(dir)).expect("dir") {
                let path = e.expect("entry").path();
                if path.extension().is_some_and(|x| x == "yaml") {
                    let doc = as_json(&path);
                    let errors: Vec<String> =
                        v.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
                    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked >= 12, "{checked}");
        for bad in [
            "unknown-step-field.yaml",
            "unknown-top-field.yaml",
            "unknown-matcher.yaml",
            "tls-unknown-key.yaml",
        ] {
            let doc = as_json(&root.join("tests/fixtures/invalid").join(bad));
            assert!(!v.is_valid(&doc), "{bad} should not validate");
        }
    }
}
