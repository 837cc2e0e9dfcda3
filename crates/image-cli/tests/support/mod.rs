//! What the real-engine tests of `imgctl` share: the private engines,
//! registry and docker client that `cargo xtask engine up` started, read
//! from the environment it prints.
//!
//! Without that environment the tests print a visible `SKIP` line and pass;
//! under CI (`CI=true`) a missing variable is a failure instead. No test ever
//! falls back to `/var/run/docker.sock`.

#![allow(dead_code)]

#[path = "../../../image-docker/tests/support/gate.rs"]
mod gate;
pub use gate::require;

/// One private engine of the harness, and what a test needs around it.
#[derive(Debug, Clone)]
pub struct EngineEnv {
    /// `A` or `B`.
    pub name: &'static str,
    /// Its `unix://` URL.
    pub host: String,
    /// The open registry, `127.0.0.1:PORT`.
    pub registry_open: String,
    /// The real docker client.
    pub docker_cli: String,
    /// The private docker client configuration directory.
    pub docker_config: String,
}

/// The environment of engine `name` (`A` or `B`), or `None` after printing
/// why the test is skipped. Under CI a missing engine panics.
pub fn engine(name: &'static str, test: &str) -> Option<EngineEnv> {
    let host_key = format!("IMGCTL_ENGINE_{name}_HOST");
    let keys = [
        host_key.as_str(),
        "IMGCTL_REGISTRY_OPEN",
        "IMGCTL_DOCKER_CLI",
        "DOCKER_CONFIG",
    ];
    let values = require(&format!("{test} on engine {name}"), &keys)?;
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    Some(EngineEnv {
        name,
        host: get(&host_key),
        registry_open: get("IMGCTL_REGISTRY_OPEN"),
        docker_cli: get("IMGCTL_DOCKER_CLI"),
        docker_config: get("DOCKER_CONFIG"),
    })
}
