//! How the command tests run `imgctl`: parse the arguments with the real
//! clap types, run the command on a given service with captured stdout and
//! stderr, a given stdin and a fixed "now" (2025-03-01T00:00:00Z), so golden
//! outputs do not drift.

#![allow(dead_code, clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use clap::Parser as _;
use image_cli::cli::Cli;
use image_cli::commands::{ExitStatus, Io};
use image_core::ImageService;

/// What a run printed, stdout as bytes (archives are binary).
pub struct Output {
    /// Standard output.
    pub out: Vec<u8>,
    /// Standard error.
    pub err: String,
    /// The exit status.
    pub status: ExitStatus,
}

impl Output {
    /// Standard output as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.out.clone()).unwrap()
    }
}

/// What a run printed, stdout as text.
pub struct TextOutput {
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
    /// The exit status.
    pub status: ExitStatus,
}

/// Runs `imgctl ARGS` on `service` with `stdin`, as if stdout were (or were
/// not) a terminal.
pub async fn run_io(
    service: &dyn ImageService,
    args: &[&str],
    stdin: &[u8],
    stdout_is_terminal: bool,
) -> Output {
    let cli = Cli::try_parse_from(std::iter::once("imgctl").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut input = std::io::Cursor::new(stdin.to_vec());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        input: &mut input,
        now: Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap(),
        stdout_is_terminal,
    };
    let status = image_cli::run(&cli.command, service, &mut io).await;
    Output {
        out,
        err: String::from_utf8(err).unwrap(),
        status,
    }
}

/// Runs `imgctl ARGS` on `service` with `stdin`, off a terminal, with text
/// output.
pub async fn run_with(service: &dyn ImageService, args: &[&str], stdin: &str) -> TextOutput {
    let output = run_io(service, args, stdin.as_bytes(), false).await;
    TextOutput {
        out: output.text(),
        err: output.err,
        status: output.status,
    }
}
