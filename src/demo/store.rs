//! Where the rehearsal keeps decisions and gate records: the [`ParameterStore`] port.
//!
//! In memory by default, so `greenlight demo` needs nothing but itself. When the environment
//! points at AWS (`AWS_ENDPOINT_URL`, e.g. moto, or credentials in `AWS_ACCESS_KEY_ID` or
//! `AWS_PROFILE`), it uses SSM Parameter Store through the same adapter as production, under a
//! prefix of its own for this run, and removes what it wrote at the end.

use std::sync::Arc;

use crate::aws::ssm::SsmParameterStore;
use crate::aws::{CallBudget, load_config};
use crate::config::{EnvSource, optional};
use crate::domain::gate::ParameterName;
use crate::memory::MemoryParameterStore;
use crate::ports::ParameterStore;

/// Which store, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    Memory,
    /// SSM, because of the named variable.
    Ssm {
        because: &'static str,
    },
}

/// The variables that mean "use AWS", in the order they are looked at.
const AWS_SIGNALS: [&str; 4] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
];

impl StoreChoice {
    pub fn from_env(env: &dyn EnvSource) -> StoreChoice {
        AWS_SIGNALS
            .into_iter()
            .find(|name| optional(env, name).is_some())
            .map(|because| StoreChoice::Ssm { because })
            .unwrap_or(StoreChoice::Memory)
    }
}

/// The store in use, and the prefix this run writes under.
pub struct RunStore {
    pub store: Arc<dyn ParameterStore>,
    pub choice: StoreChoice,
    pub root: ParameterName,
}

impl RunStore {
    /// Opens the chosen store. SSM is asked once now, so a wrong endpoint or missing permission
    /// stops the rehearsal at the start with the reason, not halfway through a gate.
    pub async fn open(choice: StoreChoice, root: ParameterName) -> Result<RunStore, String> {
        let store: Arc<dyn ParameterStore> = match choice {
            StoreChoice::Memory => Arc::new(MemoryParameterStore::new()),
            StoreChoice::Ssm { .. } => {
                let config = load_config(CallBudget::BOT).await;
                Arc::new(SsmParameterStore::new(aws_sdk_ssm::Client::new(&config)))
            }
        };
        if let Err(error) = store.list(root.as_str()).await {
            return Err(format!(
                "SSM Parameter Store is not reachable ({error}); unset the AWS_* variables to \
                 rehearse with the in-memory store"
            ));
        }
        Ok(RunStore {
            store,
            choice,
            root,
        })
    }

    /// For the header.
    pub fn describe(&self) -> String {
        match &self.choice {
            StoreChoice::Memory => format!(
                "in memory (MemoryParameterStore), under {}\n\
                 (AWS_ENDPOINT_URL or AWS credentials switch to SSM Parameter Store)",
                self.root
            ),
            StoreChoice::Ssm { because } => format!(
                "SSM Parameter Store, under {}\n(because {because} is set; removed at the end)",
                self.root
            ),
        }
    }

    /// Deletes everything this run wrote; returns how many parameters that was. Only SSM needs
    /// it (the memory store ends with the process).
    pub async fn clean_up(&self) -> Result<usize, String> {
        if self.choice == StoreChoice::Memory {
            return Ok(0);
        }
        let written = self
            .store
            .list(self.root.as_str())
            .await
            .map_err(|error| error.to_string())?;
        for (name, _) in &written {
            self.store
                .delete(name)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(written.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn memory_unless_the_environment_points_at_aws() {
        let none: HashMap<&str, &str> = HashMap::new();
        assert_eq!(StoreChoice::from_env(&none), StoreChoice::Memory);
        let blank = HashMap::from([("AWS_PROFILE", " ")]);
        assert_eq!(StoreChoice::from_env(&blank), StoreChoice::Memory);
        for name in AWS_SIGNALS {
            let env = HashMap::from([(name, "x")]);
            assert_eq!(
                StoreChoice::from_env(&env),
                StoreChoice::Ssm { because: name },
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn the_memory_store_opens_and_needs_no_cleaning() {
        let root = ParameterName::new("/greenlight-rehearsal/test").unwrap();
        let run = RunStore::open(StoreChoice::Memory, root).await.unwrap();
        run.store
            .create("/greenlight-rehearsal/test/x", "1")
            .await
            .unwrap();
        assert_eq!(run.clean_up().await, Ok(0));
        assert!(run.describe().starts_with("in memory"));
    }
}
