//! Processes and mounts, read from `/proc` with std only.
//!
//! The engine harness must stop what it started and nothing else, so every
//! helper here works on explicit process ids or explicit directories; callers
//! decide which processes are theirs (by pidfile plus a marker in the command
//! line, by the containerd socket a shim serves, or by the harness's own cgroup
//! parent).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The state letter and start time of a process, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, ... (see proc(5)).
    pub state: char,
    /// Start time in clock ticks after boot; with the pid it names a process
    /// uniquely, even after the pid is reused.
    pub start_time: u64,
}

/// Parses the text of `/proc/PID/stat`. The command name may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: field 3 (state) is index 0, field 22
    // (starttime) is index 19.
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(Stat { state, start_time })
}

/// The stat of a live or zombie process, or `None` when there is no such pid.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` names a process that still runs (a zombie does not).
pub fn is_running(pid: u32) -> bool {
    matches!(stat(pid), Some(s) if s.state != 'Z' && s.state != 'X')
}

/// The command line of a process, its arguments split on NUL.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|part| !part.is_empty())
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect(),
    )
}

/// Whether a running process's command line contains `marker` (in any one
/// argument or across the joined line). Used to check that a pid from a
/// pidfile is still the process the harness started.
pub fn cmdline_contains(pid: u32, marker: &str) -> bool {
    is_running(pid) && cmdline(pid).is_some_and(|args| args.join(" ").contains(marker))
}

/// The file name of the program a process runs (`argv[0]`'s last component).
pub fn program_name(pid: u32) -> Option<String> {
    let args = cmdline(pid)?;
    let first = args.first()?;
    Some(
        Path::new(first)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| first.clone()),
    )
}

/// Every pid in `/proc`.
pub fn all_pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The running processes that are in a cgroup whose path has the segment
/// `parent` (in any hierarchy), read from `/proc/PID/cgroup`.
pub fn pids_in_cgroup_parent(parent: &str) -> Vec<u32> {
    let needle = format!("/{parent}/");
    all_pids()
        .into_iter()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|text| text.lines().any(|l| l.contains(&needle)))
        })
        .filter(|pid| is_running(*pid))
        .collect()
}

/// Reads a pidfile; `None` when it is missing or does not hold a pid.
pub fn read_pidfile(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends `signal` (`TERM`, `KILL`, ...) to `pid` through the shell's `kill`
/// builtin (std has no `kill(2)` and the workspace forbids `unsafe`). A
/// process that is already gone is not an error.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("sh")
        .args([
            "-c",
            "kill -s \"$1\" \"$2\"",
            "sh",
            signal,
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits until none of `pids` runs, up to `timeout`; returns the ones that
/// still run.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| is_running(*p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Stops `pid`: SIGTERM, then SIGKILL if it still runs after `grace`.
/// `what` names it in the error when even SIGKILL does not stop it.
pub fn terminate(pid: u32, what: &str, grace: Duration) -> Result<(), String> {
    if !is_running(pid) {
        return Ok(());
    }
    signal(pid, "TERM");
    if wait_gone(&[pid], grace).is_empty() {
        return Ok(());
    }
    eprintln!("xtask: {what} (pid {pid}) ignored SIGTERM for {grace:?}; sending SIGKILL");
    kill_all(&[pid], what)
}

/// SIGKILLs every pid and waits for them to go.
pub fn kill_all(pids: &[u32], what: &str) -> Result<(), String> {
    for pid in pids {
        signal(*pid, "KILL");
    }
    let left = wait_gone(pids, Duration::from_secs(10));
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: pids {left:?} survive SIGKILL"))
    }
}

/// The socket inodes a process holds open (`socket:[N]` fd links).
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| {
            let target = fs::read_link(fd.path()).ok()?;
            let text = target.to_str()?;
            text.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The filesystem paths of the unix sockets that `pid` holds open and that
/// lie under `dir` (from `/proc/net/unix`). Used to remove the sockets of a
/// containerd shim that is killed, which it would have removed on a clean
/// exit.
pub fn unix_socket_paths(pid: u32, dir: &Path) -> Vec<PathBuf> {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(table) = fs::read_to_string("/proc/net/unix") else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode: u64 = fields.get(6)?.parse().ok()?;
            let path = PathBuf::from(fields.get(7)?);
            (inodes.contains(&inode) && path.starts_with(dir)).then_some(path)
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Undoes the octal escapes (`\040` for a space, ...) of `/proc/self/mountinfo`.
pub fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount points listed in a mountinfo text that are `dir` or below it,
/// deepest first (so that they can be unmounted in that order).
pub fn mounts_under_in(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount_path(field)))
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points
}

/// The mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .map(|text| mounts_under_in(&text, dir))
        .unwrap_or_default()
}

/// Unmounts everything mounted at or below `dir` (overlay layers, the netns
/// files, the bind mount dockerd puts on its data root), lazily when a plain
/// unmount fails. Errors when something is still mounted afterwards.
pub fn unmount_all_under(dir: &Path) -> Result<(), String> {
    for _round in 0..5 {
        let points = mounts_under(dir);
        if points.is_empty() {
            return Ok(());
        }
        for point in &points {
            let quiet = |args: &[&str]| {
                Command::new("umount")
                    .args(args)
                    .arg(point)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if !quiet(&[]) {
                quiet(&["-l"]);
            }
        }
    }
    let left = mounts_under(dir);
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("still mounted under {}: {left:?}", dir.display()))
    }
}

/// Removes the cgroup directories named `parent` (and their empty children)
/// from every cgroup hierarchy under `/sys/fs/cgroup`, best effort: `rmdir`
/// only succeeds on a cgroup that has no process left.
pub fn remove_cgroup_dirs(parent: &str) {
    fn walk(dir: &Path, parent: &str, depth: usize) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_dir() {
                continue;
            }
            let path = entry.path();
            if entry.file_name() == parent {
                if let Ok(children) = fs::read_dir(&path) {
                    for child in children.flatten() {
                        if child.file_type().is_ok_and(|k| k.is_dir()) {
                            let _ = fs::remove_dir(child.path());
                        }
                    }
                }
                let _ = fs::remove_dir(&path);
            } else if depth > 0 {
                walk(&path, parent, depth - 1);
            }
        }
    }
    walk(Path::new("/sys/fs/cgroup"), parent, 4);
}

/// The effective user id, from `/proc/self/status`.
pub fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_name() {
        let text = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615";
        let stat = parse_stat(text).expect("parses");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.start_time, 98765);
    }

    #[test]
    fn own_process_is_running() {
        let me = std::process::id();
        assert!(is_running(me));
        assert!(stat(me).is_some());
        assert!(cmdline(me).is_some_and(|args| !args.is_empty()));
    }

    #[test]
    fn mountinfo_under_dir_deepest_first() {
        let text = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 254:0 /w/t/engines/a/data /w/t/engines/a/data rw - ext4 /dev/vda rw
31 30 0:40 / /w/t/engines/a/data/overlay2/x/merged rw - overlay overlay rw
32 22 0:4 net:[1] /w/t/engines/a/exec/netns/ab rw - nsfs nsfs rw
33 22 0:41 / /w/t/engines\\040b/x rw - tmpfs tmpfs rw
34 22 0:42 / /w/t/enginesX rw - tmpfs tmpfs rw
";
        let points = mounts_under_in(text, Path::new("/w/t/engines"));
        assert_eq!(
            points,
            vec![
                PathBuf::from("/w/t/engines/a/data/overlay2/x/merged"),
                PathBuf::from("/w/t/engines/a/exec/netns/ab"),
                PathBuf::from("/w/t/engines/a/data"),
            ]
        );
        let spaced = mounts_under_in(text, Path::new("/w/t/engines b"));
        assert_eq!(spaced, vec![PathBuf::from("/w/t/engines b/x")]);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape_mount_path("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape_mount_path("trailing\\04"), "trailing\\04");
        assert_eq!(unescape_mount_path("plain"), "plain");
    }
}
