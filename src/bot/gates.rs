//! Gate records, votes and the service index, kept in the parameter store.
//!
//! Layout under `GREENLIGHT_GATE_PREFIX`:
//! - `{gateId}/record`: the [`GateRecord`] as JSON (created once: the duplicate check);
//! - `{gateId}/votes/{userId}`: one create-only parameter per approval (a vote counts once);
//! - `{gateId}/decision`: who decided, create-only: the first-decision-wins lock;
//! - `services/{cluster}/{service}`: the id of the service's latest gate, so ECS events about a
//!   deployment find the card to reply under;
//! - `deployments/{key}/{gateId}`: every gate of one service deployment (`key` is derived from
//!   its ARN), so later pauses of a linear or canary deployment go into the first card's thread
//!   and a deployment's end updates all its cards;
//! - `rollbacks/{key}`: who clicked "Roll back now" for a deployment, create-only, so that one
//!   `StopServiceDeployment` is sent however many people click.

use crate::domain::text::clip;
use std::sync::Arc;

use crate::domain::gate::{GateId, ParameterName};
use crate::domain::record::GateRecord;
use crate::ports::{AdapterError, Created, ParameterStore};

use super::decisions::DecisionLock;

/// SSM's standard tier holds values up to 4 KiB; the free text of a record is clipped to keep
/// every record under it, whatever a do-it-yourself hook puts in its description.
const DESCRIPTION_MAX: usize = 1200;
const TITLE_MAX: usize = 200;

#[derive(Clone)]
pub struct GateStore {
    store: Arc<dyn ParameterStore>,
    prefix: ParameterName,
}

fn bad_name(err: crate::domain::gate::InvalidParameterName) -> AdapterError {
    AdapterError::permanent("gate-store", err.to_string())
}

impl GateStore {
    pub fn new(store: Arc<dyn ParameterStore>, prefix: ParameterName) -> GateStore {
        GateStore { store, prefix }
    }

    fn record_name(&self, id: &GateId) -> Result<ParameterName, AdapterError> {
        self.prefix.child(&format!("{id}/record")).map_err(bad_name)
    }

    fn votes_path(&self, id: &GateId) -> Result<ParameterName, AdapterError> {
        self.prefix.child(&format!("{id}/votes")).map_err(bad_name)
    }

    fn lock_name(&self, id: &GateId) -> Result<ParameterName, AdapterError> {
        self.prefix
            .child(&format!("{id}/decision"))
            .map_err(bad_name)
    }

    /// Takes the gate's decision lock; `AlreadyExisted` means someone decided first.
    pub async fn lock_decision(
        &self,
        id: &GateId,
        lock: &DecisionLock,
    ) -> Result<Created, AdapterError> {
        let name = self.lock_name(id)?;
        let json = serde_json::to_string(lock)
            .map_err(|err| AdapterError::permanent("gate-store", err.to_string()))?;
        self.store.create(name.as_str(), &json).await
    }

    /// Who holds the decision lock, if anyone.
    pub async fn decision_lock(&self, id: &GateId) -> Result<Option<DecisionLock>, AdapterError> {
        let name = self.lock_name(id)?;
        Ok(self
            .store
            .get(name.as_str())
            .await?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Releases the lock after a decision failed to take effect.
    pub async fn unlock_decision(&self, id: &GateId) -> Result<(), AdapterError> {
        let name = self.lock_name(id)?;
        self.store.delete(name.as_str()).await
    }

    fn service_index(&self, cluster: &str, service: &str) -> Result<ParameterName, AdapterError> {
        self.prefix
            .child(&format!("services/{cluster}/{service}"))
            .map_err(bad_name)
    }

    fn encode(record: &GateRecord) -> Result<String, AdapterError> {
        let mut record = record.clone();
        record.title = clip(&record.title, TITLE_MAX);
        record.description = clip(&record.description, DESCRIPTION_MAX);
        serde_json::to_string(&record)
            .map_err(|err| AdapterError::permanent("gate-store", err.to_string()))
    }

    /// Stores a new record; `AlreadyExisted` means this gate was seen before.
    pub async fn create(&self, record: &GateRecord) -> Result<Created, AdapterError> {
        let name = self.record_name(&record.gate_id)?;
        self.store
            .create(name.as_str(), &Self::encode(record)?)
            .await
    }

    /// Replaces a record (after the card is posted, or the gate is decided).
    pub async fn save(&self, record: &GateRecord) -> Result<(), AdapterError> {
        let name = self.record_name(&record.gate_id)?;
        self.store
            .overwrite(name.as_str(), &Self::encode(record)?)
            .await
    }

    /// Forgets a record whose card could not be posted, so a redelivery can try again.
    pub async fn delete(&self, id: &GateId) -> Result<(), AdapterError> {
        let name = self.record_name(id)?;
        self.store.delete(name.as_str()).await
    }

    pub async fn load(&self, id: &GateId) -> Result<Option<GateRecord>, AdapterError> {
        let name = self.record_name(id)?;
        match self.store.get(name.as_str()).await? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json).map(Some).map_err(|err| {
                AdapterError::permanent("gate-store", format!("record {id} is unreadable: {err}"))
            }),
        }
    }

    /// Counts one approval of `user`; `AlreadyExisted` when they had approved before.
    pub async fn add_vote(&self, id: &GateId, user: &str) -> Result<Created, AdapterError> {
        let name = self.votes_path(id)?.child(user).map_err(bad_name)?;
        self.store
            .create(name.as_str(), &chrono::Utc::now().to_rfc3339())
            .await
    }

    /// The users who approved so far, oldest name first.
    pub async fn votes(&self, id: &GateId) -> Result<Vec<String>, AdapterError> {
        let path = self.votes_path(id)?;
        let mut users: Vec<String> = self
            .store
            .list(path.as_str())
            .await?
            .into_iter()
            .filter_map(|(name, _)| name.rsplit('/').next().map(str::to_owned))
            .collect();
        users.sort();
        Ok(users)
    }

    /// Remembers `id` as the latest gate of a service.
    pub async fn index_service(
        &self,
        cluster: &str,
        service: &str,
        id: &GateId,
    ) -> Result<(), AdapterError> {
        let name = self.service_index(cluster, service)?;
        self.store.overwrite(name.as_str(), id.as_str()).await
    }

    /// The latest gate of a service, if greenlight has carded one.
    pub async fn latest_for_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<GateRecord>, AdapterError> {
        let Ok(name) = self.service_index(cluster, service) else {
            return Ok(None);
        };
        match self.store.get(name.as_str()).await? {
            Some(id) => match id.parse::<GateId>() {
                Ok(id) => self.load(&id).await,
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// The key of a deployment's entries: fixed-length and parameter-name safe whatever the ARN.
    fn deployment_key(arn: &str) -> GateId {
        GateId::derive(&format!("deployment|{arn}"))
    }

    fn deployment_path(&self, arn: &str) -> Result<ParameterName, AdapterError> {
        self.prefix
            .child(&format!("deployments/{}", Self::deployment_key(arn)))
            .map_err(bad_name)
    }

    fn rollback_name(&self, arn: &str) -> Result<ParameterName, AdapterError> {
        self.prefix
            .child(&format!("rollbacks/{}", Self::deployment_key(arn)))
            .map_err(bad_name)
    }

    /// Remembers `record` as one of its deployment's gates. A gate without a service-deployment
    /// ARN (a recipe card) belongs to no deployment and is not indexed.
    pub async fn index_deployment(&self, record: &GateRecord) -> Result<(), AdapterError> {
        let Some(arn) = record.service_deployment_arn.as_deref() else {
            return Ok(());
        };
        let name = self
            .deployment_path(arn)?
            .child(record.gate_id.as_str())
            .map_err(bad_name)?;
        self.store
            .overwrite(name.as_str(), record.gate_id.as_str())
            .await
    }

    /// Every gate of a deployment, the first requested first (ties: the one without a thread
    /// parent first, since that is the card the others reply under).
    pub async fn deployment_gates(&self, arn: &str) -> Result<Vec<GateRecord>, AdapterError> {
        let path = self.deployment_path(arn)?;
        let mut gates = Vec::new();
        for (_, id) in self.store.list(path.as_str()).await? {
            if let Ok(id) = id.parse::<GateId>()
                && let Some(record) = self.load(&id).await?
            {
                gates.push(record);
            }
        }
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

    /// Takes a deployment's "Roll back now" lock; `AlreadyExisted` means someone asked first.
    pub async fn lock_rollback(
        &self,
        arn: &str,
        lock: &DecisionLock,
    ) -> Result<Created, AdapterError> {
        let name = self.rollback_name(arn)?;
        let json = serde_json::to_string(lock)
            .map_err(|err| AdapterError::permanent("gate-store", err.to_string()))?;
        self.store.create(name.as_str(), &json).await
    }

    /// Who holds a deployment's "Roll back now" lock, if anyone.
    pub async fn rollback_lock(&self, arn: &str) -> Result<Option<DecisionLock>, AdapterError> {
        let name = self.rollback_name(arn)?;
        Ok(self
            .store
            .get(name.as_str())
            .await?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Releases the lock after ECS refused the rollback, so someone can try again.
    pub async fn unlock_rollback(&self, arn: &str) -> Result<(), AdapterError> {
        let name = self.rollback_name(arn)?;
        self.store.delete(name.as_str()).await
    }

    /// Every record still open, oldest request first.
    pub async fn open_gates(&self) -> Result<Vec<GateRecord>, AdapterError> {
        let mut open: Vec<GateRecord> = self
            .store
            .list(self.prefix.as_str())
            .await?
            .into_iter()
            .filter(|(name, _)| name.ends_with("/record"))
            .filter_map(|(_, json)| serde_json::from_str::<GateRecord>(&json).ok())
            .filter(|record| record.status.is_open())
            .collect();
        open.sort_by_key(|record| record.requested_at);
        Ok(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notification::GateRequest;
    use crate::memory::MemoryParameterStore;

    fn record(id: &str) -> GateRecord {
        let request = GateRequest {
            title: "t".repeat(300),
            description: "d".repeat(5000),
            action_group: None,
            parameter_name: ParameterName::new("/ecs/approval").unwrap(),
            region: None,
            gate_id: Some(GateId::derive(id)),
            cluster: Some("prod".into()),
            service: Some("web".into()),
            service_deployment_arn: None,
            lifecycle_stage: None,
            target_revision: None,
            source_revisions: vec![],
            requested_at: None,
            deadline: None,
            timeout_action: None,
            console_url: None,
            test_url: None,
        };
        GateRecord::from_request(&request)
    }

    #[tokio::test]
    async fn records_votes_and_index_round_trip() {
        let gates = GateStore::new(
            Arc::new(MemoryParameterStore::new()),
            ParameterName::new("/g").unwrap(),
        );
        let first = record("a");
        assert_eq!(gates.create(&first).await.unwrap(), Created::New);
        assert_eq!(gates.create(&first).await.unwrap(), Created::AlreadyExisted);
        let loaded = gates.load(&first.gate_id).await.unwrap().unwrap();
        assert_eq!(loaded.description.chars().count(), DESCRIPTION_MAX);
        assert!(serde_json::to_string(&loaded).unwrap().len() < 4096);
        assert_eq!(
            gates.add_vote(&first.gate_id, "U2").await.unwrap(),
            Created::New
        );
        assert_eq!(
            gates.add_vote(&first.gate_id, "U1").await.unwrap(),
            Created::New
        );
        assert_eq!(
            gates.add_vote(&first.gate_id, "U2").await.unwrap(),
            Created::AlreadyExisted
        );
        assert_eq!(gates.votes(&first.gate_id).await.unwrap(), vec!["U1", "U2"]);
        gates
            .index_service("prod", "web", &first.gate_id)
            .await
            .unwrap();
        let latest = gates
            .latest_for_service("prod", "web")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.gate_id, first.gate_id);
        assert_eq!(gates.open_gates().await.unwrap().len(), 1);
        let mut closed = loaded.clone();
        closed.status = crate::domain::record::GateStatus::TimedOut {
            action: crate::domain::gate::TimeoutAction::Rollback,
            at: chrono::Utc::now(),
        };
        gates.save(&closed).await.unwrap();
        assert!(gates.open_gates().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_deployments_gates_and_its_rollback_lock() {
        let gates = GateStore::new(
            Arc::new(MemoryParameterStore::new()),
            ParameterName::new("/g").unwrap(),
        );
        let arn = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1";
        let mut first = record("first");
        first.service_deployment_arn = Some(arn.into());
        first.requested_at = Some(chrono::Utc::now() - chrono::Duration::minutes(5));
        let mut second = record("second");
        second.service_deployment_arn = Some(arn.into());
        second.requested_at = Some(chrono::Utc::now());
        for gate in [&second, &first] {
            gates.create(gate).await.unwrap();
            gates.index_deployment(gate).await.unwrap();
        }
        // A recipe gate has no deployment and is not indexed.
        gates.index_deployment(&record("recipe")).await.unwrap();
        let found: Vec<GateId> = gates
            .deployment_gates(arn)
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.gate_id)
            .collect();
        assert_eq!(found, vec![first.gate_id.clone(), second.gate_id.clone()]);
        assert!(gates.deployment_gates("other").await.unwrap().is_empty());
        // The index entries are not records.
        assert_eq!(gates.open_gates().await.unwrap().len(), 2);

        let lock = DecisionLock {
            decision: crate::domain::gate::Decision::Rejected,
            by: "U1".into(),
            at: chrono::Utc::now(),
        };
        assert_eq!(gates.lock_rollback(arn, &lock).await.unwrap(), Created::New);
        assert_eq!(
            gates.lock_rollback(arn, &lock).await.unwrap(),
            Created::AlreadyExisted
        );
        assert_eq!(gates.rollback_lock(arn).await.unwrap().unwrap().by, "U1");
        gates.unlock_rollback(arn).await.unwrap();
        assert_eq!(gates.rollback_lock(arn).await.unwrap(), None);
    }
}
