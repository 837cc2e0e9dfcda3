//! `imgctl image usage [IMAGE...]` (beyond docker): the containers, running
//! or stopped, created from each image, one row per container:
//!
//! ```text
//! IMAGE                                     CONTAINER ID   NAME            STATE
//! registry.example.com/payments/myapp:1.0   84e64434453a   myapp-migrate   exited
//! nginx:1.27-alpine                         895eab7f6254   web             running
//! ```
//!
//! Without arguments it lists every image (intermediate ones included) that
//! a container uses, newest image first, labelled by its first tag (its
//! short ID when untagged). A named image is labelled as it was named, and
//! one that no container uses still gets a row, with `-` for the container
//! ID, name and state, so that every argument answers. Within an image,
//! containers are sorted by name. IDs are shortened to 12 hex characters
//! unless `--no-trunc`; `-q` prints only container IDs (no `-` rows).
//! `--format` takes docker's `table`, `table TEMPLATE`, `json` or a Go
//! template over the placeholders `.Image`, `.ImageID`, `.ID`, `.Name` and
//! `.State`. An image that cannot be found is reported on stderr in
//! docker's words after the other rows, and the command exits 1.

use std::collections::BTreeMap;

use image_core::{ContainerRef, ImageService, ListOptions, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, error_text, print_output, report, report_last};
use crate::cli::UsageArgs;
use crate::render::format::{Format, FormatError};

const DEFAULT_TABLE: &str = "table {{.Image}}\t{{.ID}}\t{{.Name}}\t{{.State}}";
const QUIET: &str = "{{.ID}}";
/// What the container columns of an image no container uses show.
const NONE: &str = "-";

/// One row: a container and the image it was created from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// `IMAGE`: the image as named, or its first tag.
    #[serde(rename = "Image")]
    pub image: String,
    /// `IMAGE ID`.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// `CONTAINER ID`, or `-`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `NAME`, or `-`.
    #[serde(rename = "Name")]
    pub name: String,
    /// `STATE` (docker's word: `running`, `exited`, ...), or `-`.
    #[serde(rename = "State")]
    pub state: String,
}

fn headers() -> BTreeMap<String, String> {
    [
        ("Image", "IMAGE"),
        ("ImageID", "IMAGE ID"),
        ("ID", "CONTAINER ID"),
        ("Name", "NAME"),
        ("State", "STATE"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn shown_id(id: &str, truncate: bool) -> String {
    if truncate {
        short_id(id).to_string()
    } else {
        id.to_string()
    }
}

/// The rows of one image: one per container, sorted by name, or a single
/// `-` row when no container uses it.
pub fn rows_of(
    label: &str,
    image_id: &str,
    mut containers: Vec<ContainerRef>,
    truncate: bool,
) -> Vec<UsageRow> {
    let image_id = shown_id(image_id, truncate);
    if containers.is_empty() {
        return vec![UsageRow {
            image: label.to_string(),
            image_id,
            id: NONE.to_string(),
            name: NONE.to_string(),
            state: NONE.to_string(),
        }];
    }
    containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    containers
        .into_iter()
        .map(|container| UsageRow {
            image: label.to_string(),
            image_id: image_id.clone(),
            id: shown_id(&container.id, truncate),
            name: container.name,
            state: container.state.as_str().to_string(),
        })
        .collect()
}

/// Runs `image usage`.
pub async fn run(service: &dyn ImageService, args: &UsageArgs, io: &mut Io<'_>) -> ExitStatus {
    let default_format = matches!(args.format.as_deref(), None | Some("") | Some("table"));
    let format_text = match args.format.as_deref() {
        _ if default_format && args.quiet => QUIET,
        Some(custom) if !default_format => custom,
        _ => DEFAULT_TABLE,
    };
    let format = match Format::parse(format_text) {
        Ok(format) => format,
        Err(FormatError(message)) => {
            let _ = writeln!(io.err, "{message}");
            return ExitStatus::Failure;
        }
    };
    let truncate = !args.no_trunc;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if args.images.is_empty() {
        let options = ListOptions {
            all: true,
            ..ListOptions::default()
        };
        let images = match service.list(&options).await {
            Ok(images) => images,
            Err(error) => return report(io, &error),
        };
        for image in images.iter().filter(|image| image.containers > 0) {
            let containers = match service.containers_using(&image.id).await {
                Ok(containers) => containers,
                // Removed since the listing: nothing uses it any more.
                Err(error) if error.is_not_found() => continue,
                Err(error) => return report(io, &error),
            };
            if containers.is_empty() {
                continue;
            }
            let label = match image.repo_tags.first() {
                Some(tag) => tag.clone(),
                None => shown_id(&image.id, truncate),
            };
            rows.extend(rows_of(&label, &image.id, containers, truncate));
        }
    } else {
        for name in &args.images {
            let found = match service.inspect(name).await {
                Ok(details) => service
                    .containers_using(&details.id)
                    .await
                    .map(|containers| (details.id, containers)),
                Err(error) => Err(error),
            };
            match found {
                Ok((id, containers)) => rows.extend(rows_of(name, &id, containers, truncate)),
                Err(error) => errors.push(error_text(&error)),
            }
        }
    }
    if default_format && args.quiet {
        rows.retain(|row| row.id != NONE);
    }
    let status = print_output(io, format.write(&rows, &headers()));
    report_last(io, status, &errors)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image_core::ContainerState;

    use super::*;

    fn container(name: &str, hex: &str, state: ContainerState) -> ContainerRef {
        ContainerRef {
            id: hex.repeat(64 / hex.len()),
            name: name.to_string(),
            image_id: format!("sha256:{}", "ab".repeat(32)),
            state,
        }
    }

    #[test]
    fn rows_are_sorted_by_name_and_an_unused_image_gets_a_dash_row() {
        let image = format!("sha256:{}", "ab".repeat(32));
        let rows = rows_of(
            "app:1",
            &image,
            vec![
                container("worker", "c", ContainerState::Exited),
                container("api", "d", ContainerState::Running),
            ],
            true,
        );
        let cells: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.name.as_str(), r.state.as_str()))
            .collect();
        assert_eq!(
            cells,
            vec![
                ("dddddddddddd", "api", "running"),
                ("cccccccccccc", "worker", "exited"),
            ]
        );
        assert!(rows.iter().all(|r| r.image_id == "abababababab"));

        let unused = rows_of("app:1", &image, Vec::new(), false);
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].image_id, image);
        assert_eq!(
            (
                unused[0].id.as_str(),
                unused[0].name.as_str(),
                unused[0].state.as_str()
            ),
            ("-", "-", "-")
        );
    }
}
