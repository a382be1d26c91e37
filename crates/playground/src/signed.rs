//! `/digest` and `/aws`: endpoints that check request signatures the way real servers do.
//! HTTP Digest (MD5 or SHA-256, `qop=auth`, nonces it issued, `stale=true` for unknown
//! ones) for user [`DEMO_USERNAME`], and AWS Signature Version 4 for the access key
//! [`AWS_ACCESS_KEY`], refusing a request dated more than five minutes off its clock
//! (`?skew=SECONDS` moves that clock, so a test can see the refusal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{ApiError, DEMO_PASSWORD, DEMO_USERNAME, parse_urlencoded};

/// The access key `/aws/echo` accepts.
pub const AWS_ACCESS_KEY: &str = "AKIDPLAYGROUND0001";
/// Its secret key.
pub const AWS_SECRET_KEY: &str = "playground/aws/secret-key/0001";
/// The region and service it signs for.
pub const AWS_REGION: &str = "us-east-1";
/// See [`AWS_REGION`].
pub const AWS_SERVICE: &str = "execute-api";
/// Most nonces kept (the oldest go first).
const MAX_NONCES: usize = 1000;

#[derive(Clone, Default)]
/// Nonces issued → whether the nonce is stale at its first use (`?stale=once|always`).
struct Nonces(Arc<Mutex<HashMap<String, bool>>>);

pub(crate) fn router() -> Router {
    Router::new()
        .route("/digest/auth", any(digest))
        .route("/aws/echo", any(aws))
        .with_state(Nonces::default())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn h(alg: &str, s: &str) -> String {
    if alg == "SHA-256" { hex(&Sha256::digest(s.as_bytes())) } else { hex(&md5::Md5::digest(s.as_bytes())) }
}

fn digest_fields(value: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut s = value.trim_start_matches("Digest").trim();
    while let Some((k, rest)) = s.split_once('=') {
        let rest = rest.trim_start();
        let (v, next) = match rest.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            },
            None => {
                let end = rest.find(',').unwrap_or(rest.len());
                (rest[..end].trim(), &rest[end..])
            }
        };
        out.insert(k.trim().trim_start_matches(',').trim().to_ascii_lowercase(), v.to_string());
        s = next.trim_start().trim_start_matches(',').trim();
    }
    out
}

/// `ANY /digest/auth?algorithm=MD5|SHA-256&stale=once|always`: 200 for a valid Digest
/// answer, else a 401 challenge (`stale=true` when the nonce is not one it issued, or
/// expired: with `stale=once` the first challenge's nonce expires at its first use, with
/// `stale=always` every nonce does).
async fn digest(
    State(nonces): State<Nonces>,
    RawQuery(q): RawQuery,
    method: Method,
    req: Request,
) -> Response {
    let params: HashMap<String, String> = parse_urlencoded(q.as_deref().unwrap_or("")).into_iter().collect();
    let alg = if params.get("algorithm").map(String::as_str) == Some("SHA-256") { "SHA-256" } else { "MD5" };
    let expiring = params.get("stale").map_or("", String::as_str);
    let challenge = |stale: bool| {
        let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
        let mut set = nonces.0.lock().unwrap_or_else(PoisonError::into_inner);
        if set.len() >= MAX_NONCES {
            set.clear();
        }
        let expires = expiring == "always" || (expiring == "once" && !stale);
        set.insert(nonce.clone(), expires);
        let stale = if stale { ", stale=true" } else { "" };
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Digest authentication required").with_header(
            header::WWW_AUTHENTICATE,
            &format!("Digest realm=\"playground\", qop=\"auth\", algorithm={alg}, nonce=\"{nonce}\", opaque=\"op-1\"{stale}"),
        )
    };
    let Some(auth) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|a| a.starts_with("Digest "))
    else {
        return challenge(false).into_response();
    };
    let f = digest_fields(auth);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let known = {
        let mut set = nonces.0.lock().unwrap_or_else(PoisonError::into_inner);
        match set.get(get("nonce")).copied() {
            // Expired at its first use: gone, and the answer is a stale challenge.
            Some(true) => {
                set.remove(get("nonce"));
                false
            }
            Some(false) => true,
            None => false,
        }
    };
    if !known {
        return challenge(true).into_response();
    }
    let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let ha1 = h(alg, &format!("{}:playground:{DEMO_PASSWORD}", get("username")));
    let ha2 = h(alg, &format!("{}:{}", method.as_str(), get("uri")));
    let expected = h(alg, &format!("{ha1}:{}:{}:{}:auth:{ha2}", get("nonce"), get("nc"), get("cnonce")));
    if get("username") != DEMO_USERNAME
        || get("uri") != uri
        || get("response") != expected
        || get("qop") != "auth"
    {
        return challenge(false).into_response();
    }
    Json(json!({"authenticated": true, "user": DEMO_USERNAME, "algorithm": alg})).into_response()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn enc(s: &str, slash: bool) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (slash && b == b'/') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn refused(code: &'static str, why: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, code, why).into_response()
}

/// `ANY /aws/echo[?skew=SECONDS]`: the request described, when its SigV4 signature holds.
async fn aws(RawQuery(q): RawQuery, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let query = q.unwrap_or_default();
    let pairs = parse_urlencoded(&query);
    let skew: i64 = pairs.iter().find(|(k, _)| k == "skew").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let auth = text("authorization");
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return refused("missing_signature", "expected an AWS4-HMAC-SHA256 Authorization header".into());
    };
    let part = |name: &str| {
        rest.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    let (credential, signed, signature) = (part("Credential"), part("SignedHeaders"), part("Signature"));
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0] != AWS_ACCESS_KEY || scope[2] != AWS_REGION || scope[3] != AWS_SERVICE {
        return refused("invalid_client_token", format!("unknown credential scope `{credential}`"));
    }
    let amz_date = text("x-amz-date");
    let Ok(when) = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", &amz_date)
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
    else {
        return refused("missing_date", "x-amz-date is missing or not YYYYMMDDTHHMMSSZ".into());
    };
    let now = jiff::Timestamp::now().as_second() + skew;
    if (when.timestamp().as_second() - now).abs() > 300 {
        return refused(
            "request_time_too_skewed",
            format!("the request is dated {amz_date}, more than 5 minutes off the server's clock"),
        );
    }
    let payload = {
        let declared = text("x-amz-content-sha256");
        if declared.is_empty() { hex(&Sha256::digest(&body)) } else { declared }
    };
    if payload != "UNSIGNED-PAYLOAD" && payload != hex(&Sha256::digest(&body)) {
        return refused("content_hash_mismatch", "x-amz-content-sha256 is not the body's hash".into());
    }
    let mut q: Vec<(String, String)> = pairs.iter().map(|(k, v)| (enc(k, false), enc(v, false))).collect();
    q.sort();
    let canonical_query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_headers: String = signed
        .split(';')
        .map(|n| format!("{n}:{}\n", text(n).split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    let canonical = format!(
        "{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}",
        method.as_str(),
        enc("/aws/echo", true)
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}/{AWS_REGION}/{AWS_SERVICE}/aws4_request\n{}",
        scope[1],
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(
        &hmac(&hmac(&hmac(format!("AWS4{AWS_SECRET_KEY}").as_bytes(), scope[1]), AWS_REGION), AWS_SERVICE),
        "aws4_request",
    );
    if hex(&hmac(&key, &to_sign)) != signature {
        return refused("signature_does_not_match", "the signature does not match the request".into());
    }
    Json(json!({"signed": true, "signed_headers": signed, "method": method.as_str(), "body": String::from_utf8_lossy(&body)})).into_response()
}
