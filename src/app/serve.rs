//! `baton playground` and `baton demo` (the `playground` feature), served by
//! the `baton-playground` crate.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use baton_playground as playground;

use crate::cli::RunOptions;
use crate::exit::Exit;
use crate::secret::Masker;

use super::collections::run_collections;
use super::{eprint, runtime};

pub(super) fn serve_playground(port: u16, tls: Option<&std::path::Path>) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprint(&format!("error: cannot start the async runtime: {e}"), &Masker::default());
            return Exit::Runtime;
        }
    };
    rt.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = match tls {
            None => playground::Playground::start(addr).await,
            Some(ca_path) => match playground::Playground::start_tls(addr).await {
                Ok((pg, pem)) => match crate::atomic::write(ca_path, pem.as_bytes(), false) {
                    Ok(()) => Ok(pg),
                    Err(e) => {
                        eprint(
                            &format!("error: cannot write the CA to {}: {e}", ca_path.display()),
                            &Masker::default(),
                        );
                        return Exit::Usage;
                    }
                },
                Err(e) => Err(e),
            },
        };
        let pg = match started {
            Ok(pg) => pg,
            Err(e) => {
                eprint(&format!("error: cannot listen on {addr}: {e}"), &Masker::default());
                return Exit::Runtime;
            }
        };
        if let Some(ca_path) = tls {
            let _ =
                writeln!(anstream::stdout(), "CA certificate: {} (pass it with --cacert)", ca_path.display());
        }
        let _ = writeln!(
            anstream::stdout(),
            "baton playground on {}\n  demo user: {} / {}\n  press Ctrl-C to stop",
            pg.base_url(),
            playground::DEMO_USERNAME,
            playground::DEMO_PASSWORD
        );
        let _ = tokio::signal::ctrl_c().await;
        pg.shutdown().await;
        Exit::Passed
    })
}

/// Writes the playground's CA, client certificate and key where a collection can name them.
fn write_pki(pki: &playground::ClientPki) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("baton-demo-pki").tempdir()?;
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem)?;
    std::fs::write(dir.path().join("client.pem"), &pki.cert_pem)?;
    std::fs::write(dir.path().join("client.key"), &pki.key_pem)?;
    // The private key the playground's `jwt-key-app` signs its assertions with.
    std::fs::write(dir.path().join("jwt-key-app.pem"), playground::assertion_client_key_pem())?;
    Ok(dir)
}

/// `baton demo`: the playground on a free loopback port, in its own thread, for one run.
pub(super) fn demo(mut opts: RunOptions) -> Exit {
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let Ok(rt) = runtime() else { return };
        rt.block_on(async move {
            let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            // The mutual-TLS examples get a second playground that asks for a client
            // certificate.
            let started = async {
                let pg = playground::Playground::start(any).await?;
                let (mtls, pki) = playground::Playground::start_mtls(any).await?;
                Ok::<_, std::io::Error>((pg, mtls, pki))
            };
            match started.await {
                Ok((pg, mtls, pki)) => {
                    let _ = url_tx.send(Ok((pg.base_url(), mtls.base_url(), pki)));
                    let _ = stop_rx.await;
                    pg.shutdown().await;
                    mtls.shutdown().await;
                }
                Err(e) => {
                    let _ = url_tx.send(Err(e.to_string()));
                }
            }
        });
    });
    let (url, mtls_url, pki) = match url_rx.recv() {
        Ok(Ok(url)) => url,
        Ok(Err(e)) => {
            eprint(&format!("error: cannot start the playground: {e}"), &Masker::default());
            return Exit::Runtime;
        }
        Err(_) => {
            eprint("error: the playground thread stopped", &Masker::default());
            return Exit::Runtime;
        }
    };
    let _ = writeln!(anstream::stdout(), "playground on {url}\n");
    // Shipped collections read their server from BATON_BASE_URL: point it at this playground.
    // Without paths, the examples built into the binary run, from a folder of their own.
    let _examples = if opts.paths.is_empty() {
        let dir = match tempfile::Builder::new().prefix("baton-demo").tempdir() {
            Ok(d) => d,
            Err(e) => {
                eprint(&format!("error: cannot write the built-in examples: {e}"), &Masker::default());
                return Exit::Runtime;
            }
        };
        let root = dir.path().join("collections");
        if let Err(e) = crate::examples::extract_all(&root) {
            eprint(&format!("error: cannot write the built-in examples: {e}"), &Masker::default());
            return Exit::Runtime;
        }
        opts.paths = vec![root];
        Some(dir)
    } else {
        None
    };
    let mut env = (*opts.env).clone();
    env.insert("BATON_BASE_URL".into(), url);
    // The client side of mutual TLS, in a folder that lives as long as the run.
    let pki_dir = match write_pki(&pki) {
        Ok(dir) => dir,
        Err(e) => {
            eprint(
                &format!("error: cannot write the playground's client certificate: {e}"),
                &Masker::default(),
            );
            return Exit::Runtime;
        }
    };
    env.insert("BATON_MTLS_URL".into(), mtls_url);
    for (name, file) in
        [("BATON_MTLS_CA", "ca.pem"), ("BATON_MTLS_CERT", "client.pem"), ("BATON_MTLS_KEY", "client.key")]
    {
        env.insert(name.into(), pki_dir.path().join(file).display().to_string());
    }
    // Nobody approves in a browser here: baton follows the playground's authorization
    // redirect itself.
    if !matches!(opts.exec.browser, crate::exec::Browser::Command(_)) {
        opts.exec.browser = crate::exec::Browser::Fetch;
    }
    env.insert("BATON_JWT_CLIENT_KEY".into(), pki_dir.path().join("jwt-key-app.pem").display().to_string());
    opts.env = Arc::new(env);
    let exit = run_collections(&opts);
    let _ = stop_tx.send(());
    let _ = server.join();
    exit
}
