//! `pull`, `push`, `build`, `save`, `load` and `search` on the in-memory
//! engine's demo host, with golden outputs as docker 28 prints them off a
//! terminal, and on mocks for the error paths (exact stderr, exit 1).

#![allow(clippy::unwrap_used)]

mod harness;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use harness::{Output, run_io};
use image_cli::commands::ExitStatus;
use image_core::mock::MockImageService;
use image_core::{
    AuthFailure, ImageError, ImageService, LayerProgress, MemoryImageService, ProgressEvent,
};

async fn run(service: &dyn ImageService, args: &[&str]) -> Output {
    run_io(service, args, b"", false).await
}

fn demo() -> MemoryImageService {
    MemoryImageService::demo().unwrap()
}

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "imgctl-transfer-{name}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// Writes a file with a fixed modification time, so layers are the
    /// same on every run.
    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, contents).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- pull

#[tokio::test]
async fn pull_prints_dockers_plain_lines_then_the_reference() {
    let service = demo();
    let output = run(&service, &["pull", "redis:7-alpine"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(output.err, "");
    // Downloading and Extracting carry byte counts: docker drops them off
    // a terminal.
    let expected = "\
7-alpine: Pulling from library/redis
dacd2157a93d: Pulling fs layer
dacd2157a93d: Verifying Checksum
dacd2157a93d: Download complete
dacd2157a93d: Pull complete
497bc1db2246: Pulling fs layer
497bc1db2246: Verifying Checksum
497bc1db2246: Download complete
497bc1db2246: Pull complete
Digest: sha256:a4a3d29e9c39ef6213428a4a14fedfb25b84160f4fa9aea9666034f13cffe1e8
Status: Downloaded newer image for redis:7-alpine
docker.io/library/redis:7-alpine
";
    assert_eq!(output.text(), expected);

    // The second pull of another tag of the same image finds its layers.
    let again = run(&service, &["image", "pull", "redis"]).await;
    assert_eq!(again.status, ExitStatus::Success, "{}", again.err);
    assert_eq!(
        again.text(),
        "\
Using default tag: latest
latest: Pulling from library/redis
dacd2157a93d: Already exists
497bc1db2246: Already exists
Digest: sha256:a4a3d29e9c39ef6213428a4a14fedfb25b84160f4fa9aea9666034f13cffe1e8
Status: Downloaded newer image for redis:latest
docker.io/library/redis:latest
"
    );
    let images = run(
        &service,
        &["images", "redis", "--format", "{{.Repository}}:{{.Tag}}"],
    )
    .await;
    let mut tags: Vec<&str> = images
        .out
        .split(|b| *b == b'\n')
        .map(|l| std::str::from_utf8(l).unwrap())
        .filter(|l| !l.is_empty())
        .collect();
    tags.sort();
    assert_eq!(tags, vec!["redis:7-alpine", "redis:latest"]);
}

#[tokio::test]
async fn pull_without_a_tag_uses_latest_and_quiet_prints_only_the_reference() {
    let service = demo();
    let output = run(&service, &["pull", "alpine"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let text = output.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Using default tag: latest");
    assert_eq!(lines[1], "latest: Pulling from library/alpine");
    assert_eq!(
        lines[lines.len() - 2],
        "Status: Downloaded newer image for alpine:latest"
    );
    assert_eq!(lines[lines.len() - 1], "docker.io/library/alpine:latest");
    assert!(!text.contains('\x1b'), "no escape codes off a terminal");

    let again = run(&service, &["pull", "alpine"]).await;
    assert!(
        again
            .text()
            .contains("Status: Image is up to date for alpine:latest\n"),
        "{}",
        again.text()
    );

    let quiet = run(&service, &["pull", "-q", "alpine:3.21"]).await;
    assert_eq!(quiet.status, ExitStatus::Success, "{}", quiet.err);
    assert_eq!(quiet.text(), "docker.io/library/alpine:3.21\n");
    let quiet_default = run(&service, &["pull", "--quiet", "debian"]).await;
    assert_eq!(quiet_default.status, ExitStatus::Failure);
    assert_eq!(quiet_default.text(), "", "-q drops `Using default tag`");
}

#[tokio::test]
async fn pull_all_tags_ends_with_the_repository_name() {
    let service = demo();
    let output = run(&service, &["pull", "-a", "redis"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let text = output.text();
    assert!(!text.contains("Using default tag"));
    assert!(text.contains("7-alpine: Pulling from library/redis\n"));
    assert!(text.contains("latest: Pulling from library/redis\n"));
    assert!(text.ends_with("\ndocker.io/library/redis\n"), "{text}");

    let tagged = run(&service, &["pull", "-a", "redis:latest"]).await;
    assert_eq!(tagged.status, ExitStatus::Failure);
    assert_eq!(tagged.err, "tag can't be used with --all-tags/-a\n");
    assert_eq!(tagged.text(), "");
}

#[tokio::test]
async fn pull_failures_use_dockers_words_and_exit_1() {
    let service = demo();
    let missing = run(&service, &["pull", "alpine:nope"]).await;
    assert_eq!(missing.status, ExitStatus::Failure);
    assert_eq!(missing.text(), "", "nothing is printed as success");
    assert_eq!(
        missing.err,
        "Error response from daemon: No such image: alpine:nope (the registry has no such repository, tag or digest)\n"
    );

    let default_missing = run(&service, &["pull", "debian"]).await;
    assert_eq!(default_missing.status, ExitStatus::Failure);
    assert_eq!(default_missing.text(), "Using default tag: latest\n");

    let invalid = run(&service, &["pull", "Alpine"]).await;
    assert_eq!(invalid.status, ExitStatus::Failure);
    assert_eq!(
        invalid.err,
        "invalid reference format: repository name (library/Alpine) must be lowercase\n"
    );

    let platform = run(
        &service,
        &["pull", "--platform", "linux/arm64", "alpine:3.21"],
    )
    .await;
    assert_eq!(platform.status, ExitStatus::Failure);
    assert!(
        platform
            .err
            .contains("does not match the specified platform: wanted linux/arm64"),
        "{}",
        platform.err
    );
    let bad_platform = run(&service, &["pull", "--platform", "linux", "alpine:3.21"]).await;
    assert_eq!(bad_platform.status, ExitStatus::Failure);
    assert!(
        bad_platform
            .err
            .starts_with("\"linux\": unknown operating system or architecture"),
        "{}",
        bad_platform.err
    );
}

#[tokio::test]
async fn pull_on_a_terminal_draws_live_lines_and_ends_with_the_same_lines() {
    let service = demo();
    let output = run_io(&service, &["pull", "redis:7-alpine"], b"", true).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let text = output.text();
    assert!(text.contains('\x1b'), "a terminal gets live redraws");
    assert!(text.starts_with("7-alpine: Pulling from library/redis\n"));
    assert!(text.contains("dacd2157a93d: Pull complete"));
    assert!(text.contains("497bc1db2246: Pull complete"));
    assert!(
        text.ends_with(
            "Digest: sha256:a4a3d29e9c39ef6213428a4a14fedfb25b84160f4fa9aea9666034f13cffe1e8\n\
             Status: Downloaded newer image for redis:7-alpine\n\
             docker.io/library/redis:7-alpine\n"
        ),
        "{text:?}"
    );
}

// ---------------------------------------------------------------- push

#[tokio::test]
async fn push_prints_dockers_lines_and_quiet_prints_the_reference() {
    let service = demo();
    let tag = run(
        &service,
        &[
            "tag",
            "registry.example.com/payments/myapp:1.0",
            "localhost:5000/payments/myapp:1.0",
        ],
    )
    .await;
    assert_eq!(tag.status, ExitStatus::Success, "{}", tag.err);

    let output = run(&service, &["push", "localhost:5000/payments/myapp:1.0"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(output.err, "");
    let text = output.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(
        lines[0],
        "The push refers to repository [localhost:5000/payments/myapp]"
    );
    // Newest layer first, as docker lists them.
    let app = lines[1].strip_suffix(": Preparing").unwrap();
    let base = lines[2].strip_suffix(": Preparing").unwrap();
    assert_eq!(app.len(), 12);
    assert_eq!(base.len(), 12);
    assert_eq!(lines[3], format!("{app}: Pushed"));
    // The memory engine's registry stores blobs once for all repositories,
    // and alpine:3.20's layer is already there.
    assert_eq!(lines[4], format!("{base}: Layer already exists"));
    let digest_line = lines[5];
    assert!(
        digest_line.starts_with("1.0: digest: sha256:"),
        "{digest_line}"
    );
    assert!(digest_line.contains(" size: "), "{digest_line}");

    let again = run(
        &service,
        &["image", "push", "localhost:5000/payments/myapp:1.0"],
    )
    .await;
    assert_eq!(again.status, ExitStatus::Success, "{}", again.err);
    assert_eq!(
        again.text(),
        format!(
            "The push refers to repository [localhost:5000/payments/myapp]\n\
             {app}: Preparing\n{base}: Preparing\n\
             {app}: Layer already exists\n{base}: Layer already exists\n\
             {digest_line}\n"
        )
    );

    let quiet = run(
        &service,
        &["push", "-q", "localhost:5000/payments/myapp:1.0"],
    )
    .await;
    assert_eq!(quiet.status, ExitStatus::Success, "{}", quiet.err);
    assert_eq!(quiet.text(), "localhost:5000/payments/myapp:1.0\n");

    // The pushed image can be pulled back under its digest.
    let digest = digest_line.split_whitespace().nth(2).unwrap().to_string();
    let pulled = run(
        &service,
        &[
            "pull",
            "-q",
            &format!("localhost:5000/payments/myapp@{digest}"),
        ],
    )
    .await;
    assert_eq!(pulled.status, ExitStatus::Success, "{}", pulled.err);
    assert_eq!(
        pulled.text(),
        format!("localhost:5000/payments/myapp@{digest}\n")
    );
}

#[tokio::test]
async fn push_defaults_to_latest_and_all_tags_pushes_every_tag() {
    let service = demo();
    for target in [
        "localhost:5000/mirror/alpine:3.20",
        "localhost:5000/mirror/alpine:stable",
    ] {
        let tag = run(&service, &["tag", "alpine:3.20", target]).await;
        assert_eq!(tag.status, ExitStatus::Success, "{}", tag.err);
    }
    let missing = run(&service, &["push", "localhost:5000/mirror/alpine"]).await;
    assert_eq!(missing.status, ExitStatus::Failure);
    assert_eq!(missing.text(), "Using default tag: latest\n");
    assert!(
        missing
            .err
            .starts_with("Error response from daemon: No such image: "),
        "{}",
        missing.err
    );

    let all = run(&service, &["push", "-a", "localhost:5000/mirror/alpine"]).await;
    assert_eq!(all.status, ExitStatus::Success, "{}", all.err);
    let text = all.text();
    assert!(text.starts_with("The push refers to repository [localhost:5000/mirror/alpine]\n"));
    assert!(text.contains("\n3.20: digest: sha256:"), "{text}");
    assert!(text.contains("\nstable: digest: sha256:"), "{text}");

    let quiet_all = run(
        &service,
        &["push", "-a", "-q", "localhost:5000/mirror/alpine"],
    )
    .await;
    assert_eq!(quiet_all.text(), "localhost:5000/mirror/alpine\n");

    let tagged_all = run(
        &service,
        &["push", "-a", "localhost:5000/mirror/alpine:3.20"],
    )
    .await;
    assert_eq!(tagged_all.err, "tag can't be used with --all-tags/-a\n");
}

#[tokio::test]
async fn push_with_platform_prints_dockers_note_first() {
    let service = demo();
    run(&service, &["tag", "alpine:3.20", "localhost:5000/a:1"]).await;
    let output = run(
        &service,
        &["push", "--platform", "linux/amd64", "localhost:5000/a:1"],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert!(
        output.text().starts_with(
            "\n Info -> Using --platform pushes only the specified platform manifest of a multi-platform image index.\n\
             \x20        Other components, like attestations, will not be included.\n\
             \x20        To push the complete multi-platform image, remove the --platform flag.\n\
             \x20        \n\
             The push refers to repository [localhost:5000/a]\n"
        ),
        "{:?}",
        output.text()
    );

    let bad = run(
        &service,
        &["push", "--platform", "linux", "localhost:5000/a:1"],
    )
    .await;
    assert_eq!(bad.status, ExitStatus::Failure);
    assert!(
        bad.err
            .starts_with("Invalid platform linux\"linux\": unknown operating system"),
        "{}",
        bad.err
    );
}

#[tokio::test]
async fn push_to_a_registry_that_wants_credentials_fails() {
    let service = demo();
    service.registry_require_auth("localhost:5000", "user", "secret");
    run(
        &service,
        &["tag", "alpine:3.20", "localhost:5000/private/alpine:1"],
    )
    .await;
    let output = run(&service, &["push", "localhost:5000/private/alpine:1"]).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(output.text(), "");
    assert_eq!(
        output.err,
        "Error response from daemon: unauthorized by registry localhost:5000: authentication required\n"
    );
}

fn layer(id: &str, status: &str) -> ProgressEvent {
    ProgressEvent::Layer(LayerProgress {
        id: id.into(),
        status: status.into(),
        current: None,
        total: None,
    })
}

#[tokio::test]
async fn push_refused_mid_stream_prints_the_registrys_message_as_docker_does() {
    let mut service = MockImageService::new();
    service
        .expect_push()
        .withf(|options| options.reference == "localhost:5000/app:1" && !options.all_tags)
        .returning(|_| {
            let events = vec![
                Ok(ProgressEvent::Message {
                    text: "The push refers to repository [localhost:5000/app]".into(),
                }),
                Ok(layer("0123456789ab", "Preparing")),
                Err(ImageError::Unauthorized {
                    kind: AuthFailure::Unauthorized,
                    registry: "localhost:5000".into(),
                    message: "no basic auth credentials".into(),
                }),
            ];
            Ok(futures::stream::iter(events).boxed())
        });
    let output = run(&service, &["push", "localhost:5000/app:1"]).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.text(),
        "The push refers to repository [localhost:5000/app]\n0123456789ab: Preparing\n"
    );
    assert_eq!(output.err, "no basic auth credentials\n");

    let mut refused = MockImageService::new();
    refused.expect_push().returning(|_| {
        Err(ImageError::Unauthorized {
            kind: AuthFailure::Denied,
            registry: "docker.io".into(),
            message: "requested access to the resource is denied".into(),
        })
    });
    let output = run(&refused, &["push", "-q", "someone/app:1"]).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(output.text(), "");
    assert_eq!(
        output.err,
        "Error response from daemon: denied by registry docker.io: requested access to the resource is denied\n"
    );
}

#[tokio::test]
async fn a_stream_without_its_end_is_a_failure() {
    let mut service = MockImageService::new();
    service.expect_pull().returning(|_| {
        Ok(futures::stream::iter(vec![Ok(layer("latest", "Pulling from library/x"))]).boxed())
    });
    let output = run(&service, &["pull", "x:latest"]).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(output.text(), "latest: Pulling from library/x\n");
    assert_eq!(
        output.err,
        "Error response from daemon: the progress stream ended without reporting success\n"
    );
}

// ---------------------------------------------------------------- build

fn context(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.write(
        "Dockerfile",
        "FROM scratch\nCOPY hello.txt /app/\nLABEL org.example.role=demo\n",
    );
    dir.write("hello.txt", "hello\n");
    dir
}

#[tokio::test]
async fn build_from_a_directory_prints_the_classic_builders_output() {
    let service = demo();
    let dir = context("dir");
    let output = run(
        &service,
        &[
            "build",
            "-t",
            "demo:1",
            "--label",
            "team=payments",
            dir.arg(),
        ],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let text = output.text();
    // Two files of one block each, their headers and the closing blocks.
    assert!(
        text.starts_with("Sending build context to Docker daemon  3.072kB\r\r\n"),
        "{text:?}"
    );
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines[0], "Step 1/4 : FROM scratch");
    assert_eq!(lines[1], " ---> ");
    assert_eq!(lines[2], "Step 2/4 : COPY hello.txt /app/");
    assert!(lines[3].starts_with(" ---> "), "{}", lines[3]);
    assert_eq!(lines[4], "Step 3/4 : LABEL org.example.role=demo");
    assert_eq!(lines[6], "Step 4/4 : LABEL team=payments");
    let short = lines[7].strip_prefix(" ---> ").unwrap();
    assert_eq!(lines[8], format!("Successfully built {short}"));
    assert_eq!(lines[9], "Successfully tagged demo:1");
    assert_eq!(lines.len(), 10, "{text}");
    assert!(!text.contains('\x1b'));

    let inspect = run(
        &service,
        &[
            "inspect",
            "--format",
            "{{.Id}} {{.Config.Labels}}",
            "demo:1",
        ],
    )
    .await;
    let inspected = inspect.text();
    assert!(
        inspected.starts_with(&format!("sha256:{short}")),
        "{inspected}"
    );
    assert!(
        inspected.ends_with(" map[org.example.role:demo team:payments]\n"),
        "{inspected}"
    );
}

#[tokio::test]
async fn build_quiet_prints_only_the_image_id() {
    let service = demo();
    let dir = context("quiet");
    let output = run(&service, &["build", "-q", "-t", "demo:quiet", dir.arg()]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let text = output.text();
    let id = text.strip_suffix('\n').unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{text:?}");
    let inspect = run(&service, &["inspect", "--format", "{{.Id}}", "demo:quiet"]).await;
    assert_eq!(inspect.text(), text);
}

#[tokio::test]
async fn build_reads_a_dockerfile_or_a_tar_from_stdin() {
    let service = demo();
    let dockerfile =
        b"FROM scratch\nARG GREETING=hi\nARG HOME\nLABEL greeting=$GREETING home=$HOME\n";
    let output = run_io(
        &service,
        &[
            "build",
            "--build-arg",
            "GREETING=hello",
            "--build-arg",
            "HOME",
            "--build-arg",
            "IMGCTL_SURELY_UNSET_VARIABLE",
            "-t",
            "from-stdin",
            "-",
        ],
        dockerfile,
        false,
    )
    .await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert!(
        output.text().starts_with(
            "Sending build context to Docker daemon  2.048kB\r\r\nStep 1/4 : FROM scratch\n"
        ),
        "{:?}",
        output.text()
    );
    let labels = run(
        &service,
        &[
            "inspect",
            "--format",
            "{{index .Config.Labels \"greeting\"}} {{index .Config.Labels \"home\"}}",
            "from-stdin",
        ],
    )
    .await;
    // `--build-arg HOME` takes the value of HOME here.
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(labels.text(), format!("hello {home}\n"));

    // A tar on stdin is the whole context.
    let dir = context("tar");
    let tar = image_core::build_context::pack_directory(dir.path(), None).unwrap();
    let from_tar = run_io(
        &service,
        &["build", "-q", "-t", "from-tar", "-"],
        &tar,
        false,
    )
    .await;
    assert_eq!(from_tar.status, ExitStatus::Success, "{}", from_tar.err);
    assert!(from_tar.text().starts_with("sha256:"));
    let copied = run(
        &service,
        &["inspect", "--format", "{{.Config.Labels}}", "from-tar"],
    )
    .await;
    assert_eq!(copied.text(), "map[org.example.role:demo]\n");
}

#[tokio::test]
async fn build_takes_the_dockerfile_from_f_relative_to_the_current_directory() {
    let service = demo();
    let dir = context("file");
    let other = TempDir::new("outside");
    let outside = other.write("Build.dockerfile", "FROM scratch\nLABEL from=outside\n");
    let output = run(
        &service,
        &[
            "build",
            "-q",
            "-f",
            outside.to_str().unwrap(),
            "-t",
            "outside:1",
            dir.arg(),
        ],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    let labels = run(
        &service,
        &["inspect", "--format", "{{.Config.Labels}}", "outside:1"],
    )
    .await;
    assert_eq!(labels.text(), "map[from:outside]\n");

    let stdin = run_io(
        &service,
        &["build", "-q", "-f", "-", "-t", "stdin-file:1", dir.arg()],
        b"FROM scratch\nCOPY hello.txt /\nLABEL from=stdin\n",
        false,
    )
    .await;
    assert_eq!(stdin.status, ExitStatus::Success, "{}", stdin.err);
}

#[tokio::test]
async fn build_failures_use_dockers_words() {
    let service = demo();
    let missing = run(&service, &["build", "/nonexistent/imgctl-context"]).await;
    assert_eq!(missing.status, ExitStatus::Failure);
    assert_eq!(
        missing.err,
        "unable to prepare context: path \"/nonexistent/imgctl-context\" not found\n"
    );

    let dir = TempDir::new("nodockerfile");
    let no_dockerfile = run(&service, &["build", dir.arg()]).await;
    assert_eq!(no_dockerfile.status, ExitStatus::Failure);
    assert_eq!(
        no_dockerfile.err,
        format!(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}/Dockerfile: no such file or directory\n",
            fs::canonicalize(dir.path()).unwrap().display()
        )
    );
    assert_eq!(no_dockerfile.text(), "");

    let context = context("badtag");
    let bad_tag = run(&service, &["build", "-t", "Bad:tag", context.arg()]).await;
    assert_eq!(bad_tag.status, ExitStatus::Failure);
    assert_eq!(
        bad_tag.err,
        "invalid argument \"Bad:tag\" for \"-t, --tag\" flag: invalid reference format: repository name (library/Bad) must be lowercase\n\n\
         Usage:  imgctl build [OPTIONS] PATH | -\n\n\
         Run 'imgctl build --help' for more information\n"
    );

    let run_step = TempDir::new("run");
    run_step.write("Dockerfile", "FROM scratch\nRUN true\n");
    let unsupported = run(&service, &["build", "-q", run_step.arg()]).await;
    assert_eq!(unsupported.status, ExitStatus::Failure);
    assert_eq!(unsupported.text(), "");
    assert!(
        unsupported
            .err
            .starts_with("Sending build context to Docker daemon  2.048kB\r\r\n"),
        "with -q docker shows the context line on failure: {:?}",
        unsupported.err
    );
}

// ---------------------------------------------------------------- save / load

#[tokio::test]
async fn save_to_a_file_then_load_it_into_a_fresh_engine() {
    let service = demo();
    let dir = TempDir::new("save");
    let file = dir.path().join("images.tar");
    let saved = run(
        &service,
        &[
            "save",
            "-o",
            file.to_str().unwrap(),
            "alpine:3.20",
            "nginx:1.27-alpine",
        ],
    )
    .await;
    assert_eq!(saved.status, ExitStatus::Success, "{}", saved.err);
    assert_eq!(saved.text(), "");
    assert_eq!(saved.err, "");
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["images.tar"], "no temporary file is left");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "docker writes the archive 0600");
    }

    let fresh = MemoryImageService::new();
    let loaded = run(&fresh, &["load", "-i", file.to_str().unwrap()]).await;
    assert_eq!(loaded.status, ExitStatus::Success, "{}", loaded.err);
    let mut lines: Vec<String> = loaded.text().lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "Loaded image: alpine:3.20",
            "Loaded image: nginx:1.27-alpine"
        ]
    );
    let original = run(
        &service,
        &["inspect", "--format", "{{.Id}}", "nginx:1.27-alpine"],
    )
    .await;
    let copy = run(
        &fresh,
        &["inspect", "--format", "{{.Id}}", "nginx:1.27-alpine"],
    )
    .await;
    assert_eq!(copy.text(), original.text());
}

#[tokio::test]
async fn save_to_stdout_and_load_from_stdin() {
    let service = demo();
    let saved = run(&service, &["save", "postgres:16"]).await;
    assert_eq!(saved.status, ExitStatus::Success, "{}", saved.err);
    assert!(saved.out.len() > 4_000_000, "the archive goes to stdout");

    let fresh = MemoryImageService::new();
    let loaded = run_io(&fresh, &["load", "-q"], &saved.out, false).await;
    assert_eq!(loaded.status, ExitStatus::Success, "{}", loaded.err);
    assert_eq!(loaded.text(), "Loaded image: postgres:16\n");

    // An image saved by ID loads untagged.
    let id = run(
        &service,
        &["inspect", "--format", "{{.Id}}", "debian:bookworm"],
    )
    .await;
    let id = id.text().trim().to_string();
    let by_id = run(&service, &["save", &id]).await;
    let untagged = run_io(&MemoryImageService::new(), &["load"], &by_id.out, false).await;
    assert_eq!(untagged.status, ExitStatus::Success, "{}", untagged.err);
    assert_eq!(untagged.text(), format!("Loaded image ID: {id}\n"));
}

#[tokio::test]
async fn save_refuses_a_terminal_and_bad_destinations() {
    let service = demo();
    let output = run_io(&service, &["save", "alpine:3.20"], b"", true).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert!(output.out.is_empty());
    assert_eq!(
        output.err,
        "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    );

    // With -o, a terminal does not matter.
    let dir = TempDir::new("refuse");
    let file = dir.path().join("a.tar");
    let to_file = run_io(
        &service,
        &["save", "-o", file.to_str().unwrap(), "alpine:3.20"],
        b"",
        true,
    )
    .await;
    assert_eq!(to_file.status, ExitStatus::Success, "{}", to_file.err);
    assert!(file.exists());

    let missing_dir = dir.path().join("missing").join("a.tar");
    let output = run(
        &service,
        &["save", "-o", missing_dir.to_str().unwrap(), "alpine:3.20"],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        format!(
            "failed to save image: invalid output path: stat {}: no such file or directory\n",
            dir.path().join("missing").display()
        )
    );

    let to_dir = run(&service, &["save", "-o", dir.arg(), "alpine:3.20"]).await;
    assert_eq!(
        to_dir.err,
        "failed to save image: cannot write to a directory\n"
    );

    // An image that does not exist leaves no file behind.
    let nothing = dir.path().join("nothing.tar");
    let output = run(
        &service,
        &["save", "-o", nothing.to_str().unwrap(), "nope:1"],
    )
    .await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "Error response from daemon: No such image: nope:1\n"
    );
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["a.tar"]);
}

#[tokio::test]
async fn load_reports_missing_files_and_bad_archives() {
    let service = MemoryImageService::new();
    let output = run(&service, &["load", "-i", "/nonexistent/images.tar"]).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.err,
        "open /nonexistent/images.tar: no such file or directory\n"
    );
    let garbage = run_io(&service, &["load"], b"not a tar", false).await;
    assert_eq!(garbage.status, ExitStatus::Failure);
    assert!(
        garbage.err.contains("not a docker-save archive"),
        "{}",
        garbage.err
    );
    assert_eq!(garbage.text(), "");
}

// ---------------------------------------------------------------- search

#[tokio::test]
async fn search_prints_docker_28s_table() {
    let service = demo();
    let output = run(&service, &["search", "redis"]).await;
    assert_eq!(output.status, ExitStatus::Success, "{}", output.err);
    assert_eq!(
        output.text(),
        "NAME      DESCRIPTION   STARS     OFFICIAL\nredis                   0         [OK]\n"
    );

    let all = run(
        &service,
        &["search", "--format", "{{.Name}} {{.IsOfficial}}", "a"],
    )
    .await;
    let mut lines: Vec<String> = all.text().lines().map(str::to_string).collect();
    lines.sort();
    assert!(lines.contains(&"alpine [OK]".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"registry.example.com/payments/myapp ".to_string()),
        "{lines:?}"
    );

    let json = run(&service, &["search", "--format", "json", "redis"]).await;
    assert_eq!(
        json.text(),
        "{\"Description\":\"\",\"IsOfficial\":\"true\",\"Name\":\"redis\",\"StarCount\":\"0\"}\n"
    );

    let limited = run(
        &service,
        &["search", "--limit", "1", "--format", "{{.Name}}", "a"],
    )
    .await;
    assert_eq!(limited.text().lines().count(), 1);

    let official = run(
        &service,
        &[
            "search",
            "-f",
            "is-official=true",
            "--format",
            "{{.Name}}",
            "myapp",
        ],
    )
    .await;
    assert_eq!(official.status, ExitStatus::Success, "{}", official.err);
    assert_eq!(official.text(), "");

    let automated = run(
        &service,
        &["search", "--filter", "is-automated=true", "redis"],
    )
    .await;
    assert_eq!(automated.status, ExitStatus::Success);
    assert_eq!(
        automated.text(),
        "NAME      DESCRIPTION   STARS     OFFICIAL\n"
    );
    assert_eq!(
        automated.err,
        "WARNING: the \"is-automated\" filter is deprecated, and searching for \"is-automated=true\" will not yield any results in future.\n"
    );
}

#[tokio::test]
async fn search_reports_bad_filters_and_limits_like_the_engine() {
    let service = demo();
    let bogus = run(&service, &["search", "-f", "bogus=1", "redis"]).await;
    assert_eq!(bogus.status, ExitStatus::Failure);
    assert_eq!(
        bogus.err,
        "Error response from daemon: invalid filter 'bogus'\n"
    );

    let stars = run(&service, &["search", "-f", "stars=many", "redis"]).await;
    assert_eq!(
        stars.err,
        "Error response from daemon: invalid filter 'stars=many': strconv.Atoi: parsing \"many\": invalid syntax\n"
    );

    let limit = run(&service, &["search", "--limit", "101", "redis"]).await;
    assert_eq!(limit.status, ExitStatus::Failure);
    assert_eq!(
        limit.err,
        "Error response from daemon: limit 101 is outside the range of [1, 100]\n"
    );

    let format = run(
        &service,
        &["search", "--format", "{{.IsAutomated}}", "redis"],
    )
    .await;
    assert_eq!(format.status, ExitStatus::Failure);
    assert!(format.err.contains("IsAutomated"), "{}", format.err);
}

#[tokio::test]
async fn search_truncates_long_descriptions_unless_told_not_to() {
    let mut service = MockImageService::new();
    service.expect_search().returning(|_, _| {
        Ok(vec![image_core::SearchResult {
            name: "acme/tool".into(),
            description: "A very long description that goes on\nand on past forty-five columns"
                .into(),
            star_count: 42,
            is_official: false,
            is_automated: false,
        }])
    });
    let output = run(&service, &["search", "acme"]).await;
    assert_eq!(
        output.text(),
        "NAME        DESCRIPTION                                     STARS     OFFICIAL\n\
         acme/tool   A very long description that goes on and on …   42        \n"
    );
    let full = run(
        &service,
        &[
            "search",
            "--no-trunc",
            "--format",
            "{{.Description}}",
            "acme",
        ],
    )
    .await;
    assert_eq!(
        full.text(),
        "A very long description that goes on and on past forty-five columns\n"
    );
}

fn failing_build() -> MockImageService {
    let mut service = MockImageService::new();
    service.expect_build().returning(|_, options| {
        assert_eq!(options.dockerfile.as_deref(), Some("Dockerfile"));
        let events = vec![
            Ok(ProgressEvent::Message {
                text: "Step 1/2 : FROM scratch".into(),
            }),
            Ok(ProgressEvent::Message {
                text: " ---> ".into(),
            }),
            Ok(ProgressEvent::Message {
                text: "Step 2/2 : COPY nope /".into(),
            }),
            Err(ImageError::backend(
                "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist",
                std::io::Error::other("the engine reported it"),
            )),
        ];
        Ok(futures::stream::iter(events).boxed())
    });
    service
}

#[tokio::test]
async fn a_build_failing_mid_stream_prints_the_engines_message_as_docker_does() {
    let dir = TempDir::new("failing");
    dir.write("Dockerfile", "FROM scratch\nCOPY nope /\n");
    let service = failing_build();
    let output = run(&service, &["build", dir.arg()]).await;
    assert_eq!(output.status, ExitStatus::Failure);
    assert_eq!(
        output.text(),
        "Sending build context to Docker daemon  2.048kB\r\r\n\
         Step 1/2 : FROM scratch\n ---> \nStep 2/2 : COPY nope /\n"
    );
    assert_eq!(
        output.err,
        "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist\n"
    );

    // With -q the held-back output goes to stderr, before the error.
    let service = failing_build();
    let quiet = run(&service, &["build", "-q", dir.arg()]).await;
    assert_eq!(quiet.status, ExitStatus::Failure);
    assert_eq!(quiet.text(), "");
    assert_eq!(
        quiet.err,
        "Sending build context to Docker daemon  2.048kB\r\r\n\
         Step 1/2 : FROM scratch\n ---> \nStep 2/2 : COPY nope /\n\
         COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist\n"
    );
}
