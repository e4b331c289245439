//! Keeping a gate's card and its thread in step with the gate record.

use chrono::Utc;

use crate::card::{AuditEvent, CardView, RenderedCard, gate_card, thread_note};
use crate::domain::gate::Decision;
use crate::domain::progress::DeploymentPhase;
use crate::domain::record::{CardLocation, GateRecord};
use crate::slack::api::{OutgoingMessage, SlackError};

use super::Bot;
use super::edge::error::BotError;
use crate::domain::gate::GateId;
use crate::store::StoreError;

/// How long a delivery's claim on posting a card holds: longer than the bot may run for one
/// request, so that only a delivery that died leaves a claim this old.
const CARD_CLAIM_STALE: chrono::Duration = chrono::Duration::seconds(60);

/// What [`Bot::claim_card`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum CardClaim {
    /// This delivery posts the card.
    Claimed(Box<GateRecord>),
    /// The gate has its card.
    Carded,
    /// Another delivery is posting it now.
    BeingPosted,
    /// The gate closed before it was carded.
    Closed,
    /// There is no such gate (any more).
    Gone,
}

impl CardClaim {
    /// The word for the log line.
    pub fn code(&self) -> &'static str {
        match self {
            CardClaim::Claimed(_) => "claimed",
            CardClaim::Carded => "carded",
            CardClaim::BeingPosted => "being_posted",
            CardClaim::Closed => "closed",
            CardClaim::Gone => "gone",
        }
    }
}

impl Bot {
    /// What the policy says about a gate, for drawing its card.
    pub fn card_view(&self, record: &GateRecord, votes: Vec<String>) -> CardView {
        let rule = self
            .policy
            .rule_for(record.cluster.as_deref(), record.service.as_deref());
        CardView {
            votes,
            quorum: rule
                .map(|rule| rule.approvals_needed(Decision::Approved))
                .unwrap_or(1),
            approvers_configured: rule.is_some_and(|rule| rule.has_approvers()),
            ask_reason: rule.map(|rule| rule.ask_reason()).unwrap_or_default(),
            // An open gate's deployment is in progress by definition; the line starts to matter
            // once the gate is behind it.
            status_line: record
                .deployment
                .as_ref()
                .filter(|progress| {
                    !record.status.is_open()
                        || progress.phase != DeploymentPhase::InProgress
                        || progress.unconfirmed.is_some()
                })
                .map(|progress| progress.status_line(Utc::now())),
            offer_rollback_now: record.offers_rollback_now(),
        }
    }

    pub fn render(&self, record: &GateRecord, votes: Vec<String>) -> RenderedCard {
        gate_card(record, &self.card_view(record, votes))
    }

    /// Redraws the posted card from the record. Does nothing for a gate without a card.
    pub async fn refresh_card(
        &self,
        record: &GateRecord,
        votes: Vec<String>,
    ) -> Result<(), SlackError> {
        let Some(card) = &record.card else {
            return Ok(());
        };
        let rendered = self.render(record, votes);
        self.slack
            .update_message(&card.channel, &card.ts, &rendered.text, &rendered.blocks)
            .await
    }

    /// Redraws an open card with its votes so far, without ever leaving a decided gate's card
    /// reopened.
    ///
    /// Slack has no conditional update: when another approver's click closes the gate while this
    /// "n of m" redraw is still on its way, the redraw can land last and put live buttons back on
    /// a decided gate. So once the redraw is done, the record is read again, and if the gate is
    /// no longer open its closed card is drawn once more. (The decision path saves the record
    /// before it redraws, so a redraw that lands after the closing one always sees it closed.)
    pub async fn refresh_votes(
        &self,
        record: &GateRecord,
        votes: Vec<String>,
    ) -> Result<(), SlackError> {
        let drawn = self.refresh_card(record, votes).await;
        match self.gates.load(&record.gate_id).await {
            Ok(Some(latest)) if !latest.status.is_open() => {
                self.refresh_card(&latest, Vec::new()).await
            }
            Ok(_) => drawn,
            // Logged by the store; the redraw stands as it is.
            Err(_) => drawn,
        }
    }

    /// Adds an audit-trail reply under the card. A failure is logged, not returned: the decision
    /// itself has already happened and is in the structured log.
    pub async fn note_in_thread(&self, record: &GateRecord, event: &AuditEvent<'_>) {
        self.post_in_thread(record, thread_note(record, event))
            .await;
    }

    /// Posts `text` under the gate's card (audit notes, the sweep's reminders and escalation). A
    /// failure is logged, not returned.
    pub async fn post_in_thread(&self, record: &GateRecord, text: String) {
        let Some(card) = &record.card else {
            return;
        };
        let reply = OutgoingMessage::text(card.channel.clone(), text).in_thread(card.thread_root());
        if let Err(error) = self.slack.post_message(&reply).await {
            tracing::warn!(event = "slack.thread_note_failed", gate_id = %record.gate_id, error = %error);
        }
    }

    /// Takes on posting the card of a gate that is recorded but has none (an earlier delivery's
    /// post failed, or its write was applied after the bot had given up on it). "Duplicate"
    /// means "carded", not "recorded": such a gate must still get its card, exactly once however
    /// many deliveries race, so the claim is a versioned update that only one of them wins.
    pub async fn claim_card(&self, id: &GateId) -> Result<CardClaim, StoreError> {
        let now = Utc::now();
        let Some(update) = self
            .gates
            .update(id, |record| {
                let stale = record
                    .card_claimed_at
                    .is_none_or(|claimed| now - claimed > CARD_CLAIM_STALE);
                if record.card.is_none() && record.status.is_open() && stale {
                    record.card_claimed_at = Some(now);
                }
            })
            .await?
        else {
            return Ok(CardClaim::Gone);
        };
        let record = update.after;
        Ok(if record.card.is_some() {
            CardClaim::Carded
        } else if !record.status.is_open() {
            CardClaim::Closed
        } else if record.card_claimed_at == Some(now) {
            CardClaim::Claimed(Box::new(record))
        } else {
            CardClaim::BeingPosted
        })
    }

    /// Posts a new gate's card (in `thread_ts`'s thread when given) and saves where it went; the
    /// gate's indexes (its service, its deployment, its channel while open) follow from that.
    ///
    /// When Slack refuses, the gate is forgotten so that an SNS redelivery can post it again;
    /// only a failure a retry can fix is an error (503, so SNS delivers again). `Ok(Some(code))`
    /// is a card Slack will never accept (`channel_not_found`, `not_in_channel` …), answered 200.
    pub async fn post_new_card(
        &self,
        record: &mut GateRecord,
        channel: String,
        thread_ts: Option<String>,
    ) -> Result<Option<String>, BotError> {
        // What people judge by goes on the card from the start; the sweep keeps it fresh.
        if let Some(gathered) = self.gather_evidence(record).await {
            record.evidence = Some(gathered.evidence);
            if gathered.deployer.is_some() {
                record.deployer = gathered.deployer;
            }
        }
        let mut card = self.render(record, Vec::new()).into_message(channel);
        card.thread_ts = thread_ts.clone();
        let posted = match self.slack.post_message(&card).await {
            Ok(posted) => posted,
            Err(error) => {
                // The gate stays recorded without a card: the next delivery of its request (an
                // SNS retry, or the hook's re-publication) claims it again and posts the card.
                let _ = self
                    .gates
                    .update(&record.gate_id, |stored| {
                        if stored.card.is_none() {
                            stored.card_claimed_at = None;
                        }
                    })
                    .await;
                tracing::error!(event = "gate.card_failed", gate_id = %record.gate_id, slack_error = %error.code, retryable = error.retryable);
                return if error.retryable {
                    Err(BotError::Unavailable(
                        "Slack is unavailable; deliver again".to_owned(),
                    ))
                } else {
                    Ok(Some(error.code))
                };
            }
        };
        let location = CardLocation {
            channel: posted.channel,
            ts: posted.ts,
            thread_ts,
        };
        record.card = Some(location.clone());
        // Only the location is this write's: whatever else happened to the gate meanwhile (a
        // click, an ECS event) stays. A failure is logged by the store.
        if let Ok(Some(update)) = self
            .gates
            .update(&record.gate_id, |stored| {
                stored.card = Some(location.clone());
                stored.evidence = record.evidence.clone();
                stored.deployer = record.deployer.clone();
            })
            .await
        {
            *record = update.after;
            if !record.status.is_open() {
                // Decided by `/deploy` before its card was even posted: no buttons, then.
                self.redraw(record).await;
            }
        }
        Ok(None)
    }
}
