//! `imgctl cleanup` on the memory demo host and on mocks: the plan table,
//! the dry run, the prompt, what is carried out and reported, and errors.

#![allow(clippy::unwrap_used)]

mod harness;

use harness::run_with;
use image_cli::commands::ExitStatus;
use image_core::mock::MockImageService;
use image_core::{ImageError, ImageService as _, ImageServiceExt as _, MemoryImageService};

const PLAN: &str = "\
REPOSITORY                            TAG           IMAGE ID       CREATED        SIZE      ACTION    REASON
alpine                                latest        24f49bb371fd   9 months ago   3.4MB     untag     not in the newest 1 (#2)
registry.example.com/payments/myapp   latest        b70aab5777dc   5 months ago   5.05MB    untag     not in the newest 1 (#2)
alpine                                3.20          24f49bb371fd   9 months ago   3.4MB     keep      within the newest 1 (#1)
debian                                bookworm      c39aa8de14e1   8 months ago   2.9MB     keep      within the newest 1 (#1)
nginx                                 1.27-alpine   61e72c83b873   6 months ago   5.2MB     keep      in use by web
postgres                              16            67cedc951725   7 months ago   4.9MB     keep      in use by db
registry.example.com/payments/myapp   1.0           47016ec1ffc4   6 months ago   4.3MB     keep      in use by myapp-migrate
registry.example.com/payments/myapp   1.1           b70aab5777dc   5 months ago   5.05MB    keep      within the newest 1 (#1)

Total space to free: 0B
";

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_removes_nothing() {
    let demo = MemoryImageService::demo().unwrap();
    let before = demo.snapshot().await.unwrap();
    let run = run_with(&demo, &["cleanup", "--keep-last", "1", "--dry-run"], "").await;
    assert_eq!(run.status, ExitStatus::Success, "{}", run.err);
    assert_eq!(run.out, PLAN);
    assert_eq!(demo.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn it_asks_first_and_reports_what_it_did() {
    let demo = MemoryImageService::demo().unwrap();
    let before = demo.snapshot().await.unwrap();
    let declined = run_with(&demo, &["cleanup", "--keep-last", "1"], "n\n").await;
    assert_eq!(declined.status, ExitStatus::Success);
    assert!(declined.out.ends_with(
        "WARNING! This will untag 2 tags and delete 0 images.\nAre you sure you want to continue? [y/N] "
    ));
    assert_eq!(
        demo.snapshot().await.unwrap(),
        before,
        "a no removes nothing"
    );

    let done = run_with(&demo, &["cleanup", "--keep-last", "1"], "y\n").await;
    assert_eq!(done.status, ExitStatus::Success, "{}", done.err);
    assert!(
        done.out.ends_with(
            "[y/N] Untagged: alpine:latest\nUntagged: registry.example.com/payments/myapp:latest\n\
             Total reclaimed space: 0B\n"
        ),
        "{}",
        done.out
    );
    assert!(!demo.exists("alpine:latest").await.unwrap());
    assert!(demo.exists("alpine:3.20").await.unwrap());
}

#[tokio::test]
async fn dangling_images_go_with_force_and_their_bytes_count() {
    let demo = MemoryImageService::demo().unwrap();
    let usage = demo.disk_usage().await.unwrap().layers_size;
    let run = run_with(
        &demo,
        &["cleanup", "-f", "--dangling", "--repository", "<none>"],
        "",
    )
    .await;
    assert_eq!(run.status, ExitStatus::Success, "{}", run.err);
    assert!(run.out.contains("delete    dangling"), "{}", run.out);
    assert!(
        run.out.contains("Total space to free: 880kB"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("Deleted: sha256:2b160a0076ef"),
        "{}",
        run.out
    );
    assert!(
        run.out.ends_with("Total reclaimed space: 880kB\n"),
        "{}",
        run.out
    );
    let freed = usage - demo.disk_usage().await.unwrap().layers_size;
    assert_eq!(freed, 880_000);
}

#[tokio::test]
async fn policies_come_from_toml_files() {
    let demo = MemoryImageService::demo().unwrap();
    let dir = std::env::temp_dir().join(format!("imgctl-cleanup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[[rules]]\nrepository = [\"alpine\"]\nkeep_last = 1\nkeep = [\"latest\"]\n",
    )
    .unwrap();
    let run = run_with(
        &demo,
        &["cleanup", "--dry-run", "--policy", good.to_str().unwrap()],
        "",
    )
    .await;
    assert_eq!(run.status, ExitStatus::Success, "{}", run.err);
    assert!(run.out.contains("protected by latest"), "{}", run.out);
    assert!(run.out.ends_with("Nothing to clean up.\n"), "{}", run.out);

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[rules]]\nrepository = [\"alpine\"]\nkeep_lats = 1\n",
    )
    .unwrap();
    let run = run_with(&demo, &["cleanup", "--policy", bad.to_str().unwrap()], "").await;
    assert_eq!(run.status, ExitStatus::Failure);
    assert!(run.err.contains("line 3"), "{}", run.err);
    assert!(run.err.contains("keep_lats"), "{}", run.err);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn errors_are_clear_and_exit_1() {
    let demo = MemoryImageService::demo().unwrap();
    let nothing = run_with(&demo, &["cleanup"], "").await;
    assert_eq!(nothing.status, ExitStatus::Failure);
    assert_eq!(
        nothing.err,
        "Error: invalid argument: nothing to clean up by: give --keep-last, --older-than, \
         --dangling or --policy FILE\n"
    );
    let age = run_with(&demo, &["cleanup", "--older-than", "3d"], "").await;
    assert_eq!(age.status, ExitStatus::Failure);
    assert!(age.err.contains("no unit for days"), "{}", age.err);

    let mut engine = MockImageService::new();
    engine.expect_snapshot().returning(|| {
        Err(ImageError::EngineUnavailable {
            endpoint: "unix:///var/run/docker.sock".into(),
            hint: "is the docker daemon running?".into(),
        })
    });
    let down = run_with(&engine, &["cleanup", "--keep-last", "2"], "").await;
    assert_eq!(down.status, ExitStatus::Failure);
    assert_eq!(
        down.err,
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \
         Is the docker daemon running?\n"
    );
}
