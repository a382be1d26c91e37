//! HTTPS for the playground: a throwaway CA and leaf certificate made at
//! start, and a listener that completes TLS handshakes concurrently.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client gets to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A rustls server config (ring provider, HTTP/1.1) with a fresh leaf
/// certificate for `127.0.0.1`, `localhost` and `::1`, and the PEM of the CA
/// that signed it.
pub(crate) fn server_config() -> io::Result<(Arc<ServerConfig>, String)> {
    server_config_with(None)
}

/// PEM texts a client of the mutual-TLS playground needs.
#[derive(Debug, Clone)]
pub struct ClientPki {
    /// The CA that signed the server's certificate (to trust it).
    pub ca_pem: String,
    /// A client certificate the server accepts.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

/// Like [`server_config`], but the server requires a client certificate signed by a
/// second throwaway CA, and one such certificate is returned with its key.
pub(crate) fn mtls_config() -> io::Result<(Arc<ServerConfig>, ClientPki)> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "baton playground client CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let client_ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(io::Error::other)?)
        .map_err(io::Error::other)?;
    let mut leaf =
        CertificateParams::new(vec!["client.example.test".to_string()]).map_err(io::Error::other)?;
    leaf.distinguished_name.push(DnType::CommonName, "baton playground client");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.use_authority_key_identifier_extension = true;
    let client_key = KeyPair::generate().map_err(io::Error::other)?;
    let client = leaf.signed_by(&client_key, &client_ca).map_err(io::Error::other)?;
    let (config, ca_pem) = server_config_with(Some(client_ca.der().clone()))?;
    Ok((config, ClientPki { ca_pem, cert_pem: client.pem(), key_pem: client_key.serialize_pem() }))
}

fn server_config_with(
    client_ca: Option<rustls::pki_types::CertificateDer<'static>>,
) -> io::Result<(Arc<ServerConfig>, String)> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "baton playground CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(io::Error::other)?)
        .map_err(io::Error::other)?;

    let names = ["127.0.0.1", "localhost", "::1"].map(str::to_owned);
    let mut leaf = CertificateParams::new(names).map_err(io::Error::other)?;
    leaf.distinguished_name.push(DnType::CommonName, "baton playground");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(io::Error::other)?;
    let leaf = leaf.signed_by(&leaf_key, &ca).map_err(io::Error::other)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
    let builder = match client_ca {
        Some(client_ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(client_ca).map_err(io::Error::other)?;
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(io::Error::other)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), ca.pem()))
}

/// Accepts TCP connections and yields them once their TLS handshake is done;
/// handshakes run concurrently, failed or slow ones are dropped.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        TlsListener { tcp, acceptor: TlsAcceptor::from(config), handshakes: JoinSet::new() }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let handshake = self.acceptor.accept(stream);
                        self.handshakes.spawn(async move {
                            let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await.ok()?.ok()?;
                            Some((tls, addr))
                        });
                    }
                    // Like axum's TCP listener: back off on errors such as EMFILE.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Some(joined) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(done)) = joined {
                        return done;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
