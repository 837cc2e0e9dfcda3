//! Registry credentials: looked up in the docker config (`auths`,
//! `credsStore`, `credHelpers`, through the `docker_credential` crate) unless
//! the caller passed some, and encoded for the `X-Registry-Auth` header.
//!
//! The engine decodes that header as base64url (Go's `base64.URLEncoding`,
//! moby's `registry.DecodeAuthConfig`), but bollard 0.21 encodes it with the
//! standard alphabet. For credentials whose JSON encodes to a `+` or `/` the
//! engine would then see garbage and treat the pull or push as anonymous. So
//! every request passes through [`fix_registry_headers`], which re-encodes
//! the header with the URL-safe alphabet.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bollard::auth::DockerCredentials;
use docker_credential::DockerCredential;
use image_core::RegistryAuth;

/// The key docker uses for Docker Hub in `config.json`.
pub(crate) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The config key for a registry host.
pub(crate) fn registry_key(domain: &str) -> String {
    match domain {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_string(),
        other => other.to_string(),
    }
}

/// Credentials for `domain` from `config_dir/config.json`, if any. A missing
/// config, a registry without an entry, or a credential helper that fails
/// all mean "no credentials": the pull or push then goes anonymously, and
/// the registry says whether that is enough.
pub(crate) fn lookup(config_dir: Option<&Path>, domain: &str) -> Option<RegistryAuth> {
    let file = File::open(config_dir?.join("config.json")).ok()?;
    let key = registry_key(domain);
    let credential =
        docker_credential::get_credential_from_reader(BufReader::new(file), &key).ok()?;
    Some(match credential {
        DockerCredential::UsernamePassword(username, password) => RegistryAuth {
            username,
            password,
            identity_token: None,
            server_address: key,
        },
        DockerCredential::IdentityToken(token) => RegistryAuth {
            username: String::new(),
            password: String::new(),
            identity_token: Some(token),
            server_address: key,
        },
    })
}

/// Explicit credentials, else the configured ones.
pub(crate) fn resolve(
    explicit: Option<&RegistryAuth>,
    config_dir: Option<&Path>,
    domain: &str,
) -> Option<RegistryAuth> {
    match explicit {
        Some(auth) => {
            let mut auth = auth.clone();
            if auth.server_address.is_empty() {
                auth.server_address = registry_key(domain);
            }
            Some(auth)
        }
        None => lookup(config_dir, domain),
    }
}

/// bollard's form of the credentials.
pub(crate) fn to_bollard(auth: &RegistryAuth) -> DockerCredentials {
    DockerCredentials {
        username: Some(auth.username.clone()).filter(|u| !u.is_empty()),
        password: Some(auth.password.clone()).filter(|p| !p.is_empty()),
        serveraddress: Some(auth.server_address.clone()).filter(|s| !s.is_empty()),
        identitytoken: auth.identity_token.clone(),
        ..DockerCredentials::default()
    }
}

/// The `X-Registry-Auth` header value for `auth`: base64url of its JSON, as
/// the docker CLI sends it.
pub(crate) fn encode_header(auth: &RegistryAuth) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(&to_bollard(auth))?;
    Ok(URL_SAFE.encode(json))
}

/// Re-encodes bollard's standard-alphabet `X-Registry-Auth` and
/// `X-Registry-Config` headers with the URL-safe alphabet the engine
/// decodes. A value that is not standard base64 is left alone.
pub(crate) fn fix_registry_headers(
    mut request: bollard::BollardRequest,
) -> bollard::BollardRequest {
    for name in ["x-registry-auth", "x-registry-config"] {
        let Some(value) = request.headers().get(name) else {
            continue;
        };
        let Ok(text) = value.to_str() else { continue };
        let Ok(decoded) = STANDARD.decode(text) else {
            continue;
        };
        if let Ok(fixed) = http::HeaderValue::from_str(&URL_SAFE.encode(decoded)) {
            request.headers_mut().insert(name, fixed);
        }
    }
    request
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn temp_config(contents: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "imgctl-credentials-{}-{}",
            std::process::id(),
            contents.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), contents).unwrap();
        dir
    }

    #[test]
    fn auths_are_read_by_registry_key() {
        let encoded = STANDARD.encode("alice:p@ss:w/rd+more");
        let dir = temp_config(&format!(
            r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{encoded}"}}, "https://index.docker.io/v1/": {{"identitytoken": "tok"}}}}}}"#
        ));
        let local = lookup(Some(&dir), "127.0.0.1:5000").unwrap();
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("alice", "p@ss:w/rd+more")
        );
        let hub = lookup(Some(&dir), "docker.io").unwrap();
        assert_eq!(hub.identity_token.as_deref(), Some("tok"));
        assert!(lookup(Some(&dir), "other.example:5000").is_none());
        assert!(lookup(None, "127.0.0.1:5000").is_none());
        let explicit = RegistryAuth {
            username: "bob".into(),
            password: "x".into(),
            ..RegistryAuth::default()
        };
        let chosen = resolve(Some(&explicit), Some(&dir), "127.0.0.1:5000").unwrap();
        assert_eq!(chosen.username, "bob", "explicit credentials win");
        assert_eq!(chosen.server_address, "127.0.0.1:5000");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn headers_use_the_url_safe_alphabet_for_every_printable_password() {
        // Every printable ASCII character, so both `+` and `/` appear in the
        // standard encoding somewhere.
        let password: String = (0x20u8..0x7f).map(char::from).collect();
        let auth = RegistryAuth {
            username: "imgctl".into(),
            password: password.clone(),
            identity_token: None,
            server_address: "127.0.0.1:5000".into(),
        };
        let json = serde_json::to_string(&to_bollard(&auth)).unwrap();
        let standard = STANDARD.encode(&json);
        assert!(
            standard.contains('+') || standard.contains('/'),
            "the test needs a + or /"
        );

        let request = http::Request::builder()
            .header("X-Registry-Auth", standard.clone())
            .body(bollard::body_full(bytes::Bytes::new()))
            .unwrap();
        let fixed = fix_registry_headers(request);
        let header = fixed
            .headers()
            .get("x-registry-auth")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(!header.contains('+') && !header.contains('/'));
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(&header).unwrap()).unwrap();
        assert_eq!(decoded["password"], password);
        assert_eq!(header, encode_header(&auth).unwrap());
    }
}
