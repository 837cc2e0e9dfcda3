//! Whether a local image's tag still points at what its registry serves:
//! the comparison `imgctl image outdated` prints and imgd's
//! `GET /api/v1/images/{image}/outdated` answers, kept here so both give
//! the same answer.
//!
//! A tag is compared through the image's repo digests for the tag's
//! repository (what `pull` and `push` record) and the digest the registry
//! gives for the tag now ([`ImageService::registry_digest`]):
//!
//! * [`UpdateStatus::UpToDate`]: the registry's digest is one of the
//!   image's repo digests for that repository;
//! * [`UpdateStatus::UpdateAvailable`]: it is not (a pull would fetch
//!   something else); the first repo digest of the repository is shown;
//! * [`UpdateStatus::Unknown`], with the reason: the registry has no such
//!   tag, refused the credentials, could not be reached, the backend cannot
//!   ask, or the image has no repo digest for the repository (it was loaded
//!   or built, never pulled or pushed) or no tag at all.
//!
//! The pure part ([`checks_of`], [`compare`]) decides what to ask and what
//! the answer means; [`checks_of_image`], [`resolve`] and [`check`] do the
//! asking.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::Digest;
use crate::reference::Reference;
use crate::service::ImageService;

/// How a tag compares with its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    /// The registry's tag points at what was pulled.
    UpToDate,
    /// The registry's tag points elsewhere.
    UpdateAvailable,
    /// The comparison could not be made (see the reason).
    Unknown,
}

impl UpdateStatus {
    /// The words a table shows: `up to date`, `update available`, `unknown`.
    pub fn text(self) -> &'static str {
        match self {
            UpdateStatus::UpToDate => "up to date",
            UpdateStatus::UpdateAvailable => "update available",
            UpdateStatus::Unknown => "unknown",
        }
    }
}

/// The answer for one tag: `{"image", "status", "local_digest",
/// "registry_digest", "reason"}`, with `null` where there is nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutdatedStatus {
    /// The tag (familiar, `alpine:3.20`), or the image as named when it has
    /// no tag.
    pub image: String,
    /// The comparison.
    pub status: UpdateStatus,
    /// The local repo digest compared, if any.
    pub local_digest: Option<Digest>,
    /// The registry's digest for the tag, if it gave one.
    pub registry_digest: Option<Digest>,
    /// Why the status is `unknown`.
    pub reason: Option<String>,
}

impl OutdatedStatus {
    /// An `unknown` answer for `image` with `reason`.
    pub fn unknown(image: impl Into<String>, reason: impl Into<String>) -> OutdatedStatus {
        OutdatedStatus {
            image: image.into(),
            status: UpdateStatus::Unknown,
            local_digest: None,
            registry_digest: None,
            reason: Some(reason.into()),
        }
    }
}

/// A tag to compare, or an answer known without asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Ask the registry for `reference` and [`compare`] with `local`.
    Ask {
        /// The tag, familiar.
        reference: String,
        /// The image's repo digests (`sha256:...`) for the tag's repository.
        local: Vec<Digest>,
    },
    /// Already answered.
    Known(OutdatedStatus),
}

/// The checks of one image with `repo_tags` and `repo_digests`: every tag,
/// or only `only` (a normalized `name:tag`) when the image has it. Tags
/// without a repo digest for their repository are `unknown` ("not pulled
/// from a registry") when `named` (someone asked about this image), and
/// skipped otherwise (nothing says where they came from).
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
                Some(Check::Known(OutdatedStatus::unknown(
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

/// The answer for `reference` whose local repo digests are `local`, given
/// the registry's `answer` (what [`ImageService::registry_digest`]
/// returned).
pub fn compare(
    reference: &str,
    local: &[Digest],
    answer: Result<Option<Digest>>,
) -> OutdatedStatus {
    match answer {
        Ok(Some(remote)) => {
            let matching = local.iter().find(|digest| **digest == remote);
            OutdatedStatus {
                image: reference.to_string(),
                status: if matching.is_some() {
                    UpdateStatus::UpToDate
                } else {
                    UpdateStatus::UpdateAvailable
                },
                local_digest: matching.or(local.first()).cloned(),
                registry_digest: Some(remote),
                reason: None,
            }
        }
        Ok(None) => OutdatedStatus {
            local_digest: local.first().cloned(),
            ..OutdatedStatus::unknown(reference, "the registry has no such tag")
        },
        Err(error) => OutdatedStatus {
            local_digest: local.first().cloned(),
            ..OutdatedStatus::unknown(reference, error.to_string())
        },
    }
}

/// The tag `name` names, as a normalized `name:tag`, when it names one
/// (not an ID, not a digest reference).
fn named_tag(name: &str) -> Option<Reference> {
    Reference::parse_normalized(name)
        .ok()
        .filter(|reference| reference.digest().is_none())
        .map(|reference| reference.tag_name_only())
}

/// The checks of the image `name` (a reference, an ID or a short ID): the
/// tag it names when the image has it, else every tag it has; an untagged
/// image is one `unknown` answer. Fails only when the image cannot be
/// inspected (for example [`ImageError::NotFound`](crate::ImageError::NotFound)).
pub async fn checks_of_image(service: &dyn ImageService, name: &str) -> Result<Vec<Check>> {
    let details = service.inspect(name).await?;
    if details.repo_tags.is_empty() {
        return Ok(vec![Check::Known(OutdatedStatus::unknown(
            name,
            "untagged image: no tag to look up",
        ))]);
    }
    Ok(checks_of(
        &details.repo_tags,
        &details.repo_digests,
        named_tag(name).as_ref(),
        true,
    ))
}

/// Answers one check, asking the registry (with the backend's own
/// credentials) when needed.
pub async fn resolve(service: &dyn ImageService, check: Check) -> OutdatedStatus {
    match check {
        Check::Known(status) => status,
        Check::Ask { reference, local } => {
            let answer = service.registry_digest(&reference, None).await;
            compare(&reference, &local, answer)
        }
    }
}

/// The answer for the image `name`: for the tag it names when the image
/// has that tag, else for the image's first tag (as `inspect` lists them).
/// Fails only when the image cannot be inspected; everything else,
/// registry errors included, is an `unknown` answer with the reason.
pub async fn check(service: &dyn ImageService, name: &str) -> Result<OutdatedStatus> {
    let checks = checks_of_image(service, name).await?;
    match checks.into_iter().next() {
        Some(first) => Ok(resolve(service, first).await),
        // Only when no tag parses, which inspect never gives.
        None => Ok(OutdatedStatus::unknown(name, "no tag to look up")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ImageError;
    use crate::archive::FixtureImage;
    use crate::memory::MemoryImageService;
    use crate::model::PullOptions;
    use crate::service::ImageServiceExt as _;

    fn digest(byte: &str) -> String {
        format!("sha256:{}", byte.repeat(64 / byte.len()))
    }

    fn reference(text: &str) -> Reference {
        Reference::parse_normalized(text).unwrap()
    }

    #[test]
    fn checks_pair_each_tag_with_its_repositorys_digests() {
        let tags = vec![
            "alpine:3.20".to_string(),
            "mirror.io/alpine:3.20".to_string(),
        ];
        let digests = vec![
            format!("alpine@{}", digest("a")),
            format!("mirror.io/alpine@{}", digest("b")),
            format!("alpine@{}", digest("c")),
        ];
        assert_eq!(
            checks_of(&tags, &digests, None, false),
            vec![
                Check::Ask {
                    reference: "alpine:3.20".into(),
                    local: vec![digest("a"), digest("c")],
                },
                Check::Ask {
                    reference: "mirror.io/alpine:3.20".into(),
                    local: vec![digest("b")],
                },
            ]
        );
        let only = reference("mirror.io/alpine:3.20");
        assert_eq!(
            checks_of(&tags, &digests, Some(&only), true),
            vec![Check::Ask {
                reference: "mirror.io/alpine:3.20".into(),
                local: vec![digest("b")],
            }]
        );
        // A tag the image does not have selects every tag.
        let other = reference("alpine:edge");
        assert_eq!(checks_of(&tags, &digests, Some(&other), true).len(), 2);
    }

    #[test]
    fn checks_compare_normalized_names_and_select_the_named_tag() {
        let tags = vec!["alpine:3.20".to_string(), "alpine:latest".to_string()];
        // `docker.io/library/alpine` is the repository `alpine` names.
        let digests = vec![
            format!("alpine@{}", digest("a")),
            format!("docker.io/library/alpine@{}", digest("b")),
        ];
        let local = vec![digest("a"), digest("b")];
        assert_eq!(
            checks_of(&tags, &digests, None, false),
            vec![
                Check::Ask {
                    reference: "alpine:3.20".into(),
                    local: local.clone(),
                },
                Check::Ask {
                    reference: "alpine:latest".into(),
                    local: local.clone(),
                },
            ]
        );
        // A bare name is its `latest` tag.
        let latest = reference("alpine").tag_name_only();
        assert_eq!(
            checks_of(&tags, &digests, Some(&latest), true),
            vec![Check::Ask {
                reference: "alpine:latest".into(),
                local,
            }]
        );
    }

    #[test]
    fn tags_without_a_repo_digest_are_unknown_when_named_and_skipped_otherwise() {
        let tags = vec!["myapp:1".to_string(), "alpine:3".to_string()];
        let digests = vec![format!("alpine@{}", digest("a"))];
        assert_eq!(
            checks_of(&tags, &digests, None, false),
            vec![Check::Ask {
                reference: "alpine:3".into(),
                local: vec![digest("a")],
            }]
        );
        let named = checks_of(&tags, &digests, None, true);
        assert_eq!(named.len(), 2);
        let Check::Known(status) = &named[0] else {
            panic!("expected a known answer, got {named:?}");
        };
        assert_eq!(status.image, "myapp:1");
        assert_eq!(status.status, UpdateStatus::Unknown);
        assert_eq!(
            status.reason.as_deref(),
            Some("no repo digest for myapp: not pulled from a registry")
        );
    }

    #[test]
    fn compare_tells_every_answer_apart() {
        let local = vec![digest("a"), digest("b")];
        let same = compare("alpine:3", &local, Ok(Some(digest("b"))));
        assert_eq!(same.status, UpdateStatus::UpToDate);
        assert_eq!(same.local_digest, Some(digest("b")));
        assert_eq!(same.reason, None);

        let newer = compare("alpine:3", &local, Ok(Some(digest("c"))));
        assert_eq!(newer.status, UpdateStatus::UpdateAvailable);
        assert_eq!(newer.local_digest, Some(digest("a")));
        assert_eq!(newer.registry_digest, Some(digest("c")));

        let gone = compare("alpine:3", &local, Ok(None));
        assert_eq!(gone.status, UpdateStatus::Unknown);
        assert_eq!(gone.reason.as_deref(), Some("the registry has no such tag"));
        assert_eq!(gone.local_digest, Some(digest("a")));

        let failed = compare(
            "alpine:3",
            &local,
            Err(ImageError::Registry {
                registry: "docker.io".into(),
                message: "connection refused".into(),
            }),
        );
        assert_eq!(failed.status, UpdateStatus::Unknown);
        assert!(
            failed
                .reason
                .as_deref()
                .unwrap()
                .contains("connection refused"),
            "{failed:?}"
        );
        assert_eq!(failed.registry_digest, None);
    }

    #[test]
    fn the_json_shape_is_the_apis() {
        let status = compare("alpine:3", &[digest("a")], Ok(Some(digest("c"))));
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            serde_json::json!({
                "image": "alpine:3",
                "status": "update_available",
                "local_digest": digest("a"),
                "registry_digest": digest("c"),
                "reason": null,
            })
        );
    }

    #[tokio::test]
    async fn check_follows_the_registry_of_the_memory_engine() {
        let service = MemoryImageService::demo().unwrap();
        // Loaded, never pulled: nothing says where it came from.
        let loaded = check(&service, "postgres:16").await.unwrap();
        assert_eq!(loaded.status, UpdateStatus::Unknown);
        assert!(
            loaded
                .reason
                .unwrap()
                .contains("not pulled from a registry")
        );

        let pulled = service
            .pull_to_end(&PullOptions {
                reference: "redis:7-alpine".into(),
                ..PullOptions::default()
            })
            .await
            .unwrap();
        let fresh = check(&service, "redis:7-alpine").await.unwrap();
        assert_eq!(fresh.status, UpdateStatus::UpToDate, "{fresh:?}");
        assert_eq!(fresh.image, "redis:7-alpine");
        assert_eq!(fresh.local_digest, fresh.registry_digest);

        // Named by ID: the first tag.
        let by_id = check(&service, pulled.image_id.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(by_id.image, "redis:7-alpine");
        assert_eq!(by_id.status, UpdateStatus::UpToDate);

        let newer = FixtureImage::new("redis-next")
            .layer_with_file("usr/local/bin/redis-server", b"8.0")
            .build()
            .unwrap();
        service.registry_put("redis:7-alpine", &newer).unwrap();
        let stale = check(&service, "redis:7-alpine").await.unwrap();
        assert_eq!(stale.status, UpdateStatus::UpdateAvailable, "{stale:?}");
        assert_ne!(stale.local_digest, stale.registry_digest);
        assert_eq!(
            stale.registry_digest,
            service.registry_digest("redis:7-alpine").unwrap()
        );

        assert!(check(&service, "nosuch:1").await.is_err());
    }
}
