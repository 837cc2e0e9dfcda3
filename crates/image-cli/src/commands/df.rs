//! `imgctl df` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::DfArgs;

/// Runs `df`.
pub async fn run(_service: &dyn ImageService, _args: &DfArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl df is not implemented yet");
    ExitStatus::Failure
}
