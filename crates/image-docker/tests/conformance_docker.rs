//! Runs the shared conformance suite on both private engines (Docker 20.10,
//! API 1.41, and Docker 26.1, API 1.45). Cases on one engine run one at a
//! time, since prune sees the whole engine.

mod support;

use support::DockerHarness;

static ENGINE_A: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static ENGINE_B: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

mod engine_a {
    use super::*;
    image_core::conformance_tests!(DockerHarness::new("A", "conformance"), ENGINE_A.lock());
}

mod engine_b {
    use super::*;
    image_core::conformance_tests!(DockerHarness::new("B", "conformance"), ENGINE_B.lock());
}
