//! docker's `--format` handling for lists (docker/cli's
//! `cli/command/formatter/formatter.go`, `Context.Write`): a `table` prefix
//! renders the header row with docker's header functions and aligns the
//! columns through Go's tabwriter; `json` is `{{json .}}`; anything else is
//! a Go template executed once per row. `\t` and `\n` written literally in
//! the format become a tab and a newline, as docker does.
//!
//! A row is one of docker's formatter contexts, whose `MarshalJSON` turns it
//! into a map of its fields and encodes that with `json.Marshal`: `json` (and
//! a format that is exactly `{{json .}}`) prints each row with its keys
//! sorted and `<`, `>`, `&` escaped as `\u003c`, `\u003e`, `\u0026`.

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
    /// The whole row as JSON (`json`, or exactly `{{json .}}`).
    json_rows: bool,
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
        let json_rows = !table && body == "{{json .}}";
        Ok(Format {
            table,
            json_rows,
            template,
        })
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
        self.write_with(rows, headers, |row| self.render_row(row))
    }

    /// [`Format::write`] for rows that hand out their text columns: a
    /// template made only of literal text and `{{.Field}}` actions (docker's
    /// default tables, `-q`) is then filled in from [`Columns::column`]
    /// without converting each row for the template engine, which is most
    /// of the work of listing a thousand images.
    pub fn write_columns<T: Columns>(
        &self,
        rows: &[T],
        headers: &BTreeMap<String, String>,
    ) -> Result<String, FormatError> {
        self.write_with(rows, headers, |row| {
            let filled = if self.json_rows {
                None
            } else {
                self.template.render_columns(|name| row.column(name))
            };
            match filled {
                Some(line) => Ok(line),
                None => self.render_row(row),
            }
        })
    }

    /// One row through the template engine (or as JSON).
    fn render_row<T: Serialize>(&self, row: &T) -> Result<String, FormatError> {
        if self.json_rows {
            return context_json(row);
        }
        self.template
            .render(row)
            .map_err(|e| FormatError(format!("template parsing error: {e}")))
    }

    /// The rows rendered by `render`, then the table, if any.
    fn write_with<T>(
        &self,
        rows: &[T],
        headers: &BTreeMap<String, String>,
        render: impl Fn(&T) -> Result<String, FormatError>,
    ) -> Result<String, FormatError> {
        let mut body = String::new();
        for row in rows {
            let line = render(row)?;
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

/// A row whose placeholders can be read as text by name, as `{{.Name}}`
/// prints them, without serializing the row (see [`Format::write_columns`]).
pub trait Columns: Serialize {
    /// The text of the placeholder `name`, exactly what the template engine
    /// prints for `{{.name}}` on the serialized row; `None` when the row has
    /// no such text placeholder (the template engine then decides).
    fn column(&self, name: &str) -> Option<&str>;
}

/// A row as docker's formatter contexts marshal themselves (`MarshalJSON`
/// of `cli/command/formatter/reflect.go`): a map of the fields, encoded by
/// Go's `json.Marshal`, so with sorted keys and HTML characters escaped.
fn context_json<T: Serialize>(row: &T) -> Result<String, FormatError> {
    let value = serde_json::to_value(row).map_err(|e| FormatError(format!("json: {e}")))?;
    let text =
        serde_json::to_string(&sorted(value)).map_err(|e| FormatError(format!("json: {e}")))?;
    Ok(go_escape_html(&text))
}

/// The value with the keys of every object in sorted order.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let entries: BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            serde_json::Value::Object(entries.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

/// Go's `json.Marshal` escaping on top of serde_json's: `<`, `>`, `&`,
/// U+2028 and U+2029 as `\u` escapes. These characters only occur inside
/// JSON strings.
fn go_escape_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        #[serde(rename = "Repository")]
        repository: String,
        #[serde(rename = "ID")]
        id: String,
    }

    #[test]
    fn json_rows_are_sorted_and_html_escaped_like_marshal_json() {
        let rows = [Row {
            repository: "<none> & \u{2028}".to_string(),
            id: "0123".to_string(),
        }];
        let want = "{\"ID\":\"0123\",\"Repository\":\"\\u003cnone\\u003e \\u0026 \\u2028\"}\n";
        for format in ["json", "{{json .}}"] {
            let format = Format::parse(format).unwrap();
            assert_eq!(format.write(&rows, &BTreeMap::new()).unwrap(), want);
        }
        // Any other template keeps the json function's encoding.
        let format = Format::parse("{{json .Repository}}").unwrap();
        assert_eq!(
            format.write(&rows, &BTreeMap::new()).unwrap(),
            "\"<none> & \\u2028\"\n"
        );
    }
}
