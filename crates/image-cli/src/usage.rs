//! Usage errors in docker's words: clap finds what is wrong with the command
//! line, and this module says it the way the docker CLI (cobra and
//! docker/cli's `cli/required.go`) does, with the command's usage line and
//! a pointer to its help, and docker's exit codes: 125 for a bad flag,
//! 1 for a wrong number of arguments or an unknown command.
//!
//! ```text
//! unknown flag: --bogus
//!
//! Usage:  imgctl images [OPTIONS] [REPOSITORY[:TAG]]
//!
//! Run 'imgctl images --help' for more information
//! ```

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// What to print for a command line clap refused, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The text for stderr, or for stdout when [`UsageError::to_stdout`].
    pub text: String,
    /// The process exit code.
    pub code: u8,
    /// Help and version go to stdout and exit 0.
    pub to_stdout: bool,
}

/// docker's exit code for a bad flag (cobra's flag errors).
const EXIT_FLAG: u8 = 125;
/// docker's exit code for a wrong argument count or an unknown command.
const EXIT_ARGS: u8 = 1;

/// Turns clap's `error` for the command line `args` (the program name
/// first) of `command` (the top-level clap command) into docker's message.
pub fn usage_error(error: &clap::Error, command: &clap::Command, args: &[OsString]) -> UsageError {
    if !error.use_stderr() {
        return UsageError {
            text: error.render().to_string(),
            code: 0,
            to_stdout: true,
        };
    }
    let path = command_path(command, args);
    let (names, sub) = (&path.names, path.command);
    let full_name = std::iter::once(command.get_name())
        .chain(names.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let usage = usage_line(sub);
    let invalid_arg = context_string(error, ContextKind::InvalidArg);
    let flag_error = |message: String| UsageError {
        text: format!(
            "{message}\n\nUsage:  {usage}\n\nRun '{full_name} --help' for more information\n"
        ),
        code: EXIT_FLAG,
        to_stdout: false,
    };
    match error.kind() {
        ErrorKind::UnknownArgument => match invalid_arg.as_deref() {
            Some(arg) if arg.starts_with("--") => {
                let name = arg.split('=').next().unwrap_or(arg);
                flag_error(format!("unknown flag: {name}"))
            }
            Some(arg) if arg.starts_with('-') && arg.len() > 1 => {
                let short = arg.chars().nth(1).unwrap_or('-');
                let typed = typed_short(args, short).unwrap_or_else(|| arg.to_string());
                flag_error(format!("unknown shorthand flag: '{short}' in {typed}"))
            }
            _ => arguments_error(&full_name, &usage, sub),
        },
        ErrorKind::MissingRequiredArgument | ErrorKind::TooManyValues
            if invalid_arg
                .as_deref()
                .is_none_or(|arg| !arg.starts_with('-')) =>
        {
            arguments_error(&full_name, &usage, sub)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::NoEquals => {
            let Some(flag) = invalid_arg
                .as_deref()
                .and_then(|arg| find_flag(sub, command, arg))
            else {
                return flag_error(clap_message(error));
            };
            let value = context_string(error, ContextKind::InvalidValue).unwrap_or_default();
            if value.is_empty() && error.kind() != ErrorKind::ValueValidation {
                let typed = match flag.get_short() {
                    Some(short) if !typed_long(args, flag) => format!("'{short}' in -{short}"),
                    _ => format!("--{}", flag.get_long().unwrap_or_default()),
                };
                return flag_error(format!("flag needs an argument: {typed}"));
            }
            let names = match (flag.get_short(), flag.get_long()) {
                (Some(short), Some(long)) => format!("-{short}, --{long}"),
                (None, Some(long)) => format!("--{long}"),
                (Some(short), None) => format!("-{short}"),
                (None, None) => flag.get_id().to_string(),
            };
            let reason = if is_bool_flag(flag) {
                format!("strconv.ParseBool: parsing {value:?}: invalid syntax")
            } else {
                clap_message(error)
            };
            flag_error(format!(
                "invalid argument {value:?} for {names:?} flag: {reason}"
            ))
        }
        ErrorKind::InvalidSubcommand => {
            let word = context_string(error, ContextKind::InvalidSubcommand).unwrap_or_default();
            let usage_part = if names.is_empty() {
                String::new()
            } else {
                format!("Usage:  {usage}\n\n")
            };
            UsageError {
                text: format!(
                    "{}: unknown command: {full_name} {word}\n\n{usage_part}\
                     Run '{full_name} --help' for more information\n",
                    command.get_name()
                ),
                code: EXIT_ARGS,
                to_stdout: false,
            }
        }
        _ => flag_error(clap_message(error)),
    }
}

/// `imgctl: 'imgctl images' requires at most 1 argument`, from the
/// command's positional arguments as `cli/required.go` words it.
fn arguments_error(full_name: &str, usage: &str, command: &clap::Command) -> UsageError {
    let (min, max) = argument_range(command);
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let (requirement, see) = if max == Some(0) {
        ("accepts no arguments".to_string(), "Run")
    } else if Some(min) == max {
        (format!("requires {min} {}", plural(min)), "Run")
    } else if max.is_none() {
        (format!("requires at least {min} {}", plural(min)), "See")
    } else if min == 0 {
        let max = max.unwrap_or_default();
        (format!("requires at most {max} {}", plural(max)), "Run")
    } else {
        let max = max.unwrap_or_default();
        (
            format!("requires at least {min} and at most {max} {}", plural(max)),
            "Run",
        )
    };
    let program = full_name.split(' ').next().unwrap_or(full_name);
    UsageError {
        text: format!(
            "{program}: '{full_name}' {requirement}\n\nUsage:  {usage}\n\n\
             {see} '{full_name} --help' for more information\n"
        ),
        code: EXIT_ARGS,
        to_stdout: false,
    }
}

/// The least and most positional arguments `command` takes (`None`: no
/// limit).
fn argument_range(command: &clap::Command) -> (usize, Option<usize>) {
    let mut min = 0;
    let mut max = Some(0);
    for arg in command.get_positionals() {
        let range = arg.get_num_args().unwrap_or_default();
        let (low, high) = (range.min_values().max(1), range.max_values());
        if arg.is_required_set() {
            min += low;
        }
        max = match (max, high) {
            (Some(sum), high) if high != usize::MAX => Some(sum + high.max(1)),
            _ => None,
        };
    }
    (min, max)
}

/// The subcommand a command line names, with the names of the path to it.
struct CommandPath<'a> {
    names: Vec<String>,
    command: &'a clap::Command,
}

/// Walks `args` down `command`'s subcommands, skipping the global options
/// before each name.
fn command_path<'a>(command: &'a clap::Command, args: &[OsString]) -> CommandPath<'a> {
    let mut current = command;
    let mut names = Vec::new();
    let mut words = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if let Some(option) = word.strip_prefix('-') {
            // An option of this level: skip its value when it takes one.
            let takes_value = current.get_arguments().any(|arg| {
                let named = match option.strip_prefix('-') {
                    Some(long) => arg.get_long() == Some(long),
                    None => option.len() == 1 && option.chars().next() == arg.get_short(),
                };
                named && arg.get_action().takes_values()
            });
            if takes_value && !word.contains('=') {
                words.next();
            }
            continue;
        }
        match current.find_subcommand(&word) {
            Some(sub) => {
                names.push(sub.get_name().to_string());
                current = sub;
            }
            None => break,
        }
    }
    CommandPath {
        names,
        command: current,
    }
}

/// The command's usage line without clap's `Usage: ` prefix.
fn usage_line(command: &clap::Command) -> String {
    let mut command = command.clone();
    let rendered = command.render_usage().to_string();
    rendered
        .trim()
        .strip_prefix("Usage:")
        .unwrap_or(&rendered)
        .trim()
        .to_string()
}

/// A context value of the error as text.
fn context_string(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(text) => Some(text.clone()),
        ContextValue::Strings(texts) => texts.first().cloned(),
        ContextValue::StyledStr(text) => Some(text.to_string()),
        _ => None,
    }
}

/// The flag clap names as `arg` (`--format <string>`, `-H[=<HUMAN>]`), in
/// `command` or among the top-level (global) options.
fn find_flag<'a>(
    command: &'a clap::Command,
    top: &'a clap::Command,
    arg: &str,
) -> Option<&'a clap::Arg> {
    let word = arg
        .split([' ', '=', '['])
        .next()
        .unwrap_or(arg)
        .trim_start_matches('-');
    command
        .get_arguments()
        .chain(top.get_arguments())
        .find(|flag| {
            flag.get_long() == Some(word)
                || (word.len() == 1 && word.chars().next() == flag.get_short())
        })
}

/// Whether the flag takes `true`/`false` (`-H=false`).
fn is_bool_flag(flag: &clap::Arg) -> bool {
    let values = flag.get_possible_values();
    !values.is_empty()
        && values
            .iter()
            .all(|v| matches!(v.get_name(), "true" | "false"))
}

/// Whether the command line used the flag's long form.
fn typed_long(args: &[OsString], flag: &clap::Arg) -> bool {
    let Some(long) = flag.get_long() else {
        return false;
    };
    let long = format!("--{long}");
    args.iter()
        .any(|a| a.to_string_lossy().split('=').next() == Some(long.as_str()))
}

/// What pflag names for an unknown short flag: the rest of the cluster of
/// short flags from it on (`-x` for `x` in `-qx`).
fn typed_short(args: &[OsString], short: char) -> Option<String> {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy())
        .find_map(|a| {
            if !a.starts_with('-') || a.starts_with("--") {
                return None;
            }
            a[1..].find(short).map(|at| format!("-{}", &a[1 + at..]))
        })
}

/// clap's own message without its `error: ` prefix, usage and tips.
fn clap_message(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory as _, Parser as _};

    fn usage(line: &str) -> UsageError {
        let args: Vec<OsString> = std::iter::once("imgctl")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect();
        let error = Cli::try_parse_from(&args).unwrap_err();
        usage_error(&error, &Cli::command(), &args)
    }

    #[test]
    fn bad_flags_exit_125_with_docker_words() {
        let e = usage("images --bogus");
        assert_eq!(
            e.text,
            "unknown flag: --bogus\n\nUsage:  imgctl images [OPTIONS] [REPOSITORY[:TAG]]\n\n\
             Run 'imgctl images --help' for more information\n"
        );
        assert_eq!(e.code, 125);
        assert!(!e.to_stdout);
        assert!(
            usage("-H unix:///x images -x")
                .text
                .starts_with("unknown shorthand flag: 'x' in -x\n\nUsage:  imgctl images ")
        );
        assert!(
            usage("image ls -qx")
                .text
                .starts_with("unknown shorthand flag: 'x' in -x\n\nUsage:  imgctl image ls ")
        );
        assert!(
            usage("images --filter")
                .text
                .starts_with("flag needs an argument: --filter\n")
        );
        assert!(
            usage("images -f")
                .text
                .starts_with("flag needs an argument: 'f' in -f\n")
        );
        let e = usage("history -H=maybe x");
        assert_eq!(
            e.text,
            "invalid argument \"maybe\" for \"-H, --human\" flag: strconv.ParseBool: parsing \
             \"maybe\": invalid syntax\n\nUsage:  imgctl history [OPTIONS] IMAGE\n\n\
             Run 'imgctl history --help' for more information\n"
        );
        assert_eq!(e.code, 125);
    }

    #[test]
    fn argument_counts_exit_1_as_required_go_words_them() {
        let e = usage("images a b");
        assert_eq!(
            e.text,
            "imgctl: 'imgctl images' requires at most 1 argument\n\n\
             Usage:  imgctl images [OPTIONS] [REPOSITORY[:TAG]]\n\n\
             Run 'imgctl images --help' for more information\n"
        );
        assert_eq!(e.code, 1);
        assert!(
            usage("history")
                .text
                .starts_with("imgctl: 'imgctl history' requires 1 argument\n")
        );
        assert!(
            usage("image history a b")
                .text
                .starts_with("imgctl: 'imgctl image history' requires 1 argument\n")
        );
        let e = usage("rmi");
        assert!(
            e.text
                .starts_with("imgctl: 'imgctl rmi' requires at least 1 argument\n")
        );
        assert!(
            e.text
                .ends_with("\nSee 'imgctl rmi --help' for more information\n")
        );
        assert!(
            usage("image prune x")
                .text
                .starts_with("imgctl: 'imgctl image prune' accepts no arguments\n")
        );
        assert!(
            usage("--backend memory tag a")
                .text
                .starts_with("imgctl: 'imgctl tag' requires at least 2 arguments\n")
        );
        assert!(
            usage("system df x")
                .text
                .starts_with("imgctl: 'imgctl system df' accepts no arguments\n")
        );
    }

    #[test]
    fn unknown_commands_exit_1() {
        let e = usage("frob");
        assert_eq!(
            e.text,
            "imgctl: unknown command: imgctl frob\n\nRun 'imgctl --help' for more information\n"
        );
        assert_eq!(e.code, 1);
        assert_eq!(
            usage("image frob").text,
            "imgctl: unknown command: imgctl image frob\n\nUsage:  imgctl image\n\n\
             Run 'imgctl image --help' for more information\n"
        );
    }

    #[test]
    fn help_goes_to_stdout() {
        let e = usage("images --help");
        assert!(e.to_stdout);
        assert_eq!(e.code, 0);
        assert!(
            e.text
                .contains("Usage: imgctl images [OPTIONS] [REPOSITORY[:TAG]]")
        );
    }
}
