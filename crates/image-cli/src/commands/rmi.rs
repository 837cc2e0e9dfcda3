//! `imgctl rmi IMAGE...` and `imgctl image rm`: docker's `rmi`. Every
//! argument is tried; what was untagged and deleted is printed as it
//! happens, and the errors are printed at the end, as docker does.

use image_core::{ImageService, RemoveAction, RemoveOptions};

use super::{ExitStatus, Io, error_text, report_last};
use crate::cli::RmiArgs;

/// Runs `rmi`.
pub async fn run(service: &dyn ImageService, args: &RmiArgs, io: &mut Io<'_>) -> ExitStatus {
    let options = RemoveOptions {
        force: args.force,
        no_prune: args.no_prune,
    };
    let mut errors = Vec::new();
    for image in &args.images {
        match service.remove(image, &options).await {
            Ok(actions) => {
                for action in actions {
                    let line = match action {
                        RemoveAction::Untagged(reference) => format!("Untagged: {reference}\n"),
                        RemoveAction::Deleted(id) => format!("Deleted: {id}\n"),
                    };
                    if io.out.write_all(line.as_bytes()).is_err() {
                        return ExitStatus::Failure;
                    }
                }
            }
            Err(error) => errors.push(error_text(&error)),
        }
    }
    report_last(io, ExitStatus::Success, &errors)
}
