//! Serialized answers of `GET /api/v1/images`, kept while the listing they
//! were made from cannot have changed. The engine's listing itself is
//! cached by image-core's `CachedImageService`; this keeps the bytes made
//! from it, so that a busy page costs one copy per request instead of a
//! clone, a sort and a serialization of every image. Validity comes from
//! the cache's list version: an answer made after reading version `v` is
//! served only while the version is still `v`, and nothing is kept while
//! the cache's change feed is down.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Reads the backend's list version (see
/// `image_core::CachedImageService::list_version`).
pub type ListVersion = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// How many different queries are kept at once; more clears them all.
const MAX_ANSWERS: usize = 64;

/// The kept answers, by query string.
#[derive(Clone, Default)]
pub struct ListAnswers {
    version: Option<ListVersion>,
    bodies: Arc<Mutex<HashMap<String, (u64, Bytes)>>>,
}

impl fmt::Debug for ListAnswers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListAnswers")
            .field("enabled", &self.version.is_some())
            .finish_non_exhaustive()
    }
}

impl ListAnswers {
    /// Answers kept against `version`.
    pub fn new(version: ListVersion) -> ListAnswers {
        ListAnswers {
            version: Some(version),
            bodies: Arc::default(),
        }
    }

    /// The current list version, `None` when answers may not be kept.
    pub fn version(&self) -> Option<u64> {
        self.version.as_ref().and_then(|version| version())
    }

    /// The answer to `query` made at `version`, if one is kept.
    pub fn get(&self, query: &str, version: u64) -> Option<Bytes> {
        let bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        match bodies.get(query) {
            Some((made_at, body)) if *made_at == version => Some(body.clone()),
            _ => None,
        }
    }

    /// Keeps the answer to `query` made after reading `version`.
    pub fn put(&self, query: String, version: u64, body: Bytes) {
        let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        bodies.retain(|_, (made_at, _)| *made_at == version);
        if bodies.len() >= MAX_ANSWERS {
            bodies.clear();
        }
        bodies.insert(query, (version, body));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use http_body_util::BodyExt as _;
    use image_core::cache::FeedState;
    use image_core::{CachedImageService, ImageService as _, MemoryImageService};
    use tower::ServiceExt as _;

    use crate::auth::Token;
    use crate::{AppState, Settings, app};

    /// `GET uri` with the token; the body as text.
    async fn get(router: &axum::Router, uri: &str) -> String {
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer list-cache-token")
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn kept_answers_follow_every_change() {
        let memory = MemoryImageService::demo().unwrap();
        let cache = Arc::new(CachedImageService::new(memory.clone()));
        assert_eq!(cache.settled().await, FeedState::Live);
        let version: ListVersion = {
            let cache = cache.clone();
            Arc::new(move || cache.list_version())
        };
        let settings = Settings::new(Token::new("list-cache-token").unwrap());
        let state = AppState::new(cache.clone(), settings)
            .unwrap()
            .with_list_version(version);
        let router = app(state.clone());
        let first = get(&router, "/api/v1/images?sort=size").await;
        assert_eq!(get(&router, "/api/v1/images?sort=size").await, first);
        let version = state.list_answers.version().unwrap();
        assert!(
            state.list_answers.get("sort=size", version).is_some(),
            "kept"
        );
        // A change on the engine, not through imgd, shows within 1 s.
        memory.tag("alpine:3.20", "fresh/alpine:1").await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            let now = get(&router, "/api/v1/images?sort=size").await;
            if now.contains("fresh/alpine:1") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not seen in 1 s: {now}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Filtered answers are never kept.
        let filtered = get(&router, "/api/v1/images?filter=reference%3Dfresh%2F*").await;
        assert!(filtered.contains("fresh/alpine:1"));
        let version = state.list_answers.version().unwrap();
        assert!(
            state
                .list_answers
                .get("filter=reference%3Dfresh%2F*", version)
                .is_none()
        );
    }

    #[test]
    fn answers_live_as_long_as_their_version() {
        let current = Arc::new(AtomicU64::new(1));
        let live = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let answers = {
            let (current, live) = (current.clone(), live.clone());
            ListAnswers::new(Arc::new(move || {
                live.load(Ordering::SeqCst)
                    .then(|| current.load(Ordering::SeqCst))
            }))
        };
        assert_eq!(answers.version(), Some(1));
        answers.put("all=true".into(), 1, Bytes::from_static(b"[1]"));
        assert_eq!(answers.get("all=true", 1), Some(Bytes::from_static(b"[1]")));
        assert_eq!(answers.get("", 1), None);
        current.store(2, Ordering::SeqCst);
        assert_eq!(
            answers.get("all=true", 2),
            None,
            "a change drops the answer"
        );
        live.store(false, Ordering::SeqCst);
        assert_eq!(answers.version(), None, "nothing is kept without a feed");
        assert_eq!(ListAnswers::default().version(), None);
    }

    #[test]
    fn old_and_surplus_answers_are_dropped() {
        let answers = ListAnswers::new(Arc::new(|| Some(5)));
        answers.put("a".into(), 4, Bytes::from_static(b"old"));
        answers.put("b".into(), 5, Bytes::from_static(b"new"));
        assert_eq!(answers.get("a", 4), None);
        for i in 0..(MAX_ANSWERS * 2) {
            answers.put(format!("q{i}"), 5, Bytes::from_static(b"x"));
        }
        let kept = answers
            .bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!(kept <= MAX_ANSWERS, "{kept}");
    }
}
