//! `imgctl image layers IMAGE` (beyond docker): an image's layers, newest
//! first as `docker history` lists steps, each with its diff ID, size, the
//! number of other local images that share it and the step that made it,
//! so that the `SHARED SIZE` of `docker system df -v` can be traced to
//! layers:
//!
//! ```text
//! LAYER          SIZE      SHARED WITH   CREATED BY
//! ef3c86b3cebe   950kB     0             /bin/sh -c #(nop) ADD file:2c21363e763b5731a…
//! 49a49d71589c   700kB     1             /bin/sh -c #(nop) ADD file:fee5af8372b547cf3…
//! 3057f0a03d38   3.4MB     5             /bin/sh -c #(nop) ADD file:755cd40b4a3ba9d53…
//! ```
//!
//! Layers and sizes come from the engine's snapshot
//! ([`ImageService::snapshot`]). Two images share a layer when they have
//! the same chain ID at the same position (moby's layer identity: the layer
//! and everything under it), so `SHARED WITH` counts the other images,
//! intermediate ones included (as docker's shared sizes count them), whose
//! chain has this layer's chain ID at this position.
//!
//! `CREATED BY` pairs layers with the image's history, where the engine
//! does not say which steps made a layer: exactly where the history names
//! local step images (the classic builder's; see [`created_by_step_images`]),
//! else by the heuristic of [`created_by`] (used only where it agrees with
//! the exact pairs). A layer no step can be paired with shows an empty
//! cell.
//! Diff IDs are shortened to 12 hex characters and `CREATED BY` to 45
//! characters (as `docker history`) unless `--no-trunc`; `-q` prints only
//! diff IDs; `--format` takes docker's `table`, `table TEMPLATE`, `json` or
//! a Go template over `.DiffID`, `.ChainID`, `.Size`, `.SharedWith` and
//! `.CreatedBy`.

use std::collections::{BTreeMap, HashMap};

use image_core::archive::chain_ids;
use image_core::memory::SnapshotLayer;
use image_core::{HistoryEntry, ImageError, ImageService, short_id};
use serde::Serialize;

use super::history::ellipsis;
use super::{ExitStatus, Io, print_output, report};
use crate::cli::LayersArgs;
use crate::render::format::{Format, FormatError};
use crate::render::units::human_size_with_precision;

const DEFAULT_TABLE: &str = "table {{.DiffID}}\t{{.Size}}\t{{.SharedWith}}\t{{.CreatedBy}}";
const QUIET: &str = "{{.DiffID}}";

/// One row: a layer of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerRow {
    /// `LAYER`: the diff ID.
    #[serde(rename = "DiffID")]
    pub diff_id: String,
    /// `CHAIN ID`.
    #[serde(rename = "ChainID")]
    pub chain_id: String,
    /// `SIZE`.
    #[serde(rename = "Size")]
    pub size: String,
    /// `SHARED WITH`: how many other local images have this layer.
    #[serde(rename = "SharedWith")]
    pub shared_with: String,
    /// `CREATED BY`.
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
}

fn headers() -> BTreeMap<String, String> {
    [
        ("DiffID", "LAYER"),
        ("ChainID", "CHAIN ID"),
        ("Size", "SIZE"),
        ("SharedWith", "SHARED WITH"),
        ("CreatedBy", "CREATED BY"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Instructions that only change the image's configuration: a history step
/// running one of them, sized 0, made no layer.
const CONFIG_ONLY: &[&str] = &[
    "ENV",
    "LABEL",
    "CMD",
    "ENTRYPOINT",
    "EXPOSE",
    "VOLUME",
    "USER",
    "ARG",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
    "ONBUILD",
    "MAINTAINER",
];

/// Whether a history step sized 0 may still have made a (empty) layer:
/// anything but a configuration-only instruction (classic builder
/// `/bin/sh -c #(nop) ENV ...`, or BuildKit's `ENV ...`) or an empty
/// command.
fn may_make_layer(created_by: &str) -> bool {
    let text = created_by.trim();
    let instruction = text
        .strip_prefix("/bin/sh -c #(nop)")
        .map_or(text, str::trim_start);
    let word = instruction
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    !word.is_empty() && !CONFIG_ONLY.contains(&word.as_str())
}

/// Whether `steps` can be the steps that made `layers`, one each, in order:
/// every pair has the same size.
fn pairs_up(layers: &[SnapshotLayer], steps: &[&HistoryEntry]) -> bool {
    layers.len() == steps.len() && layers.iter().zip(steps).all(|(l, s)| l.size == s.size)
}

/// The command of the history step that made each layer, base first;
/// `None` where no step can be told apart. `history` is newest first, as
/// engines give it.
///
/// Engines do not say which steps made a layer (their API sizes every
/// other step at 0), so, oldest step first:
///
/// 1. if there are as many steps as layers and their sizes agree in order,
///    each step made the layer at its position;
/// 2. else the steps that made layers are taken to be those with a size,
///    plus those sized 0 that do not run a configuration-only instruction
///    (`ENV`, `LABEL`, `CMD`, ...; BuildKit's and the classic builder's
///    spelling), if they are as many as the layers and their sizes agree;
/// 3. else only layers with a size are paired with steps with a size, in
///    order, if they are as many and their sizes agree, and layers of size 0
///    get `None`;
/// 4. else every layer gets `None`.
pub fn created_by(layers: &[SnapshotLayer], history: &[HistoryEntry]) -> Vec<Option<String>> {
    let steps: Vec<&HistoryEntry> = history.iter().rev().collect();
    let command = |step: &&HistoryEntry| Some(step.created_by.clone());
    if pairs_up(layers, &steps) {
        return steps.iter().map(command).collect();
    }
    let likely: Vec<&HistoryEntry> = steps
        .iter()
        .copied()
        .filter(|s| s.size > 0 || may_make_layer(&s.created_by))
        .collect();
    if pairs_up(layers, &likely) {
        return likely.iter().map(command).collect();
    }
    let sized_layers: Vec<SnapshotLayer> = layers.iter().filter(|l| l.size > 0).cloned().collect();
    let sized_steps: Vec<&HistoryEntry> = steps.iter().copied().filter(|s| s.size > 0).collect();
    if pairs_up(&sized_layers, &sized_steps) {
        let mut sized = sized_steps.iter();
        return layers
            .iter()
            .map(|layer| {
                if layer.size > 0 {
                    sized.next().and_then(command)
                } else {
                    None
                }
            })
            .collect();
    }
    vec![None; layers.len()]
}

/// The layer each history step with a local image made, where that can be
/// known exactly: base first, `None` elsewhere. `chains` are the image's
/// chain IDs; `history` is newest first; `chains_of` gives the chain IDs of
/// a local image by ID.
///
/// The classic builder leaves an image per step, and the history names it.
/// Such a step image whose chain IDs begin ours tells how many of our layers
/// existed after the step; a step made at most one layer, so when the step
/// before it (oldest first; none for the first step) had one layer fewer,
/// the step made the layer at that count.
pub fn created_by_step_images(
    chains: &[String],
    history: &[HistoryEntry],
    chains_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Vec<Option<String>> {
    let mut commands = vec![None; chains.len()];
    let count_after = |step: &HistoryEntry| -> Option<usize> {
        if step.id == "<missing>" {
            return None;
        }
        let theirs = chains_of(&step.id)?;
        let n = theirs.len();
        (n <= chains.len() && theirs.last() == n.checked_sub(1).and_then(|i| chains.get(i)))
            .then_some(n)
    };
    let mut before = Some(0);
    for step in history.iter().rev() {
        let after = count_after(step);
        if let (Some(before), Some(after)) = (before, after)
            && after == before + 1
        {
            commands[before] = Some(step.created_by.clone());
        }
        before = after;
    }
    commands
}

/// The rows of the image `id` of `snapshot`, newest layer first.
pub fn rows_of(
    id: &str,
    snapshot: &image_core::memory::EngineSnapshot,
    history: &[HistoryEntry],
    truncate: bool,
) -> Option<Vec<LayerRow>> {
    let image = snapshot.images.iter().find(|image| image.id == id)?;
    let chains_of = |layers: &[SnapshotLayer]| {
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        chain_ids(&diff_ids)
    };
    let chains = chains_of(&image.layers);
    // How many images have each chain ID at each position, this one
    // included.
    let mut holders: HashMap<(usize, String), usize> = HashMap::new();
    for other in &snapshot.images {
        for (position, chain) in chains_of(&other.layers).into_iter().enumerate() {
            if chains.get(position) == Some(&chain) {
                *holders.entry((position, chain)).or_default() += 1;
            }
        }
    }
    let exact = created_by_step_images(&chains, history, |step| {
        let step = snapshot.images.iter().find(|image| image.id == step)?;
        Some(chains_of(&step.layers))
    });
    let guessed = created_by(&image.layers, history);
    // What step images pin down wins; the guess fills in the rest only when
    // it agrees with every layer they pin down.
    let agrees = exact
        .iter()
        .zip(&guessed)
        .all(|(exact, guessed)| exact.is_none() || exact == guessed);
    let commands: Vec<Option<String>> = if agrees { guessed } else { exact };
    let mut rows: Vec<LayerRow> = image
        .layers
        .iter()
        .zip(chains)
        .zip(commands)
        .enumerate()
        .map(|(position, ((layer, chain), command))| {
            let shared = holders
                .get(&(position, chain.clone()))
                .map_or(0, |n| n.saturating_sub(1));
            let command = command.unwrap_or_default().replace('\t', " ");
            LayerRow {
                diff_id: if truncate {
                    short_id(&layer.diff_id).to_string()
                } else {
                    layer.diff_id.clone()
                },
                chain_id: if truncate {
                    short_id(&chain).to_string()
                } else {
                    chain
                },
                size: human_size_with_precision(layer.size as f64, 3),
                shared_with: shared.to_string(),
                created_by: if truncate {
                    ellipsis(&command, 45)
                } else {
                    command
                },
            }
        })
        .collect();
    rows.reverse();
    Some(rows)
}

/// Runs `image layers`.
pub async fn run(service: &dyn ImageService, args: &LayersArgs, io: &mut Io<'_>) -> ExitStatus {
    let format_text = match args.format.as_deref() {
        None | Some("") | Some("table") if args.quiet => QUIET,
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some(custom) => custom,
    };
    let format = match Format::parse(format_text) {
        Ok(format) => format,
        Err(FormatError(message)) => {
            let _ = writeln!(io.err, "{message}");
            return ExitStatus::Failure;
        }
    };
    let (details, history) =
        match futures::try_join!(service.inspect(&args.image), service.history(&args.image)) {
            Ok(found) => found,
            Err(error) => return report(io, &error),
        };
    let snapshot = match service.snapshot().await {
        Ok(snapshot) => snapshot,
        Err(error) => return report(io, &error),
    };
    let Some(rows) = rows_of(&details.id, &snapshot, &history, !args.no_trunc) else {
        // Removed between the two questions.
        return report(io, &ImageError::not_found(&args.image));
    };
    print_output(io, format.write(&rows, &headers()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image_core::memory::{EngineSnapshot, SnapshotImage};

    use super::*;

    fn step(created_by: &str, size: u64) -> HistoryEntry {
        HistoryEntry {
            id: "<missing>".to_string(),
            created: None,
            created_by: created_by.to_string(),
            tags: Vec::new(),
            size,
            comment: String::new(),
        }
    }

    fn layers(sizes: &[u64]) -> Vec<SnapshotLayer> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| SnapshotLayer {
                diff_id: format!("sha256:{i:064}"),
                size: *size,
            })
            .collect()
    }

    #[test]
    fn created_by_pairs_layers_with_the_steps_that_made_them() {
        // Every step made a layer.
        let history = vec![step("b", 5), step("a", 3)];
        assert_eq!(
            created_by(&layers(&[3, 5]), &history),
            vec![Some("a".into()), Some("b".into())]
        );
        // Configuration steps in between; an empty RUN layer.
        let history = vec![
            step("/bin/sh -c #(nop)  CMD [\"sh\"]", 0),
            step("/bin/sh -c #(nop) COPY file:abc in /app ", 50),
            step("/bin/sh -c mkdir /data", 0),
            step("/bin/sh -c #(nop)  ENV X=1", 0),
            step("/bin/sh -c #(nop) ADD file:def in / ", 100),
        ];
        assert_eq!(
            created_by(&layers(&[100, 0, 50]), &history),
            vec![
                Some("/bin/sh -c #(nop) ADD file:def in / ".into()),
                Some("/bin/sh -c mkdir /data".into()),
                Some("/bin/sh -c #(nop) COPY file:abc in /app ".into()),
            ]
        );
        // BuildKit's words, without the empty layer: the sized steps only.
        let history = vec![
            step("CMD [\"sh\"]", 0),
            step("COPY f / # buildkit", 7),
            step("WORKDIR /w", 0),
            step("RUN /bin/sh -c true # buildkit", 0),
            step("ADD rootfs.tar / # buildkit", 9),
        ];
        assert_eq!(
            created_by(&layers(&[9, 0, 7]), &history),
            vec![
                Some("ADD rootfs.tar / # buildkit".into()),
                None,
                Some("COPY f / # buildkit".into())
            ]
        );
        // Nothing adds up.
        assert_eq!(
            created_by(&layers(&[1, 2]), &[step("x", 5)]),
            vec![None, None]
        );
        assert_eq!(created_by(&[], &[]), Vec::<Option<String>>::new());
    }

    #[test]
    fn step_images_pin_down_the_steps_that_made_layers() {
        let chains: Vec<String> = (0..3).map(|i| format!("sha256:c{i}")).collect();
        let local = |id: &str, created_by: &str| HistoryEntry {
            id: id.to_string(),
            ..step(created_by, 0)
        };
        // Newest first: the classic builder's history of a build with an
        // empty `RUN true` (no layer) after `RUN mkdir` (a layer of 0 B).
        let history = vec![
            local("s6", "CMD"),
            local("s5", "COPY f"),
            local("s4", "LABEL"),
            local("s3", "RUN true"),
            local("s2", "RUN mkdir /data"),
            local("s1", "ENV"),
            local("s0", "COPY busybox"),
        ];
        let counts = [
            ("s0", 1),
            ("s1", 1),
            ("s2", 2),
            ("s3", 2),
            ("s4", 2),
            ("s5", 3),
            ("s6", 3),
        ];
        let chains_of = |id: &str| {
            let n = counts.iter().find(|(s, _)| *s == id)?.1;
            Some(chains[..n].to_vec())
        };
        assert_eq!(
            created_by_step_images(&chains, &history, chains_of),
            vec![
                Some("COPY busybox".to_string()),
                Some("RUN mkdir /data".to_string()),
                Some("COPY f".to_string()),
            ]
        );
        // A pulled base (`<missing>` steps) leaves its layers unknown; a
        // step image of another chain tells nothing.
        let mut pulled = history.clone();
        pulled[5].id = "<missing>".into();
        pulled[6].id = "<missing>".into();
        pulled[4].id = "elsewhere".into();
        let other = |id: &str| {
            if id == "elsewhere" {
                return Some(vec!["sha256:x".to_string(), "sha256:y".to_string()]);
            }
            chains_of(id)
        };
        assert_eq!(
            created_by_step_images(&chains, &pulled, other),
            vec![None, None, Some("COPY f".to_string())]
        );
    }

    #[test]
    fn sharing_is_by_chain_id_at_the_same_position() {
        let base = layers(&[10, 20]);
        let mut other_top = base.clone();
        other_top[1].diff_id = format!("sha256:{}", "f".repeat(64));
        // The same diff ID on top of a different base is another layer.
        let mut rebased = base.clone();
        rebased[0].diff_id = format!("sha256:{}", "e".repeat(64));
        let image = |id: &str, layers: Vec<SnapshotLayer>| SnapshotImage {
            id: id.to_string(),
            layers,
            ..SnapshotImage::default()
        };
        let snapshot = EngineSnapshot {
            images: vec![
                image("sha256:1", base.clone()),
                image("sha256:2", base[..1].to_vec()),
                image("sha256:3", other_top),
                image("sha256:4", rebased),
            ],
            containers: Vec::new(),
        };
        let history = vec![step("top", 20), step("base", 10)];
        let rows = rows_of("sha256:1", &snapshot, &history, true).unwrap();
        let cells: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.size.as_str(),
                    r.shared_with.as_str(),
                    r.created_by.as_str(),
                )
            })
            .collect();
        assert_eq!(cells, vec![("20B", "0", "top"), ("10B", "2", "base")]);
        assert_eq!(rows[1].diff_id, "000000000000");
        assert_eq!(
            rows[1].chain_id, rows[1].diff_id,
            "the base's chain ID is its diff ID"
        );
        assert!(rows_of("sha256:9", &snapshot, &history, true).is_none());
    }
}
