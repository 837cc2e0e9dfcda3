//! What imgd's socket-level tests share: an imgd served on an ephemeral
//! loopback port (plain or TLS) through [`image_http::server::serve`], a
//! small HTTP client, and the gate on the real-engine environment (a visible
//! SKIP line when unset, a panic under `CI=true`).

#![allow(dead_code, clippy::unwrap_used)]

#[path = "../../../image-docker/tests/support/gate.rs"]
mod gate;
pub use gate::require;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use image_core::DynImageService;
use image_http::auth::Token;
use image_http::{AppState, Settings};
use serde_json::Value;
use tokio::task::JoinHandle;

/// The token every test server uses.
pub const TOKEN: &str = "socket-test-token";

/// One imgd on a loopback port.
pub struct Served {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state (shutdown token, metrics, queue).
    pub state: AppState,
    /// The server task; ends after shutdown.
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Serves `service` (with TLS when given) until the state's shutdown
    /// token is cancelled.
    pub fn start(
        service: Arc<DynImageService>,
        settings: Settings,
        tls: Option<axum_server::tls_rustls::RustlsConfig>,
    ) -> Served {
        let state = AppState::new(service, settings).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(image_http::server::serve(
            listener,
            image_http::app(state.clone()),
            tls,
            state.shutdown.clone(),
            std::future::pending(),
        ));
        Served { addr, state, task }
    }

    /// Settings with the test token.
    pub fn settings() -> Settings {
        Settings::new(Token::new(TOKEN).unwrap())
    }

    /// Stops the server and waits for it to end.
    pub async fn stop(self) {
        self.state.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the server stops within its grace period")
            .unwrap()
            .unwrap();
    }
}

/// An answer read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The content type.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body's NDJSON lines.
    pub fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.body)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The error kind of an error answer.
    pub fn kind(&self) -> String {
        self.json()["error"]["kind"].as_str().unwrap().to_string()
    }
}

/// An HTTP client for one server.
pub struct Http<C> {
    client: Client<C, Full<Bytes>>,
    base: String,
}

impl Http<HttpConnector> {
    /// A plain HTTP client for `addr`.
    pub fn plain(addr: SocketAddr) -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            base: format!("http://{addr}"),
        }
    }
}

impl<C: Connect + Clone + Send + Sync + 'static> Http<C> {
    /// A client over `connector` for `base` (`https://127.0.0.1:PORT`).
    pub fn with(connector: C, base: String) -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base,
        }
    }

    /// Sends a request with the token (when `token`) and returns the
    /// response with its body still streaming.
    pub async fn start(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        token: bool,
    ) -> hyper::Response<hyper::body::Incoming> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if token {
            request = request.header("authorization", format!("Bearer {TOKEN}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap()
    }

    /// Sends a request with the token and reads the whole answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        read(self.start(method, path, content_type, body, true).await).await
    }

    /// `GET` with the token.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, Vec::new()).await
    }

    /// A JSON request with the token.
    pub async fn json(&self, method: &str, path: &str, body: &Value) -> Answer {
        self.call(
            method,
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }
}

/// Reads a response whole.
pub async fn read(response: hyper::Response<hyper::body::Incoming>) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        body,
    }
}

/// Reads the first line of a streaming response and returns it with the
/// rest of the stream.
pub async fn first_line(
    response: hyper::Response<hyper::body::Incoming>,
) -> (Value, http_body_util::BodyDataStream<hyper::body::Incoming>) {
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = Vec::new();
    while !buffer.contains(&b'\n') {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a line within 30 s")
            .expect("the stream goes on")
            .unwrap();
        buffer.extend_from_slice(&chunk);
    }
    let end = buffer.iter().position(|b| *b == b'\n').unwrap();
    (serde_json::from_slice(&buffer[..end]).unwrap(), stream)
}
