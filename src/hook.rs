//! The lifecycle hook: what ECS invokes at a gated stage (Flow A).
//!
//! The first invocation for a deployment and stage publishes a gate request and remembers that in
//! `hookDetails`; later invocations poll the decision parameter. Every path ends in a
//! [`HookResponse`]: an error returned to ECS would roll the deployment back for the wrong reason,
//! so failures are either a deliberate `FAILED` (nothing a person approved) or `IN_PROGRESS`
//! (try again later).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::HookSettings;
use crate::domain::deployment::short_revision;
use crate::domain::gate::{Decision, GateId, GateTimeout, TimeoutAction, decision_parameter};
use crate::domain::lifecycle::{GateMarker, HookInvocation, HookResponse, HookStatus, timestamp};
use crate::domain::notification::{ACTION_GROUP, GateEvent, GateFollowUp, GateRequest};
use crate::ports::{DeploymentLookup, ParameterStore, TopicPublisher};
use crate::probe::{PROBE_REQUESTS, PROBE_TIMEOUT, probe};
use crate::store::GateReader;

/// Per-service gate timeouts, from the policy file when there is one.
pub trait TimeoutRules: Send + Sync {
    /// The timeout for this service: a rule's own, or `fallback` where the rule sets none.
    fn timeout_for(&self, cluster: &str, service: &str, fallback: GateTimeout) -> GateTimeout;
}

impl TimeoutRules for crate::policy::Policy {
    fn timeout_for(&self, cluster: &str, service: &str, fallback: GateTimeout) -> GateTimeout {
        self.rule_for(Some(cluster), Some(service))
            .map(|rule| rule.timeout_or(fallback))
            .unwrap_or(fallback)
    }
}

/// The hook with its clients, built once per Lambda container.
pub struct Hook {
    settings: HookSettings,
    decisions: Arc<dyn ParameterStore>,
    topic: Arc<dyn TopicPublisher>,
    deployments: Arc<dyn DeploymentLookup>,
    timeout_rules: Option<Arc<dyn TimeoutRules>>,
    /// The bot's gate table, read to know whether the gate got its card.
    gates: Option<Arc<dyn GateReader>>,
}

/// How often, at most, the hook publishes its gate request again while the gate has no card.
const REPUBLISH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// How much earlier than Lambda's own deadline an invocation stops polling, to answer in time.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Longest decision value written to a log line; the parameter could hold anything.
const LOGGED_VALUE_LIMIT: usize = 120;

impl Hook {
    pub fn new(
        settings: HookSettings,
        decisions: Arc<dyn ParameterStore>,
        topic: Arc<dyn TopicPublisher>,
        deployments: Arc<dyn DeploymentLookup>,
    ) -> Hook {
        Hook {
            settings,
            decisions,
            topic,
            deployments,
            timeout_rules: None,
            gates: None,
        }
    }

    /// Lets the hook see whether the bot carded its gate, and publish again until it has.
    pub fn with_gate_table(mut self, gates: Arc<dyn GateReader>) -> Hook {
        self.gates = Some(gates);
        self
    }

    /// Lets a policy set per-service timeouts.
    pub fn with_timeout_rules(mut self, rules: Arc<dyn TimeoutRules>) -> Hook {
        self.timeout_rules = Some(rules);
        self
    }

    pub fn settings(&self) -> &HookSettings {
        &self.settings
    }

    /// Handles one invocation. `must_answer_by` is when Lambda would stop this invocation (none
    /// when run from the command line); polling ends early enough to answer before it.
    pub async fn handle(&self, payload: &Value, must_answer_by: Option<Instant>) -> HookResponse {
        let invocation = match HookInvocation::parse(payload) {
            Ok(invocation) => invocation,
            Err(reason) => {
                tracing::error!(event = "hook.payload_refused", reason = %reason, outcome = "FAILED", "the payload is not a lifecycle-hook invocation greenlight understands");
                return HookResponse::finished(HookStatus::Failed, None);
            }
        };
        if !self.settings.gated_stages.contains(&invocation.stage) {
            log_gate(&invocation, None, "gate.not_gated", HookStatus::Succeeded);
            return HookResponse::finished(
                HookStatus::Succeeded,
                Some(invocation.hook_details.clone()),
            );
        }
        // A marker is only ours for this gate if it names this deployment and stage: ECS may
        // hand the same hook's details back at a later stage, and that is a new gate.
        let current = invocation.marker.as_ref().filter(|marker| {
            marker.gate_id == GateId::for_hook(&invocation.deployment, invocation.stage)
        });
        let marker = match current {
            Some(marker) => marker.clone(),
            None => match self.open_gate(&invocation).await {
                Ok(marker) => marker,
                Err(response) => return response,
            },
        };
        self.await_decision(&invocation, &marker, must_answer_by)
            .await
    }

    /// Publishes the gate request. `Err` carries the answer to give ECS instead of waiting.
    async fn open_gate(&self, invocation: &HookInvocation) -> Result<GateMarker, HookResponse> {
        let arn = invocation.deployment.to_string();
        let state = match self.deployments.describe(&arn).await {
            Ok(state) => state,
            Err(error) => {
                // Not knowing is not a reason to skip the gate: gate it.
                tracing::warn!(event = "hook.describe_failed", deployment = %arn, error = %error, "could not tell whether this is a first deployment; gating it");
                None
            }
        };
        if let Some(state) = &state
            && state.source_revisions.is_empty()
            && !self.settings.gate_first_deployment
        {
            log_gate(
                invocation,
                None,
                "gate.first_deployment",
                HookStatus::Succeeded,
            );
            return Err(HookResponse::finished(
                HookStatus::Succeeded,
                Some(invocation.hook_details.clone()),
            ));
        }
        let gate_id = GateId::for_hook(&invocation.deployment, invocation.stage);
        let parameter_name = match decision_parameter(
            &self.settings.decision_prefix,
            &invocation.deployment,
            invocation.stage,
        ) {
            Ok(name) => name,
            Err(reason) => {
                tracing::error!(event = "gate.refused", gate_id = %gate_id, reason = %reason, outcome = "FAILED");
                return Err(HookResponse::finished(
                    HookStatus::Failed,
                    Some(invocation.hook_details.clone()),
                ));
            }
        };
        let timeout = self.timeout_for(invocation);
        let requested_at = Utc::now();
        let deadline = requested_at
            + chrono::Duration::from_std(timeout.after).unwrap_or(chrono::Duration::hours(23));
        let marker = GateMarker {
            gate_id,
            parameter_name,
            requested_at,
            deadline,
            timeout_action: timeout.action,
            published_at: Some(requested_at),
            carded: false,
        };
        let mut request = self.gate_request(
            invocation,
            &marker,
            state.map(|s| s.source_revisions).unwrap_or_default(),
        );
        // Test traffic is on the new revision now: what its test URL answers is evidence.
        if let Some(url) = &self.settings.test_url {
            request.probe = Some(probe(url, PROBE_REQUESTS, PROBE_TIMEOUT).await);
        }
        let message = match serde_json::to_string(&request.to_notification()) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(event = "gate.refused", gate_id = %marker.gate_id, reason = %error, outcome = "FAILED");
                return Err(HookResponse::finished(
                    HookStatus::Failed,
                    Some(invocation.hook_details.clone()),
                ));
            }
        };
        if let Err(error) = self.topic.publish(&message).await {
            tracing::warn!(event = "gate.publish_failed", gate_id = %marker.gate_id, error = %error, outcome = "IN_PROGRESS", "will publish again on the next invocation");
            return Err(HookResponse::in_progress(
                self.settings.callback_delay,
                invocation.details_with(None),
            ));
        }
        log_gate(
            invocation,
            Some(&marker),
            "gate.opened",
            HookStatus::InProgress,
        );
        Ok(marker)
    }

    fn timeout_for(&self, invocation: &HookInvocation) -> GateTimeout {
        let fallback = self.settings.gate_timeout;
        match &self.timeout_rules {
            Some(rules) => rules.timeout_for(
                invocation.deployment.cluster(),
                invocation.deployment.service(),
                fallback,
            ),
            None => fallback,
        }
    }

    fn gate_request(
        &self,
        invocation: &HookInvocation,
        marker: &GateMarker,
        source_revisions: Vec<String>,
    ) -> GateRequest {
        let deployment = &invocation.deployment;
        let service = deployment.service();
        let on_timeout = marker.timeout_action.past_tense();
        let from = match source_revisions.first() {
            Some(source) => format!(" (from `{}`)", short_revision(source)),
            None => String::new(),
        };
        GateRequest {
            title: format!(
                "{service} in {}: reroute production traffic to the new revision?",
                deployment.cluster()
            ),
            description: format!(
                "Deployment `{}` of *{service}* is at {}: {}. New revision `{}`{from}. Reroute production traffic, or roll back. If nobody decides by {} UTC, the deployment is {on_timeout}.",
                deployment.deployment_id(),
                invocation.stage,
                invocation.stage.situation(),
                short_revision(&invocation.target_revision),
                marker.deadline.format("%Y-%m-%d %H:%M"),
            ),
            action_group: Some(ACTION_GROUP.to_owned()),
            parameter_name: marker.parameter_name.clone(),
            region: Some(deployment.region().to_owned()),
            gate_id: Some(marker.gate_id.clone()),
            cluster: Some(deployment.cluster().to_owned()),
            service: Some(service.to_owned()),
            service_deployment_arn: Some(deployment.to_string()),
            lifecycle_stage: Some(invocation.stage),
            target_revision: Some(invocation.target_revision.clone()),
            source_revisions,
            requested_at: Some(marker.requested_at),
            deadline: Some(marker.deadline),
            timeout_action: Some(marker.timeout_action),
            console_url: Some(deployment.console_url()),
            test_url: self.settings.test_url.clone(),
            deployer: None,
            probe: None,
        }
    }

    /// Polls the decision parameter until a decision, the deadline, or the end of this
    /// invocation's window.
    async fn await_decision(
        &self,
        invocation: &HookInvocation,
        marker: &GateMarker,
        must_answer_by: Option<Instant>,
    ) -> HookResponse {
        let started = Instant::now();
        let mut window_end = started + self.settings.poll_window;
        if let Some(limit) = must_answer_by {
            window_end = window_end.min(limit.checked_sub(DEADLINE_MARGIN).unwrap_or(started));
        }
        let mut marker = marker.clone();
        let marker = &mut marker;
        let mut failed_reads: u32 = 0;
        loop {
            self.keep_request_alive(invocation, marker).await;
            let details = invocation.details_with(Some(marker));
            let mut wait = self.settings.poll_interval;
            match self.decisions.get(marker.parameter_name.as_str()).await {
                Ok(Some(value)) => return self.conclude(invocation, marker, &value).await,
                Ok(None) => failed_reads = 0,
                // Throttling, a 5xx, a timeout: SSM is there but busy. Never a reason to fail
                // the deployment: wait longer before the next read, by a jittered amount so
                // that the hooks of many open gates do not retry in step, and keep polling.
                Err(error) if error.retryable => {
                    failed_reads += 1;
                    wait = backoff(self.settings.poll_interval, failed_reads);
                    tracing::warn!(event = "gate.read_failed", gate_id = %marker.gate_id, error = %error, retryable = true, failed_reads, backoff_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
                }
                Err(error) => {
                    if Utc::now() >= marker.deadline {
                        return self.time_out(invocation, marker).await;
                    }
                    tracing::warn!(event = "gate.read_failed", gate_id = %marker.gate_id, error = %error, retryable = false, outcome = "IN_PROGRESS");
                    return HookResponse::in_progress(self.settings.callback_delay, details);
                }
            }
            if Utc::now() >= marker.deadline {
                return self.time_out(invocation, marker).await;
            }
            let next = Instant::now() + wait;
            if next >= window_end {
                log_gate(
                    invocation,
                    Some(marker),
                    "gate.waiting",
                    HookStatus::InProgress,
                );
                return HookResponse::in_progress(self.settings.callback_delay, details);
            }
            tokio::time::sleep_until(next).await;
        }
    }

    /// Publishes the gate request again, at most once a minute, while the bot's table shows no
    /// card for the gate: SNS gives up on a delivery after its retries, and a gate nobody sees
    /// would wait for its timeout action. The same gate id makes every copy the same gate to
    /// the bot. Once the table shows the card (or the gate closed), the marker says so and the
    /// table is not read again.
    async fn keep_request_alive(&self, invocation: &HookInvocation, marker: &mut GateMarker) {
        let Some(gates) = &self.gates else {
            return;
        };
        let now = Utc::now();
        let last = marker.published_at.unwrap_or(marker.requested_at);
        if marker.carded || now - last < REPUBLISH_EVERY {
            return;
        }
        match gates.load(&marker.gate_id).await {
            Ok(Some(stored)) if stored.record.card.is_some() || !stored.record.status.is_open() => {
                marker.carded = true;
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(event = "gate.lookup_failed", gate_id = %marker.gate_id, error = %error);
                return;
            }
        }
        let sources = match self
            .deployments
            .describe(&invocation.deployment.to_string())
            .await
        {
            Ok(Some(state)) => state.source_revisions,
            _ => Vec::new(),
        };
        let request = self.gate_request(invocation, marker, sources);
        let Ok(message) = serde_json::to_string(&request.to_notification()) else {
            return;
        };
        match self.topic.publish(&message).await {
            Ok(()) => {
                marker.published_at = Some(now);
                tracing::warn!(event = "gate.republished", gate_id = %marker.gate_id, "the gate has no card yet; its request was published again");
            }
            Err(error) => {
                tracing::warn!(event = "gate.publish_failed", gate_id = %marker.gate_id, error = %error)
            }
        }
    }

    /// Acts on a value found in the decision parameter.
    async fn conclude(
        &self,
        invocation: &HookInvocation,
        marker: &GateMarker,
        value: &str,
    ) -> HookResponse {
        let details = Some(invocation.details_with(Some(marker)));
        let Some(decision) = Decision::from_parameter_value(value) else {
            let shown: String = value.chars().take(LOGGED_VALUE_LIMIT).collect();
            tracing::error!(event = "gate.bad_decision", gate_id = %marker.gate_id, value = %shown, outcome = "FAILED", "the decision parameter holds neither approved nor rejected");
            return HookResponse::finished(HookStatus::Failed, details);
        };
        self.forget_decision(marker).await;
        let status = match decision {
            Decision::Approved => HookStatus::Succeeded,
            Decision::Rejected => HookStatus::Failed,
        };
        log_gate(invocation, Some(marker), "gate.decided", status);
        HookResponse::finished(status, details)
    }

    /// Applies the timeout action and tells the bot, so the card stops offering buttons.
    async fn time_out(&self, invocation: &HookInvocation, marker: &GateMarker) -> HookResponse {
        self.forget_decision(marker).await;
        let follow_up = GateFollowUp {
            gate_id: marker.gate_id.clone(),
            event: GateEvent::TimedOut {
                action: marker.timeout_action,
            },
            at: Utc::now(),
        };
        match serde_json::to_string(&follow_up.to_notification()) {
            Ok(message) => {
                if let Err(error) = self.topic.publish(&message).await {
                    tracing::warn!(event = "gate.publish_failed", gate_id = %marker.gate_id, error = %error, "could not announce the timeout");
                }
            }
            Err(error) => {
                tracing::warn!(event = "gate.publish_failed", gate_id = %marker.gate_id, error = %error)
            }
        }
        let status = match marker.timeout_action {
            TimeoutAction::Rollback => HookStatus::Failed,
            TimeoutAction::Continue => HookStatus::Succeeded,
        };
        log_gate(invocation, Some(marker), "gate.timed_out", status);
        HookResponse::finished(status, Some(invocation.details_with(Some(marker))))
    }

    /// Deletes the decision so a later gate with the same name starts clean. Failing to delete
    /// does not change the answer: the decision was read.
    async fn forget_decision(&self, marker: &GateMarker) {
        if let Err(error) = self.decisions.delete(marker.parameter_name.as_str()).await {
            tracing::warn!(event = "gate.cleanup_failed", gate_id = %marker.gate_id, error = %error);
        }
    }
}

/// One structured line per gate event.
fn log_gate(
    invocation: &HookInvocation,
    marker: Option<&GateMarker>,
    event: &'static str,
    outcome: HookStatus,
) {
    let gate_id = marker.map(|m| m.gate_id.to_string()).unwrap_or_default();
    let deadline = marker.map(|m| timestamp(m.deadline)).unwrap_or_default();
    tracing::info!(
        event,
        gate_id = %gate_id,
        cluster = invocation.deployment.cluster(),
        service = invocation.deployment.service(),
        stage = invocation.stage.as_str(),
        deployment = invocation.deployment.deployment_id(),
        execution_id = %invocation.execution_id,
        deadline = %deadline,
        outcome = outcome.as_str(),
    );
}

/// How long to wait after the `failures`-th failed read in a row: the poll interval doubled per
/// failure up to [`MAX_BACKOFF_FACTOR`] times it, then scaled by a random factor in [0.5, 1), so
/// that hooks throttled together spread out. Once SSM answers again, the next read is at most
/// `MAX_BACKOFF_FACTOR` poll intervals away, inside the same invocation.
fn backoff(poll_interval: std::time::Duration, failures: u32) -> std::time::Duration {
    let factor = 2u32.saturating_pow(failures.min(8)).min(MAX_BACKOFF_FACTOR);
    poll_interval
        .saturating_mul(factor)
        .mul_f64(0.5 + jitter() / 2.0)
}

/// At most this many poll intervals between two reads while SSM throttles.
pub const MAX_BACKOFF_FACTOR: u32 = 4;

/// A number in [0, 1) that differs between calls and processes: enough to spread retries (no
/// need for a random-number crate; nothing here is a secret).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The instant Lambda stops an invocation, from the runtime's deadline in epoch milliseconds.
pub fn instant_of_deadline(deadline_epoch_ms: u64) -> Option<Instant> {
    let deadline = DateTime::<Utc>::from_timestamp_millis(i64::try_from(deadline_epoch_ms).ok()?)?;
    let remaining = (deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Some(Instant::now() + remaining)
}

#[cfg(test)]
mod backoff_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let interval = Duration::from_secs(2);
        for failures in 1..20 {
            let wait = backoff(interval, failures);
            let ceiling = interval * 2u32.pow(failures.min(2));
            assert!(wait < ceiling, "{failures}: {wait:?}");
            assert!(wait >= ceiling / 2, "{failures}: {wait:?}");
            assert!(wait < interval * MAX_BACKOFF_FACTOR);
        }
        let spread: std::collections::BTreeSet<u128> =
            (0..20).map(|_| backoff(interval, 3).as_micros()).collect();
        assert!(spread.len() > 10, "jittered: {spread:?}");
    }

    #[test]
    fn jitter_is_a_fraction() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
