//! Runs the shared conformance suite on [`MemoryImageService`].

use async_trait::async_trait;
use image_core::conformance::Harness;
use image_core::{ContainerState, DynImageService, ImageError, MemoryImageService};

/// A fresh in-memory engine per case; its built-in registry answers for any
/// host.
#[derive(Debug, Default)]
struct MemoryHarness {
    service: MemoryImageService,
}

#[async_trait]
impl Harness for MemoryHarness {
    fn service(&self) -> &DynImageService {
        &self.service
    }

    fn registry(&self) -> String {
        "registry.memory.test:5000".to_string()
    }

    async fn create_container(&self, image: &str, name: &str) -> Result<String, ImageError> {
        Ok(self
            .service
            .add_container(image, name, ContainerState::Exited)?
            .id)
    }

    async fn run_container(&self, image: &str, name: &str) -> Result<String, ImageError> {
        Ok(self
            .service
            .add_container(image, name, ContainerState::Running)?
            .id)
    }

    async fn remove_container(&self, id: &str) -> Result<(), ImageError> {
        self.service.remove_container(id)
    }
}

image_core::conformance_tests!(async { Some(MemoryHarness::default()) });
