//! The one way a gate closes, whoever closes it: a decision, a timeout, ECS, someone outside
//! greenlight. Conditional save (re-applied to a fresh read on a conflict, never over another
//! closing) → one log line → the card redrawn without its buttons and one note in its thread,
//! sent together: they are independent Slack calls, and a click waits for both before its answer.

use crate::card::AuditEvent;
use crate::domain::gate::GateId;
use crate::domain::progress::DeploymentProgress;
use crate::domain::record::{GateRecord, GateStatus, Resolution};
use crate::store::{StoreError, Stored};

use super::Bot;
use super::gates::Updated;

/// How a gate is being closed.
#[derive(Debug, Clone)]
pub struct Closing<'a> {
    /// What it closes as; must not be `Open`.
    pub status: GateStatus,
    /// What ECS said about the deployment, recorded whether or not this closing wins.
    pub progress: Option<DeploymentProgress>,
    /// The log line's `event`, e.g. `gate.timed_out`.
    pub event: &'static str,
    /// The thread note: `Some(None)` for none (the caller posts a better one, or there is no
    /// card), `Some(Some(note))` for this one instead of the one the status reads as, `None` for
    /// the status's own.
    note: Option<Option<AuditEvent<'a>>>,
    /// The gate as this request read it, to start the conditional save from.
    read: Option<Stored>,
}

impl<'a> Closing<'a> {
    pub fn new(status: GateStatus, event: &'static str) -> Closing<'a> {
        Closing {
            status,
            progress: None,
            event,
            note: None,
            read: None,
        }
    }

    pub fn with_progress(mut self, progress: Option<DeploymentProgress>) -> Closing<'a> {
        self.progress = progress;
        self
    }

    /// No thread note: the caller has a better one to post, or nothing to post under.
    pub fn quiet(mut self) -> Closing<'a> {
        self.note = Some(None);
        self
    }

    /// Starts the conditional save from this read (made earlier in the same request) instead of
    /// reading the gate again; a newer version is read as usual.
    pub fn after_read(mut self, read: Stored) -> Closing<'a> {
        self.read = Some(read);
        self
    }

    /// This note in the thread, sent with the redraw, if this closing wins.
    pub fn noting(mut self, note: AuditEvent<'a>) -> Closing<'a> {
        self.note = Some(Some(note));
        self
    }
}

impl Bot {
    /// Closes the gate if it is still open. Another writer's closing that landed first stands (its
    /// card is left as drawn); `progress` is recorded either way, since it is news about the
    /// deployment, not about the gate. `Ok(None)`: greenlight has no such gate.
    pub(super) async fn close_gate(
        &self,
        id: &GateId,
        closing: Closing<'_>,
    ) -> Result<Option<Updated>, StoreError> {
        let Some(update) = self
            .gates
            .update_from(id, closing.read, |record| {
                if let Some(progress) = &closing.progress {
                    record.deployment = Some(progress.clone());
                }
                if record.status.is_open() {
                    record.status = closing.status.clone();
                }
            })
            .await?
        else {
            return Ok(None);
        };
        if update.closed() {
            let record = &update.after;
            tracing::info!(event = closing.event, gate_id = %record.gate_id, status = crate::store::status_word(&record.status), cluster = record.cluster.as_deref().unwrap_or(""), service = record.service.as_deref().unwrap_or(""));
            let note = match closing.note {
                Some(chosen) => chosen,
                None => AuditEvent::from_status(&record.status),
            };
            match note {
                Some(note) => {
                    tokio::join!(self.redraw(record), self.note_in_thread(record, &note));
                }
                None => self.redraw(record).await,
            }
        } else if update.changed() {
            self.redraw(&update.after).await;
        }
        Ok(Some(update))
    }

    /// The votes a card shows: its gate's while it is open (none when they cannot be read), none
    /// once it is closed.
    pub(super) async fn votes_shown(&self, record: &GateRecord) -> Vec<String> {
        if record.status.is_open() {
            self.gates.votes(&record.gate_id).await.unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    /// Redraws a card from the record, with its votes while it is open; a failure is logged.
    pub(super) async fn redraw(&self, record: &GateRecord) {
        let votes = self.votes_shown(record).await;
        if let Err(error) = self.refresh_card(record, votes).await {
            tracing::warn!(event = "slack.card_update_failed", gate_id = %record.gate_id, error = %error);
            self.mark_card_stale(&record.gate_id).await;
        }
    }

    /// Notes that a gate's card may not show its record, for the sweep to redraw it. The mark is
    /// kept from the first time on, so that repeated marks write nothing.
    pub async fn mark_card_stale(&self, id: &GateId) {
        let now = chrono::Utc::now();
        let _ = self
            .gates
            .update(id, |record| {
                if record.card.is_some() && record.card_stale_since.is_none() {
                    record.card_stale_since = Some(now);
                }
            })
            .await;
    }

    /// Deletes a Flow A gate's decision parameter once no hook will read it (the gate timed out,
    /// or its deployment ended), so that nothing of a closed gate stays in SSM.
    pub(super) async fn forget_decision(&self, record: &GateRecord) {
        let Resolution::Parameter { name } = &record.resolution else {
            return;
        };
        if !name.is_under(&self.settings.decision_prefix) {
            return;
        }
        match self.decisions.delete(name.as_str()).await {
            Ok(()) => {
                tracing::debug!(event = "gate.decision_forgotten", gate_id = %record.gate_id)
            }
            Err(error) => {
                tracing::warn!(event = "ssm.delete_failed", gate_id = %record.gate_id, parameter = %name, error = %error)
            }
        }
    }
}
