//! The work queue of heavy operations (pulls, pushes, builds): at most
//! `max_concurrent` run at once, at most `max_queued` more wait for a slot,
//! and beyond that a request is refused with 503 `busy`. A waiting request
//! whose client goes away leaves the queue; at shutdown every waiter is
//! answered `cancelled`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// A bounded queue in front of a bounded number of slots.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    max_queued: usize,
    queued: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// A running slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Metrics,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.work_running.dec();
    }
}

/// Counts one waiter while it waits (also when its future is dropped).
struct Waiting<'a> {
    queue: &'a WorkQueue,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.queue.queued.fetch_sub(1, Ordering::SeqCst);
        self.queue.metrics.work_queued.dec();
    }
}

impl WorkQueue {
    /// A queue with `max_concurrent` slots (at least one) and room for
    /// `max_queued` waiters.
    pub fn new(max_concurrent: usize, max_queued: usize, metrics: Metrics) -> WorkQueue {
        let max_concurrent = max_concurrent.max(1);
        WorkQueue {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            max_queued,
            queued: Arc::new(AtomicUsize::new(0)),
            metrics,
        }
    }

    /// How many requests wait for a slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Takes a slot, waiting in the queue if none is free; 503 `busy` when
    /// the queue is full, `cancelled` when `shutdown` fires while waiting.
    pub async fn acquire(&self, shutdown: &CancellationToken) -> Result<Slot, ApiError> {
        if shutdown.is_cancelled() {
            return Err(ApiError::shutting_down());
        }
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(self.slot(permit));
        }
        let before = self.queued.fetch_add(1, Ordering::SeqCst);
        self.metrics.work_queued.inc();
        let waiting = Waiting { queue: self };
        if before >= self.max_queued {
            drop(waiting);
            return Err(ApiError::busy(self.max_concurrent, self.max_queued));
        }
        let permit = tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit,
            () = shutdown.cancelled() => return Err(ApiError::shutting_down()),
        };
        drop(waiting);
        // The semaphore is never closed; treat it as shutting down if it were.
        permit
            .map(|permit| self.slot(permit))
            .map_err(|_| ApiError::shutting_down())
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> Slot {
        self.metrics.work_running.inc();
        Slot {
            _permit: permit,
            metrics: self.metrics.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waits_then_refuses_when_full() {
        let metrics = Metrics::new().unwrap();
        let queue = WorkQueue::new(1, 1, metrics.clone());
        let shutdown = CancellationToken::new();
        let first = queue.acquire(&shutdown).await.unwrap();
        assert_eq!(metrics.work_running.get(), 1);

        // The second waits in the queue...
        let waiter = {
            let queue = queue.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { queue.acquire(&shutdown).await })
        };
        while queue.queued() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // ...and the third finds the queue full.
        let error = queue.acquire(&shutdown).await.unwrap_err();
        assert_eq!((error.status().as_u16(), error.kind()), (503, "busy"));
        assert_eq!(queue.queued(), 1);

        drop(first);
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(queue.queued(), 0);
        assert_eq!(metrics.work_queued.get(), 0);
        assert_eq!(metrics.work_running.get(), 1);
        drop(second);
        assert_eq!(metrics.work_running.get(), 0);
    }

    #[tokio::test]
    async fn a_dropped_waiter_leaves_the_queue() {
        let queue = WorkQueue::new(1, 1, Metrics::new().unwrap());
        let shutdown = CancellationToken::new();
        let _first = queue.acquire(&shutdown).await.unwrap();
        let waited =
            tokio::time::timeout(Duration::from_millis(20), queue.acquire(&shutdown)).await;
        assert!(waited.is_err(), "the second request must wait");
        assert_eq!(queue.queued(), 0);
        // So there is room for another waiter.
        let waited =
            tokio::time::timeout(Duration::from_millis(20), queue.acquire(&shutdown)).await;
        assert!(waited.is_err());
    }

    #[tokio::test]
    async fn shutdown_releases_waiters() {
        let queue = WorkQueue::new(1, 4, Metrics::new().unwrap());
        let shutdown = CancellationToken::new();
        let _first = queue.acquire(&shutdown).await.unwrap();
        let waiter = {
            let queue = queue.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { queue.acquire(&shutdown).await })
        };
        while queue.queued() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        shutdown.cancel();
        let error = waiter.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), "cancelled");
    }
}
