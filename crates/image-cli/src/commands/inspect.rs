//! `imgctl inspect IMAGE...` and `imgctl image inspect`: the details of each
//! image as an indented JSON array (Go's `json.MarshalIndent` with four
//! spaces, HTML characters escaped as Go does), or each rendered through a
//! `--format` template. Missing images are reported after the others.

use image_core::{ImageDetails, ImageService};

use super::{ExitStatus, Io, error_text};
use crate::cli::InspectArgs;
use crate::render::template::Template;

/// Go's `json.MarshalIndent(v, "", "    ")`, which escapes `<`, `>` and `&`.
pub fn go_indent_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut buffer = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
    value.serialize(&mut serializer)?;
    let text = String::from_utf8_lossy(&buffer).into_owned();
    // These characters only occur inside JSON strings, where Go escapes them.
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

/// Runs `inspect`.
pub async fn run(service: &dyn ImageService, args: &InspectArgs, io: &mut Io<'_>) -> ExitStatus {
    let template = match args.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(format) => match Template::parse(&format.replace("\\t", "\t").replace("\\n", "\n")) {
            Ok(template) => Some(template),
            Err(error) => {
                let _ = writeln!(io.err, "template parsing error: {error}");
                return ExitStatus::Failure;
            }
        },
    };
    let mut found: Vec<ImageDetails> = Vec::new();
    let mut errors = Vec::new();
    for image in &args.images {
        match service.inspect(image).await {
            Ok(details) => found.push(details),
            Err(error) => errors.push(error_text(&error)),
        }
    }
    let mut status = ExitStatus::Success;
    match template {
        None => match go_indent_json(&found) {
            Ok(text) => {
                let _ = writeln!(io.out, "{text}");
            }
            Err(error) => {
                let _ = writeln!(io.err, "Error: {error}");
                status = ExitStatus::Failure;
            }
        },
        Some(template) => {
            for details in &found {
                match template.render(details) {
                    Ok(text) => {
                        let _ = writeln!(io.out, "{text}");
                    }
                    Err(error) => {
                        let _ = writeln!(io.err, "template parsing error: {error}");
                        status = ExitStatus::Failure;
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        let _ = writeln!(io.err, "{}", errors.join("\n"));
        status = ExitStatus::Failure;
    }
    status
}
