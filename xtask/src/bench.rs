//! `cargo xtask bench cli`: how fast `imgctl` is against the docker CLI and
//! the engine itself, on a private engine holding 1,000 images. A benchmark,
//! not a test: CI does not run it.
//!
//! 1. `engine up` (reusing the engines that already run).
//! 2. The fixtures: `cargo run --release -p image-core --example
//!    bench_fixtures -- OUT N` writes one `docker save` tarball of N small
//!    distinct images (label `imgctl.bench=<version>`, repositories
//!    `imgctl-bench/…`), which `docker load -i` loads into the engine. When
//!    the engine already holds exactly those N images they are reused;
//!    otherwise the old bench images are removed and the tarball loaded.
//! 3. `cargo build --release -p image-cli`.
//! 4. For each suite (`images`, `image inspect`, `history`, `system df -v`):
//!    a warm-up round, then R rounds that run imgctl, docker and the raw API
//!    call (`curl --unix-socket … /images/json`, the floor the engine sets)
//!    one after the other, starting with a different one each round, stdout
//!    to `/dev/null`. Each run is timed from spawn to exit with
//!    [`Instant`]. The report gives the median, p10 and p90 of each command
//!    and its ratio to the raw call's median.
//! 5. Peak memory: the maximum resident set size of each command over a few
//!    separate runs under `/usr/bin/time -f %M` (Debian's `time`; the xtask
//!    forbids `unsafe`, so it cannot call `wait4` itself). Those runs are not
//!    timed.
//!
//! `cargo xtask bench clean` removes the bench images from both engines.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine;

/// The label every fixture image carries, with the fixture version of
/// `crates/image-core/examples/bench_fixtures.rs` (keep the two in step).
const FIXTURE_LABEL: &str = "imgctl.bench=1";
/// The label's key, to find bench images of any version.
const FIXTURE_LABEL_KEY: &str = "imgctl.bench";
/// The image `inspect` and `history` look at (index 500, tag `v500` of
/// repository `app-0`).
const PROBE_IMAGE: &str = "imgctl-bench/app-0:v500";
/// How many images by default.
const DEFAULT_IMAGES: usize = 1000;
/// How many timed rounds by default (odd, so the median is one sample).
const DEFAULT_ROUNDS: usize = 21;
/// The fewest rounds accepted.
const MIN_ROUNDS: usize = 15;
/// How many runs under `/usr/bin/time` per command for the peak memory.
const MEMORY_RUNS: usize = 5;
/// Debian's `time`, which reports the peak RSS of what it runs.
const GNU_TIME: &str = "/usr/bin/time";

/// What `cargo xtask bench cli` was asked for.
struct Options {
    images: usize,
    rounds: usize,
    engines: Vec<char>,
}

/// `cargo xtask bench <what>`.
pub fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("cli") => cli(&parse_options(args.get(1..).unwrap_or_default())?),
        Some("http") => crate::bench_http::run(args.get(1..).unwrap_or_default()),
        Some("clean") => clean(),
        _ => Err(format!(
            "usage: cargo xtask bench cli [--images N] [--rounds N] [--engine a|b|all]\n       \
             cargo xtask bench http {}\n       \
             cargo xtask bench clean",
            crate::bench_http::USAGE
        )),
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        images: DEFAULT_IMAGES,
        rounds: DEFAULT_ROUNDS,
        engines: vec!['a'],
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--images" => {
                options.images = value()?.parse().map_err(|e| format!("--images: {e}"))?;
            }
            "--rounds" => {
                options.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?;
                if options.rounds < MIN_ROUNDS {
                    return Err(format!("--rounds must be at least {MIN_ROUNDS}"));
                }
            }
            "--engine" => {
                options.engines = match value()?.as_str() {
                    "a" | "A" => vec!['a'],
                    "b" | "B" => vec!['b'],
                    "all" => vec!['a', 'b'],
                    other => return Err(format!("--engine {other}: expected a, b or all")),
                };
            }
            other => return Err(format!("unknown bench option `{other}`")),
        }
    }
    if options.images == 0 {
        return Err("--images must be at least 1".into());
    }
    Ok(options)
}

/// One engine of the env file, and the clients aimed at it.
pub(crate) struct Target {
    pub(crate) name: char,
    pub(crate) host: String,
    pub(crate) socket: PathBuf,
    pub(crate) api: String,
    docker_cli: PathBuf,
    pub(crate) docker_config: PathBuf,
}

impl Target {
    pub(crate) fn from_env(env: &HashMap<String, String>, name: char) -> Result<Target, String> {
        let upper = name.to_ascii_uppercase();
        let get = |key: &str| {
            env.get(key)
                .cloned()
                .ok_or_else(|| format!("{key} is missing from the env file"))
        };
        let host = get(&format!("IMGCTL_ENGINE_{upper}_HOST"))?;
        let socket = PathBuf::from(
            host.strip_prefix("unix://")
                .ok_or_else(|| format!("engine {upper} is not on a unix socket: {host}"))?,
        );
        Ok(Target {
            name,
            socket,
            api: get(&format!("IMGCTL_ENGINE_{upper}_API"))?,
            docker_cli: PathBuf::from(get("IMGCTL_DOCKER_CLI")?),
            docker_config: PathBuf::from(get("DOCKER_CONFIG")?),
            host,
        })
    }

    /// A command with none of the caller's DOCKER_* settings and the
    /// harness's docker config (never `~/.docker`).
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        for key in [
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "DOCKER_API_VERSION",
            "DOCKER_DEFAULT_PLATFORM",
        ] {
            cmd.env_remove(key);
        }
        cmd.env("DOCKER_CONFIG", &self.docker_config)
            .stdin(Stdio::null());
        cmd
    }

    /// The docker CLI aimed at this engine.
    pub(crate) fn docker(&self) -> Command {
        let mut cmd = self.command(&self.docker_cli);
        cmd.args(["-H", &self.host]);
        cmd
    }

    /// The IDs (full) of the images whose label matches `label`.
    fn bench_ids(&self, label: &str) -> Result<BTreeSet<String>, String> {
        let out = output(
            self.docker().args([
                "images",
                "--all",
                "--quiet",
                "--no-trunc",
                "--filter",
                &format!("label={label}"),
            ]),
            "docker images",
        )?;
        Ok(out.lines().map(str::to_string).collect())
    }
}

/// Runs a command and returns its stdout, or an error with its stderr.
pub(crate) fn output(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `cargo ARGS` in the workspace root, failing when it fails.
pub(crate) fn cargo(args: &[&str]) -> Result<(), String> {
    crate::run(
        crate::cargo_command(args),
        &format!("cargo {}", args.join(" ")),
    )
}

/// `target/` (or `CARGO_TARGET_DIR`): the parent of the engines' directory.
pub(crate) fn target_dir(layout: &engine::Layout) -> PathBuf {
    layout
        .root
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate::workspace_root().join("target"))
}

/// Makes sure the engine holds exactly the `count` fixture images.
pub(crate) fn ensure_fixtures(
    layout: &engine::Layout,
    target: &Target,
    count: usize,
) -> Result<(), String> {
    let loaded = target.bench_ids(FIXTURE_LABEL)?;
    if loaded.len() == count {
        eprintln!(
            "xtask: engine {} already holds the {count} bench images",
            target.name
        );
        return Ok(());
    }
    remove_bench_images(target)?;
    let dir = target_dir(layout).join("bench");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tarball = dir.join(format!("fixtures-{count}.tar"));
    let tarball_text = tarball.display().to_string();
    cargo(&[
        "run",
        "--quiet",
        "--release",
        "-p",
        "image-core",
        "--example",
        "bench_fixtures",
        "--",
        &tarball_text,
        &count.to_string(),
    ])?;
    eprintln!(
        "xtask: docker load -i {tarball_text} into engine {}",
        target.name
    );
    let started = Instant::now();
    output(
        target
            .docker()
            .args(["load", "--quiet", "-i", &tarball_text]),
        "docker load",
    )?;
    let loaded = target.bench_ids(FIXTURE_LABEL)?;
    if loaded.len() != count {
        return Err(format!(
            "engine {} holds {} bench images after the load, not {count}",
            target.name,
            loaded.len()
        ));
    }
    eprintln!(
        "xtask: loaded {count} images in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Removes every bench image (any fixture version) from the engine.
fn remove_bench_images(target: &Target) -> Result<(), String> {
    let ids: Vec<String> = target.bench_ids(FIXTURE_LABEL_KEY)?.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    eprintln!(
        "xtask: removing {} bench images from engine {}",
        ids.len(),
        target.name
    );
    for chunk in ids.chunks(200) {
        output(
            target.docker().args(["rmi", "--force"]).args(chunk),
            "docker rmi",
        )?;
    }
    Ok(())
}

/// `cargo xtask bench clean`: removes the bench images from both engines.
fn clean() -> Result<(), String> {
    let layout = engine::Layout::discover();
    let env: HashMap<String, String> = engine::read_env(&layout)?.into_iter().collect();
    for name in ['a', 'b'] {
        remove_bench_images(&Target::from_env(&env, name)?)?;
    }
    Ok(())
}

/// One command of a suite.
struct Bench {
    label: String,
    cmd: Command,
    /// Whether this is the raw API call the others are compared with.
    floor: bool,
    samples: Vec<Duration>,
    peak_kib: Option<u64>,
}

impl Bench {
    fn new(label: String, cmd: Command, floor: bool) -> Bench {
        Bench {
            label,
            cmd,
            floor,
            samples: Vec::new(),
            peak_kib: None,
        }
    }

    /// Runs the command once, stdout to `/dev/null`, and returns how long it
    /// took from spawn to exit.
    fn time_once(&mut self) -> Result<Duration, String> {
        self.cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let started = Instant::now();
        let out = self
            .cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.label))?;
        let took = started.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                self.label,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(took)
    }

    /// The peak RSS in KiB of one run under `/usr/bin/time -f %M`.
    fn peak_once(&self, scratch: &Path) -> Result<u64, String> {
        let mut cmd = Command::new(GNU_TIME);
        cmd.args(["-f", "%M", "-o"])
            .arg(scratch)
            .arg(self.cmd.get_program())
            .args(self.cmd.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in self.cmd.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {GNU_TIME}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{} under {GNU_TIME} failed ({}): {}",
                self.label,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let text = fs::read_to_string(scratch)
            .map_err(|e| format!("cannot read {}: {e}", scratch.display()))?;
        text.lines()
            .rev()
            .find_map(|line| line.trim().parse().ok())
            .ok_or_else(|| format!("{GNU_TIME} wrote no peak RSS: {text:?}"))
    }
}

/// The `q`-quantile (0 to 1) of sorted samples, by nearest rank; the median
/// of an even count is the mean of the middle two.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let upper = sorted.len() / 2;
    if q == 0.5 && upper * 2 == sorted.len() {
        return (sorted[upper - 1] + sorted[upper]) / 2;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Times a suite: a warm-up round, then `rounds` rounds of every command,
/// round-robin, each round starting one command further; then the peak
/// memory runs. Returns the report's table rows.
fn run_suite(
    title: &str,
    benches: &mut [Bench],
    rounds: usize,
    scratch: &Path,
    gnu_time: bool,
) -> Result<Vec<String>, String> {
    eprintln!(
        "xtask: {title}: warm-up, {rounds} rounds of {} commands",
        benches.len()
    );
    for bench in benches.iter_mut() {
        bench.time_once()?;
    }
    let n = benches.len();
    for round in 0..rounds {
        for k in 0..n {
            let bench = &mut benches[(round + k) % n];
            let took = bench.time_once()?;
            bench.samples.push(took);
        }
    }
    if gnu_time {
        for bench in benches.iter_mut() {
            let mut peak = 0;
            for _ in 0..MEMORY_RUNS {
                peak = peak.max(bench.peak_once(scratch)?);
            }
            bench.peak_kib = Some(peak);
        }
    }
    let floor = benches
        .iter()
        .find(|b| b.floor)
        .map(|b| {
            let mut sorted = b.samples.clone();
            sorted.sort();
            quantile(&sorted, 0.5)
        })
        .unwrap_or(Duration::ZERO);
    let mut rows = Vec::new();
    for bench in benches.iter() {
        let mut sorted = bench.samples.clone();
        sorted.sort();
        let median = quantile(&sorted, 0.5);
        let ratio = if floor.is_zero() {
            "".to_string()
        } else {
            format!("{:.2}×", median.as_secs_f64() / floor.as_secs_f64())
        };
        let peak = bench.peak_kib.map_or_else(
            || "n/a".to_string(),
            |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
        );
        rows.push(format!(
            "| {title} | {} | {} | {} | {} | {ratio} | {peak} |",
            bench.label,
            ms(median),
            ms(quantile(&sorted, 0.1)),
            ms(quantile(&sorted, 0.9)),
        ));
    }
    Ok(rows)
}

/// The first line of `/proc/cpuinfo` that names the CPU model.
fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `cargo xtask bench cli`.
fn cli(options: &Options) -> Result<(), String> {
    let layout = engine::Layout::discover();
    let env: HashMap<String, String> = engine::up(&layout)?.into_iter().collect();
    cargo(&["build", "--release", "-p", "image-cli"])?;
    let imgctl = target_dir(&layout).join("release/imgctl");
    let gnu_time = Path::new(GNU_TIME).is_file();
    if !gnu_time {
        eprintln!(
            "xtask: {GNU_TIME} is missing, so no peak memory figures (`apt-get install time`)"
        );
    }
    let scratch = target_dir(&layout).join("bench/time.out");
    if let Some(dir) = scratch.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut report = Vec::new();
    for &name in &options.engines {
        let target = Target::from_env(&env, name)?;
        ensure_fixtures(&layout, &target, options.images)?;
        let server = output(
            target
                .docker()
                .args(["version", "--format", "{{.Server.Version}}"]),
            "docker version",
        )?;
        let client = output(
            target
                .docker()
                .args(["version", "--format", "{{.Client.Version}}"]),
            "docker version",
        )?;
        let total = output(target.docker().args(["images", "--quiet"]), "docker images")?
            .lines()
            .count();
        let same = same_output(&target, &imgctl, &target_dir(&layout).join("bench"))?;
        report.push(format!(
            "engine {} (Docker {}, API {}), {total} rows in `docker images`, {} images \
             loaded by the bench; docker CLI {}; {} rounds after a warm-up; {} CPUs ({}); \
             `imgctl images` and `docker images` print {}",
            target.name.to_ascii_uppercase(),
            server.trim(),
            target.api,
            options.images,
            client.trim(),
            options.rounds,
            std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model(),
            if same {
                "the same rows"
            } else {
                "DIFFERENT output"
            },
        ));
        report.push(String::new());
        report.push(
            "| suite | command | median | p10 | p90 | × raw | peak RSS |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: |"
                .to_string(),
        );
        for (title, imgctl_args, docker_args, path) in [
            (
                "images",
                vec!["images"],
                vec!["images"],
                "/images/json".to_string(),
            ),
            (
                "image inspect",
                vec!["image", "inspect", PROBE_IMAGE],
                vec!["image", "inspect", PROBE_IMAGE],
                format!("/images/{PROBE_IMAGE}/json"),
            ),
            (
                "history",
                vec!["history", PROBE_IMAGE],
                vec!["history", PROBE_IMAGE],
                format!("/images/{PROBE_IMAGE}/history"),
            ),
            (
                "system df -v",
                vec!["system", "df", "-v"],
                vec!["system", "df", "-v"],
                "/system/df".to_string(),
            ),
        ] {
            let mut imgctl_cmd = target.command(&imgctl);
            imgctl_cmd.args(["-H", &target.host]).args(&imgctl_args);
            if let Some(why) = unsupported(&mut imgctl_cmd)? {
                eprintln!("xtask: {title}: skipped, imgctl says: {why}");
                report.push(format!(
                    "| {title} | skipped: `imgctl {}` says \"{why}\" | | | | | |",
                    imgctl_args.join(" ")
                ));
                continue;
            }
            let mut docker_cmd = target.docker();
            docker_cmd.args(&docker_args);
            let mut curl_cmd = target.command(Path::new("curl"));
            curl_cmd
                .args(["--silent", "--show-error", "--fail", "--unix-socket"])
                .arg(&target.socket)
                .arg(format!("http://localhost{path}"));
            let mut benches = [
                Bench::new(
                    format!("`imgctl {}`", imgctl_args.join(" ")),
                    imgctl_cmd,
                    false,
                ),
                Bench::new(
                    format!("`docker {}`", docker_args.join(" ")),
                    docker_cmd,
                    false,
                ),
                Bench::new(format!("raw `GET {path}` (curl)"), curl_cmd, true),
            ];
            report.extend(run_suite(
                title,
                &mut benches,
                options.rounds,
                &scratch,
                gnu_time,
            )?);
        }
        report.push(String::new());
    }
    let text = report.join("\n");
    let saved = target_dir(&layout).join("bench/report.md");
    fs::write(&saved, &text).map_err(|e| format!("cannot write {}: {e}", saved.display()))?;
    println!("\n{text}");
    eprintln!("xtask: the report is also in {}", saved.display());
    Ok(())
}

/// Whether imgctl refuses the command as not implemented yet, with its
/// message; any other failure is an error.
fn unsupported(cmd: &mut Command) -> Result<Option<String>, String> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run imgctl: {e}"))?;
    if out.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.contains("not implemented") {
        Ok(Some(stderr))
    } else {
        Err(format!("imgctl failed ({}): {stderr}", out.status))
    }
}

/// Whether `imgctl images` and `docker images` print the same lines (as
/// sets: docker orders the rows of an image with several repositories at
/// random); when not, both outputs are left in `dir`.
fn same_output(target: &Target, imgctl: &Path, dir: &Path) -> Result<bool, String> {
    let mut imgctl_cmd = target.command(imgctl);
    imgctl_cmd.args(["-H", &target.host, "images"]);
    let ours = output(&mut imgctl_cmd, "imgctl images")?;
    let theirs = output(target.docker().arg("images"), "docker images")?;
    // docker prints the repositories of an image with several in a Go
    // map's (random) order, so the rows are compared as sets of lines.
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    let same = sorted(&ours) == sorted(&theirs);
    if !same {
        let _ = fs::write(dir.join("imgctl-images.txt"), &ours);
        let _ = fs::write(dir.join("docker-images.txt"), &theirs);
        eprintln!(
            "xtask: `imgctl images` and `docker images` differ; both outputs are in {}",
            dir.display()
        );
    }
    Ok(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let odd = ms_list(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(quantile(&odd, 0.5), Duration::from_millis(6));
        assert_eq!(quantile(&odd, 0.1), Duration::from_millis(2));
        assert_eq!(quantile(&odd, 0.9), Duration::from_millis(10));
        let even = ms_list(&[1, 2, 3, 4]);
        assert_eq!(quantile(&even, 0.5), Duration::from_micros(2500));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn options() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let parsed = parse_options(&args(&["--rounds", "31", "--engine", "all"])).expect("parses");
        assert_eq!((parsed.images, parsed.rounds), (1000, 31));
        assert_eq!(parsed.engines, vec!['a', 'b']);
        assert!(parse_options(&args(&["--rounds", "3"])).is_err());
        assert!(parse_options(&args(&["--engine", "c"])).is_err());
        assert!(parse_options(&args(&["--images"])).is_err());
    }
}
