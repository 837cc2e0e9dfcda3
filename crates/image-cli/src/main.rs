//! The `imgctl` binary: parse, build the backend, run, exit. This is the one
//! place that names a backend.

use std::io::{self, IsTerminal as _};
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use image_cli::cli::{Backend, Cli};
use image_cli::commands::{self, ExitStatus, Io};
use image_core::{ImageService, MemoryImageService};
use image_docker::{ConnectOptions, DockerImageService};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            // Usage errors in docker's words and exit codes.
            let usage = image_cli::usage::usage_error(&error, &Cli::command(), &args);
            if usage.to_stdout {
                print!("{}", usage.text);
            } else {
                eprint!("{}", usage.text);
            }
            return ExitCode::from(usage.code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: starting the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let status = runtime.block_on(run(cli));
    ExitCode::from(status.code())
}

async fn run(cli: Cli) -> ExitStatus {
    let stdout = io::stdout();
    let stdout_is_terminal = stdout.is_terminal();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = io::stderr();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        input: &mut input,
        now: chrono::Utc::now(),
        stdout_is_terminal,
    };
    let service: Box<dyn ImageService> = match cli.backend {
        Backend::Memory if cli.demo => match MemoryImageService::demo() {
            Ok(service) => Box::new(service),
            Err(error) => return commands::report(&mut io, &error),
        },
        Backend::Memory => Box::new(MemoryImageService::new()),
        Backend::Docker => {
            let options = match ConnectOptions::from_env(cli.host.as_deref(), cli.config.as_deref())
            {
                Ok(options) => options,
                Err(error) => return commands::report(&mut io, &error),
            };
            match DockerImageService::connect(options).await {
                Ok(service) => Box::new(service),
                Err(error) => return commands::report(&mut io, &error),
            }
        }
    };
    let status = image_cli::run(&cli.command, service.as_ref(), &mut io).await;
    let _ = io.out.flush();
    status
}
