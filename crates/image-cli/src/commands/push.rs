//! `imgctl push` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::PushArgs;

/// Runs `push`.
pub async fn run(_service: &dyn ImageService, _args: &PushArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl push is not implemented yet");
    ExitStatus::Failure
}
