//! # image-docker
//!
//! imgctl's [`ImageService`](image_core::ImageService) over a real Docker
//! Engine, through bollard and tokio. [`DockerImageService::connect`] takes
//! [`ConnectOptions`] (from `DOCKER_HOST` and friends with
//! [`ConnectOptions::from_env`]), negotiates the API version, and maps every
//! engine failure to an [`ImageError`](image_core::ImageError) kind.
//!
//! Supported engines: API 1.41 (Docker 20.10) and newer; the test suite runs
//! on Docker 20.10 (API 1.41) and 26.1 (API 1.45).

pub mod connect;
mod convert;
mod credentials;
mod errors;
mod raw;
mod service;

pub use connect::{ConnectOptions, Endpoint};
pub use service::DockerImageService;
