//! The web page: `GET /` and `GET /assets/{file}` serve the files of
//! `crates/image-http/assets/`, embedded in the binary at compile time, with
//! their content type, an ETag (answered with 304 when it matches) and
//! `Cache-Control: no-cache`, so browsers revalidate cheaply and never run a
//! page older than the server.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

use crate::error::ApiError;
use crate::extract::ApiPath;

/// The embedded files.
#[derive(Embed)]
#[folder = "assets/"]
struct Assets;

/// The names of the embedded files.
pub fn names() -> Vec<String> {
    Assets::iter().map(|name| name.into_owned()).collect()
}

fn content_type(mime: &str) -> String {
    let textual = mime.starts_with("text/")
        || mime == "application/javascript"
        || mime == "application/json"
        || mime == "image/svg+xml";
    if textual && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

fn serve(name: &str, request_headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(name) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such asset: {name}"),
        )
        .into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type(file.metadata.mimetype())) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `GET /`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /assets/{file}`: one embedded file.
pub async fn file(ApiPath(name): ApiPath<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_say_utf8() {
        assert_eq!(content_type("text/html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("application/javascript"),
            "application/javascript; charset=utf-8"
        );
        assert_eq!(content_type("image/png"), "image/png");
    }

    #[test]
    fn the_page_is_embedded() {
        assert!(names().iter().any(|name| name == "index.html"));
    }
}
