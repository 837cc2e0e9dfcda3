//! `imgctl inspect IMAGE...` and `imgctl image inspect`: the details of each
//! image, the way docker/cli's `cli/command/inspect/inspector.go` prints
//! them. Missing images are reported after the others.
//!
//! Docker has two views of an image:
//!
//! * The engine's raw JSON, which the default output indents (Go's
//!   `json.Indent`, so nothing is re-escaped) and `--format json` compacts,
//!   both inside one array. imgctl writes the fields it has in the engine's
//!   order and shape (`RawImage`): `null` for an unset `Env`, `Cmd`,
//!   `Entrypoint`, `Volumes` or `Labels`, no `ExposedPorts` or `StopSignal`
//!   when empty.
//! * The client's typed `image.InspectResponse` (`TypedImage`), on which a
//!   `--format` template runs first; its fields have Go's names (`.ID`, not
//!   `.Id`). When that execution fails, docker runs the template again on
//!   the raw JSON decoded into maps (so `{{.Id}}` works there, an unset
//!   `.Config.Env` prints `<no value>` instead of `[]`, and `{{json .}}`
//!   sorts keys). imgctl does the same with its two views; as its template
//!   engine knows one name per field, a template that prints the whole image
//!   or its config as JSON gets the typed view with Go's JSON names and
//!   `omitempty` instead of Go's field names.
//!
//! A template is used as given (`\t` stays a backslash and a `t`), each
//! result is followed by a newline, and when nothing was printed at all
//! docker prints one empty line. A template that does not parse exits 64.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use image_core::{EmptyObject, ErrorKind, ImageConfig, ImageDetails, ImageService, RootFs};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use super::{ExitStatus, Io, error_text, report_last};
use crate::cli::{InspectArgs, ObjectInspectArgs};
use crate::render::template::Template;

/// Go's `json.MarshalIndent(v, "", "    ")`, which escapes `<`, `>` and `&`.
pub fn go_indent_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    Ok(go_escape_html(&indent_json(value)?))
}

/// `json.Indent(dst, src, "", "    ")` of JSON serde wrote: four spaces, and
/// the characters as they are (the engine does not escape HTML characters).
fn indent_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut buffer = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
    value.serialize(&mut serializer)?;
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

/// Go's escaping of `<`, `>` and `&`, which only occur inside JSON strings.
fn go_escape_html(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Go's `time.RFC3339Nano`: nanoseconds without trailing zeros, `Z` for
/// UTC. An unknown time is the empty string.
fn go_rfc3339_nano(time: Option<DateTime<Utc>>) -> String {
    let Some(time) = time else {
        return String::new();
    };
    let text = time.to_rfc3339_opts(SecondsFormat::Nanos, true);
    match text.split_once('.') {
        Some((seconds, fraction)) => {
            let digits = fraction.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{seconds}Z")
            } else {
                format!("{seconds}.{digits}Z")
            }
        }
        None => text,
    }
}

/// The engine's JSON of an image (API 1.41 to 1.45), reduced to the fields
/// imgctl has, in the engine's order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RawImage<'a> {
    #[serde(rename = "Id")]
    id: &'a str,
    repo_tags: &'a [String],
    repo_digests: &'a [String],
    parent: &'a str,
    comment: &'a str,
    created: String,
    author: &'a str,
    config: RawConfig<'a>,
    architecture: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    os: &'a str,
    size: u64,
    #[serde(rename = "RootFS")]
    root_fs: RawRootFs<'a>,
}

/// The engine's `Config` (a `container.Config`), reduced likewise.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RawConfig<'a> {
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<&'a BTreeMap<String, EmptyObject>>,
    env: Option<&'a [String]>,
    cmd: Option<&'a [String]>,
    volumes: Option<&'a BTreeMap<String, EmptyObject>>,
    working_dir: &'a str,
    entrypoint: Option<&'a [String]>,
    labels: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<&'a str>,
}

/// The engine's `RootFS`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RawRootFs<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    layers: &'a [String],
}

fn non_empty<T: ?Sized, F: Fn(&T) -> bool>(value: &T, is_empty: F) -> Option<&T> {
    (!is_empty(value)).then_some(value)
}

impl<'a> RawImage<'a> {
    /// The raw view of `details`.
    pub fn of(details: &'a ImageDetails) -> Self {
        let config = &details.config;
        RawImage {
            id: &details.id,
            repo_tags: &details.repo_tags,
            repo_digests: &details.repo_digests,
            parent: &details.parent,
            comment: &details.comment,
            created: go_rfc3339_nano(details.created),
            author: &details.author,
            config: RawConfig {
                user: &config.user,
                exposed_ports: non_empty(&config.exposed_ports, BTreeMap::is_empty),
                env: non_empty(config.env.as_slice(), <[String]>::is_empty),
                cmd: non_empty(config.cmd.as_slice(), <[String]>::is_empty),
                volumes: non_empty(&config.volumes, BTreeMap::is_empty),
                working_dir: &config.working_dir,
                entrypoint: non_empty(config.entrypoint.as_slice(), <[String]>::is_empty),
                labels: non_empty(&config.labels, BTreeMap::is_empty),
                stop_signal: non_empty(config.stop_signal.as_str(), str::is_empty),
            },
            architecture: &details.architecture,
            variant: details.variant.as_deref().filter(|v| !v.is_empty()),
            os: &details.os,
            size: details.size,
            root_fs: RawRootFs {
                kind: &details.root_fs.kind,
                layers: &details.root_fs.layers,
            },
        }
    }
}

/// docker/cli's typed `image.InspectResponse`, reduced to the fields imgctl
/// has, in Go's order.
///
/// Fields have Go's names, which is what a template names (`.ID`), unless
/// `json` is set: then they have Go's JSON names (`Id`) and the `omitempty`
/// ones are left out when empty, which is what `{{json .}}` and
/// `{{json .Config}}` print. imgctl's template engine knows one name per
/// field, so [`json_view`] picks the view from the template's text.
struct TypedImage<'a> {
    details: &'a ImageDetails,
    json: bool,
}

/// The typed `Config` (a `DockerOCIImageConfig`, all fields `omitempty`).
struct TypedConfig<'a> {
    config: &'a ImageConfig,
    json: bool,
}

/// The typed `RootFS` (`Layers` is `omitempty`).
struct TypedRootFs<'a> {
    root_fs: &'a RootFs,
    json: bool,
}

/// Serializes `value` as field `key`, or leaves it out (a field that
/// exists, but that `json` does not print) when `omit`.
fn field<S: SerializeStruct, T: Serialize + ?Sized>(
    state: &mut S,
    key: &'static str,
    value: &T,
    omit: bool,
) -> Result<(), S::Error> {
    if omit {
        state.skip_field(key)
    } else {
        state.serialize_field(key, value)
    }
}

impl Serialize for TypedImage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.details;
        let json = self.json;
        let created = go_rfc3339_nano(d.created);
        let variant = d.variant.as_deref().unwrap_or_default();
        let mut state = serializer.serialize_struct("image.InspectResponse", 13)?;
        state.serialize_field(if json { "Id" } else { "ID" }, &d.id)?;
        state.serialize_field("RepoTags", &d.repo_tags)?;
        state.serialize_field("RepoDigests", &d.repo_digests)?;
        state.serialize_field("Parent", &d.parent)?;
        state.serialize_field("Comment", &d.comment)?;
        field(&mut state, "Created", &created, json && created.is_empty())?;
        state.serialize_field("Author", &d.author)?;
        let config = TypedConfig {
            config: &d.config,
            json,
        };
        state.serialize_field("Config", &config)?;
        state.serialize_field("Architecture", &d.architecture)?;
        field(&mut state, "Variant", variant, json && variant.is_empty())?;
        state.serialize_field("Os", &d.os)?;
        state.serialize_field("Size", &d.size)?;
        let root_fs = TypedRootFs {
            root_fs: &d.root_fs,
            json,
        };
        state.serialize_field("RootFS", &root_fs)?;
        state.end()
    }
}

impl Serialize for TypedConfig<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.config;
        let json = self.json;
        let mut state = serializer.serialize_struct("v1.DockerOCIImageConfig", 9)?;
        field(&mut state, "User", &c.user, json && c.user.is_empty())?;
        let ports = &c.exposed_ports;
        field(&mut state, "ExposedPorts", ports, json && ports.is_empty())?;
        field(&mut state, "Env", &c.env, json && c.env.is_empty())?;
        let entrypoint = &c.entrypoint;
        field(
            &mut state,
            "Entrypoint",
            entrypoint,
            json && entrypoint.is_empty(),
        )?;
        field(&mut state, "Cmd", &c.cmd, json && c.cmd.is_empty())?;
        field(
            &mut state,
            "Volumes",
            &c.volumes,
            json && c.volumes.is_empty(),
        )?;
        let dir = &c.working_dir;
        field(&mut state, "WorkingDir", dir, json && dir.is_empty())?;
        field(&mut state, "Labels", &c.labels, json && c.labels.is_empty())?;
        let signal = &c.stop_signal;
        field(&mut state, "StopSignal", signal, json && signal.is_empty())?;
        state.end()
    }
}

impl Serialize for TypedRootFs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let layers = &self.root_fs.layers;
        let mut state = serializer.serialize_struct("image.RootFS", 2)?;
        state.serialize_field("Type", &self.root_fs.kind)?;
        field(&mut state, "Layers", layers, self.json && layers.is_empty())?;
        state.end()
    }
}

/// Whether a template prints the whole image or its config as JSON
/// (`{{json .}}`, `{{json .Config}}`, `{{. | json}}`, ...), so that the
/// typed view should carry Go's JSON names and `omitempty`.
fn json_view(template: &str) -> bool {
    let text: String = template.chars().filter(|c| !c.is_whitespace()).collect();
    ["json.", "json.Config"].iter().any(|call| {
        ["}}", "-}}", ")"]
            .iter()
            .any(|end| text.contains(&format!("{call}{end}")))
    }) || text.contains(".|json")
        || text.contains(".Config|json")
}

/// Renders one image through `template` as docker does: on the typed view,
/// else on the raw JSON decoded into maps.
fn render(template: &Template, json: bool, details: &ImageDetails) -> Result<String, String> {
    if let Ok(text) = template.render(&TypedImage { details, json }) {
        return Ok(text);
    }
    let raw = serde_json::to_value(RawImage::of(details)).map_err(|e| e.to_string())?;
    template
        .render_raw(&raw)
        .map_err(|e| format!("template parsing error: {e}"))
}

/// The object types docker's top-level `inspect --type` accepts.
const OBJECT_TYPES: [&str; 10] = [
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

/// Runs the top-level `inspect`: docker looks a name up as every kind of
/// object and says `Error: No such object: NAME` when none matches (also
/// for a name that is not a valid reference). imgctl's objects are images;
/// `--type image` behaves as `image inspect`, and `-s` only concerns
/// containers.
pub async fn run_object(
    service: &dyn ImageService,
    args: &ObjectInspectArgs,
    io: &mut Io<'_>,
) -> ExitStatus {
    match args.kind.as_deref() {
        None | Some("") => run_with(service, &args.inspect, io, Lookup::AnyObject).await,
        Some("image") => run(service, &args.inspect, io).await,
        Some(kind) if OBJECT_TYPES.contains(&kind) => {
            let _ = writeln!(
                io.err,
                "Error: imgctl inspects images only, not objects of type {kind:?}; \
                 use docker inspect --type {kind}"
            );
            ExitStatus::Failure
        }
        Some(kind) => {
            let types: Vec<String> = OBJECT_TYPES.iter().map(|t| format!("{t:?}")).collect();
            let _ = writeln!(
                io.err,
                "unknown type: {kind:?}: must be one of {}",
                types.join(", ")
            );
            ExitStatus::Failure
        }
    }
}

/// How a name that names no image is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// `image inspect`: the engine's error.
    Image,
    /// Top-level `inspect`: `Error: No such object: NAME`.
    AnyObject,
}

/// Runs `image inspect`.
pub async fn run(service: &dyn ImageService, args: &InspectArgs, io: &mut Io<'_>) -> ExitStatus {
    run_with(service, args, io, Lookup::Image).await
}

async fn run_with(
    service: &dyn ImageService,
    args: &InspectArgs,
    io: &mut Io<'_>,
    lookup: Lookup,
) -> ExitStatus {
    let format = args.format.as_deref().unwrap_or_default();
    let template = match format {
        "" | "json" => None,
        text => match Template::parse(text) {
            Ok(template) => Some(template),
            Err(error) => {
                let _ = writeln!(io.err, "template parsing error: {error}");
                return ExitStatus::BadTemplate;
            }
        },
    };
    let mut found: Vec<ImageDetails> = Vec::new();
    let mut errors = Vec::new();
    let mut rendered = String::new();
    for image in &args.images {
        match service.inspect(image).await {
            Ok(details) => {
                if let Some(template) = &template {
                    match render(template, json_view(format), &details) {
                        Ok(text) => {
                            rendered.push_str(&text);
                            rendered.push('\n');
                        }
                        Err(error) => errors.push(error),
                    }
                }
                found.push(details);
            }
            Err(error)
                if lookup == Lookup::AnyObject
                    && matches!(
                        error.kind(),
                        ErrorKind::NotFound | ErrorKind::InvalidReference
                    ) =>
            {
                errors.push(format!("Error: No such object: {image}"));
            }
            Err(error) => errors.push(error_text(&error)),
        }
    }
    let raw: Vec<RawImage<'_>> = found.iter().map(RawImage::of).collect();
    let output = match (&template, format) {
        (Some(_), _) if rendered.is_empty() => Ok("\n".to_string()),
        (Some(_), _) => Ok(rendered),
        (None, _) if raw.is_empty() => Ok("[]\n".to_string()),
        (None, "json") => serde_json::to_string(&raw).map(|text| text + "\n"),
        (None, _) => indent_json(&raw).map(|text| text + "\n"),
    };
    let mut status = ExitStatus::Success;
    match output {
        Ok(text) => {
            let _ = io.out.write_all(text.as_bytes());
        }
        Err(error) => {
            let _ = writeln!(io.err, "Error: {error}");
            status = ExitStatus::Failure;
        }
    }
    report_last(io, status, &errors)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn json_view_is_for_whole_image_or_config_json() {
        for text in [
            "{{json .}}",
            "{{ json . }}",
            "{{json .Config}}",
            "{{. | json}}",
            "{{printf \"%s\" (json .)}}",
        ] {
            assert!(json_view(text), "{text}");
        }
        for text in [
            "{{.Id}}",
            "{{json .Config.Labels}}",
            "{{json .RootFS}}",
            "{{.Config | printf \"%v\"}}",
        ] {
            assert!(!json_view(text), "{text}");
        }
    }

    #[test]
    fn times_are_go_rfc3339_nano() {
        let at = |nanos| Utc.timestamp_opt(1_700_000_000, nanos).single();
        assert_eq!(go_rfc3339_nano(at(0)), "2023-11-14T22:13:20Z");
        assert_eq!(
            go_rfc3339_nano(at(423_953_280)),
            "2023-11-14T22:13:20.42395328Z"
        );
        assert_eq!(go_rfc3339_nano(at(5)), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(go_rfc3339_nano(None), "");
    }
}
