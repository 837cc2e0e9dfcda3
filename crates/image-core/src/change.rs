//! The change feed of an engine: what [`ImageService::changes`] yields.
//!
//! A [`ChangeEvent`] says that an image or a container changed (created,
//! tagged, deleted, ...), in the engine's own words for the action, with
//! the object's ID. Consumers such as the list cache
//! ([`CachedImageService`](crate::cache::CachedImageService)) use it to
//! know when what they hold is out of date; they never rebuild state from
//! the events alone.
//!
//! [`ImageService::changes`]: crate::ImageService::changes

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A stream of changes on the engine, as they happen. An `Err` item means
/// the feed broke (changes may have been missed); the stream usually ends
/// after it. Dropping the stream unsubscribes.
pub type ChangeStream = BoxStream<'static, Result<ChangeEvent>>;

/// What kind of object a [`ChangeEvent`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeObject {
    /// An image: pulled, tagged, untagged, deleted, loaded, built, ...
    Image,
    /// A container: created, started, stopped, destroyed, committed, ...
    Container,
}

impl ChangeObject {
    /// docker's word for the object type (`image`, `container`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeObject::Image => "image",
            ChangeObject::Container => "container",
        }
    }
}

/// One change on the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// What changed.
    pub object: ChangeObject,
    /// The engine's word for what happened, as in docker's event stream:
    /// `pull`, `tag`, `untag`, `delete`, `load`, `push`, `prune`, `create`,
    /// `start`, `die`, `destroy`, ... (actions may carry a suffix, such as
    /// `exec_start: sh`).
    pub action: String,
    /// The object's ID (an image ID or a container ID); empty for changes
    /// about no single object, such as `prune`.
    pub id: String,
}

impl ChangeEvent {
    /// An image change.
    pub fn image(action: impl Into<String>, id: impl Into<String>) -> ChangeEvent {
        ChangeEvent {
            object: ChangeObject::Image,
            action: action.into(),
            id: id.into(),
        }
    }

    /// A container change.
    pub fn container(action: impl Into<String>, id: impl Into<String>) -> ChangeEvent {
        ChangeEvent {
            object: ChangeObject::Container,
            action: action.into(),
            id: id.into(),
        }
    }

    /// Whether this change can alter what [`ImageService::list`] returns.
    ///
    /// Every image change can. A container change can when it creates or
    /// removes a container (the per-image container counts) or commits one
    /// into an image (docker reports `commit` on the container only); the
    /// container changes that only touch a running container's state
    /// (start, stop, exec, health checks, ...) cannot. Unknown actions
    /// count as changes.
    ///
    /// [`ImageService::list`]: crate::ImageService::list
    pub fn affects_image_list(&self) -> bool {
        match self.object {
            ChangeObject::Image => true,
            ChangeObject::Container => {
                // Actions may carry a suffix, as `exec_start: sh -c ...` or
                // `health_status: healthy`.
                let action = self.action.split(':').next().unwrap_or(&self.action).trim();
                !matches!(
                    action,
                    "attach"
                        | "detach"
                        | "exec_create"
                        | "exec_start"
                        | "exec_detach"
                        | "exec_die"
                        | "health_status"
                        | "kill"
                        | "die"
                        | "oom"
                        | "pause"
                        | "unpause"
                        | "resize"
                        | "restart"
                        | "start"
                        | "stop"
                        | "top"
                        | "rename"
                        | "update"
                        | "copy"
                        | "archive-path"
                        | "extract-to-dir"
                        | "export"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_state_changes_leave_the_list_alone() {
        for action in [
            "start",
            "die",
            "exec_start: sh -c true",
            "health_status: healthy",
        ] {
            assert!(
                !ChangeEvent::container(action, "c").affects_image_list(),
                "{action}"
            );
        }
        for action in ["create", "destroy", "commit", "something-new"] {
            assert!(
                ChangeEvent::container(action, "c").affects_image_list(),
                "{action}"
            );
        }
        assert!(ChangeEvent::image("start", "sha256:x").affects_image_list());
    }

    #[test]
    fn serializes_in_snake_case() {
        let json = serde_json::to_string(&ChangeEvent::image("tag", "sha256:ab")).ok();
        assert_eq!(
            json.as_deref(),
            Some(r#"{"object":"image","action":"tag","id":"sha256:ab"}"#)
        );
    }
}
