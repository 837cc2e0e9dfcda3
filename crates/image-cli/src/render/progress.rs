//! Progress of pull, push and build streams, shown the way the docker CLI
//! shows the engine's JSON messages (moby's `pkg/jsonmessage`,
//! `DisplayJSONMessagesStream`, as docker/cli 28 vendors it).
//!
//! Off a terminal ([`Mode::Plain`]) docker prints every message as one line,
//! `ID: Status` or just `Status`, except the ones that carry a byte count
//! (`Downloading`, `Extracting`, `Pushing` with `current`/`total`): their
//! progress string is not empty, and `JSONMessage.Display` drops them
//! ("disable progressbar in non-terminal"). Statuses such as `Pulling fs
//! layer`, `Verifying Checksum`, `Download complete` and `Pull complete`
//! carry an empty `progressDetail` and are printed. Nothing but text and
//! newlines is written: no escape codes.
//!
//! On a terminal ([`Mode::Terminal`]) every layer gets one line, updated in
//! place: an indicatif [`ProgressBar`] per layer ID in a [`MultiProgress`],
//! whose line reads as docker's, `ID: Status [=====>     ]  1.2MB/3.4MB`
//! (the bar only on terminals wider than 110 columns, as docker does; sizes
//! with go-units `HumanSize`). A line that is not a layer's progress
//! (`latest: Pulling from library/alpine`, `Digest: ...`, a build step) ends
//! the current group of bars, which stay on screen as last drawn, and is
//! printed below them, as docker starts a new group after such a line.
//! indicatif draws into a buffer that is copied to the command's `out` after
//! every event, so the display goes through [`Io`](crate::commands::Io)
//! like all other output. No colours are used.
//!
//! [`Mode::Quiet`] shows nothing (`-q`).

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt as _;
use image_core::{Completion, ImageError, LayerProgress, ProgressEvent, ProgressStream};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use super::units::human_size;

/// Docker shows the `[===>  ]` bar only on terminals wider than this.
const BAR_MIN_WIDTH: u16 = 110;

/// How often, at most, the bars are redrawn per second.
const REFRESH_HZ: u8 = 20;

/// How a progress stream is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing is shown (`-q`).
    Quiet,
    /// Plain lines, as docker prints them when stdout is not a terminal.
    Plain,
    /// Live per-layer lines on a terminal of this size (columns, rows).
    Terminal {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
}

impl Mode {
    /// The mode for a command's stdout: `Quiet` when `quiet`, otherwise
    /// `Terminal` (with the real terminal's size, 80x24 when it cannot be
    /// read) when stdout is a terminal, else `Plain`.
    pub fn for_stdout(quiet: bool, stdout_is_terminal: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if stdout_is_terminal {
            let (width, height) =
                terminal_size::terminal_size().map_or((80, 24), |(w, h)| (w.0.max(1), h.0.max(1)));
            Mode::Terminal { width, height }
        } else {
            Mode::Plain
        }
    }
}

/// Whether docker's `JSONProgress.String()` is non-empty for this event:
/// a current or total byte count above zero.
pub fn has_byte_progress(layer: &LayerProgress) -> bool {
    layer.current.unwrap_or(0) > 0 || layer.total.unwrap_or(0) > 0
}

/// Whether a layer event is a plain status line rather than a progress
/// line: the engine's `Pulling from REPO` message carries the tag as its
/// ID but no `progressDetail`, so docker prints it as a line of its own.
fn is_status_line(layer: &LayerProgress) -> bool {
    layer.status.starts_with("Pulling from ")
}

/// The text of a layer event as a line: `ID: Status` or `Status`.
fn layer_line(layer: &LayerProgress) -> String {
    if layer.id.is_empty() {
        layer.status.clone()
    } else {
        format!("{}: {}", layer.id, layer.status)
    }
}

/// Docker's `JSONProgress.String()` for byte counts, without the time
/// left (the engine's start time is not known here): `[==>   ] ` when
/// `show_bar`, then `%8v/%v` of the current and total sizes.
pub fn docker_progress(current: u64, total: u64, show_bar: bool) -> String {
    if current == 0 && total == 0 {
        return String::new();
    }
    let current_text = human_size(current as f64);
    if total == 0 {
        return format!("{current_text:>8}");
    }
    let mut text = String::new();
    if show_bar {
        let percentage = ((((current as f64) / (total as f64)) * 100.0) as i64 / 2).clamp(0, 50);
        let filled = usize::try_from(percentage).unwrap_or(0);
        text.push('[');
        text.push_str(&"=".repeat(filled));
        text.push('>');
        text.push_str(&" ".repeat(50 - filled));
        text.push_str("] ");
    }
    if current > total {
        text.push_str(&format!("{current_text:>8}"));
    } else {
        text.push_str(&format!("{current_text:>8}/{}", human_size(total as f64)));
    }
    text
}

/// Shows the events of one progress stream.
#[derive(Debug)]
pub struct ProgressDisplay {
    mode: Mode,
    terminal: Option<Terminal>,
}

impl ProgressDisplay {
    /// A display in `mode`.
    pub fn new(mode: Mode) -> ProgressDisplay {
        let terminal = match mode {
            Mode::Terminal { width, height } => Some(Terminal::new(width, height)),
            Mode::Quiet | Mode::Plain => None,
        };
        ProgressDisplay { mode, terminal }
    }

    /// Shows one event. Write errors are ignored, as docker ignores them:
    /// the operation goes on even when nobody reads its output.
    pub fn show(&mut self, event: &ProgressEvent, out: &mut dyn Write) {
        match (&self.mode, &mut self.terminal) {
            (Mode::Quiet, _) => {}
            (Mode::Plain, _) | (Mode::Terminal { .. }, None) => match event {
                ProgressEvent::Layer(layer) if !has_byte_progress(layer) => {
                    let _ = writeln!(out, "{}", layer_line(layer));
                }
                ProgressEvent::Layer(_) | ProgressEvent::Done(_) => {}
                ProgressEvent::Message { text } => {
                    let _ = writeln!(out, "{text}");
                }
            },
            (Mode::Terminal { .. }, Some(terminal)) => {
                match event {
                    ProgressEvent::Layer(layer) if !is_status_line(layer) => {
                        terminal.update(layer);
                    }
                    ProgressEvent::Layer(layer) => {
                        terminal.end_group();
                        terminal.write_line(&layer_line(layer));
                    }
                    ProgressEvent::Message { text } => {
                        terminal.end_group();
                        terminal.write_line(text);
                    }
                    ProgressEvent::Done(_) => terminal.end_group(),
                }
                terminal.copy_to(out);
            }
        }
    }

    /// Ends the display: the bars stay as they were last drawn.
    pub fn finish(&mut self, out: &mut dyn Write) {
        if let Some(terminal) = &mut self.terminal {
            terminal.end_group();
            terminal.copy_to(out);
        }
        let _ = out.flush();
    }

    /// Ends the display after a failure: the bars stay where they stopped.
    pub fn abandon(&mut self, out: &mut dyn Write) {
        if let Some(terminal) = &mut self.terminal {
            terminal.abandon_group();
            terminal.copy_to(out);
        }
        let _ = out.flush();
    }
}

/// How a progress stream ended badly.
#[derive(Debug)]
pub enum StreamFailure {
    /// The stream reported an error after it had started.
    Failed(ImageError),
    /// The stream ended without its [`ProgressEvent::Done`].
    EndedEarly(ImageError),
}

impl StreamFailure {
    /// The error.
    pub fn error(&self) -> &ImageError {
        match self {
            StreamFailure::Failed(error) | StreamFailure::EndedEarly(error) => error,
        }
    }
}

/// Shows a progress stream to its end and returns its completion. The
/// stream is always drained (dropping it would cancel the operation), even
/// when `out` fails.
pub async fn show_stream(
    mut stream: ProgressStream,
    display: &mut ProgressDisplay,
    out: &mut dyn Write,
) -> Result<Completion, StreamFailure> {
    let mut done = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                display.show(&event, out);
                if let ProgressEvent::Done(completion) = event {
                    done = Some(completion);
                }
            }
            Err(error) => {
                display.abandon(out);
                return Err(StreamFailure::Failed(error));
            }
        }
    }
    display.finish(out);
    done.ok_or_else(|| {
        StreamFailure::EndedEarly(ImageError::backend(
            "the progress stream ended without reporting success",
            "stream ended early",
        ))
    })
}

/// The text docker prints for an error inside a progress stream: the
/// engine's own message, without docker's `Error response from daemon: `
/// prefix (`DisplayJSONMessagesStream` returns the message as the error,
/// and the CLI prints it as it is).
pub fn stream_error_text(error: &ImageError) -> String {
    match error {
        ImageError::Unauthorized { message, .. }
        | ImageError::Registry { message, .. }
        | ImageError::Backend { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The live display on a terminal: the current group of bars, drawn by
/// indicatif into a shared buffer.
struct Terminal {
    screen: Screen,
    style: ProgressStyle,
    show_bar: bool,
    group: Option<Group>,
}

impl fmt::Debug for Terminal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Terminal")
            .field("screen", &self.screen)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// The bars since the last plain line, in the order their IDs appeared.
#[derive(Debug)]
struct Group {
    multi: MultiProgress,
    bars: Vec<(String, ProgressBar)>,
}

impl Terminal {
    fn new(width: u16, height: u16) -> Terminal {
        // The whole line is the message, so that one event is one redraw
        // (setting the status, length and position one by one would draw
        // lines that mix the old status with the new numbers).
        let style = ProgressStyle::with_template("{prefix}: {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        Terminal {
            show_bar: width > BAR_MIN_WIDTH,
            screen: Screen {
                buffer: Arc::new(Mutex::new(Vec::new())),
                width,
                height,
            },
            style,
            group: None,
        }
    }

    fn update(&mut self, layer: &LayerProgress) {
        let group = self.group.get_or_insert_with(|| Group {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::term_like_with_hz(
                Box::new(self.screen.clone()),
                REFRESH_HZ,
            )),
            bars: Vec::new(),
        });
        // docker's terminal line: `Status PROGRESS`, with a space even when
        // there is no progress to show.
        let progress = docker_progress(
            layer.current.unwrap_or(0),
            layer.total.unwrap_or(0),
            self.show_bar,
        );
        let line = format!("{} {progress}", layer.status);
        match group.bars.iter().find(|(id, _)| *id == layer.id) {
            Some((_, bar)) => bar.set_message(line),
            None => {
                let bar = group.multi.add(
                    ProgressBar::new(0)
                        .with_style(self.style.clone())
                        .with_prefix(layer.id.clone())
                        .with_message(line),
                );
                bar.tick();
                group.bars.push((layer.id.clone(), bar));
            }
        }
    }

    /// Leaves the group's bars on screen as they are and forgets them.
    fn end_group(&mut self) {
        if let Some(group) = self.group.take() {
            for (_, bar) in &group.bars {
                bar.finish();
            }
        }
    }

    fn abandon_group(&mut self) {
        if let Some(group) = self.group.take() {
            for (_, bar) in &group.bars {
                bar.abandon();
            }
        }
    }

    fn write_line(&self, text: &str) {
        let _ = self.screen.write_line(text);
    }

    fn copy_to(&self, out: &mut dyn Write) {
        let bytes = std::mem::take(&mut *self.screen.lock());
        if !bytes.is_empty() {
            let _ = out.write_all(&bytes);
        }
        let _ = out.flush();
    }
}

/// A terminal of known size whose output collects in a buffer.
#[derive(Debug, Clone)]
struct Screen {
    buffer: Arc<Mutex<Vec<u8>>>,
    width: u16,
    height: u16,
}

impl Screen {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        self.lock().extend_from_slice(bytes);
        Ok(())
    }

    fn csi(&self, n: usize, code: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write_bytes(format!("\x1b[{n}{code}").as_bytes())
    }
}

impl TermLike for Screen {
    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.csi(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        let mut buffer = self.lock();
        buffer.extend_from_slice(s.as_bytes());
        buffer.push(b'\n');
        Ok(())
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write_bytes(s.as_bytes())
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write_bytes(b"\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(id: &str, status: &str, current: Option<u64>, total: Option<u64>) -> ProgressEvent {
        ProgressEvent::Layer(LayerProgress {
            id: id.into(),
            status: status.into(),
            current,
            total,
        })
    }

    fn message(text: &str) -> ProgressEvent {
        ProgressEvent::Message { text: text.into() }
    }

    fn events() -> Vec<ProgressEvent> {
        vec![
            layer("latest", "Pulling from library/alpine", None, None),
            layer("aaaaaaaaaaaa", "Pulling fs layer", None, None),
            layer("aaaaaaaaaaaa", "Downloading", Some(512), Some(2048)),
            layer("aaaaaaaaaaaa", "Downloading", Some(2048), Some(2048)),
            layer("aaaaaaaaaaaa", "Verifying Checksum", None, None),
            layer("aaaaaaaaaaaa", "Download complete", None, None),
            layer("aaaaaaaaaaaa", "Extracting", Some(2048), Some(2048)),
            layer("aaaaaaaaaaaa", "Pull complete", None, None),
            message("Digest: sha256:0123"),
            message("Status: Downloaded newer image for alpine:latest"),
            ProgressEvent::Done(Completion::default()),
        ]
    }

    #[test]
    fn plain_mode_prints_status_lines_but_no_byte_counts() {
        let mut display = ProgressDisplay::new(Mode::Plain);
        let mut out = Vec::new();
        for event in events() {
            display.show(&event, &mut out);
        }
        display.finish(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "latest: Pulling from library/alpine\n\
             aaaaaaaaaaaa: Pulling fs layer\n\
             aaaaaaaaaaaa: Verifying Checksum\n\
             aaaaaaaaaaaa: Download complete\n\
             aaaaaaaaaaaa: Pull complete\n\
             Digest: sha256:0123\n\
             Status: Downloaded newer image for alpine:latest\n"
        );
    }

    #[test]
    fn quiet_mode_prints_nothing() {
        let mut display = ProgressDisplay::new(Mode::Quiet);
        let mut out = Vec::new();
        for event in events() {
            display.show(&event, &mut out);
        }
        display.finish(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn docker_progress_matches_jsonmessage() {
        assert_eq!(docker_progress(0, 0, true), "");
        assert_eq!(docker_progress(1500, 0, true), "   1.5kB");
        assert_eq!(docker_progress(512, 2048, false), "    512B/2.048kB");
        let with_bar = docker_progress(1024, 2048, true);
        assert_eq!(
            with_bar,
            format!("[{}>{}]  1.024kB/2.048kB", "=".repeat(25), " ".repeat(25))
        );
        assert_eq!(
            docker_progress(2048, 2048, true),
            format!("[{}>]  2.048kB/2.048kB", "=".repeat(50))
        );
        assert_eq!(docker_progress(4096, 2048, false), " 4.096kB");
    }

    #[test]
    fn terminal_mode_draws_one_line_per_layer_then_the_messages() {
        let mut display = ProgressDisplay::new(Mode::Terminal {
            width: 120,
            height: 40,
        });
        let mut out = Vec::new();
        for event in events() {
            display.show(&event, &mut out);
        }
        display.finish(&mut out);
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(
            text.starts_with("latest: Pulling from library/alpine\n"),
            "{text:?}"
        );
        assert!(text.contains("aaaaaaaaaaaa: Pull complete "), "{text:?}");
        assert!(text.contains('\x1b'), "a terminal gets escape codes");
        assert!(
            text.ends_with(
                "Digest: sha256:0123\nStatus: Downloaded newer image for alpine:latest\n"
            ),
            "{text:?}"
        );
        // The last drawn state of the layer is its final status.
        let last = text.rfind("aaaaaaaaaaaa: ").unwrap_or(0);
        assert!(text[last..].starts_with("aaaaaaaaaaaa: Pull complete"));
    }
}
