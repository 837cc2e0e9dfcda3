//! [`MemoryImageService`]: a faithful in-memory image engine.
//!
//! It is the default backend for tests, examples and demos, and it follows
//! docker's rules rather than approximating them: images are content
//! addressed (the ID is the sha256 of the config), layers are shared between
//! images by chain ID and reference counted, tags and repository digests live
//! in a reference store, parent/child images come from builds, containers
//! pin the images they use, and remove and prune apply moby's
//! `ImageDelete`/`ImagesPrune` rules step by step. A built-in registry makes
//! pull and push work offline with real per-layer progress, `save` and `load`
//! speak real docker-save tarballs, and an injectable [`Clock`] keeps tests
//! deterministic. Every change is announced on a change feed
//! ([`ImageService::changes`]), in docker's words. Clones share state.

mod build;
mod demo;
mod registry;
mod snapshot;
mod state;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};

use self::registry::{Manifest, Registry};
pub use self::snapshot::{EngineSnapshot, SnapshotImage, SnapshotLayer};
use self::state::{State, container_ref, normalize_tagged, not_found};
use crate::archive::{self, ArchiveImage};
use crate::change::{ChangeEvent, ChangeStream};
use crate::error::{ImageError, Result};
use crate::filter;
use crate::model::{
    BuildOptions, Completion, ContainerRef, ContainerState, DiskUsage, HistoryEntry, ImageDetails,
    ImageSummary, ImageUsage, LayerProgress, ListOptions, LoadReport, Platform, ProgressEvent,
    PruneOptions, PruneReport, PullOptions, PushOptions, RegistryAuth, RemoveAction, RemoveOptions,
    SearchResult, short_id,
};
use crate::reference::{self, AnyReference, Reference};
use crate::service::{BuildContext, ByteStream, ImageService, ProgressStream};

/// The time source of a [`MemoryImageService`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An in-memory image engine; see the [module docs](self).
#[derive(Clone)]
pub struct MemoryImageService {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    registry: RwLock<Registry>,
    clock: Arc<dyn Clock>,
    /// The change feed; every subscriber holds a receiver.
    changes: tokio::sync::broadcast::Sender<ChangeEvent>,
}

impl fmt::Debug for MemoryImageService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("MemoryImageService")
            .field("images", &state.images.len())
            .field("references", &state.refs.len())
            .field("containers", &state.containers.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryImageService {
    fn default() -> Self {
        MemoryImageService::new()
    }
}

/// How many bytes one progress event of a simulated transfer covers at most.
const PROGRESS_CHUNK: u64 = 512 * 1024;
/// How many bytes one chunk of a saved archive holds.
const SAVE_CHUNK: usize = 64 * 1024;
/// How many changes a slow subscriber may fall behind before its feed
/// reports that it missed some.
const CHANGE_BUFFER: usize = 1024;

impl MemoryImageService {
    /// An empty engine on the system clock.
    pub fn new() -> MemoryImageService {
        MemoryImageService::with_clock(Arc::new(SystemClock))
    }

    /// An empty engine on the given clock.
    pub fn with_clock(clock: Arc<dyn Clock>) -> MemoryImageService {
        MemoryImageService {
            inner: Arc::new(Inner {
                state: RwLock::new(State::default()),
                registry: RwLock::new(Registry::default()),
                clock,
                changes: tokio::sync::broadcast::channel(CHANGE_BUFFER).0,
            }),
        }
    }

    /// An engine seeded with demo data: several repositories and tags over
    /// shared base layers, an intermediate image, a dangling image, images
    /// used by a running and a stopped container, and a registry to pull
    /// from. See [`seed_demo`](Self::seed_demo).
    pub fn demo() -> Result<MemoryImageService> {
        let service = MemoryImageService::new();
        service.seed_demo()?;
        Ok(service)
    }

    /// Adds the demo data to this engine.
    pub fn seed_demo(&self) -> Result<()> {
        demo::seed(self)
    }

    /// The engine's clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Announces changes to the feed's subscribers (none is fine). Called
    /// after the state changed, so a subscriber that reads the state after
    /// receiving an event sees the change.
    fn announce(&self, events: impl IntoIterator<Item = ChangeEvent>) {
        for event in events {
            // An error only means that nobody is subscribed.
            let _ = self.inner.changes.send(event);
        }
    }

    fn registry_read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn registry_write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores an image and tags it with its `repo_tags`, as `docker load`
    /// would; returns its ID.
    pub fn add_image(&self, image: &ArchiveImage) -> Result<String> {
        self.store_tagged(image, None)
    }

    /// Stores an image built on top of `parent` (an intermediate chain, as
    /// docker's classic builder leaves them); returns its ID.
    pub fn add_child_image(&self, image: &ArchiveImage, parent: &str) -> Result<String> {
        self.store_tagged(image, Some(parent))
    }

    fn store_tagged(&self, image: &ArchiveImage, parent: Option<&str>) -> Result<String> {
        let mut state = self.write();
        let parent_id = match parent {
            Some(parent) => Some(state.resolve(parent)?.id),
            None => None,
        };
        let id = state.insert_image(image, parent_id)?;
        let mut events = vec![ChangeEvent::image("load", &id)];
        for tag in &image.repo_tags {
            let reference = normalize_tagged(tag)?;
            state.set_reference(&reference, &id);
            events.push(ChangeEvent::image("tag", &id));
        }
        drop(state);
        self.announce(events);
        Ok(id)
    }

    /// Creates a container from `image` (what `docker create` or `docker run`
    /// would leave behind).
    pub fn add_container(
        &self,
        image: &str,
        name: &str,
        state: ContainerState,
    ) -> Result<ContainerRef> {
        let mut guard = self.write();
        let id = guard.resolve(image)?.id;
        let container = guard.add_container(name, &id, state)?;
        drop(guard);
        self.announce([ChangeEvent::container("create", &container.id)]);
        if state.is_running() {
            self.announce([ChangeEvent::container("start", &container.id)]);
        }
        Ok(container)
    }

    /// Changes a container's state; the container is named by ID, unique ID
    /// prefix or name.
    pub fn set_container_state(&self, container: &str, state: ContainerState) -> Result<()> {
        let mut guard = self.write();
        let id = find_container(&guard, container)?;
        if let Some(c) = guard.containers.get_mut(&id) {
            c.state = state;
        }
        drop(guard);
        let action = match state {
            ContainerState::Running => "start",
            ContainerState::Paused => "pause",
            ContainerState::Restarting => "restart",
            ContainerState::Exited | ContainerState::Dead => "die",
            _ => "update",
        };
        self.announce([ChangeEvent::container(action, id)]);
        Ok(())
    }

    /// Removes a container; the container is named by ID, unique ID prefix
    /// or name.
    pub fn remove_container(&self, container: &str) -> Result<()> {
        let mut guard = self.write();
        let id = find_container(&guard, container)?;
        guard.containers.remove(&id);
        drop(guard);
        self.announce([ChangeEvent::container("destroy", id)]);
        Ok(())
    }

    /// Puts an image straight into the built-in registry under `reference`
    /// (`host/repo:tag`), as if someone had pushed it; returns the manifest
    /// digest.
    pub fn registry_put(&self, reference: &str, image: &ArchiveImage) -> Result<String> {
        let target = normalize_tagged(reference)?;
        let tag = target.tag().unwrap_or("latest").to_string();
        let layers: Vec<Arc<Vec<u8>>> = image.layers.iter().cloned().map(Arc::new).collect();
        let mut registry = self.registry_write();
        registry.put_blob(Arc::new(image.config.clone()));
        for layer in &layers {
            registry.put_blob(layer.clone());
        }
        let manifest = Manifest::for_image(&image.config, &layers);
        let (_, digest) = manifest.encode()?;
        let repository = registry.repositories.entry(target.name()).or_default();
        repository.manifests.insert(digest.clone(), manifest);
        repository.tags.insert(tag, digest.clone());
        Ok(digest)
    }

    /// Makes the built-in registry require credentials for `host`.
    pub fn registry_require_auth(&self, host: &str, username: &str, password: &str) {
        self.registry_write().credentials.insert(
            host.to_string(),
            (username.to_string(), password.to_string()),
        );
    }

    /// The manifest digest the built-in registry holds for `reference`, if any.
    pub fn registry_digest(&self, reference: &str) -> Result<Option<String>> {
        let target = normalize_tagged(reference)?;
        let registry = self.registry_read();
        let Some(repository) = registry.repositories.get(&target.name()) else {
            return Ok(None);
        };
        Ok(match target.digest() {
            Some(digest) => repository
                .manifests
                .contains_key(digest)
                .then(|| digest.to_string()),
            None => repository
                .tags
                .get(target.tag().unwrap_or("latest"))
                .cloned(),
        })
    }

    fn plan_pull(&self, options: &PullOptions) -> Result<VecDeque<Step>> {
        let named = Reference::parse_normalized(&options.reference)
            .map_err(|e| ImageError::invalid_reference(&options.reference, e))?;
        if options.all_tags && (named.tag().is_some() || named.digest().is_some()) {
            return Err(ImageError::invalid_argument(
                "tag can't be used with --all-tags/-a",
            ));
        }
        let registry = self.registry_read();
        registry.authorize(named.domain(), options.auth.as_ref())?;
        let repository = registry.repositories.get(&named.name());
        let missing = || ImageError::NotFound {
            reference: format!(
                "{} (the registry has no such repository, tag or digest)",
                named.familiar()
            ),
        };
        let mut targets: Vec<(Reference, String)> = Vec::new();
        if let Some(digest) = named.digest() {
            let repository = repository.ok_or_else(missing)?;
            if !repository.manifests.contains_key(digest) {
                return Err(missing());
            }
            targets.push((named.clone(), digest.to_string()));
        } else if options.all_tags {
            let repository = repository.ok_or_else(missing)?;
            for (tag, digest) in &repository.tags {
                let tagged = named
                    .with_tag(tag)
                    .map_err(|e| ImageError::invalid_reference(tag, e))?;
                targets.push((tagged, digest.clone()));
            }
            if targets.is_empty() {
                return Err(missing());
            }
        } else {
            let tagged = Reference::parse_docker(&options.reference)
                .map_err(|e| ImageError::invalid_reference(&options.reference, e))?;
            let tag = tagged.tag().unwrap_or("latest");
            let digest = repository
                .and_then(|r| r.tags.get(tag))
                .ok_or_else(missing)?;
            targets.push((tagged.clone(), digest.clone()));
        }

        let state = self.read();
        let mut steps = VecDeque::new();
        let mut have: std::collections::HashSet<String> = state.blobs.keys().cloned().collect();
        let mut last = Completion::default();
        for (target, digest) in targets {
            let manifest = repository
                .and_then(|r| r.manifests.get(&digest))
                .ok_or_else(missing)?;
            let config = registry
                .blobs
                .get(&manifest.config.digest)
                .ok_or_else(|| registry_corrupt(&named, &manifest.config.digest))?;
            let mut layers = Vec::with_capacity(manifest.layers.len());
            for layer in &manifest.layers {
                let blob = registry
                    .blobs
                    .get(&layer.digest)
                    .ok_or_else(|| registry_corrupt(&named, &layer.digest))?;
                layers.push(blob.clone());
            }
            let image = ArchiveImage {
                config: config.as_ref().clone(),
                repo_tags: Vec::new(),
                layers: layers.iter().map(|l| l.as_ref().clone()).collect(),
            };
            let id = image.id();
            if let Some(platform) = &options.platform {
                let parsed = image.parsed_config()?;
                let actual = Platform {
                    os: parsed.os.clone(),
                    architecture: parsed.architecture.clone(),
                    variant: parsed.variant.clone().filter(|v| !v.is_empty()),
                };
                let matches = actual.os == platform.os
                    && actual.architecture == platform.architecture
                    && (platform.variant.is_none() || platform.variant == actual.variant);
                if !matches {
                    return Err(ImageError::NotFound {
                        reference: format!(
                            "{}: the image was found but does not match the specified platform: wanted {platform}, actual: {actual}",
                            target.familiar()
                        ),
                    });
                }
            }
            let label = target
                .tag()
                .or(target.digest())
                .unwrap_or("latest")
                .to_string();
            steps.push_back(Step::Emit(layer_event(
                &label,
                &format!("Pulling from {}", target.path()),
                None,
                None,
            )));
            for (descriptor, blob) in manifest.layers.iter().zip(&layers) {
                let layer_id = short_id(&descriptor.digest).to_string();
                if have.contains(&descriptor.digest) {
                    steps.push_back(Step::Emit(layer_event(
                        &layer_id,
                        "Already exists",
                        None,
                        None,
                    )));
                    continue;
                }
                have.insert(descriptor.digest.clone());
                let total = blob.len() as u64;
                steps.push_back(Step::Emit(layer_event(
                    &layer_id,
                    "Pulling fs layer",
                    None,
                    None,
                )));
                transfer_steps(&mut steps, &layer_id, "Downloading", total);
                steps.push_back(Step::Emit(layer_event(
                    &layer_id,
                    "Verifying Checksum",
                    None,
                    None,
                )));
                steps.push_back(Step::Emit(layer_event(
                    &layer_id,
                    "Download complete",
                    None,
                    None,
                )));
                transfer_steps(&mut steps, &layer_id, "Extracting", total);
                steps.push_back(Step::Emit(layer_event(
                    &layer_id,
                    "Pull complete",
                    None,
                    None,
                )));
            }
            steps.push_back(Step::Emit(ProgressEvent::Message {
                text: format!("Digest: {digest}"),
            }));
            let canonical = target
                .trim_named()
                .with_digest(&digest)
                .map_err(|e| ImageError::invalid_reference(&digest, e))?;
            let mut references = vec![canonical];
            if target.digest().is_none() {
                references.push(target.clone());
            }
            let up_to_date = state.images.contains_key(&id)
                && references
                    .iter()
                    .all(|r| state.refs.get(&r.to_string()) == Some(&id));
            steps.push_back(Step::Pull {
                image: Box::new(image),
                references,
            });
            let status = if up_to_date {
                "Image is up to date for"
            } else {
                "Downloaded newer image for"
            };
            steps.push_back(Step::Emit(ProgressEvent::Message {
                text: format!("Status: {status} {}", target.familiar()),
            }));
            last = Completion {
                reference: Some(target.to_string()),
                digest: Some(digest),
                image_id: Some(id),
            };
        }
        if options.all_tags {
            last.reference = Some(named.to_string());
        }
        steps.push_back(Step::Finish(last));
        Ok(steps)
    }

    fn plan_push(&self, options: &PushOptions) -> Result<VecDeque<Step>> {
        let named = Reference::parse_normalized(&options.reference)
            .map_err(|e| ImageError::invalid_reference(&options.reference, e))?;
        if named.digest().is_some() {
            return Err(ImageError::invalid_argument(format!(
                "cannot push a digest reference: {}",
                options.reference
            )));
        }
        if options.all_tags && named.tag().is_some() {
            return Err(ImageError::invalid_argument(
                "tag can't be used with --all-tags/-a",
            ));
        }
        let state = self.read();
        let targets: Vec<(Reference, String)> = if options.all_tags {
            let name = named.name();
            state
                .refs
                .iter()
                .filter_map(|(key, id)| {
                    let r = Reference::parse_normalized(key).ok()?;
                    (r.name() == name && r.tag().is_some()).then(|| (r, id.clone()))
                })
                .collect()
        } else {
            let tagged = normalize_tagged(&options.reference)?;
            match state.refs.get(&tagged.to_string()) {
                Some(id) => vec![(tagged, id.clone())],
                None => Vec::new(),
            }
        };
        if targets.is_empty() {
            return Err(ImageError::NotFound {
                reference: format!(
                    "{} (an image does not exist locally with the tag)",
                    named.familiar()
                ),
            });
        }
        let registry = self.registry_read();
        registry.authorize(named.domain(), options.auth.as_ref())?;
        let mut steps = VecDeque::new();
        steps.push_back(Step::Emit(ProgressEvent::Message {
            text: format!("The push refers to repository [{}]", named.name()),
        }));
        let mut pushed: std::collections::HashSet<String> =
            registry.blobs.keys().cloned().collect();
        let mut last = Completion::default();
        for (target, id) in targets {
            let image = state.archive_image(&id, Vec::new())?;
            if let Some(platform) = &options.platform {
                let parsed = image.parsed_config()?;
                if parsed.os != platform.os || parsed.architecture != platform.architecture {
                    return Err(ImageError::invalid_argument(format!(
                        "image {} is {}/{}, not {platform}",
                        target.familiar(),
                        parsed.os,
                        parsed.architecture
                    )));
                }
            }
            let layers: Vec<Arc<Vec<u8>>> = image.layers.iter().cloned().map(Arc::new).collect();
            let manifest = Manifest::for_image(&image.config, &layers);
            let (manifest_bytes, digest) = manifest.encode()?;
            let descriptors: Vec<_> = manifest.layers.iter().zip(&layers).rev().collect();
            for (descriptor, _) in &descriptors {
                steps.push_back(Step::Emit(layer_event(
                    short_id(&descriptor.digest),
                    "Preparing",
                    None,
                    None,
                )));
            }
            for (descriptor, blob) in &descriptors {
                let layer_id = short_id(&descriptor.digest).to_string();
                if pushed.contains(&descriptor.digest) {
                    steps.push_back(Step::Emit(layer_event(
                        &layer_id,
                        "Layer already exists",
                        None,
                        None,
                    )));
                    continue;
                }
                pushed.insert(descriptor.digest.clone());
                transfer_steps(&mut steps, &layer_id, "Pushing", blob.len() as u64);
                steps.push_back(Step::Emit(layer_event(&layer_id, "Pushed", None, None)));
            }
            let tag = target.tag().unwrap_or("latest").to_string();
            steps.push_back(Step::Push(Box::new(PushCommit {
                reference: target.clone(),
                image_id: id.clone(),
                config: Arc::new(image.config.clone()),
                layers,
                manifest,
                digest: digest.clone(),
            })));
            steps.push_back(Step::Emit(ProgressEvent::Message {
                text: format!("{tag}: digest: {digest} size: {}", manifest_bytes.len()),
            }));
            last = Completion {
                reference: Some(target.to_string()),
                digest: Some(digest),
                image_id: Some(id),
            };
        }
        if options.all_tags {
            last.reference = Some(named.to_string());
        }
        steps.push_back(Step::Finish(last));
        Ok(steps)
    }

    /// Carries out one commit step of a transfer.
    fn commit(&self, step: Step) -> Result<Option<ProgressEvent>> {
        match step {
            Step::Emit(event) => Ok(Some(event)),
            Step::Finish(completion) => Ok(Some(ProgressEvent::Done(completion))),
            Step::Pull { image, references } => {
                let mut state = self.write();
                let id = state.insert_image(&image, None)?;
                for reference in &references {
                    state.set_reference(reference, &id);
                }
                drop(state);
                self.announce([ChangeEvent::image("pull", id)]);
                Ok(None)
            }
            Step::Store { images, tags } => {
                let mut state = self.write();
                let mut last = None;
                let mut events = Vec::new();
                for (image, parent) in &images {
                    let parent = parent.clone().filter(|p| state.images.contains_key(p));
                    let id = state.insert_image(image, parent)?;
                    events.push(ChangeEvent::image("create", &id));
                    last = Some(id);
                }
                if let Some(id) = last {
                    for tag in &tags {
                        state.set_reference(tag, &id);
                        events.push(ChangeEvent::image("tag", &id));
                    }
                }
                drop(state);
                self.announce(events);
                Ok(None)
            }
            Step::Push(commit) => {
                let PushCommit {
                    reference,
                    image_id,
                    config,
                    layers,
                    manifest,
                    digest,
                } = *commit;
                {
                    let mut registry = self.registry_write();
                    registry.put_blob(config);
                    for layer in layers {
                        registry.put_blob(layer);
                    }
                    let repository = registry.repositories.entry(reference.name()).or_default();
                    repository.manifests.insert(digest.clone(), manifest);
                    repository.tags.insert(
                        reference.tag().unwrap_or("latest").to_string(),
                        digest.clone(),
                    );
                }
                let canonical = reference
                    .trim_named()
                    .with_digest(&digest)
                    .map_err(|e| ImageError::invalid_reference(&digest, e))?;
                let mut state = self.write();
                if state.images.contains_key(&image_id) {
                    state.set_reference(&canonical, &image_id);
                    drop(state);
                    self.announce([ChangeEvent::image("push", image_id)]);
                }
                Ok(None)
            }
        }
    }

    fn run_steps(&self, steps: VecDeque<Step>) -> ProgressStream {
        let service = self.clone();
        futures::stream::unfold(Some(steps), move |queue| {
            let service = service.clone();
            async move {
                let mut queue = queue?;
                loop {
                    let step = queue.pop_front()?;
                    tokio::task::yield_now().await;
                    match service.commit(step) {
                        Ok(Some(event)) => return Some((Ok(event), Some(queue))),
                        Ok(None) => continue,
                        Err(error) => return Some((Err(error), None)),
                    }
                }
            }
        })
        .boxed()
    }

    /// Which images `save` writes, with the tags each carries, following
    /// docker's rules: a name without tag saves every tag of the repository,
    /// a tag saves that tag, an ID saves the image untagged.
    fn select_for_save(&self, names: &[String]) -> Result<Vec<ArchiveImage>> {
        if names.is_empty() {
            return Err(ImageError::invalid_argument(
                "save needs at least one image name",
            ));
        }
        let state = self.read();
        let mut order: Vec<String> = Vec::new();
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        let mut add = |id: String, tag: Option<String>, order: &mut Vec<String>| {
            let entry = tags.entry(id.clone()).or_default();
            if !order.contains(&id) {
                order.push(id);
            }
            if let Some(tag) = tag {
                if !entry.contains(&tag) {
                    entry.push(tag);
                }
            }
        };
        for name in names {
            let parsed =
                reference::parse_any(name).map_err(|e| ImageError::invalid_reference(name, e))?;
            if let AnyReference::Named(named) = &parsed {
                if named.tag().is_none() && named.digest().is_none() {
                    let repo = named.name();
                    let mut found = false;
                    for (key, id) in &state.refs {
                        if let Ok(r) = Reference::parse_normalized(key) {
                            if r.name() == repo && r.tag().is_some() {
                                add(id.clone(), Some(r.familiar()), &mut order);
                                found = true;
                            }
                        }
                    }
                    if found {
                        continue;
                    }
                }
            }
            let resolved = state.resolve(name)?;
            let tag = match parsed {
                AnyReference::Named(named) if !resolved.by_id && named.digest().is_none() => {
                    Some(normalize_tagged(name)?.familiar())
                }
                _ => None,
            };
            add(resolved.id, tag, &mut order);
        }
        order
            .into_iter()
            .map(|id| {
                let image_tags = tags.remove(&id).unwrap_or_default();
                state.archive_image(&id, image_tags)
            })
            .collect()
    }
}

fn registry_corrupt(named: &Reference, digest: &str) -> ImageError {
    ImageError::Registry {
        registry: named.domain().to_string(),
        message: format!("blob {digest} of {} is missing", named.familiar()),
    }
}

fn find_container(state: &State, name: &str) -> Result<String> {
    if let Some(c) = state
        .containers
        .values()
        .find(|c| c.name == name || c.name == name.trim_start_matches('/'))
    {
        return Ok(c.id.clone());
    }
    let mut matches = state.containers.keys().filter(|id| id.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(id), None) if !name.is_empty() => Ok(id.clone()),
        _ => Err(ImageError::NotFound {
            reference: format!("container {name}"),
        }),
    }
}

/// What a push stores once its layers are "uploaded".
struct PushCommit {
    reference: Reference,
    image_id: String,
    config: Arc<Vec<u8>>,
    layers: Vec<Arc<Vec<u8>>>,
    manifest: Manifest,
    digest: String,
}

/// One step of a simulated transfer: an event to emit, a change to commit,
/// or the end.
enum Step {
    Emit(ProgressEvent),
    Pull {
        image: Box<ArchiveImage>,
        references: Vec<Reference>,
    },
    Push(Box<PushCommit>),
    /// Stores built images, parents first (each with its parent's ID, if
    /// any), then points `tags` at the last one.
    Store {
        images: Vec<(ArchiveImage, Option<String>)>,
        tags: Vec<Reference>,
    },
    Finish(Completion),
}

fn layer_event(id: &str, status: &str, current: Option<u64>, total: Option<u64>) -> ProgressEvent {
    ProgressEvent::Layer(LayerProgress {
        id: id.to_string(),
        status: status.to_string(),
        current,
        total,
    })
}

/// Progress events for moving `total` bytes, at least one, each covering at
/// most [`PROGRESS_CHUNK`] bytes, the last at `total`.
fn transfer_steps(steps: &mut VecDeque<Step>, id: &str, status: &str, total: u64) {
    let mut current = 0u64;
    loop {
        current = (current + PROGRESS_CHUNK).min(total);
        steps.push_back(Step::Emit(layer_event(
            id,
            status,
            Some(current),
            Some(total),
        )));
        if current >= total {
            break;
        }
    }
}

#[async_trait]
impl ImageService for MemoryImageService {
    async fn list(&self, options: &ListOptions) -> Result<Vec<ImageSummary>> {
        let now = self.now();
        let (all, top_level) = {
            let state = self.read();
            let users = state.chain_users();
            let all: Vec<ImageSummary> = state
                .images
                .values()
                .map(|image| state.summary(image, &users))
                .collect();
            // Without `all`, intermediate images (no references, but
            // children) are left out, as docker does.
            let top_level: std::collections::HashSet<String> = state
                .images
                .values()
                .filter(|image| {
                    !state.references_of(&image.id).is_empty()
                        || state.children(&image.id).is_empty()
                })
                .map(|image| image.id.clone())
                .collect();
            (all, top_level)
        };
        let mut listed = filter::apply(&options.filters, all, now)?;
        if !options.all {
            listed.retain(|image| top_level.contains(&image.id));
        }
        listed.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(listed)
    }

    async fn inspect(&self, image: &str) -> Result<ImageDetails> {
        let state = self.read();
        let id = state.resolve(image)?.id;
        let stored = state.images.get(&id).ok_or_else(|| not_found(image))?;
        Ok(state.details(stored))
    }

    async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
        let state = self.read();
        let id = state.resolve(image)?.id;
        let stored = state.images.get(&id).ok_or_else(|| not_found(image))?;
        state.history(stored)
    }

    async fn pull(&self, options: &PullOptions) -> Result<ProgressStream> {
        let steps = self.plan_pull(options)?;
        Ok(self.run_steps(steps))
    }

    async fn push(&self, options: &PushOptions) -> Result<ProgressStream> {
        let steps = self.plan_push(options)?;
        Ok(self.run_steps(steps))
    }

    async fn tag(&self, source: &str, target: &str) -> Result<()> {
        let mut state = self.write();
        let id = state.resolve(source)?.id;
        let parsed = Reference::parse_normalized(target)
            .map_err(|e| ImageError::invalid_reference(target, e))?;
        if parsed.digest().is_some() {
            return Err(ImageError::invalid_argument(
                "refusing to create a tag with a digest reference",
            ));
        }
        let tagged = normalize_tagged(target)?;
        state.set_reference(&tagged, &id);
        drop(state);
        self.announce([ChangeEvent::image("tag", id)]);
        Ok(())
    }

    async fn remove(&self, image: &str, options: &RemoveOptions) -> Result<Vec<RemoveAction>> {
        let mut state = self.write();
        let refs = state.refs.clone();
        let (actions, _) = state.delete(image, options.force, !options.no_prune)?;
        drop(state);
        self.announce(removal_events(&refs, &actions));
        Ok(actions)
    }

    async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let now = self.now();
        if options.dry_run {
            // The very same prune on a scratch copy, thrown away afterwards:
            // the report is exactly what a real prune would return now.
            let mut scratch = self.read().clone();
            return prune_state(&mut scratch, options, now);
        }
        let mut state = self.write();
        let refs = state.refs.clone();
        let report = prune_state(&mut state, options, now)?;
        drop(state);
        self.announce(removal_events(&refs, &report.actions));
        self.announce([ChangeEvent::image("prune", "")]);
        Ok(report)
    }

    async fn disk_usage(&self) -> Result<DiskUsage> {
        let state = self.read();
        let users = state.chain_users();
        let mut usage = DiskUsage {
            layers_size: state.layers.values().map(|l| l.size).sum(),
            ..DiskUsage::default()
        };
        let mut used = 0u64;
        for image in state.images.values() {
            let size = state.image_size(image);
            let shared = state.shared_size(image, &users);
            let containers = state.containers_of(&image.id).len() as u64;
            if containers > 0 {
                used += size - shared;
            }
            usage.images.push(ImageUsage {
                id: image.id.clone(),
                repo_tags: state.repo_tags(&image.id),
                created: image.created(),
                size,
                shared_size: shared,
                unique_size: size - shared,
                containers,
            });
        }
        usage
            .images
            .sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        usage.reclaimable = usage.layers_size.saturating_sub(used);
        Ok(usage)
    }

    async fn containers_using(&self, image: &str) -> Result<Vec<ContainerRef>> {
        let state = self.read();
        let id = state.resolve(image)?.id;
        Ok(state
            .containers_of(&id)
            .into_iter()
            .map(container_ref)
            .collect())
    }

    async fn build(&self, context: BuildContext, options: &BuildOptions) -> Result<ProgressStream> {
        let context_tar = match context {
            BuildContext::Directory(dir) => {
                crate::build_context::pack_directory(&dir, options.dockerfile.as_deref())?
            }
            BuildContext::Tar(stream) => collect_bytes(stream).await?,
        };
        let steps = build::plan(self, &context_tar, options)?;
        Ok(self.run_steps(steps))
    }

    async fn save(&self, images: &[String]) -> Result<ByteStream> {
        let selected = self.select_for_save(images)?;
        let bytes = archive::write_archive(&selected)?;
        let chunks: Vec<Result<Bytes>> = bytes
            .chunks(SAVE_CHUNK)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }

    async fn load(&self, archive_stream: ByteStream) -> Result<LoadReport> {
        let bytes = collect_bytes(archive_stream).await?;
        let images = archive::read_archive(&bytes)?;
        let mut report = LoadReport::default();
        let mut state = self.write();
        let mut events = Vec::new();
        let loaded = images.iter().try_for_each(|image| {
            let id = state.insert_image(image, None)?;
            events.push(ChangeEvent::image("load", &id));
            if image.repo_tags.is_empty() {
                report.loaded_ids.push(id);
                return Ok(());
            }
            for tag in &image.repo_tags {
                let reference = normalize_tagged(tag)?;
                state.set_reference(&reference, &id);
                events.push(ChangeEvent::image("tag", &id));
                report.loaded_tags.push(reference.familiar());
            }
            Ok::<(), ImageError>(())
        });
        drop(state);
        // What was stored before a failure stays stored, so it is announced.
        self.announce(events);
        loaded.map(|()| report)
    }

    async fn search(&self, term: &str, limit: Option<u32>) -> Result<Vec<SearchResult>> {
        if term.trim().is_empty() {
            return Err(ImageError::invalid_argument("search needs a term"));
        }
        let limit = limit.unwrap_or(25) as usize;
        let registry = self.registry_read();
        let needle = term.to_ascii_lowercase();
        Ok(registry
            .repositories
            .keys()
            .filter_map(|name| Reference::parse_normalized(name).ok())
            .filter(|r| r.familiar_name().contains(&needle))
            .take(limit)
            .map(|r| SearchResult {
                is_official: r.domain() == "docker.io" && r.path().starts_with("library/"),
                name: r.familiar_name(),
                description: String::new(),
                star_count: 0,
                is_automated: false,
            })
            .collect())
    }

    async fn snapshot(&self) -> Result<EngineSnapshot> {
        let state = self.read();
        Ok(snapshot::of_state(&state))
    }

    async fn registry_digest(
        &self,
        reference: &str,
        auth: Option<RegistryAuth>,
    ) -> Result<Option<String>> {
        let target = normalize_tagged(reference)?;
        self.registry_read()
            .authorize(target.domain(), auth.as_ref())?;
        MemoryImageService::registry_digest(self, reference)
    }

    async fn changes(&self) -> Result<ChangeStream> {
        use tokio::sync::broadcast::error::RecvError;
        let receiver = self.inner.changes.subscribe();
        Ok(
            futures::stream::unfold(receiver, |mut receiver| async move {
                match receiver.recv().await {
                    Ok(event) => Some((Ok(event), receiver)),
                    Err(RecvError::Lagged(missed)) => Some((
                        Err(ImageError::backend(
                            format!("the change feed fell {missed} changes behind"),
                            std::io::Error::other("change feed subscriber lagged"),
                        )),
                        receiver,
                    )),
                    // The engine (every clone of it) is gone.
                    Err(RecvError::Closed) => None,
                }
            })
            .boxed(),
        )
    }
}

/// The change events of removal `actions`: an untag names the image the
/// reference pointed at in `refs` (the reference store before the removal).
fn removal_events(
    refs: &std::collections::BTreeMap<String, String>,
    actions: &[RemoveAction],
) -> Vec<ChangeEvent> {
    actions
        .iter()
        .map(|action| match action {
            RemoveAction::Untagged(reference) => {
                let id = Reference::parse_normalized(reference)
                    .ok()
                    .and_then(|r| refs.get(&r.to_string()))
                    .cloned()
                    .unwrap_or_default();
                ChangeEvent::image("untag", id)
            }
            RemoveAction::Deleted(id) => ChangeEvent::image("delete", id.clone()),
        })
        .collect()
}

/// docker's image prune (moby's `ImagesPrune`) on `state`: dangling images
/// (or, with `all`, every image no container uses) that pass the filters are
/// removed oldest first, each with `ImageDelete`'s rules, skipping those the
/// rules refuse. `dry_run` is the caller's business: it passes a copy.
fn prune_state(
    state: &mut State,
    options: &PruneOptions,
    now: DateTime<Utc>,
) -> Result<PruneReport> {
    let dangling_only = !options.all;
    let users = state.chain_users();
    let mut candidates: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
    for image in state.images.values() {
        let has_refs = !state.references_of(&image.id).is_empty();
        let has_children = !state.children(&image.id).is_empty();
        if dangling_only && has_children {
            continue;
        }
        if !has_refs && has_children {
            continue;
        }
        let summary = state.summary(image, &users);
        if !options.filters.matches(&summary, now) {
            continue;
        }
        candidates.push((image.id.clone(), image.created()));
    }
    // Oldest first, so a run is reproducible.
    candidates.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let mut report = PruneReport::default();
    for (id, _) in candidates {
        if !state.images.contains_key(&id) {
            continue;
        }
        let refs = state.references_of(&id);
        let names: Vec<String> = if refs.is_empty() {
            vec![id.trim_start_matches("sha256:").to_string()]
        } else {
            let has_tag = refs.iter().any(|r| r.tag().is_some());
            if dangling_only && has_tag {
                continue;
            }
            refs.iter().map(Reference::to_string).collect()
        };
        for name in names {
            match state.delete(&name, false, true) {
                Ok((actions, freed)) => {
                    report.actions.extend(actions);
                    report.space_reclaimed += freed;
                }
                Err(ImageError::Conflict { .. } | ImageError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
    }
    Ok(report)
}

/// Collects a byte stream into memory.
async fn collect_bytes(stream: ByteStream) -> Result<Vec<u8>> {
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(chunks.concat())
}

/// The auth that a memory-backed caller passes, re-exported for tests.
#[doc(hidden)]
pub fn _auth(user: &str, password: &str, host: &str) -> RegistryAuth {
    RegistryAuth {
        username: user.to_string(),
        password: password.to_string(),
        identity_token: None,
        server_address: host.to_string(),
    }
}

#[cfg(test)]
mod tests;
