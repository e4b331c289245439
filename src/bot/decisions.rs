//! Deciding a gate: the one path that clicks and `/deploy approve|rollback` both take.
//!
//! Order matters and is the security model: find the gate, check the person against the policy,
//! count votes for a quorum, then take the create-only decision lock so that exactly one decision
//! wins however many people click at once, then make it take effect (the decision parameter for
//! Flow A, `ContinueServiceDeployment` for Flow B), and only then rewrite the card.

use chrono::Utc;

use crate::card::AuditEvent;
use crate::domain::gate::{Decision, GateId};
use crate::domain::record::{GateRecord, GateStatus, Resolution};
use crate::domain::text::clip;
use crate::policy::{Authorized, Refusal, Rule, authorize};
use crate::ports::Created;
use crate::store::{DecisionLock, StoreError, Stored, Taken};
use slack_morphism::prelude::{SlackChannelId, SlackUserId};

use super::Bot;
use super::closing::Closing;

/// What came of one person's attempt to decide.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// This attempt decided the gate.
    Decided { decision: Decision },
    /// An approval was counted; more are needed.
    VoteCounted { votes: usize, quorum: u32 },
    /// This person had already approved; more approvals are needed.
    AlreadyVoted { votes: usize, quorum: u32 },
    /// Someone decided first.
    AlreadyDecided {
        decision: Decision,
        by: Option<String>,
    },
    /// The gate ended another way (timed out, resolved outside greenlight).
    Closed { status: GateStatus },
    /// The gate is past the point where a decision could still reach its deployment.
    TooLate { why: &'static str },
    /// No such gate, or its card is not greenlight's.
    UnknownGate,
    /// The policy says no.
    Refused(Refusal),
    /// The person deployed this change, and the rule says `self_approval = false`.
    OwnDeployment,
    /// The rule says `block_on_alarm` and these alarms are in `ALARM` now.
    AlarmFiring { alarms: Vec<String> },
    /// The rule says `block_on_alarm` and the alarms cannot be read now.
    AlarmsUnreadable { why: String },
    /// The rule asks a reason for this decision and none was given.
    ReasonRequired { decision: Decision },
    /// A dependency failed; nothing was decided and the card keeps its buttons.
    Failed { reason: String },
}

impl Outcome {
    /// The sentence the person sees (ephemeral).
    pub fn message(&self, gate: &GateId) -> String {
        match self {
            Outcome::Decided {
                decision: Decision::Approved,
            } => format!("✅ You approved `{gate}`: production traffic moves to the new revision."),
            Outcome::Decided {
                decision: Decision::Rejected,
            } => format!("⏪ You rejected `{gate}`: the deployment rolls back."),
            Outcome::VoteCounted { votes, quorum } => {
                format!("👍 Your approval of `{gate}` is counted: {votes} of {quorum}.")
            }
            Outcome::AlreadyVoted { votes, quorum } => format!(
                "You have already approved `{gate}` ({votes} of {quorum}); it needs another approver."
            ),
            Outcome::AlreadyDecided { decision, by } => {
                let what = match decision {
                    Decision::Approved => "approved (rerouted)",
                    Decision::Rejected => "rejected (rolled back)",
                };
                match by {
                    Some(user) => format!(
                        "`{gate}` was already {what} by <@{user}>; your click changed nothing."
                    ),
                    None => format!(
                        "`{gate}` was already {what} outside greenlight; your click changed nothing."
                    ),
                }
            }
            Outcome::Closed { status } => match status {
                GateStatus::TimedOut { action, .. } => format!(
                    "`{gate}` timed out and was {}; nothing to decide.",
                    action.past_tense()
                ),
                GateStatus::ResolvedElsewhere { outcome, .. } => format!(
                    "`{gate}` was resolved outside greenlight ({outcome}); nothing to decide."
                ),
                _ => format!("`{gate}` is closed; nothing to decide."),
            },
            Outcome::TooLate { why } => {
                format!("⌛ `{gate}` can no longer be decided: {why}. Nothing was written.")
            }
            Outcome::UnknownGate => {
                format!("greenlight knows no open gate `{gate}`; nothing was changed.")
            }
            Outcome::Refused(refusal) => format!("🚫 {refusal}"),
            Outcome::OwnDeployment => format!(
                "🚫 You deployed this change, and this gate's policy rule says `self_approval = \
                 false`: someone else must approve `{gate}`. Your click counts as no vote. You \
                 can still roll it back."
            ),
            Outcome::AlarmFiring { alarms } => {
                let names: Vec<String> = alarms.iter().map(|name| format!("`{name}`")).collect();
                format!(
                    "🚨 Reroute is unavailable while {} {} in ALARM (the policy says \
                     `block_on_alarm`). Nothing was decided; Rollback still works.",
                    names.join(", "),
                    if alarms.len() == 1 { "is" } else { "are" }
                )
            }
            Outcome::AlarmsUnreadable { why } => format!(
                "🚨 Reroute is unavailable: the deployment's alarms cannot be read now ({why}), \
                 and the policy says `block_on_alarm`. Nothing was decided; Rollback still works."
            ),
            Outcome::ReasonRequired { decision } => format!(
                "✍️ This gate's policy asks a reason to {}: `/deploy {} {gate} <reason…>`. \
                 Nothing was decided.",
                match decision {
                    Decision::Approved => "approve",
                    Decision::Rejected => "roll back",
                },
                match decision {
                    Decision::Approved => "approve",
                    Decision::Rejected => "rollback",
                }
            ),
            Outcome::Failed { reason } => format!(
                "⚠️ Nothing was decided: {reason}. The card keeps its buttons; try again in a moment."
            ),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Outcome::Decided { .. } => "decided",
            Outcome::VoteCounted { .. } => "vote_counted",
            Outcome::AlreadyVoted { .. } => "already_voted",
            Outcome::AlreadyDecided { .. } => "already_decided",
            Outcome::Closed { .. } => "closed",
            Outcome::TooLate { .. } => "too_late",
            Outcome::UnknownGate => "unknown_gate",
            Outcome::Refused(refusal) => refusal.code(),
            Outcome::OwnDeployment => "self_approval",
            Outcome::AlarmFiring { .. } => "alarm_firing",
            Outcome::AlarmsUnreadable { .. } => "alarms_unreadable",
            Outcome::ReasonRequired { .. } => "reason_required",
            Outcome::Failed { .. } => "failed",
        }
    }
}

/// Where a decision attempt came from, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Button,
    Command,
    /// The reason modal a button opened.
    Modal,
}

impl Bot {
    /// One person's attempt to decide a gate, with its one structured log line.
    pub async fn decide(
        &self,
        gate: &GateId,
        user: &SlackUserId,
        channel: &SlackChannelId,
        action: Decision,
        via: Via,
        reason: Option<&str>,
    ) -> Outcome {
        let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
        let (outcome, granted) = self.try_decide(gate, user, channel, action, reason).await;
        let (user, channel) = (user.0.as_str(), channel.0.as_str());
        let via = match via {
            Via::Button => "button",
            Via::Command => "command",
            Via::Modal => "modal",
        };
        let reason = reason.unwrap_or("");
        // What let the person act, for the audit trail: the rule, and the approver entry (them,
        // or a user group they are in).
        let rule = granted.as_ref().map(|g| g.rule.as_str()).unwrap_or("");
        let granted_by = granted
            .as_ref()
            .map(|g| g.via.to_string())
            .unwrap_or_default();
        match &outcome {
            Outcome::Refused(refusal) => {
                tracing::warn!(event = "gate.refusal", gate_id = %gate, user, channel, action = action.action_word(), via, outcome = outcome.code(), reason = %refusal)
            }
            Outcome::OwnDeployment
            | Outcome::AlarmFiring { .. }
            | Outcome::AlarmsUnreadable { .. }
            | Outcome::ReasonRequired { .. } => {
                tracing::warn!(event = "gate.refusal", gate_id = %gate, user, channel, action = action.action_word(), via, outcome = outcome.code(), rule, granted_by = %granted_by, detail = %outcome.message(gate))
            }
            Outcome::Failed { reason: failure } => {
                tracing::error!(event = "gate.decision", gate_id = %gate, user, channel, action = action.action_word(), via, outcome = outcome.code(), rule, granted_by = %granted_by, reason, failure = %failure)
            }
            _ => {
                tracing::info!(event = "gate.decision", gate_id = %gate, user, channel, action = action.action_word(), via, outcome = outcome.code(), rule, granted_by = %granted_by, reason)
            }
        }
        outcome
    }

    async fn try_decide(
        &self,
        gate: &GateId,
        user: &SlackUserId,
        channel: &SlackChannelId,
        action: Decision,
        reason: Option<&str>,
    ) -> (Outcome, Option<Authorized>) {
        let read = match self.gates.read(gate).await {
            Ok(Some(read)) => read,
            Ok(None) => return (Outcome::UnknownGate, None),
            Err(error) => return (failed(&error), None),
        };
        let record = &read.record;
        if !record.status.is_open() {
            return (closed_outcome(record.status.clone()), None);
        }
        if let Some(why) = too_late(record, Utc::now()) {
            return (Outcome::TooLate { why }, None);
        }
        let (rule, granted) = match self.authorize_on_gate(record, user, channel, action).await {
            Ok(granted) => granted,
            Err(refusal) => return (Outcome::Refused(refusal), None),
        };
        if let Some(outcome) = self.judge(record, rule, user, action, reason).await {
            return (outcome, Some(granted));
        }
        let outcome = self
            .count_and_commit(read, rule, &user.0, action, reason)
            .await;
        (outcome, Some(granted))
    }

    /// The rule's name, when it asks a reason for this decision on this gate: the button then
    /// opens the reason modal instead of deciding.
    pub async fn reason_asked(&self, gate: &GateId, decision: Decision) -> Option<String> {
        // Most policies ask no reason: then a click costs no extra read of its gate.
        if !self.policy.asks_reasons() {
            return None;
        }
        let record = self.gates.load(gate).await.ok().flatten()?;
        let rule = self
            .policy
            .rule_for(record.cluster.as_deref(), record.service.as_deref())?;
        rule.ask_reason()
            .asks_for(decision)
            .then(|| rule.name().to_owned())
    }

    /// Whether this person could decide this gate now, but for the reason they are about to give:
    /// checked before the reason modal opens, so that nobody types a reason only to be refused.
    /// The submission is checked again in full.
    pub async fn may_decide(
        &self,
        gate: &GateId,
        user: &SlackUserId,
        channel: &SlackChannelId,
        decision: Decision,
    ) -> Result<(), Outcome> {
        let record = match self.gates.load(gate).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(Outcome::UnknownGate),
            Err(error) => return Err(failed(&error)),
        };
        if !record.status.is_open() {
            return Err(closed_outcome(record.status));
        }
        if let Some(why) = too_late(&record, Utc::now()) {
            return Err(Outcome::TooLate { why });
        }
        let (rule, _) = self
            .authorize_on_gate(&record, user, channel, decision)
            .await
            .map_err(Outcome::Refused)?;
        match self
            .judge(&record, rule, user, decision, Some("(asked next)"))
            .await
        {
            Some(outcome) => Err(outcome),
            None => Ok(()),
        }
    }

    /// What the rule asks beyond who may decide, in the order a person can act on it: their own
    /// deployment (`self_approval`), a reason (`ask_reason`), then the alarms (`block_on_alarm`,
    /// read now, never from the card). `None` lets the decision go on.
    pub(super) async fn judge(
        &self,
        record: &GateRecord,
        rule: Option<&Rule>,
        user: &SlackUserId,
        action: Decision,
        reason: Option<&str>,
    ) -> Option<Outcome> {
        let rule = rule?;
        let deployer = record.deployer.as_ref().and_then(|d| d.slack_user());
        if action == Decision::Approved && !rule.self_approval() && deployer == Some(&user.0) {
            return Some(Outcome::OwnDeployment);
        }
        if rule.ask_reason().asks_for(action) && reason.is_none() {
            return Some(Outcome::ReasonRequired { decision: action });
        }
        if action == Decision::Approved && rule.block_on_alarm() {
            return match self.firing_alarms(record).await {
                Ok(firing) if firing.is_empty() => None,
                Ok(firing) => Some(Outcome::AlarmFiring {
                    alarms: firing.into_iter().map(|alarm| alarm.name).collect(),
                }),
                Err(why) => Some(Outcome::AlarmsUnreadable { why }),
            };
        }
        None
    }

    /// With the person authorised: their vote towards a quorum, or the decision itself. `read` is
    /// the gate as this request read it (votes and the lock are items of their own: taking them
    /// leaves the gate's version as it was).
    async fn count_and_commit(
        &self,
        read: Stored,
        rule: Option<&Rule>,
        user: &str,
        action: Decision,
        reason: Option<&str>,
    ) -> Outcome {
        let record = &read.record;
        let gate = &record.gate_id.clone();
        let needed = rule.map(|rule| rule.approvals_needed(action)).unwrap_or(1);
        if needed > 1 {
            let first_vote = match self.gates.add_vote(gate, user, Utc::now()).await {
                Ok(Taken::New) => true,
                Ok(Taken::AlreadyExisted) => false,
                Ok(Taken::GateClosed) => return self.closed_meanwhile(gate).await,
                Err(error) => return failed(&error),
            };
            let votes = match self.gates.votes(gate).await {
                Ok(votes) => votes,
                Err(error) => return failed(&error),
            };
            let count = votes.len();
            if count < needed as usize {
                if first_vote {
                    if let Err(error) = self.refresh_votes(record, votes).await {
                        tracing::warn!(event = "slack.card_update_failed", gate_id = %gate, error = %error);
                    }
                    self.note_in_thread(
                        record,
                        &AuditEvent::Approval {
                            by: user,
                            votes: count,
                            quorum: needed,
                        },
                    )
                    .await;
                    return Outcome::VoteCounted {
                        votes: count,
                        quorum: needed,
                    };
                }
                return Outcome::AlreadyVoted {
                    votes: count,
                    quorum: needed,
                };
            }
        }
        self.commit(read, user, action, reason).await
    }

    /// What to tell someone whose vote or lock found the gate closed after it was read open.
    async fn closed_meanwhile(&self, gate: &GateId) -> Outcome {
        match self.gates.load(gate).await {
            Ok(Some(record)) if !record.status.is_open() => closed_outcome(record.status),
            Ok(Some(_)) | Ok(None) => Outcome::UnknownGate,
            Err(error) => failed(&error),
        }
    }

    /// Checks one person against the policy for a gate: the gate's rule, and the channel its card
    /// is in. Returns the rule, whose quorum the caller may need.
    pub(super) async fn authorize_on_gate(
        &self,
        record: &GateRecord,
        user: &SlackUserId,
        channel: &SlackChannelId,
        action: Decision,
    ) -> Result<(Option<&Rule>, Authorized), Refusal> {
        let rule = self
            .policy
            .rule_for(record.cluster.as_deref(), record.service.as_deref());
        let expected_channel = SlackChannelId::new(
            record
                .card
                .as_ref()
                .map(|card| card.channel.clone())
                .unwrap_or_default(),
        );
        authorize(
            rule,
            user,
            channel,
            &expected_channel,
            action,
            self.groups.as_ref(),
        )
        .await
        .map(|granted| (rule, granted))
    }

    /// Takes the lock, makes the decision take effect, and closes the card.
    async fn commit(
        &self,
        read: Stored,
        user: &str,
        decision: Decision,
        reason: Option<&str>,
    ) -> Outcome {
        let record = &read.record;
        let gate = record.gate_id.clone();
        let lock = DecisionLock {
            decision,
            by: user.to_owned(),
            at: Utc::now(),
        };
        match self.gates.lock_decision(&gate, &lock).await {
            Ok(Taken::New) => {}
            Ok(Taken::AlreadyExisted) => {
                return match self.gates.decision_lock(&gate).await {
                    Ok(Some(winner)) => Outcome::AlreadyDecided {
                        decision: winner.decision,
                        by: Some(winner.by),
                    },
                    _ => Outcome::AlreadyDecided { decision, by: None },
                };
            }
            Ok(Taken::GateClosed) => return self.closed_meanwhile(&gate).await,
            Err(error) => return failed(&error),
        }
        if let Err(outcome) = self.take_effect(record, decision).await {
            // Nothing happened, so nothing may stay locked: release it for the next attempt.
            // (A failure to release is logged by the store.)
            let _ = self.gates.unlock_decision(&gate).await;
            return outcome;
        }
        let status = GateStatus::Decided {
            decision,
            by: user.to_owned(),
            at: lock.at,
            reason: reason.map(|reason| clip(reason, REASON_MAX)),
        };
        // The decision has taken effect and the lock names who made it; the record follows. The
        // thread note carries the reason as given (the record keeps it clipped).
        let closing = Closing::new(status, "gate.closed")
            .noting(AuditEvent::Decided {
                decision,
                by: user,
                at: lock.at,
                reason,
            })
            .after_read(read);
        if let Err(error) = self.close_gate(&gate, closing).await {
            tracing::error!(event = "gate.store_failed", gate_id = %gate, error = %error, "decided, but the record was not updated");
        }
        Outcome::Decided { decision }
    }

    /// Closes a gate that was resolved outside greenlight (a paused hook continued in the console,
    /// a decision parameter written by hand), and says so on the card and in the thread.
    pub(super) async fn close_as_resolved_elsewhere(
        &self,
        record: &GateRecord,
        outcome: String,
    ) -> Outcome {
        let status = GateStatus::ResolvedElsewhere {
            outcome,
            at: Utc::now(),
        };
        match self
            .close_gate(
                &record.gate_id,
                Closing::new(status.clone(), "gate.resolved_elsewhere"),
            )
            .await
        {
            Ok(Some(update)) if !update.closed() => closed_outcome(update.after.status),
            _ => Outcome::Closed { status },
        }
    }

    /// Makes a decision reach ECS: the parameter the hook polls, or the paused hook itself.
    async fn take_effect(&self, record: &GateRecord, decision: Decision) -> Result<(), Outcome> {
        match &record.resolution {
            Resolution::Parameter { name } => {
                if !name.is_under(&self.settings.decision_prefix) {
                    return Err(Outcome::Failed {
                        reason:
                            "the gate's decision parameter is outside GREENLIGHT_DECISION_PREFIX"
                                .to_owned(),
                    });
                }
                match self
                    .decisions
                    .create(name.as_str(), decision.parameter_value())
                    .await
                {
                    Ok(Created::New) => Ok(()),
                    Ok(Created::AlreadyExisted) => {
                        // greenlight holds the lock, so someone wrote the parameter by hand:
                        // that decision stands, and the card must stop offering another.
                        let existing = self.decisions.get(name.as_str()).await.ok().flatten();
                        let outcome = match existing
                            .as_deref()
                            .and_then(Decision::from_parameter_value)
                        {
                            Some(Decision::Approved) => "approved outside greenlight".to_owned(),
                            Some(Decision::Rejected) => "rejected outside greenlight".to_owned(),
                            None => "decided outside greenlight".to_owned(),
                        };
                        Err(self.close_as_resolved_elsewhere(record, outcome).await)
                    }
                    Err(error) => {
                        // A write that timed out may still have been applied: read it back
                        // before saying it failed (and before the lock is released).
                        let read_back = self.decisions.get(name.as_str()).await;
                        if let Ok(Some(value)) = &read_back
                            && Decision::from_parameter_value(value) == Some(decision)
                        {
                            tracing::warn!(event = "gate.write_applied_late", gate_id = %record.gate_id, error = %error, "the decision write reported a failure but was applied");
                            return Ok(());
                        }
                        tracing::warn!(event = "gate.dependency_failed", gate_id = %record.gate_id, error = %error, read_back = ?read_back);
                        Err(Outcome::Failed {
                            reason: "the decision could not be written".to_owned(),
                        })
                    }
                }
            }
            // Flow B: `ContinueServiceDeployment`, unless ECS says the pause was already
            // resolved elsewhere (see `pause.rs`).
            Resolution::PauseHook { hook_id } => {
                self.resolve_pause(record, hook_id, decision).await
            }
        }
    }
}

/// The longest reason kept: Slack's modal field takes as much, and a line in a thread reads well.
pub const REASON_MAX: usize = 1000;

/// What someone is told when the gate store failed them. A corrupt gate is named as such: trying
/// again will not help, and the log line has the detail.
fn failed(error: &StoreError) -> Outcome {
    Outcome::Failed {
        reason: match error {
            StoreError::Unavailable(_) => "the gate store is unavailable".to_owned(),
            StoreError::Corrupt { .. } => {
                "this gate's stored record is unreadable (see the log); decide it in the ECS console"
                    .to_owned()
            }
            StoreError::Conflict { .. } => "the gate kept changing while it was updated".to_owned(),
        },
    }
}

/// ECS lets a lifecycle stage last 24 hours; a recipe gate older than that belongs to a
/// deployment that is over, and its parameter to whichever deployment's hook polls it next.
const RECIPE_GATE_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// Why an open gate can no longer be decided, if it cannot: its deadline passed (the hook has
/// applied, or is about to apply, its timeout action), or it is a recipe gate older than a stage
/// may last.
fn too_late(record: &GateRecord, now: chrono::DateTime<Utc>) -> Option<&'static str> {
    if record.deadline.is_some_and(|deadline| now > deadline) {
        return Some("its deadline has passed and the timeout action applies");
    }
    let recipe = record.service_deployment_arn.is_none();
    if recipe
        && record
            .requested_at
            .is_some_and(|asked| now - asked > RECIPE_GATE_LIFETIME)
    {
        return Some("it was asked more than 24 hours ago, longer than an ECS stage may wait");
    }
    None
}

/// The answer for a gate that is no longer open.
fn closed_outcome(status: GateStatus) -> Outcome {
    match status {
        GateStatus::Decided { decision, by, .. } => Outcome::AlreadyDecided {
            decision,
            by: Some(by),
        },
        status => Outcome::Closed { status },
    }
}
