//! The bot's view of the gate store: plain records in, plain records out, with the optimistic
//! concurrency of [`GateTable`] wrapped into one [`Gates::update`] that re-reads and re-applies a
//! change when another write came first.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::gate::GateId;
use crate::domain::record::GateRecord;
use crate::ports::Created;
use crate::store::{DecisionLock, GateTable, OpenGates, Saved, StoreError, Stored, Taken};

/// How often an update is tried against newer versions before it gives up. Each conflict means
/// another write landed in between; more than a handful in a row means something is looping.
const UPDATE_ATTEMPTS: u32 = 8;

/// An update that was written (or found nothing to write).
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The gate as it was read for the attempt that counted.
    pub before: GateRecord,
    /// The gate as it now is.
    pub after: GateRecord,
}

impl Updated {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }

    /// Whether this update closed the gate.
    pub fn closed(&self) -> bool {
        self.before.status.is_open() && !self.after.status.is_open()
    }
}

/// Every failure of the gate store is logged here, once, with what was being done to which gate:
/// the workflows only decide what to tell the caller.
fn logged<T>(
    result: Result<T, StoreError>,
    operation: &'static str,
    subject: &str,
) -> Result<T, StoreError> {
    if let Err(error) = &result {
        match error {
            StoreError::Corrupt { .. } => {
                tracing::error!(event = "gate.corrupt", operation, subject, error = %error)
            }
            _ => tracing::error!(event = "gate.store_failed", operation, subject, error = %error),
        }
    }
    result
}

#[derive(Clone)]
pub struct Gates {
    table: Arc<dyn GateTable>,
}

impl Gates {
    pub fn new(table: Arc<dyn GateTable>) -> Gates {
        Gates { table }
    }

    pub async fn create(&self, record: &GateRecord) -> Result<Created, StoreError> {
        logged(
            self.table.create(record).await,
            "create",
            record.gate_id.as_str(),
        )
    }

    pub async fn load(&self, id: &GateId) -> Result<Option<GateRecord>, StoreError> {
        Ok(self.read(id).await?.map(|stored| stored.record))
    }

    /// The gate with its version, for a later [`Gates::update_from`].
    pub async fn read(&self, id: &GateId) -> Result<Option<Stored>, StoreError> {
        logged(self.table.load(id).await, "load", id.as_str())
    }

    /// Reads the gate, applies `change` and writes it back on the condition that nobody wrote in
    /// between; on a conflict, reads it again and applies `change` to the fresh state, so that
    /// concurrent writers neither overwrite each other nor lose what they meant to add. `change`
    /// must therefore be a function of the record it is given. A change that leaves the record
    /// as it was writes nothing. `Ok(None)`: there is no such gate.
    pub async fn update(
        &self,
        id: &GateId,
        change: impl FnMut(&mut GateRecord),
    ) -> Result<Option<Updated>, StoreError> {
        self.update_from(id, None, change).await
    }

    /// [`Gates::update`], whose first attempt starts from `known`, a read made earlier in the
    /// same request, instead of reading again: if the gate changed since, the conditional write
    /// meets the newer version and the next attempt reads it, so nothing is lost, and a click
    /// saves one read.
    pub async fn update_from(
        &self,
        id: &GateId,
        known: Option<Stored>,
        change: impl FnMut(&mut GateRecord),
    ) -> Result<Option<Updated>, StoreError> {
        logged(
            self.try_update(id, known, change).await,
            "update",
            id.as_str(),
        )
    }

    async fn try_update(
        &self,
        id: &GateId,
        mut known: Option<Stored>,
        mut change: impl FnMut(&mut GateRecord),
    ) -> Result<Option<Updated>, StoreError> {
        for attempt in 1..=UPDATE_ATTEMPTS {
            let stored = match known.take() {
                Some(stored) if stored.record.gate_id == *id => stored,
                _ => match self.table.load(id).await? {
                    Some(stored) => stored,
                    None => return Ok(None),
                },
            };
            let mut after = stored.record.clone();
            change(&mut after);
            if after == stored.record {
                return Ok(Some(Updated {
                    before: stored.record,
                    after,
                }));
            }
            match self.table.save(&after, stored.version).await? {
                Saved::Saved { .. } => {
                    return Ok(Some(Updated {
                        before: stored.record,
                        after,
                    }));
                }
                Saved::Conflict => {
                    tracing::debug!(event = "gate.write_conflict", gate_id = %id, attempt);
                }
            }
        }
        Err(StoreError::Conflict {
            gate: id.to_string(),
            attempts: UPDATE_ATTEMPTS,
        })
    }

    pub async fn add_vote(
        &self,
        id: &GateId,
        user: &str,
        at: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        logged(
            self.table.add_vote(id, user, at).await,
            "add_vote",
            id.as_str(),
        )
    }

    pub async fn votes(&self, id: &GateId) -> Result<Vec<String>, StoreError> {
        logged(self.table.votes(id).await, "votes", id.as_str())
    }

    pub async fn lock_decision(
        &self,
        id: &GateId,
        lock: &DecisionLock,
    ) -> Result<Taken, StoreError> {
        logged(
            self.table.lock_decision(id, lock).await,
            "lock_decision",
            id.as_str(),
        )
    }

    pub async fn decision_lock(&self, id: &GateId) -> Result<Option<DecisionLock>, StoreError> {
        logged(
            self.table.decision_lock(id).await,
            "decision_lock",
            id.as_str(),
        )
    }

    pub async fn unlock_decision(&self, id: &GateId) -> Result<(), StoreError> {
        logged(
            self.table.unlock_decision(id).await,
            "unlock_decision",
            id.as_str(),
        )
    }

    pub async fn lock_rollback(
        &self,
        arn: &str,
        lock: &DecisionLock,
    ) -> Result<Created, StoreError> {
        logged(
            self.table.lock_rollback(arn, lock).await,
            "lock_rollback",
            arn,
        )
    }

    pub async fn rollback_lock(&self, arn: &str) -> Result<Option<DecisionLock>, StoreError> {
        logged(self.table.rollback_lock(arn).await, "rollback_lock", arn)
    }

    pub async fn unlock_rollback(&self, arn: &str) -> Result<(), StoreError> {
        logged(
            self.table.unlock_rollback(arn).await,
            "unlock_rollback",
            arn,
        )
    }

    /// Makes `gate` the latest recipe gate on `parameter`; returns the one it replaces.
    pub async fn supersede(
        &self,
        parameter: &str,
        gate: &GateId,
    ) -> Result<Option<GateId>, StoreError> {
        logged(
            self.table.supersede(parameter, gate).await,
            "supersede",
            gate.as_str(),
        )
    }

    pub async fn latest_for_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<GateRecord>, StoreError> {
        let latest = self.table.latest_for_service(cluster, service).await;
        Ok(logged(
            latest,
            "latest_for_service",
            &format!("{cluster}/{service}"),
        )?
        .map(|stored| stored.record))
    }

    /// Every gate of a deployment, the first requested first (ties: the one without a thread
    /// parent first, since that is the card the others reply under).
    pub async fn deployment_gates(&self, arn: &str) -> Result<Vec<GateRecord>, StoreError> {
        let mut gates: Vec<GateRecord> = logged(
            self.table.deployment_gates(arn).await,
            "deployment_gates",
            arn,
        )?
        .into_iter()
        .map(|stored| stored.record)
        .collect();
        gates.sort_by_key(|record| {
            (
                record.requested_at,
                record
                    .card
                    .as_ref()
                    .is_some_and(|card| card.thread_ts.is_some()),
            )
        });
        Ok(gates)
    }

    pub async fn open_gates(&self, which: &OpenGates) -> Result<Vec<GateRecord>, StoreError> {
        let mut gates: Vec<GateRecord> = logged(
            self.table.open_gates(which).await,
            "open_gates",
            &format!("{which:?}"),
        )?
        .into_iter()
        .map(|stored| stored.record)
        .collect();
        gates.sort_by_key(|record| record.requested_at);
        Ok(gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::{ParameterName, TimeoutAction};
    use crate::domain::record::{CardLocation, GateStatus, Resolution};
    use crate::store::memory::MemoryGateTable;

    fn record(id: &str) -> GateRecord {
        GateRecord {
            description: "d".repeat(5000),
            cluster: Some("prod".into()),
            service: Some("web".into()),
            ..GateRecord::new(
                GateId::derive(id),
                Resolution::Parameter {
                    name: ParameterName::new("/ecs/approval").unwrap(),
                },
                "t".repeat(300),
            )
        }
    }

    fn gates() -> Gates {
        Gates::new(Arc::new(MemoryGateTable::new()))
    }

    #[tokio::test]
    async fn an_update_re_applies_its_change_and_never_reopens_a_closed_gate() {
        let gates = gates();
        let first = record("a");
        assert_eq!(gates.create(&first).await.unwrap(), Created::New);
        assert_eq!(gates.create(&first).await.unwrap(), Created::AlreadyExisted);
        let id = first.gate_id.clone();
        let carded = gates
            .update(&id, |r| {
                r.card = Some(CardLocation {
                    channel: "C1".into(),
                    ts: "1.2".into(),
                    thread_ts: None,
                })
            })
            .await
            .unwrap()
            .unwrap();
        assert!(carded.changed() && !carded.closed());
        let closed = gates
            .update(&id, |r| {
                r.status = GateStatus::TimedOut {
                    action: TimeoutAction::Rollback,
                    at: Utc::now(),
                }
            })
            .await
            .unwrap()
            .unwrap();
        assert!(closed.closed());
        // A change that would reopen it is refused by the store, so the update gives up.
        let reopened = gates.update(&id, |r| r.status = GateStatus::Open).await;
        assert!(
            matches!(reopened, Err(StoreError::Conflict { .. })),
            "{reopened:?}"
        );
        assert!(!gates.load(&id).await.unwrap().unwrap().status.is_open());
        assert!(
            gates
                .update(&GateId::derive("none"), |_| {})
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn votes_count_once_and_only_while_open() {
        let gates = gates();
        let gate = record("v");
        gates.create(&gate).await.unwrap();
        let id = &gate.gate_id;
        assert_eq!(
            gates.add_vote(id, "U2", Utc::now()).await.unwrap(),
            Taken::New
        );
        assert_eq!(
            gates.add_vote(id, "U1", Utc::now()).await.unwrap(),
            Taken::New
        );
        assert_eq!(
            gates.add_vote(id, "U2", Utc::now()).await.unwrap(),
            Taken::AlreadyExisted
        );
        assert_eq!(gates.votes(id).await.unwrap(), vec!["U1", "U2"]);
        gates
            .update(id, |r| {
                r.status = GateStatus::TimedOut {
                    action: TimeoutAction::Rollback,
                    at: Utc::now(),
                }
            })
            .await
            .unwrap();
        assert_eq!(
            gates.add_vote(id, "U3", Utc::now()).await.unwrap(),
            Taken::GateClosed
        );
        let lock = DecisionLock {
            decision: crate::domain::gate::Decision::Approved,
            by: "U1".into(),
            at: Utc::now(),
        };
        assert_eq!(
            gates.lock_decision(id, &lock).await.unwrap(),
            Taken::GateClosed
        );
    }
}
