//! `cargo xtask bench http`: imgd's image list against the engine's own,
//! under the same load. A benchmark, not a test: CI does not run it.
//!
//! 1. The engines of `cargo xtask engine up` (started when they do not
//!    answer) and the fixtures of `bench cli`: N images (default 1,000)
//!    loaded into the chosen engine (default B).
//! 2. `cargo build --release -p image-http`, then imgd on a free loopback
//!    port against the engine's unix socket, with a fresh `IMGD_TOKEN`;
//!    the bench waits for `GET /healthz` and checks that an authenticated
//!    `GET /api/v1/images` lists at least the N images.
//! 3. wrk (`-t2 -c64 -d30s --latency`, Debian's package) on
//!    `GET /api/v1/images` with the bearer token, then the same on the
//!    engine's `GET /images/json`: over engine B's plain TCP listener, or
//!    through `socat TCP-LISTEN → UNIX-CONNECT` for an engine on a unix
//!    socket only. The engine's listing is warmed up once first.
//! 4. From wrk's report: requests/s, errors (non-2xx/3xx answers plus
//!    socket errors: connect, read, write, timeout) and the latency
//!    percentiles; imgd's peak RSS is its `VmHWM` from `/proc/PID/status`,
//!    read after its run.
//! 5. A table with the ratio, and the verdict against the targets (at
//!    least 10× the engine's requests/s, no errors, p99 under 20 ms, peak
//!    RSS under 50 MiB); a missed target fails the task. The report is
//!    also written to `target/bench/http-report.md`.
//!
//! imgd and socat are stopped on every exit path: by a drop guard on
//! returns and panics, and by a watchdog shell per process that stops it
//! when the xtask itself is killed.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench::{self, Target};
use crate::engine;

/// The options, for usage messages.
pub const USAGE: &str = "[--images N] [--duration SECONDS] [--connections N] [--threads N] \
                         [--engine a|b] [--imgd PATH]";

/// The targets the issue sets.
const MIN_RATIO: f64 = 10.0;
const MAX_P99: Duration = Duration::from_millis(20);
const MAX_RSS_KIB: u64 = 50 * 1024;
/// How long imgd and socat may take to answer after they start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What `cargo xtask bench http` was asked for.
#[derive(Debug, PartialEq)]
struct Options {
    images: usize,
    duration: u64,
    connections: usize,
    threads: usize,
    engine: char,
    imgd: Option<PathBuf>,
}

/// `cargo xtask bench http ...`.
pub fn run(args: &[String]) -> Result<(), String> {
    http(&parse_options(args)?)
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        images: 1000,
        duration: 30,
        connections: 64,
        threads: 2,
        engine: 'b',
        imgd: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value"))
                .cloned()
        };
        let number = |text: String| -> Result<u64, String> {
            match text.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{arg}: expected a positive number, got `{text}`")),
            }
        };
        match arg.as_str() {
            "--images" => options.images = number(value()?)? as usize,
            "--duration" => options.duration = number(value()?)?,
            "--connections" => options.connections = number(value()?)? as usize,
            "--threads" => options.threads = number(value()?)? as usize,
            "--engine" => {
                options.engine = match value()?.as_str() {
                    "a" | "A" => 'a',
                    "b" | "B" => 'b',
                    other => return Err(format!("--engine {other}: expected a or b")),
                }
            }
            "--imgd" => options.imgd = Some(PathBuf::from(value()?)),
            other => {
                return Err(format!(
                    "unknown bench http option `{other}`; usage: cargo xtask bench http {USAGE}"
                ));
            }
        }
    }
    if options.threads > options.connections {
        return Err("--threads must not exceed --connections (wrk needs one each)".into());
    }
    Ok(options)
}

/// A process the bench started: stopped (SIGTERM, then SIGKILL) when
/// dropped, and by a watchdog shell when the xtask dies first.
struct Service {
    what: &'static str,
    child: Child,
    watchdog: Option<Child>,
}

impl Service {
    fn start(what: &'static str, mut cmd: Command, log: &Path) -> Result<Service, String> {
        let file =
            fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let pid = child.id();
        // Polls the xtask; once it is gone, stops the child (if it is still
        // the same process, by its start time).
        let script = format!(
            "start=$(cut -d' ' -f22 /proc/{pid}/stat 2>/dev/null); \
             while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             if [ \"$(cut -d' ' -f22 /proc/{pid}/stat 2>/dev/null)\" = \"$start\" ]; then \
             kill {pid} 2>/dev/null; sleep 2; kill -9 {pid} 2>/dev/null; fi",
            me = std::process::id(),
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Ok(Service {
            what,
            child,
            watchdog,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error if the process has exited, with its log's tail.
    fn check_alive(&mut self, log: &Path) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); its log ({}) ends with:\n{}",
                self.what,
                log.display(),
                tail(log, 20)
            )),
            Err(e) => Err(format!("cannot watch {}: {e}", self.what)),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// The last `lines` lines of a file.
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free loopback port (bound, then released for the service to take).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// A random API token, from the kernel's generator.
fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One plain HTTP/1.1 GET; the status and the body.
fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("writing to {addr}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{addr}{path} answered no HTTP status"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Waits until `GET path` at `addr` answers 2xx, while `service` runs.
fn wait_ready(
    addr: SocketAddr,
    path: &str,
    service: &mut Service,
    log: &Path,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        service.check_alive(log)?;
        if let Ok((200..=299, _)) = http_get(addr, path, None) {
            return Ok(());
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "{} did not answer GET {path} on {addr} within {}s; its log ({}) ends with:\n{}",
                service.what,
                START_TIMEOUT.as_secs(),
                log.display(),
                tail(log, 20)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The peak resident set size of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// What wrk reported for one run.
#[derive(Debug, Default, PartialEq)]
struct WrkReport {
    requests: u64,
    requests_per_sec: f64,
    non_2xx: u64,
    socket_errors: u64,
    p50: Option<Duration>,
    p90: Option<Duration>,
    p99: Option<Duration>,
}

impl WrkReport {
    fn errors(&self) -> u64 {
        self.non_2xx + self.socket_errors
    }
}

/// A wrk duration such as `812.00us`, `12.34ms`, `1.02s` or `2.00m`.
fn parse_wrk_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// Reads wrk's `--latency` report.
fn parse_wrk(text: &str) -> Result<WrkReport, String> {
    let mut report = WrkReport::default();
    let mut rate = None;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => rate = value.parse().ok(),
            [count, "requests", "in", ..] => report.requests = count.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                report.non_2xx = count.parse().unwrap_or(0);
            }
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                report.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["50%", value] => report.p50 = parse_wrk_duration(value),
            ["90%", value] => report.p90 = parse_wrk_duration(value),
            ["99%", value] => report.p99 = parse_wrk_duration(value),
            _ => {}
        }
    }
    report.requests_per_sec =
        rate.ok_or_else(|| format!("wrk printed no Requests/sec line:\n{text}"))?;
    Ok(report)
}

/// Runs wrk against `url` and reads its report.
fn wrk(options: &Options, url: &str, token: Option<&str>) -> Result<WrkReport, String> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t",
        &options.threads.to_string(),
        "-c",
        &options.connections.to_string(),
        "-d",
        &format!("{}s", options.duration),
        "--latency",
    ]);
    if let Some(token) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    cmd.arg(url);
    eprintln!(
        "xtask: wrk -t{} -c{} -d{}s --latency {url}",
        options.threads, options.connections, options.duration
    );
    let text = bench::output(cmd.stdin(Stdio::null()), "wrk (apt-get install wrk)")?;
    parse_wrk(&text)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "n/a".to_string(),
        |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0),
    )
}

fn row(name: &str, r: &WrkReport, rss: &str) -> String {
    format!(
        "| {name} | {:.0} | {} | {} | {} | {} | {} | {rss} |",
        r.requests_per_sec,
        r.requests,
        r.errors(),
        ms(r.p50),
        ms(r.p90),
        ms(r.p99),
    )
}

/// The engines' variables: those of the env file when the engine answers,
/// else from `engine up`.
fn engines(layout: &engine::Layout, name: char) -> Result<HashMap<String, String>, String> {
    if let Ok(vars) = engine::read_env(layout) {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        if let Ok(target) = Target::from_env(&vars, name) {
            let ping = bench::output(
                Command::new("curl")
                    .args(["--silent", "--fail", "--max-time", "5", "--unix-socket"])
                    .arg(&target.socket)
                    .arg("http://localhost/_ping"),
                "curl /_ping",
            );
            if ping.is_ok() {
                return Ok(vars);
            }
        }
    }
    Ok(engine::up(layout)?.into_iter().collect())
}

/// `cargo xtask bench http`.
fn http(options: &Options) -> Result<(), String> {
    let layout = engine::Layout::discover();
    let env = engines(&layout, options.engine)?;
    let target = Target::from_env(&env, options.engine)?;
    let upper = options.engine.to_ascii_uppercase();
    let dir = bench::target_dir(&layout).join("bench");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    bench::ensure_fixtures(&layout, &target, options.images)?;

    let imgd = match &options.imgd {
        Some(path) => path.clone(),
        None => {
            bench::cargo(&["build", "--release", "-p", "image-http"])?;
            bench::target_dir(&layout).join("release/imgd")
        }
    };
    let token = random_token()?;
    let imgd_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let imgd_log = dir.join("imgd.log");
    let mut cmd = target.command(&imgd);
    cmd.args(["--listen", &imgd_addr.to_string(), "--backend", "docker"])
        .args(["-H", &target.host])
        .arg("--config")
        .arg(&target.docker_config)
        .env("IMGD_TOKEN", &token)
        .env("IMGD_LOG", "warn");
    eprintln!("xtask: starting imgd on {imgd_addr} against engine {upper}");
    let mut imgd_service = Service::start("imgd", cmd, &imgd_log)?;
    wait_ready(imgd_addr, "/healthz", &mut imgd_service, &imgd_log)?;
    let (status, body) = http_get(imgd_addr, "/api/v1/images", Some(&token))?;
    let total = body
        .rsplit_once("\"total\":")
        .and_then(|(_, rest)| {
            rest.trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    if status != 200 || total < options.images {
        return Err(format!(
            "imgd's GET /api/v1/images answered {status} with {total} images, \
             expected 200 with at least {}",
            options.images
        ));
    }

    // The engine over TCP: engine B's own listener, else socat.
    let tcp_key = format!("IMGCTL_ENGINE_{upper}_TCP_HOST");
    let mut socat = None;
    let engine_addr: SocketAddr = match env.get(&tcp_key) {
        Some(host) => host
            .trim_start_matches("tcp://")
            .parse()
            .map_err(|e| format!("{tcp_key}={host}: {e}"))?,
        None => {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            let log = dir.join("socat.log");
            let mut cmd = Command::new("socat");
            cmd.arg(format!(
                "TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork,backlog=256",
                addr.port()
            ))
            .arg(format!("UNIX-CONNECT:{}", target.socket.display()));
            eprintln!(
                "xtask: socat {addr} -> {} (apt-get install socat)",
                target.socket.display()
            );
            let mut service = Service::start("socat", cmd, &log)?;
            wait_ready(addr, "/_ping", &mut service, &log)?;
            socat = Some(service);
            addr
        }
    };
    let via = if socat.is_some() { "socat" } else { "TCP" };
    let (status, _) = http_get(engine_addr, "/images/json", None)?;
    if status != 200 {
        return Err(format!("the engine's GET /images/json answered {status}"));
    }

    let ours = wrk(
        options,
        &format!("http://{imgd_addr}/api/v1/images"),
        Some(&token),
    )?;
    imgd_service.check_alive(&imgd_log)?;
    let peak = peak_rss_kib(imgd_service.pid())
        .ok_or_else(|| "cannot read imgd's VmHWM from /proc".to_string())?;
    let theirs = wrk(options, &format!("http://{engine_addr}/images/json"), None)?;
    drop(socat);
    drop(imgd_service);

    let ratio = if theirs.requests_per_sec > 0.0 {
        ours.requests_per_sec / theirs.requests_per_sec
    } else {
        f64::INFINITY
    };
    let p99_ok = ours.p99.is_some_and(|p99| p99 < MAX_P99);
    let checks = [
        (
            ratio >= MIN_RATIO,
            format!("throughput {ratio:.1}× the engine's (target ≥ {MIN_RATIO}×)"),
        ),
        (
            ours.errors() == 0,
            format!("{} errors (target 0)", ours.errors()),
        ),
        (
            p99_ok,
            format!("p99 {} (target < {} ms)", ms(ours.p99), MAX_P99.as_millis()),
        ),
        (
            peak < MAX_RSS_KIB,
            format!(
                "imgd peak RSS {:.1} MiB (target < {} MiB)",
                peak as f64 / 1024.0,
                MAX_RSS_KIB / 1024
            ),
        ),
    ];
    let mut report = vec![
        format!(
            "engine {upper} (API {}), {} bench images; wrk -t{} -c{} -d{}s --latency; \
             {} CPUs",
            target.api,
            options.images,
            options.threads,
            options.connections,
            options.duration,
            std::thread::available_parallelism().map_or(0, usize::from),
        ),
        String::new(),
        "| endpoint | req/s | requests | errors | p50 | p90 | p99 | peak RSS |".to_string(),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |".to_string(),
        row(
            "imgd `GET /api/v1/images`",
            &ours,
            &format!("{:.1} MiB", peak as f64 / 1024.0),
        ),
        row(&format!("engine `GET /images/json` ({via})"), &theirs, ""),
        String::new(),
    ];
    for (ok, text) in &checks {
        report.push(format!("- {} {text}", if *ok { "PASS" } else { "MISS" }));
    }
    let text = report.join("\n");
    let saved = dir.join("http-report.md");
    fs::write(&saved, &text).map_err(|e| format!("cannot write {}: {e}", saved.display()))?;
    println!("\n{text}");
    eprintln!("xtask: the report is also in {}", saved.display());
    let missed = checks.iter().filter(|(ok, _)| !ok).count();
    if missed > 0 {
        return Err(format!("{missed} target(s) missed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 30s test @ http://127.0.0.1:8080/api/v1/images
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.52ms    2.45ms  40.00ms   80.00%
    Req/Sec     3.05k   200.00     3.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%   11.00ms
     90%   13.50ms
     99%    1.02s
  182000 requests in 30.00s, 1.00GB read
  Socket errors: connect 0, read 2, write 0, timeout 12
  Non-2xx or 3xx responses: 5
Requests/sec:   6066.66
Transfer/sec:     34.00MB
";

    #[test]
    fn reads_wrk_reports() {
        let report = parse_wrk(WRK).expect("parses");
        assert_eq!(report.requests, 182_000);
        assert!((report.requests_per_sec - 6066.66).abs() < 1e-6);
        assert_eq!((report.non_2xx, report.socket_errors), (5, 14));
        assert_eq!(report.errors(), 19);
        assert_eq!(report.p50, Some(Duration::from_micros(812)));
        assert_eq!(report.p90, Some(Duration::from_micros(13_500)));
        assert_eq!(report.p99, Some(Duration::from_millis(1020)));
        let clean = "  10 requests in 1.00s, 1KB read\nRequests/sec:     10.00\n";
        let clean = parse_wrk(clean).expect("parses");
        assert_eq!((clean.errors(), clean.p99), (0, None));
        assert!(parse_wrk("unable to connect to 127.0.0.1:1").is_err());
    }

    #[test]
    fn reads_the_peak_rss() {
        let status = "Name:\timgd\nVmPeak:\t  200000 kB\nVmHWM:\t   31234 kB\nVmRSS:\t 30000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(31_234));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn options() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let defaults = parse_options(&[]).expect("parses");
        assert_eq!(
            (defaults.images, defaults.duration, defaults.connections),
            (1000, 30, 64)
        );
        assert_eq!((defaults.threads, defaults.engine), (2, 'b'));
        let quick = parse_options(&args(&[
            "--duration",
            "5",
            "--connections",
            "16",
            "--engine",
            "a",
            "--imgd",
            "/tmp/imgd",
        ]))
        .expect("parses");
        assert_eq!(
            (quick.duration, quick.connections, quick.engine),
            (5, 16, 'a')
        );
        assert_eq!(quick.imgd, Some(PathBuf::from("/tmp/imgd")));
        assert!(parse_options(&args(&["--duration", "0"])).is_err());
        assert!(parse_options(&args(&["--engine", "c"])).is_err());
        assert!(parse_options(&args(&["--threads", "8", "--connections", "4"])).is_err());
        assert!(parse_options(&args(&["--bogus"])).is_err());
    }
}
