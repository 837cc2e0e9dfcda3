//! `image prune` and `system df` on the in-memory engine's demo host, with
//! golden outputs in docker 28's words, and on mocks for the error paths.

#![allow(clippy::unwrap_used)]

mod harness;

use harness::run_with;
use image_cli::commands::ExitStatus;
use image_core::mock::MockImageService;
use image_core::{
    DiskUsage, ImageError, ImageService, ImageUsage, ListOptions, MemoryImageService, PruneReport,
    RemoveAction,
};

/// Every image ID (intermediate ones included) and every tag: what a prune
/// could change.
async fn contents(service: &dyn ImageService) -> Vec<(String, Vec<String>)> {
    let options = ListOptions {
        all: true,
        ..ListOptions::default()
    };
    let mut images: Vec<(String, Vec<String>)> = service
        .list(&options)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.id, i.repo_tags))
        .collect();
    images.sort();
    images
}

const DANGLING_PROMPT: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ";
const ALL_PROMPT: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ";

const PRUNED_DANGLING: &str = "\
Deleted Images:
deleted: sha256:2b160a0076eff164fe0b50143628787b9424b3b9c14b650482d317038fe9aa85
deleted: sha256:b0ba23dc1afe7ec7818bd6ae972c8acd61e4eb5077ad14593c2f1ef3fc1437f0

Total reclaimed space: 880kB
";

#[tokio::test]
async fn prune_force_deletes_dangling_images_in_dockers_words() {
    let service = MemoryImageService::demo().unwrap();
    let output = run_with(&service, &["image", "prune", "-f"], "").await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(output.out, PRUNED_DANGLING);
    assert_eq!(output.err, "");
    let left = contents(&service).await;
    assert!(!left.iter().any(|(id, _)| id.contains("2b160a0076ef")));
    assert_eq!(left.len(), 7, "only the dangling image went: {left:?}");

    // Nothing left to prune: docker prints the total alone.
    let again = run_with(&service, &["image", "prune", "--force"], "").await;
    assert_eq!(again.status, ExitStatus::Success);
    assert_eq!(again.out, "Total reclaimed space: 0B\n");
}

#[tokio::test]
async fn prune_declined_prints_the_prompt_only_exits_0_and_deletes_nothing() {
    let service = MemoryImageService::demo().unwrap();
    let before = contents(&service).await;
    // docker's prompt.Confirm takes only y or Y; "yes" is a no, as is end of input.
    for answer in ["n\n", "N\n", "\n", "", "yes\n", "no\n"] {
        let output = run_with(&service, &["image", "prune"], answer).await;
        assert_eq!(output.status, ExitStatus::Success, "{answer:?}");
        assert_eq!(output.out, DANGLING_PROMPT, "{answer:?}");
        assert_eq!(output.err, "", "{answer:?}");
    }
    let output = run_with(&service, &["image", "prune", "-a"], "n\n").await;
    assert_eq!(output.out, ALL_PROMPT);
    assert_eq!(contents(&service).await, before);
}

#[tokio::test]
async fn prune_confirmed_with_y_deletes() {
    for answer in ["y\n", "Y\n", "  y \r\n", "y"] {
        let service = MemoryImageService::demo().unwrap();
        let output = run_with(&service, &["image", "prune"], answer).await;
        assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
        assert_eq!(
            output.out,
            format!("{DANGLING_PROMPT}{PRUNED_DANGLING}"),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn prune_all_keeps_images_containers_use() {
    let service = MemoryImageService::demo().unwrap();
    let output = run_with(&service, &["image", "prune", "-a", "-f"], "").await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let expected = "\
Deleted Images:
untagged: alpine:3.20
untagged: alpine:latest
deleted: sha256:24f49bb371fd398dbca3731e1b6afe6e9814cfc092436ee97287e8d4698d3b4b
untagged: debian:bookworm
deleted: sha256:c39aa8de14e171173df041550e4d797283d3a4682d9c8f2ce6b9a2782d88b1de
deleted: sha256:2b160a0076eff164fe0b50143628787b9424b3b9c14b650482d317038fe9aa85
deleted: sha256:b0ba23dc1afe7ec7818bd6ae972c8acd61e4eb5077ad14593c2f1ef3fc1437f0
untagged: registry.example.com/payments/myapp:1.1
untagged: registry.example.com/payments/myapp:latest
deleted: sha256:b70aab5777dca7a5e93d27b2d3e433945692c9149842ccc4216e70a702f64802
deleted: sha256:44709ca8fddd7aff8d7ebf61388475707f3d9d57185e34371a2f7de928ad2d08
deleted: sha256:22396f1c6f6facfbbcd8b9f844694a987f3332cad808974ffa8c46f15ac841c3
deleted: sha256:57e96c12219a77daedc1da9cd4f3b0d6877c414fb931c896084a8665a38e9c8d

Total reclaimed space: 2.53MB
";
    assert_eq!(output.out, expected);
    let mut tags: Vec<String> = contents(&service)
        .await
        .into_iter()
        .flat_map(|(_, tags)| tags)
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![
            "nginx:1.27-alpine",
            "postgres:16",
            "registry.example.com/payments/myapp:1.0",
        ],
        "the images of the running and the stopped containers stay"
    );
}

#[tokio::test]
async fn dry_run_prints_what_the_real_prune_then_prints_and_deletes_nothing() {
    for extra in [
        &[][..],
        &["-a"][..],
        &["--filter", "label=team=payments"][..],
    ] {
        let service = MemoryImageService::demo().unwrap();
        let before = contents(&service).await;
        let mut dry_args = vec!["image", "prune", "--dry-run"];
        dry_args.extend_from_slice(extra);
        // No stdin: a dry run asks nothing.
        let dry = run_with(&service, &dry_args, "").await;
        assert_eq!(dry.status, ExitStatus::Success, "{}", dry.err);
        assert!(dry.out.starts_with("Would delete images:\n"), "{}", dry.out);
        assert_eq!(contents(&service).await, before, "{extra:?}");

        let mut real_args = vec!["image", "prune", "-f"];
        real_args.extend_from_slice(extra);
        let real = run_with(&service, &real_args, "").await;
        assert_eq!(real.status, ExitStatus::Success, "{}", real.err);
        assert_eq!(
            dry.out
                .replace("Would delete images:", "Deleted Images:")
                .replace("Total reclaimable space:", "Total reclaimed space:"),
            real.out,
            "{extra:?}"
        );
        assert_ne!(contents(&service).await, before);

        let nothing = run_with(&service, &dry_args, "").await;
        assert_eq!(nothing.out, "Total reclaimable space: 0B\n");
    }
}

#[tokio::test]
async fn prune_filters_select_and_bad_filters_use_dockers_messages() {
    let service = MemoryImageService::demo().unwrap();
    let before = contents(&service).await;

    let none = run_with(
        &service,
        &[
            "image",
            "prune",
            "-a",
            "-f",
            "--filter",
            "label=team=nobody",
        ],
        "",
    )
    .await;
    assert_eq!(none.out, "Total reclaimed space: 0B\n");

    let old = run_with(
        &service,
        &["image", "prune", "-a", "-f", "--filter", "until=2024-06-01"],
        "",
    )
    .await;
    assert!(
        old.out.starts_with(
            "Deleted Images:\nuntagged: alpine:3.20\nuntagged: alpine:latest\ndeleted: sha256:24f49bb371fd"
        ),
        "{}",
        old.out
    );
    assert!(!old.out.contains("debian"), "{}", old.out);

    let service = MemoryImageService::demo().unwrap();
    let bogus = run_with(
        &service,
        &["image", "prune", "-f", "--filter", "bogus=1"],
        "",
    )
    .await;
    assert_eq!(bogus.status, ExitStatus::Failure);
    assert_eq!(bogus.out, "");
    assert_eq!(
        bogus.err,
        "Error response from daemon: invalid filter 'bogus'\n"
    );

    let until = run_with(
        &service,
        &["image", "prune", "-f", "--filter", "until="],
        "",
    )
    .await;
    assert_eq!(until.status, ExitStatus::Failure);
    assert_eq!(
        until.err,
        "Error response from daemon: invalid value for 'until' filter: failed to parse value as time or duration: value is empty\n"
    );

    // A filter without `=` is a flag error in docker, before any prompt.
    let format = run_with(&service, &["image", "prune", "--filter", "foo"], "y\n").await;
    assert_eq!(format.status, ExitStatus::Failure);
    assert_eq!(format.out, "");
    assert_eq!(
        format.err,
        "invalid argument \"foo\" for \"--filter\" flag: bad format of filter (expected name=value)\n\nUsage:  imgctl image prune [OPTIONS]\n\nRun 'imgctl image prune --help' for more information\n"
    );

    // Other filters are checked by docker's daemon, after the confirmation.
    let declined = run_with(&service, &["image", "prune", "--filter", "bogus=1"], "n\n").await;
    assert_eq!(declined.status, ExitStatus::Success);
    assert_eq!(declined.out, DANGLING_PROMPT);
    assert_eq!(declined.err, "");
    let confirmed = run_with(&service, &["image", "prune", "--filter", "bogus=1"], "y\n").await;
    assert_eq!(confirmed.status, ExitStatus::Failure);
    assert_eq!(confirmed.out, DANGLING_PROMPT);
    assert_eq!(
        confirmed.err,
        "Error response from daemon: invalid filter 'bogus'\n"
    );
    // A dry run reports it at once.
    let dry = run_with(
        &service,
        &["image", "prune", "--dry-run", "--filter", "bogus=1"],
        "",
    )
    .await;
    assert_eq!(dry.status, ExitStatus::Failure);
    assert_eq!(dry.out, "");
    assert_eq!(
        dry.err,
        "Error response from daemon: invalid filter 'bogus'\n"
    );

    assert_eq!(contents(&service).await.len(), before.len());
}

#[tokio::test]
async fn prune_reports_engine_errors_and_passes_options() {
    let mut unavailable = MockImageService::new();
    unavailable.expect_prune().returning(|_| {
        Err(ImageError::EngineUnavailable {
            endpoint: "unix:///var/run/docker.sock".into(),
            hint: "is the docker daemon running?".into(),
        })
    });
    let output = run_with(&unavailable, &["image", "prune", "-f"], "").await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    );
    assert_eq!(output.out, "");

    // After a confirmation, the prompt stays on stdout and the error goes to stderr.
    let output = run_with(&unavailable, &["image", "prune"], "y\n").await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(output.out, DANGLING_PROMPT);

    let mut docker = MockImageService::new();
    docker
        .expect_prune()
        .withf(|options| options.dry_run && options.all && options.filters.until.is_some())
        .returning(|_| Err(ImageError::not_supported("prune --dry-run", "docker")));
    let output = run_with(
        &docker,
        &["image", "prune", "-a", "--dry-run", "--filter", "until=24h"],
        "",
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Error: prune --dry-run is not supported by the docker backend\n"
    );

    // docker 28 prints the engine's figure only when something was deleted.
    let mut odd = MockImageService::new();
    odd.expect_prune()
        .withf(|options| !options.dry_run && !options.all)
        .returning(|_| {
            Ok(PruneReport {
                actions: vec![],
                space_reclaimed: 1234,
            })
        });
    let output = run_with(&odd, &["image", "prune", "-f"], "").await;
    assert_eq!(output.out, "Total reclaimed space: 0B\n");

    let mut some = MockImageService::new();
    some.expect_prune().returning(|_| {
        Ok(PruneReport {
            actions: vec![
                RemoveAction::Untagged("app:1".into()),
                RemoveAction::Deleted("sha256:abc".into()),
            ],
            space_reclaimed: 1_234_567,
        })
    });
    let output = run_with(&some, &["image", "prune", "-f"], "").await;
    assert_eq!(
        output.out,
        "Deleted Images:\nuntagged: app:1\ndeleted: sha256:abc\n\nTotal reclaimed space: 1.235MB\n"
    );
}

#[tokio::test]
async fn df_prints_dockers_summary() {
    let service = MemoryImageService::demo().unwrap();
    let output = run_with(&service, &["system", "df"], "").await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let expected = "\
TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          8         3         13.53MB   8.83MB (65%)
Containers      0         0         0B        0B
Local Volumes   0         0         0B        0B
Build Cache     0         0         0B        0B
";
    assert_eq!(output.out, expected);

    let json = run_with(&service, &["system", "df", "--format", "json"], "").await;
    assert_eq!(
        json.out.lines().next(),
        Some(
            r#"{"Active":"3","Reclaimable":"8.83MB (65%)","Size":"13.53MB","TotalCount":"8","Type":"Images"}"#
        )
    );
    assert_eq!(json.out.lines().count(), 4);

    let custom = run_with(
        &service,
        &["system", "df", "--format", "table {{.Type}}\t{{.Size}}"],
        "",
    )
    .await;
    assert_eq!(
        custom.out,
        "TYPE            SIZE\nImages          13.53MB\nContainers      0B\nLocal Volumes   0B\nBuild Cache     0B\n"
    );

    let raw = run_with(&service, &["system", "df", "--format", "raw"], "").await;
    assert!(
        raw.out.starts_with(
            "type: Images\ntotal: 8\nactive: 3\nsize: 13.53MB\nreclaimable: 8.83MB (65%)\n\ntype: Containers\n"
        ),
        "{}",
        raw.out
    );

    let bad = run_with(&service, &["system", "df", "--format", "{{.Type"], "").await;
    assert_eq!(bad.status, ExitStatus::Failure);
    assert!(
        bad.err.starts_with("template parsing error: "),
        "{}",
        bad.err
    );
    assert_eq!(bad.out, "");
}

#[tokio::test]
async fn df_verbose_prints_dockers_sections() {
    let service = MemoryImageService::demo().unwrap();
    let output = run_with(&service, &["system", "df", "-v"], "").await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let expected = "\
Images space usage:

REPOSITORY                            TAG           IMAGE ID       CREATED        SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS
registry.example.com/payments/myapp   1.1           b70aab5777dc   5 months ago   5.05MB    4.1MB         950kB         0
<none>                                <none>        22396f1c6f6f   5 months ago   4.1MB     4.1MB         0B            0
registry.example.com/payments/myapp   1.0           47016ec1ffc4   6 months ago   4.3MB     3.4MB         900kB         1
<none>                                <none>        2b160a0076ef   6 months ago   4.28MB    3.4MB         880kB         0
nginx                                 1.27-alpine   61e72c83b873   6 months ago   5.2MB     3.4MB         1.8MB         1
postgres                              16            67cedc951725   7 months ago   4.9MB     2.9MB         2MB           1
debian                                bookworm      c39aa8de14e1   8 months ago   2.9MB     2.9MB         0B            0
alpine                                3.20          24f49bb371fd   9 months ago   3.4MB     3.4MB         0B            0

Containers space usage:

CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES

Local Volumes space usage:

VOLUME NAME   LINKS     SIZE

Build cache usage: 0B

CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED
";
    assert_eq!(output.out, expected);

    // Any other format runs once on the whole, full IDs, no newline added.
    let ids = run_with(
        &service,
        &[
            "system",
            "df",
            "-v",
            "--format",
            "{{range .Images}}{{.ID}} {{.Tag}}\\n{{end}}{{len .Containers}}",
        ],
        "",
    )
    .await;
    assert_eq!(ids.status, ExitStatus::Success, "{}", ids.err);
    let lines: Vec<&str> = ids.out.lines().collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(
        lines[0],
        "sha256:b70aab5777dca7a5e93d27b2d3e433945692c9149842ccc4216e70a702f64802 1.1"
    );
    assert_eq!(lines[8], "0");

    let json = run_with(&service, &["system", "df", "-v", "--format", "json"], "").await;
    assert!(
        json.out.starts_with(r#"{"Images":[{"Containers":"0","CreatedAt":"2024-10-01 12:00:00 +0000 UTC","CreatedSince":"5 months ago","Digest":"","ID":"sha256:b70aab5777dc"#),
        "{}",
        json.out
    );
    assert!(
        json.out
            .contains(r#""Repository":"\u003cnone\u003e","SharedSize":"4.1MB""#),
        "docker's image contexts escape HTML: {}",
        json.out
    );
    assert!(
        json.out
            .ends_with(r#""Containers":[],"Volumes":[],"BuildCache":[]}"#),
        "{}",
        json.out
    );
}

#[tokio::test]
async fn df_edge_cases_and_engine_errors() {
    let mut mock = MockImageService::new();
    mock.expect_disk_usage().returning(|| {
        Ok(DiskUsage {
            images: vec![ImageUsage {
                id: format!("sha256:{}", "ab".repeat(32)),
                repo_tags: vec!["localhost:5000/app:v1".into(), "app:v1".into()],
                created: None,
                size: 2_000,
                shared_size: 500,
                unique_size: 1_500,
                containers: 0,
            }],
            layers_size: 3_000,
            reclaimable: 2_999,
        })
    });
    let summary = run_with(&mock, &["system", "df", "--format", "{{.Reclaimable}}"], "").await;
    // 2999 * 100 / 3000 = 99.97, truncated.
    assert_eq!(summary.out.lines().next(), Some("2.999kB (99%)"));
    let verbose = run_with(&mock, &["system", "df", "-v"], "").await;
    let row = verbose.out.lines().nth(3).unwrap();
    assert_eq!(
        row,
        "localhost:5000/app   v1        abababababab   55 years ago   2kB       500B          1.5kB         0"
    );

    let mut empty = MockImageService::new();
    empty
        .expect_disk_usage()
        .returning(|| Ok(DiskUsage::default()));
    let output = run_with(&empty, &["system", "df"], "").await;
    assert_eq!(
        output.out.lines().nth(1),
        Some("Images          0         0         0B        0B")
    );

    let mut unavailable = MockImageService::new();
    unavailable.expect_disk_usage().returning(|| {
        Err(ImageError::EngineUnavailable {
            endpoint: "unix:///var/run/docker.sock".into(),
            hint: "is the docker daemon running?".into(),
        })
    });
    let output = run_with(&unavailable, &["system", "df", "-v"], "").await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(output.out, "");
    assert_eq!(
        output.err,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    );
}
