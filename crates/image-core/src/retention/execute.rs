//! Carrying out a [`CleanupPlan`] on a live engine: each untag and delete
//! without force, so the engine still refuses anything in use, and each
//! checked against the engine first, so that nothing that changed since
//! the plan was made is touched.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{CleanupPlan, PlannedAction};
use crate::error::ImageError;
use crate::model::{Digest, RemoveAction, RemoveOptions, short_id};
use crate::service::ImageService;

/// What [`execute`] did with each action of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CleanupReport {
    /// One outcome per planned action, in the plan's order.
    pub outcomes: Vec<ActionOutcome>,
    /// Bytes freed, from the layers the engine reported deleting and their
    /// sizes in the plan. `None` when images were deleted but the engine
    /// reported no layer although the plan expected some (Docker's
    /// containerd image store does not report layers).
    pub freed_bytes: Option<u64>,
}

impl CleanupReport {
    /// Whether every action was done (by itself or by an earlier one).
    pub fn is_complete(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| matches!(o.outcome, Outcome::Done { .. } | Outcome::AlreadyDone))
    }

    /// How many actions ended in each way: done (or already done),
    /// refused, changed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for outcome in &self.outcomes {
            match outcome.outcome {
                Outcome::Done { .. } | Outcome::AlreadyDone => counts.0 += 1,
                Outcome::Refused { .. } => counts.1 += 1,
                Outcome::Changed { .. } | Outcome::Unplanned { .. } => counts.2 += 1,
            }
        }
        counts
    }
}

/// One planned action and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionOutcome {
    /// The action, as planned.
    pub action: PlannedAction,
    /// How it ended.
    pub outcome: Outcome,
}

/// How one planned action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The engine did it and reported this.
    Done {
        /// The engine's untag and delete records.
        removed: Vec<RemoveAction>,
    },
    /// An earlier action of the same run already deleted the image (the
    /// engine deletes an image with its last tag, and untagged parents with
    /// their last child).
    AlreadyDone,
    /// The engine refused (without force it refuses anything in use).
    Refused {
        /// The error kind ([`ErrorKind::as_str`](crate::ErrorKind::as_str)).
        kind: String,
        /// The engine's message.
        error: String,
    },
    /// The engine's state differs from the plan here; nothing was done.
    Changed {
        /// What differs.
        detail: String,
    },
    /// The engine did it but removed more than the plan meant: the tag was
    /// moved to another image between the last check and the untag (Docker
    /// cannot untag a name only if it still names a given image), and that
    /// image went with it.
    Unplanned {
        /// The engine's untag and delete records.
        removed: Vec<RemoveAction>,
        /// What was removed beyond the plan.
        detail: String,
    },
}

impl Outcome {
    fn refused(error: &ImageError) -> Outcome {
        Outcome::Refused {
            kind: error.kind().as_str().to_string(),
            error: error.to_string(),
        }
    }

    fn changed(detail: String) -> Outcome {
        Outcome::Changed { detail }
    }
}

/// Carries out `plan` on `service`: untags and deletes in the plan's order,
/// never forced, so the engine itself refuses anything in use.
///
/// Before each untag it checks that the tag still points at the planned
/// image and that no container uses that image now; before each delete,
/// that the image still exists, has no tags and no container uses it.
/// Otherwise the action is skipped as [`Outcome::Changed`]. A delete of an
/// image that an earlier action of this run deleted is
/// [`Outcome::AlreadyDone`]. Errors never stop the run: each is the
/// outcome of its action.
pub async fn execute(service: &dyn ImageService, plan: &CleanupPlan) -> CleanupReport {
    let sizes: HashMap<&str, u64> = plan
        .layers
        .iter()
        .map(|layer| (layer.chain_id.as_str(), layer.size))
        .collect();
    // What the plan may delete: its images and their layers.
    let planned: BTreeSet<&str> = plan
        .deletes()
        .chain(plan.untags().map(|(_, image_id)| image_id))
        .chain(sizes.keys().copied())
        .collect();
    let mut deleted_images: BTreeSet<Digest> = BTreeSet::new();
    let mut deleted_layers: BTreeSet<Digest> = BTreeSet::new();
    let mut outcomes = Vec::with_capacity(plan.actions.len());
    for action in &plan.actions {
        let outcome = match action {
            PlannedAction::Untag {
                reference,
                image_id,
                ..
            } => untag(service, reference, image_id, &planned).await,
            PlannedAction::Delete { image_id, .. } if deleted_images.contains(image_id) => {
                Outcome::AlreadyDone
            }
            PlannedAction::Delete { image_id, .. } => delete(service, image_id).await,
        };
        if let Outcome::Done { removed } | Outcome::Unplanned { removed, .. } = &outcome {
            for record in removed {
                if let RemoveAction::Deleted(id) = record {
                    if sizes.contains_key(id.as_str()) {
                        deleted_layers.insert(id.clone());
                    } else {
                        deleted_images.insert(id.clone());
                    }
                }
            }
        }
        outcomes.push(ActionOutcome {
            action: action.clone(),
            outcome,
        });
    }
    let freed: u64 = deleted_layers
        .iter()
        .filter_map(|chain| sizes.get(chain.as_str()))
        .sum();
    let unreported = deleted_layers.is_empty() && !deleted_images.is_empty() && !sizes.is_empty();
    CleanupReport {
        outcomes,
        freed_bytes: (!unreported).then_some(freed),
    }
}

/// Untags `reference` if it still names `image_id` and the image is
/// unused. The tag is looked up right before the untag, which leaves one
/// round trip in which a pull can move it; the engine's records then show
/// an image outside the plan, reported as [`Outcome::Unplanned`].
async fn untag(
    service: &dyn ImageService,
    reference: &str,
    image_id: &str,
    planned: &BTreeSet<&str>,
) -> Outcome {
    if let Some(outcome) = in_use(service, image_id).await {
        return outcome;
    }
    match service.inspect(reference).await {
        Ok(details) if details.id != image_id => {
            return Outcome::changed(format!(
                "{reference} now points at image {}, not {}",
                short_id(&details.id),
                short_id(image_id)
            ));
        }
        Ok(_) => {}
        Err(err) if err.is_not_found() => {
            return Outcome::changed(format!("{reference} no longer exists"));
        }
        Err(err) => return Outcome::refused(&err),
    }
    match service.remove(reference, &RemoveOptions::default()).await {
        Ok(removed) => {
            let beyond: Vec<&str> = removed
                .iter()
                .filter_map(|record| match record {
                    RemoveAction::Deleted(id) if !planned.contains(id.as_str()) => {
                        Some(short_id(id))
                    }
                    _ => None,
                })
                .collect();
            if beyond.is_empty() {
                Outcome::Done { removed }
            } else {
                let detail = format!(
                    "{reference} was moved to another image just before the untag, and the \
                     engine deleted {} with it",
                    beyond.join(", ")
                );
                Outcome::Unplanned { removed, detail }
            }
        }
        Err(err) => Outcome::refused(&err),
    }
}

async fn delete(service: &dyn ImageService, image_id: &str) -> Outcome {
    match service.inspect(image_id).await {
        Ok(details) if !details.repo_tags.is_empty() => {
            return Outcome::changed(format!(
                "image {} has tags now: {}",
                short_id(image_id),
                details.repo_tags.join(", ")
            ));
        }
        Ok(_) => {}
        Err(err) if err.is_not_found() => {
            return Outcome::changed(format!("image {} no longer exists", short_id(image_id)));
        }
        Err(err) => return Outcome::refused(&err),
    }
    if let Some(outcome) = in_use(service, image_id).await {
        return outcome;
    }
    match service.remove(image_id, &RemoveOptions::default()).await {
        Ok(removed) => Outcome::Done { removed },
        Err(err) => Outcome::refused(&err),
    }
}

/// `Changed` when containers use the image now, `Refused` when that cannot
/// be told.
async fn in_use(service: &dyn ImageService, image_id: &str) -> Option<Outcome> {
    match service.containers_using(image_id).await {
        Ok(containers) if containers.is_empty() => None,
        Ok(containers) => {
            let names: Vec<&str> = containers
                .iter()
                .map(|c| {
                    if c.name.is_empty() {
                        c.id.as_str()
                    } else {
                        c.name.as_str()
                    }
                })
                .collect();
            Some(Outcome::changed(format!(
                "image {} is now used by {}",
                short_id(image_id),
                names.join(", ")
            )))
        }
        // A gone image is for the caller's lookup to report.
        Err(err) if err.is_not_found() => None,
        Err(err) => Some(Outcome::refused(&err)),
    }
}
