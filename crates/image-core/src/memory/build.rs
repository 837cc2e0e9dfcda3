//! Builds in the in-memory engine, following docker's classic builder
//! (`DOCKER_BUILDKIT=0 docker build`, moby's `daemon/builder/dockerfile`)
//! as far as that makes sense without running processes: the stream prints
//! `Step N/M : ...`, ` ---> <id>`, `Successfully built` and `Successfully
//! tagged` lines, every instruction commits a new image whose parent is the
//! previous step's image (so `list` with `all` shows the intermediate chain),
//! the history reads `/bin/sh -c #(nop)  ENV A=b` and `/bin/sh -c #(nop) COPY
//! file:<sha256> in /dest `, and a base image that is not local is pulled
//! from the built-in registry (its progress is part of the build stream).
//! Supported: `FROM [--platform] base [AS name]` (local images, stages,
//! `scratch`, global `ARG`s), `ARG` with `--build-arg` overrides and docker's
//! unused build-arg warning, `ENV`, `LABEL`, `CMD`, `ENTRYPOINT`, `WORKDIR`
//! (which, like docker, commits a layer holding the directory when it is
//! missing), `USER`, `EXPOSE`, `VOLUME`, `STOPSIGNAL`, `MAINTAINER`,
//! `HEALTHCHECK`, `SHELL`, `ONBUILD` (triggers of a base image run when it is
//! used), and `COPY`/`ADD` of local files, directories and globs with
//! `--from=<stage|index|image>` and `--chown` (numeric or looked up in the
//! image's `/etc/passwd` and `/etc/group`); multi-stage builds stop at the
//! target stage, and `--label`s become extra `LABEL` steps as moby appends
//! them. Not supported: `RUN` (no container runtime: [`ImageError::NotSupported`]
//! before anything is pulled or stored), `ADD` of a URL or of a local archive
//! (docker would download or extract it; also `NotSupported`), and
//! `--chmod` (the classic builder refuses it too). The memory engine has no
//! build cache, so `no_cache` changes nothing and no step prints `Using
//! cache`; no containers run, so there are no ` ---> Running in` lines.
//! Everything is computed when the build is planned and committed when the
//! stream reaches the store step: dropping the stream before then stores no
//! image. Layers are deterministic tars: copied entries keep the context's
//! modes and modification times, owners are `0:0` unless `--chown` says
//! otherwise (or, for `--from`, the source's owners), and directories a step
//! creates get the build's time. Differences from docker kept on purpose:
//! `file:` hashes are the SHA-256 of the file's contents (docker hashes a tar
//! header too), and an `ARG` line naming several variables before the first
//! `FROM` counts as one step per variable.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::state::not_found;
use super::{MemoryImageService, Step};
use crate::archive::{
    ArchiveImage, ConfigSection, HistoryItem, ImageConfigFile, RootFsSection, sha256_digest,
};
use crate::build_context::{
    ContextEntryKind, ContextFiles, DEFAULT_DOCKERFILE, DOCKERIGNORE, IgnoreRules, clean_path,
    go_match,
};
use crate::dockerfile::{self, Dockerfile, Instruction, InstructionKind, Stage};
use crate::error::{ImageError, Result};
use crate::model::{
    BuildOptions, Completion, EmptyObject, Platform, ProgressEvent, PullOptions, short_id,
};
use crate::reference::Reference;

/// The base name that means "no base image".
const SCRATCH: &str = "scratch";
/// The `PATH` docker adds to a Linux stage that has none (moby's
/// `oci.DefaultPathEnv`).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Build args docker allows without an `ARG` and never warns about
/// (`builtinAllowedBuildArgs`).
const BUILTIN_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];
/// The classic builder's refusal of `--chmod` (moby `dispatchCopy`).
const CHMOD_NEEDS_BUILDKIT: &str = "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled";
/// How many symlinks one path lookup may follow.
const MAX_LINK_HOPS: usize = 255;
/// The keys of the runtime config that [`ConfigSection`] models; every other
/// key of a base image's config is carried along unchanged.
const TYPED_CONFIG_KEYS: [&str; 9] = [
    "User",
    "ExposedPorts",
    "Env",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "Labels",
    "StopSignal",
];
/// The signal names moby accepts, without `SIG` (`signal.SignalMap` on Linux).
const SIGNALS: [&str; 65] = [
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMIN+1",
    "RTMIN+2", "RTMIN+3", "RTMIN+4", "RTMIN+5", "RTMIN+6", "RTMIN+7", "RTMIN+8", "RTMIN+9",
    "RTMIN+10", "RTMIN+11", "RTMIN+12", "RTMIN+13", "RTMIN+14", "RTMIN+15", "RTMAX-14", "RTMAX-13",
    "RTMAX-12", "RTMAX-11", "RTMAX-10", "RTMAX-9", "RTMAX-8", "RTMAX-7", "RTMAX-6", "RTMAX-5",
    "RTMAX-4", "RTMAX-3", "RTMAX-2", "RTMAX-1", "RTMAX",
];

/// Plans a build: reads the context and Dockerfile, runs every step in
/// memory and returns the steps to stream (pull progress and commits of
/// missing base images, step output, one store step, the tag lines and the
/// completion). Nothing is stored before the stream reaches the store step.
pub(super) fn plan(
    service: &MemoryImageService,
    context_tar: &[u8],
    options: &BuildOptions,
) -> Result<VecDeque<Step>> {
    let tags = sanitize_tags(&options.tags)?;
    let context = ContextFiles::from_tar(context_tar)?;
    let requested = options
        .dockerfile
        .as_deref()
        .filter(|name| !name.is_empty())
        .unwrap_or(DEFAULT_DOCKERFILE);
    let text = context.read_dockerfile(requested)?;
    let dockerfile_name =
        if requested == DEFAULT_DOCKERFILE && context.get(DEFAULT_DOCKERFILE).is_none() {
            "dockerfile"
        } else {
            requested
        };
    let dockerfile = Dockerfile::parse(&text)?;

    let mut stages: Vec<&Stage> = dockerfile.stages.iter().collect();
    if let Some(target) = options.target.as_deref().filter(|t| !t.is_empty()) {
        let index = stages
            .iter()
            .position(|stage| {
                stage
                    .name
                    .as_deref()
                    .is_some_and(|name| name.eq_ignore_ascii_case(target))
            })
            .ok_or_else(|| {
                ImageError::invalid_argument(format!(
                    "target stage {} could not be found",
                    go_quote(target)
                ))
            })?;
        stages.truncate(index + 1);
    }
    let has_run = stages.iter().any(|stage| {
        stage
            .instructions
            .iter()
            .any(|i| matches!(i.kind, InstructionKind::Run(_)))
    });
    if has_run {
        return Err(run_not_supported());
    }

    let mut tree = Tree::from_context(&context);
    remove_build_files(&mut tree, &context, dockerfile_name)?;

    let mut planner = Planner {
        service,
        options,
        context: tree,
        escape: dockerfile.escape,
        now: service.now(),
        steps: VecDeque::new(),
        images: Vec::new(),
        sources: HashMap::new(),
        stages: Vec::new(),
        counter: 0,
        total: 0,
        args: BuildArgs::new(&options.build_args),
    };
    let last = planner.run(&dockerfile, &stages)?;
    planner.finish(last, tags)
}

/// The error for `RUN`, which needs a container runtime.
fn run_not_supported() -> ImageError {
    ImageError::not_supported("RUN instructions", "memory")
}

/// An invalid-argument error.
fn invalid(message: impl Into<String>) -> ImageError {
    ImageError::invalid_argument(message)
}

/// The text of an error, without the `invalid argument: ` prefix.
fn message(error: &ImageError) -> String {
    match error {
        ImageError::InvalidArgument { message } => message.clone(),
        other => other.to_string(),
    }
}

/// The build's tags as moby's `sanitizeRepoAndTags` makes them: empty names
/// skipped, `latest` added, duplicates dropped, digests refused.
fn sanitize_tags(names: &[String]) -> Result<Vec<Reference>> {
    let mut tags: Vec<Reference> = Vec::new();
    for name in names.iter().filter(|name| !name.is_empty()) {
        let parsed = Reference::parse_normalized(name)
            .map_err(|e| ImageError::invalid_reference(name.as_str(), e))?;
        if parsed.digest().is_some() {
            return Err(invalid("build tag cannot contain a digest"));
        }
        let tagged = parsed.tag_name_only();
        if !tags.iter().any(|t| t.to_string() == tagged.to_string()) {
            tags.push(tagged);
        }
    }
    Ok(tags)
}

/// What moby's `removeDockerfile` does to a context: `.dockerignore` and the
/// Dockerfile are removed when the context's `.dockerignore` excludes them.
/// Other excluded files stay: the client leaves them out when it packs a
/// directory, the daemon does not filter a tar it is sent.
fn remove_build_files(tree: &mut Tree, context: &ContextFiles, dockerfile: &str) -> Result<()> {
    let Some(bytes) = context.get(DOCKERIGNORE).and_then(|e| e.contents()) else {
        return Ok(());
    };
    let rules = IgnoreRules::parse(&String::from_utf8_lossy(bytes))
        .map_err(|e| invalid(format!("error reading .dockerignore: {}", message(&e))))?;
    for name in [DOCKERIGNORE, dockerfile] {
        if rules.is_excluded(name) {
            tree.remove(&clean_relative(name));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Build args (moby builder/dockerfile/buildargs.go)
// ---------------------------------------------------------------------------

/// docker's `BuildArgs`: the `--build-arg` values, the `ARG`s a stage
/// declared, the `ARG`s before the first `FROM`, and which names the
/// Dockerfile declared at all.
#[derive(Debug, Clone)]
struct BuildArgs<'a> {
    /// `--build-arg` values.
    from_options: &'a BTreeMap<String, String>,
    /// The `ARG`s declared so far in the current stage, with defaults.
    allowed: BTreeMap<String, Option<String>>,
    /// The `ARG`s before the first `FROM`, with defaults.
    meta: BTreeMap<String, Option<String>>,
    /// Every name an `ARG` declared.
    referenced: BTreeSet<String>,
}

impl<'a> BuildArgs<'a> {
    /// Build args with only the `--build-arg` values.
    fn new(from_options: &'a BTreeMap<String, String>) -> Self {
        BuildArgs {
            from_options,
            allowed: BTreeMap::new(),
            meta: BTreeMap::new(),
            referenced: BTreeSet::new(),
        }
    }

    /// A copy for a new stage, with no `ARG`s declared yet (`ResetAllowed`).
    fn for_stage(&self) -> Self {
        let mut args = self.clone();
        args.allowed.clear();
        args
    }

    /// Declares an `ARG` (`AddArg`).
    fn add_arg(&mut self, key: &str, value: Option<String>) {
        self.allowed.insert(key.to_string(), value);
        self.referenced.insert(key.to_string());
    }

    /// Declares an `ARG` before the first `FROM` (`AddMetaArg`).
    fn add_meta(&mut self, key: &str, value: Option<String>) {
        self.meta.insert(key.to_string(), value);
    }

    /// `getBuildArg`: the `--build-arg` value, else the declared default,
    /// else the global `ARG`'s default.
    fn value(&self, key: &str, mapping: &BTreeMap<String, Option<String>>) -> Option<String> {
        if let Some(value) = self.from_options.get(key) {
            return Some(value.clone());
        }
        match mapping.get(key) {
            Some(Some(value)) => Some(value.clone()),
            _ => self.meta.get(key).cloned().flatten(),
        }
    }

    /// `GetAllAllowed` (`meta == false`) or `GetAllMeta` (`meta == true`).
    fn all(&self, meta: bool) -> BTreeMap<String, String> {
        let mapping = if meta { &self.meta } else { &self.allowed };
        let mut out = BTreeMap::new();
        for key in mapping.keys().map(String::as_str).chain(BUILTIN_ARGS) {
            if let Some(value) = self.value(key, mapping) {
                out.insert(key.to_string(), value);
            }
        }
        out
    }
}

/// Expands one word with `vars` (first match wins) and the Dockerfile's
/// escape character, as docker's `ProcessWord` does.
fn expand_word(word: &str, escape: char, vars: &[(String, String)]) -> Result<String> {
    dockerfile::expand_with_escape(word, escape, &|name| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })
}

// ---------------------------------------------------------------------------
// Images and stages
// ---------------------------------------------------------------------------

/// An image a build uses or made: its ID, config bytes and layers.
#[derive(Debug)]
struct ImageData {
    id: String,
    config: Vec<u8>,
    layers: Vec<Arc<Vec<u8>>>,
}

impl ImageData {
    /// The data of an archive image.
    fn from_archive(image: ArchiveImage) -> ImageData {
        ImageData {
            id: image.id(),
            config: image.config,
            layers: image.layers.into_iter().map(Arc::new).collect(),
        }
    }

    /// The archive form, for the store step.
    fn to_archive(&self) -> ArchiveImage {
        ArchiveImage {
            config: self.config.clone(),
            repo_tags: Vec::new(),
            layers: self.layers.iter().map(|l| l.as_ref().clone()).collect(),
        }
    }

    /// The image's platform.
    fn platform(&self) -> Result<Platform> {
        Ok(ImageConfigFile::from_json(&self.config)?.platform())
    }
}

/// A finished stage: its name and final image (`None` for a `scratch` stage
/// without instructions).
#[derive(Debug)]
struct StageResult {
    name: Option<String>,
    image: Option<Arc<ImageData>>,
}

/// One step of a stage: the text `Step N/M` shows and what it does.
struct Cmd<'d> {
    text: String,
    kind: CmdKind<'d>,
}

/// What a step does.
enum CmdKind<'d> {
    /// A Dockerfile instruction (other than `ARG`).
    Instruction(&'d InstructionKind),
    /// One `ARG` line, which may declare several names.
    Args(Vec<(&'d str, Option<&'d str>)>),
    /// A `--label` option, appended as a `LABEL` that is not expanded.
    Label(&'d str, &'d str),
}

/// The steps of a list of instructions: consecutive `ARG`s from one line
/// become one step, as in docker.
fn group(instructions: &[Instruction]) -> Vec<Cmd<'_>> {
    let mut out: Vec<Cmd<'_>> = Vec::new();
    let mut previous: Option<&Instruction> = None;
    for instruction in instructions {
        if let InstructionKind::Arg(name, value) = &instruction.kind {
            let same_line = previous.is_some_and(|p| {
                matches!(p.kind, InstructionKind::Arg(..))
                    && p.line == instruction.line
                    && p.original == instruction.original
            });
            previous = Some(instruction);
            if same_line {
                if let Some(Cmd {
                    kind: CmdKind::Args(list),
                    ..
                }) = out.last_mut()
                {
                    list.push((name, value.as_deref()));
                    continue;
                }
            }
            out.push(Cmd {
                text: instruction.original.clone(),
                kind: CmdKind::Args(vec![(name, value.as_deref())]),
            });
            continue;
        }
        previous = Some(instruction);
        out.push(Cmd {
            text: instruction.original.clone(),
            kind: CmdKind::Instruction(&instruction.kind),
        });
    }
    out
}

/// The state of the stage being built (moby's `dispatchState`).
struct StageState<'a> {
    /// The current image, `None` while a `scratch` stage has no commit.
    current: Option<Arc<ImageData>>,
    /// The current config: platform, history and rootfs of the current
    /// image, and the runtime config the next commit records.
    file: ImageConfigFile,
    /// Runtime config keys [`ConfigSection`] does not model (`Healthcheck`,
    /// `Shell`, `OnBuild`, `Image`, ...), carried from the base image.
    extra: Map<String, Value>,
    /// The current image's layers.
    layers: Vec<Arc<Vec<u8>>>,
    /// `MAINTAINER`, the author of the next commits.
    maintainer: String,
    /// Whether this stage set `CMD` (then `ENTRYPOINT` keeps it).
    cmd_set: bool,
    /// The stage's build args.
    args: BuildArgs<'a>,
    /// The current image's file system, computed when first needed.
    fs: Option<Tree>,
}

impl<'a> StageState<'a> {
    /// The state at the start of a stage (moby's `beginStage`).
    fn new(
        base: Option<Arc<ImageData>>,
        platform: Option<&Platform>,
        args: BuildArgs<'a>,
    ) -> Result<Self> {
        let (file, extra, layers) = match &base {
            Some(image) => (
                ImageConfigFile::from_json(&image.config)?,
                config_extras(&image.config),
                image.layers.clone(),
            ),
            None => (
                ImageConfigFile {
                    architecture: platform
                        .map_or_else(|| "amd64".to_string(), |p| p.architecture.clone()),
                    author: String::new(),
                    comment: String::new(),
                    config: ConfigSection::default(),
                    created: None,
                    docker_version: String::new(),
                    history: Vec::new(),
                    os: platform.map_or_else(|| "linux".to_string(), |p| p.os.clone()),
                    os_version: String::new(),
                    parent: String::new(),
                    rootfs: RootFsSection {
                        kind: "layers".to_string(),
                        diff_ids: Vec::new(),
                    },
                    variant: platform.and_then(|p| p.variant.clone()),
                },
                Map::new(),
                Vec::new(),
            ),
        };
        let mut state = StageState {
            current: base,
            file,
            extra,
            layers,
            maintainer: String::new(),
            cmd_set: false,
            args,
            fs: None,
        };
        if state.file.os != "windows"
            && !state
                .file
                .config
                .env
                .iter()
                .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == "PATH")
        {
            state.file.config.env.push(format!("PATH={DEFAULT_PATH}"));
        }
        for key in ["OpenStdin", "StdinOnce"] {
            if let Some(value) = state.extra.get_mut(key) {
                *value = Value::Bool(false);
            }
        }
        Ok(state)
    }

    /// The variables instructions expand with: the environment, then the
    /// declared build args the environment does not override.
    fn vars(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = self
            .file
            .config
            .env
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect();
        let allowed = self.args.all(false);
        for (key, value) in allowed {
            if !vars.iter().any(|(k, _)| *k == key) {
                vars.push((key, value));
            }
        }
        vars
    }

    /// The shell of shell-form commands and history entries.
    fn shell(&self) -> Vec<String> {
        if let Some(Value::Array(items)) = self.extra.get("Shell") {
            let shell: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if !shell.is_empty() {
                return shell;
            }
        }
        if self.file.os == "windows" {
            vec!["cmd".into(), "/S".into(), "/C".into()]
        } else {
            vec!["/bin/sh".into(), "-c".into()]
        }
    }

    /// The current image's file system.
    fn fs(&mut self) -> Result<&Tree> {
        if self.fs.is_none() {
            self.fs = Some(Tree::from_layers(&self.layers)?);
        }
        match &self.fs {
            Some(fs) => Ok(fs),
            None => Err(ImageError::backend(
                "reading the image's file system",
                "no file system",
            )),
        }
    }

    /// Takes the `OnBuild` triggers out of the runtime config.
    fn take_triggers(&mut self) -> Vec<String> {
        match self.extra.remove("OnBuild") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The runtime config keys of an image config that [`ConfigSection`] does
/// not model.
fn config_extras(config: &[u8]) -> Map<String, Value> {
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(config) else {
        return Map::new();
    };
    let Some(Value::Object(mut section)) = top.remove("config") else {
        return Map::new();
    };
    for key in TYPED_CONFIG_KEYS {
        section.remove(key);
    }
    section
}

/// The bytes of an image config: the typed config with `extra` merged into
/// its runtime config.
fn config_bytes(file: &ImageConfigFile, extra: &Map<String, Value>) -> Result<Vec<u8>> {
    let fail = |e: serde_json::Error| ImageError::backend("serializing an image config", e);
    let mut value = serde_json::to_value(file).map_err(fail)?;
    if let Some(Value::Object(section)) = value.get_mut("config") {
        for (key, item) in extra {
            section.entry(key.clone()).or_insert_with(|| item.clone());
        }
    }
    serde_json::to_vec(&value).map_err(fail)
}

/// A layer a step adds: its tar and its entries.
struct LayerChange {
    tar: Vec<u8>,
    nodes: BTreeMap<String, Node>,
}

impl LayerChange {
    /// The layer holding `nodes`.
    fn new(nodes: BTreeMap<String, Node>) -> Result<LayerChange> {
        let tar =
            write_layer(&nodes).map_err(|e| ImageError::backend("writing a build layer", e))?;
        Ok(LayerChange { tar, nodes })
    }
}

/// Plans one build.
struct Planner<'a> {
    service: &'a MemoryImageService,
    options: &'a BuildOptions,
    /// The build context, as the daemon sees it.
    context: Tree,
    /// The Dockerfile's escape character.
    escape: char,
    /// The time of every commit.
    now: DateTime<Utc>,
    /// The stream so far.
    steps: VecDeque<Step>,
    /// The images made, parents first, with their parents' IDs.
    images: Vec<(ArchiveImage, Option<String>)>,
    /// Images already looked up or pulled, by the name used.
    sources: HashMap<String, Arc<ImageData>>,
    /// The finished stages.
    stages: Vec<StageResult>,
    /// The number of the last `Step` printed.
    counter: usize,
    /// How many steps there are.
    total: usize,
    /// The build args of the whole build.
    args: BuildArgs<'a>,
}

impl<'a> Planner<'a> {
    /// Adds a line of output.
    fn emit(&mut self, text: impl Into<String>) {
        self.steps
            .push_back(Step::Emit(ProgressEvent::Message { text: text.into() }));
    }

    /// Prints `Step N/M : text`.
    fn print_step(&mut self, text: &str) {
        self.counter += 1;
        let line = format!("Step {}/{} : {text}", self.counter, self.total);
        self.emit(line);
    }

    /// Prints ` ---> <short id>` of the stage's current image.
    fn print_id(&mut self, state: &StageState<'_>) {
        let id = state
            .current
            .as_ref()
            .map_or(String::new(), |image| short_id(&image.id).to_string());
        self.emit(format!(" ---> {id}"));
    }

    /// Runs the global `ARG`s and every stage; returns the last stage's image.
    fn run(
        &mut self,
        dockerfile: &Dockerfile,
        stages: &[&Stage],
    ) -> Result<Option<Arc<ImageData>>> {
        let mut commands: Vec<Vec<Cmd<'_>>> =
            stages.iter().map(|s| group(&s.instructions)).collect();
        if let Some(last) = commands.last_mut() {
            for (key, value) in &self.options.labels {
                last.push(Cmd {
                    text: format!("LABEL {key}={value}"),
                    kind: CmdKind::Label(key, value),
                });
            }
        }
        self.total = dockerfile.global_args.len()
            + stages.len()
            + commands.iter().map(Vec::len).sum::<usize>();

        for (name, value) in &dockerfile.global_args {
            let text = match value {
                Some(value) => format!("ARG {name}={value}"),
                None => format!("ARG {name}"),
            };
            self.print_step(&text);
            let vars: Vec<(String, String)> = self.args.all(false).into_iter().collect();
            let key = expand_word(name, self.escape, &vars)?;
            let value = match value {
                Some(v) => Some(expand_word(v, self.escape, &vars)?),
                None => None,
            };
            self.args.add_arg(&key, value.clone());
            self.args.add_meta(&key, value);
        }

        let mut last = None;
        for (stage, commands) in stages.iter().zip(&commands) {
            if let Some(name) = &stage.name {
                if self.stage_by_name(name).is_some() {
                    return Err(invalid(format!("{name} stage name already used")));
                }
            }
            self.print_step(&stage.original);
            let mut state = self.begin_stage(stage)?;
            self.print_id(&state);
            for command in commands {
                self.print_step(&command.text);
                self.dispatch(&mut state, &command.kind)?;
                self.print_id(&state);
            }
            self.args
                .referenced
                .extend(state.args.referenced.iter().cloned());
            last = state.current.clone();
            self.stages.push(StageResult {
                name: stage.name.clone(),
                image: state.current,
            });
        }
        Ok(last)
    }

    /// The steps after the last instruction: the warning about unused
    /// build args, the store step, the `Successfully` lines and the end.
    fn finish(
        mut self,
        last: Option<Arc<ImageData>>,
        tags: Vec<Reference>,
    ) -> Result<VecDeque<Step>> {
        let Some(result) = last else {
            return Err(invalid("No image was generated. Is your Dockerfile empty?"));
        };
        let last_made = self.images.last().map(|(image, _)| image.id());
        if last_made.as_deref() != Some(result.id.as_str()) {
            // The final stage committed nothing: the result is its base,
            // which the store step must end on so the tags point at it.
            self.images.push((result.to_archive(), None));
        }
        let unused: Vec<&str> = self
            .options
            .build_args
            .keys()
            .map(String::as_str)
            .filter(|key| !self.args.referenced.contains(*key) && !BUILTIN_ARGS.contains(key))
            .collect();
        if !unused.is_empty() {
            self.emit(format!(
                "[Warning] One or more build-args [{}] were not consumed",
                unused.join(" ")
            ));
        }
        let images = std::mem::take(&mut self.images);
        self.steps.push_back(Step::Store {
            images,
            tags: tags.clone(),
        });
        self.emit(format!("Successfully built {}", short_id(&result.id)));
        for tag in &tags {
            self.emit(format!("Successfully tagged {}", tag.familiar()));
        }
        self.steps.push_back(Step::Finish(Completion {
            reference: tags.first().map(Reference::to_string),
            digest: None,
            image_id: Some(result.id.clone()),
        }));
        Ok(self.steps)
    }

    /// A finished stage by name (case-insensitive).
    fn stage_by_name(&self, name: &str) -> Option<&StageResult> {
        self.stages.iter().find(|stage| {
            stage
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// `FROM`: finds the base (a stage, `scratch`, a local image or one
    /// pulled from the registry) and runs its `ONBUILD` triggers.
    fn begin_stage(&mut self, stage: &Stage) -> Result<StageState<'a>> {
        let meta: Vec<(String, String)> = self.args.all(true).into_iter().collect();
        let platform = match &stage.platform {
            Some(raw) => {
                let value = expand_word(raw, self.escape, &meta).map_err(|e| {
                    invalid(format!(
                        "failed to process arguments for platform {raw}: {}",
                        message(&e)
                    ))
                })?;
                let parsed = Platform::parse(&value).map_err(|e| {
                    invalid(format!("failed to parse platform {value}: {}", message(&e)))
                })?;
                Some(parsed)
            }
            None => None,
        };
        let name = expand_word(&stage.base, self.escape, &meta)?;
        if name.is_empty() {
            return Err(invalid(format!(
                "base name ({}) should not be blank",
                stage.base
            )));
        }
        let platform = platform.or_else(|| self.options.platform.clone());
        let base = if let Some(result) = self.stage_by_name(&name) {
            result.image.clone()
        } else if name == SCRATCH {
            None
        } else {
            Some(self.image(&name, platform.as_ref())?)
        };
        let mut state = StageState::new(base, platform.as_ref(), self.args.for_stage())?;
        let triggers = state.take_triggers();
        if !triggers.is_empty() {
            self.run_triggers(&mut state, &triggers)?;
        }
        Ok(state)
    }

    /// Runs a base image's `ONBUILD` triggers (moby's
    /// `dispatchTriggeredOnBuild`).
    fn run_triggers(&mut self, state: &mut StageState<'a>, triggers: &[String]) -> Result<()> {
        let plural = if triggers.len() > 1 { "s" } else { "" };
        self.emit(format!(
            "# Executing {} build trigger{plural}",
            triggers.len()
        ));
        for trigger in triggers {
            let parsed = Dockerfile::parse(&format!("FROM {SCRATCH}\n{trigger}"))?;
            let instructions = match parsed.stages.as_slice() {
                [only] if !only.instructions.is_empty() => &only.instructions,
                _ => return Err(invalid("onbuild trigger should be a single expression")),
            };
            for command in group(instructions) {
                if matches!(command.kind, CmdKind::Instruction(InstructionKind::Run(_))) {
                    return Err(run_not_supported());
                }
                self.dispatch(state, &command.kind)?;
            }
        }
        Ok(())
    }

    /// A base or `--from` image by name: already used in this build, local,
    /// or pulled from the registry (always pulled with `pull`).
    fn image(&mut self, name: &str, platform: Option<&Platform>) -> Result<Arc<ImageData>> {
        if let Some(found) = self.sources.get(name) {
            return Ok(found.clone());
        }
        let local = if self.options.pull {
            None
        } else {
            self.local_image(name)?
        };
        let image = match local {
            Some(image) => match platform {
                Some(wanted) => {
                    let actual = image.platform()?;
                    let matches = actual.os == wanted.os
                        && actual.architecture == wanted.architecture
                        && (wanted.variant.is_none() || wanted.variant == actual.variant);
                    if matches {
                        image
                    } else {
                        match self.pull(name, Some(wanted)) {
                            Ok(pulled) => pulled,
                            Err(
                                ImageError::NotFound { .. } | ImageError::InvalidReference { .. },
                            ) => {
                                return Err(ImageError::NotFound {
                                    reference: format!(
                                        "{name}: the image was found but does not match the specified platform: wanted {wanted}, actual: {actual}"
                                    ),
                                });
                            }
                            Err(other) => return Err(other),
                        }
                    }
                }
                None => image,
            },
            None => match self.pull(name, platform) {
                Ok(pulled) => pulled,
                Err(ImageError::InvalidReference { .. }) if !self.options.pull => {
                    return Err(not_found(name));
                }
                Err(other) => return Err(other),
            },
        };
        self.sources.insert(name.to_string(), image.clone());
        Ok(image)
    }

    /// A local image, if `name` names one.
    fn local_image(&self, name: &str) -> Result<Option<Arc<ImageData>>> {
        let state = self.service.read();
        match state.resolve(name) {
            Ok(resolved) => {
                let archive = state.archive_image(&resolved.id, Vec::new())?;
                Ok(Some(Arc::new(ImageData::from_archive(archive))))
            }
            Err(ImageError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Plans a pull of `name` into the build's stream (its progress, then
    /// its commit); returns the image it brings.
    fn pull(&mut self, name: &str, platform: Option<&Platform>) -> Result<Arc<ImageData>> {
        let steps = self.service.plan_pull(&PullOptions {
            reference: name.to_string(),
            platform: platform.cloned(),
            ..PullOptions::default()
        })?;
        let mut pulled = None;
        for step in steps {
            match step {
                Step::Finish(_) => {}
                Step::Pull { image, references } => {
                    pulled = Some(image.as_ref().clone());
                    self.steps.push_back(Step::Pull { image, references });
                }
                other => self.steps.push_back(other),
            }
        }
        let image = pulled.ok_or_else(|| {
            ImageError::backend(format!("pulling {name}"), "the pull brought no image")
        })?;
        Ok(Arc::new(ImageData::from_archive(image)))
    }

    /// Commits the stage's state as a new image whose parent is the current
    /// one (moby's `commit`/`exportImage`).
    fn commit(
        &mut self,
        state: &mut StageState<'a>,
        created_by: String,
        layer: Option<LayerChange>,
    ) -> Result<()> {
        let parent = state.current.as_ref().map(|image| image.id.clone());
        let mut file = state.file.clone();
        file.author = state.maintainer.clone();
        file.comment = String::new();
        file.created = Some(self.now);
        file.docker_version = String::new();
        file.parent = String::new();
        file.history.push(HistoryItem {
            created: Some(self.now),
            created_by,
            author: state.maintainer.clone(),
            comment: String::new(),
            empty_layer: layer.is_none(),
        });
        let mut layers = state.layers.clone();
        let mut added = None;
        if let Some(change) = layer {
            file.rootfs.diff_ids.push(sha256_digest(&change.tar));
            layers.push(Arc::new(change.tar));
            added = Some(change.nodes);
        }
        state.extra.insert(
            "Image".to_string(),
            Value::String(parent.clone().unwrap_or_default()),
        );
        let config = config_bytes(&file, &state.extra)?;
        let archive = ArchiveImage {
            config: config.clone(),
            repo_tags: Vec::new(),
            layers: layers.iter().map(|l| l.as_ref().clone()).collect(),
        };
        let id = archive.id();
        self.images.push((archive, parent));
        state.current = Some(Arc::new(ImageData {
            id,
            config,
            layers: layers.clone(),
        }));
        state.file = file;
        state.layers = layers;
        if let (Some(nodes), Some(fs)) = (added, state.fs.as_mut()) {
            fs.merge(nodes);
        }
        Ok(())
    }

    /// Commits a metadata step: `<shell> #(nop)  <comment>` (two spaces, as
    /// moby's `withCmdComment` joins two arguments).
    fn commit_meta(&mut self, state: &mut StageState<'a>, comment: &str) -> Result<()> {
        let created_by = format!("{} #(nop)  {comment}", state.shell().join(" "));
        self.commit(state, created_by, None)
    }

    /// Commits a `COPY`/`ADD`/`WORKDIR` step: `<shell> #(nop) <comment>`
    /// (moby's single-argument `withCmdCommentString`).
    fn commit_string(
        &mut self,
        state: &mut StageState<'a>,
        comment: &str,
        layer: Option<LayerChange>,
    ) -> Result<()> {
        let created_by = format!("{} #(nop) {comment}", state.shell().join(" "));
        self.commit(state, created_by, layer)
    }

    /// Runs one step.
    fn dispatch(&mut self, state: &mut StageState<'a>, command: &CmdKind<'_>) -> Result<()> {
        let vars = state.vars();
        let escape = self.escape;
        let ex = |word: &str| expand_word(word, escape, &vars);
        match command {
            CmdKind::Args(list) => self.dispatch_args(state, list, &ex),
            CmdKind::Label(key, value) => {
                state
                    .file
                    .config
                    .labels
                    .insert((*key).to_string(), (*value).to_string());
                self.commit_meta(state, &format!("LABEL {key}={value}"))
            }
            CmdKind::Instruction(kind) => match kind {
                InstructionKind::Arg(name, value) => {
                    self.dispatch_args(state, &[(name.as_str(), value.as_deref())], &ex)
                }
                InstructionKind::Env(pairs) => {
                    let mut expanded = Vec::with_capacity(pairs.len());
                    for (key, value) in pairs {
                        expanded.push((ex(key)?, ex(value)?));
                    }
                    let mut comment = String::from("ENV");
                    for (key, value) in expanded {
                        let entry = format!("{key}={value}");
                        comment.push(' ');
                        comment.push_str(&entry);
                        let env = &mut state.file.config.env;
                        match env
                            .iter_mut()
                            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
                        {
                            Some(existing) => *existing = entry,
                            None => env.push(entry),
                        }
                    }
                    self.commit_meta(state, &comment)
                }
                InstructionKind::Label(pairs) => {
                    let mut comment = String::from("LABEL");
                    for (key, value) in pairs {
                        let (key, value) = (ex(key)?, ex(value)?);
                        comment.push_str(&format!(" {key}={value}"));
                        state.file.config.labels.insert(key, value);
                    }
                    self.commit_meta(state, &comment)
                }
                InstructionKind::Maintainer(author) => {
                    state.maintainer = author.clone();
                    self.commit_meta(state, &format!("MAINTAINER {author}"))
                }
                InstructionKind::Cmd(command) => {
                    let (line, prepend) = command_line(command);
                    let cmd = if prepend {
                        [state.shell(), line.clone()].concat()
                    } else {
                        line.clone()
                    };
                    state.file.config.cmd = cmd.clone();
                    state.extra.remove("ArgsEscaped");
                    self.commit_meta(state, &format!("CMD {}", go_quote_list(&cmd)))?;
                    if !line.is_empty() {
                        state.cmd_set = true;
                    }
                    Ok(())
                }
                InstructionKind::Entrypoint(command) => {
                    let (line, prepend) = command_line(command);
                    let entrypoint = if prepend {
                        [state.shell(), line].concat()
                    } else {
                        line
                    };
                    state.file.config.entrypoint = entrypoint.clone();
                    state.extra.remove("ArgsEscaped");
                    if !state.cmd_set {
                        state.file.config.cmd.clear();
                    }
                    self.commit_meta(state, &format!("ENTRYPOINT {}", go_quote_list(&entrypoint)))
                }
                InstructionKind::Workdir(path) => {
                    let requested = ex(path)?;
                    self.dispatch_workdir(state, &requested)
                }
                InstructionKind::User(user) => {
                    let user = ex(user)?;
                    state.file.config.user = user.clone();
                    self.commit_meta(state, &format!("USER {user}"))
                }
                InstructionKind::Expose(ports) => {
                    let mut expanded = Vec::new();
                    for port in ports {
                        expanded.extend(ex(port)?.split_whitespace().map(str::to_string));
                    }
                    for port in &expanded {
                        for key in parse_port_spec(port).map_err(invalid)? {
                            state.file.config.exposed_ports.insert(key, EmptyObject {});
                        }
                    }
                    self.commit_meta(state, &format!("EXPOSE {}", expanded.join(" ")))
                }
                InstructionKind::Volume(volumes) => {
                    let mut expanded = Vec::with_capacity(volumes.len());
                    for volume in volumes {
                        let volume = ex(volume)?;
                        if volume.is_empty() {
                            return Err(invalid("VOLUME specified can not be an empty string"));
                        }
                        expanded.push(volume);
                    }
                    for volume in &expanded {
                        state
                            .file
                            .config
                            .volumes
                            .insert(volume.clone(), EmptyObject {});
                    }
                    self.commit_meta(state, &format!("VOLUME [{}]", expanded.join(" ")))
                }
                InstructionKind::StopSignal(signal) => {
                    let signal = ex(signal)?;
                    validate_signal(&signal)?;
                    state.file.config.stop_signal = signal.clone();
                    self.commit_meta(state, &format!("STOPSIGNAL {signal}"))
                }
                InstructionKind::Healthcheck(text) => {
                    let health = Health::parse(text)?;
                    if let Some(previous) = previous_healthcheck(&state.extra) {
                        self.emit(format!(
                            "Note: overriding previous HEALTHCHECK: [{}]",
                            previous.join(" ")
                        ));
                    }
                    state
                        .extra
                        .insert("Healthcheck".to_string(), health.to_json());
                    self.commit_meta(state, &format!("HEALTHCHECK {}", health.describe()))
                }
                InstructionKind::Shell(shell) => {
                    state.extra.insert(
                        "Shell".to_string(),
                        Value::Array(shell.iter().cloned().map(Value::String).collect()),
                    );
                    self.commit_meta(state, &format!("SHELL [{}]", shell.join(" ")))
                }
                InstructionKind::OnBuild(expression) => {
                    let mut triggers = match state.extra.remove("OnBuild") {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    };
                    triggers.push(Value::String(expression.clone()));
                    state
                        .extra
                        .insert("OnBuild".to_string(), Value::Array(triggers));
                    self.commit_meta(state, &format!("ONBUILD {expression}"))
                }
                InstructionKind::Run(_) => Err(run_not_supported()),
                InstructionKind::Copy {
                    sources,
                    dest,
                    from,
                    chown,
                    chmod,
                    is_add,
                } => self.dispatch_copy(
                    state,
                    &CopyRequest {
                        sources,
                        dest,
                        from: from.as_deref(),
                        chown: chown.as_deref(),
                        chmod: chmod.as_deref(),
                        is_add: *is_add,
                    },
                    &ex,
                ),
            },
        }
    }

    /// `ARG`: declares the names (values expanded before any is declared).
    fn dispatch_args(
        &mut self,
        state: &mut StageState<'a>,
        list: &[(&str, Option<&str>)],
        ex: &dyn Fn(&str) -> Result<String>,
    ) -> Result<()> {
        let mut expanded = Vec::with_capacity(list.len());
        for (key, value) in list {
            let value = match value {
                Some(v) => Some(ex(v)?),
                None => None,
            };
            expanded.push((ex(key)?, value));
        }
        let mut comment = String::from("ARG ");
        for (i, (key, value)) in expanded.iter().enumerate() {
            if i > 0 {
                comment.push(' ');
            }
            comment.push_str(key);
            if let Some(value) = value {
                comment.push('=');
                comment.push_str(value);
            }
        }
        for (key, value) in expanded {
            state.args.add_arg(&key, value);
        }
        self.commit_meta(state, &comment)
    }

    /// `WORKDIR`: sets the directory and, as moby's
    /// `ContainerCreateWorkdir` does, creates it in a new layer when the
    /// image does not have it.
    fn dispatch_workdir(&mut self, state: &mut StageState<'a>, requested: &str) -> Result<()> {
        if requested.is_empty() {
            return Err(invalid("cannot normalize nothing"));
        }
        let workdir = if requested.starts_with('/') {
            clean_path(requested)
        } else {
            clean_path(&format!("/{}/{requested}", state.file.config.working_dir))
        };
        state.file.config.working_dir = workdir.clone();
        let mtime = self.mtime();
        let fs = state.fs()?;
        let target = fs
            .resolve(&workdir)
            .map_err(|LinkLoop| invalid(format!("{workdir}: too many levels of symbolic links")))?;
        let mut nodes = BTreeMap::new();
        match fs.get(&target) {
            Some(node) if node.is_dir() => {}
            Some(_) => {
                return Err(invalid(format!(
                    "Cannot mkdir: {workdir} is not a directory"
                )));
            }
            None => {
                ensure_parents(fs, &mut nodes, &target, (0, 0), mtime).map_err(invalid)?;
                nodes.insert(target, Node::dir(0o755, (0, 0), mtime));
            }
        }
        let change = if nodes.is_empty() {
            None
        } else {
            Some(LayerChange::new(nodes)?)
        };
        self.commit_string(state, &format!("WORKDIR {workdir}"), change)
    }

    /// The modification time of directories a step creates.
    fn mtime(&self) -> u64 {
        u64::try_from(self.now.timestamp()).unwrap_or(0)
    }

    /// `COPY`/`ADD` (moby's `dispatchCopy`, `dispatchAdd`, `performCopy`).
    fn dispatch_copy(
        &mut self,
        state: &mut StageState<'a>,
        request: &CopyRequest<'_>,
        ex: &dyn Fn(&str) -> Result<String>,
    ) -> Result<()> {
        let name = if request.is_add { "ADD" } else { "COPY" };
        let chown = match request.chown {
            Some(chown) => Some(ex(chown)?).filter(|c| !c.is_empty()),
            None => None,
        };
        if let Some(chmod) = request.chmod {
            if !ex(chmod)?.is_empty() {
                return Err(invalid(CHMOD_NEEDS_BUILDKIT));
            }
        }
        let mut sources = Vec::with_capacity(request.sources.len());
        for source in request.sources {
            sources.push(ex(source)?);
        }
        let dest = ex(request.dest)?;

        let from_image = match request.from {
            Some(from) => Some(self.copy_source(from)?),
            None => None,
        };
        let owned;
        let tree = match &from_image {
            Some(Some(image)) => {
                owned = Tree::from_layers(&image.layers)?;
                &owned
            }
            Some(None) => {
                owned = Tree::default();
                &owned
            }
            None => &self.context,
        };

        let mut infos = Vec::new();
        for source in &sources {
            if is_url(source) {
                if request.is_add {
                    return Err(ImageError::not_supported("ADD from a URL", "memory"));
                }
                return Err(invalid(format!(
                    "{name} failed: source can't be a URL for COPY"
                )));
            }
            let found = copy_infos(tree, source, from_image.is_some())
                .map_err(|m| invalid(format!("{name} failed: {m}")))?;
            infos.extend(found);
        }
        let hash = match infos.as_slice() {
            [] => {
                return Err(invalid(format!(
                    "{name} failed: no source files were specified"
                )));
            }
            [one] => one.hash.clone(),
            many => {
                if !dest.ends_with('/') {
                    return Err(invalid(format!(
                        "When using {name} with more than one source file, the destination must be a directory and end with a /"
                    )));
                }
                let hashes: Vec<&str> = many.iter().map(|i| i.hash.as_str()).collect();
                hash_strings("multi", &hashes)
            }
        };
        let chown_comment = chown
            .as_ref()
            .map_or(String::new(), |c| format!("--chown={c} "));
        let comment = format!("{name} {chown_comment}{hash} in {dest} ");

        let dest_path = normalize_dest(&state.file.config.working_dir, &dest);
        let mtime = self.mtime();
        let fs = state.fs()?;
        let identity = match &chown {
            Some(chown) => Some(parse_chown(chown, fs)?),
            None if request.from.is_some() => None,
            None => Some((0, 0)),
        };
        let mut nodes = BTreeMap::new();
        let target = CopyTarget {
            fs,
            dest: &dest_path,
            identity,
            is_add: request.is_add,
            mtime,
        };
        for info in &infos {
            target.copy(tree, info, &mut nodes)?;
        }
        let change = LayerChange::new(nodes)?;
        self.commit_string(state, &comment, Some(change))
    }

    /// The image `COPY --from` reads: a finished stage by name or index, or
    /// an image (moby's `getImageMount`); `None` for an empty stage.
    fn copy_source(&mut self, from: &str) -> Result<Option<Arc<ImageData>>> {
        let wrap = |m: &str| invalid(format!("invalid from flag value {from}: {m}"));
        if let Some(stage) = self.stage_by_name(from) {
            return Ok(stage.image.clone());
        }
        if let Ok(index) = from.parse::<i64>() {
            let count = self.stages.len();
            if usize::try_from(index).is_ok_and(|i| i == count) {
                return Err(wrap("refers to current build stage"));
            }
            return match usize::try_from(index).ok().and_then(|i| self.stages.get(i)) {
                Some(stage) => Ok(stage.image.clone()),
                None => Err(wrap("index out of bounds")),
            };
        }
        let platform = self.options.platform.clone();
        match self.image(from, platform.as_ref()) {
            Ok(image) => Ok(Some(image)),
            Err(error @ ImageError::NotFound { .. }) => Err(error),
            Err(other) => Err(wrap(&message(&other))),
        }
    }
}

/// A command's argument list and whether the shell goes in front.
fn command_line(command: &dockerfile::Command) -> (Vec<String>, bool) {
    match command {
        dockerfile::Command::Exec(args) => (args.clone(), false),
        dockerfile::Command::Shell(text) => (vec![text.clone()], true),
    }
}

/// The test of an earlier `HEALTHCHECK` that is being replaced, unless it
/// was `NONE`.
fn previous_healthcheck(extra: &Map<String, Value>) -> Option<Vec<String>> {
    let test: Vec<String> = extra
        .get("Healthcheck")?
        .get("Test")?
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    match test.first() {
        Some(first) if first != "NONE" => Some(test),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// COPY and ADD
// ---------------------------------------------------------------------------

/// A `COPY`/`ADD` instruction's raw fields.
struct CopyRequest<'i> {
    sources: &'i [String],
    dest: &'i str,
    from: Option<&'i str>,
    chown: Option<&'i str>,
    chmod: Option<&'i str>,
    is_add: bool,
}

/// One source of a copy (moby's `copyInfo`).
#[derive(Debug)]
struct CopyInfo {
    /// The source path as named (leading `/` and `./` trimmed).
    path: String,
    /// The path with symlinks followed inside the source.
    resolved: String,
    /// `file:<hex>` or `dir:<hex>`.
    hash: String,
}

/// Whether a source names a URL (moby's `urlutil.IsURL`).
fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Whether a path has glob characters (moby's `containsWildcards`).
fn contains_wildcards(name: &str) -> bool {
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// The sources one `COPY` argument names (moby's `calcCopyInfo`); errors
/// are the text after `COPY failed: `.
fn copy_infos(
    tree: &Tree,
    source: &str,
    from_image: bool,
) -> std::result::Result<Vec<CopyInfo>, String> {
    let path = source.strip_prefix('/').unwrap_or(source);
    let path = path.strip_prefix("./").unwrap_or(path);
    if contains_wildcards(path) {
        let mut matches: Vec<&str> = tree
            .nodes
            .keys()
            .map(String::as_str)
            .filter(|candidate| go_match(path, candidate) == Ok(true))
            .collect();
        matches.sort_by(|a, b| component_cmp(a, b));
        return matches
            .into_iter()
            .map(|m| copy_info(tree, m, from_image))
            .collect();
    }
    Ok(vec![copy_info(tree, path, from_image)?])
}

/// One source path, followed through symlinks, with its hash.
fn copy_info(tree: &Tree, path: &str, from_image: bool) -> std::result::Result<CopyInfo, String> {
    let loop_error = || format!("{path}: too many levels of symbolic links");
    let resolved = tree.resolve(path).map_err(|LinkLoop| loop_error())?;
    let Some(node) = tree.get(&resolved) else {
        let stat = format!("stat {path}: file does not exist");
        return Err(if from_image {
            stat
        } else {
            format!("file not found in build context or excluded by .dockerignore: {stat}")
        });
    };
    let hash = match &node.kind {
        Kind::File(data) => format!("file:{}", sha_hex(data)),
        Kind::Dir => {
            let mut hashes: Vec<String> = Vec::new();
            if !resolved.is_empty() {
                hashes.push(entry_hash(&resolved, node));
            }
            for (sub, child) in tree.descendants(&resolved) {
                hashes.push(entry_hash(sub, child));
            }
            hashes.sort();
            let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
            hash_strings("dir", &refs)
        }
        Kind::Symlink(_) => return Err(loop_error()),
    };
    Ok(CopyInfo {
        path: path.to_string(),
        resolved,
        hash,
    })
}

/// The hash of one entry below a copied directory: its path and contents.
fn entry_hash(path: &str, node: &Node) -> String {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    match &node.kind {
        Kind::Dir => hasher.update(b"d"),
        Kind::File(data) => {
            hasher.update(b"f");
            hasher.update(data.as_slice());
        }
        Kind::Symlink(target) => {
            hasher.update(b"l");
            hasher.update(target.as_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

/// The hex SHA-256 of `bytes`.
fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// moby's `hashStringSlice`: `prefix:` and the SHA-256 of the items joined
/// with commas.
fn hash_strings(prefix: &str, items: &[&str]) -> String {
    format!("{prefix}:{}", sha_hex(items.join(",").as_bytes()))
}

/// moby's `normalizeDest`: a relative destination is joined to the working
/// directory; a trailing `/` is kept.
fn normalize_dest(workdir: &str, requested: &str) -> String {
    if requested.starts_with('/') {
        return requested.to_string();
    }
    let mut dest = clean_path(&format!("/{workdir}/{requested}"));
    if requested.ends_with('/') && !dest.ends_with('/') {
        dest.push('/');
    }
    dest
}

/// Go's `filepath.Base`.
fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Joins a directory (`""` is the root) and a relative path.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether a file would be extracted by `ADD`: compressed, or a tar.
fn looks_like_archive(data: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [
        &[0x1f, 0x8b],
        b"BZh",
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        &[0x28, 0xb5, 0x2f, 0xfd],
    ];
    MAGICS.iter().any(|magic| data.starts_with(magic))
        || data.get(257..262).is_some_and(|m| m == b"ustar")
}

/// The entry at `path` in a step's new layer, else in the image.
fn lookup<'t>(fs: &'t Tree, nodes: &'t BTreeMap<String, Node>, path: &str) -> Option<&'t Node> {
    if path.is_empty() {
        return Some(&fs.root);
    }
    nodes.get(path).or_else(|| fs.nodes.get(path))
}

/// Adds the parents of `path` to a new layer: existing directories as they
/// are (a layer holds the directories its changes are in), missing ones as
/// `0755` directories owned by `owner`. The error is the text of moby's
/// failing `mkdir`.
fn ensure_parents(
    fs: &Tree,
    nodes: &mut BTreeMap<String, Node>,
    path: &str,
    owner: (u64, u64),
    mtime: u64,
) -> std::result::Result<(), String> {
    let components: Vec<&str> = path.split('/').collect();
    for depth in 1..components.len() {
        let parent = components.get(..depth).unwrap_or_default().join("/");
        match lookup(fs, nodes, &parent) {
            Some(node) if node.is_dir() => {
                let node = node.clone();
                nodes.entry(parent).or_insert(node);
            }
            Some(_) => return Err(format!("mkdir /{parent}: not a directory")),
            None => {
                nodes.insert(parent, Node::dir(0o755, owner, mtime));
            }
        }
    }
    Ok(())
}

/// Where and how one `COPY`/`ADD` copies.
struct CopyTarget<'t> {
    /// The image being built on.
    fs: &'t Tree,
    /// The normalized destination (absolute, trailing `/` kept).
    dest: &'t str,
    /// The owner of copied files; `None` keeps the source's (`--from`).
    identity: Option<(u64, u64)>,
    /// Whether this is `ADD`.
    is_add: bool,
    /// The modification time of directories the copy creates.
    mtime: u64,
}

impl CopyTarget<'_> {
    /// Copies one source into `nodes` (moby's `performCopyForInfo`).
    fn copy(
        &self,
        source: &Tree,
        info: &CopyInfo,
        nodes: &mut BTreeMap<String, Node>,
    ) -> Result<()> {
        let fail = |m: String| invalid(format!("failed to copy files: {m}"));
        let Some(node) = source.get(&info.resolved) else {
            return Err(fail(format!("source path not found: {}", info.path)));
        };
        let dest = {
            let link_of = |p: &str| match lookup(self.fs, nodes, p) {
                Some(Node {
                    kind: Kind::Symlink(target),
                    ..
                }) => Some(target.clone()),
                _ => None,
            };
            resolve_path(self.dest, &link_of).map_err(|LinkLoop| {
                fail(format!("{}: too many levels of symbolic links", self.dest))
            })?
        };
        let existing = lookup(self.fs, nodes, &dest).cloned();
        let owner = self.identity.unwrap_or((0, 0));
        match &node.kind {
            Kind::Dir => {
                match existing {
                    Some(found) if !found.is_dir() => {
                        return Err(fail(format!("mkdir /{dest}: not a directory")));
                    }
                    Some(found) => {
                        if !dest.is_empty() && !nodes.contains_key(&dest) {
                            nodes.insert(dest.clone(), found);
                        }
                    }
                    None => {
                        ensure_parents(self.fs, nodes, &dest, (0, 0), self.mtime).map_err(fail)?;
                        nodes.insert(dest.clone(), Node::dir(0o755, owner, self.mtime));
                    }
                }
                let prefix_len = if info.resolved.is_empty() {
                    0
                } else {
                    info.resolved.len() + 1
                };
                for (path, child) in source.descendants(&info.resolved) {
                    let relative = path.get(prefix_len..).unwrap_or(path);
                    nodes.insert(join(&dest, relative), self.owned(child));
                }
            }
            Kind::File(data) => {
                let into_dir =
                    existing.as_ref().is_some_and(Node::is_dir) || self.dest.ends_with('/');
                let target = if into_dir || dest.is_empty() {
                    join(&dest, base_name(&info.path))
                } else {
                    dest.clone()
                };
                if self.is_add && looks_like_archive(data) {
                    return Err(ImageError::not_supported(
                        "ADD of a local archive (extraction)",
                        "memory",
                    ));
                }
                ensure_parents(self.fs, nodes, &target, owner, self.mtime).map_err(fail)?;
                nodes.insert(target, self.owned(node));
            }
            Kind::Symlink(_) => {
                return Err(fail(format!(
                    "{}: too many levels of symbolic links",
                    info.path
                )));
            }
        }
        Ok(())
    }

    /// A copied entry with the copy's owner.
    fn owned(&self, node: &Node) -> Node {
        let mut node = node.clone();
        if let Some((uid, gid)) = self.identity {
            node.uid = uid;
            node.gid = gid;
        }
        node
    }
}

/// `--chown`: `uid[:gid]` or names looked up in the image's `/etc/passwd`
/// and `/etc/group` (moby's `parseChownFlag`).
fn parse_chown(chown: &str, fs: &Tree) -> Result<(u64, u64)> {
    let wrap = |m: String| {
        invalid(format!(
            "unable to convert uid/gid chown string to host mapping: {m}"
        ))
    };
    let parts: Vec<&str> = chown.split(':').collect();
    let (user, group) = match parts.as_slice() {
        [user] => (*user, *user),
        [user, group] => (*user, *group),
        _ => return Err(wrap(format!("invalid chown string format: {chown}"))),
    };
    let uid = lookup_id(fs, user, "etc/passwd")
        .map_err(|m| wrap(format!("can't find uid for user {user}: {m}")))?
        .ok_or_else(|| {
            wrap(format!(
                "can't find uid for user {user}: no such user: {user}"
            ))
        })?;
    let gid = lookup_id(fs, group, "etc/group")
        .map_err(|m| wrap(format!("can't find gid for group {group}: {m}")))?
        .ok_or_else(|| {
            wrap(format!(
                "can't find gid for group {group}: no such group: {group}"
            ))
        })?;
    Ok((uid, gid))
}

/// A numeric ID, or the third field of the line for `name` in `file`.
fn lookup_id(fs: &Tree, name: &str, file: &str) -> std::result::Result<Option<u64>, String> {
    if let Ok(id) = name.parse::<u64>() {
        return Ok(Some(id));
    }
    let missing = || format!("open /{file}: no such file or directory");
    let resolved = fs.resolve(file).map_err(|LinkLoop| missing())?;
    let Some(Node {
        kind: Kind::File(data),
        ..
    }) = fs.get(&resolved)
    else {
        return Err(missing());
    };
    let text = String::from_utf8_lossy(data);
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| fields.get(2).and_then(|id| id.parse::<u64>().ok())))
}

// ---------------------------------------------------------------------------
// File systems: the context and images' layers
// ---------------------------------------------------------------------------

/// What a file-system entry is.
#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File(Arc<Vec<u8>>),
    Symlink(String),
}

/// A file-system entry with its tar metadata.
#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

impl Node {
    /// A directory.
    fn dir(mode: u32, (uid, gid): (u64, u64), mtime: u64) -> Node {
        Node {
            kind: Kind::Dir,
            mode,
            uid,
            gid,
            mtime,
        }
    }

    /// Whether this is a directory.
    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir)
    }
}

/// A path lookup that followed too many symlinks.
#[derive(Debug)]
struct LinkLoop;

/// A file system: entries by relative, cleaned path; the root is `""`.
#[derive(Debug, Clone)]
struct Tree {
    root: Node,
    nodes: BTreeMap<String, Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::dir(0o755, (0, 0), 0),
            nodes: BTreeMap::new(),
        }
    }
}

impl Tree {
    /// The build context's files, owned by `0:0` as the docker CLI sends them.
    fn from_context(context: &ContextFiles) -> Tree {
        let mut tree = Tree::default();
        for (path, entry) in context.iter() {
            let kind = match &entry.kind {
                ContextEntryKind::File(data) => Kind::File(Arc::new(data.clone())),
                ContextEntryKind::Directory => Kind::Dir,
                ContextEntryKind::Symlink(target) => Kind::Symlink(target.clone()),
            };
            tree.nodes.insert(
                path.to_string(),
                Node {
                    kind,
                    mode: entry.mode,
                    uid: 0,
                    gid: 0,
                    mtime: entry.mtime,
                },
            );
        }
        tree
    }

    /// The file system of a stack of layers, base first, with whiteouts
    /// applied.
    fn from_layers(layers: &[Arc<Vec<u8>>]) -> Result<Tree> {
        let mut tree = Tree::default();
        for layer in layers {
            tree.apply_layer(layer)
                .map_err(|e| ImageError::backend("reading an image layer", e))?;
        }
        Ok(tree)
    }

    /// Applies one layer tar.
    fn apply_layer(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Read as _;
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = clean_relative(&String::from_utf8_lossy(&entry.path_bytes()));
            if path.is_empty() {
                continue;
            }
            let (dir, base) = match path.rsplit_once('/') {
                Some((dir, base)) => (dir.to_string(), base.to_string()),
                None => (String::new(), path.clone()),
            };
            if base == ".wh..wh..opq" {
                let below: Vec<String> =
                    self.descendants(&dir).map(|(p, _)| p.to_string()).collect();
                for key in below {
                    self.nodes.remove(&key);
                }
                continue;
            }
            if let Some(name) = base.strip_prefix(".wh.") {
                self.remove(&join(&dir, name));
                continue;
            }
            let header = entry.header();
            let kind_of = header.entry_type();
            let mode = header.mode().unwrap_or(0o644) & 0o7777;
            let uid = header.uid().unwrap_or(0);
            let gid = header.gid().unwrap_or(0);
            let mtime = header.mtime().unwrap_or(0);
            let link = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned());
            let kind = if kind_of.is_dir() {
                Kind::Dir
            } else if kind_of.is_symlink() {
                Kind::Symlink(link.unwrap_or_default())
            } else if kind_of.is_hard_link() {
                let target = clean_relative(&link.unwrap_or_default());
                match self.nodes.get(&target) {
                    Some(Node {
                        kind: Kind::File(data),
                        ..
                    }) => Kind::File(data.clone()),
                    _ => continue,
                }
            } else if kind_of.is_file() || kind_of.is_contiguous() {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                Kind::File(Arc::new(data))
            } else {
                continue;
            };
            self.insert(
                path,
                Node {
                    kind,
                    mode,
                    uid,
                    gid,
                    mtime,
                },
            );
        }
        Ok(())
    }

    /// The entry at `path` (not following symlinks); `""` is the root.
    fn get(&self, path: &str) -> Option<&Node> {
        if path.is_empty() {
            Some(&self.root)
        } else {
            self.nodes.get(path)
        }
    }

    /// Adds an entry as extracting it would: missing parents become
    /// directories, and a non-directory replaces a directory's whole tree.
    fn insert(&mut self, path: String, node: Node) {
        let mut end = 0;
        while let Some(offset) = path.get(end..).and_then(|rest| rest.find('/')) {
            let parent = path.get(..end + offset).unwrap_or_default().to_string();
            match self.nodes.get(&parent) {
                Some(existing) if existing.is_dir() => {}
                _ => {
                    self.remove(&parent);
                    self.nodes.insert(parent, Node::dir(0o755, (0, 0), 0));
                }
            }
            end += offset + 1;
        }
        if !node.is_dir() {
            self.remove(&path);
        }
        self.nodes.insert(path, node);
    }

    /// Removes an entry and everything below it.
    fn remove(&mut self, path: &str) {
        let below: Vec<String> = self.descendants(path).map(|(p, _)| p.to_string()).collect();
        for key in below {
            self.nodes.remove(&key);
        }
        self.nodes.remove(path);
    }

    /// Adds a step's new entries.
    fn merge(&mut self, nodes: BTreeMap<String, Node>) {
        for (path, node) in nodes {
            self.insert(path, node);
        }
    }

    /// The entries strictly below `dir` (everything for the root), in the
    /// order Go's `filepath.WalkDir` visits them.
    fn descendants<'t>(&'t self, dir: &str) -> impl Iterator<Item = (&'t str, &'t Node)> + 't {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut found: Vec<(&str, &Node)> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .map(|(path, node)| (path.as_str(), node))
            .collect();
        found.sort_by(|a, b| component_cmp(a.0, b.0));
        found.into_iter()
    }

    /// `path` with every symlink followed inside the tree (moby's
    /// `FollowSymlinkInScope`); the result need not exist.
    fn resolve(&self, path: &str) -> std::result::Result<String, LinkLoop> {
        resolve_path(path, &|p: &str| match self.nodes.get(p) {
            Some(Node {
                kind: Kind::Symlink(target),
                ..
            }) => Some(target.clone()),
            _ => None,
        })
    }
}

/// Follows symlinks in `path`, scoped to a root; `link_of` gives the target
/// of a path that is a symlink. `..` stops at the root.
fn resolve_path(
    path: &str,
    link_of: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, LinkLoop> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        match component.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        resolved.push(component);
        if let Some(target) = link_of(&resolved.join("/")) {
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(LinkLoop);
            }
            resolved.pop();
            if target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(
                target
                    .split('/')
                    .filter(|c| !c.is_empty())
                    .rev()
                    .map(str::to_string),
            );
        }
    }
    Ok(resolved.join("/"))
}

/// Orders paths the way a directory walk visits them: component by
/// component.
fn component_cmp(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// A path made relative to the root and cleaned; `""` for the root.
fn clean_relative(path: &str) -> String {
    clean_path(&format!("/{path}"))
        .trim_start_matches('/')
        .to_string()
}

/// Writes a layer tar: entries in path order (parents first), with their
/// modes, owners and modification times.
fn write_layer(nodes: &BTreeMap<String, Node>) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, node) in nodes {
        let mut header = tar::Header::new_gnu();
        header.set_mode(node.mode);
        header.set_uid(node.uid);
        header.set_gid(node.gid);
        header.set_mtime(node.mtime);
        match &node.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), std::io::empty())?;
            }
            Kind::File(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data.as_slice())?;
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    builder.into_inner()
}

// ---------------------------------------------------------------------------
// Instruction values: ports, signals, healthchecks, Go formatting
// ---------------------------------------------------------------------------

/// The exposed-port keys (`80/tcp`) of one `EXPOSE` spec
/// (`[ip:][hostPort:]containerPort[/proto]`, ranges allowed), as moby's
/// `parsePortSpec` reads it.
fn parse_port_spec(raw: &str) -> std::result::Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (ip, host_port, container) = match parts.as_slice() {
        [container] => (String::new(), "", *container),
        [host, container] => (String::new(), *host, *container),
        [ip, host, container] => ((*ip).to_string(), *host, *container),
        [rest @ .., host, container] => (rest.join(":"), *host, *container),
        [] => (String::new(), "", ""),
    };
    let (port, proto) = match container.split_once('/') {
        Some((port, proto)) => (port, proto),
        None => (container, ""),
    };
    if port.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let proto = if proto.is_empty() {
        "tcp".to_string()
    } else {
        proto.to_lowercase()
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let ip = ip
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(&ip);
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (start, end) = port_range(port).ok_or_else(|| format!("invalid containerPort: {port}"))?;
    if !host_port.is_empty() {
        let (host_start, host_end) =
            port_range(host_port).ok_or_else(|| format!("invalid hostPort: {host_port}"))?;
        if end - start != host_end - host_start && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// A port or `start-end` range.
fn port_range(text: &str) -> Option<(u16, u16)> {
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (start.parse().ok()?, end.parse().ok()?),
        None => {
            let port = text.parse().ok()?;
            (port, port)
        }
    };
    (start <= end).then_some((start, end))
}

/// moby's `signal.ParseSignal`: a non-zero number or a known name, with
/// or without `SIG`.
fn validate_signal(signal: &str) -> Result<()> {
    let valid = match signal.parse::<i64>() {
        Ok(number) => number != 0,
        Err(_) => {
            let upper = signal.to_uppercase();
            SIGNALS.contains(&upper.strip_prefix("SIG").unwrap_or(&upper))
        }
    };
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("invalid signal: {signal}")))
    }
}

/// A parsed `HEALTHCHECK` (docker's `HealthConfig`; durations in
/// nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Health {
    test: Vec<String>,
    interval: i64,
    timeout: i64,
    start_period: i64,
    start_interval: i64,
    retries: i64,
}

impl Health {
    /// Parses the text after `HEALTHCHECK` (flags, then `NONE` or `CMD ...`)
    /// as buildkit's `parseHealthcheck` does.
    fn parse(text: &str) -> Result<Health> {
        let mut rest = text.trim();
        let mut flags: Vec<(&str, &str)> = Vec::new();
        while let Some(after) = rest.strip_prefix("--") {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let word = after.get(..end).unwrap_or_default();
            rest = after.get(end..).unwrap_or_default().trim_start();
            if word.is_empty() {
                break;
            }
            flags.push(word.split_once('=').unwrap_or((word, "")));
        }
        let kind_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let kind = rest
            .get(..kind_end)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let args = rest.get(kind_end..).unwrap_or_default().trim();
        let mut health = Health {
            test: vec![kind.clone()],
            interval: 0,
            timeout: 0,
            start_period: 0,
            start_interval: 0,
            retries: 0,
        };
        if kind == "NONE" {
            return Ok(health);
        }
        if kind != "CMD" {
            return Err(invalid(format!(
                "Unknown type {} in HEALTHCHECK (try CMD)",
                go_quote(&kind)
            )));
        }
        health.test = match serde_json::from_str::<Vec<String>>(args) {
            Ok(list) if args.starts_with('[') => [vec!["CMD".to_string()], list].concat(),
            _ => vec!["CMD-SHELL".to_string(), args.to_string()],
        };
        if health.test.len() < 2 || health.test.get(1).is_some_and(String::is_empty) {
            return Err(invalid("Missing command after HEALTHCHECK CMD"));
        }
        for (name, value) in flags {
            match name {
                "interval" => health.interval = parse_interval(name, value)?,
                "timeout" => health.timeout = parse_interval(name, value)?,
                "start-period" => health.start_period = parse_interval(name, value)?,
                "start-interval" => health.start_interval = parse_interval(name, value)?,
                "retries" if !value.is_empty() => {
                    let retries = value.parse::<i32>().map_err(|_| {
                        invalid(format!(
                            "strconv.ParseInt: parsing {}: invalid syntax",
                            go_quote(value)
                        ))
                    })?;
                    if retries < 0 {
                        return Err(invalid(format!("--retries cannot be negative ({retries})")));
                    }
                    health.retries = i64::from(retries);
                }
                "retries" => {}
                other => return Err(invalid(format!("unknown flag: --{other}"))),
            }
        }
        Ok(health)
    }

    /// The config's `Healthcheck` object (zero fields left out).
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert(
            "Test".to_string(),
            Value::Array(self.test.iter().cloned().map(Value::String).collect()),
        );
        for (key, value) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ] {
            if value != 0 {
                object.insert(key.to_string(), Value::from(value));
            }
        }
        Value::Object(object)
    }

    /// Go's `%+v` of the `*HealthConfig`, as the history shows it.
    fn describe(&self) -> String {
        format!(
            "&{{Test:[{}] Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
            self.test.join(" "),
            go_duration(self.interval),
            go_duration(self.timeout),
            go_duration(self.start_period),
            go_duration(self.start_interval),
            self.retries
        )
    }
}

/// buildkit's `parseOptInterval`: a Go duration, zero when empty, at least
/// one millisecond otherwise.
fn parse_interval(name: &str, value: &str) -> Result<i64> {
    if value.is_empty() {
        return Ok(0);
    }
    let duration = parse_go_duration(value).map_err(invalid)?;
    if duration != 0 && duration < 1_000_000 {
        return Err(invalid(format!(
            "Interval {} cannot be less than 1ms",
            go_quote(name)
        )));
    }
    Ok(duration)
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn parse_go_duration(text: &str) -> std::result::Result<i64, String> {
    let invalid_duration = || format!("time: invalid duration {}", go_quote(text));
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid_duration());
    }
    let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let end = digits_end(rest);
        let whole = rest.get(..end).unwrap_or_default();
        rest = rest.get(end..).unwrap_or_default();
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            let end = digits_end(after);
            fraction = after.get(..end).unwrap_or_default();
            rest = after.get(end..).unwrap_or_default();
            if whole.is_empty() && fraction.is_empty() {
                return Err(invalid_duration());
            }
        } else if whole.is_empty() {
            return Err(invalid_duration());
        }
        let unit_end = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest.get(..unit_end).unwrap_or_default();
        rest = rest.get(unit_end..).unwrap_or_default();
        let scale: u128 = match unit {
            "" => return Err(format!("time: missing unit in duration {}", go_quote(text))),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(other),
                    go_quote(text)
                ));
            }
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid_duration())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid_duration)?;
        if !fraction.is_empty() {
            // Digits beyond nanosecond precision of the largest unit change
            // nothing; 20 keep the product far from overflowing.
            let digits = fraction.get(..fraction.len().min(20)).unwrap_or_default();
            let numerator: u128 = digits.parse().map_err(|_| invalid_duration())?;
            let denominator = 10u128.pow(u32::try_from(digits.len()).unwrap_or(20));
            value = value
                .checked_add(numerator * scale / denominator)
                .ok_or_else(invalid_duration)?;
        }
        total = total.checked_add(value).ok_or_else(invalid_duration)?;
        if total > 1u128 << 63 {
            return Err(invalid_duration());
        }
    }
    if negative {
        i64::try_from(total).map(|t| -t).or_else(|_| {
            if total == 1u128 << 63 {
                Ok(i64::MIN)
            } else {
                Err(invalid_duration())
            }
        })
    } else {
        i64::try_from(total).map_err(|_| invalid_duration())
    }
}

/// Go's `time.Duration.String`.
fn go_duration(nanos: i64) -> String {
    /// The fractional digits of `value / 10^precision`, trailing zeros and
    /// an empty fraction left out; returns them and the integer part.
    fn fraction(value: u64, precision: u32) -> (String, u64) {
        let scale = 10u64.pow(precision);
        let digits = format!("{:0width$}", value % scale, width = precision as usize);
        let digits = digits.trim_end_matches('0');
        let text = if digits.is_empty() {
            String::new()
        } else {
            format!(".{digits}")
        };
        (text, value / scale)
    }
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let value = nanos.unsigned_abs();
    if value < 1_000_000_000 {
        let (precision, unit) = if value < 1_000 {
            (0, "ns")
        } else if value < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (frac, whole) = fraction(value, precision);
        return format!("{sign}{whole}{frac}{unit}");
    }
    let (frac, seconds) = fraction(value, 9);
    let minutes = seconds / 60;
    let hours = minutes / 60;
    if hours > 0 {
        format!("{sign}{hours}h{}m{}{frac}s", minutes % 60, seconds % 60)
    } else if minutes > 0 {
        format!("{sign}{minutes}m{}{frac}s", seconds % 60)
    } else {
        format!("{sign}{seconds}{frac}s")
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| go_quote(item)).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use bytes::Bytes;
    use chrono::TimeZone;
    use futures::StreamExt;

    use super::*;
    use crate::archive::FixtureImage;
    use crate::error::ErrorKind;
    use crate::memory::ManualClock;
    use crate::model::{ImageDetails, ListOptions};
    use crate::service::{BuildContext, ImageService, ImageServiceExt};

    /// The modification time of every file in the test contexts.
    const MTIME: u64 = 1_700_000_000;
    /// `PATH` as docker sets it in a stage without one.
    const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    fn clock_time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    fn service() -> MemoryImageService {
        MemoryImageService::with_clock(Arc::new(ManualClock::new(clock_time())))
    }

    /// A context tar of regular files (`*.sh` are executable).
    fn context_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_ustar();
            header.set_mode(if path.ends_with(".sh") { 0o755 } else { 0o644 });
            header.set_mtime(MTIME);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn tar_context(files: &[(&str, &[u8])]) -> BuildContext {
        let bytes = Bytes::from(context_tar(files));
        BuildContext::Tar(futures::stream::once(async move { Ok(bytes) }).boxed())
    }

    fn tagged(tags: &[&str]) -> BuildOptions {
        BuildOptions {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..BuildOptions::default()
        }
    }

    /// Builds to the end; returns the completion and the output lines
    /// (layer statuses without progress as `id: status`).
    async fn run(
        service: &MemoryImageService,
        files: &[(&str, &[u8])],
        options: &BuildOptions,
    ) -> Result<(Completion, Vec<String>)> {
        let mut stream = service.build(tar_context(files), options).await?;
        let mut lines = Vec::new();
        let mut done = None;
        while let Some(event) = stream.next().await {
            match event? {
                ProgressEvent::Message { text } => lines.push(text),
                ProgressEvent::Done(completion) => done = Some(completion),
                ProgressEvent::Layer(layer) if layer.current.is_none() => {
                    lines.push(format!("{}: {}", layer.id, layer.status));
                }
                ProgressEvent::Layer(_) => {}
            }
        }
        Ok((done.unwrap(), lines))
    }

    /// One entry of a layer tar.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Entry {
        path: String,
        dir: bool,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        data: Vec<u8>,
    }

    /// The entries of each layer of an image, base first.
    fn layers(service: &MemoryImageService, id: &str) -> Vec<Vec<Entry>> {
        use std::io::Read as _;
        let image = service.read().archive_image(id, Vec::new()).unwrap();
        image
            .layers
            .iter()
            .map(|layer| {
                let mut archive = tar::Archive::new(layer.as_slice());
                archive
                    .entries()
                    .unwrap()
                    .map(|entry| {
                        let mut entry = entry.unwrap();
                        let header = entry.header().clone();
                        let mut data = Vec::new();
                        entry.read_to_end(&mut data).unwrap();
                        Entry {
                            path: String::from_utf8(entry.path_bytes().into_owned()).unwrap(),
                            dir: header.entry_type().is_dir(),
                            mode: header.mode().unwrap(),
                            uid: header.uid().unwrap(),
                            gid: header.gid().unwrap(),
                            mtime: header.mtime().unwrap(),
                            data,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The raw config JSON of an image.
    fn raw_config(service: &MemoryImageService, id: &str) -> Value {
        let image = service.read().archive_image(id, Vec::new()).unwrap();
        serde_json::from_slice(&image.config).unwrap()
    }

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    fn steps_only(lines: &[String]) -> Vec<&str> {
        lines
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("Step "))
            .collect()
    }

    fn all() -> ListOptions {
        ListOptions {
            all: true,
            ..ListOptions::default()
        }
    }

    const SIMPLE: &str =
        "FROM scratch\nCOPY hello.txt /app/\nLABEL org.example.role=demo\nCMD [\"/app/hello\"]\n";

    #[tokio::test]
    async fn scratch_copy_label_cmd_builds_an_image_with_one_layer() {
        let service = service();
        let files: &[(&str, &[u8])] =
            &[("Dockerfile", SIMPLE.as_bytes()), ("hello.txt", b"hello\n")];
        let (done, lines) = run(&service, files, &tagged(&["demo:1"])).await.unwrap();
        let id = done.image_id.clone().unwrap();
        assert_eq!(done.reference.as_deref(), Some("docker.io/library/demo:1"));
        assert_eq!(done.digest, None);

        let list = service.list(&all()).await.unwrap();
        let mut chain: Vec<String> = Vec::new();
        let mut current = Some(id.clone());
        while let Some(image) = current {
            current = list
                .iter()
                .find(|s| s.id == image)
                .and_then(|s| s.parent_id.clone());
            chain.push(image);
        }
        assert_eq!(chain.len(), 3, "three steps after FROM scratch: {list:?}");
        let short = |i: usize| short_id(&chain[i]).to_string();
        assert_eq!(
            lines,
            vec![
                "Step 1/4 : FROM scratch".to_string(),
                " ---> ".to_string(),
                "Step 2/4 : COPY hello.txt /app/".to_string(),
                format!(" ---> {}", short(2)),
                "Step 3/4 : LABEL org.example.role=demo".to_string(),
                format!(" ---> {}", short(1)),
                "Step 4/4 : CMD [\"/app/hello\"]".to_string(),
                format!(" ---> {}", short(0)),
                format!("Successfully built {}", short(0)),
                "Successfully tagged demo:1".to_string(),
            ]
        );

        let details: ImageDetails = service.inspect("demo:1").await.unwrap();
        assert_eq!(details.id, id);
        assert_eq!(details.os, "linux");
        assert_eq!(details.architecture, "amd64");
        assert_eq!(details.created, Some(clock_time()));
        assert_eq!(details.config.cmd, vec!["/app/hello"]);
        assert_eq!(details.config.env, vec![PATH_ENV]);
        assert_eq!(
            details
                .config
                .labels
                .get("org.example.role")
                .map(String::as_str),
            Some("demo")
        );
        assert_eq!(details.root_fs.layers.len(), 1);
        assert_eq!(details.parent, chain[1]);

        let layer = &layers(&service, &id)[0];
        let timestamp = u64::try_from(clock_time().timestamp()).unwrap();
        assert_eq!(
            layer,
            &vec![
                Entry {
                    path: "app/".into(),
                    dir: true,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                    mtime: timestamp,
                    data: Vec::new(),
                },
                Entry {
                    path: "app/hello.txt".into(),
                    dir: false,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: MTIME,
                    data: b"hello\n".to_vec(),
                },
            ]
        );

        let history = service.history("demo:1").await.unwrap();
        let created_by: Vec<&str> = history.iter().map(|h| h.created_by.as_str()).collect();
        assert_eq!(
            created_by,
            vec![
                "/bin/sh -c #(nop)  CMD [\"/app/hello\"]".to_string(),
                "/bin/sh -c #(nop)  LABEL org.example.role=demo".to_string(),
                format!("/bin/sh -c #(nop) COPY file:{} in /app/ ", sha(b"hello\n")),
            ]
        );
        assert_eq!(history[2].size, 6);
        assert_eq!(history[0].size, 0);
        let ids: Vec<&str> = history.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, chain.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(history[0].tags, vec!["demo:1"]);

        // The runtime config records the parent, as the classic builder's does.
        let config = raw_config(&service, &id);
        assert_eq!(config["config"]["Image"], Value::String(chain[1].clone()));
    }

    #[tokio::test]
    async fn intermediate_images_are_only_listed_with_all() {
        let service = service();
        let files: &[(&str, &[u8])] =
            &[("Dockerfile", SIMPLE.as_bytes()), ("hello.txt", b"hello\n")];
        let (done, _) = run(&service, files, &tagged(&["demo:1"])).await.unwrap();
        let top = service.list(&ListOptions::default()).await.unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(Some(&top[0].id), done.image_id.as_ref());
        let every = service.list(&all()).await.unwrap();
        assert_eq!(every.len(), 3);
        assert_eq!(every.iter().filter(|s| s.parent_id.is_none()).count(), 1);
        assert_eq!(every.iter().filter(|s| s.repo_tags.is_empty()).count(), 2);

        // Removing the tag deletes the whole chain, as docker's rmi does.
        let actions = service
            .remove("demo:1", &crate::model::RemoveOptions::default())
            .await
            .unwrap();
        assert_eq!(actions.len(), 1 + 3 + 1, "{actions:?}");
        assert!(service.list(&all()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn multi_stage_builds_copy_from_stages_and_stop_at_the_target() {
        let dockerfile = "\
FROM scratch AS builder
COPY src/ /out/
LABEL stage=builder

FROM scratch AS app
COPY --from=builder /out/main.txt /app/main.txt
COPY --from=0 /out/lib.txt /app/
CMD [\"/app/main.txt\"]

FROM app AS debug
LABEL debug=1
";
        let files: &[(&str, &[u8])] = &[
            ("Dockerfile", dockerfile.as_bytes()),
            ("src/main.txt", b"main"),
            ("src/lib.txt", b"lib"),
        ];
        let service = service();
        let options = BuildOptions {
            target: Some("APP".into()),
            ..tagged(&["app:1"])
        };
        let (done, lines) = run(&service, files, &options).await.unwrap();
        let steps = steps_only(&lines);
        assert_eq!(steps.len(), 7, "{steps:?}");
        assert_eq!(steps[3], "Step 4/7 : FROM scratch AS app");
        assert_eq!(steps[6], "Step 7/7 : CMD [\"/app/main.txt\"]");
        let details = service.inspect("app:1").await.unwrap();
        assert_eq!(Some(&details.id), done.image_id.as_ref());
        assert!(
            details.config.labels.is_empty(),
            "a new stage starts afresh"
        );
        assert_eq!(details.root_fs.layers.len(), 2);
        let layers = layers(&service, &details.id);
        let files_in = |layer: &Vec<Entry>| -> Vec<(String, Vec<u8>)> {
            layer
                .iter()
                .filter(|e| !e.dir)
                .map(|e| (e.path.clone(), e.data.clone()))
                .collect()
        };
        assert_eq!(
            files_in(&layers[0]),
            vec![("app/main.txt".to_string(), b"main".to_vec())]
        );
        assert_eq!(
            files_in(&layers[1]),
            vec![("app/lib.txt".to_string(), b"lib".to_vec())]
        );
        let history = service.history("app:1").await.unwrap();
        assert_eq!(
            history[1].created_by,
            format!("/bin/sh -c #(nop) COPY file:{} in /app/ ", sha(b"lib"))
        );

        // The builder stage's contents were copied whole from src/.
        let builder = service
            .list(&all())
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.labels.get("stage").map(String::as_str) == Some("builder"))
            .unwrap();
        let builder_layer = &super::tests::layers(&service, &builder.id)[0];
        let paths: Vec<&str> = builder_layer.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["out/", "out/lib.txt", "out/main.txt"]);

        // Without a target the last stage is built on top of `app`.
        let (done, lines) = run(&service, files, &tagged(&["debug:1"])).await.unwrap();
        assert_eq!(steps_only(&lines).len(), 9);
        let debug = service.inspect("debug:1").await.unwrap();
        assert_eq!(Some(&debug.id), done.image_id.as_ref());
        assert_eq!(debug.parent, details.id);
        assert_eq!(
            debug.config.labels.get("debug").map(String::as_str),
            Some("1")
        );

        let error = run(
            &service,
            files,
            &BuildOptions {
                target: Some("nope".into()),
                ..BuildOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            error.to_string(),
            "invalid argument: target stage \"nope\" could not be found"
        );
    }

    #[tokio::test]
    async fn copy_from_refuses_the_current_stage_and_missing_paths() {
        let service = service();
        let files: &[(&str, &[u8])] =
            &[("Dockerfile", b"FROM scratch AS one\nCOPY --from=0 /x /x\n")];
        let error = run(&service, files, &BuildOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument: invalid from flag value 0: refers to current build stage"
        );
        let files: &[(&str, &[u8])] = &[
            (
                "Dockerfile",
                b"FROM scratch AS one\nCOPY a /a\nFROM scratch\nCOPY --from=one /nope /x\n",
            ),
            ("a", b"a"),
        ];
        let error = run(&service, files, &BuildOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument: COPY failed: stat nope: file does not exist"
        );
        assert!(service.list(&all()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn args_and_build_args_substitute_and_unused_ones_are_reported() {
        let dockerfile = "\
ARG BASE=scratch
FROM ${BASE}
ARG GREETING=hello
ARG UNSET
ENV MESSAGE=\"${GREETING} world\" PLAIN=$GREETING EMPTY=${UNSET:-none}
LABEL greeting=$GREETING base=${BASE:-unset}
";
        let service = service();
        let options = BuildOptions {
            build_args: [
                ("GREETING", "hi"),
                ("EXTRA", "1"),
                ("ZED", "2"),
                ("HTTP_PROXY", "x"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..tagged(&["args:1"])
        };
        let (_, lines) = run(&service, &[("Dockerfile", dockerfile.as_bytes())], &options)
            .await
            .unwrap();
        let steps = steps_only(&lines);
        assert_eq!(steps[0], "Step 1/6 : ARG BASE=scratch");
        assert_eq!(steps[1], "Step 2/6 : FROM ${BASE}");
        assert!(
            lines.contains(
                &"[Warning] One or more build-args [EXTRA ZED] were not consumed".to_string()
            ),
            "{lines:?}"
        );
        let details = service.inspect("args:1").await.unwrap();
        assert_eq!(
            details.config.env,
            vec![PATH_ENV, "MESSAGE=hi world", "PLAIN=hi", "EMPTY=none"]
        );
        assert_eq!(
            details.config.labels.get("greeting").map(String::as_str),
            Some("hi")
        );
        // A global ARG is not visible after FROM unless declared again.
        assert_eq!(
            details.config.labels.get("base").map(String::as_str),
            Some("unset")
        );
        let history = service.history("args:1").await.unwrap();
        let created_by: Vec<&str> = history.iter().map(|h| h.created_by.as_str()).collect();
        assert_eq!(
            created_by,
            vec![
                "/bin/sh -c #(nop)  LABEL greeting=hi base=unset",
                "/bin/sh -c #(nop)  ENV MESSAGE=hi world PLAIN=hi EMPTY=none",
                "/bin/sh -c #(nop)  ARG UNSET",
                "/bin/sh -c #(nop)  ARG GREETING=hello",
            ]
        );
    }

    #[tokio::test]
    async fn from_a_local_image_shares_its_layers() {
        let service = service();
        let base = FixtureImage::new("base")
            .layer_with_file("etc/os-release", b"ID=fixture\n")
            .env("PATH=/bin")
            .tag("base:1")
            .build()
            .unwrap();
        let base_id = service.add_image(&base).unwrap();
        let files: &[(&str, &[u8])] = &[
            ("Dockerfile", b"FROM base:1\nCOPY a.txt /a.txt\n"),
            ("a.txt", b"aaaa"),
        ];
        let (done, lines) = run(&service, files, &tagged(&["child:1"])).await.unwrap();
        assert_eq!(lines[1], format!(" ---> {}", short_id(&base_id)));
        let child = done.image_id.unwrap();
        let details = service.inspect(&child).await.unwrap();
        assert_eq!(details.parent, base_id);
        assert_eq!(
            details.config.env,
            vec!["PATH=/bin"],
            "the base's PATH is kept"
        );
        assert_eq!(details.root_fs.layers.len(), 2);
        let usage = service.disk_usage().await.unwrap();
        for id in [&base_id, &child] {
            let row = usage.images.iter().find(|i| &i.id == id).unwrap();
            assert!(row.shared_size > 0, "{row:?}");
        }
        let history = service.history(&child).await.unwrap();
        assert_eq!(
            history.last().map(|h| h.id.as_str()),
            Some(base_id.as_str())
        );
        assert_eq!(
            history[0].created_by,
            format!("/bin/sh -c #(nop) COPY file:{} in /a.txt ", sha(b"aaaa"))
        );
    }

    #[tokio::test]
    async fn a_base_only_in_the_registry_is_pulled_and_a_missing_one_is_not_found() {
        let service = service();
        let base = FixtureImage::new("remote")
            .layer_with_file("bin/tool", b"tool")
            .build()
            .unwrap();
        service
            .registry_put("registry.example.com/team/base:2", &base)
            .unwrap();
        let files: &[(&str, &[u8])] = &[(
            "Dockerfile",
            b"FROM registry.example.com/team/base:2\nLABEL a=b\n",
        )];
        let (done, lines) = run(&service, files, &BuildOptions::default())
            .await
            .unwrap();
        assert!(
            lines.contains(&"2: Pulling from team/base".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(
            &"Status: Downloaded newer image for registry.example.com/team/base:2".to_string()
        ));
        let pulled = service
            .inspect("registry.example.com/team/base:2")
            .await
            .unwrap();
        assert_eq!(pulled.id, base.id());
        let built = service
            .inspect(done.image_id.as_deref().unwrap())
            .await
            .unwrap();
        assert_eq!(built.parent, base.id());
        assert_eq!(done.reference, None);

        let files: &[(&str, &[u8])] = &[("Dockerfile", b"FROM example/nosuch:1\n")];
        let error = run(&service, files, &BuildOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);

        // With `pull`, a local image the registry lacks is an error, as in docker.
        let local = FixtureImage::new("local")
            .layer_with_file("x", b"x")
            .tag("local:1")
            .build()
            .unwrap();
        service.add_image(&local).unwrap();
        let files: &[(&str, &[u8])] = &[("Dockerfile", b"FROM local:1\nLABEL a=b\n")];
        let options = BuildOptions {
            pull: true,
            ..BuildOptions::default()
        };
        let error = run(&service, files, &options).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert!(run(&service, files, &BuildOptions::default()).await.is_ok());
    }

    #[tokio::test]
    async fn run_is_not_supported_and_nothing_is_pulled_or_stored() {
        let service = service();
        let base = FixtureImage::new("remote")
            .layer_with_file("x", b"x")
            .build()
            .unwrap();
        service.registry_put("example/base:1", &base).unwrap();
        let files: &[(&str, &[u8])] = &[
            ("Dockerfile", b"FROM example/base:1\nCOPY a /a\nRUN make\n"),
            ("a", b"a"),
        ];
        let error = service
            .build(tar_context(files), &tagged(&["x:1"]))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&error, ImageError::NotSupported { operation, backend } if operation == "RUN instructions" && backend == "memory"),
            "{error:?}"
        );
        assert!(service.list(&all()).await.unwrap().is_empty());

        // A RUN in a stage after the target is never reached.
        let files: &[(&str, &[u8])] = &[(
            "Dockerfile",
            b"FROM scratch AS a\nLABEL a=1\nFROM a\nRUN make\n",
        )];
        let options = BuildOptions {
            target: Some("a".into()),
            ..BuildOptions::default()
        };
        assert!(run(&service, files, &options).await.is_ok());
    }

    #[tokio::test]
    async fn dropping_the_stream_before_the_end_stores_nothing() {
        let service = service();
        let base = FixtureImage::new("remote")
            .layer_with_file("x", b"x")
            .build()
            .unwrap();
        service.registry_put("example/base:1", &base).unwrap();
        let files: &[(&str, &[u8])] = &[
            (
                "Dockerfile",
                b"FROM example/base:1\nCOPY hello.txt /\nLABEL a=b\n",
            ),
            ("hello.txt", b"hello"),
        ];
        let mut stream = service
            .build(tar_context(files), &tagged(&["cancelled:1"]))
            .await
            .unwrap();
        for _ in 0..2 {
            assert!(stream.next().await.unwrap().is_ok());
        }
        drop(stream);
        assert!(service.list(&all()).await.unwrap().is_empty());
        assert!(!service.exists("cancelled:1").await.unwrap());

        let done = service
            .build_to_end(tar_context(files), &tagged(&["cancelled:1"]))
            .await
            .unwrap();
        assert_eq!(
            service.inspect("cancelled:1").await.unwrap().id,
            done.image_id.unwrap()
        );
    }

    /// A directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
            let dir = std::env::temp_dir().join(format!(
                "imgctl-build-{name}-{}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, path: &str, data: &[u8]) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn dockerignored_files_cannot_be_copied() {
        let service = service();
        let dir = TempDir::new("ignore");
        dir.write("Dockerfile", b"FROM scratch\nCOPY secret.txt /\n");
        dir.write("secret.txt", b"secret");
        dir.write("public.txt", b"public");
        dir.write(".dockerignore", b"secret.txt\n");
        let error = service
            .build_to_end(
                BuildContext::Directory(dir.0.clone()),
                &BuildOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            error.to_string(),
            "invalid argument: COPY failed: file not found in build context or excluded by .dockerignore: stat secret.txt: file does not exist"
        );
        dir.write("Dockerfile", b"FROM scratch\nCOPY . /ctx/\n");
        let done = service
            .build_to_end(
                BuildContext::Directory(dir.0.clone()),
                &BuildOptions::default(),
            )
            .await
            .unwrap();
        let layer = &layers(&service, done.image_id.as_deref().unwrap())[0];
        let paths: Vec<&str> = layer.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "ctx/",
                "ctx/.dockerignore",
                "ctx/Dockerfile",
                "ctx/public.txt"
            ]
        );

        // The daemon only drops `.dockerignore` and the Dockerfile from a tar
        // context when they are excluded; the rest is the client's job.
        let ignore: &[u8] = b".dockerignore\nDockerfile\nnotes.md\n";
        for source in [".dockerignore", "Dockerfile"] {
            let dockerfile = format!("FROM scratch\nCOPY {source} /\n");
            let files: &[(&str, &[u8])] = &[
                ("Dockerfile", dockerfile.as_bytes()),
                (".dockerignore", ignore),
                ("notes.md", b"notes"),
            ];
            let error = run(&service, files, &BuildOptions::default())
                .await
                .unwrap_err();
            assert!(
                error
                    .to_string()
                    .ends_with(&format!("stat {source}: file does not exist")),
                "{error}"
            );
        }
        let files: &[(&str, &[u8])] = &[
            ("Dockerfile", b"FROM scratch\nCOPY notes.md /\n"),
            (".dockerignore", ignore),
            ("notes.md", b"notes"),
        ];
        assert!(run(&service, files, &BuildOptions::default()).await.is_ok());
    }

    #[tokio::test]
    async fn label_options_become_extra_label_steps() {
        let service = service();
        let options = BuildOptions {
            labels: [("b", "2"), ("a", "1 2")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..tagged(&["labelled:1", "labelled:1", "other/name"])
        };
        let files: &[(&str, &[u8])] = &[("Dockerfile", b"FROM scratch\nCOPY a /a\n"), ("a", b"a")];
        let (done, lines) = run(&service, files, &options).await.unwrap();
        let steps = steps_only(&lines);
        assert_eq!(steps[2], "Step 3/4 : LABEL a=1 2");
        assert_eq!(steps[3], "Step 4/4 : LABEL b=2");
        let tagged_lines: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| l.starts_with("Successfully tagged"))
            .collect();
        assert_eq!(
            tagged_lines,
            vec![
                "Successfully tagged labelled:1",
                "Successfully tagged other/name:latest"
            ]
        );
        let details = service.inspect("other/name").await.unwrap();
        assert_eq!(Some(&details.id), done.image_id.as_ref());
        assert_eq!(
            details.config.labels.get("a").map(String::as_str),
            Some("1 2")
        );
        assert_eq!(
            details.config.labels.get("b").map(String::as_str),
            Some("2")
        );
        let history = service.history("labelled:1").await.unwrap();
        assert_eq!(history[1].created_by, "/bin/sh -c #(nop)  LABEL a=1 2");

        let error = run(
            &service,
            files,
            &tagged(&["x@sha256:0000000000000000000000000000000000000000000000000000000000000000"]),
        )
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument: build tag cannot contain a digest"
        );
    }

    #[tokio::test]
    async fn metadata_instructions_follow_the_classic_builder() {
        let dockerfile = "\
FROM scratch
MAINTAINER Jane <jane@example.com>
ENV APP=/srv/app
WORKDIR $APP
WORKDIR sub
USER 1000:1000
EXPOSE 80 443/udp 8000-8001
VOLUME [\"/data\", \"/cache\"]
STOPSIGNAL SIGQUIT
CMD [\"--help\"]
ENTRYPOINT run --fast
HEALTHCHECK --interval=1m30s --retries=3 CMD check \"now\"
SHELL [\"/bin/bash\", \"-c\"]
ONBUILD COPY . /onbuild/
";
        let service = service();
        let (done, _) = run(
            &service,
            &[("Dockerfile", dockerfile.as_bytes())],
            &tagged(&["meta:1"]),
        )
        .await
        .unwrap();
        let id = done.image_id.unwrap();
        let details = service.inspect(&id).await.unwrap();
        assert_eq!(details.author, "Jane <jane@example.com>");
        assert_eq!(details.config.working_dir, "/srv/app/sub");
        assert_eq!(details.config.user, "1000:1000");
        let ports: Vec<&str> = details
            .config
            .exposed_ports
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(ports, vec!["443/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        let volumes: Vec<&str> = details.config.volumes.keys().map(String::as_str).collect();
        assert_eq!(volumes, vec!["/cache", "/data"]);
        assert_eq!(details.config.stop_signal, "SIGQUIT");
        assert_eq!(
            details.config.entrypoint,
            vec!["/bin/sh", "-c", "run --fast"]
        );
        assert_eq!(
            details.config.cmd,
            vec!["--help"],
            "CMD set in this stage survives"
        );
        // The two WORKDIRs created directories: two layers.
        let layers = layers(&service, &id);
        let paths: Vec<Vec<&str>> = layers
            .iter()
            .map(|l| l.iter().map(|e| e.path.as_str()).collect())
            .collect();
        assert_eq!(
            paths,
            vec![
                vec!["srv/", "srv/app/"],
                vec!["srv/", "srv/app/", "srv/app/sub/"]
            ]
        );

        let history = service.history(&id).await.unwrap();
        let created_by: Vec<&str> = history
            .iter()
            .rev()
            .map(|h| h.created_by.as_str())
            .collect();
        assert_eq!(
            created_by,
            vec![
                "/bin/sh -c #(nop)  MAINTAINER Jane <jane@example.com>",
                "/bin/sh -c #(nop)  ENV APP=/srv/app",
                "/bin/sh -c #(nop) WORKDIR /srv/app",
                "/bin/sh -c #(nop) WORKDIR /srv/app/sub",
                "/bin/sh -c #(nop)  USER 1000:1000",
                "/bin/sh -c #(nop)  EXPOSE 443/udp 80 8000-8001",
                "/bin/sh -c #(nop)  VOLUME [/data /cache]",
                "/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT",
                "/bin/sh -c #(nop)  CMD [\"--help\"]",
                "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\" \"run --fast\"]",
                "/bin/sh -c #(nop)  HEALTHCHECK &{Test:[CMD-SHELL check \"now\"] Interval:1m30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}",
                "/bin/bash -c #(nop)  SHELL [/bin/bash -c]",
                "/bin/bash -c #(nop)  ONBUILD COPY . /onbuild/",
            ]
        );
        let config = raw_config(&service, &id);
        assert_eq!(
            config["config"]["Healthcheck"],
            serde_json::json!({"Test": ["CMD-SHELL", "check \"now\""], "Interval": 90_000_000_000_i64, "Retries": 3})
        );
        assert_eq!(
            config["config"]["Shell"],
            serde_json::json!(["/bin/bash", "-c"])
        );
        assert_eq!(
            config["config"]["OnBuild"],
            serde_json::json!(["COPY . /onbuild/"])
        );
        assert_eq!(config["author"], "Jane <jane@example.com>");

        // The trigger runs in a build that uses the image, and is consumed.
        let files: &[(&str, &[u8])] = &[
            ("Dockerfile", b"FROM meta:1\nLABEL child=1\n"),
            ("f.txt", b"f"),
        ];
        let (done, lines) = run(&service, files, &tagged(&["child:1"])).await.unwrap();
        let at = lines
            .iter()
            .position(|l| l == "# Executing 1 build trigger")
            .unwrap();
        assert_eq!(lines[at - 1], "Step 1/2 : FROM meta:1");
        let child = done.image_id.unwrap();
        let config = raw_config(&service, &child);
        assert!(config["config"].get("OnBuild").is_none(), "{config}");
        let history = service.history(&child).await.unwrap();
        assert!(
            history[1]
                .created_by
                .starts_with("/bin/bash -c #(nop) COPY dir:")
        );
        assert!(history[1].created_by.ends_with(" in /onbuild/ "));
        let top = &super::tests::layers(&service, &history[1].id)
            .last()
            .cloned()
            .unwrap();
        assert!(top.iter().any(|e| e.path == "onbuild/f.txt"), "{top:?}");
    }

    #[tokio::test]
    async fn instruction_values_are_checked_like_docker() {
        let service = service();
        let cases: &[(&str, &str)] = &[
            (
                "STOPSIGNAL SIGNOPE",
                "invalid argument: invalid signal: SIGNOPE",
            ),
            ("EXPOSE 80/xyz", "invalid argument: invalid proto: xyz"),
            (
                "EXPOSE 99999",
                "invalid argument: invalid containerPort: 99999",
            ),
            (
                "HEALTHCHECK --interval=1us CMD true",
                "invalid argument: Interval \"interval\" cannot be less than 1ms",
            ),
            (
                "HEALTHCHECK --timeout=5 CMD true",
                "invalid argument: time: missing unit in duration \"5\"",
            ),
            (
                "COPY --chmod=755 a /a",
                &format!("invalid argument: {CHMOD_NEEDS_BUILDKIT}"),
            ),
            (
                "COPY http://example.com/a /a",
                "invalid argument: COPY failed: source can't be a URL for COPY",
            ),
            (
                "COPY nope /a",
                "invalid argument: COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist",
            ),
            (
                "COPY *.md /a/",
                "invalid argument: COPY failed: no source files were specified",
            ),
            (
                "COPY a b /x",
                "invalid argument: When using COPY with more than one source file, the destination must be a directory and end with a /",
            ),
            (
                "COPY --chown=a:b:c a /a",
                "invalid argument: unable to convert uid/gid chown string to host mapping: invalid chown string format: a:b:c",
            ),
            (
                "COPY --chown=app a /a",
                "invalid argument: unable to convert uid/gid chown string to host mapping: can't find uid for user app: open /etc/passwd: no such file or directory",
            ),
        ];
        for (instruction, expected) in cases {
            let dockerfile = format!("FROM scratch\n{instruction}\n");
            let files: &[(&str, &[u8])] = &[
                ("Dockerfile", dockerfile.as_bytes()),
                ("a", b"a"),
                ("b", b"b"),
            ];
            let error = run(&service, files, &BuildOptions::default())
                .await
                .unwrap_err();
            assert_eq!(&error.to_string(), expected, "{instruction}");
        }
        for instruction in ["ADD https://example.com/a.tgz /", "ADD a.tar /"] {
            let dockerfile = format!("FROM scratch\n{instruction}\n");
            let mut archive = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_ustar();
            header.set_size(1);
            header.set_mode(0o644);
            archive.append_data(&mut header, "x", &b"x"[..]).unwrap();
            let inner = archive.into_inner().unwrap();
            let files: &[(&str, &[u8])] =
                &[("Dockerfile", dockerfile.as_bytes()), ("a.tar", &inner)];
            let error = run(&service, files, &BuildOptions::default())
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::NotSupported,
                "{instruction}: {error}"
            );
        }
        let files: &[(&str, &[u8])] = &[("Dockerfile", b"FROM scratch\n")];
        let error = run(&service, files, &BuildOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid argument: No image was generated. Is your Dockerfile empty?"
        );
        assert!(service.list(&all()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn copy_handles_globs_directories_and_chown() {
        let service = service();
        let base = FixtureImage::new("users")
            .layer_with_file(
                "etc/passwd",
                b"root:x:0:0::/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n",
            )
            .layer_with_file("etc/group", b"root:x:0:\nstaff:x:50:\n")
            .tag("users:1")
            .build()
            .unwrap();
        service.add_image(&base).unwrap();
        let dockerfile = "\
FROM users:1
WORKDIR /work
COPY *.txt docs/ ./
COPY --chown=app:staff run.sh bin/
COPY --chown=42 run.sh /opt/run
";
        let files: &[(&str, &[u8])] = &[
            ("Dockerfile", dockerfile.as_bytes()),
            ("a.txt", b"a"),
            ("b.txt", b"b"),
            ("docs/guide/index.md", b"guide"),
            ("run.sh", b"#!/bin/sh\n"),
        ];
        let (done, _) = run(&service, files, &tagged(&["globs:1"])).await.unwrap();
        let id = done.image_id.unwrap();
        let all_layers = layers(&service, &id);
        let summary = |layer: &Vec<Entry>| -> Vec<(String, u32, u64, u64)> {
            layer
                .iter()
                .map(|e| (e.path.clone(), e.mode, e.uid, e.gid))
                .collect()
        };
        let n = all_layers.len();
        assert_eq!(
            summary(&all_layers[n - 3]),
            vec![
                ("work/".to_string(), 0o755, 0, 0),
                ("work/a.txt".to_string(), 0o644, 0, 0),
                ("work/b.txt".to_string(), 0o644, 0, 0),
                ("work/guide/".to_string(), 0o755, 0, 0),
                ("work/guide/index.md".to_string(), 0o644, 0, 0),
            ]
        );
        assert_eq!(
            summary(&all_layers[n - 2]),
            vec![
                ("work/".to_string(), 0o755, 0, 0),
                ("work/bin/".to_string(), 0o755, 1234, 50),
                ("work/bin/run.sh".to_string(), 0o755, 1234, 50),
            ]
        );
        assert_eq!(
            summary(&all_layers[n - 1]),
            vec![
                ("opt/".to_string(), 0o755, 42, 42),
                ("opt/run".to_string(), 0o755, 42, 42),
            ]
        );
        let history = service.history(&id).await.unwrap();
        assert_eq!(
            history[0].created_by,
            format!(
                "/bin/sh -c #(nop) COPY --chown=42 file:{} in /opt/run ",
                sha(b"#!/bin/sh\n")
            )
        );
        assert!(
            history[2]
                .created_by
                .starts_with("/bin/sh -c #(nop) COPY multi:"),
            "{}",
            history[2].created_by
        );
        assert!(history[2].created_by.ends_with(" in ./ "));
    }

    #[test]
    fn go_formatting_helpers_match_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(500_000), "500µs");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(
            parse_go_duration("1.0000000000000000000000000000000001h"),
            Ok(3_600_000_000_000)
        );
        assert!(parse_go_duration("99999999999999999999999999999999999999999h").is_err());
        assert_eq!(
            parse_go_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".to_string())
        );
        assert_eq!(
            parse_go_duration(""),
            Err("time: invalid duration \"\"".to_string())
        );
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into()]),
            "[\"/bin/sh\" \"-c\"]"
        );
        assert_eq!(go_quote_list(&[]), "[]");
        assert_eq!(
            parse_port_spec("8080:80/udp"),
            Ok(vec!["80/udp".to_string()])
        );
        assert_eq!(
            parse_port_spec("127.0.0.1:80:80"),
            Ok(vec!["80/tcp".to_string()])
        );
        assert_eq!(
            parse_port_spec("7000-7001/SCTP"),
            Ok(vec!["7000/sctp".to_string(), "7001/sctp".to_string()])
        );
        assert!(validate_signal("9").is_ok());
        assert!(validate_signal("rtmin+3").is_ok());
        assert!(validate_signal("0").is_err());
        assert_eq!(normalize_dest("/app", "x/"), "/app/x/");
        assert_eq!(normalize_dest("", "."), "/");
        assert!(contains_wildcards("*.txt") && !contains_wildcards("a\\*b"));
        assert_eq!(base_name("a/b/"), "b");
    }
}
