//! Writes imgctl's man pages (one for `imgctl`, one per subcommand) from the
//! same clap definitions that parse the command line. Run by
//! `cargo xtask man [DIR]` (default `target/man`).

use std::path::PathBuf;

use clap::CommandFactory as _;
use image_cli::cli::Cli;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/man"));
    std::fs::create_dir_all(&dir)?;
    let command = Cli::command();
    clap_mangen::generate_to(command, &dir)?;
    println!("man pages written to {}", dir.display());
    Ok(())
}
