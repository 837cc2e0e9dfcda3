//! The command line, as clap types only: docker's commands, flags and help
//! texts. Nothing here runs anything; `commands/` does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// imgctl: manage container images, the way `docker` does, faster.
#[derive(Debug, Parser)]
#[command(name = "imgctl", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    /// Daemon socket to connect to (else DOCKER_HOST, else the default socket).
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub host: Option<String>,

    /// Location of client config files (else DOCKER_CONFIG, else ~/.docker).
    #[arg(long = "config", value_name = "DIR")]
    pub config: Option<PathBuf>,

    /// Which engine to manage: a Docker Engine, or imgctl's in-memory engine.
    #[arg(long, value_enum, default_value_t = Backend::Docker)]
    pub backend: Backend,

    /// With `--backend memory`: start from a demo host with realistic images.
    #[arg(long)]
    pub demo: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The engines imgctl can manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A Docker Engine.
    Docker,
    /// imgctl's in-memory engine (for trying imgctl without Docker).
    Memory,
}

/// imgctl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List images
    #[command(override_usage = "imgctl images [OPTIONS] [REPOSITORY[:TAG]]")]
    Images(ImagesArgs),
    /// Manage images
    #[command(subcommand, override_usage = "imgctl image")]
    Image(ImageCommand),
    /// Return low-level information on Docker objects (imgctl knows images)
    #[command(override_usage = "imgctl inspect [OPTIONS] NAME|ID [NAME|ID...]")]
    Inspect(ObjectInspectArgs),
    /// Show the history of an image
    #[command(override_usage = "imgctl history [OPTIONS] IMAGE")]
    History(HistoryArgs),
    /// Create one or more tags TARGET_IMAGE that refer to SOURCE_IMAGE
    #[command(
        override_usage = "imgctl tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG] [TARGET_IMAGE[:TAG]...]"
    )]
    Tag(TagArgs),
    /// Remove one or more images
    #[command(override_usage = "imgctl rmi [OPTIONS] IMAGE [IMAGE...]")]
    Rmi(RmiArgs),
    /// Download an image from a registry
    #[command(override_usage = "imgctl pull [OPTIONS] NAME[:TAG|@DIGEST]")]
    Pull(PullArgs),
    /// Upload an image to a registry
    #[command(override_usage = "imgctl push [OPTIONS] NAME[:TAG]")]
    Push(PushArgs),
    /// Build an image from a Dockerfile
    #[command(override_usage = "imgctl build [OPTIONS] PATH | URL | -")]
    Build(BuildArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "imgctl save [OPTIONS] IMAGE [IMAGE...]")]
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "imgctl load [OPTIONS]")]
    Load(LoadArgs),
    /// Untag and delete images by a retention policy, with a plan first (beyond docker)
    #[command(
        override_usage = "imgctl cleanup [OPTIONS]",
        after_help = "Without --policy, the flags make one rule for the repositories that --repository names (default: every repository).\nThe plan is printed first; nothing is removed without confirmation (or -f), and --dry-run only prints the plan."
    )]
    Cleanup(CleanupArgs),
    /// Search Docker Hub for images
    #[command(override_usage = "imgctl search [OPTIONS] TERM")]
    Search(SearchArgs),
    /// Manage Docker
    #[command(subcommand, override_usage = "imgctl system")]
    System(SystemCommand),
    /// Generate shell completions
    #[command(override_usage = "imgctl completion SHELL")]
    Completion(CompletionArgs),
}

/// `imgctl system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show docker disk usage
    #[command(override_usage = "imgctl system df [OPTIONS]")]
    Df(DfArgs),
}

/// `imgctl image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(
        visible_alias = "list",
        name = "ls",
        override_usage = "imgctl image ls [OPTIONS] [REPOSITORY[:TAG]]"
    )]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    #[command(override_usage = "imgctl image inspect [OPTIONS] IMAGE [IMAGE...]")]
    Inspect(InspectArgs),
    /// Show the history of an image
    #[command(override_usage = "imgctl image history [OPTIONS] IMAGE")]
    History(HistoryArgs),
    /// Create one or more tags TARGET_IMAGE that refer to SOURCE_IMAGE
    #[command(
        override_usage = "imgctl image tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG] [TARGET_IMAGE[:TAG]...]"
    )]
    Tag(TagArgs),
    /// Remove one or more images
    #[command(
        visible_alias = "remove",
        name = "rm",
        override_usage = "imgctl image rm [OPTIONS] IMAGE [IMAGE...]"
    )]
    Rm(RmiArgs),
    /// Remove unused images
    #[command(override_usage = "imgctl image prune [OPTIONS]")]
    Prune(PruneArgs),
    /// Download an image from a registry
    #[command(override_usage = "imgctl image pull [OPTIONS] NAME[:TAG|@DIGEST]")]
    Pull(PullArgs),
    /// Upload an image to a registry
    #[command(override_usage = "imgctl image push [OPTIONS] NAME[:TAG]")]
    Push(PushArgs),
    /// Build an image from a Dockerfile
    #[command(override_usage = "imgctl image build [OPTIONS] PATH | URL | -")]
    Build(BuildArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    #[command(override_usage = "imgctl image save [OPTIONS] IMAGE [IMAGE...]")]
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    #[command(override_usage = "imgctl image load [OPTIONS]")]
    Load(LoadArgs),
    /// Show the containers that use images (beyond docker)
    #[command(override_usage = "imgctl image usage [OPTIONS] [IMAGE...]")]
    Usage(UsageArgs),
    /// Compare tags pulled from registries with what the registries hold now (beyond docker)
    #[command(override_usage = "imgctl image outdated [OPTIONS] [IMAGE...]")]
    Outdated(OutdatedArgs),
    /// Show the layers of an image and how many other images share each (beyond docker)
    #[command(override_usage = "imgctl image layers [OPTIONS] IMAGE")]
    Layers(LayersArgs),
}

/// How `images --sort` orders rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// Newest first (docker's order).
    Created,
    /// Largest first.
    Size,
    /// By repository name.
    Repository,
    /// By tag.
    Tag,
}

/// `imgctl images [OPTIONS] [REPOSITORY[:TAG]]`.
#[derive(Debug, Clone, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filters: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Sort rows (beyond docker): created, size, repository or tag
    #[arg(long, value_enum)]
    pub sort: Option<SortKey>,
    /// Reverse the order of rows (beyond docker)
    #[arg(long)]
    pub reverse: bool,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

/// `imgctl inspect [OPTIONS] IMAGE [IMAGE...]`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// The images
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `imgctl inspect [OPTIONS] NAME|ID [NAME|ID...]`: docker's top-level
/// inspect, which looks through every kind of object; imgctl's objects are
/// images.
#[derive(Debug, Clone, Args)]
pub struct ObjectInspectArgs {
    /// The format and the names.
    #[command(flatten)]
    pub inspect: InspectArgs,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
}

/// `imgctl history [OPTIONS] IMAGE`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `imgctl tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]...`.
#[derive(Debug, Clone, Args)]
pub struct TagArgs {
    /// The image to tag
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new tags (several at once is beyond docker)
    #[arg(required = true, value_name = "TARGET_IMAGE[:TAG]")]
    pub targets: Vec<String>,
}

/// `imgctl rmi [OPTIONS] IMAGE [IMAGE...]`.
#[derive(Debug, Clone, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    /// The images
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `imgctl image prune [OPTIONS]`.
#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The filters (`until`, `label`, `label!`), docker's help text below.
    #[arg(
        long = "filter",
        value_name = "filter",
        help = "Provide filter values (e.g. \"until=<timestamp>\")"
    )]
    pub filters: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Print what would be removed and the space it would free, and remove nothing (beyond docker)
    #[arg(long)]
    pub dry_run: bool,
}

/// `imgctl cleanup [OPTIONS]`: a retention policy, planned and carried out.
#[derive(Debug, Clone, Args)]
pub struct CleanupArgs {
    /// Keep the newest N tags of each repository
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Never remove tags matching this glob (e.g. production, v*-lts)
    #[arg(long, value_name = "GLOB")]
    pub keep: Vec<String>,
    /// Only remove tags whose image is older than this (e.g. 720h)
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// The repositories the rule covers (globs; default: every repository)
    #[arg(long, value_name = "GLOB")]
    pub repository: Vec<String>,
    /// What "newest" means: created or semver
    #[arg(long, value_name = "ORDER", value_parser = ["created", "semver"])]
    pub order: Option<String>,
    /// Also delete dangling images of these repositories
    #[arg(long)]
    pub dangling: bool,
    /// Read the policy from a TOML file instead of the flags
    #[arg(long, value_name = "FILE", conflicts_with_all = ["keep_last", "keep", "older_than", "repository", "order", "dangling"])]
    pub policy: Option<PathBuf>,
    /// Only print the plan
    #[arg(long)]
    pub dry_run: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `imgctl pull [OPTIONS] NAME[:TAG|@DIGEST]`.
#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// `imgctl push [OPTIONS] NAME[:TAG]`.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Push a platform-specific manifest as a single-platform image to the registry
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

/// `imgctl build [OPTIONS] PATH`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list")]
    pub build_args: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set the target build stage to build.
    #[arg(long, value_name = "string")]
    pub target: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The build context: a directory, or `-` for a tar on standard input
    #[arg(value_name = "PATH")]
    pub path: String,
}

/// `imgctl save [OPTIONS] IMAGE [IMAGE...]`.
#[derive(Debug, Clone, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,
    /// The images
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `imgctl load [OPTIONS]`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long, value_name = "string")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `imgctl image usage [OPTIONS] [IMAGE...]`.
#[derive(Debug, Clone, Args)]
pub struct UsageArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The images (default: every image a container uses)
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `imgctl image outdated [OPTIONS] [IMAGE...]`.
#[derive(Debug, Clone, Args)]
pub struct OutdatedArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string", conflicts_with_all = ["json", "quiet"])]
    pub format: Option<String>,
    /// Print one JSON array of {image, status, local_digest, registry_digest, reason}
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show the tags that have an update available
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The images (default: every tagged image pulled from a registry)
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `imgctl image layers [OPTIONS] IMAGE`.
#[derive(Debug, Clone, Args)]
pub struct LayersArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show layer diff IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `imgctl search [OPTIONS] TERM`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filters: Vec<String>,
    /// Max number of search results
    #[arg(long, value_name = "int")]
    pub limit: Option<u32>,
    /// Pretty-print search using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// The search term
    #[arg(value_name = "TERM")]
    pub term: String,
}

/// `imgctl system df [OPTIONS]`.
#[derive(Debug, Clone, Args)]
pub struct DfArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `imgctl completion SHELL`.
#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
