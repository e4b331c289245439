//! The seams between greenlight's logic and the services it talks to.
//!
//! Each trait says only what greenlight needs of a service, so the hook and the bot are tested and
//! rehearsed with the AWS adapters (`crate::aws`) against moto, or with the in-memory stand-ins
//! (`crate::memory`), through exactly the same code.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::evidence::{AlarmReading, ContainerImage, TaskCount};
use crate::domain::gate::{Decision, TimeoutAction};
use crate::domain::progress::{DeploymentPhase, TrafficPlan};
use crate::domain::stage::LifecycleStage;

/// A failed call to an outside service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AdapterError {
    /// The API call, e.g. `ssm:GetParameter`.
    pub operation: &'static str,
    pub message: String,
    /// Throttling, a 5xx, a timeout or a broken connection: trying again later may work.
    pub retryable: bool,
}

impl AdapterError {
    pub fn retryable(operation: &'static str, message: impl Into<String>) -> Self {
        AdapterError {
            operation,
            message: message.into(),
            retryable: true,
        }
    }
    pub fn permanent(operation: &'static str, message: impl Into<String>) -> Self {
        AdapterError {
            operation,
            message: message.into(),
            retryable: false,
        }
    }
}

/// Outcome of a create-only write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// This call created the parameter.
    New,
    /// It existed already; nothing was written. This is what makes the first decision win.
    AlreadyExisted,
}

/// A hierarchical key-value store with create-only writes: SSM Parameter Store in production.
#[async_trait]
pub trait ParameterStore: Send + Sync {
    /// The value, or `None` when the parameter does not exist. SecureStrings are decrypted.
    async fn get(&self, name: &str) -> Result<Option<String>, AdapterError>;
    /// Writes only if the parameter does not exist yet.
    async fn create(&self, name: &str, value: &str) -> Result<Created, AdapterError>;
    /// Writes whether or not it exists.
    async fn overwrite(&self, name: &str, value: &str) -> Result<(), AdapterError>;
    /// Deletes; deleting what does not exist is not an error.
    async fn delete(&self, name: &str) -> Result<(), AdapterError>;
    /// Every parameter below `path` (recursively), as (name, value).
    async fn list(&self, path: &str) -> Result<Vec<(String, String)>, AdapterError>;
}

/// Publishes to the gate topic: SNS in production.
#[async_trait]
pub trait TopicPublisher: Send + Sync {
    async fn publish(&self, message: &str) -> Result<(), AdapterError>;
}

/// Confirms an SNS subscription with the token SNS sent, through the API rather than by fetching
/// a URL taken from the request.
#[async_trait]
pub trait SubscriptionConfirmer: Send + Sync {
    async fn confirm(&self, topic_arn: &str, token: &str) -> Result<(), AdapterError>;
}

/// An enum of the words ECS uses for one thing, read once at the edge: every word greenlight acts
/// on is a variant, and any other (a word a later API version adds) is kept as `Other` so that it
/// can still be shown.
macro_rules! ecs_words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A word greenlight does not act on (or an empty one: ECS said nothing).
            Other(String),
        }

        impl $name {
            /// Reads ECS's word.
            pub fn from_ecs(word: &str) -> $name {
                match word {
                    $($word => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }

            /// ECS's word.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Other(word) => word,
                }
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::Other(String::new())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

ecs_words! {
    /// A service deployment's `status` in `DescribeServiceDeployments`.
    DeploymentStatus {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        Successful = "SUCCESSFUL",
        StopRequested = "STOP_REQUESTED",
        Stopped = "STOPPED",
        RollbackRequested = "ROLLBACK_REQUESTED",
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        RollbackSuccessful = "ROLLBACK_SUCCESSFUL",
        RollbackFailed = "ROLLBACK_FAILED",
    }
}

ecs_words! {
    /// A lifecycle hook's `status` in a deployment's `lifecycleHookDetails`.
    LifecycleHookStatus {
        AwaitingAction = "AWAITING_ACTION",
        InProgress = "IN_PROGRESS",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
    }
}

ecs_words! {
    /// What a lifecycle hook is: a Lambda function ECS invokes, or a pause ECS holds itself.
    HookTargetType {
        Lambda = "AWS_LAMBDA",
        Pause = "PAUSE",
    }
}

impl DeploymentStatus {
    /// Where the deployment stands, in the words greenlight's cards use; `None` for a status
    /// greenlight does not know.
    pub fn phase(&self) -> Option<DeploymentPhase> {
        DeploymentPhase::from_ecs_status(self.as_str())
    }

    /// Whether ECS is stopping the deployment or rolling it back, or has.
    pub fn is_stopping_or_rolling_back(&self) -> bool {
        matches!(
            self,
            DeploymentStatus::StopRequested
                | DeploymentStatus::Stopped
                | DeploymentStatus::RollbackRequested
                | DeploymentStatus::RollbackInProgress
                | DeploymentStatus::RollbackSuccessful
        )
    }
}

/// ECS's lifecycle stage of a deployment: one of the stages that take hooks, or one that does not
/// (`BAKE_TIME`, `CLEAN_UP`, …), kept as ECS spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentStage {
    Hooked(LifecycleStage),
    Other(String),
}

impl DeploymentStage {
    pub fn from_ecs(word: &str) -> DeploymentStage {
        match word.parse() {
            Ok(stage) => DeploymentStage::Hooked(stage),
            Err(_) => DeploymentStage::Other(word.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DeploymentStage::Hooked(stage) => stage.as_str(),
            DeploymentStage::Other(word) => word,
        }
    }

    /// The stage as one that takes hooks, if it is one.
    pub fn hooked(&self) -> Option<LifecycleStage> {
        match self {
            DeploymentStage::Hooked(stage) => Some(*stage),
            DeploymentStage::Other(_) => None,
        }
    }
}

impl std::fmt::Display for DeploymentStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rollback ECS started for a deployment, as `DescribeServiceDeployments` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollback {
    pub reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// What greenlight reads of an ECS service deployment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentState {
    pub arn: String,
    pub status: DeploymentStatus,
    pub status_reason: Option<String>,
    pub lifecycle_stage: Option<DeploymentStage>,
    pub source_revisions: Vec<String>,
    pub target_revision: Option<String>,
    pub hooks: Vec<HookState>,
    /// When ECS last changed the deployment (entering a lifecycle stage counts).
    pub updated_at: Option<DateTime<Utc>>,
    /// How the deployment moves production traffic (strategy, steps, bake time).
    pub plan: TrafficPlan,
    /// The share of production traffic ECS has asked for on the target revision, in percent:
    /// where a linear or canary deployment is between its steps.
    pub target_production_weight: Option<f64>,
    /// The rollback ECS started, if it did.
    pub rollback: Option<Rollback>,
    /// The CloudWatch alarms the deployment is watched by; `None` when it has none configured.
    pub alarms: Option<DeploymentAlarms>,
    /// The target revision's running and requested tasks.
    pub target_tasks: Option<TaskCount>,
}

/// The alarms of a deployment's configuration, as `DescribeServiceDeployments` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentAlarms {
    pub names: Vec<String>,
    /// The alarms ECS saw fire during the deployment.
    pub triggered: Vec<String>,
}

/// One service revision, as `DescribeServiceRevisions` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionDetails {
    pub arn: String,
    /// The task definition's ARN.
    pub task_definition: String,
    pub images: Vec<ContainerImage>,
}

impl DeploymentState {
    /// The hook with this id, if ECS still lists it.
    pub fn hook(&self, hook_id: &str) -> Option<&HookState> {
        self.hooks.iter().find(|hook| hook.hook_id == hook_id)
    }

    /// ECS's lifecycle stage as it spells it, if it said.
    pub fn stage_word(&self) -> Option<&str> {
        self.lifecycle_stage.as_ref().map(DeploymentStage::as_str)
    }
}

/// One lifecycle hook of a deployment, as `DescribeServiceDeployments` reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HookState {
    pub hook_id: String,
    pub target_type: HookTargetType,
    pub status: LifecycleHookStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// What ECS does when the hook expires.
    pub timeout_action: Option<TimeoutAction>,
}

/// What the hook asks of ECS: how one deployment stands. A port of its own so that the hook holds
/// no more of ECS than it reads, and the hook-only binary links no more than that.
#[async_trait]
pub trait DeploymentLookup: Send + Sync {
    /// `None` when ECS does not know the deployment.
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError>;
}

/// ECS's service-deployment APIs the bot uses (absent from moto, so tested through an ECS
/// double).
#[async_trait]
pub trait Deployments: DeploymentLookup {
    async fn continue_hook(
        &self,
        arn: &str,
        hook_id: &str,
        decision: Decision,
    ) -> Result<(), AdapterError>;
    async fn stop_with_rollback(&self, arn: &str) -> Result<(), AdapterError>;
    /// `DescribeServiceRevisions`: the revisions' task definitions and images, in no set order.
    async fn revisions(&self, arns: &[String]) -> Result<Vec<RevisionDetails>, AdapterError>;
    /// `DescribeTaskDefinition` with its tags, as (key, value).
    async fn task_definition_tags(
        &self,
        task_definition: &str,
    ) -> Result<Vec<(String, String)>, AdapterError>;
}

/// CloudWatch's alarm states.
#[async_trait]
pub trait AlarmStates: Send + Sync {
    /// The named alarms' states (`DescribeAlarms`); an alarm CloudWatch does not know is left out.
    async fn states(&self, names: &[String]) -> Result<Vec<AlarmReading>, AdapterError>;
}
