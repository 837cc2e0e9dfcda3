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
