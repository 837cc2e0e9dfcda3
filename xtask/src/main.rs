//! Developer tasks for imgctl, run as `cargo xtask <task>`.
//!
//! Each task lives in its own function; the crate has no dependencies so that
//! it builds in seconds. Tasks:
//!
//! - `ci`: `cargo fmt --check`, `cargo clippy --all-targets --all-features -D
//!   warnings`, then `test`. This is what `.ci/run` runs.
//! - `fmt`: formats the workspace.
//! - `man [DIR]`: writes imgctl's man pages, generated with clap_mangen from
//!   the CLI's clap definitions (default `target/man`).
//! - `test`: starts the real engines and registries (`engine up`), runs every
//!   test of the workspace with the engines' environment, and stops them again
//!   (`engine down`) however the run ends.
//! - `engine up|down|env|status|check|install`: the real-engine harness, see
//!   [`engine`].
//! - `bench cli`: times `imgctl` against the docker CLI and the raw API on a
//!   private engine with 1,000 images, see [`bench`](mod@bench). Not part of `ci`.
//! - `bench http`: drives imgd's image list and the engine's own with wrk,
//!   see [`bench_http`]. Not part of `ci`.

mod bench;
mod bench_http;
mod engine;
mod envfile;
mod packages;
mod procs;
mod tls;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let task = args.first().map(String::as_str);
    let rest = args.get(1..).unwrap_or_default();
    let result = match task {
        Some("ci") => ci(),
        Some("fmt") => cargo(&["fmt", "--all"]),
        Some("man") => man(rest),
        Some("test") => test(rest),
        Some("engine") => engine_task(rest),
        Some("bench") => bench::run(rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`; run `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask man [DIR]`: runs image-cli's `man` example, which renders
/// the man pages from the clap definitions.
fn man(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("man"));
    let dir = dir.to_string_lossy().into_owned();
    cargo(&[
        "run",
        "--quiet",
        "-p",
        "image-cli",
        "--example",
        "man",
        "--",
        &dir,
    ])
}

/// Prints the tasks.
fn print_help() {
    println!(
        "cargo xtask <task>\n\n\
         tasks:\n  \
         ci              fmt --check, clippy -D warnings, then `test` (what .ci/run runs)\n  \
         fmt             format the workspace\n  \
         man [DIR]       write imgctl's man pages (default target/man)\n  \
         test [--keep-engines] [-- ARGS]\n                  \
         engine up, every test of the workspace with the engines' environment\n                  \
         (ARGS go to `cargo test`), then engine down\n  \
         engine up       install what is missing, start engines A and B and both registries\n  \
         engine down     stop everything `engine up` started and remove its state\n  \
         engine env      print target/engines/env (`export K='V'` lines)\n  \
         engine status   say what runs\n  \
         engine check    smoke-test the running engines and registries with the docker CLI\n  \
         engine install  install the Debian packages and fetch trixie's dockerd\n  \
         bench cli [--images N] [--rounds N] [--engine a|b|all]\n                  \
         time imgctl against docker and the raw API on N images (default 1000,\n                  \
         21 rounds, engine A); a benchmark, not run by CI\n  \
         bench http [--images N] [--duration S] [--connections N] [--engine a|b] [--imgd PATH]\n                  \
         wrk against imgd's GET /api/v1/images and the engine's /images/json\n                  \
         (default 1000 images, 30 s, 64 connections, engine B); a benchmark\n  \
         bench clean     remove the bench images from both engines"
    );
}

/// Whether this runs under CI (`CI` set to anything but `false`/`0`/empty).
fn is_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `cargo xtask engine <command>`.
fn engine_task(args: &[String]) -> Result<(), String> {
    let layout = engine::Layout::discover();
    match args.first().map(String::as_str) {
        Some("up") => engine::up(&layout).map(|_| ()).inspect_err(|_| {
            eprintln!("xtask: engine up failed; stopping what it started");
            if let Err(down) = engine::down(&layout) {
                eprintln!("xtask: {down}");
            }
        }),
        Some("down") => engine::down(&layout),
        Some("env") => engine::print_env(&layout),
        Some("status") => engine::status(&layout),
        Some("check") => engine::check(&layout),
        Some("install") => engine::install(&layout),
        Some("guard") => {
            let number = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
            match (number(1).and_then(|p| u32::try_from(p).ok()), number(2)) {
                (Some(pid), Some(start)) => engine::guard(&layout, pid, start),
                _ => Err("usage: cargo xtask engine guard PID START_TIME".into()),
            }
        }
        Some(other) => Err(format!(
            "unknown engine command `{other}`; run `cargo xtask help`"
        )),
        None => Err("usage: cargo xtask engine up|down|env|status|check|install".into()),
    }
}

/// `cargo xtask ci`: fmt check, clippy with `-D warnings`, the docs with
/// rustdoc's warnings as errors (broken links, private links), then
/// [`test`](fn@test).
fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])
        .map_err(|e| format!("{e}\n  fix it locally with: cargo xtask fmt"))?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    let mut doc = cargo_command(&["doc", "--workspace", "--no-deps", "--all-features"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    run(
        doc,
        "RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --all-features",
    )?;
    test(&[])
}

/// `cargo xtask test [--keep-engines] [-- ARGS]`: engine up, the workspace's
/// tests with the env file's variables, engine down on every exit path (a
/// drop guard for returns and panics, a guardian process for signals).
/// Under CI an engine that cannot start fails the run; elsewhere the tests
/// run without the engines' variables and skip their real-engine cases.
fn test(args: &[String]) -> Result<(), String> {
    let (ours, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let keep = ours.iter().any(|a| a == "--keep-engines");
    if let Some(unknown) = ours.iter().find(|a| *a != "--keep-engines") {
        return Err(format!("unknown test option `{unknown}`"));
    }
    let layout = engine::Layout::discover();
    let guard = (!keep).then(|| engine::DownGuard::arm(&layout));
    let vars = match engine::up(&layout).and_then(|vars| engine::check(&layout).map(|()| vars)) {
        Ok(vars) => Some(vars),
        Err(e) if is_ci() => {
            return Err(format!(
                "the real engines did not come up, and CI needs them:\n{e}"
            ));
        }
        Err(e) => {
            eprintln!(
                "\nxtask: ==================================================================\n\
                 xtask: WARNING: no real engines ({e})\n\
                 xtask: the real-engine tests will SKIP. Under CI=true this is an error.\n\
                 xtask: ==================================================================\n"
            );
            None
        }
    };
    // `-p CRATE` among the extra arguments narrows the run; otherwise it is
    // the whole workspace.
    let narrowed = extra
        .iter()
        .any(|a| a == "-p" || a.starts_with("--package") || (a.starts_with("-p") && a.len() > 2));
    let base: &[&str] = if narrowed {
        &["test", "--all-features"]
    } else {
        &["test", "--workspace", "--all-features"]
    };
    let mut cmd = cargo_command(base);
    cmd.args(extra);
    match &vars {
        Some(vars) => {
            cmd.envs(vars.iter().map(|(k, v)| (k, v)));
        }
        None => {
            for key in engine::ENV_KEYS.iter().filter(|k| k.starts_with("IMGCTL_")) {
                cmd.env_remove(key);
            }
        }
    }
    let what = format!("cargo {} {}", base.join(" "), extra.join(" "));
    let result = run(cmd, what.trim_end());
    drop(guard);
    result
}

/// A `cargo` command (the one running this xtask) in the workspace root.
fn cargo_command(args: &[&str]) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(workspace_root());
    cmd
}

/// Runs a command (`what` says which) and fails when it fails.
fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{what}` failed ({status})"))
    }
}

/// Runs `cargo ARGS` in the workspace root.
fn cargo(args: &[&str]) -> Result<(), String> {
    run(cargo_command(args), &format!("cargo {}", args.join(" ")))
}

/// The workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}
