//! The Debian packages the real-engine harness runs.
//!
//! - Engine A, the registries, busybox and htpasswd come from the machine's own
//!   Debian release (bookworm), installed with `apt-get` when missing.
//! - Engine B is Debian trixie's `dockerd`. Its `.deb` is fetched with
//!   `apt-get download` against the machine's configured Debian mirror, read
//!   from the apt sources at run time, through a private apt configuration and
//!   state directory under `target/engines/pkgs/trixie/apt/` so the system's apt
//!   configuration, lists and caches are untouched; it is unpacked with
//!   `dpkg-deb -x` under `target/engines/pkgs/trixie/root/`. It runs with the
//!   host's (bookworm) containerd and runc, which it accepts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::procs;

/// The packages installed from the machine's Debian release.
pub const APT_PACKAGES: &[&str] = &[
    "docker.io",
    "docker-registry",
    "busybox-static",
    "apache2-utils",
    // The certificates of the engines' TLS listeners.
    "openssl",
    // imgd's web page test (crates/image-http/tests/browser.rs): headless
    // Chromium driven over WebDriver.
    "chromium",
    "chromium-driver",
    // `cargo xtask bench http`: the load generator, and the TCP bridge to
    // an engine that listens on a unix socket only.
    "wrk",
    "socat",
];

/// The Debian suite engine B comes from.
pub const ENGINE_B_SUITE: &str = "trixie";

/// The packages fetched from [`ENGINE_B_SUITE`] (only dockerd: trixie's 26.1
/// runs with bookworm's containerd 1.6 and runc 1.1).
const ENGINE_B_PACKAGES: [&str; 1] = ["docker.io"];

/// Whether a Debian package is installed, per `dpkg-query`.
fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.starts_with(b"ii"))
}

/// The packages of [`APT_PACKAGES`] that are not installed.
pub fn missing_packages() -> Vec<&'static str> {
    APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect()
}

/// Runs a command with its output going to `log` (appended); on failure the
/// error holds the log's tail.
fn run_logged(command: &mut Command, what: &str, log: &Path) -> Result<(), String> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let _ = writeln!(file, "\n$ {command:?}");
    let err = file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({status}); last lines of {}:\n{}",
            log.display(),
            crate::engine::tail(log, 25)
        ))
    }
}

/// Removes `/usr/sbin/policy-rc.d` on drop when it was created by
/// [`install_missing`] (so that installing docker.io starts no system daemon).
struct PolicyRcGuard(Option<PathBuf>);

impl Drop for PolicyRcGuard {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// Installs the missing [`APT_PACKAGES`] (`apt-get update`, then `apt-get
/// install --no-install-recommends`), quietly, with output in `log`. Package
/// scripts are not allowed to start services (a temporary `policy-rc.d` when
/// the machine has none), so no system docker daemon or registry starts.
pub fn install_missing(log: &Path) -> Result<(), String> {
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    if procs::effective_uid() != Some(0) {
        return Err(format!(
            "packages {} are missing and installing them needs root: \
             sudo apt-get install -y --no-install-recommends {}",
            missing.join(", "),
            APT_PACKAGES.join(" ")
        ));
    }
    eprintln!(
        "xtask: installing {} with apt-get (log: {})",
        missing.join(" "),
        log.display()
    );
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let _guard = if policy.exists() {
        PolicyRcGuard(None)
    } else {
        fs::write(
            policy,
            "#!/bin/sh\n# temporary, from cargo xtask engine install\nexit 101\n",
        )
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(policy, fs::Permissions::from_mode(0o755))
        })
        .map_err(|e| format!("cannot write {}: {e}", policy.display()))?;
        PolicyRcGuard(Some(policy.to_path_buf()))
    };
    run_logged(
        Command::new("apt-get")
            .args(["-q", "update"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get update",
        log,
    )?;
    run_logged(
        Command::new("apt-get")
            .args(["-q", "install", "-y", "--no-install-recommends"])
            .args(APT_PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get install",
        log,
    )?;
    let still = missing_packages();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "still not installed after apt-get: {}",
            still.join(", ")
        ))
    }
}

/// One `deb` entry of the apt sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The archive's URI.
    pub uri: String,
    /// Its suites (`bookworm`, `bookworm-updates`, ...).
    pub suites: Vec<String>,
    /// Its components (`main`, ...).
    pub components: Vec<String>,
    /// The `signed-by` keyring path, when the entry names one.
    pub signed_by: Option<String>,
}

/// Parses one-line-style sources (`deb [opts] URI suite component...`);
/// `deb-src` lines and comments are skipped.
pub fn parse_list(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let mut rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(opts) = rest.strip_prefix('[') {
            let Some(end) = opts.find(']') else {
                continue;
            };
            for opt in opts[..end].split_whitespace() {
                if let Some(value) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(value.to_string());
                }
            }
            rest = opts[end + 1..].trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        sources.push(Source {
            uri: uri.to_string(),
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
            signed_by,
        });
    }
    sources
}

/// Parses deb822-style sources (`Types:`, `URIs:`, `Suites:`, `Components:`,
/// `Signed-By:` stanzas); one [`Source`] per URI of a `deb` stanza. An inline
/// `Signed-By` key block is not carried over.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line.trim());
                }
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let words = |name: &str| -> Vec<String> {
            field(name).split_whitespace().map(str::to_string).collect()
        };
        if field("enabled").eq_ignore_ascii_case("no") || !words("types").iter().any(|t| t == "deb")
        {
            continue;
        }
        let signed_by = Some(field("signed-by")).filter(|s| !s.is_empty() && !s.contains('\n'));
        for uri in words("uris") {
            sources.push(Source {
                uri,
                suites: words("suites"),
                components: words("components"),
                signed_by: signed_by.clone(),
            });
        }
    }
    sources
}

/// Every `deb` source of the system: `/etc/apt/sources.list` and the `.list`
/// and `.sources` files of `/etc/apt/sources.list.d/`.
fn system_sources() -> Vec<Source> {
    let mut sources = fs::read_to_string("/etc/apt/sources.list")
        .map(|t| parse_list(&t))
        .unwrap_or_default();
    let mut parts: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    parts.sort();
    for path in parts {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("list") => sources.extend(parse_list(&text)),
            Some("sources") => sources.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    sources
}

/// The machine's Debian release codename (`VERSION_CODENAME` of
/// `/etc/os-release`).
pub fn release_codename() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// Picks the Debian archive among `sources`: the entry that serves the
/// release `codename` itself (not `-updates` or `-security`) with `main`.
pub fn pick_mirror(sources: &[Source], codename: &str) -> Option<Source> {
    sources
        .iter()
        .find(|s| {
            s.suites.iter().any(|x| x == codename) && s.components.iter().any(|c| c == "main")
        })
        .cloned()
}

/// Where the unpacked trixie packages live.
pub fn trixie_root(pkgs_dir: &Path) -> PathBuf {
    pkgs_dir.join(ENGINE_B_SUITE).join("root")
}

/// The stamp written once the trixie packages are unpacked.
fn trixie_stamp(pkgs_dir: &Path) -> PathBuf {
    trixie_root(pkgs_dir).join(".imgctl-complete")
}

/// Whether the trixie packages are already unpacked.
pub fn trixie_ready(pkgs_dir: &Path) -> bool {
    trixie_stamp(pkgs_dir).is_file()
}

/// Quotes a value for an apt.conf file.
fn apt_conf_value(value: &str) -> Result<String, String> {
    if value.contains('"') || value.contains('\n') {
        Err(format!("cannot put {value:?} in an apt configuration"))
    } else {
        Ok(format!("\"{value}\""))
    }
}

/// The system's network settings for apt (proxies, validity checks), copied
/// from `apt-config dump` into the private configuration.
fn network_settings() -> String {
    const KEEP: [&str; 9] = [
        "Acquire::http",
        "Acquire::https",
        "Acquire::ftp",
        "Acquire::socks",
        "Acquire::Check-Valid-Until",
        "Acquire::Check-Date",
        "Acquire::Max-ValidTime",
        "Acquire::Retries",
        "Acquire::ForceIPv",
    ];
    let Ok(out) = Command::new("apt-config")
        .arg("dump")
        .stderr(Stdio::null())
        .output()
    else {
        return String::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| KEEP.iter().any(|k| l.starts_with(k)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Fetches and unpacks trixie's docker.io under `pkgs_dir/trixie/` unless it
/// is already there. Output of apt goes to `log`.
pub fn ensure_trixie(pkgs_dir: &Path, log: &Path) -> Result<PathBuf, String> {
    let root = trixie_root(pkgs_dir);
    if trixie_ready(pkgs_dir) {
        return Ok(root);
    }
    let codename = release_codename().unwrap_or_else(|| "bookworm".into());
    let sources = system_sources();
    let mirror = pick_mirror(&sources, &codename).ok_or_else(|| {
        format!(
            "no Debian `{codename} main` entry in /etc/apt/sources.list or \
             /etc/apt/sources.list.d/; cannot find the mirror to fetch {ENGINE_B_SUITE}'s docker.io from"
        )
    })?;
    eprintln!(
        "xtask: fetching {ENGINE_B_SUITE}'s {} from the system's Debian mirror (log: {})",
        ENGINE_B_PACKAGES.join(" "),
        log.display()
    );
    let base = pkgs_dir.join(ENGINE_B_SUITE);
    let apt = base.join("apt");
    let debs = base.join("debs");
    let empty = apt.join("empty");
    for dir in [
        apt.join("lists/partial"),
        apt.join("cache/archives/partial"),
        apt.join("state"),
        apt.join("log"),
        empty.clone(),
        debs.clone(),
    ] {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let options = match &mirror.signed_by {
        Some(keyring) => format!("[signed-by={keyring}] "),
        None => String::new(),
    };
    let list = format!("deb {options}{} {ENGINE_B_SUITE} main\n", mirror.uri);
    let write = |path: &Path, text: &str| {
        fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&apt.join("sources.list"), &list)?;
    write(&apt.join("status"), "")?;
    let p = |path: &Path| apt_conf_value(&path.display().to_string());
    let mut conf =
        String::from("// Private apt configuration of cargo xtask engine: trixie only.\n");
    conf.push_str(&network_settings());
    conf.push_str(&format!(
        "Dir::Etc::main \"/dev/null\";\n\
         Dir::Etc::parts {};\n\
         Dir::Etc::sourcelist {};\n\
         Dir::Etc::sourceparts {};\n\
         Dir::Etc::preferences {};\n\
         Dir::Etc::preferencesparts {};\n\
         Dir::State {};\n\
         Dir::State::Lists {};\n\
         Dir::State::status {};\n\
         Dir::Cache {};\n\
         Dir::Log {};\n\
         Acquire::Languages \"none\";\n",
        p(&empty)?,
        p(&apt.join("sources.list"))?,
        p(&empty)?,
        p(&empty.join("preferences"))?,
        p(&empty)?,
        p(&apt.join("state"))?,
        p(&apt.join("lists"))?,
        p(&apt.join("status"))?,
        p(&apt.join("cache"))?,
        p(&apt.join("log"))?,
    ));
    if procs::effective_uid() == Some(0) {
        // Our directories belong to root; apt's `_apt` sandbox user could not
        // write into them.
        conf.push_str("APT::Sandbox::User \"root\";\n");
    }
    let conf_path = apt.join("apt.conf");
    write(&conf_path, &conf)?;
    let apt_get = || {
        let mut c = Command::new("apt-get");
        c.env("APT_CONFIG", &conf_path)
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run_logged(
        apt_get().args(["-q", "update"]),
        "apt-get update (trixie, private)",
        log,
    )?;
    // Old downloads of an earlier, interrupted attempt.
    if let Ok(entries) = fs::read_dir(&debs) {
        for entry in entries.flatten() {
            let _ = fs::remove_file(entry.path());
        }
    }
    run_logged(
        apt_get()
            .args(["-q", "download"])
            .args(ENGINE_B_PACKAGES)
            .current_dir(&debs),
        "apt-get download (trixie, private)",
        log,
    )?;
    if root.exists() {
        fs::remove_dir_all(&root).map_err(|e| format!("cannot remove {}: {e}", root.display()))?;
    }
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let mut unpacked = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(&debs)
        .map_err(|e| format!("cannot read {}: {e}", debs.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    entries.sort();
    for deb in entries {
        run_logged(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
            "dpkg-deb -x",
            log,
        )?;
        unpacked.push(
            deb.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    let dockerd = root.join("usr/sbin/dockerd");
    let version = Command::new(&dockerd)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", dockerd.display()))?;
    if !version.status.success() {
        return Err(format!(
            "{} --version failed: {}",
            dockerd.display(),
            String::from_utf8_lossy(&version.stderr)
        ));
    }
    write(
        &trixie_stamp(pkgs_dir),
        &format!(
            "{}\n{}",
            unpacked.join("\n"),
            String::from_utf8_lossy(&version.stdout)
        ),
    )?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources() {
        let text = "\
# comment
deb http://mirror.invalid/debian bookworm main contrib
deb-src http://mirror.invalid/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.invalid/debian-security bookworm-security main # tail
";
        let sources = parse_list(text);
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].uri, "http://mirror.invalid/debian");
        assert_eq!(sources[0].suites, vec!["bookworm".to_string()]);
        assert_eq!(
            sources[0].components,
            vec!["main".to_string(), "contrib".to_string()]
        );
        assert_eq!(
            sources[1].signed_by.as_deref(),
            Some("/usr/share/keyrings/k.gpg")
        );
        let mirror = pick_mirror(&sources, "bookworm").expect("a mirror");
        assert_eq!(mirror.uri, "http://mirror.invalid/debian");
    }

    #[test]
    fn deb822_sources() {
        let text = "\
Types: deb
# http://snapshot.invalid/archive/debian/20250520T000000Z
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://other.invalid/debian
Suites: bookworm
Components: main
";
        let sources = parse_deb822(text);
        assert_eq!(sources.len(), 2);
        let mirror = pick_mirror(&sources, "bookworm").expect("a mirror");
        assert_eq!(mirror.uri, "http://mirror.invalid/debian");
        assert_eq!(
            mirror.signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        assert!(pick_mirror(&sources, "trixie").is_none());
    }
}
