//! Property tests of the retention planner over random engine snapshots
//! (repositories, tags, creation times with ties, shared base layers,
//! parent chains, repository digests, running and stopped containers) and
//! random policies: an image a container uses is never deleted, a protected
//! tag is never untagged, exactly the newest N tags stay per repository,
//! and carrying the plan out on the in-memory engine frees exactly the
//! planned bytes. Each property runs 256 cases.

#![allow(clippy::unwrap_used)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use image_core::archive::chain_ids;
use image_core::memory::{EngineSnapshot, SnapshotImage, SnapshotLayer};
use image_core::reference::{self, Reference};
use image_core::retention::{
    Age, CleanupPlan, KeepReason, Order, Outcome, PlannedAction, RemovalReason, RetentionPolicy,
    RetentionRule, execute, plan, tag_version,
};
use image_core::{ContainerRef, ContainerState, ImageService, ManualClock, MemoryImageService};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const CASES: u32 = 256;

const REPOSITORIES: &[&str] = &["app", "web", "registry.example.com/team/api"];
const TAGS: &[&str] = &[
    "1.0.0",
    "v1.2.3",
    "2.0",
    "latest",
    "production",
    "v1-lts",
    "dev",
    "nightly",
    "v3.1.0-rc.1",
    "9",
];
const REPOSITORY_GLOBS: &[&str] = &[
    "app",
    "web",
    "*",
    "registry.example.com/*/*",
    "<none>",
    "*/*",
    "w?b",
];
const KEEP_GLOBS: &[&str] = &["production", "v*-lts", "latest", "[0-9]*"];
const AGES: &[&str] = &["0s", "48h", "240h", "1h30m"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// One image of a generated snapshot, before it is laid out.
#[derive(Debug, Clone)]
struct ImageSpec {
    /// An earlier image to build on (index, taken modulo).
    parent: Option<usize>,
    /// How many shared base layers it starts from, without a parent.
    base: usize,
    /// Own layer size.
    size: u64,
    /// Hours before now; coarse steps make ties common.
    age: Option<i64>,
    tags: Vec<(usize, usize)>,
    digests: Vec<usize>,
}

fn image_spec() -> impl Strategy<Value = ImageSpec> {
    (
        prop::option::weighted(0.5, 0usize..16),
        0usize..=3,
        0u64..500,
        prop::option::weighted(
            0.9,
            prop_oneof![(0i64..30).prop_map(|d| d * 24), 0i64..2000],
        ),
        prop::collection::vec((0..REPOSITORIES.len(), 0..TAGS.len()), 0..3),
        prop::collection::vec(0..REPOSITORIES.len(), 0..3),
    )
        .prop_map(|(parent, base, size, age, tags, digests)| ImageSpec {
            parent,
            base,
            size,
            age,
            tags,
            digests,
        })
}

fn snapshot_strategy() -> impl Strategy<Value = EngineSnapshot> {
    (
        prop::collection::vec(image_spec(), 1..16),
        prop::collection::vec((0usize..16, any::<bool>()), 0..4),
    )
        .prop_map(|(specs, containers)| layout(&specs, &containers))
}

/// Lays generated images out as a snapshot: shared base layers, parent
/// chains whose layers extend the parent's, unique tags.
fn layout(specs: &[ImageSpec], containers: &[(usize, bool)]) -> EngineSnapshot {
    let base_layer = |k: usize| SnapshotLayer {
        diff_id: digest(100 + k as u64),
        size: 1000 * (k as u64 + 1),
    };
    let mut images: Vec<SnapshotImage> = Vec::new();
    let mut taken = BTreeSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let parent = spec.parent.filter(|_| i > 0).map(|p| p % i);
        let mut layers = match parent {
            Some(p) => images[p].layers.clone(),
            None => (0..spec.base).map(base_layer).collect(),
        };
        layers.push(SnapshotLayer {
            diff_id: digest(10_000 + i as u64),
            size: spec.size,
        });
        let mut repo_tags = Vec::new();
        for &(repo, tag) in &spec.tags {
            let tag = format!("{}:{}", REPOSITORIES[repo], TAGS[tag]);
            if taken.insert(tag.clone()) {
                repo_tags.push(tag);
            }
        }
        let repo_digests = spec
            .digests
            .iter()
            .enumerate()
            .map(|(k, &repo)| {
                format!(
                    "{}@{}",
                    REPOSITORIES[repo],
                    digest(1_000_000 + (i * 10 + k) as u64)
                )
            })
            .collect();
        images.push(SnapshotImage {
            id: digest(i as u64 + 1),
            parent: parent.map(|p| digest(p as u64 + 1)),
            created: spec.age.map(|h| now() - chrono::Duration::hours(h)),
            repo_tags,
            repo_digests,
            layers,
            ..SnapshotImage::default()
        });
    }
    let containers = containers
        .iter()
        .enumerate()
        .map(|(k, &(image, running))| ContainerRef {
            id: format!("{:064x}", k + 1),
            name: format!("c{k}"),
            image_id: digest((image % specs.len()) as u64 + 1),
            state: if running {
                ContainerState::Running
            } else {
                ContainerState::Exited
            },
        })
        .collect();
    EngineSnapshot { images, containers }
}

fn rule_strategy() -> impl Strategy<Value = RetentionRule> {
    (
        prop::sample::subsequence(REPOSITORY_GLOBS, 1..3),
        prop::option::weighted(0.7, 1usize..5),
        prop::sample::subsequence(KEEP_GLOBS, 0..3),
        prop::option::weighted(0.5, prop::sample::select(AGES)),
        prop_oneof![Just(Order::Created), Just(Order::Semver)],
        any::<bool>(),
    )
        .prop_map(
            |(repository, keep_last, keep, older_than, order, dangling)| RetentionRule {
                repository: repository.iter().map(|g| g.to_string()).collect(),
                keep_last,
                keep: keep.iter().map(|g| g.to_string()).collect(),
                older_than: older_than.map(|age| Age::parse(age).unwrap()),
                order,
                dangling,
            },
        )
}

fn policy_strategy() -> impl Strategy<Value = RetentionPolicy> {
    prop::collection::vec(rule_strategy(), 1..4).prop_map(|rules| RetentionPolicy { rules })
}

/// Images some container of the snapshot uses.
fn in_use(snapshot: &EngineSnapshot) -> BTreeSet<String> {
    snapshot
        .containers
        .iter()
        .map(|c| c.image_id.clone())
        .collect()
}

/// The rule for a repository, found independently of the planner.
fn rule_of<'a>(policy: &'a RetentionPolicy, tag: &Reference) -> Option<&'a RetentionRule> {
    let repository = tag.trim_named();
    policy.rules.iter().find(|rule| {
        rule.repository
            .iter()
            .any(|glob| reference::familiar_match(glob, &repository).unwrap())
    })
}

fn is_protected(rule: &RetentionRule, tag: &str) -> bool {
    rule.keep
        .iter()
        .any(|glob| reference::path_match(glob, tag).unwrap())
}

fn parse(tag: &str) -> Reference {
    Reference::parse_docker(tag).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn deletes(plan: &CleanupPlan) -> BTreeSet<String> {
    plan.deletes().map(str::to_string).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// An image a container uses (running or stopped) is never deleted,
    /// none of its tags is untagged, and it is kept as in use.
    #[test]
    fn images_in_use_are_never_deleted(
        snapshot in snapshot_strategy(),
        policy in policy_strategy(),
    ) {
        let plan = plan(&snapshot, &policy, now()).unwrap();
        let used = in_use(&snapshot);
        let deleted = deletes(&plan);
        for id in &used {
            prop_assert!(!deleted.contains(id), "{id} is in use but deleted");
            prop_assert!(plan.untags().all(|(_, image)| image != id));
            let kept = plan.kept.iter().find(|k| &k.image_id == id).unwrap();
            let in_use = matches!(kept.reason, KeepReason::InUse { .. });
            prop_assert!(in_use);
        }
    }

    /// A tag that a `keep` glob of its repository's rule protects is
    /// never untagged, and stays on its image when the plan is carried out.
    #[test]
    fn protected_tags_are_never_untagged(
        snapshot in snapshot_strategy(),
        policy in policy_strategy(),
    ) {
        let plan = plan(&snapshot, &policy, now()).unwrap();
        for (reference, _) in plan.untags() {
            let parsed = parse(reference);
            let rule = rule_of(&policy, &parsed).unwrap();
            prop_assert!(
                !is_protected(rule, parsed.tag().unwrap()),
                "{reference} is protected but untagged"
            );
        }
        let engine = MemoryImageService::from_snapshot(
            &snapshot,
            Arc::new(ManualClock::new(now())),
        )
        .unwrap();
        block_on(execute(&engine, &plan));
        for image in &snapshot.images {
            for tag in &image.repo_tags {
                let parsed = parse(tag);
                if rule_of(&policy, &parsed).is_some_and(|r| is_protected(r, parsed.tag().unwrap())) {
                    let now_at = block_on(engine.inspect(tag)).unwrap().id;
                    prop_assert_eq!(&now_at, &image.id);
                }
            }
        }
    }

    /// Per repository with `keep_last = N`, exactly the newest N of the
    /// tags that are neither protected nor on an image in use stay as
    /// within the newest, ranked independently here; none of them is
    /// untagged; and the plan does not depend on the snapshot's order.
    #[test]
    fn exactly_the_newest_n_stay(
        snapshot in snapshot_strategy(),
        policy in policy_strategy(),
        rotate in 0usize..16,
    ) {
        let plan = plan(&snapshot, &policy, now()).unwrap();
        let used = in_use(&snapshot);
        let mut groups: BTreeMap<String, (&RetentionRule, Vec<RankedTag<'_>>)> =
            BTreeMap::new();
        for image in &snapshot.images {
            if used.contains(&image.id) {
                continue;
            }
            for tag in &image.repo_tags {
                let parsed = parse(tag);
                let Some(rule) = rule_of(&policy, &parsed) else { continue };
                let name = parsed.tag().unwrap().to_string();
                if is_protected(rule, &name) {
                    continue;
                }
                groups
                    .entry(parsed.familiar_name())
                    .or_insert_with(|| (rule, Vec::new()))
                    .1
                    .push((name, image));
            }
        }
        let within: BTreeSet<(String, String)> = plan
            .kept
            .iter()
            .flat_map(|k| &k.tags)
            .filter(|t| matches!(t.reason, KeepReason::WithinNewest { .. }))
            .map(|t| {
                let parsed = parse(&t.tag);
                (parsed.familiar_name(), parsed.tag().unwrap().to_string())
            })
            .collect();
        let untagged: BTreeSet<String> = plan.untags().map(|(r, _)| r.to_string()).collect();
        for (repository, (rule, mut tags)) in groups {
            let Some(n) = rule.keep_last else {
                prop_assert!(within.iter().all(|(r, _)| r != &repository));
                continue;
            };
            tags.sort_by(|a, b| newest_first(rule.order, a, b));
            let expected: BTreeSet<(String, String)> = tags
                .iter()
                .take(n)
                .map(|(tag, _)| (repository.clone(), tag.clone()))
                .collect();
            let actual: BTreeSet<(String, String)> = within
                .iter()
                .filter(|(r, _)| r == &repository)
                .cloned()
                .collect();
            prop_assert_eq!(actual.len(), n.min(tags.len()));
            prop_assert_eq!(&actual, &expected);
            for (tag, _) in tags.iter().take(n) {
                let reference = parse(&format!("{repository}:{tag}")).familiar();
                prop_assert!(!untagged.contains(&reference), "{reference} is within the newest");
            }
        }
        let mut rotated = snapshot.clone();
        let by = rotate % rotated.images.len();
        rotated.images.rotate_left(by);
        rotated.containers.reverse();
        prop_assert_eq!(image_core::retention::plan(&rotated, &policy, now()).unwrap(), plan);
    }

    /// Carrying the plan out on the in-memory engine, without force, does
    /// every action and frees exactly the planned bytes: the engine's
    /// layer total drops by `freed_bytes`, which is also the size of every
    /// layer no remaining image uses.
    #[test]
    fn executing_frees_exactly_the_planned_bytes(
        snapshot in snapshot_strategy(),
        policy in policy_strategy(),
    ) {
        let plan = plan(&snapshot, &policy, now()).unwrap();
        let engine = MemoryImageService::from_snapshot(
            &snapshot,
            Arc::new(ManualClock::new(now())),
        )
        .unwrap();
        let before = block_on(engine.disk_usage()).unwrap().layers_size;
        let report = block_on(execute(&engine, &plan));
        prop_assert!(report.is_complete(), "{:#?}", report);
        let after = block_on(engine.disk_usage()).unwrap().layers_size;
        prop_assert_eq!(before - after, plan.freed_bytes);
        prop_assert_eq!(report.freed_bytes, Some(plan.freed_bytes));
        prop_assert_eq!(
            plan.layers.iter().map(|l| l.size).sum::<u64>(),
            plan.freed_bytes
        );

        // Exactly the planned images are gone, and every image is either
        // deleted or kept.
        let deleted = deletes(&plan);
        let left: BTreeSet<String> = block_on(engine.snapshot())
            .unwrap()
            .images
            .into_iter()
            .map(|i| i.id)
            .collect();
        let kept: BTreeSet<String> = plan.kept.iter().map(|k| k.image_id.clone()).collect();
        let all: BTreeSet<String> = snapshot.images.iter().map(|i| i.id.clone()).collect();
        prop_assert_eq!(&left, &kept);
        prop_assert!(deleted.is_disjoint(&kept));
        prop_assert_eq!(&deleted.union(&kept).cloned().collect::<BTreeSet<_>>(), &all);

        // The same bytes by layer reference counting: the chains of all
        // images minus the chains the kept images still use.
        let mut sizes: HashMap<String, u64> = HashMap::new();
        let mut still_used: BTreeSet<String> = BTreeSet::new();
        for image in &snapshot.images {
            let diff_ids: Vec<String> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
            for (chain, layer) in chain_ids(&diff_ids).into_iter().zip(&image.layers) {
                sizes.entry(chain.clone()).or_insert(layer.size);
                if kept.contains(&image.id) {
                    still_used.insert(chain);
                }
            }
        }
        let unused: u64 = sizes
            .iter()
            .filter(|(chain, _)| !still_used.contains(*chain))
            .map(|(_, size)| size)
            .sum();
        prop_assert_eq!(unused, plan.freed_bytes);
    }
}

/// A tag name with its image, as ranked within a repository.
type RankedTag<'a> = (String, &'a SnapshotImage);

/// The documented ranking, written out again: version (semver order)
/// highest first with non-versions last, then creation time newest first
/// with unknown times last, then tag name and image ID ascending.
fn newest_first(order: Order, a: &RankedTag<'_>, b: &RankedTag<'_>) -> Ordering {
    let version = match order {
        Order::Created => Ordering::Equal,
        Order::Semver => match (tag_version(&a.0), tag_version(&b.0)) {
            (Some(x), Some(y)) => y.cmp(&x),
            (x, y) => y.is_some().cmp(&x.is_some()),
        },
    };
    let created = match (a.1.created, b.1.created) {
        (Some(x), Some(y)) => y.cmp(&x),
        (x, y) => y.is_some().cmp(&x.is_some()),
    };
    version
        .then(created)
        .then_with(|| a.0.cmp(&b.0))
        .then_with(|| a.1.id.cmp(&b.1.id))
}

/// The generators reach every path the properties are about: over 256
/// generated cases, plans untag, delete, free bytes, keep images in use,
/// protect tags, keep the newest, delete dangling images and untagged
/// parents, and see the engine refuse or a child hold a parent.
#[test]
fn the_generators_cover_the_interesting_cases() {
    let mut runner = TestRunner::deterministic();
    let strategy = (snapshot_strategy(), policy_strategy());
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..CASES {
        let (snapshot, policy) = strategy.new_tree(&mut runner).unwrap().current();
        let plan = plan(&snapshot, &policy, now()).unwrap();
        let mut see = |what: &'static str, yes: bool| {
            if yes {
                *seen.entry(what).or_default() += 1;
            }
        };
        see("untag", plan.untags().next().is_some());
        see("freed", plan.freed_bytes > 0);
        let removal = |f: fn(&RemovalReason) -> bool| {
            plan.actions.iter().any(|a| match a {
                PlannedAction::Delete { reason, .. } | PlannedAction::Untag { reason, .. } => {
                    f(reason)
                }
            })
        };
        see(
            "all tags removed",
            removal(|r| matches!(r, RemovalReason::AllTagsRemoved)),
        );
        see(
            "dangling",
            removal(|r| matches!(r, RemovalReason::Dangling { .. })),
        );
        see(
            "untagged parent",
            removal(|r| matches!(r, RemovalReason::UntaggedParent { .. })),
        );
        let keep = |f: fn(&KeepReason) -> bool| {
            plan.kept
                .iter()
                .any(|k| f(&k.reason) || k.tags.iter().any(|t| f(&t.reason)))
        };
        see("in use", keep(|r| matches!(r, KeepReason::InUse { .. })));
        see(
            "protected",
            keep(|r| matches!(r, KeepReason::Protected { .. })),
        );
        see(
            "within newest",
            keep(|r| matches!(r, KeepReason::WithinNewest { .. })),
        );
        see(
            "too recent",
            keep(|r| matches!(r, KeepReason::TooRecent { .. })),
        );
        see(
            "has children",
            keep(|r| matches!(r, KeepReason::HasChildren { .. })),
        );
        see("refused", keep(|r| matches!(r, KeepReason::Refused { .. })));
        see("not matched", keep(|r| matches!(r, KeepReason::NotMatched)));
        let engine =
            MemoryImageService::from_snapshot(&snapshot, Arc::new(ManualClock::new(now())))
                .unwrap();
        let report = block_on(execute(&engine, &plan));
        see(
            "already done",
            report
                .outcomes
                .iter()
                .any(|o| o.outcome == Outcome::AlreadyDone),
        );
        see(
            "deleted by id",
            report.outcomes.iter().any(|o| {
                matches!(o.action, PlannedAction::Delete { .. })
                    && matches!(o.outcome, Outcome::Done { .. })
            }),
        );
    }
    eprintln!("coverage over {CASES} cases: {seen:?}");
    for what in [
        "untag",
        "freed",
        "all tags removed",
        "dangling",
        "untagged parent",
        "in use",
        "protected",
        "within newest",
        "too recent",
        "has children",
        "refused",
        "not matched",
        "already done",
        "deleted by id",
    ] {
        let count = seen.get(what).copied().unwrap_or(0);
        assert!(
            count >= 3,
            "only {count} of {CASES} cases with {what}: {seen:?}"
        );
    }
}
