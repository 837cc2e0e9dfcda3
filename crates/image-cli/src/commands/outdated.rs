//! `imgctl image outdated [IMAGE...]` (beyond docker): for each tag of a
//! local image that came from a registry, whether the registry's tag still
//! points at what was pulled.
//!
//! A tag is compared through the image's repo digests for the tag's
//! repository (what `pull` and `push` record) and the digest the registry
//! gives for the tag now ([`ImageService::registry_digest`]; the Docker
//! backend asks the engine's distribution endpoint with the docker
//! config's credentials):
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
use image_core::reference::Reference;
use image_core::{Digest, ImageService, ListOptions, Result, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, error_text, report};
use crate::cli::OutdatedArgs;
use crate::render::format::{Format, FormatError};

const DEFAULT_TABLE: &str =
    "table {{.Image}}\t{{.Status}}\t{{.LocalDigest}}\t{{.RegistryDigest}}\t{{.Reason}}";
/// How many registries are asked at once.
const CONCURRENCY: usize = 8;
/// What an absent digest shows as in tables and templates.
const NONE: &str = "-";

/// How a tag compares with its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The registry's tag points at what was pulled.
    UpToDate,
    /// The registry's tag points elsewhere.
    UpdateAvailable,
    /// The comparison could not be made (see the reason).
    Unknown,
}

impl Status {
    /// The words the table shows.
    pub fn text(self) -> &'static str {
        match self {
            Status::UpToDate => "up to date",
            Status::UpdateAvailable => "update available",
            Status::Unknown => "unknown",
        }
    }
}

/// The answer for one tag, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The tag (familiar, `alpine:3.20`), or the image as named when it has
    /// no tag.
    pub image: String,
    /// The comparison.
    pub status: Status,
    /// The local repo digest compared, if any.
    pub local_digest: Option<Digest>,
    /// The registry's digest for the tag, if it gave one.
    pub registry_digest: Option<Digest>,
    /// Why the status is `unknown`.
    pub reason: Option<String>,
}

impl Outcome {
    fn unknown(image: impl Into<String>, reason: impl Into<String>) -> Outcome {
        Outcome {
            image: image.into(),
            status: Status::Unknown,
            local_digest: None,
            registry_digest: None,
            reason: Some(reason.into()),
        }
    }
}

/// One row of the table: an [`Outcome`] formatted for display.
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
    pub fn of(outcome: &Outcome, truncate: bool) -> OutdatedRow {
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

/// A tag to compare, or an answer known without asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Ask the registry for `reference` and compare with `local`.
    Ask {
        /// The tag, familiar.
        reference: String,
        /// The image's repo digests (`sha256:...`) for the tag's repository.
        local: Vec<Digest>,
    },
    /// Already answered.
    Known(Outcome),
}

/// The checks of one image with `repo_tags` and `repo_digests`: every tag,
/// or only `only` (a normalized `name:tag`) when the image has it. Tags
/// without a repo digest for their repository are `unknown` when `named`
/// (the user asked about this image), skipped otherwise.
pub fn checks_of(
    repo_tags: &[String],
    repo_digests: &[String],
    only: Option<&Reference>,
    named: bool,
) -> Vec<Check> {
    let tags: Vec<Reference> = repo_tags
        .iter()
        .filter_map(|tag| Reference::parse_normalized(tag).ok())
        .filter(|tag| tag.tag().is_some())
        .collect();
    let wanted = only.map(Reference::to_string);
    let only_named = wanted
        .as_ref()
        .is_some_and(|wanted| tags.iter().any(|tag| &tag.to_string() == wanted));
    let digests: Vec<Reference> = repo_digests
        .iter()
        .filter_map(|digest| Reference::parse_normalized(digest).ok())
        .filter(|digest| digest.digest().is_some())
        .collect();
    tags.iter()
        .filter(|tag| !only_named || Some(tag.to_string()) == wanted)
        .filter_map(|tag| {
            let name = tag.name();
            let local: Vec<Digest> = digests
                .iter()
                .filter(|digest| digest.name() == name)
                .filter_map(|digest| digest.digest().map(str::to_string))
                .collect();
            if !local.is_empty() {
                Some(Check::Ask {
                    reference: tag.familiar(),
                    local,
                })
            } else if named {
                Some(Check::Known(Outcome::unknown(
                    tag.familiar(),
                    format!(
                        "no repo digest for {}: not pulled from a registry",
                        tag.familiar_name()
                    ),
                )))
            } else {
                None
            }
        })
        .collect()
}

/// The outcome for `reference` whose local repo digests are `local`, given
/// the registry's answer.
pub fn compare(reference: &str, local: &[Digest], answer: Result<Option<Digest>>) -> Outcome {
    match answer {
        Ok(Some(remote)) => {
            let matching = local.iter().find(|digest| **digest == remote);
            Outcome {
                image: reference.to_string(),
                status: if matching.is_some() {
                    Status::UpToDate
                } else {
                    Status::UpdateAvailable
                },
                local_digest: matching.or(local.first()).cloned(),
                registry_digest: Some(remote),
                reason: None,
            }
        }
        Ok(None) => Outcome {
            local_digest: local.first().cloned(),
            ..Outcome::unknown(reference, "the registry has no such tag")
        },
        Err(error) => Outcome {
            local_digest: local.first().cloned(),
            ..Outcome::unknown(reference, error.to_string())
        },
    }
}

/// The checks of a named image: the tag it names, else all its tags.
async fn checks_of_named(service: &dyn ImageService, name: &str) -> Result<Vec<Check>> {
    let details = service.inspect(name).await?;
    if details.repo_tags.is_empty() {
        return Ok(vec![Check::Known(Outcome::unknown(
            name,
            "untagged image: no tag to look up",
        ))]);
    }
    let only = Reference::parse_normalized(name)
        .ok()
        .filter(|r| r.digest().is_none())
        .map(|r| r.tag_name_only());
    Ok(checks_of(
        &details.repo_tags,
        &details.repo_digests,
        only.as_ref(),
        true,
    ))
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
            match checks_of_named(service, name).await {
                Ok(found) => checks.extend(found),
                Err(error) => errors.push(error_text(&error)),
            }
        }
    }
    let outcomes: Vec<Outcome> = futures::stream::iter(checks)
        .map(|check| async move {
            match check {
                Check::Known(outcome) => outcome,
                Check::Ask { reference, local } => {
                    let answer = service.registry_digest(&reference, None).await;
                    compare(&reference, &local, answer)
                }
            }
        })
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
            .filter(|outcome| outcome.status == Status::UpdateAvailable)
            .map(|outcome| format!("{}\n", outcome.image))
            .collect())
    };
    let status = match written {
        Ok(text) => {
            let _ = io.out.write_all(text.as_bytes());
            ExitStatus::Success
        }
        Err(message) => {
            let _ = writeln!(io.err, "{message}");
            ExitStatus::Failure
        }
    };
    if errors.is_empty() {
        status
    } else {
        let _ = writeln!(io.err, "{}", errors.join("\n"));
        ExitStatus::Failure
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image_core::ImageError;

    use super::*;

    fn digest(byte: &str) -> String {
        format!("sha256:{}", byte.repeat(64 / byte.len()))
    }

    #[test]
    fn checks_pair_tags_with_their_repositories_digests() {
        let tags = vec![
            "alpine:3.20".to_string(),
            "alpine:latest".to_string(),
            "mirror.example/alpine:3.20".to_string(),
        ];
        let digests = vec![
            format!("alpine@{}", digest("a")),
            format!("docker.io/library/alpine@{}", digest("b")),
        ];
        let all = checks_of(&tags, &digests, None, false);
        assert_eq!(
            all,
            vec![
                Check::Ask {
                    reference: "alpine:3.20".into(),
                    local: vec![digest("a"), digest("b")],
                },
                Check::Ask {
                    reference: "alpine:latest".into(),
                    local: vec![digest("a"), digest("b")],
                },
            ],
            "the mirror tag has no repo digest and is skipped"
        );
        let named = checks_of(&tags, &digests, None, true);
        assert_eq!(named.len(), 3);
        assert_eq!(
            named[2],
            Check::Known(Outcome::unknown(
                "mirror.example/alpine:3.20",
                "no repo digest for mirror.example/alpine: not pulled from a registry"
            ))
        );
        let latest = Reference::parse_normalized("alpine")
            .unwrap()
            .tag_name_only();
        let only = checks_of(&tags, &digests, Some(&latest), true);
        assert_eq!(only.len(), 1);
        assert!(matches!(&only[0], Check::Ask { reference, .. } if reference == "alpine:latest"));
        // A name the image does not have as a tag (an ID) checks every tag.
        let other = Reference::parse_normalized("abc123")
            .unwrap()
            .tag_name_only();
        assert_eq!(checks_of(&tags, &digests, Some(&other), true).len(), 3);
    }

    #[test]
    fn comparisons_and_their_rows() {
        let local = vec![digest("a"), digest("b")];
        let same = compare("app:1", &local, Ok(Some(digest("b"))));
        assert_eq!(same.status, Status::UpToDate);
        assert_eq!(same.local_digest, Some(digest("b")));
        let newer = compare("app:1", &local, Ok(Some(digest("c"))));
        assert_eq!(newer.status, Status::UpdateAvailable);
        assert_eq!(newer.local_digest, Some(digest("a")));
        assert_eq!(newer.registry_digest, Some(digest("c")));
        let row = OutdatedRow::of(&newer, true);
        assert_eq!(row.local_digest, "sha256:aaaaaaaaaaaa");
        assert_eq!(row.registry_digest, "sha256:cccccccccccc");
        assert_eq!(row.status, "update available");
        assert_eq!(OutdatedRow::of(&newer, false).registry_digest, digest("c"));

        let missing = compare("app:1", &local, Ok(None));
        assert_eq!(missing.status, Status::Unknown);
        assert_eq!(
            missing.reason.as_deref(),
            Some("the registry has no such tag")
        );
        let failed = compare(
            "app:1",
            &local,
            Err(ImageError::Registry {
                registry: "r.example".into(),
                message: "500\nInternal".into(),
            }),
        );
        assert_eq!(failed.registry_digest, None);
        let row = OutdatedRow::of(&failed, true);
        assert_eq!(row.registry_digest, "-");
        assert_eq!(row.reason, "registry r.example: 500 Internal");
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["status"], "unknown");
        assert_eq!(json["registry_digest"], serde_json::Value::Null);
    }
}
