//! `image usage`, `image outdated` and `image layers` on the in-memory
//! engine's demo host (golden outputs; registry changes made with
//! `registry_put`, credentials required with `registry_require_auth`), and
//! on mocks for the error paths (exact stderr and exit codes).

#![allow(clippy::unwrap_used)]

mod harness;

use harness::{TextOutput as Output, run_with};
use image_cli::commands::ExitStatus;
use image_core::archive::FixtureImage;
use image_core::mock::MockImageService;
use image_core::{
    AuthFailure, ImageError, ImageService as _, ImageServiceExt as _, ImageSummary,
    MemoryImageService, PullOptions,
};

async fn run(service: &MemoryImageService, args: &[&str]) -> Output {
    run_with(service, args, "").await
}

async fn pull(service: &MemoryImageService, reference: &str) {
    service
        .pull_to_end(&PullOptions {
            reference: reference.to_string(),
            ..PullOptions::default()
        })
        .await
        .unwrap();
}

fn digest_of(service: &MemoryImageService, reference: &str) -> String {
    service.registry_digest(reference).unwrap().unwrap()
}

/// `sha256:` and 12 hex characters, as the tables print digests.
fn short(digest: &str) -> String {
    digest[.."sha256:".len() + 12].to_string()
}

#[tokio::test]
async fn usage_lists_every_used_image_with_its_containers() {
    let service = MemoryImageService::demo().unwrap();
    let output = run(&service, &["image", "usage"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(
        output.out,
        "\
IMAGE                                     CONTAINER ID   NAME            STATE
registry.example.com/payments/myapp:1.0   84e64434453a   myapp-migrate   exited
nginx:1.27-alpine                         895eab7f6254   web             running
postgres:16                               361137665a38   db              running
"
    );
    let quiet = run(&service, &["image", "usage", "-q"]).await;
    assert_eq!(quiet.out, "84e64434453a\n895eab7f6254\n361137665a38\n");

    // A second container on nginx, and one on an untagged image.
    service
        .add_container(
            "nginx:1.27-alpine",
            "a-sidecar",
            image_core::ContainerState::Created,
        )
        .unwrap();
    service
        .add_container("2b160a0076ef", "leftover", image_core::ContainerState::Dead)
        .unwrap();
    let output = run(
        &service,
        &[
            "image",
            "usage",
            "--format",
            "{{.Image}} {{.ImageID}} {{.Name}} {{.State}}",
        ],
    )
    .await;
    assert_eq!(
        output.out,
        "\
registry.example.com/payments/myapp:1.0 47016ec1ffc4 myapp-migrate exited
2b160a0076ef 2b160a0076ef leftover dead
nginx:1.27-alpine 61e72c83b873 a-sidecar created
nginx:1.27-alpine 61e72c83b873 web running
postgres:16 67cedc951725 db running
"
    );
}

#[tokio::test]
async fn usage_answers_for_every_named_image_and_reports_missing_ones() {
    let service = MemoryImageService::demo().unwrap();
    let output = run(
        &service,
        &["image", "usage", "nginx:1.27-alpine", "nope", "alpine"],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.out,
        "\
IMAGE               CONTAINER ID   NAME      STATE
nginx:1.27-alpine   895eab7f6254   web       running
alpine              -              -         -
"
    );
    assert_eq!(
        output.err,
        "Error response from daemon: No such image: nope:latest\n"
    );

    let quiet = run(&service, &["image", "usage", "-q", "alpine", "postgres:16"]).await;
    assert_eq!(quiet.status, ExitStatus::Success);
    assert_eq!(
        quiet.out, "361137665a38\n",
        "-q leaves out the unused image"
    );

    let full = run(
        &service,
        &[
            "image",
            "usage",
            "--no-trunc",
            "--format",
            "json",
            "postgres:16",
        ],
    )
    .await;
    let row: serde_json::Value = serde_json::from_str(full.out.trim()).unwrap();
    assert_eq!(row["Name"], "db");
    assert_eq!(row["ID"].as_str().unwrap().len(), 64);
    assert_eq!(row["ImageID"].as_str().unwrap().len(), 71);
}

#[tokio::test]
async fn outdated_compares_pulled_tags_with_the_registry() {
    let service = MemoryImageService::demo().unwrap();
    // Nothing on the demo host came from a registry yet.
    let none = run(&service, &["image", "outdated"]).await;
    assert_eq!(none.status, ExitStatus::Success, "{}", none.err);
    assert_eq!(
        none.out,
        "IMAGE     STATUS    LOCAL DIGEST   REGISTRY DIGEST   REASON\n"
    );

    // alpine:3.20 pulled: the registry's latest is 3.21, the local one is
    // still 3.20's.
    pull(&service, "alpine:3.20").await;
    let d320 = digest_of(&service, "alpine:3.20");
    let d321 = digest_of(&service, "alpine:latest");
    assert_ne!(d320, d321);
    let output = run(&service, &["image", "outdated"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let (s320, s321) = (short(&d320), short(&d321));
    assert_eq!(
        output.out,
        format!(
            "IMAGE           STATUS             LOCAL DIGEST          REGISTRY DIGEST       REASON\n\
             alpine:3.20     up to date         {s320}   {s320}   \n\
             alpine:latest   update available   {s320}   {s321}   \n"
        )
    );
    let quiet = run(&service, &["image", "outdated", "-q"]).await;
    assert_eq!(quiet.out, "alpine:latest\n");

    // Someone pushes a new image to alpine:3.20.
    let rebuilt = FixtureImage::new("alpine-3.20-rebuilt")
        .layer_with_file("bin/busybox", b"patched")
        .build()
        .unwrap();
    let new = service.registry_put("alpine:3.20", &rebuilt).unwrap();
    let json = run(&service, &["image", "outdated", "--json", "alpine:3.20"]).await;
    assert_eq!(json.status, ExitStatus::Success, "{}", json.err);
    let parsed: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(
        parsed,
        serde_json::json!([{
            "image": "alpine:3.20",
            "status": "update_available",
            "local_digest": d320,
            "registry_digest": new,
            "reason": null,
        }])
    );

    // Pulled again, it is up to date; `alpine` means `alpine:latest`.
    pull(&service, "alpine:3.20").await;
    let output = run(
        &service,
        &[
            "image",
            "outdated",
            "--no-trunc",
            "--format",
            "{{.Image}} {{.Status}} {{.LocalDigest}} {{.RegistryDigest}}",
            "alpine:3.20",
            "alpine",
        ],
    )
    .await;
    assert_eq!(
        output.out,
        format!(
            "alpine:3.20 up to date {new} {new}\nalpine:latest update available {d320} {d321}\n"
        )
    );
}

#[tokio::test]
async fn outdated_says_why_it_cannot_tell() {
    let service = MemoryImageService::demo().unwrap();
    pull(&service, "redis:7-alpine").await;
    // A local tag the registry never had, in a repository with a repo digest.
    service
        .tag("redis:7-alpine", "redis:local-build")
        .await
        .unwrap();
    let output = run(
        &service,
        &[
            "image",
            "outdated",
            "--format",
            "{{.Image}}|{{.Status}}|{{.RegistryDigest}}|{{.Reason}}",
            "redis:local-build",
            "nginx:1.27-alpine",
            "2b160a0076ef",
            "nope:1",
        ],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.out,
        "\
redis:local-build|unknown|-|the registry has no such tag
nginx:1.27-alpine|unknown|-|no repo digest for nginx: not pulled from a registry
2b160a0076ef|unknown|-|untagged image: no tag to look up
"
    );
    assert_eq!(
        output.err,
        "Error response from daemon: No such image: nope:1\n"
    );

    // Without arguments the tags without repo digests are skipped; the
    // registry now wants credentials imgctl does not have.
    service.registry_require_auth("docker.io", "me", "secret");
    let output = run(&service, &["image", "outdated", "--json"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let parsed: serde_json::Value = serde_json::from_str(&output.out).unwrap();
    let rows = parsed.as_array().unwrap();
    let images: Vec<&str> = rows.iter().map(|r| r["image"].as_str().unwrap()).collect();
    assert_eq!(images, vec!["redis:7-alpine", "redis:local-build"]);
    for row in rows {
        assert_eq!(row["status"], "unknown");
        assert_eq!(
            row["reason"],
            "unauthorized by registry docker.io: authentication required"
        );
        assert!(row["local_digest"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(row["registry_digest"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn layers_show_sizes_sharing_and_the_steps_that_made_them() {
    let service = MemoryImageService::demo().unwrap();
    let output = run(
        &service,
        &["image", "layers", "registry.example.com/payments/myapp:1.1"],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(
        output.out,
        "\
LAYER          SIZE      SHARED WITH   CREATED BY
ef3c86b3cebe   950kB     0             /bin/sh -c #(nop) ADD file:2c21363e763b5731a…
49a49d71589c   700kB     1             /bin/sh -c #(nop) ADD file:fee5af8372b547cf3…
3057f0a03d38   3.4MB     5             /bin/sh -c #(nop) ADD file:755cd40b4a3ba9d53…
"
    );
    // The base layer is alpine's; the middle one is shared with the
    // intermediate image only. CREATED BY as `history --no-trunc` has it.
    let template = run(
        &service,
        &[
            "image",
            "layers",
            "--no-trunc",
            "--format",
            "{{.SharedWith}} {{.CreatedBy}}",
            "registry.example.com/payments/myapp:1.1",
        ],
    )
    .await;
    let history = run(
        &service,
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "registry.example.com/payments/myapp:1.1",
        ],
    )
    .await;
    let shared: Vec<&str> = template
        .out
        .lines()
        .map(|l| l.split_once(' ').unwrap().0)
        .collect();
    let commands: Vec<&str> = template
        .out
        .lines()
        .map(|l| l.split_once(' ').unwrap().1)
        .collect();
    assert_eq!(shared, vec!["0", "1", "5"]);
    assert_eq!(commands, history.out.lines().collect::<Vec<_>>());

    let alpine = run(&service, &["image", "layers", "-q", "--no-trunc", "alpine"]).await;
    let inspect = run(
        &service,
        &[
            "image",
            "inspect",
            "--format",
            "{{index .RootFS.Layers 0}}",
            "alpine",
        ],
    )
    .await;
    assert_eq!(alpine.out, inspect.out);

    let missing = run(&service, &["image", "layers", "nope"]).await;
    assert_eq!(missing.status, ExitStatus::Failure);
    assert_eq!(
        missing.err,
        "Error response from daemon: No such image: nope:latest\n"
    );
    assert_eq!(missing.out, "");
}

fn unavailable() -> ImageError {
    ImageError::EngineUnavailable {
        endpoint: "unix:///var/run/docker.sock".into(),
        hint: "is the docker daemon running?".into(),
    }
}

const UNAVAILABLE: &str = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";

#[tokio::test]
async fn an_unreachable_engine_is_reported_in_dockers_words() {
    let mut service = MockImageService::new();
    service.expect_list().returning(|_| Err(unavailable()));
    service.expect_inspect().returning(|_| Err(unavailable()));
    service.expect_history().returning(|_| Err(unavailable()));
    for args in [
        &["image", "usage"][..],
        &["image", "usage", "app:1"],
        &["image", "outdated"],
        &["image", "outdated", "app:1"],
        &["image", "layers", "app:1"],
    ] {
        let output = run_with(&service, args, "").await;
        assert_eq!(output.status, ExitStatus::Failure, "{args:?}");
        assert_eq!(output.err, UNAVAILABLE, "{args:?}");
        assert!(!output.out.contains("app"), "{args:?}: {}", output.out);
    }
}

fn pulled(tag: &str, digest: &str) -> ImageSummary {
    let name = tag.rsplit_once(':').unwrap().0;
    ImageSummary {
        id: format!("sha256:{}", "ab".repeat(32)),
        repo_tags: vec![tag.to_string()],
        repo_digests: vec![format!("{name}@{digest}")],
        parent_id: None,
        created: None,
        size: 1,
        shared_size: None,
        labels: Default::default(),
        containers: 0,
    }
}

#[tokio::test]
async fn registry_errors_make_unknown_rows_not_failures() {
    let local = format!("sha256:{}", "1".repeat(64));
    let mut service = MockImageService::new();
    let listed = vec![
        pulled("registry.example/team/app:1", &local),
        pulled("other.example/tool:2", &local),
        pulled("down.example/db:3", &local),
    ];
    service.expect_list().returning(move |_| Ok(listed.clone()));
    service
        .expect_registry_digest()
        .withf(|_, auth| auth.is_none())
        .returning(|reference, _| match reference {
            "registry.example/team/app:1" => Err(ImageError::Unauthorized {
                kind: AuthFailure::Denied,
                registry: "registry.example".into(),
                message: "requested access to the resource is denied".into(),
            }),
            "other.example/tool:2" => Err(ImageError::not_supported("registry digests", "Mock")),
            _ => Err(unavailable()),
        });
    let output = run_with(&service, &["image", "outdated"], "").await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(output.err, "");
    assert_eq!(
        output.out,
        "\
IMAGE                         STATUS    LOCAL DIGEST          REGISTRY DIGEST   REASON
registry.example/team/app:1   unknown   sha256:111111111111   -                 denied by registry registry.example: requested access to the resource is denied
other.example/tool:2          unknown   sha256:111111111111   -                 registry digests is not supported by the Mock backend
down.example/db:3             unknown   sha256:111111111111   -                 cannot connect to the Docker engine at unix:///var/run/docker.sock: is the docker daemon running?
"
    );
}

#[tokio::test]
async fn layers_need_a_backend_with_snapshots() {
    let mut service = MockImageService::new();
    let service_memory = MemoryImageService::demo().unwrap();
    let details = service_memory.inspect("alpine").await.unwrap();
    let history = service_memory.history("alpine").await.unwrap();
    service
        .expect_inspect()
        .returning(move |_| Ok(details.clone()));
    service
        .expect_history()
        .returning(move |_| Ok(history.clone()));
    service
        .expect_snapshot()
        .returning(|| Err(ImageError::not_supported("snapshots", "Mock")));
    let output = run_with(&service, &["image", "layers", "alpine"], "").await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Error: snapshots is not supported by the Mock backend\n"
    );
    assert_eq!(output.out, "");
}
