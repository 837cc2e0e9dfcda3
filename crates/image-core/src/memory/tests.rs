//! Unit tests of the in-memory engine's docker rules that the shared
//! conformance suite does not pin down exactly.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures::StreamExt;

use super::*;
use crate::archive::FixtureImage;
use crate::error::ErrorKind;
use crate::filter::ImageFilters;
use crate::service::ImageServiceExt;

fn fixed_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap(),
    ))
}

fn image(name: &str, content: &[u8]) -> ArchiveImage {
    FixtureImage::new(name)
        .layer_with_file(name, content)
        .created(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap())
        .build()
        .unwrap()
}

fn tagged(image: &ArchiveImage, tags: &[&str]) -> ArchiveImage {
    ArchiveImage {
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        ..image.clone()
    }
}

#[tokio::test]
async fn removing_a_tag_also_removes_digest_references_of_that_repository() {
    let service = MemoryImageService::with_clock(fixed_clock());
    let img = image("a", b"aaaa");
    service
        .add_image(&tagged(&img, &["localhost:5000/app:1"]))
        .unwrap();
    service
        .push_to_end(&PushOptions {
            reference: "localhost:5000/app:1".into(),
            ..PushOptions::default()
        })
        .await
        .unwrap();
    let details = service.inspect("localhost:5000/app:1").await.unwrap();
    assert_eq!(details.repo_digests.len(), 1);
    let actions = service
        .remove("localhost:5000/app:1", &RemoveOptions::default())
        .await
        .unwrap();
    assert_eq!(
        actions[0],
        RemoveAction::Untagged("localhost:5000/app:1".into())
    );
    assert_eq!(
        actions[1],
        RemoveAction::Untagged(details.repo_digests[0].clone()),
        "the digest reference of the same repository goes too: {actions:?}"
    );
    assert_eq!(actions[2], RemoveAction::Deleted(img.id()));
    // The layer's chain ID is reported deleted as well, as docker does.
    assert_eq!(actions[3], RemoveAction::Deleted(img.diff_ids()[0].clone()));
    assert_eq!(actions.len(), 4);
}

#[tokio::test]
async fn deleting_a_child_prunes_untagged_parents_unless_no_prune() {
    let service = MemoryImageService::new();
    let base = image("base", b"base");
    let parent_id = service.add_image(&base).unwrap();
    let child = FixtureImage::new("child")
        .on_top_of(&base)
        .layer_with_file("child", b"child")
        .tag("child:1")
        .build()
        .unwrap();
    service.add_child_image(&child, &parent_id).unwrap();

    // The parent is an intermediate image: only `all` lists it.
    let top = service.list(&ListOptions::default()).await.unwrap();
    assert_eq!(top.len(), 1);
    let all = service
        .list(&ListOptions {
            all: true,
            ..ListOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    // It cannot be deleted while it has a child.
    let error = service
        .remove(
            &parent_id,
            &RemoveOptions {
                force: true,
                no_prune: false,
            },
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("image has dependent child images"),
        "{error}"
    );

    // History fills in IDs along the parent chain.
    let history = service.history("child:1").await.unwrap();
    assert_eq!(history[0].id, child.id());
    assert_eq!(history[1].id, parent_id);

    let actions = service
        .remove(
            "child:1",
            &RemoveOptions {
                force: false,
                no_prune: true,
            },
        )
        .await
        .unwrap();
    assert!(actions.contains(&RemoveAction::Deleted(child.id())));
    assert!(
        service.exists(&parent_id).await.unwrap(),
        "no_prune keeps the parent"
    );

    let again = FixtureImage::new("child")
        .on_top_of(&base)
        .layer_with_file("child", b"child")
        .tag("child:2")
        .build()
        .unwrap();
    service.add_child_image(&again, &parent_id).unwrap();
    let actions = service
        .remove("child:2", &RemoveOptions::default())
        .await
        .unwrap();
    assert!(
        actions.contains(&RemoveAction::Deleted(parent_id.clone())),
        "{actions:?}"
    );
    assert!(!service.exists(&parent_id).await.unwrap());
}

#[tokio::test]
async fn remove_by_short_id_with_one_tag_untags_and_deletes() {
    let service = MemoryImageService::new();
    let img = image("solo", b"solo");
    service.add_image(&tagged(&img, &["solo:1"])).unwrap();
    let short = &img.id()[7..19];
    let actions = service
        .remove(short, &RemoveOptions::default())
        .await
        .unwrap();
    assert_eq!(actions[0], RemoveAction::Untagged("solo:1".into()));
    assert_eq!(actions[1], RemoveAction::Deleted(img.id()));
}

#[tokio::test]
async fn missing_image_messages_follow_docker() {
    let service = MemoryImageService::new();
    let error = service.inspect("nope").await.unwrap_err();
    assert_eq!(error.to_string(), "No such image: nope:latest");
    let error = service.inspect("Nope").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid reference format: repository name (library/Nope) must be lowercase"
    );
}

#[tokio::test]
async fn pull_streams_docker_statuses_and_dropping_it_cancels() {
    let service = MemoryImageService::new();
    let img = FixtureImage::new("big")
        .layer_with_file("big.bin", &vec![1u8; 2 * 1024 * 1024])
        .build()
        .unwrap();
    service.registry_put("example.com/big:1", &img).unwrap();

    // Dropping the stream after the first event leaves nothing behind.
    let mut stream = service
        .pull(&PullOptions {
            reference: "example.com/big:1".into(),
            ..PullOptions::default()
        })
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        first,
        ProgressEvent::Layer(LayerProgress {
            id: "1".into(),
            status: "Pulling from big".into(),
            current: None,
            total: None
        })
    );
    drop(stream);
    assert!(
        !service.exists(&img.id()).await.unwrap(),
        "a cancelled pull stores nothing"
    );

    let events: Vec<ProgressEvent> = service
        .pull(&PullOptions {
            reference: "example.com/big:1".into(),
            ..PullOptions::default()
        })
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    let statuses: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Layer(l) if l.id != "1" => Some(l.status.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("Pulling fs layer")
    );
    assert!(statuses.iter().filter(|s| *s == "Downloading").count() >= 4);
    assert_eq!(statuses.last().map(String::as_str), Some("Pull complete"));
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Message { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(messages[0].starts_with("Digest: sha256:"));
    assert_eq!(
        messages[1],
        "Status: Downloaded newer image for example.com/big:1"
    );
    let Some(ProgressEvent::Done(done)) = events.last() else {
        panic!("the stream ends with Done: {events:?}");
    };
    assert_eq!(done.reference.as_deref(), Some("example.com/big:1"));
    assert_eq!(done.image_id.as_deref(), Some(img.id().as_str()));

    // A second pull is up to date and its layer already exists.
    let events: Vec<ProgressEvent> = service
        .pull(&PullOptions {
            reference: "example.com/big:1".into(),
            ..PullOptions::default()
        })
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProgressEvent::Layer(l) if l.status == "Already exists"))
    );
    assert!(events.iter().any(|e| matches!(e, ProgressEvent::Message { text } if text == "Status: Image is up to date for example.com/big:1")));
}

#[tokio::test]
async fn registries_with_credentials_refuse_anonymous_pushes() {
    let service = MemoryImageService::new();
    service.registry_require_auth("127.0.0.1:5001", "alice", "p@ss:w0rd with spaces");
    service
        .add_image(&tagged(
            &image("secret", b"s"),
            &["127.0.0.1:5001/secret:1"],
        ))
        .unwrap();
    let Err(error) = service
        .push(&PushOptions {
            reference: "127.0.0.1:5001/secret:1".into(),
            ..PushOptions::default()
        })
        .await
    else {
        panic!("an anonymous push must fail");
    };
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    let completion = service
        .push_to_end(&PushOptions {
            reference: "127.0.0.1:5001/secret:1".into(),
            auth: Some(_auth("alice", "p@ss:w0rd with spaces", "127.0.0.1:5001")),
            ..PushOptions::default()
        })
        .await
        .unwrap();
    assert!(completion.digest.is_some());
    let Err(error) = service
        .pull(&PullOptions {
            reference: "127.0.0.1:5001/secret:1".into(),
            auth: Some(_auth("alice", "wrong", "127.0.0.1:5001")),
            ..PullOptions::default()
        })
        .await
    else {
        panic!("a pull with a wrong password must fail");
    };
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn load_moves_existing_tags_and_save_by_id_is_untagged() {
    let service = MemoryImageService::new();
    let first = image("first", b"1");
    let second = image("second", b"2");
    service.add_image(&tagged(&first, &["app:latest"])).unwrap();
    let archive = archive::write_archive(&[tagged(&second, &["app:latest"])]).unwrap();
    let report = service.load_bytes(archive).await.unwrap();
    assert_eq!(report.loaded_tags, vec!["app:latest".to_string()]);
    assert_eq!(service.inspect("app").await.unwrap().id, second.id());
    let dangling = service
        .list(&ListOptions {
            filters: ImageFilters::parse(["dangling=true"]).unwrap(),
            ..ListOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].id, first.id());

    let saved = service.save_to_vec(&[first.id()]).await.unwrap();
    let images = archive::read_archive(&saved).unwrap();
    assert_eq!(images.len(), 1);
    assert!(images[0].repo_tags.is_empty());
    let fresh = MemoryImageService::new();
    let report = fresh.load_bytes(saved).await.unwrap();
    assert_eq!(report.loaded_ids, vec![first.id()]);
}

#[tokio::test]
async fn tags_cannot_be_digests() {
    let service = MemoryImageService::new();
    service
        .add_image(&tagged(&image("t", b"t"), &["t:1"]))
        .unwrap();
    let digest = format!("t@sha256:{}", "a".repeat(64));
    let error = service.tag("t:1", &digest).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(
        error
            .to_string()
            .contains("refusing to create a tag with a digest reference")
    );
}

#[tokio::test]
async fn disk_usage_counts_each_layer_once_and_reclaimable_like_docker() {
    let service = MemoryImageService::new();
    let base = FixtureImage::new("b")
        .layer_with_file("base", &[0u8; 1000])
        .build()
        .unwrap();
    let left = FixtureImage::new("l")
        .on_top_of(&base)
        .layer_with_file("left", &[1u8; 100])
        .tag("left:1")
        .build()
        .unwrap();
    let right = FixtureImage::new("r")
        .on_top_of(&base)
        .layer_with_file("right", &[2u8; 200])
        .tag("right:1")
        .build()
        .unwrap();
    service.add_image(&left).unwrap();
    service.add_image(&right).unwrap();
    service
        .add_container("left:1", "c", ContainerState::Running)
        .unwrap();
    let usage = service.disk_usage().await.unwrap();
    assert_eq!(usage.layers_size, 1300);
    let left_usage = usage.images.iter().find(|i| i.id == left.id()).unwrap();
    assert_eq!(
        (
            left_usage.size,
            left_usage.shared_size,
            left_usage.unique_size
        ),
        (1100, 1000, 100)
    );
    // docker: total minus the unique size of images in use.
    assert_eq!(usage.reclaimable, 1200);
    assert_eq!(usage.active(), 1);

    // Prune -a frees exactly right's unique layer: the base is still used.
    let report = service
        .prune(&PruneOptions {
            all: true,
            ..PruneOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(report.space_reclaimed, 200);
    assert!(report.actions.contains(&RemoveAction::Deleted(right.id())));
    assert!(service.exists(&left.id()).await.unwrap());
}

#[tokio::test]
async fn demo_host_has_what_it_promises() {
    let service = MemoryImageService::demo().unwrap();
    let top = service.list(&ListOptions::default()).await.unwrap();
    let all = service
        .list(&ListOptions {
            all: true,
            ..ListOptions::default()
        })
        .await
        .unwrap();
    assert!(
        all.len() > top.len(),
        "an intermediate image is hidden without -a"
    );
    assert_eq!(
        top.iter().filter(|i| i.is_dangling()).count(),
        1,
        "one dangling image"
    );
    assert!(top.iter().any(|i| i.containers > 0), "an image in use");
    let repositories: std::collections::BTreeSet<String> = top
        .iter()
        .flat_map(|i| i.repo_tags.iter())
        .filter_map(|t| t.rsplit_once(':').map(|(r, _)| r.to_string()))
        .collect();
    assert!(repositories.len() >= 4, "{repositories:?}");
    let usage = service.disk_usage().await.unwrap();
    assert!(
        usage.images.iter().any(|i| i.shared_size > 0),
        "shared base layers"
    );
    service
        .pull_to_end(&PullOptions {
            reference: "redis:7-alpine".into(),
            ..PullOptions::default()
        })
        .await
        .unwrap();
    assert!(service.exists("redis:7-alpine").await.unwrap());
    assert!(!service.search("redis", None).await.unwrap().is_empty());
}

#[tokio::test]
async fn dry_run_prune_reports_exactly_what_prune_does_and_changes_nothing() {
    for all in [false, true] {
        let service = MemoryImageService::demo().unwrap();
        let snapshot = || async {
            let images = service
                .list(&ListOptions {
                    all: true,
                    ..ListOptions::default()
                })
                .await
                .unwrap();
            (images, service.disk_usage().await.unwrap())
        };
        let before = snapshot().await;
        let dry = service
            .prune(&PruneOptions {
                all,
                dry_run: true,
                ..PruneOptions::default()
            })
            .await
            .unwrap();
        assert!(
            !dry.actions.is_empty(),
            "the demo host has something to prune"
        );
        assert_eq!(snapshot().await, before, "a dry run changes nothing");
        let real = service
            .prune(&PruneOptions {
                all,
                ..PruneOptions::default()
            })
            .await
            .unwrap();
        assert_eq!(dry, real, "all = {all}");
        assert_ne!(snapshot().await, before, "the real prune did delete");
        // Once pruned, a dry run finds nothing more, like a real prune.
        let again = service
            .prune(&PruneOptions {
                all,
                dry_run: true,
                ..PruneOptions::default()
            })
            .await
            .unwrap();
        assert_eq!(again, PruneReport::default());
    }
}

#[tokio::test]
async fn the_registry_digest_is_what_a_pull_records() {
    let service = MemoryImageService::demo().unwrap();
    let digest = ImageService::registry_digest(&service, "redis:7-alpine", None)
        .await
        .unwrap()
        .expect("the demo registry has redis:7-alpine");
    service
        .pull_to_end(&PullOptions {
            reference: "redis:7-alpine".into(),
            ..PullOptions::default()
        })
        .await
        .unwrap();
    let details = service.inspect("redis:7-alpine").await.unwrap();
    assert!(
        details.repo_digests.contains(&format!("redis@{digest}")),
        "{:?}",
        details.repo_digests
    );
    assert_eq!(
        ImageService::registry_digest(&service, "redis:404", None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        ImageService::registry_digest(&service, "Bad:Name", None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidReference
    );
}
