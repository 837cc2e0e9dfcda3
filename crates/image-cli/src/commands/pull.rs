//! `imgctl pull [-a] [-q] [--platform P] NAME[:TAG|@DIGEST]` and
//! `imgctl image pull`: docker's `pull` (docker/cli 28,
//! `cli/command/image/pull.go`).
//!
//! The reference is checked on the client first, as docker does, and its
//! errors are printed as they are (`invalid reference format: ...`, `tag
//! can't be used with --all-tags/-a`). Without a tag or digest (and without
//! `-a`), `Using default tag: latest` comes first (not with `-q`). The
//! engine's progress is shown as docker shows it (see
//! [`render::progress`](crate::render::progress)); on success the full
//! reference follows on its own line (`docker.io/library/alpine:latest`),
//! and with `-q` that line is all there is. `--platform` defaults to
//! `DOCKER_DEFAULT_PLATFORM`, as docker's does.

use image_core::reference::Reference;
use image_core::{ImageError, ImageService, Platform, PullOptions};

use super::{ExitStatus, Io, report};
use crate::cli::PullArgs;
use crate::render::progress::{
    Mode, ProgressDisplay, StreamFailure, show_stream, stream_error_text,
};

/// Runs `pull`.
pub async fn run(service: &dyn ImageService, args: &PullArgs, io: &mut Io<'_>) -> ExitStatus {
    let named = match Reference::parse_normalized(&args.name) {
        Ok(named) => named,
        Err(error) => return fail(io, &error.to_string()),
    };
    let named = if args.all_tags {
        if !named.is_name_only() {
            return fail(io, "tag can't be used with --all-tags/-a");
        }
        named
    } else if named.is_name_only() {
        let tagged = named.tag_name_only();
        if !args.quiet {
            let _ = writeln!(io.out, "Using default tag: latest");
        }
        tagged
    } else {
        named
    };
    let platform = match platform_option(args.platform.as_deref()) {
        Ok(platform) => platform,
        Err(message) => return fail(io, &message),
    };
    let options = PullOptions {
        reference: named.familiar(),
        platform,
        all_tags: args.all_tags,
        auth: None,
    };
    let stream = match service.pull(&options).await {
        Ok(stream) => stream,
        Err(error) => return report(io, &error),
    };
    let mut display = ProgressDisplay::new(Mode::for_stdout(args.quiet, io.stdout_is_terminal));
    match show_stream(stream, &mut display, io.out).await {
        Ok(_) => {
            let _ = writeln!(io.out, "{named}");
            let _ = io.out.flush();
            ExitStatus::Success
        }
        Err(StreamFailure::Failed(error)) => fail(io, &stream_error_text(&error)),
        Err(StreamFailure::EndedEarly(error)) => report(io, &error),
    }
}

/// The platform to ask for: `--platform`, else `DOCKER_DEFAULT_PLATFORM`;
/// an empty value means the engine's own. A malformed value gives the
/// message to print.
pub fn platform_option(flag: Option<&str>) -> Result<Option<Platform>, String> {
    let text = match flag {
        Some(text) => text.to_string(),
        None => std::env::var("DOCKER_DEFAULT_PLATFORM").unwrap_or_default(),
    };
    if text.is_empty() {
        return Ok(None);
    }
    Platform::parse(&text)
        .map(Some)
        .map_err(|error| match error {
            ImageError::InvalidArgument { message } => message,
            other => other.to_string(),
        })
}

/// Prints a message the way docker's `main` prints a client-side error (as
/// it is, on its own line) and fails.
fn fail(io: &mut Io<'_>, message: &str) -> ExitStatus {
    let _ = io.out.flush();
    let _ = writeln!(io.err, "{message}");
    ExitStatus::Failure
}
