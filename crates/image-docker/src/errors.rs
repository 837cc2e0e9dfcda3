//! How the engine's failures become [`ImageError`] kinds: HTTP statuses,
//! `errorDetail` messages inside progress streams, and connection failures.
//! Pure code, unit-tested on the messages real engines send.

use std::error::Error as StdError;
use std::io;

use image_core::{AuthFailure, ConflictReason, ImageError};

/// What a failed request was about, so the error can name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The engine endpoint, for unavailable errors.
    pub endpoint: &'a str,
    /// The image or reference the request named, if any.
    pub subject: &'a str,
    /// The registry host involved, if any.
    pub registry: &'a str,
}

/// Maps an engine HTTP error status and its message.
pub(crate) fn from_status(status: u16, message: &str, cx: Context<'_>) -> ImageError {
    match status {
        404 => not_found(message, cx),
        409 => conflict(message, cx),
        401 => unauthorized(AuthFailure::Unauthorized, message, cx),
        403 => unauthorized(AuthFailure::Denied, message, cx),
        400 => ImageError::invalid_argument(message.to_string()),
        _ => from_message(message, cx),
    }
}

/// Maps a message without a status: an `errorDetail` in a progress stream,
/// or a 500 from the engine, by what the engine and registries say.
pub(crate) fn from_message(message: &str, cx: Context<'_>) -> ImageError {
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "incorrect username or password",
    ]) {
        return unauthorized(AuthFailure::Unauthorized, message, cx);
    }
    if has(&["denied", "forbidden"]) {
        return unauthorized(AuthFailure::Denied, message, cx);
    }
    if has(&[
        "no such image",
        "manifest unknown",
        "not found",
        "does not exist",
    ]) {
        return not_found(message, cx);
    }
    if has(&["conflict:"]) {
        return conflict(message, cx);
    }
    if has(&[
        "connection refused",
        "dial tcp",
        "no such host",
        "i/o timeout",
        "tls:",
        "eof",
        "registry",
        "blob upload",
        "manifest",
        "connection reset",
    ]) {
        return ImageError::Registry {
            registry: cx.registry.to_string(),
            message: message.to_string(),
        };
    }
    ImageError::backend(
        message.to_string(),
        io::Error::other(format!("the engine reported: {message}")),
    )
}

fn not_found(message: &str, cx: Context<'_>) -> ImageError {
    // API 1.41 says `no such image: X: No such image: X`, 1.45 `No such
    // image: X`: the name is what follows the last `no such image: `.
    const PREFIX: &str = "no such image: ";
    let reference = match message.to_ascii_lowercase().rfind(PREFIX) {
        Some(at) => message[at + PREFIX.len()..].trim().to_string(),
        None if cx.subject.is_empty() => message.to_string(),
        None => format!("{} ({message})", cx.subject),
    };
    ImageError::NotFound { reference }
}

fn unauthorized(kind: AuthFailure, message: &str, cx: Context<'_>) -> ImageError {
    ImageError::Unauthorized {
        kind,
        registry: cx.registry.to_string(),
        message: message.to_string(),
    }
}

/// A 409 from the engine, with the containers it names.
fn conflict(message: &str, cx: Context<'_>) -> ImageError {
    let containers = container_ids(message);
    let reason = if !containers.is_empty() {
        ConflictReason::InUse { containers }
    } else if message.contains("referenced in multiple repositories") {
        ConflictReason::MultipleReferences
    } else {
        ConflictReason::Other
    };
    ImageError::Conflict {
        reference: cx.subject.to_string(),
        reason,
        message: message.to_string(),
    }
}

/// The container IDs a conflict message names: the word after `container`
/// when it is hex (`... used by stopped container 1a2b3c4d5e6f`,
/// `container 1a2b3c4d5e6f is using its referenced image ...`).
pub(crate) fn container_ids(message: &str) -> Vec<String> {
    let words: Vec<&str> = message.split_whitespace().collect();
    let mut ids = Vec::new();
    for pair in words.windows(2) {
        if pair[0] == "container" {
            let id = pair[1].trim_matches(|c: char| !c.is_ascii_hexdigit());
            if id.len() >= 12
                && id.chars().all(|c| c.is_ascii_hexdigit())
                && !ids.contains(&id.to_string())
            {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// Whether an error (or any of its sources) is a failure to reach the
/// engine at all, and which hint fits.
pub(crate) fn connection_hint(error: &(dyn StdError + 'static)) -> Option<&'static str> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
                    return Some("is the docker daemon running?");
                }
                io::ErrorKind::PermissionDenied => {
                    return Some(
                        "permission denied: is your user allowed to use the docker socket?",
                    );
                }
                io::ErrorKind::TimedOut => return Some("the connection timed out"),
                _ => {}
            }
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("connection refused") || text.contains("no such file or directory") {
            return Some("is the docker daemon running?");
        }
        current = e.source();
    }
    None
}

/// Maps an error of bollard's.
pub(crate) fn from_bollard(error: bollard::errors::Error, cx: Context<'_>) -> ImageError {
    use bollard::errors::Error as B;
    match error {
        B::DockerResponseServerError {
            status_code,
            message,
        } => from_status(status_code, &message, cx),
        B::DockerStreamError { error } => from_message(&error, cx),
        B::RequestTimeoutError => ImageError::EngineUnavailable {
            endpoint: cx.endpoint.to_string(),
            hint: "the engine did not answer in time".to_string(),
        },
        other => match connection_hint(&other) {
            Some(hint) => ImageError::EngineUnavailable {
                endpoint: cx.endpoint.to_string(),
                hint: hint.to_string(),
            },
            None => ImageError::backend(format!("talking to the engine at {}", cx.endpoint), other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_core::ErrorKind;

    const CX: Context<'static> = Context {
        endpoint: "unix:///tmp/docker.sock",
        subject: "app:1",
        registry: "127.0.0.1:5000",
    };

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(
            from_status(404, "No such image: nope:latest", CX).to_string(),
            "No such image: nope:latest"
        );
        assert_eq!(from_status(401, "x", CX).kind(), ErrorKind::Unauthorized);
        assert_eq!(from_status(403, "x", CX).kind(), ErrorKind::Unauthorized);
        assert_eq!(
            from_status(400, "bad", CX).kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            from_status(500, "something odd", CX).kind(),
            ErrorKind::Backend
        );
    }

    #[test]
    fn conflicts_name_their_containers() {
        let stopped = "conflict: unable to delete 0123456789ab (must be forced) - image is being used by stopped container 9876543210fe";
        match from_status(409, stopped, CX) {
            ImageError::Conflict {
                reason: ConflictReason::InUse { containers },
                message,
                ..
            } => {
                assert_eq!(containers, vec!["9876543210fe".to_string()]);
                assert_eq!(message, stopped);
            }
            other => panic!("{other:?}"),
        }
        let by_ref = "conflict: unable to remove repository reference \"app:1\" (must force) - container 4c1d2b3a4f5e is using its referenced image 0123456789ab";
        assert!(matches!(
            from_status(409, by_ref, CX),
            ImageError::Conflict { reason: ConflictReason::InUse { ref containers }, .. } if containers == &["4c1d2b3a4f5e".to_string()]
        ));
        let multi = "conflict: unable to delete 0123456789ab (must be forced) - image is referenced in multiple repositories";
        assert!(matches!(
            from_status(409, multi, CX),
            ImageError::Conflict {
                reason: ConflictReason::MultipleReferences,
                ..
            }
        ));
    }

    #[test]
    fn stream_messages_map_to_kinds() {
        let cases = [
            (
                "unauthorized: authentication required",
                ErrorKind::Unauthorized,
            ),
            (
                "Get \"http://127.0.0.1:5000/v2/\": no basic auth credentials",
                ErrorKind::Unauthorized,
            ),
            (
                "denied: requested access to the resource is denied",
                ErrorKind::Unauthorized,
            ),
            (
                "manifest for 127.0.0.1:5000/app:nope not found: manifest unknown: manifest unknown",
                ErrorKind::NotFound,
            ),
            (
                "Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused",
                ErrorKind::Registry,
            ),
            ("unexpected EOF", ErrorKind::Registry),
        ];
        for (message, kind) in cases {
            assert_eq!(from_message(message, CX).kind(), kind, "{message}");
        }
    }

    #[test]
    fn refused_connections_are_unavailable() {
        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(connection_hint(&io), Some("is the docker daemon running?"));
        let missing = io::Error::new(io::ErrorKind::NotFound, "no socket");
        assert_eq!(
            connection_hint(&missing),
            Some("is the docker daemon running?")
        );
        let other = io::Error::other("weird");
        assert_eq!(connection_hint(&other), None);
    }
}
