//! End-to-end tests against a real playground on 127.0.0.1 (all bounded in time).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode, multipart};
use serde_json::{Value, json};

use super::{DEMO_PASSWORD, DEMO_USERNAME, Knobs, Playground};

mod knobs;
mod providers;
mod tls;

const LOOPBACK: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// A client bound to one playground's base URL.
struct Api {
    base: String,
    client: Client,
}

/// Status, headers and body text of a response (body parsed as JSON via `.json()`).
struct Reply(StatusCode, HeaderMap, String);

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.2).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> &str {
        self.1.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl Api {
    fn at(&self, method: &str, path: &str) -> RequestBuilder {
        let method = method.parse().expect("method");
        self.client.request(method, format!("{}{path}", self.base))
    }
    async fn send(request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("request");
        let (status, headers) = (response.status(), response.headers().clone());
        Reply(status, headers, response.text().await.expect("body"))
    }
    async fn login(&self, username: &str, password: &str) -> String {
        let credentials = json!({"username": username, "password": password});
        let reply = Self::send(self.at("POST", "/demo/login").json(&credentials)).await;
        assert_eq!(reply.0, StatusCode::OK);
        let body = reply.json();
        assert_eq!((&body["token_type"], &body["expires_in"]), (&json!("Bearer"), &json!(3600)));
        assert!(body["refresh_token"].is_string());
        body["access_token"].as_str().expect("access_token").to_owned()
    }
}

/// A client that never goes through a proxy (the playground is on loopback).
fn test_client() -> Client {
    // baton builds reqwest with `rustls-no-provider`, so building any client
    // needs a process-wide crypto provider (Err just means one is installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::builder().no_proxy().timeout(Duration::from_secs(20));
    client.build().expect("client")
}

/// Runs a test body against a fresh playground, bounded in time.
async fn with_playground<F: Future<Output = ()>>(test: impl FnOnce(Api) -> F) {
    with_knobs(Knobs::default(), test).await;
}

/// Runs a test body against a fresh playground started with `knobs`, bounded in time.
async fn with_knobs<F: Future<Output = ()>>(knobs: Knobs, test: impl FnOnce(Api) -> F) {
    tokio::time::timeout(Duration::from_secs(30), async {
        let pg = Playground::start_with(LOOPBACK.into(), knobs).await.expect("start");
        let base = pg.base_url();
        test(Api { base, client: test_client() }).await;
        pg.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn register_login_me_chain() {
    with_playground(|api| async move {
        let form = [("username", "alice"), ("password", "s3cret")];
        let created = Api::send(api.at("POST", "/demo/register").form(&form)).await;
        assert_eq!(created.0, StatusCode::CREATED);
        assert_eq!(created.json()["username"], "alice");
        let again = json!({"username": "alice", "password": "x"});
        let again = Api::send(api.at("POST", "/demo/register").json(&again)).await;
        assert_eq!(again.0, StatusCode::CONFLICT);
        let missing = json!({"username": "bob"});
        let missing = Api::send(api.at("POST", "/demo/register").json(&missing)).await;
        assert_eq!(missing.0, StatusCode::BAD_REQUEST);

        let token = api.login("alice", "s3cret").await;
        let auth = format!("bearer {token}"); // scheme is case-insensitive
        let me = Api::send(api.at("GET", "/demo/me").header("Authorization", auth)).await;
        assert_eq!(me.0, StatusCode::OK);
        let me = me.json();
        assert_eq!(me["id"], created.json()["id"]);
        assert_eq!((&me["username"], &me["roles"]), (&json!("alice"), &json!(["user"])));
        api.login(DEMO_USERNAME, DEMO_PASSWORD).await;
    })
    .await;
}

#[tokio::test]
async fn wrong_password_and_wrong_token_are_401() {
    with_playground(|api| async move {
        let wrong = json!({"username": DEMO_USERNAME, "password": "nope"});
        let reply = Api::send(api.at("POST", "/demo/login").json(&wrong)).await;
        assert_eq!(reply.0, StatusCode::UNAUTHORIZED);
        let expected = json!({"error": "invalid_grant", "error_description": "wrong username or password"});
        assert_eq!(reply.json(), expected);

        for auth in ["Bearer at-bogus", "Basic Zm9vOmJhcg==", ""] {
            let mut request = api.at("GET", "/demo/me");
            if !auth.is_empty() {
                request = request.header("Authorization", auth);
            }
            let reply = Api::send(request).await;
            assert_eq!(reply.0, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.header("www-authenticate"), "Bearer error=\"invalid_token\"");
            assert_eq!(reply.json()["error"], "invalid_token");
        }
    })
    .await;
}

#[tokio::test]
async fn items_create_get_delete_and_report() {
    with_playground(|api| async move {
        let token = api.login(DEMO_USERNAME, DEMO_PASSWORD).await;
        let authed = |method, path: &str| api.at(method, path).bearer_auth(&token);
        let item = json!({"name": "widget, large", "price": 9.5, "tags": ["a"]});
        let reply = Api::send(authed("POST", "/demo/items").json(&item)).await;
        assert_eq!(reply.0, StatusCode::CREATED);
        let (created, location) = (reply.json(), reply.header("location").to_owned());
        assert_eq!(location, format!("/demo/items/{}", created["id"]));
        assert_eq!((&created["owner"], &created["price"]), (&json!(DEMO_USERNAME), &json!(9.5)));

        let bad = json!({"name": "x", "price": "cheap"});
        let bad = Api::send(authed("POST", "/demo/items").json(&bad)).await;
        assert_eq!((bad.0, &bad.json()["error"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("invalid_item")));

        assert_eq!(Api::send(authed("GET", &location)).await.json(), created);
        assert_eq!(Api::send(authed("GET", "/demo/items")).await.json(), json!([created]));
        let report = Api::send(authed("GET", "/demo/report.csv")).await;
        assert_eq!(report.header("content-type"), "text/csv; charset=utf-8");
        assert_eq!(report.2, format!("id,name,price\n{},\"widget, large\",9.5\n", created["id"]));

        let deleted = Api::send(authed("DELETE", &location)).await;
        assert_eq!((deleted.0, deleted.2.as_str()), (StatusCode::NO_CONTENT, ""));
        assert_eq!(Api::send(authed("GET", &location)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(Api::send(authed("DELETE", &location)).await.0, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn echo_query_json_form_and_multipart() {
    with_playground(|api| async move {
        let request = api
            .at("PUT", "/echo/some/path")
            .query(&[("a", "1"), ("a", "2"), ("b", "x y&z")])
            .header("X-Twice", "one")
            .header("X-Twice", "two")
            .json(&json!({"k": [1, 2]}));
        let echoed = Api::send(request).await.json();
        assert_eq!((&echoed["method"], &echoed["path"]), (&json!("PUT"), &json!("/echo/some/path")));
        assert_eq!(echoed["query"], json!({"a": ["1", "2"], "b": "x y&z"}));
        assert_eq!(echoed["headers"]["x-twice"], "one, two");
        assert_eq!((&echoed["json"], &echoed["body"]), (&json!({"k": [1, 2]}), &json!(r#"{"k":[1,2]}"#)));
        assert_eq!((&echoed["form"], &echoed["multipart"]), (&Value::Null, &Value::Null));

        let form = [("name", "Zoë"), ("tag", "a"), ("tag", "b")];
        let echoed = Api::send(api.at("POST", "/echo").form(&form)).await.json();
        assert_eq!(echoed["form"], json!({"name": "Zoë", "tag": ["a", "b"]}));
        assert_eq!(echoed["json"], Value::Null);

        let file = multipart::Part::bytes(b"hello file".to_vec()).file_name("hello.txt");
        let file = file.mime_str("text/plain").expect("mime");
        let form = multipart::Form::new().text("field", "value").part("upload", file);
        let echoed = Api::send(api.at("POST", "/echo").multipart(form)).await.json();
        let expected = json!([
            {"name": "field", "filename": null, "content_type": null, "text": "value", "size": 5},
            {"name": "upload", "filename": "hello.txt", "content_type": "text/plain",
             "text": "hello file", "size": 10},
        ]);
        assert_eq!(echoed["multipart"], expected);
    })
    .await;
}

#[tokio::test]
async fn status_delay_and_canned_endpoints() {
    with_playground(|api| async move {
        let reply = Api::send(api.at("GET", "/status/429")).await;
        assert_eq!((reply.0, reply.header("retry-after")), (StatusCode::TOO_MANY_REQUESTS, "1"));
        assert_eq!(reply.json(), json!({"status": 429}));
        for bad in ["600", "101", "abc"] {
            let reply = Api::send(api.at("GET", &format!("/status/{bad}"))).await;
            assert_eq!(reply.0, StatusCode::BAD_REQUEST);
        }
        assert_eq!(Api::send(api.at("GET", "/status/204")).await.0, StatusCode::NO_CONTENT);

        let started = std::time::Instant::now();
        let reply = Api::send(api.at("GET", "/delay/150")).await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(reply.json(), json!({"delayed_ms": 150}));

        let text = Api::send(api.at("GET", "/text")).await;
        assert_eq!(text.header("content-type"), "text/plain; charset=utf-8");
        assert_eq!(text.2, "hello from the playground\n");
        let csv = Api::send(api.at("GET", "/csv")).await;
        assert!(csv.header("content-type").starts_with("text/csv"));
        assert_eq!(csv.2.lines().count(), 4);
        assert_eq!(Api::send(api.at("GET", "/empty")).await.0, StatusCode::NO_CONTENT);
        let set = Api::send(api.at("GET", "/headers/set?x-custom=hi%20there")).await;
        assert_eq!(set.header("x-custom"), "hi there");
        assert_eq!(Api::send(api.at("GET", "/")).await.json()["name"], "baton playground");
        let missing = Api::send(api.at("GET", "/nope")).await;
        assert_eq!((missing.0, &missing.json()["error"]), (StatusCode::NOT_FOUND, &json!("not_found")));
    })
    .await;
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let test = async {
        let pg = Playground::start(LOOPBACK.into()).await.expect("start");
        let addr = pg.addr();
        assert!(pg.base_url().starts_with("http://127.0.0.1:"));
        tokio::net::TcpStream::connect(addr).await.expect("connect while running");
        pg.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());

        let pg = Playground::start(LOOPBACK.into()).await.expect("start");
        let addr = pg.addr();
        drop(pg); // signals shutdown; the listener closes shortly after
        let mut refused = false;
        for _ in 0..100 {
            refused = tokio::net::TcpStream::connect(addr).await.is_err();
            if refused {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused, "server still accepting after drop");
    };
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test timed out");
}

#[tokio::test]
async fn start_rejects_non_loopback_addresses() {
    let test = async {
        for addr in ["0.0.0.0:0", "[::]:0"] {
            let addr: SocketAddr = addr.parse().expect("addr");
            let err = Playground::start(addr).await.expect_err("must refuse");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), test).await.expect("test timed out");
}
