//! Retention: which tags and images a [`RetentionPolicy`] removes from an
//! engine, planned from an [`EngineSnapshot`] without touching the engine
//! ([`plan`]), and carried out later without force ([`execute`]), so that
//! the engine itself still refuses anything in use.
//!
//! # Rules
//!
//! A policy has one or more rules. The tags of a repository follow the
//! **first** rule whose `repository` globs match the repository's familiar
//! name (`myapp`, `registry.example.com/team/api`), matched like the
//! `reference=` filter does (Go `path.Match`, so `*` does not cross `/`).
//! Tags of repositories no rule matches are kept ([`KeepReason::NotMatched`]).
//! Within a repository, each tag is decided in this order:
//!
//! 1. every tag of an image that a container uses, running or stopped, is
//!    kept ([`KeepReason::InUse`]);
//! 2. a tag matching one of the rule's `keep` globs (over the tag alone,
//!    for example `production`, `v*-lts`, `latest`) is kept
//!    ([`KeepReason::Protected`]);
//! 3. the remaining tags are ranked newest first by [`Order`] (creation
//!    time, or semantic version with `order = "semver"`); ties go to the
//!    tag name, then the image ID, ascending, so the ranking never depends
//!    on the order of the snapshot. With `keep_last = N` the first N are
//!    kept ([`KeepReason::WithinNewest`]): protected tags and tags of images
//!    in use do not count towards N;
//! 4. with `older_than`, a tag whose image was created at or after
//!    `now - older_than` is kept ([`KeepReason::TooRecent`]), and so is one
//!    whose image has no creation time ([`KeepReason::UnknownAge`]);
//! 5. a rule with neither `keep_last` nor `older_than` removes no tag
//!    ([`KeepReason::NoExpiry`]); it can still protect its repositories from
//!    later rules and remove their dangling images;
//! 6. any other tag is untagged ([`RemovalReason::Expired`]).
//!
//! A tag is the unit of `keep_last`: two tags of one image in one
//! repository take two places.
//!
//! An image is deleted only when the plan untags all of its tags
//! ([`RemovalReason::AllTagsRemoved`]); otherwise it is only untagged. A
//! dangling image (one without tags that is no other image's parent) is
//! deleted only when the first rule with `dangling = true` whose globs match
//! one of its repositories applies ([`RemovalReason::Dangling`]), subject to
//! that rule's `older_than` (its `keep_last` and `keep` do not apply). Its
//! repositories are those of its repository digests (`app@sha256:…` is in
//! `app`), or `<none>`, as `docker images` shows it, when it has none; so
//! `repository = ["*"]` covers every reference-less dangling image.
//!
//! Deleting an image releases the layers no remaining image uses, and, as
//! `docker rmi` does, also deletes its parent when that is left untagged,
//! unused and childless ([`RemovalReason::UntaggedParent`]).
//!
//! # Exactness
//!
//! The plan is not an estimate: [`plan`] loads the snapshot into a scratch
//! [`MemoryImageService`] (which follows moby's delete rules), carries out
//! the untags and deletes there, without force, and reports what happened:
//! the images deleted, the layers released and the bytes freed, which count
//! only layers that no kept image uses. An image the plan meant to delete
//! but that the engine would not (a kept child, references in several
//! repositories) is kept, with the reason.
//!
//! # Example policy
//!
//! ```
//! use image_core::retention::RetentionPolicy;
//!
//! let policy = RetentionPolicy::from_toml(r#"
//! ## Releases of myapp: the newest 5 versions stay, and so does any tag
//! ## younger than 30 days; production, LTS and latest tags always stay.
//! [[rules]]
//! repository = ["myapp", "registry.example.com/team/*"]
//! keep_last = 5
//! keep = ["production", "v*-lts", "latest"]
//! older_than = "720h"
//! order = "semver"
//!
//! ## Everything else: the newest 3 tags per repository, and dangling
//! ## images older than a day.
//! [[rules]]
//! repository = ["*", "*/*"]
//! keep_last = 3
//! older_than = "24h"
//! dangling = true
//! "#)?;
//! assert_eq!(policy.rules.len(), 2);
//! # Ok::<(), image_core::ImageError>(())
//! ```

mod execute;
mod policy;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use serde::{Deserialize, Serialize};

pub use self::execute::{ActionOutcome, CleanupReport, Outcome, execute};
pub use self::policy::{Age, NO_REPOSITORY, Order, RetentionPolicy, RetentionRule};
use crate::archive::chain_ids;
use crate::error::{ImageError, Result};
use crate::memory::{EngineSnapshot, ManualClock, MemoryImageService, SnapshotImage};
use crate::model::{Digest, RemoveAction, RemoveOptions};
use crate::reference::Reference;
use crate::service::ImageService;

/// What a [`RetentionPolicy`] would do to an engine: the untags and
/// deletes, in the order [`execute`] carries them out, every image that
/// stays with the reason, the layers released and the bytes freed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CleanupPlan {
    /// Untags first (by repository, then rank), then deletes.
    pub actions: Vec<PlannedAction>,
    /// Every image of the snapshot that stays, by image ID.
    pub kept: Vec<KeptImage>,
    /// The layers the deletes release, as the engine's layer store would.
    pub layers: Vec<PlannedLayer>,
    /// Bytes freed: the sizes of `layers`. Layers a kept image still uses
    /// are not released and not counted.
    pub freed_bytes: u64,
}

impl CleanupPlan {
    /// The planned untags, as `(reference, image ID)`.
    pub fn untags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.actions.iter().filter_map(|action| match action {
            PlannedAction::Untag {
                reference,
                image_id,
                ..
            } => Some((reference.as_str(), image_id.as_str())),
            PlannedAction::Delete { .. } => None,
        })
    }

    /// The IDs of the images the plan deletes.
    pub fn deletes(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().filter_map(|action| match action {
            PlannedAction::Delete { image_id, .. } => Some(image_id.as_str()),
            PlannedAction::Untag { .. } => None,
        })
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// One step of a [`CleanupPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PlannedAction {
    /// Remove the tag `reference` (familiar, `myapp:1.2`) from `image_id`.
    Untag {
        /// The tag, familiar (`myapp:1.2`, `registry.example.com/team/api:v3`).
        reference: String,
        /// The image it points at when planned.
        image_id: Digest,
        /// Why it goes.
        reason: RemovalReason,
    },
    /// Delete the image `image_id` (when an earlier untag has not already).
    Delete {
        /// The image ID.
        image_id: Digest,
        /// Why it goes.
        reason: RemovalReason,
    },
}

/// Why a tag is untagged or an image deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemovalReason {
    /// The tag ranks beyond the rule's `keep_last` and its image is older
    /// than the rule's `older_than` (each when set).
    Expired {
        /// The rule's index in [`RetentionPolicy::rules`], from 0.
        rule: usize,
        /// The tag's place in its repository's ranking, from 1 (protected
        /// tags and tags of images in use are not ranked).
        rank: usize,
        /// The rule's `keep_last`.
        #[serde(skip_serializing_if = "Option::is_none")]
        keep_last: Option<usize>,
        /// The rule's `older_than`.
        #[serde(skip_serializing_if = "Option::is_none")]
        older_than: Option<Age>,
    },
    /// The plan untags every tag of the image.
    AllTagsRemoved,
    /// A dangling image, selected by a rule with `dangling = true`.
    Dangling {
        /// The rule's index, from 0.
        rule: usize,
        /// The rule's `older_than`.
        #[serde(skip_serializing_if = "Option::is_none")]
        older_than: Option<Age>,
    },
    /// An untagged, unused parent image that the engine deletes together
    /// with its last child, as `docker rmi` does.
    UntaggedParent {
        /// The deleted child that left it childless.
        child: Digest,
    },
}

/// An image that stays, with the tags it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeptImage {
    /// The image ID.
    pub image_id: Digest,
    /// The tags it keeps, each with its reason (the plan may untag others).
    pub tags: Vec<KeptTag>,
    /// Why the image stays: in use, else the strongest reason among its
    /// tags (in [`KeepReason`]'s order), else why it could not go.
    pub reason: KeepReason,
}

/// A tag that stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeptTag {
    /// The tag, familiar (`myapp:1.2`).
    pub tag: String,
    /// Why it stays.
    pub reason: KeepReason,
}

/// Why a tag or an image stays, strongest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeepReason {
    /// Containers use the image (running or stopped).
    InUse {
        /// Their names (their IDs when unnamed), sorted.
        containers: Vec<String>,
    },
    /// The tag matches one of the rule's `keep` globs.
    Protected {
        /// The rule's index, from 0.
        rule: usize,
        /// The glob that matched.
        glob: String,
    },
    /// The tag is among the newest `keep_last` of its repository.
    WithinNewest {
        /// The rule's index, from 0.
        rule: usize,
        /// The rule's `keep_last`.
        keep_last: usize,
        /// The tag's place, from 1.
        rank: usize,
    },
    /// The image is not older than the rule's `older_than`.
    TooRecent {
        /// The rule's index, from 0.
        rule: usize,
        /// The rule's `older_than`.
        older_than: Age,
    },
    /// The rule has `older_than` but the image has no creation time.
    UnknownAge {
        /// The rule's index, from 0.
        rule: usize,
    },
    /// The rule has neither `keep_last` nor `older_than`.
    NoExpiry {
        /// The rule's index, from 0.
        rule: usize,
    },
    /// No rule applies (for a dangling image: no rule with
    /// `dangling = true` matches it).
    NotMatched,
    /// Kept images are built on it (its tags may still be untagged).
    HasChildren {
        /// The children's IDs.
        children: Vec<Digest>,
    },
    /// The engine would refuse to delete it without force, for example
    /// because repository digests in several repositories refer to it.
    Refused {
        /// The engine's message.
        message: String,
    },
}

impl KeepReason {
    /// Strength for choosing an image's reason: lower is stronger.
    fn strength(&self) -> u8 {
        match self {
            KeepReason::InUse { .. } => 0,
            KeepReason::Protected { .. } => 1,
            KeepReason::WithinNewest { .. } => 2,
            KeepReason::TooRecent { .. } => 3,
            KeepReason::UnknownAge { .. } => 4,
            KeepReason::NoExpiry { .. } => 5,
            KeepReason::NotMatched => 6,
            KeepReason::HasChildren { .. } => 7,
            KeepReason::Refused { .. } => 8,
        }
    }
}

/// A layer that the plan's deletes release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlannedLayer {
    /// The layer's chain ID, as the engine reports it when deleting.
    pub chain_id: Digest,
    /// Its size, from the snapshot.
    pub size: u64,
}

/// One tag of the snapshot with what the plan needs to rank it.
struct TagEntry<'a> {
    /// Familiar `repo:tag`.
    reference: String,
    /// The repository, name only.
    repository: Reference,
    tag: String,
    image: &'a SnapshotImage,
}

/// Plans what `policy` does to the engine `snapshot` was taken of, at
/// `now`; see the [module docs](self) for the rules.
///
/// Fails with [`ImageError::InvalidArgument`] for a policy that does not
/// [validate](RetentionPolicy::validate), and with
/// [`ImageError::InvalidReference`] for a tag or digest in the snapshot
/// that does not parse.
pub fn plan(
    snapshot: &EngineSnapshot,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<CleanupPlan> {
    policy.validate()?;
    let images: BTreeMap<&str, &SnapshotImage> = snapshot
        .images
        .iter()
        .map(|image| (image.id.as_str(), image))
        .collect();

    // Containers of images the snapshot holds (others protect nothing).
    let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for container in &snapshot.containers {
        if images.contains_key(container.image_id.as_str()) {
            let name = if container.name.is_empty() {
                container.id.clone()
            } else {
                container.name.clone()
            };
            users
                .entry(container.image_id.as_str())
                .or_default()
                .push(name);
        }
    }
    users.values_mut().for_each(|names| names.sort());

    // Which image each tag points at: a later image wins, as when the
    // snapshot is loaded into an engine.
    let mut tag_owner: BTreeMap<String, (&str, Reference)> = BTreeMap::new();
    for image in &snapshot.images {
        for tag in &image.repo_tags {
            let parsed = Reference::parse_docker(tag)
                .map_err(|err| ImageError::invalid_reference(tag, err))?;
            tag_owner.insert(parsed.to_string(), (image.id.as_str(), parsed));
        }
    }

    // Tags: in use, unmatched, protected, or ranked in their repository.
    let mut decided = Decisions::default();
    let mut ranked: BTreeMap<String, (usize, Vec<TagEntry<'_>>)> = BTreeMap::new();
    for (id, parsed) in tag_owner.values() {
        let Some(&image) = images.get(id) else {
            continue;
        };
        let id = image.id.as_str();
        let entry = TagEntry {
            reference: parsed.familiar(),
            repository: parsed.trim_named(),
            tag: parsed.tag().unwrap_or_default().to_string(),
            image,
        };
        if let Some(containers) = users.get(id) {
            let containers = containers.clone();
            decided.keep(id, entry.reference, KeepReason::InUse { containers });
            continue;
        }
        let Some(index) = policy.rule_for(&entry.repository) else {
            decided.keep(id, entry.reference, KeepReason::NotMatched);
            continue;
        };
        if let Some(glob) = policy.rules[index].protecting_glob(&entry.tag) {
            let glob = glob.to_string();
            decided.keep(
                id,
                entry.reference,
                KeepReason::Protected { rule: index, glob },
            );
            continue;
        }
        ranked
            .entry(entry.repository.familiar_name())
            .or_insert_with(|| (index, Vec::new()))
            .1
            .push(entry);
    }
    for (repository, (index, mut entries)) in ranked {
        let rule = &policy.rules[index];
        entries.sort_by(|a, b| rank_order(rule.order, a, b));
        for (place, entry) in entries.into_iter().enumerate() {
            let rank = place + 1;
            let id = entry.image.id.as_str();
            let keep = match (rule.keep_last, rule.older_than) {
                (None, None) => Some(KeepReason::NoExpiry { rule: index }),
                (Some(keep_last), _) if rank <= keep_last => Some(KeepReason::WithinNewest {
                    rule: index,
                    keep_last,
                    rank,
                }),
                (_, Some(older_than)) => age_keeps(index, older_than, entry.image, now),
                (Some(_), None) => None,
            };
            match keep {
                Some(reason) => decided.keep(id, entry.reference, reason),
                None => decided.untags.push(Untag {
                    image_id: id,
                    reference: entry.reference,
                    repository: repository.clone(),
                    rank,
                    reason: RemovalReason::Expired {
                        rule: index,
                        rank,
                        keep_last: rule.keep_last,
                        older_than: rule.older_than,
                    },
                }),
            }
        }
    }

    // Images: those whose every tag goes, and selected dangling images.
    let parents: BTreeSet<&str> = snapshot
        .images
        .iter()
        .filter_map(|image| image.parent.as_deref())
        .filter(|parent| images.contains_key(parent))
        .collect();
    let mut untag_counts: HashMap<&str, usize> = HashMap::new();
    for untag in &decided.untags {
        *untag_counts.entry(untag.image_id).or_default() += 1;
    }
    let mut candidates: Vec<(&str, RemovalReason)> = Vec::new();
    for (&id, image) in &images {
        if let Some(containers) = users.get(id) {
            let containers = containers.clone();
            decided
                .image_reasons
                .insert(id, KeepReason::InUse { containers });
            continue;
        }
        let untagged = untag_counts.get(id).copied().unwrap_or(0);
        let kept = decided.kept_tags.get(id).map_or(0, Vec::len);
        if untagged > 0 && kept == 0 {
            candidates.push((id, RemovalReason::AllTagsRemoved));
            continue;
        }
        if untagged + kept > 0 || parents.contains(id) {
            continue;
        }
        // A dangling image: its repositories are those of its digests.
        let repositories: Vec<Reference> = image
            .repo_digests
            .iter()
            .filter_map(|digest| Reference::parse_normalized(digest).ok())
            .map(|r| r.trim_named())
            .collect();
        let Some(index) = policy.dangling_rule_for(&repositories) else {
            decided.image_reasons.insert(id, KeepReason::NotMatched);
            continue;
        };
        let older_than = policy.rules[index].older_than;
        match older_than.and_then(|age| age_keeps(index, age, image, now)) {
            Some(reason) => {
                decided.image_reasons.insert(id, reason);
            }
            None => candidates.push((
                id,
                RemovalReason::Dangling {
                    rule: index,
                    older_than,
                },
            )),
        }
    }

    // Carry it out on a scratch engine, without force.
    decided.untags.sort_by(|a, b| {
        (&a.repository, a.rank, &a.reference).cmp(&(&b.repository, b.rank, &b.reference))
    });
    let scratch = MemoryImageService::from_snapshot(snapshot, Arc::new(ManualClock::new(now)))?;
    let layers_before = ready(scratch.disk_usage())?.layers_size;
    let mut removals = Removals::default();
    let mut actions = Vec::new();
    for untag in &decided.untags {
        let removed = ready(scratch.remove(&untag.reference, &RemoveOptions::default()))?;
        removals.record(&images, removed);
        actions.push(PlannedAction::Untag {
            reference: untag.reference.clone(),
            image_id: untag.image_id.to_string(),
            reason: untag.reason.clone(),
        });
    }
    let mut refused: BTreeMap<&str, String> = BTreeMap::new();
    for (id, _) in &candidates {
        if removals.deleted.contains(*id) {
            continue;
        }
        match ready(scratch.remove(id, &RemoveOptions::default())) {
            Ok(removed) => removals.record(&images, removed),
            Err(err) => {
                refused.insert(id, err.to_string());
            }
        }
    }
    let layers_after = ready(scratch.disk_usage())?.layers_size;
    let reasons: HashMap<&str, &RemovalReason> = candidates
        .iter()
        .map(|(id, reason)| (*id, reason))
        .collect();
    for id in &removals.order {
        let reason = match reasons.get(id.as_str()) {
            Some(reason) => (*reason).clone(),
            None => RemovalReason::UntaggedParent {
                child: deleted_child(snapshot, &removals.deleted, id),
            },
        };
        actions.push(PlannedAction::Delete {
            image_id: id.clone(),
            reason,
        });
    }

    // Everything that stays, with its reason.
    let mut kept = Vec::new();
    for &id in images.keys() {
        if removals.deleted.contains(id) {
            continue;
        }
        let mut tags: Vec<KeptTag> = decided
            .kept_tags
            .remove(id)
            .unwrap_or_default()
            .into_iter()
            .map(|(tag, reason)| KeptTag { tag, reason })
            .collect();
        tags.sort_by(|a, b| a.tag.cmp(&b.tag));
        let children: Vec<Digest> = snapshot
            .images
            .iter()
            .filter(|image| {
                image.parent.as_deref() == Some(id) && !removals.deleted.contains(&image.id)
            })
            .map(|image| image.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let up_front = decided.image_reasons.remove(id);
        let reason = if let Some(in_use @ KeepReason::InUse { .. }) = up_front {
            in_use
        } else if let Some(tag) = tags.iter().min_by_key(|tag| tag.reason.strength()) {
            tag.reason.clone()
        } else if !children.is_empty() {
            KeepReason::HasChildren { children }
        } else if let Some(message) = refused.remove(id) {
            KeepReason::Refused { message }
        } else {
            up_front.unwrap_or(KeepReason::NotMatched)
        };
        kept.push(KeptImage {
            image_id: id.to_string(),
            tags,
            reason,
        });
    }

    let sizes = layer_sizes(snapshot);
    let layers: Vec<PlannedLayer> = removals
        .layers
        .into_iter()
        .map(|chain_id| PlannedLayer {
            size: sizes.get(&chain_id).copied().unwrap_or(0),
            chain_id,
        })
        .collect();
    let freed_bytes = layers_before.saturating_sub(layers_after);
    let counted: u64 = layers.iter().map(|layer| layer.size).sum();
    if counted != freed_bytes {
        return Err(ImageError::backend(
            "retention plan: the released layers do not add up",
            format!("{counted} bytes in released layers, {freed_bytes} bytes freed"),
        ));
    }
    Ok(CleanupPlan {
        actions,
        kept,
        layers,
        freed_bytes,
    })
}

/// A planned untag, with what orders it.
struct Untag<'a> {
    image_id: &'a str,
    reference: String,
    /// Familiar repository name.
    repository: String,
    rank: usize,
    reason: RemovalReason,
}

/// What the rules decided before the scratch run.
#[derive(Default)]
struct Decisions<'a> {
    untags: Vec<Untag<'a>>,
    kept_tags: BTreeMap<&'a str, Vec<(String, KeepReason)>>,
    /// Why an image stays when that is decided up front (in use, or a
    /// dangling image no rule selects).
    image_reasons: BTreeMap<&'a str, KeepReason>,
}

impl<'a> Decisions<'a> {
    fn keep(&mut self, id: &'a str, reference: String, reason: KeepReason) {
        self.kept_tags
            .entry(id)
            .or_default()
            .push((reference, reason));
    }
}

/// What the scratch engine deleted.
#[derive(Default)]
struct Removals {
    /// Deleted images, in order.
    order: Vec<Digest>,
    deleted: BTreeSet<Digest>,
    /// Released layer chains, in order.
    layers: Vec<Digest>,
}

impl Removals {
    /// Sorts the engine's `Deleted` records into images and layers.
    fn record(&mut self, images: &BTreeMap<&str, &SnapshotImage>, removed: Vec<RemoveAction>) {
        for action in removed {
            if let RemoveAction::Deleted(id) = action {
                if images.contains_key(id.as_str()) {
                    self.deleted.insert(id.clone());
                    self.order.push(id);
                } else {
                    self.layers.push(id);
                }
            }
        }
    }
}

/// Whether `older_than` keeps an image: too recent, or of unknown age.
fn age_keeps(
    rule: usize,
    older_than: Age,
    image: &SnapshotImage,
    now: DateTime<Utc>,
) -> Option<KeepReason> {
    match image.created {
        None => Some(KeepReason::UnknownAge { rule }),
        Some(created) if created >= older_than.cutoff(now) => {
            Some(KeepReason::TooRecent { rule, older_than })
        }
        Some(_) => None,
    }
}

/// The ranking of [`Order`]: newest (or highest version) first, then tag
/// name and image ID ascending.
fn rank_order(order: Order, a: &TagEntry<'_>, b: &TagEntry<'_>) -> Ordering {
    let by_version = match order {
        Order::Created => Ordering::Equal,
        // Some(version) sorts before None, higher versions first.
        Order::Semver => match (tag_version(&a.tag), tag_version(&b.tag)) {
            (Some(x), Some(y)) => y.cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    let by_created = match (a.image.created, b.image.created) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_version
        .then(by_created)
        .then_with(|| a.tag.cmp(&b.tag))
        .then_with(|| a.image.id.cmp(&b.image.id))
}

/// A tag read as a semantic version: a leading `v` or `V` is dropped, and
/// `1` or `1.2` count as `1.0.0` and `1.2.0`.
pub fn tag_version(tag: &str) -> Option<semver::Version> {
    let text = tag
        .strip_prefix('v')
        .or_else(|| tag.strip_prefix('V'))
        .unwrap_or(tag);
    if let Ok(version) = semver::Version::parse(text) {
        return Some(version);
    }
    let parts: Vec<&str> = text.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() < 3 && parts.iter().all(numeric) {
        let padded = match parts.len() {
            1 => format!("{text}.0.0"),
            _ => format!("{text}.0"),
        };
        return semver::Version::parse(&padded).ok();
    }
    None
}

/// The deleted image whose parent `id` is (the child whose deletion pruned
/// it), or the empty string.
fn deleted_child(snapshot: &EngineSnapshot, deleted: &BTreeSet<Digest>, id: &str) -> Digest {
    snapshot
        .images
        .iter()
        .filter(|image| image.parent.as_deref() == Some(id) && deleted.contains(&image.id))
        .map(|image| image.id.clone())
        .min()
        .unwrap_or_default()
}

/// The size of every layer chain of the snapshot; the first image that
/// names a chain gives its size, as when the snapshot is loaded.
pub(crate) fn layer_sizes(snapshot: &EngineSnapshot) -> HashMap<Digest, u64> {
    let mut sizes = HashMap::new();
    for image in &snapshot.images {
        let diff_ids: Vec<String> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
        for (chain, layer) in chain_ids(&diff_ids).into_iter().zip(&image.layers) {
            sizes.entry(chain).or_insert(layer.size);
        }
    }
    sizes
}

/// Runs a future of the in-memory engine, which completes without waiting.
fn ready<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    future.now_or_never().unwrap_or_else(|| {
        Err(ImageError::backend(
            "retention plan: the scratch engine did not answer at once",
            "the in-memory engine is expected to complete without waiting",
        ))
    })
}
