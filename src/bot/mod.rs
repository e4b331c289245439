//! The bot: one axum router behind the Lambda function URL (and `greenlight serve` locally).
//!
//! It takes signed SNS notifications and posts gate cards, takes signed Slack clicks and `/deploy`
//! commands, checks who may decide, and makes the decision take effect. The house, from the door
//! inwards:
//! - [`edge`]: the router, the refusals and the extractors that authenticate a request before any
//!   handler runs (a handler that takes a `VerifiedSlack<…>` or a `VerifiedSns` cannot forget to);
//! - the workflows, each a set of methods on the one [`Bot`] value: [`intake`] (SNS messages
//!   into gates), [`decisions`] (clicks and `/deploy approve|rollback`), [`pause`] (Flow B),
//!   [`rollback_now`], [`deployment_events`] (deployment state on the cards), [`commands`]
//!   (`/deploy`);
//! - what every workflow shares: [`gates`] (the gate store with its optimistic updates),
//!   [`closing`] (the one way a gate closes), [`slack_posts`] (posting a card, redrawing it,
//!   notes in its thread).

pub mod closing;
pub mod commands;
pub mod decisions;
pub mod deployment_events;
pub mod edge;
pub mod evidence;
pub mod gates;
pub mod intake;
pub mod interactions;
pub mod pause;
pub mod rollback_now;
pub mod settings;
pub mod slack_posts;
pub mod sweep;

use std::sync::Arc;

use async_trait::async_trait;

use crate::policy::{CachedGroups, GroupDirectory, Policy};
use crate::ports::{AdapterError, AlarmStates, Deployments, ParameterStore, SubscriptionConfirmer};
use crate::slack::api::SlackApi;
use crate::slack::signature::SlackRequestVerifier;
use crate::sns::certificates::CertificateStore;
use crate::sns::verify::SnsVerifier;
use crate::store::GateTable;

pub use edge::router::app;
pub use settings::BotSettings;

use gates::Gates;

/// The outside services a bot talks to, each behind its port: real clients in `wiring`, stand-ins
/// in the rehearsal, moto and the doubles in tests.
pub struct BotServices {
    /// Slack's Web API.
    pub slack: Arc<dyn SlackApi>,
    /// Where Flow A's decision parameters are written: SSM.
    pub decisions: Arc<dyn ParameterStore>,
    /// Where gates, votes and locks are kept: the DynamoDB table.
    pub gates: Arc<dyn GateTable>,
    /// Confirms SNS subscriptions through the API.
    pub subscriptions: Arc<dyn SubscriptionConfirmer>,
    /// ECS's service-deployment APIs.
    pub deployments: Arc<dyn Deployments>,
    /// CloudWatch's alarm states, for the evidence on the card and `block_on_alarm`.
    pub alarms: Arc<dyn AlarmStates>,
    /// SNS signing certificates (pinned, cached, fetched).
    pub certificates: Arc<CertificateStore>,
    /// Who is in a Slack user group; `None` asks Slack (`usergroups.users.list`), cached.
    pub groups: Option<Arc<dyn GroupDirectory>>,
}

/// Everything a request handler needs, built once at start-up by [`Bot::new`].
pub struct Bot {
    settings: BotSettings,
    sns: SnsVerifier,
    slack_requests: SlackRequestVerifier,
    slack: Arc<dyn SlackApi>,
    decisions: Arc<dyn ParameterStore>,
    gates: Gates,
    policy: Policy,
    groups: Arc<dyn GroupDirectory>,
    subscriptions: Arc<dyn SubscriptionConfirmer>,
    deployments: Arc<dyn Deployments>,
    alarms: Arc<dyn AlarmStates>,
}

impl Bot {
    /// The one way to build a bot: `wiring`, the rehearsal and the tests all come through here.
    /// `signing_secret` is the resolved Slack signing secret (the settings may only name it).
    pub fn new(
        settings: BotSettings,
        signing_secret: &str,
        policy: Policy,
        services: BotServices,
    ) -> Bot {
        let groups = services.groups.unwrap_or_else(|| {
            Arc::new(CachedGroups::new(SlackGroups::new(Arc::clone(
                &services.slack,
            ))))
        });
        Bot {
            sns: SnsVerifier::new(
                settings.allowed_topic_arns.clone(),
                settings.sns_max_age,
                services.certificates,
            ),
            slack_requests: SlackRequestVerifier::new(signing_secret),
            slack: services.slack,
            decisions: services.decisions,
            gates: Gates::new(services.gates),
            policy,
            groups,
            subscriptions: services.subscriptions,
            deployments: services.deployments,
            alarms: services.alarms,
            settings,
        }
    }

    pub fn settings(&self) -> &BotSettings {
        &self.settings
    }

    /// Every channel a card may go to: each rule's, and the default one.
    pub fn card_channels(&self) -> Vec<String> {
        let mut channels: Vec<String> = self
            .policy
            .rules()
            .iter()
            .filter_map(|rule| rule.channel())
            .chain(self.settings.slack_channel.as_deref())
            .map(str::to_owned)
            .collect();
        channels.sort();
        channels.dedup();
        channels
    }

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
