//! Captures: values read from a response, keeping their JSON types.

use serde_json::Value as Json;

use crate::exchange::Exchange;
use crate::model::CaptureSource;

/// Reads one capture from a response. The error says what was looked for and why it failed.
pub fn capture(source: &CaptureSource, ex: &Exchange) -> Result<Json, String> {
    match source {
        CaptureSource::JsonPath(path) => {
            let Some(doc) = ex.json() else {
                return Err(format!(
                    "`{}` needs a JSON body, but the response is {}",
                    path.source,
                    describe_body(ex)
                ));
            };
            let nodes = path.compiled.query(doc).all();
            match nodes.len() {
                0 => Err(format!("`{}` matched nothing in the response body", path.source)),
                1 => Ok(nodes[0].clone()),
                _ => Ok(Json::Array(nodes.into_iter().cloned().collect())),
            }
        }
        CaptureSource::Header(name) => ex
            .header(name)
            .map(|v| Json::String(v.to_string()))
            .ok_or_else(|| format!("the response has no `{name}` header")),
        CaptureSource::Status => Ok(Json::from(ex.status)),
        CaptureSource::Body => Ok(ex.json().cloned().unwrap_or_else(|| Json::String(ex.text().into_owned()))),
        CaptureSource::Regex(re) => {
            let text = ex.text();
            let caps = re
                .compiled
                .captures(&text)
                .ok_or_else(|| format!("the regex `{}` matched nothing in the response body", re.source))?;
            let m = caps.get(1).or_else(|| caps.get(0)).map_or("", |m| m.as_str());
            Ok(Json::String(m.to_string()))
        }
    }
}

/// "empty", "text/csv (42 bytes)", … for messages about the body.
pub fn describe_body(ex: &Exchange) -> String {
    if ex.body.is_empty() {
        return "empty".to_string();
    }
    let kind = ex.media_type().unwrap_or_else(|| "without a content type".to_string());
    format!("{kind} ({} bytes)", ex.body.len())
}
