//! `imgctl load [-i FILE] [-q]` and `imgctl image load`: docker's `load`
//! (docker/cli 28, `cli/command/image/load.go`).
//!
//! The archive comes from `-i FILE` (streamed) or standard input (read
//! whole). What was loaded is printed as the engine reports it: `Loaded
//! image: NAME:TAG` for each tag, then `Loaded image ID: sha256:...` for
//! each untagged image. docker asks the engine for quiet output when `-q`
//! is given or stdout is not a terminal; quiet output drops only the
//! `Loading layer` progress bars, so these lines are printed either way
//! (an engine-agnostic [`LoadReport`](image_core::LoadReport) carries no
//! layer progress, so imgctl never shows bars).

use std::fs::File;
use std::io::{self, Read};

use futures::StreamExt as _;
use image_core::{ByteStream, ImageService, ImageServiceExt as _};

use super::save::go_path_error;
use super::{ExitStatus, Io, report};
use crate::cli::LoadArgs;

/// How many bytes of a file each chunk of the stream holds.
const CHUNK: usize = 256 * 1024;

/// Runs `load`.
pub async fn run(service: &dyn ImageService, args: &LoadArgs, io: &mut Io<'_>) -> ExitStatus {
    let result = match &args.input {
        Some(path) => {
            let file = match File::open(path) {
                Ok(file) => file,
                Err(error) => return fail(io, &go_path_error("open", path, &error)),
            };
            service.load(file_stream(file)).await
        }
        None => {
            let mut archive = Vec::new();
            if let Err(error) = io.input.read_to_end(&mut archive) {
                return fail(io, &format!("read /dev/stdin: {error}"));
            }
            service.load_bytes(archive).await
        }
    };
    let report_of_load = match result {
        Ok(loaded) => loaded,
        Err(error) => return report(io, &error),
    };
    let mut text = String::new();
    for tag in &report_of_load.loaded_tags {
        text.push_str(&format!("Loaded image: {tag}\n"));
    }
    for id in &report_of_load.loaded_ids {
        text.push_str(&format!("Loaded image ID: {id}\n"));
    }
    let _ = io.out.write_all(text.as_bytes());
    let _ = io.out.flush();
    ExitStatus::Success
}

/// A file as a stream of chunks, read as the engine consumes them.
fn file_stream(file: File) -> ByteStream {
    futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut chunk = vec![0u8; CHUNK];
        match read_full(&mut file, &mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(chunk.into()), Some(file)))
            }
            Err(error) => Some((
                Err(image_core::ImageError::backend(
                    format!("reading the archive: {error}"),
                    error,
                )),
                None,
            )),
        }
    })
    .boxed()
}

/// Reads until `buffer` is full or the file ends.
fn read_full(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Prints a client-side error as docker's `main` does and fails.
fn fail(io: &mut Io<'_>, message: &str) -> ExitStatus {
    let _ = io.out.flush();
    let _ = writeln!(io.err, "{message}");
    ExitStatus::Failure
}
