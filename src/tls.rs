//! Certificate verification with `--cacert`: the platform's roots plus the file's, and
//! a self-signed server certificate given in the file trusted as itself.
//!
//! `openssl req -x509` makes a self-signed certificate marked as a CA
//! (`basicConstraints CA:TRUE`). Used as a server's own certificate, the WebPKI rules
//! refuse it (`CaUsedAsEndEntity`) even when it is the trust anchor itself; curl accepts
//! it. baton accepts it too, only when the server presents exactly a certificate from the
//! `--cacert` file (a pin), still checking its dates (checked before that rule) and that
//! it names the host; the handshake signature is verified as always.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// The certificates of a PEM file (no certificate is an error).
pub fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err("the file holds no PEM certificate".into());
    }
    Ok(certs)
}

/// A client certificate chain and its private key, for mutual TLS.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
}

/// A client identity from a PEM certificate (chain) and a PEM private key (PKCS#8,
/// PKCS#1 or SEC1).
pub fn identity(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, String> {
    let chain = certificates(cert_pem)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("not a PEM private key: {e}"))?;
    Ok(Identity { chain, key })
}

/// A TLS client configuration trusting the platform's roots and `extra`, with `extra`'s
/// self-signed certificates pinned (or trusting anything when `insecure`), presenting
/// `identity` when a server asks for a client certificate.
pub fn client_config(
    extra: Vec<CertificateDer<'static>>,
    identity: Option<Identity>,
    insecure: bool,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(Unverified(Arc::clone(&provider)))
    } else {
        let inner =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra.clone(), Arc::clone(&provider))
                .map_err(|e| format!("the certificates cannot be used: {e}"))?;
        Arc::new(Pinning { inner: Arc::new(inner), pinned: extra })
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(Identity { chain, key }) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("the client certificate cannot be used with its key: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// `insecure`: every server certificate is accepted (the handshake signature is still
/// checked, so the connection is at least with the holder of the presented key).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The platform verifier, except that a pinned certificate refused only for being a CA
/// is accepted for the names it lists.
#[derive(Debug)]
struct Pinning {
    inner: Arc<dyn ServerCertVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

fn is_ca_used_as_leaf(e: &rustls::Error) -> bool {
    matches!(e, rustls::Error::InvalidCertificate(CertificateError::Other(o))
        if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)))
}

impl ServerCertVerifier for Pinning {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(e)
                if is_ca_used_as_leaf(&e)
                    && self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A TLS failure in plain words, from the error text rustls and webpki give, with
/// advice when the cause is not the trust store (which the caller advises on).
pub fn plain_words(detail: &str) -> Option<(&'static str, Option<&'static str>)> {
    const RENEW: Option<&str> =
        Some("the server needs a current certificate; `--insecure` skips verification (not for production)");
    const NAME: Option<&str> = Some(
        "call the server by a name its certificate lists, or issue it a certificate with this host in its subjectAltName",
    );
    const KNOWN: &[(&str, &str, Option<&str>)] = &[
        ("unknownissuer", "the server's certificate is signed by a CA this machine does not trust", None),
        ("notvalidforname", "the server's certificate does not name this host", NAME),
        ("not valid for name", "the server's certificate does not name this host", NAME),
        ("certificate expired", "the server's certificate has expired", RENEW),
        ("expired", "the server's certificate has expired", RENEW),
        ("notvalidyet", "the server's certificate is not valid yet (check the clock)", RENEW),
        ("not valid yet", "the server's certificate is not valid yet (check the clock)", RENEW),
        ("causedasendentity", "the server presents a CA certificate as its own", None),
        ("badsignature", "the server's certificate has a bad signature", None),
        ("revoked", "the server's certificate is revoked", RENEW),
    ];
    let lower = detail.to_ascii_lowercase();
    KNOWN.iter().find(|(code, _, _)| lower.contains(code)).map(|(_, words, help)| (*words, *help))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_without_certificates_are_refused() {
        assert!(certificates(b"").is_err());
        assert!(certificates(b"not a certificate").is_err());
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        assert_eq!(certificates(cert.cert.pem().as_bytes()).expect("one").len(), 1);
    }

    #[test]
    fn tls_failures_are_said_in_plain_words() {
        let words = |d: &str| plain_words(d).map(|(w, _)| w);
        assert_eq!(
            words("invalid peer certificate: UnknownIssuer"),
            Some("the server's certificate is signed by a CA this machine does not trust")
        );
        assert_eq!(
            words("Other(OtherError(CaUsedAsEndEntity))"),
            Some("the server presents a CA certificate as its own")
        );
        assert_eq!(
            words("certificate expired: verification time 1"),
            Some("the server's certificate has expired")
        );
        let name = plain_words("certificate not valid for name \"h\"").and_then(|(_, h)| h);
        assert!(name.is_some_and(|h| h.contains("subjectAltName")), "{name:?}");
        assert_eq!(words("handshake eof"), None);
    }
}
