//! End-to-end parity with the real docker client: on both private engines,
//! `docker -H HOST ARGS` and `imgctl -H HOST ARGS` run with the same
//! arguments on the same state, and their stdout, stderr and exit codes are
//! compared.
//!
//! The state is made of fixture images loaded with `docker load` (several
//! repositories, several tags on one image, an image in two repositories, a
//! dangling image, an image pushed to the open registry and pulled back so
//! it has a repo digest, an intermediate image made by `docker commit`,
//! labels and fixed creation times) and a created container. Every
//! repository is named `imgctl-parity/...` (or `REGISTRY/imgctl-parity/...`)
//! and every image carries the label `imgctl.parity=1`, so the listings are
//! scoped with `--filter label=imgctl.parity=1` or
//! `--filter reference=imgctl-parity/*` and ignore the rest of the engine
//! (but for a plain `images` and `image ls -q`, compared as sorted lines).
//! Everything is removed again at the end, even when the test fails.
//!
//! Known, intended differences are asserted as such (see [`Outcome::Intended`]):
//!
//! 1. `.Containers`: docker prints `N/A` (it does not ask the engine for
//!    container counts), imgctl prints the real count.
//! 2. The full `inspect` JSON has fewer fields in imgctl: only the fields
//!    imgctl has are compared.
//! 3. An image in several repositories: docker orders its rows by a Go map
//!    (randomly), so such outputs are compared as sorted lines.
//! 4. `label=KEY!=VALUE`: imgctl's filters follow the containerd image
//!    store (docker 29's default), which reads it as `label!=KEY=VALUE`;
//!    these engines (graphdriver store) look for a label named `KEY!` and
//!    list nothing.
//! 5. API 1.41's wording of some errors (`Invalid filter '...'`, `no such
//!    image: NAME: No such image: NAME` from `image inspect`, `repository
//!    name must be lowercase` without the name): imgctl words errors the
//!    same way on every engine, as engines since API 1.42 do.
//! 6. Usage errors: docker prints `Run '... --help'` after a `requires at
//!    most N arguments` error as `SRun` (a stray character in docker's
//!    format string); imgctl prints `Run`.
//!
//! The CREATED column depends on "now": both commands run back to back, and
//! a mismatch is retried once.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use image_core::archive::{ArchiveImage, FixtureImage, write_archive};
use serde_json::Value;
use support::EngineEnv;

static ENGINE_A: Mutex<()> = Mutex::new(());
static ENGINE_B: Mutex<()> = Mutex::new(());

/// The label every image of this file carries.
const LABEL: &str = "label=imgctl.parity=1";
/// The reference filter of the local repositories of this file.
const REFERENCE: &str = "reference=imgctl-parity/*";

#[test]
fn parity_on_engine_a() {
    parity("A");
}

#[test]
fn parity_on_engine_b() {
    parity("B");
}

/// What one command printed and exited with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    out: String,
    err: String,
    code: i32,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.out, self.err
        )
    }
}

/// How a comparison came out.
enum Outcome {
    /// Byte for byte the same.
    Equal,
    /// Different in a known, intended way (described).
    Intended(String),
}

/// One engine, its scratch directory and the two tools.
struct Engine {
    env: EngineEnv,
    scratch: PathBuf,
    /// A copy of the `imgctl` binary, safe from concurrent rebuilds.
    imgctl: PathBuf,
    /// The fixtures, by short name.
    fixtures: BTreeMap<&'static str, ArchiveImage>,
}

impl Engine {
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

    fn docker(&self, args: &[&str]) -> Run {
        self.command(&self.env.docker_cli, args)
    }

    fn imgctl(&self, args: &[&str]) -> Run {
        self.command(self.imgctl.to_str().unwrap(), args)
    }

    /// Runs docker for the set-up and panics when it fails.
    fn docker_ok(&self, args: &[&str]) -> String {
        let run = self.docker(args);
        assert_eq!(
            run.code, 0,
            "engine {}: docker {args:?} failed:\n{run}",
            self.env.name
        );
        run.out
    }

    /// Loads fixtures with `docker load -i FILE`.
    fn load(&self, names: &[&str]) {
        let images: Vec<ArchiveImage> = names.iter().map(|n| self.fixtures[n].clone()).collect();
        let path = self.scratch.join(format!("{}.tar", names.join("-")));
        std::fs::write(&path, write_archive(&images).unwrap()).unwrap();
        self.docker_ok(&["load", "-q", "-i", path.to_str().unwrap()]);
    }

    fn id(&self, name: &str) -> String {
        self.fixtures[name].id()
    }

    fn short_id(&self, name: &str) -> String {
        self.id(name)["sha256:".len().."sha256:".len() + 12].to_string()
    }

    fn container(&self, role: &str) -> String {
        format!("imgctl-parity-{role}-{}", self.env.name.to_lowercase())
    }

    /// The pushed repository, in the open registry.
    fn pushed(&self) -> String {
        format!(
            "{}/imgctl-parity/pushed-{}",
            self.env.registry_open,
            self.env.name.to_lowercase()
        )
    }

    /// Removes every container and image of this file from the engine.
    fn clean(&self) {
        for role in ["db", "stage"] {
            let _ = self.docker(&["rm", "-f", &self.container(role)]);
        }
        for _ in 0..3 {
            let mut ids: Vec<String> = Vec::new();
            for filter in [LABEL, REFERENCE, "reference=*/imgctl-parity/*"] {
                let run = self.docker(&["images", "-a", "-q", "--no-trunc", "--filter", filter]);
                ids.extend(run.out.lines().map(str::to_string));
            }
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                return;
            }
            let mut args = vec!["rmi", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.docker(&args);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.clean();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn fixture(name: &str, role: &str, created: DateTime<Utc>) -> FixtureImage {
    FixtureImage::new(&format!("imgctl-parity-{name}"))
        .label("imgctl.parity", "1")
        .label("imgctl.role", role)
        .created(created)
}

fn fixtures(pushed: &str) -> BTreeMap<&'static str, ArchiveImage> {
    let app = fixture("app", "app", at(2024, 5, 1))
        .layer_with_file("app/payload.bin", &vec![7u8; 300_000])
        .layer_with_file("app/version.txt", b"1.0\n")
        .label("org.example.description", "a <fixture> & more")
        .env("PATH=/usr/local/bin:/usr/bin:/bin")
        .env("APP_MODE=production")
        .cmd(["/app/run", "--serve"])
        .tag("imgctl-parity/app:1.0")
        .tag("imgctl-parity/app:latest")
        .tag("imgctl-parity/app:edge")
        .build()
        .unwrap();
    let db = fixture("db", "db", at(2023, 7, 15))
        .layer_with_file("db/data.bin", &vec![3u8; 1_500_000])
        .env("PGDATA=/var/lib/db")
        .tag("imgctl-parity/db:15")
        .build()
        .unwrap();
    let multi = fixture("multi", "multi", at(2022, 2, 2))
        .layer_with_file("multi.txt", b"in two repositories\n")
        .tag("imgctl-parity/multi:1")
        .tag("imgctl-parity/zz-other:1")
        .build()
        .unwrap();
    let pushed = fixture("pushed", "pushed", at(2024, 2, 10))
        .layer_with_file("pushed.bin", &vec![5u8; 20_000])
        .tag(&format!("{pushed}:v1"))
        .build()
        .unwrap();
    let loose = fixture("loose", "dangling", at(2023, 11, 11))
        .layer_with_file("loose.txt", b"no tag\n")
        .build()
        .unwrap();
    let vintage = fixture("vintage", "vintage", at(1999, 6, 1))
        .layer_with_file("vintage.txt", b"old\n")
        .tag("imgctl-parity/vintage:1999")
        .build()
        .unwrap();
    let stage = fixture("stage", "stage", at(2023, 9, 9))
        .layer_with_file("stage.txt", b"parent of a commit\n")
        .tag("imgctl-parity/stage:tmp")
        .build()
        .unwrap();
    let doomed = fixture("doomed", "doomed", at(2021, 1, 1))
        .layer_with_file("doomed/one.txt", b"one\n")
        .layer_with_file("doomed/two.bin", &vec![9u8; 4_000])
        .tag("imgctl-parity/doomed:1")
        .build()
        .unwrap();
    BTreeMap::from([
        ("app", app),
        ("db", db),
        ("multi", multi),
        ("pushed", pushed),
        ("loose", loose),
        ("vintage", vintage),
        ("stage", stage),
        ("doomed", doomed),
    ])
}

/// Builds the state on the engine.
fn set_up(engine: &Engine) {
    engine.clean();
    engine.load(&[
        "app", "db", "multi", "pushed", "loose", "vintage", "stage", "doomed",
    ]);

    // A repo digest: push, remove, pull back.
    let pushed = format!("{}:v1", engine.pushed());
    engine.docker_ok(&["push", "-q", &pushed]);
    engine.docker_ok(&["rmi", &pushed]);
    engine.docker_ok(&["pull", "-q", &pushed]);

    // An intermediate image: commit a container of `stage`, then untag
    // `stage`, which keeps it as the (untagged) parent of the commit.
    let stage = engine.container("stage");
    engine.docker_ok(&[
        "create",
        "--network",
        "none",
        "--name",
        &stage,
        "imgctl-parity/stage:tmp",
    ]);
    engine.docker_ok(&["commit", &stage, "imgctl-parity/child:1"]);
    engine.docker_ok(&["rm", &stage]);
    engine.docker_ok(&["rmi", "imgctl-parity/stage:tmp"]);

    // A container using `db`.
    engine.docker_ok(&[
        "create",
        "--network",
        "none",
        "--name",
        &engine.container("db"),
        "imgctl-parity/db:15",
    ]);
}

/// The comparisons of one engine and their outcomes.
struct Parity<'a> {
    engine: &'a Engine,
    comparisons: usize,
    equal: usize,
    intended: Vec<String>,
    differences: Vec<String>,
}

type Check = dyn Fn(&Run, &Run) -> Result<Outcome, String>;

impl<'a> Parity<'a> {
    fn new(engine: &'a Engine) -> Self {
        Parity {
            engine,
            comparisons: 0,
            equal: 0,
            intended: Vec::new(),
            differences: Vec::new(),
        }
    }

    fn record(&mut self, what: String, outcome: Result<Outcome, String>) {
        self.comparisons += 1;
        match outcome {
            Ok(Outcome::Equal) => self.equal += 1,
            Ok(Outcome::Intended(why)) => self.intended.push(format!("{what}: {why}")),
            Err(difference) => self.differences.push(format!("{what}:\n{difference}")),
        }
    }

    /// Runs docker then imgctl with `args` and checks them, retrying once
    /// (for a "seconds ago" tick).
    fn compare(&mut self, args: &[&str], check: &Check) {
        let mut outcome = Err(String::new());
        for _ in 0..2 {
            let docker = self.engine.docker(args);
            let imgctl = self.engine.imgctl(args);
            outcome = check(&docker, &imgctl);
            if outcome.is_ok() {
                break;
            }
        }
        self.record(format!("{args:?}"), outcome);
    }

    /// Byte-for-byte the same stdout, stderr and exit code.
    fn same(&mut self, args: &[&str]) {
        self.compare(args, &exact);
    }

    /// The same, but lines in any order: the rows of an image in several
    /// repositories come in a Go map's order in docker (difference 3).
    fn same_sorted(&mut self, args: &[&str]) {
        self.compare(args, &sorted);
    }

    /// A command that changes the state: `reset` restores the state before
    /// each tool runs, and `state` (a docker command) is compared after
    /// each.
    fn mutation(&mut self, args: &[&str], reset: &dyn Fn(&Engine), state: &[&str], check: &Check) {
        let mut outcome = Err(String::new());
        let mut state_outcome = Err(String::new());
        for _ in 0..2 {
            reset(self.engine);
            let docker = self.engine.docker(args);
            let docker_state = self.engine.docker(state);
            reset(self.engine);
            let imgctl = self.engine.imgctl(args);
            let imgctl_state = self.engine.docker(state);
            reset(self.engine);
            outcome = check(&docker, &imgctl);
            state_outcome = exact(&docker_state, &imgctl_state);
            if outcome.is_ok() && state_outcome.is_ok() {
                break;
            }
        }
        self.record(format!("{args:?}"), outcome);
        self.record(format!("{args:?}, then docker {state:?}"), state_outcome);
    }

    fn finish(self) {
        let engine = self.engine.env.name;
        let mut summary = format!(
            "parity on engine {engine}: {} comparisons, {} equal, {} intentionally different, \
             {} unexpected differences\n",
            self.comparisons,
            self.equal,
            self.intended.len(),
            self.differences.len()
        );
        for intended in &self.intended {
            let _ = writeln!(summary, "  intended: {intended}");
        }
        use std::io::Write as _;
        let _ = std::io::stderr().write_all(summary.as_bytes());
        assert!(
            self.differences.is_empty(),
            "engine {engine}: {} differences from docker:\n\n{}",
            self.differences.len(),
            self.differences.join("\n\n")
        );
    }
}

fn difference(docker: &Run, imgctl: &Run) -> String {
    format!("=== docker: {docker}=== imgctl: {imgctl}")
}

fn exact(docker: &Run, imgctl: &Run) -> Result<Outcome, String> {
    if docker == imgctl {
        Ok(Outcome::Equal)
    } else {
        Err(difference(docker, imgctl))
    }
}

/// An intended difference: imgctl prints what `expect` makes of docker's
/// run.
fn intended(
    why: &'static str,
    expect: impl Fn(&Run) -> Run,
) -> impl Fn(&Run, &Run) -> Result<Outcome, String> {
    move |docker: &Run, imgctl: &Run| {
        if docker == imgctl {
            Ok(Outcome::Equal)
        } else if expect(docker) == *imgctl {
            Ok(Outcome::Intended(why.to_string()))
        } else {
            Err(difference(docker, imgctl))
        }
    }
}

/// API 1.41's words for a missing image (`no such image: X: No such image:
/// X` from `image inspect`) and an upper-case name (`repository name must be
/// lowercase`, also prefixed with `no such image: X: ` by `image inspect`):
/// imgctl's `ImageError` says what newer engines say.
fn api_1_41_wording() -> impl Fn(&Run, &Run) -> Result<Outcome, String> {
    intended(
        "API 1.41 words missing images and bad names its own way (difference 5)",
        |docker| {
            let upper =
                "invalid reference format: repository name (imgctl-parity/UPPER) must be lowercase";
            let run = stderr_replaced(
                docker,
                "no such image: imgctl-parity/nope:1: No such image",
                "No such image",
            );
            let run = stderr_replaced(
                &run,
                "no such image: imgctl-parity/UPPER: invalid reference format: repository name must be lowercase",
                upper,
            );
            stderr_replaced(
                &run,
                "invalid reference format: repository name must be lowercase",
                upper,
            )
        },
    )
}

/// docker's run with `from` replaced by `to` in its stderr.
fn stderr_replaced(docker: &Run, from: &str, to: &str) -> Run {
    Run {
        err: docker.err.replace(from, to),
        ..docker.clone()
    }
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

fn sorted(docker: &Run, imgctl: &Run) -> Result<Outcome, String> {
    if docker == imgctl {
        return Ok(Outcome::Equal);
    }
    if docker.code == imgctl.code
        && sorted_lines(&docker.out) == sorted_lines(&imgctl.out)
        && sorted_lines(&docker.err) == sorted_lines(&imgctl.err)
    {
        return Ok(Outcome::Intended(
            "same lines in another order (an image in several repositories: docker's order is a Go map's)".to_string(),
        ));
    }
    Err(difference(docker, imgctl))
}

/// `--format json` rows: the same objects but for `Containers`, which
/// docker prints as `N/A` and imgctl as the count (difference 1); rows in
/// any order (difference 3).
fn json_rows(docker: &Run, imgctl: &Run) -> Result<Outcome, String> {
    if docker.code != imgctl.code || docker.err != imgctl.err {
        return Err(difference(docker, imgctl));
    }
    let parse = |text: &str| -> Result<Vec<Value>, String> {
        text.lines()
            .map(|line| serde_json::from_str(line).map_err(|e| format!("{e}: {line}")))
            .collect()
    };
    let (mut d, mut i) = (parse(&docker.out)?, parse(&imgctl.out)?);
    let mut containers = Vec::new();
    for (row, docker_row) in [(&mut i, false), (&mut d, true)]
        .into_iter()
        .flat_map(|(rows, is_docker)| rows.iter_mut().map(move |r| (r, is_docker)))
    {
        let value = row
            .as_object_mut()
            .and_then(|o| o.remove("Containers"))
            .unwrap_or(Value::Null);
        containers.push((docker_row, value));
    }
    for (is_docker, value) in &containers {
        let ok = if *is_docker {
            value == "N/A"
        } else {
            value.as_str().is_some_and(|s| s.parse::<u64>().is_ok())
        };
        if !ok {
            return Err(format!(
                "Containers {value} from {}\n{}",
                if *is_docker { "docker" } else { "imgctl" },
                difference(docker, imgctl)
            ));
        }
    }
    let key = |v: &Value| v.to_string();
    d.sort_by_key(key);
    i.sort_by_key(key);
    if d != i {
        return Err(difference(docker, imgctl));
    }
    if docker.out == imgctl.out {
        Ok(Outcome::Equal)
    } else {
        Ok(Outcome::Intended(
            "Containers: docker N/A, imgctl the count; rows compared in any order".to_string(),
        ))
    }
}

/// `{{.Containers}}`: `N/A` from docker, `expected` from imgctl
/// (difference 1).
fn containers(expected: &'static str) -> impl Fn(&Run, &Run) -> Result<Outcome, String> {
    move |docker: &Run, imgctl: &Run| {
        let want = Run {
            out: docker.out.replace("N/A", expected),
            ..docker.clone()
        };
        if docker.out.contains("N/A") && want == *imgctl {
            Ok(Outcome::Intended(format!(
                "Containers: docker N/A, imgctl {expected}"
            )))
        } else {
            Err(difference(docker, imgctl))
        }
    }
}

/// Whether `small` (imgctl's JSON) is `big` (docker's) with fields left
/// out: objects may lack keys, everything else is equal.
fn subset(small: &Value, big: &Value, path: &str, missing: &mut Vec<String>) -> Result<(), String> {
    match (small, big) {
        (Value::Object(s), Value::Object(b)) => {
            for (key, value) in s {
                let at = format!("{path}.{key}");
                match b.get(key) {
                    Some(other) => subset(value, other, &at, missing)?,
                    None => return Err(format!("{at}: imgctl has {value}, docker has nothing")),
                }
            }
            for key in b.keys().filter(|k| !s.contains_key(*k)) {
                missing.push(format!("{path}.{key}"));
            }
            Ok(())
        }
        (Value::Array(s), Value::Array(b)) if s.len() == b.len() => {
            for (n, (x, y)) in s.iter().zip(b).enumerate() {
                subset(x, y, &format!("{path}[{n}]"), missing)?;
            }
            Ok(())
        }
        _ if small == big => Ok(()),
        _ => Err(format!("{path}: imgctl has {small}, docker has {big}")),
    }
}

/// The full `inspect` JSON: imgctl's is docker's with fields left out
/// (difference 2).
fn inspect_subset(docker: &Run, imgctl: &Run) -> Result<Outcome, String> {
    if docker.code != imgctl.code || docker.err != imgctl.err {
        return Err(difference(docker, imgctl));
    }
    let d: Value = serde_json::from_str(&docker.out).map_err(|e| format!("docker: {e}"))?;
    let i: Value = serde_json::from_str(&imgctl.out).map_err(|e| format!("imgctl: {e}"))?;
    let mut missing = Vec::new();
    subset(&i, &d, "", &mut missing).map_err(|e| format!("{e}\n{}", difference(docker, imgctl)))?;
    if missing.is_empty() && docker.out == imgctl.out {
        return Ok(Outcome::Equal);
    }
    missing.sort();
    missing.dedup();
    Ok(Outcome::Intended(format!(
        "imgctl's JSON is docker's without {}",
        missing.join(", ")
    )))
}

fn parity(name: &'static str) {
    let Some(env) = support::engine(name, "parity") else {
        return;
    };
    let lock = if name == "A" { &ENGINE_A } else { &ENGINE_B };
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = std::env::temp_dir().join(format!("imgctl-parity-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let pushed_repo = format!(
        "{}/imgctl-parity/pushed-{}",
        env.registry_open,
        name.to_lowercase()
    );
    let imgctl = scratch.join("imgctl");
    std::fs::copy(env!("CARGO_BIN_EXE_imgctl"), &imgctl).unwrap();
    let engine = Engine {
        fixtures: fixtures(&pushed_repo),
        env,
        scratch,
        imgctl,
    };
    set_up(&engine);
    let mut p = Parity::new(&engine);

    images(&mut p);
    inspect(&mut p);
    history(&mut p);
    tag(&mut p);
    rmi(&mut p);
    usage(&mut p);

    p.finish();
}

/// docker's run with the program's name as imgctl's.
fn renamed(docker: &Run) -> Run {
    Run {
        out: docker.out.replace("docker", "imgctl"),
        err: docker.err.replace("docker", "imgctl"),
        code: docker.code,
    }
}

/// Usage errors: the same words, usage lines and exit codes, with
/// `imgctl` for `docker`.
fn usage(p: &mut Parity<'_>) {
    let same_words = |docker: &Run, imgctl: &Run| exact(&renamed(docker), imgctl);
    for args in [
        vec!["images", "--bogus"],
        vec!["images", "-x"],
        vec!["image", "ls", "-qx"],
        vec!["images", "-f"],
        vec!["images", "--filter"],
        vec!["history"],
        vec!["history", "a", "b"],
        vec!["history", "-H=maybe", "x"],
        vec!["rmi"],
        vec!["image", "rm"],
        vec!["inspect"],
        vec!["image", "prune", "x"],
        vec!["system", "df", "x"],
        vec!["pull"],
        vec!["push"],
        vec!["save"],
        vec!["load", "x"],
        vec!["search"],
        vec!["frob"],
        vec!["image", "frob"],
    ] {
        p.compare(&args, &same_words);
    }
    // docker's `requires at most` message says `SRun` (difference 6).
    let stray_s = intended("docker prints `SRun` (difference 6)", |docker| {
        stderr_replaced(&renamed(docker), "\nSRun '", "\nRun '")
    });
    p.compare(&["images", "a", "b"], &stray_s);
    p.compare(&["image", "ls", "a", "b"], &stray_s);
    // `tag` takes several targets, beyond docker.
    p.compare(
        &["tag", "a"],
        &intended("imgctl tag takes several targets", |docker| {
            let run = stderr_replaced(
                &renamed(docker),
                "requires 2 arguments",
                "requires at least 2 arguments",
            );
            let run = stderr_replaced(
                &run,
                "TARGET_IMAGE[:TAG]\n",
                "TARGET_IMAGE[:TAG] [TARGET_IMAGE[:TAG]...]\n",
            );
            stderr_replaced(&run, "\nRun 'imgctl tag", "\nSee 'imgctl tag")
        }),
    );
}

fn images(p: &mut Parity<'_>) {
    // The scoped listings hold the image in two repositories: sorted lines.
    // The first two are not scoped: they hold whatever else the engine has.
    for args in [
        vec!["images"],
        vec!["image", "ls", "-q"],
        vec!["images", "--filter", LABEL],
        vec!["images", "--filter", REFERENCE],
        vec!["images", "-a", "--filter", LABEL],
        vec!["images", "--digests", "--filter", LABEL],
        vec!["images", "--no-trunc", "--filter", LABEL],
        vec!["images", "-a", "--no-trunc", "--digests", "--filter", LABEL],
        vec!["images", "--filter", "dangling=false", "--filter", LABEL],
        vec!["images", "--filter", "label=imgctl.role"],
        vec![
            "images",
            "--filter",
            "before=imgctl-parity/app:1.0",
            "--filter",
            LABEL,
        ],
        vec![
            "images",
            "--filter",
            "since=imgctl-parity/db:15",
            "--filter",
            LABEL,
        ],
        vec![
            "images",
            "-a",
            "--filter",
            "since=imgctl-parity/db:15",
            "--filter",
            LABEL,
        ],
        vec![
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}",
            "--filter",
            LABEL,
        ],
        vec![
            "images",
            "--format",
            "table {{.Repository}}\t{{.Tag}}",
            "--filter",
            LABEL,
        ],
        vec![
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.CreatedAt}}",
            "--filter",
            LABEL,
        ],
        vec!["image", "ls", "--filter", LABEL],
        vec!["image", "ls", "-a", "--digests", "--filter", REFERENCE],
        vec!["image", "list", "--filter", LABEL],
    ] {
        p.same_sorted(&args);
    }
    // One row per image, or one repository: exact.
    for args in [
        vec!["images", "-q", "--filter", LABEL],
        vec!["images", "-a", "-q", "--filter", LABEL],
        vec!["images", "-q", "--no-trunc", "--filter", REFERENCE],
        vec!["images", "--filter", "dangling=true", "--filter", LABEL],
        vec![
            "images",
            "-a",
            "--filter",
            "dangling=true",
            "--filter",
            LABEL,
        ],
        vec![
            "images",
            "-q",
            "--filter",
            "dangling=true",
            "--filter",
            LABEL,
        ],
        vec!["images", "--filter", "reference=imgctl-parity/app"],
        vec!["images", "--filter", "reference=imgctl-parity/app:1.*"],
        vec!["images", "--filter", "reference=imgctl-parity/multi"],
        vec!["images", "--filter", "reference=*/imgctl-parity/*"],
        vec![
            "images",
            "--digests",
            "--filter",
            "reference=*/imgctl-parity/*",
        ],
        vec![
            "images",
            "--filter",
            "reference=imgctl-parity/app",
            "--filter",
            "reference=imgctl-parity/db",
        ],
        vec!["images", "--filter", "label=imgctl.role=db"],
        vec!["images", "imgctl-parity/app"],
        vec!["images", "imgctl-parity/app:1.0"],
        vec!["images", "imgctl-parity/nope"],
        vec!["images", "--no-trunc", "imgctl-parity/child"],
        vec!["images", "--format", "{{.ID}} {{.Size}}", "--filter", LABEL],
        vec![
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Digest}} {{.CreatedSince}}",
            "--filter",
            "reference=*/imgctl-parity/*",
        ],
        vec![
            "images",
            "--format",
            "{{.ID}}\\t{{.VirtualSize}} {{.SharedSize}} {{.UniqueSize}}",
            "imgctl-parity/app",
        ],
        vec!["images", "--format", "table", "imgctl-parity/app"],
        vec!["images", "--format", "{{.ID", "imgctl-parity/app"],
        vec!["image", "ls", "-q", "--filter", REFERENCE],
    ] {
        p.same(&args);
    }
    p.compare(
        &["images", "--format", "json", "--filter", LABEL],
        &json_rows,
    );
    p.compare(
        &[
            "image",
            "ls",
            "--format",
            "json",
            "--digests",
            "--filter",
            LABEL,
        ],
        &json_rows,
    );
    p.compare(
        &[
            "images",
            "--format",
            "{{.Repository}} {{.Containers}}",
            "imgctl-parity/db",
        ],
        &containers("1"),
    );

    // API 1.41 capitalizes its filter errors.
    let invalid_filter = intended("API 1.41 says `Invalid filter` (difference 5)", |docker| {
        stderr_replaced(docker, "Invalid filter", "invalid filter")
    });
    p.compare(&["images", "--filter", "bogus=1"], &invalid_filter);
    p.compare(&["images", "--filter", "dangling=maybe"], &invalid_filter);

    // `label=KEY!=VALUE`: the graphdriver store looks for a label `KEY!`.
    let app = p.engine.short_id("app");
    p.compare(
        &[
            "images",
            "--filter",
            "label=imgctl.role!=app",
            "--filter",
            REFERENCE,
            "-q",
        ],
        &move |docker: &Run, imgctl: &Run| {
            if docker == imgctl {
                return Ok(Outcome::Equal);
            }
            let others = imgctl.out.lines().count() >= 5 && !imgctl.out.contains(&app);
            if docker.out.is_empty()
                && others
                && docker.err == imgctl.err
                && docker.code == imgctl.code
            {
                Ok(Outcome::Intended(
                    "imgctl reads `label=KEY!=VALUE` as `label!=KEY=VALUE`, as the containerd \
                     store does (difference 4)"
                        .to_string(),
                ))
            } else {
                Err(difference(docker, imgctl))
            }
        },
    );
}

fn inspect(p: &mut Parity<'_>) {
    let engine = p.engine;
    let format = "{{.Id}} {{.Os}} {{json .Config.Labels}} {{.Config.Env}}";
    let pushed = format!("{}:v1", engine.pushed());
    let app_id = engine.id("app");
    let short = engine.short_id("app");
    for args in [
        vec!["inspect", "--format", format, "imgctl-parity/app:1.0"],
        vec![
            "inspect",
            "-f",
            format,
            "imgctl-parity/app:1.0",
            "imgctl-parity/db:15",
        ],
        vec!["image", "inspect", "--format", format, &pushed],
        vec![
            "image",
            "inspect",
            "--format",
            format,
            "imgctl-parity/child:1",
        ],
        vec![
            "inspect",
            "--format",
            "{{.RepoTags}} {{.RepoDigests}}",
            &pushed,
        ],
        vec![
            "inspect",
            "--format",
            "{{.RepoTags}}",
            "imgctl-parity/app:latest",
        ],
        vec![
            "inspect",
            "--format",
            "{{.Created}} {{.Size}} {{.Architecture}} {{.Config.Cmd}} {{json .RootFS}}",
            &app_id,
        ],
        vec!["inspect", "--format", "{{.Id}}", &short],
        vec![
            "inspect",
            "--format",
            "{{.Parent}}",
            "imgctl-parity/child:1",
        ],
        vec!["inspect", "--format", "{{.Id", "imgctl-parity/app:1.0"],
        vec![
            "inspect",
            "--format",
            "{{.ID}} {{.Config.Env}} {{.Config.Labels}}",
            &pushed,
        ],
        vec![
            "inspect",
            "--format",
            "{{.Id}} {{.Size}} {{.Config.Cmd}} {{.Config.Volumes}}",
            &pushed,
        ],
        vec![
            "inspect",
            "--format",
            "{{.Os}}\\t{{.Architecture}}\\n",
            "imgctl-parity/db:15",
        ],
        vec![
            "inspect",
            "--format",
            "{{json .RootFS}} {{.RootFS}} {{.Variant}}",
            "imgctl-parity/db:15",
        ],
        vec![
            "inspect",
            "--format",
            "{{range .RepoTags}}{{.}},{{end}}",
            "imgctl-parity/app:1.0",
        ],
        vec![
            "inspect",
            "--format",
            "{{index .Config.Labels \"imgctl.role\"}}",
            "imgctl-parity/db:15",
        ],
        vec![
            "inspect",
            "--format",
            "{{json .Config.Env}} {{json .Config.Labels}}",
            "imgctl-parity/db:15",
        ],
        vec![
            "inspect",
            "--format",
            "{{.Id}} {{json .Config.Env}} {{json .Config.Entrypoint}}",
            &pushed,
        ],
    ] {
        p.same(&args);
    }

    // The top-level `inspect` looks through every kind of object and says
    // `No such object`; with `--type image` it is `image inspect`.
    for args in [
        vec!["inspect", "imgctl-parity/nope:1"],
        vec!["inspect", "--format", "{{.Id}}", "imgctl-parity/nope:1"],
        vec![
            "inspect",
            "--format",
            "{{.Id}}",
            "imgctl-parity/app:1.0",
            "imgctl-parity/nope:1",
            "imgctl-parity/db:15",
        ],
        vec!["inspect", "imgctl-parity/UPPER"],
        vec![
            "inspect",
            "-s",
            "--format",
            "{{.Id}}",
            "imgctl-parity/nope:1",
        ],
        vec!["inspect", "--type", "bogus", "imgctl-parity/app:1.0"],
        vec![
            "inspect",
            "--type",
            "image",
            "--format",
            "{{.Id}}",
            "imgctl-parity/app:1.0",
        ],
    ] {
        p.same(&args);
    }
    p.compare(
        &["inspect", "--type=image", "imgctl-parity/nope:1"],
        &api_1_41_wording(),
    );
    // API 1.41 words these errors its own way.
    for args in [
        vec!["image", "inspect", "imgctl-parity/nope:1"],
        vec![
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "imgctl-parity/nope:1",
        ],
        vec!["image", "inspect", "imgctl-parity/UPPER"],
    ] {
        p.compare(&args, &api_1_41_wording());
    }
    // A missing key of the raw JSON: docker's fallback runs with
    // `missingkey=error`.
    for format in [
        "{{.Nope}}",
        "x{{.Config.Nope}}",
        "{{.Id}} {{.Nope.Deeper}}",
        "{{if .Nope}}a{{end}}",
        "{{.Config.Labels.nope}}|{{index .Config.Labels \"nope\"}}",
        "{{.Id}}\n{{$.Config.Nope}}",
        "{{.Id}} {{len .Config.Labels}} {{.RootFS}} {{.Config.Labels}}",
    ] {
        p.same(&["inspect", "--format", format, "imgctl-parity/db:15"]);
    }
    // `{{json .Config}}`: docker's typed config, empty fields left out.
    for image in ["imgctl-parity/vintage:1999", "imgctl-parity/app:1.0"] {
        p.same(&["inspect", "--format", "{{json .Config}}", image]);
    }
    // `{{json .}}`: docker's typed image, of which imgctl has a part
    // (difference 2).
    p.compare(
        &["inspect", "--format", "{{json .}}", "imgctl-parity/app:1.0"],
        &inspect_subset,
    );
    p.compare(
        &["image", "inspect", "--format", "{{json .}}", &pushed],
        &inspect_subset,
    );
    for args in [
        vec!["inspect", "imgctl-parity/app:1.0"],
        vec!["image", "inspect", &pushed, "imgctl-parity/child:1"],
        vec!["inspect", "--format", "json", "imgctl-parity/db:15"],
    ] {
        p.compare(&args, &inspect_subset);
    }
    p.compare(
        &[
            "inspect",
            "imgctl-parity/vintage:1999",
            "imgctl-parity/nope:1",
        ],
        &inspect_subset,
    );
}

fn history(p: &mut Parity<'_>) {
    for args in [
        vec!["history", "imgctl-parity/app:1.0"],
        vec!["history", "--no-trunc", "imgctl-parity/app:1.0"],
        vec!["history", "-q", "imgctl-parity/app:1.0"],
        vec!["history", "-q", "--no-trunc", "imgctl-parity/child:1"],
        vec!["history", "-H=false", "imgctl-parity/app:1.0"],
        vec!["history", "--human=false", "imgctl-parity/db:15"],
        vec![
            "history",
            "--format",
            "{{.ID}}\\t{{.CreatedBy}}\\t{{.Size}}",
            "imgctl-parity/app:1.0",
        ],
        vec![
            "history",
            "--format",
            "table {{.ID}}\\t{{.CreatedAt}}\\t{{.Comment}}",
            "imgctl-parity/child:1",
        ],
        vec!["history", "--format", "json", "imgctl-parity/db:15"],
        vec!["history", "imgctl-parity/child:1"],
        vec!["image", "history", "imgctl-parity/vintage:1999"],
        vec!["history", "imgctl-parity/nope:1"],
        vec!["history", "--format", "{{json .}}", "imgctl-parity/app:1.0"],
        vec![
            "history",
            "-q",
            "-H=false",
            "--no-trunc",
            "imgctl-parity/db:15",
        ],
    ] {
        p.same(&args);
    }
    p.compare(&["history", "imgctl-parity/UPPER"], &api_1_41_wording());
}

fn tag(p: &mut Parity<'_>) {
    let absent = |e: &Engine| {
        let _ = e.docker(&["rmi", "imgctl-parity/tagged:new"]);
    };
    p.mutation(
        &["tag", "imgctl-parity/app:1.0", "imgctl-parity/tagged:new"],
        &absent,
        &["images", "imgctl-parity/tagged"],
        &exact,
    );
    p.mutation(
        &[
            "image",
            "tag",
            "imgctl-parity/db:15",
            "imgctl-parity/tagged:new",
        ],
        &absent,
        &["images", "imgctl-parity/tagged"],
        &exact,
    );
    for args in [
        vec!["tag", "imgctl-parity/app:1.0", "imgctl-parity/Bad:x"],
        vec!["tag", "imgctl-parity/app:1.0", "imgctl-parity/bad:-x"],
        vec!["tag", "imgctl-parity/nope:1", "imgctl-parity/tagged:new"],
    ] {
        p.same(&args);
    }
}

fn rmi(p: &mut Parity<'_>) {
    let engine = p.engine;
    let app_state = ["images", "--filter", "reference=imgctl-parity/app"];
    let retag_edge = |e: &Engine| {
        e.docker_ok(&["tag", "imgctl-parity/app:1.0", "imgctl-parity/app:edge"]);
    };
    p.mutation(
        &["rmi", "imgctl-parity/app:edge"],
        &retag_edge,
        &app_state,
        &exact,
    );
    p.mutation(
        &[
            "image",
            "rm",
            "imgctl-parity/app:edge",
            "imgctl-parity/nope:1",
        ],
        &retag_edge,
        &app_state,
        &exact,
    );

    let reload_doomed = |e: &Engine| e.load(&["doomed"]);
    let doomed_state = ["images", "-a", "--filter", "label=imgctl.role=doomed"];
    p.mutation(
        &["rmi", "imgctl-parity/doomed:1"],
        &reload_doomed,
        &doomed_state,
        &exact,
    );
    p.mutation(
        &["rmi", "--no-prune", "imgctl-parity/doomed:1"],
        &reload_doomed,
        &doomed_state,
        &exact,
    );

    p.same(&["rmi", "imgctl-parity/nope:1"]);
    p.compare(&["rmi", "imgctl-parity/UPPER"], &api_1_41_wording());
    // In use by the container.
    p.same(&["rmi", "imgctl-parity/db:15"]);
    let db_short = engine.short_id("db");
    p.same(&["rmi", &db_short]);
    // Forced, docker deletes the image under the stopped container: load
    // it again each time (same ID, so the container uses it again).
    p.mutation(
        &["rmi", "-f", "imgctl-parity/db:15"],
        &|e: &Engine| e.load(&["db"]),
        &["images", "-a", "--filter", "label=imgctl.role=db"],
        &exact,
    );

    // By ID, forced, an image in two repositories: the untagged lines come
    // in a Go map's order.
    let multi_short = engine.short_id("multi");
    p.mutation(
        &["rmi", "-f", &multi_short],
        &|e: &Engine| e.load(&["multi"]),
        &["images", "-a", "--filter", "label=imgctl.role=multi"],
        &sorted,
    );

    // The last tag of an image that also has a repo digest.
    // Docker removes the image with its digest: pull it back each time.
    let pushed = format!("{}:v1", engine.pushed());
    let repull = {
        let pushed = pushed.clone();
        move |e: &Engine| {
            e.docker_ok(&["pull", "-q", &pushed]);
        }
    };
    p.mutation(
        &["rmi", &pushed],
        &repull,
        &[
            "images",
            "--digests",
            "--filter",
            "label=imgctl.role=pushed",
        ],
        &exact,
    );
}
