//! Reading and writing `docker save` tarballs, and building fixture images.
//!
//! [`read_archive`] accepts both layouts a Docker engine writes: the legacy
//! one (docker 20.10 and older: `manifest.json`, `repositories`,
//! `<config-hex>.json` and one `<v1-id>/{VERSION,json,layer.tar}` directory
//! per layer, where a layer already saved under another directory is a
//! symlink to the first copy) and the OCI-layout one (docker 25 and newer:
//! `oci-layout`, `index.json` and `blobs/sha256/<hex>`, with `manifest.json`
//! still present and pointing into `blobs/`). Both are read the way moby's
//! `image/tarexport/load.go` reads them: `manifest.json` names each image's
//! config and layer files, and every layer must hash to the diff ID the
//! config lists at its position. [`write_archive`] writes the legacy layout,
//! byte-for-byte deterministic, which every docker version loads (moby's
//! `image/tarexport/save.go` at v20.10 is the model, including the v1 layer
//! IDs derived from the layers' chain IDs). [`FixtureImage`] builds small,
//! deterministic images whose configs a real engine accepts, so the same
//! fixtures serve the in-memory backend's tests and `docker load` on a real
//! engine. Only uncompressed layers are supported: a gzip, zstd, bzip2 or xz
//! layer is refused with a clear error.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{ImageError, Result};
use crate::model::{EmptyObject, ImageConfig, Platform, RootFs};

/// The largest `manifest.json` or image config accepted, as containerd's
/// importer does (`jsonLimit`).
const JSON_LIMIT: usize = 20 << 20;
/// How many symlinks one path lookup may follow before it counts as a loop.
const MAX_LINK_HOPS: usize = 40;
/// The least budget for the bytes [`read_archive`] copies out (layers shared
/// by several images are copied once per image).
const MIN_OUTPUT_BUDGET: u64 = 256 << 20;
/// The output budget, as a multiple of the archive's size.
const OUTPUT_BUDGET_FACTOR: u64 = 16;
/// The modification time of every entry in fixture layers: 2024-01-01T00:00:00Z.
const FIXTURE_MTIME: i64 = 1_704_067_200;
/// The default command of fixture images, so that `docker create` works.
const DEFAULT_CMD: &str = "/bin/true";
/// Go's JSON encoding of a zero `container.Config`, as docker 20.10 writes
/// it into the `json` file of every layer directory but the top one.
const ZERO_CONTAINER_CONFIG: &str = concat!(
    r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"#,
    r#""AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"#,
    r#""StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"#,
    r#""WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#
);
/// The `created` docker writes for every layer directory but the top one.
const V1_EPOCH: &str = "1970-01-01T00:00:00Z";
/// The top-level config keys of moby's `image.V1Image`, in its field order.
const V1_IMAGE_KEYS: [&str; 10] = [
    "comment",
    "created",
    "container",
    "container_config",
    "docker_version",
    "author",
    "config",
    "architecture",
    "variant",
    "os",
];

/// `sha256:<hex>` of `bytes`: an image ID when `bytes` is a config, a diff ID
/// when it is an uncompressed layer tar.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// One image inside an archive.
#[derive(Clone, PartialEq, Eq)]
pub struct ArchiveImage {
    /// The raw config JSON; the image ID is `sha256:` and the hex SHA-256 of
    /// these bytes.
    pub config: Vec<u8>,
    /// The image's tags as `manifest.json` lists them, for example
    /// `alpine:3.20` or `127.0.0.1:5000/app:v1`.
    pub repo_tags: Vec<String>,
    /// The uncompressed layer tars, base first; each one's diff ID is its
    /// SHA-256.
    pub layers: Vec<Vec<u8>>,
}

impl fmt::Debug for ArchiveImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer_sizes: Vec<usize> = self.layers.iter().map(Vec::len).collect();
        f.debug_struct("ArchiveImage")
            .field("id", &self.id())
            .field("repo_tags", &self.repo_tags)
            .field("config_bytes", &self.config.len())
            .field("layer_sizes", &layer_sizes)
            .finish()
    }
}

impl ArchiveImage {
    /// The image ID, `sha256:<hex>` of the config bytes.
    pub fn id(&self) -> String {
        sha256_digest(&self.config)
    }

    /// The layers' diff IDs, `sha256:<hex>` each, base first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| sha256_digest(l)).collect()
    }

    /// The config, parsed.
    ///
    /// Fails with [`ImageError::InvalidArgument`] when the config is not an
    /// image config (not JSON, or without `rootfs`).
    pub fn parsed_config(&self) -> Result<ImageConfigFile> {
        ImageConfigFile::from_json(&self.config).map_err(|e| {
            ImageError::invalid_argument(format!("image {}: {}", self.id(), message_of(&e)))
        })
    }

    /// The total size of the layers in bytes.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.len() as u64).sum()
    }
}

/// An image config file: the docker / OCI image config JSON, with the fields
/// `inspect` and `history` need.
///
/// Parsing is lenient the way docker's is (`null` reads as empty, a string
/// `Cmd` reads as one argument) and ignores fields it does not know, so
/// serializing a parsed config does not reproduce the original bytes: keep
/// those ([`ArchiveImage::config`]) for the image ID. Fields serialize in
/// alphabetical order, as docker sorts a config's top-level keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfigFile {
    /// The CPU architecture, for example `amd64`.
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    /// The author (`MAINTAINER`, `docker commit --author`), or empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// The commit message docker keeps at the top level (`docker commit -m`,
    /// `docker import -m`), or empty. Not part of the OCI spec.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    /// The runtime configuration (`.Config` in `docker inspect`).
    #[serde(default, deserialize_with = "null_default")]
    pub config: ConfigSection,
    /// When the image was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// The docker version that built the image, or empty. Not part of the OCI
    /// spec.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub docker_version: String,
    /// The build steps, oldest first; steps with `empty_layer` added no layer.
    #[serde(default, deserialize_with = "null_default")]
    pub history: Vec<HistoryItem>,
    /// The operating system, for example `linux`.
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// The OS version (Windows images), or empty.
    #[serde(
        rename = "os.version",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    /// The parent image's ID, which docker's classic builder records, or
    /// empty. Not part of the OCI spec.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub parent: String,
    /// The layers' diff IDs. Required, as docker requires it.
    pub rootfs: RootFsSection,
    /// The architecture variant, for example `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl ImageConfigFile {
    /// Parses a config's JSON bytes.
    ///
    /// Fails with [`ImageError::InvalidArgument`] saying what is wrong when
    /// the bytes are not JSON or not an image config (no `rootfs`).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| ImageError::invalid_argument(format!("not a valid image config: {e}")))
    }

    /// The config as compact JSON, ready to become an image's config bytes.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| ImageError::backend("serializing an image config", e))
    }

    /// The platform, `os/architecture[/variant]`.
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// The runtime configuration inside an image config (`"config"`), with the
/// image spec's PascalCase field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigSection {
    /// The user the process runs as, or empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    /// Exposed ports, `port/proto`.
    #[serde(
        default,
        deserialize_with = "set_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// Environment, `KEY=value`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// The default command.
    #[serde(
        default,
        deserialize_with = "str_slice",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cmd: Vec<String>,
    /// Volumes, by path.
    #[serde(
        default,
        deserialize_with = "set_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, EmptyObject>,
    /// The working directory, or empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// The entrypoint.
    #[serde(
        default,
        deserialize_with = "str_slice",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entrypoint: Vec<String>,
    /// Labels.
    #[serde(
        default,
        deserialize_with = "string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// The stop signal, or empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
}

impl From<&ConfigSection> for ImageConfig {
    fn from(c: &ConfigSection) -> Self {
        ImageConfig {
            user: c.user.clone(),
            env: c.env.clone(),
            cmd: c.cmd.clone(),
            entrypoint: c.entrypoint.clone(),
            working_dir: c.working_dir.clone(),
            exposed_ports: c.exposed_ports.clone(),
            volumes: c.volumes.clone(),
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
        }
    }
}

impl From<ConfigSection> for ImageConfig {
    fn from(c: ConfigSection) -> Self {
        ImageConfig::from(&c)
    }
}

/// The `rootfs` of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFsSection {
    /// Always `layers`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// The layers' diff IDs, base first.
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<String>,
}

impl From<&RootFsSection> for RootFs {
    fn from(r: &RootFsSection) -> Self {
        RootFs {
            kind: r.kind.clone(),
            layers: r.diff_ids.clone(),
        }
    }
}

/// One build step in an image config's `history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// The step's command, for example `/bin/sh -c #(nop) ADD file:... in / `.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
    /// The step's author, or empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// The step's comment, or empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    /// Whether the step added no layer.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub empty_layer: bool,
}

/// The message of an error, without the `invalid argument: ` prefix.
fn message_of(e: &ImageError) -> String {
    match e {
        ImageError::InvalidArgument { message } => message.clone(),
        other => other.to_string(),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Reads `null` as the type's default, as Go's JSON decoding does.
fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads docker's `strslice.StrSlice`: an array of strings, one string, or `null`.
fn str_slice<'de, D>(d: D) -> std::result::Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrSlice {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StrSlice>::deserialize(d)? {
        None => Vec::new(),
        Some(StrSlice::One(s)) => vec![s],
        Some(StrSlice::Many(v)) => v,
    })
}

/// Reads a `{"key": {}}` set (`ExposedPorts`, `Volumes`), whatever the values.
fn set_map<'de, D>(d: D) -> std::result::Result<BTreeMap<String, EmptyObject>, D::Error>
where
    D: Deserializer<'de>,
{
    let map = Option::<BTreeMap<String, IgnoredAny>>::deserialize(d)?.unwrap_or_default();
    Ok(map.into_keys().map(|k| (k, EmptyObject {})).collect())
}

/// Reads a string map whose values may be `null`.
fn string_map<'de, D>(d: D) -> std::result::Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let map = Option::<BTreeMap<String, Option<String>>>::deserialize(d)?.unwrap_or_default();
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// One item of `manifest.json`.
#[derive(Debug, Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config", default, deserialize_with = "null_default")]
    config: String,
    #[serde(rename = "RepoTags", default, deserialize_with = "null_default")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers", default, deserialize_with = "null_default")]
    layers: Vec<String>,
}

/// A node of the archive's file tree.
enum Node {
    /// A regular file's contents.
    File(Vec<u8>),
    /// A symlink or hard link, as a path: absolute (from the archive root)
    /// or relative to the archive root after joining with the link's
    /// directory.
    Link(String),
}

/// The archive's regular files and links, by cleaned path.
struct Tree {
    nodes: HashMap<String, Node>,
}

/// Why a path could not be resolved to a file.
enum Lookup {
    Missing,
    NotAFile,
    Loop,
}

/// Cleans a path lexically (like Go's `path.Clean` relative to a root):
/// returns its components, or `None` when `..` climbs above the root.
fn clean_components(path: &str) -> Option<Vec<&str>> {
    let mut out: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            name => out.push(name),
        }
    }
    Some(out)
}

impl Tree {
    fn parse(bytes: &[u8]) -> std::result::Result<Tree, String> {
        let mut archive = tar::Archive::new(bytes);
        let entries = archive.entries().map_err(|e| e.to_string())?;
        let mut nodes = HashMap::new();
        for entry in entries {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let Ok(raw_name) = String::from_utf8(entry.path_bytes().into_owned()) else {
                continue;
            };
            let Some(components) = clean_components(&raw_name) else {
                continue;
            };
            if components.is_empty() {
                continue;
            }
            let name = components.join("/");
            let kind = entry.header().entry_type();
            let node = if kind.is_file() {
                let size = entry.size();
                let mut data =
                    Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(bytes.len()));
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| format!("reading {raw_name}: {e}"))?;
                if data.len() as u64 != size {
                    return Err(format!(
                        "{raw_name} is truncated: {} of {size} bytes",
                        data.len()
                    ));
                }
                Node::File(data)
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry
                    .link_name_bytes()
                    .and_then(|t| String::from_utf8(t.into_owned()).ok())
                else {
                    continue;
                };
                if kind.is_hard_link() || target.starts_with('/') {
                    // Hard links name a path from the archive root; absolute
                    // symlinks resolve inside the archive, as docker's
                    // FollowSymlinkInScope does.
                    Node::Link(format!("/{target}"))
                } else {
                    let dir = &components[..components.len() - 1];
                    Node::Link(format!("/{}/{target}", dir.join("/")))
                }
            } else {
                continue;
            };
            nodes.insert(name, node);
        }
        Ok(Tree { nodes })
    }

    /// Follows `path` (already checked not to escape) through links to a
    /// regular file. `..` in link targets stops at the archive root.
    fn lookup(&self, path: &str) -> std::result::Result<&[u8], Lookup> {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_owned).collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(comp);
            let key = resolved.join("/");
            if let Some(Node::Link(target)) = self.nodes.get(&key) {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(Lookup::Loop);
                }
                resolved.clear();
                pending.extend(target.split('/').rev().map(str::to_owned));
            }
        }
        match self.nodes.get(&resolved.join("/")) {
            Some(Node::File(data)) => Ok(data),
            Some(Node::Link(_)) => Err(Lookup::Loop),
            None if resolved.is_empty() => Err(Lookup::NotAFile),
            None => {
                let prefix = format!("{}/", resolved.join("/"));
                if self.nodes.keys().any(|k| k.starts_with(&prefix)) {
                    Err(Lookup::NotAFile)
                } else {
                    Err(Lookup::Missing)
                }
            }
        }
    }

    /// The contents of the file `path` names, which `what` describes in errors.
    fn file(&self, path: &str, what: &str) -> Result<&[u8]> {
        let Some(components) = clean_components(path) else {
            return Err(ImageError::invalid_argument(format!(
                "{what} {path:?} points outside the archive"
            )));
        };
        match self.lookup(&components.join("/")) {
            Ok(data) => Ok(data),
            Err(Lookup::Missing) => Err(ImageError::invalid_argument(format!(
                "{what} {path:?} is missing from the archive"
            ))),
            Err(Lookup::NotAFile) => Err(ImageError::invalid_argument(format!(
                "{what} {path:?} is not a regular file in the archive"
            ))),
            Err(Lookup::Loop) => Err(ImageError::invalid_argument(format!(
                "{what} {path:?} is a symlink that does not resolve (too many links)"
            ))),
        }
    }
}

/// The compression a blob's first bytes show, if any.
fn compression_of(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else if data.starts_with(b"BZh") {
        Some("bzip2")
    } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some("xz")
    } else {
        None
    }
}

/// Reads a `docker save` archive, in the legacy layout or the OCI one.
///
/// Images come back in `manifest.json`'s order, each with its config bytes,
/// its repo tags and its uncompressed layers (a layer several images share
/// is copied into each). Fails with [`ImageError::InvalidArgument`], naming
/// the offending file, when the bytes are not a tar archive (or a
/// compressed one), when `manifest.json` is missing or malformed, when a
/// config or layer it names is missing, when a config is not an image
/// config, when a layer is compressed, or when the layers do not match the
/// config's `rootfs.diff_ids`. Links are followed inside the archive only,
/// `manifest.json` and configs are limited to 20 MiB, and the bytes copied
/// out are limited to 16 times the archive's size (at least 256 MiB).
pub fn read_archive(bytes: &[u8]) -> Result<Vec<ArchiveImage>> {
    if let Some(kind) = compression_of(bytes) {
        return Err(ImageError::invalid_argument(format!(
            "the archive is {kind}-compressed; only uncompressed docker-save tarballs are supported (decompress it first)"
        )));
    }
    let tree = Tree::parse(bytes).map_err(|e| {
        ImageError::invalid_argument(format!(
            "not a docker-save archive: not a valid tar file: {e}"
        ))
    })?;

    let manifest_bytes = tree.file("manifest.json", "file").map_err(|e| {
        let hint = if tree.nodes.contains_key("index.json") {
            " (OCI layouts without docker's manifest.json are not supported)"
        } else {
            ""
        };
        ImageError::invalid_argument(format!("not a docker-save archive: {e}{hint}"))
    })?;
    if manifest_bytes.len() > JSON_LIMIT {
        return Err(ImageError::invalid_argument(format!(
            "manifest.json is larger than {JSON_LIMIT} bytes"
        )));
    }
    let manifest: Option<Vec<ManifestItem>> = serde_json::from_slice(manifest_bytes)
        .map_err(|e| ImageError::invalid_argument(format!("manifest.json is not valid: {e}")))?;
    let Some(manifest) = manifest else {
        return Err(ImageError::invalid_argument(
            "invalid manifest.json: manifest cannot be null (but can be [])",
        ));
    };

    let budget = (bytes.len() as u64)
        .saturating_mul(OUTPUT_BUDGET_FACTOR)
        .max(MIN_OUTPUT_BUDGET);
    let mut spent: u64 = 0;
    let mut charge = |n: usize| -> Result<()> {
        spent = spent.saturating_add(n as u64);
        if spent > budget {
            return Err(ImageError::invalid_argument(format!(
                "the archive's images would take more than {budget} bytes once read; refusing it"
            )));
        }
        Ok(())
    };

    let mut images = Vec::with_capacity(manifest.len().min(1024));
    for (index, item) in manifest.iter().enumerate() {
        if item.config.is_empty() {
            return Err(ImageError::invalid_argument(format!(
                "manifest.json: image {index} has no Config"
            )));
        }
        let config_path = &item.config;
        let config = tree.file(config_path, "config")?;
        if config.len() > JSON_LIMIT {
            return Err(ImageError::invalid_argument(format!(
                "config {config_path:?} is larger than {JSON_LIMIT} bytes"
            )));
        }
        let parsed = ImageConfigFile::from_json(config).map_err(|e| {
            ImageError::invalid_argument(format!("config {config_path:?}: {}", message_of(&e)))
        })?;
        let diff_ids = &parsed.rootfs.diff_ids;
        if diff_ids.len() != item.layers.len() {
            return Err(ImageError::invalid_argument(format!(
                "manifest.json lists {} layers for config {config_path:?}, whose rootfs.diff_ids has {}",
                item.layers.len(),
                diff_ids.len()
            )));
        }
        charge(config.len())?;
        let mut layers = Vec::with_capacity(item.layers.len());
        for (i, (layer_path, expected)) in item.layers.iter().zip(diff_ids).enumerate() {
            let data = tree.file(layer_path, "layer")?;
            if let Some(kind) = compression_of(data) {
                return Err(ImageError::invalid_argument(format!(
                    "layer {layer_path:?} is {kind}-compressed; compressed layers are not supported, only uncompressed tar layers"
                )));
            }
            let actual = sha256_digest(data);
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(ImageError::invalid_argument(format!(
                    "layer {layer_path:?} has diff ID {actual}, but rootfs.diff_ids[{i}] of config {config_path:?} is {expected}"
                )));
            }
            charge(data.len())?;
            layers.push(data.to_vec());
        }
        images.push(ArchiveImage {
            config: config.to_vec(),
            repo_tags: item.repo_tags.clone(),
            layers,
        });
    }
    Ok(images)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// An entry of an archive being written.
#[derive(Clone)]
enum OutEntry {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// Lays out entries in a deterministic tar (ustar headers, root-owned,
/// mtime 0), in path order.
fn write_tar(entries: &BTreeMap<String, OutEntry>, mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match entry {
            OutEntry::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, path, std::io::empty())?;
            }
            OutEntry::File(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data.as_slice())?;
            }
            OutEntry::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    builder.into_inner()
}

/// The chain IDs of `diff_ids`, base first, as moby's `layer.CreateChainID`
/// computes them: the first is the first diff ID, each next is the digest of
/// `"<previous chain id> <diff id>"`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => sha256_digest(format!("{parent} {diff_id}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Splits a familiar `name:tag` into name and tag, refusing references
/// without a tag or with a digest (docker load requires tagged references).
fn split_repo_tag(repo_tag: &str) -> Option<(&str, &str)> {
    if repo_tag.contains('@') {
        return None;
    }
    let last_slash = repo_tag.rfind('/').map_or(0, |i| i + 1);
    let colon = last_slash + repo_tag.get(last_slash..)?.rfind(':')?;
    let (name, tag) = (repo_tag.get(..colon)?, repo_tag.get(colon + 1..)?);
    if name.is_empty() || tag.is_empty() {
        return None;
    }
    Some((name, tag))
}

/// A legacy layer directory: its v1 ID and its `json` file.
struct V1Layer {
    id: String,
    json: Vec<u8>,
}

/// The legacy layer directories of an image, as moby's v20.10 `saveImage`
/// names them: `v1.CreateID` over a v1 image JSON, the layer's chain ID and
/// the previous directory's ID. Directories below the top one use docker's
/// fixed v1 image (created at the epoch, empty container config), so their
/// IDs match docker's; the top one uses the config's v1 fields.
fn v1_layers(config: &serde_json::Value, diff_ids: &[String]) -> Result<Vec<V1Layer>> {
    let chains = chain_ids(diff_ids);
    let os = config
        .get("os")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("linux");
    let os_json = json_string(os)?;
    let mut out: Vec<V1Layer> = Vec::with_capacity(chains.len());
    for (i, chain) in chains.iter().enumerate() {
        let parent = out.last().map(|l| l.id.clone());
        let top = i + 1 == chains.len();
        // The fields of the v1 image, in V1Image's field order, without id/parent.
        let mut fields: Vec<(&str, String)> = Vec::new();
        if top {
            for key in V1_IMAGE_KEYS {
                let value = match config.get(key) {
                    Some(serde_json::Value::Null) | None => match key {
                        "created" => Some("\"0001-01-01T00:00:00Z\"".to_owned()),
                        "container_config" => Some(ZERO_CONTAINER_CONFIG.to_owned()),
                        _ => None,
                    },
                    Some(serde_json::Value::String(s)) if s.is_empty() && key != "created" => None,
                    Some(v) => Some(
                        serde_json::to_string(v)
                            .map_err(|e| ImageError::backend("serializing a layer json", e))?,
                    ),
                };
                if let Some(value) = value {
                    fields.push((key, value));
                }
            }
        } else {
            fields.push(("created", json_string(V1_EPOCH)?));
            fields.push(("container_config", ZERO_CONTAINER_CONFIG.to_owned()));
        }
        // v1.CreateID: the v1 image as a map plus layer_id and parent, keys sorted.
        let mut id_fields: BTreeMap<&str, String> =
            fields.iter().map(|(k, v)| (*k, v.clone())).collect();
        id_fields.insert("layer_id", json_string(chain)?);
        if let Some(parent) = &parent {
            id_fields.insert("parent", json_string(&format!("sha256:{parent}"))?);
        }
        let id_json = render_object(id_fields.iter().map(|(k, v)| (*k, v.as_str())))?;
        let id = hex::encode(Sha256::digest(id_json.as_bytes()));

        // The layer's json file: the v1 image with id, parent and os set.
        let mut json_fields: Vec<(&str, String)> = vec![("id", json_string(&id)?)];
        if let Some(parent) = &parent {
            json_fields.push(("parent", json_string(parent)?));
        }
        json_fields.extend(fields.into_iter().filter(|(k, _)| *k != "os"));
        json_fields.push(("os", os_json.clone()));
        let json = render_object(json_fields.iter().map(|(k, v)| (*k, v.as_str())))?;
        out.push(V1Layer {
            id,
            json: json.into_bytes(),
        });
    }
    Ok(out)
}

fn json_string(s: &str) -> Result<String> {
    serde_json::to_string(s).map_err(|e| ImageError::backend("serializing a string", e))
}

/// `{"k":v,...}` from keys and already-encoded JSON values, in the given order.
fn render_object<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Result<String> {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(k)?);
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    Ok(out)
}

/// Writes images as one legacy `docker save` archive.
///
/// The layout is docker 20.10's, which every docker version loads:
/// `<config-hex>.json` per image, a `<v1-id>/` directory per layer with
/// `VERSION` (`1.0`), `json` (the v1 image) and `layer.tar` (a symlink to
/// the first copy when another directory already holds the same layer),
/// `manifest.json` (`[{"Config","RepoTags","Layers"}]`) and `repositories`
/// (`{name: {tag: top-v1-id}}`). An image given several times (same ID) is
/// written once with the union of its tags. The output is deterministic.
///
/// Fails with [`ImageError::InvalidArgument`] when a config is not an image
/// config, when an image's layers do not match its `rootfs.diff_ids`, when
/// a repo tag is not `name:tag`, or when two different images claim the
/// same repo tag.
pub fn write_archive(images: &[ArchiveImage]) -> Result<Vec<u8>> {
    // Merge images given more than once.
    let mut order: Vec<&ArchiveImage> = Vec::new();
    let mut tags_by_id: HashMap<String, Vec<String>> = HashMap::new();
    let mut owner_of_tag: HashMap<&str, String> = HashMap::new();
    for image in images {
        let id = image.id();
        if !tags_by_id.contains_key(&id) {
            order.push(image);
        }
        let tags = tags_by_id.entry(id.clone()).or_default();
        for tag in &image.repo_tags {
            if split_repo_tag(tag).is_none() {
                return Err(ImageError::invalid_argument(format!(
                    "image {id}: repo tag {tag:?} is not of the form name:tag"
                )));
            }
            match owner_of_tag.get(tag.as_str()) {
                Some(owner) if *owner != id => {
                    return Err(ImageError::invalid_argument(format!(
                        "repo tag {tag:?} is given to two images, {owner} and {id}"
                    )));
                }
                Some(_) => {}
                None => {
                    owner_of_tag.insert(tag, id.clone());
                }
            }
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
    }

    let mut entries: BTreeMap<String, OutEntry> = BTreeMap::new();
    let mut manifest: Vec<ManifestItem> = Vec::with_capacity(order.len());
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut layer_path_of: HashMap<String, String> = HashMap::new();
    let mut saved_dirs: HashSet<String> = HashSet::new();

    for image in order {
        let id = image.id();
        let hex_id = id.trim_start_matches("sha256:").to_owned();
        let parsed = image.parsed_config()?;
        let actual = image.diff_ids();
        if parsed.rootfs.diff_ids.len() != actual.len() {
            return Err(ImageError::invalid_argument(format!(
                "image {id}: its config lists {} diff IDs but it has {} layers",
                parsed.rootfs.diff_ids.len(),
                actual.len()
            )));
        }
        for (i, (want, got)) in parsed.rootfs.diff_ids.iter().zip(&actual).enumerate() {
            if !want.eq_ignore_ascii_case(got) {
                return Err(ImageError::invalid_argument(format!(
                    "image {id}: layer {i} has diff ID {got}, but its config says {want}"
                )));
            }
        }
        let config_value: serde_json::Value = serde_json::from_slice(&image.config)
            .map_err(|e| ImageError::invalid_argument(format!("image {id}: {e}")))?;
        let v1 = v1_layers(&config_value, &actual)?;

        let mut layer_paths = Vec::with_capacity(v1.len());
        for ((layer, diff_id), data) in v1.into_iter().zip(&actual).zip(&image.layers) {
            let tar_path = format!("{}/layer.tar", layer.id);
            if saved_dirs.insert(layer.id.clone()) {
                entries.insert(format!("{}/", layer.id), OutEntry::Dir);
                entries.insert(
                    format!("{}/VERSION", layer.id),
                    OutEntry::File(b"1.0".to_vec()),
                );
                entries.insert(format!("{}/json", layer.id), OutEntry::File(layer.json));
                let content = match layer_path_of.get(diff_id) {
                    Some(first) => OutEntry::Symlink(format!("../{first}")),
                    None => {
                        layer_path_of.insert(diff_id.clone(), tar_path.clone());
                        OutEntry::File(data.clone())
                    }
                };
                entries.insert(tar_path.clone(), content);
            }
            layer_paths.push(tar_path);
        }

        let tags = tags_by_id.remove(&id).unwrap_or_default();
        if let Some(top) = layer_paths.last().and_then(|p| p.split('/').next()) {
            for tag in &tags {
                if let Some((name, t)) = split_repo_tag(tag) {
                    repositories
                        .entry(name.to_owned())
                        .or_default()
                        .insert(t.to_owned(), top.to_owned());
                }
            }
        }
        entries.insert(
            format!("{hex_id}.json"),
            OutEntry::File(image.config.clone()),
        );
        manifest.push(ManifestItem {
            config: format!("{hex_id}.json"),
            repo_tags: tags,
            layers: layer_paths,
        });
    }

    // Go's json.Encoder: compact, newline-terminated; nil RepoTags as null.
    let manifest_json: Vec<serde_json::Value> = manifest
        .iter()
        .map(|m| {
            serde_json::json!({
                "Config": m.config,
                "RepoTags": if m.repo_tags.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::json!(m.repo_tags)
                },
                "Layers": m.layers,
            })
        })
        .collect();
    let mut manifest_bytes = render_manifest(&manifest_json)?;
    manifest_bytes.push(b'\n');
    entries.insert("manifest.json".to_owned(), OutEntry::File(manifest_bytes));
    if !repositories.is_empty() {
        let mut repos = serde_json::to_vec(&repositories)
            .map_err(|e| ImageError::backend("serializing repositories", e))?;
        repos.push(b'\n');
        entries.insert("repositories".to_owned(), OutEntry::File(repos));
    }

    write_tar(&entries, 0).map_err(|e| ImageError::backend("writing the archive", e))
}

/// `manifest.json` with each item's keys in docker's order (Config,
/// RepoTags, Layers), which serde_json's sorted maps would not keep.
fn render_manifest(items: &[serde_json::Value]) -> Result<Vec<u8>> {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut fields = Vec::with_capacity(3);
        for key in ["Config", "RepoTags", "Layers"] {
            let value = item.get(key).unwrap_or(&serde_json::Value::Null);
            let encoded = serde_json::to_string(value)
                .map_err(|e| ImageError::backend("serializing manifest.json", e))?;
            fields.push((key, encoded));
        }
        out.push_str(&render_object(
            fields.iter().map(|(k, v)| (*k, v.as_str())),
        )?);
    }
    out.push(']');
    Ok(out.into_bytes())
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The default creation time of fixtures, 2024-01-01T00:00:00Z.
fn default_created() -> DateTime<Utc> {
    DateTime::from_timestamp(FIXTURE_MTIME, 0).unwrap_or_default()
}

/// A layer tar holding one regular file at `path` (and its parent
/// directories), root-owned, mode 0644 (directories 0755), with a fixed
/// mtime: the same inputs always give the same bytes.
///
/// Fails with [`ImageError::InvalidArgument`] when `path` is empty or has
/// `.` or `..` components.
pub fn layer_tar_with_file(path: &str, contents: &[u8]) -> Result<Vec<u8>> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if components.is_empty() || components.iter().any(|c| *c == "." || *c == "..") {
        return Err(ImageError::invalid_argument(format!(
            "fixture file path {path:?} must be non-empty and have no . or .. components"
        )));
    }
    let mut entries = BTreeMap::new();
    for depth in 1..components.len() {
        let dir = components.get(..depth).unwrap_or_default().join("/");
        entries.insert(format!("{dir}/"), OutEntry::Dir);
    }
    entries.insert(components.join("/"), OutEntry::File(contents.to_vec()));
    write_tar(&entries, FIXTURE_MTIME as u64)
        .map_err(|e| ImageError::invalid_argument(format!("fixture file path {path:?}: {e}")))
}

/// A builder of deterministic fixture images.
///
/// The same calls always give the same config bytes, hence the same image
/// ID. The config has everything `docker load` (20.10 and 26.x) requires:
/// `architecture` and `os` (default `linux`/`amd64`), `created` (default
/// 2024-01-01T00:00:00Z), `config` (default `Cmd` `["/bin/true"]`, so that
/// `docker create` works), `rootfs` with the layers' diff IDs and one
/// `history` entry per layer. [`on_top_of`](Self::on_top_of) starts from
/// another image: its layers and history come first, unchanged, and its
/// runtime config is inherited (labels and env are merged, own values win).
///
/// ```
/// use image_core::archive::FixtureImage;
///
/// let base = FixtureImage::new("base")
///     .layer_with_file("/etc/os-release", b"ID=fixture\n")
///     .tag("fixture/base:1")
///     .build()?;
/// let app = FixtureImage::new("app")
///     .on_top_of(&base)
///     .layer_with_file("/app/hello.txt", b"hello")
///     .label("org.example.role", "app")
///     .build()?;
/// assert_eq!(app.diff_ids()[0], base.diff_ids()[0]);
/// # Ok::<(), image_core::ImageError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FixtureImage {
    name: String,
    base: Option<(ImageConfigFile, Vec<Vec<u8>>)>,
    layers: Vec<(Vec<u8>, String)>,
    labels: BTreeMap<String, String>,
    env: Vec<String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    user: Option<String>,
    working_dir: Option<String>,
    exposed_ports: BTreeSet<String>,
    volumes: BTreeSet<String>,
    stop_signal: Option<String>,
    created: Option<DateTime<Utc>>,
    architecture: Option<String>,
    os: Option<String>,
    variant: Option<String>,
    author: Option<String>,
    comment: Option<String>,
    repo_tags: Vec<String>,
    error: Option<String>,
}

impl FixtureImage {
    /// A fixture with no layers yet; `name` appears in the history of the
    /// layers it adds, so fixtures with different names differ.
    pub fn new(name: &str) -> Self {
        FixtureImage {
            name: name.to_owned(),
            base: None,
            layers: Vec::new(),
            labels: BTreeMap::new(),
            env: Vec::new(),
            cmd: None,
            entrypoint: None,
            user: None,
            working_dir: None,
            exposed_ports: BTreeSet::new(),
            volumes: BTreeSet::new(),
            stop_signal: None,
            created: None,
            architecture: None,
            os: None,
            variant: None,
            author: None,
            comment: None,
            repo_tags: Vec::new(),
            error: None,
        }
    }

    fn history_suffix(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!(" # {}", self.name)
        }
    }

    /// Adds a layer holding one regular file (see [`layer_tar_with_file`]);
    /// its history reads `/bin/sh -c #(nop) ADD file:<sha256 of contents> in /<path> # <name>`.
    pub fn layer_with_file(mut self, path: &str, contents: &[u8]) -> Self {
        match layer_tar_with_file(path, contents) {
            Ok(tar) => {
                let created_by = format!(
                    "/bin/sh -c #(nop) ADD file:{} in /{}{}",
                    hex::encode(Sha256::digest(contents)),
                    path.trim_start_matches('/'),
                    self.history_suffix()
                );
                self.layers.push((tar, created_by));
            }
            Err(e) => {
                self.error.get_or_insert(e.to_string());
            }
        }
        self
    }

    /// Adds a raw layer (an uncompressed tar); its history reads
    /// `/bin/sh -c #(nop) ADD file:<diff ID hex> in / # <name>`.
    pub fn layer(mut self, tar_bytes: Vec<u8>) -> Self {
        let created_by = format!(
            "/bin/sh -c #(nop) ADD file:{} in /{}",
            hex::encode(Sha256::digest(&tar_bytes)),
            self.history_suffix()
        );
        self.layers.push((tar_bytes, created_by));
        self
    }

    /// Builds on `base`: its layers and history come first, and its runtime
    /// config, platform and creation time are the defaults.
    pub fn on_top_of(mut self, base: &ArchiveImage) -> Self {
        match base.parsed_config() {
            Ok(config) => self.base = Some((config, base.layers.clone())),
            Err(e) => {
                self.error.get_or_insert(e.to_string());
            }
        }
        self
    }

    /// Sets a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Adds an environment variable, `KEY=value`; a later one with the same
    /// key replaces an earlier (or inherited) one.
    pub fn env(mut self, key_value: &str) -> Self {
        self.env.push(key_value.to_owned());
        self
    }

    /// Sets the command (default `["/bin/true"]`).
    pub fn cmd<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cmd = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the entrypoint.
    pub fn entrypoint<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entrypoint = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the user.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// Sets the working directory.
    pub fn working_dir(mut self, dir: &str) -> Self {
        self.working_dir = Some(dir.to_owned());
        self
    }

    /// Exposes a port, `port/proto` (for example `80/tcp`).
    pub fn expose(mut self, port: &str) -> Self {
        self.exposed_ports.insert(port.to_owned());
        self
    }

    /// Declares a volume.
    pub fn volume(mut self, path: &str) -> Self {
        self.volumes.insert(path.to_owned());
        self
    }

    /// Sets the stop signal.
    pub fn stop_signal(mut self, signal: &str) -> Self {
        self.stop_signal = Some(signal.to_owned());
        self
    }

    /// Sets the creation time (of the image and of the history entries of
    /// the layers this fixture adds).
    pub fn created(mut self, t: DateTime<Utc>) -> Self {
        self.created = Some(t);
        self
    }

    /// Sets the architecture (default `amd64`).
    pub fn architecture(mut self, arch: &str) -> Self {
        self.architecture = Some(arch.to_owned());
        self
    }

    /// Sets the operating system (default `linux`).
    pub fn os(mut self, os: &str) -> Self {
        self.os = Some(os.to_owned());
        self
    }

    /// Sets the architecture variant (for example `v8`).
    pub fn variant(mut self, variant: &str) -> Self {
        self.variant = Some(variant.to_owned());
        self
    }

    /// Sets the author.
    pub fn author(mut self, author: &str) -> Self {
        self.author = Some(author.to_owned());
        self
    }

    /// Sets docker's top-level commit comment.
    pub fn comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.to_owned());
        self
    }

    /// Adds a repo tag, `name:tag`, for `manifest.json`.
    pub fn tag(mut self, repo_tag: &str) -> Self {
        self.repo_tags.push(repo_tag.to_owned());
        self
    }

    /// Builds the image.
    ///
    /// Fails with [`ImageError::InvalidArgument`] when a file path given to
    /// [`layer_with_file`](Self::layer_with_file) was invalid or the base
    /// image's config could not be parsed.
    pub fn build(self) -> Result<ArchiveImage> {
        if let Some(message) = self.error {
            return Err(ImageError::invalid_argument(message));
        }
        let (base_config, base_layers) = match self.base {
            Some((config, layers)) => (Some(config), layers),
            None => (None, Vec::new()),
        };
        let nonempty = |s: &String| !s.is_empty();
        let created = self.created.unwrap_or_else(|| {
            let default = default_created();
            base_config
                .as_ref()
                .and_then(|c| c.created)
                .map_or(default, |t| t.max(default))
        });
        let architecture = self
            .architecture
            .or_else(|| {
                base_config
                    .as_ref()
                    .map(|c| c.architecture.clone())
                    .filter(nonempty)
            })
            .unwrap_or_else(|| "amd64".to_owned());
        let os = self
            .os
            .or_else(|| base_config.as_ref().map(|c| c.os.clone()).filter(nonempty))
            .unwrap_or_else(|| "linux".to_owned());
        let variant = self
            .variant
            .or_else(|| base_config.as_ref().and_then(|c| c.variant.clone()))
            .filter(nonempty);

        let mut history = base_config
            .as_ref()
            .map(|c| c.history.clone())
            .unwrap_or_default();
        let mut config = base_config.map(|c| c.config).unwrap_or_default();

        for kv in self.env {
            let key = kv
                .split_once('=')
                .map_or(kv.as_str(), |(k, _)| k)
                .to_owned();
            config
                .env
                .retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            config.env.push(kv);
        }
        config.labels.extend(self.labels);
        config
            .exposed_ports
            .extend(self.exposed_ports.into_iter().map(|p| (p, EmptyObject {})));
        config
            .volumes
            .extend(self.volumes.into_iter().map(|v| (v, EmptyObject {})));
        if let Some(user) = self.user {
            config.user = user;
        }
        if let Some(dir) = self.working_dir {
            config.working_dir = dir;
        }
        if let Some(signal) = self.stop_signal {
            config.stop_signal = signal;
        }
        if let Some(entrypoint) = self.entrypoint {
            config.entrypoint = entrypoint;
        }
        match self.cmd {
            Some(cmd) => config.cmd = cmd,
            None if config.cmd.is_empty() && config.entrypoint.is_empty() => {
                config.cmd = vec![DEFAULT_CMD.to_owned()];
            }
            None => {}
        }

        let mut layers = base_layers;
        for (tar, created_by) in self.layers {
            history.push(HistoryItem {
                created: Some(created),
                created_by,
                ..HistoryItem::default()
            });
            layers.push(tar);
        }
        let diff_ids = layers.iter().map(|l| sha256_digest(l)).collect();

        let file = ImageConfigFile {
            architecture,
            author: self.author.unwrap_or_default(),
            comment: self.comment.unwrap_or_default(),
            config,
            created: Some(created),
            docker_version: String::new(),
            history,
            os,
            os_version: String::new(),
            parent: String::new(),
            rootfs: RootFsSection {
                kind: "layers".to_owned(),
                diff_ids,
            },
            variant,
        };
        Ok(ArchiveImage {
            config: file.to_json()?,
            repo_tags: self.repo_tags,
            layers,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use proptest::prelude::*;

    fn base() -> ArchiveImage {
        FixtureImage::new("base")
            .layer_with_file("/etc/os-release", b"ID=fixture\n")
            .layer_with_file("usr/share/doc/readme", b"read me")
            .tag("fixture/base:1")
            .build()
            .unwrap()
    }

    fn derived(base: &ArchiveImage) -> ArchiveImage {
        FixtureImage::new("app")
            .on_top_of(base)
            .layer_with_file("/app/hello.txt", b"hello")
            .label("role", "app")
            .env("A=1")
            .tag("fixture/app:latest")
            .tag("127.0.0.1:5000/app:v1")
            .build()
            .unwrap()
    }

    /// Builds a tar from (path, entry) pairs in the given order.
    fn tar_of(entries: Vec<(&str, OutEntry)>) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, entry) in entries {
            let mut header = tar::Header::new_ustar();
            match entry {
                OutEntry::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    builder
                        .append_data(&mut header, path, std::io::empty())
                        .unwrap();
                }
                OutEntry::File(data) => {
                    header.set_size(data.len() as u64);
                    header.set_mode(0o644);
                    builder
                        .append_data(&mut header, path, data.as_slice())
                        .unwrap();
                }
                OutEntry::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn tar_names(bytes: &[u8]) -> Vec<(String, tar::EntryType)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    fn tar_file(bytes: &[u8], name: &str) -> Vec<u8> {
        let mut archive = tar::Archive::new(bytes);
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path_bytes().as_ref() == name.as_bytes() {
                let mut out = Vec::new();
                e.read_to_end(&mut out).unwrap();
                return out;
            }
        }
        panic!("{name} not in archive");
    }

    /// Rebuilds a (symlink-free) archive with the entry `skip` dropped and
    /// the entry `replace.0`'s contents replaced.
    fn rebuild(good: &[u8], skip: &str, replace: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut archive = tar::Archive::new(good);
        let mut entries: Vec<(String, OutEntry)> = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            if name == skip {
                continue;
            }
            let entry = if e.header().entry_type().is_dir() {
                OutEntry::Dir
            } else {
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                match replace {
                    Some((n, d)) if n == name => OutEntry::File(d.to_vec()),
                    _ => OutEntry::File(data),
                }
            };
            entries.push((name, entry));
        }
        tar_of(
            entries
                .iter()
                .map(|(n, e)| (n.as_str(), e.clone()))
                .collect(),
        )
    }

    fn assert_invalid(result: Result<Vec<ArchiveImage>>, needle: &str) {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(needle), "{err:?} lacks {needle:?}");
    }

    #[test]
    fn round_trip_preserves_images() {
        let b = base();
        let d = derived(&b);
        let bytes = write_archive(&[b.clone(), d.clone()]).unwrap();
        let read = read_archive(&bytes).unwrap();
        assert_eq!(read, vec![b, d]);
    }

    #[test]
    fn ids_and_diff_ids_are_hashes() {
        let b = base();
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(&b.config)));
        assert_eq!(b.id(), expected);
        let cfg = b.parsed_config().unwrap();
        assert_eq!(cfg.rootfs.kind, "layers");
        assert_eq!(cfg.rootfs.diff_ids, b.diff_ids());
        for (layer, diff_id) in b.layers.iter().zip(b.diff_ids()) {
            assert_eq!(
                diff_id,
                format!("sha256:{}", hex::encode(Sha256::digest(layer)))
            );
        }
    }

    #[test]
    fn fixtures_are_deterministic_and_complete() {
        assert_eq!(base(), base());
        let b = base();
        let cfg = b.parsed_config().unwrap();
        assert_eq!(cfg.architecture, "amd64");
        assert_eq!(cfg.os, "linux");
        assert_eq!(cfg.config.cmd, vec!["/bin/true"]);
        assert_eq!(cfg.created, Some(default_created()));
        assert_eq!(cfg.history.len(), 2);
        assert!(
            cfg.history[0]
                .created_by
                .starts_with("/bin/sh -c #(nop) ADD file:")
        );
        assert!(
            cfg.history[0]
                .created_by
                .contains("in /etc/os-release # base")
        );
        // Top-level keys sorted like docker's configs; PascalCase inside config.
        let text = String::from_utf8(b.config.clone()).unwrap();
        assert!(text.starts_with(r#"{"architecture":"amd64","config":{"Cmd":["/bin/true"]},"created":"2024-01-01T00:00:00Z","history":["#), "{text}");
        assert!(text.contains(r#""os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:"#));

        // Names make otherwise identical fixtures distinct.
        let other = FixtureImage::new("other")
            .layer_with_file("/etc/os-release", b"ID=fixture\n")
            .build()
            .unwrap();
        let same_layer = FixtureImage::new("base")
            .layer_with_file("/etc/os-release", b"ID=fixture\n")
            .build()
            .unwrap();
        assert_ne!(other.id(), same_layer.id());
        assert_eq!(other.diff_ids(), same_layer.diff_ids());
    }

    #[test]
    fn layer_tars_are_plain_deterministic_tars() {
        let tar = layer_tar_with_file("/a/b/c.txt", b"xyz").unwrap();
        assert_eq!(tar, layer_tar_with_file("a/b/c.txt", b"xyz").unwrap());
        assert_eq!(tar.len() % 512, 0);
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.mtime().unwrap(), FIXTURE_MTIME as u64);
            assert!(h.as_ustar().is_some());
            let mode = h.mode().unwrap();
            if h.entry_type().is_dir() {
                assert_eq!(mode, 0o755);
            } else {
                assert_eq!(mode, 0o644);
            }
            seen.push(String::from_utf8(e.path_bytes().into_owned()).unwrap());
        }
        assert_eq!(seen, vec!["a/", "a/b/", "a/b/c.txt"]);
        assert_eq!(tar_file(&tar, "a/b/c.txt"), b"xyz");
        for bad in ["", "/", "a/../b", "./a"] {
            assert!(layer_tar_with_file(bad, b"").is_err(), "{bad:?}");
        }
        let err = FixtureImage::new("x")
            .layer_with_file("../x", b"")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn derived_fixtures_share_base_layers_and_history() {
        let b = base();
        let d = derived(&b);
        let other = FixtureImage::new("other")
            .on_top_of(&b)
            .layer_with_file("/other", b"other")
            .build()
            .unwrap();
        assert_eq!(d.diff_ids()[..2], b.diff_ids()[..]);
        assert_eq!(other.diff_ids()[..2], b.diff_ids()[..]);
        assert_ne!(d.diff_ids()[2], other.diff_ids()[2]);
        let (bc, dc) = (b.parsed_config().unwrap(), d.parsed_config().unwrap());
        assert_eq!(dc.history.len(), 3);
        assert_eq!(dc.history[..2], bc.history[..]);
        assert!(dc.history[2].created_by.ends_with("# app"));
        assert_eq!(
            dc.config.labels.get("role").map(String::as_str),
            Some("app")
        );
        assert_eq!(dc.config.env, vec!["A=1"]);
        assert_eq!(dc.config.cmd, vec!["/bin/true"]);

        // Inheritance: env merges by key, labels overlay, cmd inherited.
        let e = FixtureImage::new("e")
            .on_top_of(&d)
            .env("A=2")
            .env("B=3")
            .label("tier", "x")
            .build()
            .unwrap();
        let ec = e.parsed_config().unwrap();
        assert_eq!(ec.config.env, vec!["A=2", "B=3"]);
        assert_eq!(ec.config.labels.len(), 2);
        assert_eq!(e.layers, d.layers);
    }

    #[test]
    fn builder_options_land_in_the_config() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let img = FixtureImage::new("opts")
            .layer(layer_tar_with_file("f", b"1").unwrap())
            .cmd(["sh", "-c", "echo hi"])
            .entrypoint(["/entry"])
            .user("1000")
            .working_dir("/work")
            .expose("80/tcp")
            .volume("/data")
            .stop_signal("SIGINT")
            .created(t)
            .architecture("arm64")
            .variant("v8")
            .os("linux")
            .author("me")
            .comment("hello")
            .build()
            .unwrap();
        let c = img.parsed_config().unwrap();
        assert_eq!(c.created, Some(t));
        assert_eq!(c.history[0].created, Some(t));
        assert_eq!(c.platform().to_string(), "linux/arm64/v8");
        assert_eq!((c.author.as_str(), c.comment.as_str()), ("me", "hello"));
        let ic = ImageConfig::from(&c.config);
        assert_eq!(ic.cmd, vec!["sh", "-c", "echo hi"]);
        assert_eq!(ic.entrypoint, vec!["/entry"]);
        assert_eq!(ic.user, "1000");
        assert_eq!(ic.working_dir, "/work");
        assert!(ic.exposed_ports.contains_key("80/tcp"));
        assert!(ic.volumes.contains_key("/data"));
        assert_eq!(ic.stop_signal, "SIGINT");
        assert_eq!(RootFs::from(&c.rootfs).layers, img.diff_ids());
    }

    #[test]
    fn written_archives_have_the_legacy_layout() {
        let b = base();
        let d = derived(&b);
        let bytes = write_archive(&[b.clone(), d.clone()]).unwrap();
        let names = tar_names(&bytes);
        assert!(
            !names
                .iter()
                .any(|(n, _)| n.starts_with("./") || n.starts_with('/'))
        );

        let manifest: serde_json::Value =
            serde_json::from_slice(&tar_file(&bytes, "manifest.json")).unwrap();
        let items = manifest.as_array().unwrap();
        assert_eq!(items.len(), 2);
        let raw_manifest = String::from_utf8(tar_file(&bytes, "manifest.json")).unwrap();
        assert!(
            raw_manifest.starts_with(r#"[{"Config":""#),
            "{raw_manifest}"
        );
        assert!(raw_manifest.ends_with("]\n"));
        for (item, image) in items.iter().zip([&b, &d]) {
            let hex = image.id().trim_start_matches("sha256:").to_owned();
            assert_eq!(item["Config"], format!("{hex}.json"));
            assert_eq!(tar_file(&bytes, &format!("{hex}.json")), image.config);
            let layers = item["Layers"].as_array().unwrap();
            assert_eq!(layers.len(), image.layers.len());
            let mut parent: Option<String> = None;
            for layer in layers {
                let path = layer.as_str().unwrap();
                let dir = path.strip_suffix("/layer.tar").unwrap();
                assert_eq!(dir.len(), 64);
                assert_eq!(tar_file(&bytes, &format!("{dir}/VERSION")), b"1.0");
                let json: serde_json::Value =
                    serde_json::from_slice(&tar_file(&bytes, &format!("{dir}/json"))).unwrap();
                assert_eq!(json["id"], dir);
                assert_eq!(json["os"], "linux");
                match &parent {
                    Some(p) => assert_eq!(&json["parent"], p.as_str()),
                    None => assert!(json.get("parent").is_none()),
                }
                parent = Some(dir.to_owned());
            }
        }
        // Shared base directories are written once; the base's top layer
        // (a different v1 ID in the derived image) becomes a symlink.
        let base_layers: Vec<&str> = items[0]["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let derived_layers: Vec<&str> = items[1]["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(base_layers[0], derived_layers[0]);
        assert_ne!(base_layers[1], derived_layers[1]);
        let link = derived_layers[1];
        assert!(
            names
                .iter()
                .any(|(n, t)| n == link && *t == tar::EntryType::Symlink),
            "{names:?}"
        );
        let mut archive = tar::Archive::new(bytes.as_slice());
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            if e.path_bytes().as_ref() == link.as_bytes() {
                let target = e.link_name_bytes().unwrap().into_owned();
                assert_eq!(target, format!("../{}", base_layers[1]).into_bytes());
            }
        }
        // repositories: name -> tag -> top layer directory.
        let repos: serde_json::Value =
            serde_json::from_slice(&tar_file(&bytes, "repositories")).unwrap();
        let top = |layers: &[&str]| layers.last().unwrap().split('/').next().unwrap().to_owned();
        assert_eq!(repos["fixture/base"]["1"], top(&base_layers));
        assert_eq!(repos["fixture/app"]["latest"], top(&derived_layers));
        assert_eq!(repos["127.0.0.1:5000/app"]["v1"], top(&derived_layers));
        // Deterministic.
        assert_eq!(bytes, write_archive(&[b, d]).unwrap());
    }

    #[test]
    fn non_top_v1_ids_follow_docker_create_id() {
        // Recompute docker's v1.CreateID for the first of two layers by hand.
        let b = base();
        let bytes = write_archive(std::slice::from_ref(&b)).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&tar_file(&bytes, "manifest.json")).unwrap();
        let first = manifest[0]["Layers"][0].as_str().unwrap();
        let diff0 = &b.diff_ids()[0];
        let expected_json = format!(
            r#"{{"container_config":{ZERO_CONTAINER_CONFIG},"created":"1970-01-01T00:00:00Z","layer_id":"{diff0}"}}"#
        );
        let expected = hex::encode(Sha256::digest(expected_json.as_bytes()));
        assert_eq!(first, format!("{expected}/layer.tar"));
    }

    #[test]
    fn duplicate_images_merge_and_conflicting_tags_fail() {
        let b = base();
        let mut again = b.clone();
        again.repo_tags = vec!["fixture/base:2".into(), "fixture/base:1".into()];
        let bytes = write_archive(&[b.clone(), again]).unwrap();
        let read = read_archive(&bytes).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].repo_tags, vec!["fixture/base:1", "fixture/base:2"]);

        let mut other = derived(&b);
        other.repo_tags = vec!["fixture/base:1".into()];
        let err = write_archive(&[b.clone(), other]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);

        let mut untagged = b.clone();
        untagged.repo_tags = vec!["fixture/base".into()];
        assert!(write_archive(&[untagged]).is_err());

        let mut bad = b.clone();
        bad.layers.pop();
        let err = write_archive(&[bad]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn untagged_images_write_null_repo_tags() {
        let mut b = base();
        b.repo_tags.clear();
        let bytes = write_archive(std::slice::from_ref(&b)).unwrap();
        let raw = String::from_utf8(tar_file(&bytes, "manifest.json")).unwrap();
        assert!(raw.contains(r#""RepoTags":null"#), "{raw}");
        assert!(!tar_names(&bytes).iter().any(|(n, _)| n == "repositories"));
        assert_eq!(read_archive(&bytes).unwrap(), vec![b]);
    }

    #[test]
    fn empty_archives_round_trip() {
        let bytes = write_archive(&[]).unwrap();
        assert_eq!(read_archive(&bytes).unwrap(), vec![]);
    }

    /// An archive as docker 25+ writes it: OCI layout plus manifest.json.
    fn oci_archive(image: &ArchiveImage) -> Vec<u8> {
        let config_hex = image.id().trim_start_matches("sha256:").to_owned();
        let layer_paths: Vec<String> = image
            .diff_ids()
            .iter()
            .map(|d| format!("blobs/sha256/{}", d.trim_start_matches("sha256:")))
            .collect();
        let oci_manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": image.id(),
                "size": image.config.len(),
            },
            "layers": image.layers.iter().map(|l| serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha256_digest(l),
                "size": l.len(),
            })).collect::<Vec<_>>(),
        });
        let oci_manifest = serde_json::to_vec(&oci_manifest).unwrap();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256_digest(&oci_manifest),
                "size": oci_manifest.len(),
                "annotations": {
                    "io.containerd.image.name": "docker.io/fixture/base:1",
                    "org.opencontainers.image.ref.name": "1",
                },
            }],
        });
        let manifest = serde_json::json!([{
            "Config": format!("blobs/sha256/{config_hex}"),
            "RepoTags": image.repo_tags,
            "Layers": layer_paths,
        }]);
        let manifest_path = format!(
            "blobs/sha256/{}",
            sha256_digest(&oci_manifest).trim_start_matches("sha256:")
        );
        let config_path = format!("blobs/sha256/{config_hex}");
        let mut entries = vec![
            ("blobs/", OutEntry::Dir),
            ("blobs/sha256/", OutEntry::Dir),
            (config_path.as_str(), OutEntry::File(image.config.clone())),
            (manifest_path.as_str(), OutEntry::File(oci_manifest.clone())),
        ];
        for (path, layer) in layer_paths.iter().zip(&image.layers) {
            entries.push((path.as_str(), OutEntry::File(layer.clone())));
        }
        let index = serde_json::to_vec(&index).unwrap();
        let manifest = serde_json::to_vec(&manifest).unwrap();
        entries.push(("index.json", OutEntry::File(index)));
        entries.push(("manifest.json", OutEntry::File(manifest)));
        entries.push((
            "oci-layout",
            OutEntry::File(br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()),
        ));
        tar_of(entries)
    }

    #[test]
    fn reads_the_oci_layout_docker_25_writes() {
        let b = base();
        let bytes = oci_archive(&b);
        assert_eq!(read_archive(&bytes).unwrap(), vec![b]);
    }

    #[test]
    fn oci_layout_without_manifest_json_is_explained() {
        let b = base();
        let config_hex = b.id().trim_start_matches("sha256:").to_owned();
        let bytes = tar_of(vec![
            ("index.json", OutEntry::File(b"{}".to_vec())),
            (
                "oci-layout",
                OutEntry::File(br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()),
            ),
            (
                &format!("blobs/sha256/{config_hex}"),
                OutEntry::File(b.config.clone()),
            ),
        ]);
        assert_invalid(read_archive(&bytes), "manifest.json");
        assert_invalid(read_archive(&bytes), "OCI layouts");
    }

    #[test]
    fn links_resolve_inside_the_archive() {
        let b = FixtureImage::new("l")
            .layer_with_file("f", b"1")
            .build()
            .unwrap();
        let hex = b.id().trim_start_matches("sha256:").to_owned();
        let layer = b.layers[0].clone();
        let manifest = serde_json::json!([{
            "Config": "./cfg/../config.json",
            "RepoTags": ["l:1"],
            "Layers": ["dir/layer.tar"],
        }]);
        let bytes = tar_of(vec![
            ("real/layer.tar", OutEntry::File(layer)),
            (
                "dir/layer.tar",
                OutEntry::Symlink("../alias/layer.tar".into()),
            ),
            ("alias", OutEntry::Symlink("/real".into())),
            (&format!("{hex}.json"), OutEntry::File(b.config.clone())),
            ("config.json", OutEntry::Symlink(format!("{hex}.json"))),
            (
                "manifest.json",
                OutEntry::File(serde_json::to_vec(&manifest).unwrap()),
            ),
        ]);
        let read = read_archive(&bytes).unwrap();
        assert_eq!(read[0].id(), b.id());
        assert_eq!(read[0].layers, b.layers);

        // A loop and an escape.
        let manifest = serde_json::json!([{"Config": "a", "RepoTags": null, "Layers": []}]);
        let looped = tar_of(vec![
            ("a", OutEntry::Symlink("b".into())),
            ("b", OutEntry::Symlink("a".into())),
            (
                "manifest.json",
                OutEntry::File(serde_json::to_vec(&manifest).unwrap()),
            ),
        ]);
        assert_invalid(read_archive(&looped), "\"a\"");
        let manifest = serde_json::json!([{"Config": "../../etc/passwd", "Layers": []}]);
        let escaping = tar_of(vec![(
            "manifest.json",
            OutEntry::File(serde_json::to_vec(&manifest).unwrap()),
        )]);
        assert_invalid(read_archive(&escaping), "outside the archive");
        // A link climbing above the root stays inside (docker's FollowSymlinkInScope).
        let manifest = serde_json::json!([{"Config": "c.json", "Layers": []}]);
        let cfg = FixtureImage::new("n").build().unwrap();
        let climbing = tar_of(vec![
            ("c.json", OutEntry::Symlink("../../../real.json".into())),
            ("real.json", OutEntry::File(cfg.config.clone())),
            (
                "manifest.json",
                OutEntry::File(serde_json::to_vec(&manifest).unwrap()),
            ),
        ]);
        assert_eq!(read_archive(&climbing).unwrap()[0].config, cfg.config);
    }

    #[test]
    fn errors_name_the_offending_file() {
        let b = base();
        let good = write_archive(std::slice::from_ref(&b)).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&tar_file(&good, "manifest.json")).unwrap();
        let config_name = manifest[0]["Config"].as_str().unwrap().to_owned();
        let layer_names: Vec<String> = manifest[0]["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();

        assert_invalid(
            read_archive(b"this is not a tar archive at all, no no no"),
            "tar",
        );
        let mut garbage = vec![0x55u8; 2048];
        garbage[0] = b'x';
        assert_invalid(read_archive(&garbage), "not a docker-save archive");
        assert_invalid(read_archive(&[0x1f, 0x8b, 8, 0, 0, 0]), "gzip-compressed");
        assert_invalid(read_archive(&[]), "manifest.json");

        assert_invalid(
            read_archive(&rebuild(&good, "manifest.json", None)),
            "manifest.json",
        );
        assert_invalid(
            read_archive(&rebuild(&good, &config_name, None)),
            &config_name,
        );
        assert_invalid(
            read_archive(&rebuild(&good, &layer_names[1], None)),
            &layer_names[1],
        );
        let tampered = rebuild(&good, "", Some((&layer_names[1], &b.layers[0])));
        assert_invalid(read_archive(&tampered), &layer_names[1]);
        assert_invalid(read_archive(&tampered), "rootfs.diff_ids[1]");
        let gz = rebuild(
            &good,
            "",
            Some((&layer_names[0], &[0x1f, 0x8b, 8, 0, 1, 2, 3])),
        );
        assert_invalid(read_archive(&gz), "compressed layers are not supported");
        assert_invalid(
            read_archive(&rebuild(&good, "", Some((&config_name, b"{}")))),
            &config_name,
        );
        assert_invalid(
            read_archive(&rebuild(&good, "", Some((&config_name, b"not json")))),
            &config_name,
        );
        assert_invalid(
            read_archive(&rebuild(&good, "", Some(("manifest.json", b"null")))),
            "cannot be null",
        );
        assert_invalid(
            read_archive(&rebuild(&good, "", Some(("manifest.json", b"{")))),
            "manifest.json",
        );
        let short = serde_json::json!([{"Config": config_name, "Layers": [layer_names[0]]}]);
        assert_invalid(
            read_archive(&rebuild(
                &good,
                "",
                Some(("manifest.json", &serde_json::to_vec(&short).unwrap())),
            )),
            "lists 1 layers",
        );
    }

    #[test]
    fn docker_style_configs_parse_leniently() {
        // Shapes real engines write: nulls, string Cmd, nanosecond times,
        // container_config, parent, empty_layer history.
        let json = br#"{
            "architecture": "amd64",
            "config": {"Hostname": "", "Env": null, "Cmd": "echo hi", "Entrypoint": null,
                       "Labels": {"a": "b", "n": null}, "ExposedPorts": {"80/tcp": {}},
                       "Volumes": null, "OnBuild": null, "Image": "sha256:abc"},
            "container": "abc",
            "container_config": {"Cmd": ["/bin/sh"]},
            "created": "2023-05-06T07:08:09.123456789+02:00",
            "docker_version": "20.10.24",
            "history": [{"created": "2023-05-06T05:08:09Z", "created_by": "x"},
                        {"created": "2023-05-06T05:08:09Z", "created_by": "y", "empty_layer": true}],
            "os": "linux",
            "parent": "sha256:def",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:00"]}
        }"#;
        let c = ImageConfigFile::from_json(json).unwrap();
        assert_eq!(c.config.cmd, vec!["echo hi"]);
        assert_eq!(c.config.labels.get("n").map(String::as_str), Some(""));
        assert!(c.config.env.is_empty());
        assert_eq!(c.parent, "sha256:def");
        assert_eq!(c.docker_version, "20.10.24");
        assert!(c.history[1].empty_layer);
        assert_eq!(
            c.created.unwrap().to_rfc3339(),
            "2023-05-06T05:08:09.123456789+00:00"
        );
        assert!(ImageConfigFile::from_json(br#"{"os": "linux"}"#).is_err());
        assert!(ImageConfigFile::from_json(br#"{"rootfs": null}"#).is_err());
    }

    #[test]
    fn truncated_archives_never_panic() {
        let b = FixtureImage::new("t")
            .layer_with_file("f", b"contents")
            .tag("t:1")
            .build()
            .unwrap();
        let bytes = write_archive(&[b]).unwrap();
        for len in 0..bytes.len() {
            match read_archive(&bytes[..len]) {
                Ok(_) => {}
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            if let Err(e) = read_archive(&bytes) {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            }
        }

        #[test]
        fn corrupted_archives_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
        ) {
            let b = FixtureImage::new("c").layer_with_file("f", b"data").tag("c:1").build().unwrap();
            let mut bytes = write_archive(&[b]).unwrap();
            for (index, value) in flips {
                let i = index.index(bytes.len());
                bytes[i] = value;
            }
            if let Err(e) = read_archive(&bytes) {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            }
        }
    }
}
