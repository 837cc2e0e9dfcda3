//! `imgctl search` (being written in this session).

use image_core::ImageService;

use super::{ExitStatus, Io};
use crate::cli::SearchArgs;

/// Runs `search`.
pub async fn run(_service: &dyn ImageService, _args: &SearchArgs, io: &mut Io<'_>) -> ExitStatus {
    let _ = writeln!(io.err, "Error: imgctl search is not implemented yet");
    ExitStatus::Failure
}
