//! Where the engine is and how to reach it: `DOCKER_HOST` (`unix://`,
//! `tcp://`, and `tcp://` with TLS through `DOCKER_TLS_VERIFY` and
//! `DOCKER_CERT_PATH`), timeouts, and the docker config directory that holds
//! registry credentials. Pure code: nothing here opens a connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image_core::ImageError;

/// The socket docker uses when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The default timeout for one request to the engine (not for the whole of a
/// streamed pull, push or build, which may run longer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How to reach an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain TCP, `host:port`.
    Tcp {
        /// The host name or address.
        host: String,
        /// The port.
        port: u16,
    },
    /// TCP with TLS and a client certificate, as `DOCKER_TLS_VERIFY=1` asks.
    Tls {
        /// The host name or address (also the name the certificate must carry).
        host: String,
        /// The port.
        port: u16,
        /// `ca.pem`.
        ca: PathBuf,
        /// `cert.pem`.
        cert: PathBuf,
        /// `key.pem`.
        key: PathBuf,
    },
}

impl Endpoint {
    /// The endpoint as a `DOCKER_HOST` URL, for messages.
    pub fn url(&self) -> String {
        match self {
            Endpoint::Unix(path) => format!("unix://{}", path.display()),
            Endpoint::Tcp { host, port } | Endpoint::Tls { host, port, .. } => {
                format!("tcp://{host}:{port}")
            }
        }
    }

    /// Parses a `DOCKER_HOST` value. `tls_cert_dir` is the certificate
    /// directory when TLS verification is on (`DOCKER_TLS_VERIFY`), else
    /// `None`.
    pub fn parse(host: &str, tls_cert_dir: Option<&Path>) -> Result<Endpoint, ImageError> {
        let bad = |why: &str| {
            ImageError::invalid_argument(format!(
                "invalid DOCKER_HOST \"{host}\": {why} (expected unix:///path/to/socket or tcp://host:port)"
            ))
        };
        if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("the socket path is empty"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let rest = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .or_else(|| host.strip_prefix("https://"))
            .ok_or_else(|| bad("unsupported scheme"))?;
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err(bad("a path is not supported"));
        }
        let (host_part, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port: u16 = p.parse().map_err(|_| bad("the port is not a number"))?;
                (h.to_string(), port)
            }
            _ => {
                let default = if tls_cert_dir.is_some() { 2376 } else { 2375 };
                (authority.to_string(), default)
            }
        };
        if host_part.is_empty() {
            return Err(bad("the host is empty"));
        }
        Ok(match tls_cert_dir {
            Some(dir) => Endpoint::Tls {
                host: host_part,
                port,
                ca: dir.join("ca.pem"),
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            },
            None => Endpoint::Tcp {
                host: host_part,
                port,
            },
        })
    }
}

/// Everything needed to connect to an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Where the engine is.
    pub endpoint: Endpoint,
    /// The timeout of one request.
    pub timeout: Duration,
    /// The docker config directory (`config.json`, credential helpers).
    pub config_dir: Option<PathBuf>,
}

impl ConnectOptions {
    /// Options from the environment, as the docker CLI reads it:
    /// `host` (a `-H` flag) wins over `DOCKER_HOST`, else the default socket;
    /// `DOCKER_TLS_VERIFY` (non-empty) turns TLS on with certificates from
    /// `DOCKER_CERT_PATH` (else `~/.docker`); `config_dir` (a `--config` flag)
    /// wins over `DOCKER_CONFIG`, else `~/.docker`.
    pub fn from_env(
        host: Option<&str>,
        config_dir: Option<&Path>,
    ) -> Result<ConnectOptions, ImageError> {
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        ConnectOptions::from_values(
            host.map(str::to_string).or_else(|| env("DOCKER_HOST")),
            env("DOCKER_TLS_VERIFY").is_some(),
            env("DOCKER_CERT_PATH").map(PathBuf::from),
            config_dir
                .map(Path::to_path_buf)
                .or_else(|| env("DOCKER_CONFIG").map(PathBuf::from)),
            env("HOME").map(PathBuf::from),
        )
    }

    /// The pure part of [`from_env`](Self::from_env).
    pub fn from_values(
        host: Option<String>,
        tls_verify: bool,
        cert_path: Option<PathBuf>,
        config_dir: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> Result<ConnectOptions, ImageError> {
        let docker_dir = home.map(|h| h.join(".docker"));
        let cert_dir = if tls_verify {
            Some(cert_path.or_else(|| docker_dir.clone()).ok_or_else(|| {
                ImageError::invalid_argument(
                    "DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is",
                )
            })?)
        } else {
            None
        };
        let endpoint = match host {
            Some(host) => Endpoint::parse(&host, cert_dir.as_deref())?,
            None => Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
        };
        Ok(ConnectOptions {
            endpoint,
            timeout: DEFAULT_TIMEOUT,
            config_dir: config_dir.or(docker_dir),
        })
    }

    /// Options for a unix socket, with the default timeout and no config
    /// directory (so no stored credentials are used).
    pub fn unix(socket: impl Into<PathBuf>) -> ConnectOptions {
        ConnectOptions {
            endpoint: Endpoint::Unix(socket.into()),
            timeout: DEFAULT_TIMEOUT,
            config_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            Endpoint::parse("unix:///run/user/1000/docker.sock", None).unwrap(),
            Endpoint::Unix("/run/user/1000/docker.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://10.0.0.5:2375", None).unwrap(),
            Endpoint::Tcp {
                host: "10.0.0.5".into(),
                port: 2375
            }
        );
        assert_eq!(
            Endpoint::parse("tcp://engine.example", None).unwrap(),
            Endpoint::Tcp {
                host: "engine.example".into(),
                port: 2375
            }
        );
        let tls = Endpoint::parse("tcp://engine.example", Some(Path::new("/certs"))).unwrap();
        assert_eq!(
            tls,
            Endpoint::Tls {
                host: "engine.example".into(),
                port: 2376,
                ca: "/certs/ca.pem".into(),
                cert: "/certs/cert.pem".into(),
                key: "/certs/key.pem".into(),
            }
        );
        assert_eq!(tls.url(), "tcp://engine.example:2376");
        for bad in [
            "ssh://x",
            "unix://",
            "tcp://:1",
            "tcp://h:port",
            "tcp://h:1/path",
        ] {
            let error = Endpoint::parse(bad, None).unwrap_err();
            assert!(
                error.to_string().contains("invalid DOCKER_HOST"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn environment_precedence() {
        let options =
            ConnectOptions::from_values(None, false, None, None, Some("/home/u".into())).unwrap();
        assert_eq!(options.endpoint, Endpoint::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(options.config_dir, Some("/home/u/.docker".into()));

        let options = ConnectOptions::from_values(
            Some("tcp://h:1234".into()),
            true,
            None,
            Some("/cfg".into()),
            Some("/home/u".into()),
        )
        .unwrap();
        assert!(
            matches!(options.endpoint, Endpoint::Tls { ref ca, .. } if ca == Path::new("/home/u/.docker/ca.pem"))
        );
        assert_eq!(options.config_dir, Some("/cfg".into()));

        assert!(
            ConnectOptions::from_values(Some("tcp://h".into()), true, None, None, None).is_err()
        );
    }
}
