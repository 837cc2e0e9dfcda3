//! The in-memory engine's state and the rules that change it: the image
//! store, the layer store (layers shared by chain ID, with reference counts,
//! as docker's layer store keeps them), the reference store (tags and
//! digests) and containers. Everything here is synchronous and runs under the
//! service's lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::archive::{ArchiveImage, ImageConfigFile};
pub(crate) use crate::archive::{chain_ids, sha256_digest};
use crate::error::{ConflictReason, ImageError, Result};
use crate::model::{
    ContainerRef, ContainerState, HistoryEntry, ImageConfig, ImageDetails, ImageSummary,
    RemoveAction, RootFs, short_id,
};
use crate::reference::{self, AnyReference, Reference};

/// The size docker reports for a layer: the bytes of the files it holds
/// (regular files, and symlinks by the length of their target), not the
/// size of the tar.
pub(crate) fn layer_content_size(tar_bytes: &[u8]) -> u64 {
    let mut archive = tar::Archive::new(tar_bytes);
    let Ok(entries) = archive.entries() else {
        return 0;
    };
    let mut total = 0u64;
    for entry in entries.flatten() {
        let header = entry.header();
        let kind = header.entry_type();
        if kind.is_file() {
            total += header.size().unwrap_or(0);
        } else if kind.is_symlink() {
            total += entry
                .link_name_bytes()
                .map_or(0, |target| target.len() as u64);
        }
    }
    total
}

/// One layer of the layer store.
#[derive(Debug, Clone)]
pub(crate) struct LayerRecord {
    pub diff_id: String,
    pub parent: Option<String>,
    pub size: u64,
    /// Images whose top layer this is, plus child layers.
    pub refs: usize,
}

/// One image of the image store.
#[derive(Debug, Clone)]
pub(crate) struct StoredImage {
    pub id: String,
    pub config_bytes: Arc<Vec<u8>>,
    pub config: ImageConfigFile,
    pub diff_ids: Vec<String>,
    pub parent: Option<String>,
}

impl StoredImage {
    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.config.created
    }
}

/// A container, as the in-memory engine knows it.
#[derive(Debug, Clone)]
pub(crate) struct StoredContainer {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub state: ContainerState,
}

/// The state of one in-memory engine. `Clone` gives an independent copy
/// (layer contents are shared, they never change), which a dry-run prune
/// works on.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub images: BTreeMap<String, StoredImage>,
    pub layers: HashMap<String, LayerRecord>,
    /// Layer content by diff ID.
    pub blobs: HashMap<String, Arc<Vec<u8>>>,
    /// Normalized reference (`docker.io/library/alpine:latest` or
    /// `...@sha256:...`) to image ID.
    pub refs: BTreeMap<String, String>,
    pub containers: BTreeMap<String, StoredContainer>,
    pub container_counter: u64,
}

/// How a name given by a caller resolved.
pub(crate) struct Resolved {
    pub id: String,
    /// Whether the caller named the image by ID or ID prefix.
    pub by_id: bool,
}

/// The message docker gives for a missing image: `No such image: NAME`, with
/// `:latest` added to a name without tag or digest.
pub(crate) fn not_found(name: &str) -> ImageError {
    let shown = match reference::parse_any(name) {
        Ok(AnyReference::Named(named)) => match Reference::parse_docker(&named.to_string()) {
            Ok(tagged) => tagged.familiar(),
            Err(_) => named.familiar(),
        },
        Ok(AnyReference::Digest(digest)) => digest,
        Err(_) => name.to_string(),
    };
    ImageError::not_found(shown)
}

fn invalid(name: &str, error: reference::ReferenceError) -> ImageError {
    ImageError::invalid_reference(name, error)
}

/// The normalized reference string with `:latest` added when there is no
/// tag or digest (docker's `TagNameOnly`).
pub(crate) fn normalize_tagged(name: &str) -> Result<Reference> {
    Reference::parse_docker(name).map_err(|e| invalid(name, e))
}

impl State {
    /// Resolves a caller's name to an image, the way docker's `GetImage`
    /// does: a reference, a full ID or digest, or a unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        let parsed = reference::parse_any(name).map_err(|e| invalid(name, e))?;
        match parsed {
            AnyReference::Digest(digest) => {
                if self.images.contains_key(&digest) {
                    return Ok(Resolved {
                        id: digest,
                        by_id: true,
                    });
                }
                Err(not_found(name))
            }
            AnyReference::Named(named) => {
                let key = Reference::parse_docker(&named.to_string())
                    .map_err(|e| invalid(name, e))?
                    .to_string();
                if let Some(id) = self.refs.get(&key) {
                    if self.images.contains_key(id) {
                        return Ok(Resolved {
                            id: id.clone(),
                            by_id: is_id_prefix(id, name),
                        });
                    }
                }
                if let Some(id) = self.search_id(name) {
                    return Ok(Resolved { id, by_id: true });
                }
                Err(not_found(name))
            }
        }
    }

    /// A unique image whose ID starts with `prefix` (with or without `sha256:`).
    fn search_id(&self, prefix: &str) -> Option<String> {
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut found = self.images.keys().filter(|id| {
            id.strip_prefix("sha256:")
                .is_some_and(|h| h.starts_with(hex))
        });
        let first = found.next()?;
        match found.next() {
            Some(_) => None,
            None => Some(first.clone()),
        }
    }

    /// References to an image, as parsed references, sorted like docker's
    /// reference store.
    pub fn references_of(&self, id: &str) -> Vec<Reference> {
        self.refs
            .iter()
            .filter(|(_, target)| target.as_str() == id)
            .filter_map(|(key, _)| Reference::parse_normalized(key).ok())
            .collect()
    }

    /// Familiar `repo:tag` strings of an image's tags.
    pub fn repo_tags(&self, id: &str) -> Vec<String> {
        self.references_of(id)
            .iter()
            .filter(|r| r.tag().is_some())
            .map(Reference::familiar)
            .collect()
    }

    /// Familiar `repo@digest` strings of an image's digest references.
    pub fn repo_digests(&self, id: &str) -> Vec<String> {
        self.references_of(id)
            .iter()
            .filter(|r| r.digest().is_some())
            .map(Reference::familiar)
            .collect()
    }

    /// IDs of images whose parent is `id`.
    pub fn children(&self, id: &str) -> Vec<String> {
        self.images
            .values()
            .filter(|image| image.parent.as_deref() == Some(id))
            .map(|image| image.id.clone())
            .collect()
    }

    /// The size of an image: the sum of its layers' sizes.
    pub fn image_size(&self, image: &StoredImage) -> u64 {
        chain_ids(&image.diff_ids)
            .iter()
            .filter_map(|chain| self.layers.get(chain))
            .map(|layer| layer.size)
            .sum()
    }

    /// How many images use each layer chain.
    pub fn chain_users(&self) -> HashMap<String, usize> {
        let mut users: HashMap<String, usize> = HashMap::new();
        for image in self.images.values() {
            for chain in chain_ids(&image.diff_ids) {
                *users.entry(chain).or_default() += 1;
            }
        }
        users
    }

    /// Bytes of an image's layers that other images use too.
    pub fn shared_size(&self, image: &StoredImage, users: &HashMap<String, usize>) -> u64 {
        chain_ids(&image.diff_ids)
            .iter()
            .filter(|chain| users.get(*chain).copied().unwrap_or(0) > 1)
            .filter_map(|chain| self.layers.get(chain))
            .map(|layer| layer.size)
            .sum()
    }

    /// Containers created from an image.
    pub fn containers_of(&self, id: &str) -> Vec<&StoredContainer> {
        self.containers
            .values()
            .filter(|c| c.image_id == id)
            .collect()
    }

    /// The summary `list` shows for an image.
    pub fn summary(&self, image: &StoredImage, users: &HashMap<String, usize>) -> ImageSummary {
        ImageSummary {
            id: image.id.clone(),
            repo_tags: self.repo_tags(&image.id),
            repo_digests: self.repo_digests(&image.id),
            parent_id: image.parent.clone(),
            created: image.created(),
            size: self.image_size(image),
            shared_size: Some(self.shared_size(image, users)),
            labels: image.config.config.labels.clone(),
            containers: self.containers_of(&image.id).len() as u64,
        }
    }

    /// The details `inspect` shows for an image.
    pub fn details(&self, image: &StoredImage) -> ImageDetails {
        let config = &image.config;
        let section = &config.config;
        ImageDetails {
            id: image.id.clone(),
            repo_tags: self.repo_tags(&image.id),
            repo_digests: self.repo_digests(&image.id),
            parent: image.parent.clone().unwrap_or_default(),
            comment: config.comment.clone(),
            created: config.created,
            author: config.author.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone().filter(|v| !v.is_empty()),
            os: config.os.clone(),
            size: self.image_size(image),
            config: ImageConfig::from(section),
            root_fs: RootFs {
                kind: "layers".to_string(),
                layers: image.diff_ids.clone(),
            },
        }
    }

    /// The history `docker history` shows: one entry per config history
    /// item, newest first, with image IDs filled in along the parent chain.
    pub fn history(&self, image: &StoredImage) -> Result<Vec<HistoryEntry>> {
        let chains = chain_ids(&image.diff_ids);
        let mut layer_index = 0usize;
        let mut entries = Vec::with_capacity(image.config.history.len());
        for item in &image.config.history {
            let mut size = 0;
            if !item.empty_layer {
                let chain = chains.get(layer_index).ok_or_else(|| {
                    ImageError::backend(
                        format!("image {} is corrupt", short_id(&image.id)),
                        "too many non-empty layers in History section",
                    )
                })?;
                size = self.layers.get(chain).map_or(0, |layer| layer.size);
                layer_index += 1;
            }
            entries.push(HistoryEntry {
                id: "<missing>".to_string(),
                created: item.created,
                created_by: item.created_by.clone(),
                tags: Vec::new(),
                size,
                comment: item.comment.clone(),
            });
        }
        entries.reverse();
        let mut current = Some(image.id.clone());
        for entry in &mut entries {
            let Some(id) = current.take() else { break };
            entry.tags = self.repo_tags(&id);
            entry.id = id.clone();
            current = self.images.get(&id).and_then(|img| img.parent.clone());
        }
        Ok(entries)
    }

    /// Adds a layer stack, taking one reference on the top layer; returns
    /// nothing, the chain IDs follow from the diff IDs.
    pub fn add_layers(&mut self, diff_ids: &[String], contents: &[Arc<Vec<u8>>]) {
        for (diff_id, content) in diff_ids.iter().zip(contents) {
            self.blobs
                .entry(diff_id.clone())
                .or_insert_with(|| content.clone());
        }
        let chains = chain_ids(diff_ids);
        for (index, chain) in chains.iter().enumerate() {
            if self.layers.contains_key(chain) {
                continue;
            }
            let parent = index.checked_sub(1).and_then(|i| chains.get(i)).cloned();
            if let Some(parent) = &parent {
                if let Some(record) = self.layers.get_mut(parent) {
                    record.refs += 1;
                }
            }
            let size = self
                .blobs
                .get(&diff_ids[index])
                .map_or(0, |blob| layer_content_size(blob));
            self.layers.insert(
                chain.clone(),
                LayerRecord {
                    diff_id: diff_ids[index].clone(),
                    parent,
                    size,
                    refs: 0,
                },
            );
        }
        if let Some(top) = chains.last() {
            if let Some(record) = self.layers.get_mut(top) {
                record.refs += 1;
            }
        }
    }

    /// Releases one reference on the top layer of a stack; returns the
    /// chains that were removed, top first, as docker's layer store does.
    fn release_layers(&mut self, diff_ids: &[String]) -> Vec<(String, u64)> {
        let mut removed = Vec::new();
        let mut next = chain_ids(diff_ids).pop();
        while let Some(chain) = next.take() {
            let Some(record) = self.layers.get_mut(&chain) else {
                break;
            };
            record.refs = record.refs.saturating_sub(1);
            if record.refs > 0 {
                break;
            }
            let Some(record) = self.layers.remove(&chain) else {
                break;
            };
            removed.push((chain, record.size));
            if !self.layers.values().any(|l| l.diff_id == record.diff_id) {
                self.blobs.remove(&record.diff_id);
            }
            next = record.parent;
        }
        removed
    }

    /// Stores an image from its config and layers; returns its ID. An image
    /// that is already stored is left as it is.
    pub fn insert_image(
        &mut self,
        archive: &ArchiveImage,
        parent: Option<String>,
    ) -> Result<String> {
        let id = archive.id();
        if self.images.contains_key(&id) {
            return Ok(id);
        }
        let config = archive.parsed_config()?;
        let diff_ids = archive.diff_ids();
        let contents: Vec<Arc<Vec<u8>>> = archive
            .layers
            .iter()
            .map(|layer| Arc::new(layer.clone()))
            .collect();
        self.add_layers(&diff_ids, &contents);
        self.images.insert(
            id.clone(),
            StoredImage {
                id: id.clone(),
                config_bytes: Arc::new(archive.config.clone()),
                config,
                diff_ids,
                parent,
            },
        );
        Ok(id)
    }

    /// Rebuilds the archive form of a stored image.
    pub fn archive_image(&self, id: &str, repo_tags: Vec<String>) -> Result<ArchiveImage> {
        let image = self.images.get(id).ok_or_else(|| not_found(id))?;
        let mut layers = Vec::with_capacity(image.diff_ids.len());
        for diff_id in &image.diff_ids {
            let blob = self.blobs.get(diff_id).ok_or_else(|| {
                ImageError::backend(
                    format!("image {} is missing a layer", short_id(id)),
                    format!("no content for layer {diff_id}"),
                )
            })?;
            layers.push(blob.as_ref().clone());
        }
        Ok(ArchiveImage {
            config: image.config_bytes.as_ref().clone(),
            repo_tags,
            layers,
        })
    }

    /// Points a reference at an image, moving it if it pointed elsewhere.
    pub fn set_reference(&mut self, reference: &Reference, id: &str) {
        self.refs.insert(reference.to_string(), id.to_string());
    }

    /// Whether an image has no references and no children.
    fn is_dangling(&self, id: &str) -> bool {
        self.references_of(id).is_empty() && self.children(id).is_empty()
    }

    fn conflict(&self, id: &str, mask: ConflictMask) -> Option<(ImageError, bool /* used */)> {
        let make = |hard: bool, reason: ConflictReason, message: String| {
            let force = if hard {
                "cannot be forced"
            } else {
                "must be forced"
            };
            ImageError::Conflict {
                reference: id.to_string(),
                reason,
                message: format!(
                    "conflict: unable to delete {} ({force}) - {message}",
                    short_id(id)
                ),
            }
        };
        if mask.dependent_child && !self.children(id).is_empty() {
            return Some((
                make(
                    true,
                    ConflictReason::Other,
                    "image has dependent child images".to_string(),
                ),
                false,
            ));
        }
        if mask.running_container {
            if let Some(c) = self
                .containers_of(id)
                .into_iter()
                .find(|c| c.state.is_running())
            {
                return Some((
                    make(
                        true,
                        ConflictReason::InUse {
                            containers: vec![c.id.clone()],
                        },
                        format!(
                            "image is being used by running container {}",
                            short_id(&c.id)
                        ),
                    ),
                    true,
                ));
            }
        }
        if mask.active_reference && !self.references_of(id).is_empty() {
            return Some((
                make(
                    false,
                    ConflictReason::MultipleReferences,
                    "image is referenced in multiple repositories".to_string(),
                ),
                false,
            ));
        }
        if mask.stopped_container {
            if let Some(c) = self
                .containers_of(id)
                .into_iter()
                .find(|c| !c.state.is_running())
            {
                return Some((
                    make(
                        false,
                        ConflictReason::InUse {
                            containers: vec![c.id.clone()],
                        },
                        format!(
                            "image is being used by stopped container {}",
                            short_id(&c.id)
                        ),
                    ),
                    true,
                ));
            }
        }
        None
    }

    /// Removes an image or one of its references, following docker's
    /// `ImageDelete` rules exactly (see moby's daemon/images/image_delete.go).
    /// Returns the untags and deletes in order, and the bytes freed.
    pub fn delete(
        &mut self,
        name: &str,
        force: bool,
        prune: bool,
    ) -> Result<(Vec<RemoveAction>, u64)> {
        let resolved = self.resolve(name)?;
        let id = resolved.id;
        let mut records = Vec::new();
        let mut freed = 0u64;
        let repo_refs = self.references_of(&id);
        let mut removed_repository_ref = false;

        if !resolved.by_id {
            if !force && is_single_reference(&repo_refs) {
                if let Some(c) = self.containers_of(&id).first() {
                    return Err(ImageError::Conflict {
                        reference: name.to_string(),
                        reason: ConflictReason::InUse {
                            containers: vec![c.id.clone()],
                        },
                        message: format!(
                            "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                            short_id(&c.id),
                            short_id(&id)
                        ),
                    });
                }
            }
            let parsed = normalize_tagged(name)?;
            self.refs.remove(&parsed.to_string());
            records.push(RemoveAction::Untagged(parsed.familiar()));

            let mut remaining = self.references_of(&id);
            if parsed.digest().is_none() {
                let same_repo_tag = remaining
                    .iter()
                    .any(|r| r.digest().is_none() && r.name() == parsed.name());
                if !same_repo_tag {
                    let mut kept = Vec::new();
                    for r in remaining {
                        if r.digest().is_some() && r.name() == parsed.name() {
                            self.refs.remove(&r.to_string());
                            records.push(RemoveAction::Untagged(r.familiar()));
                        } else {
                            kept.push(r);
                        }
                    }
                    remaining = kept;
                }
            }
            if !remaining.is_empty() {
                return Ok((records, 0));
            }
            removed_repository_ref = true;
        } else if is_single_reference(&repo_refs) {
            let mut mask = ConflictMask::HARD;
            if !force {
                mask = mask.with_soft_except_reference();
            }
            if let Some((conflict, _)) = self.conflict(&id, mask) {
                return Err(conflict);
            }
            for r in repo_refs {
                self.refs.remove(&r.to_string());
                records.push(RemoveAction::Untagged(r.familiar()));
            }
        }

        self.delete_helper(
            &id,
            &mut records,
            &mut freed,
            force,
            prune,
            removed_repository_ref,
        )?;
        Ok((records, freed))
    }

    fn delete_helper(
        &mut self,
        id: &str,
        records: &mut Vec<RemoveAction>,
        freed: &mut u64,
        force: bool,
        prune: bool,
        quiet: bool,
    ) -> Result<()> {
        let mask = if force {
            ConflictMask::HARD
        } else {
            ConflictMask::ALL
        };
        if let Some((conflict, used)) = self.conflict(id, mask) {
            if quiet && (!self.is_dangling(id) || used) {
                return Ok(());
            }
            return Err(conflict);
        }
        let parent = self.images.get(id).and_then(|image| image.parent.clone());
        for r in self.references_of(id) {
            self.refs.remove(&r.to_string());
            records.push(RemoveAction::Untagged(r.familiar()));
        }
        let Some(image) = self.images.remove(id) else {
            return Err(not_found(id));
        };
        records.push(RemoveAction::Deleted(id.to_string()));
        for (chain, size) in self.release_layers(&image.diff_ids) {
            *freed += size;
            records.push(RemoveAction::Deleted(chain));
        }
        match parent {
            Some(parent) if prune && self.images.contains_key(&parent) => {
                self.delete_helper(&parent, records, freed, false, true, true)
            }
            _ => Ok(()),
        }
    }

    /// Adds a container that uses `image_id`.
    pub fn add_container(
        &mut self,
        name: &str,
        image_id: &str,
        state: ContainerState,
    ) -> Result<ContainerRef> {
        if self.containers.values().any(|c| c.name == name) {
            return Err(ImageError::Conflict {
                reference: name.to_string(),
                reason: ConflictReason::AlreadyExists,
                message: format!(
                    "Conflict. The container name \"/{name}\" is already in use by another container"
                ),
            });
        }
        self.container_counter += 1;
        let id = sha256_digest(format!("container {} {name}", self.container_counter).as_bytes());
        let id = id.trim_start_matches("sha256:").to_string();
        let stored = StoredContainer {
            id: id.clone(),
            name: name.to_string(),
            image_id: image_id.to_string(),
            state,
        };
        self.containers.insert(id, stored.clone());
        Ok(container_ref(&stored))
    }
}

/// The public view of a stored container.
pub(crate) fn container_ref(c: &StoredContainer) -> ContainerRef {
    ContainerRef {
        id: c.id.clone(),
        name: c.name.clone(),
        image_id: c.image_id.clone(),
        state: c.state,
    }
}

/// Whether `possible_prefix` is a prefix of the ID, with or without the
/// algorithm (docker's `isImageIDPrefix`).
fn is_id_prefix(id: &str, possible_prefix: &str) -> bool {
    if id.starts_with(possible_prefix) {
        return true;
    }
    id.split_once(':')
        .is_some_and(|(_, hex)| hex.starts_with(possible_prefix))
}

/// docker's `isSingleReference`: all references are in one repository and
/// there is at most one tag. False for no references.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical_names = BTreeSet::new();
    for r in refs {
        if r.digest().is_some() {
            canonical_names.insert(r.name());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.or(refs.first());
    single.is_some_and(|s| canonical_names.len() == 1 && canonical_names.contains(&s.name()))
}

/// Which conflicts to look for (docker's `conflictType` mask).
#[derive(Debug, Clone, Copy)]
struct ConflictMask {
    dependent_child: bool,
    running_container: bool,
    active_reference: bool,
    stopped_container: bool,
}

impl ConflictMask {
    const HARD: ConflictMask = ConflictMask {
        dependent_child: true,
        running_container: true,
        active_reference: false,
        stopped_container: false,
    };
    const ALL: ConflictMask = ConflictMask {
        dependent_child: true,
        running_container: true,
        active_reference: true,
        stopped_container: true,
    };

    fn with_soft_except_reference(self) -> ConflictMask {
        ConflictMask {
            stopped_container: true,
            ..self
        }
    }
}
