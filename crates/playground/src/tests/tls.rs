//! HTTPS: the generated CA is trusted explicitly, and only then.

use std::error::Error;
use std::time::Duration;

use reqwest::{Certificate, Client, StatusCode};

use super::{Api, LOOPBACK, test_client};
use crate::Playground;
use crate::providers::auth0;

#[tokio::test]
async fn tls_with_the_returned_ca_and_without() {
    let test = async {
        let untrusting = test_client(); // also installs the ring provider
        let (pg, ca_pem) = Playground::start_tls(LOOPBACK.into()).await.expect("start_tls");
        let base = pg.base_url();
        assert!(base.starts_with("https://127.0.0.1:"), "{base}");
        assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));

        let ca = Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM");
        let trusting = Client::builder().no_proxy().timeout(Duration::from_secs(20)).add_root_certificate(ca);
        let api = Api { base: base.clone(), client: trusting.build().expect("client") };
        let index = Api::send(api.at("GET", "/")).await;
        assert_eq!(
            (index.0, &index.json()["name"]),
            (StatusCode::OK, &serde_json::json!("baton playground"))
        );
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", auth0::CLIENT_ID),
            ("client_secret", auth0::CLIENT_SECRET),
            ("audience", auth0::AUDIENCE),
        ];
        assert_eq!(Api::send(api.at("POST", "/auth0/oauth/token").form(&form)).await.0, StatusCode::OK);

        let err = untrusting.get(format!("{base}/")).send().await.expect_err("an unknown CA must be refused");
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            chain.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        assert!(chain.to_lowercase().contains("certificate"), "{chain}");

        let addr = pg.addr();
        pg.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
    };
    tokio::time::timeout(Duration::from_secs(30), test).await.expect("test timed out");
}
