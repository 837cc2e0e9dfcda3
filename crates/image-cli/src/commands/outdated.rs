//! `imgctl image outdated [IMAGE...]` (beyond docker): for each tag of a
//! local image that came from a registry, whether the registry's tag still
//! points at what was pulled.
//!
//! A tag is compared through the image's repo digests for the tag's
//! repository (what `pull` and `push` record) and the digest the registry
//! gives for the tag now ([`ImageService::registry_digest`]; the Docker
//! backend asks the engine's distribution endpoint with the docker
//! config's credentials). The comparison is [`image_core::outdated`]'s,
//! the one imgd answers with; this module picks the images and renders
//! the answers:
//!
//! ```text
//! IMAGE           STATUS             LOCAL DIGEST          REGISTRY DIGEST       REASON
//! alpine:3.20     up to date         sha256:3fb2a5c30a5d   sha256:3fb2a5c30a5d
//! alpine:latest   update available   sha256:3fb2a5c30a5d   sha256:9b12e0c6a6e1
//! nginx:1.27      unknown            -                     -                     no repo digest for nginx: not pulled from a registry
//! ```
//!
//! * `up to date`: the registry's digest is one of the image's repo
//!   digests for that repository;
//! * `update available`: it is not (a pull would fetch something else);
//!   both digests are shown (the first repo digest of the repository when
//!   the image has several);
//! * `unknown`, with the reason: the registry has no such tag, refused the
//!   credentials, could not be reached, the backend cannot ask, or (for a
//!   named image only) the image has no repo digest for the repository (it
//!   was loaded or built, never pulled or pushed) or no tag at all.
//!
//! Without arguments every tag of every top-level image that has a repo
//! digest for its repository is checked, newest image first; tags without
//! one are skipped, since nothing says where they came from. A named image
//! (`NAME[:TAG]`, an ID or a digest reference) is checked for the tag it
//! names, or for every tag it has when named otherwise. Registries are
//! asked a few at a time; rows keep the order above.
//!
//! Digests are shortened to `sha256:` and 12 hex characters unless
//! `--no-trunc`; a missing one shows as `-`. `-q` prints only the tags with
//! an update available (for `xargs -n1 imgctl pull`). `--format` takes
//! docker's `table`, `table TEMPLATE`, `json` or a Go template over
//! `.Image`, `.Status`, `.LocalDigest`, `.RegistryDigest` and `.Reason`;
//! `--json` prints one JSON array of `{"image", "status" (`up_to_date`,
//! `update_available` or `unknown`), "local_digest", "registry_digest",
//! "reason"}` with full digests and `null` where there is nothing. An
//! `unknown` status is an answer, not a failure: the exit code is 1 only
//! when an image cannot be found or the listing fails (reported on stderr
//! in docker's words).

use std::collections::BTreeMap;

use futures::StreamExt as _;
use image_core::outdated::{OutdatedStatus, UpdateStatus, checks_of, checks_of_image, resolve};
use image_core::{ImageService, ListOptions, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, error_text, print_output, report, report_last};
use crate::cli::OutdatedArgs;
use crate::render::format::{Format, FormatError};

const DEFAULT_TABLE: &str =
    "table {{.Image}}\t{{.Status}}\t{{.LocalDigest}}\t{{.RegistryDigest}}\t{{.Reason}}";
/// How many registries are asked at once.
const CONCURRENCY: usize = 8;
/// What an absent digest shows as in tables and templates.
const NONE: &str = "-";

/// One row of the table: an [`OutdatedStatus`] formatted for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutdatedRow {
    /// `IMAGE`.
    #[serde(rename = "Image")]
    pub image: String,
    /// `STATUS`.
    #[serde(rename = "Status")]
    pub status: String,
    /// `LOCAL DIGEST`.
    #[serde(rename = "LocalDigest")]
    pub local_digest: String,
    /// `REGISTRY DIGEST`.
    #[serde(rename = "RegistryDigest")]
    pub registry_digest: String,
    /// `REASON`.
    #[serde(rename = "Reason")]
    pub reason: String,
}

fn headers() -> BTreeMap<String, String> {
    [
        ("Image", "IMAGE"),
        ("Status", "STATUS"),
        ("LocalDigest", "LOCAL DIGEST"),
        ("RegistryDigest", "REGISTRY DIGEST"),
        ("Reason", "REASON"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `sha256:` and the first 12 hex characters, or all of it.
fn shown_digest(digest: Option<&str>, truncate: bool) -> String {
    match digest {
        None => NONE.to_string(),
        Some(digest) if truncate => match digest.split_once(':') {
            Some((algorithm, _)) => format!("{algorithm}:{}", short_id(digest)),
            None => short_id(digest).to_string(),
        },
        Some(digest) => digest.to_string(),
    }
}

impl OutdatedRow {
    /// The row of an outcome.
    pub fn of(outcome: &OutdatedStatus, truncate: bool) -> OutdatedRow {
        OutdatedRow {
            image: outcome.image.clone(),
            status: outcome.status.text().to_string(),
            local_digest: shown_digest(outcome.local_digest.as_deref(), truncate),
            registry_digest: shown_digest(outcome.registry_digest.as_deref(), truncate),
            reason: outcome
                .reason
                .as_deref()
                .unwrap_or_default()
                .replace(['\n', '\t'], " "),
        }
    }
}

/// Runs `image outdated`.
pub async fn run(service: &dyn ImageService, args: &OutdatedArgs, io: &mut Io<'_>) -> ExitStatus {
    let format = if args.json || args.quiet {
        None
    } else {
        let text = match args.format.as_deref() {
            None | Some("") | Some("table") => DEFAULT_TABLE,
            Some(custom) => custom,
        };
        match Format::parse(text) {
            Ok(format) => Some(format),
            Err(FormatError(message)) => {
                let _ = writeln!(io.err, "{message}");
                return ExitStatus::Failure;
            }
        }
    };
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    if args.images.is_empty() {
        let options = ListOptions {
            digests: true,
            ..ListOptions::default()
        };
        let images = match service.list(&options).await {
            Ok(images) => images,
            Err(error) => return report(io, &error),
        };
        for image in &images {
            checks.extend(checks_of(
                &image.repo_tags,
                &image.repo_digests,
                None,
                false,
            ));
        }
    } else {
        for name in &args.images {
            match checks_of_image(service, name).await {
                Ok(found) => checks.extend(found),
                Err(error) => errors.push(error_text(&error)),
            }
        }
    }
    let outcomes: Vec<OutdatedStatus> = futures::stream::iter(checks)
        .map(|check| resolve(service, check))
        .buffered(CONCURRENCY)
        .collect()
        .await;

    let written = if args.json {
        serde_json::to_string_pretty(&outcomes)
            .map(|text| text + "\n")
            .map_err(|e| format!("json: {e}"))
    } else if let Some(format) = format {
        let rows: Vec<OutdatedRow> = outcomes
            .iter()
            .map(|outcome| OutdatedRow::of(outcome, !args.no_trunc))
            .collect();
        format.write(&rows, &headers()).map_err(|e| e.0)
    } else {
        Ok(outcomes
            .iter()
            .filter(|outcome| outcome.status == UpdateStatus::UpdateAvailable)
            .map(|outcome| format!("{}\n", outcome.image))
            .collect())
    };
    let status = print_output(io, written);
    report_last(io, status, &errors)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image_core::ImageError;
    use image_core::outdated::compare;

    use super::*;

    fn digest(byte: &str) -> String {
        format!("sha256:{}", byte.repeat(64 / byte.len()))
    }

    #[test]
    fn rows_shorten_digests_and_flatten_reasons() {
        let local = vec![digest("a"), digest("b")];
        let newer = compare("app:1", &local, Ok(Some(digest("c"))));
        let row = OutdatedRow::of(&newer, true);
        assert_eq!(row.image, "app:1");
        assert_eq!(row.local_digest, "sha256:aaaaaaaaaaaa");
        assert_eq!(row.registry_digest, "sha256:cccccccccccc");
        assert_eq!(row.status, "update available");
        assert_eq!(row.reason, "");
        assert_eq!(OutdatedRow::of(&newer, false).registry_digest, digest("c"));

        let failed = compare(
            "app:1",
            &local,
            Err(ImageError::Registry {
                registry: "r.example".into(),
                message: "500\nInternal".into(),
            }),
        );
        let row = OutdatedRow::of(&failed, true);
        assert_eq!(row.status, "unknown");
        assert_eq!(row.registry_digest, "-");
        assert_eq!(row.reason, "registry r.example: 500 Internal");
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["status"], "unknown");
        assert_eq!(json["registry_digest"], serde_json::Value::Null);
    }
}
