//! `imgctl image prune [-a] [-f] [--filter ...] [--dry-run]`: docker 28's
//! `docker image prune`, word for word (docker/cli v28.5.2,
//! `cli/command/image/prune.go`; the prompt is `internal/prompt/prompt.go`'s
//! `Confirm`, which `cli/command/utils.go`'s `PromptForConfirmation` wraps).
//!
//! What it prints, on stdout:
//!
//! * Without `-f`, the warning and the prompt, with no newline after it:
//!   `WARNING! This will remove all dangling images.` (with `-a`:
//!   `WARNING! This will remove all images without at least one container
//!   associated to them.`), then `Are you sure you want to continue? [y/N] `.
//!   One line is read from standard input; only `y` or `Y` (surrounding
//!   whitespace ignored) goes on. Anything else, an empty line, end of input
//!   or a read error is a "no": docker then prints nothing more and exits 0
//!   (its `cancelledErr` is silent and leaves the exit code at 0).
//! * When something was removed, `Deleted Images:`, one `untagged: REF` or
//!   `deleted: sha256:...` line per action (lower case, unlike `rmi`), and a
//!   blank line.
//! * Always, `Total reclaimed space: SIZE` (go-units `HumanSize`, 4
//!   significant digits). When nothing was removed that is the only line,
//!   and docker 28 prints `0B` there whatever the engine reported.
//!
//! Filters (`until`, `label`, `label!`) are read by [`PruneFilters::parse`].
//! An argument without `=` is a flag error in docker, reported before
//! anything else as `invalid argument "X" for "--filter" flag: bad format of
//! filter (expected name=value)` followed by the usage hint (docker exits 125
//! there; imgctl has only exit code 1). Other filter errors are the daemon's
//! in docker, so they come, like there, after the confirmation, as
//! `Error response from daemon: invalid filter 'KEY'` and so on (exit 1).
//! docker also merges `pruneFilters` from its `config.json`; imgctl does not.
//!
//! Beyond docker, `--dry-run` asks no confirmation and deletes nothing: the
//! backend reports what the same prune would do now
//! ([`PruneOptions::dry_run`]) and the output has the same lines under
//! `Would delete images:`, ending with `Total reclaimable space: SIZE`.
//! On a Docker Engine, which has no dry run, the backend runs the same
//! prune on a snapshot of the engine (see `image_docker`).

use image_core::{ImageError, ImageService, PruneFilters, PruneOptions, PruneReport, RemoveAction};

use super::{ExitStatus, Io, report};
use crate::cli::PruneArgs;
use crate::render::units::human_size;

/// docker's warning without `-a`.
const DANGLING_WARNING: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";
/// docker's warning with `-a`.
const ALL_WARNING: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";
/// docker/cli's `FilterOpt.Set` message for an argument without `=`.
const BAD_FORMAT: &str = "bad format of filter (expected name=value)";

/// Runs `image prune`.
pub async fn run(service: &dyn ImageService, args: &PruneArgs, io: &mut Io<'_>) -> ExitStatus {
    let filters = PruneFilters::parse(&args.filters);
    if let Err(ImageError::InvalidFilter { filter, message }) = &filters {
        if message == BAD_FORMAT {
            return flag_error(io, filter, message);
        }
    }
    if !args.dry_run && !args.force {
        let warning = if args.all {
            ALL_WARNING
        } else {
            DANGLING_WARNING
        };
        if !confirm(io, warning) {
            return ExitStatus::Success;
        }
    }
    let filters = match filters {
        Ok(filters) => filters,
        Err(error) => return report(io, &error),
    };
    let options = PruneOptions {
        all: args.all,
        filters,
        dry_run: args.dry_run,
    };
    match service.prune(&options).await {
        Ok(pruned) => {
            let _ = io.out.write_all(render(&pruned, args.dry_run).as_bytes());
            ExitStatus::Success
        }
        Err(error) => report(io, &error),
    }
}

/// docker's `prompt.Confirm`: writes `message [y/N] ` and reads one line;
/// true only for `y` or `Y`.
pub(super) fn confirm(io: &mut Io<'_>, message: &str) -> bool {
    let _ = write!(io.out, "{message} [y/N] ");
    let _ = io.out.flush();
    let mut line = String::new();
    match io.input.read_line(&mut line) {
        Ok(_) => line.trim().eq_ignore_ascii_case("y"),
        Err(_) => false,
    }
}

/// What docker prints after a prune (or what imgctl prints for a dry run).
fn render(pruned: &PruneReport, dry_run: bool) -> String {
    let (heading, total) = if dry_run {
        ("Would delete images:", "Total reclaimable space:")
    } else {
        ("Deleted Images:", "Total reclaimed space:")
    };
    let mut text = String::new();
    // docker 28 only takes the engine's figure when something was deleted.
    let mut space = 0;
    if !pruned.actions.is_empty() {
        text.push_str(heading);
        text.push('\n');
        for action in &pruned.actions {
            match action {
                RemoveAction::Untagged(reference) => {
                    text.push_str("untagged: ");
                    text.push_str(reference);
                }
                RemoveAction::Deleted(id) => {
                    text.push_str("deleted: ");
                    text.push_str(id);
                }
            }
            text.push('\n');
        }
        text.push('\n');
        space = pruned.space_reclaimed;
    }
    text.push_str(total);
    text.push(' ');
    text.push_str(&human_size(space as f64));
    text.push('\n');
    text
}

/// A bad `--filter` value, as cobra/pflag report a flag that fails to parse
/// (docker/cli `cli/cobra.go`, `FlagErrorFunc`).
fn flag_error(io: &mut Io<'_>, value: &str, message: &str) -> ExitStatus {
    let _ = writeln!(
        io.err,
        "invalid argument {value:?} for \"--filter\" flag: {message}\n\n\
         Usage:  imgctl image prune [OPTIONS]\n\n\
         Run 'imgctl image prune --help' for more information"
    );
    ExitStatus::Failure
}
