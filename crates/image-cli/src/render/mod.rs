//! Rendering of command output the way the docker CLI prints it: go-units
//! sizes and durations, Go's tabwriter, Go templates with docker's
//! functions, and docker's `--format` handling.

pub mod format;
pub mod progress;
pub mod table;
pub mod template;
pub mod units;
