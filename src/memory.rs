//! In-memory stand-ins for the outside services, for the local rehearsal and for unit tests.
//! They keep the same contracts as the AWS adapters (create-only writes, recursive listing), so
//! code exercised against them behaves the same against SSM.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{AdapterError, Created, ParameterStore, TopicPublisher};

/// A parameter store in a map.
#[derive(Debug, Default)]
pub struct MemoryParameterStore {
    parameters: Mutex<BTreeMap<String, String>>,
}

impl MemoryParameterStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything stored, for assertions and the rehearsal's timeline.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.parameters
            .lock()
            .map(|map| map.clone())
            .unwrap_or_default()
    }

    fn with<T>(
        &self,
        action: impl FnOnce(&mut BTreeMap<String, String>) -> T,
    ) -> Result<T, AdapterError> {
        let mut map = self
            .parameters
            .lock()
            .map_err(|_| AdapterError::permanent("memory", "the store's lock was poisoned"))?;
        Ok(action(&mut map))
    }
}

#[async_trait]
impl ParameterStore for MemoryParameterStore {
    async fn get(&self, name: &str) -> Result<Option<String>, AdapterError> {
        self.with(|map| map.get(name).cloned())
    }

    async fn create(&self, name: &str, value: &str) -> Result<Created, AdapterError> {
        self.with(|map| {
            if map.contains_key(name) {
                Created::AlreadyExisted
            } else {
                map.insert(name.to_owned(), value.to_owned());
                Created::New
            }
        })
    }

    async fn overwrite(&self, name: &str, value: &str) -> Result<(), AdapterError> {
        self.with(|map| {
            map.insert(name.to_owned(), value.to_owned());
        })
    }

    async fn delete(&self, name: &str) -> Result<(), AdapterError> {
        self.with(|map| {
            map.remove(name);
        })
    }

    async fn list(&self, path: &str) -> Result<Vec<(String, String)>, AdapterError> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.with(|map| {
            map.range(prefix.clone()..)
                .take_while(|(name, _)| name.starts_with(&prefix))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
    }
}

/// A topic that keeps what was published, in order.
#[derive(Debug, Default)]
pub struct MemoryTopic {
    messages: Mutex<Vec<String>>,
}

impl MemoryTopic {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .map(|messages| messages.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl TopicPublisher for MemoryTopic {
    async fn publish(&self, message: &str) -> Result<(), AdapterError> {
        self.messages
            .lock()
            .map_err(|_| AdapterError::permanent("memory", "the topic's lock was poisoned"))?
            .push(message.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_only_writes_keep_the_first_value() {
        let store = MemoryParameterStore::new();
        assert_eq!(
            store.create("/a/b", "approved").await.unwrap(),
            Created::New
        );
        assert_eq!(
            store.create("/a/b", "rejected").await.unwrap(),
            Created::AlreadyExisted
        );
        assert_eq!(
            store.get("/a/b").await.unwrap().as_deref(),
            Some("approved")
        );
        store.create("/a/bc", "x").await.unwrap();
        store.create("/a/b/c", "y").await.unwrap();
        let listed = store.list("/a/b").await.unwrap();
        assert_eq!(listed, vec![("/a/b/c".to_owned(), "y".to_owned())]);
        store.delete("/a/b").await.unwrap();
        store.delete("/a/b").await.unwrap();
        assert_eq!(store.get("/a/b").await.unwrap(), None);
    }
}

/// CloudWatch's alarm states, as a map set by whoever runs it (the rehearsal).
#[derive(Debug, Default)]
pub struct FixedAlarms {
    states: std::sync::Mutex<Vec<crate::domain::evidence::AlarmReading>>,
}

impl FixedAlarms {
    /// Puts an alarm in `state` (`OK`, `ALARM`…) from now on.
    pub fn set(&self, name: &str, state: &str) {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        states.retain(|alarm| alarm.name != name);
        states.push(crate::domain::evidence::AlarmReading {
            name: name.to_owned(),
            state: state.to_owned(),
            since: Some(chrono::Utc::now()),
        });
    }
}

#[async_trait]
impl crate::ports::AlarmStates for FixedAlarms {
    async fn states(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::domain::evidence::AlarmReading>, AdapterError> {
        let states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(states
            .iter()
            .filter(|alarm| names.contains(&alarm.name))
            .cloned()
            .collect())
    }
}
