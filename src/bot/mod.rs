//! The bot: one axum router behind the Lambda function URL (and `greenlight serve` locally).
//!
//! It takes signed SNS notifications and posts gate cards, takes signed Slack clicks and `/deploy`
//! commands, checks who may decide, and makes the decision take effect. The URL is public, so each
//! route authenticates its caller itself before anything else happens.

pub mod cards;
pub mod commands;
pub mod decisions;
pub mod error;
pub mod gates;
pub mod interactions;
pub mod pause;
pub mod progress;
pub mod rollback_now;
pub mod router;
pub mod settings;
pub mod sns_intake;

use std::sync::Arc;

use async_trait::async_trait;

use crate::policy::{GroupDirectory, Policy};
use crate::ports::{AdapterError, Deployments, ParameterStore, SubscriptionConfirmer};
use crate::slack::api::SlackApi;
use crate::slack::signature::SlackRequestVerifier;
use crate::sns::verify::SnsVerifier;

pub use router::app;
pub use settings::BotSettings;

/// Everything a request handler needs, built once at start-up.
pub struct Bot {
    pub settings: BotSettings,
    pub sns: SnsVerifier,
    pub slack_requests: SlackRequestVerifier,
    pub slack: Arc<dyn SlackApi>,
    /// Decision parameters (Flow A) live here, and so do gate records through [`gates`].
    pub decisions: Arc<dyn ParameterStore>,
    pub gates: gates::GateStore,
    pub policy: Policy,
    pub groups: Arc<dyn GroupDirectory>,
    pub subscriptions: Arc<dyn SubscriptionConfirmer>,
    pub deployments: Arc<dyn Deployments>,
}

impl Bot {
    /// The channel for a gate's card: its rule's channel, else the default one.
    pub fn channel_for(&self, cluster: Option<&str>, service: Option<&str>) -> Option<String> {
        self.policy
            .rule_for(cluster, service)
            .and_then(|rule| rule.channel())
            .or(self.settings.slack_channel.as_deref())
            .map(str::to_owned)
    }
}

/// User-group membership read from Slack (`usergroups.users.list`), for the policy.
pub struct SlackGroups {
    slack: Arc<dyn SlackApi>,
}

impl SlackGroups {
    pub fn new(slack: Arc<dyn SlackApi>) -> SlackGroups {
        SlackGroups { slack }
    }
}

#[async_trait]
impl GroupDirectory for SlackGroups {
    async fn members(&self, group_id: &str) -> Result<Vec<String>, AdapterError> {
        self.slack
            .usergroup_members(group_id)
            .await
            .map_err(AdapterError::from)
    }
}
