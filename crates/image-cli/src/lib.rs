//! # image-cli
//!
//! The library behind the `imgctl` binary: clap definitions ([`cli`]), one
//! module per command ([`commands`]), each taking a `&dyn ImageService`,
//! typed options and an [`Io`], and the renderers
//! ([`render`]) for docker's tables, units, JSON and Go templates. Only
//! `main.rs` builds a backend.

pub mod cli;
pub mod commands;
pub mod render;
pub mod usage;

use image_core::ImageService;

use crate::cli::{Command, ImageCommand, SystemCommand};
use crate::commands::{ExitStatus, Io};

/// Runs one parsed command against `service`.
pub async fn run(command: &Command, service: &dyn ImageService, io: &mut Io<'_>) -> ExitStatus {
    match command {
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => {
            commands::images::run(service, args, io).await
        }
        Command::Inspect(args) => commands::inspect::run_object(service, args, io).await,
        Command::Image(ImageCommand::Inspect(args)) => {
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
        Command::Image(ImageCommand::Prune(args)) => commands::prune::run(service, args, io).await,
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => {
            commands::pull::run(service, args, io).await
        }
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => {
            commands::push::run(service, args, io).await
        }
        Command::Build(args) | Command::Image(ImageCommand::Build(args)) => {
            commands::build::run(service, args, io).await
        }
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => {
            commands::save::run(service, args, io).await
        }
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => {
            commands::load::run(service, args, io).await
        }
        Command::Image(ImageCommand::Usage(args)) => commands::usage::run(service, args, io).await,
        Command::Image(ImageCommand::Outdated(args)) => {
            commands::outdated::run(service, args, io).await
        }
        Command::Image(ImageCommand::Layers(args)) => {
            commands::layers::run(service, args, io).await
        }
        Command::Search(args) => commands::search::run(service, args, io).await,
        Command::Cleanup(args) => commands::cleanup::run(service, args, io).await,
        Command::System(SystemCommand::Df(args)) => commands::df::run(service, args, io).await,
        Command::Completion(args) => commands::completion::run(args, io),
    }
}
