//! The conformance suite every [`ImageService`](crate::ImageService) implementation runs.
//!
//! Each case is a `pub async fn(&dyn Harness) -> CaseResult` that sets up its
//! own images from docker-save fixtures it builds itself (so the same bytes
//! feed the in-memory engine and a real Docker Engine), checks one part of
//! the contract, and cleans up after itself. [`CASE_NAMES`] lists them all; the
//! [`conformance_tests!`](crate::conformance_tests) macro turns that list
//! into one `#[tokio::test]` per case for a backend's test file.
//! Differences between backends are parameters of the [`Harness`], never
//! forks of the cases.
//!
//! Cases that delete (remove, prune) assume an engine that the test harness
//! started itself: never run this suite against a daemon you care about.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;

use crate::archive::{ArchiveImage, FixtureImage, write_archive};
use crate::error::{ConflictReason, ErrorKind, ImageError};
use crate::filter::{ImageFilters, PruneFilters};
use crate::model::{
    ImageSummary, ListOptions, ProgressEvent, PruneOptions, PullOptions, PushOptions, RemoveAction,
    RemoveOptions,
};
use crate::service::{DynImageService, ImageServiceExt};

/// What a backend's test provides to the suite.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The service under test.
    fn service(&self) -> &DynImageService;

    /// A registry host (`host[:port]`) the backend can push to and pull from
    /// without credentials.
    fn registry(&self) -> String;

    /// Creates a stopped container from `image`; returns its ID.
    async fn create_container(&self, image: &str, name: &str) -> Result<String, ImageError>;

    /// Creates and starts a container from `image`; returns its ID. The
    /// fixture images hold no programs, so the harness supplies whatever
    /// keeps the container running.
    async fn run_container(&self, image: &str, name: &str) -> Result<String, ImageError>;

    /// Removes a container, running or not.
    async fn remove_container(&self, id: &str) -> Result<(), ImageError>;
}

/// Why a case failed.
#[derive(Debug)]
pub struct CaseFailure {
    /// What was being checked.
    pub message: String,
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CaseFailure {}

impl From<ImageError> for CaseFailure {
    fn from(error: ImageError) -> Self {
        CaseFailure {
            message: format!("unexpected error ({}): {error}", error.kind()),
        }
    }
}

/// The result of one case.
pub type CaseResult = Result<(), CaseFailure>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(CaseFailure { message: format!($($fmt)+) });
        }
    };
}

fn fail<T>(message: impl Into<String>) -> Result<T, CaseFailure> {
    Err(CaseFailure {
        message: message.into(),
    })
}

fn expect_kind<T: fmt::Debug>(
    result: Result<T, ImageError>,
    kind: ErrorKind,
    what: &str,
) -> Result<ImageError, CaseFailure> {
    match result {
        Err(error) if error.kind() == kind => Ok(error),
        Err(error) => fail(format!(
            "{what}: expected a {kind} error, got {} ({error})",
            error.kind()
        )),
        Ok(value) => fail(format!(
            "{what}: expected a {kind} error, got success: {value:?}"
        )),
    }
}

/// A fixed, old creation time for fixtures.
fn old_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A fixed, newer creation time for fixtures.
fn new_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 7, 8, 9, 10)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The repository namespace of a case, so cases never touch each other's
/// images.
fn repo(case: &str, name: &str) -> String {
    format!("imgctl-conformance/{case}-{name}")
}

/// A base image with one layer, unique to `case`.
fn base_image(case: &str) -> Result<ArchiveImage, ImageError> {
    FixtureImage::new(case)
        .layer_with_file("etc/base-release", format!("base for {case}\n").as_bytes())
        .created(old_time())
        .build()
}

async fn load(h: &dyn Harness, images: &[ArchiveImage]) -> Result<(), CaseFailure> {
    let archive = write_archive(images)?;
    h.service().load_bytes(archive).await?;
    Ok(())
}

/// Removes everything a case may have left behind: tags under the case's
/// namespace, and the given image IDs.
async fn cleanup(h: &dyn Harness, case: &str, ids: &[String]) {
    let service = h.service();
    let prefix = repo(case, "");
    if let Ok(images) = service
        .list(&ListOptions {
            all: true,
            ..ListOptions::default()
        })
        .await
    {
        for image in images {
            for tag in image.repo_tags.iter().chain(image.repo_digests.iter()) {
                if tag.starts_with(&prefix) || tag.contains(&format!("/{prefix}")) {
                    let _ = service
                        .remove(
                            tag,
                            &RemoveOptions {
                                force: true,
                                no_prune: false,
                            },
                        )
                        .await;
                }
            }
        }
    }
    for id in ids {
        let _ = service
            .remove(
                id,
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await;
    }
}

async fn list_all(h: &dyn Harness) -> Result<Vec<ImageSummary>, CaseFailure> {
    Ok(h.service()
        .list(&ListOptions {
            all: true,
            ..ListOptions::default()
        })
        .await?)
}

async fn list_filtered(
    h: &dyn Harness,
    filters: &[&str],
) -> Result<Vec<ImageSummary>, CaseFailure> {
    Ok(h.service()
        .list(&ListOptions {
            filters: ImageFilters::parse(filters)?,
            ..ListOptions::default()
        })
        .await?)
}

fn tags_of(images: &[ImageSummary]) -> BTreeSet<String> {
    images
        .iter()
        .flat_map(|image| image.repo_tags.iter().cloned())
        .collect()
}

fn ids_of(images: &[ImageSummary]) -> BTreeSet<String> {
    images.iter().map(|image| image.id.clone()).collect()
}

/// The name of every case of the suite; each is a `pub async fn` of this
/// module taking `&dyn Harness`.
pub const CASE_NAMES: &[&str] = &[
    "list_shows_loaded_images",
    "list_filters_by_reference",
    "list_filters_by_label",
    "list_filters_dangling",
    "list_filters_before_since",
    "list_filters_until",
    "list_rejects_bad_filters",
    "inspect_shows_config_and_layers",
    "inspect_by_short_id_and_digest",
    "history_lists_layers_newest_first",
    "tag_and_untag",
    "remove_refuses_image_in_use",
    "remove_refuses_running_even_forced",
    "remove_by_id_with_several_repositories",
    "remove_keeps_shared_layers",
    "prune_dangling",
    "prune_all_keeps_used_images",
    "prune_until_and_label",
    "containers_using_and_counts",
    "disk_usage_splits_shared_and_unique",
    "save_load_round_trip",
    "push_pull_round_trip",
    "missing_images_and_bad_references",
];

/// Defines one `#[tokio::test]` per conformance case.
///
/// `$harness` is an async expression giving an `Option` of a value that
/// implements [`Harness`], fresh for every case; `None` skips the case (the
/// expression says why, visibly, for example when a real engine is not
/// configured). `$guard` (optional) is an async expression whose value is
/// held while the case runs, for backends whose cases must not overlap.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!($harness, async {});
    };
    ($harness:expr, $guard:expr) => {
        $crate::conformance_tests!(@cases $harness, $guard;
            list_shows_loaded_images list_filters_by_reference list_filters_by_label
            list_filters_dangling list_filters_before_since list_filters_until
            list_rejects_bad_filters inspect_shows_config_and_layers
            inspect_by_short_id_and_digest history_lists_layers_newest_first tag_and_untag
            remove_refuses_image_in_use remove_refuses_running_even_forced
            remove_by_id_with_several_repositories remove_keeps_shared_layers prune_dangling
            prune_all_keeps_used_images prune_until_and_label containers_using_and_counts
            disk_usage_splits_shared_and_unique save_load_round_trip push_pull_round_trip
            missing_images_and_bad_references
        );
    };
    (@cases $harness:expr, $guard:expr; $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let _guard = $guard.await;
                let Some(harness) = $harness.await else {
                    return;
                };
                if let Err(failure) = $crate::conformance::$case(&harness).await {
                    panic!("conformance case {} failed: {failure}", stringify!($case));
                }
            }
        )*
        #[test]
        fn every_conformance_case_is_run() {
            let run: &[&str] = &[$(stringify!($case)),*];
            for case in $crate::conformance::CASE_NAMES {
                assert!(run.contains(case), "case {case} is not run by this backend");
            }
        }
    };
}

/// Loaded images are listed with their tags, size, labels and creation time.
pub async fn list_shows_loaded_images(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "list";
    cleanup(h, CASE, &[]).await;
    let base = base_image(CASE)?;
    let app = FixtureImage::new(CASE)
        .on_top_of(&base)
        .layer_with_file("app/main", b"#!/bin/true\nfixture app\n")
        .label("org.example.role", "app")
        .created(new_time())
        .tag(&repo(CASE, "app:1.0"))
        .build()?;
    let tagged_base = ArchiveImage {
        repo_tags: vec![repo(CASE, "base:latest")],
        ..base.clone()
    };
    load(h, &[tagged_base, app.clone()]).await?;
    let result = async {
        let images = list_all(h).await?;
        let listed_app = images
            .iter()
            .find(|i| i.id == app.id())
            .ok_or_else(|| CaseFailure {
                message: format!("{} is not listed", app.id()),
            })?;
        ensure!(
            listed_app.repo_tags == vec![repo(CASE, "app:1.0")],
            "app tags: {:?}",
            listed_app.repo_tags
        );
        ensure!(
            listed_app.created == Some(new_time()),
            "app created: {:?}",
            listed_app.created
        );
        ensure!(
            listed_app
                .labels
                .get("org.example.role")
                .map(String::as_str)
                == Some("app"),
            "labels: {:?}",
            listed_app.labels
        );
        ensure!(
            listed_app.containers == 0,
            "containers: {}",
            listed_app.containers
        );
        let listed_base = images
            .iter()
            .find(|i| i.id == base.id())
            .ok_or_else(|| CaseFailure {
                message: "base is not listed".into(),
            })?;
        ensure!(
            listed_app.size > listed_base.size,
            "the app ({}) must be larger than its base ({})",
            listed_app.size,
            listed_base.size
        );
        ensure!(
            listed_base.size >= 9,
            "base size {} is smaller than its file",
            listed_base.size
        );
        // Newest first.
        let app_pos = images.iter().position(|i| i.id == app.id());
        let base_pos = images.iter().position(|i| i.id == base.id());
        ensure!(app_pos < base_pos, "list is not newest first");
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[app.id(), base.id()]).await;
    result
}

/// `reference=` globs match familiar names and tags, and several are OR'd.
pub async fn list_filters_by_reference(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "reffilter";
    cleanup(h, CASE, &[]).await;
    let one = FixtureImage::new("reffilter-one")
        .layer_with_file("one", b"1")
        .tag(&repo(CASE, "web:1"))
        .build()?;
    let two = FixtureImage::new("reffilter-two")
        .layer_with_file("two", b"2")
        .tag(&repo(CASE, "web:2"))
        .build()?;
    let db = FixtureImage::new("reffilter-db")
        .layer_with_file("db", b"3")
        .tag(&repo(CASE, "db:1"))
        .build()?;
    load(h, &[one.clone(), two.clone(), db.clone()]).await?;
    let result = async {
        let web = list_filtered(h, &[&format!("reference={}", repo(CASE, "web"))]).await?;
        ensure!(
            ids_of(&web) == BTreeSet::from([one.id(), two.id()]),
            "reference=web: {:?}",
            tags_of(&web)
        );
        let web1 = list_filtered(h, &[&format!("reference={}:1", repo(CASE, "web"))]).await?;
        ensure!(
            ids_of(&web1) == BTreeSet::from([one.id()]),
            "reference=web:1: {:?}",
            tags_of(&web1)
        );
        let glob = list_filtered(h, &[&format!("reference={}:*", repo(CASE, "*"))]).await?;
        ensure!(
            ids_of(&glob) == BTreeSet::from([one.id(), two.id(), db.id()]),
            "glob: {:?}",
            tags_of(&glob)
        );
        let either = list_filtered(
            h,
            &[
                &format!("reference={}:2", repo(CASE, "web")),
                &format!("reference={}", repo(CASE, "db")),
            ],
        )
        .await?;
        ensure!(
            ids_of(&either) == BTreeSet::from([two.id(), db.id()]),
            "OR of references: {:?}",
            tags_of(&either)
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[one.id(), two.id(), db.id()]).await;
    result
}

/// `label=` filters AND together, `label!=` excludes.
pub async fn list_filters_by_label(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "labelfilter";
    cleanup(h, CASE, &[]).await;
    let a = FixtureImage::new("label-a")
        .layer_with_file("a", b"a")
        .label("imgctl.test", CASE)
        .label("tier", "web")
        .label("env", "prod")
        .tag(&repo(CASE, "a:1"))
        .build()?;
    let b = FixtureImage::new("label-b")
        .layer_with_file("b", b"b")
        .label("imgctl.test", CASE)
        .label("tier", "web")
        .label("env", "dev")
        .tag(&repo(CASE, "b:1"))
        .build()?;
    let c = FixtureImage::new("label-c")
        .layer_with_file("c", b"c")
        .label("imgctl.test", CASE)
        .label("tier", "db")
        .tag(&repo(CASE, "c:1"))
        .build()?;
    load(h, &[a.clone(), b.clone(), c.clone()]).await?;
    let scope = format!("label=imgctl.test={CASE}");
    let result = async {
        let web = list_filtered(h, &[&scope, "label=tier=web"]).await?;
        ensure!(
            ids_of(&web) == BTreeSet::from([a.id(), b.id()]),
            "tier=web: {:?}",
            tags_of(&web)
        );
        let web_prod = list_filtered(h, &[&scope, "label=tier=web", "label=env=prod"]).await?;
        ensure!(
            ids_of(&web_prod) == BTreeSet::from([a.id()]),
            "AND of labels: {:?}",
            tags_of(&web_prod)
        );
        let has_env = list_filtered(h, &[&scope, "label=env"]).await?;
        ensure!(
            ids_of(&has_env) == BTreeSet::from([a.id(), b.id()]),
            "label key only: {:?}",
            tags_of(&has_env)
        );
        let not_web = list_filtered(h, &[&scope, "label!=tier=web"]).await?;
        ensure!(
            ids_of(&not_web) == BTreeSet::from([c.id()]),
            "label!=: {:?}",
            tags_of(&not_web)
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[a.id(), b.id(), c.id()]).await;
    result
}

/// `dangling=true` lists only untagged images, `dangling=false` only tagged.
pub async fn list_filters_dangling(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "dangling";
    cleanup(h, CASE, &[]).await;
    let tagged = FixtureImage::new("dangling-tagged")
        .layer_with_file("t", b"t")
        .label("imgctl.test", CASE)
        .tag(&repo(CASE, "kept:1"))
        .build()?;
    let loose = FixtureImage::new("dangling-loose")
        .layer_with_file("l", b"l")
        .label("imgctl.test", CASE)
        .build()?;
    load(h, &[tagged.clone(), loose.clone()]).await?;
    let scope = format!("label=imgctl.test={CASE}");
    let result = async {
        for value in ["true", "1"] {
            let dangling = list_filtered(h, &[&scope, &format!("dangling={value}")]).await?;
            ensure!(
                ids_of(&dangling) == BTreeSet::from([loose.id()]),
                "dangling={value}: {:?}",
                ids_of(&dangling)
            );
            ensure!(
                dangling.iter().all(ImageSummary::is_dangling),
                "dangling images must have no tags"
            );
        }
        let kept = list_filtered(h, &[&scope, "dangling=false"]).await?;
        ensure!(
            ids_of(&kept) == BTreeSet::from([tagged.id()]),
            "dangling=false: {:?}",
            ids_of(&kept)
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[tagged.id(), loose.id()]).await;
    result
}

/// `before=` and `since=` compare creation times with a named image.
pub async fn list_filters_before_since(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "beforesince";
    cleanup(h, CASE, &[]).await;
    let mut made = Vec::new();
    for (i, year) in [2019, 2021, 2023].iter().enumerate() {
        let created = Utc
            .with_ymd_and_hms(*year, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        made.push(
            FixtureImage::new(&format!("beforesince-{i}"))
                .layer_with_file("n", format!("{i}").as_bytes())
                .label("imgctl.test", CASE)
                .created(created)
                .tag(&repo(CASE, &format!("v:{year}")))
                .build()?,
        );
    }
    load(h, &made).await?;
    let ids: Vec<String> = made.iter().map(ArchiveImage::id).collect();
    let scope = format!("label=imgctl.test={CASE}");
    let result = async {
        let before =
            list_filtered(h, &[&scope, &format!("before={}", repo(CASE, "v:2023"))]).await?;
        ensure!(
            ids_of(&before) == BTreeSet::from([ids[0].clone(), ids[1].clone()]),
            "before: {:?}",
            tags_of(&before)
        );
        let since = list_filtered(h, &[&scope, &format!("since={}", repo(CASE, "v:2019"))]).await?;
        ensure!(
            ids_of(&since) == BTreeSet::from([ids[1].clone(), ids[2].clone()]),
            "since: {:?}",
            tags_of(&since)
        );
        let middle = list_filtered(
            h,
            &[
                &scope,
                &format!("since={}", &ids[0][7..19]),
                &format!("before={}", repo(CASE, "v:2023")),
            ],
        )
        .await?;
        ensure!(
            ids_of(&middle) == BTreeSet::from([ids[1].clone()]),
            "since+before: {:?}",
            tags_of(&middle)
        );
        let missing = h
            .service()
            .list(&ListOptions {
                filters: ImageFilters::parse([format!("before={}", repo(CASE, "nope:1"))])?,
                ..ListOptions::default()
            })
            .await;
        expect_kind(missing, ErrorKind::NotFound, "before= a missing image")?;
        Ok(())
    }
    .await;
    cleanup(h, CASE, &ids).await;
    result
}

/// `until=` keeps images created before a time or duration ago.
pub async fn list_filters_until(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "until";
    cleanup(h, CASE, &[]).await;
    let old = FixtureImage::new("until-old")
        .layer_with_file("o", b"o")
        .label("imgctl.test", CASE)
        .created(old_time())
        .tag(&repo(CASE, "old:1"))
        .build()?;
    let new = FixtureImage::new("until-new")
        .layer_with_file("n", b"n")
        .label("imgctl.test", CASE)
        .created(Utc::now())
        .tag(&repo(CASE, "new:1"))
        .build()?;
    load(h, &[old.clone(), new.clone()]).await?;
    let scope = format!("label=imgctl.test={CASE}");
    let result = async {
        let by_time = list_filtered(h, &[&scope, "until=2022-01-01T00:00:00Z"]).await?;
        ensure!(
            ids_of(&by_time) == BTreeSet::from([old.id()]),
            "until=RFC3339: {:?}",
            tags_of(&by_time)
        );
        let by_duration = list_filtered(h, &[&scope, "until=720h"]).await?;
        ensure!(
            ids_of(&by_duration) == BTreeSet::from([old.id()]),
            "until=720h: {:?}",
            tags_of(&by_duration)
        );
        let by_unix = list_filtered(h, &[&scope, "until=1600000000"]).await?;
        ensure!(
            ids_of(&by_unix) == BTreeSet::from([old.id()]),
            "until=unix: {:?}",
            tags_of(&by_unix)
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[old.id(), new.id()]).await;
    result
}

/// Unknown filter keys and bad values are invalid-filter errors, with
/// docker's wording.
pub async fn list_rejects_bad_filters(h: &dyn Harness) -> CaseResult {
    let error = expect_kind(
        ImageFilters::parse(["bogus=1"]),
        ErrorKind::InvalidFilter,
        "bogus key",
    )?;
    ensure!(
        error.to_string() == "invalid filter 'bogus'",
        "message: {error}"
    );
    expect_kind(
        ImageFilters::parse(["dangling=maybe"]),
        ErrorKind::InvalidFilter,
        "dangling=maybe",
    )?;
    expect_kind(
        ImageFilters::parse(["until=yesterday"]),
        ErrorKind::InvalidFilter,
        "until=yesterday",
    )?;
    expect_kind(
        ImageFilters::parse(["reference=[bad"]),
        ErrorKind::InvalidFilter,
        "reference=[bad",
    )?;
    expect_kind(
        PruneFilters::parse(["before=x"]),
        ErrorKind::InvalidFilter,
        "prune before=",
    )?;
    // The service itself accepts every valid filter.
    h.service()
        .list(&ListOptions {
            filters: ImageFilters::parse(["dangling=true", "label=a", "label!=b=c"])?,
            ..ListOptions::default()
        })
        .await?;
    Ok(())
}

/// Inspect shows the config, platform and layers under docker's names.
pub async fn inspect_shows_config_and_layers(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "inspect";
    cleanup(h, CASE, &[]).await;
    let base = base_image(CASE)?;
    let image = FixtureImage::new(CASE)
        .on_top_of(&base)
        .layer_with_file("srv/index.html", b"<h1>hello</h1>\n")
        .env("GREETING=hello")
        .cmd(["/bin/true", "--serve"])
        .label("maintainer", "imgctl")
        .created(new_time())
        .tag(&repo(CASE, "web:2"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let result = async {
        let details = h.service().inspect(&repo(CASE, "web:2")).await?;
        ensure!(
            details.id == image.id(),
            "id {} != {}",
            details.id,
            image.id()
        );
        ensure!(
            details.repo_tags == vec![repo(CASE, "web:2")],
            "tags {:?}",
            details.repo_tags
        );
        ensure!(
            details.os == "linux" && details.architecture == "amd64",
            "platform {}",
            details.platform()
        );
        ensure!(
            details.config.env.contains(&"GREETING=hello".to_string()),
            "env {:?}",
            details.config.env
        );
        ensure!(
            details.config.cmd == vec!["/bin/true".to_string(), "--serve".to_string()],
            "cmd {:?}",
            details.config.cmd
        );
        ensure!(
            details.config.labels.get("maintainer").map(String::as_str) == Some("imgctl"),
            "labels {:?}",
            details.config.labels
        );
        ensure!(
            details.root_fs.kind == "layers",
            "rootfs type {}",
            details.root_fs.kind
        );
        ensure!(
            details.root_fs.layers == image.diff_ids(),
            "layers {:?}",
            details.root_fs.layers
        );
        ensure!(
            details.created == Some(new_time()),
            "created {:?}",
            details.created
        );
        let json = serde_json::to_value(&details).map_err(|e| CaseFailure {
            message: e.to_string(),
        })?;
        ensure!(
            json["Config"]["Env"].is_array() && json["RootFS"]["Layers"].is_array(),
            "docker field names: {json}"
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[image.id(), base.id()]).await;
    result
}

/// An image can be named by full ID, short ID and `sha256:` prefix.
pub async fn inspect_by_short_id_and_digest(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "byid";
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("x", b"by id")
        .tag(&repo(CASE, "x:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let id = image.id();
    let hex = id.trim_start_matches("sha256:").to_string();
    let result = async {
        for name in [
            id.clone(),
            hex.clone(),
            hex[..12].to_string(),
            format!("sha256:{}", &hex[..12]),
        ] {
            let details = h.service().inspect(&name).await?;
            ensure!(details.id == id, "inspect {name} gave {}", details.id);
        }
        Ok(())
    }
    .await;
    cleanup(h, CASE, std::slice::from_ref(&id)).await;
    result
}

/// History has one entry per step, newest first, with the top image's ID.
pub async fn history_lists_layers_newest_first(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "history";
    cleanup(h, CASE, &[]).await;
    let base = base_image(CASE)?;
    let image = FixtureImage::new(CASE)
        .on_top_of(&base)
        .layer_with_file("two", b"second layer")
        .layer_with_file("three", b"third layer!")
        .created(new_time())
        .tag(&repo(CASE, "h:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let result = async {
        let history = h.service().history(&repo(CASE, "h:1")).await?;
        let layered: Vec<_> = history.iter().filter(|e| e.size > 0).collect();
        ensure!(
            layered.len() == 3,
            "three layers with content, got {history:?}"
        );
        ensure!(
            history.first().map(|e| e.id.as_str()) == Some(image.id().as_str()),
            "top entry id: {:?}",
            history.first()
        );
        ensure!(
            history.first().map(|e| e.tags.clone()) == Some(vec![repo(CASE, "h:1")]),
            "top entry tags"
        );
        ensure!(
            history.iter().skip(1).all(|e| e.id == "<missing>"),
            "loaded images have no parent chain: {history:?}"
        );
        ensure!(
            history.first().map(|e| e.size) == Some(12),
            "top layer size: {:?}",
            history.first().map(|e| e.size)
        );
        ensure!(
            history.windows(2).all(|w| w[0].created >= w[1].created),
            "newest first"
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[image.id(), base.id()]).await;
    result
}

/// Tagging adds a reference; removing a tag of a multi-tag image only untags.
pub async fn tag_and_untag(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "tag";
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("t", b"tag me")
        .tag(&repo(CASE, "a:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let result = async {
        service.tag(&repo(CASE, "a:1"), &repo(CASE, "b:2")).await?;
        service.tag(&image.id(), &repo(CASE, "c")).await?;
        let details = service.inspect(&repo(CASE, "c:latest")).await?;
        let tags: BTreeSet<_> = details.repo_tags.iter().cloned().collect();
        ensure!(
            tags == BTreeSet::from([repo(CASE, "a:1"), repo(CASE, "b:2"), repo(CASE, "c:latest")]),
            "tags {tags:?}"
        );
        let actions = service
            .remove(&repo(CASE, "b:2"), &RemoveOptions::default())
            .await?;
        ensure!(
            actions == vec![RemoveAction::Untagged(repo(CASE, "b:2"))],
            "untag only: {actions:?}"
        );
        ensure!(
            service.exists(&image.id()).await?,
            "image must survive an untag"
        );
        expect_kind(
            service.tag(&repo(CASE, "a:1"), "Bad:Tag").await,
            ErrorKind::InvalidReference,
            "uppercase target",
        )?;
        expect_kind(
            service.tag(&repo(CASE, "nope:1"), &repo(CASE, "x:1")).await,
            ErrorKind::NotFound,
            "missing source",
        )?;
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[image.id()]).await;
    result
}

/// An image used by a stopped container is refused unless forced, and the
/// error names the container.
pub async fn remove_refuses_image_in_use(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "inuse";
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("u", b"used")
        .tag(&repo(CASE, "used:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let container = h
        .create_container(&repo(CASE, "used:1"), "imgctl-conformance-inuse")
        .await?;
    let result =
        async {
            let error = expect_kind(
                service
                    .remove(&repo(CASE, "used:1"), &RemoveOptions::default())
                    .await,
                ErrorKind::Conflict,
                "remove the only tag of an image in use",
            )?;
            ensure!(
                error.to_string().contains(&container[..12]),
                "the error names the container: {error}"
            );
            let error = expect_kind(
                service.remove(&image.id(), &RemoveOptions::default()).await,
                ErrorKind::Conflict,
                "remove by ID an image in use",
            )?;
            match &error {
                ImageError::Conflict {
                    reason: ConflictReason::InUse { containers },
                    ..
                } => {
                    ensure!(
                        containers.iter().any(|c| container.starts_with(c.as_str())
                            || c.starts_with(&container[..12])),
                        "conflict names {containers:?}, not {container}"
                    );
                }
                other => return fail(format!("expected an in-use conflict, got {other:?}")),
            }
            ensure!(
                service.exists(&image.id()).await?,
                "a refused remove must leave the image"
            );
            let actions = service
                .remove(
                    &repo(CASE, "used:1"),
                    &RemoveOptions {
                        force: true,
                        no_prune: false,
                    },
                )
                .await?;
            ensure!(
                actions.contains(&RemoveAction::Untagged(repo(CASE, "used:1"))),
                "forced remove untags: {actions:?}"
            );
            Ok(())
        }
        .await;
    let _ = h.remove_container(&container).await;
    cleanup(h, CASE, &[image.id()]).await;
    result
}

/// An image used by a running container cannot be deleted even by force.
pub async fn remove_refuses_running_even_forced(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "running";
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("r", b"running")
        .tag(&repo(CASE, "run:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let container = h
        .run_container(&repo(CASE, "run:1"), "imgctl-conformance-running")
        .await?;
    let result = async {
        let error = expect_kind(
            service
                .remove(
                    &image.id(),
                    &RemoveOptions {
                        force: true,
                        no_prune: false,
                    },
                )
                .await,
            ErrorKind::Conflict,
            "force-remove by ID an image a running container uses",
        )?;
        ensure!(
            error.to_string().contains("cannot be forced"),
            "docker's wording: {error}"
        );
        ensure!(service.exists(&image.id()).await?, "the image must survive");
        Ok(())
    }
    .await;
    let _ = h.remove_container(&container).await;
    cleanup(h, CASE, &[image.id()]).await;
    result
}

/// Deleting by ID an image tagged in several repositories needs force; then
/// every tag goes and the image is deleted.
pub async fn remove_by_id_with_several_repositories(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "multirepo";
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("m", b"multi")
        .tag(&repo(CASE, "one:1"))
        .tag(&repo(CASE, "two:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let result = async {
        let error = expect_kind(
            service.remove(&image.id(), &RemoveOptions::default()).await,
            ErrorKind::Conflict,
            "remove by ID with two repositories",
        )?;
        ensure!(
            matches!(
                &error,
                ImageError::Conflict {
                    reason: ConflictReason::MultipleReferences,
                    ..
                }
            ),
            "reason: {error:?}"
        );
        ensure!(
            error.to_string().contains("must be forced"),
            "docker's wording: {error}"
        );
        ensure!(
            service.exists(&image.id()).await?,
            "a refused remove must leave the image"
        );
        let actions = service
            .remove(
                &image.id(),
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await?;
        let untagged: BTreeSet<_> = actions
            .iter()
            .filter_map(|a| match a {
                RemoveAction::Untagged(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        ensure!(
            untagged == BTreeSet::from([repo(CASE, "one:1"), repo(CASE, "two:1")]),
            "untagged {untagged:?}"
        );
        ensure!(
            actions.contains(&RemoveAction::Deleted(image.id())),
            "deleted: {actions:?}"
        );
        ensure!(
            !service.exists(&image.id()).await?,
            "the image must be gone"
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[image.id()]).await;
    result
}

/// Removing one of two images that share a base keeps the other intact.
pub async fn remove_keeps_shared_layers(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "shared";
    cleanup(h, CASE, &[]).await;
    let base = base_image(CASE)?;
    let left = FixtureImage::new("shared-left")
        .on_top_of(&base)
        .layer_with_file("left", b"left")
        .tag(&repo(CASE, "left:1"))
        .build()?;
    let right = FixtureImage::new("shared-right")
        .on_top_of(&base)
        .layer_with_file("right", b"right")
        .tag(&repo(CASE, "right:1"))
        .build()?;
    load(h, &[left.clone(), right.clone()]).await?;
    let service = h.service();
    let result = async {
        service
            .remove(&repo(CASE, "left:1"), &RemoveOptions::default())
            .await?;
        ensure!(!service.exists(&left.id()).await?, "left must be gone");
        let details = service.inspect(&repo(CASE, "right:1")).await?;
        ensure!(
            details.root_fs.layers == right.diff_ids(),
            "right keeps its layers"
        );
        let saved = service.save_to_vec(&[repo(CASE, "right:1")]).await?;
        let images = crate::archive::read_archive(&saved)?;
        ensure!(
            images.len() == 1 && images[0].layers == right.layers,
            "right's shared layer content survives"
        );
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[left.id(), right.id()]).await;
    result
}

/// Runs `options` as a dry run first and checks that it changed nothing,
/// then for real; checks that the dry run planned exactly what the prune
/// did (the same actions, in any order, and the same space).
async fn prune_with_dry_run(
    h: &dyn Harness,
    options: PruneOptions,
) -> Result<crate::model::PruneReport, CaseFailure> {
    let service = h.service();
    let before = ids_of(&list_all(h).await?);
    let plan = service
        .prune(&PruneOptions {
            dry_run: true,
            ..options.clone()
        })
        .await?;
    let unchanged = ids_of(&list_all(h).await?);
    ensure!(
        before == unchanged,
        "a dry-run prune changed the images: {before:?} -> {unchanged:?}"
    );
    let report = service
        .prune(&PruneOptions {
            dry_run: false,
            ..options
        })
        .await?;
    let sorted = |actions: &[RemoveAction]| {
        let mut texts: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
        texts.sort();
        texts
    };
    ensure!(
        sorted(&plan.actions) == sorted(&report.actions)
            && plan.space_reclaimed == report.space_reclaimed,
        "the dry run planned {plan:?} but the prune did {report:?}"
    );
    Ok(report)
}

/// Checks that a prune report and the engine agree: everything reported
/// deleted is gone, and nothing else that existed before is gone.
async fn check_prune_report(
    h: &dyn Harness,
    before: &[ImageSummary],
    report: &crate::model::PruneReport,
) -> CaseResult {
    let after = ids_of(&list_all(h).await?);
    let deleted: BTreeSet<String> = report
        .actions
        .iter()
        .filter_map(|a| match a {
            RemoveAction::Deleted(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    for image in before {
        let gone = !after.contains(&image.id);
        ensure!(
            gone == deleted.contains(&image.id),
            "image {} gone={gone} but reported deleted={}",
            image.id,
            deleted.contains(&image.id)
        );
    }
    Ok(())
}

/// Prune without `all` deletes dangling images only, and reports exactly
/// what it deleted and the bytes freed.
pub async fn prune_dangling(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "prunedangling";
    cleanup(h, CASE, &[]).await;
    let tagged = FixtureImage::new("pd-tagged")
        .layer_with_file("t", b"tagged")
        .label("imgctl.test", CASE)
        .tag(&repo(CASE, "keep:1"))
        .build()?;
    let loose = FixtureImage::new("pd-loose")
        .layer_with_file("l", b"dangling content")
        .label("imgctl.test", CASE)
        .build()?;
    load(h, &[tagged.clone(), loose.clone()]).await?;
    let service = h.service();
    let result = async {
        let before = list_all(h).await?;
        let report = prune_with_dry_run(
            h,
            PruneOptions {
                all: false,
                filters: PruneFilters::parse([format!("label=imgctl.test={CASE}")])?,
                ..PruneOptions::default()
            },
        )
        .await?;
        ensure!(
            report.actions.contains(&RemoveAction::Deleted(loose.id())),
            "dangling image deleted: {report:?}"
        );
        ensure!(
            !report.actions.contains(&RemoveAction::Deleted(tagged.id())),
            "tagged image kept: {report:?}"
        );
        ensure!(
            report.space_reclaimed >= 16,
            "space reclaimed {} must count the dangling layer",
            report.space_reclaimed
        );
        ensure!(
            service.exists(&tagged.id()).await?,
            "tagged image must survive"
        );
        check_prune_report(h, &before, &report).await?;
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[tagged.id(), loose.id()]).await;
    result
}

/// Prune with `all` deletes unused tagged images but keeps images any
/// container uses.
pub async fn prune_all_keeps_used_images(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "pruneall";
    cleanup(h, CASE, &[]).await;
    let used = FixtureImage::new("pa-used")
        .layer_with_file("u", b"used")
        .label("imgctl.test", CASE)
        .tag(&repo(CASE, "used:1"))
        .build()?;
    let unused = FixtureImage::new("pa-unused")
        .layer_with_file("n", b"unused")
        .label("imgctl.test", CASE)
        .tag(&repo(CASE, "unused:1"))
        .build()?;
    load(h, &[used.clone(), unused.clone()]).await?;
    let service = h.service();
    let container = h
        .create_container(&repo(CASE, "used:1"), "imgctl-conformance-pruneall")
        .await?;
    let result = async {
        let before = list_all(h).await?;
        let report = prune_with_dry_run(
            h,
            PruneOptions {
                all: true,
                filters: PruneFilters::parse([format!("label=imgctl.test={CASE}")])?,
                ..PruneOptions::default()
            },
        )
        .await?;
        ensure!(
            report
                .actions
                .contains(&RemoveAction::Untagged(repo(CASE, "unused:1"))),
            "unused untagged: {report:?}"
        );
        ensure!(
            report.actions.contains(&RemoveAction::Deleted(unused.id())),
            "unused deleted: {report:?}"
        );
        ensure!(
            service.exists(&used.id()).await?,
            "an image a container uses must survive prune -a"
        );
        check_prune_report(h, &before, &report).await?;
        Ok(())
    }
    .await;
    let _ = h.remove_container(&container).await;
    cleanup(h, CASE, &[used.id(), unused.id()]).await;
    result
}

/// Prune honours `until`, `label` and `label!`.
pub async fn prune_until_and_label(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "prunefilters";
    cleanup(h, CASE, &[]).await;
    let old = FixtureImage::new("pf-old")
        .layer_with_file("o", b"old")
        .label("imgctl.test", CASE)
        .label("keep", "no")
        .created(old_time())
        .build()?;
    let new = FixtureImage::new("pf-new")
        .layer_with_file("n", b"new")
        .label("imgctl.test", CASE)
        .label("keep", "no")
        .created(Utc::now())
        .build()?;
    let protected = FixtureImage::new("pf-protected")
        .layer_with_file("p", b"protected")
        .label("imgctl.test", CASE)
        .label("keep", "yes")
        .created(old_time())
        .build()?;
    load(h, &[old.clone(), new.clone(), protected.clone()]).await?;
    let result = async {
        let before = list_all(h).await?;
        let filters = PruneFilters::parse([
            format!("label=imgctl.test={CASE}"),
            "until=2022-01-01T00:00:00Z".to_string(),
            "label!=keep=yes".to_string(),
        ])?;
        let report = prune_with_dry_run(
            h,
            PruneOptions {
                all: false,
                filters,
                ..PruneOptions::default()
            },
        )
        .await?;
        let deleted: BTreeSet<_> = report
            .actions
            .iter()
            .filter_map(|a| match a {
                RemoveAction::Deleted(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        ensure!(
            deleted.contains(&old.id()),
            "old unprotected image pruned: {deleted:?}"
        );
        ensure!(
            !deleted.contains(&new.id()),
            "new image kept by until: {deleted:?}"
        );
        ensure!(
            !deleted.contains(&protected.id()),
            "protected image kept by label!=: {deleted:?}"
        );
        check_prune_report(h, &before, &report).await?;
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[old.id(), new.id(), protected.id()]).await;
    result
}

/// `containers_using` lists the containers of an image, and list counts them.
pub async fn containers_using_and_counts(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "usage";
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("c", b"containers")
        .tag(&repo(CASE, "c:1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let first = h
        .create_container(&repo(CASE, "c:1"), "imgctl-conformance-usage-1")
        .await?;
    let second = h
        .create_container(&image.id(), "imgctl-conformance-usage-2")
        .await?;
    let result = async {
        let using = service.containers_using(&repo(CASE, "c:1")).await?;
        let ids: BTreeSet<_> = using.iter().map(|c| c.id.clone()).collect();
        ensure!(
            ids == BTreeSet::from([first.clone(), second.clone()]),
            "containers {ids:?}"
        );
        let names: BTreeSet<_> = using.iter().map(|c| c.name.clone()).collect();
        ensure!(
            names.contains("imgctl-conformance-usage-1"),
            "names {names:?}"
        );
        ensure!(using.iter().all(|c| c.image_id == image.id()), "image ids");
        let listed = list_filtered(h, &[&format!("reference={}", repo(CASE, "c"))]).await?;
        ensure!(
            listed.first().map(|i| i.containers) == Some(2),
            "list counts containers: {listed:?}"
        );
        Ok(())
    }
    .await;
    let _ = h.remove_container(&first).await;
    let _ = h.remove_container(&second).await;
    cleanup(h, CASE, &[image.id()]).await;
    result
}

/// Disk usage splits each image into shared and unique bytes.
pub async fn disk_usage_splits_shared_and_unique(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "df";
    cleanup(h, CASE, &[]).await;
    let base = FixtureImage::new(CASE)
        .layer_with_file("base.bin", &[7u8; 4096])
        .created(old_time())
        .build()?;
    let left = FixtureImage::new("df-left")
        .on_top_of(&base)
        .layer_with_file("left.bin", &[1u8; 1000])
        .tag(&repo(CASE, "left:1"))
        .build()?;
    let right = FixtureImage::new("df-right")
        .on_top_of(&base)
        .layer_with_file("right.bin", &[2u8; 2000])
        .tag(&repo(CASE, "right:1"))
        .build()?;
    load(h, &[left.clone(), right.clone()]).await?;
    let service = h.service();
    let container = h
        .create_container(&repo(CASE, "left:1"), "imgctl-conformance-df")
        .await?;
    let result = async {
        let usage = service.disk_usage().await?;
        let find = |id: &str| usage.images.iter().find(|i| i.id == id).cloned();
        let l = find(&left.id()).ok_or_else(|| CaseFailure {
            message: "left missing from df".into(),
        })?;
        let r = find(&right.id()).ok_or_else(|| CaseFailure {
            message: "right missing from df".into(),
        })?;
        ensure!(
            l.shared_size == r.shared_size && l.shared_size >= 4096,
            "shared sizes {} and {}",
            l.shared_size,
            r.shared_size
        );
        ensure!(
            l.unique_size >= 1000 && l.unique_size < 4096,
            "left unique {}",
            l.unique_size
        );
        ensure!(
            r.unique_size >= 2000 && r.unique_size < 4096,
            "right unique {}",
            r.unique_size
        );
        ensure!(
            l.size == l.shared_size + l.unique_size,
            "size = shared + unique"
        );
        ensure!(
            l.containers == 1 && r.containers == 0,
            "containers {} {}",
            l.containers,
            r.containers
        );
        ensure!(
            usage.reclaimable <= usage.layers_size,
            "reclaimable {} > total {}",
            usage.reclaimable,
            usage.layers_size
        );
        ensure!(usage.active() >= 1, "active images");
        Ok(())
    }
    .await;
    let _ = h.remove_container(&container).await;
    cleanup(h, CASE, &[left.id(), right.id()]).await;
    result
}

/// Save writes a docker-save archive that load reads back to the same image.
pub async fn save_load_round_trip(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "saveload";
    cleanup(h, CASE, &[]).await;
    let base = base_image(CASE)?;
    let image = FixtureImage::new(CASE)
        .on_top_of(&base)
        .layer_with_file("data", b"round trip")
        .tag(&repo(CASE, "s:1"))
        .tag(&repo(CASE, "s:2"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let result = async {
        let saved = service.save_to_vec(&[repo(CASE, "s:1")]).await?;
        let images = crate::archive::read_archive(&saved)?;
        ensure!(images.len() == 1, "one image saved, got {}", images.len());
        ensure!(images[0].id() == image.id(), "same config");
        ensure!(
            images[0].repo_tags == vec![repo(CASE, "s:1")],
            "only the named tag is saved: {:?}",
            images[0].repo_tags
        );
        ensure!(images[0].diff_ids() == image.diff_ids(), "same layers");
        let whole_repo =
            crate::archive::read_archive(&service.save_to_vec(&[repo(CASE, "s")]).await?)?;
        let tags: BTreeSet<_> = whole_repo
            .iter()
            .flat_map(|i| i.repo_tags.clone())
            .collect();
        ensure!(
            tags == BTreeSet::from([repo(CASE, "s:1"), repo(CASE, "s:2")]),
            "a name without tag saves every tag: {tags:?}"
        );
        service
            .remove(
                &image.id(),
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await?;
        ensure!(
            !service.exists(&image.id()).await?,
            "removed before loading back"
        );
        let report = service.load_bytes(saved).await?;
        ensure!(
            report.loaded_tags == vec![repo(CASE, "s:1")],
            "loaded {report:?}"
        );
        let details = service.inspect(&repo(CASE, "s:1")).await?;
        ensure!(details.id == image.id(), "loaded back the same image");
        let garbage = service
            .load_bytes(b"this is not a tar archive".to_vec())
            .await;
        ensure!(garbage.is_err(), "loading garbage must fail");
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[image.id(), base.id()]).await;
    result
}

/// Push to the backend's registry, remove locally, pull back the same image,
/// with per-layer progress and a final completion.
pub async fn push_pull_round_trip(h: &dyn Harness) -> CaseResult {
    const CASE: &str = "pushpull";
    let name = format!("{}/{}", h.registry(), repo(CASE, "app"));
    cleanup(h, CASE, &[]).await;
    let image = FixtureImage::new(CASE)
        .layer_with_file("payload", &[42u8; 20_000])
        .layer_with_file("more", b"second layer")
        .tag(&format!("{name}:v1"))
        .build()?;
    load(h, std::slice::from_ref(&image)).await?;
    let service = h.service();
    let result = async {
        let mut push = service
            .push(&PushOptions {
                reference: format!("{name}:v1"),
                ..PushOptions::default()
            })
            .await?;
        let mut layer_ids = BTreeSet::new();
        let mut done = None;
        while let Some(event) = push.next().await {
            match event? {
                ProgressEvent::Layer(layer) => {
                    layer_ids.insert(layer.id);
                }
                ProgressEvent::Done(completion) => done = Some(completion),
                ProgressEvent::Message { .. } => {}
            }
        }
        let pushed = done.ok_or_else(|| CaseFailure {
            message: "push ended without Done".into(),
        })?;
        ensure!(
            layer_ids.len() >= 2,
            "push reports progress per layer: {layer_ids:?}"
        );
        let digest = pushed.digest.clone().ok_or_else(|| CaseFailure {
            message: "push reports no digest".into(),
        })?;
        ensure!(digest.starts_with("sha256:"), "digest {digest}");

        service
            .remove(
                &format!("{name}:v1"),
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await?;
        ensure!(
            !service.exists(&image.id()).await?,
            "removed before pulling back"
        );

        let mut pull = service
            .pull(&PullOptions {
                reference: format!("{name}:v1"),
                ..PullOptions::default()
            })
            .await?;
        let mut statuses = BTreeMap::<String, Vec<String>>::new();
        let mut pulled = None;
        while let Some(event) = pull.next().await {
            match event? {
                ProgressEvent::Layer(layer) => {
                    statuses.entry(layer.id).or_default().push(layer.status)
                }
                ProgressEvent::Done(completion) => pulled = Some(completion),
                ProgressEvent::Message { .. } => {}
            }
        }
        let pulled = pulled.ok_or_else(|| CaseFailure {
            message: "pull ended without Done".into(),
        })?;
        ensure!(
            pulled.digest.as_deref() == Some(digest.as_str()),
            "pulled digest {:?} != pushed {digest}",
            pulled.digest
        );
        ensure!(
            statuses
                .values()
                .filter(|s| s.iter().any(|x| x == "Pull complete"))
                .count()
                == 2,
            "per-layer pull statuses: {statuses:?}"
        );
        let details = service.inspect(&format!("{name}:v1")).await?;
        ensure!(details.id == image.id(), "pulled the same image");
        ensure!(
            details.repo_digests.iter().any(|d| d.ends_with(&digest)),
            "repo digest recorded: {:?}",
            details.repo_digests
        );

        let missing = service
            .pull(&PullOptions {
                reference: format!("{name}:no-such-tag"),
                ..PullOptions::default()
            })
            .await;
        let missing = match missing {
            Ok(stream) => crate::service::finish(stream).await.map(|_| ()),
            Err(error) => Err(error),
        };
        ensure!(missing.is_err(), "pulling a missing tag must fail");
        Ok(())
    }
    .await;
    cleanup(h, CASE, &[image.id()]).await;
    result
}

/// Missing images are not-found errors and bad references are
/// invalid-reference errors, on every operation.
pub async fn missing_images_and_bad_references(h: &dyn Harness) -> CaseResult {
    let service = h.service();
    let missing = "imgctl-conformance/no-such-image:never";
    let error = expect_kind(
        service.inspect(missing).await,
        ErrorKind::NotFound,
        "inspect missing",
    )?;
    ensure!(
        error
            .to_string()
            .contains("imgctl-conformance/no-such-image:never"),
        "message names the image: {error}"
    );
    expect_kind(
        service.history(missing).await,
        ErrorKind::NotFound,
        "history missing",
    )?;
    expect_kind(
        service.remove(missing, &RemoveOptions::default()).await,
        ErrorKind::NotFound,
        "remove missing",
    )?;
    expect_kind(
        service.tag(missing, "imgctl-conformance/x:1").await,
        ErrorKind::NotFound,
        "tag missing",
    )?;
    expect_kind(
        service.containers_using(missing).await,
        ErrorKind::NotFound,
        "containers_using missing",
    )?;
    let error = expect_kind(
        service.inspect("Not/Valid:Ref").await,
        ErrorKind::InvalidReference,
        "inspect bad reference",
    )?;
    ensure!(!error.to_string().is_empty(), "message");
    expect_kind(
        service.inspect("a::b").await,
        ErrorKind::InvalidReference,
        "inspect a::b",
    )?;
    expect_kind(
        service.remove("UPPER", &RemoveOptions::default()).await,
        ErrorKind::InvalidReference,
        "remove UPPER",
    )?;
    let pull = service
        .pull(&PullOptions {
            reference: "bad//ref".into(),
            ..PullOptions::default()
        })
        .await;
    expect_kind(
        pull.map(|_| ()),
        ErrorKind::InvalidReference,
        "pull bad//ref",
    )?;
    Ok(())
}
