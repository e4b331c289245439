//! The seams between greenlight's logic and the services it talks to.
//!
//! Each trait says only what greenlight needs of a service, so the hook and the bot are tested and
//! rehearsed with the AWS adapters (`crate::aws`) against moto, or with the in-memory stand-ins
//! (`crate::memory`), through exactly the same code.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::gate::Decision;
use crate::domain::progress::TrafficPlan;

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

/// What greenlight reads of an ECS service deployment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentState {
    pub arn: String,
    /// e.g. `IN_PROGRESS`, `SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`.
    pub status: String,
    pub status_reason: Option<String>,
    pub lifecycle_stage: Option<String>,
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
}

impl DeploymentState {
    /// The hook with this id, if ECS still lists it.
    pub fn hook(&self, hook_id: &str) -> Option<&HookState> {
        self.hooks.iter().find(|hook| hook.hook_id == hook_id)
    }
}

/// One lifecycle hook of a deployment, as `DescribeServiceDeployments` reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HookState {
    pub hook_id: String,
    /// `AWS_LAMBDA` or `PAUSE`.
    pub target_type: String,
    /// e.g. `AWAITING_ACTION`, `SUCCEEDED`, `TIMED_OUT`.
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// What ECS does when the hook expires: `CONTINUE` or `ROLLBACK`.
    pub timeout_action: Option<String>,
}

/// ECS's service-deployment APIs (absent from moto, so tested through an ECS double).
#[async_trait]
pub trait Deployments: Send + Sync {
    /// `None` when ECS does not know the deployment.
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError>;
    async fn continue_hook(
        &self,
        arn: &str,
        hook_id: &str,
        decision: Decision,
    ) -> Result<(), AdapterError>;
    async fn stop_with_rollback(&self, arn: &str) -> Result<(), AdapterError>;
}
