//! A raw JSON side channel to the engine.
//!
//! bollard's typed models drop a few fields that the engines we support still
//! send: the layer `id` of push progress messages, `Parent` of an image
//! inspect, and the old shape of `/system/df` (`LayersSize`, `Images`). For
//! those few calls, [`RawClient`] talks HTTP/1.1 to the same engine (unix
//! socket, plain TCP, or TCP with TLS and a client certificate) and hands back
//! untyped [`serde_json::Value`]s.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::header::{CONTENT_LENGTH, HOST, HeaderName, HeaderValue, USER_AGENT};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyperlocal::UnixConnector;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::connect::Endpoint;

/// The `User-Agent` of every request.
const USER_AGENT_VALUE: &str = "imgctl";

/// The `Host` header sent over a unix socket, as the docker CLI sends it.
const UNIX_HOST: &str = "docker";

/// How much of an error body is read to find its message.
const MAX_ERROR_BODY: usize = 1 << 20;

/// How large a successful, non-streamed JSON body may be.
const MAX_JSON_BODY: usize = 256 << 20;

/// How large one JSON value of a stream may grow before it is complete.
const MAX_STREAM_VALUE: usize = 16 << 20;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a raw request to the engine failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawError {
    /// The engine answered with a non-2xx status; `message` is the `message`
    /// field of its JSON error body (or the body text, or the status reason
    /// when the body is empty).
    Status {
        /// The HTTP status code.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// Could not connect (refused, missing socket, DNS, TLS handshake...).
    Connect {
        /// What went wrong, with its causes.
        message: String,
        /// Whether the socket file is missing or the connection was refused:
        /// the engine is most likely not running.
        refused_or_missing: bool,
    },
    /// Connecting or waiting for the response (headers, or the whole body of
    /// [`RawClient::get_json`]) took longer than the client's timeout.
    Timeout,
    /// Anything else (bad JSON, broken stream, TLS setup failure...).
    Other(String),
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawError::Status { status, message } => {
                write!(f, "Error response from daemon (HTTP {status}): {message}")
            }
            RawError::Connect { message, .. } => {
                write!(f, "cannot connect to the engine: {message}")
            }
            RawError::Timeout => f.write_str("timed out waiting for the engine"),
            RawError::Other(message) => f.write_str(message),
        }
    }
}

impl StdError for RawError {}

/// The connection-specific part of a [`RawClient`].
#[derive(Clone)]
enum Transport {
    /// Over a unix socket.
    Unix {
        /// The client.
        client: Client<UnixConnector, Empty<Bytes>>,
        /// The socket.
        socket: PathBuf,
    },
    /// Over plain TCP.
    Tcp {
        /// The client.
        client: Client<HttpConnector, Empty<Bytes>>,
        /// `http://host:port`.
        base: String,
    },
    /// Over TCP with TLS.
    Tls {
        /// The client.
        client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
        /// `https://host:port`.
        base: String,
    },
}

/// A minimal HTTP/1.1 client to the engine that returns raw JSON.
///
/// Cloning is cheap: clones share their connection pool.
#[derive(Clone)]
pub(crate) struct RawClient {
    /// How requests reach the engine.
    transport: Transport,
    /// The endpoint as a `DOCKER_HOST` URL, for messages.
    endpoint_url: Arc<str>,
    /// `/v1.41`: the prefix of every request path.
    version_prefix: Arc<str>,
    /// Bounds connecting and receiving the response headers.
    timeout: Duration,
}

impl fmt::Debug for RawClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawClient")
            .field("endpoint", &self.endpoint_url)
            .field("api", &self.version_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RawClient {
    /// A client for `endpoint`. `api_version` is like `"1.41"` (requests go
    /// to `/v{api_version}{path}`; a leading `v` is tolerated); `timeout`
    /// bounds connecting and receiving the response headers (not the body of
    /// a stream). Nothing is connected yet; TLS files are read now.
    pub(crate) fn new(
        endpoint: &Endpoint,
        api_version: &str,
        timeout: Duration,
    ) -> Result<RawClient, RawError> {
        let version = api_version.strip_prefix('v').unwrap_or(api_version);
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(RawError::Other(format!(
                "invalid engine API version \"{api_version}\""
            )));
        }
        let transport = match endpoint {
            Endpoint::Unix(socket) => Transport::Unix {
                client: client_builder().build(UnixConnector),
                socket: socket.clone(),
            },
            Endpoint::Tcp { host, port } => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Transport::Tcp {
                    client: client_builder().build(connector),
                    base: format!("http://{}:{port}", uri_host(host)),
                }
            }
            Endpoint::Tls {
                host,
                port,
                ca,
                cert,
                key,
            } => {
                let config = tls_config(ca, cert, key)?;
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(config)
                    .https_only()
                    .enable_http1()
                    .build();
                Transport::Tls {
                    client: client_builder().build(connector),
                    base: format!("https://{}:{port}", uri_host(host)),
                }
            }
        };
        Ok(RawClient {
            transport,
            endpoint_url: endpoint.url().into(),
            version_prefix: format!("/v{version}").into(),
            timeout,
        })
    }

    /// GETs `path_and_query` (for example `/images/x/json`), expecting a 2xx
    /// answer with a JSON body. The timeout bounds the whole exchange,
    /// body included.
    pub(crate) async fn get_json(&self, path_and_query: &str) -> Result<Value, RawError> {
        let exchange = async {
            let response = self.send(Method::GET, path_and_query, &[]).await?;
            let body = read_body(response.into_body(), MAX_JSON_BODY, false)
                .await
                .map_err(|e| {
                    RawError::Other(format!(
                        "reading the engine's answer to GET {path_and_query}: {e}"
                    ))
                })?;
            serde_json::from_slice(&body).map_err(|e| {
                RawError::Other(format!(
                    "the engine's answer to GET {path_and_query} is not JSON: {e}"
                ))
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(RawError::Timeout))
    }

    /// POSTs an empty body to `path_and_query` with extra `headers` (for
    /// example `X-Registry-Auth`), and returns the answer as a stream of JSON
    /// values, one per object the engine sends (newline-delimited or simply
    /// concatenated; objects may be split across chunks and chunks may hold
    /// several). The timeout bounds only connecting and receiving the
    /// headers. A broken stream or bad JSON ends the stream with one error.
    /// Dropping the stream aborts the request.
    pub(crate) async fn post_json_stream(
        &self,
        path_and_query: &str,
        headers: &[(&str, String)],
    ) -> Result<BoxStream<'static, Result<Value, RawError>>, RawError> {
        let response = tokio::time::timeout(
            self.timeout,
            self.send(Method::POST, path_and_query, headers),
        )
        .await
        .unwrap_or(Err(RawError::Timeout))?;
        Ok(json_stream(response.into_body()))
    }

    /// `GET /_ping`, unversioned as the docker CLI sends it, and the API
    /// version the engine reports in its `Api-Version` header (`None` when
    /// the answer has none). Engines answer it at once, unlike `/version`.
    /// The timeout bounds the whole exchange.
    pub(crate) async fn ping_api_version(&self) -> Result<Option<String>, RawError> {
        let exchange = async {
            let response = self
                .send_path(Method::GET, "/_ping".to_string(), &[])
                .await?;
            let version = response
                .headers()
                .get("api-version")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // Read the short body (`OK`) so that the connection is reused.
            let _ = read_body(response.into_body(), MAX_ERROR_BODY, true).await;
            Ok(version)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(RawError::Timeout))
    }

    /// The same client (sharing its connection pool) for another API
    /// version; fails as [`RawClient::new`] does on a malformed version.
    pub(crate) fn with_api_version(&self, api_version: &str) -> Result<RawClient, RawError> {
        let version = api_version.strip_prefix('v').unwrap_or(api_version);
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(RawError::Other(format!(
                "invalid engine API version \"{api_version}\""
            )));
        }
        Ok(RawClient {
            version_prefix: format!("/v{version}").into(),
            ..self.clone()
        })
    }

    /// Sends one request and waits for the response headers; a non-2xx
    /// status becomes [`RawError::Status`]. Not bounded by the timeout.
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>, RawError> {
        let path = self.full_path(path_and_query)?;
        self.send_path(method, path, headers).await
    }

    /// [`RawClient::send`] with the whole path, version prefix included
    /// (or not, for `/_ping`).
    async fn send_path(
        &self,
        method: Method,
        path: String,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>, RawError> {
        let mut builder = Request::builder()
            .method(method.clone())
            .header(USER_AGENT, USER_AGENT_VALUE);
        if method == Method::POST {
            builder = builder.header(CONTENT_LENGTH, "0");
        }
        let uri: Uri = match &self.transport {
            Transport::Unix { socket, .. } => {
                builder = builder.header(HOST, UNIX_HOST);
                hyperlocal::Uri::new(socket, &path).into()
            }
            Transport::Tcp { base, .. } | Transport::Tls { base, .. } => format!("{base}{path}")
                .parse()
                .map_err(|e| RawError::Other(format!("invalid request URL {base}{path}: {e}")))?,
        };
        let mut request = builder
            .uri(uri)
            .body(Empty::new())
            .map_err(|e| RawError::Other(format!("building the request {method} {path}: {e}")))?;
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| RawError::Other(format!("invalid header name \"{name}\": {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| RawError::Other(format!("invalid value for header {name}: {e}")))?;
            request.headers_mut().insert(name, value);
        }
        let sent = match &self.transport {
            Transport::Unix { client, .. } => client.request(request).await,
            Transport::Tcp { client, .. } => client.request(request).await,
            Transport::Tls { client, .. } => client.request(request).await,
        };
        let response = sent.map_err(|e| self.request_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = read_body(response.into_body(), MAX_ERROR_BODY, true)
            .await
            .unwrap_or_default();
        Err(RawError::Status {
            status: status.as_u16(),
            message: error_message(&body, status.canonical_reason()),
        })
    }

    /// `/v{version}{path_and_query}`, after checking that `path_and_query`
    /// is a valid absolute path (so that building the URI cannot fail).
    fn full_path(&self, path_and_query: &str) -> Result<String, RawError> {
        let valid =
            path_and_query.starts_with('/') && path_and_query.parse::<PathAndQuery>().is_ok();
        if !valid {
            return Err(RawError::Other(format!(
                "invalid request path \"{path_and_query}\" (it must start with / and be URL-encoded)"
            )));
        }
        Ok(format!("{}{path_and_query}", self.version_prefix))
    }

    /// Converts a failed request into a [`RawError`].
    fn request_error(&self, error: &hyper_util::client::legacy::Error) -> RawError {
        if error.is_connect() {
            // The top level only says "client error (Connect)"; the causes say why.
            let chain = error
                .source()
                .map_or_else(|| error_chain(error), error_chain);
            let kind = io_error_kind(error);
            let refused_or_missing = matches!(
                kind,
                Some(std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused)
            );
            return RawError::Connect {
                message: format!("{}: {chain}", self.endpoint_url),
                refused_or_missing,
            };
        }
        RawError::Other(format!(
            "request to the engine at {} failed: {}",
            self.endpoint_url,
            error_chain(error)
        ))
    }
}

/// A client builder with the settings every transport shares.
fn client_builder() -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT);
    builder
}

/// `host` as it goes in a URI: an IPv6 address gets brackets.
fn uri_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The rustls configuration for an engine with TLS: `ca` is the only trusted
/// root, and `cert` with `key` is the client certificate.
fn tls_config(ca: &Path, cert: &Path, key: &Path) -> Result<rustls::ClientConfig, RawError> {
    let pem_error = |what: &str, path: &Path, error: rustls_pki_types::pem::Error| {
        let why = match error {
            rustls_pki_types::pem::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        RawError::Other(format!("reading the TLS {what} {}: {why}", path.display()))
    };

    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(ca).map_err(|e| pem_error("CA certificate", ca, e))? {
        let der = der.map_err(|e| pem_error("CA certificate", ca, e))?;
        roots.add(der).map_err(|e| {
            RawError::Other(format!(
                "the TLS CA certificate {} is not usable: {e}",
                ca.display()
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(RawError::Other(format!(
            "reading the TLS CA certificate {}: no certificate found",
            ca.display()
        )));
    }

    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error("client certificate", cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("client certificate", cert, e))?;
    if chain.is_empty() {
        return Err(RawError::Other(format!(
            "reading the TLS client certificate {}: no certificate found",
            cert.display()
        )));
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("client key", key, e))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RawError::Other(format!("setting up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, private_key)
        .map_err(|e| {
            RawError::Other(format!(
                "the TLS client certificate {} and key {} are not usable: {e}",
                cert.display(),
                key.display()
            ))
        })
}

/// The error and its causes, as `a: b: c` (skipping repeats).
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// The kind of the first [`std::io::Error`] in the error's causes.
fn io_error_kind(error: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        next = current.source();
    }
    None
}

/// Reads a body into memory, up to `limit` bytes. Beyond the limit, the rest
/// is dropped when `truncate`, else it is an error.
async fn read_body(mut body: Incoming, limit: usize, truncate: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| error_chain(&e))?;
        if let Ok(data) = frame.into_data() {
            let room = limit - out.len();
            if data.len() > room {
                if truncate {
                    out.extend_from_slice(&data[..room]);
                    break;
                }
                return Err(format!("the body is larger than {limit} bytes"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// The message of an engine error body: its JSON `message` field, else the
/// body text, else `reason`.
fn error_message(body: &[u8], reason: Option<&str>) -> String {
    let json_message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    if let Some(message) = json_message {
        return message;
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() {
        reason.unwrap_or("unknown error").to_string()
    } else {
        text
    }
}

/// The state of a [`json_stream`].
struct StreamState {
    /// The body, `None` once it ended or failed.
    body: Option<Incoming>,
    /// Received bytes not yet parsed.
    buffer: Vec<u8>,
}

/// What one attempt to parse the head of the buffer gave.
enum Parsed {
    /// A complete value, and how many bytes it used.
    Value(Value, usize),
    /// Nothing complete yet.
    NeedMore,
    /// The bytes are not JSON.
    Invalid(serde_json::Error),
}

/// Parses the first JSON value of `buffer`, skipping leading whitespace.
fn parse_head(buffer: &[u8]) -> Parsed {
    let mut values = serde_json::Deserializer::from_slice(buffer).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) => Parsed::Value(value, values.byte_offset()),
        Some(Err(e)) if e.is_eof() => Parsed::NeedMore,
        Some(Err(e)) => Parsed::Invalid(e),
        None => Parsed::NeedMore,
    }
}

/// The body as a stream of JSON values; ends with at most one error.
fn json_stream(body: Incoming) -> BoxStream<'static, Result<Value, RawError>> {
    let state = StreamState {
        body: Some(body),
        buffer: Vec::new(),
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            match parse_head(&state.buffer) {
                Parsed::Value(value, used) => {
                    state.buffer.drain(..used);
                    return Some((Ok(value), state));
                }
                Parsed::Invalid(e) => {
                    state.body = None;
                    state.buffer.clear();
                    return Some((
                        Err(RawError::Other(format!(
                            "the engine sent invalid JSON: {e}"
                        ))),
                        state,
                    ));
                }
                Parsed::NeedMore => {}
            }
            match state.body.as_mut()?.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        state.buffer.extend_from_slice(&data);
                        if state.buffer.len() > MAX_STREAM_VALUE {
                            state.body = None;
                            state.buffer.clear();
                            let message = format!(
                                "the engine sent a JSON value larger than {MAX_STREAM_VALUE} bytes"
                            );
                            return Some((Err(RawError::Other(message)), state));
                        }
                    }
                }
                Some(Err(e)) => {
                    state.body = None;
                    state.buffer.clear();
                    let message = format!("reading the engine's stream: {}", error_chain(&e));
                    return Some((Err(RawError::Other(message)), state));
                }
                None => {
                    state.body = None;
                    if state.buffer.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    state.buffer.clear();
                    let message =
                        "the engine's stream ended in the middle of a JSON value".to_string();
                    return Some((Err(RawError::Other(message)), state));
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::TryStreamExt;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::{TcpListener, UnixListener};
    use tokio::sync::oneshot;

    /// A temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!("imgctl-raw-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Reads a request's head (up to the blank line).
    async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.unwrap();
            assert_ne!(n, 0, "the client closed before the end of the request head");
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    /// Answers one request on `stream` with `parts`, written one by one with
    /// a flush and a short pause in between (so that they arrive as separate
    /// reads). Returns the request head.
    async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
        stream: &mut S,
        parts: &[Vec<u8>],
    ) -> String {
        let head = read_head(stream).await;
        for part in parts {
            stream.write_all(part).await.unwrap();
            stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        head
    }

    /// A complete response with a `Content-Length` body.
    fn response(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// One chunk of a chunked body.
    fn chunk(data: &str) -> Vec<u8> {
        format!("{:x}\r\n{data}\r\n", data.len()).into_bytes()
    }

    /// The head of a chunked response.
    fn chunked_head() -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec()
    }

    /// A fake engine on a unix socket that answers one connection with
    /// `parts`; the request head comes back through the receiver.
    fn unix_engine(dir: &TempDir, parts: Vec<Vec<u8>>) -> (Endpoint, oneshot::Receiver<String>) {
        let socket = dir.0.join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let head = answer(&mut stream, &parts).await;
            let _ = tx.send(head);
        });
        (Endpoint::Unix(socket), rx)
    }

    fn client(endpoint: &Endpoint, version: &str) -> RawClient {
        RawClient::new(endpoint, version, Duration::from_secs(10)).unwrap()
    }

    #[tokio::test]
    async fn get_json_over_unix() {
        let dir = TempDir::new();
        let body = r#"{"Id":"sha256:abc","Parent":"sha256:def"}"#;
        let (endpoint, head) = unix_engine(&dir, vec![response("200 OK", body)]);
        let raw = client(&endpoint, "1.41");
        let value = raw.get_json("/images/x:latest/json").await.unwrap();
        assert_eq!(value["Parent"], "sha256:def");
        let head = head.await.unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("get /v1.41/images/x:latest/json http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nhost: docker\r\n"), "{head}");
        assert!(head.contains("\r\nuser-agent: imgctl\r\n"), "{head}");
    }

    #[tokio::test]
    async fn post_stream_splits_and_joins_objects() {
        let dir = TempDir::new();
        let parts = vec![
            chunked_head(),
            chunk(r#"{"status":"Prepa"#),
            chunk(
                "ring\",\"id\":\"a1\"}\r\n{\"status\":\"Pushing\",\"id\":\"a1\",\"progressDetail\":{\"current\":5}}\n{\"status\":",
            ),
            chunk("\"Pushed\",\"id\":\"a1\"}\n"),
            chunk(r#"{"status":"latest: digest: sha256:0"}{"aux":{"Tag":"latest"}}"#),
            chunk("\n"),
            b"0\r\n\r\n".to_vec(),
        ];
        let (endpoint, head) = unix_engine(&dir, parts);
        let raw = client(&endpoint, "v1.45");
        let stream = raw
            .post_json_stream(
                "/images/x/push?tag=latest",
                &[("X-Registry-Auth", "e30=".to_string())],
            )
            .await
            .unwrap();
        let values: Vec<Value> = stream.try_collect().await.unwrap();
        assert_eq!(values.len(), 5, "{values:?}");
        assert_eq!(
            values[0],
            serde_json::json!({"status": "Preparing", "id": "a1"})
        );
        assert_eq!(values[1]["progressDetail"]["current"], 5);
        assert_eq!(values[2]["status"], "Pushed");
        assert_eq!(values[3]["status"], "latest: digest: sha256:0");
        assert_eq!(values[4]["aux"]["Tag"], "latest");
        let head = head.await.unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("post /v1.45/images/x/push?tag=latest http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nx-registry-auth: e30=\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-length: 0\r\n"), "{head}");
    }

    #[tokio::test]
    async fn stream_cut_in_the_middle_of_an_object_ends_with_an_error() {
        let dir = TempDir::new();
        let parts = vec![
            chunked_head(),
            chunk("{\"status\":\"one\"}\n{\"status\":\"tw"),
            b"0\r\n\r\n".to_vec(),
        ];
        let (endpoint, _head) = unix_engine(&dir, parts);
        let mut stream = client(&endpoint, "1.41")
            .post_json_stream("/build", &[])
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap()["status"], "one");
        let error = stream.next().await.unwrap().unwrap_err();
        assert!(
            matches!(error, RawError::Other(ref m) if m.contains("middle of a JSON value")),
            "{error:?}"
        );
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn invalid_json_in_a_stream_is_an_error() {
        let dir = TempDir::new();
        let parts = vec![
            chunked_head(),
            chunk("{\"a\":1}\nnot json\n"),
            b"0\r\n\r\n".to_vec(),
        ];
        let (endpoint, _head) = unix_engine(&dir, parts);
        let mut stream = client(&endpoint, "1.41")
            .post_json_stream("/x", &[])
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap()["a"], 1);
        let error = stream.next().await.unwrap().unwrap_err();
        assert!(
            matches!(error, RawError::Other(ref m) if m.contains("invalid JSON")),
            "{error:?}"
        );
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn dropping_the_stream_aborts_the_request() {
        let dir = TempDir::new();
        let socket = dir.0.join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            answer(
                &mut stream,
                &[chunked_head(), chunk("{\"status\":\"first\"}\n")],
            )
            .await;
            // The body never ends; the client must hang up.
            let mut rest = [0u8; 16];
            let n = stream.read(&mut rest).await.unwrap_or(0);
            let _ = tx.send(n);
        });
        let raw = client(&Endpoint::Unix(socket), "1.41");
        let mut stream = raw
            .post_json_stream("/images/create?fromImage=x", &[])
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap()["status"], "first");
        drop(stream);
        let n = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "the connection should have been closed");
    }

    #[tokio::test]
    async fn error_status_carries_the_engine_message() {
        let dir = TempDir::new();
        let (endpoint, _head) = unix_engine(
            &dir,
            vec![response(
                "404 Not Found",
                r#"{"message":"No such image: x:latest"}"#,
            )],
        );
        let error = client(&endpoint, "1.41")
            .get_json("/images/x:latest/json")
            .await
            .unwrap_err();
        assert_eq!(
            error,
            RawError::Status {
                status: 404,
                message: "No such image: x:latest".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "Error response from daemon (HTTP 404): No such image: x:latest"
        );
    }

    #[tokio::test]
    async fn error_status_of_a_stream_and_a_text_body() {
        let dir = TempDir::new();
        let (endpoint, _head) =
            unix_engine(&dir, vec![response("500 Internal Server Error", "boom\n")]);
        let error = client(&endpoint, "1.41")
            .post_json_stream("/images/x/push", &[])
            .await
            .err()
            .unwrap();
        assert_eq!(
            error,
            RawError::Status {
                status: 500,
                message: "boom".into()
            }
        );
        assert_eq!(error_message(b"", Some("Not Found")), "Not Found");
    }

    #[tokio::test]
    async fn missing_socket_is_refused_or_missing() {
        let dir = TempDir::new();
        let endpoint = Endpoint::Unix(dir.0.join("absent.sock"));
        let error = client(&endpoint, "1.41")
            .get_json("/version")
            .await
            .unwrap_err();
        assert!(
            matches!(error, RawError::Connect { refused_or_missing: true, ref message } if message.contains("absent.sock")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn socket_without_a_listener_is_refused_or_missing() {
        let dir = TempDir::new();
        let socket = dir.0.join("stale.sock");
        drop(UnixListener::bind(&socket).unwrap());
        let error = client(&Endpoint::Unix(socket), "1.41")
            .get_json("/version")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                RawError::Connect {
                    refused_or_missing: true,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn silent_engine_times_out() {
        let dir = TempDir::new();
        let socket = dir.0.join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_head(&mut stream).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let raw =
            RawClient::new(&Endpoint::Unix(socket), "1.41", Duration::from_millis(200)).unwrap();
        assert_eq!(raw.get_json("/info").await.unwrap_err(), RawError::Timeout);
        assert_eq!(
            raw.post_json_stream("/build", &[]).await.err(),
            Some(RawError::Timeout)
        );
        server.abort();
    }

    #[tokio::test]
    async fn get_json_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let head = answer(
                &mut stream,
                &[response("200 OK", r#"{"LayersSize":42,"Images":[]}"#)],
            )
            .await;
            let _ = tx.send(head);
        });
        let endpoint = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let value = client(&endpoint, "1.41")
            .get_json("/system/df")
            .await
            .unwrap();
        assert_eq!(value["LayersSize"], 42);
        let head = rx.await.unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("get /v1.41/system/df http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
        assert!(head.contains("\r\nuser-agent: imgctl\r\n"), "{head}");
    }

    #[tokio::test]
    async fn closed_tcp_port_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let endpoint = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let error = client(&endpoint, "1.41")
            .get_json("/version")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                RawError::Connect {
                    refused_or_missing: true,
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn missing_ca_file_is_named() {
        let dir = TempDir::new();
        let endpoint = Endpoint::Tls {
            host: "engine.example".into(),
            port: 2376,
            ca: dir.0.join("ca.pem"),
            cert: dir.0.join("cert.pem"),
            key: dir.0.join("key.pem"),
        };
        let error = RawClient::new(&endpoint, "1.41", Duration::from_secs(1)).unwrap_err();
        let ca = dir.0.join("ca.pem").display().to_string();
        assert!(
            matches!(error, RawError::Other(ref m) if m.contains(&ca) && m.contains("CA certificate")),
            "{error:?}"
        );
    }

    #[test]
    fn empty_ca_file_is_named() {
        let dir = TempDir::new();
        std::fs::write(dir.0.join("ca.pem"), "not a certificate\n").unwrap();
        let endpoint = Endpoint::Tls {
            host: "engine.example".into(),
            port: 2376,
            ca: dir.0.join("ca.pem"),
            cert: dir.0.join("cert.pem"),
            key: dir.0.join("key.pem"),
        };
        let error = RawClient::new(&endpoint, "1.41", Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(error, RawError::Other(ref m) if m.contains("ca.pem") && m.contains("no certificate found")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn bad_paths_and_versions_are_errors_not_panics() {
        let dir = TempDir::new();
        let raw = client(&Endpoint::Unix(dir.0.join("absent.sock")), "1.41");
        for path in ["images/json", "/images/a b/json", ""] {
            let error = raw.get_json(path).await.unwrap_err();
            assert!(
                matches!(error, RawError::Other(ref m) if m.contains("invalid request path")),
                "{path}: {error:?}"
            );
        }
        let error = raw
            .post_json_stream("/x", &[("bad header", "v".to_string())])
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, RawError::Other(ref m) if m.contains("invalid header name")),
            "{error:?}"
        );
        for version in ["", "latest", "1.41/x"] {
            assert!(
                RawClient::new(
                    &Endpoint::Unix("/s".into()),
                    version,
                    Duration::from_secs(1)
                )
                .is_err()
            );
        }
    }

    #[test]
    fn debug_shows_the_endpoint() {
        let raw = client(&Endpoint::Unix("/run/docker.sock".into()), "1.41");
        let debug = format!("{raw:?}");
        assert!(
            debug.contains("unix:///run/docker.sock") && debug.contains("/v1.41"),
            "{debug}"
        );
    }
}
