//! The emulated providers: each guide's happy path and documented errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Api, Reply, with_playground};
use crate::providers::{auth0, cedato, clinked, p001, p002};

/// `GET` with a bearer token.
async fn get_bearer(api: &Api, path: &str, token: &str) -> Reply {
    Api::send(api.at("GET", path).bearer_auth(token)).await
}

/// The Clinked password grant as the guide sends it (GET, query parameters).
async fn clinked_password(api: &Api, username: &str, code: Option<&str>) -> Reply {
    let mut query = vec![
        ("grant_type", "password"),
        ("client_id", clinked::CLIENT_ID),
        ("username", username),
        ("password", clinked::PASSWORD),
    ];
    query.extend(code.map(|c| ("code", c)));
    Api::send(api.at("GET", "/clinked/oauth/token").query(&query)).await
}

async fn clinked_registrations(api: &Api) -> Value {
    Api::send(api.at("GET", "/clinked/_registrations")).await.json()["count"].clone()
}

#[tokio::test]
async fn clinked_password_registration_and_client_credentials() {
    with_playground(|api| async move {
        let user = clinked_password(&api, clinked::USERNAME, None).await;
        assert_eq!(user.0, StatusCode::OK);
        let body = user.json();
        assert_eq!((&body["token_type"], &body["scope"]), (&json!("bearer"), &json!("read write")));
        assert_eq!(body["expires_in"], clinked::TOKEN_LIFETIME);
        assert!(body["refresh_token"].is_string());
        let user_token = body["access_token"].as_str().expect("access_token").to_owned();

        assert_eq!(clinked_registrations(&api).await, 0);
        let app = json!({
            "name": "API test script", "description": "API test script", "platform": "OTHER",
            "deviceType": "Other", "deviceModel": "-", "appVersion": "0.1", "deviceOs": "OTHER",
            "bundleId": "com.clinked.test", "deviceToken": null,
        });
        let request = api.at("POST", "/clinked/v2/applications").bearer_auth(&user_token).json(&app);
        let registered = Api::send(request).await;
        assert_eq!(registered.0, StatusCode::OK);
        let registered = registered.json();
        assert_eq!((&registered["name"], &registered["bundleId"]), (&app["name"], &app["bundleId"]));
        let client_id = registered["clientId"].as_str().expect("clientId");
        let client_secret = registered["clientSecret"].as_str().expect("clientSecret");
        assert_eq!(clinked_registrations(&api).await, 1);

        let query = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("scope", "read write"),
        ];
        let app_token = Api::send(api.at("GET", "/clinked/oauth/token").query(&query)).await;
        assert_eq!(app_token.0, StatusCode::OK);
        let app_token = app_token.json();
        assert_eq!((&app_token["token_type"], &app_token["scope"]), (&json!("bearer"), &json!("read write")));
        let app_token = app_token["access_token"].as_str().expect("access_token").to_owned();

        let me = get_bearer(&api, "/clinked/v2/me", &app_token).await;
        assert_eq!(me.0, StatusCode::OK);
        let me = me.json();
        assert_eq!((&me["principal"], &me["username"]), (&json!("application"), &json!(clinked::USERNAME)));
        assert_eq!((&me["clientId"], &me["application"]["name"]), (&json!(client_id), &app["name"]));
        let me = get_bearer(&api, "/clinked/v2/me", &user_token).await.json();
        assert_eq!((&me["principal"], &me["clientId"]), (&json!("user"), &json!(clinked::CLIENT_ID)));

        let wrong =
            [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", "nope")];
        let wrong = Api::send(api.at("GET", "/clinked/oauth/token").query(&wrong)).await;
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        let expected = json!({"error": "invalid_client", "error_description": "Bad client credentials"});
        assert_eq!(wrong.json(), expected);

        for auth in [None, Some("not-a-token")] {
            let mut request = api.at("GET", "/clinked/v2/me");
            if let Some(token) = auth {
                request = request.bearer_auth(token);
            }
            let reply = Api::send(request).await;
            assert_eq!(
                (reply.0, &reply.json()["error"]),
                (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
            );
            assert!(reply.header("www-authenticate").starts_with("Bearer error=\"invalid_token\""));
        }

        // A server that lost its registrations refuses the saved app credentials.
        let forgot = Api::send(api.at("DELETE", "/clinked/_registrations")).await.json();
        assert_eq!(forgot["forgotten"], 1);
        let refused = Api::send(api.at("GET", "/clinked/oauth/token").query(&query)).await;
        assert_eq!(
            (refused.0, &refused.json()["error"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
        );
        assert_eq!(clinked_registrations(&api).await, 1, "the count goes on");

        // Every request outside `/_playground/` was counted, by path.
        let counts = Api::send(api.at("GET", "/_playground/requests")).await.json();
        assert_eq!(counts["paths"]["/clinked/v2/applications"], 1);
        assert_eq!(counts["paths"]["/clinked/oauth/token"], 4);
        let reset = Api::send(api.at("DELETE", "/_playground/requests")).await.json();
        assert_eq!(reset["total"], 0);
    })
    .await;
}

#[tokio::test]
async fn clinked_errors_follow_spring_oauth() {
    with_playground(|api| async move {
        let grant_error =
            |description: &str| json!({"error": "invalid_grant", "error_description": description});
        let query = [
            ("grant_type", "password"),
            ("client_id", clinked::CLIENT_ID),
            ("username", clinked::USERNAME),
            ("password", "wrong"),
        ];
        let wrong = Api::send(api.at("GET", "/clinked/oauth/token").query(&query)).await;
        assert_eq!((wrong.0, wrong.json()), (StatusCode::BAD_REQUEST, grant_error("Bad credentials")));

        let missing = clinked_password(&api, clinked::USERNAME_2FA, None).await;
        assert_eq!((missing.0, missing.json()), (StatusCode::BAD_REQUEST, grant_error("2FA code required")));
        let bad = clinked_password(&api, clinked::USERNAME_2FA, Some("000000")).await;
        assert_eq!((bad.0, bad.json()), (StatusCode::BAD_REQUEST, grant_error("bad 2FA code")));
        let good = clinked_password(&api, clinked::USERNAME_2FA, Some(clinked::CODE_2FA)).await;
        assert_eq!(good.0, StatusCode::OK);
        let form = [
            ("grant_type", "password"),
            ("client_id", clinked::CLIENT_ID),
            ("username", clinked::USERNAME),
            ("password", clinked::PASSWORD),
        ];
        let posted = Api::send(api.at("POST", "/clinked/oauth/token").form(&form)).await;
        assert_eq!((posted.0, &posted.json()["scope"]), (StatusCode::OK, &json!("read write")));

        let query = [
            ("grant_type", "password"),
            ("client_id", "someone-else"),
            ("username", clinked::USERNAME),
            ("password", clinked::PASSWORD),
        ];
        let client = Api::send(api.at("GET", "/clinked/oauth/token").query(&query)).await;
        assert_eq!((client.0, &client.json()["error"]), (StatusCode::UNAUTHORIZED, &json!("invalid_client")));

        let token = good.json()["access_token"].as_str().expect("token").to_owned();
        let register = |body: Value| api.at("POST", "/clinked/v2/applications").json(&body);
        let unnamed = Api::send(register(json!({"platform": "OTHER"})).bearer_auth(&token)).await;
        assert_eq!(
            (unnamed.0, &unnamed.json()["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_request"))
        );
        let anonymous = Api::send(register(json!({"name": "x"}))).await;
        assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
        assert_eq!(clinked_registrations(&api).await, 0);
    })
    .await;
}

fn p001_grant(extra: Value) -> Value {
    let mut body = json!({"client_id": p001::CLIENT_ID, "client_secret": p001::CLIENT_SECRET});
    body.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
    body
}

#[tokio::test]
async fn p001_json_password_grant_and_rotating_refresh() {
    with_playground(|api| async move {
        let password =
            json!({"grant_type": "password", "username": p001::USERNAME, "password": p001::PASSWORD});
        let reply = Api::send(api.at("POST", "/p001/oauth/token").json(&p001_grant(password.clone()))).await;
        assert_eq!(reply.0, StatusCode::OK);
        let first = reply.json();
        assert_eq!((&first["token_type"], &first["expires_in"]), (&json!("Bearer"), &json!(31_536_000)));
        let access = first["access_token"].as_str().expect("access_token");
        let refresh = first["refresh_token"].as_str().expect("refresh_token");
        assert!(access.starts_with("eyJ0eXAiO") && refresh.starts_with("def50200"), "{first}");
        let profile = get_bearer(&api, "/p001/api/v1/profile", access).await;
        assert_eq!((profile.0, &profile.json()["username"]), (StatusCode::OK, &json!(p001::USERNAME)));

        let refresh_body = p001_grant(json!({"grant_type": "refresh_token", "refresh_token": refresh}));
        let second = Api::send(api.at("POST", "/p001/oauth/token").json(&refresh_body)).await;
        assert_eq!(second.0, StatusCode::OK);
        let second = second.json();
        assert_ne!(
            (&second["access_token"], &second["refresh_token"]),
            (&first["access_token"], &first["refresh_token"])
        );
        let reused = Api::send(api.at("POST", "/p001/oauth/token").json(&refresh_body)).await;
        assert_eq!((reused.0, &reused.json()["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")));
        assert_eq!(get_bearer(&api, "/p001/api/v1/profile", access).await.0, StatusCode::UNAUTHORIZED);
        let new_access = second["access_token"].as_str().expect("access_token");
        assert_eq!(get_bearer(&api, "/p001/api/v1/profile", new_access).await.0, StatusCode::OK);

        let wrong_user = p001_grant(json!({"grant_type": "password", "username": "demo", "password": "x"}));
        let wrong_user = Api::send(api.at("POST", "/p001/oauth/token").json(&wrong_user)).await;
        assert_eq!(
            (wrong_user.0, &wrong_user.json()["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
        );
        let mut wrong_client = p001_grant(password.clone());
        wrong_client["client_secret"] = json!("nope");
        let wrong_client = Api::send(api.at("POST", "/p001/oauth/token").json(&wrong_client)).await;
        assert_eq!(
            (wrong_client.0, &wrong_client.json()["error"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
        );
        let form = [("grant_type", "password"), ("username", "demo")];
        let form = Api::send(api.at("POST", "/p001/oauth/token").form(&form)).await;
        assert_eq!(form.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(form.json()["error"], "invalid_request");

        let stats = Api::send(api.at("GET", "/p001/_stats")).await.json();
        assert_eq!(stats, json!({"password": 1, "refresh_token": 1, "api_401": 1}));
    })
    .await;
}

/// A p002 token through HTTP Basic and the documented form.
async fn p002_token(api: &Api, secret: Option<&str>) -> Reply {
    let form = [("grant_type", "client_credentials"), ("client_id", p002::CLIENT_ID)];
    let mut request = api.at("POST", "/p002/oauth/token").form(&form);
    if let Some(secret) = secret {
        request = request.basic_auth(p002::CLIENT_ID, Some(secret));
    }
    Api::send(request).await
}

/// `GET /p002/api/data` with every header the guide sends, minus `skip`.
async fn p002_data(api: &Api, authorization: &str, skip: &str) -> Reply {
    let referer = format!("{}/dashboard", p002::ORIGIN);
    let headers = [
        ("Authorization", authorization),
        ("x-api-key", p002::API_KEY),
        ("Referer", &referer),
        ("Origin", p002::ORIGIN),
    ];
    let mut request = api.at("GET", "/p002/api/data");
    for (name, value) in headers.into_iter().filter(|(name, _)| *name != skip) {
        request = request.header(name, value);
    }
    Api::send(request).await
}

#[tokio::test]
async fn p002_basic_token_and_guarded_api() {
    with_playground(|api| async move {
        let reply = p002_token(&api, Some(p002::CLIENT_SECRET)).await;
        assert_eq!(reply.0, StatusCode::OK);
        let body = reply.json();
        assert_eq!((&body["token_type"], &body["expires_in"]), (&json!("Bearer"), &json!(300)));
        let token = body["access_token"].as_str().expect("access_token").to_owned();
        for secret in [None, Some("wrong")] {
            let refused = p002_token(&api, secret).await;
            assert_eq!(
                (refused.0, &refused.json()["error"]),
                (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
            );
        }

        let raw = p002_data(&api, &token, "").await;
        assert_eq!((raw.0, &raw.json()["client_id"]), (StatusCode::OK, &json!(p002::CLIENT_ID)));
        assert_eq!(p002_data(&api, &format!("Bearer {token}"), "").await.0, StatusCode::OK);
        for header in ["x-api-key", "Origin", "Referer"] {
            let reply = p002_data(&api, &token, header).await;
            assert_eq!((reply.0, &reply.json()["error"]), (StatusCode::FORBIDDEN, &json!("forbidden")));
            let description = reply.json()["error_description"].as_str().unwrap_or("").to_owned();
            assert!(description.contains(header), "{description}");
        }
        let expired = p002_data(&api, "not-a-token", "").await;
        assert_eq!(
            (expired.0, &expired.json()["error"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
        );

        let stats = Api::send(api.at("GET", "/p002/_stats")).await.json();
        assert_eq!(stats, json!({"client_credentials": 1, "api_401": 1, "api_403": 3}));
    })
    .await;
}

#[tokio::test]
async fn cedato_nested_token_and_csv_report() {
    with_playground(|api| async move {
        let token_request = |api_version: Option<&str>, secret: &str| {
            let mut request = api
                .at("POST", "/cedato/api/token")
                .basic_auth(cedato::CLIENT_ID, Some(secret))
                .header("accept", "application/json")
                .header("cache-control", "no-cache")
                .form(&[("grant_type", "client_credentials")]);
            if let Some(version) = api_version {
                request = request.header("api-version", version);
            }
            request
        };
        let reply = Api::send(token_request(Some("1"), cedato::CLIENT_SECRET)).await;
        assert_eq!(reply.0, StatusCode::OK);
        let body = reply.json();
        assert_eq!(body["access_token"], Value::Null, "the token is nested under data");
        let data = &body["data"];
        assert_eq!((&data["token_type"], &data["expires_in"]), (&json!("bearer"), &json!(3600)));
        let token = data["access_token"].as_str().expect("data.access_token").to_owned();

        let missing = Api::send(token_request(None, cedato::CLIENT_SECRET)).await;
        assert_eq!(missing.0, StatusCode::BAD_REQUEST);
        assert!(missing.json()["error_description"].as_str().unwrap_or("").contains("api-version"));
        let wrong = Api::send(token_request(Some("1"), "wrong")).await;
        assert_eq!((wrong.0, &wrong.json()["error"]), (StatusCode::UNAUTHORIZED, &json!("invalid_client")));

        let report = |auth: Option<String>| {
            let request =
                api.at("GET", "/cedato/api/reports/daily?date=2026-11-01").header("api-version", "1");
            match auth {
                Some(auth) => request.header("Authorization", auth),
                None => request,
            }
        };
        let csv = Api::send(report(Some(format!("bearer {token}")))).await;
        assert_eq!((csv.0, csv.header("content-type")), (StatusCode::OK, "text/csv; charset=utf-8"));
        let lines: Vec<_> = csv.2.lines().collect();
        assert_eq!(lines.first(), Some(&"date,supply_id,supply_name,impressions,revenue"));
        assert!(lines.len() == 4 && lines[1..].iter().all(|l| l.starts_with("2026-11-01,")), "{}", csv.2);
        assert_eq!(Api::send(report(Some(format!("Bearer {token}")))).await.0, StatusCode::OK);
        let anonymous = Api::send(report(None)).await;
        assert_eq!(
            (anonymous.0, &anonymous.json()["error"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
        );
    })
    .await;
}

/// An Auth0 client-credentials request as a form.
async fn auth0_token(api: &Api, client: (&str, &str), audience: &str, scope: Option<&str>) -> Reply {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client.0),
        ("client_secret", client.1),
        ("audience", audience),
    ];
    form.extend(scope.map(|s| ("scope", s)));
    Api::send(api.at("POST", "/auth0/oauth/token").form(&form)).await
}

/// Decodes a JWT's claims (no verification).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

/// An HS256 JWT with `claims`, signed with the documented secret.
fn forge(claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(auth0::SIGNING_SECRET.as_bytes()).expect("key");
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn auth0_client_credentials_jwt_and_scopes() {
    with_playground(|api| async move {
        let full = (auth0::CLIENT_ID, auth0::CLIENT_SECRET);
        let reply = auth0_token(&api, full, auth0::AUDIENCE, None).await;
        assert_eq!(reply.0, StatusCode::OK);
        let body = reply.json();
        assert_eq!((&body["token_type"], &body["expires_in"]), (&json!("Bearer"), &json!(86_400)));
        assert_eq!(body["scope"], auth0::SCOPE);
        let jwt = body["access_token"].as_str().expect("access_token").to_owned();
        let token_claims = claims(&jwt);
        assert_eq!(token_claims["sub"], format!("{}@clients", auth0::CLIENT_ID));
        assert_eq!(
            (&token_claims["aud"], &token_claims["iss"]),
            (&json!(auth0::AUDIENCE), &json!(auth0::ISSUER))
        );
        assert_eq!(
            (&token_claims["scope"], &token_claims["gty"]),
            (&json!(auth0::SCOPE), &json!("client-credentials"))
        );
        let lifetime = token_claims["exp"].as_u64().zip(token_claims["iat"].as_u64()).map(|(e, i)| e - i);
        assert_eq!(lifetime, Some(86_400));
        assert_eq!(forge(&token_claims), jwt, "signed with the documented HS256 secret");

        let public = Api::send(api.at("GET", "/auth0/api/public")).await;
        let message = "Hello from a public endpoint! You don't need to be authenticated to see this.";
        assert_eq!((public.0, public.json()), (StatusCode::OK, json!({"message": message})));
        let anonymous = Api::send(api.at("GET", "/auth0/api/private")).await;
        assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
        assert!(anonymous.header("www-authenticate").starts_with("Bearer"));
        assert_eq!(get_bearer(&api, "/auth0/api/private", &jwt).await.0, StatusCode::OK);
        assert_eq!(get_bearer(&api, "/auth0/api/private-scoped", &jwt).await.0, StatusCode::OK);

        let mut wrong_aud = token_claims.clone();
        wrong_aud["aud"] = json!("https://other/api");
        let mut expired = token_claims.clone();
        expired["exp"] = json!(1_000_000_000);
        let unsigned = jwt.rsplit_once('.').map(|(input, _)| input).unwrap_or_default();
        let tampered = format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        let mut not_issued = token_claims.clone();
        not_issued["jti"] = json!("never-issued");
        for (token, why) in [
            (forge(&wrong_aud), "\"aud\""),
            (forge(&expired), "\"exp\""),
            (tampered, "signature"),
            (forge(&not_issued), "unknown token"),
        ] {
            let reply = get_bearer(&api, "/auth0/api/private", &token).await;
            assert_eq!(
                (reply.0, &reply.json()["error"]),
                (StatusCode::UNAUTHORIZED, &json!("invalid_token"))
            );
            assert!(reply.json()["error_description"].as_str().unwrap_or("").contains(why), "{}", reply.2);
            assert!(
                reply.header("www-authenticate").starts_with("Bearer realm=\"api\", error=\"invalid_token\"")
            );
        }

        let limited = (auth0::LIMITED_CLIENT_ID, auth0::LIMITED_CLIENT_SECRET);
        let json_body = json!({"grant_type": "client_credentials", "client_id": limited.0,
                               "client_secret": limited.1, "audience": auth0::AUDIENCE});
        let reply = Api::send(api.at("POST", "/auth0/oauth/token").json(&json_body)).await;
        assert_eq!(reply.0, StatusCode::OK, "JSON bodies work too");
        let limited_jwt = reply.json()["access_token"].as_str().expect("access_token").to_owned();
        assert_eq!(get_bearer(&api, "/auth0/api/private", &limited_jwt).await.0, StatusCode::OK);
        let scoped = get_bearer(&api, "/auth0/api/private-scoped", &limited_jwt).await;
        let expected = json!({"error": "insufficient_scope", "error_description": "Insufficient scope"});
        assert_eq!((scoped.0, scoped.json()), (StatusCode::FORBIDDEN, expected));
        let denied = auth0_token(&api, limited, auth0::AUDIENCE, Some(auth0::SCOPE)).await;
        assert_eq!((denied.0, &denied.json()["error"]), (StatusCode::FORBIDDEN, &json!("access_denied")));

        let wrong_secret = auth0_token(&api, (auth0::CLIENT_ID, "nope"), auth0::AUDIENCE, None).await;
        let expected = json!({"error": "access_denied", "error_description": "Unauthorized"});
        assert_eq!((wrong_secret.0, wrong_secret.json()), (StatusCode::UNAUTHORIZED, expected));
        let wrong_audience = auth0_token(&api, full, "https://other/api", None).await;
        let expected = json!({"error": "access_denied",
                              "error_description": "Service not enabled within domain: https://other/api"});
        assert_eq!((wrong_audience.0, wrong_audience.json()), (StatusCode::FORBIDDEN, expected));
    })
    .await;
}

#[tokio::test]
async fn index_lists_every_provider_with_credentials() {
    with_playground(|api| async move {
        let index = Api::send(api.at("GET", "/")).await.json();
        let providers = &index["providers"];
        assert_eq!(providers["clinked"]["credentials"]["client_id"], clinked::CLIENT_ID);
        assert_eq!(providers["p001"]["credentials"]["client_secret"], p001::CLIENT_SECRET);
        assert_eq!(providers["p002"]["credentials"]["api_key"], p002::API_KEY);
        assert_eq!(providers["cedato"]["credentials"]["client_id"], cedato::CLIENT_ID);
        assert_eq!(providers["auth0"]["credentials"]["audience"], auth0::AUDIENCE);
    })
    .await;
}
