//! `imgctl cleanup`: untag and delete images by a retention policy, beyond
//! docker. The policy comes from `--policy FILE` (TOML, see
//! `image_core::retention`) or from the flags, which make one rule:
//! `--repository` globs (default: every repository), `--keep-last N`,
//! `--keep GLOB`, `--older-than DURATION`, `--order created|semver` and
//! `--dangling`.
//!
//! It takes a snapshot of the engine, plans, and prints the plan as a table
//! (`REPOSITORY TAG IMAGE ID CREATED SIZE ACTION REASON`: every tag to
//! untag, every image to delete, and every tag the policy's rules keep,
//! with why) and `Total space to free: SIZE`. `--dry-run` stops there.
//! Otherwise it asks for confirmation (docker's `[y/N]` prompt) unless
//! `-f`, then carries the plan out without force, so that the engine still
//! refuses anything in use, and reports each action: `Untagged:` and
//! `Deleted:` lines as `rmi` prints them, `Refused:` with the engine's
//! error, `Changed since the plan:` for a tag that now names another
//! image (it is left alone), and `Removed beyond the plan:` when a pull moved
//! a tag in the instant before its untag. It ends with `Total reclaimed space: SIZE` and
//! exits 1 when anything was refused or changed.

use std::collections::HashMap;

use chrono::Utc;
use image_core::memory::SnapshotImage;
use image_core::retention::{
    self, CleanupPlan, KeepReason, Outcome, PlannedAction, RemovalReason, RetentionPolicy,
    RetentionRule,
};
use image_core::{ImageError, ImageService, RemoveAction, short_id};

use super::prune::confirm;
use super::{ExitStatus, Io, report};
use crate::cli::CleanupArgs;
use crate::render::table::render_table;
use crate::render::units::{created_since, human_size, human_size_with_precision};

/// The repositories a rule made from flags covers when `--repository` is
/// not given: names with up to four path components, and dangling images
/// without any reference.
const EVERY_REPOSITORY: [&str; 5] = ["*", "*/*", "*/*/*", "*/*/*/*", retention::NO_REPOSITORY];

/// Runs `cleanup`.
pub async fn run(service: &dyn ImageService, args: &CleanupArgs, io: &mut Io<'_>) -> ExitStatus {
    let policy = match policy(args) {
        Ok(policy) => policy,
        Err(error) => return report(io, &error),
    };
    let snapshot = match service.snapshot().await {
        Ok(snapshot) => snapshot,
        Err(error) => return report(io, &error),
    };
    let plan = match retention::plan(&snapshot, &policy, io.now) {
        Ok(plan) => plan,
        Err(error) => return report(io, &error),
    };
    let images: HashMap<&str, &SnapshotImage> = snapshot
        .images
        .iter()
        .map(|image| (image.id.as_str(), image))
        .collect();
    let _ = io
        .out
        .write_all(render_plan(&plan, &images, io.now).as_bytes());
    if plan.is_empty() {
        let _ = writeln!(io.out, "Nothing to clean up.");
        return ExitStatus::Success;
    }
    if args.dry_run {
        return ExitStatus::Success;
    }
    if !args.force {
        let untags = plan.untags().count();
        let deletes = plan.deletes().count();
        let warning = format!(
            "WARNING! This will untag {untags} {} and delete {deletes} {}.\n\
             Are you sure you want to continue?",
            plural(untags, "tag", "tags"),
            plural(deletes, "image", "images"),
        );
        if !confirm(io, &warning) {
            return ExitStatus::Success;
        }
    }
    let outcome = retention::execute(service, &plan).await;
    let mut failed = false;
    for action in &outcome.outcomes {
        match &action.outcome {
            Outcome::Done { removed } => print_records(io, removed),
            Outcome::AlreadyDone => {}
            Outcome::Refused { error, .. } => {
                failed = true;
                let _ = writeln!(io.err, "Refused: {}: {error}", subject(&action.action));
            }
            Outcome::Unplanned { removed, detail } => {
                failed = true;
                print_records(io, removed);
                let _ = writeln!(io.err, "Removed beyond the plan: {detail}");
            }
            Outcome::Changed { detail } => {
                failed = true;
                let _ = writeln!(
                    io.err,
                    "Changed since the plan: {}: {detail}",
                    subject(&action.action)
                );
            }
        }
    }
    let freed = outcome.freed_bytes.map_or_else(
        || "unknown (the engine reported no layers)".to_string(),
        |bytes| human_size(bytes as f64),
    );
    let _ = writeln!(io.out, "Total reclaimed space: {freed}");
    if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

/// The engine's records, as `rmi` prints them.
fn print_records(io: &mut Io<'_>, removed: &[RemoveAction]) {
    for record in removed {
        let _ = match record {
            RemoveAction::Untagged(reference) => writeln!(io.out, "Untagged: {reference}"),
            RemoveAction::Deleted(id) => writeln!(io.out, "Deleted: {id}"),
        };
    }
}

/// The policy from `--policy`, else the one rule the flags make.
fn policy(args: &CleanupArgs) -> Result<RetentionPolicy, ImageError> {
    if let Some(path) = &args.policy {
        return RetentionPolicy::load(path);
    }
    if args.keep_last.is_none() && args.older_than.is_none() && !args.dangling {
        return Err(ImageError::invalid_argument(
            "nothing to clean up by: give --keep-last, --older-than, --dangling or --policy FILE",
        ));
    }
    let repository = if args.repository.is_empty() {
        EVERY_REPOSITORY
            .iter()
            .map(|glob| glob.to_string())
            .collect()
    } else {
        args.repository.clone()
    };
    let older_than = args
        .older_than
        .as_deref()
        .map(retention::Age::parse)
        .transpose()?;
    let order = match args.order.as_deref() {
        Some("semver") => retention::Order::Semver,
        _ => retention::Order::Created,
    };
    let policy = RetentionPolicy {
        rules: vec![RetentionRule {
            repository,
            keep_last: args.keep_last,
            keep: args.keep.clone(),
            older_than,
            order,
            dangling: args.dangling,
        }],
    };
    policy.validate()?;
    Ok(policy)
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// What an action is about, for the report.
fn subject(action: &PlannedAction) -> String {
    match action {
        PlannedAction::Untag { reference, .. } => reference.clone(),
        PlannedAction::Delete { image_id, .. } => short_id(image_id).to_string(),
    }
}

/// `repo:tag` split at the tag's colon (not a registry port's).
fn split_tag(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[name_start..].rfind(':') {
        Some(colon) => (
            &reference[..name_start + colon],
            &reference[name_start + colon + 1..],
        ),
        None => (reference, "<none>"),
    }
}

/// The plan as a table and the space it frees.
fn render_plan(
    plan: &CleanupPlan,
    images: &HashMap<&str, &SnapshotImage>,
    now: chrono::DateTime<Utc>,
) -> String {
    let mut rows = vec![vec![
        "REPOSITORY".to_string(),
        "TAG".to_string(),
        "IMAGE ID".to_string(),
        "CREATED".to_string(),
        "SIZE".to_string(),
        "ACTION".to_string(),
        "REASON".to_string(),
    ]];
    let row = |reference: Option<&str>, image_id: &str, action: &str, reason: String| {
        let (repository, tag) = reference.map_or(("<none>", "<none>"), split_tag);
        let image = images.get(image_id);
        let size: u64 = image.map_or(0, |i| i.layers.iter().map(|l| l.size).sum());
        vec![
            repository.to_string(),
            tag.to_string(),
            short_id(image_id).to_string(),
            created_since(image.and_then(|i| i.created), now),
            human_size_with_precision(size as f64, 3),
            action.to_string(),
            reason,
        ]
    };
    for action in &plan.actions {
        rows.push(match action {
            PlannedAction::Untag {
                reference,
                image_id,
                reason,
            } => row(Some(reference), image_id, "untag", removal_reason(reason)),
            PlannedAction::Delete { image_id, reason } => {
                row(None, image_id, "delete", removal_reason(reason))
            }
        });
    }
    let mut kept = Vec::new();
    for image in &plan.kept {
        for tag in &image.tags {
            if tag.reason != KeepReason::NotMatched {
                kept.push(row(
                    Some(&tag.tag),
                    &image.image_id,
                    "keep",
                    keep_reason(&tag.reason),
                ));
            }
        }
        // Intermediate images (untagged parents of kept images) are not
        // listed, as `docker images` does not list them.
        let intermediate = matches!(image.reason, KeepReason::HasChildren { .. });
        if image.tags.is_empty() && image.reason != KeepReason::NotMatched && !intermediate {
            kept.push(row(
                None,
                &image.image_id,
                "keep",
                keep_reason(&image.reason),
            ));
        }
    }
    kept.sort();
    rows.extend(kept);
    let mut text = render_table(&rows);
    text.push_str(&format!(
        "\nTotal space to free: {}\n",
        human_size(plan.freed_bytes as f64)
    ));
    text
}

/// Why a tag or image goes, in a few words.
fn removal_reason(reason: &RemovalReason) -> String {
    match reason {
        RemovalReason::Expired {
            rank,
            keep_last,
            older_than,
            ..
        } => {
            let mut parts = Vec::new();
            if let Some(n) = keep_last {
                parts.push(format!("not in the newest {n} (#{rank})"));
            }
            if let Some(age) = older_than {
                parts.push(format!("older than {age}"));
            }
            parts.join(", ")
        }
        RemovalReason::AllTagsRemoved => "all its tags are removed".to_string(),
        RemovalReason::Dangling { older_than, .. } => match older_than {
            Some(age) => format!("dangling, older than {age}"),
            None => "dangling".to_string(),
        },
        RemovalReason::UntaggedParent { child } => {
            format!("untagged parent of {}", short_id(child))
        }
    }
}

/// Why a tag or image stays, in a few words.
fn keep_reason(reason: &KeepReason) -> String {
    match reason {
        KeepReason::InUse { containers } => format!("in use by {}", containers.join(", ")),
        KeepReason::Protected { glob, .. } => format!("protected by {glob}"),
        KeepReason::WithinNewest {
            keep_last, rank, ..
        } => format!("within the newest {keep_last} (#{rank})"),
        KeepReason::TooRecent { older_than, .. } => format!("not older than {older_than}"),
        KeepReason::UnknownAge { .. } => "creation time unknown".to_string(),
        KeepReason::NoExpiry { .. } => "the rule removes no tags".to_string(),
        KeepReason::NotMatched => "no rule covers it".to_string(),
        KeepReason::HasChildren { children } => format!(
            "kept images are built on it ({})",
            children
                .iter()
                .map(|c| short_id(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        KeepReason::Refused { message } => format!("the engine would refuse: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_at_their_own_colon() {
        assert_eq!(split_tag("myapp:1.2"), ("myapp", "1.2"));
        assert_eq!(
            split_tag("127.0.0.1:5000/team/api:v3"),
            ("127.0.0.1:5000/team/api", "v3")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/team/api"),
            ("127.0.0.1:5000/team/api", "<none>")
        );
    }
}
