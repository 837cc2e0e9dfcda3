//! Runs the shared conformance suite on [`CachedImageService`] over the
//! memory engine.
//!
//! Images change through the cache; containers change on the engine behind
//! its back (as `docker run` would), and each such change is waited for on
//! the cache's change feed (1 s at most) before the case goes on.

use std::time::Duration;

use async_trait::async_trait;
use image_core::cache::FeedState;
use image_core::conformance::Harness;
use image_core::{
    CachedImageService, ContainerState, DynImageService, ImageError, MemoryImageService,
};

/// A fresh in-memory engine per case, behind a cache.
#[derive(Debug)]
struct CacheHarness {
    service: CachedImageService<MemoryImageService>,
}

impl CacheHarness {
    async fn new() -> Option<CacheHarness> {
        let service = CachedImageService::new(MemoryImageService::new());
        match service.settled().await {
            FeedState::Live => Some(CacheHarness { service }),
            other => panic!("the memory engine's change feed is {other}, not live"),
        }
    }

    /// Runs a change on the engine behind the cache, then waits until the
    /// cache's feed has delivered it.
    async fn behind<T>(
        &self,
        change: impl FnOnce(&MemoryImageService) -> Result<T, ImageError>,
    ) -> Result<T, ImageError> {
        let seen = self.service.stats().changes_seen;
        let result = change(self.service.inner())?;
        let delivered = tokio::time::timeout(Duration::from_secs(1), async {
            while self.service.stats().changes_seen == seen {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        match delivered {
            Ok(()) => Ok(result),
            Err(_) => Err(ImageError::backend(
                "waiting for the cache to see a container change",
                std::io::Error::other("no change event within 1 s"),
            )),
        }
    }
}

#[async_trait]
impl Harness for CacheHarness {
    fn service(&self) -> &DynImageService {
        &self.service
    }

    fn registry(&self) -> String {
        "registry.memory.test:5000".to_string()
    }

    async fn create_container(&self, image: &str, name: &str) -> Result<String, ImageError> {
        let created = self
            .behind(|memory| memory.add_container(image, name, ContainerState::Exited))
            .await?;
        Ok(created.id)
    }

    async fn run_container(&self, image: &str, name: &str) -> Result<String, ImageError> {
        let created = self
            .behind(|memory| memory.add_container(image, name, ContainerState::Running))
            .await?;
        Ok(created.id)
    }

    async fn remove_container(&self, id: &str) -> Result<(), ImageError> {
        self.behind(|memory| memory.remove_container(id)).await
    }
}

image_core::conformance_tests!(CacheHarness::new());
