//! Conformance tests: `image_core::reference` against every vector taken from
//! `github.com/distribution/reference` (copied into `tests/data/`).
//!
//! Each test runs all cases of one kind, collects every failure (with the
//! case's `source` and input) and asserts the list is empty at the end.

#![allow(clippy::unwrap_used)]

use image_core::reference::{
    self, AnyReference, Reference, ReferenceError, familiar_match, familiar_match_any, grammar,
    parse_any,
};
use regex::Regex;
use serde_json::Value;

fn load(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn cases(file: &str, key: &str, value: &str) -> Vec<Value> {
    let all: Vec<Value> = load(file).into_iter().filter(|c| c[key] == value).collect();
    assert!(!all.is_empty(), "no `{key}: {value}` cases in {file}");
    all
}

/// Collects failures for one case.
struct Check<'a> {
    failures: &'a mut Vec<String>,
    label: String,
}

impl<'a> Check<'a> {
    fn new(failures: &'a mut Vec<String>, case: &Value, input: &str) -> Self {
        let source = case["source"].as_str().unwrap_or("?");
        Check {
            failures,
            label: format!("[{source}] input {input:?}"),
        }
    }

    fn fail(&mut self, msg: String) {
        self.failures.push(format!("{}: {msg}", self.label));
    }

    /// Compares an optional string field; absent keys are not checked.
    fn field(&mut self, case: &Value, key: &str, actual: Option<&str>) {
        let Some(expected) = case.get(key) else {
            return;
        };
        let expected = expected.as_str();
        if expected != actual {
            self.fail(format!("{key}: expected {expected:?}, got {actual:?}"));
        }
    }

    /// Checks a result against the case's `err` (and `err_go` when present).
    /// Returns the value when the case expects success and got it.
    fn result<T: std::fmt::Debug>(
        &mut self,
        case: &Value,
        got: Result<T, ReferenceError>,
    ) -> Option<T> {
        let expected_err = case["err"].as_str();
        match (expected_err, got) {
            (None, Ok(v)) => Some(v),
            (None, Err(e)) => {
                self.fail(format!(
                    "expected success, got error {:?} ({e:?})",
                    e.to_string()
                ));
                None
            }
            (Some(want), Ok(v)) => {
                self.fail(format!("expected error {want:?}, got {v:?}"));
                None
            }
            (Some(want), Err(e)) => {
                if e.to_string() != want {
                    self.fail(format!(
                        "error text: expected {want:?}, got {:?}",
                        e.to_string()
                    ));
                }
                if let Some(go) = case.get("err_go").and_then(Value::as_str) {
                    match go_error(go) {
                        Some(variant) if variant == e => {}
                        Some(variant) => self.fail(format!(
                            "error variant: expected {variant:?} ({go}), got {e:?}"
                        )),
                        None => self.fail(format!("test has no mapping for err_go {go}")),
                    }
                }
                None
            }
        }
    }
}

fn go_error(name: &str) -> Option<ReferenceError> {
    Some(match name {
        "ErrReferenceInvalidFormat" => ReferenceError::InvalidReferenceFormat,
        "ErrTagInvalidFormat" => ReferenceError::InvalidTagFormat,
        "ErrDigestInvalidFormat" => ReferenceError::InvalidDigestFormat,
        "ErrNameContainsUppercase" => ReferenceError::NameContainsUppercase,
        "ErrNameEmpty" => ReferenceError::NameEmpty,
        "ErrNameTooLong" => ReferenceError::NameTooLong,
        "ErrNameNotCanonical" => ReferenceError::NameNotCanonical,
        "digest.ErrDigestInvalidFormat" => ReferenceError::DigestChecksumInvalidFormat,
        "digest.ErrDigestInvalidLength" => ReferenceError::DigestInvalidLength,
        "digest.ErrDigestUnsupported" => ReferenceError::DigestUnsupported,
        _ => return None,
    })
}

fn finish(kind: &str, total: usize, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{kind}: {} failure(s) over {total} case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{kind}: {total} case(s) passed");
}

fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("case {case} has no string `{key}`"))
}

// ---------------------------------------------------------------------------
// reference_parse.json
// ---------------------------------------------------------------------------

#[test]
fn parse_vectors() {
    let cases = cases("reference_parse.json", "func", "Parse");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        if let Some(r) = c.result(case, Reference::parse(input)) {
            c.field(case, "string", Some(&r.to_string()));
            c.field(case, "repository", Some(&r.name()));
            c.field(case, "domain", Some(r.domain()));
            c.field(case, "path", Some(r.path()));
            c.field(case, "tag", r.tag());
            c.field(case, "digest", r.digest());
            // Display is the inverse of parse.
            match Reference::parse(&r.to_string()) {
                Ok(back) if back == r => {}
                other => c.fail(format!("round trip of {r} gave {other:?}")),
            }
        }
    }
    finish("Parse", cases.len(), failures);
}

#[test]
fn with_name_vectors() {
    let cases = cases("reference_parse.json", "func", "WithName");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        if let Some(r) = c.result(case, Reference::with_name(input)) {
            c.field(case, "domain", Some(r.domain()));
            c.field(case, "path", Some(r.path()));
            c.field(case, "repository", Some(&r.name()));
            if r.tag().is_some() || r.digest().is_some() {
                c.fail(format!("WithName gave tag/digest: {r:?}"));
            }
        }
    }
    finish("WithName", cases.len(), failures);
}

/// Builds the starting name: `WithName`, or `ParseNormalizedNamed` when the
/// case says so.
fn base_name(case: &Value) -> Result<Reference, ReferenceError> {
    let name = s(case, "name");
    match case.get("name_parsed_with").and_then(Value::as_str) {
        Some(how) if how.starts_with("ParseNormalizedNamed") => Reference::parse_normalized(name),
        Some(how) => panic!("unknown name_parsed_with {how}"),
        None => Reference::with_name(name),
    }
}

#[test]
fn with_tag_vectors() {
    let cases = cases("reference_parse.json", "func", "WithTag");
    let mut failures = Vec::new();
    for case in &cases {
        let tag = s(case, "tag");
        let label = format!(
            "{} + tag {tag:?} + digest {}",
            s(case, "name"),
            case["digest"]
        );
        let mut c = Check::new(&mut failures, case, &label);
        // WithName(name) -> WithDigest(digest) if digest -> WithTag(tag)
        let built = base_name(case).and_then(|r| match case["digest"].as_str() {
            Some(d) => r.with_digest(d),
            None => Ok(r),
        });
        let built = match built {
            Ok(r) => r,
            Err(e) => {
                c.fail(format!("building the base reference failed: {e}"));
                continue;
            }
        };
        if let Some(r) = c.result(case, built.with_tag(tag)) {
            c.field(case, "expected", Some(&r.to_string()));
            if r.tag() != Some(tag) || r.digest() != case["digest"].as_str() {
                c.fail(format!("tag/digest accessors wrong: {r:?}"));
            }
        }
    }
    finish("WithTag", cases.len(), failures);
}

#[test]
fn with_digest_vectors() {
    let cases = cases("reference_parse.json", "func", "WithDigest");
    let mut failures = Vec::new();
    for case in &cases {
        let digest = s(case, "digest");
        let label = format!(
            "{} + tag {} + digest {digest:?}",
            s(case, "name"),
            case["tag"]
        );
        let mut c = Check::new(&mut failures, case, &label);
        // WithName(name) -> WithTag(tag) if tag -> WithDigest(digest)
        let built = base_name(case).and_then(|r| match case["tag"].as_str() {
            Some(t) => r.with_tag(t),
            None => Ok(r),
        });
        let built = match built {
            Ok(r) => r,
            Err(e) => {
                c.fail(format!("building the base reference failed: {e}"));
                continue;
            }
        };
        if let Some(r) = c.result(case, built.with_digest(digest)) {
            c.field(case, "expected", Some(&r.to_string()));
            if r.digest() != Some(digest) || r.tag() != case["tag"].as_str() {
                c.fail(format!("tag/digest accessors wrong: {r:?}"));
            }
        }
    }
    finish("WithDigest", cases.len(), failures);
}

#[test]
fn sort_vectors() {
    let cases = cases("reference_parse.json", "func", "Sort");
    let mut failures = Vec::new();
    for case in &cases {
        let strings = |key: &str| -> Vec<String> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let unsorted = strings("unsorted");
        let expected = strings("expected");
        let mut c = Check::new(&mut failures, case, &format!("{unsorted:?}"));
        let got = reference::sort(&unsorted);
        if got != expected {
            c.fail(format!("expected {expected:?}, got {got:?}"));
        }
    }
    finish("Sort", cases.len(), failures);
}

// ---------------------------------------------------------------------------
// reference_normalize.json
// ---------------------------------------------------------------------------

fn check_named(c: &mut Check<'_>, case: &Value, r: &Reference) {
    c.field(case, "normalized", Some(&r.to_string()));
    c.field(case, "familiar", Some(&r.familiar()));
    c.field(case, "familiar_name", Some(&r.familiar_name()));
    c.field(case, "domain", Some(r.domain()));
    c.field(case, "path", Some(r.path()));
    c.field(case, "tag", r.tag());
    c.field(case, "digest", r.digest());
}

#[test]
fn parse_normalized_named_vectors() {
    let cases = cases("reference_normalize.json", "func", "ParseNormalizedNamed");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        if let Some(r) = c.result(case, Reference::parse_normalized(input)) {
            check_named(&mut c, case, &r);
            // FromStr is parse_normalized.
            if input.parse::<Reference>().as_ref() != Ok(&r) {
                c.fail("FromStr differs from parse_normalized".to_owned());
            }
            // The normalized string is canonical.
            if Reference::parse_named(&r.to_string()).as_ref() != Ok(&r) {
                c.fail(format!("ParseNamed({r}) does not round-trip"));
            }
            // The familiar string normalizes back to the same reference,
            // except (upstream quirk) when it is a bare 64-hex identifier,
            // which ParseNormalizedNamed refuses.
            let familiar_is_id = grammar::anchored_identifier().is_match(&r.familiar());
            if !familiar_is_id && Reference::parse_normalized(&r.familiar()).as_ref() != Ok(&r) {
                c.fail(format!(
                    "familiar {:?} does not normalize back",
                    r.familiar()
                ));
            }
        }
    }
    finish("ParseNormalizedNamed", cases.len(), failures);
}

#[test]
fn parse_named_vectors() {
    let cases = cases("reference_normalize.json", "func", "ParseNamed");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        if let Some(r) = c.result(case, Reference::parse_named(input)) {
            check_named(&mut c, case, &r);
        }
    }
    finish("ParseNamed", cases.len(), failures);
}

fn kind(r: &AnyReference) -> &'static str {
    match r {
        AnyReference::Digest(_) => "digestReference",
        AnyReference::Named(n) => match (n.tag().is_some(), n.digest().is_some()) {
            (true, true) => "reference",
            (true, false) => "taggedReference",
            (false, true) => "canonicalReference",
            (false, false) => "repository",
        },
    }
}

#[test]
fn parse_any_reference_vectors() {
    let cases = cases("reference_normalize.json", "func", "ParseAnyReference");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        if let Some(r) = c.result(case, parse_any(input)) {
            c.field(case, "normalized", Some(&r.to_string()));
            c.field(case, "familiar", Some(&r.familiar()));
            c.field(case, "kind", Some(kind(&r)));
            c.field(case, "digest", r.digest());
            match r.as_named() {
                Some(n) => {
                    c.field(case, "domain", Some(n.domain()));
                    c.field(case, "path", Some(n.path()));
                    c.field(case, "tag", n.tag());
                }
                None => {
                    for key in ["domain", "path", "tag"] {
                        if case.get(key).is_some_and(|v| !v.is_null()) {
                            c.fail(format!("expected a named reference ({key}), got {r:?}"));
                        }
                    }
                }
            }
        }
    }
    finish("ParseAnyReference", cases.len(), failures);
}

#[test]
fn parse_docker_ref_vectors() {
    let cases = cases("reference_normalize.json", "func", "ParseDockerRef");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        if let Some(r) = c.result(case, Reference::parse_docker(input)) {
            c.field(case, "normalized", Some(&r.to_string()));
            c.field(case, "familiar", Some(&r.familiar()));
            if r.tag().is_some() == r.digest().is_some() {
                c.fail(format!("expected exactly one of tag/digest: {r:?}"));
            }
        }
    }
    finish("ParseDockerRef", cases.len(), failures);
}

#[test]
fn familiar_match_vectors() {
    let cases = cases("reference_normalize.json", "func", "FamiliarMatch");
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let pattern = s(case, "pattern");
        assert_eq!(case["input_parsed_with"], "ParseAnyReference");
        let mut c = Check::new(&mut failures, case, &format!("{input} ~ {pattern}"));
        let any = match parse_any(input) {
            Ok(r) => r,
            Err(e) => {
                c.fail(format!("ParseAnyReference failed: {e}"));
                continue;
            }
        };
        let got = familiar_match_any(pattern, &any);
        if let Some(named) = any.as_named() {
            let direct = familiar_match(pattern, named);
            if direct != got {
                c.fail(format!(
                    "familiar_match {direct:?} != familiar_match_any {got:?}"
                ));
            }
        }
        if let Some(matched) = c.result(case, got) {
            let expected = case["expected"].as_bool().unwrap();
            if matched != expected {
                c.fail(format!("expected {expected}, got {matched}"));
            }
        }
    }
    finish("FamiliarMatch", cases.len(), failures);
}

// ---------------------------------------------------------------------------
// reference_regexp.json
// ---------------------------------------------------------------------------

/// Runs Go's `checkRegexp`: match/no match, the whole input matched, and the
/// capture groups (a group that did not participate is `""`).
fn check_regexp(name: &str, re: &Regex) -> (usize, Vec<String>) {
    let cases = cases("reference_regexp.json", "regexp", name);
    let mut failures = Vec::new();
    for case in &cases {
        let input = s(case, "input");
        let mut c = Check::new(&mut failures, case, input);
        let want = case["match"].as_bool().unwrap();
        match (want, re.captures(input)) {
            (true, Some(caps)) => {
                if caps.get(0).map(|m| m.as_str()) != Some(input) {
                    c.fail(format!("matched only {:?}", caps.get(0)));
                }
                if let Some(subs) = case.get("subs").and_then(Value::as_array) {
                    if caps.len() < subs.len() + 1 {
                        c.fail(format!("only {} groups", caps.len() - 1));
                    }
                    for (i, sub) in subs.iter().enumerate() {
                        let got = caps.get(i + 1).map_or("", |m| m.as_str());
                        if Some(got) != sub.as_str() {
                            c.fail(format!("group {}: expected {sub}, got {got:?}", i + 1));
                        }
                    }
                }
            }
            (true, None) => c.fail("expected a match".to_owned()),
            (false, Some(_)) => c.fail("unexpected match".to_owned()),
            (false, None) => {}
        }
        // Derived high-level results recorded alongside the raw regexp case.
        if let Some(derived) = case.get("derived_WithName") {
            let mut d = derived.clone();
            d["source"] = case["source"].clone();
            if let Some(r) = c.result(&d, Reference::with_name(input)) {
                c.field(&d, "domain", Some(r.domain()));
                c.field(&d, "path", Some(r.path()));
            }
        }
        if let Some(derived) = case.get("derived_Parse") {
            let d = derived.clone();
            if let Some(r) = c.result(&d, Reference::parse(input)) {
                c.field(&d, "name", Some(&r.name()));
                c.field(&d, "domain", Some(r.domain()));
                c.field(&d, "path", Some(r.path()));
                c.field(&d, "tag", r.tag());
                c.field(&d, "digest", r.digest());
            }
        }
    }
    (cases.len(), failures)
}

#[test]
fn regexp_domain_and_port_vectors() {
    let (n, failures) = check_regexp("domainAndPort", grammar::anchored_domain_and_port());
    finish("regexp domainAndPort", n, failures);
}

#[test]
fn regexp_anchored_name_vectors() {
    let (n, failures) = check_regexp("anchoredName", grammar::anchored_name());
    finish("regexp anchoredName", n, failures);
}

#[test]
fn regexp_reference_vectors() {
    let (n, failures) = check_regexp("reference", grammar::reference());
    finish("regexp reference", n, failures);
}

#[test]
fn regexp_identifier_vectors() {
    let (n, failures) = check_regexp("identifier", grammar::anchored_identifier());
    finish("regexp identifier", n, failures);
}

#[test]
fn regexp_file_has_only_known_kinds() {
    let known = ["domainAndPort", "anchoredName", "reference", "identifier"];
    let unknown: Vec<String> = load("reference_regexp.json")
        .iter()
        .filter_map(|c| c["regexp"].as_str())
        .filter(|k| !known.contains(k))
        .map(str::to_owned)
        .collect();
    assert!(unknown.is_empty(), "untested regexp kinds: {unknown:?}");
}

#[test]
fn func_kinds_are_all_tested() {
    let known = [
        "Parse",
        "WithName",
        "WithTag",
        "WithDigest",
        "Sort",
        "ParseNormalizedNamed",
        "ParseNamed",
        "ParseAnyReference",
        "ParseDockerRef",
        "FamiliarMatch",
    ];
    let mut unknown = Vec::new();
    for file in ["reference_parse.json", "reference_normalize.json"] {
        for case in load(file) {
            let func = case["func"].as_str().unwrap_or("<none>").to_owned();
            if !known.contains(&func.as_str()) {
                unknown.push(format!("{file}: {func}"));
            }
        }
    }
    assert!(unknown.is_empty(), "untested func kinds: {unknown:?}");
}

// ---------------------------------------------------------------------------
// reference_grammar.json
// ---------------------------------------------------------------------------

#[test]
fn grammar_patterns_and_constants() {
    let path = format!(
        "{}/tests/data/reference_grammar.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let g: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ours = [
        ("alphanumeric", grammar::ALPHANUMERIC),
        ("separator", grammar::SEPARATOR),
        ("pathComponent", grammar::PATH_COMPONENT),
        ("remoteName", grammar::REMOTE_NAME),
        ("localhost", grammar::LOCALHOST),
        ("domainNameComponent", grammar::DOMAIN_NAME_COMPONENT),
        ("domainName", grammar::DOMAIN_NAME),
        ("ipv6address", grammar::IPV6_ADDRESS),
        ("host", grammar::HOST),
        ("optionalPort", grammar::OPTIONAL_PORT),
        ("domainAndPort", grammar::DOMAIN_AND_PORT),
        ("namePat", grammar::NAME_PAT),
        ("anchoredNamePat", grammar::ANCHORED_NAME_PAT),
        ("tag", grammar::TAG),
        ("anchoredTag", grammar::ANCHORED_TAG),
        ("digestPat", grammar::DIGEST_PAT),
        ("anchoredDigest", grammar::ANCHORED_DIGEST),
        ("identifier", grammar::IDENTIFIER),
        ("anchoredIdentifier", grammar::ANCHORED_IDENTIFIER),
        ("referencePat", grammar::REFERENCE_PAT),
    ];
    let mut failures = Vec::new();
    let patterns = g["patterns"].as_object().unwrap();
    for (name, expected) in patterns {
        // Go's \w is ASCII; the Rust sources spell it out.
        let expected = expected.as_str().unwrap().replace("\\w", "0-9A-Za-z_");
        match ours.iter().find(|(n, _)| n == name) {
            Some((_, got)) if *got == expected => {}
            Some((_, got)) => failures.push(format!("{name}: expected {expected}, got {got}")),
            None => failures.push(format!("{name}: no Rust constant")),
        }
    }
    let c = &g["constants"];
    let checks = [
        (
            c["RepositoryNameTotalLengthMax"].as_u64()
                == Some(reference::REPOSITORY_NAME_TOTAL_LENGTH_MAX as u64),
            "RepositoryNameTotalLengthMax",
        ),
        (
            c["defaultDomain"] == reference::DEFAULT_DOMAIN,
            "defaultDomain",
        ),
        (
            c["legacyDefaultDomain"] == reference::LEGACY_DEFAULT_DOMAIN,
            "legacyDefaultDomain",
        ),
        (
            c["officialRepoPrefix"] == reference::OFFICIAL_REPO_PREFIX,
            "officialRepoPrefix",
        ),
        (c["defaultTag"] == reference::DEFAULT_TAG, "defaultTag"),
    ];
    for (ok, name) in checks {
        if !ok {
            failures.push(format!("constant {name} differs"));
        }
    }
    // Per-algorithm encoded lengths: exactly that many lowercase hex digits.
    for (alg, pat) in c["digest_encoded_per_algorithm"].as_object().unwrap() {
        let re = Regex::new(pat.as_str().unwrap()).unwrap();
        let len: usize = pat
            .as_str()
            .unwrap()
            .trim_start_matches("^[a-f0-9]{")
            .trim_end_matches("}$")
            .parse()
            .unwrap();
        let good = format!("{alg}:{}", "0a".repeat(len / 2));
        assert!(re.is_match(&good[alg.len() + 1..]));
        if !reference::is_valid_digest(&good) {
            failures.push(format!("{good} should be valid"));
        }
        for bad in [
            format!("{alg}:{}", "0".repeat(len - 1)),
            format!("{alg}:{}", "0".repeat(len + 1)),
            format!("{alg}:{}", "A".repeat(len)),
        ] {
            if reference::is_valid_digest(&bad) {
                failures.push(format!("{bad} should be invalid"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn grammar_error_strings() {
    let path = format!(
        "{}/tests/data/reference_grammar.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let g: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut failures = Vec::new();
    for (name, text) in g["errors"].as_object().unwrap() {
        let text = text.as_str().unwrap();
        let got = match go_error(name) {
            Some(e) => e.to_string(),
            None if name == "ParseNormalizedNamed 64-hex" => {
                ReferenceError::HexIdentifierName("%s".to_owned()).to_string()
            }
            None if name == "ParseNormalizedNamed uppercase" => {
                // The vector appends a note in brackets after two spaces.
                let expected = text.split("  [").next().unwrap();
                let got = ReferenceError::RemoteNameContainsUppercase("%s".to_owned()).to_string();
                if got != expected {
                    failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
                }
                continue;
            }
            None => {
                failures.push(format!("{name}: no variant"));
                continue;
            }
        };
        if got != text {
            failures.push(format!("{name}: expected {text:?}, got {got:?}"));
        }
    }
    if ReferenceError::BadPattern.to_string() != "syntax error in pattern" {
        failures.push("BadPattern text".to_owned());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Robustness: no input panics, and Display/parse round-trip.
// ---------------------------------------------------------------------------

proptest::proptest! {
    #[test]
    fn never_panics_and_round_trips(s in "[a-zA-Z0-9:/@._\\-\\[\\]*?^\\\\\u{e9}\u{130}]{0,40}") {
        if let Ok(r) = Reference::parse(&s) {
            proptest::prop_assert_eq!(Reference::parse(&r.to_string()), Ok(r.clone()));
        }
        if let Ok(r) = Reference::parse_normalized(&s) {
            proptest::prop_assert_eq!(Reference::parse_named(&r.to_string()), Ok(r.clone()));
            let _ = familiar_match(&s, &r);
        }
        let _ = parse_any(&s);
        let _ = Reference::parse_docker(&s);
        let _ = reference::path_match(&s, "a/b\u{e9}c");
        let _ = reference::path_match("a*[b-\u{e9}]?", &s);
    }
}
