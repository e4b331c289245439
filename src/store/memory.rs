//! The gate store in a map, with the same conditions as the DynamoDB adapter: for the rehearsal's
//! `--store memory` and for unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    DecisionLock, GateReader, GateTable, OpenGates, Saved, StoreError, Stored, Taken, clipped,
};
use crate::domain::gate::GateId;
use crate::domain::record::GateRecord;
use crate::ports::{AdapterError, Created};

#[derive(Debug, Default)]
struct Tables {
    gates: BTreeMap<String, Stored>,
    votes: BTreeMap<String, BTreeSet<String>>,
    decision_locks: BTreeMap<String, DecisionLock>,
    rollback_locks: BTreeMap<String, DecisionLock>,
    latest_recipe: BTreeMap<String, GateId>,
}

/// An in-memory [`GateTable`].
#[derive(Debug, Default)]
pub struct MemoryGateTable {
    tables: Mutex<Tables>,
}

impl MemoryGateTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every gate stored, for the rehearsal's closing checks.
    pub fn records(&self) -> Vec<GateRecord> {
        self.tables
            .lock()
            .map(|tables| tables.gates.values().map(|s| s.record.clone()).collect())
            .unwrap_or_default()
    }

    fn with<T>(&self, action: impl FnOnce(&mut Tables) -> T) -> Result<T, StoreError> {
        let mut tables = self.tables.lock().map_err(|_| {
            StoreError::Unavailable(AdapterError::permanent(
                "memory",
                "the gate table's lock was poisoned",
            ))
        })?;
        Ok(action(&mut tables))
    }

    fn sorted(mut gates: Vec<Stored>) -> Vec<Stored> {
        gates.sort_by(|a, b| {
            (a.record.requested_at, a.record.gate_id.as_str())
                .cmp(&(b.record.requested_at, b.record.gate_id.as_str()))
        });
        gates
    }
}

#[async_trait]
impl GateReader for MemoryGateTable {
    async fn load(&self, id: &GateId) -> Result<Option<Stored>, StoreError> {
        self.with(|t| t.gates.get(id.as_str()).cloned())
    }
}

#[async_trait]
impl GateTable for MemoryGateTable {
    async fn create(&self, record: &GateRecord) -> Result<Created, StoreError> {
        self.with(|t| {
            let key = record.gate_id.to_string();
            if t.gates.contains_key(&key) {
                return Created::AlreadyExisted;
            }
            t.gates.insert(
                key,
                Stored {
                    record: clipped(record),
                    version: 1,
                },
            );
            Created::New
        })
    }

    async fn save(&self, record: &GateRecord, read_version: u64) -> Result<Saved, StoreError> {
        self.with(|t| match t.gates.get_mut(record.gate_id.as_str()) {
            Some(stored)
                if stored.version == read_version
                    && (!record.status.is_open() || stored.record.status.is_open()) =>
            {
                stored.record = clipped(record);
                stored.version += 1;
                Saved::Saved {
                    version: stored.version,
                }
            }
            _ => Saved::Conflict,
        })
    }

    async fn add_vote(
        &self,
        id: &GateId,
        user: &str,
        _at: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        self.with(|t| {
            if !t
                .gates
                .get(id.as_str())
                .is_some_and(|s| s.record.status.is_open())
            {
                return Taken::GateClosed;
            }
            if t.votes
                .entry(id.to_string())
                .or_default()
                .insert(user.to_owned())
            {
                Taken::New
            } else {
                Taken::AlreadyExisted
            }
        })
    }

    async fn votes(&self, id: &GateId) -> Result<Vec<String>, StoreError> {
        self.with(|t| {
            t.votes
                .get(id.as_str())
                .map(|users| users.iter().cloned().collect())
                .unwrap_or_default()
        })
    }

    async fn lock_decision(&self, id: &GateId, lock: &DecisionLock) -> Result<Taken, StoreError> {
        self.with(|t| {
            if t.decision_locks.contains_key(id.as_str()) {
                return Taken::AlreadyExisted;
            }
            if !t
                .gates
                .get(id.as_str())
                .is_some_and(|s| s.record.status.is_open())
            {
                return Taken::GateClosed;
            }
            t.decision_locks.insert(id.to_string(), lock.clone());
            Taken::New
        })
    }

    async fn decision_lock(&self, id: &GateId) -> Result<Option<DecisionLock>, StoreError> {
        self.with(|t| t.decision_locks.get(id.as_str()).cloned())
    }

    async fn unlock_decision(&self, id: &GateId) -> Result<(), StoreError> {
        self.with(|t| {
            t.decision_locks.remove(id.as_str());
        })
    }

    async fn lock_rollback(&self, arn: &str, lock: &DecisionLock) -> Result<Created, StoreError> {
        self.with(|t| {
            if t.rollback_locks.contains_key(arn) {
                Created::AlreadyExisted
            } else {
                t.rollback_locks.insert(arn.to_owned(), lock.clone());
                Created::New
            }
        })
    }

    async fn rollback_lock(&self, arn: &str) -> Result<Option<DecisionLock>, StoreError> {
        self.with(|t| t.rollback_locks.get(arn).cloned())
    }

    async fn unlock_rollback(&self, arn: &str) -> Result<(), StoreError> {
        self.with(|t| {
            t.rollback_locks.remove(arn);
        })
    }

    async fn latest_for_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<Stored>, StoreError> {
        let gates = self.with(|t| {
            t.gates
                .values()
                .filter(|s| {
                    s.record.cluster.as_deref() == Some(cluster)
                        && s.record.service.as_deref() == Some(service)
                })
                .cloned()
                .collect::<Vec<_>>()
        })?;
        Ok(Self::sorted(gates).pop())
    }

    async fn supersede(
        &self,
        parameter: &str,
        gate: &GateId,
    ) -> Result<Option<GateId>, StoreError> {
        self.with(|t| t.latest_recipe.insert(parameter.to_owned(), gate.clone()))
    }

    async fn deployment_gates(&self, arn: &str) -> Result<Vec<Stored>, StoreError> {
        let gates = self.with(|t| {
            t.gates
                .values()
                .filter(|s| s.record.service_deployment_arn.as_deref() == Some(arn))
                .cloned()
                .collect::<Vec<_>>()
        })?;
        Ok(Self::sorted(gates))
    }

    async fn open_gates(&self, which: &OpenGates) -> Result<Vec<Stored>, StoreError> {
        let gates = self.with(|t| {
            t.gates
                .values()
                .filter(|s| match which {
                    OpenGates::All => s.record.needs_sweep(),
                    _ => s.record.status.is_open(),
                })
                .filter(|s| match which {
                    OpenGates::InChannel(channel) => s
                        .record
                        .card
                        .as_ref()
                        .is_some_and(|card| &card.channel == channel),
                    OpenGates::OfService(service) => {
                        s.record.service.as_deref() == Some(service.as_str())
                    }
                    OpenGates::All => true,
                })
                .cloned()
                .collect::<Vec<_>>()
        })?;
        Ok(Self::sorted(gates))
    }
}
