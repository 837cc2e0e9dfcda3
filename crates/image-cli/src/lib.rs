//! # image-cli
//!
//! The library behind the `imgctl` binary: clap definitions ([`cli`]), one
//! module per command ([`commands`]), each taking a `&dyn ImageService`,
//! typed options and an [`Io`](commands::Io), and the renderers
//! ([`render`]) for docker's tables, units, JSON and Go templates. Only
//! `main.rs` builds a backend.

pub mod cli;
pub mod commands;
pub mod render;

use image_core::ImageService;

use crate::cli::{Command, ImageCommand};
use crate::commands::{ExitStatus, Io};

/// Runs one parsed command against `service`.
pub async fn run(command: &Command, service: &dyn ImageService, io: &mut Io<'_>) -> ExitStatus {
    match command {
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => {
            commands::images::run(service, args, io).await
        }
        Command::Inspect(args) | Command::Image(ImageCommand::Inspect(args)) => {
            commands::inspect::run(service, args, io).await
        }
        Command::History(args) | Command::Image(ImageCommand::History(args)) => {
            commands::history::run(service, args, io).await
        }
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => {
            commands::tag::run(service, args, io).await
        }
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => {
            commands::rmi::run(service, args, io).await
        }
    }
}
