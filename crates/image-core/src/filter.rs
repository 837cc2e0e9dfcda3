//! docker's `--filter key=value` syntax for images, parsed into typed filters,
//! plus the one evaluation function every backend shares: each argument is
//! split the way docker/cli's `opts.FilterOpt.Set` does (`opts/opts.go`),
//! keys are validated like moby's `filters.Args.Validate`
//! (`daemon/internal/filters/parse.go`, formerly `api/types/filters/parse.go`),
//! `until` values are read like moby's `timestamp.Parse`
//! (`daemon/internal/timestamp/timestamp.go`, formerly `GetTimestamp` in
//! `api/types/time/timestamp.go`), and list and prune filters are evaluated
//! like the containerd image store (`daemon/containerd/image_list.go`,
//! `daemon/containerd/image_prune.go`, the default store since Docker 29) and,
//! where that store is silent, the graphdriver store
//! (`daemon/images/image_list.go`, `daemon/images/image_prune.go`). Error texts
//! are docker's own; where imgctl deliberately differs, the item's
//! documentation says so.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ImageError, Result};
use crate::model::ImageSummary;
use crate::reference::{self, AnyReference, Reference};

/// The filter keys `docker images` accepts (`acceptedImageFilterTags` in
/// moby's `daemon/containerd/image_list.go`; the graphdriver store lacks
/// `label!`).
pub const IMAGE_FILTER_KEYS: &[&str] = &[
    "dangling",
    "label",
    "label!",
    "before",
    "since",
    "reference",
    "until",
];

/// The filter keys [`PruneFilters`] accepts: moby's `imagesAcceptedFilters`
/// (`daemon/images/image_prune.go`) without `dangling`, which imgctl carries
/// as [`PruneOptions::all`](crate::model::PruneOptions) instead, the way the
/// docker CLI derives it from `--all`.
pub const PRUNE_FILTER_KEYS: &[&str] = &["until", "label", "label!"];

/// docker/cli's message for a `--filter` argument without `=`
/// (`opts/opts.go`, `FilterOpt.Set`).
const BAD_FORMAT: &str = "bad format of filter (expected name=value)";

/// containerd's limit on a label key plus value, in bytes
/// (`pkg/labels/validate.go`), which the containerd image store applies to
/// `label` / `label!` filters.
const LABEL_MAX_SIZE: usize = 4096;

/// How much of an oversized label key containerd quotes in its error.
const LABEL_KEY_MAX_QUOTED: usize = 64;

// ---------------------------------------------------------------------------
// LabelFilter
// ---------------------------------------------------------------------------

/// A `label=KEY` or `label=KEY=VALUE` filter.
///
/// `KEY` alone asks for the label to exist with any value; `KEY=VALUE` asks
/// for that exact value (moby's `filters.Args.MatchKVList`,
/// `daemon/internal/filters/parse.go`). The text is split at the first `=`, so
/// `label=a=b=c` is key `a`, value `b=c`; docker accepts an empty key
/// (`label=`), which then matches only images that have a label named `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LabelFilter {
    /// The label's name.
    pub key: String,
    /// The wanted value; `None` when any value will do.
    #[serde(default)]
    pub value: Option<String>,
}

impl LabelFilter {
    /// A filter asking for label `key` with any value.
    pub fn exists(key: impl Into<String>) -> LabelFilter {
        LabelFilter {
            key: key.into(),
            value: None,
        }
    }

    /// A filter asking for label `key` with exactly `value`.
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> LabelFilter {
        LabelFilter {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// Whether `labels` has this filter's key (with its value, when one is
    /// given).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match labels.get(&self.key) {
            None => false,
            Some(actual) => self.value.as_ref().is_none_or(|wanted| wanted == actual),
        }
    }

    /// The `label=`/`label!=` argument that parses back to this filter.
    ///
    /// The containerd store reads a key ending in `!` as a negation
    /// (`label=foo!=bar` means `label!=foo=bar`), so a key that itself ends
    /// in `!` is written with one more `!` under the opposite filter name.
    fn to_arg(&self, negated: bool) -> String {
        let flipped = self.key.ends_with('!');
        let name = if negated != flipped {
            "label!"
        } else {
            "label"
        };
        let bang = if flipped { "!" } else { "" };
        match &self.value {
            Some(value) => format!("{name}={}{bang}={value}", self.key),
            None => format!("{name}={}{bang}", self.key),
        }
    }
}

impl fmt::Display for LabelFilter {
    /// `KEY` or `KEY=VALUE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// Parses the value of a `label` or `label!` filter; returns whether it
/// negates. Follows `setupLabelFilter` in moby's
/// `daemon/containerd/image_list.go`: containerd's size check on the raw key
/// and value, then a trailing `!` on the key flips the filter.
fn parse_label(filter_key: &str, text: &str) -> Result<(bool, LabelFilter)> {
    let (key, value) = match text.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (text, None),
    };
    let total = key.len() + value.map_or(0, str::len);
    if total > LABEL_MAX_SIZE {
        let mut end = key.len().min(LABEL_KEY_MAX_QUOTED);
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        let quoted = key.get(..end).unwrap_or(key);
        return Err(ImageError::invalid_filter(
            format!("{filter_key}={text}"),
            format!(
                "label key and value length ({total} bytes) greater than maximum size \
                 ({LABEL_MAX_SIZE} bytes), key: {quoted}: invalid argument"
            ),
        ));
    }
    let mut negated = filter_key == "label!";
    let key = match key.strip_suffix('!') {
        Some(stripped) => {
            negated = !negated;
            stripped
        }
        None => key,
    };
    Ok((
        negated,
        LabelFilter {
            key: key.to_owned(),
            value: value.map(str::to_owned),
        },
    ))
}

// ---------------------------------------------------------------------------
// TimeFilter
// ---------------------------------------------------------------------------

/// A point in time given as a Go duration before "now", or an absolute time.
///
/// [`TimeFilter::parse`] accepts what moby's `timestamp.Parse`
/// (`daemon/internal/timestamp/timestamp.go`) accepts, tried in its order:
///
/// * a Go duration (`720h`, `1h30m`, `1.5h`, `300ms`, `-0s`; units `ns`,
///   `us`/`µs`, `ms`, `s`, `m`, `h`), except the bare `0`;
/// * RFC 3339 and its partial forms: `2006-01-02T15:04:05.999999999Z07:00`,
///   `2006-01-02T15:04:05Z`, `2006-01-02T15:04`, `2006-01-02T15`,
///   `2006-01-02Z07:00`, `2006-01-02`, with or without fraction or zone;
/// * a unix timestamp, `1700000000` or `1700000000.123` (fractions beyond
///   nanoseconds are truncated, at most 20 fraction digits).
///
/// Two deliberate differences from docker: a time without a zone is taken as
/// UTC (docker uses the daemon's local zone), and a negative duration (a time
/// in the future, which docker accepts) is rejected, because [`Ago`] holds an
/// unsigned [`Duration`].
///
/// `Display` writes a string docker accepts and [`TimeFilter::parse`] reads
/// back to an equal value: a duration as `1h30m`, `1.5s` or `0s`; a time in
/// years 0 to 9999 as RFC 3339 in UTC, later times as a unix timestamp with
/// nine fraction digits. (Durations longer than Go's limit of about 292 years
/// and times before year 0 are written but not accepted back.) Serde uses the
/// same string form.
///
/// [`Ago`]: TimeFilter::Ago
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TimeFilter {
    /// This long before "now".
    Ago(Duration),
    /// This instant.
    At(DateTime<Utc>),
}

impl TimeFilter {
    /// Parses an `until` value the way moby's `timestamp.Parse` does (see the
    /// type's documentation). Errors are [`ImageError::InvalidFilter`] with
    /// docker's message, `invalid value for 'until' filter: ...`.
    pub fn parse(text: &str) -> Result<TimeFilter> {
        parse_docker_time(text).map_err(|detail| {
            ImageError::invalid_filter(
                format!("until={text}"),
                format!("invalid value for 'until' filter: {detail}"),
            )
        })
    }

    /// The instant this filter names, given the current time.
    ///
    /// A duration that reaches before the earliest representable time
    /// resolves to that earliest time.
    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeFilter::At(at) => *at,
            TimeFilter::Ago(ago) => TimeDelta::from_std(*ago)
                .ok()
                .and_then(|delta| now.checked_sub_signed(delta))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

impl fmt::Display for TimeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeFilter::Ago(ago) => write_go_duration(f, *ago),
            TimeFilter::At(at) if (0..=9999).contains(&at.year()) => {
                f.write_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            TimeFilter::At(at) => {
                write!(f, "{}.{:09}", at.timestamp(), at.timestamp_subsec_nanos())
            }
        }
    }
}

impl FromStr for TimeFilter {
    type Err = ImageError;

    /// Same as [`TimeFilter::parse`].
    fn from_str(s: &str) -> Result<Self> {
        TimeFilter::parse(s)
    }
}

impl TryFrom<String> for TimeFilter {
    type Error = ImageError;

    fn try_from(value: String) -> Result<Self> {
        TimeFilter::parse(&value)
    }
}

impl From<TimeFilter> for String {
    fn from(value: TimeFilter) -> String {
        value.to_string()
    }
}

/// Writes a duration in a form Go's `time.ParseDuration` reads back exactly:
/// hours, minutes and seconds with up to nine fraction digits, zero parts
/// left out (`720h`, `1h30m`, `0.5s`), or `0s`.
fn write_go_duration(f: &mut fmt::Formatter<'_>, duration: Duration) -> fmt::Result {
    let seconds = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if seconds == 0 && nanos == 0 {
        return f.write_str("0s");
    }
    let (hours, minutes, secs) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 0 {
        write!(f, "{hours}h")?;
    }
    if minutes > 0 {
        write!(f, "{minutes}m")?;
    }
    if secs > 0 || nanos > 0 {
        write!(f, "{secs}")?;
        if nanos > 0 {
            let fraction = format!("{nanos:09}");
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        f.write_str("s")?;
    }
    Ok(())
}

/// moby's `timestamp.Parse` (`daemon/internal/timestamp/timestamp.go`),
/// with UTC for the local zone; the error is the text after docker's
/// `invalid value for 'until' filter: ` prefix.
fn parse_docker_time(value: &str) -> Result<TimeFilter, String> {
    if value.trim().is_empty() {
        return Err("failed to parse value as time or duration: value is empty".to_owned());
    }
    if value != "0" {
        if let Some((negative, nanos)) = parse_go_duration(value) {
            if negative && nanos != 0 {
                return Err(format!(
                    "negative durations (times in the future) are not supported: {}",
                    go_strconv_quote(value)
                ));
            }
            return Ok(TimeFilter::Ago(Duration::from_nanos(nanos)));
        }
    }
    match parse_go_time(docker_time_layout(value), value) {
        Ok(at) => Ok(TimeFilter::At(at)),
        // "if there is a `-` then it's an RFC3339 like timestamp"
        Err(err) if value.contains('-') => Err(err),
        Err(_) => parse_unix_timestamp(value)
            .map(TimeFilter::At)
            .map_err(|err| format!("failed to parse value as time or duration: {err}")),
    }
}

const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";
const RFC3339_LOCAL: &str = "2006-01-02T15:04:05";
const RFC3339_NANO_LOCAL: &str = "2006-01-02T15:04:05.999999999";
const DATE_WITH_ZONE: &str = "2006-01-02Z07:00";
const DATE_LOCAL: &str = "2006-01-02";

/// The Go layout `timestamp.Parse` picks for `value`: with a zone when the
/// value has `Z`, `z`, `+` or exactly three `-`; by fraction, then by the
/// number of `:` after a `T`.
fn docker_time_layout(value: &str) -> &'static str {
    let local = !value.contains(['z', 'Z', '+']) && value.matches('-').count() != 3;
    if value.contains('.') {
        return if local {
            RFC3339_NANO_LOCAL
        } else {
            RFC3339_NANO
        };
    }
    if !value.contains('T') {
        return if local { DATE_LOCAL } else { DATE_WITH_ZONE };
    }
    let mut colons = value.matches(':').count();
    if !local && !value.contains(['z', 'Z']) && colons > 0 {
        // The zone offset's own colon.
        colons -= 1;
    }
    match (local, colons) {
        (true, 0) => "2006-01-02T15",
        (true, 1) => "2006-01-02T15:04",
        (true, _) => RFC3339_LOCAL,
        (false, 0) => "2006-01-02T15Z07:00",
        (false, 1) => "2006-01-02T15:04Z07:00",
        (false, _) => RFC3339,
    }
}

/// Go's `time.ParseDuration`, written by hand for this module (no crate
/// needed): a possibly signed sequence of decimal numbers, each with an
/// optional fraction and a unit. Returns the sign and the magnitude in
/// nanoseconds, or `None` where Go returns an error. Fractions go through
/// `f64` exactly as Go computes them, so results agree to the nanosecond.
pub(crate) fn parse_go_duration(orig: &str) -> Option<(bool, u64)> {
    const LIMIT: u64 = 1 << 63;
    let mut s = orig.as_bytes();
    let mut negative = false;
    if let [sign @ (b'-' | b'+'), rest @ ..] = s {
        negative = *sign == b'-';
        s = rest;
    }
    if s == b"0" {
        return Some((negative, 0));
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while let Some(&first) = s.first() {
        if !(first == b'.' || first.is_ascii_digit()) {
            return None;
        }
        let before = s.len();
        let (whole, rest) = leading_int(s)?;
        s = rest;
        let had_whole = before != s.len();
        let (mut fraction, mut scale, mut had_fraction) = (0u64, 1f64, false);
        if let [b'.', rest @ ..] = s {
            let before = rest.len();
            let (f, sc, rest) = leading_fraction(rest);
            (fraction, scale, had_fraction) = (f, sc, before != rest.len());
            s = rest;
        }
        if !had_whole && !had_fraction {
            return None;
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return None;
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let unit = go_duration_unit(unit)?;
        if whole > LIMIT / unit {
            return None;
        }
        let mut value = whole * unit;
        if fraction > 0 {
            // Go: v += uint64(float64(f) * (float64(unit) / scale))
            value = value.saturating_add((fraction as f64 * (unit as f64 / scale)) as u64);
            if value > LIMIT {
                return None;
            }
        }
        total = total.checked_add(value)?;
        if total > LIMIT {
            return None;
        }
    }
    if !negative && total > LIMIT - 1 {
        return None;
    }
    Some((negative, total))
}

/// Go's `leadingInt`: the leading decimal digits, `None` past 2^63.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        if x > (1 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > 1 << 63 {
            return None;
        }
        i += 1;
    }
    Some((x, s.get(i..).unwrap_or_default()))
}

/// Go's `leadingFraction`: the leading digits as an integer and its scale;
/// digits past the precision limit are consumed but ignored.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    let mut i = 0;
    while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        i += 1;
        if overflow {
            continue;
        }
        if x > ((1u64 << 63) - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > 1 << 63 {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, s.get(i..).unwrap_or_default())
}

/// Go's `unitMap`, in nanoseconds.
fn go_duration_unit(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"ns" => 1,
        b"us" => 1_000,
        // U+00B5 micro sign and U+03BC Greek small letter mu.
        [0xC2, 0xB5, b's'] | [0xCE, 0xBC, b's'] => 1_000,
        b"ms" => 1_000_000,
        b"s" => 1_000_000_000,
        b"m" => 60_000_000_000,
        b"h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// The elements of the handful of Go layouts `timestamp.Parse` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    /// `2006`
    Year,
    /// `01`
    Month,
    /// `02`
    Day,
    /// `15`
    Hour,
    /// `04`
    Minute,
    /// `05`
    Second,
    /// `.999999999`
    Fraction,
    /// `Z07:00`
    Zone,
}

const STD_TOKENS: [(&str, Std); 8] = [
    ("2006", Std::Year),
    (".999999999", Std::Fraction),
    ("Z07:00", Std::Zone),
    ("01", Std::Month),
    ("02", Std::Day),
    ("15", Std::Hour),
    ("04", Std::Minute),
    ("05", Std::Second),
];

/// Go's `nextStdChunk`, for the layouts above: the literal prefix, the next
/// element with its layout text, and the rest of the layout.
fn next_std_chunk(layout: &str) -> (&str, Option<(Std, &'static str)>, &str) {
    for i in 0..layout.len() {
        let (Some(prefix), Some(rest)) = (layout.get(..i), layout.get(i..)) else {
            continue;
        };
        for (token, std) in STD_TOKENS {
            if let Some(suffix) = rest.strip_prefix(token) {
                return (prefix, Some((std, token)), suffix);
            }
        }
    }
    (layout, None, "")
}

/// Why one layout element did not parse.
enum ElemError {
    /// Go's `errBad`: "cannot parse".
    Bad,
    /// Go's `rangeErrString`: "... out of range".
    Range(&'static str),
}

/// Go's `time.Parse` restricted to the layouts above, always in UTC,
/// returning Go's `ParseError` text on failure.
fn parse_go_time(layout: &'static str, value: &str) -> Result<DateTime<Utc>, String> {
    let (mut year, mut month, mut day) = (0i64, 1i64, 1i64);
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let mut offset = 0i64;
    let mut rest_layout = layout;
    let mut v = value.as_bytes();
    loop {
        let (prefix, std, suffix) = next_std_chunk(rest_layout);
        for &expected in prefix.as_bytes() {
            match v.split_first() {
                Some((&c, rest)) if c == expected => v = rest,
                _ => {
                    return Err(format!(
                        "parsing time {} as {}: cannot parse {} as {}",
                        go_time_quote(value.as_bytes()),
                        go_time_quote(layout.as_bytes()),
                        go_time_quote(v),
                        go_time_quote(prefix.as_bytes()),
                    ));
                }
            }
        }
        let Some((std, token)) = std else {
            if !v.is_empty() {
                return Err(format!(
                    "parsing time {}: extra text: {}",
                    go_time_quote(value.as_bytes()),
                    go_time_quote(v)
                ));
            }
            break;
        };
        rest_layout = suffix;
        let hold = v;
        let next_is_fraction = matches!(next_std_chunk(rest_layout).1, Some((Std::Fraction, _)));
        let parsed: Result<&[u8], ElemError> = match std {
            Std::Year => match (v.get(..4), v.get(4..)) {
                (Some(digits), Some(rest)) if digits.iter().all(u8::is_ascii_digit) => {
                    year = digits.iter().fold(0, |n, c| n * 10 + i64::from(c - b'0'));
                    Ok(rest)
                }
                _ => Err(ElemError::Bad),
            },
            Std::Month => getnum(v, true).ok_or(ElemError::Bad).and_then(|(n, rest)| {
                month = n;
                if (1..=12).contains(&n) {
                    Ok(rest)
                } else {
                    Err(ElemError::Range("month"))
                }
            }),
            Std::Day => getnum(v, true).ok_or(ElemError::Bad).map(|(n, rest)| {
                day = n;
                rest
            }),
            Std::Hour => getnum(v, false)
                .ok_or(ElemError::Bad)
                .and_then(|(n, rest)| {
                    hour = n;
                    if n < 24 {
                        Ok(rest)
                    } else {
                        Err(ElemError::Range("hour"))
                    }
                }),
            Std::Minute => getnum(v, true).ok_or(ElemError::Bad).and_then(|(n, rest)| {
                minute = n;
                if n < 60 {
                    Ok(rest)
                } else {
                    Err(ElemError::Range("minute"))
                }
            }),
            Std::Second => getnum(v, true).ok_or(ElemError::Bad).and_then(|(n, rest)| {
                second = n;
                if n >= 60 {
                    return Err(ElemError::Range("second"));
                }
                // A fraction the layout does not spell out is still read.
                let has_fraction = matches!(rest, [b'.' | b',', d, ..] if d.is_ascii_digit());
                if !has_fraction || next_is_fraction {
                    return Ok(rest);
                }
                let end = 2 + rest
                    .iter()
                    .skip(2)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                nanos = parse_nanoseconds(rest, end);
                Ok(rest.get(end..).unwrap_or_default())
            }),
            Std::Fraction => {
                if matches!(v, [b'.' | b',', d, ..] if d.is_ascii_digit()) {
                    let end = 1 + v.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
                    nanos = parse_nanoseconds(v, end);
                    Ok(v.get(end..).unwrap_or_default())
                } else {
                    // Fractional second omitted.
                    Ok(v)
                }
            }
            Std::Zone => parse_zone(v).map(|(seconds, rest)| {
                offset = seconds;
                rest
            }),
        };
        match parsed {
            Ok(rest) => v = rest,
            Err(ElemError::Range(what)) => {
                return Err(format!(
                    "parsing time {}: {what} out of range",
                    go_time_quote(value.as_bytes())
                ));
            }
            Err(ElemError::Bad) => {
                return Err(format!(
                    "parsing time {} as {}: cannot parse {} as {}",
                    go_time_quote(value.as_bytes()),
                    go_time_quote(layout.as_bytes()),
                    go_time_quote(hold),
                    go_time_quote(token.as_bytes()),
                ));
            }
        }
    }
    let day_out_of_range = || {
        format!(
            "parsing time {}: day out of range",
            go_time_quote(value.as_bytes())
        )
    };
    let date = match (
        i32::try_from(year),
        u32::try_from(month),
        u32::try_from(day),
    ) {
        (Ok(year), Ok(month), Ok(day)) => NaiveDate::from_ymd_opt(year, month, day),
        _ => None,
    }
    .ok_or_else(day_out_of_range)?;
    let time = date
        .and_hms_nano_opt(
            u32::try_from(hour).unwrap_or(0),
            u32::try_from(minute).unwrap_or(0),
            u32::try_from(second).unwrap_or(0),
            u32::try_from(nanos).unwrap_or(0),
        )
        .ok_or_else(day_out_of_range)?;
    time.and_utc()
        .checked_sub_signed(TimeDelta::seconds(offset))
        .ok_or_else(day_out_of_range)
}

/// Go's `getnum`: one or two leading digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let digit = |i: usize| {
        s.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i64::from(c - b'0'))
    };
    let first = digit(0)?;
    match digit(1) {
        Some(second) => Some((first * 10 + second, s.get(2..).unwrap_or_default())),
        None if fixed => None,
        None => Some((first, s.get(1..).unwrap_or_default())),
    }
}

/// Go's `parseNanoseconds` for `value[..end]`, a `.` or `,` and digits:
/// the first nine digits, scaled to nanoseconds.
fn parse_nanoseconds(value: &[u8], end: usize) -> i64 {
    let end = end.min(10);
    let digits = value.get(1..end).unwrap_or_default();
    let n = digits
        .iter()
        .fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
    (end..10).fold(n, |n, _| n * 10)
}

/// Go's `Z07:00` element: `Z`, or `±hh:mm` (offsets up to 24h and 60m are
/// accepted, as in Go). Returns seconds east of UTC.
fn parse_zone(v: &[u8]) -> Result<(i64, &[u8]), ElemError> {
    if let [b'Z', rest @ ..] = v {
        return Ok((0, rest));
    }
    let (Some(zone), Some(rest)) = (v.get(..6), v.get(6..)) else {
        return Err(ElemError::Bad);
    };
    if zone[3] != b':' {
        return Err(ElemError::Bad);
    }
    let hours = getnum(&zone[1..3], true).map(|(n, _)| n);
    let minutes = hours.and_then(|_| getnum(&zone[4..6], true).map(|(n, _)| n));
    if minutes.unwrap_or(0) > 60 {
        return Err(ElemError::Range("time zone offset minute"));
    }
    if hours.unwrap_or(0) > 24 {
        return Err(ElemError::Range("time zone offset hour"));
    }
    let (Some(hours), Some(minutes)) = (hours, minutes) else {
        return Err(ElemError::Bad);
    };
    let seconds = (hours * 60 + minutes) * 60;
    match zone[0] {
        b'+' => Ok((seconds, rest)),
        b'-' => Ok((-seconds, rest)),
        _ => Err(ElemError::Bad),
    }
}

/// moby's `parseTimestamp` (`daemon/internal/timestamp/timestamp.go`):
/// `seconds[.fraction]`, the fraction truncated or padded to nanoseconds.
fn parse_unix_timestamp(value: &str) -> Result<DateTime<Utc>, String> {
    let (seconds_text, fraction) = match value.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (value, None),
    };
    let seconds = go_parse_int(seconds_text)
        .map_err(|why| format!("invalid seconds {}: {why}", go_strconv_quote(seconds_text)))?;
    let nanos = match fraction {
        None | Some("" | "0" | "000000000") => 0,
        Some(fraction) => {
            const MAX_FRACTION_DIGITS: usize = 20;
            if fraction.len() > MAX_FRACTION_DIGITS {
                return Err(format!(
                    "invalid nanoseconds: length {} exceeds maximum {MAX_FRACTION_DIGITS}",
                    fraction.len()
                ));
            }
            if let Some((i, c)) = fraction
                .bytes()
                .enumerate()
                .find(|(_, c)| !c.is_ascii_digit())
            {
                return Err(format!(
                    "invalid nanoseconds: invalid character {} at position {i}",
                    go_quote_byte(c)
                ));
            }
            let digits = fraction.as_bytes().iter().take(9);
            let n = digits.fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
            (fraction.len()..9).fold(n, |n, _| n * 10)
        }
    };
    DateTime::from_timestamp(seconds, nanos).ok_or_else(|| {
        format!(
            "invalid seconds {}: value out of range",
            go_strconv_quote(seconds_text)
        )
    })
}

/// Go's `strconv.ParseInt(s, 10, 64)`, returning the `NumError` reason.
fn go_parse_int(s: &str) -> Result<i64, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    const RANGE: &str = "value out of range";
    let (negative, digits) = match s.as_bytes() {
        [b'+', rest @ ..] => (false, rest),
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    if digits.is_empty() {
        return Err(SYNTAX);
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(SYNTAX);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(RANGE)?;
    }
    if negative {
        0i64.checked_sub_unsigned(n).ok_or(RANGE)
    } else {
        i64::try_from(n).map_err(|_| RANGE)
    }
}

/// The `quote` of Go's `time` package: bytes outside printable ASCII as
/// `\xNN`, `"` and `\` escaped.
fn go_time_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7f => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Close to Go's `strconv.Quote` (`%q`): printable characters as they are,
/// the usual backslash escapes otherwise.
fn go_strconv_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                if u32::from(c) <= 0xFFFF {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)));
                } else {
                    out.push_str(&format!("\\U{:08x}", u32::from(c)));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a byte: a quoted character literal.
fn go_quote_byte(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_owned(),
        b'\\' => "'\\\\'".to_owned(),
        0x20..=0x7e => format!("'{}'", char::from(b)),
        0x80..=0xff if !char::from(b).is_control() => format!("'{}'", char::from(b)),
        _ => format!("'\\x{b:02x}'"),
    }
}

// ---------------------------------------------------------------------------
// Argument splitting shared by ImageFilters and PruneFilters
// ---------------------------------------------------------------------------

/// Splits each argument at its first `=` the way docker/cli's
/// `FilterOpt.Set` does (`opts/opts.go`): an empty argument is ignored, one
/// without `=` is `bad format of filter (expected name=value)`, the name is
/// trimmed and lower-cased, the value trimmed. Then every key is checked
/// against `accepted` like moby's `filters.Args.Validate`, which says
/// `invalid filter 'KEY'`.
fn split_args<I, S>(args: I, accepted: &[&str]) -> Result<Vec<(String, String)>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut pairs = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg.is_empty() {
            continue;
        }
        let Some((name, value)) = arg.split_once('=') else {
            return Err(ImageError::invalid_filter(arg, BAD_FORMAT));
        };
        pairs.push((name.trim().to_lowercase(), value.trim().to_owned()));
    }
    if let Some((key, _)) = pairs
        .iter()
        .find(|(key, _)| !accepted.contains(&key.as_str()))
    {
        // moby's invalidFilter leaves out the quotes for an empty name.
        return Err(if key.is_empty() {
            ImageError::invalid_filter("", "invalid filter")
        } else {
            ImageError::invalid_filter_key(key.as_str())
        });
    }
    Ok(pairs)
}

/// The values given for `key`, without repeats, in order (docker keeps a set
/// of values per key).
fn distinct_values<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    let mut values: Vec<&str> = Vec::new();
    for (k, v) in pairs {
        if k == key && !values.contains(&v.as_str()) {
            values.push(v);
        }
    }
    values
}

/// Every value given for `key`, in order, repeats included.
fn all_values<'a>(pairs: &'a [(String, String)], key: &str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A key that takes one value; different values are `more than one KEY
/// filter specified` (moby's `getUntilFromPruneFilters`,
/// `daemon/images/image_prune.go`).
fn single_value<'a>(pairs: &'a [(String, String)], key: &str) -> Result<Option<&'a str>> {
    match distinct_values(pairs, key).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => Err(ImageError::invalid_filter(
            format!("{key}={}", many.join(",")),
            format!("more than one {key} filter specified"),
        )),
    }
}

/// moby's `filters.Args.GetBoolOrDefault`
/// (`daemon/internal/filters/parse.go`): exactly `1`/`true` or `0`/`false`
/// (case-sensitive); none of them, or both kinds, is
/// `invalid filter 'KEY=[v1 v2]'`.
fn bool_value(pairs: &[(String, String)], key: &str) -> Result<Option<bool>> {
    let values = distinct_values(pairs, key);
    if values.is_empty() {
        return Ok(None);
    }
    let is_false = values.iter().any(|v| matches!(*v, "0" | "false"));
    let is_true = values.iter().any(|v| matches!(*v, "1" | "true"));
    if is_true == is_false {
        return Err(ImageError::invalid_filter(
            format!("{key}={}", values.join(",")),
            format!("invalid filter '{key}=[{}]'", values.join(" ")),
        ));
    }
    Ok(Some(is_true))
}

/// The `label` and `label!` filters, as (must match, must not match).
fn label_values(pairs: &[(String, String)]) -> Result<(Vec<LabelFilter>, Vec<LabelFilter>)> {
    let (mut labels, mut labels_not) = (Vec::new(), Vec::new());
    for (key, value) in pairs {
        if key == "label" || key == "label!" {
            let (negated, filter) = parse_label(key, value)?;
            if negated {
                labels_not.push(filter);
            } else {
                labels.push(filter);
            }
        }
    }
    Ok((labels, labels_not))
}

/// Checks a `reference` glob with Go's `path.Match` rules; a malformed one is
/// Go's `syntax error in pattern`.
fn check_pattern(pattern: &str) -> Result<()> {
    // Matching against "" parses every chunk of the pattern.
    reference::path_match(pattern, "")
        .map(|_| ())
        .map_err(|err| ImageError::invalid_filter(format!("reference={pattern}"), err.to_string()))
}

/// Checks a `before` / `since` value is a reference or ID docker could look up.
fn check_image_name(name: &str) -> Result<()> {
    reference::parse_any(name)
        .map(|_| ())
        .map_err(|err| ImageError::invalid_reference(name, err))
}

// ---------------------------------------------------------------------------
// ImageFilters
// ---------------------------------------------------------------------------

/// Filters for listing images (`docker images --filter`), evaluated by
/// [`apply`]. Every filter that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageFilters {
    /// `dangling=true` keeps only untagged images, `dangling=false` only
    /// tagged ones.
    pub dangling: Option<bool>,
    /// `reference=GLOB`: Go `path.Match` globs, OR'd.
    pub references: Vec<String>,
    /// `label=KEY[=VALUE]`: all must match.
    pub labels: Vec<LabelFilter>,
    /// `label!=KEY[=VALUE]`: none may match.
    pub labels_not: Vec<LabelFilter>,
    /// `before=IMAGE`: only images created before this one (a reference or ID).
    pub before: Option<String>,
    /// `since=IMAGE`: only images created after this one (a reference or ID).
    pub since: Option<String>,
    /// `until=TIME`: only images created before this time.
    pub until: Option<TimeFilter>,
}

impl ImageFilters {
    /// Parses `--filter` arguments, each `key=value`.
    ///
    /// Splitting follows docker/cli's `FilterOpt.Set` (`opts/opts.go`): empty
    /// arguments are skipped, the key is lower-cased, key and value trimmed.
    /// Keys are those of [`IMAGE_FILTER_KEYS`]; values are checked here rather
    /// than when listing:
    ///
    /// * `dangling`: `true`, `1`, `false` or `0`, exactly (docker's
    ///   `GetBoolOrDefault`); otherwise `invalid filter 'dangling=[VALUE]'`,
    ///   also for an empty value;
    /// * `reference`: a Go glob, else `syntax error in pattern`;
    /// * `label`, `label!`: see [`LabelFilter`]; a key ending in `!` flips the
    ///   filter as in the containerd store (`label=foo!=bar` is
    ///   `label!=foo=bar`); key and value over 4096 bytes are refused with
    ///   containerd's message;
    /// * `before`, `since`: must parse as a reference or ID, else
    ///   [`ImageError::InvalidReference`]; whether the image exists is only
    ///   known to [`apply`];
    /// * `until`: see [`TimeFilter::parse`].
    ///
    /// docker keeps a set of values per key. Repeating `dangling`, `before`,
    /// `since` or `until` with the same value is fine; different values for
    /// `before`, `since` or `until` are refused with
    /// `more than one KEY filter specified` (docker ANDs them in a list; this
    /// type holds one of each).
    pub fn parse<I, S>(args: I) -> Result<ImageFilters>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let pairs = split_args(args, IMAGE_FILTER_KEYS)?;
        let dangling = bool_value(&pairs, "dangling")?;
        let until = single_value(&pairs, "until")?
            .map(TimeFilter::parse)
            .transpose()?;
        let (labels, labels_not) = label_values(&pairs)?;
        let mut references = Vec::new();
        for pattern in all_values(&pairs, "reference") {
            check_pattern(pattern)?;
            references.push(pattern.to_owned());
        }
        let before = single_value(&pairs, "before")?;
        let since = single_value(&pairs, "since")?;
        for name in before.iter().chain(since.iter()) {
            check_image_name(name)?;
        }
        Ok(ImageFilters {
            dangling,
            references,
            labels,
            labels_not,
            before: before.map(str::to_owned),
            since: since.map(str::to_owned),
            until,
        })
    }

    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.dangling.is_none()
            && self.references.is_empty()
            && self.labels.is_empty()
            && self.labels_not.is_empty()
            && self.before.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// The filters as `key=value` arguments, for docker or for
    /// [`ImageFilters::parse`], which reads them back to an equal value
    /// (label keys must not contain `=` nor start with white space).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(dangling) = self.dangling {
            args.push(format!("dangling={dangling}"));
        }
        args.extend(self.references.iter().map(|r| format!("reference={r}")));
        args.extend(self.labels.iter().map(|l| l.to_arg(false)));
        args.extend(self.labels_not.iter().map(|l| l.to_arg(true)));
        if let Some(before) = &self.before {
            args.push(format!("before={before}"));
        }
        if let Some(since) = &self.since {
            args.push(format!("since={since}"));
        }
        if let Some(until) = &self.until {
            args.push(format!("until={until}"));
        }
        args
    }
}

// ---------------------------------------------------------------------------
// PruneFilters
// ---------------------------------------------------------------------------

/// Filters for pruning images (`docker image prune --filter`): `until`,
/// `label` and `label!`. Whether dangling images only or all unused images
/// are pruned is [`PruneOptions::all`](crate::model::PruneOptions), not a
/// filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PruneFilters {
    /// `until=TIME`: only images created before this time.
    pub until: Option<TimeFilter>,
    /// `label=KEY[=VALUE]`: all must match.
    pub labels: Vec<LabelFilter>,
    /// `label!=KEY[=VALUE]`: none may match.
    pub labels_not: Vec<LabelFilter>,
}

impl PruneFilters {
    /// Parses `--filter` arguments, each `key=value`, as
    /// [`ImageFilters::parse`] does, accepting only [`PRUNE_FILTER_KEYS`].
    ///
    /// Any other key is `invalid filter 'KEY'`, as the daemon answers (for
    /// example `invalid filter 'before'`); that includes `dangling`, which
    /// imgctl takes from [`PruneOptions::all`](crate::model::PruneOptions).
    /// Several different `until` values are
    /// `more than one until filter specified` (moby's
    /// `daemon/images/image_prune.go`).
    pub fn parse<I, S>(args: I) -> Result<PruneFilters>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let pairs = split_args(args, PRUNE_FILTER_KEYS)?;
        let until = single_value(&pairs, "until")?
            .map(TimeFilter::parse)
            .transpose()?;
        let (labels, labels_not) = label_values(&pairs)?;
        Ok(PruneFilters {
            until,
            labels,
            labels_not,
        })
    }

    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.until.is_none() && self.labels.is_empty() && self.labels_not.is_empty()
    }

    /// The filters as `key=value` arguments; [`PruneFilters::parse`] reads
    /// them back to an equal value.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(until) = &self.until {
            args.push(format!("until={until}"));
        }
        args.extend(self.labels.iter().map(|l| l.to_arg(false)));
        args.extend(self.labels_not.iter().map(|l| l.to_arg(true)));
        args
    }

    /// Whether the filters let `image` be pruned: created before `until`
    /// (an image without a creation time never is, while `until` is set),
    /// every `label` matching and no `label!` matching.
    ///
    /// Follows the containerd store (`daemon/containerd/image_prune.go`, which
    /// reuses the list filters): strictly before `until`, and `label!`
    /// filters each exclude on their own. Whether the image is dangling or in
    /// use is the backend's business.
    pub fn matches(&self, image: &ImageSummary, now: DateTime<Utc>) -> bool {
        if let Some(until) = &self.until {
            let until = until.resolve(now);
            let created_before = image.created.is_some_and(|created| created < until);
            if !created_before {
                return false;
            }
        }
        labels_pass(&self.labels, &self.labels_not, &image.labels)
    }
}

/// Every `label` filter matches and no `label!` filter does.
fn labels_pass(
    labels: &[LabelFilter],
    labels_not: &[LabelFilter],
    image_labels: &BTreeMap<String, String>,
) -> bool {
    labels.iter().all(|l| l.matches(image_labels))
        && !labels_not.iter().any(|l| l.matches(image_labels))
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// Applies list filters to a full list of local images (before/since are
/// resolved against that same list: by reference, full ID or unique ID
/// prefix; a missing one is ImageError::NotFound). Returns the images that
/// pass, in input order.
///
/// Semantics, after moby's `daemon/containerd/image_list.go` and
/// `daemon/images/image_list.go`:
///
/// * `dangling=true` keeps images without tags ([`ImageSummary::is_dangling`];
///   repo digests do not count), `dangling=false` images with tags;
/// * `reference` globs are OR'd. Each tag and each repo digest of an image is
///   matched with distribution's `FamiliarMatch`: against its familiar form
///   (`alpine:3.20`), then its familiar name (`alpine`), as the engines up to
///   Docker 29.4 do (29.5 also tries the full forms; we keep the narrower
///   rule that the API 1.41 and 1.45 engines we test against follow). Like
///   docker, the returned image keeps only the tags and repo digests that
///   matched, and an image with none is dropped;
/// * `label` filters are AND'd; any matching `label!` filter excludes;
/// * `before` / `since` keep images created strictly before / after the named
///   image ([`find_image`]); when that image has no creation time the filter
///   is ignored, as docker does;
/// * `until` keeps images created strictly before the time.
///
/// Images without a creation time fail `before`, `since` and `until`. Pass
/// the whole list, intermediate images included, so that `before`/`since`
/// can name any image; hiding intermediate images (`docker images` without
/// `-a`) is the caller's business.
pub fn apply(
    filters: &ImageFilters,
    images: Vec<ImageSummary>,
    now: DateTime<Utc>,
) -> Result<Vec<ImageSummary>> {
    for pattern in &filters.references {
        check_pattern(pattern)?;
    }
    let created_of = |name: &Option<String>| -> Result<Option<DateTime<Utc>>> {
        match name {
            Some(name) => Ok(find_image(&images, name)?.created),
            None => Ok(None),
        }
    };
    let before = created_of(&filters.before)?;
    let since = created_of(&filters.since)?;
    let until = filters.until.map(|until| until.resolve(now));

    let created_is = |image: &ImageSummary, bound: Option<DateTime<Utc>>, before: bool| {
        bound.is_none_or(|bound| {
            image.created.is_some_and(|created| {
                if before {
                    created < bound
                } else {
                    created > bound
                }
            })
        })
    };

    let mut kept = Vec::new();
    for mut image in images {
        if filters.dangling.is_some_and(|d| d != image.is_dangling())
            || !created_is(&image, before, true)
            || !created_is(&image, until, true)
            || !created_is(&image, since, false)
            || !labels_pass(&filters.labels, &filters.labels_not, &image.labels)
        {
            continue;
        }
        if !filters.references.is_empty() {
            let wanted = |text: &String| reference_matches(&filters.references, text);
            image.repo_tags.retain(wanted);
            image.repo_digests.retain(wanted);
            if image.repo_tags.is_empty() && image.repo_digests.is_empty() {
                continue;
            }
        }
        kept.push(image);
    }
    Ok(kept)
}

/// Whether any glob matches the tag or digest reference `text` by
/// distribution's `FamiliarMatch` (moby's `daemon/images/image_list.go`).
fn reference_matches(patterns: &[String], text: &str) -> bool {
    match Reference::parse_normalized(text) {
        Ok(r) => patterns
            .iter()
            .any(|pattern| reference::familiar_match(pattern, &r).unwrap_or(false)),
        Err(_) => patterns
            .iter()
            .any(|pattern| reference::path_match(pattern, text).unwrap_or(false)),
    }
}

/// Finds one image in a list the way docker resolves a name: a reference
/// (normalized, :latest added when no tag/digest; matches repo_tags or, for
/// digests, repo_digests), a full ID with or without `sha256:`, or a unique
/// hex prefix of the ID. Ambiguous prefix / missing => ImageError::NotFound
/// (docker says "No such image"). Bad reference text =>
/// ImageError::InvalidReference.
///
/// Follows `resolveImage` in moby's `daemon/containerd/image.go`: the text is
/// read with `ParseAnyReference`; a bare digest or 64-hex ID must equal an
/// image's ID; a reference with a digest must be one of an image's repo
/// digests (same repository, any tag in the text is ignored); otherwise the
/// `name:tag` is looked up among the tags first, then, if the text is 4 to 64
/// lower-case hex digits (optionally after `sha256:`), as an ID prefix. The
/// error names the reference as docker's `ErrImageDoesNotExist` does, for
/// example `No such image: nope:latest`.
pub fn find_image<'a>(images: &'a [ImageSummary], name: &str) -> Result<&'a ImageSummary> {
    let named = match reference::parse_any(name) {
        Err(err) => return Err(ImageError::invalid_reference(name, err)),
        Ok(AnyReference::Digest(digest)) => {
            return images
                .iter()
                .find(|image| image.id == digest)
                .ok_or_else(|| ImageError::not_found(digest));
        }
        Ok(AnyReference::Named(named)) => named,
    };
    if let Some(digest) = named.digest() {
        let repository = named.name();
        return images
            .iter()
            .find(|image| {
                image.repo_digests.iter().any(|text| {
                    Reference::parse_normalized(text)
                        .is_ok_and(|r| r.name() == repository && r.digest() == Some(digest))
                })
            })
            .ok_or_else(|| ImageError::not_found(named.familiar()));
    }
    let wanted = named.tag_name_only();
    let full = wanted.to_string();
    let tagged = images.iter().find(|image| {
        image
            .repo_tags
            .iter()
            .any(|text| Reference::parse_normalized(text).is_ok_and(|r| r.to_string() == full))
    });
    if let Some(image) = tagged {
        return Ok(image);
    }
    if let Some(prefix) = truncated_id(name) {
        let mut matches = images.iter().filter(|image| {
            let hex = image.id.strip_prefix("sha256:").unwrap_or(&image.id);
            hex.starts_with(prefix)
        });
        if let Some(first) = matches.next() {
            if matches.all(|other| other.id == first.id) {
                return Ok(first);
            }
        }
    }
    Err(ImageError::not_found(wanted.familiar()))
}

/// moby's `checkTruncatedID` (`daemon/containerd/image.go`): 4 to 64
/// lower-case hex digits, optionally after `sha256:`.
fn truncated_id(text: &str) -> Option<&str> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    let valid = (4..=64).contains(&hex.len())
        && hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    valid.then_some(hex)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn message(err: ImageError) -> String {
        err.to_string()
    }

    fn list_err(args: &[&str]) -> String {
        message(ImageFilters::parse(args).unwrap_err())
    }

    fn prune_err(args: &[&str]) -> String {
        message(PruneFilters::parse(args).unwrap_err())
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hex(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn image(
        id: &str,
        tags: &[&str],
        created: Option<&str>,
        labels: &[(&str, &str)],
    ) -> ImageSummary {
        ImageSummary {
            id: format!("sha256:{id}"),
            repo_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            repo_digests: Vec::new(),
            parent_id: None,
            created: created.map(at),
            size: 1,
            shared_size: None,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            containers: 0,
        }
    }

    /// alpine (2020), busybox (2021, two tags, a digest), a dangling image
    /// (2022), app (2023, labels), registry app (2024).
    fn images() -> Vec<ImageSummary> {
        let mut busybox = image(
            &format!("bb{}", &hex('1')[2..]),
            &["busybox:latest", "busybox:1.36"],
            Some("2021-01-01T00:00:00Z"),
            &[],
        );
        busybox.repo_digests = vec![format!("busybox@sha256:{}", hex('d'))];
        vec![
            image(
                &hex('a'),
                &["alpine:3.20"],
                Some("2020-01-01T00:00:00Z"),
                &[],
            ),
            busybox,
            image(
                &format!("abcd{}", &hex('0')[4..]),
                &[],
                Some("2022-01-01T00:00:00Z"),
                &[],
            ),
            image(
                &format!("abce{}", &hex('0')[4..]),
                &["app:v1"],
                Some("2023-01-01T00:00:00Z"),
                &[("tier", "web"), ("team", "a")],
            ),
            image(
                &hex('c'),
                &["127.0.0.1:5000/app:v2"],
                Some("2024-01-01T00:00:00Z"),
                &[("tier", "db")],
            ),
        ]
    }

    fn now() -> DateTime<Utc> {
        at("2025-01-01T00:00:00Z")
    }

    fn listed(args: &[&str]) -> Vec<String> {
        let filters = ImageFilters::parse(args).unwrap();
        apply(&filters, images(), now())
            .unwrap()
            .into_iter()
            .map(|i| {
                i.repo_tags
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "<none>".into())
            })
            .collect()
    }

    // --- splitting and keys -------------------------------------------------

    #[test]
    fn arguments_split_like_the_docker_cli() {
        assert_eq!(
            list_err(&["dangling"]),
            "bad format of filter (expected name=value)"
        );
        let f = ImageFilters::parse(["", " Dangling = true ", "LABEL=a=b=c"]).unwrap();
        assert_eq!(f.dangling, Some(true));
        assert_eq!(f.labels, vec![LabelFilter::equals("a", "b=c")]);
        assert!(
            ImageFilters::parse(Vec::<String>::new())
                .unwrap()
                .is_empty()
        );
        assert!(!f.is_empty());
    }

    #[test]
    fn unknown_keys_use_dockers_message() {
        assert_eq!(list_err(&["bogus=1"]), "invalid filter 'bogus'");
        assert_eq!(list_err(&["=1"]), "invalid filter");
        let err = ImageFilters::parse(["Bogus=1"]).unwrap_err();
        assert!(matches!(err, ImageError::InvalidFilter { ref filter, .. } if filter == "bogus"));
        assert_eq!(prune_err(&["before=alpine"]), "invalid filter 'before'");
        assert_eq!(
            prune_err(&["reference=alpine"]),
            "invalid filter 'reference'"
        );
        assert_eq!(prune_err(&["dangling=true"]), "invalid filter 'dangling'");
        assert_eq!(prune_err(&["label=a", "since=x"]), "invalid filter 'since'");
    }

    // --- dangling -----------------------------------------------------------

    #[test]
    fn dangling_takes_dockers_booleans_only() {
        for (text, want) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            let f = ImageFilters::parse([format!("dangling={text}")]).unwrap();
            assert_eq!(f.dangling, Some(want), "{text}");
        }
        assert_eq!(
            list_err(&["dangling=TRUE"]),
            "invalid filter 'dangling=[TRUE]'"
        );
        assert_eq!(
            list_err(&["dangling=yes"]),
            "invalid filter 'dangling=[yes]'"
        );
        assert_eq!(list_err(&["dangling="]), "invalid filter 'dangling=[]'");
        assert_eq!(
            list_err(&["dangling=true", "dangling=false"]),
            "invalid filter 'dangling=[true false]'"
        );
        // A set: repeats and an extra recognized value are fine.
        let f = ImageFilters::parse(["dangling=true", "dangling=1", "dangling=true"]).unwrap();
        assert_eq!(f.dangling, Some(true));
    }

    #[test]
    fn dangling_looks_at_tags_only() {
        assert_eq!(listed(&["dangling=true"]), vec!["<none>"]);
        assert_eq!(listed(&["dangling=false"]).len(), 4);
        let mut digest_only = image(&hex('e'), &[], None, &[]);
        digest_only.repo_digests = vec![format!("alpine@sha256:{}", hex('f'))];
        let f = ImageFilters::parse(["dangling=true"]).unwrap();
        assert_eq!(apply(&f, vec![digest_only], now()).unwrap().len(), 1);
    }

    // --- labels -------------------------------------------------------------

    #[test]
    fn label_filters_parse() {
        let f = ImageFilters::parse(["label=a", "label=b=", "label!=c=d", "label=e!=f", "label="])
            .unwrap();
        assert_eq!(
            f.labels,
            vec![
                LabelFilter::exists("a"),
                LabelFilter::equals("b", ""),
                LabelFilter::exists(""),
            ]
        );
        assert_eq!(
            f.labels_not,
            vec![LabelFilter::equals("c", "d"), LabelFilter::equals("e", "f")]
        );
        assert_eq!(LabelFilter::equals("a", "b").to_string(), "a=b");
        assert_eq!(LabelFilter::exists("a").to_string(), "a");
    }

    #[test]
    fn oversized_labels_use_containerds_message() {
        let key = "k".repeat(100);
        let arg = format!("label={key}={}", "v".repeat(4000));
        assert_eq!(
            list_err(&[&arg]),
            format!(
                "label key and value length (4100 bytes) greater than maximum size (4096 bytes), key: {}: invalid argument",
                "k".repeat(64)
            )
        );
        let ok = format!("label={}", "k".repeat(4096));
        assert!(ImageFilters::parse([ok]).is_ok());
    }

    #[test]
    fn labels_are_anded_and_negations_exclude() {
        assert_eq!(
            listed(&["label=tier"]),
            vec!["app:v1", "127.0.0.1:5000/app:v2"]
        );
        assert_eq!(listed(&["label=tier", "label=team=a"]), vec!["app:v1"]);
        assert_eq!(
            listed(&["label=tier=web", "label=tier=db"]),
            Vec::<String>::new()
        );
        assert_eq!(listed(&["label=tier", "label!=tier=db"]), vec!["app:v1"]);
        assert_eq!(listed(&["label!=tier"]).len(), 3);
        assert_eq!(listed(&["label=tier=db!"]), Vec::<String>::new());
        assert_eq!(listed(&["label=tier!=db"]), listed(&["label!=tier=db"]));
        let labels: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        assert!(LabelFilter::exists("a").matches(&labels));
        assert!(LabelFilter::equals("a", "1").matches(&labels));
        assert!(!LabelFilter::equals("a", "2").matches(&labels));
        assert!(!LabelFilter::exists("b").matches(&labels));
    }

    // --- reference ----------------------------------------------------------

    #[test]
    fn bad_reference_globs_are_rejected() {
        assert_eq!(list_err(&["reference=[abc"]), "syntax error in pattern");
        assert_eq!(list_err(&["reference=a\\"]), "syntax error in pattern");
        let err = ImageFilters::parse(["reference=[]"]).unwrap_err();
        assert!(
            matches!(err, ImageError::InvalidFilter { ref filter, .. } if filter == "reference=[]")
        );
        let bad = ImageFilters {
            references: vec!["[".into()],
            ..ImageFilters::default()
        };
        assert!(apply(&bad, images(), now()).is_err());
    }

    #[test]
    fn references_are_ored_and_trim_tags() {
        assert_eq!(listed(&["reference=alpine"]), vec!["alpine:3.20"]);
        assert_eq!(
            listed(&["reference=alpine", "reference=busybox"]),
            vec!["alpine:3.20", "busybox:latest"]
        );
        assert_eq!(listed(&["reference=*:v*"]), vec!["app:v1"]);
        assert_eq!(listed(&["reference=*/app*"]), vec!["127.0.0.1:5000/app:v2"]);
        // FamiliarMatch: full names do not match familiar references.
        assert_eq!(
            listed(&["reference=docker.io/library/alpine"]),
            Vec::<String>::new()
        );
        assert_eq!(
            listed(&["reference=docker.io/library/*:3.*"]),
            Vec::<String>::new()
        );
        assert_eq!(listed(&["reference="]), Vec::<String>::new());

        let f = ImageFilters::parse(["reference=busybox:1.*"]).unwrap();
        let out = apply(&f, images(), now()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].repo_tags, vec!["busybox:1.36"]);
        assert!(out[0].repo_digests.is_empty());

        let f = ImageFilters::parse(["reference=busybox"]).unwrap();
        let out = apply(&f, images(), now()).unwrap();
        assert_eq!(out[0].repo_tags, vec!["busybox:latest", "busybox:1.36"]);
        assert_eq!(out[0].repo_digests.len(), 1, "digest refs match by name");

        let f = ImageFilters::parse(["reference=busybox@*"]).unwrap();
        let out = apply(&f, images(), now()).unwrap();
        assert!(out[0].repo_tags.is_empty());
        assert_eq!(out[0].repo_digests.len(), 1);
    }

    // --- before / since / until -------------------------------------------

    #[test]
    fn before_and_since_compare_creation_times() {
        assert_eq!(
            listed(&["before=app:v1"]),
            vec!["alpine:3.20", "busybox:latest", "<none>"]
        );
        assert_eq!(
            listed(&["since=busybox"]),
            vec!["<none>", "app:v1", "127.0.0.1:5000/app:v2"]
        );
        assert_eq!(
            listed(&["since=alpine:3.20", "before=abcd"]),
            vec!["busybox:latest"]
        );
        let ccc = format!("before=sha256:{}", hex('c'));
        assert_eq!(listed(&[&ccc]).len(), 4);
        assert_eq!(listed(&[&format!("since={}", hex('a'))]).len(), 4);
    }

    #[test]
    fn before_and_since_errors() {
        let f = ImageFilters::parse(["before=nope"]).unwrap();
        let err = apply(&f, images(), now()).unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.to_string(), "No such image: nope:latest");
        let f = ImageFilters::parse(["since=abc"]).unwrap();
        assert_eq!(
            apply(&f, images(), now()).unwrap_err().to_string(),
            "No such image: abc:latest"
        );
        let err = ImageFilters::parse(["before=Alpine"]).unwrap_err();
        assert!(matches!(err, ImageError::InvalidReference { .. }), "{err}");
        let err = ImageFilters::parse(["since="]).unwrap_err();
        assert!(matches!(err, ImageError::InvalidReference { .. }), "{err}");
        assert_eq!(
            list_err(&["before=alpine", "before=busybox"]),
            "more than one before filter specified"
        );
        assert!(ImageFilters::parse(["before=alpine", "before=alpine"]).is_ok());
    }

    #[test]
    fn images_without_creation_time() {
        let mut list = images();
        list.push(image(&hex('9'), &["old:1"], None, &[]));
        let f = ImageFilters::parse(["since=old:1"]).unwrap();
        assert_eq!(apply(&f, list.clone(), now()).unwrap().len(), 6, "ignored");
        let f = ImageFilters::parse(["until=1h"]).unwrap();
        assert_eq!(apply(&f, list.clone(), now()).unwrap().len(), 5);
        let f = ImageFilters::parse(["before=app:v1"]).unwrap();
        assert!(
            apply(&f, list, now())
                .unwrap()
                .iter()
                .all(|i| i.created.is_some())
        );
    }

    #[test]
    fn until_keeps_images_created_before() {
        assert_eq!(
            listed(&["until=2022-01-01"]),
            vec!["alpine:3.20", "busybox:latest"]
        );
        assert_eq!(listed(&["until=2022-01-01T00:00:01"]).len(), 3);
        // 17544h before 2025-01-01 is 2023-01-01, when app:v1 was created.
        assert_eq!(
            listed(&["until=17544h"]),
            vec!["alpine:3.20", "busybox:latest", "<none>"]
        );
        assert_eq!(listed(&["until=1577836801"]), vec!["alpine:3.20"]);
        assert_eq!(
            list_err(&["until=1h", "until=2h"]),
            "more than one until filter specified"
        );
        assert!(ImageFilters::parse(["until=1h", "until=1h"]).is_ok());
    }

    #[test]
    fn until_parses_go_durations() {
        let ago = |text: &str| match TimeFilter::parse(text).unwrap() {
            TimeFilter::Ago(d) => d,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(ago("720h"), Duration::from_secs(720 * 3600));
        assert_eq!(ago("1h30m"), Duration::from_secs(5400));
        assert_eq!(ago("1.5h"), Duration::from_secs(5400));
        assert_eq!(ago(".5s"), Duration::from_millis(500));
        assert_eq!(ago("1.s"), Duration::from_secs(1));
        assert_eq!(ago("+2m"), Duration::from_secs(120));
        assert_eq!(ago("300ms"), Duration::from_millis(300));
        assert_eq!(ago("5us"), Duration::from_micros(5));
        assert_eq!(ago("5µs"), Duration::from_micros(5));
        assert_eq!(ago("5μs"), Duration::from_micros(5));
        assert_eq!(ago("7ns"), Duration::from_nanos(7));
        assert_eq!(ago("0m"), Duration::ZERO);
        assert_eq!(ago("-0s"), Duration::ZERO);
        assert_eq!(ago("+0"), Duration::ZERO);
        assert_eq!(
            ago("2562047h47m16.854775807s"),
            Duration::from_nanos(i64::MAX as u64)
        );
        assert!(TimeFilter::parse("2562047h47m16.854775808s").is_err());
        // Go's float arithmetic for fractions of hours, to the nanosecond.
        assert_eq!(
            ago("0.123456789123h"),
            Duration::from_nanos(444_444_440_842)
        );
        // Bare 0 is the unix epoch, not a duration.
        assert_eq!(
            TimeFilter::parse("0").unwrap(),
            TimeFilter::At(DateTime::UNIX_EPOCH)
        );
        assert_eq!(
            message(TimeFilter::parse("-1h").unwrap_err()),
            "invalid value for 'until' filter: negative durations (times in the future) are not supported: \"-1h\""
        );
        for bad in ["1d", "h", ".h", "1hh", "1.5.5h", "--1h", "1h-"] {
            assert!(TimeFilter::parse(bad).is_err(), "{bad}");
        }
        // "1" is not a duration (no unit) but a unix timestamp.
        assert_eq!(
            TimeFilter::parse("1").unwrap(),
            TimeFilter::At(DateTime::from_timestamp(1, 0).unwrap())
        );
    }

    #[test]
    fn until_parses_times_like_moby() {
        // The table of moby's daemon/internal/timestamp/timestamp_test.go
        // (times without a zone are UTC here).
        let cases = [
            (
                "2006-01-02T15:04:05.999999999+07:00",
                "2006-01-02T08:04:05.999999999Z",
            ),
            (
                "2006-01-02T15:04:05.999999999Z",
                "2006-01-02T15:04:05.999999999Z",
            ),
            (
                "2006-01-02T15:04:05.999999999",
                "2006-01-02T15:04:05.999999999Z",
            ),
            ("2006-01-02T15:04:05Z", "2006-01-02T15:04:05Z"),
            ("2006-01-02T15:04:05", "2006-01-02T15:04:05Z"),
            ("2006-01-02T15:04Z", "2006-01-02T15:04:00Z"),
            ("2006-01-02T15:04+00:00", "2006-01-02T15:04:00Z"),
            ("2006-01-02T15:04-00:00", "2006-01-02T15:04:00Z"),
            ("2006-01-02T15:04", "2006-01-02T15:04:00Z"),
            ("2006-01-02T15Z", "2006-01-02T15:00:00Z"),
            ("2006-01-02T15+00:00", "2006-01-02T15:00:00Z"),
            ("2006-01-02T15-00:00", "2006-01-02T15:00:00Z"),
            ("2006-01-02T15", "2006-01-02T15:00:00Z"),
            ("2006-01-02T1Z", "2006-01-02T01:00:00Z"),
            ("2006-01-02T1", "2006-01-02T01:00:00Z"),
            ("2006-01-02+00:00", "2006-01-02T00:00:00Z"),
            ("2006-01-02-00:00", "2006-01-02T00:00:00Z"),
            ("2006-01-02-00:01", "2006-01-02T00:01:00Z"),
            ("2006-01-02Z", "2006-01-02T00:00:00Z"),
            ("2006-01-02", "2006-01-02T00:00:00Z"),
            ("2015-05-13T20:39:09Z", "2015-05-13T20:39:09Z"),
            ("2015-05-13T20:39:09.5+01:30", "2015-05-13T19:09:09.5Z"),
            ("2015-05-13T20:39:09,25Z", "2015-05-13T20:39:09.25Z"),
            ("1136073600", "2006-01-01T00:00:00Z"),
            ("1136073600.", "2006-01-01T00:00:00Z"),
            ("1136073600.000000001", "2006-01-01T00:00:00.000000001Z"),
            ("1136073600.1", "2006-01-01T00:00:00.1Z"),
            ("1136073600.0000000019", "2006-01-01T00:00:00.000000001Z"),
            ("1136073600.00000000000000000001", "2006-01-01T00:00:00Z"),
            ("+1136073600", "2006-01-01T00:00:00Z"),
        ];
        for (text, want) in cases {
            assert_eq!(
                TimeFilter::parse(text).unwrap(),
                TimeFilter::At(at(want)),
                "{text}"
            );
        }
        for bad in [
            "2006-01-02T15:04:0Z",
            "2006-01-02T15:04:0",
            "2006-01-02T15:0Z",
            "2006-01-02T15:0",
            "2006-01-02TZ",
            "2006-01-02T",
            " 1136073600 \t",
            "foo.bar",
            "1136073600.bar",
            "1136073600.000000001bar",
            "1136073600.000000000000000000001",
            "invalid",
            "",
            "-1136073600",
        ] {
            assert!(TimeFilter::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn until_errors_use_dockers_wording() {
        let err = |text: &str| message(TimeFilter::parse(text).unwrap_err());
        let p = "invalid value for 'until' filter: ";
        assert_eq!(
            err("foo"),
            format!(
                "{p}failed to parse value as time or duration: invalid seconds \"foo\": invalid syntax"
            )
        );
        assert_eq!(
            err(""),
            format!("{p}failed to parse value as time or duration: value is empty")
        );
        assert_eq!(
            err("99999999999999999999"),
            format!(
                "{p}failed to parse value as time or duration: invalid seconds \"99999999999999999999\": value out of range"
            )
        );
        assert_eq!(
            err("1.2.3"),
            format!(
                "{p}failed to parse value as time or duration: invalid nanoseconds: invalid character '.' at position 1"
            )
        );
        assert_eq!(
            err("1.000000000000000000001"),
            format!(
                "{p}failed to parse value as time or duration: invalid nanoseconds: length 21 exceeds maximum 20"
            )
        );
        assert_eq!(
            err("2006-13-01"),
            format!("{p}parsing time \"2006-13-01\": month out of range")
        );
        assert_eq!(
            err("2006-02-30"),
            format!("{p}parsing time \"2006-02-30\": day out of range")
        );
        assert_eq!(
            err("2006-01-02T25"),
            format!("{p}parsing time \"2006-01-02T25\": hour out of range")
        );
        assert_eq!(
            err("2006-01-02T15:04:0"),
            format!(
                "{p}parsing time \"2006-01-02T15:04:0\" as \"2006-01-02T15:04:05\": cannot parse \"0\" as \"05\""
            )
        );
        assert_eq!(
            err("2006/01/02"),
            format!(
                "{p}failed to parse value as time or duration: invalid seconds \"2006/01/02\": invalid syntax"
            )
        );
        assert_eq!(
            err("2006-01-02x"),
            format!("{p}parsing time \"2006-01-02x\": extra text: \"x\"")
        );
        assert_eq!(
            err("2006-01-02T10:00+25:00"),
            format!(
                "{p}parsing time \"2006-01-02T10:00+25:00\": time zone offset hour out of range"
            )
        );
        assert_eq!(
            err("2006-01-02T10:00*01:00"),
            format!(
                "{p}parsing time \"2006-01-02T10:00*01:00\" as \"2006-01-02T15:04:05\": cannot parse \"*01:00\" as \":\""
            )
        );
        assert_eq!(
            err("2006-1-02"),
            format!(
                "{p}parsing time \"2006-1-02\" as \"2006-01-02\": cannot parse \"1-02\" as \"01\""
            )
        );
        let e = TimeFilter::parse("nope").unwrap_err();
        assert!(
            matches!(e, ImageError::InvalidFilter { ref filter, .. } if filter == "until=nope")
        );
    }

    #[test]
    fn time_filters_resolve_and_display() {
        let now = now();
        assert_eq!(
            TimeFilter::Ago(Duration::from_secs(3600)).resolve(now),
            at("2024-12-31T23:00:00Z")
        );
        assert_eq!(
            TimeFilter::At(at("2001-01-01T00:00:00Z")).resolve(now),
            at("2001-01-01T00:00:00Z")
        );
        assert_eq!(
            TimeFilter::Ago(Duration::MAX).resolve(now),
            DateTime::<Utc>::MIN_UTC
        );
        let shown = |t: TimeFilter| t.to_string();
        assert_eq!(shown(TimeFilter::Ago(Duration::ZERO)), "0s");
        assert_eq!(
            shown(TimeFilter::Ago(Duration::from_secs(720 * 3600))),
            "720h"
        );
        assert_eq!(shown(TimeFilter::Ago(Duration::from_secs(5400))), "1h30m");
        assert_eq!(
            shown(TimeFilter::Ago(Duration::from_millis(3_600_500))),
            "1h0.5s"
        );
        assert_eq!(
            shown(TimeFilter::Ago(Duration::from_nanos(1))),
            "0.000000001s"
        );
        assert_eq!(
            shown(TimeFilter::At(at("2006-01-02T15:04:05Z"))),
            "2006-01-02T15:04:05Z"
        );
        assert_eq!(
            shown(TimeFilter::At(at("2006-01-02T15:04:05.5Z"))),
            "2006-01-02T15:04:05.500Z"
        );
        let far = Utc.with_ymd_and_hms(12000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            shown(TimeFilter::At(far)),
            format!("{}.000000000", far.timestamp())
        );
        assert_eq!(
            TimeFilter::parse(&shown(TimeFilter::At(far))).unwrap(),
            TimeFilter::At(far)
        );
        let json = serde_json::to_string(&TimeFilter::Ago(Duration::from_secs(60))).unwrap();
        assert_eq!(json, "\"1m\"");
        let back: TimeFilter = serde_json::from_str("\"2006-01-02\"").unwrap();
        assert_eq!(back, TimeFilter::At(at("2006-01-02T00:00:00Z")));
        assert!(serde_json::from_str::<TimeFilter>("\"soon\"").is_err());
        assert_eq!("90m".parse::<TimeFilter>().unwrap().to_string(), "1h30m");
    }

    // --- find_image ---------------------------------------------------------

    #[test]
    fn find_image_by_reference() {
        let list = images();
        assert_eq!(
            find_image(&list, "alpine:3.20").unwrap().id,
            format!("sha256:{}", hex('a'))
        );
        assert_eq!(
            find_image(&list, "docker.io/library/alpine:3.20")
                .unwrap()
                .id,
            list[0].id
        );
        assert_eq!(
            find_image(&list, "busybox").unwrap().id,
            list[1].id,
            "latest added"
        );
        assert_eq!(
            find_image(&list, "127.0.0.1:5000/app:v2").unwrap().id,
            list[4].id
        );
        let err = find_image(&list, "alpine").unwrap_err();
        assert_eq!(err.to_string(), "No such image: alpine:latest");
        let err = find_image(&list, "UPPER").unwrap_err();
        assert!(matches!(err, ImageError::InvalidReference { .. }));
    }

    #[test]
    fn find_image_by_id() {
        let list = images();
        assert_eq!(find_image(&list, &hex('a')).unwrap().id, list[0].id);
        assert_eq!(
            find_image(&list, &format!("sha256:{}", hex('c')))
                .unwrap()
                .id,
            list[4].id
        );
        assert_eq!(
            find_image(&list, "aaaa").unwrap().id,
            list[0].id,
            "short ID"
        );
        assert_eq!(find_image(&list, "sha256:cccc").unwrap().id, list[4].id);
        assert_eq!(find_image(&list, "abcd").unwrap().id, list[2].id);
        let err = find_image(&list, "abc").unwrap_err();
        assert!(err.is_not_found(), "three digits are too few");
        let missing = format!("sha256:{}", hex('f'));
        assert_eq!(
            find_image(&list, &missing).unwrap_err().to_string(),
            format!("No such image: {missing}")
        );
    }

    #[test]
    fn find_image_ambiguous_prefix() {
        let list = images();
        let err = find_image(&list, "abc0").unwrap_err();
        assert!(err.is_not_found());
        let err = find_image(&list, "ab").unwrap_err();
        assert_eq!(err.to_string(), "No such image: ab:latest");
        let err = find_image(&list, "abc").unwrap_err();
        assert!(err.is_not_found());
        // abcd... and abce... share "abc".
        let mut two = images();
        two.retain(|i| i.id.starts_with("sha256:abc"));
        assert_eq!(two.len(), 2);
        assert!(find_image(&two, "abcd").is_ok());
        assert!(find_image(&two, "sha256:abc0").unwrap_err().is_not_found());
        let dup = vec![two[0].clone(), two[0].clone()];
        assert!(
            find_image(&dup, "abcd").is_ok(),
            "the same image twice is not ambiguous"
        );
        let ambiguous = vec![
            image(
                &format!("1234{}", hex('0').get(4..).unwrap()),
                &[],
                None,
                &[],
            ),
            image(
                &format!("1234{}", hex('1').get(4..).unwrap()),
                &[],
                None,
                &[],
            ),
        ];
        let err = find_image(&ambiguous, "1234").unwrap_err();
        assert_eq!(err.to_string(), "No such image: 1234:latest");
    }

    #[test]
    fn find_image_by_digest() {
        let list = images();
        let digest = format!("sha256:{}", hex('d'));
        assert_eq!(
            find_image(&list, &format!("busybox@{digest}")).unwrap().id,
            list[1].id
        );
        assert_eq!(
            find_image(&list, &format!("docker.io/library/busybox:any@{digest}"))
                .unwrap()
                .id,
            list[1].id,
            "the tag is ignored"
        );
        let err = find_image(&list, &format!("alpine@{digest}")).unwrap_err();
        assert_eq!(err.to_string(), format!("No such image: alpine@{digest}"));
        assert!(
            find_image(&list, &digest).unwrap_err().is_not_found(),
            "not an image ID"
        );
    }

    // --- prune --------------------------------------------------------------

    #[test]
    fn prune_filters_parse_and_match() {
        let f = PruneFilters::parse(["until=24h", "label=tier", "label!=tier=db"]).unwrap();
        assert_eq!(f.until, Some(TimeFilter::Ago(Duration::from_secs(86_400))));
        assert_eq!(
            f.to_args(),
            vec!["until=24h", "label=tier", "label!=tier=db"]
        );
        assert_eq!(PruneFilters::parse(f.to_args()).unwrap(), f);
        let list = images();
        let names: Vec<&str> = list
            .iter()
            .filter(|i| f.matches(i, now()))
            .map(|i| i.repo_tags[0].as_str())
            .collect();
        assert_eq!(names, vec!["app:v1"]);
        assert!(PruneFilters::default().is_empty());
        assert!(
            list.iter()
                .all(|i| PruneFilters::default().matches(i, now()))
        );
        let until = PruneFilters::parse(["until=2022-01-01T00:00:00Z"]).unwrap();
        assert_eq!(list.iter().filter(|i| until.matches(i, now())).count(), 2);
        let mut unknown = list[0].clone();
        unknown.created = None;
        assert!(!until.matches(&unknown, now()));
        assert_eq!(
            prune_err(&["until=1h", "until=2h"]),
            "more than one until filter specified"
        );
        assert_eq!(
            prune_err(&["label"]),
            "bad format of filter (expected name=value)"
        );
    }

    // --- round trips --------------------------------------------------------

    #[test]
    fn to_args_round_trips() {
        let f = ImageFilters::parse([
            "dangling=false",
            "reference=alpine*",
            "reference=*/app:v[0-9]",
            "label=a",
            "label=b=c=d",
            "label!=e",
            "label=f!=g",
            "before=alpine:3.20",
            "since=abcd",
            "until=2006-01-02T15:04:05.123Z",
        ])
        .unwrap();
        assert_eq!(
            f.to_args(),
            vec![
                "dangling=false",
                "reference=alpine*",
                "reference=*/app:v[0-9]",
                "label=a",
                "label=b=c=d",
                "label!=e",
                "label!=f=g",
                "before=alpine:3.20",
                "since=abcd",
                "until=2006-01-02T15:04:05.123Z",
            ]
        );
        assert_eq!(ImageFilters::parse(f.to_args()).unwrap(), f);
        // Keys that end in `!` survive.
        let odd = ImageFilters {
            labels: vec![LabelFilter::equals("x!", "1"), LabelFilter::exists("!")],
            labels_not: vec![LabelFilter::exists("y!")],
            ..ImageFilters::default()
        };
        assert_eq!(
            odd.to_args(),
            vec!["label!=x!!=1", "label!=!!", "label=y!!"]
        );
        assert_eq!(ImageFilters::parse(odd.to_args()).unwrap(), odd);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<ImageFilters>(&json).unwrap(), f);
        assert_eq!(
            serde_json::from_str::<ImageFilters>("{}").unwrap(),
            ImageFilters::default()
        );
    }

    fn label_strategy() -> impl Strategy<Value = LabelFilter> {
        let key = "([a-z][a-z0-9._-]{0,8})?!?";
        let value = prop_oneof![
            Just(None),
            Just(Some(String::new())),
            "[a-z0-9=! .-]{0,6}[a-z0-9]".prop_map(Some),
        ];
        (key, value).prop_map(|(key, value)| LabelFilter { key, value })
    }

    fn time_strategy() -> impl Strategy<Value = TimeFilter> {
        prop_oneof![
            (0..=i64::MAX as u64).prop_map(|n| TimeFilter::Ago(Duration::from_nanos(n))),
            (0u64..10_000_000).prop_map(|s| TimeFilter::Ago(Duration::from_secs(s))),
            (-62_167_219_200i64..=8_210_266_876_799, 0u32..1_000_000_000)
                .prop_map(|(s, n)| TimeFilter::At(DateTime::from_timestamp(s, n).unwrap())),
            (0i64..=2_000_000_000)
                .prop_map(|s| TimeFilter::At(DateTime::from_timestamp(s, 0).unwrap())),
        ]
    }

    fn image_filters_strategy() -> impl Strategy<Value = ImageFilters> {
        let name = "[a-z0-9]{1,10}(:[a-z0-9]{1,6})?";
        (
            any::<Option<bool>>(),
            prop::collection::vec("[a-z0-9*?/:._-]{0,12}", 0..3),
            prop::collection::vec(label_strategy(), 0..3),
            prop::collection::vec(label_strategy(), 0..3),
            prop::option::of(name),
            prop::option::of(name),
            prop::option::of(time_strategy()),
        )
            .prop_map(
                |(dangling, references, labels, labels_not, before, since, until)| ImageFilters {
                    dangling,
                    references,
                    labels,
                    labels_not,
                    before,
                    since,
                    until,
                },
            )
    }

    proptest! {
        #[test]
        fn image_filters_round_trip(f in image_filters_strategy()) {
            prop_assert_eq!(ImageFilters::parse(f.to_args()).unwrap(), f);
        }

        #[test]
        fn prune_filters_round_trip(
            until in prop::option::of(time_strategy()),
            labels in prop::collection::vec(label_strategy(), 0..3),
            labels_not in prop::collection::vec(label_strategy(), 0..3),
        ) {
            let f = PruneFilters { until, labels, labels_not };
            prop_assert_eq!(PruneFilters::parse(f.to_args()).unwrap(), f);
        }

        #[test]
        fn time_filters_round_trip(t in time_strategy()) {
            prop_assert_eq!(TimeFilter::parse(&t.to_string()).unwrap(), t);
        }

        #[test]
        fn parsing_never_panics(args in prop::collection::vec("\\PC{0,16}", 0..4)) {
            let _ = ImageFilters::parse(&args);
            let _ = PruneFilters::parse(&args);
            for a in &args {
                let _ = TimeFilter::parse(a);
                let _ = find_image(&images(), a);
            }
        }
    }
}
