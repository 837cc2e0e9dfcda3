//! `imgctl save [-o FILE] IMAGE...` and `imgctl image save`: docker's
//! `save` (docker/cli 28, `cli/command/image/save.go`).
//!
//! Without `-o`, the archive goes to stdout, which must not be a terminal
//! (`cowardly refusing to save to a terminal. Use the -o flag or
//! redirect`). With `-o`, it is written as docker's `atomicwriter` writes
//! it: the destination is checked first (with docker's messages), the
//! archive is streamed into a temporary `.tmp-NAME...` file next to it,
//! which is synced, made mode 0600 and renamed over the destination only
//! when everything was written. Any failure removes the temporary file, so
//! the destination is never left half written (docker would rename an
//! empty file over it when the engine refuses the save; imgctl leaves it
//! alone).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use image_core::{ByteStream, ImageService};

use super::{ExitStatus, Io, report};
use crate::cli::SaveArgs;

/// Runs `save`.
pub async fn run(service: &dyn ImageService, args: &SaveArgs, io: &mut Io<'_>) -> ExitStatus {
    match &args.output {
        None => {
            if io.stdout_is_terminal {
                return fail(
                    io,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                );
            }
            let stream = match service.save(&args.images).await {
                Ok(stream) => stream,
                Err(error) => return report(io, &error),
            };
            match copy_stream(stream, io.out).await {
                Ok(_) => {
                    let _ = io.out.flush();
                    ExitStatus::Success
                }
                Err(CopyError::Stream(error)) => report(io, &error),
                Err(CopyError::Write(error)) => fail(io, &go_error_text(&error)),
            }
        }
        Some(path) => save_to_file(service, args, path, io).await,
    }
}

async fn save_to_file(
    service: &dyn ImageService,
    args: &SaveArgs,
    path: &Path,
    io: &mut Io<'_>,
) -> ExitStatus {
    if let Err(message) = validate_destination(path) {
        return fail(io, &format!("failed to save image: {message}"));
    }
    let (temp_path, file) = match create_temp(path) {
        Ok(created) => created,
        Err(message) => return fail(io, &format!("failed to save image: {message}")),
    };
    let mut temp = TempFile {
        path: temp_path,
        keep: false,
    };
    let mut file = io::BufWriter::new(file);
    let stream = match service.save(&args.images).await {
        Ok(stream) => stream,
        Err(error) => return report(io, &error),
    };
    let written = match copy_stream(stream, &mut file).await {
        Ok(written) => written,
        Err(CopyError::Stream(error)) => return report(io, &error),
        Err(CopyError::Write(error)) => return fail(io, &go_error_text(&error)),
    };
    let file = match file.into_inner() {
        Ok(file) => file,
        Err(error) => return fail(io, &go_error_text(error.error())),
    };
    if let Err(error) = file.sync_all() {
        return fail(io, &go_error_text(&error));
    }
    drop(file);
    if let Err(error) = set_mode_0600(&temp.path) {
        return fail(io, &go_path_error("chmod", &temp.path, &error));
    }
    if written == 0 {
        // docker's atomicwriter only renames a file something was written to.
        return ExitStatus::Success;
    }
    if let Err(error) = fs::rename(&temp.path, absolute(path)) {
        return fail(
            io,
            &format!(
                "rename {} {}: {}",
                temp.path.display(),
                absolute(path).display(),
                go_errno_text(&error)
            ),
        );
    }
    temp.keep = true;
    ExitStatus::Success
}

/// The temporary file; removed when dropped unless it was renamed.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Why copying an archive stream stopped.
pub enum CopyError {
    /// The engine's stream failed.
    Stream(image_core::ImageError),
    /// Writing failed.
    Write(io::Error),
}

/// Copies every chunk of `stream` to `out`; returns the bytes written.
pub async fn copy_stream(mut stream: ByteStream, out: &mut dyn Write) -> Result<u64, CopyError> {
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(CopyError::Stream)?;
        out.write_all(&chunk).map_err(CopyError::Write)?;
        written += chunk.len() as u64;
    }
    out.flush().map_err(CopyError::Write)?;
    Ok(written)
}

/// docker's `atomicwriter.validateDestination`: the directory must exist,
/// and the destination, if it exists, must be a regular file.
fn validate_destination(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("file name is empty".to_string());
    }
    if let Some(dir) = path.parent() {
        let dir_text = dir.to_string_lossy();
        if !dir_text.is_empty() && dir_text != "." && dir_text != ".." {
            match fs::metadata(dir) {
                Err(error) => {
                    return Err(format!(
                        "invalid output path: {}",
                        go_path_error("stat", dir, &error)
                    ));
                }
                Ok(meta) if !meta.is_dir() => {
                    return Err(format!(
                        "invalid output path: stat {}: not a directory",
                        dir.display()
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(format!(
                "failed to stat output path: {}",
                go_path_error("lstat", path, &error)
            ));
        }
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    if kind.is_dir() {
        return Err("cannot write to a directory".to_string());
    }
    if kind.is_symlink() {
        return Err("cannot write to a symbolic link directly".to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return Err("cannot write to a named pipe (FIFO)".to_string());
        }
        if kind.is_socket() {
            return Err("cannot write to a socket".to_string());
        }
        if kind.is_char_device() {
            return Err("cannot write to a character device file".to_string());
        }
        if kind.is_block_device() {
            return Err("cannot write to a block device file".to_string());
        }
    }
    Err("unknown file mode".to_string())
}

/// Creates `.tmp-NAME<random>` next to `path`, as Go's `os.CreateTemp`
/// does for docker's atomicwriter.
fn create_temp(path: &Path) -> Result<(PathBuf, File), String> {
    let target = absolute(path);
    let dir = target
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let base = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut last_error = None;
    for attempt in 0..10u32 {
        let candidate = dir.join(format!(".tmp-{base}{}", random_digits(attempt)));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                last_error = Some(error);
            }
            Err(error) => {
                return Err(go_path_error(
                    "open",
                    &dir.join(format!(".tmp-{base}*")),
                    &error,
                ));
            }
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::other("too many attempts"));
    Err(go_path_error(
        "open",
        &dir.join(format!(".tmp-{base}*")),
        &error,
    ))
}

/// Digits that differ between runs and attempts, like the ones
/// `os.CreateTemp` puts in its names.
fn random_digits(attempt: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (u64::from(nanos) ^ (u64::from(std::process::id()) << 20))
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(u64::from(attempt));
    (mixed % 10_000_000_000).to_string()
}

#[cfg(unix)]
fn set_mode_0600(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_mode_0600(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// `path` made absolute against the current directory (without resolving
/// symlinks), as Go's `filepath.Abs`.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Go's text for an OS error: the C library's message with a lower-case
/// first letter (`no such file or directory`), without Rust's `(os error N)`.
pub fn go_errno_text(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// Go's `*fs.PathError` text: `OP PATH: message`.
pub fn go_path_error(op: &str, path: &Path, error: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), go_errno_text(error))
}

/// The text of a write error without a path.
fn go_error_text(error: &io::Error) -> String {
    go_errno_text(error)
}

/// Prints a client-side error as docker's `main` does and fails.
fn fail(io: &mut Io<'_>, message: &str) -> ExitStatus {
    let _ = io.out.flush();
    let _ = writeln!(io.err, "{message}");
    ExitStatus::Failure
}
