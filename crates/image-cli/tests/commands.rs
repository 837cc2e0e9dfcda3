//! Commands on the in-memory engine's demo host, with golden outputs, and on
//! mocks for the error paths (exact stderr and exit codes).

#![allow(clippy::unwrap_used)]

mod harness;

use harness::{TextOutput as Output, run_with};
use image_cli::commands::ExitStatus;
use image_core::mock::MockImageService;
use image_core::{ConflictReason, ImageError, MemoryImageService};

async fn demo(args: &[&str]) -> Output {
    let service = MemoryImageService::demo().unwrap();
    run_with(&service, args, "").await
}

#[tokio::test]
async fn images_prints_docker_table() {
    let output = demo(&["images"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let expected = "\
REPOSITORY                            TAG           IMAGE ID       CREATED        SIZE
registry.example.com/payments/myapp   1.1           b70aab5777dc   5 months ago   5.05MB
registry.example.com/payments/myapp   latest        b70aab5777dc   5 months ago   5.05MB
registry.example.com/payments/myapp   1.0           47016ec1ffc4   6 months ago   4.3MB
<none>                                <none>        2b160a0076ef   6 months ago   4.28MB
nginx                                 1.27-alpine   61e72c83b873   6 months ago   5.2MB
postgres                              16            67cedc951725   7 months ago   4.9MB
debian                                bookworm      c39aa8de14e1   8 months ago   2.9MB
alpine                                3.20          24f49bb371fd   9 months ago   3.4MB
alpine                                latest        24f49bb371fd   9 months ago   3.4MB
";
    assert_eq!(output.out, expected);
}

#[tokio::test]
async fn images_quiet_json_filters_and_sorting() {
    let quiet = demo(&["images", "-q"]).await;
    assert_eq!(quiet.out.lines().count(), 9);
    assert!(quiet.out.lines().all(|l| l.len() == 12));

    let json = demo(&["images", "--format", "json", "alpine"]).await;
    let rows: Vec<serde_json::Value> = json
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["Repository"], "alpine");
    assert_eq!(rows[0]["Digest"], "<none>");
    assert_eq!(rows[0]["Size"], "3.4MB");

    let dangling = demo(&[
        "images",
        "--filter",
        "dangling=true",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ])
    .await;
    assert_eq!(dangling.out, "2b160a0076ef <none>:<none>\n");

    let by_size = demo(&[
        "images",
        "--sort",
        "size",
        "--reverse",
        "--format",
        "{{.Size}}",
    ])
    .await;
    assert_eq!(by_size.out.lines().next(), Some("2.9MB"));
    assert_eq!(by_size.out.lines().last(), Some("5.2MB"));

    let all = demo(&["images", "-a", "-q"]).await;
    assert_eq!(
        all.out.lines().count(),
        10,
        "the intermediate image shows with -a"
    );
}

#[tokio::test]
async fn images_reports_bad_filters_and_templates() {
    let bad_filter = demo(&["images", "--filter", "bogus=1"]).await;
    assert_eq!(bad_filter.status, ExitStatus::Failure);
    assert_eq!(
        bad_filter.err,
        "Error response from daemon: invalid filter 'bogus'\n"
    );
    assert_eq!(bad_filter.out, "");

    let bad_template = demo(&["images", "--format", "{{.ID"]).await;
    assert_eq!(bad_template.status, ExitStatus::Failure);
    assert!(
        bad_template.err.starts_with("template parsing error: "),
        "{}",
        bad_template.err
    );
    assert_eq!(bad_template.out, "");
}

#[tokio::test]
async fn tag_accepts_several_targets_and_reports_each_failure() {
    let service = MemoryImageService::demo().unwrap();
    let output = run_with(
        &service,
        &[
            "tag",
            "alpine:3.20",
            "mirror/alpine:3.20",
            "Bad:Tag",
            "mirror/alpine:stable",
        ],
        "",
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Error parsing reference: \"Bad:Tag\" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase\n"
    );
    let tags = run_with(
        &service,
        &[
            "images",
            "mirror/alpine",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
        "",
    )
    .await;
    let mut lines: Vec<&str> = tags.out.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["mirror/alpine:3.20", "mirror/alpine:stable"]);
}

#[tokio::test]
async fn rmi_goes_on_past_failures_and_reports_them_last() {
    let service = MemoryImageService::demo().unwrap();
    let output = run_with(
        &service,
        &["rmi", "nope", "alpine:latest", "nginx:1.27-alpine"],
        "",
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(output.out, "Untagged: alpine:latest\n");
    let errors: Vec<&str> = output.err.lines().collect();
    assert_eq!(
        errors[0],
        "Error response from daemon: No such image: nope:latest"
    );
    assert!(
        errors[1].starts_with("Error response from daemon: conflict: unable to remove repository reference \"nginx:1.27-alpine\" (must force) - container "),
        "{}",
        errors[1]
    );
}

#[tokio::test]
async fn inspect_prints_json_or_templates() {
    let json = demo(&["inspect", "alpine:3.20"]).await;
    assert_eq!(json.status, ExitStatus::Success, "{}", json.err);
    let parsed: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(
        parsed[0]["RepoTags"],
        serde_json::json!(["alpine:3.20", "alpine:latest"])
    );
    assert!(
        json.out.starts_with("[\n    {\n        \"Id\": \"sha256:"),
        "{}",
        json.out
    );

    let template = demo(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}} {{.Config.Cmd}}",
        "alpine:3.20",
    ])
    .await;
    assert_eq!(template.out, "linux/amd64 [/bin/sh]\n");

    let missing = demo(&["inspect", "alpine:3.20", "nope"]).await;
    assert_eq!(missing.status, ExitStatus::Failure);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&missing.out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The top-level inspect looks for any object; `image inspect` reports
    // the engine's error.
    assert_eq!(missing.err, "Error: No such object: nope\n");
    let missing = demo(&["image", "inspect", "nope", "Bad:Name"]).await;
    assert_eq!(missing.status, ExitStatus::Failure);
    assert_eq!(missing.out, "[]\n");
    assert_eq!(
        missing.err,
        "Error response from daemon: No such image: nope:latest\n\
         Error response from daemon: invalid reference format: repository name (library/Bad) must be lowercase\n"
    );
    let wrong_type = demo(&["inspect", "--type", "volume", "alpine:3.20"]).await;
    assert_eq!(wrong_type.status, ExitStatus::Failure);
    assert!(wrong_type.err.contains("imgctl inspects images only"));
}

#[tokio::test]
async fn history_prints_docker_table() {
    let output = demo(&["history", "nginx:1.27-alpine"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let lines: Vec<&str> = output.out.lines().collect();
    assert_eq!(
        lines[0],
        "IMAGE          CREATED        CREATED BY                                      SIZE      COMMENT"
    );
    assert!(
        lines[1].starts_with("61e72c83b873   6 months ago   /bin/sh -c #(nop) ADD file:"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("…"),
        "CREATED BY is cut at 45 characters: {}",
        lines[1]
    );
    assert!(lines.iter().skip(2).all(|l| l.starts_with("<missing>")));

    let raw = demo(&[
        "history",
        "-H=false",
        "--no-trunc",
        "--format",
        "{{.CreatedAt}} {{.Size}}",
        "alpine",
    ])
    .await;
    assert_eq!(raw.out, "2024-05-22T12:00:00Z 3400000\n");
}

#[tokio::test]
async fn errors_from_the_engine_use_dockers_words_and_exit_1() {
    let mut unavailable = MockImageService::new();
    unavailable.expect_list().returning(|_| {
        Err(ImageError::EngineUnavailable {
            endpoint: "unix:///var/run/docker.sock".into(),
            hint: "is the docker daemon running?".into(),
        })
    });
    let output = run_with(&unavailable, &["images"], "").await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    );
    assert_eq!(output.out, "");

    let mut conflict = MockImageService::new();
    conflict.expect_remove().returning(|_, _| {
        Err(ImageError::Conflict {
            reference: "app:1".into(),
            reason: ConflictReason::InUse { containers: vec!["4c1d2b3a4f5e".into()] },
            message: "conflict: unable to delete 0123456789ab (cannot be forced) - image is being used by running container 4c1d2b3a4f5e".into(),
        })
    });
    let output = run_with(&conflict, &["rmi", "-f", "app:1"], "").await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Error response from daemon: conflict: unable to delete 0123456789ab (cannot be forced) - image is being used by running container 4c1d2b3a4f5e\n"
    );
}
