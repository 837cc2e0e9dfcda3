//! The gate every real-engine test passes first, shared by the integration
//! tests of image-docker, image-cli and image-http (the latter two include
//! this file with `#[path]`): the values of the environment that `cargo
//! xtask engine up` writes, or a visible `SKIP` line when they are not set,
//! and a panic instead under `CI=true`, where every real-engine test must
//! run. Standard library only, so that any crate's tests can include it.

use std::collections::HashMap;

/// A variable's value, `None` when unset or empty.
pub fn var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The values of `keys`, or `None` after printing why `what` (a test, and
/// where it runs) is skipped. Under CI a missing variable panics.
pub fn require(what: &str, keys: &[&str]) -> Option<HashMap<String, String>> {
    let values: HashMap<String, String> = keys
        .iter()
        .filter_map(|k| var(k).map(|v| (k.to_string(), v)))
        .collect();
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !values.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "SKIP {what}: {} not set (run the real-engine tests with `cargo xtask test`)",
            missing.join(", ")
        );
        if var("CI").is_some() {
            panic!("{message}; under CI every real-engine test must run");
        }
        // Written to the real stderr, past the test harness's capture, so the
        // skip is visible in a plain `cargo test`.
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{message}");
        return None;
    }
    Some(values)
}
