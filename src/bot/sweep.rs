//! The sweep: one pass over the open gates, every minute (an EventBridge Scheduler schedule on
//! Lambda, `_HANDLER=sweep`; `greenlight sweep` for one pass by hand).
//!
//! What no request brings about happens here: the reminders and the escalation the policy asks
//! for, a card that was never posted, a gate whose close never arrived (the hook's timeout
//! follow-up lost), and evidence grown stale. It reads only the sparse `open_gates` index, never
//! the whole table.
//!
//! A pass may run twice at once (a slow pass overlapping the next) or again after a crash, so
//! every message it sends is taken first by a conditional write on the gate: `reminded_at` and
//! `escalated_at` change only from the value this pass read, and only the pass whose write lands
//! sends the message. A pass that crashes between the write and the post loses that one message,
//! never doubles it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::card::{escalation_note, reminder_note};
use crate::domain::gate::TimeoutAction;
use crate::domain::record::{GateRecord, GateStatus};
use crate::policy::{Approver, Rule};
use crate::store::{OpenGates, StoreError};

use super::Bot;
use super::closing::Closing;
use super::slack_posts::CardClaim;

/// How long after a gate's deadline the sweep closes it when no timeout arrived: the hook's own
/// follow-up comes first when it can, and the intake accepts one up to this skew early.
const OVERDUE_GRACE: chrono::Duration = chrono::Duration::minutes(2);

/// What one pass did, for its log line and the Lambda's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub open: usize,
    pub reminded: usize,
    pub escalated: usize,
    pub closed_overdue: usize,
    pub posted: usize,
    pub refreshed: usize,
    /// Cards redrawn because they were stale (a redraw failed or was cut short).
    pub redrawn: usize,
    pub failed: usize,
}

impl Bot {
    /// One pass over every open gate, as of `now`.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let gates = self.gates.open_gates(&OpenGates::All).await?;
        let mut report = SweepReport {
            open: gates.iter().filter(|gate| gate.status.is_open()).count(),
            ..SweepReport::default()
        };
        for gate in gates {
            self.sweep_gate(gate, now, &mut report).await;
        }
        tracing::info!(
            event = "sweep.pass",
            open = report.open,
            reminded = report.reminded,
            escalated = report.escalated,
            closed_overdue = report.closed_overdue,
            posted = report.posted,
            refreshed = report.refreshed,
            failed = report.failed
        );
        Ok(report)
    }

    async fn sweep_gate(&self, record: GateRecord, now: DateTime<Utc>, report: &mut SweepReport) {
        if !record.status.is_open() || record.card_stale_since.is_some() {
            // A closed gate is here only for its stale card. An open one's card is drawn
            // afresh first, so that nothing below works from what the card failed to show.
            if self.redraw_stale(&record).await {
                report.redrawn += 1;
            } else {
                report.failed += 1;
            }
            if !record.status.is_open() {
                return;
            }
        }
        if record
            .deadline
            .is_some_and(|deadline| now > deadline + OVERDUE_GRACE)
        {
            if self.close_overdue(&record, now).await {
                report.closed_overdue += 1;
            } else {
                report.failed += 1;
            }
            return;
        }
        let record = if record.card.is_none() {
            match self.post_missing_card(&record).await {
                Some(record) => {
                    report.posted += 1;
                    record
                }
                // Another delivery is posting it, or it failed (logged): the next pass sees.
                None => return,
            }
        } else {
            record
        };
        let rule = self
            .policy
            .rule_for(record.cluster.as_deref(), record.service.as_deref());
        let record = match self.refresh_evidence(&record).await {
            Some(refreshed) => {
                let votes = self.gates.votes(&record.gate_id).await.unwrap_or_default();
                if let Err(error) = self.refresh_votes(&refreshed, votes).await {
                    tracing::warn!(event = "slack.card_update_failed", gate_id = %record.gate_id, error = %error);
                }
                report.refreshed += 1;
                refreshed
            }
            None => record,
        };
        let Some(rule) = rule else {
            return;
        };
        if self.remind(&record, rule, now).await {
            report.reminded += 1;
        }
        if self.escalate(&record, rule, now).await {
            report.escalated += 1;
        }
    }

    /// Redraws a stale card from the record and clears the mark, unless it was marked again
    /// meanwhile. Whether the card is now right.
    async fn redraw_stale(&self, record: &GateRecord) -> bool {
        let votes = self.votes_shown(record).await;
        if let Err(error) = self.refresh_votes(record, votes).await {
            tracing::warn!(event = "slack.card_update_failed", gate_id = %record.gate_id, error = %error);
            return false;
        }
        let seen = record.card_stale_since;
        let _ = self
            .gates
            .update(&record.gate_id, |stored| {
                if stored.card_stale_since == seen {
                    stored.card_stale_since = None;
                }
            })
            .await;
        tracing::info!(event = "sweep.card_redrawn", gate_id = %record.gate_id);
        true
    }

    /// Closes a gate whose deadline passed with no close: as its timeout says (the hook, or ECS
    /// for a pause, has applied it by now), with a note in the thread.
    async fn close_overdue(&self, record: &GateRecord, now: DateTime<Utc>) -> bool {
        let action = record.timeout_action.unwrap_or(TimeoutAction::Rollback);
        let status = GateStatus::TimedOut { action, at: now };
        match self
            .close_gate(
                &record.gate_id,
                Closing::new(status, "sweep.closed_overdue"),
            )
            .await
        {
            Ok(Some(update)) => {
                // No hook reads a decision after its deadline.
                self.forget_decision(&update.after).await;
                true
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Posts the card of a gate that was recorded but never carded.
    async fn post_missing_card(&self, record: &GateRecord) -> Option<GateRecord> {
        let CardClaim::Claimed(claimed) = self.claim_card(&record.gate_id).await.ok()? else {
            return None;
        };
        let mut claimed = *claimed;
        let channel = self.channel_for(claimed.cluster.as_deref(), claimed.service.as_deref())?;
        match self.post_new_card(&mut claimed, channel, None).await {
            Ok(None) => {
                tracing::info!(event = "sweep.card_posted", gate_id = %claimed.gate_id);
                Some(claimed)
            }
            Ok(Some(_)) | Err(_) => None,
        }
    }

    /// A reminder in the thread when `remind_every` has passed since the gate was asked for or
    /// last reminded; taken by a conditional write so that one pass sends it.
    async fn remind(&self, record: &GateRecord, rule: &Rule, now: DateTime<Utc>) -> bool {
        let Some(every) = rule
            .remind_every()
            .and_then(|every| chrono::Duration::from_std(every).ok())
        else {
            return false;
        };
        let Some(since) = record.reminded_at.or(record.requested_at) else {
            return false;
        };
        if now - since < every {
            return false;
        }
        let seen = record.reminded_at;
        if !self
            .take(record, |stored| {
                if stored.reminded_at == seen && stored.status.is_open() {
                    stored.reminded_at = Some(now);
                }
            })
            .await
        {
            return false;
        }
        let votes = self.gates.votes(&record.gate_id).await.unwrap_or_default();
        let waiting_on = waiting_on(rule, &votes, record);
        self.post_in_thread(record, reminder_note(record, &waiting_on, now))
            .await;
        tracing::info!(event = "sweep.reminded", gate_id = %record.gate_id, waiting_on = waiting_on.len());
        true
    }

    /// The one escalation, once `escalate_after` has passed since the gate was asked for.
    async fn escalate(&self, record: &GateRecord, rule: &Rule, now: DateTime<Utc>) -> bool {
        let Some(escalation) = rule.escalation() else {
            return false;
        };
        let (Some(asked), None) = (record.requested_at, record.escalated_at) else {
            return false;
        };
        let after = chrono::Duration::from_std(escalation.after).unwrap_or(chrono::Duration::MAX);
        if now - asked < after {
            return false;
        }
        if !self
            .take(record, |stored| {
                if stored.escalated_at.is_none() && stored.status.is_open() {
                    stored.escalated_at = Some(now);
                }
            })
            .await
        {
            return false;
        }
        let to: Vec<String> = escalation.to.iter().map(|a| a.id().to_owned()).collect();
        self.post_in_thread(record, escalation_note(record, &to, now))
            .await;
        tracing::info!(event = "sweep.escalated", gate_id = %record.gate_id, to = %to.join(","));
        true
    }

    /// Whether this pass's conditional write of `change` landed (and so this pass sends).
    async fn take(&self, record: &GateRecord, change: impl FnMut(&mut GateRecord)) -> bool {
        match self.gates.update(&record.gate_id, change).await {
            Ok(Some(update)) => update.changed(),
            _ => false,
        }
    }
}

/// Whom a reminder names: the listed users who have not approved yet (and are not the deployer,
/// where the rule refuses their approval), and the listed user groups.
fn waiting_on(rule: &Rule, votes: &[String], record: &GateRecord) -> Vec<String> {
    let deployer = record.deployer.as_ref().and_then(|d| d.slack_user());
    rule.approvers()
        .iter()
        .filter(|approver| match approver {
            Approver::User(id) => {
                let may_approve = rule.self_approval() || deployer != Some(id.as_str());
                !votes.contains(id) && may_approve
            }
            Approver::Group(_) => true,
        })
        .map(|approver| approver.id().to_owned())
        .collect()
}
