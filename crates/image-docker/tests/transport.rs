//! The TCP transports on the real engines: engine A over `tcp://` with TLS
//! and client certificates (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), engine
//! B over plain `tcp://`, each through both of the service's clients
//! (bollard's for list and load, the raw one for inspect, push and
//! `system df`); and what a wrong CA, a foreign client certificate, a
//! mismatched scheme and a port where nothing listens give.
//!
//! The listeners are the ones `cargo xtask engine up` starts (only on
//! 127.0.0.1); without its environment the tests print a `SKIP` line, and
//! under CI they fail. Image names are `imgctl-transport/...`, used by no
//! other test, and each engine has one test that changes images, so no lock
//! is needed.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::error::Error as _;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use image_core::archive::{FixtureImage, write_archive};
use image_core::{
    ErrorKind, ImageError, ImageService, ImageServiceExt, ListOptions, ProgressEvent, PushOptions,
    RemoveOptions,
};
use image_docker::{ConnectOptions, DockerImageService, Endpoint};

/// The variables of engine A's TLS listener.
const TLS_KEYS: [&str; 4] = [
    "IMGCTL_ENGINE_A_TLS_HOST",
    "IMGCTL_ENGINE_A_CERT_PATH",
    "IMGCTL_ENGINE_A_API",
    "IMGCTL_REGISTRY_OPEN",
];

/// The variables of engine B's plain TCP listener.
const TCP_KEYS: [&str; 3] = [
    "IMGCTL_ENGINE_B_TCP_HOST",
    "IMGCTL_ENGINE_B_API",
    "IMGCTL_REGISTRY_OPEN",
];

/// Options for `host` as the docker CLI reads them from `DOCKER_HOST`,
/// `DOCKER_TLS_VERIFY` (on when `cert_path` is given) and `DOCKER_CERT_PATH`,
/// with no docker config (so no stored credentials of the machine are used).
fn options(host: &str, cert_path: Option<&Path>) -> ConnectOptions {
    ConnectOptions::from_values(
        Some(host.to_string()),
        cert_path.is_some(),
        cert_path.map(Path::to_path_buf),
        None,
        None,
    )
    .unwrap()
}

/// The error with all its causes, `a: b: c`.
fn chain(error: &ImageError) -> String {
    let mut parts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        parts.push(cause.to_string());
        next = cause.source();
    }
    parts.join(": ")
}

/// A scratch directory of this test process.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imgctl-transport-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A certificate directory with `ca.pem` from `ca_dir` and `cert.pem` /
/// `key.pem` from `client_dir`.
fn cert_dir(name: &str, ca_dir: &Path, client_dir: &Path) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::copy(ca_dir.join("ca.pem"), dir.join("ca.pem")).unwrap();
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(client_dir.join(file), dir.join(file)).unwrap();
    }
    dir
}

/// A TCP port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the operations of both clients over `service`: load (bollard),
/// list (bollard), inspect (raw), push with per-layer progress (raw), and
/// disk usage (raw), on an image of its own; then removes it.
async fn exercise(service: &DockerImageService, registry: &str, label: &str) {
    let local = format!("imgctl-transport/{label}:v1");
    let remote = format!("{registry}/imgctl-transport/{label}:v1");
    let image = FixtureImage::new(&format!("transport-{label}"))
        .layer_with_file("payload.bin", &vec![3u8; 200_000])
        .layer_with_file("label.txt", format!("{label}\n").as_bytes())
        .label("org.example.transport", label)
        .tag(&local)
        .tag(&remote)
        .build()
        .unwrap();
    let report = service
        .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
        .await
        .unwrap_or_else(|e| panic!("load over {}: {}", service.endpoint(), chain(&e)));
    let loaded: BTreeSet<_> = report.loaded_tags.iter().cloned().collect();
    assert_eq!(loaded, BTreeSet::from([local.clone(), remote.clone()]));

    let listed = service
        .list(&ListOptions::default())
        .await
        .unwrap_or_else(|e| panic!("list over {}: {}", service.endpoint(), chain(&e)));
    let row = listed
        .iter()
        .find(|summary| summary.id == image.id())
        .unwrap_or_else(|| panic!("{} is not listed: {listed:?}", image.id()));
    assert!(row.repo_tags.contains(&local), "{:?}", row.repo_tags);

    let details = service
        .inspect(&local)
        .await
        .unwrap_or_else(|e| panic!("inspect over {}: {}", service.endpoint(), chain(&e)));
    assert_eq!(details.id, image.id());
    assert!(
        details.repo_tags.contains(&remote),
        "{:?}",
        details.repo_tags
    );
    assert_eq!(
        details
            .config
            .labels
            .get("org.example.transport")
            .map(String::as_str),
        Some(label)
    );

    let mut push = service
        .push(&PushOptions {
            reference: remote.clone(),
            ..PushOptions::default()
        })
        .await
        .unwrap_or_else(|e| panic!("push over {}: {}", service.endpoint(), chain(&e)));
    let mut layers = BTreeSet::new();
    let mut digest = None;
    while let Some(event) = push.next().await {
        match event.unwrap_or_else(|e| panic!("push over {}: {}", service.endpoint(), chain(&e))) {
            ProgressEvent::Layer(layer) => {
                layers.insert(layer.id);
            }
            ProgressEvent::Done(done) => digest = done.digest,
            ProgressEvent::Message { .. } => {}
        }
    }
    assert!(layers.len() >= 2, "per-layer push progress: {layers:?}");
    assert!(
        digest.as_deref().is_some_and(|d| d.starts_with("sha256:")),
        "push digest: {digest:?}"
    );

    let usage = service
        .disk_usage()
        .await
        .unwrap_or_else(|e| panic!("disk usage over {}: {}", service.endpoint(), chain(&e)));
    let row = usage
        .images
        .iter()
        .find(|row| row.id == image.id())
        .unwrap_or_else(|| panic!("{} is not in the disk usage", image.id()));
    assert!(row.repo_tags.contains(&local), "{:?}", row.repo_tags);
    assert!(usage.layers_size > 0);

    for name in [&local, &remote] {
        service
            .remove(
                name,
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await
            .unwrap();
    }
    assert!(!service.exists(&image.id()).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_a_over_tls_with_client_certificates() {
    let Some(env) = support::require("tls on engine A", &TLS_KEYS) else {
        return;
    };
    let host = &env["IMGCTL_ENGINE_A_TLS_HOST"];
    let certs = PathBuf::from(&env["IMGCTL_ENGINE_A_CERT_PATH"]);
    let options = options(host, Some(&certs));
    assert!(
        matches!(options.endpoint, Endpoint::Tls { ref ca, .. } if *ca == certs.join("ca.pem")),
        "{:?}",
        options.endpoint
    );
    let service = DockerImageService::connect(options)
        .await
        .unwrap_or_else(|e| panic!("TLS to {host}: {}", chain(&e)));
    assert_eq!(service.endpoint(), host);
    assert_eq!(service.api_version(), env["IMGCTL_ENGINE_A_API"]);
    exercise(&service, &env["IMGCTL_REGISTRY_OPEN"], "tls-a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_b_over_plain_tcp() {
    let Some(env) = support::require("tcp on engine B", &TCP_KEYS) else {
        return;
    };
    let host = &env["IMGCTL_ENGINE_B_TCP_HOST"];
    let options = options(host, None);
    assert!(
        matches!(options.endpoint, Endpoint::Tcp { .. }),
        "{:?}",
        options.endpoint
    );
    let service = DockerImageService::connect(options)
        .await
        .unwrap_or_else(|e| panic!("TCP to {host}: {}", chain(&e)));
    assert_eq!(service.endpoint(), host);
    assert_eq!(service.api_version(), env["IMGCTL_ENGINE_B_API"]);
    exercise(&service, &env["IMGCTL_REGISTRY_OPEN"], "tcp-b").await;
}

/// Connects with `cert_path` to `host` and expects the connection to fail;
/// returns the error.
async fn refused(host: &str, cert_path: Option<&Path>, what: &str) -> ImageError {
    let error = match DockerImageService::connect(options(host, cert_path)).await {
        // Were the handshake to fail only on a later request, this finds it.
        Ok(service) => match service.list(&ListOptions::default()).await {
            Ok(_) => panic!("{what}: connecting to {host} succeeded"),
            Err(error) => error,
        },
        Err(error) => error,
    };
    eprintln!("{what}: {:?}: {}", error.kind(), chain(&error));
    error
}

/// Asserts that `error` is a failed TLS handshake with `host`, said in its
/// message (not only in its causes), with `words`.
fn assert_tls_failure(error: &ImageError, host: &str, words: &str) {
    assert_eq!(
        error.kind(),
        ErrorKind::EngineUnavailable,
        "{}",
        chain(error)
    );
    let text = error.to_string();
    assert!(text.contains(host), "the error names {host}: {text}");
    assert!(text.contains("TLS handshake failed"), "{text}");
    assert!(text.contains(words), "{text}");
}

#[tokio::test]
async fn a_wrong_ca_or_a_foreign_client_certificate_fails() {
    let keys = [
        "IMGCTL_ENGINE_A_TLS_HOST",
        "IMGCTL_ENGINE_A_CERT_PATH",
        "IMGCTL_TLS_ROGUE_CERT_PATH",
    ];
    let Some(env) = support::require("wrong TLS certificates on engine A", &keys) else {
        return;
    };
    let host = &env["IMGCTL_ENGINE_A_TLS_HOST"];
    let good = PathBuf::from(&env["IMGCTL_ENGINE_A_CERT_PATH"]);
    let rogue = PathBuf::from(&env["IMGCTL_TLS_ROGUE_CERT_PATH"]);

    // The client does not trust the engine's certificate.
    let wrong_ca = cert_dir("wrong-ca", &rogue, &good);
    let error = refused(host, Some(&wrong_ca), "a wrong CA").await;
    assert_tls_failure(&error, host, "invalid peer certificate");
    assert!(
        error.to_string().contains(&wrong_ca.display().to_string()),
        "the error names the certificate directory: {error}"
    );

    // The engine does not accept the client's certificate.
    let foreign = cert_dir("foreign-client", &good, &rogue);
    let error = refused(host, Some(&foreign), "a foreign client certificate").await;
    assert_tls_failure(&error, host, "Certificate");

    let _ = std::fs::remove_dir_all(wrong_ca);
    let _ = std::fs::remove_dir_all(foreign);
}

#[tokio::test]
async fn a_scheme_that_does_not_match_the_listener_fails() {
    let keys = [
        "IMGCTL_ENGINE_A_TLS_HOST",
        "IMGCTL_ENGINE_A_CERT_PATH",
        "IMGCTL_ENGINE_B_TCP_HOST",
    ];
    let Some(env) = support::require("transport mismatches", &keys) else {
        return;
    };
    let tls_host = &env["IMGCTL_ENGINE_A_TLS_HOST"];
    let tcp_host = &env["IMGCTL_ENGINE_B_TCP_HOST"];
    let certs = PathBuf::from(&env["IMGCTL_ENGINE_A_CERT_PATH"]);
    // Plain HTTP to the TLS listener (DOCKER_TLS_VERIFY forgotten): the
    // engine's own answer, which is what the docker CLI shows too.
    let error = refused(tls_host, None, "plain HTTP to a TLS listener").await;
    assert!(
        error
            .to_string()
            .contains("Client sent an HTTP request to an HTTPS server"),
        "{}",
        chain(&error)
    );
    // TLS to the plain listener.
    let error = refused(tcp_host, Some(&certs), "TLS to a plain listener").await;
    assert_tls_failure(&error, tcp_host, "");
}

#[tokio::test]
async fn nothing_listening_on_the_port_is_unavailable() {
    let port = closed_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let error = DockerImageService::connect(options(&host, None))
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::EngineUnavailable,
        "{}",
        chain(&error)
    );
    let text = error.to_string();
    assert!(text.contains(&host), "{text}");
    assert!(text.contains("is the docker daemon running?"), "{text}");
}

#[tokio::test]
async fn nothing_listening_on_the_tls_port_is_unavailable() {
    let Some(env) = support::require("TLS to a closed port", &["IMGCTL_ENGINE_A_CERT_PATH"]) else {
        return;
    };
    let port = closed_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let certs = PathBuf::from(&env["IMGCTL_ENGINE_A_CERT_PATH"]);
    let error = DockerImageService::connect(options(&host, Some(&certs)))
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::EngineUnavailable,
        "{}",
        chain(&error)
    );
    assert!(error.to_string().contains(&host), "{error}");
}
