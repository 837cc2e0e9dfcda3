//! `imgctl load` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::LoadArgs;

/// Runs `load`.
pub async fn run(_service: &dyn ImageService, _args: &LoadArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl load is not implemented yet");
    ExitStatus::Failure
}
