//! The one public error type of imgctl's image operations.
//!
//! Every backend converts its own failures into [`ImageError`], whose variants
//! say *what happened*, so that frontends map them to exit codes and HTTP
//! statuses by matching on the variant, never by comparing strings. The
//! `Display` texts follow docker's wording where docker has one, because users
//! already know those messages.

use std::fmt;

use crate::reference::ReferenceError;

/// Shorthand for results of image operations.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

/// A boxed error from a backend, kept as the source of [`ImageError::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an operation conflicts with the engine's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictReason {
    /// The image is used by these containers (ids, short or full).
    InUse {
        /// The containers that use the image.
        containers: Vec<String>,
    },
    /// The image is referenced in several repositories and must be removed
    /// by tag, or forced.
    MultipleReferences,
    /// The target already exists (for example a tag that may not move).
    AlreadyExists,
    /// Another conflict; the text comes from the engine.
    Other,
}

/// The error of every [`ImageService`](crate::ImageService) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// No image (or container, or registry repository) matches the reference.
    #[error("No such image: {reference}")]
    NotFound {
        /// The reference, ID or digest that was looked up, as the caller gave it.
        reference: String,
    },

    /// The text is not a valid image reference. Displays distribution's
    /// message unchanged, as docker does.
    #[error("{source}")]
    InvalidReference {
        /// What the caller gave.
        input: String,
        /// Why it is invalid, in distribution/reference's words.
        #[source]
        source: ReferenceError,
    },

    /// A filter key or value is not valid.
    #[error("{message}")]
    InvalidFilter {
        /// The offending `key=value` text (or key).
        filter: String,
        /// docker's wording, for example `invalid filter 'bogus'`.
        message: String,
    },

    /// An argument other than a reference or filter is not valid
    /// (for example a malformed platform or an empty tag list).
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong and what to do instead.
        message: String,
    },

    /// The operation conflicts with the engine's state: the image is in use,
    /// or it must be forced.
    ///
    /// The message is docker's full text, for example `conflict: unable to
    /// delete 0123456789ab (must be forced) - image is being used by stopped
    /// container 9876543210fe`.
    #[error("{message}")]
    Conflict {
        /// The image the operation was about, as the caller named it.
        reference: String,
        /// Why, as a structured reason callers can match on.
        reason: ConflictReason,
        /// The human-readable explanation, in docker's words.
        message: String,
    },

    /// A registry refused the credentials (401) or denied access (403).
    #[error("{kind} by registry {registry}: {message}")]
    Unauthorized {
        /// Whether authentication failed or access was denied.
        kind: AuthFailure,
        /// The registry host, for example `docker.io` or `127.0.0.1:5000`.
        registry: String,
        /// The registry's message.
        message: String,
    },

    /// The engine cannot be reached.
    #[error("cannot connect to the Docker engine at {endpoint}: {hint}")]
    EngineUnavailable {
        /// The endpoint that was tried, for example `unix:///var/run/docker.sock`.
        endpoint: String,
        /// What to check, for example `is the docker daemon running?`.
        hint: String,
    },

    /// A registry failed in a way that is not an authorization problem.
    #[error("registry {registry}: {message}")]
    Registry {
        /// The registry host.
        registry: String,
        /// What went wrong.
        message: String,
    },

    /// The operation was cancelled before it finished.
    #[error("operation cancelled")]
    Cancelled,

    /// This backend cannot perform the operation.
    #[error("{operation} is not supported by the {backend} backend")]
    NotSupported {
        /// The operation, for example `search`.
        operation: String,
        /// The backend's name, for example `memory`.
        backend: String,
    },

    /// Any other failure of the backend, with its cause.
    #[error("{message}")]
    Backend {
        /// What was being done when it failed.
        message: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// The two ways a registry says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// 401: missing or wrong credentials.
    Unauthorized,
    /// 403: the credentials are valid but lack access.
    Denied,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthFailure::Unauthorized => "unauthorized",
            AuthFailure::Denied => "denied",
        })
    }
}

/// A short, stable name for each error kind, for JSON bodies, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`ImageError::NotFound`].
    NotFound,
    /// [`ImageError::InvalidReference`].
    InvalidReference,
    /// [`ImageError::InvalidFilter`].
    InvalidFilter,
    /// [`ImageError::InvalidArgument`].
    InvalidArgument,
    /// [`ImageError::Conflict`].
    Conflict,
    /// [`ImageError::Unauthorized`].
    Unauthorized,
    /// [`ImageError::EngineUnavailable`].
    EngineUnavailable,
    /// [`ImageError::Registry`].
    Registry,
    /// [`ImageError::Cancelled`].
    Cancelled,
    /// [`ImageError::NotSupported`].
    NotSupported,
    /// [`ImageError::Backend`].
    Backend,
}

impl ErrorKind {
    /// The snake_case name, for example `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidReference => "invalid_reference",
            ErrorKind::InvalidFilter => "invalid_filter",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::EngineUnavailable => "engine_unavailable",
            ErrorKind::Registry => "registry",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::Backend => "backend",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ImageError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::NotFound { .. } => ErrorKind::NotFound,
            ImageError::InvalidReference { .. } => ErrorKind::InvalidReference,
            ImageError::InvalidFilter { .. } => ErrorKind::InvalidFilter,
            ImageError::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            ImageError::Conflict { .. } => ErrorKind::Conflict,
            ImageError::Unauthorized { .. } => ErrorKind::Unauthorized,
            ImageError::EngineUnavailable { .. } => ErrorKind::EngineUnavailable,
            ImageError::Registry { .. } => ErrorKind::Registry,
            ImageError::Cancelled => ErrorKind::Cancelled,
            ImageError::NotSupported { .. } => ErrorKind::NotSupported,
            ImageError::Backend { .. } => ErrorKind::Backend,
        }
    }

    /// A not-found error for `reference`.
    pub fn not_found(reference: impl Into<String>) -> Self {
        ImageError::NotFound {
            reference: reference.into(),
        }
    }

    /// An invalid-reference error for `input`.
    pub fn invalid_reference(input: impl Into<String>, source: ReferenceError) -> Self {
        ImageError::InvalidReference {
            input: input.into(),
            source,
        }
    }

    /// An invalid-filter error with docker's message for an unknown key:
    /// `invalid filter 'KEY'`.
    pub fn invalid_filter_key(key: impl Into<String>) -> Self {
        let key = key.into();
        ImageError::InvalidFilter {
            message: format!("invalid filter '{key}'"),
            filter: key,
        }
    }

    /// An invalid-filter error with a given message.
    pub fn invalid_filter(filter: impl Into<String>, message: impl Into<String>) -> Self {
        ImageError::InvalidFilter {
            filter: filter.into(),
            message: message.into(),
        }
    }

    /// An invalid-argument error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        ImageError::InvalidArgument {
            message: message.into(),
        }
    }

    /// A not-supported error for `operation` on `backend`.
    pub fn not_supported(operation: impl Into<String>, backend: impl Into<String>) -> Self {
        ImageError::NotSupported {
            operation: operation.into(),
            backend: backend.into(),
        }
    }

    /// A backend error wrapping `source`.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ImageError::Backend {
            message: message.into(),
            source: source.into(),
        }
    }

    /// Whether this error says the image (or other object) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ImageError::NotFound { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_follow_docker_wording() {
        assert_eq!(
            ImageError::not_found("nope:latest").to_string(),
            "No such image: nope:latest"
        );
        assert_eq!(
            ImageError::invalid_filter_key("bogus").to_string(),
            "invalid filter 'bogus'"
        );
        let unavailable = ImageError::EngineUnavailable {
            endpoint: "unix:///var/run/docker.sock".into(),
            hint: "is the docker daemon running?".into(),
        };
        assert_eq!(
            unavailable.to_string(),
            "cannot connect to the Docker engine at unix:///var/run/docker.sock: is the docker daemon running?"
        );
        assert_eq!(unavailable.kind(), ErrorKind::EngineUnavailable);
        assert_eq!(unavailable.kind().as_str(), "engine_unavailable");
    }

    #[test]
    fn backend_errors_keep_their_source() {
        let io = std::io::Error::other("disk on fire");
        let err = ImageError::backend("writing layer", io);
        let source = std::error::Error::source(&err).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert_eq!(err.kind(), ErrorKind::Backend);
    }
}
