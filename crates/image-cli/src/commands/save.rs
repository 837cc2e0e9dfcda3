//! `imgctl save` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::SaveArgs;

/// Runs `save`.
pub async fn run(_service: &dyn ImageService, _args: &SaveArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl save is not implemented yet");
    ExitStatus::Failure
}
