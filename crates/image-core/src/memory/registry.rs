//! The in-memory engine's built-in registry: repositories of tagged
//! manifests over content-addressed blobs, with optional per-host
//! credentials, so pulls and pushes work offline and fail the way a real
//! registry makes them fail.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::state::sha256_digest;
use crate::error::{AuthFailure, ImageError, Result};
use crate::model::RegistryAuth;

/// A docker image manifest (schema 2), as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub schema_version: u32,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// A content descriptor inside a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: String,
    pub size: u64,
    pub digest: String,
}

pub(crate) const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar";

impl Manifest {
    /// The manifest for a config and its (uncompressed) layers.
    pub fn for_image(config: &[u8], layers: &[Arc<Vec<u8>>]) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: MANIFEST_MEDIA_TYPE.to_string(),
            config: Descriptor {
                media_type: CONFIG_MEDIA_TYPE.to_string(),
                size: config.len() as u64,
                digest: sha256_digest(config),
            },
            layers: layers
                .iter()
                .map(|layer| Descriptor {
                    media_type: LAYER_MEDIA_TYPE.to_string(),
                    size: layer.len() as u64,
                    digest: sha256_digest(layer),
                })
                .collect(),
        }
    }

    /// The canonical bytes of the manifest and their digest.
    pub fn encode(&self) -> Result<(Vec<u8>, String)> {
        let bytes =
            serde_json::to_vec(self).map_err(|e| ImageError::backend("encoding a manifest", e))?;
        let digest = sha256_digest(&bytes);
        Ok((bytes, digest))
    }
}

/// One repository of the registry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Repository {
    /// Tag to manifest digest.
    pub tags: BTreeMap<String, String>,
    /// Every manifest pushed to the repository, by digest.
    pub manifests: BTreeMap<String, Manifest>,
}

/// The whole registry: every host's repositories in one store.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// `domain/path` to repository.
    pub repositories: BTreeMap<String, Repository>,
    /// Blobs (configs and layers) by digest.
    pub blobs: HashMap<String, Arc<Vec<u8>>>,
    /// Hosts that require credentials: host to (user, password).
    pub credentials: BTreeMap<String, (String, String)>,
}

impl Registry {
    /// Checks credentials for `domain`.
    pub fn authorize(&self, domain: &str, auth: Option<&RegistryAuth>) -> Result<()> {
        let Some((user, password)) = self.credentials.get(domain) else {
            return Ok(());
        };
        let ok = auth.is_some_and(|auth| {
            auth.username == *user
                && (auth.password == *password
                    || auth.identity_token.as_deref() == Some(password.as_str()))
        });
        if ok {
            Ok(())
        } else {
            Err(ImageError::Unauthorized {
                kind: AuthFailure::Unauthorized,
                registry: domain.to_string(),
                message: "authentication required".to_string(),
            })
        }
    }

    /// Stores a blob.
    pub fn put_blob(&mut self, content: Arc<Vec<u8>>) -> String {
        let digest = sha256_digest(&content);
        self.blobs.entry(digest.clone()).or_insert(content);
        digest
    }
}
