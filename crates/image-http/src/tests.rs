//! Router tests without a socket: `tower::ServiceExt::oneshot` on the
//! in-memory engine's demo host and on mockall's `MockImageService`, for
//! every route, error kind, the token and read-only rules, NDJSON streams,
//! body limits, the queue, shutdown, metrics, the page and the OpenAPI
//! document against the router. (The audit log has its own test binary,
//! `tests/audit.rs`, because it installs a global `tracing` subscriber.)

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use image_core::ImageService as _;
use image_core::mock::MockImageService;
use image_core::{
    AuthFailure, Completion, ConflictReason, DynImageService, ImageError, LayerProgress,
    MemoryImageService, ProgressEvent,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::auth::Token;
use crate::{AppState, Settings, app};

const TOKEN: &str = "test-token-0123";

fn settings() -> Settings {
    Settings::new(Token::new(TOKEN).unwrap())
}

fn state_with(service: Arc<DynImageService>, settings: Settings) -> AppState {
    AppState::new(service, settings).unwrap()
}

fn demo() -> (Router, AppState) {
    demo_with(settings())
}

fn demo_with(settings: Settings) -> (Router, AppState) {
    let state = state_with(Arc::new(MemoryImageService::demo().unwrap()), settings);
    (app(state.clone()), state)
}

fn mocked(mock: MockImageService) -> (Router, AppState) {
    mocked_with(mock, settings())
}

fn mocked_with(mock: MockImageService, settings: Settings) -> (Router, AppState) {
    let state = state_with(Arc::new(mock), settings);
    (app(state.clone()), state)
}

fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

fn get(uri: &str) -> Request<Body> {
    request(Method::GET, uri).body(Body::empty()).unwrap()
}

fn delete(uri: &str) -> Request<Body> {
    request(Method::DELETE, uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    request(Method::POST, uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the error shape and returns `(status, kind)`.
    fn error(&self) -> (u16, String) {
        let body = self.json();
        let object = body
            .as_object()
            .unwrap_or_else(|| panic!("{} {body}", self.status));
        assert_eq!(object.len(), 1, "{body}");
        let error = body["error"]
            .as_object()
            .unwrap_or_else(|| panic!("{} {body}", self.status));
        assert_eq!(error.len(), 2, "{body}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        (
            self.status.as_u16(),
            error["kind"].as_str().unwrap().to_string(),
        )
    }

    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

fn ndjson_of(events: Vec<image_core::Result<ProgressEvent>>) -> image_core::ProgressStream {
    futures::stream::iter(events).boxed()
}

fn layer(id: &str) -> ProgressEvent {
    ProgressEvent::Layer(LayerProgress {
        id: id.into(),
        status: "Downloading".into(),
        current: Some(1),
        total: Some(2),
    })
}

fn done() -> ProgressEvent {
    ProgressEvent::Done(Completion {
        reference: Some("docker.io/library/alpine:3".into()),
        digest: Some(format!("sha256:{}", "a".repeat(64))),
        image_id: Some(format!("sha256:{}", "b".repeat(64))),
    })
}

/// A stream that yields one layer event and then waits forever; `dropped`
/// gets a message when the stream is dropped (the work is cancelled).
fn endless(dropped: tokio::sync::oneshot::Sender<()>) -> image_core::ProgressStream {
    struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(sender) = self.0.take() {
                let _ = sender.send(());
            }
        }
    }
    let guard = OnDrop(Some(dropped));
    futures::stream::once(async { Ok(layer("l1")) })
        .chain(futures::stream::pending())
        .map(move |event| {
            let _keep = &guard;
            event
        })
        .boxed()
}

// ---------------------------------------------------------------------------
// Open routes, token, read-only
// ---------------------------------------------------------------------------

#[tokio::test]
async fn healthz_is_open() {
    let (app, _) = demo();
    let answer = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "ok");
}

#[tokio::test]
async fn api_routes_need_the_right_token() {
    let (app, _) = demo();
    let bare = Request::get("/api/v1/images").body(Body::empty()).unwrap();
    let answer = send(&app, bare).await;
    assert_eq!(answer.error(), (401, "unauthorized".into()));
    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");

    for value in [
        "Bearer wrong",
        &format!("Bearer {TOKEN}x"),
        &format!("Basic {TOKEN}"),
        TOKEN,
        "Bearer ",
    ] {
        let request = Request::get("/api/v1/images")
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, request).await.error(),
            (401, "unauthorized".into()),
            "{value}"
        );
    }
    // Mutating routes too, before anything else is looked at.
    let request = Request::delete("/api/v1/images/alpine:3.20")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, request).await.error(),
        (401, "unauthorized".into())
    );
    assert_eq!(
        send(&app, get("/api/v1/images")).await.status,
        StatusCode::OK
    );
    let lower = Request::get("/api/v1/images")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, lower).await.status, StatusCode::OK);
}

#[tokio::test]
async fn read_only_refuses_every_mutating_route() {
    let (app, _) = demo_with(Settings {
        read_only: true,
        ..settings()
    });
    let mutating = [
        post_json("/api/v1/images/alpine:3.20/tag", &json!({"target": "x:1"})),
        delete("/api/v1/images/alpine:3.20"),
        post_json("/api/v1/images/prune", &json!({})),
        post_json(
            "/api/v1/images/pull",
            &json!({"reference": "redis:7-alpine"}),
        ),
        post_json("/api/v1/images/push", &json!({"reference": "alpine:3.20"})),
        request(Method::POST, "/api/v1/build")
            .body(Body::empty())
            .unwrap(),
        request(Method::POST, "/api/v1/images/load")
            .body(Body::empty())
            .unwrap(),
        // Dry runs too: read-only refuses by method.
        post_json(
            "/api/v1/cleanup",
            &json!({"policy": policy_everything_old()}),
        ),
    ];
    for request in mutating {
        let what = format!("{} {}", request.method(), request.uri());
        assert_eq!(
            send(&app, request).await.error(),
            (403, "read_only".into()),
            "{what}"
        );
    }
    // Nothing changed, and reading still works.
    let answer = send(&app, get("/api/v1/images/alpine%3A3.20")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = send(&app, get("/api/v1/images/save?image=alpine:3.20")).await;
    assert_eq!(answer.status, StatusCode::OK);
    // A wrong token is still 401, not 403.
    let request = Request::delete("/api/v1/images/alpine:3.20")
        .header(header::AUTHORIZATION, "Bearer nope")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, request).await.error(),
        (401, "unauthorized".into())
    );
}

// ---------------------------------------------------------------------------
// Image routes on the demo host
// ---------------------------------------------------------------------------

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let (app, _) = demo();
    let all = send(&app, get("/api/v1/images")).await.json();
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 6, "{all}");
    let images = all["images"].as_array().unwrap();
    assert_eq!(images.len() as u64, total);
    // Newest first by default.
    let created: Vec<&str> = images
        .iter()
        .map(|i| i["Created"].as_str().unwrap_or(""))
        .collect();
    let mut sorted = created.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted);
    assert!(images[0]["RepoTags"].is_array() && images[0]["Id"].is_string());

    let page = send(&app, get("/api/v1/images?limit=2&offset=1"))
        .await
        .json();
    assert_eq!(page["total"].as_u64(), Some(total));
    assert_eq!(page["images"].as_array().unwrap().len(), 2);
    assert_eq!(page["images"][0]["Id"], images[1]["Id"]);
    let past = send(&app, get("/api/v1/images?offset=1000")).await.json();
    assert_eq!(past["images"].as_array().unwrap().len(), 0);
    assert_eq!(past["total"].as_u64(), Some(total));

    let by_size = send(&app, get("/api/v1/images?sort=size&reverse=true"))
        .await
        .json();
    let sizes: Vec<u64> = by_size["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Size"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");

    let filtered = send(
        &app,
        get("/api/v1/images?filter=reference%3Dalpine&filter=label!%3Dteam"),
    )
    .await
    .json();
    assert_eq!(filtered["total"].as_u64(), Some(1), "{filtered}");
    assert_eq!(
        filtered["images"][0]["RepoTags"],
        json!(["alpine:3.20", "alpine:latest"])
    );
    let team = send(&app, get("/api/v1/images?filter=label%3Dteam%3Dpayments")).await;
    assert_eq!(team.json()["total"].as_u64(), Some(3));
    let with_all = send(&app, get("/api/v1/images?all=true")).await.json();
    assert!(with_all["total"].as_u64().unwrap() > total);
}

#[tokio::test]
async fn list_rejects_bad_input_with_400() {
    let (app, _) = demo();
    let cases = [
        ("/api/v1/images?filter=bogus%3D1", "invalid_filter"),
        ("/api/v1/images?filter=dangling%3Dmaybe", "invalid_filter"),
        ("/api/v1/images?filter=before%3DUPPER", "invalid_reference"),
        ("/api/v1/images?sort=colour", "bad_request"),
        ("/api/v1/images?limit=-1", "bad_request"),
        ("/api/v1/images?all=yes", "bad_request"),
    ];
    for (uri, kind) in cases {
        assert_eq!(
            send(&app, get(uri)).await.error(),
            (400, kind.into()),
            "{uri}"
        );
    }
    // A filter naming a missing image is the engine's 404.
    let answer = send(&app, get("/api/v1/images?filter=since%3Dnope%3A1")).await;
    assert_eq!(answer.error(), (404, "not_found".into()));
}

#[tokio::test]
async fn inspect_history_and_containers_take_encoded_names() {
    let (app, _) = demo();
    let uri = "/api/v1/images/registry.example.com%2Fpayments%2Fmyapp%3A1.1";
    let details = send(&app, get(uri)).await.json();
    assert!(
        details["RepoTags"]
            .as_array()
            .unwrap()
            .contains(&json!("registry.example.com/payments/myapp:1.1"))
    );
    assert_eq!(details["Config"]["Labels"]["team"], "payments");

    let id = details["Id"].as_str().unwrap().to_string();
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let by_id = send(&app, get(&format!("/api/v1/images/{short}")))
        .await
        .json();
    assert_eq!(by_id["Id"], details["Id"]);

    let history = send(&app, get(&format!("{uri}/history"))).await.json();
    assert!(!history.as_array().unwrap().is_empty());
    assert!(history[0]["CreatedBy"].is_string());

    let containers = send(&app, get("/api/v1/images/nginx%3A1.27-alpine/containers")).await;
    let containers = containers.json();
    assert_eq!(containers[0]["name"], "web");
    assert_eq!(containers[0]["state"], "running");

    let missing = send(&app, get("/api/v1/images/nope%3A1")).await;
    assert_eq!(missing.error(), (404, "not_found".into()));
    let bad = send(&app, get("/api/v1/images/UPPER%3A1/history")).await;
    assert_eq!(bad.error(), (400, "invalid_reference".into()));
}

#[tokio::test]
async fn tag_remove_prune_and_disk_usage() {
    let (app, _) = demo();
    let answer = send(
        &app,
        post_json(
            "/api/v1/images/alpine%3A3.20/tag",
            &json!({"target": "mine:1"}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(
        answer.json(),
        json!({"source": "alpine:3.20", "target": "mine:1"})
    );
    assert_eq!(
        send(&app, get("/api/v1/images/mine%3A1")).await.status,
        StatusCode::OK
    );

    let bad = send(
        &app,
        post_json(
            "/api/v1/images/alpine%3A3.20/tag",
            &json!({"target": "Bad Name"}),
        ),
    )
    .await;
    assert_eq!(bad.error(), (400, "invalid_reference".into()));

    let removed = send(&app, delete("/api/v1/images/mine%3A1")).await;
    assert_eq!(removed.json(), json!({"actions": [{"untagged": "mine:1"}]}));
    let in_use = send(&app, delete("/api/v1/images/nginx%3A1.27-alpine")).await;
    assert_eq!(in_use.error(), (409, "conflict".into()));
    let bad_query = send(&app, delete("/api/v1/images/alpine%3A3.20?force=please")).await;
    assert_eq!(bad_query.error(), (400, "bad_request".into()));

    let before = send(&app, get("/api/v1/images?all=true")).await.json()["total"].clone();
    let plan = send(
        &app,
        post_json("/api/v1/images/prune", &json!({"all": true})),
    )
    .await;
    let plan = plan.json();
    assert_eq!(plan["dry_run"], true);
    assert!(!plan["actions"].as_array().unwrap().is_empty(), "{plan}");
    assert!(plan["space_reclaimed"].as_u64().unwrap() > 0);
    let after = send(&app, get("/api/v1/images?all=true")).await.json()["total"].clone();
    assert_eq!(before, after, "a dry run deletes nothing");
    let bad_filter = send(
        &app,
        post_json(
            "/api/v1/images/prune",
            &json!({"filters": ["dangling=true"]}),
        ),
    )
    .await;
    assert_eq!(bad_filter.error(), (400, "invalid_filter".into()));
    let real = send(
        &app,
        post_json(
            "/api/v1/images/prune",
            &json!({"all": true, "dry_run": false}),
        ),
    )
    .await
    .json();
    assert_eq!(real["dry_run"], false);
    assert_eq!(real["actions"], plan["actions"]);

    let usage = send(&app, get("/api/v1/disk-usage")).await.json();
    assert!(usage["images"].as_array().is_some_and(|i| !i.is_empty()));
    assert!(usage["layers_size"].as_u64().unwrap() > 0);
}

// ---------------------------------------------------------------------------
// Error kinds and rejections
// ---------------------------------------------------------------------------

fn every_error() -> Vec<(ImageError, u16, &'static str)> {
    vec![
        (ImageError::not_found("x:1"), 404, "not_found"),
        (
            ImageError::invalid_filter_key("bogus"),
            400,
            "invalid_filter",
        ),
        (ImageError::invalid_argument("bad"), 400, "invalid_argument"),
        (
            ImageError::Conflict {
                reference: "x".into(),
                reason: ConflictReason::InUse {
                    containers: vec!["c".into()],
                },
                message: "conflict: in use".into(),
            },
            409,
            "conflict",
        ),
        (
            ImageError::Unauthorized {
                kind: AuthFailure::Denied,
                registry: "r.example".into(),
                message: "denied".into(),
            },
            502,
            "registry_unauthorized",
        ),
        (
            ImageError::EngineUnavailable {
                endpoint: "unix:///nowhere".into(),
                hint: "start it".into(),
            },
            503,
            "engine_unavailable",
        ),
        (
            ImageError::Registry {
                registry: "r.example".into(),
                message: "down".into(),
            },
            502,
            "registry",
        ),
        (ImageError::Cancelled, 499, "cancelled"),
        (
            ImageError::not_supported("prune", "mock"),
            501,
            "not_supported",
        ),
        (
            ImageError::backend("listing", std::io::Error::other("boom")),
            500,
            "backend",
        ),
    ]
}

#[tokio::test]
async fn every_error_kind_has_its_status_and_shape() {
    for (error, status, kind) in every_error() {
        let mut mock = MockImageService::new();
        let error = Arc::new(Mutex::new(Some(error)));
        mock.expect_inspect()
            .returning(move |_| Err(error.lock().unwrap().take().unwrap()));
        let (app, _) = mocked(mock);
        let answer = send(&app, get("/api/v1/images/x")).await;
        assert_eq!(answer.error(), (status, kind.to_string()));
    }
}

#[tokio::test]
async fn every_error_kind_also_ends_a_stream() {
    for (error, _, kind) in every_error() {
        let mut mock = MockImageService::new();
        let error = Arc::new(Mutex::new(Some(error)));
        mock.expect_pull().returning(move |_| {
            let error = error.lock().unwrap().take().unwrap();
            Ok(ndjson_of(vec![Ok(layer("l1")), Err(error)]))
        });
        let (app, state) = mocked(mock);
        let answer = send(
            &app,
            post_json("/api/v1/images/pull", &json!({"reference": "a:1"})),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        let lines = answer.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["type"], "layer");
        assert_eq!(lines[1]["type"], "error");
        assert_eq!(lines[1]["error"]["kind"], kind);
        assert_eq!(state.queue.queued(), 0);
        assert_eq!(state.metrics.work_running.get(), 0);
    }
}

#[tokio::test]
async fn rejections_use_the_error_shape() {
    let (app, _) = demo();
    let cases: Vec<(Request<Body>, u16, &str)> = vec![
        (
            request(Method::POST, "/api/v1/images/prune")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
            400,
            "bad_request",
        ),
        (
            request(Method::POST, "/api/v1/images/prune")
                .body(Body::from("{}"))
                .unwrap(),
            400,
            "bad_request",
        ),
        (
            post_json("/api/v1/images/pull", &json!({"ref": "alpine"})),
            400,
            "bad_request",
        ),
        (
            post_json("/api/v1/images/prune", &json!({"all": "yes"})),
            400,
            "bad_request",
        ),
        (get("/api/v1/nothing-here"), 404, "not_found"),
        (get("/nothing-here"), 404, "not_found"),
        (
            Request::get("/api/v2/images").body(Body::empty()).unwrap(),
            404,
            "not_found",
        ),
        (
            request(Method::PUT, "/api/v1/images")
                .body(Body::empty())
                .unwrap(),
            405,
            "bad_request",
        ),
        (
            request(Method::PATCH, "/api/v1/images/alpine")
                .body(Body::empty())
                .unwrap(),
            405,
            "bad_request",
        ),
        (
            post_json(
                "/api/v1/images/prune",
                &json!({"filters": ["label=".to_string() + &"x".repeat(2 << 20)]}),
            ),
            413,
            "payload_too_large",
        ),
    ];
    for (request, status, kind) in cases {
        let what = format!("{} {}", request.method(), request.uri());
        let answer = send(&app, request).await;
        assert_eq!(answer.error(), (status, kind.to_string()), "{what}");
        assert!(
            answer.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}

// ---------------------------------------------------------------------------
// NDJSON streams
// ---------------------------------------------------------------------------

#[tokio::test]
async fn pull_streams_events_then_done() {
    let (app, _) = demo();
    let answer = send(
        &app,
        post_json(
            "/api/v1/images/pull",
            &json!({"reference": "redis:7-alpine"}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let lines = answer.lines();
    assert!(lines.len() >= 2, "{lines:?}");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "done", "{lines:?}");
    assert!(last["image_id"].as_str().unwrap().starts_with("sha256:"));
    assert!(lines[..lines.len() - 1].iter().all(|l| l["type"] != "done"));
    assert_eq!(
        send(&app, get("/api/v1/images/redis%3A7-alpine"))
            .await
            .status,
        StatusCode::OK
    );

    let missing = send(
        &app,
        post_json("/api/v1/images/pull", &json!({"reference": "nope:1"})),
    )
    .await;
    // The engine may refuse before streaming or in the stream; both end in
    // the same kind.
    let kind = if missing.status == StatusCode::OK {
        missing.lines().last().unwrap()["error"]["kind"]
            .as_str()
            .unwrap()
            .to_string()
    } else {
        missing.error().1
    };
    assert_eq!(kind, "not_found");
}

#[tokio::test]
async fn stream_input_is_checked_before_streaming() {
    let (app, _) = demo();
    let cases = [
        (json!({"reference": "UPPER:1"}), "invalid_reference"),
        (
            json!({"reference": "alpine", "platform": "linux"}),
            "invalid_argument",
        ),
    ];
    for (body, kind) in cases {
        let answer = send(&app, post_json("/api/v1/images/pull", &body)).await;
        assert_eq!(answer.error(), (400, kind.into()), "{body}");
    }
    let answer = send(
        &app,
        post_json("/api/v1/images/push", &json!({"reference": "not valid"})),
    )
    .await;
    assert_eq!(answer.error(), (400, "invalid_reference".into()));
    let answer = send(
        &app,
        request(Method::POST, "/api/v1/build?t=Bad%20Tag")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.error(), (400, "invalid_reference".into()));
    let answer = send(
        &app,
        request(Method::POST, "/api/v1/build?build_arg=novalue")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.error(), (400, "invalid_argument".into()));
}

#[tokio::test]
async fn credentials_reach_the_engine_and_a_stream_without_done_is_an_error() {
    let mut mock = MockImageService::new();
    mock.expect_push()
        .withf(|options| {
            options.reference == "r.example/app:1"
                && options
                    .auth
                    .as_ref()
                    .is_some_and(|a| a.username == "u" && a.password == "p@ss")
        })
        .times(1)
        .returning(|_| Ok(ndjson_of(vec![Ok(layer("l1"))])));
    let (app, _) = mocked(mock);
    let answer = send(
        &app,
        post_json(
            "/api/v1/images/push",
            &json!({"reference": "r.example/app:1", "auth": {"username": "u", "password": "p@ss"}}),
        ),
    )
    .await;
    let lines = answer.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["type"], "error");
    assert_eq!(lines[1]["error"]["kind"], "backend");
    assert!(!answer.text().contains("p@ss"));
}

#[tokio::test]
async fn a_stream_ends_at_done() {
    let mut mock = MockImageService::new();
    mock.expect_pull().returning(|_| {
        Ok(ndjson_of(vec![
            Ok(layer("l1")),
            Ok(ProgressEvent::Message {
                text: "Digest: x".into(),
            }),
            Ok(done()),
            Ok(layer("after")),
        ]))
    });
    let (app, _) = mocked(mock);
    let answer = send(
        &app,
        post_json("/api/v1/images/pull", &json!({"reference": "alpine:3"})),
    )
    .await;
    let types: Vec<String> = answer
        .lines()
        .iter()
        .map(|l| l["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["layer", "message", "done"]);
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_work() {
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel();
    let sender = Arc::new(Mutex::new(Some(dropped_tx)));
    let mut mock = MockImageService::new();
    mock.expect_pull()
        .returning(move |_| Ok(endless(sender.lock().unwrap().take().unwrap())));
    let (app, state) = mocked(mock);
    let response = app
        .clone()
        .oneshot(post_json(
            "/api/v1/images/pull",
            &json!({"reference": "alpine:3"}),
        ))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"layer\""));
    assert_eq!(state.metrics.streams_in_flight.get(), 1);
    assert_eq!(state.metrics.work_running.get(), 1);
    drop(body);
    tokio::time::timeout(Duration::from_secs(5), dropped_rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.metrics.streams_in_flight.get(), 0);
    assert_eq!(state.metrics.work_running.get(), 0);
}

#[tokio::test]
async fn shutdown_ends_streams_with_a_cancelled_line() {
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel();
    let sender = Arc::new(Mutex::new(Some(dropped_tx)));
    let mut mock = MockImageService::new();
    mock.expect_pull()
        .returning(move |_| Ok(endless(sender.lock().unwrap().take().unwrap())));
    let (app, state) = mocked(mock);
    let response = app
        .clone()
        .oneshot(post_json(
            "/api/v1/images/pull",
            &json!({"reference": "alpine:3"}),
        ))
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let _first = body.next().await.unwrap().unwrap();
    state.shutdown.cancel();
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    let last: Value = serde_json::from_slice(rest.trim_ascii_end()).unwrap();
    assert_eq!(last["type"], "error");
    assert_eq!(last["error"]["kind"], "cancelled");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );
    tokio::time::timeout(Duration::from_secs(5), dropped_rx)
        .await
        .unwrap()
        .unwrap();
    // New work is refused the same way.
    let answer = send(
        &app,
        post_json("/api/v1/images/pull", &json!({"reference": "alpine:3"})),
    )
    .await;
    assert_eq!(answer.error(), (499, "cancelled".into()));
}

#[tokio::test]
async fn work_waits_in_a_bounded_queue() {
    let senders = Arc::new(Mutex::new(Vec::new()));
    let mut mock = MockImageService::new();
    {
        let senders = senders.clone();
        mock.expect_pull().returning(move |_| {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            senders.lock().unwrap().push(rx);
            Ok(endless(tx))
        });
    }
    let (app, state) = mocked_with(
        mock,
        Settings {
            max_concurrent: 1,
            max_queued: 1,
            ..settings()
        },
    );
    let pull = || post_json("/api/v1/images/pull", &json!({"reference": "alpine:3"}));
    let first = app.clone().oneshot(pull()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // The second waits in the queue...
    let second = tokio::spawn({
        let app = app.clone();
        async move { app.oneshot(pull()).await.unwrap() }
    });
    tokio::time::timeout(Duration::from_secs(5), async {
        while state.queue.queued() == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap();
    // ...the third finds the queue full.
    let third = send(&app, pull()).await;
    assert_eq!(third.error(), (503, "busy".into()));
    assert_eq!(state.metrics.work_queued.get(), 1);
    // When the first stream goes away, the second runs.
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(state.queue.queued(), 0);
    assert_eq!(state.metrics.work_running.get(), 1);
    drop(second);
    assert_eq!(state.metrics.work_running.get(), 0);
    assert_eq!(senders.lock().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------
// Uploads and downloads
// ---------------------------------------------------------------------------

fn context_tar(dockerfile: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

/// A body of `bytes` sent in `chunk`-sized pieces without a length.
fn chunked(bytes: Vec<u8>, chunk: usize) -> Body {
    let pieces: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(futures::stream::iter(pieces))
}

#[tokio::test]
async fn build_streams_the_context_and_the_output() {
    let (app, _) = demo();
    let tar = context_tar("FROM alpine:3.20\nLABEL built=by-imgd\nCMD [\"sh\"]\n");
    let answer = send(
        &app,
        request(
            Method::POST,
            "/api/v1/build?t=built%3A1&label=k%3Dv&build_arg=A%3DB",
        )
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(chunked(tar, 100))
        .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let lines = answer.lines();
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "done", "{lines:?}");
    let details = send(&app, get("/api/v1/images/built%3A1")).await.json();
    assert_eq!(details["Id"], last["image_id"]);
    assert_eq!(details["Config"]["Labels"]["built"], "by-imgd");
    assert_eq!(details["Config"]["Labels"]["k"], "v");

    let broken = send(
        &app,
        request(Method::POST, "/api/v1/build")
            .body(Body::from(context_tar("FROM nope:1\n")))
            .unwrap(),
    )
    .await;
    let kind = if broken.status == StatusCode::OK {
        broken.lines().last().unwrap()["error"]["kind"]
            .as_str()
            .unwrap()
            .to_string()
    } else {
        broken.error().1
    };
    assert_ne!(kind, "backend", "bad input is never a 500-kind error");
}

#[tokio::test]
async fn uploads_over_the_limit_are_413() {
    let (app, _) = demo_with(Settings {
        max_body: 1000,
        ..settings()
    });
    let tar = context_tar(&format!(
        "FROM alpine:3.20\nLABEL pad={}\n",
        "x".repeat(3000)
    ));
    // Without a length: the stream itself fails past the limit.
    let answer = send(
        &app,
        request(Method::POST, "/api/v1/build")
            .body(chunked(tar.clone(), 256))
            .unwrap(),
    )
    .await;
    let (status, kind) = if answer.status == StatusCode::OK {
        (
            200,
            answer.lines().last().unwrap()["error"]["kind"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    } else {
        answer.error()
    };
    assert_eq!(kind, "payload_too_large", "{status}");
    let answer = send(
        &app,
        request(Method::POST, "/api/v1/images/load")
            .body(chunked(tar.clone(), 256))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.error(), (413, "payload_too_large".into()));
    // With a length: refused before reading.
    let answer = send(
        &app,
        request(Method::POST, "/api/v1/images/load")
            .header(header::CONTENT_LENGTH, tar.len())
            .body(Body::from(tar))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.error(), (413, "payload_too_large".into()));
}

#[tokio::test]
async fn save_and_load_round_trip() {
    let (app, _) = demo();
    let answer = send(
        &app,
        get("/api/v1/images/save?image=alpine%3A3.20&image=debian%3Abookworm"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/x-tar");
    assert!(answer.body.len() > 1_000_000);
    let archive = answer.body.to_vec();

    let (fresh, _) = demo_with(settings());
    let removed = send(&fresh, delete("/api/v1/images/debian%3Abookworm")).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    let loaded = send(
        &fresh,
        request(Method::POST, "/api/v1/images/load")
            .header(header::CONTENT_TYPE, "application/x-tar")
            .body(chunked(archive, 64 * 1024))
            .unwrap(),
    )
    .await;
    assert_eq!(loaded.status, StatusCode::OK, "{}", loaded.text());
    let report = loaded.json();
    assert!(
        report["loaded_tags"]
            .as_array()
            .unwrap()
            .contains(&json!("debian:bookworm"))
    );
    assert_eq!(
        send(&fresh, get("/api/v1/images/debian%3Abookworm"))
            .await
            .status,
        StatusCode::OK
    );

    let none = send(&app, get("/api/v1/images/save")).await;
    assert_eq!(none.error(), (400, "invalid_argument".into()));
    let missing = send(&app, get("/api/v1/images/save?image=nope%3A1")).await;
    assert_eq!(missing.error(), (404, "not_found".into()));
    let garbage = send(
        &app,
        request(Method::POST, "/api/v1/images/load")
            .body(Body::from("not a tar at all"))
            .unwrap(),
    )
    .await;
    assert_eq!(garbage.status.as_u16() / 100, 4, "{}", garbage.text());
}

// ---------------------------------------------------------------------------
// Metrics, audit, page
// ---------------------------------------------------------------------------

#[tokio::test]
async fn metrics_count_routes_not_paths() {
    let (app, _) = demo();
    send(&app, get("/api/v1/images")).await;
    send(&app, get("/api/v1/images/alpine%3A3.20")).await;
    send(&app, get("/api/v1/images/nope%3A1")).await;
    send(&app, get("/nowhere")).await;
    let text = send(&app, Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .text();
    assert!(
        text.contains(
            r#"imgd_http_requests_total{method="GET",route="/api/v1/images",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"imgd_http_requests_total{method="GET",route="/api/v1/images/{image}",status="200"} 1"#
    ));
    assert!(text.contains(
        r#"imgd_http_requests_total{method="GET",route="/api/v1/images/{image}",status="404"} 1"#
    ));
    assert!(text.contains(r#"route="unmatched",status="404"} 1"#));
    assert!(!text.contains("alpine"));
    assert!(text.contains("imgd_http_request_duration_seconds_bucket"));
    assert!(text.contains("imgd_streams_in_flight 0"));
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_cache_headers() {
    let (app, _) = demo();
    let page = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-cache");
    let etag = page.headers[header::ETAG].clone();
    let again = send(
        &app,
        Request::get("/")
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    for name in crate::assets::names() {
        let answer = send(
            &app,
            Request::get(format!("/assets/{name}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
        let content_type = answer.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        if name.ends_with(".js") {
            assert!(
                content_type.contains("javascript"),
                "{name}: {content_type}"
            );
        }
        if name.ends_with(".css") {
            assert!(
                content_type.starts_with("text/css"),
                "{name}: {content_type}"
            );
        }
    }
    let missing = send(
        &app,
        Request::get("/assets/nope.js").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(missing.error(), (404, "not_found".into()));
}

// ---------------------------------------------------------------------------
// Cleanup, scheduled cleanups and outdated tags
// ---------------------------------------------------------------------------

/// On the demo host: every single-segment repository, tags older than a day
/// go unless named `latest`, and dangling images go too. That untags
/// `alpine:3.20` (its image keeps `alpine:latest`) and `debian:bookworm`
/// (deleting debian), deletes the dangling build, and keeps what containers
/// use (nginx, postgres).
fn policy_everything_old() -> Value {
    json!({"rules": [{
        "repository": ["*", "<none>"],
        "keep": ["latest"],
        "older_than": "24h",
        "dangling": true,
    }]})
}

/// The demo host, with the memory engine itself to look at and change.
fn demo_engine(settings: Settings) -> (Router, AppState, MemoryImageService) {
    let engine = MemoryImageService::demo().unwrap();
    let state = state_with(Arc::new(engine.clone()), settings);
    (app(state.clone()), state, engine)
}

async fn image_ids(app: &Router) -> BTreeSet<String> {
    send(app, get("/api/v1/images?all=true")).await.json()["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap().to_string())
        .collect()
}

async fn id_of(app: &Router, name: &str) -> String {
    let answer = send(
        app,
        get(&format!("/api/v1/images/{}", name.replace(':', "%3A"))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text());
    answer.json()["Id"].as_str().unwrap().to_string()
}

/// The planned actions as `(action, reference or image ID, reason kind)`.
fn actions_of(plan: &Value) -> Vec<(String, String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let what = a.get("reference").unwrap_or(&a["image_id"]);
            (
                a["action"].as_str().unwrap().to_string(),
                what.as_str().unwrap().to_string(),
                a["reason"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_cleanup_dry_run_plans_and_changes_nothing_then_a_real_one_does_it() {
    let (app, _, _) = demo_engine(settings());
    let before = image_ids(&app).await;
    let debian = id_of(&app, "debian:bookworm").await;
    let alpine = id_of(&app, "alpine:3.20").await;
    let dangling = send(&app, get("/api/v1/images?filter=dangling%3Dtrue"))
        .await
        .json()["images"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();

    // dry_run is true unless set false.
    let answer = send(
        &app,
        post_json(
            "/api/v1/cleanup",
            &json!({"policy": policy_everything_old()}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let dry = answer.json();
    assert_eq!(dry["dry_run"], true);
    assert!(dry.get("report").is_none(), "{dry}");
    let plan = &dry["plan"];
    let actions = actions_of(plan);
    let untags: BTreeSet<&str> = actions
        .iter()
        .filter(|a| a.0 == "untag")
        .map(|a| a.1.as_str())
        .collect();
    assert_eq!(
        untags,
        BTreeSet::from(["alpine:3.20", "debian:bookworm"]),
        "{plan}"
    );
    let deletes: BTreeSet<(&str, &str)> = actions
        .iter()
        .filter(|a| a.0 == "delete")
        .map(|a| (a.1.as_str(), a.2.as_str()))
        .collect();
    assert_eq!(
        deletes,
        BTreeSet::from([
            (debian.as_str(), "all_tags_removed"),
            (dangling.as_str(), "dangling")
        ]),
        "{plan}"
    );
    assert!(plan["freed_bytes"].as_u64().unwrap() > 0, "{plan}");
    let kept: Vec<&Value> = plan["kept"].as_array().unwrap().iter().collect();
    let reason_of = |id: &str| {
        kept.iter()
            .find(|k| k["image_id"] == id)
            .map(|k| k["reason"]["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(reason_of(&alpine).as_deref(), Some("protected"), "{plan}");
    let nginx = id_of(&app, "nginx:1.27-alpine").await;
    assert_eq!(reason_of(&nginx).as_deref(), Some("in_use"), "{plan}");
    assert_eq!(image_ids(&app).await, before, "a dry run removed something");

    // The same policy for real: the report has one outcome per action.
    let real = send(
        &app,
        post_json(
            "/api/v1/cleanup",
            &json!({"policy": policy_everything_old(), "dry_run": false}),
        ),
    )
    .await
    .json();
    assert_eq!(real["dry_run"], false);
    assert_eq!(real["plan"], dry["plan"], "nothing changed in between");
    let outcomes = real["report"]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), actions.len(), "{real}");
    for outcome in outcomes {
        let status = outcome["outcome"]["status"].as_str().unwrap();
        assert!(status == "done" || status == "already_done", "{outcome}");
    }
    assert_eq!(real["report"]["freed_bytes"], plan["freed_bytes"], "{real}");
    let after = image_ids(&app).await;
    assert!(!after.contains(&debian) && !after.contains(&dangling));
    assert!(after.contains(&alpine) && after.contains(&nginx));
    assert_eq!(
        send(&app, get("/api/v1/images/alpine%3A3.20")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(id_of(&app, "alpine:latest").await, alpine);

    // Run again: nothing is left to do.
    let again = send(
        &app,
        post_json(
            "/api/v1/cleanup",
            &json!({"policy": policy_everything_old()}),
        ),
    )
    .await
    .json();
    assert_eq!(again["plan"]["actions"], json!([]), "{again}");
}

#[tokio::test]
async fn a_bad_policy_is_an_invalid_argument_and_a_bad_body_a_bad_request() {
    let (app, _, engine) = demo_engine(settings());
    let bad_policies = [
        (json!({"rules": []}), "no rules"),
        (
            json!({"rules": [{"repository": []}]}),
            "repository is empty",
        ),
        (json!({"rules": [{"repository": ["[a"]}]}), "malformed"),
        (
            json!({"rules": [{"repository": ["x"], "older_than": "30d"}]}),
            "not a Go duration",
        ),
        (
            json!({"rules": [{"repository": ["x"], "keep_last": 0}]}),
            "keep_last = 0",
        ),
        (
            json!({"rules": [{"repository": ["x"], "keep_lst": 3}]}),
            "unknown field",
        ),
        (
            json!({"rules": [{"repository": ["x"], "order": "newest"}]}),
            "unknown variant",
        ),
        (json!("keep everything"), "retention policy"),
    ];
    for (policy, says) in bad_policies {
        let answer = send(
            &app,
            post_json(
                "/api/v1/cleanup",
                &json!({"policy": policy, "dry_run": false}),
            ),
        )
        .await;
        assert_eq!(answer.error(), (400, "invalid_argument".into()), "{policy}");
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(says), "{policy}: {message}");
    }
    for body in [
        json!({}),
        json!({"policy": policy_everything_old(), "dryrun": false}),
        json!({"policy": policy_everything_old(), "dry_run": "no"}),
    ] {
        let answer = send(&app, post_json("/api/v1/cleanup", &body)).await;
        assert_eq!(answer.error(), (400, "bad_request".into()), "{body}");
    }
    // Nothing ran.
    assert!(engine.inspect("debian:bookworm").await.is_ok());
}

#[tokio::test]
async fn cleanup_engine_errors_keep_their_status() {
    for (error, status, kind) in [
        (
            ImageError::not_supported("snapshots", "mock"),
            501,
            "not_supported",
        ),
        (
            ImageError::EngineUnavailable {
                endpoint: "unix:///nowhere".into(),
                hint: "start it".into(),
            },
            503,
            "engine_unavailable",
        ),
    ] {
        let mut mock = MockImageService::new();
        let error = Arc::new(Mutex::new(Some(error)));
        mock.expect_snapshot()
            .times(1)
            .returning(move || Err(error.lock().unwrap().take().unwrap()));
        let (app, _) = mocked(mock);
        let answer = send(
            &app,
            post_json(
                "/api/v1/cleanup",
                &json!({"policy": policy_everything_old()}),
            ),
        )
        .await;
        assert_eq!(answer.error(), (status, kind.to_string()));
    }
}

fn schedule_of(policy: Value, every: Duration) -> crate::cleanup::Schedule {
    crate::cleanup::Schedule {
        policy: serde_json::from_value(policy).unwrap(),
        every,
    }
}

/// Waits until the reports endpoint lists at least `n` runs.
async fn reports_after(app: &Router, n: usize) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let reports = send(app, get("/api/v1/cleanup/reports")).await.json();
        if reports["reports"].as_array().unwrap().len() >= n {
            return reports;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} scheduled runs within 20 s: {reports}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn scheduled_cleanups_run_keep_their_reports_and_stop_on_shutdown() {
    let (app, state, engine) = demo_engine(settings());
    let none = send(&app, get("/api/v1/cleanup/reports")).await;
    assert_eq!(none.json(), json!({"schedule": null, "reports": []}));

    let debian = id_of(&app, "debian:bookworm").await;
    let task = crate::cleanup::spawn(
        &state,
        schedule_of(policy_everything_old(), Duration::from_millis(50)),
    );
    let reports = reports_after(&app, 2).await;
    // image-core writes sub-second periods as seconds (Go says "50ms").
    assert_eq!(reports["schedule"]["every"], "0.05s");
    assert_eq!(
        reports["schedule"]["policy"]["rules"][0]["repository"],
        json!(["*", "<none>"])
    );
    let runs = reports["reports"].as_array().unwrap();
    // Newest first; the first run did the work, the next found nothing to do.
    let (newest, first) = (&runs[0], &runs[runs.len() - 1]);
    assert!(newest["started"].as_str().unwrap() >= first["finished"].as_str().unwrap());
    assert_eq!(first["error"], Value::Null, "{first}");
    let deleted: Vec<&Value> = first["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "delete")
        .collect();
    assert!(
        deleted.iter().any(|a| a["image_id"] == debian.as_str()),
        "{first}"
    );
    let outcomes = first["report"]["outcomes"].as_array().unwrap();
    assert_eq!(
        outcomes.len(),
        first["plan"]["actions"].as_array().unwrap().len()
    );
    assert!(
        outcomes.iter().all(|o| o["outcome"]["status"] != "refused"),
        "{first}"
    );
    assert_eq!(newest["plan"]["actions"], json!([]), "{newest}");
    assert!(newest["report"]["outcomes"].as_array().unwrap().is_empty());
    assert!(engine.inspect(&debian).await.is_err(), "debian was deleted");
    chrono::DateTime::parse_from_rfc3339(first["started"].as_str().unwrap()).unwrap();

    state.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the schedule stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_read_only_schedule_only_plans_and_failures_are_kept() {
    let (app, state, engine) = demo_engine(Settings {
        read_only: true,
        ..settings()
    });
    let before = image_ids(&app).await;
    let task = crate::cleanup::spawn(
        &state,
        schedule_of(policy_everything_old(), Duration::from_millis(30)),
    );
    let reports = reports_after(&app, 2).await;
    for run in reports["reports"].as_array().unwrap() {
        assert_eq!(run["report"], Value::Null, "{run}");
        assert_eq!(run["error"], Value::Null, "{run}");
        assert!(
            !run["plan"]["actions"].as_array().unwrap().is_empty(),
            "{run}"
        );
    }
    assert_eq!(
        image_ids(&app).await,
        before,
        "a read-only schedule removed something"
    );
    assert!(engine.inspect("debian:bookworm").await.is_ok());
    state.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();

    // An engine that cannot take snapshots: each run keeps the error.
    let mut mock = MockImageService::new();
    mock.expect_snapshot()
        .returning(|| Err(ImageError::not_supported("snapshots", "mock")));
    let (app, state) = mocked(mock);
    let task = crate::cleanup::spawn(
        &state,
        schedule_of(policy_everything_old(), Duration::from_millis(30)),
    );
    let reports = reports_after(&app, 1).await;
    let run = &reports["reports"][0];
    assert_eq!(run["plan"], Value::Null, "{run}");
    assert_eq!(run["report"], Value::Null, "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("snapshots"),
        "{run}"
    );
    state.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

async fn outdated(app: &Router, name: &str) -> Value {
    let answer = send(
        app,
        get(&format!(
            "/api/v1/images/{}/outdated",
            name.replace('/', "%2F").replace(':', "%3A")
        )),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text());
    answer.json()
}

#[tokio::test]
async fn outdated_compares_the_local_repo_digest_with_the_registry() {
    let (app, _, engine) = demo_engine(settings());
    // Loaded, never pulled: nothing says where it came from.
    let loaded = outdated(&app, "postgres:16").await;
    assert_eq!(loaded["status"], "unknown", "{loaded}");
    assert_eq!(loaded["local_digest"], Value::Null);
    assert!(
        loaded["reason"]
            .as_str()
            .unwrap()
            .contains("not pulled from a registry"),
        "{loaded}"
    );

    // Pulled: up to date, named by tag or by ID (then its first tag).
    let pulled = send(
        &app,
        post_json(
            "/api/v1/images/pull",
            &json!({"reference": "redis:7-alpine"}),
        ),
    )
    .await;
    assert_eq!(pulled.lines().last().unwrap()["type"], "done");
    let fresh = outdated(&app, "redis:7-alpine").await;
    assert_eq!(fresh["status"], "up_to_date", "{fresh}");
    assert_eq!(fresh["image"], "redis:7-alpine");
    assert_eq!(fresh["local_digest"], fresh["registry_digest"]);
    assert!(
        fresh["local_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(fresh["reason"], Value::Null);
    let redis = id_of(&app, "redis:7-alpine").await;
    assert_eq!(outdated(&app, &redis).await, fresh);

    // The registry's tag moves on: an update is available.
    let newer = image_core::archive::FixtureImage::new("redis-8")
        .layer_with_file("usr/local/bin/redis-server", b"redis 8")
        .build()
        .unwrap();
    engine.registry_put("redis:7-alpine", &newer).unwrap();
    let stale = outdated(&app, "redis:7-alpine").await;
    assert_eq!(stale["status"], "update_available", "{stale}");
    assert_eq!(stale["local_digest"], fresh["local_digest"]);
    assert_eq!(
        stale["registry_digest"].as_str(),
        engine.registry_digest("redis:7-alpine").unwrap().as_deref()
    );

    // The demo's alpine:latest is 3.20 locally and 3.21 in the registry:
    // once pulled as alpine:3.20, the image's other tag is outdated.
    let pulled = send(
        &app,
        post_json("/api/v1/images/pull", &json!({"reference": "alpine:3.20"})),
    )
    .await;
    assert_eq!(pulled.lines().last().unwrap()["type"], "done");
    assert_eq!(outdated(&app, "alpine:3.20").await["status"], "up_to_date");
    assert_eq!(
        outdated(&app, "alpine:latest").await["status"],
        "update_available"
    );
    // A tag the registry does not have.
    send(
        &app,
        post_json(
            "/api/v1/images/alpine%3A3.20/tag",
            &json!({"target": "alpine:mine"}),
        ),
    )
    .await;
    let mine = outdated(&app, "alpine:mine").await;
    assert_eq!(mine["status"], "unknown");
    assert_eq!(mine["reason"], "the registry has no such tag");

    // An untagged image, and one that does not exist.
    let dangling = send(&app, get("/api/v1/images?filter=dangling%3Dtrue"))
        .await
        .json()["images"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let untagged = outdated(&app, &dangling).await;
    assert_eq!(untagged["status"], "unknown");
    assert!(
        untagged["reason"].as_str().unwrap().contains("untagged"),
        "{untagged}"
    );
    let missing = send(&app, get("/api/v1/images/nosuch%3A1/outdated")).await;
    assert_eq!(missing.error(), (404, "not_found".into()));
}

#[tokio::test]
async fn a_registry_error_is_an_unknown_status_with_its_text() {
    let mut details = MemoryImageService::demo()
        .unwrap()
        .inspect("postgres:16")
        .await
        .unwrap();
    details.repo_tags = vec!["app:1".into()];
    details.repo_digests = vec![format!("app@sha256:{}", "2".repeat(64))];
    let mut mock = MockImageService::new();
    mock.expect_inspect()
        .withf(|name| name == "app:1")
        .returning(move |_| Ok(details.clone()));
    mock.expect_registry_digest()
        .withf(|reference, auth| reference == "app:1" && auth.is_none())
        .times(1)
        .returning(|_, _| {
            Err(ImageError::Registry {
                registry: "docker.io".into(),
                message: "connection refused".into(),
            })
        });
    let (app, _) = mocked(mock);
    let answer = outdated(&app, "app:1").await;
    assert_eq!(answer["status"], "unknown", "{answer}");
    assert_eq!(answer["local_digest"], format!("sha256:{}", "2".repeat(64)));
    assert_eq!(answer["registry_digest"], Value::Null);
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{answer}"
    );
}

// ---------------------------------------------------------------------------
// The OpenAPI document against the router
// ---------------------------------------------------------------------------

/// Whether `uri` fits the documented `template`, whose `{param}` segments
/// match any one segment.
fn matches_template(template: &str, uri: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let uri: Vec<&str> = uri.split('/').collect();
    template.len() == uri.len()
        && template
            .iter()
            .zip(&uri)
            .all(|(t, u)| t == u || (t.starts_with('{') && t.ends_with('}')))
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

/// Whether the router answered "no such route" or "no such method" rather
/// than running a handler.
fn route_missing(answer: &Answer) -> bool {
    match answer.status {
        StatusCode::METHOD_NOT_ALLOWED => true,
        StatusCode::NOT_FOUND => answer.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no route for")),
        _ => false,
    }
}

fn concrete(path: &str) -> String {
    path.replace("{image}", "alpine%3A3.20")
}

#[tokio::test]
async fn every_documented_route_exists_and_no_undocumented_api_route_does() {
    // Read-only, so mutating routes answer 403 from the route's own
    // middleware (proving the route exists) without changing anything.
    let (app, _) = demo_with(Settings {
        read_only: true,
        ..settings()
    });
    let doc = send(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await
    .json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut templates: Vec<(Method, String)> = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let key = method.as_str().to_ascii_lowercase();
            let uri = concrete(path);
            let answer = send(
                &app,
                request(method.clone(), &uri).body(Body::empty()).unwrap(),
            )
            .await;
            if item.get(&key).is_some() {
                templates.push((method.clone(), path.clone()));
                assert!(
                    !route_missing(&answer),
                    "{method} {path} is documented but not routed"
                );
                if path.starts_with("/api/") {
                    let security = &item[&key]["security"];
                    assert!(
                        security.is_array(),
                        "{method} {path} must document the token"
                    );
                    if crate::auth::is_mutating(&method) {
                        assert_eq!(answer.error(), (403, "read_only".into()), "{method} {path}");
                    }
                }
            } else {
                assert!(
                    route_missing(&answer),
                    "{method} {path} is routed ({}) but not documented",
                    answer.status
                );
            }
        }
    }
    for expected in [
        "/api/v1/images",
        "/api/v1/images/{image}",
        "/api/v1/images/{image}/history",
        "/api/v1/images/{image}/containers",
        "/api/v1/images/{image}/tag",
        "/api/v1/images/prune",
        "/api/v1/disk-usage",
        "/api/v1/images/pull",
        "/api/v1/images/push",
        "/api/v1/build",
        "/api/v1/images/save",
        "/api/v1/images/load",
        "/api/v1/images/{image}/outdated",
        "/api/v1/cleanup",
        "/api/v1/cleanup/reports",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }

    // Every /api path made of the documented vocabulary, up to three
    // segments below /api/v1, is routed only where documented.
    let mut words: BTreeSet<String> = BTreeSet::new();
    for path in paths.keys() {
        for segment in concrete(path).split('/').skip(3) {
            words.insert(segment.to_string());
        }
    }
    words.insert("x".into());
    words.insert("v1".into());
    let words: Vec<String> = words.into_iter().collect();
    let mut candidates = vec!["/api".to_string(), "/api/v1".to_string()];
    let mut frontier = vec!["/api/v1".to_string()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for prefix in &frontier {
            for word in &words {
                next.push(format!("{prefix}/{word}"));
            }
        }
        candidates.extend(next.iter().cloned());
        frontier = next;
    }
    let mut probed = 0;
    for uri in &candidates {
        for method in METHODS {
            // A documented template with `{image}` matches any segment there.
            if templates
                .iter()
                .any(|(m, template)| *m == method && matches_template(template, uri))
            {
                continue;
            }
            let answer = send(
                &app,
                request(method.clone(), uri).body(Body::empty()).unwrap(),
            )
            .await;
            assert!(
                route_missing(&answer),
                "{method} {uri} is routed ({}) but not documented",
                answer.status
            );
            probed += 1;
        }
    }
    assert!(probed > 1000, "{probed}");
}

/// The probe above can only try paths made of known words; this closes the
/// gap structurally: no source file routes an `/api` path by hand (every API
/// route goes through `utoipa_axum::routes!`, which documents it), and
/// nothing is nested under `/api`.
#[test]
fn api_routes_are_only_added_through_utoipa() {
    let sources = [
        ("lib.rs", include_str!("lib.rs")),
        ("routes/mod.rs", include_str!("routes/mod.rs")),
        ("routes/images.rs", include_str!("routes/images.rs")),
        ("routes/transfer.rs", include_str!("routes/transfer.rs")),
        ("routes/cleanup.rs", include_str!("routes/cleanup.rs")),
        ("cleanup.rs", include_str!("cleanup.rs")),
        ("assets.rs", include_str!("assets.rs")),
        ("metrics.rs", include_str!("metrics.rs")),
        ("server.rs", include_str!("server.rs")),
    ];
    /// Whether `text` calls a routing method with a path under `/api`.
    fn by_hand(text: &str) -> bool {
        [".route(", ".route_service(", ".nest(", ".nest_service("]
            .iter()
            .any(|call| {
                text.match_indices(call)
                    .any(|(at, _)| text[at + call.len()..].trim_start().starts_with("\"/api"))
            })
    }
    for (name, text) in sources {
        assert!(
            !by_hand(text),
            "{name} routes an /api path by hand; use `.routes(routes!(handler))` so it is documented"
        );
    }
    // The sanity of the pattern itself.
    assert!(by_hand(r#"router.route("/api/v1/secret", get(h))"#));
    assert!(by_hand(r#".nest( "/api/v2", other)"#));
    assert!(!by_hand(r#".route("/healthz", get(h))"#));
    assert!(!by_hand(r#".routes(routes!(images::list))"#));
}
