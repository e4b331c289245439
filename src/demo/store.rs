//! Where the rehearsal keeps decisions and gates: the [`ParameterStore`] and [`GateTable`] ports.
//!
//! In memory by default, so `greenlight demo` needs nothing but itself. When the environment
//! points at AWS (`AWS_ENDPOINT_URL`, e.g. moto, or credentials in `AWS_ACCESS_KEY_ID` or
//! `AWS_PROFILE`), or `--store aws` says so, it uses SSM Parameter Store for decisions and a
//! DynamoDB table of its own for gates, through the same adapters as production, and removes both
//! at the end.

use std::sync::Arc;

use crate::aws::dynamodb::DynamoGateTable;
use crate::aws::ssm::SsmParameterStore;
use crate::aws::{CallBudget, load_config};
use crate::config::{EnvSource, optional};
use crate::domain::gate::ParameterName;
use crate::memory::MemoryParameterStore;
use crate::ports::ParameterStore;
use crate::store::memory::MemoryGateTable;
use crate::store::{DEFAULT_RETENTION, GateTable};

/// Which store, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    Memory,
    /// SSM and DynamoDB, because of the named variable (or `--store aws`).
    Aws {
        because: &'static str,
    },
}

/// The variables that mean "use AWS", in the order they are looked at.
const AWS_SIGNALS: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
];

impl StoreChoice {
    pub fn from_env(env: &dyn EnvSource) -> StoreChoice {
        AWS_SIGNALS
            .into_iter()
            .find(|name| optional(env, name).is_some())
            .map(|because| StoreChoice::Aws { because })
            .unwrap_or(StoreChoice::Memory)
    }
}

/// The stores in use, and where this run writes.
pub struct RunStore {
    /// Decision parameters (Flow A).
    pub store: Arc<dyn ParameterStore>,
    /// Gates, votes and locks.
    pub gates: Arc<dyn GateTable>,
    pub choice: StoreChoice,
    pub root: ParameterName,
    /// The run's own DynamoDB table, deleted at the end.
    table: Option<(aws_sdk_dynamodb::Client, String)>,
}

/// What [`RunStore::clean_up`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Removed {
    /// SSM parameters still there at the end (decisions no hook read).
    pub parameters: usize,
    /// Whether the run's table was deleted.
    pub table: bool,
}

impl RunStore {
    /// Opens the chosen stores. On AWS the run's table is created now, so a wrong endpoint or a
    /// missing permission stops the rehearsal at the start with the reason, not halfway through.
    pub async fn open(
        choice: StoreChoice,
        root: ParameterName,
        run_id: &str,
    ) -> Result<RunStore, String> {
        let (store, gates, table): (Arc<dyn ParameterStore>, Arc<dyn GateTable>, _) = match choice {
            StoreChoice::Memory => (
                Arc::new(MemoryParameterStore::new()),
                Arc::new(MemoryGateTable::new()),
                None,
            ),
            StoreChoice::Aws { .. } => {
                let config = load_config(CallBudget::HOOK).await;
                let ssm = SsmParameterStore::new(aws_sdk_ssm::Client::new(&config));
                if let Err(error) = ssm.list(root.as_str()).await {
                    return Err(format!(
                        "SSM Parameter Store is not reachable ({error}); unset the AWS_* variables \
                         to rehearse with the in-memory stores"
                    ));
                }
                let client = aws_sdk_dynamodb::Client::new(&config);
                let name = format!("greenlight-rehearsal-{run_id}");
                let table = DynamoGateTable::new(client.clone(), name.clone(), DEFAULT_RETENTION);
                if let Err(error) = table.create_table().await {
                    return Err(format!(
                        "the rehearsal's DynamoDB table could not be created ({error}); unset the \
                         AWS_* variables to rehearse with the in-memory stores"
                    ));
                }
                (
                    Arc::new(ssm) as Arc<dyn ParameterStore>,
                    Arc::new(table) as Arc<dyn GateTable>,
                    Some((client, name)),
                )
            }
        };
        Ok(RunStore {
            store,
            gates,
            choice,
            root,
            table,
        })
    }

    /// For the header.
    pub fn describe(&self) -> String {
        match (&self.choice, &self.table) {
            (StoreChoice::Aws { because }, Some((_, table))) => format!(
                "SSM Parameter Store, under {}\n\
                 and DynamoDB, in a table of this run's own: {table}\n\
                 (because {because} is set; removed at the end)",
                self.root
            ),
            _ => format!(
                "in memory (MemoryParameterStore, MemoryGateTable), under {}\n\
                 (AWS_ENDPOINT_URL or AWS credentials switch to SSM and DynamoDB)",
                self.root
            ),
        }
    }

    /// Deletes what this run left: the decision parameters still under its root (there should be
    /// none: the hook deletes what it reads) and its table. Only AWS needs it.
    pub async fn clean_up(&self) -> Result<Removed, String> {
        let Some((client, table)) = &self.table else {
            return Ok(Removed::default());
        };
        let left = self
            .store
            .list(self.root.as_str())
            .await
            .map_err(|error| error.to_string())?;
        for (name, _) in &left {
            self.store
                .delete(name)
                .await
                .map_err(|error| error.to_string())?;
        }
        client
            .delete_table()
            .table_name(table)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "deleting table {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&error)
                )
            })?;
        Ok(Removed {
            parameters: left.len(),
            table: true,
        })
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
                StoreChoice::Aws { because: name },
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn the_memory_store_opens_and_needs_no_cleaning() {
        let root = ParameterName::new("/greenlight-rehearsal/test").unwrap();
        let run = RunStore::open(StoreChoice::Memory, root, "test")
            .await
            .unwrap();
        run.store
            .create("/greenlight-rehearsal/test/x", "1")
            .await
            .unwrap();
        assert_eq!(run.clean_up().await, Ok(Removed::default()));
        assert!(run.describe().starts_with("in memory"));
    }
}
