//! Dockerfile parsing and docker's `$VAR` substitution.
//!
//! [`Dockerfile::parse`] turns Dockerfile text into build stages and typed
//! instructions the way moby/buildkit's `frontend/dockerfile/parser` and
//! `instructions` packages do: the `# escape=` directive, line continuations
//! (with comment and blank lines inside them dropped), `#` comments,
//! case-insensitive instruction names, JSON exec form with a fallback to
//! shell form when the JSON does not parse, `--flag` parsing, the `KEY value`
//! and `KEY=value ...` forms of `ENV` and `LABEL`, and docker's error
//! wording. [`expand`] is buildkit's shell lexer (`shell/lex.go`) for the
//! instructions docker expands variables in. Both are written by hand
//! because no maintained crate implements docker's exact rules: the
//! Dockerfile crates on crates.io parse the syntax but neither reproduce
//! buildkit's word splitting, quoting and substitution nor its error
//! messages. Heredocs (`RUN <<EOF`) are not supported and are reported as
//! such.

use std::fmt;

use regex::Regex;

use crate::error::{ImageError, Result};

/// A parsed Dockerfile: its build stages and the `ARG`s before the first
/// `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The build stages, in order; never empty.
    pub stages: Vec<Stage>,
    /// The `ARG`s before the first `FROM` (usable in `FROM` lines), with their
    /// raw default values (see [`expand`]).
    pub global_args: Vec<(String, Option<String>)>,
    /// The escape character, `\` unless a `# escape=` directive chose
    /// `` ` ``; pass it to [`expand_with_escape`].
    pub escape: char,
}

/// One build stage: a `FROM` line and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage's name from `FROM image AS name`, lowercased as docker does.
    pub name: Option<String>,
    /// The base image as written; it may contain `$ARG`s (expand it with the
    /// global args).
    pub base: String,
    /// The `--platform` flag as written, if any.
    pub platform: Option<String>,
    /// The stage's instructions, in order.
    pub instructions: Vec<Instruction>,
    /// The 1-based line the `FROM` starts on.
    pub line: usize,
    /// The `FROM` instruction's text, as docker shows it.
    pub original: String,
}

/// One instruction of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The 1-based line the instruction starts on.
    pub line: usize,
    /// The instruction's text as docker shows it in `Step` output and image
    /// history: continuation lines joined (comment lines inside them
    /// dropped), surrounding whitespace trimmed.
    pub original: String,
    /// What the instruction does.
    pub kind: InstructionKind,
}

/// What an instruction does.
///
/// Strings are raw, as written in the Dockerfile: quotes and escapes are
/// still there and `$VAR`s are not substituted. docker substitutes variables
/// (and removes quotes) in `ADD`, `COPY`, `ENV`, `LABEL`, `ARG` values,
/// `EXPOSE`, `STOPSIGNAL`, `USER`, `VOLUME`, `WORKDIR` and `FROM`, at build
/// time with the stage's current `ARG`/`ENV` values: pass those strings
/// through [`expand`] (it also turns `"x y"` into `x y`, so call it even
/// where nothing needs substituting). `RUN`, `CMD`, `ENTRYPOINT`, `SHELL`
/// and `HEALTHCHECK` are left to the shell, as docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionKind {
    /// `COPY` or `ADD`.
    Copy {
        /// The sources, relative to the context (or the `from` stage/image).
        sources: Vec<String>,
        /// The destination.
        dest: String,
        /// `--from`: a stage name, stage index or image.
        from: Option<String>,
        /// `--chown`.
        chown: Option<String>,
        /// `--chmod`.
        chmod: Option<String>,
        /// Whether this is `ADD` rather than `COPY`.
        is_add: bool,
    },
    /// `RUN` (its `--mount`, `--network`, `--security` and `--device` flags
    /// are accepted and not kept).
    Run(Command),
    /// `CMD`.
    Cmd(Command),
    /// `ENTRYPOINT`.
    Entrypoint(Command),
    /// `ENV`: raw keys and values.
    Env(Vec<(String, String)>),
    /// `LABEL`: raw keys and values.
    Label(Vec<(String, String)>),
    /// `ARG name[=default]`, one per name (an `ARG` line declaring several
    /// names becomes several instructions with the same line and text).
    Arg(String, Option<String>),
    /// `WORKDIR`.
    Workdir(String),
    /// `USER`.
    User(String),
    /// `EXPOSE`: the raw ports, sorted as docker sorts them.
    Expose(Vec<String>),
    /// `VOLUME`.
    Volume(Vec<String>),
    /// `STOPSIGNAL`.
    StopSignal(String),
    /// `MAINTAINER`.
    Maintainer(String),
    /// `HEALTHCHECK`: everything after the keyword, flags included, e.g.
    /// `--interval=5s CMD curl -f http://localhost/` or `NONE`.
    Healthcheck(String),
    /// `SHELL`: the JSON array.
    Shell(Vec<String>),
    /// `ONBUILD`: the trigger instruction's text, e.g. `RUN make`.
    OnBuild(String),
}

/// A command of `RUN`, `CMD` or `ENTRYPOINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Exec form, a JSON array: `["echo", "hi"]`.
    Exec(Vec<String>),
    /// Shell form, run with the stage's shell: `echo hi`.
    Shell(String),
}

impl fmt::Display for Command {
    /// The command as docker prints it in history: the JSON array, or the
    /// shell text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Exec(args) => {
                let json = serde_json::to_string(args).map_err(|_| fmt::Error)?;
                f.write_str(&json)
            }
            Command::Shell(text) => f.write_str(text),
        }
    }
}

/// The instruction names docker knows, lowercase.
const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

impl Dockerfile {
    /// Parses Dockerfile text.
    ///
    /// Errors are [`ImageError::InvalidArgument`] with docker's wording,
    /// prefixed with the line: `dockerfile parse error on line 3: unknown
    /// instruction: FOO` (with buildkit's `(did you mean RUN?)` hint for a
    /// near miss), `dockerfile parse error on line 2: COPY requires at least
    /// two arguments, but only one was provided. Destination could not be
    /// determined`, and so on. A Dockerfile with no instructions is `file
    /// with no instructions`, one whose first instruction (other than `ARG`)
    /// is not `FROM` is `no build stage in current context`, and one with
    /// only `ARG`s is `dockerfile contains no stages to build`.
    pub fn parse(text: &str) -> Result<Dockerfile> {
        let (lines, escape) = logical_lines(text)?;
        if lines.is_empty() {
            return Err(ImageError::invalid_argument("file with no instructions"));
        }
        let mut stages: Vec<Stage> = Vec::new();
        let mut global_args = Vec::new();
        for logical in lines {
            let at_line = |message: String| {
                ImageError::invalid_argument(format!(
                    "dockerfile parse error on line {}: {message}",
                    logical.line
                ))
            };
            let node = node_from_line(&logical.text, escape).map_err(at_line)?;
            let original = logical.text.trim().to_string();
            match parse_instruction(&node, logical.line, &original).map_err(at_line)? {
                Parsed::Stage(stage) => stages.push(stage),
                Parsed::Instructions(kinds) => {
                    if stages.is_empty() {
                        let mut args = Vec::new();
                        for kind in kinds {
                            match kind {
                                InstructionKind::Arg(name, value) => args.push((name, value)),
                                _ => {
                                    return Err(ImageError::invalid_argument(
                                        "no build stage in current context",
                                    ));
                                }
                            }
                        }
                        global_args.extend(args);
                        continue;
                    }
                    if let Some(stage) = stages.last_mut() {
                        stage
                            .instructions
                            .extend(kinds.into_iter().map(|kind| Instruction {
                                line: logical.line,
                                original: original.clone(),
                                kind,
                            }));
                    }
                }
            }
        }
        if stages.is_empty() {
            return Err(ImageError::invalid_argument(
                "dockerfile contains no stages to build",
            ));
        }
        Ok(Dockerfile {
            stages,
            global_args,
            escape,
        })
    }

    /// The index of the stage called `name_or_index` (names compare
    /// case-insensitively, as docker's do), or of the stage with that
    /// number.
    pub fn stage_index(&self, name_or_index: &str) -> Option<usize> {
        self.stages
            .iter()
            .position(|stage| {
                stage
                    .name
                    .as_deref()
                    .is_some_and(|name| name.eq_ignore_ascii_case(name_or_index))
            })
            .or_else(|| {
                name_or_index
                    .parse::<usize>()
                    .ok()
                    .filter(|&index| index < self.stages.len())
            })
    }
}

// ---------------------------------------------------------------------------
// Lines, directives and continuations (buildkit parser/parser.go)
// ---------------------------------------------------------------------------

/// An instruction's text with its continuation lines joined.
struct LogicalLine {
    line: usize,
    text: String,
}

/// Parser directives (`# escape=`), which must come before anything else.
struct Directives {
    done: bool,
    seen: Vec<String>,
    escape: char,
}

impl Directives {
    /// Looks at one line; returns whether it was a directive.
    fn parse_line(&mut self, line: &str) -> std::result::Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let Some((name, value)) = split_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(false);
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        if name == "escape" {
            self.escape = match value {
                "`" => '`',
                "\\" => '\\',
                other => {
                    return Err(format!(
                        "invalid escape token '{other}' does not match ` or \\"
                    ));
                }
            };
        }
        self.seen.push(name);
        Ok(true)
    }
}

/// `name = value` of a directive (`^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`).
fn split_directive(text: &str) -> Option<(&str, &str)> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let end = chars
        .find(|(_, c)| !c.is_ascii_alphanumeric())
        .map_or(text.len(), |(i, _)| i);
    let (name, rest) = text.split_at(end);
    let value = rest
        .trim_start_matches(is_go_regex_space)
        .strip_prefix('=')?
        .trim_matches(is_go_regex_space);
    if value.is_empty() {
        return None;
    }
    Some((name, value))
}

/// RE2's `\s`.
fn is_go_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// buildkit's `reWhitespace`: `[\t\v\f\r ]`.
fn is_line_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips the continuation character at the end of a line. Returns the
/// text and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(before) = trimmed.strip_suffix(escape) else {
        return (line, true);
    };
    if before.ends_with(escape) {
        // An escaped escape character is not a continuation.
        return (line, true);
    }
    (before, false)
}

/// Splits the text into instructions, dropping comments, blank lines and
/// directives, joining continuation lines.
fn logical_lines(text: &str) -> Result<(Vec<LogicalLine>, char)> {
    let physical: Vec<&str> = text.split_inclusive('\n').collect();
    let mut directives = Directives {
        done: false,
        seen: Vec::new(),
        escape: '\\',
    };
    let mut out = Vec::new();
    let mut current = 0;
    let mut index = 0;
    let error = |line: usize, message: String| {
        ImageError::invalid_argument(format!("dockerfile parse error on line {line}: {message}"))
    };
    while index < physical.len() {
        let mut raw = physical[index];
        index += 1;
        if current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        let line = raw.trim_end_matches(['\r', '\n']).trim_start();
        directives
            .parse_line(line)
            .map_err(|message| error(current + 1, message))?;
        let line = if is_comment(line) { "" } else { line };
        current += 1;
        let start = current;
        let escape = directives.escape;
        let (first, mut ended) = trim_continuation(line, escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut joined = first.to_string();
        while !ended && index < physical.len() {
            let raw = physical[index];
            index += 1;
            let line = raw.trim_end_matches(['\r', '\n']);
            directives
                .parse_line(line)
                .map_err(|message| error(current + 1, message))?;
            current += 1;
            if is_comment(raw) || line.trim_start().is_empty() {
                continue;
            }
            let (part, end) = trim_continuation(line, escape);
            joined.push_str(part);
            ended = end;
        }
        out.push(LogicalLine {
            line: start,
            text: joined,
        });
    }
    Ok((out, directives.escape))
}

// ---------------------------------------------------------------------------
// Splitting an instruction into command, flags and arguments
// (buildkit parser/split_command.go and line_parsers.go)
// ---------------------------------------------------------------------------

/// One instruction split into its parts.
struct Node {
    /// The instruction name as written.
    command: String,
    /// `--flag[=value]` words before the arguments.
    flags: Vec<String>,
    /// The arguments as the line parser for this instruction splits them.
    args: Vec<String>,
    /// Whether the arguments were a JSON array.
    json: bool,
    /// Everything after the instruction name, flags included.
    after_command: String,
}

fn node_from_line(line: &str, escape: char) -> std::result::Result<Node, String> {
    node_from_line_at(line, escape, false)
}

/// `nested` is set for an `ONBUILD` trigger, whose own `ONBUILD` is an
/// error anyway and is not split further (no unbounded recursion).
fn node_from_line_at(line: &str, escape: char, nested: bool) -> std::result::Result<Node, String> {
    let trimmed = line.trim();
    let (command, after) = match trimmed.find(is_line_space) {
        Some(i) => (
            &trimmed[..i],
            trimmed[i..].trim_start_matches(is_line_space),
        ),
        None => (trimmed, ""),
    };
    let (rest, flags) = if after.is_empty() {
        (String::new(), Vec::new())
    } else {
        extract_builder_flags(after, escape)
    };
    let rest = rest.trim();
    let (args, json) = match command.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => parse_maybe_json_to_list(rest)?,
        "arg" => (parse_words(rest, escape), false),
        "cmd" | "entrypoint" | "run" | "shell" => parse_maybe_json(rest)?,
        "env" => (parse_name_val(rest, "ENV", escape)?, false),
        "label" => (parse_name_val(rest, "LABEL", escape)?, false),
        "expose" | "from" => (split_whitespace(rest), false),
        "healthcheck" => parse_health_config(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (parse_string(rest), false),
        "onbuild" => {
            if rest.is_empty() || nested {
                (Vec::new(), false)
            } else {
                let child = node_from_line_at(rest, escape, true)?;
                let mut args = vec![child.command];
                args.extend(child.args);
                (args, false)
            }
        }
        _ => (Vec::new(), false),
    };
    Ok(Node {
        command: command.to_string(),
        flags,
        args,
        json,
        after_command: after.to_string(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote,
}

/// Pulls the leading `--flag` words off an instruction's arguments
/// (`extractBuilderFlags`). Returns the remaining text and the flags.
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let n = chars.len();
    let rest_from = |pos: usize| {
        chars
            .get(pos)
            .map_or(String::new(), |&(i, _)| line[i..].to_string())
    };
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= n {
        let ch = chars.get(pos).map_or('\0', |&(_, c)| c);
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            let next = chars.get(pos + 1).map(|&(_, c)| c);
            if ch != '-' || next != Some('-') {
                return (rest_from(pos), words);
            }
            phase = Phase::Word;
        }
        if pos == n {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (rest_from(pos), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = ch;
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = chars[pos].1;
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // Inside quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = ch;
        if ch == escape {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = chars[pos].1;
        }
        word.push(c);
        pos += 1;
    }
    (String::new(), words)
}

/// Splits into words, keeping quotes and escapes in them (`parseWords`).
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut pos = 0;
    while pos <= n {
        let ch = chars.get(pos).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if pos == n {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            let mut c = ch;
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                // Outside quotes an escape and its character both stay.
                word.push(ch);
                pos += 1;
                c = chars[pos];
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // Inside quotes.
        if ch == quote {
            phase = Phase::Word;
        }
        let mut c = ch;
        if ch == escape && quote != '\'' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            word.push(ch);
            pos += 1;
            c = chars[pos];
        }
        word.push(c);
        pos += 1;
    }
    words
}

/// `ENV`/`LABEL` arguments as `[key, value, separator, ...]`, where the
/// separator is `=` for `KEY=value` and empty for the legacy `KEY value`.
fn parse_name_val(rest: &str, key: &str, escape: char) -> std::result::Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        // The legacy form: the value is the rest of the line, as written.
        let Some(i) = rest.find(is_line_space) else {
            return Err(format!("{key} must have two arguments"));
        };
        let value = rest[i..].trim_start_matches(is_line_space);
        return Ok(vec![
            rest[..i].to_string(),
            value.to_string(),
            String::new(),
        ]);
    }
    let mut out = Vec::new();
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ));
        };
        out.extend([name.to_string(), value.to_string(), "=".to_string()]);
    }
    Ok(out)
}

fn split_whitespace(rest: &str) -> Vec<String> {
    rest.split(is_line_space)
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_string(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        vec![rest.to_string()]
    }
}

/// A JSON array of strings; `Ok(None)` when the text is not a JSON array.
fn parse_json(rest: &str) -> std::result::Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|value| match value {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(
                "when using JSON array syntax, arrays must be comprised of strings only"
                    .to_string(),
            ),
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_maybe_json(rest: &str) -> std::result::Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(args) => (args, true),
        None => (vec![rest.to_string()], false),
    })
}

fn parse_maybe_json_to_list(rest: &str) -> std::result::Result<(Vec<String>, bool), String> {
    Ok(match parse_json(rest)? {
        Some(args) => (args, true),
        None => (split_whitespace(rest), false),
    })
}

fn parse_health_config(rest: &str) -> std::result::Result<(Vec<String>, bool), String> {
    let Some(kind) = rest
        .split(char::is_whitespace)
        .next()
        .filter(|k| !k.is_empty())
    else {
        return Ok((Vec::new(), false));
    };
    let (mut command, json) = parse_maybe_json(rest[kind.len()..].trim_start())?;
    command.insert(0, kind.to_string());
    Ok((command, json))
}

// ---------------------------------------------------------------------------
// Typed instructions (buildkit instructions/parse.go)
// ---------------------------------------------------------------------------

enum Parsed {
    Stage(Stage),
    Instructions(Vec<InstructionKind>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagType {
    Bool,
    String,
    Strings,
}

/// The flags an instruction was given, after checking them (`BFlags`).
struct Flags(Vec<(&'static str, String)>);

impl Flags {
    fn parse(
        given: &[String],
        known: &[(&'static str, FlagType)],
    ) -> std::result::Result<Flags, String> {
        let mut used: Vec<(&'static str, String)> = Vec::new();
        for arg in given {
            if arg == "--" {
                break;
            }
            let Some(stripped) = arg.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {arg}"));
            };
            let (name, value) = match stripped.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (stripped, None),
            };
            let flag_name = format!("--{name}");
            let Some(&(known_name, flag_type)) = known.iter().find(|(k, _)| *k == name) else {
                let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
                return Err(with_suggestion(
                    format!("unknown flag: {flag_name}"),
                    name,
                    &names,
                    true,
                ));
            };
            if flag_type != FlagType::Strings && used.iter().any(|(k, _)| *k == known_name) {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            let value = match (flag_type, value) {
                (FlagType::Bool, Some("")) => {
                    return Err(format!("missing a value on flag: {flag_name}"));
                }
                (FlagType::Bool, None) => "true".to_string(),
                (FlagType::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                    "true" => "true".to_string(),
                    "false" => "false".to_string(),
                    _ => {
                        return Err(format!(
                            "expecting boolean value for flag {flag_name}, not: {v}"
                        ));
                    }
                },
                (_, None) => return Err(format!("missing a value on flag: {flag_name}")),
                (_, Some(v)) => v.to_string(),
            };
            used.push((known_name, value));
        }
        Ok(Flags(used))
    }

    fn string(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

fn at_least_one(command: &str) -> String {
    format!("{command} requires at least one argument")
}

fn exactly_one(command: &str) -> String {
    format!("{command} requires exactly one argument")
}

fn command_of(args: &[String], json: bool) -> Command {
    if json {
        Command::Exec(args.to_vec())
    } else {
        Command::Shell(args.join(" "))
    }
}

/// Whether a word opens a heredoc (`<<EOF`, `<<-"EOF"`, `2<<EOF`).
fn is_heredoc(word: &str) -> bool {
    let Some(rest) = word
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")
    else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let name = rest.trim_matches(['"', '\'']);
    !name.is_empty() && !rest.contains('<')
}

fn reject_heredocs<'a>(
    words: impl IntoIterator<Item = &'a str>,
) -> std::result::Result<(), String> {
    match words.into_iter().find(|word| is_heredoc(word)) {
        Some(word) => Err(format!("heredocs are not supported: {word}")),
        None => Ok(()),
    }
}

fn key_values(
    args: &[String],
    command: &str,
) -> std::result::Result<Vec<(String, String)>, String> {
    if args.is_empty() {
        return Err(at_least_one(command));
    }
    args.chunks(3)
        .map(|chunk| match chunk {
            [name, _, _] if name.is_empty() => Err(format!("{command} names can not be blank")),
            [name, value, _] => Ok((name.clone(), value.clone())),
            _ => Err(format!("Bad input to {command}, too many arguments")),
        })
        .collect()
}

fn parse_instruction(
    node: &Node,
    line: usize,
    original: &str,
) -> std::result::Result<Parsed, String> {
    use FlagType::{Bool, String as Str, Strings};
    let args = &node.args;
    let lower = node.command.to_ascii_lowercase();
    let one = |kind: InstructionKind| Ok(Parsed::Instructions(vec![kind]));
    match lower.as_str() {
        "from" => {
            let name = match args.as_slice() {
                [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                    let lower_name = name.to_lowercase();
                    // `^[a-z][a-z0-9-_.]*$`
                    let valid = lower_name.starts_with(|c: char| c.is_ascii_lowercase())
                        && lower_name.chars().all(|c| {
                            c.is_ascii_lowercase()
                                || c.is_ascii_digit()
                                || matches!(c, '-' | '_' | '.')
                        });
                    if !valid {
                        return Err(format!(
                            "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                        ));
                    }
                    Some(lower_name)
                }
                [_] => None,
                _ => return Err("FROM requires either one or three arguments".to_string()),
            };
            let flags = Flags::parse(&node.flags, &[("platform", Str)])?;
            Ok(Parsed::Stage(Stage {
                name,
                base: args.first().cloned().unwrap_or_default(),
                platform: flags.string("platform"),
                instructions: Vec::new(),
                line,
                original: original.to_string(),
            }))
        }
        "copy" | "add" => {
            let is_add = lower == "add";
            let upper = if is_add { "ADD" } else { "COPY" };
            if args.len() < 2 {
                return Err(format!(
                    "{upper} requires at least two arguments, but only one was provided. Destination could not be determined"
                ));
            }
            let known: &[(&'static str, FlagType)] = if is_add {
                &[
                    ("chown", Str),
                    ("chmod", Str),
                    ("link", Bool),
                    ("keep-git-dir", Bool),
                    ("checksum", Str),
                    ("unpack", Bool),
                    ("exclude", Strings),
                ]
            } else {
                &[
                    ("chown", Str),
                    ("from", Str),
                    ("chmod", Str),
                    ("link", Bool),
                    ("exclude", Strings),
                    ("parents", Bool),
                ]
            };
            let flags = Flags::parse(&node.flags, known)?;
            if !node.json {
                reject_heredocs(args.iter().map(String::as_str))?;
            }
            let (dest, sources) = args.split_last().ok_or_else(|| at_least_one(upper))?;
            one(InstructionKind::Copy {
                sources: sources.to_vec(),
                dest: dest.clone(),
                from: flags.string("from").filter(|v| !v.is_empty()),
                chown: flags.string("chown").filter(|v| !v.is_empty()),
                chmod: flags.string("chmod").filter(|v| !v.is_empty()),
                is_add,
            })
        }
        "run" => {
            Flags::parse(
                &node.flags,
                &[
                    ("mount", Strings),
                    ("network", Str),
                    ("security", Str),
                    ("device", Strings),
                ],
            )?;
            if !node.json {
                reject_heredocs(args.iter().flat_map(|a| a.split_whitespace()))?;
            }
            one(InstructionKind::Run(command_of(args, node.json)))
        }
        "cmd" => {
            Flags::parse(&node.flags, &[])?;
            one(InstructionKind::Cmd(command_of(args, node.json)))
        }
        "entrypoint" => {
            Flags::parse(&node.flags, &[])?;
            one(InstructionKind::Entrypoint(command_of(args, node.json)))
        }
        "env" => {
            Flags::parse(&node.flags, &[])?;
            one(InstructionKind::Env(key_values(args, "ENV")?))
        }
        "label" => {
            Flags::parse(&node.flags, &[])?;
            one(InstructionKind::Label(key_values(args, "LABEL")?))
        }
        "arg" => {
            if args.is_empty() {
                return Err(at_least_one("ARG"));
            }
            let mut kinds = Vec::new();
            for arg in args {
                let (name, value) = match arg.split_once('=') {
                    Some(("", _)) => return Err("ARG names can not be blank".to_string()),
                    Some((name, value)) => (name.to_string(), Some(value.to_string())),
                    None => (arg.clone(), None),
                };
                kinds.push(InstructionKind::Arg(name, value));
            }
            Ok(Parsed::Instructions(kinds))
        }
        "workdir" | "user" | "stopsignal" | "maintainer" => {
            let upper = lower.to_ascii_uppercase();
            let [value] = args.as_slice() else {
                return Err(exactly_one(&upper));
            };
            if lower != "stopsignal" {
                Flags::parse(&node.flags, &[])?;
            }
            let value = value.clone();
            one(match lower.as_str() {
                "workdir" => InstructionKind::Workdir(value),
                "user" => InstructionKind::User(value),
                "stopsignal" => InstructionKind::StopSignal(value),
                _ => InstructionKind::Maintainer(value),
            })
        }
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            Flags::parse(&node.flags, &[])?;
            let mut ports = args.clone();
            ports.sort();
            one(InstructionKind::Expose(ports))
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            Flags::parse(&node.flags, &[])?;
            let mut volumes = Vec::new();
            for volume in args {
                let volume = volume.trim();
                if volume.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
                volumes.push(volume.to_string());
            }
            one(InstructionKind::Volume(volumes))
        }
        "shell" => {
            Flags::parse(&node.flags, &[])?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".to_string());
            }
            one(InstructionKind::Shell(args.clone()))
        }
        "healthcheck" => {
            let Some(kind) = args.first() else {
                return Err(at_least_one("HEALTHCHECK"));
            };
            let kind = kind.to_ascii_uppercase();
            if kind == "NONE" {
                if args.len() != 1 {
                    return Err("HEALTHCHECK NONE takes no arguments".to_string());
                }
            } else {
                Flags::parse(
                    &node.flags,
                    &[
                        ("interval", Str),
                        ("timeout", Str),
                        ("start-period", Str),
                        ("start-interval", Str),
                        ("retries", Str),
                    ],
                )?;
                if kind != "CMD" {
                    return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"));
                }
                if args.len() < 2 || (!node.json && args[1..].iter().all(String::is_empty)) {
                    return Err("Missing command after HEALTHCHECK CMD".to_string());
                }
            }
            one(InstructionKind::Healthcheck(node.after_command.clone()))
        }
        "onbuild" => {
            let Some(trigger) = args.first() else {
                return Err(at_least_one("ONBUILD"));
            };
            Flags::parse(&node.flags, &[])?;
            let trigger = trigger.trim().to_ascii_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string());
                }
                "MAINTAINER" | "FROM" => {
                    return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            let text = original.trim_start();
            let expression = text
                .get(..7)
                .filter(|keyword| keyword.eq_ignore_ascii_case("onbuild"))
                .map_or(text, |_| text[7..].trim_start_matches(is_go_regex_space));
            one(InstructionKind::OnBuild(expression.to_string()))
        }
        _ => {
            let names: Vec<String> = INSTRUCTIONS
                .iter()
                .map(|n| n.to_ascii_uppercase())
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Err(with_suggestion(
                format!("unknown instruction: {}", node.command),
                &node.command,
                &names,
                false,
            ))
        }
    }
}

/// buildkit's `suggest.WrapError`: appends ` (did you mean X?)` when an
/// option is less than three edits away.
fn with_suggestion(message: String, value: &str, options: &[&str], case_sensitive: bool) -> String {
    let wanted = if case_sensitive {
        value.to_string()
    } else {
        value.to_lowercase()
    };
    let mut options: Vec<&str> = options.to_vec();
    options.sort_unstable();
    let mut best: Option<String> = None;
    let mut min_distance = 3;
    for option in options {
        let candidate = if case_sensitive {
            option.to_string()
        } else {
            option.to_lowercase()
        };
        if candidate == wanted {
            return message;
        }
        let distance = levenshtein(&wanted, &candidate);
        if distance < min_distance {
            min_distance = distance;
            best = Some(if case_sensitive {
                candidate
            } else if value == value.to_lowercase() {
                candidate.to_lowercase()
            } else if value == value.to_uppercase() {
                candidate.to_uppercase()
            } else {
                candidate
            });
        }
    }
    match best {
        Some(best) => format!("{message} (did you mean {best}?)"),
        None => message,
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

// ---------------------------------------------------------------------------
// Variable substitution (buildkit shell/lex.go)
// ---------------------------------------------------------------------------

/// Expands `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
/// `${VAR+word}`, `${VAR:?message}`, `${VAR#pattern}`, `${VAR%pattern}`
/// (and `##`, `%%`), `${VAR/pattern/replacement}` (and `//`) in one word,
/// and removes quotes and escapes, like docker's shell lexer does for
/// `ARG`, `ENV`, `LABEL`, `COPY`, `WORKDIR`, `USER`, `EXPOSE` and the rest.
///
/// `vars` looks a variable up; unset variables expand to nothing. Single
/// quotes keep everything literal, double quotes allow substitution, `\`
/// escapes the next character. Whitespace is kept (this is docker's
/// `ProcessWord`, not word splitting). Errors, such as an unterminated
/// quote or `${VAR:?}` on an empty variable, are
/// [`ImageError::InvalidArgument`] with docker's text:
/// `failed to process "${A": syntax error: missing '}'`.
///
/// ```
/// use image_core::dockerfile::{Dockerfile, InstructionKind, expand};
///
/// let df = Dockerfile::parse("FROM alpine\nENV GREETING=\"hello world\" DIR=${HOME:-/root}/app\n")?;
/// let InstructionKind::Env(env) = &df.stages[0].instructions[0].kind else { unreachable!() };
/// let vars = |name: &str| (name == "HOME").then(|| "/home/me".to_string());
/// assert_eq!(expand(&env[0].1, &vars)?, "hello world");
/// assert_eq!(expand(&env[1].1, &vars)?, "/home/me/app");
/// # Ok::<(), image_core::ImageError>(())
/// ```
pub fn expand(word: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    expand_with_escape(word, '\\', vars)
}

/// [`expand`] with the Dockerfile's escape character
/// ([`Dockerfile::escape`]).
pub fn expand_with_escape(
    word: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        raw_escapes: false,
        depth: 0,
        vars,
    };
    lexer
        .process_until(None, false)
        .map_err(|e| ImageError::invalid_argument(format!("failed to process {word:?}: {e}")))
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    raw_escapes: bool,
    /// How many `${...}` are open, to refuse absurd nesting.
    depth: usize,
    vars: &'a dyn Fn(&str) -> Option<String>,
}

/// More nested `${...}` than this is refused rather than risking the stack.
const MAX_SUBSTITUTION_DEPTH: usize = 256;

type LexResult<T> = std::result::Result<T, String>;

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.vars)(name)
    }

    /// Processes up to `stop` (consumed) or the end of the word.
    fn process_until(&mut self, stop: Option<char>, raw_escapes: bool) -> LexResult<String> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.process_until_inner(stop);
        self.raw_escapes = saved;
        result
    }

    fn process_until_inner(&mut self, stop: Option<char>) -> LexResult<String> {
        let mut result = String::new();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok(result);
            }
            match ch {
                '$' => result.push_str(&self.process_dollar()?),
                '\'' => result.push_str(&self.process_single_quote()?),
                '"' => result.push_str(&self.process_double_quote()?),
                _ => {
                    self.pos += 1;
                    let mut c = ch;
                    if ch == self.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.next() {
                            Some(next) => c = next,
                            None => break,
                        }
                    }
                    result.push(c);
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok(result),
        }
    }

    fn process_single_quote(&mut self) -> LexResult<String> {
        self.pos += 1;
        let mut result = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    );
                }
                Some('\'') => return Ok(result),
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> LexResult<String> {
        self.pos += 1;
        let mut result = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    );
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.process_dollar()?),
                Some(ch) => {
                    self.pos += 1;
                    let mut c = ch;
                    if ch == self.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                self.pos += 1;
                                c = next;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(c);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> LexResult<String> {
        if self.depth >= MAX_SUBSTITUTION_DEPTH {
            return Err("syntax error: substitutions nested too deeply".to_string());
        }
        self.depth += 1;
        let result = self.process_dollar_inner();
        self.depth -= 1;
        result
    }

    fn process_dollar_inner(&mut self) -> LexResult<String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.get(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            Some(_) => {}
        }
        let name = self.process_name();
        let Some(ch) = self.next() else {
            return Err("syntax error: missing '}'".to_string());
        };
        match ch {
            '}' => Ok(self.get(&name).unwrap_or_default()),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let (null_is_unset, op) = if ch == ':' {
                    (true, self.next())
                } else {
                    (false, Some(ch))
                };
                let op_text = if null_is_unset {
                    format!(":{}", op.unwrap_or('\u{fffd}'))
                } else {
                    ch.to_string()
                };
                let raw = matches!(op, Some('#' | '%'));
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({op_text}) in substitution"));
                }
                let mut word = self.process_until(Some('}'), raw).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '}'".to_string()
                    } else {
                        e
                    }
                })?;
                let value = self.get(&name);
                let unset = match &value {
                    None => true,
                    Some(v) => null_is_unset && v.is_empty(),
                };
                match op {
                    Some('-') => Ok(if unset {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    Some('+') => Ok(if unset { String::new() } else { word }),
                    Some('?') => match value {
                        None => Err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be unset"
                            } else {
                                &word
                            }
                        )),
                        Some(v) if null_is_unset && v.is_empty() => Err(format!(
                            "{name}: {}",
                            if word.is_empty() {
                                "is not allowed to be empty"
                            } else {
                                &word
                            }
                        )),
                        Some(v) => Ok(v),
                    },
                    Some(op @ ('%' | '#')) => {
                        let mut greedy = false;
                        if word.starts_with(op) {
                            greedy = true;
                            word.remove(0);
                        }
                        let value = value.unwrap_or_default();
                        if op == '%' {
                            trim_suffix(&word, &value, greedy)
                        } else {
                            trim_prefix(&word, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({op_text}) in substitution")),
                }
            }
            '/' => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.pos += 1;
                }
                let pattern = self.process_until(Some('/'), true).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '/' in ${}".to_string()
                    } else {
                        e
                    }
                })?;
                let replacement = self.process_until(Some('}'), true).map_err(|e| {
                    if self.peek().is_none() {
                        "syntax error: missing '}'".to_string()
                    } else {
                        e
                    }
                })?;
                let value = self.get(&name).unwrap_or_default();
                let re = shell_pattern_regex(&pattern, true, false)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                Ok(if replace_all {
                    re.replace_all(&value, regex::NoExpand(&replacement))
                        .into_owned()
                } else {
                    re.replace(&value, regex::NoExpand(&replacement))
                        .into_owned()
                })
            }
            other => Err(format!("unsupported modifier ({other}) in substitution")),
        }
    }

    /// A variable name: letters, digits and `_`; or all the digits of a
    /// positional parameter; or one special parameter character.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|&d| is_digit(d)) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !(ch.is_alphabetic() || is_digit(ch) || ch == '_') {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }
}

/// Go's `unicode.IsDigit`, closely enough.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// A shell pattern (`*`, `?`, `\` escapes) as a regular expression.
fn shell_pattern_regex(
    pattern: &str,
    greedy: bool,
    anchored: bool,
) -> std::result::Result<Regex, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    if anchored {
        out.push('^');
    }
    let mut i = 0;
    while i < chars.len() {
        let tok = chars[i];
        i += 1;
        match tok {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => {
                // `}` and `/` are escaped only for the ${} syntax.
                if matches!(chars.get(i), Some('}' | '/')) {
                    continue;
                }
                let Some(&next) = chars.get(i).filter(|c| matches!(c, '*' | '?' | '\\')) else {
                    return Err(format!(
                        "invalid escape '\\{}'",
                        chars.get(i).copied().unwrap_or('\u{fffd}')
                    ));
                };
                i += 1;
                out.push('\\');
                out.push(next);
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> LexResult<String> {
    let re = shell_pattern_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(found) => value[found.end()..].to_string(),
        None => value.to_string(),
    })
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> LexResult<String> {
    // Reverse both to turn the shortest/longest suffix into a prefix,
    // keeping each escape in front of the character it escapes.
    let chars: Vec<char> = pattern.chars().collect();
    let mut reversed = chars.clone();
    let last = chars.len().saturating_sub(1);
    let mut i = 0;
    while i < chars.len() {
        let at = last - i;
        if chars[i] == '\\' && i != last {
            reversed[at - 1] = '\\';
            reversed[at] = chars[i + 1];
            i += 2;
        } else {
            reversed[at] = chars[i];
            i += 1;
        }
    }
    let pattern: String = reversed.into_iter().collect();
    let value: String = value.chars().rev().collect();
    Ok(trim_prefix(&pattern, &value, greedy)?
        .chars()
        .rev()
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Dockerfile {
        Dockerfile::parse(text).unwrap()
    }

    fn error(text: &str) -> String {
        let err = Dockerfile::parse(text).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{err}");
        match err {
            ImageError::InvalidArgument { message } => message,
            other => panic!("unexpected error {other}"),
        }
    }

    fn kinds(stage: &Stage) -> Vec<&InstructionKind> {
        stage.instructions.iter().map(|i| &i.kind).collect()
    }

    fn s(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn multi_stage_with_global_args() {
        let df = parse(
            "# syntax=docker/dockerfile:1\n\
             ARG GO=1.22 DEBUG\n\
             FROM --platform=$BUILDPLATFORM golang:${GO} AS Build\n\
             WORKDIR /src\n\
             COPY --chown=1000:1000 --chmod=755 go.mod go.sum ./\n\
             RUN go build -o /out/app .\n\
             \n\
             from scratch\n\
             copy --from=build /out/app /app\n\
             ENTRYPOINT [\"/app\"]\n",
        );
        assert_eq!(df.escape, '\\');
        assert_eq!(
            df.global_args,
            [(s("GO"), Some(s("1.22"))), (s("DEBUG"), None)]
        );
        assert_eq!(df.stages.len(), 2);
        let build = &df.stages[0];
        assert_eq!(build.name.as_deref(), Some("build"));
        assert_eq!(build.base, "golang:${GO}");
        assert_eq!(build.platform.as_deref(), Some("$BUILDPLATFORM"));
        assert_eq!(build.line, 3);
        assert_eq!(
            build.original,
            "FROM --platform=$BUILDPLATFORM golang:${GO} AS Build"
        );
        assert_eq!(
            kinds(build),
            [
                &InstructionKind::Workdir(s("/src")),
                &InstructionKind::Copy {
                    sources: vec![s("go.mod"), s("go.sum")],
                    dest: s("./"),
                    from: None,
                    chown: Some(s("1000:1000")),
                    chmod: Some(s("755")),
                    is_add: false,
                },
                &InstructionKind::Run(Command::Shell(s("go build -o /out/app ."))),
            ]
        );
        assert_eq!(build.instructions[2].line, 6);
        let final_stage = &df.stages[1];
        assert_eq!(final_stage.name, None);
        assert_eq!(final_stage.base, "scratch");
        assert_eq!(
            kinds(final_stage),
            [
                &InstructionKind::Copy {
                    sources: vec![s("/out/app")],
                    dest: s("/app"),
                    from: Some(s("build")),
                    chown: None,
                    chmod: None,
                    is_add: false,
                },
                &InstructionKind::Entrypoint(Command::Exec(vec![s("/app")])),
            ]
        );
        assert_eq!(
            final_stage.instructions[0].original,
            "copy --from=build /out/app /app"
        );
        assert_eq!(df.stage_index("BUILD"), Some(0));
        assert_eq!(df.stage_index("1"), Some(1));
        assert_eq!(df.stage_index("2"), None);
        assert_eq!(df.stage_index("nope"), None);
    }

    #[test]
    fn continuations_and_comments() {
        let df = parse(
            "FROM alpine\n\
             RUN apk add \\\n\
             # a comment inside the continuation\n\
             \x20   curl \\\n\
             \n\
             \x20   git\n\
             \x20 # indented comment\n\
             RUN echo a\\\\\n\
             RUN echo done \\\n",
        );
        let stage = &df.stages[0];
        assert_eq!(
            kinds(stage),
            [
                &InstructionKind::Run(Command::Shell(s("apk add     curl     git"))),
                &InstructionKind::Run(Command::Shell(s("echo a\\\\"))),
                &InstructionKind::Run(Command::Shell(s("echo done"))),
            ]
        );
        assert_eq!(stage.instructions[0].line, 2);
        assert_eq!(
            stage.instructions[0].original,
            "RUN apk add     curl     git"
        );
        assert_eq!(stage.instructions[1].line, 8);
        assert_eq!(stage.instructions[2].line, 9);
    }

    #[test]
    fn escape_directive() {
        let df = parse(
            "# escape=`\n\
             FROM mcr.microsoft.com/windows/servercore\n\
             RUN dir c:\\ `\n\
             \x20   && echo hi\n\
             ENV A=\"x`\"y\"\n",
        );
        assert_eq!(df.escape, '`');
        let stage = &df.stages[0];
        assert_eq!(
            kinds(stage)[0],
            &InstructionKind::Run(Command::Shell(s("dir c:\\     && echo hi")))
        );
        let InstructionKind::Env(env) = kinds(stage)[1] else {
            panic!("not ENV");
        };
        assert_eq!(env, &[(s("A"), s("\"x`\"y\""))]);
        assert_eq!(
            expand_with_escape(&env[0].1, df.escape, &|_| None).unwrap(),
            "x\"y"
        );

        // A directive after anything else is just a comment.
        let df = parse("\n# escape=`\nFROM a\nRUN x \\\n y\n");
        assert_eq!(df.escape, '\\');
        assert_eq!(
            kinds(&df.stages[0]),
            [&InstructionKind::Run(Command::Shell(s("x  y")))]
        );

        assert_eq!(
            error("# escape=x\nFROM a\n"),
            "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\"
        );
        assert_eq!(
            error("# escape=`\n# escape=\\\nFROM a\n"),
            "dockerfile parse error on line 2: only one escape parser directive can be used"
        );
    }

    #[test]
    fn exec_and_shell_forms() {
        let df = parse(
            "FROM a\n\
             CMD [\"echo\", \"hi there\"]\n\
             CMD echo hi there\n\
             CMD [\"echo\", 'single quotes are not JSON']\n\
             ENTRYPOINT []\n\
             run [\"sh\", \"-c\", \"echo $HOME\"]\n\
             RUN [ broken json\n\
             SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n\
             COPY [\"with space\", \"other\", \"/dest dir/\"]\n\
             VOLUME [\"/a\", \"/b\"]\n\
             VOLUME /c /d\n",
        );
        assert_eq!(
            kinds(&df.stages[0]),
            [
                &InstructionKind::Cmd(Command::Exec(vec![s("echo"), s("hi there")])),
                &InstructionKind::Cmd(Command::Shell(s("echo hi there"))),
                &InstructionKind::Cmd(Command::Shell(s(
                    "[\"echo\", 'single quotes are not JSON']"
                ))),
                &InstructionKind::Entrypoint(Command::Exec(vec![])),
                &InstructionKind::Run(Command::Exec(vec![s("sh"), s("-c"), s("echo $HOME")])),
                &InstructionKind::Run(Command::Shell(s("[ broken json"))),
                &InstructionKind::Shell(vec![s("/bin/bash"), s("-o"), s("pipefail"), s("-c")]),
                &InstructionKind::Copy {
                    sources: vec![s("with space"), s("other")],
                    dest: s("/dest dir/"),
                    from: None,
                    chown: None,
                    chmod: None,
                    is_add: false,
                },
                &InstructionKind::Volume(vec![s("/a"), s("/b")]),
                &InstructionKind::Volume(vec![s("/c"), s("/d")]),
            ]
        );
        assert_eq!(
            Command::Exec(vec![s("a"), s("b c")]).to_string(),
            "[\"a\",\"b c\"]"
        );
        assert_eq!(
            error("FROM a\nCMD [\"echo\", 1]\n"),
            "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only"
        );
        assert_eq!(
            error("FROM a\nSHELL /bin/sh -c\n"),
            "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"
        );
    }

    #[test]
    fn env_and_label_quoting() {
        let df = parse(
            "FROM a\n\
             LABEL a=\"x y\" b=z c='q r' \"d e\"=f\n\
             ENV KEY value with   spaces\n\
             ENV A=1 B=\"two words\" C=three\\ words D=\n\
             ENV E=\"$A ${B}\" F='$A'\n",
        );
        let k = kinds(&df.stages[0]);
        let InstructionKind::Label(labels) = k[0] else {
            panic!("not LABEL");
        };
        assert_eq!(
            labels,
            &[
                (s("a"), s("\"x y\"")),
                (s("b"), s("z")),
                (s("c"), s("'q r'")),
                (s("\"d e\""), s("f")),
            ]
        );
        let plain: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (expand(k, &|_| None).unwrap(), expand(v, &|_| None).unwrap()))
            .collect();
        assert_eq!(
            plain,
            [
                (s("a"), s("x y")),
                (s("b"), s("z")),
                (s("c"), s("q r")),
                (s("d e"), s("f"))
            ]
        );
        assert_eq!(
            k[1],
            &InstructionKind::Env(vec![(s("KEY"), s("value with   spaces"))])
        );
        let InstructionKind::Env(env) = k[2] else {
            panic!("not ENV");
        };
        let values: Vec<String> = env
            .iter()
            .map(|(_, v)| expand(v, &|_| None).unwrap())
            .collect();
        assert_eq!(values, ["1", "two words", "three words", ""]);
        let InstructionKind::Env(env) = k[3] else {
            panic!("not ENV");
        };
        let lookup = |name: &str| match name {
            "A" => Some(s("1")),
            "B" => Some(s("two words")),
            _ => None,
        };
        assert_eq!(expand(&env[0].1, &lookup).unwrap(), "1 two words");
        assert_eq!(expand(&env[1].1, &lookup).unwrap(), "$A");

        assert_eq!(
            error("FROM a\nENV ONLYKEY\n"),
            "dockerfile parse error on line 2: ENV must have two arguments"
        );
        assert_eq!(
            error("FROM a\nLABEL a=b c\n"),
            "dockerfile parse error on line 2: Syntax error - can't find = in \"c\". Must be of the form: name=value"
        );
        assert_eq!(
            error("FROM a\nENV =x\n"),
            "dockerfile parse error on line 2: ENV names can not be blank"
        );
        assert_eq!(
            error("FROM a\nLABEL\n"),
            "dockerfile parse error on line 2: LABEL requires at least one argument"
        );
    }

    #[test]
    fn arg_substitution() {
        let df = parse(
            "ARG BASE=alpine\nARG TAG\nFROM ${BASE}:${TAG:-3.20}\nARG A=1 B=\"two\"\nENV C=${A}-${B}\n",
        );
        let globals = |name: &str| {
            df.global_args
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(expand(&df.stages[0].base, &globals).unwrap(), "alpine:3.20");
        let k = kinds(&df.stages[0]);
        assert_eq!(k[0], &InstructionKind::Arg(s("A"), Some(s("1"))));
        assert_eq!(k[1], &InstructionKind::Arg(s("B"), Some(s("\"two\""))));
        assert_eq!(df.stages[0].instructions[0].original, "ARG A=1 B=\"two\"");
        assert_eq!(df.stages[0].instructions[1].line, 4);
        let InstructionKind::Env(env) = k[2] else {
            panic!("not ENV");
        };
        let vars = |name: &str| match name {
            "A" => Some(s("1")),
            "B" => Some(expand("\"two\"", &|_| None).unwrap()),
            _ => None,
        };
        assert_eq!(expand(&env[0].1, &vars).unwrap(), "1-two");
        assert_eq!(
            error("FROM a\nARG =x\n"),
            "dockerfile parse error on line 2: ARG names can not be blank"
        );
    }

    /// Rows of buildkit's shell/envVarTest (PWD=/home, SHELL=bash,
    /// KOREAN=한국어, NULL empty).
    #[test]
    fn expand_follows_buildkit_table() {
        let vars = |name: &str| match name {
            "PWD" => Some(s("/home")),
            "SHELL" => Some(s("bash")),
            "KOREAN" => Some(s("한국어")),
            "NULL" => Some(s("")),
            _ => None,
        };
        let table: &[(&str, Option<&str>)] = &[
            ("hello", Some("hello")),
            ("he'll'o", Some("hello")),
            ("he'llo", None),
            ("he\\'llo", Some("he'llo")),
            ("he\\\\'llo", None),
            ("abc\\tdef", Some("abctdef")),
            ("\"abc\\tdef\"", Some("abc\\tdef")),
            ("\"abc\\\\tdef\"", Some("abc\\tdef")),
            ("'abc\\tdef'", Some("abc\\tdef")),
            ("hello\\", Some("hello")),
            ("hello\\\\", Some("hello\\")),
            ("\"hello", None),
            ("\"hello\\\"", None),
            ("\"hel'lo\"", Some("hel'lo")),
            ("'hello", None),
            ("'hello\\'", Some("hello\\")),
            ("\"''\"", Some("''")),
            ("$.", Some("$.")),
            ("he$1x", Some("hex")),
            ("he$.x", Some("he$.x")),
            ("he$pwd.", Some("he.")),
            ("he$PWD", Some("he/home")),
            ("he\\$PWD", Some("he$PWD")),
            ("he\\\\$PWD", Some("he\\/home")),
            ("\"he\\$PWD\"", Some("he$PWD")),
            ("\"he\\\\$PWD\"", Some("he\\/home")),
            ("\\${}", Some("${}")),
            ("\\${}aaa", Some("${}aaa")),
            ("${}", None),
            ("he${}xx", None),
            ("he${hi}xx", Some("hexx")),
            ("he${PWD}", Some("he/home")),
            ("he${.}", None),
            ("he${XXX:-000}xx", Some("he000xx")),
            ("he${PWD:-000}xx", Some("he/homexx")),
            ("he${XXX:-$PWD}xx", Some("he/homexx")),
            ("he${XXX:-${PWD:-yyy}}xx", Some("he/homexx")),
            ("he${XXX:-${YYY:-yyy}}xx", Some("heyyyxx")),
            ("he${XXX:YYY}", None),
            ("he${XXX?}", None),
            ("he${XXX:?}", None),
            ("he${PWD?}", Some("he/home")),
            ("he${PWD:?}", Some("he/home")),
            ("he${NULL?}", Some("he")),
            ("he${NULL:?}", None),
            ("he${XXX:+${PWD}}xx", Some("hexx")),
            ("he${PWD:+${XXX}}xx", Some("hexx")),
            ("he${PWD:+${SHELL}}xx", Some("hebashxx")),
            ("he${XXX:+000}xx", Some("hexx")),
            ("he${PWD:+000}xx", Some("he000xx")),
            ("'he${XX}'", Some("he${XX}")),
            ("\"he${PWD}\"", Some("he/home")),
            ("\"he'$PWD'\"", Some("he'/home'")),
            ("\"$PWD\"", Some("/home")),
            ("'$PWD'", Some("$PWD")),
            ("'\\$PWD'", Some("\\$PWD")),
            ("'\"hello\"'", Some("\"hello\"")),
            ("he${PWD", None),
            ("he${PWD:=000}xx", None),
            ("he${PWD:+${PWD}:}xx", Some("he/home:xx")),
            ("he${XXX:-\\$PWD:}xx", Some("he$PWD:xx")),
            ("he${XXX:-\\${PWD}z}xx", Some("he${PWDz}xx")),
            ("안'녕'하세요", Some("안녕하세요")),
            ("안녕$KOREAN", Some("안녕한국어")),
            ("${{aaa}", None),
            ("${aaa}}", Some("}")),
            ("${aaa:-bbb}}", Some("bbb}")),
            ("${aaa:-bbb", None),
            ("${aaa:-${bbb:-ccc}}", Some("ccc")),
            ("${aaa:-bbb ${foo}", None),
            ("${aaa:-bbb {foo}", Some("bbb {foo")),
            ("${:}", None),
            ("${:-bbb}", None),
            ("$1", Some("")),
            ("${1:-bbb}", Some("bbb")),
            ("$999aaa", Some("aaa")),
            ("${001:-bbb}aaa", Some("bbbaaa")),
            ("$@@@", Some("@@")),
            ("${@:-bbb}aaa", Some("bbbaaa")),
            ("${#:+bbb}", Some("")),
            ("$$", Some("")),
            ("${0:-bbb}", Some("bbb")),
            ("keep   spaces", Some("keep   spaces")),
        ];
        for (word, want) in table {
            let got = expand(word, &vars).ok();
            assert_eq!(got.as_deref(), *want, "expand({word:?})");
        }
    }

    #[test]
    fn expand_pattern_modifiers_and_errors() {
        let vars = |name: &str| match name {
            "FILE" => Some(s("dir/sub/file.tar.gz")),
            "EMPTY" => Some(s("")),
            _ => None,
        };
        for (word, want) in [
            ("${FILE#*/}", "sub/file.tar.gz"),
            ("${FILE##*/}", "file.tar.gz"),
            ("${FILE%.*}", "dir/sub/file.tar"),
            ("${FILE%%.*}", "dir/sub/file"),
            ("${FILE/sub/SUB}", "dir/SUB/file.tar.gz"),
            ("${FILE//[.]/_}", "dir/sub/file.tar.gz"),
            ("${FILE//./_}", "dir/sub/file_tar_gz"),
            ("${FILE/\\//:}", "dir:sub/file.tar.gz"),
            ("${EMPTY-unset}", ""),
            ("${EMPTY:-empty}", "empty"),
            ("${MISSING+set}", ""),
            ("${EMPTY+set}", "set"),
        ] {
            assert_eq!(expand(word, &vars).unwrap(), want, "expand({word:?})");
        }
        let err = expand("${FILE", &vars).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "invalid argument: failed to process \"${FILE\": syntax error: missing '}'"
        );
        assert_eq!(
            expand("${EMPTY:?must be set}", &vars)
                .unwrap_err()
                .to_string(),
            "invalid argument: failed to process \"${EMPTY:?must be set}\": EMPTY: must be set"
        );
        assert_eq!(
            expand("${MISSING?}", &vars).unwrap_err().to_string(),
            "invalid argument: failed to process \"${MISSING?}\": MISSING: is not allowed to be unset"
        );
        assert_eq!(
            expand("${FILE:#x}", &vars).unwrap_err().to_string(),
            "invalid argument: failed to process \"${FILE:#x}\": unsupported modifier (:#) in substitution"
        );
        assert_eq!(
            expand("'open", &vars).unwrap_err().to_string(),
            "invalid argument: failed to process \"'open\": unexpected end of statement while looking for matching single-quote"
        );
    }

    #[test]
    fn structural_errors_use_docker_wording() {
        assert_eq!(error(""), "file with no instructions");
        assert_eq!(error("# just a comment\n\n"), "file with no instructions");
        assert_eq!(
            error("RUN echo hi\nFROM a\n"),
            "no build stage in current context"
        );
        assert_eq!(error("ARG A=1\n"), "dockerfile contains no stages to build");
        assert_eq!(
            error("FROM alpine\nBOGUS bar\n"),
            "dockerfile parse error on line 2: unknown instruction: BOGUS"
        );
        // buildkit suggests anything less than three edits away.
        assert_eq!(
            error("FROM alpine\nFOO bar\n"),
            "dockerfile parse error on line 2: unknown instruction: FOO (did you mean FROM?)"
        );
        assert_eq!(
            error("FROM alpine\n\nRUNN make\n"),
            "dockerfile parse error on line 3: unknown instruction: RUNN (did you mean RUN?)"
        );
        assert_eq!(
            error("FROM alpine\ncopyy a b\n"),
            "dockerfile parse error on line 2: unknown instruction: copyy (did you mean copy?)"
        );
        assert_eq!(
            error("FROM a\nCOPY onlyone\n"),
            "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
        );
        assert_eq!(
            error("FROM a\nCOPY --form=x a b\n"),
            "dockerfile parse error on line 2: unknown flag: --form (did you mean from?)"
        );
        assert_eq!(
            error("FROM a\nCOPY --chown a b\n"),
            "dockerfile parse error on line 2: missing a value on flag: --chown"
        );
        assert_eq!(
            error("FROM a\nCOPY --link=maybe a b\n"),
            "dockerfile parse error on line 2: expecting boolean value for flag --link, not: maybe"
        );
        assert_eq!(
            error("FROM a\nWORKDIR\n"),
            "dockerfile parse error on line 2: WORKDIR requires exactly one argument"
        );
        assert_eq!(
            error("FROM\n"),
            "dockerfile parse error on line 1: FROM requires either one or three arguments"
        );
        assert_eq!(
            error("FROM a AS 1st\n"),
            "dockerfile parse error on line 1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"
        );
        assert_eq!(
            error("FROM a\nONBUILD ONBUILD RUN x\n"),
            "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        );
        assert_eq!(
            error("FROM a\nONBUILD FROM b\n"),
            "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"
        );
        assert_eq!(
            error("FROM a\nHEALTHCHECK BOGUS x\n"),
            "dockerfile parse error on line 2: Unknown type \"BOGUS\" in HEALTHCHECK (try CMD)"
        );
        assert_eq!(
            error("FROM a\nVOLUME [\"\"]\n"),
            "dockerfile parse error on line 2: VOLUME specified can not be an empty string"
        );
        assert_eq!(
            error("FROM a\nRUN <<EOF\necho hi\nEOF\n"),
            "dockerfile parse error on line 2: heredocs are not supported: <<EOF"
        );
    }

    #[test]
    fn other_instructions() {
        let df = parse(
            "\u{feff}FROM a\r\n\
             EXPOSE 8080/tcp 443 80\r\n\
             USER app:app\r\n\
             STOPSIGNAL SIGTERM\r\n\
             MAINTAINER Jane Doe <jane@example.com>\r\n\
             HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/ || exit 1\r\n\
             HEALTHCHECK NONE\r\n\
             onbuild   RUN make install\r\n\
             ADD --chown=1:1 https://example.com/x.tgz /x/\r\n\
             RUN --mount=type=cache,target=/root/.cache pip install -r req.txt\r\n\
             COPY a<<b /x\r\n",
        );
        assert_eq!(
            kinds(&df.stages[0]),
            [
                &InstructionKind::Expose(vec![s("443"), s("80"), s("8080/tcp")]),
                &InstructionKind::User(s("app:app")),
                &InstructionKind::StopSignal(s("SIGTERM")),
                &InstructionKind::Maintainer(s("Jane Doe <jane@example.com>")),
                &InstructionKind::Healthcheck(s(
                    "--interval=5s --retries=3 CMD curl -f http://localhost/ || exit 1"
                )),
                &InstructionKind::Healthcheck(s("NONE")),
                &InstructionKind::OnBuild(s("RUN make install")),
                &InstructionKind::Copy {
                    sources: vec![s("https://example.com/x.tgz")],
                    dest: s("/x/"),
                    from: None,
                    chown: Some(s("1:1")),
                    chmod: None,
                    is_add: true,
                },
                &InstructionKind::Run(Command::Shell(s("pip install -r req.txt"))),
                &InstructionKind::Copy {
                    sources: vec![s("a<<b")],
                    dest: s("/x"),
                    from: None,
                    chown: None,
                    chmod: None,
                    is_add: false,
                },
            ]
        );
        assert_eq!(
            df.stages[0].instructions[0].original,
            "EXPOSE 8080/tcp 443 80"
        );
    }

    #[test]
    fn adversarial_nesting_is_an_error_not_a_crash() {
        let onbuilds = format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(100_000));
        assert_eq!(
            error(&onbuilds),
            "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        );
        let nested = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
        assert!(expand(&nested, &|_| None).is_err());
        let fine = format!("{}x{}", "${A:-".repeat(100), "}".repeat(100));
        assert_eq!(expand(&fine, &|_| None).unwrap(), "x");
    }

    #[test]
    fn flags_keep_quotes_out() {
        let df = parse("FROM a\nCOPY --from=\"my stage\" --chown='1 2' a b\n");
        let InstructionKind::Copy { from, chown, .. } = &df.stages[0].instructions[0].kind else {
            panic!("not COPY");
        };
        assert_eq!(from.as_deref(), Some("my stage"));
        assert_eq!(chown.as_deref(), Some("1 2"));
    }
}
