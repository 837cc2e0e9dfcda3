//! Serving the router: the listen policy (a non-loopback address needs TLS
//! or an explicit `--insecure-remote`), TLS with rustls (ring), and graceful
//! shutdown on SIGTERM or ctrl-c: the shutdown token is cancelled, so
//! running NDJSON streams end with a `cancelled` error line, the server
//! stops accepting, and open connections get a grace period to finish.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

/// How long open connections may take to finish after shutdown begins.
pub const GRACE: Duration = Duration::from_secs(10);

/// How the server will listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenMode {
    /// Plain HTTP on a loopback address.
    Loopback,
    /// HTTPS.
    Tls,
    /// Plain HTTP on a non-loopback address, allowed by `--insecure-remote`.
    InsecureRemote,
}

/// Decides how to listen on `addr`, or explains why not.
pub fn listen_mode(
    addr: SocketAddr,
    tls: bool,
    insecure_remote: bool,
) -> Result<ListenMode, String> {
    if tls {
        Ok(ListenMode::Tls)
    } else if addr.ip().is_loopback() {
        Ok(ListenMode::Loopback)
    } else if insecure_remote {
        Ok(ListenMode::InsecureRemote)
    } else {
        Err(format!(
            "refusing to serve plain HTTP on {addr}, which is not a loopback address: the API token would travel in clear text. Give --tls-cert and --tls-key, listen on 127.0.0.1, or pass --insecure-remote"
        ))
    }
}

/// A rustls server configuration (ring provider, HTTP/2 and HTTP/1.1 by
/// ALPN) from PEM files.
pub fn tls_config(cert: &Path, key: &Path) -> Result<RustlsConfig, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("reading the certificate {}: {error}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("reading the private key {}: {error}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("configuring TLS: {error}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| format!("the certificate and key do not go together: {error}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn termination() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Serves `router` on `listener` (HTTPS with `tls`) until `stop` resolves
/// or `shutdown` is cancelled; then cancels `shutdown` (ending streams with
/// a `cancelled` line) and gives connections [`GRACE`] to finish.
pub async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<RustlsConfig>,
    shutdown: CancellationToken,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let handle: Handle<SocketAddr> = Handle::new();
    let watcher = {
        let handle = handle.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stop => {}
                () = shutdown.cancelled() => {}
            }
            shutdown.cancel();
            handle.graceful_shutdown(Some(GRACE));
            tracing::info!("shutting down: ending streams, finishing open requests");
        })
    };
    let service = router.into_make_service();
    let result = match tls {
        Some(config) => {
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(service)
                .await
        }
    };
    watcher.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    #[test]
    fn remote_plain_http_needs_consent() {
        assert_eq!(
            listen_mode(addr("127.0.0.1:1"), false, false),
            Ok(ListenMode::Loopback)
        );
        assert_eq!(
            listen_mode(addr("[::1]:1"), false, false),
            Ok(ListenMode::Loopback)
        );
        assert!(listen_mode(addr("0.0.0.0:1"), false, false).is_err());
        assert!(listen_mode(addr("192.0.2.1:1"), false, false).is_err());
        assert_eq!(
            listen_mode(addr("0.0.0.0:1"), false, true),
            Ok(ListenMode::InsecureRemote)
        );
        assert_eq!(
            listen_mode(addr("0.0.0.0:1"), true, false),
            Ok(ListenMode::Tls)
        );
    }

    #[test]
    fn missing_tls_files_are_explained() {
        let error = tls_config(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        )
        .err()
        .unwrap_or_default();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
