//! Unit tests of the retention planner: each rule feature and each reason,
//! the issue's scenario, and [`execute`] on the in-memory engine.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::plan as make_plan;
use super::*;
use crate::memory::SnapshotLayer;
use crate::model::{ContainerRef, ContainerState};
use crate::{ImageServiceExt as _, SystemClock};

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

fn days_ago(days: i64) -> Option<DateTime<Utc>> {
    Some(now() - chrono::Duration::days(days))
}

/// The shared base layer every image of [`image`] sits on.
const BASE: u32 = 1_000_000;

/// Image `n` with `tags`, created `age` days ago, on the shared base layer
/// (1000 bytes) plus its own layer of `n` bytes.
fn image(n: u32, tags: &[&str], age: Option<i64>) -> SnapshotImage {
    SnapshotImage {
        id: digest(n),
        created: age.and_then(days_ago),
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        layers: vec![
            SnapshotLayer {
                diff_id: digest(BASE),
                size: 1000,
            },
            SnapshotLayer {
                diff_id: digest(BASE + n),
                size: u64::from(n),
            },
        ],
        ..SnapshotImage::default()
    }
}

fn container(name: &str, image: u32, state: ContainerState) -> ContainerRef {
    ContainerRef {
        id: format!("{:064x}", name.len() as u64 * 7919 + u64::from(image)),
        name: name.to_string(),
        image_id: digest(image),
        state,
    }
}

fn policy(text: &str) -> RetentionPolicy {
    RetentionPolicy::from_toml(text).unwrap()
}

fn untagged(plan: &CleanupPlan) -> Vec<&str> {
    plan.untags().map(|(reference, _)| reference).collect()
}

fn deleted(plan: &CleanupPlan) -> Vec<String> {
    let mut ids: Vec<String> = plan.deletes().map(str::to_string).collect();
    ids.sort();
    ids
}

fn kept_tag<'a>(plan: &'a CleanupPlan, tag: &str) -> &'a KeepReason {
    plan.kept
        .iter()
        .flat_map(|image| &image.tags)
        .find(|kept| kept.tag == tag)
        .map(|kept| &kept.reason)
        .unwrap_or_else(|| panic!("{tag} is not kept: {plan:#?}"))
}

fn kept_image(plan: &CleanupPlan, n: u32) -> &KeptImage {
    plan.kept
        .iter()
        .find(|image| image.image_id == digest(n))
        .unwrap_or_else(|| panic!("image {n} is not kept: {plan:#?}"))
}

/// The issue's scenario: 8 tags, an old one used by a stopped container,
/// one `production`, keep_last = 3: 8 - 3 - 1 - 1 = 3 go.
#[test]
fn the_issue_scenario_removes_exactly_three() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["myapp:1"], Some(80)),
            image(2, &["myapp:production"], Some(70)),
            image(3, &["myapp:3"], Some(60)),
            image(4, &["myapp:4"], Some(50)),
            image(5, &["myapp:5"], Some(40)),
            image(6, &["myapp:6"], Some(30)),
            image(7, &["myapp:7"], Some(20)),
            image(8, &["myapp:8"], Some(10)),
        ],
        containers: vec![container("old-job", 1, ContainerState::Exited)],
    };
    let plan = make_plan(
        &snapshot,
        &policy(
            r#"
            [[rules]]
            repository = ["myapp"]
            keep_last = 3
            keep = ["production"]
            "#,
        ),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["myapp:5", "myapp:4", "myapp:3"]);
    assert_eq!(deleted(&plan), vec![digest(3), digest(4), digest(5)]);
    // Only their own layers: the base stays with the kept images.
    assert_eq!(plan.freed_bytes, 3 + 4 + 5);
    assert_eq!(plan.layers.len(), 3);
    assert_eq!(
        kept_tag(&plan, "myapp:1"),
        &KeepReason::InUse {
            containers: vec!["old-job".into()]
        }
    );
    assert_eq!(
        kept_tag(&plan, "myapp:production"),
        &KeepReason::Protected {
            rule: 0,
            glob: "production".into()
        }
    );
    for (tag, rank) in [("myapp:8", 1), ("myapp:7", 2), ("myapp:6", 3)] {
        assert_eq!(
            kept_tag(&plan, tag),
            &KeepReason::WithinNewest {
                rule: 0,
                keep_last: 3,
                rank
            }
        );
    }
    assert_eq!(plan.kept.len(), 5);
    match &plan.actions[0] {
        PlannedAction::Untag { reason, .. } => assert_eq!(
            reason,
            &RemovalReason::Expired {
                rule: 0,
                rank: 4,
                keep_last: Some(3),
                older_than: None
            }
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn older_than_keeps_recent_and_undated_images() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:a"], Some(40)),
            image(2, &["app:b"], Some(20)),
            image(3, &["app:c"], None),
            image(4, &["app:d"], Some(31)),
        ],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"app\"]\nolder_than = \"720h\"\n"),
        now(),
    )
    .unwrap();
    assert_eq!(
        untagged(&plan),
        vec!["app:d", "app:a"],
        "ranked newest first"
    );
    let age = Age(Duration::from_secs(720 * 3600));
    assert_eq!(
        kept_tag(&plan, "app:b"),
        &KeepReason::TooRecent {
            rule: 0,
            older_than: age
        }
    );
    assert_eq!(
        kept_tag(&plan, "app:c"),
        &KeepReason::UnknownAge { rule: 0 }
    );
    // Exactly at the cutoff is not older.
    let edge = EngineSnapshot {
        images: vec![image(1, &["app:a"], Some(30))],
        containers: vec![],
    };
    let plan = make_plan(
        &edge,
        &policy("[[rules]]\nrepository = [\"app\"]\nolder_than = \"720h\"\n"),
        now(),
    )
    .unwrap();
    assert!(plan.is_empty());
}

#[test]
fn keep_last_and_older_than_combine() {
    let snapshot = EngineSnapshot {
        images: (1..=5)
            .map(|n| image(n, &[&format!("app:{n}")], Some(i64::from(60 - n * 10))))
            .collect(),
        containers: vec![],
    };
    // Ages: 50, 40, 30, 20, 10 days. Newest 2 kept; of the rest only
    // those older than 35 days go.
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"app\"]\nkeep_last = 2\nolder_than = \"840h\"\n"),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["app:2", "app:1"]);
    assert!(matches!(
        kept_tag(&plan, "app:3"),
        KeepReason::TooRecent { .. }
    ));
    assert!(matches!(
        kept_tag(&plan, "app:4"),
        KeepReason::WithinNewest { rank: 2, .. }
    ));
}

#[test]
fn semver_order_ranks_versions_and_puts_other_tags_last() {
    // Creation times run against the versions.
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:v2.0.0"], Some(50)),
            image(2, &["app:1.10.0"], Some(40)),
            image(3, &["app:1.9"], Some(30)),
            image(4, &["app:v1.2.3-rc.1"], Some(20)),
            image(5, &["app:nightly"], Some(1)),
            image(6, &["app:1.2.3"], Some(60)),
        ],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"app\"]\nkeep_last = 3\norder = \"semver\"\n"),
        now(),
    )
    .unwrap();
    for (tag, rank) in [("app:v2.0.0", 1), ("app:1.10.0", 2), ("app:1.9", 3)] {
        assert!(
            matches!(kept_tag(&plan, tag), KeepReason::WithinNewest { rank: r, .. } if *r == rank),
            "{tag}"
        );
    }
    // 1.2.3 > 1.2.3-rc.1, and the non-version tag comes last although it
    // is the newest image.
    assert_eq!(
        untagged(&plan),
        vec!["app:1.2.3", "app:v1.2.3-rc.1", "app:nightly"]
    );
    assert_eq!(tag_version("V3").unwrap().to_string(), "3.0.0");
    assert_eq!(tag_version("1.2").unwrap().to_string(), "1.2.0");
    assert!(tag_version("1.2-alpine").is_none());
    assert!(tag_version("latest").is_none());
    assert!(tag_version("v").is_none());
}

#[test]
fn ties_break_by_tag_name_then_image_id() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(3, &["app:b"], Some(10)),
            image(1, &["app:c"], Some(10)),
            image(2, &["app:a"], Some(10)),
        ],
        containers: vec![],
    };
    let rules = policy("[[rules]]\nrepository = [\"app\"]\nkeep_last = 1\n");
    let plan_one = make_plan(&snapshot, &rules, now()).unwrap();
    assert!(matches!(
        kept_tag(&plan_one, "app:a"),
        KeepReason::WithinNewest { rank: 1, .. }
    ));
    assert_eq!(untagged(&plan_one), vec!["app:b", "app:c"]);
    let mut reversed = snapshot.clone();
    reversed.images.reverse();
    assert_eq!(make_plan(&reversed, &rules, now()).unwrap(), plan_one);
    // Two tags of one image: the image ID decides nothing, the name does.
    let same = EngineSnapshot {
        images: vec![image(1, &["app:y", "app:x"], Some(5))],
        containers: vec![],
    };
    let plan = make_plan(&same, &rules, now()).unwrap();
    assert_eq!(untagged(&plan), vec!["app:y"]);
    assert!(deleted(&plan).is_empty(), "app:x keeps the image");
}

#[test]
fn keep_globs_protect_tags_and_do_not_count() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:v1-lts"], Some(90)),
            image(2, &["app:latest"], Some(1)),
            image(3, &["app:v3"], Some(30)),
            image(4, &["app:v4"], Some(20)),
        ],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy(
            "[[rules]]\nrepository = [\"app\"]\nkeep_last = 1\nkeep = [\"latest\", \"v*-lts\"]\n",
        ),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["app:v3"]);
    assert_eq!(
        kept_tag(&plan, "app:v1-lts"),
        &KeepReason::Protected {
            rule: 0,
            glob: "v*-lts".into()
        }
    );
    assert!(matches!(
        kept_tag(&plan, "app:v4"),
        KeepReason::WithinNewest { rank: 1, .. }
    ));
}

#[test]
fn the_first_matching_rule_applies_and_unmatched_repositories_stay() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["registry.example.com/team/api:1"], Some(50)),
            image(2, &["registry.example.com/team/api:2"], Some(40)),
            image(3, &["web:1"], Some(50)),
            image(4, &["web:2"], Some(40)),
            image(5, &["other/thing:1"], Some(50)),
        ],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy(
            r#"
            [[rules]]
            repository = ["registry.example.com/team/*"]
            keep_last = 1
            [[rules]]
            repository = ["*"]
            keep_last = 1
            keep = ["1"]
            [[rules]]
            repository = ["registry.example.com/*/*"]
            older_than = "0s"
            "#,
        ),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["registry.example.com/team/api:1"]);
    assert!(matches!(
        kept_tag(&plan, "web:1"),
        KeepReason::Protected { rule: 1, .. }
    ));
    assert_eq!(kept_tag(&plan, "other/thing:1"), &KeepReason::NotMatched);
    assert_eq!(kept_image(&plan, 5).reason, KeepReason::NotMatched);
}

#[test]
fn a_rule_without_expiry_removes_no_tag() {
    let snapshot = EngineSnapshot {
        images: vec![image(1, &["app:1"], Some(500)), image(2, &[], Some(500))],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"*\"]\ndangling = true\n"),
        now(),
    )
    .unwrap();
    assert_eq!(kept_tag(&plan, "app:1"), &KeepReason::NoExpiry { rule: 0 });
    assert_eq!(deleted(&plan), vec![digest(2)], "the dangling image goes");
    assert_eq!(
        plan.actions,
        vec![PlannedAction::Delete {
            image_id: digest(2),
            reason: RemovalReason::Dangling {
                rule: 0,
                older_than: None
            }
        }]
    );
    assert_eq!(plan.freed_bytes, 2);
}

#[test]
fn dangling_images_need_a_matching_rule_with_dangling() {
    let mut with_digest = image(3, &[], Some(100));
    with_digest.repo_digests = vec![format!("app@{}", digest(99))];
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &[], Some(100)),
            image(2, &[], Some(1)),
            with_digest,
            image(4, &[], None),
        ],
        containers: vec![],
    };
    // No rule with dangling: all stay.
    let plan_none = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"*\"]\nkeep_last = 1\n"),
        now(),
    )
    .unwrap();
    assert!(plan_none.is_empty());
    assert_eq!(kept_image(&plan_none, 1).reason, KeepReason::NotMatched);
    // `<none>` covers reference-less dangling images, `app` the one with
    // a digest of app; older_than applies.
    let plan = make_plan(
        &snapshot,
        &policy(
            r#"
            [[rules]]
            repository = ["<none>"]
            older_than = "24h"
            dangling = true
            "#,
        ),
        now(),
    )
    .unwrap();
    assert_eq!(deleted(&plan), vec![digest(1)]);
    assert!(matches!(
        kept_image(&plan, 2).reason,
        KeepReason::TooRecent { rule: 0, .. }
    ));
    assert_eq!(kept_image(&plan, 3).reason, KeepReason::NotMatched);
    assert_eq!(
        kept_image(&plan, 4).reason,
        KeepReason::UnknownAge { rule: 0 }
    );
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"app\"]\ndangling = true\n"),
        now(),
    )
    .unwrap();
    assert_eq!(deleted(&plan), vec![digest(3)]);
}

#[test]
fn images_in_use_keep_every_tag() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:1", "app:old", "other:x"], Some(100)),
            image(2, &["app:2"], Some(90)),
            image(3, &[], Some(100)),
        ],
        containers: vec![
            container("web", 1, ContainerState::Running),
            container("batch", 1, ContainerState::Exited),
            container("leftover", 3, ContainerState::Created),
        ],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"*\"]\nolder_than = \"1h\"\ndangling = true\n"),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["app:2"]);
    assert_eq!(deleted(&plan), vec![digest(2)]);
    let in_use = kept_image(&plan, 1);
    assert_eq!(
        in_use.reason,
        KeepReason::InUse {
            containers: vec!["batch".into(), "web".into()]
        }
    );
    assert_eq!(in_use.tags.len(), 3);
    assert!(matches!(
        kept_image(&plan, 3).reason,
        KeepReason::InUse { .. }
    ));
}

#[test]
fn an_image_keeps_living_while_a_tag_stays() {
    let snapshot = EngineSnapshot {
        images: vec![image(1, &["app:1", "keep:1"], Some(100))],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"app\"]\nolder_than = \"1h\"\n"),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["app:1"]);
    assert!(deleted(&plan).is_empty());
    assert_eq!(plan.freed_bytes, 0);
    let kept = kept_image(&plan, 1);
    assert_eq!(kept.tags.len(), 1);
    assert_eq!(kept.reason, KeepReason::NotMatched);
}

#[test]
fn parents_stay_for_kept_children_and_go_with_deleted_ones() {
    // 1 is tagged and has child 2; 3 is an untagged intermediate with
    // child 4.
    let mut child = image(2, &["app:child"], Some(5));
    child.parent = Some(digest(1));
    child.layers.push(SnapshotLayer {
        diff_id: digest(BASE + 200),
        size: 200,
    });
    child.layers[1] = image(1, &[], None).layers[1].clone();
    let mut leaf = image(4, &["tmp:leaf"], Some(100));
    leaf.parent = Some(digest(3));
    leaf.layers.push(SnapshotLayer {
        diff_id: digest(BASE + 400),
        size: 400,
    });
    leaf.layers[1] = image(3, &[], None).layers[1].clone();
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:base"], Some(100)),
            child,
            image(3, &[], Some(100)),
            leaf,
        ],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy(
            r#"
            [[rules]]
            repository = ["app"]
            keep_last = 1
            [[rules]]
            repository = ["tmp"]
            older_than = "1h"
            "#,
        ),
        now(),
    )
    .unwrap();
    assert_eq!(untagged(&plan), vec!["app:base", "tmp:leaf"]);
    let base = kept_image(&plan, 1);
    assert_eq!(
        base.reason,
        KeepReason::HasChildren {
            children: vec![digest(2)]
        }
    );
    assert!(base.tags.is_empty());
    assert_eq!(deleted(&plan), vec![digest(3), digest(4)]);
    assert!(plan.actions.contains(&PlannedAction::Delete {
        image_id: digest(3),
        reason: RemovalReason::UntaggedParent { child: digest(4) }
    }));
    assert!(plan.actions.contains(&PlannedAction::Delete {
        image_id: digest(4),
        reason: RemovalReason::AllTagsRemoved
    }));
    // Layer 3 (3 bytes) and the leaf's own (400); the base stays.
    assert_eq!(plan.freed_bytes, 403);
}

#[test]
fn an_image_the_engine_will_not_delete_is_kept_as_refused() {
    let mut pinned = image(1, &[], Some(100));
    pinned.repo_digests = vec![format!("app@{}", digest(98)), format!("web@{}", digest(99))];
    let snapshot = EngineSnapshot {
        images: vec![pinned],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"*\"]\ndangling = true\n"),
        now(),
    )
    .unwrap();
    assert!(plan.is_empty());
    match &kept_image(&plan, 1).reason {
        KeepReason::Refused { message } => {
            assert!(
                message.contains("referenced in multiple repositories"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plans_serialize_in_snake_case() {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:1"], Some(100)),
            image(2, &["app:2"], Some(1)),
        ],
        containers: vec![],
    };
    let plan = make_plan(
        &snapshot,
        &policy("[[rules]]\nrepository = [\"app\"]\nkeep_last = 1\nolder_than = \"24h\"\n"),
        now(),
    )
    .unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["actions"][0],
        serde_json::json!({
            "action": "untag",
            "reference": "app:1",
            "image_id": digest(1),
            "reason": {"kind": "expired", "rule": 0, "rank": 2, "keep_last": 1, "older_than": "24h"}
        })
    );
    assert_eq!(json["actions"][1]["action"], "delete");
    assert_eq!(json["actions"][1]["reason"]["kind"], "all_tags_removed");
    assert_eq!(json["kept"][0]["reason"]["kind"], "within_newest");
    assert_eq!(json["freed_bytes"], 1);
    let back: CleanupPlan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn bad_input_is_an_error() {
    let mut policy = policy("[[rules]]\nrepository = [\"app\"]\nkeep_last = 1\n");
    let bad = EngineSnapshot {
        images: vec![image(1, &["Bad:Tag"], Some(1))],
        containers: vec![],
    };
    assert!(matches!(
        plan(&bad, &policy, now()),
        Err(ImageError::InvalidReference { .. })
    ));
    policy.rules.clear();
    assert!(matches!(
        plan(&EngineSnapshot::default(), &policy, now()),
        Err(ImageError::InvalidArgument { .. })
    ));
}

// --- execute --------------------------------------------------------------

fn scenario() -> (EngineSnapshot, RetentionPolicy) {
    let snapshot = EngineSnapshot {
        images: vec![
            image(1, &["app:1"], Some(50)),
            image(2, &["app:2"], Some(40)),
            image(3, &["app:3"], Some(30)),
        ],
        containers: vec![],
    };
    (
        snapshot,
        policy("[[rules]]\nrepository = [\"app\"]\nkeep_last = 1\n"),
    )
}

#[tokio::test]
async fn execute_does_what_the_plan_says() {
    let (snapshot, policy) = scenario();
    let plan = make_plan(&snapshot, &policy, now()).unwrap();
    let engine = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock)).unwrap();
    let before = engine.disk_usage().await.unwrap().layers_size;
    let report = execute(&engine, &plan).await;
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(report.counts(), (4, 0, 0));
    assert_eq!(report.freed_bytes, Some(plan.freed_bytes));
    assert_eq!(plan.freed_bytes, 3);
    let after = engine.disk_usage().await.unwrap().layers_size;
    assert_eq!(before - after, plan.freed_bytes);
    // The deletes came with the untags of the last tags.
    assert!(
        report
            .outcomes
            .iter()
            .filter(|o| matches!(o.action, PlannedAction::Delete { .. }))
            .all(|o| o.outcome == Outcome::AlreadyDone)
    );
    assert!(engine.exists("app:3").await.unwrap());
    assert!(!engine.exists("app:1").await.unwrap());
}

#[tokio::test]
async fn execute_skips_what_changed_since_the_plan() {
    let (snapshot, policy) = scenario();
    let plan = make_plan(&snapshot, &policy, now()).unwrap();
    let engine = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock)).unwrap();
    // app:2 now names the kept image; image 1 got a new tag.
    engine.tag("app:3", "app:2").await.unwrap();
    engine.tag("app:1", "app:pinned").await.unwrap();
    let report = execute(&engine, &plan).await;
    let outcome = |reference: &str| {
        report
            .outcomes
            .iter()
            .find(|o| matches!(&o.action, PlannedAction::Untag { reference: r, .. } if r == reference))
            .map(|o| o.outcome.clone())
            .unwrap()
    };
    match outcome("app:2") {
        Outcome::Changed { detail } => {
            assert!(detail.starts_with("app:2 now points at image"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(outcome("app:1"), Outcome::Done { .. }));
    let delete = |id: String| {
        report
            .outcomes
            .iter()
            .find(
                |o| matches!(&o.action, PlannedAction::Delete { image_id, .. } if *image_id == id),
            )
            .map(|o| o.outcome.clone())
            .unwrap()
    };
    match delete(digest(1)) {
        Outcome::Changed { detail } => {
            assert!(detail.contains("has tags now: app:pinned"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    // Image 2 lost its tag to the retag and is still unused: the planned
    // delete goes ahead.
    assert!(matches!(delete(digest(2)), Outcome::Done { .. }));
    assert_eq!(report.counts(), (2, 0, 2));
    assert!(!report.is_complete());
    assert!(engine.exists("app:pinned").await.unwrap());
    assert_eq!(engine.inspect("app:2").await.unwrap().id, digest(3));
}

#[tokio::test]
async fn execute_leaves_images_that_came_into_use() {
    let (snapshot, policy) = scenario();
    let plan = make_plan(&snapshot, &policy, now()).unwrap();
    let mut used = snapshot.clone();
    used.containers
        .push(container("late", 1, ContainerState::Running));
    let engine = MemoryImageService::from_snapshot(&used, Arc::new(SystemClock)).unwrap();
    let report = execute(&engine, &plan).await;
    let untag_1 = report
        .outcomes
        .iter()
        .find(
            |o| matches!(&o.action, PlannedAction::Untag { reference, .. } if reference == "app:1"),
        )
        .unwrap();
    match &untag_1.outcome {
        Outcome::Changed { detail } => {
            assert!(detail.contains("is now used by late"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(engine.exists("app:1").await.unwrap());
    // The image is gone entirely: a planned delete says so.
    let gone = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock)).unwrap();
    gone.remove(&digest(2), &RemoveOptions::default())
        .await
        .unwrap();
    let report = execute(&gone, &plan).await;
    assert!(report.outcomes.iter().any(
        |o| matches!(&o.outcome, Outcome::Changed { detail } if detail == "app:2 no longer exists")
    ));
}

#[cfg(feature = "mock")]
#[tokio::test]
async fn execute_reports_refusals_and_unreported_layers() {
    use crate::ConflictReason;
    use crate::mock::MockImageService;
    use crate::model::ImageDetails;

    let (snapshot, policy) = scenario();
    let plan = make_plan(&snapshot, &policy, now()).unwrap();
    let real = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock)).unwrap();
    let details: Vec<ImageDetails> = vec![
        real.inspect("app:1").await.unwrap(),
        real.inspect("app:2").await.unwrap(),
    ];
    let mut engine = MockImageService::new();
    engine.expect_inspect().returning(move |name| match name {
        "app:1" => Ok(details[0].clone()),
        "app:2" => Ok(details[1].clone()),
        _ => Err(ImageError::not_found(name)),
    });
    engine.expect_containers_using().returning(|_| Ok(vec![]));
    engine.expect_remove().returning(|name, options| {
        assert!(!options.force);
        match name {
            "app:1" => Err(ImageError::Conflict {
                reference: name.to_string(),
                reason: ConflictReason::Other,
                message: "conflict: nope".into(),
            }),
            // A containerd-store engine: no layer records.
            _ => Ok(vec![
                RemoveAction::Untagged(name.to_string()),
                RemoveAction::Deleted(digest(2)),
            ]),
        }
    });
    let report = execute(&engine, &plan).await;
    assert!(matches!(
        &report.outcomes[0].action,
        PlannedAction::Untag { reference, .. } if reference == "app:2"
    ));
    assert!(matches!(report.outcomes[0].outcome, Outcome::Done { .. }));
    assert_eq!(
        report.outcomes[1].outcome,
        Outcome::Refused {
            kind: "conflict".into(),
            error: "conflict: nope".into()
        }
    );
    assert_eq!(report.freed_bytes, None);
    assert_eq!(report.counts().1, 1);
}

#[tokio::test]
async fn an_image_deleted_beyond_the_plan_is_reported() {
    use crate::mock::MockImageService;
    use crate::model::ImageDetails;

    let (snapshot, policy) = scenario();
    let plan = make_plan(&snapshot, &policy, now()).unwrap();
    let real = MemoryImageService::from_snapshot(&snapshot, Arc::new(SystemClock)).unwrap();
    let details: Vec<ImageDetails> = vec![
        real.inspect("app:1").await.unwrap(),
        real.inspect("app:2").await.unwrap(),
    ];
    let mut engine = MockImageService::new();
    engine.expect_inspect().returning(move |name| match name {
        "app:1" => Ok(details[0].clone()),
        "app:2" => Ok(details[1].clone()),
        _ => Err(ImageError::not_found(name)),
    });
    engine.expect_containers_using().returning(|_| Ok(vec![]));
    // A pull moved `app:2` to a fresh image between the check and the
    // untag: the engine deletes that image.
    let fresh = format!("sha256:{}", "f".repeat(64));
    engine.expect_remove().returning(move |name, _| {
        Ok(vec![
            RemoveAction::Untagged(name.to_string()),
            RemoveAction::Deleted(fresh.clone()),
        ])
    });
    let report = execute(&engine, &plan).await;
    let Outcome::Unplanned { detail, .. } = &report.outcomes[0].outcome else {
        panic!("{:?}", report.outcomes[0]);
    };
    assert!(detail.contains("ffffffffffff"), "{detail}");
    assert!(!report.is_complete());
    assert!(report.counts().2 >= 1);
}
