//! `imgctl system df [-v] [--format FORMAT]`: docker 28's `docker system df`
//! (docker/cli v28.5.2, `cli/command/system/df.go` and
//! `cli/command/formatter/disk_usage.go`), byte for byte.
//!
//! imgctl's [`ImageService`] knows images only. The Containers, Local
//! Volumes and Build Cache rows and sections are printed the way docker
//! prints them for an engine that has no containers, volumes or build cache:
//! counts `0`, sizes `0B`, empty tables. (The containers that use images
//! still count in the images' `ACTIVE` and `CONTAINERS` columns.)
//!
//! The summary is docker's table
//! `table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}`:
//!
//! ```text
//! TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
//! Images          9         3         24.03MB   15.83MB (65%)
//! Containers      0         0         0B        0B
//! Local Volumes   0         0         0B        0B
//! Build Cache     0         0         0B        0B
//! ```
//!
//! Images `SIZE` is `HumanSize(LayersSize)` (go-units, 4 significant
//! digits); `RECLAIMABLE` is `HumanSize(reclaimable) (P%)` with
//! `P = reclaimable * 100 / LayersSize` in integer division (truncated), or
//! `HumanSize(reclaimable)` alone when `LayersSize` is 0.
//!
//! `-v` prints docker's four sections: `Images space usage:` (one row per
//! image, showing only its first tag, `<none>` for untagged images; `SIZE`
//! with 3 significant digits as `docker images`, `SHARED SIZE` and
//! `UNIQUE SIZE` with 4), `Containers space usage:`, `Local Volumes space
//! usage:` and `Build cache usage: 0B`, each followed by a blank line and its
//! table, the three last ones with their header only.
//!
//! `--format` takes docker's `table`, `table TEMPLATE`, `json`, `raw` or a
//! Go template. Without `-v` it is applied to each of the four rows, with
//! the placeholders `.Type`, `.TotalCount`, `.Active`, `.Size` and
//! `.Reclaimable` (`json` lists them in that sorted order, as docker's
//! reflection-built objects do). With `-v` and anything but `table`, the
//! template runs once on `{Images, Containers, Volumes, BuildCache}` (image
//! placeholders: `.Repository`, `.Tag`, `.ID`, `.Digest`, `.CreatedSince`,
//! `.CreatedAt`, `.Size`, `.SharedSize`, `.UniqueSize`, `.VirtualSize`,
//! `.Containers`; IDs are full unless the format starts with `table`), and,
//! as in docker, no newline is added after it. `-v --format json` prints
//! `{"Images":[...],"Containers":[],"Volumes":[],"BuildCache":[]}` with each
//! image's keys sorted and `<`, `>`, `&` escaped (`\u003cnone\u003e`), as
//! docker's image contexts marshal themselves.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use image_core::reference::Reference;
use image_core::{DiskUsage, ImageService, ImageUsage, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, print_output, report};
use crate::cli::DfArgs;
use crate::render::format::{Format, FormatError};
use crate::render::template::Template;
use crate::render::units::{created_since, human_size, human_size_with_precision};

/// docker's `defaultDiskUsageTableFormat`.
const SUMMARY_TABLE: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
/// docker's summary format for `--format raw`.
const SUMMARY_RAW: &str = "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n";
/// docker's `defaultDiskUsageImageTableFormat`.
const IMAGE_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
/// docker's `defaultDiskUsageContainerTableFormat`.
const CONTAINER_TABLE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
/// docker's `defaultDiskUsageVolumeTableFormat`.
const VOLUME_TABLE: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
/// docker's `defaultDiskUsageBuildCacheTableFormat`.
const BUILD_CACHE_TABLE: &str = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";
/// docker's verbose `raw` format (`NewDiskUsageFormat`) reduced to its
/// images part: the container, volume and build-cache ranges are always
/// empty here, and each one's `{{end -}}` trims the newline before the next.
const VERBOSE_RAW: &str = "{{range .Images}}type: Image\nrepository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n\n{{end}}";

/// One row of the summary. Fields are in sorted order because docker's
/// `json` of these rows is a Go map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    /// `ACTIVE`.
    #[serde(rename = "Active")]
    pub active: String,
    /// `RECLAIMABLE`.
    #[serde(rename = "Reclaimable")]
    pub reclaimable: String,
    /// `SIZE`.
    #[serde(rename = "Size")]
    pub size: String,
    /// `TOTAL`.
    #[serde(rename = "TotalCount")]
    pub total_count: String,
    /// `TYPE`.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// One image of `-v`. Fields are in sorted order, as docker's `json` of an
/// image context is a Go map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRow {
    /// `CONTAINERS`.
    #[serde(rename = "Containers")]
    pub containers: String,
    /// `CREATED AT`.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    /// `CREATED`.
    #[serde(rename = "CreatedSince")]
    pub created_since: String,
    /// `DIGEST` (always empty in `system df`, as in docker).
    #[serde(rename = "Digest")]
    pub digest: String,
    /// `IMAGE ID`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `REPOSITORY`.
    #[serde(rename = "Repository")]
    pub repository: String,
    /// `SHARED SIZE`.
    #[serde(rename = "SharedSize")]
    pub shared_size: String,
    /// `SIZE`.
    #[serde(rename = "Size")]
    pub size: String,
    /// `TAG`.
    #[serde(rename = "Tag")]
    pub tag: String,
    /// `UNIQUE SIZE`.
    #[serde(rename = "UniqueSize")]
    pub unique_size: String,
    /// `VIRTUAL SIZE` (deprecated by docker; the size with 4 digits).
    #[serde(rename = "VirtualSize")]
    pub virtual_size: String,
}

/// What a `-v` template other than `table` runs on, once (docker's
/// `diskUsageContext`).
#[derive(Debug, Serialize)]
struct Verbose {
    #[serde(rename = "Images")]
    images: Vec<ImageRow>,
    #[serde(rename = "Containers")]
    containers: Vec<()>,
    #[serde(rename = "Volumes")]
    volumes: Vec<()>,
    #[serde(rename = "BuildCache")]
    build_cache: Vec<()>,
}

fn header_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// The summary's headers.
fn summary_headers() -> BTreeMap<String, String> {
    header_map(&[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ])
}

/// docker's image context headers.
fn image_headers() -> BTreeMap<String, String> {
    header_map(&[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
        ("VirtualSize", "SIZE"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
    ])
}

/// docker's container context headers.
fn container_headers() -> BTreeMap<String, String> {
    header_map(&[
        ("ID", "CONTAINER ID"),
        ("Names", "NAMES"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
        ("Networks", "NETWORKS"),
        ("Platform", "PLATFORM"),
    ])
}

/// docker's volume context headers.
fn volume_headers() -> BTreeMap<String, String> {
    header_map(&[
        ("ID", "ID"),
        ("Name", "VOLUME NAME"),
        ("Group", "GROUP"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Availability", "AVAILABILITY"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
        ("Size", "SIZE"),
        ("Status", "STATUS"),
    ])
}

/// docker's build-cache context headers.
fn build_cache_headers() -> BTreeMap<String, String> {
    header_map(&[
        ("ID", "CACHE ID"),
        ("Parent", "PARENT"),
        ("CacheType", "CACHE TYPE"),
        ("Size", "SIZE"),
        ("CreatedSince", "CREATED"),
        ("LastUsedSince", "LAST USED"),
        ("UsageCount", "USAGE"),
        ("InUse", "IN USE"),
        ("Shared", "SHARED"),
        ("Description", "DESCRIPTION"),
    ])
}

/// The four summary rows: images from `usage`, the rest empty.
pub fn summary_rows(usage: &DiskUsage) -> Vec<SummaryRow> {
    let total = usage.layers_size;
    let reclaimable = usage.reclaimable;
    let reclaimable_text = if total > 0 {
        let percent = u128::from(reclaimable) * 100 / u128::from(total);
        format!("{} ({percent}%)", human_size(reclaimable as f64))
    } else {
        human_size(reclaimable as f64)
    };
    let images = SummaryRow {
        kind: "Images".to_string(),
        total_count: usage.images.len().to_string(),
        active: usage.active().to_string(),
        size: human_size(total as f64),
        reclaimable: reclaimable_text,
    };
    let empty = |kind: &str| SummaryRow {
        kind: kind.to_string(),
        total_count: "0".to_string(),
        active: "0".to_string(),
        size: human_size(0.0),
        reclaimable: human_size(0.0),
    };
    vec![
        images,
        empty("Containers"),
        empty("Local Volumes"),
        empty("Build Cache"),
    ]
}

/// Go's `time.Time.String()` of a unix time, in UTC as `images` prints it.
fn go_time_string(created: DateTime<Utc>) -> String {
    created.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// The `-v` row of one image, or `None` where docker skips the image (its
/// first tag does not parse).
pub fn image_row(image: &ImageUsage, truncate: bool, now: DateTime<Utc>) -> Option<ImageRow> {
    let (mut repository, mut tag) = ("<none>".to_string(), "<none>".to_string());
    if let Some(first) = image.repo_tags.first() {
        let parsed = Reference::parse_normalized(first).ok()?;
        if let Some(t) = parsed.tag() {
            repository = parsed.familiar_name();
            tag = t.to_string();
        }
    }
    // The engine reports an unknown creation time as 0, which docker shows
    // as the age of the Unix epoch.
    let created = image.created.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Some(ImageRow {
        containers: image.containers.to_string(),
        created_at: go_time_string(created),
        created_since: created_since(Some(created), now),
        digest: String::new(),
        id: if truncate {
            short_id(&image.id).to_string()
        } else {
            image.id.clone()
        },
        repository,
        shared_size: human_size(image.shared_size as f64),
        size: human_size_with_precision(image.size as f64, 3),
        tag,
        unique_size: human_size(image.unique_size as f64),
        virtual_size: human_size(image.size as f64),
    })
}

/// docker's `Context.preFormat` for a template run once: `table` stripped,
/// `json` as `{{json .}}`, spaces trimmed, `\t` and `\n` unescaped.
fn pre_format(format: &str) -> String {
    let body = if let Some(rest) = format.strip_prefix("table") {
        rest
    } else if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    body.trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n")
}

fn table(
    format: &str,
    rows: &[impl Serialize],
    headers: &BTreeMap<String, String>,
) -> Result<String, FormatError> {
    Format::parse(format)?.write(rows, headers)
}

/// docker's `verboseWriteTable`.
fn verbose_tables(images: &[ImageRow]) -> Result<String, FormatError> {
    let none: &[()] = &[];
    let mut text = String::from("Images space usage:\n\n");
    text.push_str(&table(IMAGE_TABLE, images, &image_headers())?);
    text.push_str("\nContainers space usage:\n\n");
    text.push_str(&table(CONTAINER_TABLE, none, &container_headers())?);
    text.push_str("\nLocal Volumes space usage:\n\n");
    text.push_str(&table(VOLUME_TABLE, none, &volume_headers())?);
    text.push_str(&format!("\nBuild cache usage: {}\n\n", human_size(0.0)));
    text.push_str(&table(BUILD_CACHE_TABLE, none, &build_cache_headers())?);
    Ok(text)
}

/// `{{json .}}` of docker's `diskUsageContext`: the template's encoder
/// does not escape HTML, but each image context marshals itself with
/// `json.Marshal`, which does (`<none>` is `\u003cnone\u003e`).
fn verbose_json(images: &[ImageRow]) -> Result<String, FormatError> {
    let mut text = String::from("{\"Images\":[");
    for (i, image) in images.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let json = serde_json::to_string(image).map_err(|e| FormatError(format!("json: {e}")))?;
        text.push_str(&go_escape_html(&json));
    }
    text.push_str("],\"Containers\":[],\"Volumes\":[],\"BuildCache\":[]}");
    Ok(text)
}

/// What Go's `json.Marshal` escapes beyond `serde_json`: `<`, `>`, `&` and
/// the line and paragraph separators. They only occur inside strings of
/// encoded JSON, so replacing them in the text is safe.
fn go_escape_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the output for `args`, or docker's template error.
fn render(usage: &DiskUsage, args: &DfArgs, now: DateTime<Utc>) -> Result<String, FormatError> {
    let source = args.format.as_deref().filter(|f| !f.is_empty());
    if !args.verbose {
        let format = match source {
            None | Some("table") => SUMMARY_TABLE,
            Some("raw") => SUMMARY_RAW,
            Some(custom) => custom,
        };
        return Format::parse(format)?.write(&summary_rows(usage), &summary_headers());
    }
    let format = match source {
        None => "table",
        Some("raw") => VERBOSE_RAW,
        Some(custom) => custom,
    };
    let truncate = format.starts_with("table");
    let images: Vec<ImageRow> = usage
        .images
        .iter()
        .filter_map(|image| image_row(image, truncate, now))
        .collect();
    if format == "table" {
        return verbose_tables(&images);
    }
    let body = pre_format(format);
    if body == "{{json .}}" {
        return verbose_json(&images);
    }
    let template =
        Template::parse(&body).map_err(|e| FormatError(format!("template parsing error: {e}")))?;
    let data = Verbose {
        images,
        containers: Vec::new(),
        volumes: Vec::new(),
        build_cache: Vec::new(),
    };
    template
        .render(&data)
        .map_err(|e| FormatError(format!("template parsing error: {e}")))
}

/// Runs `system df`.
pub async fn run(service: &dyn ImageService, args: &DfArgs, io: &mut Io<'_>) -> ExitStatus {
    // docker parses the format after asking the engine, so an engine error
    // wins over a bad template.
    let usage = match service.disk_usage().await {
        Ok(usage) => usage,
        Err(error) => return report(io, &error),
    };
    print_output(io, render(&usage, args, io.now))
}
