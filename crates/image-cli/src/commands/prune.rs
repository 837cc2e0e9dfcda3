//! `imgctl prune` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::PruneArgs;

/// Runs `prune`.
pub async fn run(_service: &dyn ImageService, _args: &PruneArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl prune is not implemented yet");
    ExitStatus::Failure
}
