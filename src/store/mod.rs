//! Where the bot remembers gates: one DynamoDB table (see [`schema`]) in production, a map in the
//! rehearsal and in unit tests, behind one trait with the same contract.
//!
//! The contract is what keeps concurrent requests honest, so both adapters enforce it as a
//! condition on the write itself, never as a check before it:
//! - a gate is created once (an SNS redelivery finds it there);
//! - every update names the version it read and fails with [`Saved::Conflict`] when another write
//!   came first; a write that would put a closed gate back to open fails the same way;
//! - a vote and a decision lock are create-only and are taken only while the gate is open (a
//!   transaction with a condition check on the gate);
//! - "Roll back now" is claimed once per deployment.
//!
//! Nothing here lists the table: every read is one item or one query on a key, and the open gates
//! come from sparse indexes that hold open gates only.

pub mod memory;
pub mod schema;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::gate::{Decision, GateId};
use crate::domain::record::{GateRecord, GateStatus};
use crate::ports::{AdapterError, Created};

/// Default `GREENLIGHT_RETENTION`: how long a closed gate stays in the table.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Who decided (or asked for "Roll back now"), kept create-only next to the gate: the lock that
/// lets exactly one decision win.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionLock {
    pub decision: Decision,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A gate record as stored, with the version a conditional update must name.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub record: GateRecord,
    pub version: u64,
}

/// What came of a conditional update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the gate is now at this version.
    Saved { version: u64 },
    /// The gate changed since it was read (or would have gone from closed back to open, or is
    /// gone): nothing was written. Read it again and re-apply the change.
    Conflict,
}

/// What came of a create-only write that also needs the gate to be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// This call wrote it.
    New,
    /// It existed already; nothing was written.
    AlreadyExisted,
    /// The gate is closed (or gone); nothing was written.
    GateClosed,
}

/// Which open gates to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenGates {
    /// The open, carded gates whose card is in this channel.
    InChannel(String),
    /// The open gates of services with this name (in any cluster).
    OfService(String),
    /// Every gate the sweep has work for: open ones, carded or not, and closed ones whose card
    /// is stale.
    All,
}

/// A failed read or write of the gate store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or refused the call.
    #[error(transparent)]
    Unavailable(#[from] AdapterError),
    /// The gate's item cannot be read back (bad JSON, an unknown status, a missing version).
    #[error("gate {gate} is unreadable in the gate store: {reason}")]
    Corrupt { gate: String, reason: String },
    /// Every attempt of an update met a newer version.
    #[error("gate {gate} kept changing under {attempts} attempts to update it")]
    Conflict { gate: String, attempts: u32 },
}

/// Reading one gate: all the hook does with the bot's table (to know whether its gate got a
/// card). A port of its own so that the hook holds no write access to the table, and the
/// hook-only binary links none of it.
#[async_trait]
pub trait GateReader: Send + Sync {
    async fn load(&self, id: &GateId) -> Result<Option<Stored>, StoreError>;
}

/// The gate store's contract; see the module documentation.
#[async_trait]
pub trait GateTable: GateReader {
    /// Stores a new gate at version 1; `AlreadyExisted` means this gate was seen before.
    async fn create(&self, record: &GateRecord) -> Result<Created, StoreError>;
    /// Replaces the gate if it is still at `read_version` and the write does not reopen it.
    async fn save(&self, record: &GateRecord, read_version: u64) -> Result<Saved, StoreError>;
    /// Counts one approval of `user` while the gate is open.
    async fn add_vote(
        &self,
        id: &GateId,
        user: &str,
        at: DateTime<Utc>,
    ) -> Result<Taken, StoreError>;
    /// The users who approved so far, sorted.
    async fn votes(&self, id: &GateId) -> Result<Vec<String>, StoreError>;
    /// Takes the gate's decision lock while the gate is open.
    async fn lock_decision(&self, id: &GateId, lock: &DecisionLock) -> Result<Taken, StoreError>;
    async fn decision_lock(&self, id: &GateId) -> Result<Option<DecisionLock>, StoreError>;
    /// Releases the lock after a decision failed to take effect.
    async fn unlock_decision(&self, id: &GateId) -> Result<(), StoreError>;
    /// Claims a deployment's "Roll back now".
    async fn lock_rollback(&self, arn: &str, lock: &DecisionLock) -> Result<Created, StoreError>;
    async fn rollback_lock(&self, arn: &str) -> Result<Option<DecisionLock>, StoreError>;
    /// Releases the claim after ECS refused the rollback.
    async fn unlock_rollback(&self, arn: &str) -> Result<(), StoreError>;
    /// The most recently requested gate of a service.
    async fn latest_for_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<Stored>, StoreError>;
    /// Makes `gate` the latest recipe gate of a decision parameter and returns the one it
    /// replaces, if any: recipe hooks share one parameter across deployments, so only the newest
    /// gate on it may still be decided.
    async fn supersede(&self, parameter: &str, gate: &GateId)
    -> Result<Option<GateId>, StoreError>;
    /// Every gate of one service deployment, in the order they were requested.
    async fn deployment_gates(&self, arn: &str) -> Result<Vec<Stored>, StoreError>;
    /// Open gates, in the order they were requested. A corrupt item is logged and left out.
    async fn open_gates(&self, which: &OpenGates) -> Result<Vec<Stored>, StoreError>;
}

/// The status word that write conditions test, one per [`GateStatus`] variant.
pub fn status_word(status: &GateStatus) -> &'static str {
    match status {
        GateStatus::Open => "open",
        GateStatus::Decided { .. } => "decided",
        GateStatus::TimedOut { .. } => "timedOut",
        GateStatus::ResolvedElsewhere { .. } => "resolvedElsewhere",
    }
}

/// Whether `word` is one that [`status_word`] writes.
pub fn is_status_word(word: &str) -> bool {
    matches!(word, "open" | "decided" | "timedOut" | "resolvedElsewhere")
}

/// When DynamoDB's TTL may delete a gate: `retention` after it closed, or, while it is open,
/// `retention` after its deadline (after it was asked for, when it has no deadline).
pub fn expires_at(record: &GateRecord, retention: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(90));
    let base = match &record.status {
        GateStatus::Open => record
            .deadline
            .or(record.requested_at)
            .unwrap_or(now)
            .max(now),
        GateStatus::Decided { at, .. }
        | GateStatus::TimedOut { at, .. }
        | GateStatus::ResolvedElsewhere { at, .. } => *at,
    };
    base + retention
}

/// The index key that orders gates by when they were asked for: RFC 3339 in UTC with
/// milliseconds sorts as text in time order; the gate id breaks ties.
pub fn requested_key(record: &GateRecord, now: DateTime<Utc>) -> String {
    let at = record.requested_at.unwrap_or(now);
    format!(
        "{}#{}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        record.gate_id
    )
}

/// SNS messages may be 256 KiB and a do-it-yourself hook may fill its description: the free text
/// of a record is clipped so that an item stays far below DynamoDB's 400 KB.
pub fn clipped(record: &GateRecord) -> GateRecord {
    const DESCRIPTION_MAX: usize = 3000;
    const TITLE_MAX: usize = 200;
    let mut record = record.clone();
    record.title = crate::domain::text::clip(&record.title, TITLE_MAX);
    record.description = crate::domain::text::clip(&record.description, DESCRIPTION_MAX);
    record
}

/// Reads a stored record's JSON and status word back, refusing what does not read.
pub fn decode(
    gate: &str,
    json: Option<&str>,
    status: Option<&str>,
    version: Option<u64>,
) -> Result<Stored, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        gate: gate.to_owned(),
        reason,
    };
    let json = json.ok_or_else(|| corrupt("the item has no record".to_owned()))?;
    let version = version.ok_or_else(|| corrupt("the item has no version".to_owned()))?;
    let status = status.ok_or_else(|| corrupt("the item has no status".to_owned()))?;
    if !is_status_word(status) {
        return Err(corrupt(format!("unknown status `{status}`")));
    }
    let record: GateRecord = serde_json::from_str(json)
        .map_err(|err| corrupt(format!("its record is not a gate record: {err}")))?;
    if status_word(&record.status) != status {
        return Err(corrupt(format!(
            "its status `{status}` disagrees with its record's `{}`",
            status_word(&record.status)
        )));
    }
    if record.gate_id.as_str() != gate {
        return Err(corrupt(format!("its record names gate {}", record.gate_id)));
    }
    Ok(Stored { record, version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::TimeoutAction;
    use crate::domain::record::Resolution;

    fn record(status: GateStatus) -> GateRecord {
        GateRecord {
            card_claimed_at: None,
            status,
            ..GateRecord::new(
                GateId::derive("r"),
                Resolution::PauseHook {
                    hook_id: "h".into(),
                },
                "t",
            )
        }
    }

    #[test]
    fn a_closed_gate_expires_a_retention_after_it_closed_an_open_one_after_its_deadline() {
        let now = Utc::now();
        let day = Duration::from_secs(24 * 3600);
        let closed_at = now - chrono::Duration::days(3);
        let closed = record(GateStatus::TimedOut {
            action: TimeoutAction::Rollback,
            at: closed_at,
        });
        assert_eq!(
            expires_at(&closed, day, now),
            closed_at + chrono::Duration::days(1)
        );
        let mut open = record(GateStatus::Open);
        open.deadline = Some(now + chrono::Duration::hours(20));
        assert_eq!(
            expires_at(&open, day, now),
            now + chrono::Duration::hours(44)
        );
        // An open gate whose deadline passed long ago still lives a retention from now on.
        open.deadline = Some(now - chrono::Duration::days(30));
        assert_eq!(expires_at(&open, day, now), now + chrono::Duration::days(1));
    }

    #[test]
    fn what_does_not_read_back_is_corrupt_with_its_reason() {
        let good = record(GateStatus::Open);
        let json = serde_json::to_string(&good).unwrap();
        let id = good.gate_id.as_str();
        assert_eq!(
            decode(id, Some(&json), Some("open"), Some(3)).unwrap(),
            Stored {
                record: good.clone(),
                version: 3
            }
        );
        let cases = [
            (
                Some("{not json"),
                Some("open"),
                Some(1),
                "not a gate record",
            ),
            (
                Some(json.as_str()),
                Some("paused"),
                Some(1),
                "unknown status",
            ),
            (Some(json.as_str()), Some("decided"), Some(1), "disagrees"),
            (Some(json.as_str()), Some("open"), None, "no version"),
            (None, Some("open"), Some(1), "no record"),
        ];
        for (record, status, version, reason) in cases {
            match decode(id, record, status, version) {
                Err(StoreError::Corrupt { gate, reason: why }) => {
                    assert_eq!(gate, id);
                    assert!(why.contains(reason), "{why}");
                }
                other => panic!("{reason}: {other:?}"),
            }
        }
        assert!(matches!(
            decode("gl-000000000000", Some(&json), Some("open"), Some(1)),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn requested_keys_sort_in_time_order() {
        let mut earlier = record(GateStatus::Open);
        earlier.requested_at = Some("2026-11-01T09:59:59.5Z".parse().unwrap());
        let mut later = record(GateStatus::Open);
        later.requested_at = Some("2026-11-01T10:00:00Z".parse().unwrap());
        let now = Utc::now();
        assert!(requested_key(&earlier, now) < requested_key(&later, now));
    }
}
