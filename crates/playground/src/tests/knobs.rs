//! Failure knobs: injected failures, delays and token lifetimes (down to milliseconds).

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;

use super::{Api, LOOPBACK, with_knobs, with_playground};
use crate::providers::{auth0, p001, p002};
use crate::{FailRule, Knobs, Playground};

/// A p002 token and the headers its API wants.
async fn p002_call(api: &Api, token: &str) -> super::Reply {
    let request = api
        .at("GET", "/p002/api/data")
        .header("Authorization", token)
        .header("x-api-key", p002::API_KEY)
        .header("Origin", p002::ORIGIN)
        .header("Referer", format!("{}/", p002::ORIGIN));
    Api::send(request).await
}

async fn p002_token(api: &Api) -> serde_json::Value {
    let form = [("grant_type", "client_credentials"), ("client_id", p002::CLIENT_ID)];
    let request = api.at("POST", "/p002/oauth/token").basic_auth(p002::CLIENT_ID, Some(p002::CLIENT_SECRET));
    Api::send(request.form(&form)).await.json()
}

#[tokio::test]
async fn fail_n_times_then_succeed_with_retry_after() {
    with_playground(|api| async move {
        let token = p002_token(&api).await["access_token"].as_str().expect("token").to_owned();
        let knobs =
            json!({"fail": [{"path": "/p002/api/data", "times": 2, "status": 503, "retry_after": 1}]});
        let set = Api::send(api.at("PUT", "/_playground/knobs").json(&knobs)).await;
        assert_eq!((set.0, &set.json()["fail"][0]["times"]), (StatusCode::OK, &json!(2)));
        for left in [1, 0] {
            let reply = p002_call(&api, &token).await;
            assert_eq!((reply.0, reply.header("retry-after")), (StatusCode::SERVICE_UNAVAILABLE, "1"));
            assert_eq!(reply.json()["error"], "injected_failure");
            let shown = Api::send(api.at("GET", "/_playground/knobs")).await.json();
            assert_eq!(shown["fail"].as_array().map(Vec::len), Some(left));
        }
        assert_eq!(p002_call(&api, &token).await.0, StatusCode::OK);
        let stats = Api::send(api.at("GET", "/p002/_stats")).await.json();
        assert_eq!(stats["api_403"], 0, "injected failures never reach the handler");

        let invalid = json!({"fail": [{"path": "/", "status": 200}]});
        let invalid = Api::send(api.at("PUT", "/_playground/knobs").json(&invalid)).await;
        assert_eq!((invalid.0, &invalid.json()["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_knobs")));
        let unknown = Api::send(api.at("PUT", "/_playground/knobs").json(&json!({"fial": []}))).await;
        assert_eq!(unknown.0, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn start_with_knobs_429_everywhere_but_the_knobs_api() {
    let rule = FailRule { path: "/".into(), times: 1, status: 429, retry_after: Some(2) };
    with_knobs(Knobs { fail: vec![rule], ..Knobs::default() }, |api| async move {
        let shown = Api::send(api.at("GET", "/_playground/knobs")).await;
        assert_eq!(shown.0, StatusCode::OK, "the knobs API is never failed");
        let limited = Api::send(api.at("GET", "/text")).await;
        assert_eq!((limited.0, limited.header("retry-after")), (StatusCode::TOO_MANY_REQUESTS, "2"));
        assert_eq!(Api::send(api.at("GET", "/text")).await.0, StatusCode::OK);
    })
    .await;
    let bad = Knobs { token_lifetime: Some(u64::MAX), ..Knobs::default() };
    let started = tokio::time::timeout(Duration::from_secs(10), Playground::start_with(LOOPBACK.into(), bad));
    let err = started.await.expect("in time").expect_err("must refuse");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn token_lifetime_expires_tokens_for_real() {
    with_knobs(Knobs { token_lifetime: Some(1), ..Knobs::default() }, |api| async move {
        let body = p002_token(&api).await;
        assert_eq!(body["expires_in"], 1);
        let token = body["access_token"].as_str().expect("token").to_owned();
        assert_eq!(p002_call(&api, &token).await.0, StatusCode::OK);

        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", auth0::CLIENT_ID),
            ("client_secret", auth0::CLIENT_SECRET),
            ("audience", auth0::AUDIENCE),
        ];
        let jwt = Api::send(api.at("POST", "/auth0/oauth/token").form(&form)).await.json();
        assert_eq!(jwt["expires_in"], 1);
        let jwt = jwt["access_token"].as_str().expect("jwt").to_owned();
        let private = || api.at("GET", "/auth0/api/private").bearer_auth(&jwt);
        assert_eq!(Api::send(private()).await.0, StatusCode::OK);

        tokio::time::sleep(Duration::from_millis(1200)).await;
        let expired = p002_call(&api, &token).await;
        assert_eq!(
            (expired.0, &expired.json()["error_description"]),
            (StatusCode::UNAUTHORIZED, &json!("token expired"))
        );
        assert_eq!(Api::send(private()).await.0, StatusCode::UNAUTHORIZED);
        // As the guide does: re-authenticate on 401 and retry.
        let fresh = p002_token(&api).await["access_token"].as_str().expect("token").to_owned();
        assert_eq!(p002_call(&api, &fresh).await.0, StatusCode::OK);

        let reset = Api::send(api.at("DELETE", "/_playground/knobs")).await;
        assert_eq!(reset.json(), json!({"token_lifetime": null, "fail": [], "delay": []}));
        assert_eq!(p002_token(&api).await["expires_in"], p002::TOKEN_LIFETIME);
    })
    .await;
}

#[tokio::test]
async fn delay_slows_matching_paths() {
    with_playground(|api| async move {
        let knobs = json!({"delay": [{"path": "/p001/api/v1/profile", "ms": 300}]});
        assert_eq!(Api::send(api.at("PUT", "/_playground/knobs").json(&knobs)).await.0, StatusCode::OK);
        let started = Instant::now();
        let reply = Api::send(api.at("GET", "/p001/api/v1/profile")).await;
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
        assert_eq!(reply.0, StatusCode::UNAUTHORIZED, "delayed, then answered by the handler");
        let stats = Api::send(api.at("GET", "/p001/_stats")).await.json();
        assert_eq!(stats, json!({"password": 0, "refresh_token": 0, "api_401": 1}));
        assert_eq!(p001::TOKEN_LIFETIME, 31_536_000);
    })
    .await;
}

#[tokio::test]
async fn token_lifetime_ms_issues_sub_second_tokens() {
    let pg = Playground::start(LOOPBACK.into()).await.expect("start");
    pg.set_token_lifetime(Some(Duration::from_millis(200)));
    let api = Api { base: pg.base_url(), client: super::test_client() };
    let body = p002_token(&api).await;
    assert_eq!(body["expires_in"], json!(0.2));
    let token = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(p002_call(&api, &token).await.0, StatusCode::OK);
    let shown = Api::send(api.at("GET", "/_playground/knobs")).await.json();
    assert_eq!(shown["token_lifetime_ms"], 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expired = p002_call(&api, &token).await;
    assert_eq!(
        (expired.0, &expired.json()["error_description"]),
        (StatusCode::UNAUTHORIZED, &json!("token expired"))
    );
    pg.set_token_lifetime(None);
    assert_eq!(p002_token(&api).await["expires_in"], p002::TOKEN_LIFETIME);
    pg.shutdown().await;
}

#[tokio::test]
async fn token_lifetime_ms_over_the_knobs_api_wins_over_seconds() {
    with_playground(|api| async move {
        let knobs = json!({"token_lifetime": 60, "token_lifetime_ms": 1500});
        let set = Api::send(api.at("PUT", "/_playground/knobs").json(&knobs)).await;
        assert_eq!((set.0, &set.json()["token_lifetime_ms"]), (StatusCode::OK, &json!(1500)));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", auth0::CLIENT_ID),
            ("client_secret", auth0::CLIENT_SECRET),
            ("audience", auth0::AUDIENCE),
        ];
        let jwt = Api::send(api.at("POST", "/auth0/oauth/token").form(&form)).await.json();
        assert_eq!(jwt["expires_in"], json!(1.5));
        let claims = jwt["access_token"].as_str().and_then(|t| t.split('.').nth(1)).expect("claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64")).expect("json");
        assert_eq!(claims["exp"].as_u64(), claims["iat"].as_u64().map(|iat| iat + 2), "rounded up");

        let whole = json!({"token_lifetime_ms": 2000});
        assert_eq!(Api::send(api.at("PUT", "/_playground/knobs").json(&whole)).await.0, StatusCode::OK);
        assert_eq!(p002_token(&api).await["expires_in"], json!(2), "whole seconds stay integers");

        let too_long = json!({"token_lifetime_ms": u64::MAX});
        let refused = Api::send(api.at("PUT", "/_playground/knobs").json(&too_long)).await;
        assert_eq!((refused.0, &refused.json()["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_knobs")));
        let reset = Api::send(api.at("DELETE", "/_playground/knobs")).await;
        assert_eq!(reset.json(), json!({"token_lifetime": null, "fail": [], "delay": []}));
    })
    .await;
}
