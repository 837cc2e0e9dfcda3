//! Real-engine tests beyond the shared conformance suite: registries with
//! and without credentials, a registry that dies mid-pull, an engine that is
//! not running, builds from a directory, save/load, and concurrency. Each
//! runs on both private engines.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use image_core::archive::{FixtureImage, write_archive};
use image_core::{
    BuildContext, BuildOptions, ErrorKind, ImageError, ImageService, ImageServiceExt, ListOptions,
    ProgressEvent, PullOptions, PushOptions, RegistryAuth, RemoveOptions,
};
use image_docker::{ConnectOptions, DockerImageService};
use support::EngineEnv;

static ENGINE_A: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static ENGINE_B: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn lock(name: &str) -> &'static tokio::sync::Mutex<()> {
    if name == "A" { &ENGINE_A } else { &ENGINE_B }
}

fn scratch_dir(test: &str, engine: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "imgctl-engine-{test}-{engine}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn remove_quietly(service: &DockerImageService, names: &[String]) {
    for name in names {
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
}

/// Collects a progress stream: layer IDs seen, and the end.
async fn drain(
    mut stream: image_core::ProgressStream,
) -> (BTreeSet<String>, Result<image_core::Completion, ImageError>) {
    let mut layers = BTreeSet::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(ProgressEvent::Layer(layer)) => {
                layers.insert(layer.id);
            }
            Ok(ProgressEvent::Done(done)) => return (layers, Ok(done)),
            Ok(ProgressEvent::Message { .. }) => {}
            Err(error) => return (layers, Err(error)),
        }
    }
    (
        layers,
        Err(ImageError::invalid_argument(
            "the stream ended without Done",
        )),
    )
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod engine_a { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("A").await } )* }
        mod engine_b { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("B").await } )* }
    };
}

on_both_engines!(
    push_and_pull_through_both_registries,
    wrong_password_is_unauthorized_and_leaves_nothing,
    credentials_come_from_the_docker_config,
    registry_dying_mid_pull_is_an_error_and_tags_nothing,
    build_from_a_directory_honours_dockerignore_args_and_labels,
    save_and_load_keep_tags,
    concurrent_reads_during_a_pull,
    reports_its_api_version,
    dry_run_prune_plans_what_prune_does,
);

async fn setup(
    engine: &'static str,
    test: &str,
) -> Option<(
    EngineEnv,
    DockerImageService,
    tokio::sync::MutexGuard<'static, ()>,
)> {
    let env = support::engine(engine, test)?;
    let guard = lock(engine).lock().await;
    let service = env.service().await;
    Some((env, service, guard))
}

fn payload_image(test: &str, engine: &str, tag: &str) -> image_core::archive::ArchiveImage {
    FixtureImage::new(&format!("{test}-{engine}"))
        .layer_with_file("payload.bin", &vec![7u8; 300_000])
        .layer_with_file("second.txt", format!("{test} {engine}\n").as_bytes())
        .tag(tag)
        .build()
        .unwrap()
}

async fn push_and_pull_through_both_registries(engine: &'static str) {
    let Some((env, service, _guard)) = setup(engine, "push_and_pull").await else {
        return;
    };
    let auth = RegistryAuth {
        username: env.registry_user.clone(),
        password: env.registry_password.clone(),
        identity_token: None,
        server_address: env.registry_auth.clone(),
    };
    for (registry, credentials) in [(&env.registry_open, None), (&env.registry_auth, Some(auth))] {
        let name = format!(
            "{registry}/imgctl-engine/pushpull-{}",
            engine.to_lowercase()
        );
        let image = payload_image("pushpull", engine, &format!("{name}:v1"));
        service
            .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
            .await
            .unwrap();

        let push = service
            .push(&PushOptions {
                reference: format!("{name}:v1"),
                auth: credentials.clone(),
                ..PushOptions::default()
            })
            .await
            .unwrap();
        let (layers, done) = drain(push).await;
        let pushed = done.unwrap_or_else(|e| panic!("push to {registry}: {e}"));
        assert!(
            layers.len() >= 2,
            "per-layer push progress from {registry}: {layers:?}"
        );
        let digest = pushed.digest.clone().unwrap();
        // The registry now answers the tag with the pushed digest, and has
        // no such tag as `v404`.
        assert_eq!(
            service
                .registry_digest(&format!("{name}:v1"), credentials.clone())
                .await
                .unwrap(),
            Some(digest.clone())
        );
        assert_eq!(
            service
                .registry_digest(&format!("{name}:v404"), credentials.clone())
                .await
                .unwrap(),
            None
        );

        service
            .remove(
                &format!("{name}:v1"),
                &RemoveOptions {
                    force: true,
                    no_prune: false,
                },
            )
            .await
            .unwrap();
        assert!(!service.exists(&image.id()).await.unwrap());

        let pull = service
            .pull(&PullOptions {
                reference: format!("{name}:v1"),
                auth: credentials.clone(),
                ..PullOptions::default()
            })
            .await
            .unwrap();
        let (layers, done) = drain(pull).await;
        let pulled = done.unwrap_or_else(|e| panic!("pull from {registry}: {e}"));
        assert!(
            layers.len() >= 2,
            "per-layer pull progress from {registry}: {layers:?}"
        );
        assert_eq!(pulled.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(pulled.image_id.as_deref(), Some(image.id().as_str()));
        remove_quietly(&service, &[format!("{name}:v1")]).await;
    }
}

async fn wrong_password_is_unauthorized_and_leaves_nothing(engine: &'static str) {
    let Some((env, service, _guard)) = setup(engine, "wrong_password").await else {
        return;
    };
    let name = format!(
        "{}/imgctl-engine/secret-{}",
        env.registry_auth,
        engine.to_lowercase()
    );
    let wrong = RegistryAuth {
        username: env.registry_user.clone(),
        password: format!("{}-wrong", env.registry_password),
        identity_token: None,
        server_address: env.registry_auth.clone(),
    };
    let image = payload_image("wrongpass", engine, &format!("{name}:v1"));
    service
        .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
        .await
        .unwrap();

    let push = service
        .push(&PushOptions {
            reference: format!("{name}:v1"),
            auth: Some(wrong.clone()),
            ..PushOptions::default()
        })
        .await;
    let error = match push {
        Ok(stream) => drain(stream).await.1.unwrap_err(),
        Err(error) => error,
    };
    assert_eq!(
        error.kind(),
        ErrorKind::Unauthorized,
        "push with a wrong password: {error}"
    );

    service
        .remove(
            &format!("{name}:v1"),
            &RemoveOptions {
                force: true,
                no_prune: false,
            },
        )
        .await
        .unwrap();
    let pull = service
        .pull(&PullOptions {
            reference: format!("{name}:v1"),
            auth: Some(wrong),
            ..PullOptions::default()
        })
        .await;
    let error = match pull {
        Ok(stream) => drain(stream).await.1.unwrap_err(),
        Err(error) => error,
    };
    assert_eq!(
        error.kind(),
        ErrorKind::Unauthorized,
        "pull with a wrong password: {error}"
    );
    assert!(
        !service.exists(&format!("{name}:v1")).await.unwrap(),
        "nothing is left behind"
    );
    assert!(
        !service.exists(&image.id()).await.unwrap(),
        "no image is left behind"
    );
}

async fn credentials_come_from_the_docker_config(engine: &'static str) {
    let Some((env, _service, _guard)) = setup(engine, "docker_config").await else {
        return;
    };
    use base64::Engine as _;
    let config_dir = scratch_dir("docker-config", engine);
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", env.registry_user, env.registry_password));
    std::fs::write(
        config_dir.join("config.json"),
        serde_json::json!({ "auths": { env.registry_auth.clone(): { "auth": encoded } } })
            .to_string(),
    )
    .unwrap();
    let options = ConnectOptions::from_values(
        Some(env.host.clone()),
        false,
        None,
        Some(config_dir.clone()),
        None,
    )
    .unwrap();
    let service = DockerImageService::connect(options).await.unwrap();
    let name = format!(
        "{}/imgctl-engine/fromconfig-{}",
        env.registry_auth,
        engine.to_lowercase()
    );
    let image = payload_image("fromconfig", engine, &format!("{name}:v1"));
    service
        .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
        .await
        .unwrap();
    let completion = service
        .push_to_end(&PushOptions {
            reference: format!("{name}:v1"),
            ..PushOptions::default()
        })
        .await
        .unwrap_or_else(|e| panic!("push with credentials from config.json: {e}"));
    assert!(completion.digest.is_some());
    remove_quietly(&service, &[format!("{name}:v1")]).await;
    let _ = std::fs::remove_dir_all(config_dir);
}

/// A registry of the test's own, killed in the middle of a pull.
async fn registry_dying_mid_pull_is_an_error_and_tags_nothing(engine: &'static str) {
    let Some((env, service, _guard)) = setup(engine, "registry_dies").await else {
        return;
    };
    let dir = scratch_dir("registry", engine);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut registry = tokio::process::Command::new(&env.registry_bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let name = format!(
        "127.0.0.1:{port}/imgctl-engine/dies-{}",
        engine.to_lowercase()
    );
    // Several large layers, so the pull is still running when the registry dies.
    let mut fixture = FixtureImage::new(&format!("dies-{engine}"));
    for i in 0..6u8 {
        let content: Vec<u8> = (0..8_000_000u32)
            .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i)
            .collect();
        fixture = fixture.layer_with_file(&format!("layer{i}.bin"), &content);
    }
    let image = fixture.tag(&format!("{name}:v1")).build().unwrap();
    service
        .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
        .await
        .unwrap();
    service
        .push_to_end(&PushOptions {
            reference: format!("{name}:v1"),
            ..PushOptions::default()
        })
        .await
        .unwrap();
    service
        .remove(
            &format!("{name}:v1"),
            &RemoveOptions {
                force: true,
                no_prune: false,
            },
        )
        .await
        .unwrap();

    let mut pull = service
        .pull(&PullOptions {
            reference: format!("{name}:v1"),
            ..PullOptions::default()
        })
        .await
        .unwrap();
    let mut killed = false;
    let mut outcome = None;
    while let Some(event) = pull.next().await {
        match event {
            Ok(ProgressEvent::Layer(layer))
                if !killed
                    && (layer.status == "Downloading" || layer.status == "Pulling fs layer") =>
            {
                registry.kill().await.unwrap();
                killed = true;
            }
            Ok(ProgressEvent::Done(done)) => outcome = Some(Ok(done)),
            Ok(_) => {}
            Err(error) => {
                outcome = Some(Err(error));
                break;
            }
        }
    }
    assert!(killed, "the pull never started downloading");
    match outcome {
        Some(Err(error)) => assert!(
            matches!(
                error.kind(),
                ErrorKind::Registry | ErrorKind::NotFound | ErrorKind::Backend
            ),
            "a dead registry is a registry error: {error}"
        ),
        other => panic!("a pull from a registry that died must fail, got {other:?}"),
    }
    assert!(
        !service.exists(&format!("{name}:v1")).await.unwrap(),
        "no tag appears"
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn build_from_a_directory_honours_dockerignore_args_and_labels(engine: &'static str) {
    let Some((_env, service, _guard)) = setup(engine, "build").await else {
        return;
    };
    let dir = scratch_dir("build", engine);
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nARG GREETING=hello\nLABEL greeting=$GREETING\nCOPY . /app/\nCMD [\"/app/run\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join(".dockerignore"), "secret.txt\n*.log\n").unwrap();
    std::fs::write(dir.join("run"), "#!/bin/true\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "do not ship").unwrap();
    std::fs::write(dir.join("debug.log"), "noise").unwrap();
    let tag = format!("imgctl-engine/build-{}:v1", engine.to_lowercase());
    let options = BuildOptions {
        tags: vec![
            tag.clone(),
            format!("imgctl-engine/build-{}:also", engine.to_lowercase()),
        ],
        build_args: [("GREETING".to_string(), "bonjour".to_string())].into(),
        labels: [("org.example.built-by".to_string(), "imgctl".to_string())].into(),
        ..BuildOptions::default()
    };
    let mut stream = service
        .build(BuildContext::Directory(dir.clone()), &options)
        .await
        .unwrap();
    let mut lines = Vec::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap_or_else(|e| panic!("build failed: {e}; output so far: {lines:#?}")) {
            ProgressEvent::Message { text } => lines.push(text),
            ProgressEvent::Done(completion) => done = Some(completion),
            ProgressEvent::Layer(_) => {}
        }
    }
    let done = done.unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("Step 1/")),
        "build output streamed: {lines:?}"
    );
    let details = service.inspect(&tag).await.unwrap();
    assert_eq!(Some(details.id.clone()), done.image_id);
    assert_eq!(
        details.config.labels.get("greeting").map(String::as_str),
        Some("bonjour")
    );
    assert_eq!(
        details
            .config
            .labels
            .get("org.example.built-by")
            .map(String::as_str),
        Some("imgctl")
    );
    assert!(details.repo_tags.contains(&format!(
        "imgctl-engine/build-{}:also",
        engine.to_lowercase()
    )));
    let saved = service
        .save_to_vec(std::slice::from_ref(&tag))
        .await
        .unwrap();
    let images = image_core::archive::read_archive(&saved).unwrap();
    let mut files = BTreeSet::new();
    for layer in &images[0].layers {
        let mut archive = tar::Archive::new(layer.as_slice());
        for entry in archive.entries().unwrap() {
            files.insert(entry.unwrap().path().unwrap().display().to_string());
        }
    }
    assert!(
        files.iter().any(|f| f.ends_with("app/run")),
        "files: {files:?}"
    );
    assert!(
        !files
            .iter()
            .any(|f| f.contains("secret.txt") || f.ends_with(".log")),
        ".dockerignore honoured: {files:?}"
    );
    remove_quietly(
        &service,
        &[
            tag,
            format!("imgctl-engine/build-{}:also", engine.to_lowercase()),
        ],
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn save_and_load_keep_tags(engine: &'static str) {
    let Some((_env, service, _guard)) = setup(engine, "save_load").await else {
        return;
    };
    let one = format!("imgctl-engine/saveload-{}:one", engine.to_lowercase());
    let two = format!("imgctl-engine/saveload-{}:two", engine.to_lowercase());
    let image = FixtureImage::new(&format!("saveload-{engine}"))
        .layer_with_file("data", b"keep my tags")
        .tag(&one)
        .tag(&two)
        .build()
        .unwrap();
    service
        .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
        .await
        .unwrap();
    let saved = service
        .save_to_vec(&[one.clone(), two.clone()])
        .await
        .unwrap();
    service
        .remove(
            &image.id(),
            &RemoveOptions {
                force: true,
                no_prune: false,
            },
        )
        .await
        .unwrap();
    let report = service.load_bytes(saved).await.unwrap();
    let loaded: BTreeSet<_> = report.loaded_tags.iter().cloned().collect();
    assert_eq!(loaded, BTreeSet::from([one.clone(), two.clone()]));
    let details = service.inspect(&one).await.unwrap();
    assert_eq!(details.id, image.id());
    assert!(details.repo_tags.contains(&two));
    let missing = service
        .save(&["imgctl-engine/no-such-image:1".to_string()])
        .await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    remove_quietly(&service, &[image.id()]).await;
}

async fn concurrent_reads_during_a_pull(engine: &'static str) {
    let Some((env, service, _guard)) = setup(engine, "concurrency").await else {
        return;
    };
    let name = format!(
        "{}/imgctl-engine/concurrent-{}",
        env.registry_open,
        engine.to_lowercase()
    );
    let image = payload_image("concurrent", engine, &format!("{name}:v1"));
    service
        .load_bytes(write_archive(std::slice::from_ref(&image)).unwrap())
        .await
        .unwrap();
    service
        .push_to_end(&PushOptions {
            reference: format!("{name}:v1"),
            ..PushOptions::default()
        })
        .await
        .unwrap();
    service
        .remove(
            &format!("{name}:v1"),
            &RemoveOptions {
                force: true,
                no_prune: false,
            },
        )
        .await
        .unwrap();
    let probe = FixtureImage::new(&format!("probe-{engine}"))
        .layer_with_file("probe", b"probe")
        .tag(&format!("imgctl-engine/probe-{}:1", engine.to_lowercase()))
        .build()
        .unwrap();
    service
        .load_bytes(write_archive(std::slice::from_ref(&probe)).unwrap())
        .await
        .unwrap();

    let puller = service.clone();
    let pull_name = format!("{name}:v1");
    let pull = tokio::spawn(async move {
        puller
            .pull_to_end(&PullOptions {
                reference: pull_name,
                ..PullOptions::default()
            })
            .await
    });
    let mut readers = Vec::new();
    for i in 0..16 {
        let service = service.clone();
        let probe_name = format!("imgctl-engine/probe-{}:1", engine.to_lowercase());
        readers.push(tokio::spawn(async move {
            if i % 2 == 0 {
                service.inspect(&probe_name).await.map(|d| d.id)
            } else {
                service
                    .list(&ListOptions::default())
                    .await
                    .map(|l| format!("{} images", l.len()))
            }
        }));
    }
    for reader in readers {
        reader.await.unwrap().unwrap();
    }
    pull.await.unwrap().unwrap();
    remove_quietly(&service, &[format!("{name}:v1"), probe.id()]).await;
}

/// Builds `dir` (classic builder, intermediate images kept) as `tag`.
async fn build_dir(service: &DockerImageService, dir: &std::path::Path, tag: &str) {
    let options = BuildOptions {
        tags: vec![tag.to_string()],
        ..BuildOptions::default()
    };
    let stream = service
        .build(BuildContext::Directory(dir.to_path_buf()), &options)
        .await
        .unwrap();
    let (_, done) = drain(stream).await;
    done.unwrap_or_else(|e| panic!("build of {tag} failed: {e}"));
}

/// A dry-run prune plans exactly what the prune then does, on images with
/// parent chains, shared layers, zero-byte layers (`RUN mkdir`) and a
/// dangling image: the same actions and the same space.
async fn dry_run_prune_plans_what_prune_does(engine: &'static str) {
    let Some((env, service, _guard)) = setup(engine, "dry_run_prune").await else {
        return;
    };
    let dir = scratch_dir("dryrun", engine);
    std::fs::copy(&env.busybox, dir.join("busybox")).unwrap();
    let label = format!("imgctl.drytest={engine}");
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nLABEL {label}\n\
             RUN [\"/bin/busybox\", \"mkdir\", \"/data\"]\nCOPY big.bin /data/big.bin\n\
             RUN [\"/bin/busybox\", \"touch\", \"/data/empty\"]\nENV STAGE=final\n\
             RUN [\"/bin/busybox\", \"true\"]\nCOPY small.txt /small.txt\nCMD [\"/bin/busybox\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("big.bin"), vec![3u8; 200_000]).unwrap();
    let repo = format!("imgctl-engine/dryrun-{}", engine.to_lowercase());
    std::fs::write(dir.join("small.txt"), "one\n").unwrap();
    build_dir(&service, &dir, &format!("{repo}:v1")).await;
    // The same tag again: the first v1 becomes dangling.
    std::fs::write(dir.join("small.txt"), "two, longer\n").unwrap();
    build_dir(&service, &dir, &format!("{repo}:v1")).await;
    std::fs::write(dir.join("small.txt"), "three\n").unwrap();
    build_dir(&service, &dir, &format!("{repo}:v2")).await;
    let filters = image_core::PruneFilters::parse([format!("label={label}")]).unwrap();
    for all in [false, true] {
        let options = image_core::PruneOptions {
            all,
            filters: filters.clone(),
            dry_run: true,
        };
        let before = service
            .list(&ListOptions {
                all: true,
                ..ListOptions::default()
            })
            .await
            .unwrap();
        let plan = service.prune(&options).await.unwrap();
        let after_plan = service
            .list(&ListOptions {
                all: true,
                ..ListOptions::default()
            })
            .await
            .unwrap();
        assert_eq!(
            before.len(),
            after_plan.len(),
            "the dry run removed nothing"
        );
        let report = service
            .prune(&image_core::PruneOptions {
                dry_run: false,
                ..options
            })
            .await
            .unwrap();
        let sorted = |actions: &[image_core::RemoveAction]| {
            let mut texts: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
            texts.sort();
            texts
        };
        assert!(
            !report.actions.is_empty() && report.space_reclaimed > 0,
            "prune (all={all}) removed something: {report:?}"
        );
        assert_eq!(sorted(&plan.actions), sorted(&report.actions), "all={all}");
        assert_eq!(plan.space_reclaimed, report.space_reclaimed, "all={all}");
    }
    remove_quietly(&service, &[format!("{repo}:v1"), format!("{repo}:v2")]).await;
    let _ = std::fs::remove_dir_all(dir);
}

async fn reports_its_api_version(engine: &'static str) {
    let Some((env, service, _guard)) = setup(engine, "api_version").await else {
        return;
    };
    let expected = std::env::var(format!("IMGCTL_ENGINE_{engine}_API")).unwrap_or_default();
    if !expected.is_empty() {
        assert_eq!(service.api_version(), expected);
    }
    assert!(
        !env.host.contains("/var/run/docker.sock"),
        "tests never use the system engine"
    );
}

/// An engine that is not running is unavailable, and the error names the socket.
#[tokio::test]
async fn a_missing_engine_is_unavailable() {
    let socket = std::env::temp_dir().join(format!("imgctl-no-engine-{}.sock", std::process::id()));
    let error = DockerImageService::connect(ConnectOptions::unix(&socket))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::EngineUnavailable, "{error}");
    let text = error.to_string();
    assert!(
        text.contains(&format!("unix://{}", socket.display())),
        "{text}"
    );
    assert!(text.contains("is the docker daemon running?"), "{text}");
}
