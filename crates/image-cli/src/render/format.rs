//! docker's `--format` handling for lists (docker/cli's
//! `cli/command/formatter/formatter.go`, `Context.Write`): a `table` prefix
//! renders the header row with docker's header functions and aligns the
//! columns through Go's tabwriter; `json` is `{{json .}}`; anything else is
//! a Go template executed once per row. `\t` and `\n` written literally in
//! the format become a tab and a newline, as docker does.

use std::collections::BTreeMap;

use serde::Serialize;

use super::table::tabwriter_format;
use super::template::Template;

/// A format that cannot be parsed or executed, with docker's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// A parsed `--format`.
#[derive(Debug)]
pub struct Format {
    table: bool,
    template: Template,
}

impl Format {
    /// Parses a format; a template syntax error is reported here, before
    /// anything runs.
    pub fn parse(format: &str) -> Result<Format, FormatError> {
        let table = format.starts_with("table");
        let body = if table {
            &format["table".len()..]
        } else if format == "json" {
            "{{json .}}"
        } else {
            format
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let template = Template::parse(&body)
            .map_err(|e| FormatError(format!("template parsing error: {e}")))?;
        Ok(Format { table, template })
    }

    /// Whether this is a `table` format.
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Renders the rows (and, for a table, the header from `headers`), as
    /// docker prints them.
    pub fn write<T: Serialize>(
        &self,
        rows: &[T],
        headers: &BTreeMap<String, String>,
    ) -> Result<String, FormatError> {
        let mut body = String::new();
        for row in rows {
            let line = self
                .template
                .render(row)
                .map_err(|e| FormatError(format!("template parsing error: {e}")))?;
            body.push_str(&line);
            body.push('\n');
        }
        if !self.table {
            return Ok(body);
        }
        let header = self
            .template
            .render_header(headers)
            .map_err(|e| FormatError(format!("template parsing error: {e}")))?;
        Ok(tabwriter_format(&format!("{header}\n{body}")))
    }
}
