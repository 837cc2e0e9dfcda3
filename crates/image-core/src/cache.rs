//! [`CachedImageService`]: any [`ImageService`] with its image listing kept
//! in memory and invalidated by the engine's change feed.
//!
//! Listing images is the hot path of a dashboard or an HTTP service, and an
//! engine answers it slowly (it walks its whole image store and every
//! container on each call). Both backends evaluate filters and sort on the
//! client side over the engine's full listing, so the cache keeps just two
//! listings (top-level and `all`) and answers every filtered list from them
//! with the same evaluation function ([`filter::apply`]). It subscribes to
//! [`ImageService::changes`] and drops both listings on every change that
//! can alter them, and on every mutating call made through it. It never
//! serves a listing fetched before the last change it received: a listing
//! whose fetch was overtaken by a change is returned to the callers that
//! asked before the change, never kept. While the feed is not live (not
//! yet subscribed, broken, or not supported by the backend) every call
//! passes through; a broken feed is resubscribed with exponential backoff.
//! A few listings depend on more than one snapshot or on the backend's
//! clock (`until=`, `before=`/`since=` without `all`, `dangling=true` with
//! `all`): those always pass through.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use tokio::sync::{OnceCell, watch};

use crate::change::ChangeStream;
use crate::error::{ImageError, Result};
use crate::filter::{self, ImageFilters};
use crate::memory::EngineSnapshot;
use crate::model::{
    BuildOptions, ContainerRef, Digest, DiskUsage, HistoryEntry, ImageDetails, ImageSummary,
    ListOptions, LoadReport, ProgressEvent, PruneOptions, PruneReport, PullOptions, PushOptions,
    RegistryAuth, RemoveAction, RemoveOptions, SearchResult,
};
use crate::service::{BuildContext, ByteStream, ImageService, ProgressStream};

/// Where the cache's change feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FeedState {
    /// Subscribing for the first time; calls pass through.
    Starting,
    /// Subscribed: listings are cached.
    Live,
    /// The feed failed or ended; calls pass through until it is back.
    Reconnecting,
    /// The backend has no change feed; calls always pass through.
    Unsupported,
}

impl FeedState {
    /// A short lower-case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedState::Starting => "starting",
            FeedState::Live => "live",
            FeedState::Reconnecting => "reconnecting",
            FeedState::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for FeedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of a [`CachedImageService`], for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lists answered from a cached listing.
    pub hits: u64,
    /// Listings fetched from the backend to be cached.
    pub misses: u64,
    /// Lists passed straight to the backend (feed not live, or a listing
    /// the cache does not derive).
    pub passes: u64,
    /// Times the cached listings were dropped.
    pub invalidations: u64,
    /// Change events received from the feed.
    pub changes_seen: u64,
}

/// How long the cache waits before resubscribing to a broken feed: from
/// `initial`, doubling up to `max`, back to `initial` after a subscription
/// that lasted at least `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

/// A cached listing: filled once by the first caller that needs it, shared
/// by everyone who asked while it was current.
type Slot = Arc<OnceCell<Arc<Vec<ImageSummary>>>>;

/// The cached listings. Invalidating replaces the slots: a fetch in flight
/// completes into a slot nobody will look at again.
#[derive(Default)]
struct Listings {
    top: Slot,
    all: Slot,
}

/// What the service and its feed task share.
struct Shared {
    listings: Mutex<Listings>,
    state: watch::Sender<FeedState>,
    last_feed_error: Mutex<Option<String>>,
    hits: AtomicU64,
    misses: AtomicU64,
    passes: AtomicU64,
    invalidations: AtomicU64,
    changes_seen: AtomicU64,
    /// Bumped, under the listings' lock, whenever they are dropped.
    generation: AtomicU64,
}

impl Shared {
    fn listings(&self) -> std::sync::MutexGuard<'_, Listings> {
        self.listings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn invalidate(&self) {
        let mut listings = self.listings();
        *listings = Listings::default();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the feed's state, dropping the listings first, so that nothing
    /// cached before a gap in the feed is served after it.
    fn set_state(&self, state: FeedState) {
        let mut listings = self.listings();
        *listings = Listings::default();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        self.state.send_replace(state);
    }

    /// The slot for a listing, if the feed is live.
    fn slot(&self, all: bool) -> Option<Slot> {
        // The state is read under the listings' lock, under which
        // `set_state` drops the listings and changes it: a slot handed out
        // here was current while the feed was live.
        let listings = self.listings();
        if *self.state.borrow() != FeedState::Live {
            return None;
        }
        Some(if all {
            listings.all.clone()
        } else {
            listings.top.clone()
        })
    }

    fn record_error(&self, error: &ImageError) {
        *self
            .last_feed_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }
}

/// Drops the cached listings when dropped: attached to the progress stream
/// of a pull, push or build, whose changes land while it runs.
struct InvalidateOnDrop(Arc<Shared>);

impl Drop for InvalidateOnDrop {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}

/// An [`ImageService`] whose image listings are cached; see the
/// [module docs](self).
///
/// The change feed is subscribed by a task started on the Tokio runtime
/// the service is created in (or, outside a runtime, at the first call);
/// dropping the service stops it.
pub struct CachedImageService<S: ImageService> {
    inner: Arc<S>,
    shared: Arc<Shared>,
    backoff: Backoff,
    feed: OnceLock<tokio::task::JoinHandle<()>>,
}

impl<S: ImageService> fmt::Debug for CachedImageService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedImageService")
            .field("inner", &self.inner)
            .field("feed", &self.feed_state())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<S: ImageService> Drop for CachedImageService<S> {
    fn drop(&mut self) {
        if let Some(task) = self.feed.get() {
            task.abort();
        }
    }
}

impl<S: ImageService> CachedImageService<S> {
    /// Wraps `inner`, with the default [`Backoff`].
    pub fn new(inner: S) -> CachedImageService<S> {
        CachedImageService::with_backoff(inner, Backoff::default())
    }

    /// Wraps `inner`, resubscribing a broken feed with `backoff`.
    pub fn with_backoff(inner: S, backoff: Backoff) -> CachedImageService<S> {
        let service = CachedImageService {
            inner: Arc::new(inner),
            shared: Arc::new(Shared {
                listings: Mutex::new(Listings::default()),
                state: watch::Sender::new(FeedState::Starting),
                last_feed_error: Mutex::new(None),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                passes: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
                changes_seen: AtomicU64::new(0),
                generation: AtomicU64::new(0),
            }),
            backoff,
            feed: OnceLock::new(),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            service.start_feed();
        }
        service
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Where the change feed stands.
    pub fn feed_state(&self) -> FeedState {
        *self.shared.state.borrow()
    }

    /// Waits until the feed has left [`FeedState::Starting`] (it is live,
    /// reconnecting or unsupported) and returns its state.
    pub async fn settled(&self) -> FeedState {
        self.start_feed();
        let mut receiver = self.shared.state.subscribe();
        match receiver
            .wait_for(|state| *state != FeedState::Starting)
            .await
        {
            Ok(state) => *state,
            // The sender lives as long as `self`.
            Err(_) => self.feed_state(),
        }
    }

    /// The last error of the change feed, if it ever failed.
    pub fn last_feed_error(&self) -> Option<String> {
        self.shared
            .last_feed_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        let shared = &self.shared;
        CacheStats {
            hits: shared.hits.load(Ordering::Relaxed),
            misses: shared.misses.load(Ordering::Relaxed),
            passes: shared.passes.load(Ordering::Relaxed),
            invalidations: shared.invalidations.load(Ordering::Relaxed),
            changes_seen: shared.changes_seen.load(Ordering::Acquire),
        }
    }

    /// A number that changes whenever the listings may have changed, while
    /// the feed is live; `None` while it is not (then every list goes to the
    /// backend). Something derived from a listing (a serialized response)
    /// that was made after reading version `v` stays valid while this still
    /// returns `Some(v)`: a listing is never older than the last change the
    /// cache heard of.
    pub fn list_version(&self) -> Option<u64> {
        let _listings = self.shared.listings();
        if *self.shared.state.borrow() != FeedState::Live {
            return None;
        }
        Some(self.shared.generation.load(Ordering::Acquire))
    }

    /// Drops the cached listings, as a change on the engine does.
    pub fn invalidate(&self) {
        self.shared.invalidate();
    }

    fn start_feed(&self) {
        if self.feed.get().is_some() {
            return;
        }
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        let backoff = self.backoff;
        // Two first calls racing here may both spawn; the loser's task is
        // aborted at once.
        let task = tokio::spawn(run_feed(inner, shared, backoff));
        if let Err(task) = self.feed.set(task) {
            task.abort();
        }
    }

    async fn pass(&self, options: &ListOptions) -> Result<Vec<ImageSummary>> {
        self.shared.passes.fetch_add(1, Ordering::Relaxed);
        self.inner.list(options).await
    }

    /// Invalidates once `result` is known: a failed call may have changed
    /// something too (a remove that untagged before it failed).
    fn after_change<T>(&self, result: Result<T>) -> Result<T> {
        self.shared.invalidate();
        result
    }

    fn watch_progress(&self, stream: Result<ProgressStream>) -> Result<ProgressStream> {
        let stream = self.after_change(stream)?;
        let guard = InvalidateOnDrop(self.shared.clone());
        Ok(stream
            .inspect(move |item| {
                if matches!(item, Ok(ProgressEvent::Done(_)) | Err(_)) {
                    guard.0.invalidate();
                }
            })
            .boxed())
    }
}

/// Which cached listing answers `options`, or `None` when the answer needs
/// the backend itself: `until=` is evaluated on the backend's clock,
/// `before=`/`since=` without `all` look the named image up among all
/// images but keep only top-level ones (two snapshots), and with `all` the
/// backends disagree on whether an untagged parent is dangling.
fn cached_listing_for(options: &ListOptions) -> Option<bool> {
    let filters = &options.filters;
    if filters.until.is_some() {
        return None;
    }
    if options.all {
        (filters.dangling != Some(true)).then_some(true)
    } else {
        (filters.before.is_none() && filters.since.is_none()).then_some(false)
    }
}

/// Follows the change feed for as long as the service lives.
async fn run_feed<S: ImageService>(inner: Arc<S>, shared: Arc<Shared>, backoff: Backoff) {
    let mut delay = backoff.initial;
    loop {
        match inner.changes().await {
            Ok(stream) => {
                shared.set_state(FeedState::Live);
                let started = tokio::time::Instant::now();
                follow(stream, &shared).await;
                shared.set_state(FeedState::Reconnecting);
                if started.elapsed() >= backoff.max {
                    delay = backoff.initial;
                }
            }
            Err(ImageError::NotSupported { .. }) => {
                shared.set_state(FeedState::Unsupported);
                return;
            }
            Err(error) => {
                shared.record_error(&error);
                shared.set_state(FeedState::Reconnecting);
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Invalidates on every change of the feed that can alter a listing,
/// until the feed fails or ends.
async fn follow(mut stream: ChangeStream, shared: &Shared) {
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                if event.affects_image_list() {
                    shared.invalidate();
                }
                // After the invalidation: whoever sees the count has moved
                // also sees the listings dropped.
                shared.changes_seen.fetch_add(1, Ordering::Release);
            }
            Err(error) => {
                shared.record_error(&error);
                return;
            }
        }
    }
    shared.record_error(&ImageError::backend(
        "following the engine's changes",
        std::io::Error::other("the change feed ended"),
    ));
}

#[async_trait]
impl<S: ImageService> ImageService for CachedImageService<S> {
    async fn list(&self, options: &ListOptions) -> Result<Vec<ImageSummary>> {
        self.start_feed();
        let Some(all) = cached_listing_for(options) else {
            return self.pass(options).await;
        };
        let Some(slot) = self.shared.slot(all) else {
            return self.pass(options).await;
        };
        let fetched = AtomicBool::new(false);
        let listing = slot
            .get_or_try_init(|| {
                fetched.store(true, Ordering::Relaxed);
                let everything = ListOptions {
                    all,
                    ..ListOptions::default()
                };
                let inner = self.inner.clone();
                async move { inner.list(&everything).await.map(Arc::new) }
            })
            .await?;
        let counter = if fetched.into_inner() {
            &self.shared.misses
        } else {
            &self.shared.hits
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let images = listing.as_ref().clone();
        if options.filters == ImageFilters::default() {
            return Ok(images);
        }
        // The listing is sorted; filtering keeps the order.
        filter::apply(&options.filters, images, Utc::now())
    }

    async fn inspect(&self, image: &str) -> Result<ImageDetails> {
        self.inner.inspect(image).await
    }

    async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
        self.inner.history(image).await
    }

    async fn pull(&self, options: &PullOptions) -> Result<ProgressStream> {
        let stream = self.inner.pull(options).await;
        self.watch_progress(stream)
    }

    async fn push(&self, options: &PushOptions) -> Result<ProgressStream> {
        let stream = self.inner.push(options).await;
        self.watch_progress(stream)
    }

    async fn tag(&self, source: &str, target: &str) -> Result<()> {
        let result = self.inner.tag(source, target).await;
        self.after_change(result)
    }

    async fn remove(&self, image: &str, options: &RemoveOptions) -> Result<Vec<RemoveAction>> {
        let result = self.inner.remove(image, options).await;
        self.after_change(result)
    }

    async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let result = self.inner.prune(options).await;
        if options.dry_run {
            return result;
        }
        self.after_change(result)
    }

    async fn disk_usage(&self) -> Result<DiskUsage> {
        self.inner.disk_usage().await
    }

    async fn containers_using(&self, image: &str) -> Result<Vec<ContainerRef>> {
        self.inner.containers_using(image).await
    }

    async fn build(&self, context: BuildContext, options: &BuildOptions) -> Result<ProgressStream> {
        let stream = self.inner.build(context, options).await;
        self.watch_progress(stream)
    }

    async fn save(&self, images: &[String]) -> Result<ByteStream> {
        self.inner.save(images).await
    }

    async fn load(&self, archive: ByteStream) -> Result<LoadReport> {
        let result = self.inner.load(archive).await;
        self.after_change(result)
    }

    async fn search(&self, term: &str, limit: Option<u32>) -> Result<Vec<SearchResult>> {
        self.inner.search(term, limit).await
    }

    async fn changes(&self) -> Result<ChangeStream> {
        self.inner.changes().await
    }

    async fn snapshot(&self) -> Result<EngineSnapshot> {
        self.inner.snapshot().await
    }

    async fn registry_digest(
        &self,
        reference: &str,
        auth: Option<RegistryAuth>,
    ) -> Result<Option<Digest>> {
        self.inner.registry_digest(reference, auth).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::{mpsc, oneshot};

    use super::*;
    use crate::change::ChangeEvent;
    use crate::error::ErrorKind;
    use crate::memory::MemoryImageService;
    use crate::service::ImageServiceExt;

    /// What the probe's `changes` does, in order; the memory engine's own
    /// feed once the script is used up.
    #[derive(Debug)]
    enum Feed {
        NotSupported,
        Fail,
        /// A feed that never says anything.
        Silent,
        /// A feed the test writes to (dropping the sender ends it).
        Channel(mpsc::UnboundedReceiver<Result<ChangeEvent>>),
    }

    /// A list that stops after reading the engine until the test lets it go.
    #[derive(Debug)]
    struct Gate {
        entered: oneshot::Sender<()>,
        release: oneshot::Receiver<()>,
    }

    /// The memory engine, counting the lists that reach it, with a
    /// scripted change feed.
    #[derive(Debug)]
    struct Probe {
        memory: MemoryImageService,
        lists: AtomicUsize,
        feeds: Mutex<VecDeque<Feed>>,
        gate: Mutex<Option<Gate>>,
    }

    impl Probe {
        fn new(memory: &MemoryImageService, feeds: Vec<Feed>) -> Probe {
            Probe {
                memory: memory.clone(),
                lists: AtomicUsize::new(0),
                feeds: Mutex::new(feeds.into()),
                gate: Mutex::new(None),
            }
        }

        fn lists(&self) -> usize {
            self.lists.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl ImageService for Probe {
        async fn list(&self, options: &ListOptions) -> Result<Vec<ImageSummary>> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            let listed = self.memory.list(options).await;
            let gate = self.gate.lock().unwrap().take();
            if let Some(gate) = gate {
                gate.entered.send(()).unwrap();
                gate.release.await.unwrap();
            }
            listed
        }
        async fn inspect(&self, image: &str) -> Result<ImageDetails> {
            self.memory.inspect(image).await
        }
        async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
            self.memory.history(image).await
        }
        async fn pull(&self, options: &PullOptions) -> Result<ProgressStream> {
            self.memory.pull(options).await
        }
        async fn push(&self, options: &PushOptions) -> Result<ProgressStream> {
            self.memory.push(options).await
        }
        async fn tag(&self, source: &str, target: &str) -> Result<()> {
            self.memory.tag(source, target).await
        }
        async fn remove(&self, image: &str, options: &RemoveOptions) -> Result<Vec<RemoveAction>> {
            self.memory.remove(image, options).await
        }
        async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
            self.memory.prune(options).await
        }
        async fn disk_usage(&self) -> Result<DiskUsage> {
            self.memory.disk_usage().await
        }
        async fn containers_using(&self, image: &str) -> Result<Vec<ContainerRef>> {
            self.memory.containers_using(image).await
        }
        async fn build(
            &self,
            context: BuildContext,
            options: &BuildOptions,
        ) -> Result<ProgressStream> {
            self.memory.build(context, options).await
        }
        async fn save(&self, images: &[String]) -> Result<ByteStream> {
            self.memory.save(images).await
        }
        async fn load(&self, archive: ByteStream) -> Result<LoadReport> {
            self.memory.load(archive).await
        }
        async fn search(&self, term: &str, limit: Option<u32>) -> Result<Vec<SearchResult>> {
            self.memory.search(term, limit).await
        }
        async fn changes(&self) -> Result<ChangeStream> {
            let next = self.feeds.lock().unwrap().pop_front();
            match next {
                None => self.memory.changes().await,
                Some(Feed::NotSupported) => Err(ImageError::not_supported("changes", "probe")),
                Some(Feed::Fail) => Err(ImageError::EngineUnavailable {
                    endpoint: "probe".into(),
                    hint: "scripted".into(),
                }),
                Some(Feed::Silent) => Ok(futures::stream::pending().boxed()),
                Some(Feed::Channel(mut receiver)) => {
                    Ok(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)).boxed())
                }
            }
        }
    }

    fn top() -> ListOptions {
        ListOptions::default()
    }

    fn with_all() -> ListOptions {
        ListOptions {
            all: true,
            ..ListOptions::default()
        }
    }

    async fn listed(cache: &CachedImageService<Probe>) -> Vec<String> {
        tags(&cache.list(&top()).await.unwrap())
    }

    fn tags(images: &[ImageSummary]) -> Vec<String> {
        images.iter().flat_map(|i| i.repo_tags.clone()).collect()
    }

    /// Polls `check` until it holds or `within` is over; whether it held.
    async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if check().await {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn wait_for_state<S: ImageService>(cache: &CachedImageService<S>, state: FeedState) {
        let reached = eventually(Duration::from_secs(2), || async {
            cache.feed_state() == state
        })
        .await;
        assert!(reached, "the feed is {}, not {state}", cache.feed_state());
    }

    #[tokio::test]
    async fn the_list_version_moves_with_every_change() {
        let memory = MemoryImageService::demo().unwrap();
        let cache = CachedImageService::new(Probe::new(&memory, vec![]));
        assert_eq!(cache.settled().await, FeedState::Live);
        let first = cache.list_version().unwrap();
        cache.list(&top()).await.unwrap();
        assert_eq!(cache.list_version(), Some(first), "a read changes nothing");
        cache.tag("alpine:3.20", "mine/alpine:1").await.unwrap();
        let second = cache.list_version().unwrap();
        assert_ne!(second, first, "a change through the cache");
        memory.tag("alpine:3.20", "mine/alpine:2").await.unwrap();
        let moved = eventually(Duration::from_secs(1), || async {
            cache.list_version().is_some_and(|v| v != second)
        })
        .await;
        assert!(moved, "a change on the engine moves the version within 1 s");
    }

    #[tokio::test]
    async fn lists_come_from_the_cache_until_the_engine_changes() {
        let memory = MemoryImageService::demo().unwrap();
        let cache = CachedImageService::new(Probe::new(&memory, vec![]));
        assert_eq!(cache.settled().await, FeedState::Live);

        let first = cache.list(&top()).await.unwrap();
        let again = cache.list(&top()).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first, memory.list(&top()).await.unwrap());
        assert_eq!(cache.inner().lists(), 1, "the second list was not cached");
        let all = cache.list(&with_all()).await.unwrap();
        assert_eq!(all, memory.list(&with_all()).await.unwrap());
        assert_eq!(cache.inner().lists(), 2);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.passes), (1, 2, 0));

        // A change made on the engine by someone else, not through the cache.
        memory
            .tag("alpine:3.20", "mirror/alpine:new")
            .await
            .unwrap();
        let seen = eventually(Duration::from_secs(1), || async {
            tags(&cache.list(&top()).await.unwrap()).contains(&"mirror/alpine:new".to_string())
        })
        .await;
        assert!(seen, "the new tag did not show within 1 s");
        assert!(cache.stats().changes_seen >= 1);

        memory.remove_container("web").unwrap();
        let nginx_unused = eventually(Duration::from_secs(1), || async {
            let listed = cache.list(&top()).await.unwrap();
            listed
                .iter()
                .any(|i| i.repo_tags.contains(&"nginx:1.27-alpine".into()) && i.containers == 0)
        })
        .await;
        assert!(
            nginx_unused,
            "the removed container still counted after 1 s"
        );
    }

    #[tokio::test]
    async fn filtered_lists_answer_as_the_backend_does() {
        let memory = MemoryImageService::demo().unwrap();
        let cache = CachedImageService::new(Probe::new(&memory, vec![]));
        assert_eq!(cache.settled().await, FeedState::Live);
        let cases: &[(bool, &[&str])] = &[
            (false, &[]),
            (true, &[]),
            (false, &["reference=alpine"]),
            (false, &["reference=*/payments/*:1.*"]),
            (true, &["label=team=payments"]),
            (false, &["label!=team"]),
            (false, &["dangling=true"]),
            (false, &["dangling=false", "label=team"]),
            (true, &["dangling=false"]),
            (true, &["before=postgres:16"]),
            (true, &["since=debian:bookworm", "label=team"]),
            (false, &["before=postgres:16"]),
            (true, &["dangling=true"]),
            (false, &["until=2024-06-01T00:00:00Z"]),
        ];
        for (all, filters) in cases {
            let options = ListOptions {
                all: *all,
                filters: ImageFilters::parse(filters.iter().copied()).unwrap(),
                ..ListOptions::default()
            };
            let cached = cache.list(&options).await.unwrap();
            let direct = memory.list(&options).await.unwrap();
            assert_eq!(cached, direct, "all={all} {filters:?}");
        }
        let stats = cache.stats();
        assert_eq!(stats.passes, 3, "{stats:?}");
        assert_eq!(stats.misses, 2, "{stats:?}");

        // Errors are the backend's too.
        let missing = ImageFilters::parse(["before=nope:1"]).unwrap();
        // Past the parser, as a caller building filters by hand may.
        let broken = ImageFilters {
            references: vec!["[broken".into()],
            ..ImageFilters::default()
        };
        for filters in [missing, broken] {
            let options = ListOptions {
                all: true,
                filters,
                ..ListOptions::default()
            };
            let cached = cache.list(&options).await.unwrap_err().kind();
            let direct = memory.list(&options).await.unwrap_err().kind();
            assert_eq!(cached, direct, "{options:?}");
        }
    }

    #[tokio::test]
    async fn a_listing_overtaken_by_a_change_is_not_kept() {
        let memory = MemoryImageService::demo().unwrap();
        let cache = Arc::new(CachedImageService::new(Probe::new(&memory, vec![])));
        assert_eq!(cache.settled().await, FeedState::Live);
        let (entered, entered_rx) = oneshot::channel();
        let (release_tx, release) = oneshot::channel();
        *cache.inner().gate.lock().unwrap() = Some(Gate { entered, release });

        let slow = tokio::spawn({
            let cache = cache.clone();
            async move { cache.list(&top()).await.unwrap() }
        });
        // The slow list has read the engine; then the engine changes.
        entered_rx.await.unwrap();
        let seen_before = cache.stats().changes_seen;
        memory
            .tag("alpine:3.20", "changed:meanwhile")
            .await
            .unwrap();
        assert!(
            eventually(Duration::from_secs(1), || async {
                cache.stats().changes_seen > seen_before
            })
            .await
        );
        release_tx.send(()).unwrap();
        let old = slow.await.unwrap();
        assert!(!tags(&old).contains(&"changed:meanwhile".to_string()));

        // Whoever asks after the change gets a listing read after it.
        let now = cache.list(&top()).await.unwrap();
        assert!(tags(&now).contains(&"changed:meanwhile".to_string()));
        assert_eq!(cache.inner().lists(), 2);
    }

    #[tokio::test]
    async fn changes_made_through_the_cache_show_at_once() {
        let memory = MemoryImageService::demo().unwrap();
        // A feed that never reports anything: only the cache's own
        // invalidation can make these changes show.
        let cache = CachedImageService::new(Probe::new(&memory, vec![Feed::Silent]));
        assert_eq!(cache.settled().await, FeedState::Live);
        assert!(!listed(&cache).await.contains(&"through:cache".to_string()));

        // Behind the cache's back, with a silent feed: not seen.
        memory.tag("alpine:3.20", "behind:back").await.unwrap();
        assert!(!listed(&cache).await.contains(&"behind:back".to_string()));

        cache.tag("alpine:3.20", "through:cache").await.unwrap();
        assert!(listed(&cache).await.contains(&"through:cache".to_string()));

        cache
            .remove("through:cache", &RemoveOptions::default())
            .await
            .unwrap();
        assert!(!listed(&cache).await.contains(&"through:cache".to_string()));

        let archive = cache
            .save_to_vec(&["debian:bookworm".into()])
            .await
            .unwrap();
        cache
            .remove("debian:bookworm", &RemoveOptions::default())
            .await
            .unwrap();
        assert!(
            !listed(&cache)
                .await
                .contains(&"debian:bookworm".to_string())
        );
        cache.load_bytes(archive).await.unwrap();
        assert!(
            listed(&cache)
                .await
                .contains(&"debian:bookworm".to_string())
        );

        cache
            .pull_to_end(&PullOptions {
                reference: "redis:7-alpine".into(),
                ..PullOptions::default()
            })
            .await
            .unwrap();
        assert!(listed(&cache).await.contains(&"redis:7-alpine".to_string()));

        let before = cache.inner().lists();
        let dry = PruneOptions {
            dry_run: true,
            ..PruneOptions::default()
        };
        cache.prune(&dry).await.unwrap();
        listed(&cache).await;
        assert_eq!(cache.inner().lists(), before, "a dry run dropped the cache");
        let pruned = cache.prune(&PruneOptions::default()).await.unwrap();
        assert!(!pruned.actions.is_empty());
        listed(&cache).await;
        assert_eq!(cache.inner().lists(), before + 1);
    }

    #[tokio::test]
    async fn a_broken_feed_passes_through_and_is_resubscribed() {
        let memory = MemoryImageService::demo().unwrap();
        let (failing, failing_rx) = mpsc::unbounded_channel();
        let (ending, ending_rx) = mpsc::unbounded_channel();
        let backoff = Backoff {
            initial: Duration::from_millis(300),
            max: Duration::from_millis(300),
        };
        let probe = Probe::new(
            &memory,
            vec![
                Feed::Channel(failing_rx),
                Feed::Fail,
                Feed::Channel(ending_rx),
            ],
        );
        let cache = CachedImageService::with_backoff(probe, backoff);
        assert_eq!(cache.settled().await, FeedState::Live);
        cache.list(&top()).await.unwrap();
        cache.list(&top()).await.unwrap();
        assert_eq!(cache.inner().lists(), 1);

        failing
            .send(Err(ImageError::backend(
                "scripted",
                std::io::Error::other("feed broke"),
            )))
            .unwrap();
        wait_for_state(&cache, FeedState::Reconnecting).await;
        assert!(cache.last_feed_error().unwrap().contains("scripted"));
        cache.list(&top()).await.unwrap();
        cache.list(&top()).await.unwrap();
        assert_eq!(cache.inner().lists(), 3, "lists were cached without a feed");

        // The next subscription fails, the one after is live.
        wait_for_state(&cache, FeedState::Live).await;
        assert!(cache.last_feed_error().unwrap().contains("scripted"));
        cache.list(&top()).await.unwrap();
        cache.list(&top()).await.unwrap();
        assert_eq!(cache.inner().lists(), 4);

        drop(ending);
        wait_for_state(&cache, FeedState::Reconnecting).await;
        cache.list(&top()).await.unwrap();
        assert_eq!(cache.inner().lists(), 5);

        // Then the engine's own feed.
        wait_for_state(&cache, FeedState::Live).await;
        cache.list(&top()).await.unwrap();
        cache.list(&top()).await.unwrap();
        assert_eq!(cache.inner().lists(), 6);
        memory.tag("alpine:3.20", "after:reconnect").await.unwrap();
        assert!(
            eventually(Duration::from_secs(1), || async {
                tags(&cache.list(&top()).await.unwrap()).contains(&"after:reconnect".to_string())
            })
            .await
        );
    }

    #[tokio::test]
    async fn without_a_feed_every_list_passes_through() {
        let memory = MemoryImageService::demo().unwrap();
        let cache = CachedImageService::new(Probe::new(&memory, vec![Feed::NotSupported]));
        assert_eq!(cache.settled().await, FeedState::Unsupported);
        cache.list(&top()).await.unwrap();
        memory.tag("alpine:3.20", "seen:directly").await.unwrap();
        let listed = cache.list(&top()).await.unwrap();
        assert!(tags(&listed).contains(&"seen:directly".to_string()));
        assert_eq!(cache.inner().lists(), 2);
        assert_eq!(cache.stats().passes, 2);
    }

    #[tokio::test]
    async fn the_default_change_feed_is_not_supported() {
        /// A backend that implements only what it must.
        #[derive(Debug)]
        struct Plain;
        #[async_trait]
        impl ImageService for Plain {
            async fn list(&self, _: &ListOptions) -> Result<Vec<ImageSummary>> {
                Ok(vec![])
            }
            async fn inspect(&self, image: &str) -> Result<ImageDetails> {
                Err(ImageError::not_found(image))
            }
            async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
                Err(ImageError::not_found(image))
            }
            async fn pull(&self, _: &PullOptions) -> Result<ProgressStream> {
                Err(ImageError::not_supported("pull", "plain"))
            }
            async fn push(&self, _: &PushOptions) -> Result<ProgressStream> {
                Err(ImageError::not_supported("push", "plain"))
            }
            async fn tag(&self, source: &str, _: &str) -> Result<()> {
                Err(ImageError::not_found(source))
            }
            async fn remove(&self, image: &str, _: &RemoveOptions) -> Result<Vec<RemoveAction>> {
                Err(ImageError::not_found(image))
            }
            async fn prune(&self, _: &PruneOptions) -> Result<PruneReport> {
                Ok(PruneReport::default())
            }
            async fn disk_usage(&self) -> Result<DiskUsage> {
                Ok(DiskUsage::default())
            }
            async fn containers_using(&self, _: &str) -> Result<Vec<ContainerRef>> {
                Ok(vec![])
            }
            async fn build(&self, _: BuildContext, _: &BuildOptions) -> Result<ProgressStream> {
                Err(ImageError::not_supported("build", "plain"))
            }
            async fn save(&self, _: &[String]) -> Result<ByteStream> {
                Err(ImageError::not_supported("save", "plain"))
            }
            async fn load(&self, _: ByteStream) -> Result<LoadReport> {
                Err(ImageError::not_supported("load", "plain"))
            }
            async fn search(&self, _: &str, _: Option<u32>) -> Result<Vec<SearchResult>> {
                Ok(vec![])
            }
        }
        let error = Plain.changes().await.err().unwrap();
        assert_eq!(error.kind(), ErrorKind::NotSupported);
        let boxed: Box<dyn ImageService> = Box::new(Plain);
        assert_eq!(
            boxed.changes().await.err().unwrap().kind(),
            ErrorKind::NotSupported
        );
        let cache = CachedImageService::new(Arc::new(Plain));
        assert_eq!(cache.settled().await, FeedState::Unsupported);
    }

    #[tokio::test]
    async fn the_memory_feed_reports_each_change() {
        let memory = MemoryImageService::demo().unwrap();
        let mut feed = memory.changes().await.unwrap();
        memory.tag("alpine:3.20", "feed:one").await.unwrap();
        let id = memory.inspect("alpine:3.20").await.unwrap().id;
        memory
            .remove("feed:one", &RemoveOptions::default())
            .await
            .unwrap();
        let container = memory
            .add_container("alpine:3.20", "c1", crate::model::ContainerState::Exited)
            .unwrap();
        memory.remove_container("c1").unwrap();
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(feed.next().await.unwrap().unwrap());
        }
        assert_eq!(
            seen,
            vec![
                ChangeEvent::image("tag", &id),
                ChangeEvent::image("untag", &id),
                ChangeEvent::container("create", &container.id),
                ChangeEvent::container("destroy", &container.id),
            ]
        );
    }
}
