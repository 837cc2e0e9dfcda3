//! `imgctl build [OPTIONS] PATH | -` and `imgctl image build`: docker's
//! classic builder as the docker CLI drives it (`DOCKER_BUILDKIT=0 docker
//! build`; docker/cli 28, `cli/command/image/build.go` and
//! `build/context.go`).
//!
//! The flags are checked the way docker's flag parser checks them (`-t`
//! must be a reference, `--label` needs a name, `--build-arg NAME` without
//! `=` takes `NAME`'s value from the environment and is left out when it
//! is not set, as docker leaves its value nil). The context is packed here,
//! as the docker CLI packs it, and sent as a tar:
//!
//! * `PATH`, a directory: packed honouring `.dockerignore`. `-f` is
//!   relative to the current directory, as docker's is; a Dockerfile
//!   outside the context, or `-f -` (read from standard input), is added to
//!   the context as `.dockerfile.<random>`, as docker adds it.
//! * `-`: standard input, read whole: a tar (or compressed tar) is the
//!   context; anything else is the Dockerfile of an empty context.
//!
//! Then docker's line `Sending build context to Docker daemon  2.048kB`
//! (go-units `HumanSize` of the packed context, right-aligned in 8 columns,
//! ended by docker's `\r\r\n`) and the engine's output, shown as docker
//! shows it (`Step 1/3 : FROM scratch`, ` ---> 0123456789ab`, `Successfully
//! built ...`, and a base image's pull progress, see
//! [`render::progress`](crate::render::progress)). With `-q` nothing but
//! the image ID (`sha256:...`) is printed; if the build fails, the context
//! line and the output held back are printed on stderr before the error,
//! as docker does. Errors the
//! engine reports inside the build output are printed as they are (docker
//! prints them without `Error response from daemon: `).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use image_core::archive::layer_tar_with_file;
use image_core::build_context::pack_directory;
use image_core::reference::Reference;
use image_core::{BuildContext, BuildOptions, ByteStream, ImageError, ImageService};

use super::pull::platform_option;
use super::save::{absolute, go_errno_text, go_path_error};
use super::{ExitStatus, Io, report};
use crate::cli::BuildArgs;
use crate::render::progress::{
    Mode, ProgressDisplay, StreamFailure, show_stream, stream_error_text,
};
use crate::render::units::human_size;

/// The packed context and where the Dockerfile is inside it.
struct Context {
    tar: Vec<u8>,
    dockerfile: Option<String>,
}

/// Runs `build`.
pub async fn run(service: &dyn ImageService, args: &BuildArgs, io: &mut Io<'_>) -> ExitStatus {
    let options = match build_options(args) {
        Ok(options) => options,
        Err(message) => return fail(io, &message),
    };
    let context = match prepare_context(args, io) {
        Ok(context) => context,
        Err(message) => return fail(io, &message),
    };
    let options = BuildOptions {
        dockerfile: context.dockerfile,
        ..options
    };
    // docker's upload progress, as its non-terminal output ends it.
    let sending = format!(
        "Sending build context to Docker daemon {:>8}\r\r\n",
        human_size(context.tar.len() as f64)
    );
    if !args.quiet {
        let _ = io.out.write_all(sending.as_bytes());
        let _ = io.out.flush();
    }
    let tar = context.tar;
    let stream: ByteStream = futures::stream::once(async move { Ok(tar.into()) }).boxed();
    let progress = match service.build(BuildContext::Tar(stream), &options).await {
        Ok(progress) => progress,
        Err(error) => {
            if args.quiet {
                let _ = io.err.write_all(sending.as_bytes());
            }
            return report(io, &error);
        }
    };
    // With -q, docker keeps the build output in a buffer and shows it (on
    // stderr, after the context line) only if the build fails.
    let mut held = Vec::new();
    let result = if args.quiet {
        let mut display = ProgressDisplay::new(Mode::Plain);
        show_stream(progress, &mut display, &mut held).await
    } else {
        let mut display = ProgressDisplay::new(Mode::for_stdout(false, io.stdout_is_terminal));
        show_stream(progress, &mut display, io.out).await
    };
    match result {
        Ok(completion) => {
            if args.quiet {
                if let Some(id) = completion.image_id {
                    let _ = writeln!(io.out, "{id}");
                }
            }
            let _ = io.out.flush();
            ExitStatus::Success
        }
        Err(failure) => {
            if args.quiet {
                let _ = io.err.write_all(sending.as_bytes());
                let _ = io.err.write_all(&held);
            }
            match failure {
                StreamFailure::Failed(error) => fail(io, &stream_error_text(&error)),
                StreamFailure::EndedEarly(error) => report(io, &error),
            }
        }
    }
}

/// The options from the flags, checked as docker's flag parser checks
/// them; the Dockerfile is filled in with the context.
fn build_options(args: &BuildArgs) -> Result<BuildOptions, String> {
    for tag in &args.tags {
        if let Err(error) = Reference::parse_normalized(tag) {
            return Err(flag_error(tag, "-t, --tag", &error.to_string()));
        }
    }
    let mut build_args = BTreeMap::new();
    for text in &args.build_args {
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value.to_string())),
            None => (text.as_str(), std::env::var(text).ok()),
        };
        if key.is_empty() {
            return Err(flag_error(
                text,
                "--build-arg",
                &format!("invalid environment variable: {text}"),
            ));
        }
        if let Some(value) = value {
            build_args.insert(key.to_string(), value);
        }
    }
    let mut labels = BTreeMap::new();
    for text in &args.labels {
        let (key, value) = text.split_once('=').unwrap_or((text.as_str(), ""));
        let trimmed = key.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
        if trimmed.is_empty() {
            return Err(flag_error(
                text,
                "--label",
                &format!("invalid label '{text}': empty name"),
            ));
        }
        if trimmed.contains(char::is_whitespace) {
            return Err(flag_error(
                text,
                "--label",
                &format!("label '{trimmed}' contains whitespaces"),
            ));
        }
        labels.insert(key.to_string(), value.to_string());
    }
    // The engine parses the platform; its errors come back as the engine's.
    let platform = platform_option(args.platform.as_deref())
        .map_err(|message| format!("Error response from daemon: {message}"))?;
    Ok(BuildOptions {
        dockerfile: None,
        tags: args.tags.clone(),
        build_args,
        labels,
        no_cache: args.no_cache,
        pull: args.pull,
        target: args.target.clone().filter(|t| !t.is_empty()),
        platform,
    })
}

/// pflag's message for a value a flag refuses, with docker's usage hint
/// (`cli.FlagErrorFunc`).
fn flag_error(value: &str, flag: &str, why: &str) -> String {
    format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}\n\n\
         Usage:  imgctl build [OPTIONS] PATH | -\n\n\
         Run 'imgctl build --help' for more information"
    )
}

/// Packs the context the way the docker CLI does.
fn prepare_context(args: &BuildArgs, io: &mut Io<'_>) -> Result<Context, String> {
    let dockerfile_from_stdin = args.file.as_deref() == Some("-");
    if args.path == "-" {
        if dockerfile_from_stdin {
            return Err(
                "invalid argument: can't use stdin for both build context and dockerfile"
                    .to_string(),
            );
        }
        let mut input = Vec::new();
        io.input.read_to_end(&mut input).map_err(|e| {
            format!(
                "unable to prepare context from STDIN: {}",
                go_errno_text(&e)
            )
        })?;
        return context_from_stdin(input, args.file.as_deref());
    }
    if !Path::new(&args.path).is_dir() {
        if is_remote(&args.path) {
            return Err(format!(
                "unable to prepare context: remote build contexts are not supported by imgctl: {}",
                args.path
            ));
        }
        return Err(format!(
            "unable to prepare context: path {:?} not found",
            args.path
        ));
    }
    let context_dir = fs::canonicalize(&args.path).map_err(|e| {
        format!(
            "unable to prepare context: unable to evaluate symlinks in context path: {}",
            go_path_error("lstat", &absolute(Path::new(&args.path)), &e)
        )
    })?;
    let stdin_dockerfile = if dockerfile_from_stdin {
        let mut text = Vec::new();
        io.input.read_to_end(&mut text).map_err(|e| {
            format!(
                "unable to read Dockerfile from STDIN: {}",
                go_errno_text(&e)
            )
        })?;
        Some(text)
    } else {
        None
    };
    let located = if stdin_dockerfile.is_some() {
        None
    } else {
        Some(locate_dockerfile(&context_dir, args.file.as_deref())?)
    };
    let inside = located
        .as_ref()
        .and_then(|path| relative_inside(&context_dir, path));
    let tar = pack_directory(&context_dir, inside.as_deref()).map_err(|error| match error {
        ImageError::InvalidArgument { message } => message,
        other => other.to_string(),
    })?;
    // A Dockerfile from stdin or from outside the context is added to it
    // under a random name, as docker's `AddDockerfileToBuildContext` does.
    let extra = match (stdin_dockerfile, &located, &inside) {
        (Some(text), _, _) => Some(text),
        (None, Some(path), None) => Some(fs::read(path).map_err(|e| {
            format!(
                "unable to open Dockerfile: {}",
                go_path_error("open", path, &e)
            )
        })?),
        _ => None,
    };
    match extra {
        None => Ok(Context {
            tar,
            dockerfile: Some(inside.unwrap_or_else(|| "Dockerfile".to_string())),
        }),
        Some(text) => {
            let name = format!(".dockerfile.{}", random_suffix());
            let tar = append_file(tar, &name, &text)?;
            Ok(Context {
                tar,
                dockerfile: Some(name),
            })
        }
    }
}

/// docker's `GetContextFromReader`: a tar (or compressed archive) is the
/// context; anything else is a Dockerfile, put alone in a context.
fn context_from_stdin(input: Vec<u8>, dockerfile: Option<&str>) -> Result<Context, String> {
    if is_archive(&input) {
        return Ok(Context {
            tar: input,
            dockerfile: dockerfile.map(str::to_string),
        });
    }
    if dockerfile.is_some_and(|d| !d.is_empty()) {
        return Err(
            "unable to prepare context from STDIN: ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles"
                .to_string(),
        );
    }
    let tar = layer_tar_with_file("Dockerfile", &input).map_err(|e| e.to_string())?;
    Ok(Context {
        tar,
        dockerfile: Some("Dockerfile".to_string()),
    })
}

/// docker's `isArchive`: compressed (gzip, bzip2, xz, zstd) or a tar whose
/// first header is valid.
fn is_archive(data: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [
        &[0x1f, 0x8b, 0x08],
        b"BZh",
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    if MAGICS.iter().any(|magic| data.starts_with(magic)) {
        return true;
    }
    let Some(header) = data.get(..512) else {
        return false;
    };
    if header.iter().all(|b| *b == 0) {
        return false;
    }
    let Some(field) = header.get(148..156) else {
        return false;
    };
    let digits: String = field
        .iter()
        .map(|b| *b as char)
        .filter(|c| c.is_digit(8))
        .collect();
    let Ok(stored) = i64::from_str_radix(&digits, 8) else {
        return false;
    };
    let mut unsigned = 0i64;
    let mut signed = 0i64;
    for (i, b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || stored == signed
}

/// Whether docker would take the path for a git or URL context.
fn is_remote(path: &str) -> bool {
    ["http://", "https://", "git://", "git@", "github.com/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// docker's `getDockerfileRelPath`: `-f` is relative to the current
/// directory; without it `Dockerfile` in the context (or `dockerfile` when
/// only that exists). Returns the Dockerfile's real path.
fn locate_dockerfile(context_dir: &Path, flag: Option<&str>) -> Result<PathBuf, String> {
    let given = match flag.filter(|f| !f.is_empty()) {
        Some(file) => absolute(Path::new(file)),
        None => {
            let default = context_dir.join("Dockerfile");
            let lower = context_dir.join("dockerfile");
            if fs::symlink_metadata(&default).is_err() && fs::symlink_metadata(&lower).is_ok() {
                lower
            } else {
                default
            }
        }
    };
    fs::canonicalize(&given).map_err(|e| {
        format!(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: {}",
            go_path_error("lstat", &given, &e)
        )
    })
}

/// The path of `file` inside `dir`, with `/` separators; `None` when it is
/// outside.
fn relative_inside(dir: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(dir).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Appends one file to a tar: the archive's two closing zero blocks are
/// replaced by the file's entry and new closing blocks.
fn append_file(mut tar: Vec<u8>, name: &str, contents: &[u8]) -> Result<Vec<u8>, String> {
    let end = tar.len().saturating_sub(1024);
    if tar.len() >= 1024 && tar.get(end..).is_some_and(|t| t.iter().all(|b| *b == 0)) {
        tar.truncate(end);
    }
    let entry = layer_tar_with_file(name, contents).map_err(|e| e.to_string())?;
    tar.extend_from_slice(&entry);
    Ok(tar)
}

/// Twenty hex digits, as docker names the Dockerfile it adds.
fn random_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = nanos ^ (u128::from(std::process::id()) << 64);
    let mixed = seed.wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15);
    format!("{:032x}", mixed).chars().take(20).collect()
}

/// Prints a client-side error as docker's `main` does and fails.
fn fail(io: &mut Io<'_>, message: &str) -> ExitStatus {
    let _ = io.out.flush();
    let _ = writeln!(io.err, "{message}");
    ExitStatus::Failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tars_and_compressed_archives_are_recognized() {
        let tar = layer_tar_with_file("Dockerfile", b"FROM scratch\n").unwrap_or_default();
        assert!(is_archive(&tar));
        assert!(is_archive(&[0x1f, 0x8b, 0x08, 0x00]));
        assert!(!is_archive(b"FROM scratch\nLABEL a=b\n"));
        assert!(!is_archive(&[0u8; 1024]));
    }

    #[test]
    fn a_file_is_appended_before_the_closing_blocks() {
        let tar = layer_tar_with_file("a.txt", b"a").unwrap_or_default();
        let joined =
            append_file(tar.clone(), ".dockerfile.x", b"FROM scratch\n").unwrap_or_default();
        assert_eq!(joined.len(), tar.len() - 1024 + 2048);
        assert!(joined.ends_with(&[0u8; 1024]));
        assert_eq!(random_suffix().len(), 20);
    }
}
