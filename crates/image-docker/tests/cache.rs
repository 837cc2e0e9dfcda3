//! The list cache over a real engine: changes made by another client (the
//! real docker CLI) show through [`CachedImageService`] within 1 s, on both
//! private engines, carried by the engine's event stream.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use image_core::archive::{FixtureImage, write_archive};
use image_core::cache::FeedState;
use image_core::{
    CachedImageService, ChangeObject, ImageService, ImageServiceExt, ImageSummary, ListOptions,
    RemoveOptions,
};
use image_docker::DockerImageService;
use support::EngineEnv;

/// How long a change on the engine may take to show through the cache.
const WITHIN: Duration = Duration::from_secs(1);

/// Runs the docker CLI against the engine, with an empty config.
fn docker(env: &EngineEnv, config: &Path, args: &[&str]) {
    let output = std::process::Command::new(&env.docker_cli)
        .args(args)
        .env("DOCKER_HOST", &env.host)
        .env("DOCKER_CONFIG", config)
        .env_remove("DOCKER_CONTEXT")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", env.docker_cli));
    assert!(
        output.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Lists through the cache until `check` holds; how long that took, or
/// `None` if it did not hold within [`WITHIN`].
async fn shows_within(
    cache: &CachedImageService<DockerImageService>,
    check: impl Fn(&[ImageSummary]) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let listed = cache.list(&ListOptions::default()).await.unwrap();
        if check(&listed) {
            return Some(start.elapsed());
        }
        if start.elapsed() > WITHIN {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn tagged<'a>(images: &'a [ImageSummary], tag: &str) -> Option<&'a ImageSummary> {
    images.iter().find(|i| i.repo_tags.iter().any(|t| t == tag))
}

fn scratch_dir(engine: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("imgctl-cache-test-{engine}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn changes_by_another_client_show_within_a_second(engine: &'static str) {
    let Some(env) = support::engine(engine, "cache") else {
        return;
    };
    let pid = std::process::id();
    let base = format!("imgctl-cache-test/{}-{pid}:base", engine.to_lowercase());
    let copy = format!("imgctl-cache-test/{}-{pid}:copy", engine.to_lowercase());
    let container = format!("imgctl-cache-test-{}-{pid}", engine.to_lowercase());
    let config = scratch_dir(engine);

    let service = env.service().await;
    let image = FixtureImage::new(&format!("cache-{engine}-{pid}"))
        .layer_with_file("cache.txt", format!("{engine} {pid}\n").as_bytes())
        .tag(&base)
        .build()
        .unwrap();
    service
        .load_bytes(write_archive(&[image]).unwrap())
        .await
        .unwrap();

    let cache = CachedImageService::new(service);
    assert_eq!(cache.settled().await, FeedState::Live, "engine {engine}");
    let listed = cache.list(&ListOptions::default()).await.unwrap();
    assert!(tagged(&listed, &base).is_some());
    // The cache answers from memory when the engine is quiet (other tests
    // may be busy on the same engine, so a few tries).
    let mut hit = false;
    for _ in 0..20 {
        let before = cache.stats().hits;
        cache.list(&ListOptions::default()).await.unwrap();
        if cache.stats().hits > before {
            hit = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hit, "engine {engine}: no list was served from the cache");

    docker(&env, &config, &["tag", &base, &copy]);
    let took = shows_within(&cache, |images| tagged(images, &copy).is_some()).await;
    assert!(
        took.is_some(),
        "engine {engine}: docker tag not seen in 1 s"
    );
    eprintln!("engine {engine}: docker tag showed after {took:?}");

    let args = [
        "create",
        "--network",
        "none",
        "--name",
        &container,
        &base,
        "/nothing",
    ];
    docker(&env, &config, &args);
    let took = shows_within(&cache, |images| {
        tagged(images, &base).is_some_and(|i| i.containers == 1)
    })
    .await;
    assert!(took.is_some(), "engine {engine}: docker create not counted");
    eprintln!("engine {engine}: docker create showed after {took:?}");

    docker(&env, &config, &["rm", &container]);
    let took = shows_within(&cache, |images| {
        tagged(images, &base).is_some_and(|i| i.containers == 0)
    })
    .await;
    assert!(took.is_some(), "engine {engine}: docker rm not seen in 1 s");

    docker(&env, &config, &["rmi", &copy]);
    let took = shows_within(&cache, |images| tagged(images, &copy).is_none()).await;
    assert!(
        took.is_some(),
        "engine {engine}: docker rmi not seen in 1 s"
    );
    eprintln!("engine {engine}: docker rmi showed after {took:?}");

    let removed = cache
        .remove(
            &base,
            &RemoveOptions {
                force: true,
                no_prune: false,
            },
        )
        .await;
    assert!(removed.is_ok(), "{removed:?}");
    // A change made through the cache shows at once.
    let listed = cache.list(&ListOptions::default()).await.unwrap();
    assert!(tagged(&listed, &base).is_none());
    let _ = std::fs::remove_dir_all(&config);
}

/// The engine's feed itself: an image tagged by the CLI arrives as an
/// image `tag` event naming the image's ID.
async fn the_feed_reports_what_the_cli_does(engine: &'static str) {
    let Some(env) = support::engine(engine, "change feed") else {
        return;
    };
    let pid = std::process::id();
    let base = format!("imgctl-feed-test/{}-{pid}:base", engine.to_lowercase());
    let copy = format!("imgctl-feed-test/{}-{pid}:copy", engine.to_lowercase());
    let config = scratch_dir(&format!("feed-{engine}"));
    let service = env.service().await;
    let image = FixtureImage::new(&format!("feed-{engine}-{pid}"))
        .layer_with_file("feed.txt", format!("{engine} {pid}\n").as_bytes())
        .tag(&base)
        .build()
        .unwrap();
    service
        .load_bytes(write_archive(&[image]).unwrap())
        .await
        .unwrap();
    let id = service.inspect(&base).await.unwrap().id;

    let mut feed = service.changes().await.unwrap();
    docker(&env, &config, &["tag", &base, &copy]);
    let found = tokio::time::timeout(WITHIN, async {
        while let Some(event) = feed.next().await {
            let event = event.unwrap();
            if event.object == ChangeObject::Image && event.action == "tag" && event.id == id {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found.ok(), Some(true), "engine {engine}: no tag event");
    drop(feed);
    for name in [&copy, &base] {
        let _ = service
            .remove(
                name,
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await;
    }
    let _ = std::fs::remove_dir_all(&config);
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod engine_a { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("A").await } )* }
        mod engine_b { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("B").await } )* }
    };
}

on_both_engines!(
    changes_by_another_client_show_within_a_second,
    the_feed_reports_what_the_cli_does,
);
