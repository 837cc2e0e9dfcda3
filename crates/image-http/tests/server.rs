//! imgd over a real socket: graceful shutdown ends a running NDJSON stream
//! with a `cancelled` line and then stops the server; a client that hangs
//! up cancels the engine's work; HTTPS with rustls (using the real-engine
//! harness's certificate for 127.0.0.1, so that test is gated like the
//! engine tests).

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use image_core::mock::MockImageService;
use image_core::{LayerProgress, MemoryImageService, ProgressEvent, ProgressStream};
use serde_json::{Value, json};
use support::{Http, Served};

/// One layer event, then nothing until dropped; `dropped` hears of the drop.
fn endless(dropped: tokio::sync::oneshot::Sender<()>) -> ProgressStream {
    struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(sender) = self.0.take() {
                let _ = sender.send(());
            }
        }
    }
    let guard = OnDrop(Some(dropped));
    futures::stream::once(async {
        Ok(ProgressEvent::Layer(LayerProgress {
            id: "0123456789ab".into(),
            status: "Downloading".into(),
            current: Some(1),
            total: Some(10),
        }))
    })
    .chain(futures::stream::pending())
    .map(move |event| {
        let _keep = &guard;
        event
    })
    .boxed()
}

fn endless_puller() -> (MockImageService, tokio::sync::oneshot::Receiver<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let mut mock = MockImageService::new();
    mock.expect_pull()
        .returning(move |_| Ok(endless(tx.lock().unwrap().take().unwrap())));
    (mock, rx)
}

#[tokio::test]
async fn shutdown_ends_running_streams_then_the_server() {
    let (mock, dropped) = endless_puller();
    let served = Served::start(Arc::new(mock), Served::settings(), None);
    let http = Http::plain(served.addr);
    let response = http
        .start(
            "POST",
            "/api/v1/images/pull",
            Some("application/json"),
            json!({"reference": "alpine:3"}).to_string().into_bytes(),
            true,
        )
        .await;
    assert_eq!(response.status(), 200);
    let (first, mut rest) = support::first_line(response).await;
    assert_eq!(first["type"], "layer");

    served.state.shutdown.cancel();
    let mut tail = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), rest.next())
        .await
        .unwrap()
    {
        tail.extend_from_slice(&chunk.unwrap());
    }
    let last: Value = serde_json::from_slice(tail.trim_ascii()).unwrap();
    assert_eq!(last["type"], "error");
    assert_eq!(last["error"]["kind"], "cancelled");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );
    tokio::time::timeout(Duration::from_secs(5), dropped)
        .await
        .unwrap()
        .unwrap();
    served.stop().await;
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_pull() {
    let (mock, dropped) = endless_puller();
    let served = Served::start(Arc::new(mock), Served::settings(), None);
    let http = Http::plain(served.addr);
    let response = http
        .start(
            "POST",
            "/api/v1/images/pull",
            Some("application/json"),
            json!({"reference": "alpine:3"}).to_string().into_bytes(),
            true,
        )
        .await;
    let (first, rest) = support::first_line(response).await;
    assert_eq!(first["type"], "layer");
    assert_eq!(served.state.metrics.streams_in_flight.get(), 1);
    drop(rest);
    drop(http);
    tokio::time::timeout(Duration::from_secs(10), dropped)
        .await
        .expect("the engine's stream is dropped when the client hangs up")
        .unwrap();
    assert_eq!(served.state.metrics.work_running.get(), 0);
    served.stop().await;
}

#[tokio::test]
async fn https_with_rustls() {
    let Some(env) = support::require("imgd HTTPS test", &["IMGCTL_ENGINE_A_CERT_PATH"]) else {
        return;
    };
    let dir = Path::new(&env["IMGCTL_ENGINE_A_CERT_PATH"]);
    let tls =
        image_http::server::tls_config(&dir.join("server-cert.pem"), &dir.join("server-key.pem"))
            .unwrap();
    let served = Served::start(
        Arc::new(MemoryImageService::demo().unwrap()),
        Served::settings(),
        Some(tls),
    );

    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    let https = Http::with(connector, format!("https://{}", served.addr));
    let health = https.get("/healthz").await;
    assert_eq!((health.status, &health.body[..]), (200, &b"ok"[..]));
    let images = https.get("/api/v1/images?limit=1").await;
    assert_eq!(images.status, 200);
    assert_eq!(images.json()["images"].as_array().unwrap().len(), 1);
    let refused = https
        .start("GET", "/api/v1/images", None, Vec::new(), false)
        .await;
    assert_eq!(refused.status(), 401);

    // Plain HTTP to the TLS port gets no answer.
    let plain = tokio::time::timeout(
        Duration::from_secs(5),
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, http_body_util::Full<bytes::Bytes>>(
                hyper_util::client::legacy::connect::HttpConnector::new(),
            )
            .get(format!("http://{}/healthz", served.addr).parse().unwrap()),
    )
    .await;
    assert!(!matches!(plain, Ok(Ok(ref r)) if r.status() == 200));
    served.stop().await;
}
