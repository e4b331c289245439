//! Who is in a Slack user group, asked of a directory and remembered for a while.
//!
//! A policy may name a user group (`S…`) as an approver so that a team's rota decides, not a list
//! that goes stale in a config file. Membership lives in Slack, so checking a click means asking
//! Slack; [`CachedGroups`] keeps the answer for a few minutes because a gate's clicks come in bursts
//! and Slack's Web API is rate-limited. The price is that someone removed from a group may still
//! decide for up to the cache's time to live; five minutes is the default for that reason.
//!
//! A failed lookup is never cached and never turned into an answer: the caller gets the error and
//! refuses the click (see [`super::authorize()`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::ports::AdapterError;

/// How long [`CachedGroups`] trusts an answer unless told otherwise.
pub const DEFAULT_GROUP_TTL: Duration = Duration::from_secs(5 * 60);

/// Where user-group membership comes from: Slack's `usergroups.users.list` in production.
#[async_trait]
pub trait GroupDirectory: Send + Sync {
    /// The user IDs (`U…`/`W…`) in the group `group_id` (`S…`).
    async fn members(&self, group_id: &str) -> Result<Vec<String>, AdapterError>;
}

/// A fixed directory, for the local rehearsal and tests. Asking for a group it does not know is
/// an error, as Slack answers `no_such_subteam`.
#[derive(Debug, Clone, Default)]
pub struct StaticGroups {
    groups: HashMap<String, Vec<String>>,
}

impl StaticGroups {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same directory with `group_id` holding exactly `members`.
    pub fn with_group<I, S>(mut self, group_id: &str, members: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.insert(
            group_id.to_owned(),
            members.into_iter().map(Into::into).collect(),
        );
        self
    }
}

#[async_trait]
impl GroupDirectory for StaticGroups {
    async fn members(&self, group_id: &str) -> Result<Vec<String>, AdapterError> {
        self.groups.get(group_id).cloned().ok_or_else(|| {
            AdapterError::permanent(
                "slack:usergroups.users.list",
                format!("no_such_subteam: {group_id}"),
            )
        })
    }
}

/// One remembered answer.
struct Entry {
    fetched_at: Instant,
    members: Vec<String>,
}

/// Any [`GroupDirectory`] with its answers remembered for a time to live.
///
/// The clock is injectable so that a test can show an entry expiring without waiting for it.
/// Two clicks that miss the cache at the same moment both ask the directory; that is harmless and
/// keeps the lock from being held across an `await`.
pub struct CachedGroups<D> {
    directory: D,
    ttl: Duration,
    now: Box<dyn Fn() -> Instant + Send + Sync>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl<D: GroupDirectory> CachedGroups<D> {
    /// Caches `directory`'s answers for [`DEFAULT_GROUP_TTL`].
    pub fn new(directory: D) -> Self {
        Self::with_ttl(directory, DEFAULT_GROUP_TTL)
    }

    /// Caches `directory`'s answers for `ttl`; a zero `ttl` caches nothing.
    pub fn with_ttl(directory: D, ttl: Duration) -> Self {
        Self::with_clock(directory, ttl, Instant::now)
    }

    /// As [`CachedGroups::with_ttl`], reading the time from `now` instead of the system clock.
    pub fn with_clock(
        directory: D,
        ttl: Duration,
        now: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> Self {
        CachedGroups {
            directory,
            ttl,
            now: Box::new(now),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The directory behind the cache.
    pub fn directory(&self) -> &D {
        &self.directory
    }

    /// The remembered members of `group_id`, if they are still fresh at `now`.
    fn fresh(&self, group_id: &str, now: Instant) -> Option<Vec<String>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(group_id)?;
        (now.saturating_duration_since(entry.fetched_at) < self.ttl).then(|| entry.members.clone())
    }
}

#[async_trait]
impl<D: GroupDirectory> GroupDirectory for CachedGroups<D> {
    async fn members(&self, group_id: &str) -> Result<Vec<String>, AdapterError> {
        if let Some(members) = self.fresh(group_id, (self.now)()) {
            return Ok(members);
        }
        let members = self.directory.members(group_id).await?;
        // Stamp the answer with the time it arrived, not the time it was asked for: a slow answer
        // is no older than that.
        let fetched_at = (self.now)();
        // A poisoned lock only costs the cache; the answer itself is good.
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                group_id.to_owned(),
                Entry {
                    fetched_at,
                    members: members.clone(),
                },
            );
        }
        Ok(members)
    }
}

impl<D: fmt::Debug> fmt::Debug for CachedGroups<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedGroups")
            .field("directory", &self.directory)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A directory that counts its calls and can be told to fail.
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl GroupDirectory for Counting {
        async fn members(&self, group_id: &str) -> Result<Vec<String>, AdapterError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(AdapterError::retryable(
                    "slack:usergroups.users.list",
                    "ratelimited",
                ));
            }
            Ok(vec![format!("U{group_id}MEMBER")])
        }
    }

    /// A clock that only moves when the test moves it.
    fn manual_clock() -> (
        Arc<Mutex<Instant>>,
        impl Fn() -> Instant + Send + Sync + 'static,
    ) {
        let time = Arc::new(Mutex::new(Instant::now()));
        let reader = Arc::clone(&time);
        (time, move || *reader.lock().unwrap())
    }

    fn advance(time: &Mutex<Instant>, by: Duration) {
        let mut now = time.lock().unwrap();
        *now += by;
    }

    #[tokio::test]
    async fn a_fresh_answer_is_served_from_the_cache() {
        let (_, clock) = manual_clock();
        let cached = CachedGroups::with_clock(Counting::default(), DEFAULT_GROUP_TTL, clock);
        assert_eq!(cached.members("S1").await.unwrap(), ["US1MEMBER"]);
        assert_eq!(cached.members("S1").await.unwrap(), ["US1MEMBER"]);
        assert_eq!(cached.directory().calls.load(Ordering::SeqCst), 1);
        // Another group is another entry.
        assert_eq!(cached.members("S2").await.unwrap(), ["US2MEMBER"]);
        assert_eq!(cached.directory().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_answer_expires_after_the_ttl() {
        let (time, clock) = manual_clock();
        let cached = CachedGroups::with_clock(Counting::default(), DEFAULT_GROUP_TTL, clock);
        cached.members("S1").await.unwrap();
        advance(&time, DEFAULT_GROUP_TTL - Duration::from_secs(1));
        cached.members("S1").await.unwrap();
        assert_eq!(cached.directory().calls.load(Ordering::SeqCst), 1);
        advance(&time, Duration::from_secs(1));
        cached.members("S1").await.unwrap();
        assert_eq!(cached.directory().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_default_ttl_is_five_minutes() {
        assert_eq!(DEFAULT_GROUP_TTL, Duration::from_secs(300));
        let cached = CachedGroups::new(Counting::default());
        assert_eq!(cached.ttl, DEFAULT_GROUP_TTL);
    }

    #[tokio::test]
    async fn failures_are_passed_on_and_not_cached() {
        let (_, clock) = manual_clock();
        let cached = CachedGroups::with_clock(Counting::default(), DEFAULT_GROUP_TTL, clock);
        cached.directory().failing.store(true, Ordering::SeqCst);
        let error = cached.members("S1").await.unwrap_err();
        assert!(error.retryable);
        cached.directory().failing.store(false, Ordering::SeqCst);
        assert_eq!(cached.members("S1").await.unwrap(), ["US1MEMBER"]);
        assert_eq!(cached.directory().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn static_groups_know_only_their_groups() {
        let groups = StaticGroups::new().with_group("S0SRE0001", ["U0ALICE01"]);
        assert_eq!(groups.members("S0SRE0001").await.unwrap(), ["U0ALICE01"]);
        assert!(groups.members("S0OTHER01").await.is_err());
    }
}
