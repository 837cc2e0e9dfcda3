//! Build contexts: docker's `.dockerignore` rules, packing a directory into
//! the tar that `docker build` sends, and reading such a tar back.
//!
//! The Docker backend uses [`pack_directory`] to produce the context it
//! uploads, and the in-memory backend uses [`ContextFiles`] to look at the
//! context it was given. [`IgnoreRules`] follows moby/patternmatcher and
//! `ignorefile.ReadAll` (comments, `!` exceptions, `**`, leading `/` and `./`
//! cleaned away), and [`pack_directory`] follows the docker CLI's classic
//! context walk (`TrimBuildFilesFromExcludes` keeps the Dockerfile and
//! `.dockerignore`, excluded directories are skipped unless an exception
//! names something inside them). This is written by hand because no
//! maintained crate implements docker's exact rules: the ignore-file crates
//! implement gitignore semantics, which differ from docker's (for example
//! `*` does not cross `/` and `abc` only matches at the context root).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use regex::Regex;

use crate::error::{ImageError, Result};

/// The Dockerfile name docker uses when none is given.
pub const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// The name of the ignore file at the root of a build context.
pub const DOCKERIGNORE: &str = ".dockerignore";

// ---------------------------------------------------------------------------
// .dockerignore
// ---------------------------------------------------------------------------

/// Parsed `.dockerignore` patterns with docker's matching rules.
///
/// Later patterns win over earlier ones; a pattern starting with `!` is an
/// exception that re-includes what earlier patterns excluded. A pattern that
/// matches a directory excludes everything below it, as docker does.
///
/// ```
/// use image_core::build_context::IgnoreRules;
///
/// let rules = IgnoreRules::parse("# docs\n*.md\n!README.md\ntarget/\n")?;
/// assert!(rules.is_excluded("CHANGELOG.md"));
/// assert!(!rules.is_excluded("README.md"));
/// assert!(!rules.is_excluded("docs/guide.md")); // `*` stays in one directory
/// assert!(rules.is_excluded("target/debug/app"));
/// # Ok::<(), image_core::ImageError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern without its `!`.
    cleaned: String,
    /// How many `/`-separated parts the pattern has.
    dirs: usize,
    exclusion: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone)]
enum MatchKind {
    Exact,
    /// Matches paths starting with this text (the pattern ended in `**`).
    Prefix(String),
    /// Matches paths ending with this text (the pattern started with `**`).
    Suffix(String),
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                if path.ends_with(suffix.as_str()) {
                    return true;
                }
                // `**/foo` matches "foo" itself.
                suffix
                    .strip_prefix('/')
                    .is_some_and(|rest| !rest.is_empty() && path == rest)
            }
            MatchKind::Regex(re) => re.is_match(path),
        }
    }
}

impl IgnoreRules {
    /// Parses the text of a `.dockerignore` file.
    ///
    /// Like docker's `ignorefile.ReadAll`: a UTF-8 BOM is dropped, lines
    /// starting with `#` are comments, blank lines are skipped, surrounding
    /// whitespace is trimmed, patterns are cleaned like Go's
    /// `filepath.Clean` and a leading `/` is removed. A malformed pattern is
    /// an [`ImageError::InvalidArgument`] that names it.
    pub fn parse(text: &str) -> Result<IgnoreRules> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = IgnoreRules::default();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (invert, mut pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim().to_string()),
                None => (false, line.to_string()),
            };
            if !pattern.is_empty() {
                pattern = clean_path(&pattern);
                if pattern.len() > 1 {
                    if let Some(rest) = pattern.strip_prefix('/') {
                        pattern = rest.to_string();
                    }
                }
            }
            if invert {
                pattern.insert(0, '!');
            }
            rules.push(&pattern)?;
        }
        Ok(rules)
    }

    /// Adds one pattern the way moby/patternmatcher's `New` does.
    fn push(&mut self, pattern: &str) -> Result<()> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Ok(());
        }
        let pattern = clean_path(pattern);
        let (exclusion, pattern) = match pattern.strip_prefix('!') {
            Some("") => {
                return Err(ImageError::invalid_argument(
                    "illegal exclusion pattern: \"!\"",
                ));
            }
            Some(rest) => (true, rest.to_string()),
            None => (false, pattern),
        };
        let bad = || {
            ImageError::invalid_argument(format!(
                "syntax error in .dockerignore pattern {pattern:?}"
            ))
        };
        go_match(&pattern, ".").map_err(|_| bad())?;
        let kind = compile(&pattern).ok_or_else(bad)?;
        self.patterns.push(Pattern {
            dirs: pattern.split('/').count(),
            cleaned: pattern,
            exclusion,
            kind,
        });
        Ok(())
    }

    /// Whether `docker build` leaves `relative_path` out of the context it
    /// sends.
    ///
    /// The path is relative to the context root and `/`-separated (a leading
    /// `/` or `./` is ignored). The answer is the one the docker CLI's context
    /// walk gives: a path is excluded when the rules exclude it, and also when
    /// it lies inside an excluded directory that docker does not descend into
    /// (docker only descends into an excluded directory when an exception
    /// pattern literally starts with that directory's path). The Dockerfile
    /// and `.dockerignore` are not special here; see
    /// [`IgnoreRules::with_build_files_kept`].
    pub fn is_excluded(&self, relative_path: &str) -> bool {
        let path = normalize_lookup(relative_path);
        if path == "." {
            // Don't let them exclude everything, as docker says.
            return false;
        }
        let parts: Vec<&str> = path.split('/').collect();
        let mut parent: Option<Vec<bool>> = None;
        for depth in 1..=parts.len() {
            let prefix = parts[..depth].join("/");
            let (skip, info) = self.matches_using_parent(&prefix, parent.as_deref());
            if depth == parts.len() {
                return skip;
            }
            if skip && !self.can_descend_excluded_dir(&prefix) {
                return true;
            }
            parent = Some(info);
        }
        false
    }

    /// These rules plus exceptions for the Dockerfile and `.dockerignore`
    /// when the rules would exclude them, like the docker CLI's
    /// `TrimBuildFilesFromExcludes`: the daemon needs both files even when
    /// the user ignores them.
    pub fn with_build_files_kept(&self, dockerfile: &str) -> IgnoreRules {
        let mut rules = self.clone();
        if rules.matches_single_parent(DOCKERIGNORE) {
            // Cannot fail: the pattern is a plain name.
            let _ = rules.push("!.dockerignore");
        }
        let dockerfile = normalize_lookup(&dockerfile.replace('\\', "/"));
        if dockerfile != "." && rules.matches_single_parent(&dockerfile) {
            // A Dockerfile name that is not a valid pattern keeps no
            // exception, as with docker (whose matcher errors out).
            let _ = rules.push(&format!("!{dockerfile}"));
        }
        rules
    }

    /// Whether any pattern is an exception (`!pattern`).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Whether there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// patternmatcher's `MatchesUsingParentResults`; with `parent == None`
    /// this is `MatchesOrParentMatches`.
    fn matches_using_parent(&self, file: &str, parent: Option<&[bool]>) -> (bool, Vec<bool>) {
        let parent = parent.filter(|p| p.len() == self.patterns.len() && !p.is_empty());
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|p| p[i]);
            if !hit {
                // Skip an inclusion when already matched, or an exclusion
                // when nothing matched yet.
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(file);
                if !hit && parent.is_none() {
                    if let Some((dir, _)) = file.rsplit_once('/') {
                        let dirs: Vec<&str> = dir.split('/').collect();
                        hit = (1..=dirs.len()).any(|n| pattern.matches(&dirs[..n].join("/")));
                    }
                }
            }
            info[i] = hit;
            if hit {
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }

    /// patternmatcher's deprecated `Matches`, which only checks the parent
    /// directories as deep as the pattern; the docker CLI still uses it to
    /// decide whether the Dockerfile and `.dockerignore` need an exception.
    fn matches_single_parent(&self, file: &str) -> bool {
        let file = clean_path(file);
        if file == "." {
            return false;
        }
        let parent_dirs: Option<Vec<&str>> =
            file.rsplit_once('/').map(|(d, _)| d.split('/').collect());
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let mut hit = pattern.matches(&file);
            if !hit {
                if let Some(dirs) = &parent_dirs {
                    if pattern.dirs <= dirs.len() {
                        hit = pattern.matches(&dirs[..pattern.dirs].join("/"));
                    }
                }
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether docker's walk still descends into an excluded directory:
    /// only when some exception pattern starts with the directory's path.
    fn can_descend_excluded_dir(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", p.cleaned).starts_with(&dir_slash))
    }
}

/// Compiles a cleaned pattern like patternmatcher's `compile`. Returns `None`
/// when the regular expression cannot be built.
fn compile(pattern: &str) -> Option<MatchKind> {
    #[derive(PartialEq, Clone, Copy)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("^");
    let mut detected = Detected::Exact;
    let mut pos = 0;
    let mut iteration = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        pos += 1;
        match ch {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                // Treat `**/` as `**`.
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos >= chars.len() {
                    // `**` at the end accepts everything, like .gitignore.
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        re.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    // Any number of directories, even none.
                    re.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if iteration == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                detected = Detected::Regex;
            }
            '\\' => {
                if let Some(&next) = chars.get(pos) {
                    pos += 1;
                    re.push_str(&regex::escape(&next.to_string()));
                    detected = Detected::Regex;
                } else {
                    re.push_str("\\\\");
                }
            }
            '[' => {
                let (class, used) = translate_class(&chars[pos..])?;
                pos += used;
                re.push_str(&class);
                detected = Detected::Regex;
            }
            ']' => {
                re.push_str("\\]");
                detected = Detected::Regex;
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        iteration += 1;
    }
    Some(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix(pattern.strip_suffix("**")?.to_string()),
        Detected::Suffix => MatchKind::Suffix(pattern.get(2..)?.to_string()),
        Detected::Regex => {
            re.push('$');
            MatchKind::Regex(Regex::new(&re).ok()?)
        }
    })
}

/// Translates the inside of a `[...]` character class (after the `[`) into
/// a regular-expression class; returns it and how many chars it used.
fn translate_class(chars: &[char]) -> Option<(String, usize)> {
    let mut out = String::from("[");
    let mut pos = 0;
    if chars.first() == Some(&'^') {
        out.push('^');
        pos += 1;
    }
    let mut ranges = 0;
    loop {
        let ch = *chars.get(pos)?;
        if ch == ']' && ranges > 0 {
            pos += 1;
            break;
        }
        let (lo, used) = class_char(&chars[pos..])?;
        pos += used;
        out.push_str(&format!("\\x{{{:x}}}", lo as u32));
        if chars.get(pos) == Some(&'-') {
            let (hi, used) = class_char(&chars[pos + 1..])?;
            pos += 1 + used;
            out.push_str(&format!("-\\x{{{:x}}}", hi as u32));
        }
        ranges += 1;
    }
    out.push(']');
    Some((out, pos))
}

/// One possibly escaped character of a character class.
fn class_char(chars: &[char]) -> Option<(char, usize)> {
    match chars.first()? {
        '\\' => Some((*chars.get(1)?, 2)),
        '-' | ']' => None,
        &c => Some((c, 1)),
    }
}

// ---------------------------------------------------------------------------
// Go's filepath.Match and filepath.Clean, with '/' as the separator
// ---------------------------------------------------------------------------

/// The pattern is malformed (Go's `filepath.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

impl fmt::Display for BadPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

/// Go's `filepath.Match` on Unix: `*` and `?` do not match `/`, `[...]`
/// classes, `\` escapes; the whole pattern is checked for syntax errors.
/// On Unix it is the same algorithm as Go's `path.Match`, which
/// [`reference::path_match`](crate::reference::path_match) implements.
pub(crate) fn go_match(pattern: &str, name: &str) -> std::result::Result<bool, BadPattern> {
    crate::reference::path_match(pattern, name).map_err(|_| BadPattern)
}

/// Whether a path has any of the characters Go's `filepath.Match` treats
/// specially.
fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Go's `path.Clean`: the shortest equivalent path, lexically.
pub(crate) fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    // Leading `..` of a relative path cannot be removed.
    let mut fixed = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.len() > fixed {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                    fixed = parts.len();
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// A path inside a context, for lookups: leading `/` and `..` above the root
/// are clamped to the root, the result is cleaned; the root is `"."`.
fn normalize_lookup(path: &str) -> String {
    let cleaned = clean_path(&format!("/{path}"));
    match cleaned.strip_prefix('/') {
        Some("") | None => ".".to_string(),
        Some(rest) => rest.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Packing a directory
// ---------------------------------------------------------------------------

/// One file-system object found by the walk.
struct Found {
    rel: String,
    kind: FoundKind,
    mode: u32,
    mtime: u64,
}

enum FoundKind {
    File(Vec<u8>),
    Dir,
    Symlink(PathBuf),
}

/// Packs a directory into an uncompressed tar, honouring its `.dockerignore`
/// like `docker build` does.
///
/// `dockerfile` is the Dockerfile's path relative to `dir` (default
/// `Dockerfile`, or `dockerfile` when only that exists, as docker does);
/// it and `.dockerignore` are always kept even when the ignore rules exclude
/// them. The archive is deterministic: entries come in path order (each
/// directory's names sorted, a directory before its contents), regular
/// files, directories and symlinks (stored as links, never followed) keep
/// their permission bits and modification times, and owners are `0:0` as the
/// docker CLI sets them. Other kinds of files (sockets, FIFOs, devices) are
/// left out.
///
/// Errors use docker's wording: a missing `dir` is
/// `unable to prepare context: path "DIR" not found`, a file is
/// `unable to prepare context: context must be a directory: DIR`, and an
/// unreadable file or directory is `checking context: ...`, all as
/// [`ImageError::InvalidArgument`]; a malformed `.dockerignore` pattern is
/// one too. The Dockerfile itself need not exist: the engine reports that.
pub fn pack_directory(dir: &Path, dockerfile: Option<&str>) -> Result<Vec<u8>> {
    if fs::metadata(dir).is_err() {
        return Err(ImageError::invalid_argument(format!(
            "unable to prepare context: path {:?} not found",
            dir.display().to_string()
        )));
    }
    let root = fs::canonicalize(dir).map_err(|e| {
        ImageError::invalid_argument(format!(
            "unable to prepare context: unable to evaluate symlinks in context path: {e}"
        ))
    })?;
    if !root.is_dir() {
        return Err(ImageError::invalid_argument(format!(
            "unable to prepare context: context must be a directory: {}",
            root.display()
        )));
    }

    let dockerfile = match dockerfile {
        Some(name) => name.to_string(),
        None => {
            let lower = DEFAULT_DOCKERFILE.to_lowercase();
            if fs::symlink_metadata(root.join(DEFAULT_DOCKERFILE)).is_err()
                && fs::symlink_metadata(root.join(&lower)).is_ok()
            {
                lower
            } else {
                DEFAULT_DOCKERFILE.to_string()
            }
        }
    };

    let rules = match fs::read(root.join(DOCKERIGNORE)) {
        Ok(bytes) => IgnoreRules::parse(&String::from_utf8_lossy(&bytes))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => IgnoreRules::default(),
        Err(e) => return Err(ImageError::backend("error reading .dockerignore", e)),
    };
    let rules = rules.with_build_files_kept(&dockerfile);

    let mut found = Vec::new();
    walk(&rules, &root, "", None, &mut found)?;
    write_tar(found)
}

fn walk(
    rules: &IgnoreRules,
    dir: &Path,
    rel_dir: &str,
    parent: Option<&[bool]>,
    out: &mut Vec<Found>,
) -> Result<()> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .map_err(|e| walk_error(dir, e))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let rel = if rel_dir.is_empty() {
            name.to_string()
        } else {
            format!("{rel_dir}/{name}")
        };
        let full = entry.path();
        let meta = fs::symlink_metadata(&full).map_err(|e| walk_error(&full, e))?;
        let file_type = meta.file_type();
        let (skip, info) = rules.matches_using_parent(&rel, parent);
        if skip {
            if file_type.is_dir() && rules.can_descend_excluded_dir(&rel) {
                walk(rules, &full, &rel, Some(&info), out)?;
            }
            continue;
        }
        let mode = mode_bits(&meta);
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        if file_type.is_dir() {
            out.push(Found {
                rel: rel.clone(),
                kind: FoundKind::Dir,
                mode,
                mtime,
            });
            walk(rules, &full, &rel, Some(&info), out)?;
        } else if file_type.is_symlink() {
            let target = fs::read_link(&full).map_err(|e| walk_error(&full, e))?;
            out.push(Found {
                rel,
                kind: FoundKind::Symlink(target),
                mode,
                mtime,
            });
        } else if file_type.is_file() {
            let data = fs::read(&full).map_err(|e| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    ImageError::invalid_argument(format!(
                        "checking context: no permission to read from '{}'",
                        full.display()
                    ))
                } else {
                    ImageError::backend(format!("reading {}", full.display()), e)
                }
            })?;
            out.push(Found {
                rel,
                kind: FoundKind::File(data),
                mode,
                mtime,
            });
        }
    }
    Ok(())
}

/// docker's wording for a walk that cannot read something.
fn walk_error(path: &Path, e: io::Error) -> ImageError {
    match e.kind() {
        io::ErrorKind::PermissionDenied => ImageError::invalid_argument(format!(
            "checking context: can't stat '{}'",
            path.display()
        )),
        io::ErrorKind::NotFound => ImageError::invalid_argument(format!(
            "checking context: file ('{}') not found or excluded by .dockerignore",
            path.display()
        )),
        _ => ImageError::backend(format!("reading {}", path.display()), e),
    }
}

#[cfg(unix)]
fn mode_bits(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_bits(_meta: &fs::Metadata) -> u32 {
    // docker's chmodTarEntry on Windows: everything 0755.
    0o755
}

fn write_tar(found: Vec<Found>) -> Result<Vec<u8>> {
    let fail = |e: io::Error| ImageError::backend("writing the build context archive", e);
    let mut builder = tar::Builder::new(Vec::new());
    for item in found {
        let mut header = tar::Header::new_gnu();
        header.set_mode(item.mode);
        header.set_mtime(item.mtime);
        header.set_uid(0);
        header.set_gid(0);
        match item.kind {
            FoundKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{}/", item.rel), io::empty())
                    .map_err(fail)?;
            }
            FoundKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder
                    .append_link(&mut header, &item.rel, &target)
                    .map_err(fail)?;
            }
            FoundKind::File(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                builder
                    .append_data(&mut header, &item.rel, data.as_slice())
                    .map_err(fail)?;
            }
        }
    }
    builder.into_inner().map_err(fail)
}

// ---------------------------------------------------------------------------
// Reading a context tar
// ---------------------------------------------------------------------------

/// What a path in a build context is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextEntryKind {
    /// A regular file and its contents (hard links are resolved to a copy).
    File(Vec<u8>),
    /// A directory.
    Directory,
    /// A symbolic link and its target, as stored (not resolved).
    Symlink(String),
}

/// One path of a build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// What the path is.
    pub kind: ContextEntryKind,
    /// Permission bits, including setuid, setgid and sticky (`0o7777` mask).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
}

impl ContextEntry {
    fn directory(mode: u32, mtime: u64) -> ContextEntry {
        ContextEntry {
            kind: ContextEntryKind::Directory,
            mode,
            mtime,
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, ContextEntryKind::Directory)
    }

    /// The contents, when this is a regular file.
    pub fn contents(&self) -> Option<&[u8]> {
        match &self.kind {
            ContextEntryKind::File(data) => Some(data),
            _ => None,
        }
    }
}

/// A build context read into memory (for the in-memory backend): file paths
/// with their contents and modes, directories and symlinks.
///
/// Paths are relative to the context root, `/`-separated and cleaned
/// (`src/main.rs`); the root itself is `"."`. Directories that the tar only
/// implies (it has `a/b` but no `a/`) exist as `0755` directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFiles {
    entries: BTreeMap<String, ContextEntry>,
    root: ContextEntry,
}

impl Default for ContextFiles {
    fn default() -> Self {
        ContextFiles {
            entries: BTreeMap::new(),
            root: ContextEntry::directory(0o755, 0),
        }
    }
}

impl ContextFiles {
    /// Reads an uncompressed tar (as [`pack_directory`] makes, or as a client
    /// sends to the build endpoint).
    ///
    /// An entry with an absolute path, or whose `..` components climb out of
    /// the context, is an [`ImageError::InvalidArgument`], and so is data
    /// that is not a tar archive. Later entries replace earlier ones with the
    /// same path, as extracting would. Devices and FIFOs are skipped.
    pub fn from_tar(bytes: &[u8]) -> Result<ContextFiles> {
        let bad_tar = |e: io::Error| {
            ImageError::invalid_argument(format!(
                "invalid build context: failed to read tar archive: {e}"
            ))
        };
        let mut files = ContextFiles::default();
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries().map_err(bad_tar)? {
            let mut entry = entry.map_err(bad_tar)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = archive_path(&raw)? else {
                // The root directory itself.
                continue;
            };
            let header = entry.header();
            let entry_type = header.entry_type();
            let mode = header.mode().unwrap_or(0o644) & 0o7777;
            let mtime = header.mtime().unwrap_or(0);
            let kind = if entry_type.is_dir() {
                ContextEntryKind::Directory
            } else if entry_type.is_symlink() {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                ContextEntryKind::Symlink(target)
            } else if entry_type.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let data = archive_path(&target)?
                    .and_then(|t| files.entries.get(&t))
                    .and_then(|e| e.contents())
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| {
                        ImageError::invalid_argument(format!(
                            "invalid build context: hard link {raw:?} points to {target:?}, which is not a file before it"
                        ))
                    })?;
                ContextEntryKind::File(data)
            } else if entry_type.is_file()
                || entry_type.is_contiguous()
                || entry_type.is_gnu_sparse()
            {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(bad_tar)?;
                ContextEntryKind::File(data)
            } else {
                continue;
            };
            files.insert(path, ContextEntry { kind, mode, mtime })?;
        }
        Ok(files)
    }

    fn insert(&mut self, path: String, entry: ContextEntry) -> Result<()> {
        // Make sure every parent is a directory.
        let mut end = 0;
        while let Some(offset) = path[end..].find('/') {
            let parent = &path[..end + offset];
            match self.entries.get(parent) {
                None => {
                    self.entries
                        .insert(parent.to_string(), ContextEntry::directory(0o755, 0));
                }
                Some(existing) if existing.is_dir() => {}
                Some(_) => {
                    return Err(ImageError::invalid_argument(format!(
                        "invalid build context: {parent:?} is not a directory but {path:?} is inside it"
                    )));
                }
            }
            end += offset + 1;
        }
        let replaces_dir = self.entries.get(&path).is_some_and(ContextEntry::is_dir);
        if replaces_dir && !entry.is_dir() {
            let below: Vec<String> = self.subtree(&path).map(str::to_string).collect();
            for key in below {
                self.entries.remove(&key);
            }
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// The paths strictly below directory `dir`, in path order.
    fn subtree<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{dir}/");
        self.entries
            .range(prefix.clone()..)
            .map(|(path, _)| path.as_str())
            .take_while(move |path| path.starts_with(&prefix))
    }

    /// The entry at `path` (relative to the context root; a leading `/` or
    /// `./` is ignored and `..` cannot leave the root). `"."` is the root
    /// directory.
    pub fn get(&self, path: &str) -> Option<&ContextEntry> {
        let path = normalize_lookup(path);
        if path == "." {
            return Some(&self.root);
        }
        self.entries.get(&path)
    }

    /// Every path and entry, in path order (the root is not included).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextEntry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_str(), entry))
    }

    /// How many paths the context has (the root is not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the context has no paths at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The paths a `COPY`/`ADD` source names directly: `pattern` is matched
    /// against every path with Go's `filepath.Match` (`*` and `?` never
    /// match `/`), after a leading `/` is dropped and the pattern is cleaned.
    /// `.` (or an empty pattern) names the root and gives `["."]`. A
    /// malformed pattern matches nothing. Sorted.
    pub fn matching_roots(&self, pattern: &str) -> Vec<&str> {
        let pattern = normalize_lookup(pattern);
        if pattern == "." {
            return vec!["."];
        }
        if !has_meta(&pattern) {
            return self
                .entries
                .get_key_value(&pattern)
                .map(|(path, _)| vec![path.as_str()])
                .unwrap_or_default();
        }
        self.entries
            .keys()
            .filter(|path| go_match(&pattern, path) == Ok(true))
            .map(String::as_str)
            .collect()
    }

    /// Every path a `COPY`/`ADD` source covers: the paths that match
    /// `pattern` (see [`ContextFiles::matching_roots`]) and, for a matched
    /// directory, everything below it. A pattern naming the root covers the
    /// whole context. Sorted, without duplicates, without `"."`.
    pub fn matching(&self, pattern: &str) -> Vec<&str> {
        let roots = self.matching_roots(pattern);
        if roots == ["."] {
            return self.entries.keys().map(String::as_str).collect();
        }
        let mut out = std::collections::BTreeSet::new();
        for root in roots {
            out.insert(root);
            if self.entries.get(root).is_some_and(ContextEntry::is_dir) {
                out.extend(self.subtree(root));
            }
        }
        out.into_iter().collect()
    }

    /// The text of the Dockerfile called `name`, as the engine reads it:
    /// symlinks inside the context are followed, the default name
    /// `Dockerfile` falls back to `dockerfile`, and the errors are docker's:
    /// `Cannot locate specified Dockerfile: NAME` when it is missing and
    /// `the Dockerfile (NAME) cannot be empty` when it is empty (both
    /// [`ImageError::InvalidArgument`]). Bytes that are not UTF-8 are
    /// replaced.
    pub fn read_dockerfile(&self, name: &str) -> Result<String> {
        let mut name = name.to_string();
        let mut entry = self.resolve(&name);
        if entry.is_none() && name == DEFAULT_DOCKERFILE {
            let lower = DEFAULT_DOCKERFILE.to_lowercase();
            if let Some(found) = self.resolve(&lower) {
                entry = Some(found);
                name = lower;
            }
        }
        let Some(entry) = entry else {
            return Err(ImageError::invalid_argument(format!(
                "Cannot locate specified Dockerfile: {name}"
            )));
        };
        match &entry.kind {
            ContextEntryKind::File(data) if data.is_empty() => Err(ImageError::invalid_argument(
                format!("the Dockerfile ({name}) cannot be empty"),
            )),
            ContextEntryKind::File(data) => Ok(String::from_utf8_lossy(data).into_owned()),
            _ => Err(ImageError::invalid_argument(format!(
                "unexpected error reading Dockerfile: read {name}: is a directory"
            ))),
        }
    }

    /// The entry at `path` with symlinks followed inside the context (a
    /// link cannot point outside it: `..` stops at the root, as docker's
    /// `FollowSymlinkInScope` does).
    fn resolve(&self, path: &str) -> Option<&ContextEntry> {
        let mut path = normalize_lookup(path);
        for _ in 0..255 {
            let entry = self.entries.get(&path)?;
            match &entry.kind {
                ContextEntryKind::Symlink(target) => {
                    let base = match path.rsplit_once('/') {
                        Some((dir, _)) if !target.starts_with('/') => format!("{dir}/{target}"),
                        _ => target.clone(),
                    };
                    path = normalize_lookup(&base);
                    if path == "." {
                        return Some(&self.root);
                    }
                }
                _ => return Some(entry),
            }
        }
        None
    }
}

/// Checks and cleans the path of a tar entry; `None` for the root itself.
fn archive_path(raw: &str) -> Result<Option<String>> {
    if raw.starts_with('/') {
        return Err(ImageError::invalid_argument(format!(
            "invalid build context: {raw:?} is an absolute path"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ImageError::invalid_argument(format!(
                        "invalid build context: {raw:?} is outside of the build context"
                    )));
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parts.join("/")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> IgnoreRules {
        IgnoreRules::parse(&patterns.join("\n")).unwrap()
    }

    /// patternmatcher's `MatchesOrParentMatches`.
    fn or_parent(rules: &IgnoreRules, path: &str) -> bool {
        rules.matches_using_parent(path, None).0
    }

    #[test]
    fn go_match_follows_filepath_match() {
        let table: &[(&str, &str, std::result::Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("[-x]", "x", Err(BadPattern)),
            ("\\", "a", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "a", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, want) in table {
            assert_eq!(
                go_match(pattern, name),
                *want,
                "Match({pattern:?}, {name:?})"
            );
        }
    }

    #[test]
    fn clean_path_is_go_path_clean() {
        for (input, want) in [
            ("", "."),
            ("a/c", "a/c"),
            ("a//c", "a/c"),
            ("a/c/.", "a/c"),
            ("a/c/b/..", "a/c"),
            ("/../a/c", "/a/c"),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("./a/", "a"),
            ("/", "/"),
            ("abc/def/../../..", ".."),
        ] {
            assert_eq!(clean_path(input), want, "Clean({input:?})");
        }
    }

    /// patternmatcher's TestMatches table, `MatchesOrParentMatches` column.
    #[test]
    fn patternmatcher_table() {
        // (pattern, text, matches-or-parent-matches)
        let table: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a\\\\", "a\\", true),
            ("a\\*b", "a*b", true),
        ];
        for (pattern, text, want) in table {
            let mut r = IgnoreRules::default();
            r.push(pattern).unwrap();
            assert_eq!(
                or_parent(&r, text),
                *want,
                "pattern {pattern:?} text {text:?}"
            );
        }
        let multi: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (
                &["**", "!dist/*.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
        ];
        for (patterns, text, want) in multi {
            let r = rules(patterns);
            assert_eq!(
                or_parent(&r, text),
                *want,
                "patterns {patterns:?} text {text:?}"
            );
            assert_eq!(
                r.is_excluded(text),
                *want,
                "walk: patterns {patterns:?} text {text:?}"
            );
        }
    }

    #[test]
    fn dockerignore_files_are_read_like_docker() {
        // ignorefile.ReadAll: comments, blank lines, leading '/', '!' spacing.
        let r = IgnoreRules::parse(
            "\u{feff}test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\r\n  ./docs/  \n",
        )
        .unwrap();
        let cleaned: Vec<(bool, &str)> = r
            .patterns
            .iter()
            .map(|p| (p.exclusion, p.cleaned.as_str()))
            .collect();
        assert_eq!(
            cleaned,
            [
                (false, "test1"),
                (false, "test2"),
                (false, "a/file/here"),
                (false, "lastfile"),
                (true, "inverted/abs/path"),
                (false, "docs"),
            ]
        );
        // Only a '#' in the first column starts a comment.
        let r = IgnoreRules::parse(" #notacomment").unwrap();
        assert!(r.is_excluded("#notacomment"));
    }

    #[test]
    fn bad_patterns_are_invalid_arguments_naming_the_pattern() {
        let err = IgnoreRules::parse("ok\n[").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("\"[\""), "{err}");
        let err = IgnoreRules::parse("a[b-\n").unwrap_err();
        assert!(err.to_string().contains("\"a[b-\""), "{err}");
        let err = IgnoreRules::parse("!").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: illegal exclusion pattern: \"!\""
        );
    }

    #[test]
    fn exclusion_rules() {
        let r = rules(&["*.md", "!README.md"]);
        assert!(r.is_excluded("CHANGES.md"));
        assert!(!r.is_excluded("README.md"));
        // `*` does not cross directories, unlike .gitignore.
        assert!(!r.is_excluded("docs/guide.md"));
        assert!(rules(&["**/*.md"]).is_excluded("docs/deep/guide.md"));

        // A directory pattern excludes everything below it, with or
        // without a trailing slash.
        for patterns in [&["docs"][..], &["docs/"], &["/docs"], &["./docs"]] {
            let r = rules(patterns);
            assert!(r.is_excluded("docs"), "{patterns:?}");
            assert!(r.is_excluded("docs/a/b.txt"), "{patterns:?}");
            assert!(!r.is_excluded("src/docs"), "{patterns:?}");
        }

        // An exception re-includes a file inside an excluded directory.
        let r = rules(&["docs", "!docs/README.md"]);
        assert!(r.is_excluded("docs"));
        assert!(r.is_excluded("docs/other.md"));
        assert!(!r.is_excluded("docs/README.md"));

        // Order matters: a later pattern wins.
        assert!(rules(&["!keep.txt", "*.txt"]).is_excluded("keep.txt"));
        assert!(!rules(&["*.txt", "!keep.txt"]).is_excluded("keep.txt"));

        // The root can never be excluded.
        assert!(!rules(&["**"]).is_excluded("."));
        assert!(!rules(&["*"]).is_excluded(""));

        // docker's walk only descends into an excluded directory when an
        // exception starts with its path, so `!**/*.go` cannot rescue files
        // under an excluded directory...
        let r = rules(&["*", "!**/*.go"]);
        assert!(!r.is_excluded("main.go"));
        assert!(r.is_excluded("src/lib.go"));
        // ...while a literal path can.
        let r = rules(&["*", "!src/lib.go"]);
        assert!(!r.is_excluded("src/lib.go"));
        assert!(r.is_excluded("src"));
        assert!(r.is_excluded("src/other.go"));
    }

    #[test]
    fn build_files_are_kept() {
        let r = rules(&["*", "!src"]).with_build_files_kept("Dockerfile");
        assert!(!r.is_excluded("Dockerfile"));
        assert!(!r.is_excluded(".dockerignore"));
        assert!(r.is_excluded("README.md"));
        assert!(!r.is_excluded("src/main.rs"));

        let r = rules(&["build"]).with_build_files_kept("build/Dockerfile.prod");
        assert!(!r.is_excluded("build/Dockerfile.prod"));
        assert!(r.is_excluded("build/other"));

        // Nothing is added when nothing excludes them.
        let r = rules(&["*.md"]).with_build_files_kept("Dockerfile");
        assert_eq!(r.patterns.len(), 1);
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "imgctl-build-context-{tag}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn write(&self, rel: &str, contents: &str) {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn tar_paths(bytes: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn pack_directory_round_trips_through_context_files() {
        let dir = TempDir::new("roundtrip");
        dir.write("Dockerfile", "FROM scratch\nCOPY . /\n");
        dir.write(".dockerignore", "# ignore docs and the Dockerfile\n*.md\n!README.md\nsecret\nDockerfile\n.dockerignore\n");
        dir.write("README.md", "readme");
        dir.write("NOTES.md", "notes");
        dir.write("secret/key", "hunter2");
        dir.write("src/main.rs", "fn main() {}");
        dir.write("src/a-b.txt", "dash");
        dir.write("src/nested/deep.txt", "deep");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let script = dir.0.join("run.sh");
            fs::write(&script, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::symlink("src/main.rs", dir.0.join("link")).unwrap();
            std::os::unix::fs::symlink("/nonexistent/target", dir.0.join("dangling")).unwrap();
        }

        let first = pack_directory(&dir.0, None).unwrap();
        let second = pack_directory(&dir.0, None).unwrap();
        assert_eq!(first, second, "packing is deterministic");

        let mut expected = vec![
            ".dockerignore",
            "Dockerfile",
            "README.md",
            "src/",
            "src/a-b.txt",
            "src/main.rs",
            "src/nested/",
            "src/nested/deep.txt",
        ];
        if cfg!(unix) {
            expected.insert(3, "dangling");
            expected.insert(4, "link");
            expected.insert(5, "run.sh");
        }
        assert_eq!(tar_paths(&first), expected);

        let files = ContextFiles::from_tar(&first).unwrap();
        assert_eq!(
            files.read_dockerfile("Dockerfile").unwrap(),
            "FROM scratch\nCOPY . /\n"
        );
        assert_eq!(
            files.get("src/main.rs").unwrap().contents(),
            Some(&b"fn main() {}"[..])
        );
        assert_eq!(
            files.get("/src/./nested/../main.rs").unwrap().contents(),
            Some(&b"fn main() {}"[..])
        );
        assert!(files.get("src").unwrap().is_dir());
        assert!(files.get(".").unwrap().is_dir());
        assert!(files.get("NOTES.md").is_none());
        assert!(files.get("secret").is_none());
        assert!(files.get("secret/key").is_none());
        let src_mtime = fs::metadata(dir.0.join("src/main.rs"))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(files.get("src/main.rs").unwrap().mtime, src_mtime);
        #[cfg(unix)]
        {
            assert_eq!(files.get("run.sh").unwrap().mode, 0o755);
            assert_eq!(
                files.get("link").unwrap().kind,
                ContextEntryKind::Symlink("src/main.rs".into())
            );
            assert_eq!(
                files.get("dangling").unwrap().kind,
                ContextEntryKind::Symlink("/nonexistent/target".into())
            );
        }

        assert_eq!(files.matching("src/*.rs"), ["src/main.rs"]);
        assert_eq!(files.matching("/src/*.txt"), ["src/a-b.txt"]);
        assert_eq!(
            files.matching("src"),
            [
                "src",
                "src/a-b.txt",
                "src/main.rs",
                "src/nested",
                "src/nested/deep.txt"
            ]
        );
        assert_eq!(files.matching_roots("src/n*"), ["src/nested"]);
        assert_eq!(
            files.matching("src/n*"),
            ["src/nested", "src/nested/deep.txt"]
        );
        assert_eq!(files.matching("*.md"), ["README.md"]);
        assert!(files.matching("nothing*").is_empty());
        assert!(files.matching("[").is_empty());
        assert_eq!(files.matching(".").len(), files.len());
        assert_eq!(files.matching_roots("./"), ["."]);
    }

    #[test]
    fn pack_directory_keeps_lowercase_dockerfile_and_named_dockerfile() {
        let dir = TempDir::new("lowercase");
        dir.write("dockerfile", "FROM scratch\n");
        dir.write("other.txt", "x");
        dir.write(".dockerignore", "*\n");
        let files = ContextFiles::from_tar(&pack_directory(&dir.0, None).unwrap()).unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, [".dockerignore", "dockerfile"]);
        assert_eq!(
            files.read_dockerfile("Dockerfile").unwrap(),
            "FROM scratch\n"
        );

        dir.write("build/Dockerfile.dev", "FROM alpine\n");
        let files =
            ContextFiles::from_tar(&pack_directory(&dir.0, Some("build/Dockerfile.dev")).unwrap())
                .unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        // The walk descends into the excluded `build` for the exception but
        // does not send the directory entry itself; reading implies it.
        assert_eq!(paths, [".dockerignore", "build", "build/Dockerfile.dev"]);
        assert_eq!(
            files.read_dockerfile("build/Dockerfile.dev").unwrap(),
            "FROM alpine\n"
        );
    }

    #[test]
    fn pack_directory_errors_use_docker_wording() {
        let missing = std::env::temp_dir().join("imgctl-definitely-missing-context");
        let err = pack_directory(&missing, None).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(
            err.to_string(),
            format!(
                "invalid argument: unable to prepare context: path {:?} not found",
                missing.display().to_string()
            )
        );

        let dir = TempDir::new("notadir");
        dir.write("file", "x");
        let err = pack_directory(&dir.0.join("file"), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("unable to prepare context: context must be a directory: "),
            "{err}"
        );

        dir.write(".dockerignore", "[\n");
        let err = pack_directory(&dir.0, None).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }

    fn tar_with(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        // Writes raw names (even `..` and absolute ones) into GNU headers.
        let mut out = Vec::new();
        for (name, kind, data, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            if let Some(link) = link {
                header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_cksum();
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    #[test]
    fn from_tar_rejects_escapes_and_absolute_paths() {
        use tar::EntryType;
        for name in ["../evil", "a/../../evil", "/etc/passwd"] {
            let bytes = tar_with(&[(name, EntryType::Regular, b"x", None)]);
            let err = ContextFiles::from_tar(&bytes).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{name}");
            assert!(err.to_string().contains(name), "{err}");
        }
        // `..` that stays inside is fine.
        let bytes = tar_with(&[("a/../b", EntryType::Regular, b"x", None)]);
        let files = ContextFiles::from_tar(&bytes).unwrap();
        assert_eq!(files.get("b").unwrap().contents(), Some(&b"x"[..]));
    }

    #[test]
    fn from_tar_handles_links_implied_dirs_and_replacement() {
        use tar::EntryType;
        let bytes = tar_with(&[
            ("./", EntryType::Directory, b"", None),
            ("a/b/file", EntryType::Regular, b"one", None),
            ("hard", EntryType::Link, b"", Some("a/b/file")),
            ("dir/x", EntryType::Regular, b"x", None),
            ("dir", EntryType::Regular, b"now a file", None),
            ("fifo", EntryType::Fifo, b"", None),
        ]);
        let files = ContextFiles::from_tar(&bytes).unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["a", "a/b", "a/b/file", "dir", "hard"]);
        assert_eq!(files.get("a").unwrap().mode, 0o755);
        assert_eq!(files.get("hard").unwrap().contents(), Some(&b"one"[..]));

        let bad = tar_with(&[("hard", EntryType::Link, b"", Some("missing"))]);
        assert!(ContextFiles::from_tar(&bad).is_err());
        let bad = tar_with(&[
            ("f", EntryType::Regular, b"", None),
            ("f/g", EntryType::Regular, b"", None),
        ]);
        assert!(ContextFiles::from_tar(&bad).is_err());
    }

    #[test]
    fn from_tar_never_panics_on_garbage() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let valid = tar_with(&[("a", tar::EntryType::Regular, b"hello", None)]);
        for round in 0..300 {
            let mut bytes = if round % 2 == 0 {
                valid.clone()
            } else {
                (0..(next() % 3000) as usize)
                    .map(|_| next() as u8)
                    .collect()
            };
            if !bytes.is_empty() {
                for _ in 0..(next() % 16) {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
                bytes.truncate((next() as usize) % (bytes.len() + 1));
            }
            let _ = ContextFiles::from_tar(&bytes);
        }
        assert!(ContextFiles::from_tar(&[b'x'; 512]).is_err());
        assert!(ContextFiles::from_tar(&[]).unwrap().is_empty());
    }

    #[test]
    fn read_dockerfile_uses_docker_messages() {
        use tar::EntryType;
        let files =
            ContextFiles::from_tar(&tar_with(&[("x", EntryType::Regular, b"x", None)])).unwrap();
        let err = files.read_dockerfile("Dockerfile").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "invalid argument: Cannot locate specified Dockerfile: Dockerfile"
        );

        let files = ContextFiles::from_tar(&tar_with(&[
            ("Dockerfile", EntryType::Regular, b"", None),
            ("df", EntryType::Symlink, b"", Some("sub/../real")),
            ("real", EntryType::Regular, b"FROM a", None),
        ]))
        .unwrap();
        let err = files.read_dockerfile("Dockerfile").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: the Dockerfile (Dockerfile) cannot be empty"
        );
        assert_eq!(files.read_dockerfile("df").unwrap(), "FROM a");
        assert_eq!(files.read_dockerfile("./real").unwrap(), "FROM a");
    }
}
