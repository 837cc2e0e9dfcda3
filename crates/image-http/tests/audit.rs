//! The audit log: every mutating request is one JSON line (target
//! `imgd::audit`) with its route, method, target, outcome, status and
//! duration, rejected ones included, streams when they end; registry
//! credentials never appear. Its own test binary, because it installs the
//! global `tracing` subscriber (a thread-local one races with other tests
//! over tracing's callsite cache).

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt as _;
use image_core::MemoryImageService;
use image_http::AppState;
use image_http::Settings;
use image_http::auth::Token;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const TOKEN: &str = "audit-token";

async fn send(app: &Router, request: Request<Body>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let _ = response.into_body().collect().await.unwrap();
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Collects what `tracing` writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn mutating_requests_are_audited_without_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let state = AppState::new(
        Arc::new(MemoryImageService::demo().unwrap()),
        Settings::new(Token::new(TOKEN).unwrap()),
    )
    .unwrap();
    let app = image_http::app(state);
    send(
        &app,
        post_json(
            "/api/v1/images/alpine%3A3.20/tag",
            &json!({"target": "audited:1"}),
        ),
    )
    .await;
    send(
        &app,
        Request::delete("/api/v1/images/alpine%3A3.20")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    send(
        &app,
        post_json(
            "/api/v1/images/pull",
            &json!({"reference": "redis:7-alpine", "auth": {"username": "someone", "password": "s3cret-pw"}}),
        ),
    )
    .await;
    send(&app, get("/api/v1/images")).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("s3cret-pw"), "{text}");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["target"] == "imgd::audit")
        .collect();
    assert_eq!(records.len(), 3, "{text}");
    let fields = |i: usize| records[i]["fields"].clone();
    assert_eq!(fields(0)["route"], "/api/v1/images/{image}/tag");
    assert_eq!(fields(0)["method"], "POST");
    assert_eq!(fields(0)["target"], "alpine:3.20 -> audited:1");
    assert_eq!(fields(0)["outcome"], "ok");
    assert_eq!(fields(0)["status"], 201);
    assert!(fields(0)["duration_ms"].as_f64().is_some());
    assert_eq!(fields(1)["outcome"], "unauthorized");
    assert_eq!(fields(1)["status"], 401);
    assert_eq!(fields(2)["route"], "/api/v1/images/pull");
    assert_eq!(fields(2)["target"], "redis:7-alpine");
    assert_eq!(fields(2)["outcome"], "ok");
    assert_eq!(fields(2)["streamed"], true);

    // A cleanup request, and a scheduled cleanup, which writes the same
    // record with method SCHEDULED.
    let state = AppState::new(
        Arc::new(MemoryImageService::demo().unwrap()),
        Settings::new(Token::new(TOKEN).unwrap()),
    )
    .unwrap();
    let app = image_http::app(state.clone());
    let policy = json!({"rules": [{"repository": ["*"], "keep": ["latest"], "older_than": "24h"}]});
    send(
        &app,
        post_json("/api/v1/cleanup", &json!({"policy": policy})),
    )
    .await;
    let task = image_http::cleanup::spawn(
        &state,
        image_http::cleanup::Schedule {
            policy: serde_json::from_value(policy).unwrap(),
            every: std::time::Duration::from_millis(20),
        },
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while state.cleanup_runs.newest_first().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no scheduled run");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    state.shutdown.cancel();
    task.await.unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["target"] == "imgd::audit")
        .map(|l| l["fields"].clone())
        .collect();
    let request = &records[3];
    assert_eq!(request["route"], "/api/v1/cleanup");
    assert_eq!(request["method"], "POST");
    assert_eq!(request["target"], "dry_run=true repositories=*");
    assert_eq!(request["outcome"], "ok");
    let scheduled = &records[4];
    assert_eq!(scheduled["route"], "cleanup");
    assert_eq!(scheduled["method"], "SCHEDULED");
    assert_eq!(scheduled["outcome"], "ok", "{scheduled}");
    let target = scheduled["target"].as_str().unwrap();
    assert!(
        target.starts_with("planned=3 done=3 refused=0 changed=0"),
        "{target}"
    );
    assert!(scheduled["duration_ms"].as_f64().is_some());
}
