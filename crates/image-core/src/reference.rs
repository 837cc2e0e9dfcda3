//! Docker image references: a faithful Rust port of Go's
//! `github.com/distribution/reference` (the grammar shared by the Docker
//! Engine, containerd and the docker CLI). It parses strings such as
//! `ubuntu`, `docker.io/library/ubuntu:22.04` or
//! `registry:5000/app@sha256:<hex>` into a [`Reference`] (domain, path,
//! optional tag, optional digest), normalizes familiar names to their full form
//! ([`Reference::parse_normalized`]), renders them back in full
//! ([`Display`](std::fmt::Display)) or familiar form ([`Reference::familiar`]),
//! and implements docker's `reference=` filter matching ([`familiar_match`]) and
//! containerd's reference ordering ([`sort`]). Every error [`Display`]s the exact
//! upstream message, because users see those messages from docker.
//!
//! [`Display`]: std::fmt::Display

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Maximum length, in bytes, of a repository *path* (the remote name). The
/// domain is not counted.
pub const REPOSITORY_NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Domain that familiar names (such as `ubuntu`) are normalized to.
pub const DEFAULT_DOMAIN: &str = "docker.io";

/// Legacy Docker Hub domain ("the Docker Index"), canonicalized to
/// [`DEFAULT_DOMAIN`] when normalizing.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";

/// Namespace of Docker Hub's official images, added to single-component names
/// on [`DEFAULT_DOMAIN`] (`ubuntu` → `library/ubuntu`).
pub const OFFICIAL_REPO_PREFIX: &str = "library/";

/// Tag added by [`Reference::parse_docker`] and [`Reference::tag_name_only`]
/// when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// Errors from parsing or building references. Each variant displays exactly
/// the message upstream Go code produces.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// Go `ErrReferenceInvalidFormat`.
    #[error("invalid reference format")]
    InvalidReferenceFormat,
    /// Go `ErrTagInvalidFormat`.
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// Go `ErrDigestInvalidFormat` (the digest does not match the reference
    /// grammar's digest pattern).
    #[error("invalid digest format")]
    InvalidDigestFormat,
    /// Go `ErrNameContainsUppercase`.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// Go `ErrNameEmpty`.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// Go `ErrNameTooLong`: the path exceeds
    /// [`REPOSITORY_NAME_TOTAL_LENGTH_MAX`] bytes.
    #[error(
        "repository name must not be more than {} characters",
        REPOSITORY_NAME_TOTAL_LENGTH_MAX
    )]
    NameTooLong,
    /// Go `ErrNameNotCanonical` (from [`Reference::parse_named`]).
    #[error("repository name must be canonical")]
    NameNotCanonical,
    /// go-digest `ErrDigestInvalidFormat`.
    #[error("invalid checksum digest format")]
    DigestChecksumInvalidFormat,
    /// go-digest `ErrDigestInvalidLength`.
    #[error("invalid checksum digest length")]
    DigestInvalidLength,
    /// go-digest `ErrDigestUnsupported`: the algorithm is not sha256, sha384
    /// or sha512.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    /// [`Reference::parse_normalized`] was given a bare 64-hex identifier; holds
    /// the input.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifierName(String),
    /// [`Reference::parse_normalized`] found uppercase in the remote name;
    /// holds the remote name (after the domain split, before the first `:`).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    RemoteNameContainsUppercase(String),
    /// Go `path.ErrBadPattern`: a malformed [`path_match`] /
    /// [`familiar_match`] pattern.
    #[error("syntax error in pattern")]
    BadPattern,
}

// ---------------------------------------------------------------------------
// Grammar
// ---------------------------------------------------------------------------

/// The reference grammar as regular-expression sources and compiled, anchored
/// regexes. The sources are upstream's, except that Go's ASCII `\w` is spelled
/// `0-9A-Za-z_` (Rust's `\w` is Unicode).
pub mod grammar {
    use std::sync::LazyLock;

    use regex::Regex;

    macro_rules! alphanumeric {
        () => {
            "[a-z0-9]+"
        };
    }
    macro_rules! separator {
        () => {
            "(?:[._]|__|[-]+)"
        };
    }
    macro_rules! path_component {
        () => {
            concat!(alphanumeric!(), "(?:", separator!(), alphanumeric!(), ")*")
        };
    }
    macro_rules! remote_name {
        () => {
            concat!(path_component!(), "(?:/", path_component!(), ")*")
        };
    }
    macro_rules! domain_name_component {
        () => {
            "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
        };
    }
    macro_rules! domain_name {
        () => {
            concat!(
                domain_name_component!(),
                "(?:\\.",
                domain_name_component!(),
                ")*"
            )
        };
    }
    macro_rules! ipv6_address {
        () => {
            "\\[(?:[a-fA-F0-9:]+)\\]"
        };
    }
    macro_rules! host {
        () => {
            concat!("(?:", domain_name!(), "|", ipv6_address!(), ")")
        };
    }
    macro_rules! optional_port {
        () => {
            "(?::[0-9]+)?"
        };
    }
    macro_rules! domain_and_port {
        () => {
            concat!(host!(), optional_port!())
        };
    }
    macro_rules! name_pat {
        () => {
            concat!("(?:", domain_and_port!(), "/)?", remote_name!())
        };
    }
    macro_rules! tag {
        () => {
            "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}"
        };
    }
    macro_rules! digest_pat {
        () => {
            "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}"
        };
    }
    macro_rules! identifier {
        () => {
            "([a-f0-9]{64})"
        };
    }

    /// `alphanumeric`: one path-component atom (lowercase letters and digits).
    pub const ALPHANUMERIC: &str = alphanumeric!();
    /// `separator`: one period, one or two underscores, or any number of dashes.
    pub const SEPARATOR: &str = separator!();
    /// `pathComponent`: alphanumerics joined by separators.
    pub const PATH_COMPONENT: &str = path_component!();
    /// `remoteName`: `/`-separated path components (the reference's path).
    pub const REMOTE_NAME: &str = remote_name!();
    /// `localhost`: the domain that is always treated as a domain.
    pub const LOCALHOST: &str = "localhost";
    /// `domainNameComponent`: one DNS label.
    pub const DOMAIN_NAME_COMPONENT: &str = domain_name_component!();
    /// `domainName`: dot-separated DNS labels (also matches IPv4 addresses).
    pub const DOMAIN_NAME: &str = domain_name!();
    /// `ipv6address`: a bracketed IPv6 address without zone.
    pub const IPV6_ADDRESS: &str = ipv6_address!();
    /// `host`: a domain name or a bracketed IPv6 address.
    pub const HOST: &str = host!();
    /// `optionalPort`: an optional `:port`.
    pub const OPTIONAL_PORT: &str = optional_port!();
    /// `domainAndPort`: host with optional port (upstream `DomainRegexp`).
    pub const DOMAIN_AND_PORT: &str = domain_and_port!();
    /// `namePat`: optional `domain/` followed by the remote name.
    pub const NAME_PAT: &str = name_pat!();
    /// `anchoredNamePat`: anchored name capturing (1) domain, (2) path.
    pub const ANCHORED_NAME_PAT: &str =
        concat!("^(?:(", domain_and_port!(), ")/)?(", remote_name!(), ")$");
    /// `tag`: a tag (`\w[\w.-]{0,127}` with ASCII `\w`).
    pub const TAG: &str = tag!();
    /// `anchoredTag`: [`TAG`] anchored.
    pub const ANCHORED_TAG: &str = concat!("^", tag!(), "$");
    /// `digestPat`: `algorithm:hex` with at least 32 hex digits.
    pub const DIGEST_PAT: &str = digest_pat!();
    /// `anchoredDigest`: [`DIGEST_PAT`] anchored.
    pub const ANCHORED_DIGEST: &str = concat!("^", digest_pat!(), "$");
    /// `identifier`: a bare 64-hex content identifier (one capture group).
    pub const IDENTIFIER: &str = identifier!();
    /// `anchoredIdentifier`: [`IDENTIFIER`] anchored.
    pub const ANCHORED_IDENTIFIER: &str = concat!("^", identifier!(), "$");
    /// `referencePat`: anchored full reference capturing (1) name, (2) tag,
    /// (3) digest.
    pub const REFERENCE_PAT: &str = concat!(
        "^(",
        name_pat!(),
        ")(?::(",
        tag!(),
        "))?(?:@(",
        digest_pat!(),
        "))?$"
    );

    /// go-digest's `DigestRegexpAnchored` (used to tell "unsupported
    /// algorithm" from "bad format").
    const GO_DIGEST_ANCHORED: &str = "^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$";

    fn compile(pattern: &str) -> Regex {
        Regex::new(pattern).expect("reference grammar pattern is a valid constant regex")
    }

    static ANCHORED_DOMAIN_AND_PORT_RE: LazyLock<Regex> =
        LazyLock::new(|| compile(concat!("^", domain_and_port!(), "$")));
    static ANCHORED_NAME_RE: LazyLock<Regex> = LazyLock::new(|| compile(ANCHORED_NAME_PAT));
    static REFERENCE_RE: LazyLock<Regex> = LazyLock::new(|| compile(REFERENCE_PAT));
    static ANCHORED_TAG_RE: LazyLock<Regex> = LazyLock::new(|| compile(ANCHORED_TAG));
    static ANCHORED_DIGEST_RE: LazyLock<Regex> = LazyLock::new(|| compile(ANCHORED_DIGEST));
    static ANCHORED_IDENTIFIER_RE: LazyLock<Regex> = LazyLock::new(|| compile(ANCHORED_IDENTIFIER));
    static GO_DIGEST_ANCHORED_RE: LazyLock<Regex> = LazyLock::new(|| compile(GO_DIGEST_ANCHORED));

    /// [`DOMAIN_AND_PORT`] anchored at both ends (as upstream's tests use it).
    pub fn anchored_domain_and_port() -> &'static Regex {
        &ANCHORED_DOMAIN_AND_PORT_RE
    }

    /// Compiled [`ANCHORED_NAME_PAT`]: groups (1) domain, (2) path.
    pub fn anchored_name() -> &'static Regex {
        &ANCHORED_NAME_RE
    }

    /// Compiled [`REFERENCE_PAT`]: groups (1) name, (2) tag, (3) digest.
    pub fn reference() -> &'static Regex {
        &REFERENCE_RE
    }

    /// Compiled [`ANCHORED_TAG`].
    pub fn anchored_tag() -> &'static Regex {
        &ANCHORED_TAG_RE
    }

    /// Compiled [`ANCHORED_DIGEST`].
    pub fn anchored_digest() -> &'static Regex {
        &ANCHORED_DIGEST_RE
    }

    /// Compiled [`ANCHORED_IDENTIFIER`].
    pub fn anchored_identifier() -> &'static Regex {
        &ANCHORED_IDENTIFIER_RE
    }

    pub(super) fn go_digest_anchored() -> &'static Regex {
        &GO_DIGEST_ANCHORED_RE
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Go's `strings.ToLower`: per-character simple lowercase mapping. Differs from
/// `str::to_lowercase` only for characters whose full mapping is several
/// characters (U+0130 `İ`, which Go maps to `i`).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

fn has_uppercase(s: &str) -> bool {
    go_to_lower(s) != s
}

/// Reports whether `tag` is a valid tag (`[\w][\w.-]{0,127}`, ASCII `\w`).
pub fn is_valid_tag(tag: &str) -> bool {
    grammar::anchored_tag().is_match(tag)
}

/// Reports whether `digest` is a digest [`Reference::parse`] accepts: a
/// registered algorithm (sha256, sha384, sha512) followed by `:` and exactly
/// the right number of lowercase hex digits. See [`validate_digest`].
pub fn is_valid_digest(digest: &str) -> bool {
    validate_digest(digest).is_ok()
}

/// Validates a digest the way go-digest's `Digest.Validate` does (with sha256,
/// sha384 and sha512 registered), returning its exact errors:
/// "invalid checksum digest format", "invalid checksum digest length" or
/// "unsupported digest algorithm".
///
/// This is stricter than [`Reference::with_digest`], which (like upstream
/// `WithDigest`) only checks the grammar's digest pattern.
pub fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err(ReferenceError::DigestChecksumInvalidFormat);
    };
    if algorithm.is_empty() || encoded.is_empty() {
        return Err(ReferenceError::DigestChecksumInvalidFormat);
    }
    let size = match algorithm {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ => {
            return Err(if grammar::go_digest_anchored().is_match(digest) {
                ReferenceError::DigestUnsupported
            } else {
                ReferenceError::DigestChecksumInvalidFormat
            });
        }
    };
    if encoded.len() != size * 2 {
        return Err(ReferenceError::DigestInvalidLength);
    }
    if !encoded
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ReferenceError::DigestChecksumInvalidFormat);
    }
    Ok(())
}

/// Splits a (not yet validated) name into domain and remainder the way
/// upstream's `splitDockerDomain` does, applying Docker Hub defaults.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (
            DEFAULT_DOMAIN.to_owned(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, remote) = if maybe_domain == grammar::LOCALHOST {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) || has_uppercase(maybe_domain) {
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    let remote = if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{remote}")
    } else {
        remote.to_owned()
    };
    (domain.to_owned(), remote)
}

fn write_reference(
    f: &mut fmt::Formatter<'_>,
    domain: &str,
    path: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> fmt::Result {
    if !domain.is_empty() {
        write!(f, "{domain}/")?;
    }
    f.write_str(path)?;
    if let Some(tag) = tag {
        write!(f, ":{tag}")?;
    }
    if let Some(digest) = digest {
        write!(f, "@{digest}")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reference
// ---------------------------------------------------------------------------

/// A named image reference: `[domain/]path[:tag][@digest]`.
///
/// Covers upstream's `repository`, `taggedReference`, `canonicalReference` and
/// `reference` types (a bare digest is an [`AnyReference::Digest`]). The domain
/// is empty when the reference was parsed without normalization and has none.
///
/// Serializes as its full string ([`Display`](fmt::Display)); deserializes with
/// [`Reference::parse`] (no normalization, like upstream's
/// `Field.UnmarshalText`), which is the exact inverse of `Display`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Go `Parse`: parses `s` against the grammar without normalization. The
    /// domain is `""` when none is present; a digest must use a registered
    /// algorithm (sha256, sha384, sha512).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        let Some(caps) = grammar::reference().captures(s) else {
            let lower = go_to_lower(s);
            if lower != s && grammar::reference().is_match(&lower) {
                return Err(ReferenceError::NameContainsUppercase);
            }
            return Err(ReferenceError::InvalidReferenceFormat);
        };
        let name = caps.get(1).map_or("", |m| m.as_str());
        let (domain, path) = match grammar::anchored_name().captures(name) {
            Some(nc) => (
                nc.get(1).map_or("", |m| m.as_str()),
                nc.get(2).map_or("", |m| m.as_str()),
            ),
            None => ("", name),
        };
        if path.len() > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        let tag = caps
            .get(2)
            .map(|m| m.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let digest = match caps.get(3).map(|m| m.as_str()) {
            Some(d) if !d.is_empty() => {
                validate_digest(d)?;
                Some(d.to_owned())
            }
            _ => None,
        };
        if name.is_empty() {
            // Unreachable with this grammar (a name is mandatory); kept to
            // mirror upstream's getBestReferenceType.
            return Err(ReferenceError::NameEmpty);
        }
        Ok(Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag,
            digest,
        })
    }

    /// Go `ParseNamed`: like [`Reference::parse_normalized`], but `s` must
    /// already be in canonical (fully normalized) form, otherwise
    /// [`ReferenceError::NameNotCanonical`].
    pub fn parse_named(s: &str) -> Result<Reference, ReferenceError> {
        let named = Reference::parse_normalized(s)?;
        if named.to_string() != s {
            return Err(ReferenceError::NameNotCanonical);
        }
        Ok(named)
    }

    /// Go `ParseNormalizedNamed`: parses a familiar name as the Docker CLI does
    /// (`ubuntu` → `docker.io/library/ubuntu`, `index.docker.io/x/y` →
    /// `docker.io/x/y`). Rejects bare 64-hex identifiers and uppercase in the
    /// remote name with upstream's formatted messages.
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if grammar::anchored_identifier().is_match(s) {
            return Err(ReferenceError::HexIdentifierName(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(r, _)| r);
        if has_uppercase(remote) {
            return Err(ReferenceError::RemoteNameContainsUppercase(
                remote.to_owned(),
            ));
        }
        Reference::parse(&format!("{domain}/{remainder}"))
    }

    /// Go `ParseDockerRef`: [`Reference::parse_normalized`], then a reference
    /// with both tag and digest keeps only the digest, and one with neither
    /// gets the tag `latest`.
    pub fn parse_docker(s: &str) -> Result<Reference, ReferenceError> {
        let named = Reference::parse_normalized(s)?;
        match (&named.tag, &named.digest) {
            (Some(_), Some(digest)) => Reference::with_name(&named.name())?.with_digest(digest),
            _ => Ok(named.tag_name_only()),
        }
    }

    /// Go `WithName`: a name-only reference from `[domain/]path` (no
    /// normalization; the domain is `""` when absent).
    pub fn with_name(name: &str) -> Result<Reference, ReferenceError> {
        let caps = grammar::anchored_name()
            .captures(name)
            .ok_or(ReferenceError::InvalidReferenceFormat)?;
        let domain = caps.get(1).map_or("", |m| m.as_str());
        let path = caps.get(2).map_or("", |m| m.as_str());
        if path.len() > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag: None,
            digest: None,
        })
    }

    /// Go `WithTag`: this reference with its tag set (replaced) to `tag`; any
    /// digest is kept. Fails with [`ReferenceError::InvalidTagFormat`].
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !is_valid_tag(tag) {
            return Err(ReferenceError::InvalidTagFormat);
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            ..self.clone()
        })
    }

    /// Go `WithDigest`: this reference with its digest set (replaced) to
    /// `digest`; any tag is kept. Like upstream, only the grammar's digest
    /// pattern is checked (not the algorithm or length), failing with
    /// [`ReferenceError::InvalidDigestFormat`].
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
        if !grammar::anchored_digest().is_match(digest) {
            return Err(ReferenceError::InvalidDigestFormat);
        }
        Ok(Reference {
            digest: Some(digest.to_owned()),
            ..self.clone()
        })
    }

    /// The domain (registry host and optional port), `""` if none.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path (remote name) within the domain, e.g. `library/ubuntu`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Go `Name()`: `domain/path`, or just `path` when the domain is empty.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`algorithm:hex`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Go `IsNameOnly`: true when there is neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// Go `TagNameOnly`: adds the tag `latest` when there is neither tag nor
    /// digest; otherwise returns the reference unchanged.
    pub fn tag_name_only(&self) -> Reference {
        let mut out = self.clone();
        if out.is_name_only() {
            out.tag = Some(DEFAULT_TAG.to_owned());
        }
        out
    }

    /// Go `TrimNamed`: the name only, without tag or digest.
    pub fn trim_named(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// Domain and path with `docker.io` and a single-level `library/`
    /// removed (upstream `familiarizeName`).
    fn familiar_parts(&self) -> (&str, &str) {
        if self.domain != DEFAULT_DOMAIN {
            return (&self.domain, &self.path);
        }
        let path = match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest,
            _ => &self.path,
        };
        ("", path)
    }

    /// Go `FamiliarString`: the string users see in docker, with `docker.io/`
    /// and `library/` dropped (`docker.io/library/ubuntu:22.04` →
    /// `ubuntu:22.04`).
    pub fn familiar(&self) -> String {
        struct Familiar<'a>(&'a Reference);
        impl fmt::Display for Familiar<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let (domain, path) = self.0.familiar_parts();
                write_reference(f, domain, path, self.0.tag(), self.0.digest())
            }
        }
        Familiar(self).to_string()
    }

    /// Go `FamiliarName`: the familiar name without tag or digest
    /// (`docker.io/library/ubuntu:22.04` → `ubuntu`).
    pub fn familiar_name(&self) -> String {
        match self.familiar_parts() {
            ("", path) => path.to_owned(),
            (domain, path) => format!("{domain}/{path}"),
        }
    }
}

impl fmt::Display for Reference {
    /// Go `String()`: `name[:tag][@digest]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_reference(f, &self.domain, &self.path, self.tag(), self.digest())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// Same as [`Reference::parse_normalized`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    /// Parses with [`Reference::parse`] (no normalization).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// AnyReference
// ---------------------------------------------------------------------------

/// Result of [`parse_any`] (Go `ParseAnyReference`): a named reference or a
/// bare digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnyReference {
    /// A (normalized) named reference.
    Named(Reference),
    /// A bare digest `algorithm:hex`; a bare 64-hex identifier becomes
    /// `sha256:<hex>`.
    Digest(String),
}

impl AnyReference {
    /// The named reference, if this is one.
    pub fn as_named(&self) -> Option<&Reference> {
        match self {
            AnyReference::Named(r) => Some(r),
            AnyReference::Digest(_) => None,
        }
    }

    /// The digest: the bare digest, or the named reference's digest if any.
    pub fn digest(&self) -> Option<&str> {
        match self {
            AnyReference::Named(r) => r.digest(),
            AnyReference::Digest(d) => Some(d),
        }
    }

    /// Go `FamiliarString`: the named reference's familiar form, or the
    /// digest unchanged.
    pub fn familiar(&self) -> String {
        match self {
            AnyReference::Named(r) => r.familiar(),
            AnyReference::Digest(d) => d.clone(),
        }
    }
}

impl fmt::Display for AnyReference {
    /// Go `String()`: the full reference, or the digest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(r) => fmt::Display::fmt(r, f),
            AnyReference::Digest(d) => f.write_str(d),
        }
    }
}

impl FromStr for AnyReference {
    type Err = ReferenceError;

    /// Same as [`parse_any`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_any(s)
    }
}

/// Go `ParseAnyReference`: a bare 64-hex identifier (→ `sha256:<hex>`), a
/// valid bare digest, or else [`Reference::parse_normalized`].
pub fn parse_any(s: &str) -> Result<AnyReference, ReferenceError> {
    if grammar::anchored_identifier().is_match(s) {
        return Ok(AnyReference::Digest(format!("sha256:{s}")));
    }
    if validate_digest(s).is_ok() {
        return Ok(AnyReference::Digest(s.to_owned()));
    }
    Reference::parse_normalized(s).map(AnyReference::Named)
}

// ---------------------------------------------------------------------------
// Matching and sorting
// ---------------------------------------------------------------------------

/// Go `FamiliarMatch` (docker's `reference=` filter): matches `pattern` with
/// [`path_match`] against the familiar string, then against the familiar name.
/// A malformed pattern gives [`ReferenceError::BadPattern`].
pub fn familiar_match(pattern: &str, reference: &Reference) -> Result<bool, ReferenceError> {
    // Upstream returns the first match's error; the second match's error is
    // ignored. A malformed pattern can never match, so reporting the error
    // alone loses nothing.
    if path_match(pattern, &reference.familiar())? {
        return Ok(true);
    }
    Ok(path_match(pattern, &reference.familiar_name()).unwrap_or(false))
}

/// [`familiar_match`] for an [`AnyReference`]: a bare digest is matched
/// against its string only.
pub fn familiar_match_any(pattern: &str, reference: &AnyReference) -> Result<bool, ReferenceError> {
    match reference {
        AnyReference::Named(r) => familiar_match(pattern, r),
        AnyReference::Digest(d) => path_match(pattern, d),
    }
}

/// Go `reference.Sort` (containerd's ordering): parses each string with
/// [`parse_any`] and returns them as full strings ([`AnyReference`]'s
/// `Display`), ordered by: tag and digest, tag only, digest only, name only,
/// bare digest; ties by string. Unparseable inputs come last, unchanged and
/// sorted.
pub fn sort<S: AsRef<str>>(references: &[S]) -> Vec<String> {
    fn rank(r: &AnyReference) -> u8 {
        match r {
            AnyReference::Named(n) => match (n.tag.is_some(), n.digest.is_some()) {
                (true, true) => 1,
                (true, false) => 2,
                (false, true) => 3,
                (false, false) => 4,
            },
            AnyReference::Digest(_) => 5,
        }
    }
    let mut parsed: Vec<(u8, String)> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    for r in references {
        match parse_any(r.as_ref()) {
            Ok(any) => parsed.push((rank(&any), any.to_string())),
            Err(_) => bad.push(r.as_ref().to_owned()),
        }
    }
    parsed.sort();
    bad.sort();
    parsed.into_iter().map(|(_, s)| s).chain(bad).collect()
}

/// Go `path.Match`: shell-style matching of the whole `name`. `*` matches any
/// run of non-`/` characters, `?` one non-`/` character, `[...]` / `[^...]` a
/// character class with ranges, and `\` escapes. A malformed pattern gives
/// [`ReferenceError::BadPattern`] (Go reports it only when matching reaches
/// the bad part or fails; this port does the same).
pub fn path_match(pattern: &str, name: &str) -> Result<bool, ReferenceError> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // Trailing `*` matches the rest unless it contains a `/`.
            return Ok(!name.contains(&b'/'));
        }
        // Match at the current position; for the last chunk the name must be
        // exhausted, or a star may still produce a match further on.
        if let Some(t) = match_chunk(chunk, name)? {
            if t.is_empty() || !pattern.is_empty() {
                name = t;
                continue;
            }
        }
        if star {
            // Skip i+1 bytes (never a `/`) and retry.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // Before failing, check the rest of the pattern is well-formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the next chunk: leading stars, then non-star pattern up to the
/// next `*` outside a character class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // Skip the escaped byte; a trailing backslash is reported by
            // match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, &[])
}

/// Go's `utf8.DecodeRune`: the code point at the start of `s` and its width,
/// or (U+FFFD, 1) for an invalid sequence, (U+FFFD, 0) for empty input.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    if s.is_empty() {
        return (0xFFFD, 0);
    }
    for len in 1..=s.len().min(4) {
        if let Ok(text) = std::str::from_utf8(&s[..len]) {
            if let Some(c) = text.chars().next() {
                return (u32::from(c), len);
            }
        }
    }
    (0xFFFD, 1)
}

/// Matches a star-free chunk against the start of `s`, returning the rest of
/// `s` on success. The whole chunk is always parsed, so malformed syntax is
/// reported even after the match has failed.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, ReferenceError> {
    let mut failed = false;
    while let Some((&first, after)) = chunk.split_first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = after;
                let negated = if let [b'^', rest @ ..] = chunk {
                    chunk = rest;
                    true
                } else {
                    false
                };
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if let [b']', rest @ ..] = chunk {
                        if ranges > 0 {
                            chunk = rest;
                            break;
                        }
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let [b'-', rest @ ..] = chunk {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s.first() == Some(&b'/') {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = after;
            }
            b'\\' => {
                let Some((&literal, after)) = after.split_first() else {
                    return Err(ReferenceError::BadPattern);
                };
                match_literal(literal, &mut failed, &mut s);
                chunk = after;
            }
            literal => {
                match_literal(literal, &mut failed, &mut s);
                chunk = after;
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

fn match_literal(literal: u8, failed: &mut bool, s: &mut &[u8]) {
    if *failed {
        return;
    }
    match s.split_first() {
        Some((&c, rest)) => {
            if c != literal {
                *failed = true;
            }
            *s = rest;
        }
        None => *failed = true,
    }
}

/// Reads a possibly escaped character of a character class; the chunk must
/// continue after it.
fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), ReferenceError> {
    let chunk = match chunk {
        [] | [b'-', ..] | [b']', ..] => return Err(ReferenceError::BadPattern),
        [b'\\', rest @ ..] => {
            if rest.is_empty() {
                return Err(ReferenceError::BadPattern);
            }
            rest
        }
        _ => chunk,
    };
    let (r, n) = decode_rune(chunk);
    if r == 0xFFFD && n == 1 {
        return Err(ReferenceError::BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(ReferenceError::BadPattern);
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn length_limit_applies_to_path_only() {
        let long_domain = format!("{}.com", "a".repeat(300));
        let path255 = "b".repeat(255);
        let r = Reference::parse(&format!("{long_domain}/{path255}:t")).unwrap();
        assert_eq!(r.domain(), long_domain);
        assert_eq!(r.path(), path255);
        assert_eq!(
            Reference::parse(&format!("{long_domain}/{path255}b")),
            Err(ReferenceError::NameTooLong)
        );
        assert_eq!(
            Reference::with_name(&format!("x/{path255}b")),
            Err(ReferenceError::NameTooLong)
        );
        assert!(Reference::with_name(&format!("{long_domain}/{path255}")).is_ok());
        assert_eq!(
            ReferenceError::NameTooLong.to_string(),
            "repository name must not be more than 255 characters"
        );
        // Normalization adds `library/`, which counts toward the path.
        let name252 = "c".repeat(252);
        assert_eq!(
            Reference::parse_normalized(&name252),
            Err(ReferenceError::NameTooLong)
        );
        assert!(Reference::parse_normalized(&"c".repeat(247)).is_ok());
    }

    #[test]
    fn uppercase_messages() {
        assert_eq!(
            Reference::parse("Uppercase:tag").unwrap_err().to_string(),
            "repository name must be lowercase"
        );
        assert_eq!(
            Reference::parse_normalized("Foo").unwrap_err().to_string(),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(
            Reference::parse_normalized("example.com/Foo:Tag")
                .unwrap_err()
                .to_string(),
            "invalid reference format: repository name (Foo) must be lowercase"
        );
        // The tag may contain uppercase.
        assert_eq!(
            Reference::parse_normalized("foo:Tag").unwrap().to_string(),
            "docker.io/library/foo:Tag"
        );
        // Go's ToLower maps U+0130 to ASCII 'i', so this is an uppercase error.
        assert_eq!(
            Reference::parse("\u{130}mage"),
            Err(ReferenceError::NameContainsUppercase)
        );
        assert_eq!(
            Reference::parse("\u{e9}mage"),
            Err(ReferenceError::InvalidReferenceFormat)
        );
    }

    #[test]
    fn digests() {
        let sha512 = format!("sha512:{}", "f".repeat(128));
        let r = Reference::parse(&format!("repo@{sha512}")).unwrap();
        assert_eq!(r.digest(), Some(sha512.as_str()));
        let sha384 = format!("sha384:{}", "0".repeat(96));
        assert!(Reference::parse(&format!("repo@{sha384}")).is_ok());
        assert!(is_valid_digest(&sha512));
        assert_eq!(
            Reference::parse(&format!("repo@sha512:{}", "f".repeat(64))),
            Err(ReferenceError::DigestInvalidLength)
        );
        // Uppercase hex passes the grammar but not go-digest.
        assert_eq!(
            Reference::parse(&format!("repo@sha256:{}", "F".repeat(64))),
            Err(ReferenceError::DigestChecksumInvalidFormat)
        );
        assert_eq!(
            validate_digest("md5:abc"),
            Err(ReferenceError::DigestUnsupported)
        );
        assert_eq!(
            validate_digest("MD5:abc"),
            Err(ReferenceError::DigestChecksumInvalidFormat)
        );
        assert_eq!(
            validate_digest(":abc"),
            Err(ReferenceError::DigestChecksumInvalidFormat)
        );
        assert_eq!(
            validate_digest("sha256:"),
            Err(ReferenceError::DigestChecksumInvalidFormat)
        );
        assert_eq!(
            validate_digest("sha256"),
            Err(ReferenceError::DigestChecksumInvalidFormat)
        );
        // WithDigest only checks the grammar.
        let r = Reference::with_name("foo").unwrap();
        assert!(r.with_digest(&format!("sha256:{}", "A".repeat(32))).is_ok());
        assert_eq!(
            r.with_digest("sha256:abc"),
            Err(ReferenceError::InvalidDigestFormat)
        );
    }

    #[test]
    fn parse_any_cases() {
        let hex = "a".repeat(64);
        assert_eq!(
            parse_any(&hex).unwrap(),
            AnyReference::Digest(format!("sha256:{hex}"))
        );
        let sha512 = format!("sha512:{}", "b".repeat(128));
        assert_eq!(
            parse_any(&sha512).unwrap().to_string(),
            sha512,
            "a bare sha512 digest is a digest reference"
        );
        // An invalid digest falls through to a name with a tag, like upstream.
        let r = parse_any("sha256:abc").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/sha256:abc");
        assert_eq!(r.familiar(), "sha256:abc");
    }

    #[test]
    fn docker_ref_and_helpers() {
        let d = format!("sha256:{}", "e".repeat(64));
        let r = Reference::parse_docker(&format!("busybox:1@{d}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{d}"));
        assert_eq!(r.tag(), None);
        let r = Reference::parse_docker("busybox").unwrap();
        assert_eq!(r.tag(), Some("latest"));
        assert_eq!(r.trim_named().to_string(), "docker.io/library/busybox");
        let nested = Reference::parse_normalized("docker.io/library/foo/bar:t").unwrap();
        assert_eq!(nested.familiar(), "library/foo/bar:t");
        assert_eq!(nested.familiar_name(), "library/foo/bar");
        let tagged = Reference::with_name("x/y").unwrap().with_tag("t1").unwrap();
        assert_eq!(tagged.with_tag("t2").unwrap().to_string(), "x/y:t2");
        assert_eq!(
            tagged.with_tag("-bad"),
            Err(ReferenceError::InvalidTagFormat)
        );
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(!is_valid_tag("\u{e9}"));
        assert_eq!(
            "ubuntu".parse::<Reference>().unwrap().path(),
            "library/ubuntu"
        );
    }

    #[test]
    fn sort_normalizes_and_puts_unparseable_last() {
        let d = format!("sha256:{}", "1".repeat(64));
        let got = sort(&[
            "zz bad".to_owned(),
            "a bad".to_owned(),
            d.clone(),
            "busybox".to_owned(),
            format!("busybox@{d}"),
            "busybox:1".to_owned(),
            format!("busybox:1@{d}"),
        ]);
        assert_eq!(
            got,
            vec![
                format!("docker.io/library/busybox:1@{d}"),
                "docker.io/library/busybox:1".to_owned(),
                format!("docker.io/library/busybox@{d}"),
                "docker.io/library/busybox".to_owned(),
                d.clone(),
                "a bad".to_owned(),
                "zz bad".to_owned(),
            ]
        );
    }

    #[test]
    fn serde_round_trip() {
        for s in [
            "ubuntu",
            "docker.io/library/ubuntu:22.04",
            "[::1]:5000/a/b@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let r = Reference::parse(s).unwrap();
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            let back: Reference = serde_json::from_str(&json).unwrap();
            assert_eq!(back, r);
        }
        assert!(serde_json::from_str::<Reference>("\"Bad\"").is_err());
    }

    #[test]
    fn path_match_semantics() {
        let m = |p: &str, n: &str| path_match(p, n);
        assert_eq!(m("*", "abc"), Ok(true));
        assert_eq!(m("*", "a/b"), Ok(false));
        assert_eq!(m("a*/b", "abc/b"), Ok(true));
        assert_eq!(m("a*b*c*d*e*/f", "axbxcxdxe/f"), Ok(true));
        assert_eq!(m("a*b?c*x", "abxbbxdbxebxczzx"), Ok(true));
        assert_eq!(m("ab[c]", "abc"), Ok(true));
        assert_eq!(m("ab[b-d]", "abc"), Ok(true));
        assert_eq!(m("ab[^c]", "abc"), Ok(false));
        assert_eq!(m("ab[^b-d]", "abe"), Ok(true));
        assert_eq!(m("a\\*b", "a*b"), Ok(true));
        assert_eq!(m("a\\*b", "ab"), Ok(false));
        assert_eq!(m("a?b", "a\u{263a}b"), Ok(true));
        assert_eq!(m("a[^a]b", "a\u{263a}b"), Ok(true));
        assert_eq!(m("a???b", "a\u{263a}b"), Ok(false));
        assert_eq!(m("[\\]a]", "]"), Ok(true));
        assert_eq!(m("[\\-]", "-"), Ok(true));
        assert_eq!(m("[x\\-]", "-"), Ok(true));
        assert_eq!(m("*x", "xxx"), Ok(true));
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]", "[", "[^", "[^bc", "a[", "\\", "a\\",
        ] {
            assert_eq!(m(bad, "a"), Err(ReferenceError::BadPattern), "{bad}");
        }
        // The rest of the pattern is validated even after a mismatch.
        assert_eq!(m("a[", "x"), Err(ReferenceError::BadPattern));
        assert_eq!(m("a/b[", "x"), Err(ReferenceError::BadPattern));
        assert_eq!(m("*x[", "y"), Err(ReferenceError::BadPattern));
        assert_eq!(
            ReferenceError::BadPattern.to_string(),
            "syntax error in pattern"
        );
        let r = Reference::parse_normalized("foo/bar:tag").unwrap();
        assert_eq!(familiar_match("[", &r), Err(ReferenceError::BadPattern));
        assert_eq!(familiar_match("foo/*", &r), Ok(true));
        assert_eq!(familiar_match("docker.io/*/*", &r), Ok(false));
    }
}
