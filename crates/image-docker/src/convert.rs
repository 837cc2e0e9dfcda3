//! Pure conversions from what the engine sends (bollard models, or raw JSON
//! where bollard 0.21's models drop fields that API 1.41 and 1.45 engines
//! send) to image-core's domain types. No I/O here: every function is
//! unit-tested on JSON recorded from real engines.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    BuildInfo, ContainerSummary, ContainerSummaryStateEnum, CreateImageInfo,
    ImageDeleteResponseItem, ImageHistoryResponseItem, ImageSummary as EngineSummary,
};
use chrono::{DateTime, Utc};
use image_core::{
    ContainerRef, ContainerState, DiskUsage, EmptyObject, HistoryEntry, ImageConfig, ImageDetails,
    ImageSummary, ImageUsage, LayerProgress, LoadReport, ProgressEvent, RemoveAction, RootFs,
};
use serde::Deserialize;

/// A unix timestamp in seconds, `None` for 0 or less (an unknown time).
pub(crate) fn unix_time(seconds: i64) -> Option<DateTime<Utc>> {
    if seconds <= 0 {
        return None;
    }
    DateTime::from_timestamp(seconds, 0)
}

fn size(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn real_tags(tags: Vec<String>) -> Vec<String> {
    tags.into_iter().filter(|t| t != "<none>:<none>").collect()
}

fn real_digests(digests: Vec<String>) -> Vec<String> {
    digests
        .into_iter()
        .filter(|d| d != "<none>@<none>")
        .collect()
}

/// An image of `/images/json`. `containers` comes from the caller, who
/// counted them, because engines before API 1.42 report -1.
pub(crate) fn summary(image: EngineSummary, containers: u64) -> ImageSummary {
    ImageSummary {
        id: image.id,
        repo_tags: real_tags(image.repo_tags),
        repo_digests: real_digests(image.repo_digests),
        parent_id: Some(image.parent_id).filter(|p| !p.is_empty()),
        created: unix_time(image.created),
        size: size(image.size),
        shared_size: u64::try_from(image.shared_size).ok(),
        labels: image.labels.into_iter().collect(),
        containers,
    }
}

/// `/images/{name}/json` as the engine sends it, with every field optional
/// and `null` accepted, as Go encodes empty slices and maps.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInspect {
    id: Option<String>,
    repo_tags: Option<Vec<String>>,
    repo_digests: Option<Vec<String>>,
    parent: Option<String>,
    comment: Option<String>,
    created: Option<String>,
    author: Option<String>,
    architecture: Option<String>,
    variant: Option<String>,
    os: Option<String>,
    size: Option<i64>,
    config: Option<RawConfig>,
    #[serde(rename = "RootFS")]
    root_fs: Option<RawRootFs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawConfig {
    user: Option<String>,
    env: Option<Vec<String>>,
    cmd: Option<StringOrList>,
    entrypoint: Option<StringOrList>,
    working_dir: Option<String>,
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    labels: Option<BTreeMap<String, String>>,
    stop_signal: Option<String>,
}

/// Old images carry `Cmd` as a string instead of a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    List(Vec<String>),
    One(String),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::List(list) => list,
            StringOrList::One(one) => vec![one],
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRootFs {
    #[serde(rename = "Type")]
    kind: Option<String>,
    layers: Option<Vec<String>>,
}

/// Parses an RFC 3339 time as Go writes it; Go's zero time means unknown.
pub(crate) fn go_time(text: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    (parsed.timestamp() > 0).then_some(parsed)
}

/// The details of `/images/{name}/json`, from its raw JSON.
pub(crate) fn details(json: serde_json::Value) -> Result<ImageDetails, serde_json::Error> {
    let raw: RawInspect = serde_json::from_value(json)?;
    let config = raw.config.unwrap_or_default();
    let empty_objects = |map: Option<BTreeMap<String, serde_json::Value>>| {
        map.unwrap_or_default()
            .into_keys()
            .map(|k| (k, EmptyObject {}))
            .collect()
    };
    let root_fs = raw.root_fs.unwrap_or_default();
    Ok(ImageDetails {
        id: raw.id.unwrap_or_default(),
        repo_tags: raw.repo_tags.unwrap_or_default(),
        repo_digests: raw.repo_digests.unwrap_or_default(),
        parent: raw.parent.unwrap_or_default(),
        comment: raw.comment.unwrap_or_default(),
        created: raw.created.as_deref().and_then(go_time),
        author: raw.author.unwrap_or_default(),
        architecture: raw.architecture.unwrap_or_default(),
        variant: raw.variant.filter(|v| !v.is_empty()),
        os: raw.os.unwrap_or_default(),
        size: size(raw.size.unwrap_or(0)),
        config: ImageConfig {
            user: config.user.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            cmd: config.cmd.map(StringOrList::into_vec).unwrap_or_default(),
            entrypoint: config
                .entrypoint
                .map(StringOrList::into_vec)
                .unwrap_or_default(),
            working_dir: config.working_dir.unwrap_or_default(),
            exposed_ports: empty_objects(config.exposed_ports),
            volumes: empty_objects(config.volumes),
            labels: config.labels.unwrap_or_default(),
            stop_signal: config.stop_signal.unwrap_or_default(),
        },
        root_fs: RootFs {
            kind: root_fs.kind.unwrap_or_else(|| "layers".to_string()),
            layers: root_fs.layers.unwrap_or_default(),
        },
    })
}

/// One entry of `/images/{name}/history`.
pub(crate) fn history(entry: ImageHistoryResponseItem) -> HistoryEntry {
    HistoryEntry {
        id: entry.id,
        created: unix_time(entry.created),
        created_by: entry.created_by,
        tags: real_tags(entry.tags),
        size: size(entry.size),
        comment: entry.comment,
    }
}

/// The answer of `DELETE /images/{name}` or a prune's `ImagesDeleted`.
pub(crate) fn remove_actions(items: Vec<ImageDeleteResponseItem>) -> Vec<RemoveAction> {
    let mut actions = Vec::with_capacity(items.len());
    for item in items {
        if let Some(reference) = item.untagged {
            actions.push(RemoveAction::Untagged(reference));
        }
        if let Some(id) = item.deleted {
            actions.push(RemoveAction::Deleted(id));
        }
    }
    actions
}

/// A container of `/containers/json`.
pub(crate) fn container(summary: ContainerSummary) -> ContainerRef {
    let name = summary
        .names
        .and_then(|names| names.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let state = match summary.state {
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        _ => ContainerState::Created,
    };
    ContainerRef {
        id: summary.id.unwrap_or_default(),
        name,
        image_id: summary.image_id.unwrap_or_default(),
        state,
    }
}

/// Counts containers per image ID.
pub(crate) fn containers_per_image(containers: &[ContainerRef]) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for c in containers {
        *counts.entry(c.image_id.clone()).or_default() += 1;
    }
    counts
}

fn layer_event(
    id: String,
    status: String,
    current: Option<i64>,
    total: Option<i64>,
) -> ProgressEvent {
    ProgressEvent::Layer(LayerProgress {
        id,
        status,
        current: current.and_then(|c| u64::try_from(c).ok()),
        total: total.and_then(|t| u64::try_from(t).ok()).filter(|t| *t > 0),
    })
}

/// One message of a pull: a layer's progress when it names a layer (or the
/// tag, for `Pulling from ...`), otherwise a line of text.
pub(crate) fn pull_event(info: CreateImageInfo) -> Option<ProgressEvent> {
    let status = info.status?;
    let (current, total) = info
        .progress_detail
        .map_or((None, None), |p| (p.current, p.total));
    Some(match info.id {
        Some(id) if !id.is_empty() => layer_event(id, status, current, total),
        _ => ProgressEvent::Message { text: status },
    })
}

/// One raw message of a push (`{"status", "id", "progressDetail"}`), or the
/// error text it carries.
pub(crate) fn push_event(json: &serde_json::Value) -> Result<Option<ProgressEvent>, String> {
    if let Some(error) = json
        .get("errorDetail")
        .and_then(|d| d.get("message"))
        .and_then(|m| m.as_str())
    {
        return Err(error.to_string());
    }
    if let Some(error) = json.get("error").and_then(|e| e.as_str()) {
        return Err(error.to_string());
    }
    let Some(status) = json.get("status").and_then(|s| s.as_str()) else {
        return Ok(None);
    };
    let detail = json.get("progressDetail");
    let number = |key: &str| detail.and_then(|d| d.get(key)).and_then(|v| v.as_i64());
    Ok(Some(match json.get("id").and_then(|i| i.as_str()) {
        Some(id) if !id.is_empty() => layer_event(
            id.to_string(),
            status.to_string(),
            number("current"),
            number("total"),
        ),
        _ => ProgressEvent::Message {
            text: status.to_string(),
        },
    }))
}

/// The manifest digest in a push's closing line,
/// `TAG: digest: sha256:... size: N`, or a pull's `Digest: sha256:...`.
pub(crate) fn digest_in(text: &str) -> Option<String> {
    let start = text.find("sha256:")?;
    let digest: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    (digest.len() == "sha256:".len() + 64).then_some(digest)
}

/// One message of a build: lines of output (without their newline), or the
/// image ID the builder reports in `aux`.
pub(crate) fn build_events(info: BuildInfo) -> (Vec<ProgressEvent>, Option<String>) {
    let mut events = Vec::new();
    if let Some(stream) = info.stream {
        for line in stream.lines() {
            if !line.trim().is_empty() {
                events.push(ProgressEvent::Message {
                    text: line.to_string(),
                });
            }
        }
    }
    if let Some(status) = info.status {
        match info.id {
            Some(id) if !id.is_empty() => {
                let (current, total) = info
                    .progress_detail
                    .map_or((None, None), |p| (p.current, p.total));
                events.push(layer_event(id, status, current, total));
            }
            _ => events.push(ProgressEvent::Message { text: status }),
        }
    }
    let id = info.aux.and_then(|aux| aux.id);
    (events, id)
}

/// What `docker load` loaded, from the lines of its output.
pub(crate) fn load_report(lines: &[String]) -> LoadReport {
    let mut report = LoadReport::default();
    for line in lines {
        let line = line.trim();
        if let Some(id) = line.strip_prefix("Loaded image ID: ") {
            report.loaded_ids.push(id.to_string());
        } else if let Some(tag) = line.strip_prefix("Loaded image: ") {
            report.loaded_tags.push(tag.to_string());
        }
    }
    report
}

/// Disk usage from `/system/df`, in either shape the engine may send: the
/// one of API 1.41 to 1.51 (`LayersSize` and `Images`, with per-image
/// `SharedSize` and `Containers`) or the newer one (`ImageUsage` with
/// `TotalSize` and `Items`). Containers are counted by the caller for
/// images whose count the engine did not give.
pub(crate) fn disk_usage(
    json: &serde_json::Value,
    counts: &HashMap<String, u64>,
) -> Result<DiskUsage, String> {
    let (layers_size, images) = if let Some(images) = json.get("Images") {
        (
            json.get("LayersSize").and_then(|v| v.as_i64()).unwrap_or(0),
            images,
        )
    } else if let Some(usage) = json.get("ImageUsage") {
        let items = usage
            .get("Items")
            .ok_or("the engine's disk usage has no image items")?;
        (
            usage.get("TotalSize").and_then(|v| v.as_i64()).unwrap_or(0),
            items,
        )
    } else {
        return Err("the engine's disk usage has neither Images nor ImageUsage".to_string());
    };
    let images: Vec<EngineSummary> = match images {
        serde_json::Value::Null => Vec::new(),
        other => serde_json::from_value(other.clone())
            .map_err(|e| format!("reading the engine's disk usage: {e}"))?,
    };
    let mut usage = DiskUsage {
        layers_size: size(layers_size),
        ..DiskUsage::default()
    };
    let mut used = 0u64;
    for image in images {
        let total = size(image.size);
        let shared = size(image.shared_size).min(total);
        let containers = if image.containers >= 0 {
            size(image.containers)
        } else {
            counts.get(&image.id).copied().unwrap_or(0)
        };
        if containers > 0 {
            used += total - shared;
        }
        usage.images.push(ImageUsage {
            id: image.id,
            repo_tags: real_tags(image.repo_tags),
            created: unix_time(image.created),
            size: total,
            shared_size: shared,
            unique_size: total - shared,
            containers,
        });
    }
    usage
        .images
        .sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    usage.reclaimable = usage.layers_size.saturating_sub(used);
    Ok(usage)
}

/// The diff ID of an empty layer (an empty tar stream), which the engine
/// sizes at 0.
const EMPTY_LAYER: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// Whether a history step made a layer, for a step the engine sizes at 0
/// (its API does not say which steps are empty): shell commands, `COPY`,
/// `ADD` and BuildKit's `WORKDIR` do; other `#(nop)` instructions do not.
fn step_makes_layer(created_by: &str) -> bool {
    let text = created_by.trim();
    let instruction = text
        .strip_prefix("/bin/sh -c #(nop)")
        .map(str::trim_start)
        .unwrap_or(text);
    let word = instruction
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if text.starts_with("/bin/sh -c #(nop)") {
        return matches!(word.as_str(), "COPY" | "ADD");
    }
    if text.ends_with("# buildkit") {
        return matches!(word.as_str(), "RUN" | "COPY" | "ADD" | "WORKDIR");
    }
    !text.is_empty()
        && !matches!(
            word.as_str(),
            "ENV"
                | "LABEL"
                | "CMD"
                | "ENTRYPOINT"
                | "EXPOSE"
                | "VOLUME"
                | "USER"
                | "ARG"
                | "STOPSIGNAL"
                | "HEALTHCHECK"
                | "SHELL"
                | "ONBUILD"
                | "MAINTAINER"
        )
}

/// Each layer's size, base first, from an image's diff IDs and its history
/// (newest first, as the engine sends it). The engine sizes each step that
/// made a layer with that layer's size and every other step at 0; a step
/// with a size is a layer, and among the steps at 0 those that look like
/// they made a layer (see [`step_makes_layer`]) are taken as the layers
/// still missing. When the history does not add up, the sizes go to the
/// non-empty layers in order.
pub(crate) fn layer_sizes(diff_ids: &[String], history: &[HistoryEntry]) -> Vec<u64> {
    let oldest_first: Vec<&HistoryEntry> = history.iter().rev().collect();
    let sized = oldest_first.iter().filter(|h| h.size > 0).count();
    let missing = diff_ids.len().saturating_sub(sized);
    let likely: Vec<bool> = oldest_first
        .iter()
        .map(|h| h.size == 0 && step_makes_layer(&h.created_by))
        .collect();
    if likely.iter().filter(|l| **l).count() == missing {
        let sizes: Vec<u64> = oldest_first
            .iter()
            .zip(&likely)
            .filter(|(h, likely)| h.size > 0 || **likely)
            .map(|(h, _)| h.size)
            .collect();
        if sizes.len() == diff_ids.len() {
            return sizes;
        }
    }
    let mut nonzero = oldest_first.iter().map(|h| h.size).filter(|s| *s > 0);
    diff_ids
        .iter()
        .map(|d| {
            if d == EMPTY_LAYER {
                0
            } else {
                nonzero.next().unwrap_or(0)
            }
        })
        .collect()
}

/// Layer sizes made exact where the engine pins them: `stack_sizes` maps
/// the top chain ID of every local image to that image's size, which is the
/// sum of its layer stack. Between two pinned depths (the bottom, each
/// layer that is some image's top, and the image's own top) the layers'
/// total is known; a single layer there gets it exactly, several keep the
/// history's guess (`guessed`, from [`layer_sizes`]) when it adds up, and
/// otherwise the total goes to the layer the history sized largest (the
/// last one when it sized none).
pub(crate) fn pinned_layer_sizes(
    chains: &[String],
    guessed: &[u64],
    stack_sizes: &HashMap<String, u64>,
) -> Vec<u64> {
    let mut sizes: Vec<u64> = guessed.to_vec();
    sizes.resize(chains.len(), 0);
    let mut start = 0usize;
    let mut below = 0u64;
    for (depth, chain) in chains.iter().enumerate() {
        let Some(&stack) = stack_sizes.get(chain) else {
            continue;
        };
        let total = stack.saturating_sub(below);
        let segment = &mut sizes[start..=depth];
        if segment.iter().sum::<u64>() != total {
            let largest = segment
                .iter()
                .enumerate()
                .max_by_key(|(index, size)| (**size, *index))
                .map_or(0, |(index, _)| index);
            segment.iter_mut().for_each(|size| *size = 0);
            segment[largest] = total;
        }
        start = depth + 1;
        below = stack.max(below);
    }
    sizes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Every conversion on answers recorded from real engines: Docker 20.10
    //! (API 1.41) in `testdata/engine-a` and Docker 26.1 (API 1.45) in
    //! `testdata/engine-b`, each deserialized exactly as `service.rs` does.
    //! How they were recorded, and what state they describe, is in
    //! `testdata/README.md`.

    use bollard::models::ImagePruneResponse;
    use image_core::{ConflictReason, ImageError};

    use super::*;
    use crate::errors::{self, Context};

    /// The open registry the recordings pushed to and pulled from.
    const REGISTRY: &str = "127.0.0.1:45359";

    /// One engine's recorded answers.
    struct Files {
        images_list: &'static str,
        inspect_app: &'static str,
        inspect_child: &'static str,
        inspect_imported: &'static str,
        inspect_pulled: &'static str,
        history_app: &'static str,
        history_imported: &'static str,
        history_pulled: &'static str,
        containers_list: &'static str,
        system_df: &'static str,
        remove_untag: &'static str,
        remove_delete: &'static str,
        prune: &'static str,
        push: &'static str,
        pull: &'static str,
        build: &'static str,
        load: &'static str,
        error_404: &'static str,
        error_409_container: &'static str,
        error_409_children: &'static str,
    }

    macro_rules! files {
        ($dir:literal) => {
            Files {
                images_list: include_str!(concat!("testdata/", $dir, "/images-list.json")),
                inspect_app: include_str!(concat!("testdata/", $dir, "/image-inspect-app.json")),
                inspect_child: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/image-inspect-child.json"
                )),
                inspect_imported: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/image-inspect-imported.json"
                )),
                inspect_pulled: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/image-inspect-pulled.json"
                )),
                history_app: include_str!(concat!("testdata/", $dir, "/image-history-app.json")),
                history_imported: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/image-history-imported.json"
                )),
                history_pulled: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/image-history-pulled.json"
                )),
                containers_list: include_str!(concat!("testdata/", $dir, "/containers-list.json")),
                system_df: include_str!(concat!("testdata/", $dir, "/system-df.json")),
                remove_untag: include_str!(concat!("testdata/", $dir, "/image-remove-untag.json")),
                remove_delete: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/image-remove-delete.json"
                )),
                prune: include_str!(concat!("testdata/", $dir, "/images-prune.json")),
                push: include_str!(concat!("testdata/", $dir, "/push.ndjson")),
                pull: include_str!(concat!("testdata/", $dir, "/pull.ndjson")),
                build: include_str!(concat!("testdata/", $dir, "/build.ndjson")),
                load: include_str!(concat!("testdata/", $dir, "/load.ndjson")),
                error_404: include_str!(concat!("testdata/", $dir, "/error-404.json")),
                error_409_container: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/error-409-container.json"
                )),
                error_409_children: include_str!(concat!(
                    "testdata/",
                    $dir,
                    "/error-409-children.json"
                )),
            }
        };
    }

    /// One engine: its answers and what we know it holds, because the
    /// recording created it (the IDs are the ones the engine gave).
    struct Engine {
        name: &'static str,
        files: Files,
        docker_version: &'static str,
        /// `imgctl-recording/app:v1` = `:v2` = `REGISTRY/imgctl-recording/app-X:v1`.
        app_id: &'static str,
        /// The classic builder's image of the step before `VOLUME`.
        app_parent: &'static str,
        app_created: &'static str,
        app_layers: [&'static str; 2],
        /// The manifest digest of the push of `app-X:v1`.
        app_pushed: &'static str,
        /// `imgctl-recording/child:v1`, built `FROM imgctl-recording/app:v1`.
        child_id: &'static str,
        /// `imgctl-recording/imported:v1`, from `docker import`.
        imported_id: &'static str,
        /// What this engine pulled: the other engine's `pullsrc-Y:v1`.
        pulled_repo: &'static str,
        pulled_id: &'static str,
        pulled_digest: &'static str,
        /// `REGISTRY/imgctl-recording/pullsrc-X:v1`, built here and pushed.
        own_pullsrc_id: &'static str,
        /// `imgctl-recording/dangle:latest` after its rebuild...
        dangle_id: &'static str,
        /// ...and the image the rebuild left dangling, which prune deleted.
        dangling_id: &'static str,
        /// `imgctl-recording-ctr`, created from `child:v1`.
        container_id: &'static str,
        /// The images `POST /images/load` loaded: `imgctl-recording/load:v1`
        /// and an untagged one, with their layers' short IDs.
        loaded_tagged_id: &'static str,
        loaded_untagged_id: &'static str,
        loaded_layers: [&'static str; 2],
    }

    const ENGINE_A: Engine = Engine {
        name: "A (Docker 20.10, API 1.41)",
        files: files!("engine-a"),
        docker_version: "20.10.24+dfsg1",
        app_id: "sha256:b7a48633e95a8f1bc68b740c6d36044d9fa556d3377b5cf3637c12f5e41fc5a9",
        app_parent: "sha256:086e7070879d6de604728e890feace490e9d69982a4460c75d5ae77962a94a3f",
        app_created: "2026-11-23T06:06:11.166080314Z",
        app_layers: [
            "sha256:8d97f81ed97307322b7eabebcbc6cadf2d840c79d298f0affbebee8106d8feb4",
            "sha256:ff7c95cc0635be707e1d7908dc222c20174fadd260e239f8fb560b8680b26565",
        ],
        app_pushed: "sha256:e718a85cacf5c9dd769f451cc875e0db024b6b251696a50aa25f8afd3811cda1",
        child_id: "sha256:9d0d6c4e90d6733363d0ac5e1a81b608f6741d2eb6aa259e6ff990c2d934cc3a",
        imported_id: "sha256:11c1537aeee33eb1c29232d4d3d0e835aff8f1afcc05ca7b5d9b901f3b78a65c",
        pulled_repo: "imgctl-recording/pullsrc-b",
        pulled_id: "sha256:6327c27cf12f14c8920f6aa6f46d7f4c00fc64b607ffd30e0adeab510cc0a267",
        pulled_digest: "sha256:270bc767711d09e35e245dfb2aa04e6d8304b49b92dc2690587ad2a597a263d6",
        own_pullsrc_id: "sha256:0dc1b078df2d7614e795fc220215521953fbb1ede47a1d921d3a8cc201477188",
        dangle_id: "sha256:a6e89d414f30b9ce3d7e67eebcb2f1a0c23c7d52fbc04c1b6b179e0421a2f5d3",
        dangling_id: "sha256:c8b4ec300baa1598e2a5384244d3fc0e79fc0b1486f4fc74e0e7c57dafe47492",
        container_id: "79ecc6221d7d9ac7e47a65a7f83559f431981efc32c1c36c351b28e52a6bfdf9",
        loaded_tagged_id: "sha256:369a4e3b462816278faa684430369d09dd0a5ed98215605a36850959276710f3",
        loaded_untagged_id: "sha256:f6397d2778dad9260ed45cd65bfaa3dc0757213733f9059fc0991bcc01282fd0",
        loaded_layers: ["35a47fc6a508", "630834d638c9"],
    };

    const ENGINE_B: Engine = Engine {
        name: "B (Docker 26.1, API 1.45)",
        files: files!("engine-b"),
        docker_version: "26.1.5+dfsg1",
        app_id: "sha256:812fe80e7fe324a8bbecb05487e32a7c8c843c6e0da42c56af7475be1e79ba09",
        app_parent: "sha256:1979cb0ff6f4ba16363e47f8f48688a0e603d112c801adede0a9b98189317e8b",
        app_created: "2026-11-23T06:06:12.39677755Z",
        app_layers: [
            "sha256:1c3033d86336cd903f148df7dc2eaf515634a04ff167ba2fe72f4f81bfa05681",
            "sha256:74a47445cd283bc5d3fd79dd2a83d5c4c7ab23df27bb7c1d4a838d18e5ff6e5b",
        ],
        app_pushed: "sha256:e5aae8c0172c541aa3d5971a5868b062ab83f34199875495590c22d804393ae5",
        child_id: "sha256:3936262b5c8e57c302133baf9b316aef6f5ff6b06601c28c1d0582d883ba3be4",
        imported_id: "sha256:40cb21eb2eafaf55051bb33833e37ec43780d891c3676659c7a67d4f972aea5e",
        pulled_repo: "imgctl-recording/pullsrc-a",
        pulled_id: "sha256:0dc1b078df2d7614e795fc220215521953fbb1ede47a1d921d3a8cc201477188",
        pulled_digest: "sha256:d72ece8d65ad42840eb041a33d70f191586f59857bc9ff124f3f414289d89684",
        own_pullsrc_id: "sha256:6327c27cf12f14c8920f6aa6f46d7f4c00fc64b607ffd30e0adeab510cc0a267",
        dangle_id: "sha256:26723e887696e9fe699bf1be36c7155be3633499d39b8b44f705ae2c167b7bb8",
        dangling_id: "sha256:44b59feb2fdeac3ec99500b98e5e0cb12da5a6595a2ca20b80593f0a8eccc80a",
        container_id: "1b5759f4029def3e753fe3df975571cf7bfa92b8d1fa4aa76d181817d58e0376",
        loaded_tagged_id: "sha256:3e8e673bd5d92678adc2507e97e2367826fa0968425d82caea282dd55ba6880c",
        loaded_untagged_id: "sha256:58aac5844351bef795d8516de09d5684993fd7f4dc4e7037fdb96f20920a4f40",
        loaded_layers: ["4b82223dd3c0", "a8b74e9f898e"],
    };

    const ENGINES: [&Engine; 2] = [&ENGINE_A, &ENGINE_B];

    const APP_TAGS: [&str; 2] = ["imgctl-recording/app:v1", "imgctl-recording/app:v2"];

    // What service.rs does with each answer.

    fn containers(e: &Engine) -> Vec<ContainerRef> {
        let list: Vec<ContainerSummary> = serde_json::from_str(e.files.containers_list).unwrap();
        list.into_iter().map(container).collect()
    }

    fn list(e: &Engine) -> Vec<ImageSummary> {
        let counts = containers_per_image(&containers(e));
        let images: Vec<EngineSummary> = serde_json::from_str(e.files.images_list).unwrap();
        images
            .into_iter()
            .map(|image| {
                let count = counts.get(&image.id).copied().unwrap_or(0);
                summary(image, count)
            })
            .collect()
    }

    fn inspect(text: &str) -> ImageDetails {
        details(serde_json::from_str(text).unwrap()).unwrap()
    }

    fn history_of(text: &str) -> Vec<HistoryEntry> {
        let entries: Vec<ImageHistoryResponseItem> = serde_json::from_str(text).unwrap();
        entries.into_iter().map(history).collect()
    }

    fn removed(text: &str) -> Vec<RemoveAction> {
        remove_actions(serde_json::from_str(text).unwrap())
    }

    fn df(e: &Engine, text: &str) -> DiskUsage {
        let json: serde_json::Value = serde_json::from_str(text).unwrap();
        disk_usage(&json, &containers_per_image(&containers(e))).unwrap()
    }

    fn ndjson(text: &str) -> impl Iterator<Item = &str> {
        text.lines().filter(|line| !line.trim().is_empty())
    }

    fn pull_events(text: &str) -> Vec<ProgressEvent> {
        ndjson(text)
            .map(|line| serde_json::from_str::<CreateImageInfo>(line).unwrap())
            .filter_map(pull_event)
            .collect()
    }

    fn push_events(text: &str) -> Vec<ProgressEvent> {
        ndjson(text)
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter_map(|json| push_event(&json).unwrap())
            .collect()
    }

    fn build_output(text: &str) -> (Vec<ProgressEvent>, Option<String>) {
        let mut events = Vec::new();
        let mut built = None;
        for line in ndjson(text) {
            let (batch, id) = build_events(serde_json::from_str::<BuildInfo>(line).unwrap());
            events.extend(batch);
            built = id.or(built);
        }
        (events, built)
    }

    /// The manifest digest service.rs reports: the last one in a message.
    fn last_digest(events: &[ProgressEvent]) -> Option<String> {
        events.iter().rev().find_map(|event| match event {
            ProgressEvent::Message { text } => digest_in(text),
            _ => None,
        })
    }

    fn messages(events: &[ProgressEvent]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|event| match event {
                ProgressEvent::Message { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn layers(events: &[ProgressEvent]) -> Vec<&LayerProgress> {
        events
            .iter()
            .filter_map(|event| match event {
                ProgressEvent::Layer(layer) => Some(layer),
                _ => None,
            })
            .collect()
    }

    fn layer(id: &str, status: &str, current: Option<u64>, total: Option<u64>) -> LayerProgress {
        LayerProgress {
            id: id.to_string(),
            status: status.to_string(),
            current,
            total,
        }
    }

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn short(id: &str) -> &str {
        &id.trim_start_matches("sha256:")[..12]
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    fn app_tags(e: &Engine) -> Vec<String> {
        let suffix = if e.name.starts_with('A') { "a" } else { "b" };
        let mut tags = vec![format!("{REGISTRY}/imgctl-recording/app-{suffix}:v1")];
        tags.extend(strings(&APP_TAGS));
        tags
    }

    fn app_labels() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("com.example.empty".to_string(), String::new()),
            (
                "org.opencontainers.image.title".to_string(),
                "imgctl recording".to_string(),
            ),
        ])
    }

    fn raw(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap()
    }

    fn find<'a>(images: &'a [ImageSummary], id: &str) -> &'a ImageSummary {
        images
            .iter()
            .find(|image| image.id == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
    }

    #[test]
    fn image_lists_map_tags_parents_labels_and_counts() {
        for e in ENGINES {
            let images = list(e);
            // 6 tagged images and 11 untagged ones: the classic builder's
            // step images (9) and the dangling image with its parent.
            assert_eq!(images.len(), 17, "{}", e.name);
            assert_eq!(images.iter().filter(|i| i.is_dangling()).count(), 11);
            for image in &images {
                assert!(image.id.starts_with("sha256:") && image.id.len() == 71);
                assert!(!image.repo_tags.iter().any(|t| t.contains("<none>")));
                assert!(!image.repo_digests.iter().any(|d| d.contains("<none>")));
                // Neither engine computes SharedSize in a list without
                // `shared-size=1`: it sends -1, which is "not computed".
                assert_eq!(image.shared_size, None, "{}", e.name);
            }

            let app = find(&images, e.app_id);
            assert_eq!(app.repo_tags, app_tags(e), "{}", e.name);
            assert_eq!(
                app.repo_digests,
                vec![format!(
                    "{}@{}",
                    app.repo_tags[0].trim_end_matches(":v1"),
                    e.app_pushed
                )]
            );
            assert_eq!(app.parent_id.as_deref(), Some(e.app_parent));
            assert_eq!(
                app.created.map(|t| t.timestamp()),
                Some(time(e.app_created).timestamp())
            );
            assert_eq!(app.size, 28);
            assert_eq!(app.labels, app_labels());
            assert_eq!(app.containers, 0);

            let child = find(&images, e.child_id);
            assert_eq!(child.repo_tags, strings(&["imgctl-recording/child:v1"]));
            assert!(child.repo_digests.is_empty());
            assert_eq!(child.parent_id.as_deref(), Some(e.app_id));
            assert_eq!(child.size, 28);
            let mut labels = app_labels();
            labels.insert("com.example.child".to_string(), "yes".to_string());
            assert_eq!(child.labels, labels);
            // Counted from /containers/json: the engines send -1.
            assert_eq!(child.containers, 1, "{}", e.name);

            let imported = find(&images, e.imported_id);
            assert_eq!(
                imported.repo_tags,
                strings(&["imgctl-recording/imported:v1"])
            );
            assert!(imported.repo_digests.is_empty());
            assert_eq!(imported.parent_id, None);
            assert_eq!(imported.size, 14);
            assert!(imported.labels.is_empty(), "null labels are no labels");

            let pulled = find(&images, e.pulled_id);
            assert_eq!(
                pulled.repo_tags,
                vec![format!("{REGISTRY}/{}:v1", e.pulled_repo)]
            );
            assert_eq!(
                pulled.repo_digests,
                vec![format!("{REGISTRY}/{}@{}", e.pulled_repo, e.pulled_digest)]
            );
            // A pulled image has no local parent.
            assert_eq!(pulled.parent_id, None);
            assert_eq!(pulled.size, 100_014);

            let own = find(&images, e.own_pullsrc_id);
            assert!(own.parent_id.is_some(), "built here, so it has a parent");
            assert_eq!(own.size, 100_014);

            let dangle = find(&images, e.dangle_id);
            assert_eq!(
                dangle.repo_tags,
                strings(&["imgctl-recording/dangle:latest"])
            );
            assert_eq!(
                dangle.labels,
                BTreeMap::from([("stage".to_string(), "dangle".to_string())])
            );
            let dangling = find(&images, e.dangling_id);
            assert!(dangling.is_dangling());
            assert!(dangling.repo_digests.is_empty());
            assert_eq!(dangling.labels, dangle.labels);
            assert_eq!(dangling.size, 6);

            // Following ParentId from the app walks the builder's steps down
            // to the COPY step's image, which has none.
            let mut chain = vec![app.id.as_str()];
            let mut current = app;
            while let Some(parent) = &current.parent_id {
                current = find(&images, parent);
                chain.push(current.id.as_str());
            }
            assert_eq!(chain.len(), 7, "{}", e.name);
            assert_eq!(chain[1], e.app_parent);
        }
    }

    #[test]
    fn image_lists_differ_between_engines_in_placeholders_and_fields() {
        let a = raw(ENGINE_A.files.images_list);
        let b = raw(ENGINE_B.files.images_list);
        let a = a.as_array().unwrap();
        let b = b.as_array().unwrap();
        let by_id = |images: &[serde_json::Value], id: &str| -> serde_json::Value {
            images.iter().find(|i| i["Id"] == id).unwrap().clone()
        };
        // 1.41 sends `<none>` placeholders for untagged images, 1.45 empty lists.
        let dangling_a = by_id(a, ENGINE_A.dangling_id);
        assert_eq!(dangling_a["RepoTags"], serde_json::json!(["<none>:<none>"]));
        assert_eq!(
            dangling_a["RepoDigests"],
            serde_json::json!(["<none>@<none>"])
        );
        let dangling_b = by_id(b, ENGINE_B.dangling_id);
        assert_eq!(dangling_b["RepoTags"], serde_json::json!([]));
        assert_eq!(dangling_b["RepoDigests"], serde_json::json!([]));
        // A tagged image that was never pushed: null digests in 1.41, [] in 1.45.
        assert!(by_id(a, ENGINE_A.child_id)["RepoDigests"].is_null());
        assert_eq!(
            by_id(b, ENGINE_B.child_id)["RepoDigests"],
            serde_json::json!([])
        );
        // Both send null labels for an image without labels.
        assert!(by_id(a, ENGINE_A.imported_id)["Labels"].is_null());
        assert!(by_id(b, ENGINE_B.imported_id)["Labels"].is_null());
        for image in a {
            // 1.41 still sends VirtualSize (equal to Size); 1.45 dropped it.
            assert_eq!(image["VirtualSize"], image["Size"]);
            assert_eq!(image["SharedSize"], -1);
            assert_eq!(image["Containers"], -1);
        }
        for image in b {
            assert!(image.get("VirtualSize").is_none());
            // 1.45 computes neither without `shared-size=1`.
            assert_eq!(image["SharedSize"], -1);
            assert_eq!(image["Containers"], -1);
        }
    }

    #[test]
    fn inspect_maps_the_config_of_a_built_image() {
        for e in ENGINES {
            let app = inspect(e.files.inspect_app);
            assert_eq!(app.id, e.app_id, "{}", e.name);
            assert_eq!(app.repo_tags, app_tags(e));
            assert_eq!(app.repo_digests.len(), 1);
            assert!(app.repo_digests[0].ends_with(&format!("@{}", e.app_pushed)));
            // The classic builder leaves each step's image as the parent.
            assert_eq!(app.parent, e.app_parent);
            assert_eq!(app.comment, "");
            assert_eq!(app.created, Some(time(e.app_created)));
            assert_eq!(app.author, "");
            assert_eq!(app.architecture, "amd64");
            assert_eq!(app.variant, None);
            assert_eq!(app.os, "linux");
            assert_eq!(app.size, 28);
            let config = &app.config;
            assert_eq!(config.user, "");
            assert_eq!(config.env, strings(&["PATH=/bin", "GREETING=hello"]));
            // From Config, not 1.41's ContainerConfig (the builder's `#(nop)`).
            assert_eq!(config.cmd, strings(&["/bin/hello", "--flag"]));
            assert!(config.entrypoint.is_empty(), "null entrypoint");
            assert_eq!(config.working_dir, "/srv");
            assert_eq!(
                config.exposed_ports.keys().collect::<Vec<_>>(),
                ["53/udp", "8080/tcp"]
            );
            assert_eq!(config.volumes.keys().collect::<Vec<_>>(), ["/data"]);
            assert_eq!(config.labels, app_labels());
            assert_eq!(config.stop_signal, "");
            assert_eq!(app.root_fs.kind, "layers");
            assert_eq!(app.root_fs.layers, strings(&e.app_layers));

            let child = inspect(e.files.inspect_child);
            assert_eq!(child.id, e.child_id);
            assert_eq!(child.parent, e.app_id, "{}", e.name);
            assert_eq!(child.repo_tags, strings(&["imgctl-recording/child:v1"]));
            assert!(child.repo_digests.is_empty());
            assert_eq!(child.config.env, app.config.env);
            assert_eq!(child.config.cmd, app.config.cmd);
            assert_eq!(
                child
                    .config
                    .labels
                    .get("com.example.child")
                    .map(String::as_str),
                Some("yes")
            );
            assert_eq!(
                child.root_fs.layers, app.root_fs.layers,
                "LABEL adds no layer"
            );
            assert!(child.created > app.created);
        }
    }

    #[test]
    fn inspect_maps_null_fields_of_an_imported_image_to_empty_values() {
        for e in ENGINES {
            let json = raw(e.files.inspect_imported);
            for key in ["Env", "Cmd", "Entrypoint", "Volumes", "Labels"] {
                assert!(json["Config"][key].is_null(), "{}: {key}", e.name);
            }
            assert!(json["Config"].get("ExposedPorts").is_none());
            let imported = details(json).unwrap();
            assert_eq!(imported.id, e.imported_id);
            assert_eq!(
                imported.repo_tags,
                strings(&["imgctl-recording/imported:v1"])
            );
            assert!(imported.repo_digests.is_empty());
            assert_eq!(imported.parent, "", "an imported image has no parent");
            assert_eq!(imported.comment, "Imported from -");
            assert!(imported.created.is_some());
            assert_eq!(imported.size, 14);
            assert_eq!(imported.config, ImageConfig::default());
            assert_eq!(imported.root_fs.layers.len(), 1);
        }
    }

    #[test]
    fn inspect_of_a_pulled_image_has_its_digest_and_no_parent() {
        for e in ENGINES {
            let pulled = inspect(e.files.inspect_pulled);
            assert_eq!(pulled.id, e.pulled_id, "{}", e.name);
            assert_eq!(
                pulled.repo_digests,
                vec![format!("{REGISTRY}/{}@{}", e.pulled_repo, e.pulled_digest)]
            );
            assert_eq!(pulled.parent, "");
            assert_eq!(pulled.size, 100_014);
            // The classic builder writes a default PATH into FROM-scratch images.
            assert_eq!(
                pulled.config.env,
                strings(&["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
            );
            assert!(pulled.config.cmd.is_empty());
            let origin = if e.name.starts_with('A') { "b" } else { "a" };
            assert_eq!(
                pulled.config.labels,
                BTreeMap::from([("com.example.origin".to_string(), origin.to_string())])
            );
            assert_eq!(pulled.root_fs.layers.len(), 2);
        }
        // Image IDs are content addresses: what A pulled is what B built.
        assert_eq!(ENGINE_A.pulled_id, ENGINE_B.own_pullsrc_id);
        assert_eq!(ENGINE_B.pulled_id, ENGINE_A.own_pullsrc_id);
    }

    #[test]
    fn inspect_answers_differ_between_engines_in_legacy_fields() {
        for e in ENGINES {
            let json = raw(e.files.inspect_app);
            assert_eq!(json["DockerVersion"], e.docker_version);
            assert!(json.get("Variant").is_none());
            let legacy = ["Container", "ContainerConfig", "VirtualSize"];
            for key in legacy {
                // 1.41 still sends them, 1.45 does not.
                assert_eq!(json.get(key).is_some(), e.name.starts_with('A'), "{key}");
            }
        }
        let a = raw(ENGINE_A.files.inspect_app);
        assert_eq!(
            a["ContainerConfig"]["Cmd"],
            serde_json::json!(["/bin/sh", "-c", "#(nop) ", "VOLUME [/data]"])
        );
    }

    #[test]
    fn history_lists_the_build_steps_newest_first() {
        let created_by = [
            "/bin/sh -c #(nop)  VOLUME [/data]",
            "/bin/sh -c #(nop)  EXPOSE 53/udp 8080/tcp",
            "/bin/sh -c #(nop)  CMD [\"/bin/hello\" \"--flag\"]",
            "/bin/sh -c #(nop) WORKDIR /srv",
            "/bin/sh -c #(nop)  ENV GREETING=hello PATH=/bin",
            "/bin/sh -c #(nop)  LABEL org.opencontainers.image.title=imgctl recording com.example.empty=",
            "/bin/sh -c #(nop) COPY file:4b4e480066b9405f0a3e9e89fdacd6266e46143aead3bebeac74b57bfedcdd3d in /hello.txt ",
        ];
        for e in ENGINES {
            let entries = history_of(e.files.history_app);
            assert_eq!(
                entries
                    .iter()
                    .map(|h| h.created_by.as_str())
                    .collect::<Vec<_>>(),
                created_by,
                "{}",
                e.name
            );
            assert_eq!(entries[0].id, e.app_id);
            assert_eq!(entries[0].tags, app_tags(e));
            assert_eq!(entries[1].id, e.app_parent);
            assert!(entries[1..].iter().all(|h| h.tags.is_empty()), "null tags");
            assert_eq!(
                entries.iter().map(|h| h.size).collect::<Vec<_>>(),
                [0, 0, 0, 0, 0, 0, 28]
            );
            assert!(entries.iter().all(|h| h.comment.is_empty()));
            assert_eq!(
                entries[0].created.map(|t| t.timestamp()),
                Some(time(e.app_created).timestamp())
            );
            // Each entry is an image of the list, the parent of the one before.
            let images = list(e);
            for pair in entries.windows(2) {
                let image = find(&images, &pair[0].id);
                assert_eq!(image.parent_id.as_deref(), Some(pair[1].id.as_str()));
                assert_eq!(image.created, pair[0].created);
            }
        }
    }

    #[test]
    fn history_of_imported_and_pulled_images() {
        for e in ENGINES {
            let imported = history_of(e.files.history_imported);
            assert_eq!(imported.len(), 1);
            assert_eq!(imported[0].id, e.imported_id);
            assert_eq!(imported[0].created_by, "");
            assert_eq!(imported[0].comment, "Imported from -");
            assert_eq!(imported[0].tags, strings(&["imgctl-recording/imported:v1"]));
            assert_eq!(imported[0].size, 14);
            assert!(imported[0].created.is_some());

            let pulled = history_of(e.files.history_pulled);
            assert_eq!(
                pulled.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
                [e.pulled_id, "<missing>", "<missing>"],
                "{}: steps of a pulled image have no local image",
                e.name
            );
            assert_eq!(
                pulled[0].tags,
                vec![format!("{REGISTRY}/{}:v1", e.pulled_repo)]
            );
            assert_eq!(
                pulled.iter().map(|h| h.size).collect::<Vec<_>>(),
                [0, 14, 100_000]
            );
            assert!(pulled[2].created_by.ends_with(" in /blob.bin "));
        }
    }

    #[test]
    fn containers_map_name_image_and_state() {
        for e in ENGINES {
            let found = containers(e);
            assert_eq!(
                found,
                vec![ContainerRef {
                    id: e.container_id.to_string(),
                    name: "imgctl-recording-ctr".to_string(),
                    image_id: e.child_id.to_string(),
                    state: ContainerState::Created,
                }],
                "{}",
                e.name
            );
            assert_eq!(
                containers_per_image(&found),
                HashMap::from([(e.child_id.to_string(), 1)])
            );
        }
        // 26.1 added DNSNames to the network settings; nothing we read.
        let a = raw(ENGINE_A.files.containers_list);
        let b = raw(ENGINE_B.files.containers_list);
        let none = "/0/NetworkSettings/Networks/none";
        assert!(a.pointer(none).unwrap().get("DNSNames").is_none());
        assert!(b.pointer(none).unwrap().get("DNSNames").is_some());
    }

    /// One row of the expected disk usage: ID, tags, size, shared, containers.
    type Row = (&'static str, Vec<String>, u64, u64, u64);

    fn check_usage(e: &Engine, usage: &DiskUsage, rows: &[Row]) {
        assert_eq!(usage.layers_size, 200_083, "{}", e.name);
        // Only the child has a container, and all its bytes are shared with
        // the app, so, as docker computes it, everything is reclaimable.
        assert_eq!(usage.reclaimable, 200_083);
        assert_eq!(usage.active(), 1);
        let got: Vec<Row> = usage
            .images
            .iter()
            .map(|i| {
                assert_eq!(i.unique_size, i.size - i.shared_size);
                assert!(i.created.is_some());
                let id: &'static str = rows
                    .iter()
                    .map(|r| r.0)
                    .find(|id| *id == i.id)
                    .unwrap_or("unexpected");
                (id, i.repo_tags.clone(), i.size, i.shared_size, i.containers)
            })
            .collect();
        assert_eq!(got, rows, "{}", e.name);
    }

    #[test]
    fn disk_usage_of_engine_a_reads_the_old_shape() {
        let e = &ENGINE_A;
        let json = raw(e.files.system_df);
        assert_eq!(json["LayersSize"], 200_083);
        assert!(json.get("ImageUsage").is_none());
        let usage = df(e, e.files.system_df);
        let tags = |t: &[&str]| strings(t);
        let pulled = vec![format!("{REGISTRY}/{}:v1", e.pulled_repo)];
        let own = vec![format!("{REGISTRY}/imgctl-recording/pullsrc-a:v1")];
        // Newest first, then by ID; 1.41 counts shared layers among the
        // top-level images only, so the dangle images share nothing.
        check_usage(
            e,
            &usage,
            &[
                (e.own_pullsrc_id, own, 100_014, 0, 0),
                (
                    e.imported_id,
                    tags(&["imgctl-recording/imported:v1"]),
                    14,
                    0,
                    0,
                ),
                (e.pulled_id, pulled, 100_014, 0, 0),
                (e.child_id, tags(&["imgctl-recording/child:v1"]), 28, 28, 1),
                (
                    e.dangle_id,
                    tags(&["imgctl-recording/dangle:latest"]),
                    7,
                    0,
                    0,
                ),
                (e.app_id, app_tags(e), 28, 28, 0),
                (e.dangling_id, Vec::new(), 6, 0, 0),
            ],
        );
        // The engine counted the containers itself (not -1), so the caller's
        // counts are not needed.
        let alone = disk_usage(&json, &HashMap::new()).unwrap();
        assert_eq!(alone, usage);
    }

    #[test]
    fn disk_usage_of_engine_b_reads_the_old_shape() {
        let e = &ENGINE_B;
        let json = raw(e.files.system_df);
        assert_eq!(json["LayersSize"], 200_083);
        // Asked with `type=image`: the other sections are null.
        assert!(json["Containers"].is_null() && json["Volumes"].is_null());
        let usage = df(e, e.files.system_df);
        let tags = |t: &[&str]| strings(t);
        let pulled = vec![format!("{REGISTRY}/{}:v1", e.pulled_repo)];
        let own = vec![format!("{REGISTRY}/imgctl-recording/pullsrc-b:v1")];
        // All created in the same second, so ordered by ID; 1.45 counts
        // layers shared with intermediate images too.
        check_usage(
            e,
            &usage,
            &[
                (e.pulled_id, pulled, 100_014, 0, 0),
                (
                    e.dangle_id,
                    tags(&["imgctl-recording/dangle:latest"]),
                    7,
                    7,
                    0,
                ),
                (e.child_id, tags(&["imgctl-recording/child:v1"]), 28, 28, 1),
                (
                    e.imported_id,
                    tags(&["imgctl-recording/imported:v1"]),
                    14,
                    0,
                    0,
                ),
                (e.dangling_id, Vec::new(), 6, 6, 0),
                (e.own_pullsrc_id, own, 100_014, 100_014, 0),
                (e.app_id, app_tags(e), 28, 28, 0),
            ],
        );
        // The full answer (no `type`) gives the same image usage.
        let all = include_str!("testdata/engine-b/system-df-all.json");
        assert!(raw(all)["Containers"].is_array());
        assert_eq!(df(e, all), usage);
    }

    #[test]
    fn disk_usage_differs_between_engines() {
        let a = raw(ENGINE_A.files.system_df);
        let b = raw(ENGINE_B.files.system_df);
        let image = |json: &serde_json::Value, id: &str| -> serde_json::Value {
            json["Images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["Id"] == id)
                .unwrap()
                .clone()
        };
        // The dangling image: `<none>` placeholders in 1.41, null in 1.45.
        let dangling_a = image(&a, ENGINE_A.dangling_id);
        assert_eq!(dangling_a["RepoTags"], serde_json::json!(["<none>:<none>"]));
        assert!(image(&b, ENGINE_B.dangling_id)["RepoTags"].is_null());
        // SharedSize of the same kind of image.
        assert_eq!(image(&a, ENGINE_A.dangle_id)["SharedSize"], 0);
        assert_eq!(image(&b, ENGINE_B.dangle_id)["SharedSize"], 7);
        // 1.41 reports BuilderSize; 1.45 dropped it.
        assert_eq!(a["BuilderSize"], 0);
        assert!(b.get("BuilderSize").is_none());
        assert!(image(&a, ENGINE_A.app_id).get("VirtualSize").is_some());
        assert!(image(&b, ENGINE_B.app_id).get("VirtualSize").is_none());
    }

    #[test]
    fn removes_report_untags_and_deletes_in_order() {
        for e in ENGINES {
            assert_eq!(
                removed(e.files.remove_untag),
                vec![RemoveAction::Untagged(
                    "imgctl-recording/app:v2".to_string()
                )],
                "{}",
                e.name
            );
            let pulled = inspect(e.files.inspect_pulled);
            let reference = format!("{REGISTRY}/{}", e.pulled_repo);
            let actions = removed(e.files.remove_delete);
            assert_eq!(
                actions[..3],
                [
                    RemoveAction::Untagged(format!("{reference}:v1")),
                    RemoveAction::Untagged(format!("{reference}@{}", e.pulled_digest)),
                    RemoveAction::Deleted(e.pulled_id.to_string()),
                ],
                "{}",
                e.name
            );
            // Then its two layers, by chain ID, top first: the bottom one's
            // chain ID is its diff ID.
            assert_eq!(actions.len(), 5);
            assert_eq!(
                actions[4],
                RemoveAction::Deleted(pulled.root_fs.layers[0].clone())
            );
            assert!(matches!(&actions[3], RemoveAction::Deleted(id) if id.starts_with("sha256:")));
        }
    }

    #[test]
    fn prune_deletes_the_dangling_image_its_parent_and_layer() {
        for e in ENGINES {
            let response: ImagePruneResponse = serde_json::from_str(e.files.prune).unwrap();
            assert_eq!(response.space_reclaimed, Some(6), "{}", e.name);
            let actions = remove_actions(response.images_deleted.unwrap_or_default());
            // The dangling image (its LABEL step), the COPY step's image
            // below it, then that step's layer, by chain ID.
            let images = list(e);
            let dangling = find(&images, e.dangling_id);
            let parent = dangling.parent_id.clone().unwrap();
            assert_eq!(find(&images, &parent).parent_id, None);
            assert_eq!(actions.len(), 3);
            assert_eq!(
                actions[..2],
                [
                    RemoveAction::Deleted(e.dangling_id.to_string()),
                    RemoveAction::Deleted(parent),
                ],
                "{}",
                e.name
            );
            let RemoveAction::Deleted(layer) = &actions[2] else {
                panic!("{} is not a delete", actions[2]);
            };
            assert!(layer.starts_with("sha256:"));
            assert!(
                !images.iter().any(|i| i.id == *layer),
                "a layer, not an image"
            );
        }
    }

    #[test]
    fn pushes_report_layers_and_end_with_the_digest() {
        for e in ENGINES {
            let events = push_events(e.files.push);
            let suffix = if e.name.starts_with('A') { "a" } else { "b" };
            let repository = format!("{REGISTRY}/imgctl-recording/app-{suffix}");
            let (bottom, top) = (short(e.app_layers[0]), short(e.app_layers[1]));
            assert_eq!(
                messages(&events),
                [
                    format!("The push refers to repository [{repository}]"),
                    format!("v1: digest: {} size: 730", e.app_pushed),
                ],
                "{}",
                e.name
            );
            assert_eq!(
                layers(&events),
                [
                    &layer(top, "Preparing", None, None),
                    &layer(bottom, "Preparing", None, None),
                    // The engine's progress may pass its total.
                    &layer(bottom, "Pushing", Some(512), Some(28)),
                    &layer(bottom, "Pushing", Some(2048), Some(28)),
                    &layer(top, "Pushing", Some(1536), None),
                    &layer(bottom, "Pushed", None, None),
                    &layer(top, "Pushed", None, None),
                ],
                "{}: layers by the short form of their diff IDs",
                e.name
            );
            // The aux line ({"aux":{"Tag","Digest","Size"}}) has no status.
            assert_eq!(events.len(), ndjson(e.files.push).count() - 1);
            assert_eq!(last_digest(&events).as_deref(), Some(e.app_pushed));
            // The digest is the one the engine then lists for the image.
            let app = inspect(e.files.inspect_app);
            assert_eq!(
                app.repo_digests,
                vec![format!("{repository}@{}", e.app_pushed)]
            );
        }
    }

    #[test]
    fn pulls_report_the_tag_layers_and_digest() {
        for e in ENGINES {
            let events = pull_events(e.files.pull);
            assert_eq!(events.len(), ndjson(e.files.pull).count(), "{}", e.name);
            assert_eq!(
                events[0],
                ProgressEvent::Layer(layer(
                    "v1",
                    &format!("Pulling from {}", e.pulled_repo),
                    None,
                    None
                ))
            );
            assert_eq!(
                messages(&events),
                [
                    format!("Digest: {}", e.pulled_digest),
                    format!(
                        "Status: Downloaded newer image for {REGISTRY}/{}:v1",
                        e.pulled_repo
                    ),
                ]
            );
            let layers = layers(&events);
            let ids: Vec<&str> = layers[1..3].iter().map(|l| l.id.as_str()).collect();
            for id in &ids {
                let statuses: Vec<&str> = layers
                    .iter()
                    .filter(|l| l.id == *id)
                    .map(|l| l.status.as_str())
                    .collect();
                assert_eq!(statuses.first(), Some(&"Pulling fs layer"));
                assert_eq!(statuses.last(), Some(&"Pull complete"));
                assert!(statuses.contains(&"Download complete"));
                assert!(statuses.contains(&"Extracting"));
            }
            // The 100 000-byte blob, compressed to 100 239 bytes.
            assert!(layers.contains(&&layer(ids[0], "Downloading", Some(100_239), Some(100_239))));
            assert!(layers.contains(&&layer(ids[0], "Extracting", Some(32_768), Some(100_239))));
            assert!(
                layers
                    .iter()
                    .filter(|l| l.status.ends_with("complete") || l.status.starts_with("Pull"))
                    .all(|l| l.current.is_none() && l.total.is_none())
            );
            assert_eq!(last_digest(&events).as_deref(), Some(e.pulled_digest));
        }
    }

    #[test]
    fn classic_builds_report_their_lines_and_the_image_id() {
        for e in ENGINES {
            let (events, built) = build_output(e.files.build);
            assert_eq!(built.as_deref(), Some(e.app_id), "{}", e.name);
            assert!(layers(&events).is_empty());
            let lines = messages(&events);
            // The lone "\n" messages are dropped, not turned into blank lines.
            assert_eq!(lines.len(), 31);
            assert!(
                lines
                    .iter()
                    .all(|l| !l.trim().is_empty() && !l.ends_with('\n'))
            );
            let steps: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with("Step "))
                .collect();
            assert_eq!(
                steps,
                [
                    "Step 1/8 : FROM scratch",
                    "Step 2/8 : COPY hello.txt /hello.txt",
                    "Step 3/8 : LABEL org.opencontainers.image.title=\"imgctl recording\" com.example.empty=\"\"",
                    "Step 4/8 : ENV GREETING=hello PATH=/bin",
                    "Step 5/8 : WORKDIR /srv",
                    "Step 6/8 : CMD [\"/bin/hello\", \"--flag\"]",
                    "Step 7/8 : EXPOSE 8080/tcp 53/udp",
                    "Step 8/8 : VOLUME /data",
                ]
            );
            assert_eq!(lines[1], " ---> ", "FROM scratch has no image");
            assert_eq!(
                lines[27..],
                [
                    format!(" ---> {}", short(e.app_id)),
                    format!("Successfully built {}", short(e.app_id)),
                    "Successfully tagged imgctl-recording/app:v1".to_string(),
                    "Successfully tagged imgctl-recording/app:v2".to_string(),
                ]
            );
            assert_eq!(lines[23], format!(" ---> {}", short(e.app_parent)));
            // The engines word the removal of step containers differently.
            let removal = if e.name.starts_with('A') {
                "Removing intermediate container "
            } else {
                " ---> Removed intermediate container "
            };
            let removed = lines.iter().filter(|l| l.starts_with(removal)).count();
            assert_eq!(removed, 6, "{}", e.name);
        }
    }

    #[test]
    fn loads_report_tags_and_ids() {
        for e in ENGINES {
            // As service.rs does: the text lines of the output, then the report.
            let mut events = Vec::new();
            for line in ndjson(e.files.load) {
                let (batch, id) = build_events(serde_json::from_str::<BuildInfo>(line).unwrap());
                assert_eq!(id, None);
                events.extend(batch);
            }
            let lines: Vec<String> = messages(&events).into_iter().map(String::from).collect();
            assert_eq!(lines.len(), 3, "{}: one stream carried two lines", e.name);
            let report = load_report(&lines);
            assert_eq!(report.loaded_tags, strings(&["imgctl-recording/load:v1"]));
            // Both engines list every loaded image's ID once the last image
            // of the archive is untagged, the tagged one included.
            assert_eq!(
                report.loaded_ids,
                strings(&[e.loaded_tagged_id, e.loaded_untagged_id])
            );
            let loading: Vec<&LayerProgress> = layers(&events);
            assert_eq!(loading.len(), 4);
            for (i, l) in loading.iter().enumerate() {
                let id = e.loaded_layers[i / 2];
                assert_eq!(**l, layer(id, "Loading layer", Some(10_240), Some(10_240)));
            }
        }
    }

    fn error_of(status: u16, body: &str, subject: &str) -> ImageError {
        let json = raw(body);
        let message = json["message"].as_str().unwrap();
        let cx = Context {
            endpoint: "unix:///engine.sock",
            subject,
            registry: "",
        };
        errors::from_bollard(
            bollard::errors::Error::DockerResponseServerError {
                status_code: status,
                message: message.to_string(),
            },
            cx,
        )
    }

    #[test]
    fn error_bodies_map_to_not_found_and_conflicts() {
        let missing = "imgctl-recording/missing:v1";
        for e in ENGINES {
            match error_of(404, e.files.error_404, missing) {
                ImageError::NotFound { reference } => {
                    assert!(reference.starts_with(missing), "{}: {reference}", e.name);
                }
                other => panic!("{}: {other:?}", e.name),
            }
            let child = "imgctl-recording/child:v1";
            match error_of(409, e.files.error_409_container, child) {
                ImageError::Conflict {
                    reference,
                    reason: ConflictReason::InUse { containers },
                    message,
                } => {
                    assert_eq!(reference, child);
                    assert_eq!(containers, vec![e.container_id[..12].to_string()]);
                    assert!(message.contains(short(e.child_id)), "{message}");
                }
                other => panic!("{}: {other:?}", e.name),
            }
            match error_of(409, e.files.error_409_children, e.app_id) {
                ImageError::Conflict {
                    reason: ConflictReason::Other,
                    message,
                    ..
                } => {
                    assert_eq!(
                        message,
                        format!(
                            "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                            short(e.app_id)
                        )
                    );
                }
                other => panic!("{}: {other:?}", e.name),
            }
        }
        // 20.10 wraps its not-found message; 26.1 sends docker's wording.
        assert_eq!(
            raw(ENGINE_A.files.error_404)["message"],
            format!("no such image: {missing}: No such image: {missing}")
        );
        assert_eq!(
            raw(ENGINE_B.files.error_404)["message"],
            format!("No such image: {missing}")
        );
    }

    fn step(created_by: &str, size: u64) -> HistoryEntry {
        HistoryEntry {
            id: "<missing>".to_string(),
            created: None,
            created_by: created_by.to_string(),
            tags: Vec::new(),
            size,
            comment: String::new(),
        }
    }

    #[test]
    fn layer_sizes_follow_the_history() {
        let ids = |n: usize| -> Vec<String> { (0..n).map(|i| format!("sha256:{i:064}")).collect() };
        // Newest first, as the engine sends it.
        let history = vec![
            step("/bin/sh -c #(nop)  CMD [\"sh\"]", 0),
            step("/bin/sh -c #(nop) COPY file:abc in /app ", 50),
            step("/bin/sh -c mkdir /data", 0),
            step("/bin/sh -c #(nop)  ENV X=1", 0),
            step("/bin/sh -c #(nop) ADD file:def in / ", 100),
        ];
        assert_eq!(layer_sizes(&ids(3), &history), vec![100, 0, 50]);
        // BuildKit's words.
        let history = vec![
            step("CMD [\"sh\"]", 0),
            step("COPY f / # buildkit", 7),
            step("ENV X=1", 0),
            step("RUN /bin/sh -c chmod 700 /x # buildkit", 0),
            step("ADD rootfs.tar / # buildkit", 9),
        ];
        assert_eq!(layer_sizes(&ids(3), &history), vec![9, 0, 7]);
        // A history that does not add up: sizes in order, the empty layer
        // at 0.
        let mut diff_ids = ids(3);
        diff_ids[1] = EMPTY_LAYER.to_string();
        let history = vec![step("x", 5), step("y", 3)];
        assert_eq!(layer_sizes(&diff_ids, &history), vec![3, 0, 5]);
        assert_eq!(layer_sizes(&[], &[]), Vec::<u64>::new());
    }

    #[test]
    fn pinned_sizes_follow_the_images_that_end_at_each_layer() {
        let chains: Vec<String> = (0..4).map(|i| format!("sha256:{i:064}")).collect();
        // The history's guess moved 3 bytes to the wrong zero-size layer.
        let guessed = vec![100, 3, 0, 50];
        // Intermediate images end at every depth (the classic builder).
        let stacks: HashMap<String, u64> = [
            (chains[0].clone(), 100),
            (chains[1].clone(), 100),
            (chains[2].clone(), 103),
            (chains[3].clone(), 153),
        ]
        .into();
        assert_eq!(
            pinned_layer_sizes(&chains, &guessed, &stacks),
            vec![100, 0, 3, 50]
        );
        // Only the image itself: the guess stands when it adds up.
        let own: HashMap<String, u64> = [(chains[3].clone(), 153)].into();
        assert_eq!(pinned_layer_sizes(&chains, &guessed, &own), guessed);
        // When it does not, the total goes to the largest guess.
        let off: HashMap<String, u64> = [(chains[3].clone(), 160)].into();
        assert_eq!(
            pinned_layer_sizes(&chains, &guessed, &off),
            vec![160, 0, 0, 0]
        );
        // A pinned prefix and a guessed rest.
        let prefix: HashMap<String, u64> =
            [(chains[1].clone(), 103), (chains[3].clone(), 153)].into();
        assert_eq!(
            pinned_layer_sizes(&chains, &guessed, &prefix),
            vec![100, 3, 0, 50]
        );
    }
}
