//! Real Docker engines and registries for the tests: `cargo xtask engine
//! up|down|env|status|check|install`.
//!
//! Everything lives under `target/engines/` of the workspace (or of
//! `CARGO_TARGET_DIR`):
//!
//! - `a/`, `b/`: engine A (the machine's bookworm dockerd 20.10, API 1.41) and
//!   engine B (trixie's dockerd 26.1, API 1.45). Each has its own
//!   `daemon.json`, `data/` (data root), `exec/` (exec root, with the managed
//!   containerd's socket, pidfile and state), `dockerd.pid`, `docker.sock`,
//!   `dockerd.log` and cgroup parent, so the two engines and their containerds
//!   share no state. Besides its unix socket each engine listens on a free
//!   port of 127.0.0.1 (never another address), recorded in `tcp-port`:
//!   engine A with TLS and client certificates (`--tlsverify`), engine B in
//!   plain HTTP (`--tls=false`). dockerd waits 1 s before it binds a TCP
//!   listener without client certificates (both versions, unconditionally);
//!   its 15 s wait is only for addresses that are not loopback, and
//!   `--tls=false` waives it too. (Outside `target/` only what these daemons
//!   always create remains: containerd 1.6's shim sockets in
//!   `/run/containerd/s/`, named by a hash of the containerd socket, and an
//!   empty `/run/docker/plugins/`.)
//! - `tls/`: the CA, server and client certificates of those listeners (see
//!   [`crate::tls`]); made once and kept by `down`.
//! - `registry-open/`, `registry-auth/`: Debian's `docker-registry` on
//!   127.0.0.1, the second with htpasswd (bcrypt) basic auth.
//! - `env`: the environment contract for the tests (see [`ENV_KEYS`]).
//! - `pkgs/`: the unpacked trixie packages (see [`crate::packages`]).
//! - `logs/`: apt logs; `guard.log`: the guardian of `cargo xtask test`.
//!
//! `down` stops only what `up` started: pids from the harness's own pidfiles
//! whose command lines still name the harness's directories, the containerd
//! shims that serve the harness's containerd sockets, and the container
//! processes in the harness's own cgroup parents. Then it unmounts whatever
//! is left mounted under `target/engines/` and removes the per-run state.

use std::collections::HashMap;
use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{envfile, packages, procs, tls};

/// The user of the registry with auth.
pub const REGISTRY_USER: &str = "imgctl";

/// The password of the registry with auth: printable ASCII with the
/// characters that break naive encodings (`: @ " ' \ $ % { }`, spaces, ...),
/// at most 72 bytes (bcrypt's limit).
pub const REGISTRY_PASSWORD: &str =
    r#"imgctl p@ss: "w0rd" 'q' \b\ $HOME %s {x} ~!#^&*()[]|;,.<>/?=+`-_"#;

/// The names of the environment contract, in the order of the env file.
pub const ENV_KEYS: [&str; 19] = [
    "IMGCTL_ENGINE_A_HOST",
    "IMGCTL_ENGINE_A_API",
    "IMGCTL_ENGINE_A_STORAGE_DRIVER",
    "IMGCTL_ENGINE_A_TLS_HOST",
    "IMGCTL_ENGINE_A_CERT_PATH",
    "IMGCTL_ENGINE_B_HOST",
    "IMGCTL_ENGINE_B_API",
    "IMGCTL_ENGINE_B_STORAGE_DRIVER",
    "IMGCTL_ENGINE_B_TCP_HOST",
    "IMGCTL_TLS_ROGUE_CERT_PATH",
    "IMGCTL_REGISTRY_OPEN",
    "IMGCTL_REGISTRY_AUTH",
    "IMGCTL_REGISTRY_USER",
    "IMGCTL_REGISTRY_PASSWORD",
    "IMGCTL_REGISTRY_BIN",
    "IMGCTL_BUSYBOX",
    "IMGCTL_DOCKER_CLI",
    "IMGCTL_ENGINES_DIR",
    "DOCKER_CONFIG",
];

/// The PATH the daemons run with: Debian's own binaries only, so that the
/// engines use Debian's containerd, runc and docker-init.
const SYSTEM_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// How long an engine or registry may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Engine A's dockerd (bookworm's docker.io).
const DOCKERD_A: &str = "/usr/sbin/dockerd";

/// Debian's registry binary.
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The last `lines` lines of a log file (empty when it cannot be read),
/// without gRPC connection chatter.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("module=grpc"))
        .collect();
    kept[kept.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("    {l}\n"))
        .collect()
}

/// Where the harness keeps its files.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `target/engines` (absolute).
    pub root: PathBuf,
}

impl Layout {
    /// The layout of this workspace: `$CARGO_TARGET_DIR/engines` when that is
    /// set, else `<workspace>/target/engines`.
    pub fn discover() -> Layout {
        let workspace = crate::workspace_root();
        let target = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => workspace.join(dir),
            _ => workspace.join("target"),
        };
        Layout {
            root: target.join("engines"),
        }
    }

    /// The env file.
    pub fn env_file(&self) -> PathBuf {
        self.root.join("env")
    }

    fn pkgs(&self) -> PathBuf {
        self.root.join("pkgs")
    }

    fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The docker CLI configuration directory of the harness (never
    /// `~/.docker`).
    fn docker_config(&self) -> PathBuf {
        self.root.join("docker-config")
    }

    /// The certificates of the engines' TLS listeners.
    fn certs(&self) -> tls::Certs {
        tls::Certs {
            dir: self.root.join("tls"),
        }
    }

    /// A short, stable tag of this layout for names outside `target/`
    /// (cgroups): FNV-1a of the path.
    fn tag(&self) -> String {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.root.as_os_str().as_encoded_bytes() {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        format!("{hash:08x}")
    }

    fn engines(&self) -> [Engine; 2] {
        let trixie = packages::trixie_root(&self.pkgs());
        [
            Engine {
                name: "a",
                dir: self.root.join("a"),
                dockerd: PathBuf::from(DOCKERD_A),
                extra: Vec::new(),
                cgroup_parent: format!("imgctl-engine-a-{}", self.tag()),
                tcp: Tcp::Tls(self.certs()),
            },
            Engine {
                name: "b",
                dir: self.root.join("b"),
                dockerd: trixie.join("usr/sbin/dockerd"),
                extra: vec![
                    "--userland-proxy-path".into(),
                    trixie.join("usr/sbin/docker-proxy").display().to_string(),
                    "--init-path".into(),
                    "/usr/bin/docker-init".into(),
                ],
                cgroup_parent: format!("imgctl-engine-b-{}", self.tag()),
                tcp: Tcp::Plain,
            },
        ]
    }

    fn registries(&self) -> [Registry; 2] {
        [
            Registry {
                name: "open",
                dir: self.root.join("registry-open"),
                auth: false,
            },
            Registry {
                name: "auth",
                dir: self.root.join("registry-auth"),
                auth: true,
            },
        ]
    }
}

/// How an engine listens on TCP (on 127.0.0.1, besides its unix socket).
enum Tcp {
    /// HTTPS with client certificates: `--tlsverify`.
    Tls(tls::Certs),
    /// Plain HTTP, said explicitly: `--tls=false`.
    Plain,
}

/// One engine: a dockerd with its managed containerd.
struct Engine {
    name: &'static str,
    dir: PathBuf,
    dockerd: PathBuf,
    extra: Vec<String>,
    cgroup_parent: String,
    tcp: Tcp,
}

impl Engine {
    fn upper(&self) -> String {
        self.name.to_ascii_uppercase()
    }
    fn sock(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }
    fn host(&self) -> String {
        format!("unix://{}", self.sock().display())
    }
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn exec(&self) -> PathBuf {
        self.dir.join("exec")
    }
    fn pidfile(&self) -> PathBuf {
        self.dir.join("dockerd.pid")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }
    fn driver_file(&self) -> PathBuf {
        self.dir.join("storage-driver")
    }
    fn containerd_pidfile(&self) -> PathBuf {
        self.exec().join("containerd/containerd.pid")
    }
    /// A string only this engine's processes have in their command lines.
    fn marker(&self) -> String {
        format!("{}/", self.dir.display())
    }
    fn longest_socket(&self) -> PathBuf {
        self.exec().join("containerd/containerd.sock.ttrpc")
    }
    /// The file that remembers the TCP port of the running dockerd.
    fn port_file(&self) -> PathBuf {
        self.dir.join("tcp-port")
    }
    /// The TCP port of the running dockerd, if recorded.
    fn tcp_port(&self) -> Option<u16> {
        fs::read_to_string(self.port_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
    /// The TCP listener as a `DOCKER_HOST` URL.
    fn tcp_host(port: u16) -> String {
        format!("tcp://127.0.0.1:{port}")
    }
    /// dockerd's flags for the TCP listener on `port`.
    fn tcp_args(&self, port: u16) -> Vec<String> {
        let mut args = vec!["--host".to_string(), Engine::tcp_host(port)];
        match &self.tcp {
            Tcp::Tls(certs) => {
                args.push("--tlsverify".into());
                for (flag, file) in [
                    ("--tlscacert", certs.ca()),
                    ("--tlscert", certs.server_cert()),
                    ("--tlskey", certs.server_key()),
                ] {
                    args.push(flag.into());
                    args.push(file.display().to_string());
                }
            }
            Tcp::Plain => args.push("--tls=false".into()),
        }
        args
    }
    /// A docker CLI command aimed at the TCP listener on `port`, with the
    /// client certificates when it wants them (`DOCKER_TLS_VERIFY`,
    /// `DOCKER_CERT_PATH`, as the tests use them).
    fn tcp_docker(&self, config: &Path, port: u16) -> Command {
        let mut cmd = docker(config, &Engine::tcp_host(port));
        if let Tcp::Tls(certs) = &self.tcp {
            cmd.env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", certs.client_dir());
        }
        cmd
    }
    /// The API version the TCP listener on `port` reports, if it answers.
    fn tcp_api(&self, config: &Path, port: u16) -> Result<String, String> {
        output(
            self.tcp_docker(config, port)
                .args(["version", "--format", "{{.Server.APIVersion}}"]),
            &format!("docker -H {} version", Engine::tcp_host(port)),
        )
    }
    /// The env file's variables of the TCP listener on `port`.
    fn tcp_vars(&self, port: u16) -> Vec<(String, String)> {
        let upper = self.upper();
        match &self.tcp {
            Tcp::Tls(certs) => vec![
                (
                    format!("IMGCTL_ENGINE_{upper}_TLS_HOST"),
                    Engine::tcp_host(port),
                ),
                (
                    format!("IMGCTL_ENGINE_{upper}_CERT_PATH"),
                    certs.client_dir().display().to_string(),
                ),
            ],
            Tcp::Plain => vec![(
                format!("IMGCTL_ENGINE_{upper}_TCP_HOST"),
                Engine::tcp_host(port),
            )],
        }
    }
}

/// One registry.
struct Registry {
    name: &'static str,
    dir: PathBuf,
    auth: bool,
}

impl Registry {
    fn config(&self) -> PathBuf {
        self.dir.join("config.yml")
    }
    fn pidfile(&self) -> PathBuf {
        self.dir.join("registry.pid")
    }
    fn port_file(&self) -> PathBuf {
        self.dir.join("port")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("registry.log")
    }
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn htpasswd(&self) -> PathBuf {
        self.dir.join("htpasswd")
    }
    /// What `GET /v2/` answers when it is up.
    fn ready_status(&self) -> u16 {
        if self.auth { 401 } else { 200 }
    }
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn remove_file(path: &Path) {
    let _ = fs::remove_file(path);
}

/// The first `docker` on PATH, else Debian's.
fn docker_cli() -> PathBuf {
    env::var_os("PATH")
        .map(|path| {
            env::split_paths(&path)
                .map(|d| d.join("docker"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker"))
}

/// A docker CLI command aimed at `host`, with the harness's private config
/// and none of the caller's DOCKER_* settings.
fn docker(config: &Path, host: &str) -> Command {
    let mut cmd = Command::new(docker_cli());
    for key in [
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_API_VERSION",
        "DOCKER_DEFAULT_PLATFORM",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("DOCKER_CONFIG", config).args(["-H", host]);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a command and returns its trimmed stdout, or an error with stderr.
fn output(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// The API version the engine at `host` reports, if it answers.
fn engine_api(config: &Path, host: &str) -> Result<String, String> {
    output(
        docker(config, host).args(["version", "--format", "{{.Server.APIVersion}}"]),
        "docker version",
    )
}

/// The major version of a dockerd binary (`Docker version 20.10.24+dfsg1`).
fn dockerd_major(dockerd: &Path) -> Option<u32> {
    let out = Command::new(dockerd).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// A JSON string literal.
fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The first line of an HTTP answer to `GET path` at `addr`, as a status.
fn http_status(addr: &str, path: &str) -> Result<u16, String> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&sock, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}

/// A TCP port on 127.0.0.1 that is free right now.
fn free_port() -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Opens a log file for a daemon, truncating it.
fn open_log(path: &Path) -> Result<(Stdio, Stdio), String> {
    let file =
        fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let clone = file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok((Stdio::from(file), Stdio::from(clone)))
}

/// A daemon command: clean environment, own process group (so a Ctrl-C in
/// the terminal reaches the xtask, not the daemons), output to `log`.
fn daemon(program: &Path, log: &Path) -> Result<Command, String> {
    let (out, err) = open_log(log)?;
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", SYSTEM_PATH)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    Ok(cmd)
}

/// The state of one engine that answers.
struct EngineUp {
    api: String,
    driver: String,
    port: u16,
    reused: bool,
}

/// Returns the engine's API version and TCP port when its dockerd (from our
/// pidfile) runs and answers on both its unix socket and the TCP listener
/// of its port file (with the current certificates), else `None`: an
/// engine started with other flags is started again.
fn engine_alive(layout: &Layout, engine: &Engine) -> Option<(String, u16)> {
    let pid = procs::read_pidfile(&engine.pidfile())?;
    if !procs::cmdline_contains(pid, &engine.marker()) {
        return None;
    }
    let port = engine.tcp_port()?;
    if !procs::cmdline_contains(pid, &Engine::tcp_host(port)) {
        return None;
    }
    let api = engine_api(&layout.docker_config(), &engine.host()).ok()?;
    (engine.tcp_api(&layout.docker_config(), port).ok()? == api).then_some((api, port))
}

/// Starts one engine from scratch (after cleaning up any leftovers of an
/// earlier run), trying overlay2 and then vfs.
fn start_engine(layout: &Layout, engine: &Engine) -> Result<EngineUp, String> {
    stop_engine(engine)?;
    create_dir(&engine.dir)?;
    let remembered = fs::read_to_string(engine.driver_file()).unwrap_or_default();
    let drivers: &[&str] = if remembered.trim() == "vfs" {
        &["vfs"]
    } else {
        &["overlay2", "vfs"]
    };
    let mut failures = Vec::new();
    for driver in drivers {
        match start_engine_with(layout, engine, driver) {
            Ok((api, port)) => {
                write_file(&engine.driver_file(), driver)?;
                return Ok(EngineUp {
                    api,
                    driver: driver.to_string(),
                    port,
                    reused: false,
                });
            }
            Err(e) => {
                let log = fs::read_to_string(engine.log())
                    .unwrap_or_default()
                    .to_lowercase();
                failures.push(format!("with storage driver {driver}: {e}"));
                if let Err(stop) = stop_engine(engine) {
                    failures.push(format!("and cleaning up after it: {stop}"));
                    break;
                }
                let driver_problem = log.contains("graphdriver")
                    || log.contains("driver not supported")
                    || log.contains("storage-driver");
                if !driver_problem {
                    break;
                }
                eprintln!(
                    "xtask: engine {}: storage driver {driver} does not work here; trying the next",
                    engine.name
                );
            }
        }
    }
    Err(format!(
        "engine {} did not start:\n{}",
        engine.name,
        failures.join("\n")
    ))
}

/// Starts dockerd with `driver`; returns its API version and TCP port once
/// it answers on both its unix socket and its TCP listener.
fn start_engine_with(
    layout: &Layout,
    engine: &Engine,
    driver: &str,
) -> Result<(String, u16), String> {
    create_dir(&engine.data())?;
    create_dir(&engine.exec())?;
    let config = engine.dir.join("daemon.json");
    // dockerd before 23 writes a trust key, by default to /etc/docker; its
    // only setting is this daemon.json key (no flag).
    let settings = if dockerd_major(&engine.dockerd).is_some_and(|major| major < 23) {
        format!(
            "{{\"deprecated-key-path\": {}}}\n",
            json_string(&engine.dir.join("key.json").display().to_string())
        )
    } else {
        "{}\n".to_string()
    };
    write_file(&config, &settings)?;
    let port = free_port()?;
    write_file(&engine.port_file(), &format!("{port}\n"))?;
    let mut cmd = daemon(&engine.dockerd, &engine.log())?;
    cmd.arg("--config-file")
        .arg(&config)
        .arg("--data-root")
        .arg(engine.data())
        .arg("--exec-root")
        .arg(engine.exec())
        .arg("--pidfile")
        .arg(engine.pidfile())
        .arg("--host")
        .arg(engine.host())
        .args([
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--shutdown-timeout",
            "2",
            "--storage-driver",
            driver,
            "--cgroup-parent",
            &engine.cgroup_parent,
        ])
        .args(engine.tcp_args(port))
        .args(&engine.extra);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", engine.dockerd.display()))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "dockerd exited ({status}); last lines of {}:\n{}",
                engine.log().display(),
                tail(&engine.log(), 30)
            ));
        }
        // dockerd binds every listener before it serves any, so once the
        // unix socket answers, the TCP listener should too.
        let config = layout.docker_config();
        let (host, last) = match engine_api(&config, &engine.host()) {
            Ok(api) => match engine.tcp_api(&config, port) {
                Ok(tcp_api) if tcp_api == api => return Ok((api, port)),
                Ok(tcp_api) => {
                    let _ = child.kill();
                    return Err(format!(
                        "dockerd reports API {api} on {} but {tcp_api} on {}",
                        engine.host(),
                        Engine::tcp_host(port)
                    ));
                }
                Err(e) => (Engine::tcp_host(port), e),
            },
            Err(e) => (engine.host(), e),
        };
        if Instant::now() >= deadline {
            let _ = child.kill();
            return Err(format!(
                "dockerd did not answer `docker -H {host} version` within {START_TIMEOUT:?} ({last}); last lines of {}:\n{}",
                engine.log().display(),
                tail(&engine.log(), 30)
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Removes a directory tree; a missing one is fine.
fn remove_tree(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Joins the errors of `results`.
fn all_ok(results: Vec<Result<(), String>>) -> Result<(), String> {
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Stops one engine and cleans up after it; see the module docs.
fn stop_engine(engine: &Engine) -> Result<(), String> {
    let marker = engine.marker();
    let ours = |pidfile: PathBuf| {
        procs::read_pidfile(&pidfile).filter(|pid| procs::cmdline_contains(*pid, &marker))
    };
    // Container processes first (in our cgroup parent): dockerd would give
    // each its stop timeout (10 s) on shutdown; killing them up front makes
    // the shutdown quick, and catches those of shims killed earlier.
    let mut results = vec![procs::kill_all(
        &procs::pids_in_cgroup_parent(&engine.cgroup_parent),
        &format!("engine {} containers", engine.name),
    )];
    results.extend([
        ours(engine.pidfile()).map_or(Ok(()), |pid| {
            procs::terminate(
                pid,
                &format!("dockerd {}", engine.name),
                Duration::from_secs(30),
            )
        }),
        ours(engine.containerd_pidfile()).map_or(Ok(()), |pid| {
            procs::terminate(
                pid,
                &format!("containerd {}", engine.name),
                Duration::from_secs(10),
            )
        }),
    ]);
    // Whatever else of ours still runs: a dockerd or containerd whose pidfile
    // is gone, containerd shims serving our containerd socket, proxies.
    let strays: Vec<u32> = procs::all_pids()
        .into_iter()
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            procs::program_name(*pid).is_some_and(|name| {
                name == "dockerd"
                    || name == "docker-proxy"
                    || name == "runc"
                    || name.starts_with("containerd")
            }) && procs::cmdline_contains(*pid, &marker)
        })
        .collect();
    // A shim removes its socket in /run/containerd/s/ when it exits cleanly;
    // note those of the shims about to be killed, and remove them after.
    let shim_sockets: Vec<PathBuf> = strays
        .iter()
        .filter(|pid| procs::program_name(**pid).is_some_and(|n| n.starts_with("containerd-shim")))
        .flat_map(|pid| procs::unix_socket_paths(*pid, Path::new("/run/containerd/s")))
        .collect();
    results.push(procs::kill_all(
        &strays,
        &format!("engine {} processes", engine.name),
    ));
    for socket in &shim_sockets {
        remove_file(socket);
    }
    // Container processes that started meanwhile.
    let containers = procs::pids_in_cgroup_parent(&engine.cgroup_parent);
    results.push(procs::kill_all(
        &containers,
        &format!("engine {} containers", engine.name),
    ));
    procs::remove_cgroup_dirs(&engine.cgroup_parent);
    let unmounted = procs::unmount_all_under(&engine.dir);
    if unmounted.is_ok() {
        // Only with nothing mounted below: never delete through a mount.
        results.push(remove_tree(&engine.data()));
        results.push(remove_tree(&engine.exec()));
        remove_file(&engine.pidfile());
        remove_file(&engine.port_file());
        remove_file(&engine.sock());
        remove_file(&engine.dir.join("key.json"));
    }
    results.push(unmounted);
    all_ok(results)
}

/// Returns the registry's port when our registry process runs and answers.
fn registry_alive(registry: &Registry) -> Option<u16> {
    let pid = procs::read_pidfile(&registry.pidfile())?;
    if !procs::cmdline_contains(pid, &registry.config().display().to_string()) {
        return None;
    }
    let port: u16 = fs::read_to_string(registry.port_file())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (http_status(&format!("127.0.0.1:{port}"), "/v2/").ok()? == registry.ready_status())
        .then_some(port)
}

/// Quotes a string for YAML (single quotes, `'` doubled).
fn yaml(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A random-enough secret for the registry's `http.secret`.
fn secret() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("imgctl-{nanos:x}-{:x}", std::process::id())
}

/// Starts one registry from scratch on a free port; returns the port.
fn start_registry(registry: &Registry) -> Result<u16, String> {
    stop_registry(registry)?;
    create_dir(&registry.data())?;
    let port = free_port()?;
    let mut config = format!(
        "# Written by cargo xtask engine up.\n\
         version: 0.1\n\
         log:\n  level: info\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {}\n  secret: {}\n",
        yaml(&registry.data().display().to_string()),
        yaml(&format!("127.0.0.1:{port}")),
        yaml(&secret()),
    );
    if registry.auth {
        let line = output(
            Command::new("htpasswd").args(["-Bbn", REGISTRY_USER, REGISTRY_PASSWORD]),
            "htpasswd -Bbn",
        )?;
        write_file(&registry.htpasswd(), &format!("{line}\n"))?;
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: {}\n    path: {}\n",
            yaml("imgctl"),
            yaml(&registry.htpasswd().display().to_string())
        ));
    }
    write_file(&registry.config(), &config)?;
    let mut child: Child = daemon(Path::new(REGISTRY_BIN), &registry.log())?
        .arg("serve")
        .arg(registry.config())
        .spawn()
        .map_err(|e| format!("cannot start {REGISTRY_BIN}: {e}"))?;
    write_file(&registry.pidfile(), &format!("{}\n", child.id()))?;
    write_file(&registry.port_file(), &format!("{port}\n"))?;
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "registry {} exited ({status}); last lines of {}:\n{}",
                registry.name,
                registry.log().display(),
                tail(&registry.log(), 20)
            ));
        }
        match http_status(&addr, "/v2/") {
            Ok(status) if status == registry.ready_status() => return Ok(port),
            Ok(status) => {
                return Err(format!(
                    "registry {} answers GET /v2/ with {status}, not {}",
                    registry.name,
                    registry.ready_status()
                ));
            }
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                return Err(format!(
                    "registry {} did not answer on {addr} ({e}); last lines of {}:\n{}",
                    registry.name,
                    registry.log().display(),
                    tail(&registry.log(), 20)
                ));
            }
        }
    }
}

/// Stops one registry (our pid only) and removes its storage.
fn stop_registry(registry: &Registry) -> Result<(), String> {
    let config = registry.config().display().to_string();
    let mut pids: Vec<u32> = procs::read_pidfile(&registry.pidfile())
        .filter(|pid| procs::cmdline_contains(*pid, &config))
        .into_iter()
        .collect();
    let strays: Vec<u32> = procs::all_pids()
        .into_iter()
        .filter(|pid| {
            !pids.contains(pid)
                && procs::program_name(*pid).is_some_and(|n| n == "docker-registry")
                && procs::cmdline_contains(*pid, &config)
        })
        .collect();
    pids.extend(strays);
    let mut results: Vec<Result<(), String>> = pids
        .into_iter()
        .map(|pid| {
            procs::terminate(
                pid,
                &format!("registry {}", registry.name),
                Duration::from_secs(10),
            )
        })
        .collect();
    results.push(remove_tree(&registry.data()));
    remove_file(&registry.pidfile());
    remove_file(&registry.port_file());
    all_ok(results)
}

/// Checks what `up` needs before it starts anything.
fn preflight(layout: &Layout) -> Result<(), String> {
    if procs::effective_uid() != Some(0) {
        return Err(
            "real engines need root (dockerd runs as root); run as root, \
                    or run plain `cargo test` to skip the real-engine tests"
                .into(),
        );
    }
    for engine in layout.engines() {
        let longest = engine.longest_socket();
        // sun_path holds 108 bytes with the NUL.
        if longest.as_os_str().len() > 107 {
            return Err(format!(
                "{} is too long for a unix socket; use a shorter CARGO_TARGET_DIR",
                longest.display()
            ));
        }
    }
    Ok(())
}

/// Installs the packages (Debian's, then trixie's dockerd) when missing.
pub fn install(layout: &Layout) -> Result<(), String> {
    create_dir(&layout.logs())?;
    packages::install_missing(&layout.logs().join("apt.log"))?;
    packages::ensure_trixie(&layout.pkgs(), &layout.logs().join("apt-trixie.log"))?;
    for path in [
        DOCKERD_A,
        REGISTRY_BIN,
        "/usr/bin/htpasswd",
        "/bin/busybox",
        "/usr/bin/openssl",
    ] {
        if !Path::new(path).exists() {
            return Err(format!("{path} is missing after installing the packages"));
        }
    }
    Ok(())
}

/// Starts both engines and both registries (reusing those that already run),
/// writes the env file and returns its variables.
pub fn up(layout: &Layout) -> Result<Vec<(String, String)>, String> {
    let started = Instant::now();
    preflight(layout)?;
    install(layout)?;
    create_dir(&layout.docker_config())?;
    let certs = layout.certs();
    if certs.ensure()? {
        eprintln!(
            "xtask: made the TLS certificates in {}",
            certs.dir.display()
        );
    }
    let mut vars: Vec<(String, String)> = Vec::new();
    let engines = layout.engines();
    // The engines share nothing, so they start side by side: engine B's
    // dockerd alone waits a second before it binds its TCP listener.
    let states: Vec<Result<EngineUp, String>> = thread::scope(|scope| {
        let starts: Vec<_> = engines
            .iter()
            .map(|engine| {
                scope.spawn(move || match engine_alive(layout, engine) {
                    Some((api, port)) => Ok(EngineUp {
                        api,
                        driver: fs::read_to_string(engine.driver_file())
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                        port,
                        reused: true,
                    }),
                    None => start_engine(layout, engine),
                })
            })
            .collect();
        starts
            .into_iter()
            .map(|start| {
                start
                    .join()
                    .unwrap_or_else(|_| Err("starting the engine panicked".into()))
            })
            .collect()
    });
    let failures: Vec<String> = states
        .iter()
        .filter_map(|state| state.as_ref().err().cloned())
        .collect();
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    for (engine, state) in engines.iter().zip(states.into_iter().flatten()) {
        eprintln!(
            "xtask: engine {} {}: {} and {}{} (API {}, storage {})",
            engine.name,
            if state.reused {
                "already running"
            } else {
                "started"
            },
            engine.host(),
            Engine::tcp_host(state.port),
            if matches!(engine.tcp, Tcp::Tls(_)) {
                " with TLS"
            } else {
                ""
            },
            state.api,
            state.driver
        );
        let upper = engine.upper();
        vars.push((format!("IMGCTL_ENGINE_{upper}_HOST"), engine.host()));
        vars.push((format!("IMGCTL_ENGINE_{upper}_API"), state.api));
        vars.push((
            format!("IMGCTL_ENGINE_{upper}_STORAGE_DRIVER"),
            state.driver,
        ));
        vars.extend(engine.tcp_vars(state.port));
    }
    vars.push((
        "IMGCTL_TLS_ROGUE_CERT_PATH".into(),
        certs.rogue_dir().display().to_string(),
    ));
    for registry in layout.registries() {
        let (port, reused) = match registry_alive(&registry) {
            Some(port) => (port, true),
            None => (start_registry(&registry)?, false),
        };
        eprintln!(
            "xtask: registry {} {}: 127.0.0.1:{port}",
            registry.name,
            if reused { "already running" } else { "started" }
        );
        let key = if registry.auth {
            "IMGCTL_REGISTRY_AUTH"
        } else {
            "IMGCTL_REGISTRY_OPEN"
        };
        vars.push((key.into(), format!("127.0.0.1:{port}")));
    }
    let busybox =
        fs::canonicalize("/bin/busybox").unwrap_or_else(|_| PathBuf::from("/bin/busybox"));
    vars.extend([
        (
            "IMGCTL_REGISTRY_USER".to_string(),
            REGISTRY_USER.to_string(),
        ),
        ("IMGCTL_REGISTRY_PASSWORD".into(), REGISTRY_PASSWORD.into()),
        ("IMGCTL_REGISTRY_BIN".into(), REGISTRY_BIN.into()),
        ("IMGCTL_BUSYBOX".into(), busybox.display().to_string()),
        (
            "IMGCTL_DOCKER_CLI".into(),
            docker_cli().display().to_string(),
        ),
        (
            "IMGCTL_ENGINES_DIR".into(),
            layout.root.display().to_string(),
        ),
        (
            "DOCKER_CONFIG".into(),
            layout.docker_config().display().to_string(),
        ),
    ]);
    vars.sort_by_key(|(k, _)| ENV_KEYS.iter().position(|x| x == k).unwrap_or(usize::MAX));
    let tmp = layout.root.join("env.tmp");
    write_file(&tmp, &envfile::render(&vars))?;
    fs::rename(&tmp, layout.env_file()).map_err(|e| format!("cannot write the env file: {e}"))?;
    eprintln!(
        "xtask: engines up in {:.1}s; environment in {} (`cargo xtask engine env`)",
        started.elapsed().as_secs_f64(),
        layout.env_file().display()
    );
    Ok(vars)
}

/// Stops everything `up` started and removes the per-run state (logs stay).
/// Idempotent.
pub fn down(layout: &Layout) -> Result<(), String> {
    if !layout.root.exists() {
        return Ok(());
    }
    let started = Instant::now();
    let mut errors = Vec::new();
    remove_file(&layout.env_file());
    for registry in layout.registries() {
        if let Err(e) = stop_registry(&registry) {
            errors.push(e);
        }
    }
    for engine in layout.engines() {
        if let Err(e) = stop_engine(&engine) {
            errors.push(e);
        }
    }
    for dir in [layout.docker_config(), layout.root.join("check")] {
        if dir.exists() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
    let left = procs::mounts_under(&layout.root);
    if !left.is_empty() {
        errors.push(format!("still mounted: {left:?}"));
    }
    if errors.is_empty() {
        eprintln!(
            "xtask: engines down ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    } else {
        Err(format!("engine down: {}", errors.join("\n")))
    }
}

/// Prints what runs.
pub fn status(layout: &Layout) -> Result<(), String> {
    let config = layout.docker_config();
    for engine in layout.engines() {
        let pid = procs::read_pidfile(&engine.pidfile())
            .filter(|p| procs::cmdline_contains(*p, &engine.marker()));
        let line = match pid {
            Some(pid) => match engine_api(&config, &engine.host()) {
                Ok(api) => format!(
                    "running, pid {pid}, API {api}, storage {}, {}{}",
                    fs::read_to_string(engine.driver_file())
                        .unwrap_or_default()
                        .trim(),
                    engine.host(),
                    match engine.tcp_port() {
                        Some(port) => match engine.tcp_api(&config, port) {
                            Ok(_) => format!(" and {}", Engine::tcp_host(port)),
                            Err(e) => format!("; {} does not answer: {e}", Engine::tcp_host(port)),
                        },
                        None => "; no TCP listener".into(),
                    }
                ),
                Err(e) => format!("pid {pid} runs but does not answer: {e}"),
            },
            None => "stopped".into(),
        };
        println!("engine {}: {line}", engine.name);
    }
    for registry in layout.registries() {
        let line = match registry_alive(&registry) {
            Some(port) => format!(
                "running, pid {}, 127.0.0.1:{port}",
                procs::read_pidfile(&registry.pidfile()).unwrap_or_default()
            ),
            None => "stopped".into(),
        };
        println!("registry {}: {line}", registry.name);
    }
    let mounts = procs::mounts_under(&layout.root);
    if !mounts.is_empty() {
        println!("mounts under {}: {}", layout.root.display(), mounts.len());
    }
    if layout.env_file().is_file() {
        println!("env file: {}", layout.env_file().display());
    } else {
        println!("env file: none (run `cargo xtask engine up`)");
    }
    Ok(())
}

/// The env file's variables.
pub fn read_env(layout: &Layout) -> Result<Vec<(String, String)>, String> {
    let text = fs::read_to_string(layout.env_file()).map_err(|e| {
        format!(
            "no env file at {} ({e}); run `cargo xtask engine up`",
            layout.env_file().display()
        )
    })?;
    envfile::parse(&text)
}

/// Prints the env file.
pub fn print_env(layout: &Layout) -> Result<(), String> {
    read_env(layout)?;
    let text = fs::read_to_string(layout.env_file()).map_err(|e| e.to_string())?;
    print!("{text}");
    Ok(())
}

/// A smoke test of the running engines and registries with the docker CLI:
/// an image imported from an empty tar runs the static busybox in a
/// container on each engine, and images go both ways through both registries
/// (the auth one refuses an anonymous push, then takes one after `docker
/// login --password-stdin`).
pub fn check(layout: &Layout) -> Result<(), String> {
    let started = Instant::now();
    let env: HashMap<String, String> = read_env(layout)?.into_iter().collect();
    let get = |key: &str| {
        env.get(key)
            .cloned()
            .ok_or_else(|| format!("{key} is not in the env file"))
    };
    let dir = layout.root.join("check");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    let config = dir.join("docker-config");
    create_dir(&config)?;
    let tar = dir.join("empty.tar");
    fs::write(&tar, vec![0u8; 10240])
        .map_err(|e| format!("cannot write {}: {e}", tar.display()))?;
    let tar = tar.display().to_string();
    let busybox = get("IMGCTL_BUSYBOX")?;
    let engines = [
        ("a", get("IMGCTL_ENGINE_A_HOST")?),
        ("b", get("IMGCTL_ENGINE_B_HOST")?),
    ];
    let run = |host: &str, args: &[&str]| {
        output(
            docker(&config, host).args(args),
            &format!("docker -H {host} {}", args.join(" ")),
        )
    };
    // The TCP listeners: A's with the client certificates (and not without
    // them), B's in plain HTTP.
    let tls_host = get("IMGCTL_ENGINE_A_TLS_HOST")?;
    let cert_path = get("IMGCTL_ENGINE_A_CERT_PATH")?;
    let tcp_host = get("IMGCTL_ENGINE_B_TCP_HOST")?;
    output(
        docker(&config, &tls_host)
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", &cert_path)
            .args(["version", "--format", "{{.Server.APIVersion}}"]),
        &format!("docker -H {tls_host} version (TLS, certificates of {cert_path})"),
    )?;
    // Trusting the CA but with no client certificate (the CLI finds no
    // cert.pem or key.pem in `dir`): the engine must refuse the handshake.
    let anonymous = docker(&config, &tls_host)
        .env("DOCKER_CERT_PATH", &dir)
        .arg("--tlsverify")
        .arg("--tlscacert")
        .arg(Path::new(&cert_path).join("ca.pem"))
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    let said = String::from_utf8_lossy(&anonymous.stderr);
    if anonymous.status.success() || !said.contains("certificate") || said.contains("no such file")
    {
        return Err(format!(
            "engine a on {tls_host} without a client certificate: expected a refused \
             handshake, got {} ({})",
            anonymous.status,
            said.trim()
        ));
    }
    output(
        docker(&config, &tcp_host).args(["version", "--format", "{{.Server.APIVersion}}"]),
        &format!("docker -H {tcp_host} version"),
    )?;
    for (name, host) in &engines {
        let image = format!("imgctl-smoke/empty:{name}");
        run(host, &["import", &tar, &image])?;
        let id = run(
            host,
            &[
                "create",
                "--network",
                "none",
                "-v",
                &format!("{busybox}:/busybox:ro"),
                "--entrypoint",
                "/busybox",
                &image,
                "sleep",
                "60",
            ],
        )?;
        run(host, &["start", &id])?;
        let running = run(host, &["inspect", "-f", "{{.State.Running}}", &id])?;
        let echo = run(host, &["exec", &id, "/busybox", "echo", "imgctl-ok"])?;
        run(host, &["rm", "-f", &id])?;
        if running != "true" || echo != "imgctl-ok" {
            return Err(format!(
                "engine {name}: busybox container: running={running:?}, exec said {echo:?}"
            ));
        }
    }
    let open = get("IMGCTL_REGISTRY_OPEN")?;
    let auth = get("IMGCTL_REGISTRY_AUTH")?;
    let a = &engines[0].1;
    let anonymous = format!("{auth}/imgctl-smoke/empty:anonymous");
    run(a, &["tag", "imgctl-smoke/empty:a", &anonymous])?;
    if run(a, &["push", &anonymous]).is_ok() {
        return Err(format!(
            "an anonymous push to the auth registry {auth} succeeded"
        ));
    }
    run(a, &["rmi", &anonymous])?;
    let mut login = docker(&config, a);
    login
        .args([
            "login",
            "--username",
            REGISTRY_USER,
            "--password-stdin",
            &auth,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login
        .spawn()
        .map_err(|e| format!("cannot run docker login: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(REGISTRY_PASSWORD.as_bytes())
            .map_err(|e| format!("cannot write the password to docker login: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("docker login: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker login {auth} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for registry in [&open, &auth] {
        for ((from_name, from), (_, to)) in [(&engines[0], &engines[1]), (&engines[1], &engines[0])]
        {
            let remote = format!("{registry}/imgctl-smoke/empty:{from_name}");
            run(
                from,
                &["tag", &format!("imgctl-smoke/empty:{from_name}"), &remote],
            )?;
            run(from, &["push", &remote])?;
            run(to, &["pull", &remote])?;
            run(to, &["rmi", &remote])?;
            run(from, &["rmi", &remote])?;
        }
    }
    run(a, &["logout", &auth])?;
    for (name, host) in &engines {
        run(host, &["rmi", &format!("imgctl-smoke/empty:{name}")])?;
    }
    fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    eprintln!(
        "xtask: engine check passed in {:.1}s (containers on A and B, push/pull through both registries, A over TLS, B over TCP)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `down` when the process `pid` (started at `start_time`) is gone: the
/// guardian that `cargo xtask test` leaves behind in its own process group,
/// so that a Ctrl-C or a kill of the xtask still stops the engines.
pub fn guard(layout: &Layout, pid: u32, start_time: u64) -> Result<(), String> {
    while matches!(procs::stat(pid), Some(s) if s.start_time == start_time && s.state != 'Z') {
        thread::sleep(Duration::from_millis(250));
    }
    eprintln!("xtask guard: process {pid} is gone; stopping the engines");
    down(layout)
}

/// Stops the engines when dropped (on success, error or panic of `cargo
/// xtask test`); while alive it keeps a guardian process (see [`guard`]) that
/// does the same if the xtask dies without unwinding (Ctrl-C, SIGKILL).
pub struct DownGuard {
    layout: Layout,
    guardian: Option<Child>,
}

impl DownGuard {
    /// Arms the guard.
    pub fn arm(layout: &Layout) -> DownGuard {
        let guardian = (|| -> Result<Child, String> {
            create_dir(&layout.root)?;
            let me = std::process::id();
            let start = procs::stat(me)
                .ok_or("cannot read own /proc stat")?
                .start_time;
            let exe = env::current_exe().map_err(|e| e.to_string())?;
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(layout.root.join("guard.log"))
                .map_err(|e| e.to_string())?;
            Command::new(exe)
                .args(["engine", "guard", &me.to_string(), &start.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .process_group(0)
                .spawn()
                .map_err(|e| e.to_string())
        })();
        let guardian = match guardian {
            Ok(child) => Some(child),
            Err(e) => {
                eprintln!("xtask: no guardian process ({e}); a Ctrl-C may leave engines running");
                None
            }
        };
        DownGuard {
            layout: layout.clone(),
            guardian,
        }
    }
}

impl Drop for DownGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.guardian.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(e) = down(&self.layout) {
            eprintln!("xtask: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_awkward_but_bcrypt_sized() {
        assert!(REGISTRY_PASSWORD.len() <= 72, "{}", REGISTRY_PASSWORD.len());
        for c in [':', '@', '"', '\'', '\\', '$', '%', '{', '}', ' '] {
            assert!(REGISTRY_PASSWORD.contains(c), "{c}");
        }
        assert!(
            REGISTRY_PASSWORD
                .chars()
                .all(|c| c.is_ascii_graphic() || c == ' ')
        );
        assert_eq!(REGISTRY_PASSWORD.trim(), REGISTRY_PASSWORD);
    }

    #[test]
    fn json_strings() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn yaml_quoting() {
        assert_eq!(yaml("a'b"), "'a''b'");
    }

    #[test]
    fn env_keys_are_unique() {
        let mut keys = ENV_KEYS.to_vec();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), ENV_KEYS.len());
    }
}
