//! Extractors that reject bad input with the API's error shape: JSON bodies,
//! path segments and query strings. Queries are read with `serde_html_form`,
//! so repeated keys (`filter=a&filter=b`) fill a `Vec`.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; a bad one is a 400 `bad_request` (413 when too large).
#[derive(Debug, Clone, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Path parameters, percent-decoded; a bad one is a 400 `bad_request`.
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// A query string; repeated keys fill a `Vec`, a bad one is a 400
/// `bad_request` naming the problem.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_html_form::from_str(query)
            .map(ApiQuery)
            .map_err(|error| ApiError::bad_request(format!("bad query string: {error}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::http::Request;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Q {
        #[serde(default)]
        filter: Vec<String>,
        #[serde(default)]
        all: bool,
        limit: Option<usize>,
    }

    async fn parse(uri: &str) -> Result<Q, ApiError> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        ApiQuery::<Q>::from_request_parts(&mut parts, &())
            .await
            .map(|q| q.0)
    }

    #[tokio::test]
    async fn repeated_keys_fill_a_vec() {
        let q = parse("/x?filter=a%3Db&filter=label%3Dk&all=true&limit=3")
            .await
            .unwrap();
        assert_eq!(q.filter, vec!["a=b", "label=k"]);
        assert!(q.all);
        assert_eq!(q.limit, Some(3));
        let q = parse("/x").await.unwrap();
        assert!(q.filter.is_empty() && !q.all && q.limit.is_none());
    }

    #[tokio::test]
    async fn bad_values_are_bad_requests() {
        let error = parse("/x?limit=many").await.unwrap_err();
        assert_eq!(error.status().as_u16(), 400);
        assert_eq!(error.kind(), "bad_request");
        let error = parse("/x?all=maybe").await.unwrap_err();
        assert_eq!(error.kind(), "bad_request");
    }
}
