//! Certificates for the engines' TCP listeners, made once with the `openssl`
//! CLI (so the xtask stays free of dependencies) and kept across `engine
//! down`, like the unpacked packages.
//!
//! `target/engines/tls/` is a docker certificate directory: `ca.pem`,
//! `cert.pem` and `key.pem` are what a client needs (`DOCKER_CERT_PATH`), and
//! `server-cert.pem` / `server-key.pem` (for `127.0.0.1` and `localhost`) are
//! what engine A serves with `--tlsverify`. `ca-key.pem` signs them.
//!
//! `tls/rogue/` holds the same client files under a second, unrelated CA
//! (`ca.pem`, and `cert.pem` / `key.pem` signed by it), for tests of what a
//! wrong CA or a foreign client certificate does.
//!
//! Every key is ECDSA P-256 (fast to make, and what rustls, Go and the docker
//! CLI all accept); certificates are valid for ten years, and the set is made
//! again whenever `openssl verify` no longer accepts it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// Days the certificates are valid.
const DAYS: &str = "3650";

/// The openssl configuration of every step: names come from `-subj`, and
/// each kind of certificate has its own extensions section. Nothing of the
/// system's `openssl.cnf` is read.
const CONFIG: &str = "\
# Written by cargo xtask engine up.
[req]
distinguished_name = dn
prompt = no

[dn]
CN = imgctl

[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// The certificate directory of the harness.
#[derive(Debug, Clone)]
pub struct Certs {
    /// `target/engines/tls`.
    pub dir: PathBuf,
}

impl Certs {
    /// The CA certificate (clients trust it; the engine checks client
    /// certificates against it).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    /// The engine's certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server-cert.pem")
    }
    /// The engine's key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server-key.pem")
    }
    /// The client certificate directory (`DOCKER_CERT_PATH`): the harness's
    /// directory itself.
    pub fn client_dir(&self) -> &Path {
        &self.dir
    }
    /// `ca.pem`, `cert.pem`, `key.pem` of the second CA.
    pub fn rogue_dir(&self) -> PathBuf {
        self.dir.join("rogue")
    }

    /// Makes the certificates unless a valid set is there; returns whether
    /// it made them.
    pub fn ensure(&self) -> Result<bool, String> {
        if self.valid() {
            return Ok(false);
        }
        let parent = self
            .dir
            .parent()
            .ok_or_else(|| format!("{} has no parent", self.dir.display()))?;
        let tmp = parent.join(format!("tls.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        generate(&tmp).inspect_err(|_| {
            let _ = fs::remove_dir_all(&tmp);
        })?;
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir)
                .map_err(|e| format!("cannot remove {}: {e}", self.dir.display()))?;
        }
        fs::rename(&tmp, &self.dir).map_err(|e| {
            format!(
                "cannot move {} to {}: {e}",
                tmp.display(),
                self.dir.display()
            )
        })?;
        Ok(true)
    }

    /// Whether every file is there and `openssl verify` accepts each chain
    /// now (which also checks the dates).
    fn valid(&self) -> bool {
        let rogue = self.rogue_dir();
        let files = [
            self.ca(),
            self.dir.join("cert.pem"),
            self.dir.join("key.pem"),
            self.server_cert(),
            self.server_key(),
            rogue.join("ca.pem"),
            rogue.join("cert.pem"),
            rogue.join("key.pem"),
        ];
        files.iter().all(|f| f.is_file())
            && verify(
                &self.ca(),
                &[&self.server_cert(), &self.dir.join("cert.pem")],
            )
            && verify(&rogue.join("ca.pem"), &[&rogue.join("cert.pem")])
    }
}

/// An `openssl` command without the caller's `OPENSSL_CONF`.
fn openssl() -> Command {
    let mut cmd = Command::new("openssl");
    cmd.env_remove("OPENSSL_CONF")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Runs an `openssl` command; an error carries its stderr.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run openssl ({what}): {e}; is the openssl CLI installed?"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether `openssl verify` accepts `certs` under `ca`.
fn verify(ca: &Path, certs: &[&Path]) -> bool {
    openssl()
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .args(certs)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A serial number unique enough for a test CA.
fn serial(n: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("0x{nanos:x}{n:02x}")
}

/// A new self-signed CA: `ca.pem` and `ca-key.pem` in `dir`.
fn make_ca(config: &Path, dir: &Path, name: &str) -> Result<(), String> {
    run(
        openssl()
            .args(["req", "-x509", "-new", "-config"])
            .arg(config)
            .args([
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-sha256",
                "-days",
                DAYS,
                "-extensions",
                "ca_ext",
                "-subj",
                &format!("/CN={name}"),
                "-set_serial",
                &serial(0),
                "-keyout",
            ])
            .arg(dir.join("ca-key.pem"))
            .arg("-out")
            .arg(dir.join("ca.pem")),
        &format!("req -x509 ({name})"),
    )
}

/// A new key and certificate signed by the CA in `ca_dir`, with the
/// extensions of `section`.
fn make_leaf(
    config: &Path,
    ca_dir: &Path,
    section: &str,
    name: &str,
    cert: &Path,
    key: &Path,
    serial_no: u32,
) -> Result<(), String> {
    let csr = cert.with_extension("csr");
    run(
        openssl()
            .args(["req", "-new", "-config"])
            .arg(config)
            .args([
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
            ])
            .arg(key)
            .arg("-out")
            .arg(&csr),
        &format!("req ({name})"),
    )?;
    run(
        openssl()
            .args(["x509", "-req", "-sha256", "-days", DAYS, "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(ca_dir.join("ca.pem"))
            .arg("-CAkey")
            .arg(ca_dir.join("ca-key.pem"))
            .args(["-set_serial", &serial(serial_no), "-extfile"])
            .arg(config)
            .args(["-extensions", section, "-out"])
            .arg(cert),
        &format!("x509 -req ({name})"),
    )?;
    fs::remove_file(&csr).map_err(|e| format!("cannot remove {}: {e}", csr.display()))
}

/// Makes the whole set in `dir` (which must not exist).
fn generate(dir: &Path) -> Result<(), String> {
    let rogue = dir.join("rogue");
    fs::create_dir_all(&rogue).map_err(|e| format!("cannot create {}: {e}", rogue.display()))?;
    let config = dir.join("openssl.cnf");
    fs::write(&config, CONFIG).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    make_ca(&config, dir, "imgctl test CA")?;
    make_leaf(
        &config,
        dir,
        "server_ext",
        "localhost",
        &dir.join("server-cert.pem"),
        &dir.join("server-key.pem"),
        1,
    )?;
    make_leaf(
        &config,
        dir,
        "client_ext",
        "imgctl client",
        &dir.join("cert.pem"),
        &dir.join("key.pem"),
        2,
    )?;
    make_ca(&config, &rogue, "imgctl rogue CA")?;
    make_leaf(
        &config,
        &rogue,
        "client_ext",
        "imgctl rogue client",
        &rogue.join("cert.pem"),
        &rogue.join("key.pem"),
        3,
    )?;
    // The rogue CA's key is of no further use.
    let _ = fs::remove_file(rogue.join("ca-key.pem"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_hex_and_distinct() {
        let (a, b) = (serial(1), serial(2));
        assert!(a.starts_with("0x") && a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
