//! Scheduled cleanups (`imgd --cleanup-policy FILE --cleanup-every DUR`):
//! a task that, every period, takes a snapshot of the engine, plans the
//! retention policy on it and carries the plan out (with `--read-only` it
//! only plans), keeps the last [`KEPT_RUNS`] runs in memory for
//! `GET /api/v1/cleanup/reports`, writes an audit line per run and stops
//! when the server shuts down.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use image_core::DynImageService;
use image_core::retention::{self, CleanupPlan, CleanupReport, RetentionPolicy};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::AppState;
use crate::audit;

/// How many scheduled runs are kept (the oldest go first).
pub const KEPT_RUNS: usize = 50;

/// The parsed `--cleanup-every` value: a Go duration such as `24h`,
/// `30m` or `1h30m`, more than zero.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    match retention::Age::parse(text) {
        Ok(age) if !age.0.is_zero() => Ok(age.0),
        Ok(_) => Err(format!(
            "{text:?} is no time at all: give how often to clean up, for example 24h"
        )),
        Err(_) => Err(format!(
            "{text:?} is not a Go duration: use a number and a unit among ns, us, ms, s, m, h, \
             for example 24h or 1h30m (there is no unit for days)"
        )),
    }
}

/// A policy and how often to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    /// The policy, as loaded from `--cleanup-policy`.
    pub policy: RetentionPolicy,
    /// The period, as a Go duration in its short form (`24h`, `1h30m`).
    #[schema(value_type = String)]
    #[serde(with = "go_duration")]
    pub every: Duration,
}

/// Serde for a period as a Go duration string.
mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(every: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&image_core::retention::Age(*every).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_every(&text).map_err(serde::de::Error::custom)
    }
}

/// One scheduled run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CleanupRun {
    /// When the run began.
    pub started: DateTime<Utc>,
    /// When it ended.
    pub finished: DateTime<Utc>,
    /// The plan, unless the snapshot or the plan failed.
    pub plan: Option<CleanupPlan>,
    /// What was done; `null` when nothing was carried out (`--read-only`,
    /// or an error before).
    pub report: Option<CleanupReport>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

/// The last [`KEPT_RUNS`] scheduled runs and the schedule, shared by the
/// task and the handlers. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CleanupRuns {
    inner: Arc<Mutex<Runs>>,
}

#[derive(Debug, Default)]
struct Runs {
    schedule: Option<Schedule>,
    runs: VecDeque<CleanupRun>,
}

impl CleanupRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `run`, dropping the oldest beyond [`KEPT_RUNS`].
    pub fn push(&self, run: CleanupRun) {
        let mut runs = self.lock();
        runs.runs.push_back(run);
        while runs.runs.len() > KEPT_RUNS {
            runs.runs.pop_front();
        }
    }

    /// The kept runs, newest first.
    pub fn newest_first(&self) -> Vec<CleanupRun> {
        self.lock().runs.iter().rev().cloned().collect()
    }

    /// The schedule, if one runs.
    pub fn schedule(&self) -> Option<Schedule> {
        self.lock().schedule.clone()
    }

    fn set_schedule(&self, schedule: Schedule) {
        self.lock().schedule = Some(schedule);
    }
}

/// One run: snapshot, plan at `now`, and unless `plan_only`, execute.
pub async fn run_once(
    service: &DynImageService,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    plan_only: bool,
) -> CleanupRun {
    let started = Utc::now();
    let planned = match service.snapshot().await {
        Ok(snapshot) => retention::plan(&snapshot, policy, now),
        Err(error) => Err(error),
    };
    let (plan, report, error) = match planned {
        Ok(plan) if plan_only => (Some(plan), None, None),
        Ok(plan) => {
            let report = retention::execute(service, &plan).await;
            (Some(plan), Some(report), None)
        }
        Err(error) => (None, None, Some(error.to_string())),
    };
    CleanupRun {
        started,
        finished: Utc::now(),
        plan,
        report,
        error,
    }
}

/// The audit outcome of a run: `ok`, `planned` (read-only), `incomplete`
/// (some action refused or skipped) or `error`.
fn outcome_of(run: &CleanupRun) -> &'static str {
    match (&run.error, &run.report) {
        (Some(_), _) => "error",
        (None, None) => "planned",
        (None, Some(report)) if report.is_complete() => "ok",
        (None, Some(_)) => "incomplete",
    }
}

/// Starts the scheduled cleanup on `state`'s engine: the first run one
/// period after the start, then every period (a run that takes longer
/// delays the next, runs never overlap). Runs are kept in
/// [`AppState::cleanup_runs`]; with `read_only` they only plan. The task
/// ends when `state.shutdown` is cancelled, also in the middle of a run
/// (the engine then finishes only the call under way).
pub fn spawn(state: &AppState, schedule: Schedule) -> JoinHandle<()> {
    let service = state.service.clone();
    let runs = state.cleanup_runs.clone();
    let shutdown: CancellationToken = state.shutdown.clone();
    let plan_only = state.settings.read_only;
    runs.set_schedule(schedule.clone());
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + schedule.every;
        let mut ticks = tokio::time::interval_at(start, schedule.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let began = Instant::now();
            let run = tokio::select! {
                () = shutdown.cancelled() => break,
                run = run_once(service.as_ref(), &schedule.policy, Utc::now(), plan_only) => run,
            };
            let (done, refused, changed) = run.report.as_ref().map_or((0, 0, 0), |r| r.counts());
            let planned = run.plan.as_ref().map_or(0, |p| p.actions.len());
            audit::scheduled(
                "cleanup",
                &format!(
                    "planned={planned} done={done} refused={refused} changed={changed} plan_only={plan_only}"
                ),
                outcome_of(&run),
                began.elapsed(),
            );
            if let Some(error) = &run.error {
                tracing::warn!(error = %error, "scheduled cleanup failed");
            }
            runs.push(run);
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn periods_are_go_durations_above_zero() {
        assert_eq!(parse_every("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_every("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_every("150ms"), Ok(Duration::from_millis(150)));
        for bad in ["", "1d", "soon", "-1h"] {
            let error = parse_every(bad).unwrap_err();
            assert!(error.contains("Go duration"), "{bad}: {error}");
        }
        assert!(parse_every("0s").unwrap_err().contains("no time"));
    }

    #[test]
    fn only_the_last_runs_are_kept_newest_first() {
        let runs = CleanupRuns::default();
        let at = |n: i64| DateTime::<Utc>::from_timestamp(n, 0).unwrap();
        for n in 0..(KEPT_RUNS as i64 + 5) {
            runs.push(CleanupRun {
                started: at(n),
                finished: at(n),
                plan: None,
                report: None,
                error: None,
            });
        }
        let kept = runs.newest_first();
        assert_eq!(kept.len(), KEPT_RUNS);
        assert_eq!(kept[0].started, at(KEPT_RUNS as i64 + 4));
        assert_eq!(kept[KEPT_RUNS - 1].started, at(5));
    }

    #[test]
    fn a_schedule_reads_and_writes_its_period_as_go_does() {
        let schedule: Schedule = serde_json::from_value(serde_json::json!({
            "policy": {"rules": [{"repository": ["myapp"], "keep_last": 2}]},
            "every": "1h30m",
        }))
        .unwrap();
        assert_eq!(schedule.every, Duration::from_secs(5_400));
        assert_eq!(serde_json::to_value(&schedule).unwrap()["every"], "1h30m");
    }
}
