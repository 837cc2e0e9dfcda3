//! What the real-engine tests share: the private engines and registries that
//! `cargo xtask engine up` started (read from the environment it prints),
//! and a conformance harness over one of them.
//!
//! Without that environment the tests print a visible `SKIP` line and pass;
//! under CI (`CI=true`) a missing engine is a failure instead. No test ever
//! falls back to `/var/run/docker.sock`.

#![allow(dead_code, clippy::unwrap_used)]

mod gate;
pub use gate::require;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, StartContainerOptions,
};
use image_core::conformance::Harness;
use image_core::{DynImageService, ImageError};
use image_docker::{ConnectOptions, DockerImageService};

/// One private engine of the harness.
#[derive(Debug, Clone)]
pub struct EngineEnv {
    /// `A` or `B`.
    pub name: &'static str,
    /// Its `unix://` URL.
    pub host: String,
    /// The open registry, `127.0.0.1:PORT`.
    pub registry_open: String,
    /// The registry with htpasswd auth.
    pub registry_auth: String,
    /// Its user.
    pub registry_user: String,
    /// Its password (every kind of printable character).
    pub registry_password: String,
    /// The `docker-registry` binary, for tests that run their own.
    pub registry_bin: String,
    /// A static busybox, bind-mounted into containers that must run.
    pub busybox: String,
    /// The docker CLI.
    pub docker_cli: String,
}

/// The environment of engine `name` (`A` or `B`), or `None` after printing
/// why the test is skipped. Under CI a missing engine panics.
pub fn engine(name: &'static str, test: &str) -> Option<EngineEnv> {
    let host_key = format!("IMGCTL_ENGINE_{name}_HOST");
    let keys = [
        host_key.as_str(),
        "IMGCTL_REGISTRY_OPEN",
        "IMGCTL_REGISTRY_AUTH",
        "IMGCTL_REGISTRY_USER",
        "IMGCTL_REGISTRY_PASSWORD",
        "IMGCTL_REGISTRY_BIN",
        "IMGCTL_BUSYBOX",
        "IMGCTL_DOCKER_CLI",
    ];
    let values = require(&format!("{test} on engine {name}"), &keys)?;
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    Some(EngineEnv {
        name,
        host: get(&host_key),
        registry_open: get("IMGCTL_REGISTRY_OPEN"),
        registry_auth: get("IMGCTL_REGISTRY_AUTH"),
        registry_user: get("IMGCTL_REGISTRY_USER"),
        registry_password: get("IMGCTL_REGISTRY_PASSWORD"),
        registry_bin: get("IMGCTL_REGISTRY_BIN"),
        busybox: get("IMGCTL_BUSYBOX"),
        docker_cli: get("IMGCTL_DOCKER_CLI"),
    })
}

impl EngineEnv {
    /// A service connected to this engine, with no docker config (so no
    /// stored credentials of the machine are used).
    pub async fn service(&self) -> DockerImageService {
        let options =
            ConnectOptions::from_values(Some(self.host.clone()), false, None, None, None).unwrap();
        DockerImageService::connect(ConnectOptions {
            config_dir: None,
            ..options
        })
        .await
        .unwrap_or_else(|e| panic!("engine {} at {}: {e}", self.name, self.host))
    }

    /// A raw bollard client to this engine, for containers.
    pub fn bollard(&self) -> Docker {
        let path = self.host.trim_start_matches("unix://");
        Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION).unwrap()
    }
}

/// The conformance harness over one engine.
#[derive(Debug)]
pub struct DockerHarness {
    /// The engine.
    pub env: EngineEnv,
    /// The service under test.
    pub service: DockerImageService,
    docker: Docker,
}

impl DockerHarness {
    /// Connects to engine `name`, or `None` (skipped) when it is not set up.
    pub async fn new(name: &'static str, test: &str) -> Option<DockerHarness> {
        let env = engine(name, test)?;
        let service = env.service().await;
        let docker = env.bollard().negotiate_version().await.unwrap();
        Some(DockerHarness {
            env,
            service,
            docker,
        })
    }

    async fn create(&self, image: &str, name: &str, run: bool) -> Result<String, ImageError> {
        let _ = self
            .docker
            .remove_container(
                name,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await;
        let mut body = ContainerCreateBody {
            image: Some(image.to_string()),
            host_config: Some(HostConfig {
                network_mode: Some("none".to_string()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        if run {
            body.entrypoint = Some(vec!["/busybox".to_string()]);
            body.cmd = Some(vec!["sleep".to_string(), "3600".to_string()]);
            if let Some(host) = body.host_config.as_mut() {
                host.binds = Some(vec![format!("{}:/busybox:ro", self.env.busybox)]);
            }
        }
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|e| ImageError::backend(format!("creating container {name}"), e))?;
        if run {
            self.docker
                .start_container(&created.id, None::<StartContainerOptions>)
                .await
                .map_err(|e| ImageError::backend(format!("starting container {name}"), e))?;
        }
        Ok(created.id)
    }
}

#[async_trait]
impl Harness for DockerHarness {
    fn service(&self) -> &DynImageService {
        &self.service
    }

    fn registry(&self) -> String {
        self.env.registry_open.clone()
    }

    async fn create_container(&self, image: &str, name: &str) -> Result<String, ImageError> {
        self.create(image, name, false).await
    }

    async fn run_container(&self, image: &str, name: &str) -> Result<String, ImageError> {
        self.create(image, name, true).await
    }

    async fn remove_container(&self, id: &str) -> Result<(), ImageError> {
        self.docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| ImageError::backend(format!("removing container {id}"), e))
    }
}
