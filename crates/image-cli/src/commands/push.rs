//! `imgctl push [-a] [-q] [--platform P] NAME[:TAG]` and `imgctl image
//! push`: docker's `push` (docker/cli 28, `cli/command/image/push.go`).
//!
//! As docker does: `--platform` is parsed first (a bad value prints
//! `Invalid platform P` and the parser's message) and, when given, prints
//! docker's note that only that platform's manifest is pushed; the
//! reference is checked on the client (`tag can't be used with
//! --all-tags/-a`); without a tag (and without `-a`) `Using default tag:
//! latest` comes first (not with `-q`). The engine's progress is shown as
//! docker shows it (`The push refers to repository [...]`, `ID: Preparing`,
//! `ID: Pushed` or `ID: Layer already exists`, `TAG: digest: sha256:...
//! size: N`); nothing follows it on success. With `-q` the progress is
//! hidden and only the pushed reference is printed
//! (`localhost:5000/app:v1`, the repository name alone with `-a`).

use image_core::reference::Reference;
use image_core::{ImageService, PushOptions};

use super::pull::platform_option;
use super::{ExitStatus, Io, report};
use crate::cli::PushArgs;
use crate::render::progress::{
    Mode, ProgressDisplay, StreamFailure, show_stream, stream_error_text,
};

/// docker's note for `--platform` (`runPush`), one line per entry.
const PLATFORM_NOTE: [&str; 4] = [
    "Using --platform pushes only the specified platform manifest of a multi-platform image index.",
    "Other components, like attestations, will not be included.",
    "To push the complete multi-platform image, remove the --platform flag.",
    "",
];

/// Runs `push`.
pub async fn run(service: &dyn ImageService, args: &PushArgs, io: &mut Io<'_>) -> ExitStatus {
    // Unlike `pull`, docker's push does not default to DOCKER_DEFAULT_PLATFORM.
    let flag = args.platform.as_deref().filter(|p| !p.is_empty());
    let platform = match flag {
        None => None,
        Some(text) => match platform_option(Some(text)) {
            Ok(platform) => platform,
            Err(message) => {
                // docker prints this without a newline, then the error.
                let _ = write!(io.err, "Invalid platform {text}");
                return fail(io, &message);
            }
        },
    };
    if platform.is_some() {
        print_note(io);
    }
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
    let options = PushOptions {
        reference: named.familiar(),
        platform,
        all_tags: args.all_tags,
        auth: None,
    };
    let stream = match service.push(&options).await {
        Ok(stream) => stream,
        Err(error) => return report(io, &error),
    };
    let mut display = ProgressDisplay::new(Mode::for_stdout(args.quiet, io.stdout_is_terminal));
    match show_stream(stream, &mut display, io.out).await {
        Ok(_) => {
            if args.quiet {
                let _ = writeln!(io.out, "{named}");
            }
            let _ = io.out.flush();
            ExitStatus::Success
        }
        Err(StreamFailure::Failed(error)) => fail(io, &stream_error_text(&error)),
        Err(StreamFailure::EndedEarly(error)) => report(io, &error),
    }
}

/// docker's `PrintNote` (`internal/tui/note.go`): a blank line, the
/// ` Info -> ` header, then the lines, indented under the first. On a
/// terminal docker draws the header in colour, the flag in bold and the
/// text in italics; `NO_COLOR` keeps the plain form.
fn print_note(io: &mut Io<'_>) {
    let fancy = io.stdout_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let header = if fancy {
        "\x1b[1m\x1b[106m\x1b[30mi\x1b[0m\x1b[0m \x1b[96mInfo → \x1b[0m\x1b[0m"
    } else {
        " Info -> "
    };
    let mut text = format!("\n{header}");
    for (index, line) in PLATFORM_NOTE.iter().enumerate() {
        if index > 0 {
            text.push_str(&" ".repeat(9));
        }
        if fancy {
            let line = line.replace("--platform", "\x1b[1m--platform\x1b[0m");
            text.push_str(&format!("\x1b[3m{line}\x1b[0m\n"));
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    let _ = io.out.write_all(text.as_bytes());
}

/// Prints a client-side error as docker's `main` does and fails.
fn fail(io: &mut Io<'_>, message: &str) -> ExitStatus {
    let _ = io.out.flush();
    let _ = writeln!(io.err, "{message}");
    ExitStatus::Failure
}
