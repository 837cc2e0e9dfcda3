//! `imgctl search [-f FILTER]... [--limit N] [--format T] [--no-trunc]
//! TERM`: docker's `search` (docker/cli 28, `cli/command/registry/search.go`
//! and `formatter_search.go`).
//!
//! The default table is docker 28's `NAME  DESCRIPTION  STARS  OFFICIAL`
//! (the `AUTOMATED` column and the `.IsAutomated` placeholder are gone);
//! descriptions have their line breaks turned into spaces and are cut to 45
//! columns with `…` unless `--no-trunc`; `OFFICIAL` is `[OK]` or empty
//! (`"true"`/`"false"` in `--format json`, whose keys come sorted as docker
//! marshals a map). The filters `is-official`, `stars` and the deprecated
//! `is-automated` are checked and applied with the engine's rules and
//! messages (moby's `registry/search.go`), after the search, as the engine
//! applies them; a `--limit` outside 1..=100 is refused with the engine's
//! message (`0` means the default, 25).

use std::collections::BTreeMap;

use image_core::{ImageService, SearchResult};
use serde::Serialize;

use super::{ExitStatus, Io, report};
use crate::cli::SearchArgs;
use crate::render::format::{Format, FormatError};

const DEFAULT_TABLE: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";

/// The filters the engine accepts for a search.
const ACCEPTED: [&str; 3] = ["is-automated", "is-official", "stars"];

/// One row of `docker search`: the placeholders a `--format` template can
/// use. Fields are in the order docker's JSON has them (sorted keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchRow {
    /// `DESCRIPTION`.
    #[serde(rename = "Description")]
    pub description: String,
    /// `OFFICIAL`: `[OK]` or empty (`true`/`false` in JSON).
    #[serde(rename = "IsOfficial")]
    pub is_official: String,
    /// `NAME`.
    #[serde(rename = "Name")]
    pub name: String,
    /// `STARS`.
    #[serde(rename = "StarCount")]
    pub star_count: String,
}

/// The table headers of the placeholders.
pub fn headers() -> BTreeMap<String, String> {
    [
        ("Name", "NAME"),
        ("Description", "DESCRIPTION"),
        ("StarCount", "STARS"),
        ("IsOfficial", "OFFICIAL"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The row docker prints for one result.
pub fn row_of(result: &SearchResult, truncate: bool, json: bool) -> SearchRow {
    let description = result.description.replace(['\n', '\r'], " ");
    let description = if truncate {
        ellipsis(&description, 45)
    } else {
        description
    };
    let is_official = match (result.is_official, json) {
        (true, true) => "true",
        (true, false) => "[OK]",
        (false, true) => "false",
        (false, false) => "",
    };
    SearchRow {
        description,
        is_official: is_official.to_string(),
        name: result.name.clone(),
        star_count: result.star_count.to_string(),
    }
}

/// docker's `formatter.Ellipsis`: at most `max` display columns (East
/// Asian wide and fullwidth characters count two), the last one `…` when
/// the text is cut.
pub fn ellipsis(text: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    if max == 1 {
        return chars.first().map(|c| c.to_string()).unwrap_or_default();
    }
    if text.is_ascii() {
        if text.len() <= max {
            return text.to_string();
        }
        let mut cut: String = chars.iter().take(max - 1).collect();
        cut.push('…');
        return cut;
    }
    let mut display = Vec::with_capacity(chars.len());
    let mut width = 0;
    for c in &chars {
        width += if is_wide(*c) { 2 } else { 1 };
        display.push(width);
    }
    if width <= max {
        return text.to_string();
    }
    for i in 0..display.len().saturating_sub(1) {
        if display[i] < max && display[i + 1] >= max {
            let mut cut: String = chars.iter().take(i + 1).collect();
            cut.push('…');
            return cut;
        }
    }
    text.to_string()
}

/// East Asian Wide or Fullwidth (golang.org/x/text/width), for the common
/// blocks: Hangul Jamo, CJK, Hiragana, Katakana, Hangul syllables,
/// compatibility ideographs, fullwidth forms and emoji.
fn is_wide(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1100..=0x115F
            | 0x231A..=0x231B
            | 0x2329..=0x232A
            | 0x23E9..=0x23EC
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xA960..=0xA97F
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE10..=0xFE19
            | 0xFE30..=0xFE6F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x2FFFD
            | 0x30000..=0x3FFFD
    )
}

/// The filters given with `-f`, as docker's `FilterOpt` collects them:
/// name (lower-cased) to values.
type Filters = BTreeMap<String, Vec<String>>;

/// What the engine does with the filters, decided before it searches.
struct Plan {
    /// `is-automated=true`: nothing can match.
    nothing: bool,
    is_official: Option<bool>,
    min_stars: Option<i64>,
}

fn parse_filters(args: &[String]) -> Result<Filters, String> {
    let mut filters = Filters::new();
    for text in args {
        if text.is_empty() {
            continue;
        }
        let Some((name, value)) = text.split_once('=') else {
            return Err(format!(
                "invalid argument \"{text}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            ));
        };
        let values = filters.entry(name.trim().to_lowercase()).or_default();
        let value = value.trim().to_string();
        if !values.contains(&value) {
            values.push(value);
        }
    }
    Ok(filters)
}

/// Go's `fmt.Sprint` of a `[]string`: `[a b]`.
fn go_list(values: &[String]) -> String {
    format!("[{}]", values.join(" "))
}

/// moby's `filters.Args.GetBoolOrDefault`.
fn bool_filter(filters: &Filters, key: &str) -> Result<Option<bool>, String> {
    let Some(values) = filters.get(key) else {
        return Ok(None);
    };
    let is_false = values.iter().any(|v| v == "0" || v == "false");
    let is_true = values.iter().any(|v| v == "1" || v == "true");
    if values.is_empty() || is_false == is_true {
        return Err(format!("invalid filter '{key}={}'", go_list(values)));
    }
    Ok(Some(is_true))
}

/// The engine's checks of the filters (moby's `Service.Search`).
fn plan(filters: &Filters) -> Result<Plan, String> {
    if let Some(name) = filters.keys().find(|k| !ACCEPTED.contains(&k.as_str())) {
        return Err(format!("invalid filter '{name}'"));
    }
    if bool_filter(filters, "is-automated")? == Some(true) {
        return Ok(Plan {
            nothing: true,
            is_official: None,
            min_stars: None,
        });
    }
    let is_official = bool_filter(filters, "is-official")?;
    let mut min_stars = None;
    if let Some(values) = filters.get("stars") {
        let mut highest = 0i64;
        for value in values {
            let stars: i64 = value.parse().map_err(|e: std::num::ParseIntError| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                format!("invalid filter 'stars={value}': strconv.Atoi: parsing {value:?}: {why}")
            })?;
            highest = highest.max(stars);
        }
        min_stars = Some(highest);
    }
    Ok(Plan {
        nothing: false,
        is_official,
        min_stars,
    })
}

/// Runs `search`.
pub async fn run(service: &dyn ImageService, args: &SearchArgs, io: &mut Io<'_>) -> ExitStatus {
    let filters = match parse_filters(&args.filters) {
        Ok(filters) => filters,
        Err(message) => {
            return fail(
                io,
                &format!(
                    "{message}\n\nUsage:  imgctl search [OPTIONS] TERM\n\n\
                     Run 'imgctl search --help' for more information"
                ),
            );
        }
    };
    if filters.contains_key("is-automated") {
        let _ = writeln!(
            io.err,
            "WARNING: the \"is-automated\" filter is deprecated, and searching for \"is-automated=true\" will not yield any results in future."
        );
    }
    let plan = match plan(&filters) {
        Ok(plan) => plan,
        Err(message) => return fail(io, &format!("Error response from daemon: {message}")),
    };
    let limit = args.limit.filter(|limit| *limit != 0);
    if let Some(limit) = limit.filter(|limit| *limit > 100) {
        return fail(
            io,
            &format!("Error response from daemon: limit {limit} is outside the range of [1, 100]"),
        );
    }
    let results = if plan.nothing {
        Vec::new()
    } else {
        match service.search(&args.term, limit).await {
            Ok(results) => results,
            Err(error) => return report(io, &error),
        }
    };
    let format_text = match args.format.as_deref() {
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some(custom) => custom,
    };
    let format = match Format::parse(format_text) {
        Ok(format) => format,
        Err(FormatError(message)) => return fail(io, &message),
    };
    let json = format_text == "json";
    let rows: Vec<SearchRow> = results
        .iter()
        .filter(|r| {
            plan.is_official
                .is_none_or(|official| r.is_official == official)
        })
        .filter(|r| {
            plan.min_stars
                .is_none_or(|stars| i128::from(r.star_count) >= i128::from(stars))
        })
        .map(|r| row_of(r, !args.no_trunc, json))
        .collect();
    match format.write(&rows, &headers()) {
        Ok(text) => {
            let _ = io.out.write_all(text.as_bytes());
            let _ = io.out.flush();
            ExitStatus::Success
        }
        Err(FormatError(message)) => fail(io, &message),
    }
}

/// Prints an error as docker's `main` does and fails.
fn fail(io: &mut Io<'_>, message: &str) -> ExitStatus {
    let _ = io.out.flush();
    let _ = writeln!(io.err, "{message}");
    ExitStatus::Failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_counts_wide_characters_twice() {
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abcd", 4), "abcd");
        assert_eq!(ellipsis("日本語のテキスト", 6), "日本…");
        assert_eq!(ellipsis("日本", 4), "日本");
        assert_eq!(ellipsis("é".repeat(50).as_str(), 45).chars().count(), 45);
    }

    #[test]
    fn filters_follow_the_engine() {
        let filters =
            parse_filters(&["is-official=true".into(), "stars=3".into()]).unwrap_or_default();
        let plan = plan(&filters).ok();
        assert_eq!(plan.as_ref().and_then(|p| p.is_official), Some(true));
        assert_eq!(plan.as_ref().and_then(|p| p.min_stars), Some(3));
        let bad = parse_filters(&["stars=x".into()]).unwrap_or_default();
        assert_eq!(
            plan_error(&bad),
            "invalid filter 'stars=x': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        let unknown = parse_filters(&["bogus=1".into()]).unwrap_or_default();
        assert_eq!(plan_error(&unknown), "invalid filter 'bogus'");
        let maybe = parse_filters(&["is-official=maybe".into()]).unwrap_or_default();
        assert_eq!(plan_error(&maybe), "invalid filter 'is-official=[maybe]'");
        assert!(parse_filters(&["nope".into()]).is_err());
    }

    fn plan_error(filters: &Filters) -> String {
        match plan(filters) {
            Ok(_) => String::new(),
            Err(message) => message,
        }
    }
}
