//! [`DockerImageService`]: the [`ImageService`] over a real Docker Engine.
//!
//! Requests go through bollard; the few answers whose bollard 0.21 models
//! drop what API 1.41 and 1.45 engines send (push progress per layer, an
//! image's parent, the old `/system/df` shape) go through a small raw JSON
//! client to the same endpoint. Names are validated with image-core's
//! reference grammar before anything is sent, so a malformed reference is
//! the same error on every backend. Filters are evaluated with image-core's
//! one evaluation function, so they mean the same on every engine version.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;
use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ImportImageOptions, ListContainersOptions,
    ListImagesOptions, PruneImagesOptions, RemoveImageOptions, SearchImagesOptions,
    TagImageOptions,
};
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use image_core::archive::chain_ids;
use image_core::memory::{EngineSnapshot, SnapshotImage, SnapshotLayer};
use image_core::reference::{self, AnyReference, Reference};
use image_core::{
    BuildContext, BuildOptions, ByteStream, Completion, ContainerRef, DiskUsage, HistoryEntry,
    ImageDetails, ImageError, ImageService, ImageSummary, ListOptions, LoadReport, ProgressEvent,
    ProgressStream, PruneOptions, PruneReport, PullOptions, PushOptions, RegistryAuth,
    RemoveAction, RemoveOptions, Result, SearchResult, filter,
};
use image_core::{
    ChangeEvent, ChangeObject, ChangeStream, ErrorKind, MemoryImageService, SystemClock,
};

/// How many images a dry-run prune's snapshot inspects at once.
const SNAPSHOT_CONCURRENCY: usize = 8;

use crate::connect::{ConnectOptions, Endpoint};
use crate::convert;
use crate::credentials;
use crate::errors::{self, Context};
use crate::raw::{RawClient, RawError};

/// The Docker Engine backend.
#[derive(Clone)]
pub struct DockerImageService {
    docker: Docker,
    raw: RawClient,
    endpoint: String,
    config_dir: Option<PathBuf>,
    api_version: String,
}

impl fmt::Debug for DockerImageService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerImageService")
            .field("endpoint", &self.endpoint)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

fn unavailable(endpoint: &str, hint: impl Into<String>) -> ImageError {
    ImageError::EngineUnavailable {
        endpoint: endpoint.to_string(),
        hint: hint.into(),
    }
}

/// The TLS failure among an error's causes (a server certificate the client
/// does not trust, the engine's alert refusing the client certificate, a
/// listener that does not speak TLS), in rustls's words. rustls errors come
/// wrapped in [`std::io::Error`]s (sometimes twice), whose `source()` skips
/// what they wrap, so an `io::Error` is opened instead of followed.
fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

impl DockerImageService {
    /// Connects to the engine and negotiates the API version. An engine that
    /// cannot be reached is [`ImageError::EngineUnavailable`], naming the
    /// endpoint.
    pub async fn connect(options: ConnectOptions) -> Result<DockerImageService> {
        let endpoint = options.endpoint.url();
        let timeout = options.timeout.as_secs().max(1);
        // Negotiate as the docker CLI does: from the `Api-Version` header of
        // `GET /_ping`. bollard's `negotiate_version` asks `/version`, which
        // an engine answers only after asking containerd and runc for their
        // versions: 5 ms on Docker 20.10, against 0.2 ms for the ping, on
        // every command. Both report the engine's highest API version. When
        // the ping fails in any other way than a timeout, bollard's
        // negotiation runs as before, so every failure reads as it did.
        let default = bollard::API_DEFAULT_VERSION;
        let probe = RawClient::new(&options.endpoint, &default.to_string(), options.timeout).ok();
        let pinged = match &probe {
            Some(probe) => match probe.ping_api_version().await {
                Ok(Some(server)) => parse_api_version(&server)
                    .map(|server| if server < *default { server } else { *default }),
                Err(RawError::Timeout) => {
                    return Err(unavailable(&endpoint, "the engine did not answer in time"));
                }
                Ok(None) | Err(_) => None,
            },
            None => None,
        };
        let version = pinged.as_ref().unwrap_or(default);
        let connected = match &options.endpoint {
            Endpoint::Unix(path) => {
                Docker::connect_with_unix(&path.to_string_lossy(), timeout, version)
            }
            Endpoint::Tcp { host, port } => {
                Docker::connect_with_http(&format!("tcp://{host}:{port}"), timeout, version)
            }
            Endpoint::Tls {
                host,
                port,
                ca,
                cert,
                key,
            } => Docker::connect_with_ssl(
                &format!("tcp://{host}:{port}"),
                key,
                cert,
                ca,
                timeout,
                version,
            ),
        };
        let docker = connected
            .map_err(|e| match &options.endpoint {
                // bollard refuses a socket path that does not exist.
                Endpoint::Unix(path) if !path.exists() => {
                    unavailable(&endpoint, "is the docker daemon running?")
                }
                _ => ImageError::backend(format!("setting up the connection to {endpoint}"), e),
            })?
            .with_request_modifier(credentials::fix_registry_headers);
        let cx = Context {
            endpoint: &endpoint,
            subject: "",
            registry: "",
        };
        let docker = match pinged {
            Some(_) => docker,
            None => docker.negotiate_version().await.map_err(|e| {
                match errors::from_bollard(e, cx) {
                    ImageError::Backend { message, source } => {
                        match errors::connection_hint(source.as_ref()) {
                            Some(hint) => unavailable(&endpoint, hint),
                            None => match (&options.endpoint, tls_failure(source.as_ref())) {
                                (Endpoint::Tls { ca, .. }, Some(why)) => unavailable(
                                    &endpoint,
                                    format!(
                                        "the TLS handshake failed: {why} (certificates from {})",
                                        ca.parent().unwrap_or(ca).display()
                                    ),
                                ),
                                _ => ImageError::Backend { message, source },
                            },
                        }
                    }
                    other => other,
                }
            })?,
        };
        let client = docker.client_version();
        let api_version = format!("{}.{}", client.major_version, client.minor_version);
        let raw = match probe.filter(|_| pinged.is_some()) {
            // The ping's client, with its connection kept for what follows.
            Some(probe) => probe.with_api_version(&api_version),
            None => RawClient::new(&options.endpoint, &api_version, options.timeout),
        }
        .map_err(|e| ImageError::backend(format!("setting up the connection to {endpoint}"), e))?;
        Ok(DockerImageService {
            docker,
            raw,
            endpoint,
            config_dir: options.config_dir,
            api_version,
        })
    }

    /// Connects as the docker CLI would from the environment (`DOCKER_HOST`,
    /// `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, `DOCKER_CONFIG`).
    pub async fn from_env() -> Result<DockerImageService> {
        DockerImageService::connect(ConnectOptions::from_env(None, None)?).await
    }

    /// The negotiated API version, for example `1.41`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The endpoint, as a `DOCKER_HOST` URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn cx<'a>(&'a self, subject: &'a str, registry: &'a str) -> Context<'a> {
        Context {
            endpoint: &self.endpoint,
            subject,
            registry,
        }
    }

    fn bollard_error(&self, error: bollard::errors::Error, subject: &str) -> ImageError {
        errors::from_bollard(error, self.cx(subject, ""))
    }

    fn raw_error(&self, error: RawError, subject: &str, registry: &str) -> ImageError {
        let cx = self.cx(subject, registry);
        match error {
            RawError::Status { status, message } => errors::from_status(status, &message, cx),
            RawError::Connect {
                refused_or_missing: true,
                ..
            } => unavailable(&self.endpoint, "is the docker daemon running?"),
            RawError::Timeout => unavailable(&self.endpoint, "the engine did not answer in time"),
            other => {
                ImageError::backend(format!("talking to the engine at {}", self.endpoint), other)
            }
        }
    }

    async fn all_containers(&self) -> Result<Vec<ContainerRef>> {
        let options = ListContainersOptions {
            all: true,
            ..ListContainersOptions::default()
        };
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.bollard_error(e, ""))?;
        Ok(containers.into_iter().map(convert::container).collect())
    }

    async fn engine_list(
        &self,
        all: bool,
        counts: &HashMap<String, u64>,
    ) -> Result<Vec<ImageSummary>> {
        Ok(summaries(self.engine_images(all).await?, counts))
    }

    /// Everything the engine's prune rules look at: every image with its
    /// layers and their sizes (from inspect and history), and every
    /// container. An image removed while the snapshot is taken is left out.
    async fn engine_snapshot(&self) -> Result<EngineSnapshot> {
        let (images, containers) =
            futures::try_join!(self.engine_images(true), self.all_containers())?;
        let found: Vec<Option<(ImageDetails, Vec<HistoryEntry>)>> = stream::iter(images)
            .map(|image| async move {
                match futures::try_join!(self.inspect(&image.id), self.history(&image.id)) {
                    Ok(found) => Ok(Some(found)),
                    Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(error),
                }
            })
            .buffer_unordered(SNAPSHOT_CONCURRENCY)
            .try_collect()
            .await?;
        let found: Vec<(ImageDetails, Vec<HistoryEntry>)> = found.into_iter().flatten().collect();
        // Each image's size is the exact size of its layer stack: an image
        // whose top layer is another image's layer pins the sizes below it.
        let stack_sizes: HashMap<String, u64> = found
            .iter()
            .filter_map(|(details, _)| {
                let top = chain_ids(&details.root_fs.layers).pop()?;
                Some((top, details.size))
            })
            .collect();
        let images = found
            .into_iter()
            .map(|(details, history)| {
                let layers = &details.root_fs.layers;
                let guessed = convert::layer_sizes(layers, &history);
                let sizes = convert::pinned_layer_sizes(&chain_ids(layers), &guessed, &stack_sizes);
                SnapshotImage {
                    layers: layers
                        .iter()
                        .zip(sizes)
                        .map(|(diff_id, size)| SnapshotLayer {
                            diff_id: diff_id.clone(),
                            size,
                        })
                        .collect(),
                    id: details.id,
                    parent: Some(details.parent).filter(|p| !p.is_empty()),
                    created: details.created,
                    labels: details.config.labels,
                    repo_tags: details.repo_tags,
                    repo_digests: details.repo_digests,
                }
            })
            .collect();
        Ok(EngineSnapshot { images, containers })
    }

    /// The engine's image list, as bollard reads it.
    async fn engine_images(&self, all: bool) -> Result<Vec<bollard::models::ImageSummary>> {
        let options = ListImagesOptions {
            all,
            digests: true,
            ..ListImagesOptions::default()
        };
        self.docker
            .list_images(Some(options))
            .await
            .map_err(|e| self.bollard_error(e, ""))
    }

    fn credentials_for(
        &self,
        explicit: Option<&RegistryAuth>,
        domain: &str,
    ) -> Option<RegistryAuth> {
        credentials::resolve(explicit, self.config_dir.as_deref(), domain)
    }
}

/// The engine's images as summaries, with how many containers use each.
fn summaries(
    images: Vec<bollard::models::ImageSummary>,
    counts: &HashMap<String, u64>,
) -> Vec<ImageSummary> {
    images
        .into_iter()
        .map(|image| {
            let count = counts.get(&image.id).copied().unwrap_or(0);
            convert::summary(image, count)
        })
        .collect()
}

/// An API version as bollard's negotiation reads it: `MAJOR.MINOR`.
fn parse_api_version(text: &str) -> Option<bollard::ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(bollard::ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

/// Checks that `name` names an image the way docker accepts it (reference,
/// ID or digest), with distribution's error when it does not.
fn validate_image_name(name: &str) -> Result<AnyReference> {
    reference::parse_any(name).map_err(|e| ImageError::invalid_reference(name, e))
}

fn parse_named(name: &str) -> Result<Reference> {
    Reference::parse_normalized(name).map_err(|e| ImageError::invalid_reference(name, e))
}

/// Drives a stream of progress batches, then asks `finish` for the
/// completion once the engine's stream ended without an error.
fn progress_stream<F, Fut>(
    inner: BoxStream<'static, Result<Vec<ProgressEvent>>>,
    finish: F,
) -> ProgressStream
where
    F: FnOnce(Vec<ProgressEvent>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Completion>> + Send + 'static,
{
    enum State<F> {
        Running {
            inner: BoxStream<'static, Result<Vec<ProgressEvent>>>,
            seen: Vec<ProgressEvent>,
            finish: F,
        },
        Done,
    }
    stream::unfold(
        State::Running {
            inner,
            seen: Vec::new(),
            finish,
        },
        |state| async move {
            let State::Running {
                mut inner,
                mut seen,
                finish,
            } = state
            else {
                return None;
            };
            match inner.next().await {
                Some(Ok(batch)) => {
                    let items: Vec<Result<ProgressEvent>> = batch.iter().cloned().map(Ok).collect();
                    seen.extend(batch);
                    Some((
                        stream::iter(items).boxed(),
                        State::Running {
                            inner,
                            seen,
                            finish,
                        },
                    ))
                }
                Some(Err(error)) => Some((stream::iter(vec![Err(error)]).boxed(), State::Done)),
                None => {
                    let last = match finish(seen).await {
                        Ok(completion) => Ok(ProgressEvent::Done(completion)),
                        Err(error) => Err(error),
                    };
                    Some((stream::iter(vec![last]).boxed(), State::Done))
                }
            }
        },
    )
    .flatten()
    .boxed()
}

/// The last manifest digest mentioned in a run of progress messages.
fn last_digest(events: &[ProgressEvent]) -> Option<String> {
    events.iter().rev().find_map(|event| match event {
        ProgressEvent::Message { text } => convert::digest_in(text),
        _ => None,
    })
}

#[async_trait]
impl ImageService for DockerImageService {
    async fn list(&self, options: &ListOptions) -> Result<Vec<ImageSummary>> {
        let needs_everything =
            options.all || options.filters.before.is_some() || options.filters.since.is_some();
        // The containers (for the counts) and the images do not depend on
        // each other, so both requests go out at once: the containers cost
        // no round trip of their own.
        let (containers, images) =
            futures::try_join!(self.all_containers(), self.engine_images(needs_everything))?;
        let counts = convert::containers_per_image(&containers);
        let everything = summaries(images, &counts);
        // The engine looks for dangling images among the images without
        // children only (the image store's `Heads`), with `all` too: an
        // untagged parent is an intermediate image, not a dangling one.
        let parents: std::collections::HashSet<String> =
            if options.all && options.filters.dangling == Some(true) {
                everything
                    .iter()
                    .filter_map(|image| image.parent_id.clone())
                    .collect()
            } else {
                std::collections::HashSet::new()
            };
        let mut listed = filter::apply(&options.filters, everything, Utc::now())?;
        listed.retain(|image| !parents.contains(&image.id));
        if !options.all && needs_everything {
            let top: std::collections::HashSet<String> = self
                .engine_list(false, &counts)
                .await?
                .into_iter()
                .map(|image| image.id)
                .collect();
            listed.retain(|image| top.contains(&image.id));
        }
        listed.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(listed)
    }

    async fn inspect(&self, image: &str) -> Result<ImageDetails> {
        validate_image_name(image)?;
        let json = self
            .raw
            .get_json(&format!("/images/{image}/json"))
            .await
            .map_err(|e| self.raw_error(e, image, ""))?;
        convert::details(json).map_err(|e| {
            ImageError::backend(format!("reading the engine's answer about {image}"), e)
        })
    }

    async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
        validate_image_name(image)?;
        let entries = self
            .docker
            .image_history(image)
            .await
            .map_err(|e| self.bollard_error(e, image))?;
        Ok(entries.into_iter().map(convert::history).collect())
    }

    async fn pull(&self, options: &PullOptions) -> Result<ProgressStream> {
        let named = parse_named(&options.reference)?;
        if options.all_tags && (named.tag().is_some() || named.digest().is_some()) {
            return Err(ImageError::invalid_argument(
                "tag can't be used with --all-tags/-a",
            ));
        }
        let (tag, target) = match (named.digest(), named.tag()) {
            (Some(digest), _) => (Some(digest.to_string()), named.clone()),
            (None, Some(tag)) => (Some(tag.to_string()), named.clone()),
            (None, None) if options.all_tags => (None, named.clone()),
            (None, None) => (
                Some("latest".to_string()),
                named
                    .with_tag("latest")
                    .map_err(|e| ImageError::invalid_reference(&options.reference, e))?,
            ),
        };
        let domain = named.domain().to_string();
        let auth = self.credentials_for(options.auth.as_ref(), &domain);
        let create = CreateImageOptions {
            from_image: Some(named.name()),
            tag,
            platform: options
                .platform
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            ..CreateImageOptions::default()
        };
        let service = self.clone();
        let subject = target.familiar();
        let registry = domain.clone();
        let inner = self
            .docker
            .create_image(
                Some(create),
                None,
                auth.as_ref().map(credentials::to_bollard),
            )
            .map(move |item| match item {
                Ok(info) => Ok(convert::pull_event(info).into_iter().collect()),
                Err(error) => Err(errors::from_bollard(error, service.cx(&subject, &registry))),
            })
            .boxed();
        let service = self.clone();
        let all_tags = options.all_tags;
        Ok(progress_stream(inner, move |seen| async move {
            let digest = last_digest(&seen);
            if all_tags {
                return Ok(Completion {
                    reference: Some(target.to_string()),
                    digest: None,
                    image_id: None,
                });
            }
            let details = service.inspect(&target.to_string()).await?;
            Ok(Completion {
                reference: Some(target.to_string()),
                digest,
                image_id: Some(details.id),
            })
        }))
    }

    async fn push(&self, options: &PushOptions) -> Result<ProgressStream> {
        let named = parse_named(&options.reference)?;
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
        let tag = match named.tag() {
            Some(tag) => Some(tag.to_string()),
            None if options.all_tags => None,
            None => Some("latest".to_string()),
        };
        let target = match &tag {
            Some(tag) => named
                .with_tag(tag)
                .map_err(|e| ImageError::invalid_reference(&options.reference, e))?,
            None => named.clone(),
        };
        let domain = named.domain().to_string();
        let auth = self
            .credentials_for(options.auth.as_ref(), &domain)
            .unwrap_or_else(|| RegistryAuth {
                server_address: credentials::registry_key(&domain),
                ..RegistryAuth::default()
            });
        let header = credentials::encode_header(&auth)
            .map_err(|e| ImageError::backend("encoding registry credentials", e))?;
        let mut query = Vec::new();
        if let Some(tag) = &tag {
            query.push(format!("tag={}", percent_encode(tag)));
        }
        if let Some(platform) = &options.platform {
            let json = serde_json::json!({
                "os": platform.os,
                "architecture": platform.architecture,
                "variant": platform.variant,
            });
            query.push(format!("platform={}", percent_encode(&json.to_string())));
        }
        let path = format!(
            "/images/{}/push{}{}",
            named.name(),
            if query.is_empty() { "" } else { "?" },
            query.join("&")
        );
        let subject = target.familiar();
        let raw = self
            .raw
            .post_json_stream(&path, &[("X-Registry-Auth", header)])
            .await
            .map_err(|e| self.raw_error(e, &subject, &domain))?;
        let service = self.clone();
        let registry = domain.clone();
        let inner = raw
            .map(move |item| {
                let cx = service.cx(&subject, &registry);
                match item {
                    Ok(json) => match convert::push_event(&json) {
                        Ok(event) => Ok(event.into_iter().collect()),
                        Err(message) => Err(errors::from_message(&message, cx)),
                    },
                    Err(error) => Err(service.raw_error(error, &subject, &registry)),
                }
            })
            .boxed();
        Ok(progress_stream(inner, move |seen| async move {
            let digest = last_digest(&seen);
            if digest.is_none() && tag.is_some() {
                return Err(ImageError::Registry {
                    registry: domain,
                    message: format!("the push of {} ended without a digest", target.familiar()),
                });
            }
            Ok(Completion {
                reference: Some(target.to_string()),
                digest,
                image_id: None,
            })
        }))
    }

    async fn tag(&self, source: &str, target: &str) -> Result<()> {
        validate_image_name(source)?;
        let parsed = parse_named(target)?;
        if parsed.digest().is_some() {
            return Err(ImageError::invalid_argument(
                "refusing to create a tag with a digest reference",
            ));
        }
        let options = TagImageOptions {
            repo: Some(parsed.name()),
            tag: Some(parsed.tag().unwrap_or("latest").to_string()),
        };
        self.docker
            .tag_image(source, Some(options))
            .await
            .map_err(|e| self.bollard_error(e, source))
    }

    async fn remove(&self, image: &str, options: &RemoveOptions) -> Result<Vec<RemoveAction>> {
        validate_image_name(image)?;
        let remove = RemoveImageOptions {
            force: options.force,
            noprune: options.no_prune,
            ..RemoveImageOptions::default()
        };
        let items = self
            .docker
            .remove_image(image, Some(remove), None)
            .await
            .map_err(|e| self.bollard_error(e, image))?;
        Ok(convert::remove_actions(items))
    }

    async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        if options.dry_run {
            // The Engine API has no dry run: the same prune runs on a
            // scratch copy of the engine's images, layers and containers,
            // under the in-memory engine's port of moby's prune rules.
            let snapshot = self.engine_snapshot().await?;
            let scratch = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock))?;
            let options = PruneOptions {
                dry_run: false,
                ..options.clone()
            };
            return scratch.prune(&options).await;
        }
        let mut filters: HashMap<String, Vec<String>> = HashMap::new();
        filters.insert(
            "dangling".to_string(),
            vec![if options.all { "false" } else { "true" }.to_string()],
        );
        for arg in options.filters.to_args() {
            if let Some((key, value)) = arg.split_once('=') {
                filters
                    .entry(key.to_string())
                    .or_default()
                    .push(value.to_string());
            }
        }
        let response = self
            .docker
            .prune_images(Some(PruneImagesOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.bollard_error(e, ""))?;
        Ok(PruneReport {
            actions: convert::remove_actions(response.images_deleted.unwrap_or_default()),
            space_reclaimed: u64::try_from(response.space_reclaimed.unwrap_or(0)).unwrap_or(0),
        })
    }

    async fn disk_usage(&self) -> Result<DiskUsage> {
        let supports_type = self
            .api_version
            .split_once('.')
            .and_then(|(_, minor)| minor.parse::<u32>().ok())
            .is_some_and(|minor| minor >= 42);
        let path = if supports_type {
            "/system/df?type=image"
        } else {
            "/system/df"
        };
        // As in `list`, the containers go out at the same time.
        let (containers, json) = futures::try_join!(self.all_containers(), async {
            self.raw
                .get_json(path)
                .await
                .map_err(|e| self.raw_error(e, "", ""))
        })?;
        let counts = convert::containers_per_image(&containers);
        convert::disk_usage(&json, &counts)
            .map_err(|message| ImageError::backend(message.clone(), std::io::Error::other(message)))
    }

    async fn containers_using(&self, image: &str) -> Result<Vec<ContainerRef>> {
        let id = self.inspect(image).await?.id;
        Ok(self
            .all_containers()
            .await?
            .into_iter()
            .filter(|c| c.image_id == id)
            .collect())
    }

    async fn build(&self, context: BuildContext, options: &BuildOptions) -> Result<ProgressStream> {
        let mut tags = Vec::with_capacity(options.tags.len());
        for tag in &options.tags {
            let parsed = parse_named(tag)?;
            if parsed.digest().is_some() {
                return Err(ImageError::invalid_argument(format!(
                    "invalid tag {tag}: a build cannot be tagged with a digest"
                )));
            }
            tags.push(parsed.tag_name_only());
        }
        let body = match context {
            BuildContext::Directory(dir) => {
                let tar =
                    image_core::build_context::pack_directory(&dir, options.dockerfile.as_deref())?;
                bollard::body_full(Bytes::from(tar))
            }
            BuildContext::Tar(stream) => {
                bollard::body_try_stream(stream.map_err(std::io::Error::other))
            }
        };
        let build = BuildImageOptions {
            dockerfile: options
                .dockerfile
                .clone()
                .unwrap_or_else(|| "Dockerfile".to_string()),
            t: tags.first().map(ToString::to_string),
            nocache: options.no_cache,
            pull: options.pull.then(|| "1".to_string()),
            rm: true,
            buildargs: Some(options.build_args.clone().into_iter().collect()),
            labels: Some(options.labels.clone().into_iter().collect()),
            target: options.target.clone().unwrap_or_default(),
            platform: options
                .platform
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            ..BuildImageOptions::default()
        };
        let built: std::sync::Arc<std::sync::Mutex<Option<String>>> = Default::default();
        let seen_id = built.clone();
        // bollard's build stream borrows its client, so a task owns a clone
        // of the client and forwards the output; dropping the returned
        // stream closes the channel, which ends the task and the request.
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let docker = self.docker.clone();
        let service = self.clone();
        tokio::spawn(async move {
            let mut output = docker.build_image(build, None, Some(body));
            while let Some(item) = output.next().await {
                let batch = match item {
                    Ok(info) => {
                        let (events, id) = convert::build_events(info);
                        if let Some(id) = id {
                            if let Ok(mut slot) = seen_id.lock() {
                                *slot = Some(id);
                            }
                        }
                        Ok(events)
                    }
                    Err(error) => Err(errors::from_bollard(error, service.cx("", ""))),
                };
                let failed = batch.is_err();
                if sender.send(batch).await.is_err() || failed {
                    break;
                }
            }
        });
        let inner = stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
        .boxed();
        let service = self.clone();
        Ok(progress_stream(inner, move |seen| async move {
            let reported = built.lock().ok().and_then(|slot| slot.clone());
            let id = match reported {
                Some(id) => id,
                None => seen
                    .iter()
                    .rev()
                    .find_map(|event| match event {
                        ProgressEvent::Message { text } => text
                            .strip_prefix("Successfully built ")
                            .map(str::trim)
                            .map(str::to_string),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        ImageError::backend(
                            "the build ended without an image",
                            std::io::Error::other("no image id in the build output"),
                        )
                    })?,
            };
            let details = service.inspect(&id).await?;
            for tag in tags.iter().skip(1) {
                service.tag(&details.id, &tag.to_string()).await?;
            }
            Ok(Completion {
                reference: tags.first().map(ToString::to_string),
                digest: None,
                image_id: Some(details.id),
            })
        }))
    }

    async fn save(&self, images: &[String]) -> Result<ByteStream> {
        if images.is_empty() {
            return Err(ImageError::invalid_argument(
                "save needs at least one image name",
            ));
        }
        for image in images {
            validate_image_name(image)?;
        }
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let subject = images.join(" ");
        let service = self.clone();
        let mut export = self
            .docker
            .export_images(&names)
            .map_err(move |e| service.bollard_error(e, &subject))
            .boxed();
        // Surface a missing image as an error of the call, not of the stream.
        match export.next().await {
            Some(Err(error)) => Err(error),
            Some(Ok(first)) => Ok(stream::once(async move { Ok(first) }).chain(export).boxed()),
            None => Ok(stream::empty().boxed()),
        }
    }

    async fn load(&self, archive: ByteStream) -> Result<LoadReport> {
        let options = ImportImageOptions {
            quiet: false,
            ..ImportImageOptions::default()
        };
        let mut lines = Vec::new();
        let mut output = self.docker.import_image_stream(options, archive, None);
        while let Some(item) = output.next().await {
            let info = item.map_err(|e| self.bollard_error(e, ""))?;
            let (events, _) = convert::build_events(info);
            for event in events {
                if let ProgressEvent::Message { text } = event {
                    lines.push(text);
                }
            }
        }
        Ok(convert::load_report(&lines))
    }

    async fn search(&self, term: &str, limit: Option<u32>) -> Result<Vec<SearchResult>> {
        if term.trim().is_empty() {
            return Err(ImageError::invalid_argument("search needs a term"));
        }
        let options = SearchImagesOptions {
            term: term.to_string(),
            limit: limit.and_then(|l| i32::try_from(l).ok()),
            ..SearchImagesOptions::default()
        };
        let results = self
            .docker
            .search_images(options)
            .await
            .map_err(|e| errors::from_bollard(e, self.cx(term, "docker.io")))?;
        Ok(results
            .into_iter()
            .map(|r| SearchResult {
                name: r.name.unwrap_or_default(),
                description: r.description.unwrap_or_default(),
                star_count: u64::try_from(r.star_count.unwrap_or(0)).unwrap_or(0),
                is_official: r.is_official.unwrap_or(false),
                is_automated: r.is_automated.unwrap_or(false),
            })
            .collect())
    }

    async fn snapshot(&self) -> Result<EngineSnapshot> {
        self.engine_snapshot().await
    }

    async fn registry_digest(
        &self,
        reference: &str,
        auth: Option<RegistryAuth>,
    ) -> Result<Option<String>> {
        let parsed = parse_named(reference)?;
        let credentials = self
            .credentials_for(auth.as_ref(), parsed.domain())
            .map(|auth| credentials::to_bollard(&auth));
        match self
            .docker
            .inspect_registry_image(&parsed.to_string(), credentials)
            .await
        {
            Ok(info) => Ok(info.descriptor.digest.filter(|d| !d.is_empty())),
            Err(error) => {
                let error = self.bollard_error(error, reference);
                if error.kind() == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn changes(&self) -> Result<ChangeStream> {
        // An engine that cannot be reached is an error of the call, not of
        // the stream (bollard only connects when the stream is polled).
        self.raw
            .ping_api_version()
            .await
            .map_err(|e| self.raw_error(e, "", ""))?;
        let options = bollard::query_parameters::EventsOptions {
            since: Some(change_feed_since(std::time::SystemTime::now())),
            until: None,
            filters: Some(HashMap::from([(
                "type".to_string(),
                vec!["image".to_string(), "container".to_string()],
            )])),
        };
        let service = self.clone();
        Ok(self
            .docker
            .events(Some(options))
            .filter_map(move |item| {
                let item = match item {
                    Ok(message) => change_event(message).map(Ok),
                    Err(error) => Some(Err(service.bollard_error(error, ""))),
                };
                futures::future::ready(item)
            })
            .boxed())
    }
}

/// How far back a new subscription to the engine's events starts: the
/// engine subscribes only after it has answered, and bollard only sends
/// the request once the stream is first polled, so a change made in
/// between would be missed. The engine replays the events it still holds
/// since this moment (its last 256), which closes the gap as long as the
/// engine's clock is within [`CHANGE_FEED_REPLAY`] of ours.
fn change_feed_since(now: std::time::SystemTime) -> String {
    let since = now
        .checked_sub(CHANGE_FEED_REPLAY)
        .unwrap_or(std::time::UNIX_EPOCH)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", since.as_secs(), since.subsec_nanos())
}

/// See [`change_feed_since`].
const CHANGE_FEED_REPLAY: std::time::Duration = std::time::Duration::from_secs(2);

/// An engine event as a change, or `None` for events about other objects
/// (networks, volumes, ...) should the engine send any despite the filter.
fn change_event(message: bollard::models::EventMessage) -> Option<ChangeEvent> {
    use bollard::models::EventMessageTypeEnum;
    let object = match message.typ? {
        EventMessageTypeEnum::IMAGE => ChangeObject::Image,
        EventMessageTypeEnum::CONTAINER => ChangeObject::Container,
        _ => return None,
    };
    Some(ChangeEvent {
        object,
        action: message.action.unwrap_or_default(),
        id: message.actor.and_then(|actor| actor.id).unwrap_or_default(),
    })
}

/// Percent-encodes a query value.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_events_become_changes() {
        // As engines send them (API 1.41 adds the legacy status/id/from).
        let tagged: bollard::models::EventMessage = serde_json::from_str(
            r#"{"status":"tag","id":"sha256:0d19","Type":"image","Action":"tag",
                "Actor":{"ID":"sha256:0d19","Attributes":{"name":"mirror:1"}},
                "scope":"local","time":1700000000,"timeNano":1700000000123456789}"#,
        )
        .expect("an image event");
        assert_eq!(
            change_event(tagged),
            Some(ChangeEvent::image("tag", "sha256:0d19"))
        );
        let exec: bollard::models::EventMessage = serde_json::from_str(
            r#"{"Type":"container","Action":"exec_start: sh -c true",
                "Actor":{"ID":"abc123","Attributes":{}},"scope":"local"}"#,
        )
        .expect("a container event");
        let exec = change_event(exec).expect("a container change");
        assert_eq!(exec.object, ChangeObject::Container);
        assert!(!exec.affects_image_list());
        let network: bollard::models::EventMessage =
            serde_json::from_str(r#"{"Type":"network","Action":"connect","Actor":{"ID":"n1"}}"#)
                .expect("a network event");
        assert_eq!(change_event(network), None);
    }

    #[test]
    fn the_feed_starts_a_little_in_the_past() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_010, 5);
        assert_eq!(change_feed_since(now), "1700000008.000000005");
        assert_eq!(change_feed_since(std::time::UNIX_EPOCH), "0.000000000");
    }

    #[test]
    fn tls_failures_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        // As hyper-rustls hands it over: an io::Error around tokio-rustls's.
        let twice =
            std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        assert_eq!(
            tls_failure(&twice).as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        assert_eq!(tls_failure(&std::io::Error::other("refused")), None);
    }
}
