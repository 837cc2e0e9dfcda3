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

/// Runs the `imgd` binary with `args` until it exits (at most 30 s).
fn imgd_exits(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imgd"))
        .args(args)
        .env("IMGD_TOKEN", support::TOKEN)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("imgd {args:?} did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_bad_cleanup_policy_is_a_start_up_error_naming_the_line() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("imgd-bad-policy");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("policy.toml");
    std::fs::write(
        &bad,
        "[[rules]]\nrepository = [\"myapp\"]\nolder_than = \"30d\"\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    let common = ["--backend", "memory", "--listen", "127.0.0.1:0"];
    let output = imgd_exits(
        &[
            &common[..],
            &["--cleanup-policy", bad, "--cleanup-every", "24h"],
        ]
        .concat(),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(bad), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("not a Go duration"), "{stderr}");

    let missing = dir.join("missing.toml");
    let output = imgd_exits(
        &[
            &common[..],
            &[
                "--cleanup-policy",
                missing.to_str().unwrap(),
                "--cleanup-every",
                "24h",
            ],
        ]
        .concat(),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read retention policy"), "{stderr}");

    // Each flag needs the other, and the period is a Go duration.
    for args in [
        &["--cleanup-policy", bad][..],
        &["--cleanup-every", "24h"][..],
        &["--cleanup-policy", bad, "--cleanup-every", "1d"][..],
    ] {
        let output = imgd_exits(&[&common[..], args].concat());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[tokio::test]
async fn imgd_runs_the_scheduled_cleanup_and_stops_it_on_sigterm() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("imgd-schedule");
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "# Tags of one-segment repositories older than a day go, except latest.\n\
         [[rules]]\nrepository = [\"*\"]\nkeep = [\"latest\"]\nolder_than = \"24h\"\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    /// Kills imgd if the test fails before it exits.
    struct Imgd(std::process::Child);
    impl Drop for Imgd {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_imgd"))
        .args([
            "--backend",
            "memory",
            "--demo",
            "--listen",
            &addr.to_string(),
        ])
        .args([
            "--cleanup-policy",
            policy.to_str().unwrap(),
            "--cleanup-every",
            "200ms",
        ])
        .env("IMGD_TOKEN", support::TOKEN)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut imgd = Imgd(child);
    let http = Http::plain(addr);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let reports = loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let reports = http.get("/api/v1/cleanup/reports").await.json();
            if !reports["reports"].as_array().unwrap().is_empty() {
                break reports;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no scheduled run within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(reports["schedule"]["every"], "0.2s");
    let run = reports["reports"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(run["error"], Value::Null, "{run}");
    let outcomes = run["report"]["outcomes"].as_array().unwrap();
    assert!(!outcomes.is_empty(), "{run}");
    assert_eq!(
        http.get("/api/v1/images/debian%3Abookworm").await.status,
        404
    );
    assert_eq!(http.get("/api/v1/images/alpine%3Alatest").await.status, 200);

    // SIGTERM: the schedule stops with the server, and imgd exits cleanly.
    let pid = imgd.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = imgd.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "imgd still runs 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}
