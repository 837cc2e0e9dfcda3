//! The `imgd` binary: parse, resolve the token, settings and cleanup
//! schedule, build the backend (a Docker Engine behind image-core's list
//! cache, or the memory engine), start the scheduled cleanup if any, serve
//! until SIGTERM or ctrl-c. This is the one place that names
//! a backend.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use image_core::retention::RetentionPolicy;
use image_core::{CachedImageService, DynImageService, ImageService, MemoryImageService};
use image_docker::{ConnectOptions, DockerImageService};
use image_http::auth::Token;
use image_http::cleanup::{self, Schedule};
use image_http::cli::{Args, Backend};
use image_http::list_cache::ListVersion;
use image_http::server::{self, ListenMode};
use image_http::{AppState, Settings};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        // A closed stderr must not panic the task that logs (tracing would
        // report the failed write with eprintln!, which panics).
        .log_internal_errors(false)
        .with_env_filter(
            EnvFilter::try_from_env("IMGD_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("imgd: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("imgd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The token from --token-file or IMGD_TOKEN, or a new one printed once.
fn token(args: &Args) -> Result<Token, String> {
    let from_env = std::env::var("IMGD_TOKEN").ok().filter(|v| !v.is_empty());
    match (&args.token_file, from_env) {
        (Some(_), Some(_)) => Err("both IMGD_TOKEN and --token-file are set; use one".into()),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("reading --token-file {}: {error}", path.display()))?;
            Token::new(&text).map_err(|error| format!("{error} (in {})", path.display()))
        }
        (None, Some(text)) => Token::new(&text).map_err(|error| format!("{error} (IMGD_TOKEN)")),
        (None, None) => {
            let (token, text) = Token::generate()?;
            // Shown once; a closed stderr is no reason to panic.
            let _ = writeln!(
                std::io::stderr(),
                "imgd: API token (generated; set IMGD_TOKEN or --token-file to choose one): {text}"
            );
            Ok(token)
        }
    }
}

/// The backend, served through image-core's list cache (kept fresh by the
/// engine's change feed), and the cache's list version.
async fn backend(args: &Args) -> Result<(Arc<DynImageService>, ListVersion), String> {
    fn cached<S: ImageService>(service: S) -> (Arc<DynImageService>, ListVersion) {
        let cache = Arc::new(CachedImageService::new(service));
        let version: ListVersion = {
            let cache = cache.clone();
            Arc::new(move || cache.list_version())
        };
        (cache, version)
    }
    Ok(match args.backend {
        Backend::Memory if args.demo => {
            cached(MemoryImageService::demo().map_err(|error| error.to_string())?)
        }
        Backend::Memory => cached(MemoryImageService::new()),
        Backend::Docker if args.demo => {
            return Err("--demo needs --backend memory".into());
        }
        Backend::Docker => {
            let options = ConnectOptions::from_env(args.host.as_deref(), args.config.as_deref())
                .map_err(|error| error.to_string())?;
            let docker = DockerImageService::connect(options)
                .await
                .map_err(|error| error.to_string())?;
            cached(docker)
        }
    })
}

/// The scheduled cleanup of --cleanup-policy and --cleanup-every, if both
/// are given (clap refuses one without the other); a policy that does not
/// load is a start-up error naming the file and the line.
fn schedule(args: &Args) -> Result<Option<Schedule>, String> {
    let (Some(path), Some(every)) = (&args.cleanup_policy, args.cleanup_every) else {
        return Ok(None);
    };
    let policy =
        RetentionPolicy::load(path).map_err(|error| format!("--cleanup-policy: {error}"))?;
    Ok(Some(Schedule { policy, every }))
}

async fn run(args: Args) -> Result<(), String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls_config(cert, key)?),
        _ => None,
    };
    let mode = server::listen_mode(args.listen, tls.is_some(), args.insecure_remote)?;
    let settings = Settings {
        read_only: args.read_only,
        max_body: args.max_body,
        max_concurrent: args.max_concurrent,
        max_queued: args.max_queued,
        ..Settings::new(token(&args)?)
    };
    let schedule = schedule(&args)?;
    let (service, list_version) = backend(&args).await?;
    let state =
        AppState::new(service, settings).map_err(|error| format!("setting up metrics: {error}"))?;
    let state = state.with_list_version(list_version);
    let cleanup = schedule.map(|schedule| {
        tracing::info!(
            every = %image_core::retention::Age(schedule.every),
            rules = schedule.policy.rules.len(),
            plan_only = args.read_only,
            "scheduled cleanup"
        );
        cleanup::spawn(&state, schedule)
    });
    let shutdown = state.shutdown.clone();
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|error| format!("listening on {}: {error}", args.listen))?;
    let local = listener
        .local_addr()
        .map_err(|error| format!("listening on {}: {error}", args.listen))?;
    let scheme = if mode == ListenMode::Tls {
        "https"
    } else {
        "http"
    };
    match mode {
        ListenMode::InsecureRemote => tracing::warn!(
            listen = %args.listen,
            "serving plain HTTP on a non-loopback address (--insecure-remote): the token travels in clear text"
        ),
        ListenMode::Tls => tracing::info!(listen = %args.listen, "serving HTTPS"),
        ListenMode::Loopback => {
            tracing::info!(listen = %args.listen, "serving plain HTTP on loopback")
        }
    }
    tracing::info!(
        url = %format!("{scheme}://{local}/"),
        backend = ?args.backend,
        read_only = args.read_only,
        "imgd ready"
    );
    server::serve(
        listener,
        image_http::app(state),
        tls,
        shutdown,
        server::termination(),
    )
    .await
    .map_err(|error| format!("serving: {error}"))?;
    if let Some(task) = cleanup {
        // The shutdown token is cancelled: the task ends at its next await.
        let _ = task.await;
    }
    tracing::info!("imgd stopped");
    Ok(())
}
