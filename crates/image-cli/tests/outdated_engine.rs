//! `imgctl image outdated` on both private engines, through the open
//! registry: a tag is pulled (so it has a repo digest), a different image
//! is pushed to the same tag, and `outdated` reports `update available`
//! with both digests (as `docker inspect` and the push recorded them);
//! after pulling again it reports `up to date`.
//!
//! The images are fixtures loaded with `docker load`, in the repository
//! `REGISTRY/imgctl-outdated-<engine>`; everything is removed again at the
//! end, even when the test fails. Without the engines' environment the
//! tests print a `SKIP` line (see `support`).

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use image_core::archive::{ArchiveImage, FixtureImage, write_archive};
use serde_json::{Value, json};
use support::EngineEnv;

#[test]
fn outdated_on_engine_a() {
    outdated("A");
}

#[test]
fn outdated_on_engine_b() {
    outdated("B");
}

/// What one command printed and exited with.
struct Run {
    out: String,
    err: String,
    code: i32,
}

/// One engine, its scratch directory, and what the test made there.
struct Scene {
    env: EngineEnv,
    scratch: PathBuf,
    /// A copy of the `imgctl` binary, safe from concurrent rebuilds.
    imgctl: PathBuf,
    /// The repository in the open registry.
    repository: String,
    /// The fixtures' image IDs.
    ids: Vec<String>,
}

impl Scene {
    fn command(&self, program: &str, args: &[&str]) -> Run {
        let output = Command::new(program)
            .arg("-H")
            .arg(&self.env.host)
            .args(args)
            .env("DOCKER_CONFIG", &self.env.docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"));
        Run {
            out: String::from_utf8_lossy(&output.stdout).into_owned(),
            err: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code().unwrap_or(-1),
        }
    }

    /// Runs docker and panics when it fails.
    fn docker(&self, args: &[&str]) -> String {
        let run = self.command(&self.env.docker_cli, args);
        assert_eq!(
            run.code, 0,
            "engine {}: docker {args:?} failed:\n{}{}",
            self.env.name, run.out, run.err
        );
        run.out
    }

    /// Runs imgctl and panics when it fails.
    fn imgctl(&self, args: &[&str]) -> String {
        let run = self.command(self.imgctl.to_str().unwrap(), args);
        assert_eq!(
            run.code, 0,
            "engine {}: imgctl {args:?} failed:\n{}{}",
            self.env.name, run.out, run.err
        );
        run.out
    }

    /// `imgctl image outdated --json ARGS`, parsed.
    fn outdated_json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["image", "outdated", "--json"];
        all.extend_from_slice(args);
        let out = self.imgctl(&all);
        match serde_json::from_str(&out) {
            Ok(Value::Array(rows)) => rows,
            other => panic!(
                "engine {}: not a JSON array: {other:?}\n{out}",
                self.env.name
            ),
        }
    }

    /// The repo digest (`sha256:...`) image `id` has for the repository.
    fn repo_digest(&self, id: &str) -> String {
        let out = self.docker(&[
            "image",
            "inspect",
            "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            id,
        ]);
        let prefix = format!("{}@", self.repository);
        out.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{id} has no repo digest for {prefix}: {out}"))
            .to_string()
    }

    /// Removes the fixtures (and so every tag of the repository).
    fn clean(&self) {
        let tagged = self.command(
            &self.env.docker_cli,
            &[
                "images",
                "-q",
                "--no-trunc",
                "--filter",
                &format!("reference={}", self.repository),
            ],
        );
        let mut ids: Vec<String> = tagged.out.lines().map(str::to_string).collect();
        ids.extend(self.ids.iter().cloned());
        ids.sort();
        ids.dedup();
        let mut args = vec!["rmi", "-f"];
        args.extend(ids.iter().map(String::as_str));
        let _ = self.command(&self.env.docker_cli, &args);
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        self.clean();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn fixtures(repository: &str, engine: &str) -> (ArchiveImage, ArchiveImage) {
    let first = FixtureImage::new("imgctl-outdated-first")
        .layer_with_file(
            "outdated/first.txt",
            format!("first on {engine}\n").as_bytes(),
        )
        .label("imgctl.outdated", "first")
        .tag(&format!("{repository}:v1"))
        .build()
        .unwrap();
    let second = FixtureImage::new("imgctl-outdated-second")
        .layer_with_file(
            "outdated/second.txt",
            format!("second on {engine}\n").as_bytes(),
        )
        .label("imgctl.outdated", "second")
        .tag(&format!("{repository}:next"))
        .build()
        .unwrap();
    (first, second)
}

fn outdated(name: &'static str) {
    let Some(env) = support::engine(name, "image outdated") else {
        return;
    };
    let engine = name.to_lowercase();
    let scratch =
        std::env::temp_dir().join(format!("imgctl-outdated-{engine}-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let imgctl = scratch.join("imgctl");
    std::fs::copy(env!("CARGO_BIN_EXE_imgctl"), &imgctl).unwrap();
    let repository = format!("{}/imgctl-outdated-{engine}", env.registry_open);
    let (first, second) = fixtures(&repository, &engine);
    let scene = Scene {
        env,
        scratch,
        imgctl,
        repository,
        ids: vec![first.id(), second.id()],
    };
    scene.clean();
    let archive = scene.scratch.join("fixtures.tar");
    std::fs::write(
        &archive,
        write_archive(&[first.clone(), second.clone()]).unwrap(),
    )
    .unwrap();
    scene.docker(&["load", "-q", "-i", archive.to_str().unwrap()]);

    // Pulled from the registry: v1 has a repo digest.
    let v1 = format!("{}:v1", scene.repository);
    let next = format!("{}:next", scene.repository);
    scene.docker(&["push", "-q", &v1]);
    scene.docker(&["rmi", &v1]);
    scene.docker(&["pull", "-q", &v1]);
    let pulled = scene.repo_digest(&first.id());
    let rows = scene.outdated_json(&[&v1]);
    assert_eq!(
        rows,
        vec![json!({
            "image": v1,
            "status": "up_to_date",
            "local_digest": pulled,
            "registry_digest": pulled,
            "reason": null,
        })],
        "engine {name}: right after the pull"
    );

    // Someone pushes another image to v1; the local v1 stays the first.
    scene.docker(&["tag", &next, &v1]);
    scene.docker(&["push", "-q", &v1]);
    scene.docker(&["tag", &first.id(), &v1]);
    let pushed = scene.repo_digest(&second.id());
    assert_ne!(pulled, pushed);
    let rows = scene.outdated_json(&[&v1]);
    assert_eq!(
        rows,
        vec![json!({
            "image": v1,
            "status": "update_available",
            "local_digest": pulled,
            "registry_digest": pushed,
            "reason": null,
        })],
        "engine {name}: after the push"
    );
    let table = scene.imgctl(&["image", "outdated", "--no-trunc", &v1]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        vec![
            v1.as_str(),
            "update",
            "available",
            pulled.as_str(),
            pushed.as_str()
        ],
        "engine {name}:\n{table}"
    );
    assert_eq!(
        scene.imgctl(&["image", "outdated", "-q", &v1]),
        format!("{v1}\n")
    );
    // Without arguments the tag is among the images checked (the engine
    // may hold other people's images too).
    let all = scene.outdated_json(&[]);
    let ours: Vec<&Value> = all
        .iter()
        .filter(|row| row["image"] == v1.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "engine {name}: {all:?}");
    assert_eq!(ours[0]["status"], "update_available");

    // Pulled again: up to date.
    scene.docker(&["pull", "-q", &v1]);
    let rows = scene.outdated_json(&[&v1]);
    assert_eq!(
        rows,
        vec![json!({
            "image": v1,
            "status": "up_to_date",
            "local_digest": pushed,
            "registry_digest": pushed,
            "reason": null,
        })],
        "engine {name}: after pulling again"
    );
    assert_eq!(scene.imgctl(&["image", "outdated", "-q", &v1]), "");

    // A tag the registry never had, in the same repository.
    let local = format!("{}:local-only", scene.repository);
    scene.docker(&["tag", &v1, &local]);
    let rows = scene.outdated_json(&[&local]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "unknown", "engine {name}: {rows:?}");
    assert_eq!(rows[0]["reason"], "the registry has no such tag");
}
