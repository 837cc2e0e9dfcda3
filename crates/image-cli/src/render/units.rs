//! Human-readable sizes and durations, byte-for-byte as the docker CLI prints
//! them.
//!
//! The docker CLI formats sizes and ages with `github.com/docker/go-units`:
//!
//! * `HumanSizeWithPrecision(size, p)` divides by 1000 until the value is below
//!   1000 (or the unit list `B kB MB GB TB PB EB ZB YB` runs out) and prints
//!   `fmt.Sprintf("%.*g%s", p, size, unit)`: no space, Go's `%g` rules, so
//!   `999.5kB` at 3 digits becomes `1e+03kB` and `1e+04YB` is possible.
//! * `HumanSize` is the same with 4 digits; `BytesSize` uses base 1024 and
//!   `B KiB MiB GiB TiB PiB EiB ZiB YiB`, also with `%.4g`.
//! * `HumanDuration` approximates a `time.Duration` (nanoseconds in an `i64`).
//!
//! Where docker 28 uses which precision: `docker images` SIZE, `docker history`
//! SIZE, `docker ps` SIZE, build-cache SIZE and `docker stats` NET/BLOCK I/O use
//! 3 digits; `docker system df`, the `VirtualSize`/`SharedSize`/`UniqueSize`
//! image fields, volume sizes and every `Total reclaimed space: …` line use
//! [`human_size`] (4 digits); memory figures use [`bytes_size`].

use chrono::{DateTime, Duration, Utc};

/// Decimal units used by go-units' `HumanSize` family.
const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// Binary units used by go-units' `BytesSize`.
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Seconds since the Unix epoch of 2000-01-01T00:00:00Z: `docker history`
/// prints `N/A` for layers created at or before it.
const HISTORY_EPOCH_SECS: i64 = 946_684_800;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

/// go-units `HumanSize`: decimal units, 4 significant digits (`1.024kB`,
/// `2.746MB`, `796kB`). Used by `docker system df` and `Total reclaimed space`.
pub fn human_size(bytes: f64) -> String {
    human_size_with_precision(bytes, 4)
}

/// go-units `HumanSizeWithPrecision`: decimal units with `precision`
/// significant digits, formatted by Go's `%.*g` (`docker images` uses 3:
/// `78.1MB`, `1.23GB`, `999B`, `1e+03kB` for 999 500 bytes, where 4 digits
/// give `1000kB`).
pub fn human_size_with_precision(bytes: f64, precision: usize) -> String {
    let (size, unit) = size_and_unit(bytes, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", go_g(size, precision))
}

/// go-units `BytesSize`: binary units (`KiB`, `MiB`, …), 4 significant digits
/// (`1KiB`, `3.42GiB`). Docker prints memory amounts this way.
pub fn bytes_size(bytes: f64) -> String {
    let (size, unit) = size_and_unit(bytes, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", go_g(size, 4))
}

/// go-units `getSizeAndUnit`: divide by `base` while the value is at least
/// `base` and a larger unit is left.
fn size_and_unit(mut size: f64, base: f64, units: &[&'static str; 9]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// go-units `HumanDuration`: `Less than a second`, `1 second`, `N seconds`,
/// `About a minute`, `N minutes`, `About an hour`, `N hours` (up to 47),
/// `N days` (up to 13), `N weeks` (up to 8), `N months` (up to 24),
/// `N years`.
///
/// The duration is taken as Go's `time.Duration`: whole nanoseconds in an
/// `i64`, saturating at about ±292 years as Go's `Time.Sub` does. Negative
/// durations (a creation time in the future) give `Less than a second`.
pub fn human_duration(d: Duration) -> String {
    let ns = go_nanos(d);
    let seconds = go_seconds(ns) as i64;
    if seconds < 1 {
        return "Less than a second".to_owned();
    }
    if seconds == 1 {
        return "1 second".to_owned();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = go_minutes(ns) as i64;
    if minutes == 1 {
        return "About a minute".to_owned();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (go_hours(ns) + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_owned();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (go_hours(ns) as i64) / 24 / 365)
}

/// Docker's `CreatedSince` column: `HumanDuration(now - created) + " ago"`
/// (`2 weeks ago`, `Less than a second ago`).
///
/// As docker works from the engine's whole-second `Created` value
/// (`time.Unix(created, 0)`), `created` is truncated to whole seconds first;
/// `now` keeps its sub-second part like Go's `time.Now()`.
///
/// `None` gives the empty string, which is what docker's image (and
/// build-cache `LastUsedSince`) formatter prints for a zero `time.Time`.
/// Note that the engine reports an image without a creation time as
/// `Created: 0`, which docker renders as the age of the Unix epoch
/// (`56 years ago`); to reproduce that, pass `Some(DateTime::UNIX_EPOCH)`.
/// `docker history` has its own rule, see [`history_created_since`].
pub fn created_since(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match created {
        Some(created) => format!("{} ago", human_duration(since(created, now))),
        None => String::new(),
    }
}

/// `docker history`'s CREATED column in human mode: `N/A` for an unknown
/// creation time or one at or before 2000-01-01T00:00:00Z (docker's cut-off
/// for layers with fake timestamps), otherwise like [`created_since`].
pub fn history_created_since(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match created {
        Some(created) if created.timestamp() > HISTORY_EPOCH_SECS => {
            format!("{} ago", human_duration(since(created, now)))
        }
        _ => "N/A".to_owned(),
    }
}

/// `now - created` with `created` truncated to whole seconds, as
/// `time.Now().UTC().Sub(time.Unix(created, 0))`.
fn since(created: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let whole = DateTime::from_timestamp(created.timestamp(), 0).unwrap_or(created);
    now.signed_duration_since(whole)
}

/// A chrono duration as Go's `time.Duration`: nanoseconds, saturated to the
/// `i64` range.
fn go_nanos(d: Duration) -> i64 {
    match d.num_nanoseconds() {
        Some(ns) => ns,
        None if d < Duration::zero() => i64::MIN,
        None => i64::MAX,
    }
}

/// Go's `Duration.Seconds()`.
fn go_seconds(ns: i64) -> f64 {
    (ns / NANOS_PER_SECOND) as f64 + (ns % NANOS_PER_SECOND) as f64 / 1e9
}

/// Go's `Duration.Minutes()`.
fn go_minutes(ns: i64) -> f64 {
    (ns / NANOS_PER_MINUTE) as f64 + (ns % NANOS_PER_MINUTE) as f64 / (60.0 * 1e9)
}

/// Go's `Duration.Hours()`.
fn go_hours(ns: i64) -> f64 {
    (ns / NANOS_PER_HOUR) as f64 + (ns % NANOS_PER_HOUR) as f64 / (60.0 * 60.0 * 1e9)
}

/// Go's `fmt.Sprintf("%.*g", precision, value)` for a `float64`.
///
/// Rounds to `precision` significant digits (0 counts as 1), ties to even on
/// the exact binary value, drops trailing zeros, and switches to `%e` form
/// (`1.5e+06`, exponent of at least two digits) when the decimal exponent is
/// below -4 or at least the precision. Infinities print as `+Inf`/`-Inf`,
/// NaN as `NaN`, negative zero as `-0`.
pub fn go_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let prec = precision.max(1);
    let (digits, dp) = decimal_digits(value.abs(), prec);
    let nd = digits.len();
    let nd_i = signed(nd);
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }

    // strconv's %g: the exponent decides between %e and %f.
    let mut eprec = signed(prec);
    if eprec > nd_i && nd_i >= dp {
        eprec = nd_i;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        // %e with min(prec, nd) - 1 fraction digits.
        let frac = prec.min(nd).saturating_sub(1);
        out.push(char::from(digits.first().copied().unwrap_or(b'0')));
        if frac > 0 {
            out.push('.');
            for i in 1..=frac {
                out.push(char::from(digits.get(i).copied().unwrap_or(b'0')));
            }
        }
        let exp = if nd == 0 { 0 } else { exp };
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
        return out;
    }

    // %f with max(prec' - dp, 0) fraction digits, prec' = nd when prec > dp.
    let prec_f = if signed(prec) > dp {
        nd_i
    } else {
        signed(prec)
    };
    let frac = (prec_f - dp).max(0);
    if dp > 0 {
        for i in 0..dp {
            out.push(digit_at(&digits, i));
        }
    } else {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            out.push(digit_at(&digits, dp + i));
        }
    }
    out
}

/// The decimal digits of `abs` rounded to `prec` significant digits (ties to
/// even on the exact value), trailing zeros removed, and the decimal point
/// position: `abs = 0.d1d2d3… × 10^dp`. Zero gives no digits and `dp = 0`.
fn decimal_digits(abs: f64, prec: usize) -> (Vec<u8>, i64) {
    if abs == 0.0 {
        return (Vec::new(), 0);
    }
    // Rust's `{:e}` with a precision is correctly rounded, ties to even.
    let formatted = format!("{:.*e}", prec - 1, abs);
    let (mantissa, exponent) = formatted
        .split_once('e')
        .unwrap_or((formatted.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent + 1)
}

/// The digit at decimal position `i` (0-based) of `digits`, `'0'` outside.
fn digit_at(digits: &[u8], i: i64) -> char {
    usize::try_from(i)
        .ok()
        .and_then(|i| digits.get(i))
        .map_or('0', |&d| char::from(d))
}

/// A digit count as `i64`, saturating (precisions beyond `i64` are absurd).
fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KB: f64 = 1000.0;
    const MB: f64 = 1000.0 * KB;
    const GB: f64 = 1000.0 * MB;
    const TB: f64 = 1000.0 * GB;
    const PB: f64 = 1000.0 * TB;
    const KIB: f64 = 1024.0;
    const MIB: f64 = 1024.0 * KIB;
    const GIB: f64 = 1024.0 * MIB;
    const TIB: f64 = 1024.0 * GIB;
    const PIB: f64 = 1024.0 * TIB;

    #[test]
    fn human_size_go_units_cases() {
        // go-units size_test.go TestHumanSize / ExampleHumanSize.
        let cases: &[(f64, &str)] = &[
            (1000.0, "1kB"),
            (1024.0, "1.024kB"),
            (1_000_000.0, "1MB"),
            (1_048_576.0, "1.049MB"),
            (2.0 * MB, "2MB"),
            (3.42 * GB, "3.42GB"),
            (5.372 * TB, "5.372TB"),
            (2.22 * PB, "2.22PB"),
            (10_000_000_000_000.0 * PB, "1e+04YB"),
        ];
        for &(bytes, want) in cases {
            assert_eq!(human_size(bytes), want, "human_size({bytes})");
        }
    }

    #[test]
    fn bytes_size_go_units_cases() {
        // go-units size_test.go TestBytesSize / ExampleBytesSize.
        let cases: &[(f64, &str)] = &[
            (1024.0, "1KiB"),
            (1024.0 * 1024.0, "1MiB"),
            (1_048_576.0, "1MiB"),
            (2.0 * MIB, "2MiB"),
            (3.42 * GIB, "3.42GiB"),
            (5.372 * TIB, "5.372TiB"),
            (2.22 * PIB, "2.22PiB"),
            (KIB * KIB * KIB * KIB * KIB * PIB, "1.049e+06YiB"),
            (0.0, "0B"),
            (1023.0, "1023B"),
            (1536.0, "1.5KiB"),
            (8_232_873_984.0, "7.667GiB"),
        ];
        for &(bytes, want) in cases {
            assert_eq!(bytes_size(bytes), want, "bytes_size({bytes})");
        }
    }

    #[test]
    fn human_size_edge_cases() {
        // Expected values produced by Go 1.19 running go-units v0.5.0.
        let cases: &[(f64, &str)] = &[
            (0.0, "0B"),
            (1.0, "1B"),
            (999.0, "999B"),
            (999.9, "999.9B"),
            (999.99, "1000B"),
            (1001.0, "1.001kB"),
            (1500.0, "1.5kB"),
            (1_500_000.0, "1.5MB"),
            (123_456_789.0, "123.5MB"),
            (1_234_567.0, "1.235MB"),
            (999_950.0, "1000kB"),
            (999_949.0, "999.9kB"),
            (1e15, "1PB"),
            (1e18, "1EB"),
            (1e21, "1ZB"),
            (1e24, "1YB"),
            (1e27, "1000YB"),
            (1e30, "1e+06YB"),
            (-1.0, "-1B"),
            (-5000.0, "-5000B"),
            (0.5, "0.5B"),
            (0.0001234, "0.0001234B"),
            (0.00001234, "1.234e-05B"),
            (f64::INFINITY, "+InfYB"),
            (f64::NEG_INFINITY, "-InfB"),
            (f64::NAN, "NaNB"),
            (-0.0, "-0B"),
        ];
        for &(bytes, want) in cases {
            assert_eq!(human_size(bytes), want, "human_size({bytes})");
        }
    }

    #[test]
    fn human_size_precision_3_as_docker_images() {
        // Expected values produced by Go 1.19 running go-units v0.5.0.
        let cases: &[(f64, &str)] = &[
            (0.0, "0B"),
            (999.0, "999B"),
            (1000.0, "1kB"),
            (1024.0, "1.02kB"),
            (1_500_000.0, "1.5MB"),
            (5_580_000.0, "5.58MB"),
            (77_863_616.0, "77.9MB"),
            (123_456_789.0, "123MB"),
            (187_789_568.0, "188MB"),
            (1_234_567_890.0, "1.23GB"),
            (999_500.0, "1e+03kB"),
            (998_500.0, "998kB"),
            (999_499.0, "999kB"),
            (1e15, "1PB"),
            (1e30, "1e+06YB"),
            (-1.0, "-1B"),
        ];
        for &(bytes, want) in cases {
            assert_eq!(
                human_size_with_precision(bytes, 3),
                want,
                "human_size_with_precision({bytes}, 3)"
            );
        }
    }

    #[test]
    fn human_size_other_precisions() {
        assert_eq!(human_size_with_precision(1_234_567.0, 0), "1MB");
        assert_eq!(human_size_with_precision(1_234_567.0, 1), "1MB");
        assert_eq!(human_size_with_precision(1_234_567.0, 2), "1.2MB");
        assert_eq!(human_size_with_precision(1_234_567.0, 5), "1.2346MB");
        assert_eq!(human_size_with_precision(1_234_567.0, 10), "1.234567MB");
        assert_eq!(human_size_with_precision(150_000.0, 1), "2e+02kB");
        assert_eq!(human_size_with_precision(250_000.0, 1), "2e+02kB");
        assert_eq!(human_size_with_precision(350_000.0, 2), "3.5e+02kB");
    }

    #[test]
    fn go_g_matches_go_fmt() {
        // Expected values produced by Go 1.19 `fmt.Sprintf("%.*g", p, v)`.
        let cases: &[(f64, usize, &str)] = &[
            (0.0, 4, "0"),
            (1.0, 4, "1"),
            (100.0, 1, "1e+02"),
            (100.0, 3, "100"),
            (999.5, 3, "1e+03"),
            (998.5, 3, "998"),
            (0.5, 0, "0.5"),
            (1.5, 0, "2"),
            (2.5, 1, "2"),
            (0.125, 2, "0.12"),
            (0.375, 2, "0.38"),
            (123456.0, 6, "123456"),
            (123456.0, 5, "1.2346e+05"),
            (1e21, 4, "1e+21"),
            (1e100, 4, "1e+100"),
            (1.5e-7, 4, "1.5e-07"),
            (0.0001, 4, "0.0001"),
            (0.00012345, 3, "0.000123"),
            (12.0, 4, "12"),
            (12.5, 4, "12.5"),
            (-12.5, 2, "-12"),
            (-13.5, 2, "-14"),
            (0.1, 20, "0.10000000000000000555"),
            (f64::MAX, 4, "1.798e+308"),
            (5e-324, 4, "4.941e-324"),
            (f64::INFINITY, 3, "+Inf"),
            (f64::NAN, 3, "NaN"),
        ];
        for &(value, prec, want) in cases {
            assert_eq!(go_g(value, prec), want, "go_g({value}, {prec})");
        }
    }

    fn secs(s: i64) -> Duration {
        Duration::seconds(s)
    }

    #[test]
    fn human_duration_go_units_cases() {
        // go-units duration_test.go TestHumanDuration.
        let minute = 60;
        let hour = 60 * minute;
        let day = 24 * hour;
        let week = 7 * day;
        let month = 30 * day;
        let year = 365 * day;
        let cases: &[(Duration, &str)] = &[
            (Duration::milliseconds(450), "Less than a second"),
            (secs(1), "1 second"),
            (secs(45), "45 seconds"),
            (secs(46), "46 seconds"),
            (secs(59), "59 seconds"),
            (secs(60), "About a minute"),
            (secs(minute), "About a minute"),
            (secs(3 * minute), "3 minutes"),
            (secs(35 * minute), "35 minutes"),
            (secs(35 * minute + 40), "35 minutes"),
            (secs(45 * minute), "45 minutes"),
            (secs(45 * minute + 40), "45 minutes"),
            (secs(46 * minute), "46 minutes"),
            (secs(59 * minute), "59 minutes"),
            (secs(hour), "About an hour"),
            (secs(hour + 29 * minute), "About an hour"),
            (secs(hour + 31 * minute), "2 hours"),
            (secs(hour + 59 * minute), "2 hours"),
            (secs(3 * hour), "3 hours"),
            (secs(3 * hour + 29 * minute), "3 hours"),
            (secs(3 * hour + 31 * minute), "4 hours"),
            (secs(3 * hour + 59 * minute), "4 hours"),
            (secs(3 * hour + 60 * minute), "4 hours"),
            (secs(24 * hour), "24 hours"),
            (secs(day + 12 * hour), "36 hours"),
            (secs(2 * day), "2 days"),
            (secs(7 * day), "7 days"),
            (secs(13 * day + 5 * hour), "13 days"),
            (secs(2 * week), "2 weeks"),
            (secs(2 * week + 4 * day), "2 weeks"),
            (secs(3 * week), "3 weeks"),
            (secs(4 * week), "4 weeks"),
            (secs(4 * week + 3 * day), "4 weeks"),
            (secs(month), "4 weeks"),
            (secs(month + 2 * week), "6 weeks"),
            (secs(2 * month), "2 months"),
            (secs(2 * month + 2 * week), "2 months"),
            (secs(3 * month), "3 months"),
            (secs(3 * month + week), "3 months"),
            (secs(5 * month + 2 * week), "5 months"),
            (secs(13 * month), "13 months"),
            (secs(23 * month), "23 months"),
            (secs(24 * month), "24 months"),
            (secs(24 * month + 2 * week), "2 years"),
            (secs(3 * year + 2 * month), "3 years"),
        ];
        for &(d, want) in cases {
            assert_eq!(human_duration(d), want, "human_duration({d})");
        }
    }

    #[test]
    fn human_duration_thresholds() {
        // Each boundary of go-units' HumanDuration, checked on both sides
        // (expected values produced by Go 1.19 running go-units v0.5.0).
        let hour = 3600;
        let cases: &[(Duration, &str)] = &[
            (Duration::zero(), "Less than a second"),
            (secs(-5), "Less than a second"),
            (Duration::nanoseconds(999_999_999), "Less than a second"),
            (Duration::nanoseconds(1_999_999_999), "1 second"),
            (secs(2), "2 seconds"),
            (Duration::nanoseconds(59_999_999_999), "59 seconds"),
            (secs(119), "About a minute"),
            (secs(120), "2 minutes"),
            (secs(3599), "59 minutes"),
            (secs(3600), "About an hour"),
            (secs(hour + 1799), "About an hour"),
            (secs(hour + 1800), "2 hours"),
            (secs(47 * hour + 1799), "47 hours"),
            (secs(47 * hour + 1800), "2 days"),
            (secs(335 * hour + 1799), "13 days"),
            (secs(335 * hour + 1800), "2 weeks"),
            (secs(1439 * hour + 1799), "8 weeks"),
            (secs(1439 * hour + 1800), "2 months"),
            (secs(17519 * hour + 1799), "24 months"),
            (secs(17519 * hour + 1800), "1 years"),
            (secs(17520 * hour), "2 years"),
            (secs(100 * 365 * 24 * hour), "100 years"),
            (Duration::MAX, "292 years"),
            (Duration::MIN, "Less than a second"),
        ];
        for &(d, want) in cases {
            assert_eq!(human_duration(d), want, "human_duration({d})");
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid test date")
    }

    #[test]
    fn created_since_cases() {
        let now = utc(2025, 6, 15, 12, 0, 0);
        assert_eq!(
            created_since(Some(utc(2025, 6, 1, 12, 0, 0)), now),
            "2 weeks ago"
        );
        assert_eq!(created_since(Some(now), now), "Less than a second ago");
        assert_eq!(
            created_since(Some(utc(2025, 6, 15, 13, 0, 0)), now),
            "Less than a second ago"
        );
        assert_eq!(
            created_since(Some(utc(2025, 6, 15, 11, 0, 0)), now),
            "About an hour ago"
        );
        assert_eq!(
            created_since(Some(utc(2023, 1, 1, 0, 0, 0)), now),
            "2 years ago"
        );
        assert_eq!(
            created_since(Some(DateTime::UNIX_EPOCH), now),
            "55 years ago"
        );
        assert_eq!(created_since(None, now), "");
        // Year 1 is beyond Go's Duration range: Sub saturates at ~292 years.
        assert_eq!(
            created_since(Some(utc(1, 1, 1, 0, 0, 1)), now),
            "292 years ago"
        );
        // The creation time is truncated to whole seconds, `now` is not.
        let created = utc(2025, 6, 15, 11, 59, 58) + Duration::milliseconds(900);
        let now_frac = utc(2025, 6, 15, 12, 0, 0) + Duration::milliseconds(100);
        assert_eq!(created_since(Some(created), now_frac), "2 seconds ago");
    }

    #[test]
    fn history_created_since_cases() {
        let now = utc(2025, 6, 15, 12, 0, 0);
        assert_eq!(history_created_since(None, now), "N/A");
        assert_eq!(
            history_created_since(Some(DateTime::UNIX_EPOCH), now),
            "N/A"
        );
        assert_eq!(
            history_created_since(Some(utc(2000, 1, 1, 0, 0, 0)), now),
            "N/A"
        );
        assert_eq!(
            history_created_since(Some(utc(2000, 1, 1, 0, 0, 1)), now),
            "25 years ago"
        );
        assert_eq!(
            history_created_since(Some(utc(2025, 6, 12, 12, 0, 0)), now),
            "3 days ago"
        );
    }
}
