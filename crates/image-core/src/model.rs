//! The domain types that [`ImageService`](crate::ImageService) speaks in.
//!
//! Types that mirror a Docker Engine object (an image summary, image details,
//! a history entry) serialize with the engine's field names (`Id`,
//! `RepoTags`, `Config`, ...) so that docker-style `--format` templates such
//! as `{{.Config.Env}}` work on them unchanged. Types that are imgctl's own
//! (options, reports, progress events) serialize in `snake_case`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::{ImageFilters, PruneFilters};

/// A content digest such as `sha256:<64 hex>`; image IDs are digests of the
/// image's config.
pub type Digest = String;

/// One image as `docker images` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// The full image ID, `sha256:<hex>`.
    pub id: Digest,
    /// The image's tags in `repository:tag` form (familiar names, for
    /// example `alpine:3.20` or `127.0.0.1:5000/app:v1`). Empty when dangling.
    pub repo_tags: Vec<String>,
    /// The image's repository digests, `repository@sha256:<hex>`.
    pub repo_digests: Vec<String>,
    /// The parent image's ID, when the image was built locally on top of it.
    pub parent_id: Option<Digest>,
    /// When the image was created, from its config; `None` when unknown.
    pub created: Option<DateTime<Utc>>,
    /// The total size of the image's layers in bytes.
    pub size: u64,
    /// Bytes this image shares with other local images, where the backend
    /// computed it.
    pub shared_size: Option<u64>,
    /// The image's labels.
    pub labels: BTreeMap<String, String>,
    /// How many containers, running or stopped, use the image.
    pub containers: u64,
}

impl ImageSummary {
    /// Whether the image has no tags (`<none>:<none>` in `docker images`).
    pub fn is_dangling(&self) -> bool {
        self.repo_tags.is_empty()
    }

    /// The first 12 hex characters of the ID, as docker prints it.
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

/// The first 12 hex characters of an ID or digest, without the algorithm.
pub fn short_id(id: &str) -> &str {
    let hex = id.split_once(':').map_or(id, |(_, hex)| hex);
    hex.get(..12).unwrap_or(hex)
}

/// Everything `docker image inspect` shows of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "PascalCase")]
pub struct ImageDetails {
    /// The full image ID, `sha256:<hex>`.
    pub id: Digest,
    /// Tags, `repository:tag`.
    pub repo_tags: Vec<String>,
    /// Repository digests, `repository@sha256:<hex>`.
    pub repo_digests: Vec<String>,
    /// The parent image's ID, or the empty string.
    pub parent: String,
    /// The config's comment, or the empty string.
    pub comment: String,
    /// When the image was created, from its config.
    pub created: Option<DateTime<Utc>>,
    /// The image's author, or the empty string.
    pub author: String,
    /// The CPU architecture, for example `amd64`.
    pub architecture: String,
    /// The architecture variant, for example `v8`; omitted when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The operating system, for example `linux`.
    pub os: String,
    /// The total size of the layers in bytes.
    pub size: u64,
    /// The image's runtime configuration.
    pub config: ImageConfig,
    /// The image's root filesystem: its layers' diff IDs.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
}

impl ImageDetails {
    /// The platform string, `os/architecture[/variant]`.
    pub fn platform(&self) -> String {
        match &self.variant {
            Some(variant) if !variant.is_empty() => {
                format!("{}/{}/{}", self.os, self.architecture, variant)
            }
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// The runtime configuration of an image (`.Config` in `docker inspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    /// The user the process runs as, or the empty string.
    #[serde(default)]
    pub user: String,
    /// Environment, `KEY=value`.
    #[serde(default)]
    pub env: Vec<String>,
    /// The default command.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// The working directory, or the empty string.
    #[serde(default)]
    pub working_dir: String,
    /// Exposed ports, `port/proto` mapped to an empty object as docker does.
    #[serde(default)]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// Volumes, path mapped to an empty object as docker does.
    #[serde(default)]
    pub volumes: BTreeMap<String, EmptyObject>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The stop signal, or the empty string.
    #[serde(default)]
    pub stop_signal: String,
}

/// The `{}` value docker uses in `ExposedPorts` and `Volumes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmptyObject {}

/// The root filesystem of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    /// Always `layers` for images docker builds.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The layers' diff IDs (digests of the uncompressed layer tars), base first.
    pub layers: Vec<Digest>,
}

/// One entry of `docker history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    /// The image ID this step produced, or `<missing>` when that image is not
    /// local.
    pub id: String,
    /// When the step ran.
    pub created: Option<DateTime<Utc>>,
    /// The command of the step.
    pub created_by: String,
    /// The tags of the image this step produced, if it is local and tagged.
    pub tags: Vec<String>,
    /// The size of the layer the step added, in bytes (0 for empty layers).
    pub size: u64,
    /// The step's comment.
    pub comment: String,
}

/// How to list images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOptions {
    /// Include intermediate images (`docker images -a`). Without it, only
    /// top-level images: tagged images and dangling images that are nobody's
    /// parent.
    pub all: bool,
    /// Filters, all of which must hold.
    pub filters: ImageFilters,
    /// Fill in `repo_digests` (always cheap on every backend so far; kept for
    /// parity with docker's `--digests`).
    pub digests: bool,
}

/// Registry credentials for one pull or push.
///
/// `Debug` never shows the password or token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAuth {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// The password.
    #[serde(default)]
    pub password: String,
    /// An identity token, used instead of a password where the registry gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_token: Option<String>,
    /// The registry the credentials are for, for example `127.0.0.1:5000`.
    #[serde(default)]
    pub server_address: String,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .field("server_address", &self.server_address)
            .finish()
    }
}

/// A platform such as `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// The operating system, for example `linux`.
    pub os: String,
    /// The architecture, for example `arm64`.
    pub architecture: String,
    /// The variant, for example `v8`.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(text: &str) -> crate::Result<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        };
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Platform {
                os: os.to_ascii_lowercase(),
                architecture: arch.to_ascii_lowercase(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Platform {
                os: os.to_ascii_lowercase(),
                architecture: arch.to_ascii_lowercase(),
                variant: Some(variant.to_ascii_lowercase()),
            }),
            _ => Err(crate::ImageError::invalid_argument(format!(
                "\"{text}\": unknown operating system or architecture: invalid argument (expected os/arch[/variant], for example linux/amd64)"
            ))),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// What to pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullOptions {
    /// The reference, `NAME[:TAG|@DIGEST]`. Without a tag or digest, `latest`
    /// is pulled (or every tag with `all_tags`).
    pub reference: String,
    /// The platform to pull, when not the engine's own.
    pub platform: Option<Platform>,
    /// Pull every tag of the repository.
    pub all_tags: bool,
    /// Credentials; when `None` the backend uses its configured ones.
    pub auth: Option<RegistryAuth>,
}

/// What to push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOptions {
    /// The reference, `NAME[:TAG]`. Without a tag, `latest` is pushed (or
    /// every local tag of the repository with `all_tags`).
    pub reference: String,
    /// The platform to push, for multi-platform images.
    pub platform: Option<Platform>,
    /// Push every local tag of the repository.
    pub all_tags: bool,
    /// Credentials; when `None` the backend uses its configured ones.
    pub auth: Option<RegistryAuth>,
}

/// One event of a pull, push or build.
///
/// A progress stream yields any number of [`Layer`](ProgressEvent::Layer)
/// and [`Message`](ProgressEvent::Message) events and then exactly one
/// [`Done`](ProgressEvent::Done), or it ends with an error item instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Progress of one layer.
    Layer(LayerProgress),
    /// A line not tied to a layer, such as `Digest: sha256:...`, `Status:
    /// Downloaded newer image for alpine:latest` or a line of build output.
    /// (`Pulling from library/alpine` is a [`Layer`](ProgressEvent::Layer)
    /// event whose ID is the tag, as the engine sends it.)
    Message {
        /// The text, without a trailing newline.
        text: String,
    },
    /// The operation succeeded.
    Done(Completion),
}

/// Progress of one layer in a pull or push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LayerProgress {
    /// The layer's short ID, as docker prints it (12 hex characters).
    pub id: String,
    /// The status, for example `Downloading`, `Pull complete`, `Pushed`.
    pub status: String,
    /// Bytes done so far, when the status has a progress bar.
    pub current: Option<u64>,
    /// The total bytes, when known.
    pub total: Option<u64>,
}

/// How a pull, push or build ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completion {
    /// The full reference that was pulled or pushed, for example
    /// `docker.io/library/alpine:latest`; for a build, the first tag if any.
    pub reference: Option<String>,
    /// The manifest digest pulled or pushed.
    pub digest: Option<Digest>,
    /// The local image ID, for pulls and builds.
    pub image_id: Option<Digest>,
}

/// How to remove an image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveOptions {
    /// Remove even if stopped containers use it or it has several tags.
    pub force: bool,
    /// Do not delete untagged parents.
    pub no_prune: bool,
}

/// One thing a remove or prune did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RemoveAction {
    /// A reference was removed (`Untagged: alpine:3.20`).
    Untagged(String),
    /// An image was deleted (`Deleted: sha256:...`).
    Deleted(Digest),
}

impl fmt::Display for RemoveAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveAction::Untagged(reference) => write!(f, "Untagged: {reference}"),
            RemoveAction::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

/// What to prune.
///
/// With `dry_run`, the backend deletes nothing and returns the report the
/// same prune would return now: the same actions in the same order and the
/// same bytes. Backends that cannot tell in advance refuse it with
/// [`ImageError::NotSupported`](crate::ImageError::NotSupported) rather than
/// guess.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneOptions {
    /// Remove every image no container uses, not only dangling ones.
    pub all: bool,
    /// `until`, `label` and `label!` filters.
    pub filters: PruneFilters,
    /// Delete nothing; report what would be deleted and the bytes that would
    /// be freed (`false` when absent from serialized options).
    #[serde(default)]
    pub dry_run: bool,
}

/// What a prune did (or, with [`PruneOptions::dry_run`], would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PruneReport {
    /// Every untag and delete, in order.
    pub actions: Vec<RemoveAction>,
    /// Bytes freed (or that would be freed).
    pub space_reclaimed: u64,
}

/// Disk usage of local images (`docker system df`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiskUsage {
    /// One row per image.
    pub images: Vec<ImageUsage>,
    /// Bytes taken by all layers, each counted once.
    pub layers_size: u64,
    /// Bytes that removing every unused image would free.
    pub reclaimable: u64,
}

impl DiskUsage {
    /// How many images at least one container uses.
    pub fn active(&self) -> usize {
        self.images.iter().filter(|i| i.containers > 0).count()
    }
}

/// Disk usage of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageUsage {
    /// The image ID.
    pub id: Digest,
    /// Its tags.
    pub repo_tags: Vec<String>,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// Its total size.
    pub size: u64,
    /// Bytes in layers that other local images also use.
    pub shared_size: u64,
    /// Bytes in layers that only this image uses: what deleting it frees.
    pub unique_size: u64,
    /// How many containers use it.
    pub containers: u64,
}

/// A container, as far as images are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerRef {
    /// The full container ID.
    pub id: String,
    /// The container's name, without docker's leading `/`.
    pub name: String,
    /// The image ID it was created from.
    pub image_id: Digest,
    /// Its state.
    pub state: ContainerState,
}

/// A container's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Restarting.
    Restarting,
    /// Exited.
    Exited,
    /// Being removed.
    Removing,
    /// Dead.
    Dead,
}

impl ContainerState {
    /// Whether the container counts as running for remove's rules (running,
    /// paused or restarting cannot be forced away).
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    }

    /// Docker's lower-case word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Exited => "exited",
            ContainerState::Removing => "removing",
            ContainerState::Dead => "dead",
        }
    }

    /// Parses docker's word for a state.
    pub fn parse(word: &str) -> Option<ContainerState> {
        Some(match word {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "exited" => ContainerState::Exited,
            "removing" => ContainerState::Removing,
            "dead" => ContainerState::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to build an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildOptions {
    /// The Dockerfile's path inside the context; `Dockerfile` when `None`.
    pub dockerfile: Option<String>,
    /// Tags to give the result, `name[:tag]`.
    pub tags: Vec<String>,
    /// `--build-arg KEY=VALUE`.
    pub build_args: BTreeMap<String, String>,
    /// `--label KEY=VALUE`.
    pub labels: BTreeMap<String, String>,
    /// Do not use the build cache.
    pub no_cache: bool,
    /// Always try to pull newer base images.
    pub pull: bool,
    /// The stage to build, for multi-stage Dockerfiles.
    pub target: Option<String>,
    /// The platform to build for.
    pub platform: Option<Platform>,
}

/// A registry search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// The repository name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Stars.
    pub star_count: u64,
    /// Whether it is an official image.
    pub is_official: bool,
    /// Whether it is an automated build (deprecated by docker, kept for output parity).
    pub is_automated: bool,
}

/// What a load brought in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadReport {
    /// `Loaded image: NAME:TAG` for tagged images.
    pub loaded_tags: Vec<String>,
    /// `Loaded image ID: sha256:...` lines: untagged images (a Docker Engine
    /// prints one for every image of the archive when its last image is
    /// untagged).
    pub loaded_ids: Vec<Digest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parses_and_prints() {
        let p = Platform::parse("linux/arm64/v8").expect("valid platform");
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v8").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn short_ids_drop_the_algorithm() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let auth = RegistryAuth {
            username: "u".into(),
            password: "hunter2".into(),
            identity_token: Some("tok".into()),
            server_address: "r".into(),
        };
        let shown = format!("{auth:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("tok\""));
    }

    #[test]
    fn details_use_docker_field_names() {
        let details = ImageDetails {
            id: "sha256:ab".into(),
            repo_tags: vec!["a:b".into()],
            repo_digests: vec![],
            parent: String::new(),
            comment: String::new(),
            created: None,
            author: String::new(),
            architecture: "amd64".into(),
            variant: None,
            os: "linux".into(),
            size: 3,
            config: ImageConfig::default(),
            root_fs: RootFs {
                kind: "layers".into(),
                layers: vec![],
            },
        };
        let json = serde_json::to_value(&details).expect("serializes");
        for key in [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "Author",
            "Architecture",
            "Os",
            "Size",
            "Config",
            "RootFS",
        ] {
            assert!(json.get(key).is_some(), "missing {key} in {json}");
        }
        assert!(json["Config"].get("Env").is_some());
        assert!(json["Config"].get("WorkingDir").is_some());
        assert_eq!(json["RootFS"]["Type"], "layers");
    }
}
