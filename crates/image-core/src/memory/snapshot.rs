//! A copy of another engine's images, layers and containers, loaded into a
//! scratch in-memory engine, so that the in-memory engine's port of moby's
//! rules can answer "what would this do" for a backend whose engine cannot
//! say: `prune --dry-run` on a Docker Engine takes a snapshot, prunes it,
//! and reports exactly what the engine's own prune would do now.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::{
    LayerRecord, State, StoredContainer, StoredImage, container_ref, normalize_tagged,
};
use super::{Clock, MemoryImageService};
use crate::archive::{ConfigSection, ImageConfigFile, RootFsSection, chain_ids};
use crate::error::{ImageError, Result};
use crate::model::{ContainerRef, Digest};
use crate::reference::Reference;

/// Everything about an engine's images that its prune rules look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSnapshot {
    /// Every image, intermediate ones included.
    pub images: Vec<SnapshotImage>,
    /// Every container, running or not.
    pub containers: Vec<ContainerRef>,
}

/// One image of an [`EngineSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotImage {
    /// The image ID, `sha256:<hex>`.
    pub id: Digest,
    /// The parent image's ID (classic builder chains).
    pub parent: Option<Digest>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its tags, familiar (`alpine:3.20`) or normalized.
    pub repo_tags: Vec<String>,
    /// Its repository digests (`repo@sha256:...`).
    pub repo_digests: Vec<String>,
    /// Its layers, base first.
    pub layers: Vec<SnapshotLayer>,
}

/// One layer of a [`SnapshotImage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotLayer {
    /// The layer's diff ID.
    pub diff_id: Digest,
    /// The size of its content, as the engine's layer store counts it.
    pub size: u64,
}

impl MemoryImageService {
    /// A scratch engine holding `snapshot`, on `clock`.
    ///
    /// A parent or a container's image that the snapshot lacks is left
    /// out (an engine keeps containers whose image was force-removed).
    /// Fails with [`ImageError::InvalidReference`] when a tag or digest
    /// does not parse.
    pub fn from_snapshot(
        snapshot: &EngineSnapshot,
        clock: Arc<dyn Clock>,
    ) -> Result<MemoryImageService> {
        let service = MemoryImageService::with_clock(clock);
        {
            let mut state = service.write();
            for image in &snapshot.images {
                let diff_ids: Vec<String> =
                    image.layers.iter().map(|l| l.diff_id.clone()).collect();
                let sizes: Vec<u64> = image.layers.iter().map(|l| l.size).collect();
                add_sized_layers(&mut state.layers, &diff_ids, &sizes);
                let config = ImageConfigFile {
                    created: image.created,
                    config: ConfigSection {
                        labels: image.labels.clone(),
                        ..ConfigSection::default()
                    },
                    rootfs: RootFsSection {
                        kind: "layers".to_string(),
                        diff_ids: diff_ids.clone(),
                    },
                    ..ImageConfigFile::default()
                };
                let config_bytes = Arc::new(config.to_json()?);
                state.images.insert(
                    image.id.clone(),
                    StoredImage {
                        id: image.id.clone(),
                        config_bytes,
                        config,
                        diff_ids,
                        parent: image.parent.clone().filter(|p| !p.is_empty()),
                    },
                );
            }
            // An engine can hold what a snapshot cannot resolve: a parent
            // that is gone, a container whose image was force-removed.
            // Neither protects anything, so both are left out.
            let known: std::collections::HashSet<String> = state.images.keys().cloned().collect();
            for image in state.images.values_mut() {
                if image.parent.as_ref().is_some_and(|p| !known.contains(p)) {
                    image.parent = None;
                }
            }
            for image in &snapshot.images {
                for tag in &image.repo_tags {
                    let reference = normalize_tagged(tag)?;
                    state.set_reference(&reference, &image.id);
                }
                for digest in &image.repo_digests {
                    let reference = Reference::parse_normalized(digest)
                        .map_err(|e| ImageError::invalid_reference(digest, e))?;
                    state.set_reference(&reference, &image.id);
                }
            }
            for container in &snapshot.containers {
                if !known.contains(&container.image_id) {
                    continue;
                }
                state.containers.insert(
                    container.id.clone(),
                    StoredContainer {
                        id: container.id.clone(),
                        name: container.name.clone(),
                        image_id: container.image_id.clone(),
                        state: container.state,
                    },
                );
            }
        }
        Ok(service)
    }
}

/// The snapshot of an in-memory engine's state.
pub(super) fn of_state(state: &State) -> EngineSnapshot {
    let images = state
        .images
        .values()
        .map(|image| {
            let chains = chain_ids(&image.diff_ids);
            SnapshotImage {
                id: image.id.clone(),
                parent: image.parent.clone(),
                created: image.created(),
                labels: image.config.config.labels.clone(),
                repo_tags: state.repo_tags(&image.id),
                repo_digests: state.repo_digests(&image.id),
                layers: image
                    .diff_ids
                    .iter()
                    .zip(&chains)
                    .map(|(diff_id, chain)| SnapshotLayer {
                        diff_id: diff_id.clone(),
                        size: state.layers.get(chain).map_or(0, |layer| layer.size),
                    })
                    .collect(),
            }
        })
        .collect();
    EngineSnapshot {
        images,
        containers: state.containers.values().map(container_ref).collect(),
    }
}

/// Adds a layer stack with known sizes, taking one reference on its top
/// layer, as the layer store does for each image.
fn add_sized_layers(
    layers: &mut std::collections::HashMap<String, LayerRecord>,
    diff_ids: &[String],
    sizes: &[u64],
) {
    let chains = chain_ids(diff_ids);
    for (index, chain) in chains.iter().enumerate() {
        if layers.contains_key(chain) {
            continue;
        }
        let parent = index.checked_sub(1).and_then(|i| chains.get(i)).cloned();
        if let Some(record) = parent.as_ref().and_then(|p| layers.get_mut(p)) {
            record.refs += 1;
        }
        layers.insert(
            chain.clone(),
            LayerRecord {
                diff_id: diff_ids[index].clone(),
                parent,
                size: sizes.get(index).copied().unwrap_or(0),
                refs: 0,
            },
        );
    }
    if let Some(record) = chains.last().and_then(|top| layers.get_mut(top)) {
        record.refs += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::filter::PruneFilters;
    use crate::model::{ContainerState, PruneOptions, RemoveAction};
    use crate::service::ImageService;
    use crate::{ImageServiceExt as _, SystemClock};

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn layer(n: u8, size: u64) -> SnapshotLayer {
        SnapshotLayer {
            diff_id: digest(n),
            size,
        }
    }

    fn snapshot() -> EngineSnapshot {
        EngineSnapshot {
            images: vec![
                SnapshotImage {
                    id: digest(1),
                    repo_tags: vec!["base:1".into()],
                    layers: vec![layer(10, 1000)],
                    ..SnapshotImage::default()
                },
                SnapshotImage {
                    id: digest(2),
                    repo_tags: vec!["app:1".into()],
                    repo_digests: vec![format!("app@{}", digest(9))],
                    layers: vec![layer(10, 1000), layer(11, 200)],
                    ..SnapshotImage::default()
                },
                SnapshotImage {
                    id: digest(3),
                    layers: vec![layer(10, 1000), layer(12, 30)],
                    ..SnapshotImage::default()
                },
                SnapshotImage {
                    id: digest(4),
                    repo_tags: vec!["used:1".into()],
                    layers: vec![layer(13, 5)],
                    ..SnapshotImage::default()
                },
            ],
            containers: vec![ContainerRef {
                id: "c".repeat(64),
                name: "user".into(),
                image_id: digest(4),
                state: ContainerState::Exited,
            }],
        }
    }

    #[tokio::test]
    async fn a_snapshot_prunes_as_the_engine_would() {
        let service =
            MemoryImageService::from_snapshot(&snapshot(), Arc::new(SystemClock)).unwrap();
        assert!(service.exists("app:1").await.unwrap());
        let dangling = service.prune(&PruneOptions::default()).await.unwrap();
        // The dangling image and its own layer; the shared base stays.
        assert!(dangling.actions.contains(&RemoveAction::Deleted(digest(3))));
        assert_eq!(dangling.space_reclaimed, 30);
        let all = service
            .prune(&PruneOptions {
                all: true,
                filters: PruneFilters::default(),
                dry_run: false,
            })
            .await
            .unwrap();
        assert!(
            all.actions
                .contains(&RemoveAction::Untagged(format!("app@{}", digest(9))))
        );
        // base and app go with their layers; used:1 stays.
        assert_eq!(all.space_reclaimed, 1200);
        assert!(service.exists("used:1").await.unwrap());
    }

    #[tokio::test]
    async fn an_engine_snapshot_round_trips() {
        let demo = MemoryImageService::demo().unwrap();
        let snapshot = demo.snapshot().await.unwrap();
        assert!(snapshot.images.iter().any(|i| !i.layers.is_empty()));
        assert!(!snapshot.containers.is_empty());
        let copy = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock)).unwrap();
        assert_eq!(copy.snapshot().await.unwrap(), snapshot);
        let options = PruneOptions {
            all: true,
            dry_run: true,
            ..PruneOptions::default()
        };
        assert_eq!(
            copy.prune(&options).await.unwrap(),
            demo.prune(&options).await.unwrap()
        );
    }

    #[tokio::test]
    async fn loose_ends_are_left_out() {
        let mut loose = snapshot();
        loose.images[2].parent = Some(digest(7));
        loose.containers[0].image_id = digest(8);
        let service = MemoryImageService::from_snapshot(&loose, Arc::new(SystemClock)).unwrap();
        // The container no longer protects used:1.
        let all = service
            .prune(&PruneOptions {
                all: true,
                ..PruneOptions::default()
            })
            .await
            .unwrap();
        assert!(all.actions.contains(&RemoveAction::Deleted(digest(4))));
        let mut bad = snapshot();
        bad.images[0].repo_tags = vec!["Bad:Tag".into()];
        assert!(MemoryImageService::from_snapshot(&bad, Arc::new(SystemClock)).is_err());
    }
}
