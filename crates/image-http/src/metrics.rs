//! Prometheus metrics, one registry per server (so tests do not share
//! counters): requests by route, method and status, their durations, the
//! streams in flight and the work queue. `GET /metrics` serves them in the
//! text format.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::AppState;
use crate::error::ApiError;

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    /// NDJSON and download streams being sent.
    pub streams_in_flight: IntGauge,
    /// Pulls, pushes and builds running.
    pub work_running: IntGauge,
    /// Pulls, pushes and builds waiting for a slot.
    pub work_queued: IntGauge,
}

impl Metrics {
    /// A fresh registry with imgd's metrics.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("imgd_http_requests_total", "HTTP requests answered"),
            &["route", "method", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "imgd_http_request_duration_seconds",
                "Time until the response head was ready (streams go on after it)",
            ),
            &["route", "method"],
        )?;
        let streams_in_flight = IntGauge::new(
            "imgd_streams_in_flight",
            "NDJSON progress streams and archive downloads being sent",
        )?;
        let work_running = IntGauge::new(
            "imgd_work_running",
            "Pulls, pushes and builds holding a slot",
        )?;
        let work_queued = IntGauge::new(
            "imgd_work_queued",
            "Pulls, pushes and builds waiting for a slot",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(streams_in_flight.clone()))?;
        registry.register(Box::new(work_running.clone()))?;
        registry.register(Box::new(work_queued.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            durations,
            streams_in_flight,
            work_running,
            work_queued,
        })
    }

    /// Counts one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.durations
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// The metrics in Prometheus's text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// A guard that counts one stream in flight until it is dropped.
#[derive(Debug)]
pub struct InFlight(IntGauge);

impl InFlight {
    /// Counts a stream in `gauge`.
    pub fn start(gauge: &IntGauge) -> InFlight {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts every request by its route pattern (never by the raw
/// path, which holds image names), method and status.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED.to_string(), |path| path.as_str().to_string());
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(
        &route,
        method.as_str(),
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn serve(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "backend",
            format!("rendering metrics: {error}"),
        )
        .into_response(),
    }
}
