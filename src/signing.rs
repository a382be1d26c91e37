//! Request signatures computed from what is actually sent: HTTP Digest (RFC 7616: MD5 or
//! SHA-256, `qop=auth`) answering a server's challenge, and AWS Signature Version 4. Pure
//! functions; the client calls them per request, after rendering, so they sign exactly
//! the bytes that go out.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest as _, Sha256};

/// A `WWW-Authenticate: Digest …` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// Whether the server offers `qop=auth`.
    pub qop_auth: bool,
    /// `MD5` or `SHA-256`.
    pub algorithm: String,
    /// `opaque`, echoed back.
    pub opaque: Option<String>,
    /// `stale=true`: the nonce expired but the answer was right (RFC 7616 3.3): answer
    /// again with the new nonce.
    pub stale: bool,
}

/// Reads a Digest challenge (`None`: not Digest, or an algorithm baton does not speak).
pub fn digest_challenge(header: &str) -> Option<DigestChallenge> {
    let rest = header.trim().strip_prefix("Digest")?.trim_start();
    let mut fields = std::collections::HashMap::new();
    let mut s = rest;
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        fields.insert(key, value);
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    let algorithm = fields.get("algorithm").cloned().unwrap_or_else(|| "MD5".into());
    if !matches!(algorithm.to_ascii_uppercase().as_str(), "MD5" | "SHA-256") {
        return None;
    }
    Some(DigestChallenge {
        realm: fields.get("realm").cloned().unwrap_or_default(),
        nonce: fields.get("nonce").cloned()?,
        qop_auth: fields.get("qop").is_some_and(|q| q.split(',').any(|o| o.trim() == "auth")),
        algorithm,
        opaque: fields.get("opaque").cloned(),
        stale: fields.get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
    })
}

fn hash(algorithm: &str, text: &str) -> String {
    if algorithm.eq_ignore_ascii_case("SHA-256") {
        hex(&Sha256::digest(text.as_bytes()))
    } else {
        hex(&md5::Md5::digest(text.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Authorization` value answering `ch` for `method` on `uri` (path and query).
pub fn digest_authorization(
    ch: &DigestChallenge,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> String {
    let alg = ch.algorithm.as_str();
    let ha1 = hash(alg, &format!("{user}:{}:{password}", ch.realm));
    let ha2 = hash(alg, &format!("{method}:{uri}"));
    let nc = "00000001";
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={alg}",
        quoted(user),
        quoted(&ch.realm),
        quoted(&ch.nonce),
        quoted(uri)
    );
    if ch.qop_auth {
        let response = hash(alg, &format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", ch.nonce));
        out.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""));
    } else {
        let response = hash(alg, &format!("{ha1}:{}:{ha2}", ch.nonce));
        out.push_str(&format!(", response=\"{response}\""));
    }
    if let Some(o) = &ch.opaque {
        out.push_str(&format!(", opaque=\"{}\"", quoted(o)));
    }
    out
}

/// AWS credentials for Signature Version 4.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AwsCredentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// `us-east-1`…
    pub region: String,
    /// `execute-api`, `s3`…
    pub service: String,
    /// A temporary credential's session token.
    pub session_token: Option<String>,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 percent-encoding of everything but unreserved characters (`/` too when asked).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The headers that sign a request: `x-amz-date`, `x-amz-security-token` (with a session
/// token), and `authorization`. `headers` are those sent (lower-case names are signed
/// when they are `host`, `content-type` or `x-amz-*`), `payload_hash` the hex SHA-256 of
/// the body (or `UNSIGNED-PAYLOAD`), `amz_date` like `20150830T123600Z`.
pub fn sigv4(
    creds: &AwsCredentials,
    method: &str,
    url: &url::Url,
    headers: &[(String, String)],
    payload_hash: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..8.min(amz_date.len())];
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .filter(|(k, _)| k == "host" || k == "content-type" || k.starts_with("x-amz-"))
        .collect();
    if !signed.iter().any(|(k, _)| k == "host") {
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        signed.push(("host".into(), host));
    }
    let mut added = vec![("x-amz-date".to_string(), amz_date.to_string())];
    if let Some(token) = &creds.session_token {
        added.push(("x-amz-security-token".into(), token.clone()));
    }
    signed.extend(added.iter().cloned());
    signed.sort();
    signed.dedup_by(|a, b| a.0 == b.0);
    let path = if url.path().is_empty() { "/" } else { url.path() };
    // Paths are encoded once more, except for S3.
    let canonical_path = if creds.service == "s3" { path.to_string() } else { encode(path, true) };
    let mut query: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (encode(&k, false), encode(&v, false))).collect();
    query.sort();
    let canonical_query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed_names = signed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "{method}\n{canonical_path}\n{canonical_query}\n{canonical_headers}\n{signed_names}\n{payload_hash}"
    );
    let scope = format!("{date}/{}/{}/aws4_request", creds.region, creds.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{}", creds.secret_key).as_bytes(), date);
    let k_region = hmac(&k_date, &creds.region);
    let k_service = hmac(&k_region, &creds.service);
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex(&hmac(&k_signing, &to_sign));
    added.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            creds.access_key
        ),
    ));
    added
}

/// A JWT assertion (RFC 7523 3): `iss` and `sub` the client id, `aud` the token endpoint,
/// a minute of life, a fresh `jti`, then `claims` replacing or adding to those.
pub struct Assertion<'a> {
    /// `RS256`, `ES256`, `HS256`…
    pub alg: &'a str,
    pub client_id: &'a str,
    /// `kid` in the header.
    pub key_id: Option<&'a str>,
    pub audience: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
    pub jti: &'a str,
    /// `assertion_claims:`; `iat`, `exp` and `nbf` given as digits are numbers.
    pub claims: Vec<(String, String)>,
}

impl Assertion<'_> {
    /// Signs with a PEM private key (RS*, PS*, ES*) or, for HS*, the client secret.
    pub fn sign(&self, key: &[u8]) -> Result<String, String> {
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        let alg = self.alg;
        let algorithm: Algorithm =
            alg.parse().map_err(|_| format!("`{alg}` is not a JWT signing algorithm"))?;
        let encoding = match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => EncodingKey::from_secret(key)
                .map_err(|e| format!("the client secret cannot sign {alg}: {e}"))?,
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(key)
                .map_err(|e| format!("the client key is not a PEM EC private key for {alg}: {e}"))?,
            _ => EncodingKey::from_rsa_pem(key)
                .map_err(|e| format!("the client key is not a PEM RSA private key for {alg}: {e}"))?,
        };
        let mut header = Header::new(algorithm);
        header.kid = self.key_id.map(str::to_string);
        let mut claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "iat": self.now,
            "exp": self.now + 60,
            "jti": self.jti,
        });
        for (name, value) in &self.claims {
            let numeric = matches!(name.as_str(), "iat" | "exp" | "nbf");
            claims[name.as_str()] = match value.parse::<i64>() {
                Ok(n) if numeric => serde_json::Value::from(n),
                _ => serde_json::Value::from(value.as_str()),
            };
        }
        jsonwebtoken::encode(&header, &claims, &encoding)
            .map_err(|e| format!("cannot sign the assertion: {e}"))
    }
}

/// The hex SHA-256 of a body.
pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_2617_digest_example_answers_as_published() {
        let ch = digest_challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .expect("challenge");
        let auth =
            digest_authorization(&ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b");
        assert!(auth.contains("response=\"6629fae49393a05397450978507c4ef1\""), "{auth}");
        assert!(auth.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""), "{auth}");
        assert_eq!(digest_challenge("Basic realm=x"), None);
        assert_eq!(digest_challenge("Digest realm=x, nonce=n, algorithm=SHA-512-256"), None, "not spoken");
    }

    #[test]
    fn a_client_assertion_carries_the_claims_and_verifies_with_its_secret() {
        let mut assertion = Assertion {
            alg: "HS256",
            client_id: "app",
            key_id: Some("k1"),
            audience: "https://as.example.test/token",
            now: 1_700_000_000,
            jti: "j-1",
            claims: vec![("sub".into(), "someone".into()), ("exp".into(), "1700000100".into())],
        };
        let jwt = assertion.sign(b"s3cret-for-hs256").expect("signed");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["https://as.example.test/token"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_secret(b"s3cret-for-hs256").expect("key"),
            &validation,
        )
        .expect("verifies");
        assert_eq!(
            (data.claims["iss"].as_str(), data.claims["sub"].as_str()),
            (Some("app"), Some("someone"))
        );
        assert_eq!(data.claims["exp"], 1_700_000_100, "a number, replaced");
        assert_eq!(data.claims["iat"], 1_700_000_000);
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        assertion.alg = "ES256";
        assert!(assertion.sign(b"not a key").expect_err("bad key").contains("PEM EC private key"));
    }

    #[test]
    fn the_aws_get_vanilla_test_vector_signs_as_published() {
        let creds = AwsCredentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            service: "service".into(),
            session_token: None,
        };
        let url = url::Url::parse("https://example.amazonaws.com/").expect("url");
        let headers = sigv4(&creds, "GET", &url, &[], &payload_hash(b""), "20150830T123600Z");
        let auth = &headers.iter().find(|(k, _)| k == "authorization").expect("authorization").1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }
}
