//! Captures: values read from a response, keeping their JSON types.

use serde_json::Value as Json;

use crate::exchange::Exchange;
use crate::model::CaptureSource;

/// Why a capture found no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// A JSONPath capture, but the body is not JSON.
    #[error("`{path}` needs a JSON body, but the response is {body}")]
    NotJson {
        /// The JSONPath as written.
        path: String,
        /// What the body is instead (`empty`, `text/html (42 bytes)`…).
        body: String,
    },
    /// The JSONPath matched nothing.
    #[error("`{path}` matched nothing in the response body")]
    NoMatch {
        /// The JSONPath as written.
        path: String,
    },
    /// The header is absent.
    #[error("the response has no `{name}` header")]
    NoHeader {
        /// The header name as written.
        name: String,
    },
    /// The regex matched nothing.
    #[error("the regex `{pattern}` matched nothing in the response body")]
    NoRegexMatch {
        /// The regex as written.
        pattern: String,
    },
    /// The regex matched nothing in the header.
    #[error("the regex `{pattern}` matched nothing in the `{name}` header")]
    NoHeaderMatch {
        /// The header name as written.
        name: String,
        /// The regex as written.
        pattern: String,
    },
    /// A `then:` or `let:` template failed.
    #[error("{message}")]
    Derive {
        /// The template's error, masked.
        message: String,
    },
    /// The response set no such cookie.
    #[error("the response set no cookie `{name}` ({set})")]
    NoCookie {
        /// The cookie name as written.
        name: String,
        /// What it set instead: `it set: a, b` or `it set none`.
        set: String,
    },
}

/// Reads one capture from a response. The error says what was looked for and why it failed.
pub fn capture(source: &CaptureSource, ex: &Exchange) -> Result<Json, CaptureError> {
    match source {
        CaptureSource::JsonPath(path) => {
            let Some(doc) = ex.json_at() else {
                return Err(CaptureError::NotJson { path: path.source.clone(), body: describe_body(ex) });
            };
            let nodes = path.compiled.query(doc).all();
            match nodes.len() {
                0 => Err(CaptureError::NoMatch { path: path.source.clone() }),
                1 => Ok(nodes[0].clone()),
                _ => Ok(Json::Array(nodes.into_iter().cloned().collect())),
            }
        }
        CaptureSource::Header(name) => ex
            .header(name)
            .map(|v| Json::String(v.to_string()))
            .ok_or_else(|| CaptureError::NoHeader { name: name.clone() }),
        CaptureSource::Status => Ok(Json::from(ex.status)),
        CaptureSource::Body => Ok(ex.json().cloned().unwrap_or_else(|| Json::String(ex.text().into_owned()))),
        CaptureSource::Regex(re) => {
            let text = ex.text();
            let caps = re
                .compiled
                .captures(&text)
                .ok_or_else(|| CaptureError::NoRegexMatch { pattern: re.source.clone() })?;
            let m = caps.get(1).or_else(|| caps.get(0)).map_or("", |m| m.as_str());
            Ok(Json::String(m.to_string()))
        }
        CaptureSource::HeaderRegex(name, re) => {
            let value = ex.header(name).ok_or_else(|| CaptureError::NoHeader { name: name.clone() })?;
            let caps = re.compiled.captures(value).ok_or_else(|| CaptureError::NoHeaderMatch {
                name: name.clone(),
                pattern: re.source.clone(),
            })?;
            let m = caps.get(1).or_else(|| caps.get(0)).map_or("", |m| m.as_str());
            Ok(Json::String(m.to_string()))
        }
        CaptureSource::Cookie(name) => cookie(ex, name)
            .map(|v| Json::String(v.to_string()))
            .ok_or_else(|| CaptureError::NoCookie { name: name.clone(), set: cookies_set(ex) }),
        CaptureSource::Url => Ok(Json::String(ex.url.clone())),
        // The value is its template's, rendered by the executor.
        CaptureSource::Let => Ok(Json::Null),
        CaptureSource::Duration => Ok(Json::from(u64::try_from(ex.elapsed.as_millis()).unwrap_or(u64::MAX))),
    }
}

/// The value the answers last set for cookie `name` (names are case-sensitive).
pub fn cookie<'e>(ex: &'e Exchange, name: &str) -> Option<&'e str> {
    ex.cookies.iter().rev().find(|c| c.name == name).map(|c| c.value.as_str())
}

/// `it set: a, b` or `it set none`, for messages about a missing cookie.
pub fn cookies_set(ex: &Exchange) -> String {
    if ex.cookies.is_empty() {
        return "it set none".to_string();
    }
    let mut names: Vec<&str> = ex.cookies.iter().map(|c| c.name.as_str()).collect();
    names.dedup();
    format!("it set: {}", crate::printable::line(&names.join(", ")))
}

/// "empty", "text/csv (42 bytes)", … for messages about the body.
pub fn describe_body(ex: &Exchange) -> String {
    if ex.body.is_empty() {
        return "empty".to_string();
    }
    let kind = ex.media_type().unwrap_or_else(|| "without a content type".to_string());
    let says_json = kind == "application/json" || kind.ends_with("+json");
    if says_json && ex.json_at().is_none() {
        // The server says JSON but sent something else: say where it stops being JSON.
        let why = serde_json::from_slice::<serde::de::IgnoredAny>(&ex.body)
            .err()
            .map_or_else(String::new, |e| format!(": {e}"));
        return format!("{kind} that is not valid JSON ({} bytes{why})", ex.body.len());
    }
    format!("{kind} ({} bytes)", ex.body.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{Fixture, json_response};

    /// The compiled capture sources of the first request of `yaml`.
    fn sources(yaml: &str) -> Vec<CaptureSource> {
        Fixture::new(yaml).collection.requests[0].captures.iter().map(|c| c.source.clone()).collect()
    }

    #[test]
    fn jsonpath_captures_keep_types_and_collect_many_matches_into_a_list() {
        let s = sources("requests:\n  - url: x\n    capture: {n: $.n, ids: '$.items[*].id', none: $.nope}\n");
        let ex = json_response(200, json!({"n": 7, "items": [{"id": 1}, {"id": 2}]}));
        assert_eq!(capture(&s[0], &ex), Ok(json!(7)));
        assert_eq!(capture(&s[1], &ex), Ok(json!([1, 2])));
        assert_eq!(capture(&s[2], &ex), Err(CaptureError::NoMatch { path: "$.nope".into() }));
    }

    #[test]
    fn a_jsonpath_on_a_text_body_says_what_the_body_is() {
        let s = sources("requests:\n  - url: x\n    capture: {n: $.n}\n");
        let ex = Exchange::new(200, vec![("content-type".into(), "text/html".into())], b"<p>".to_vec());
        let e = capture(&s[0], &ex).expect_err("not JSON");
        assert_eq!(e.to_string(), "`$.n` needs a JSON body, but the response is text/html (3 bytes)");
    }

    #[test]
    fn header_status_body_and_regex_captures() {
        let s = sources(
            "requests:\n  - url: x\n    capture:\n      loc: {header: Location}\n      code: status\n      all: body\n      csrf: {regex: 'token=([a-z0-9]+)'}\n      missing: {header: X-None}\n",
        );
        let ex = Exchange::new(201, vec![("location".into(), "/u/1".into())], b"ok token=ab12 end".to_vec());
        assert_eq!(capture(&s[0], &ex), Ok(json!("/u/1")));
        assert_eq!(capture(&s[1], &ex), Ok(json!(201)));
        assert_eq!(capture(&s[2], &ex), Ok(json!("ok token=ab12 end")));
        assert_eq!(capture(&s[3], &ex), Ok(json!("ab12")), "group 1, not the whole match");
        assert_eq!(capture(&s[4], &ex), Err(CaptureError::NoHeader { name: "X-None".into() }));
    }

    #[test]
    fn a_body_that_claims_json_but_is_not_says_where_it_breaks() {
        let ex = Exchange::new(
            200,
            vec![("content-type".into(), "application/json".into())],
            b"{\"a\": 1,}".to_vec(),
        );
        assert_eq!(
            describe_body(&ex),
            "application/json that is not valid JSON (9 bytes: key must be a string at line 1 column 9)"
        );
    }

    #[test]
    fn bodies_are_described_by_type_and_size() {
        assert_eq!(describe_body(&Exchange::new(200, vec![], Vec::new())), "empty");
        assert_eq!(
            describe_body(&Exchange::new(200, vec![], b"abc".to_vec())),
            "without a content type (3 bytes)"
        );
    }
}
