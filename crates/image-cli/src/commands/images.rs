//! `imgctl images [REPOSITORY[:TAG]]` and `imgctl image ls`: docker's image
//! list, row for row and byte for byte (docker/cli's
//! `cli/command/formatter/image.go`), plus `--sort` and `--reverse`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use image_core::reference::Reference;
use image_core::{ImageFilters, ImageService, ImageSummary, ListOptions, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, print_output, report};
use crate::cli::{ImagesArgs, SortKey};
use crate::render::format::{Columns, Format, FormatError};
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

impl Columns for ImageRow {
    fn column(&self, name: &str) -> Option<&str> {
        let text = match name {
            "ID" => &self.id,
            "Repository" => &self.repository,
            "Tag" => &self.tag,
            "Digest" => &self.digest,
            "CreatedSince" => &self.created_since,
            "CreatedAt" => &self.created_at,
            "Size" => &self.size,
            "Containers" => &self.containers,
            "SharedSize" => &self.shared_size,
            "UniqueSize" => &self.unique_size,
            "VirtualSize" => &self.virtual_size,
            _ => return None,
        };
        Some(text)
    }
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
    if (0..=9999).contains(&at.year()) {
        // What the `format` below prints, without parsing its pattern for
        // each of a thousand rows.
        return format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
    }
    at.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// The familiar name and the tag of a repo tag, for the shape engines
/// report nearly always: `name:tag` where `name` is a Docker Hub
/// repository in familiar form (no domain, not under `library/`), made of
/// lowercase path components with single `.`/`_` or runs of `-` between
/// alphanumerics. There the answer is the text itself, split at the colon,
/// which is what [`Reference::parse_normalized`] would find, only without
/// its regular expressions. `None` for anything else: the parser decides.
fn familiar_tagged(text: &str) -> Option<(&str, &str)> {
    let (name, tag) = text.split_once(':')?;
    let tag_ok = (1..=128).contains(&tag.len())
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
        });
    (tag_ok && familiar_hub_name(name)).then_some((name, tag))
}

/// The familiar name and the digest of a repo digest, for the shape
/// engines report: `name@sha256:<64 lowercase hex>` with `name` as in
/// [`familiar_tagged`]. `None` for anything else: the parser decides.
fn familiar_digested(text: &str) -> Option<(&str, &str)> {
    let (name, digest) = text.split_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    let digest_ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (digest_ok && familiar_hub_name(name)).then_some((name, digest))
}

/// Whether `name` is a Docker Hub repository written in familiar form,
/// within a strict subset of the reference grammar: so normalizing it and
/// making it familiar again gives `name` back.
fn familiar_hub_name(name: &str) -> bool {
    // Far below the 255 bytes allowed for `docker.io/library/<name>`.
    if name.is_empty() || name.len() > 200 {
        return false;
    }
    let mut components = name.split('/');
    let first = components.next().unwrap_or_default();
    let several = name.contains('/');
    // A first component with a dot is a registry domain; `localhost` is one
    // too; `library/x` is familiar `x`.
    if several && (first.contains('.') || first == "localhost" || first == "library") {
        return false;
    }
    name.split('/').all(|component| {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes
                .iter()
                .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
            && bytes.windows(2).all(|pair| {
                alnum(&pair[0]) || alnum(&pair[1]) || (pair[0] == b'-' && pair[1] == b'-')
            })
    })
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
    // The columns every row of the image shares, formatted once.
    let shared = ImageRow {
        id: if truncate {
            short_id(&image.id).to_string()
        } else {
            image.id.clone()
        },
        repository: String::new(),
        tag: String::new(),
        digest: String::new(),
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
        // docker/cli's `VirtualSize()` is `units.HumanSize` (4 digits).
        virtual_size: human_size(image.size as f64),
        sort_created: image.created,
        sort_size: image.size,
    };
    let make = |repository: &str, tag: &str, digest: &str| ImageRow {
        repository: repository.to_string(),
        tag: tag.to_string(),
        digest: digest.to_string(),
        ..shared.clone()
    };
    if image.repo_tags.is_empty() && image.repo_digests.is_empty() {
        return vec![make("<none>", "<none>", "<none>")];
    }
    let mut order: Vec<String> = Vec::new();
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for text in &image.repo_tags {
        let tagged = match familiar_tagged(text) {
            Some((name, tag)) => Some((name.to_string(), tag.to_string())),
            None => Reference::parse_normalized(text)
                .ok()
                .and_then(|r| r.tag().map(|tag| (r.familiar_name(), tag.to_string()))),
        };
        if let Some((name, tag)) = tagged {
            if !order.contains(&name) {
                order.push(name.clone());
            }
            tags.entry(name).or_default().push(tag);
        }
    }
    let mut digest_order: Vec<String> = Vec::new();
    for text in &image.repo_digests {
        let digested = match familiar_digested(text) {
            Some((name, digest)) => Some((name.to_string(), digest.to_string())),
            None => Reference::parse_normalized(text).ok().and_then(|r| {
                r.digest()
                    .map(|digest| (r.familiar_name(), digest.to_string()))
            }),
        };
        if let Some((name, digest)) = digested {
            if !digest_order.contains(&name) {
                digest_order.push(name.clone());
            }
            digests.entry(name).or_default().push(digest);
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
    print_output(io, format.write_columns(&rows, &headers()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Names, tags and digests around the edges of the fast paths.
    fn names() -> Vec<String> {
        let components = [
            "a",
            "app",
            "a.b",
            "a_b",
            "a__b",
            "a--b",
            "a-b",
            "a..b",
            "a._b",
            "A",
            "-a",
            "a-",
            "_a",
            "a.",
            "localhost",
            "library",
            "docker.io",
            "index.docker.io",
            "example.com",
            "host:5000",
            "1",
            "ab9",
            "",
            "a b",
            "é",
        ];
        let mut names: Vec<String> = components.iter().map(|c| c.to_string()).collect();
        for first in components {
            for second in ["a", "x-y", "B", ""] {
                names.push(format!("{first}/{second}"));
                names.push(format!("{first}/{second}/z"));
            }
        }
        names.push("a".repeat(200));
        names.push("a".repeat(201));
        names.push(format!("{}/{}", "a".repeat(120), "b".repeat(120)));
        names
    }

    #[test]
    fn fast_paths_agree_with_the_reference_parser() {
        let long_tag = "t".repeat(128);
        let too_long_tag = "t".repeat(129);
        let tags = [
            "v1",
            "latest",
            "V_1.0-rc",
            "_x",
            "-x",
            ".x",
            "",
            "a:b",
            "x@y",
            &long_tag,
            &too_long_tag,
        ];
        let hex = "0123456789abcdef".repeat(4);
        let digests = [
            format!("sha256:{hex}"),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}", &hex[1..]),
            format!("sha512:{hex}{hex}"),
            "sha256:".to_string(),
        ];
        let mut fast = 0;
        for name in names() {
            for tag in tags {
                let text = format!("{name}:{tag}");
                if let Some((n, t)) = familiar_tagged(&text) {
                    fast += 1;
                    let parsed = Reference::parse_normalized(&text).unwrap();
                    assert_eq!(parsed.familiar_name(), n, "{text}");
                    assert_eq!(parsed.tag(), Some(t), "{text}");
                }
            }
            for digest in &digests {
                let text = format!("{name}@{digest}");
                if let Some((n, d)) = familiar_digested(&text) {
                    fast += 1;
                    let parsed = Reference::parse_normalized(&text).unwrap();
                    assert_eq!(parsed.familiar_name(), n, "{text}");
                    assert_eq!(
                        parsed.digest().map(ToString::to_string),
                        Some(d.to_string())
                    );
                }
            }
        }
        assert!(fast > 100, "the fast paths took only {fast} cases");
        assert_eq!(
            familiar_tagged("imgctl-bench/app-0:v500"),
            Some(("imgctl-bench/app-0", "v500"))
        );
        assert_eq!(
            familiar_tagged("busybox:latest"),
            Some(("busybox", "latest"))
        );
        for slow in [
            "localhost:5000/app:v1",
            "127.0.0.1:5000/app:v1",
            "library/busybox:latest",
            "docker.io/library/busybox:latest",
            "quay.io/x/y:1",
            "app@sha256:0",
            "app:v1@sha256:0123",
        ] {
            assert_eq!(familiar_tagged(slow), None, "{slow}");
        }
    }

    /// `column` gives what the template engine prints for every placeholder.
    #[test]
    fn columns_are_the_serialized_fields() {
        let image = ImageSummary {
            id: format!("sha256:{}", "ab".repeat(32)),
            repo_tags: vec!["app:v1".into()],
            repo_digests: Vec::new(),
            parent_id: None,
            created: DateTime::from_timestamp(1_704_067_200, 0),
            size: 1_234_567,
            shared_size: Some(1000),
            labels: BTreeMap::new(),
            containers: 2,
        };
        let row = rows_of(&image, true, false, Utc::now()).remove(0);
        let json = serde_json::to_value(&row).unwrap();
        let object = json.as_object().unwrap();
        assert_eq!(object.len(), headers().len());
        for name in headers().keys() {
            assert_eq!(
                row.column(name),
                object.get(name).and_then(|v| v.as_str()),
                "{name}"
            );
            let template = format!("{{{{.{name}}}}}");
            let engine = crate::render::template::Template::parse(&template).unwrap();
            assert_eq!(
                row.column(name).map(str::to_string),
                Some(engine.render(&row).unwrap())
            );
        }
        assert_eq!(row.column("Nope"), None);
        let table = Format::parse(DEFAULT_TABLE).unwrap();
        assert_eq!(
            table
                .write_columns(std::slice::from_ref(&row), &headers())
                .unwrap(),
            table.write(&[row], &headers()).unwrap()
        );
    }

    #[test]
    fn go_time_string_matches_the_chrono_pattern() {
        for seconds in [
            0,
            1_704_067_200,
            253_402_300_799,
            -62_135_596_800,
            951_782_400,
        ] {
            let at = DateTime::from_timestamp(seconds, 0).unwrap();
            assert_eq!(
                go_time_string(Some(at)),
                at.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
            );
        }
        assert_eq!(go_time_string(None), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn rows_of_an_image_with_several_references() {
        let image = ImageSummary {
            id: format!("sha256:{}", "ab".repeat(32)),
            repo_tags: vec![
                "imgctl-bench/app-0:v500".into(),
                "localhost:5000/app:v1".into(),
                "imgctl-bench/app-0:v501".into(),
            ],
            repo_digests: vec![
                format!("imgctl-bench/app-0@sha256:{}", "cd".repeat(32)),
                format!("registry.example/other@sha256:{}", "ef".repeat(32)),
            ],
            parent_id: None,
            created: None,
            size: 25,
            shared_size: None,
            labels: BTreeMap::new(),
            containers: 0,
        };
        let rows = rows_of(&image, true, true, Utc::now());
        let cells: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.repository.as_str(), r.tag.as_str(), r.digest.as_str()))
            .collect();
        let cd = format!("sha256:{}", "cd".repeat(32));
        let ef = format!("sha256:{}", "ef".repeat(32));
        assert_eq!(
            cells,
            vec![
                ("imgctl-bench/app-0", "v500", cd.as_str()),
                ("imgctl-bench/app-0", "v501", cd.as_str()),
                ("localhost:5000/app", "v1", "<none>"),
                ("registry.example/other", "<none>", ef.as_str()),
            ]
        );
        assert!(rows.iter().all(|r| r.id == "abababababab"));
    }
}
