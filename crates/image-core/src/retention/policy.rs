//! Retention policies: the rules a cleanup plan follows, their serde form,
//! and loading them from TOML files with errors that name the line and
//! column of the bad input. See the [parent module](super) for the rules'
//! meaning and an example file.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ImageError, Result};
use crate::filter::{TimeFilter, parse_go_duration};
use crate::reference::{self, Reference};

/// The repository name a dangling image without any reference is matched
/// under, as `docker images` shows it.
pub const NO_REPOSITORY: &str = "<none>";

/// A retention policy: one or more [`RetentionRule`]s. For each repository
/// the first rule whose `repository` globs match it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// The rules, in order of precedence.
    #[serde(default)]
    pub rules: Vec<RetentionRule>,
}

/// One rule of a [`RetentionPolicy`]; see the [module docs](super) for how
/// its fields combine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Go `path.Match` globs matched against the familiar repository name
    /// (`myapp`, `registry.example.com/team/*`) as the `reference=` filter
    /// matches it; `<none>` names dangling images without any reference.
    #[serde(deserialize_with = "repository_globs")]
    pub repository: Vec<String>,
    /// Keep this many tags per repository, newest first by [`order`],
    /// not counting protected tags and tags of images in use.
    ///
    /// [`order`]: RetentionRule::order
    #[serde(
        default,
        deserialize_with = "keep_last",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_last: Option<usize>,
    /// Go `path.Match` globs over the tag alone (`production`, `v*-lts`):
    /// matching tags are never removed.
    #[serde(default, deserialize_with = "tag_globs")]
    pub keep: Vec<String>,
    /// Only tags whose image is older than this are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<Age>,
    /// What "newest" means for `keep_last`.
    #[serde(default)]
    pub order: Order,
    /// Whether this rule also removes dangling images (no tags) of its
    /// repositories.
    #[serde(default)]
    pub dangling: bool,
}

/// How the tags of a repository are ranked for `keep_last`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// By the image's creation time, newest first; images without one are
    /// the oldest. Ties: tag name, then image ID, ascending.
    #[default]
    Created,
    /// By semantic version, highest first (a leading `v` is allowed, `1`
    /// and `1.2` read as `1.0.0` and `1.2.0`); tags that are not versions
    /// rank after every version, among themselves by creation time. Ties:
    /// creation time, tag name, image ID.
    Semver,
}

/// A Go-style duration (`720h`, `1h30m`, `90s`), how old a tag's image must
/// be before a rule may remove the tag. Written back in Go's form (`720h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(try_from = "String", into = "String")]
pub struct Age(pub Duration);

impl Age {
    /// Parses a Go duration the way Go's `time.ParseDuration` does; a
    /// negative one is refused.
    pub fn parse(text: &str) -> Result<Age> {
        match parse_go_duration(text) {
            Some((false, nanos)) | Some((true, nanos @ 0)) => Ok(Age(Duration::from_nanos(nanos))),
            Some((true, _)) => Err(ImageError::invalid_argument(format!(
                "older_than {text:?} is negative: give how old an image must be, for example \"720h\""
            ))),
            None => Err(ImageError::invalid_argument(format!(
                "older_than {text:?} is not a Go duration: use a number and a unit among \
                 ns, us, ms, s, m, h, for example \"720h\" or \"1h30m\" (there is no unit for days)"
            ))),
        }
    }

    /// The instant before which an image is older than this, at `now`.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        TimeFilter::Ago(self.0).resolve(now)
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        TimeFilter::Ago(self.0).fmt(f)
    }
}

impl TryFrom<String> for Age {
    type Error = String;

    fn try_from(value: String) -> std::result::Result<Age, String> {
        Age::parse(&value).map_err(|e| message_of(&e))
    }
}

impl From<Age> for String {
    fn from(value: Age) -> String {
        value.to_string()
    }
}

/// The message of an [`ImageError::InvalidArgument`] without its prefix.
fn message_of(error: &ImageError) -> String {
    match error {
        ImageError::InvalidArgument { message } => message.clone(),
        other => other.to_string(),
    }
}

/// Checks a Go `path.Match` glob; `what` names the field.
fn check_glob(what: &str, glob: &str) -> Result<()> {
    // Matching against "" parses every chunk of the pattern.
    reference::path_match(glob, "").map(|_| ()).map_err(|err| {
        ImageError::invalid_argument(format!(
            "{what} glob {glob:?} is malformed ({err}): use *, ? and [a-z] classes as in Go's path.Match"
        ))
    })
}

fn repository_globs<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    let globs = Vec::<String>::deserialize(d)?;
    check_repository_globs(&globs).map_err(|e| serde::de::Error::custom(message_of(&e)))?;
    Ok(globs)
}

fn check_repository_globs(globs: &[String]) -> Result<()> {
    if globs.is_empty() {
        return Err(ImageError::invalid_argument(
            "repository is empty: name at least one repository glob, for example [\"myapp\"] or [\"*\"]",
        ));
    }
    globs.iter().try_for_each(|g| check_glob("repository", g))
}

fn tag_globs<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    let globs = Vec::<String>::deserialize(d)?;
    check_tag_globs(&globs).map_err(|e| serde::de::Error::custom(message_of(&e)))?;
    Ok(globs)
}

fn check_tag_globs(globs: &[String]) -> Result<()> {
    globs.iter().try_for_each(|g| check_glob("keep", g))
}

fn keep_last<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<usize>, D::Error> {
    let n = Option::<usize>::deserialize(d)?;
    check_keep_last(n).map_err(|e| serde::de::Error::custom(message_of(&e)))?;
    Ok(n)
}

fn check_keep_last(n: Option<usize>) -> Result<()> {
    if n == Some(0) {
        return Err(ImageError::invalid_argument(
            "keep_last = 0 would keep no tag by count: leave keep_last out and let \
             older_than decide, or keep at least 1",
        ));
    }
    Ok(())
}

impl RetentionPolicy {
    /// Reads a policy from TOML text (the [module docs](super) show an
    /// example) and [validates](Self::validate) it.
    ///
    /// Errors are [`ImageError::InvalidArgument`] whose message names the
    /// line and column and what is wrong, for example `retention policy,
    /// line 4, column 14: older_than "soon" is not a Go duration: ...` or
    /// `retention policy, line 3, column 1: unknown field `keep_lst`,
    /// expected one of ...`.
    pub fn from_toml(text: &str) -> Result<RetentionPolicy> {
        let policy: RetentionPolicy = toml::from_str(text).map_err(|err| {
            let place = err
                .span()
                .map(|span| line_and_column(text, span.start))
                .map(|(line, column)| format!(", line {line}, column {column}"))
                .unwrap_or_default();
            ImageError::invalid_argument(format!(
                "retention policy{place}: {}",
                err.message().trim_end()
            ))
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// Reads and [parses](Self::from_toml) a policy file; errors name the
    /// file.
    pub fn load(path: &Path) -> Result<RetentionPolicy> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ImageError::invalid_argument(format!(
                "cannot read retention policy {}: {err}",
                path.display()
            ))
        })?;
        RetentionPolicy::from_toml(&text).map_err(|err| {
            ImageError::invalid_argument(format!("{}: {}", path.display(), message_of(&err)))
        })
    }

    /// Checks what serde cannot: at least one rule, and for policies built
    /// in code, every rule's globs and `keep_last` as loading checks them.
    pub fn validate(&self) -> Result<()> {
        if self.rules.is_empty() {
            return Err(ImageError::invalid_argument(
                "retention policy has no rules: add at least one [[rules]] table with a \
                 repository list",
            ));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            check_repository_globs(&rule.repository)
                .and_then(|()| check_tag_globs(&rule.keep))
                .and_then(|()| check_keep_last(rule.keep_last))
                .map_err(|err| {
                    ImageError::invalid_argument(format!(
                        "retention policy, rule {}: {}",
                        index + 1,
                        message_of(&err)
                    ))
                })?;
        }
        Ok(())
    }

    /// The index of the rule that applies to the tags of `repository` (a
    /// name-only reference): the first whose globs match its familiar name.
    pub(crate) fn rule_for(&self, repository: &Reference) -> Option<usize> {
        self.rules.iter().position(|rule| {
            rule.repository
                .iter()
                .any(|glob| reference::familiar_match(glob, repository).unwrap_or(false))
        })
    }

    /// The index of the rule that applies to a dangling image whose
    /// references are in `repositories` (`None` for no reference, matched
    /// as `<none>`): the first rule with `dangling = true` whose globs match
    /// one of them.
    pub(crate) fn dangling_rule_for(&self, repositories: &[Reference]) -> Option<usize> {
        self.rules.iter().position(|rule| {
            rule.dangling
                && rule.repository.iter().any(|glob| {
                    if repositories.is_empty() {
                        reference::path_match(glob, NO_REPOSITORY).unwrap_or(false)
                    } else {
                        repositories
                            .iter()
                            .any(|r| reference::familiar_match(glob, r).unwrap_or(false))
                    }
                })
        })
    }
}

impl RetentionRule {
    /// The first `keep` glob that matches `tag`.
    pub(crate) fn protecting_glob(&self, tag: &str) -> Option<&str> {
        self.keep
            .iter()
            .find(|glob| reference::path_match(glob, tag).unwrap_or(false))
            .map(String::as_str)
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        match RetentionPolicy::from_toml(text).unwrap_err() {
            ImageError::InvalidArgument { message } => message,
            other => panic!("not an invalid argument: {other:?}"),
        }
    }

    #[test]
    fn a_full_policy_loads() {
        let policy = RetentionPolicy::from_toml(
            r#"
            [[rules]]
            repository = ["myapp", "registry.example.com/team/*"]
            keep_last = 3
            keep = ["production", "v*-lts", "latest"]
            older_than = "720h"
            order = "semver"
            dangling = true

            [[rules]]
            repository = ["*"]
            older_than = "1h30m"
            "#,
        )
        .unwrap();
        assert_eq!(policy.rules.len(), 2);
        let first = &policy.rules[0];
        assert_eq!(first.keep_last, Some(3));
        assert_eq!(first.older_than, Some(Age(Duration::from_secs(720 * 3600))));
        assert_eq!(first.order, Order::Semver);
        assert!(first.dangling);
        let second = &policy.rules[1];
        assert_eq!(second.keep_last, None);
        assert!(second.keep.is_empty());
        assert_eq!(second.order, Order::Created);
        assert!(!second.dangling);
        assert_eq!(second.older_than.unwrap().to_string(), "1h30m");
        // JSON (the HTTP API) reads the same shape back.
        let json = serde_json::to_string(&policy).unwrap();
        assert!(json.contains(r#""older_than":"720h""#), "{json}");
        assert!(json.contains(r#""order":"semver""#), "{json}");
        assert_eq!(
            serde_json::from_str::<RetentionPolicy>(&json).unwrap(),
            policy
        );
    }

    #[test]
    fn an_unknown_field_names_its_line() {
        let message = error("[[rules]]\nrepository = [\"a\"]\nkeep_lst = 3\n");
        assert!(
            message.starts_with("retention policy, line 3, column 1: unknown field `keep_lst`"),
            "{message}"
        );
        assert!(message.contains("keep_last"), "lists the fields: {message}");
        let message = error("rulez = []\n");
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn a_bad_duration_names_its_line() {
        let message = error("[[rules]]\nrepository = [\"a\"]\n\nolder_than = \"30d\"\n");
        assert!(
            message.starts_with(
                "retention policy, line 4, column 14: older_than \"30d\" is not a Go duration"
            ),
            "{message}"
        );
        let message = error("[[rules]]\nrepository = [\"a\"]\nolder_than = \"-1h\"\n");
        assert!(
            message.contains("line 3") && message.contains("negative"),
            "{message}"
        );
        let message = error("[[rules]]\nrepository = [\"a\"]\nolder_than = 3600\n");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn bad_globs_and_counts_name_their_line() {
        let message = error("[[rules]]\nrepository = [\"a[\"]\n");
        assert!(
            message.starts_with(
                "retention policy, line 2, column 14: repository glob \"a[\" is malformed"
            ),
            "{message}"
        );
        let message = error("[[rules]]\nrepository = [\"a\"]\nkeep = [\"ok\", \"[z-\"]\n");
        assert!(
            message.contains("line 3") && message.contains("keep glob \"[z-\""),
            "{message}"
        );
        let message = error("[[rules]]\nrepository = []\n");
        assert!(
            message.contains("line 2") && message.contains("repository is empty"),
            "{message}"
        );
        let message = error("[[rules]]\nrepository = [\"a\"]\nkeep_last = 0\n");
        assert!(
            message.contains("line 3") && message.contains("keep_last = 0"),
            "{message}"
        );
        let message = error("[[rules]]\nrepository = [\"a\"]\nkeep_last = -2\n");
        assert!(message.contains("line 3"), "{message}");
        let message = error("[[rules]]\nrepository = [\"a\"]\norder = \"alphabetical\"\n");
        assert!(
            message.contains("line 3") && message.contains("unknown variant"),
            "{message}"
        );
        let message = error("[[rules]]\nkeep_last = 2\n");
        assert!(message.contains("missing field `repository`"), "{message}");
    }

    #[test]
    fn a_policy_needs_rules_and_valid_toml() {
        assert_eq!(
            error(""),
            "retention policy has no rules: add at least one [[rules]] table with a repository list"
        );
        assert!(error("rules = []").contains("no rules"));
        let message = error("[[rules]\nrepository = [\"a\"]\n");
        assert!(message.starts_with("retention policy, line 1"), "{message}");
        let message = error("[[rules]]\nrepository = [\"a\"\n");
        assert!(
            message.contains("line 2") || message.contains("line 3"),
            "{message}"
        );
    }

    #[test]
    fn validate_checks_policies_built_in_code() {
        let rule = RetentionRule {
            repository: vec!["a".into()],
            keep_last: Some(1),
            keep: vec![],
            older_than: None,
            order: Order::Created,
            dangling: false,
        };
        let mut policy = RetentionPolicy {
            rules: vec![rule.clone()],
        };
        assert!(policy.validate().is_ok());
        policy.rules.push(RetentionRule {
            keep: vec!["[".into()],
            ..rule
        });
        let message = message_of(&policy.validate().unwrap_err());
        assert!(
            message.starts_with("retention policy, rule 2: keep glob"),
            "{message}"
        );
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("imgctl-retention-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("policy.toml");
        std::fs::write(
            &path,
            "[[rules]]\nrepository = [\"a\"]\nolder_than = \"x\"\n",
        )
        .unwrap();
        let message = message_of(&RetentionPolicy::load(&path).unwrap_err());
        assert!(message.starts_with(&format!("{}: retention policy, line 3", path.display())));
        let missing = dir.join("missing.toml");
        let message = message_of(&RetentionPolicy::load(&missing).unwrap_err());
        assert!(
            message.starts_with("cannot read retention policy"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ages_parse_like_go() {
        assert_eq!(Age::parse("0").unwrap(), Age(Duration::ZERO));
        assert_eq!(Age::parse("-0s").unwrap(), Age(Duration::ZERO));
        assert_eq!(Age::parse("1.5h").unwrap().to_string(), "1h30m");
        assert!(Age::parse("").is_err());
        assert!(Age::parse("7d").is_err());
        let now = DateTime::parse_from_rfc3339("2025-01-02T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            Age::parse("24h").unwrap().cutoff(now).to_rfc3339(),
            "2025-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn lines_and_columns_count_characters() {
        assert_eq!(line_and_column("abc", 0), (1, 1));
        assert_eq!(line_and_column("a\nbc", 3), (2, 2));
        assert_eq!(line_and_column("é\nxé!", 6), (2, 3));
        assert_eq!(line_and_column("é\nxé", 5), (2, 2), "inside a character");
        assert_eq!(line_and_column("ab", 99), (1, 3));
    }

    #[test]
    fn rules_match_familiar_repositories() {
        let policy = RetentionPolicy::from_toml(
            r#"
            [[rules]]
            repository = ["registry.example.com/team/*"]
            [[rules]]
            repository = ["myapp"]
            dangling = true
            [[rules]]
            repository = ["<none>"]
            dangling = true
            "#,
        )
        .unwrap();
        let repo = |s: &str| Reference::parse_normalized(s).unwrap();
        assert_eq!(
            policy.rule_for(&repo("registry.example.com/team/api")),
            Some(0)
        );
        assert_eq!(policy.rule_for(&repo("docker.io/library/myapp")), Some(1));
        assert_eq!(policy.rule_for(&repo("other")), None);
        assert_eq!(policy.dangling_rule_for(&[]), Some(2));
        assert_eq!(policy.dangling_rule_for(&[repo("myapp")]), Some(1));
        assert_eq!(
            policy.dangling_rule_for(&[repo("registry.example.com/team/api")]),
            None,
            "its rule has dangling = false"
        );
    }
}
