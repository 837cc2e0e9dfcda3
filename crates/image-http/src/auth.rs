//! The API token and the middleware that guards every `/api/` route: a
//! request without `Authorization: Bearer <token>`, or with another token,
//! gets 401; with `--read-only`, a request that would change images gets 403.
//! Tokens are compared in constant time, on their SHA-256 digests so that
//! not even the length leaks.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::AppState;
use crate::error::ApiError;

/// The secret every API request must present. `Debug` never shows it.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl Token {
    /// A token from its text (leading and trailing white space removed, as
    /// when read from a file). Empty text is refused.
    pub fn new(text: &str) -> Result<Token, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the API token is empty".to_string());
        }
        Ok(Token {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// A new random token (256 bits from the operating system, as hex), and
    /// its text to show once.
    pub fn generate() -> Result<(Token, String), String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|error| format!("cannot get random bytes for the API token: {error}"))?;
        let text = hex::encode(bytes);
        Ok((Token::new(&text)?, text))
    }

    /// Whether `candidate` is this token, in constant time.
    pub fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The bearer token of an `Authorization` header value, if it has one (the
/// scheme is case-insensitive, as RFC 9110 says).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// Whether `method` may change images.
pub fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware: 401 without the right token, then 403 for a mutating request
/// in read-only mode.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer);
    if !presented.is_some_and(|token| state.settings.token.matches(token)) {
        return ApiError::unauthorized().into_response();
    }
    if state.settings.read_only && is_mutating(request.method()) {
        return ApiError::read_only(request.method(), request.uri().path()).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let token = Token::new(" secret\n").unwrap();
        assert!(token.matches("secret"));
        assert!(!token.matches("secret "));
        assert!(!token.matches("secre"));
        assert!(!token.matches(""));
        assert!(Token::new("  ").is_err());
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    }

    #[test]
    fn generated_tokens_differ() {
        let (a, text_a) = Token::generate().unwrap();
        let (_, text_b) = Token::generate().unwrap();
        assert_eq!(text_a.len(), 64);
        assert_ne!(text_a, text_b);
        assert!(a.matches(&text_a));
        assert!(!a.matches(&text_b));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
