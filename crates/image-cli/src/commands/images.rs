//! `imgctl images [REPOSITORY[:TAG]]` and `imgctl image ls`: docker's image
//! list, row for row and byte for byte (docker/cli's
//! `cli/command/formatter/image.go`), plus `--sort` and `--reverse`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use image_core::reference::Reference;
use image_core::{ImageFilters, ImageService, ImageSummary, ListOptions, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, report};
use crate::cli::{ImagesArgs, SortKey};
use crate::render::format::{Format, FormatError};
use crate::render::units::{created_since, human_size, human_size_with_precision};

const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DEFAULT_TABLE_WITH_DIGEST: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const QUIET: &str = "{{.ID}}";

/// One row of `docker images`: the placeholders a `--format` template can
/// use, already formatted the way docker formats them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRow {
    /// `IMAGE ID`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `REPOSITORY`.
    #[serde(rename = "Repository")]
    pub repository: String,
    /// `TAG`.
    #[serde(rename = "Tag")]
    pub tag: String,
    /// `DIGEST`.
    #[serde(rename = "Digest")]
    pub digest: String,
    /// `CREATED`.
    #[serde(rename = "CreatedSince")]
    pub created_since: String,
    /// `CREATED AT`.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    /// `SIZE`.
    #[serde(rename = "Size")]
    pub size: String,
    /// `CONTAINERS`.
    #[serde(rename = "Containers")]
    pub containers: String,
    /// `SHARED SIZE`.
    #[serde(rename = "SharedSize")]
    pub shared_size: String,
    /// `UNIQUE SIZE`.
    #[serde(rename = "UniqueSize")]
    pub unique_size: String,
    /// `VIRTUAL SIZE` (deprecated by docker, kept for old templates).
    #[serde(rename = "VirtualSize")]
    pub virtual_size: String,
    #[serde(skip)]
    sort_created: Option<DateTime<Utc>>,
    #[serde(skip)]
    sort_size: u64,
}

/// The table headers of the placeholders.
pub fn headers() -> BTreeMap<String, String> {
    [
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
        ("VirtualSize", "VIRTUAL SIZE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Go's `time.Time.String()` of a unix time, in UTC as the engines' clocks
/// run here: `2024-06-07 08:09:10 +0000 UTC`.
fn go_time_string(created: Option<DateTime<Utc>>) -> String {
    let at = created.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    at.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// The rows of one image, as docker's `imageFormatTaggedAndDigest` makes
/// them: one per tag (times each digest of the same repository when digests
/// are shown), then one per repository that has only digests. Repositories
/// come in the order of the image's references (docker's order is a Go map's,
/// so random).
pub fn rows_of(
    image: &ImageSummary,
    show_digests: bool,
    truncate: bool,
    now: DateTime<Utc>,
) -> Vec<ImageRow> {
    let make = |repository: &str, tag: &str, digest: &str| ImageRow {
        id: if truncate {
            short_id(&image.id).to_string()
        } else {
            image.id.clone()
        },
        repository: repository.to_string(),
        tag: tag.to_string(),
        digest: digest.to_string(),
        created_since: created_since(image.created, now),
        created_at: go_time_string(image.created),
        size: human_size_with_precision(image.size as f64, 3),
        containers: image.containers.to_string(),
        shared_size: image
            .shared_size
            .map_or_else(|| "N/A".to_string(), |s| human_size(s as f64)),
        unique_size: image.shared_size.map_or_else(
            || "N/A".to_string(),
            |s| human_size(image.size.saturating_sub(s) as f64),
        ),
        virtual_size: human_size_with_precision(image.size as f64, 3),
        sort_created: image.created,
        sort_size: image.size,
    };
    if image.repo_tags.is_empty() && image.repo_digests.is_empty() {
        return vec![make("<none>", "<none>", "<none>")];
    }
    let mut order: Vec<String> = Vec::new();
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for text in &image.repo_tags {
        if let Ok(r) = Reference::parse_normalized(text) {
            if let Some(tag) = r.tag() {
                let name = r.familiar_name();
                if !order.contains(&name) {
                    order.push(name.clone());
                }
                tags.entry(name).or_default().push(tag.to_string());
            }
        }
    }
    let mut digest_order: Vec<String> = Vec::new();
    for text in &image.repo_digests {
        if let Ok(r) = Reference::parse_normalized(text) {
            if let Some(digest) = r.digest() {
                let name = r.familiar_name();
                if !digest_order.contains(&name) {
                    digest_order.push(name.clone());
                }
                digests.entry(name).or_default().push(digest.to_string());
            }
        }
    }
    let mut rows = Vec::new();
    for repository in &order {
        let repo_digests = digests
            .remove(repository)
            .filter(|_| show_digests)
            .unwrap_or_default();
        for tag in tags.get(repository).into_iter().flatten() {
            if repo_digests.is_empty() {
                rows.push(make(repository, tag, "<none>"));
            } else {
                for digest in &repo_digests {
                    rows.push(make(repository, tag, digest));
                }
            }
        }
    }
    for repository in digest_order {
        if let Some(repo_digests) = digests.remove(&repository) {
            if show_digests {
                for digest in &repo_digests {
                    rows.push(make(&repository, "<none>", digest));
                }
            } else {
                rows.push(make(&repository, "<none>", ""));
            }
        }
    }
    rows
}

/// The format docker would use (`NewImageFormat`).
fn resolve_format(args: &ImagesArgs) -> String {
    match args.format.as_deref() {
        None | Some("") | Some("table") => {
            if args.quiet {
                QUIET.to_string()
            } else if args.digests {
                DEFAULT_TABLE_WITH_DIGEST.to_string()
            } else {
                DEFAULT_TABLE.to_string()
            }
        }
        Some(custom) => {
            let mut format = custom.to_string();
            if format.starts_with("table") && args.digests && !format.contains("{{.Digest}}") {
                format.push_str("\t{{.Digest}}");
            }
            format
        }
    }
}

fn sort_rows(rows: &mut [ImageRow], key: SortKey) {
    match key {
        SortKey::Created => rows.sort_by_key(|row| std::cmp::Reverse(row.sort_created)),
        SortKey::Size => rows.sort_by_key(|row| std::cmp::Reverse(row.sort_size)),
        SortKey::Repository => rows.sort_by(|a, b| {
            a.repository
                .cmp(&b.repository)
                .then_with(|| a.tag.cmp(&b.tag))
        }),
        SortKey::Tag => rows.sort_by(|a, b| {
            a.tag
                .cmp(&b.tag)
                .then_with(|| a.repository.cmp(&b.repository))
        }),
    }
}

/// Runs `images`.
pub async fn run(service: &dyn ImageService, args: &ImagesArgs, io: &mut Io<'_>) -> ExitStatus {
    let format_text = resolve_format(args);
    let format = match Format::parse(&format_text) {
        Ok(format) => format,
        Err(FormatError(message)) => {
            let _ = writeln!(io.err, "{message}");
            return ExitStatus::Failure;
        }
    };
    let mut filter_args = args.filters.clone();
    if let Some(repository) = &args.repository {
        filter_args.push(format!("reference={repository}"));
    }
    let filters = match ImageFilters::parse(&filter_args) {
        Ok(filters) => filters,
        Err(error) => return report(io, &error),
    };
    let options = ListOptions {
        all: args.all,
        filters,
        digests: args.digests,
    };
    let images = match service.list(&options).await {
        Ok(images) => images,
        Err(error) => return report(io, &error),
    };
    let show_digests = args.digests || format_text.contains("{{.Digest}}");
    let mut rows: Vec<ImageRow> = images
        .iter()
        .flat_map(|image| rows_of(image, show_digests, !args.no_trunc, io.now))
        .collect();
    if let Some(key) = args.sort {
        sort_rows(&mut rows, key);
    }
    if args.reverse {
        rows.reverse();
    }
    match format.write(&rows, &headers()) {
        Ok(text) => {
            let _ = io.out.write_all(text.as_bytes());
            ExitStatus::Success
        }
        Err(FormatError(message)) => {
            let _ = writeln!(io.err, "{message}");
            ExitStatus::Failure
        }
    }
}
