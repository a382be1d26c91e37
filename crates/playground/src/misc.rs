//! Generic endpoints without auth: echo, status, delay, canned bodies.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::Multipart;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, RawQuery, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ApiError, BODY_LIMIT, pairs_to_object, parse_urlencoded, path_param};

/// Longest sleep `/delay/{ms}` performs.
const MAX_DELAY_MS: u64 = 10_000;

/// `ANY /echo` and `ANY /echo/{*rest}`: describes the request as JSON.
pub(crate) async fn echo(request: Request) -> Result<Json<Value>, ApiError> {
    let (parts, body) = request.into_parts();
    let query = pairs_to_object(parse_urlencoded(parts.uri.query().unwrap_or("")));
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<_> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        let msg = "request body unreadable or larger than 10 MiB";
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", msg)
    })?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let is_multipart = content_type.starts_with("multipart/form-data");

    let mut description = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": query,
        "headers": headers,
        "body": text,
        "json": Value::Null,
        "form": Value::Null,
        "multipart": Value::Null,
    });
    if is_form {
        description["form"] = Value::Object(pairs_to_object(parse_urlencoded(&text)));
    } else if is_multipart {
        let request = Request::from_parts(parts, Body::from(bytes));
        description["multipart"] = multipart_parts(request).await?;
    } else if !bytes.is_empty() {
        description["json"] = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    }
    Ok(Json(description))
}

/// Describes each part of a `multipart/form-data` request.
async fn multipart_parts(request: Request) -> Result<Value, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("invalid multipart body: {e}"));
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| invalid(&e))?;
    let mut described = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| invalid(&e))? {
        let name = field.name().map(str::to_owned);
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let data = field.bytes().await.map_err(|e| invalid(&e))?;
        described.push(json!({
            "name": name,
            "filename": filename,
            "content_type": content_type,
            "text": String::from_utf8_lossy(&data),
            "size": data.len(),
        }));
    }
    Ok(Value::Array(described))
}

/// `GET /status/{code}`: answers with that status code.
pub(crate) async fn status(code: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let raw = path_param(code)?;
    // 1xx can't be a final response (hyper turns 100 into 500, and 101
    // would hijack the connection), so only 200..=599 are served.
    let status = raw
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| ApiError::bad_request(format!("`{raw}` is not a status code in 200..=599")))?;
    // Statuses that must not carry a body get none.
    let mut response = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        status.into_response()
    } else {
        (status, Json(json!({"status": status.as_u16()}))).into_response()
    };
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Ok(response)
}

/// `GET /delay/{ms}`: sleeps (at most 10 s), then answers.
pub(crate) async fn delay(ms: Result<Path<String>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let raw = path_param(ms)?;
    let ms = raw
        .parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("`{raw}` is not a number of milliseconds")))?
        .min(MAX_DELAY_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(json!({"delayed_ms": ms})))
}

/// `GET /text`
pub(crate) async fn text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "hello from the playground\n")
}

/// `GET /csv`
pub(crate) async fn csv() -> impl IntoResponse {
    let body = "id,name,price\n1,apple,0.5\n2,banana,0.25\n3,\"cherry, dark\",3\n";
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body)
}

/// `GET /headers/set?name=value&...`: sets each pair as a response header.
pub(crate) async fn set_headers(RawQuery(query): RawQuery) -> Result<impl IntoResponse, ApiError> {
    let mut headers = HeaderMap::new();
    for (name, value) in parse_urlencoded(query.as_deref().unwrap_or("")) {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::bad_request(format!("`{name}` is not a valid header name")))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| ApiError::bad_request(format!("invalid value for header `{name}`")))?;
        headers.append(name, value);
    }
    Ok((headers, Json(json!({}))))
}
