//! `imgctl build` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::BuildArgs;

/// Runs `build`.
pub async fn run(_service: &dyn ImageService, _args: &BuildArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl build is not implemented yet");
    ExitStatus::Failure
}
