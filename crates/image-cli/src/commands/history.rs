//! `imgctl history IMAGE`: docker's image history
//! (docker/cli's `cli/command/image/formatter_history.go`), with `-H`,
//! `--no-trunc`, `-q` and `--format`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use image_core::{HistoryEntry, ImageService, short_id};
use serde::Serialize;

use super::{ExitStatus, Io, print_output, report};
use crate::cli::HistoryArgs;
use crate::render::format::{Format, FormatError};
use crate::render::units::{history_created_since, human_size_with_precision};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const NON_HUMAN_TABLE: &str =
    "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// One row of `docker history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// `IMAGE`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `CREATED`.
    #[serde(rename = "CreatedSince")]
    pub created_since: String,
    /// `CREATED AT`.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    /// `CREATED BY`.
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    /// `SIZE`.
    #[serde(rename = "Size")]
    pub size: String,
    /// `COMMENT`.
    #[serde(rename = "Comment")]
    pub comment: String,
}

fn headers() -> BTreeMap<String, String> {
    [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// docker's `formatter.Ellipsis` for text of single-width characters: at
/// most `width` characters, the last one `…` when cut.
pub fn ellipsis(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn rfc3339(created: Option<DateTime<Utc>>) -> String {
    created
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The row docker prints for one history entry.
pub fn row_of(entry: &HistoryEntry, human: bool, truncate: bool, now: DateTime<Utc>) -> HistoryRow {
    let created_at = rfc3339(entry.created);
    let created_by = entry.created_by.replace('\t', " ");
    HistoryRow {
        id: if truncate && entry.id != "<missing>" {
            short_id(&entry.id).to_string()
        } else {
            entry.id.clone()
        },
        created_since: if human {
            history_created_since(entry.created, now)
        } else {
            created_at.clone()
        },
        created_at,
        created_by: if truncate {
            ellipsis(&created_by, 45)
        } else {
            created_by
        },
        size: if human {
            human_size_with_precision(entry.size as f64, 3)
        } else {
            entry.size.to_string()
        },
        comment: entry.comment.clone(),
    }
}

/// Runs `history`.
pub async fn run(service: &dyn ImageService, args: &HistoryArgs, io: &mut Io<'_>) -> ExitStatus {
    let format_text = match args.format.as_deref() {
        None | Some("") | Some("table") => {
            if args.quiet {
                "{{.ID}}"
            } else if !args.human {
                NON_HUMAN_TABLE
            } else {
                DEFAULT_TABLE
            }
        }
        Some(custom) => custom,
    };
    let format = match Format::parse(format_text) {
        Ok(format) => format,
        Err(FormatError(message)) => {
            let _ = writeln!(io.err, "{message}");
            return ExitStatus::Failure;
        }
    };
    let entries = match service.history(&args.image).await {
        Ok(entries) => entries,
        Err(error) => return report(io, &error),
    };
    let rows: Vec<HistoryRow> = entries
        .iter()
        .map(|entry| row_of(entry, args.human, !args.no_trunc, io.now))
        .collect();
    print_output(io, format.write(&rows, &headers()))
}
