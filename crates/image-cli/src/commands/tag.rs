//! `imgctl tag SOURCE TARGET [TARGET...]`: docker's `tag`, with several
//! targets in one call. Each target is tried even when another fails; the
//! command fails if any did.

use image_core::ImageService;
use image_core::reference::Reference;

use super::{ExitStatus, Io, report};
use crate::cli::TagArgs;

/// Runs `tag`.
pub async fn run(service: &dyn ImageService, args: &TagArgs, io: &mut Io<'_>) -> ExitStatus {
    let mut status = ExitStatus::Success;
    for target in &args.targets {
        // docker checks the target on the client, with this wording.
        if let Err(error) = Reference::parse_normalized(target) {
            let _ = writeln!(
                io.err,
                "Error parsing reference: \"{target}\" is not a valid repository/tag: {error}"
            );
            status = ExitStatus::Failure;
            continue;
        }
        if let Err(error) = service.tag(&args.source, target).await {
            status = report(io, &error);
        }
    }
    status
}
