//! One module per command. Each takes a `&dyn ImageService`, its typed
//! options and a [`Io`] (the writers, the clock, whether stdout is a
//! terminal), so it runs the same against the in-memory engine in tests and
//! a real engine in `main.rs`. A command returns an [`ExitStatus`]; errors
//! it reports itself on `io.err` in docker's words.

pub mod build;
pub mod cleanup;
pub mod completion;
pub mod df;
pub mod history;
pub mod images;
pub mod inspect;
pub mod layers;
pub mod load;
pub mod outdated;
pub mod prune;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod save;
pub mod search;
pub mod tag;
pub mod usage;

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use image_core::{ErrorKind, ImageError};

/// What a command exits with: docker uses 0 for success and 1 for failure
/// (64 for an `inspect` template that does not parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything worked.
    Success,
    /// Something failed; it was reported on stderr.
    Failure,
    /// A `--format` template did not parse: docker's `inspect` exits 64
    /// (`cli.StatusError{StatusCode: 64}`).
    BadTemplate,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::BadTemplate => 64,
        }
    }
}

/// Where a command writes, and the facts it needs about its surroundings.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// Standard input, for confirmations.
    pub input: &'a mut dyn io::BufRead,
    /// The current time, for "2 weeks ago".
    pub now: DateTime<Utc>,
    /// Whether standard output is a terminal (progress bars, refusing to
    /// write archives to it).
    pub stdout_is_terminal: bool,
}

/// The text docker prints for an error, without the trailing newline.
///
/// Errors the engine reports get docker's `Error response from daemon: `
/// prefix; an unreachable engine gets docker's own sentence.
pub fn error_text(error: &ImageError) -> String {
    match error {
        ImageError::EngineUnavailable { endpoint, hint } => {
            format!(
                "Cannot connect to the Docker daemon at {endpoint}. {}",
                capitalized(hint)
            )
        }
        other => match other.kind() {
            ErrorKind::InvalidArgument | ErrorKind::NotSupported | ErrorKind::Cancelled => {
                format!("Error: {other}")
            }
            _ => format!("Error response from daemon: {other}"),
        },
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Prints a command's rendered output on stdout, or the rendering's error
/// (a template that does not execute) on stderr with exit status 1.
pub fn print_output<E: std::fmt::Display>(
    io: &mut Io<'_>,
    rendered: Result<String, E>,
) -> ExitStatus {
    match rendered {
        Ok(text) => {
            let _ = io.out.write_all(text.as_bytes());
            ExitStatus::Success
        }
        Err(message) => {
            let _ = writeln!(io.err, "{message}");
            ExitStatus::Failure
        }
    }
}

/// Reports the errors of the arguments that failed (docker's commands go
/// on past a failing argument and report it last) after a run that ended
/// with `status`: exit status 1 when there were any.
pub fn report_last(io: &mut Io<'_>, status: ExitStatus, errors: &[String]) -> ExitStatus {
    if errors.is_empty() {
        return status;
    }
    let _ = writeln!(io.err, "{}", errors.join("\n"));
    ExitStatus::Failure
}

/// Reports an error on stderr, in docker's words.
pub fn report(io: &mut Io<'_>, error: &ImageError) -> ExitStatus {
    let _ = writeln!(io.err, "{}", error_text(error));
    ExitStatus::Failure
}

/// Writes to stdout; a closed pipe (`imgctl images | head`) is not an error
/// worth reporting, so it ends the command quietly as docker does.
pub fn write_out(io: &mut Io<'_>, text: &str) -> io::Result<()> {
    io.out.write_all(text.as_bytes())
}
