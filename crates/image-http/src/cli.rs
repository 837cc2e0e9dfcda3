//! imgd's command line, as clap types only; `main.rs` turns it into a
//! backend and [`Settings`](crate::Settings), and [`server`](crate::server)
//! serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// imgd: imgctl's HTTP service and web page for the container images of one
/// engine.
///
/// Every /api/ request needs `Authorization: Bearer <token>`. The token comes
/// from IMGD_TOKEN or --token-file; without either, imgd makes one up and
/// prints it once on stderr.
#[derive(Debug, Parser)]
#[command(name = "imgd", version, about, long_about)]
pub struct Args {
    /// Address to listen on. Anything but a loopback address needs
    /// --tls-cert and --tls-key, or --insecure-remote.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Which engine to serve: a Docker Engine, or imgctl's in-memory engine.
    #[arg(long, value_enum, default_value_t = Backend::Docker)]
    pub backend: Backend,

    /// With `--backend memory`: start from a demo host with realistic images.
    #[arg(long)]
    pub demo: bool,

    /// Daemon socket to connect to (else DOCKER_HOST, else the default socket).
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub host: Option<String>,

    /// Location of client config files (else DOCKER_CONFIG, else ~/.docker).
    #[arg(long = "config", value_name = "DIR")]
    pub config: Option<PathBuf>,

    /// Refuse every request that would change images (403 read_only).
    #[arg(long)]
    pub read_only: bool,

    /// Read the API token from this file (instead of IMGD_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// PEM certificate chain for HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Allow plain HTTP on a non-loopback address (the token then travels
    /// in clear text).
    #[arg(long)]
    pub insecure_remote: bool,

    /// Largest upload (build context, archive to load) in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_MAX_BODY)]
    pub max_body: u64,

    /// How many pulls, pushes and builds run at once.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_CONCURRENT,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_concurrent: usize,

    /// How many more may wait for a slot; beyond that, 503 busy.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_QUEUED)]
    pub max_queued: usize,

    /// Retention policy (TOML, as `imgctl cleanup --policy` reads it)
    /// to run every --cleanup-every; checked at start-up. The runs are at
    /// GET /api/v1/cleanup/reports; with --read-only they only plan.
    #[arg(long, value_name = "FILE", requires = "cleanup_every")]
    pub cleanup_policy: Option<PathBuf>,

    /// How often to run --cleanup-policy, as a Go duration (24h, 1h30m);
    /// the first run is one period after the start.
    #[arg(long, value_name = "DUR", requires = "cleanup_policy",
          value_parser = crate::cleanup::parse_every)]
    pub cleanup_every: Option<Duration>,
}

/// The engines imgd can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A Docker Engine.
    Docker,
    /// imgctl's in-memory engine (for trying imgd without Docker).
    Memory,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_and_flags_parse() {
        let args = Args::try_parse_from(["imgd"]).unwrap();
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.backend, Backend::Docker);
        assert_eq!(args.max_concurrent, crate::DEFAULT_MAX_CONCURRENT);
        let args = Args::try_parse_from([
            "imgd",
            "--listen",
            "0.0.0.0:9000",
            "--backend",
            "memory",
            "--demo",
            "-H",
            "unix:///tmp/d.sock",
            "--read-only",
            "--max-body",
            "1024",
            "--max-concurrent",
            "3",
            "--max-queued",
            "0",
            "--insecure-remote",
        ])
        .unwrap();
        assert!(args.demo && args.read_only && args.insecure_remote);
        assert_eq!(args.host.as_deref(), Some("unix:///tmp/d.sock"));
        assert_eq!(
            (args.max_body, args.max_concurrent, args.max_queued),
            (1024, 3, 0)
        );
        assert!(Args::try_parse_from(["imgd", "--max-concurrent", "0"]).is_err());
        assert!(Args::try_parse_from(["imgd", "--tls-cert", "c.pem"]).is_err());
    }

    #[test]
    fn the_cleanup_schedule_needs_both_flags_and_a_go_duration() {
        let args = Args::try_parse_from([
            "imgd",
            "--cleanup-policy",
            "policy.toml",
            "--cleanup-every",
            "1h30m",
        ])
        .unwrap();
        assert_eq!(args.cleanup_policy, Some(PathBuf::from("policy.toml")));
        assert_eq!(args.cleanup_every, Some(Duration::from_secs(5_400)));
        assert!(Args::try_parse_from(["imgd", "--cleanup-policy", "p.toml"]).is_err());
        assert!(Args::try_parse_from(["imgd", "--cleanup-every", "24h"]).is_err());
        let error = Args::try_parse_from([
            "imgd",
            "--cleanup-policy",
            "p.toml",
            "--cleanup-every",
            "1d",
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("not a Go duration"), "{error}");
    }
}
