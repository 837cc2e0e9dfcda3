//! `imgctl pull` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::PullArgs;

/// Runs `pull`.
pub async fn run(_service: &dyn ImageService, _args: &PullArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl pull is not implemented yet");
    ExitStatus::Failure
}
