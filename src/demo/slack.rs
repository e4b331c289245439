//! The Slack stand-in, both ways.
//!
//! - [`TerminalSlack`] is the bot's [`SlackApi`]: it draws each card with [`card::draw`] where the
//!   channel would show it, and prints thread notes and ephemeral answers as lines. Given a real
//!   Slack client (`GREENLIGHT_SLACK_BOT_TOKEN` and `GREENLIGHT_SLACK_CHANNEL`), it also posts the
//!   card and its thread to that channel, so the rehearsal can be watched in Slack too.
//! - [`SlackClicks`] is Slack calling the bot: a click on a card button becomes the
//!   `block_actions` request Slack would send to `/slack/interactions`, signed with the
//!   rehearsal's signing secret, with the button's `action_id` and `value` taken from the card the
//!   bot posted (never made up: if the bot drew the card wrong, the click fails as it would).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use http::header::CONTENT_TYPE;
use serde_json::{Value, json};
use slack_morphism::prelude::{SlackBlock, SlackChannelId, SlackUserId};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::card::{self, REROUTE_ACTION_ID, ROLLBACK_ACTION_ID, ROLLBACK_NOW_ACTION_ID};
use crate::domain::gate::Decision;
use crate::slack::api::{OutgoingMessage, PostedMessage, SlackApi, SlackError};
use crate::slack::signature::signed_headers;

use super::console::{Console, human};
use super::loopback::Loopback;
use super::timeline::Timeline;

/// The gate card as last posted or redrawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedCard {
    pub channel: String,
    pub ts: String,
    /// The blocks as Slack would receive them (JSON).
    pub blocks: Vec<Value>,
    /// What [`card::draw`] makes of them.
    pub drawing: String,
}

impl PostedCard {
    fn new(channel: &str, ts: &str, blocks: &[SlackBlock]) -> PostedCard {
        PostedCard {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            blocks: blocks
                .iter()
                .filter_map(|block| serde_json::to_value(block).ok())
                .collect(),
            drawing: card::draw(blocks),
        }
    }

    /// The `value` of the button with `action_id`, if the card has that button.
    pub fn button_value(&self, action_id: &str) -> Option<String> {
        self.blocks
            .iter()
            .filter(|block| block["type"] == "actions")
            .flat_map(|block| block["elements"].as_array().into_iter().flatten())
            .find(|element| element["action_id"] == action_id)
            .and_then(|element| element["value"].as_str())
            .map(str::to_owned)
    }

    /// Whether the card still offers buttons to decide with.
    pub fn is_open(&self) -> bool {
        self.button_value(ROLLBACK_ACTION_ID).is_some()
    }

    /// Whether `other` is this card with only its last line (the context block) changed.
    fn same_but_last_line(&self, other: &PostedCard) -> bool {
        let without_context = |card: &PostedCard| -> Vec<Value> {
            card.blocks
                .iter()
                .filter(|block| block["type"] != "context")
                .cloned()
                .collect()
        };
        self.channel == other.channel
            && self.ts == other.ts
            && without_context(self) == without_context(other)
    }

    /// The card's last line (gate id, votes, and what ECS last reported), as plain text.
    pub fn context_line(&self) -> Option<String> {
        self.blocks
            .iter()
            .rev()
            .find(|block| block["type"] == "context")
            .and_then(|block| block["elements"][0]["text"].as_str())
            .map(card::plain_from_mrkdwn)
    }
}

/// A button on the card that someone in the channel can click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Reroute,
    Rollback,
    /// Offered after the gate let the deployment go on, until it ends.
    RollbackNow,
}

impl Button {
    pub fn action_id(self) -> &'static str {
        match self {
            Button::Reroute => REROUTE_ACTION_ID,
            Button::Rollback => ROLLBACK_ACTION_ID,
            Button::RollbackNow => ROLLBACK_NOW_ACTION_ID,
        }
    }

    /// The button's text on the card.
    pub fn label(self) -> &'static str {
        match self {
            Button::Reroute => "Reroute",
            Button::Rollback => "Rollback",
            Button::RollbackNow => "Roll back now",
        }
    }
}

impl From<Decision> for Button {
    fn from(action: Decision) -> Button {
        match action {
            Decision::Approved => Button::Reroute,
            Decision::Rejected => Button::Rollback,
        }
    }
}

/// The bot's Slack, drawn in the terminal (and mirrored to a real channel when configured).
pub struct TerminalSlack {
    console: Arc<Console>,
    timeline: Arc<Timeline>,
    mirror: Option<Arc<dyn SlackApi>>,
    /// Message timestamps that exist in the real channel, so only their updates are mirrored.
    mirrored: Mutex<HashSet<String>>,
    next_ts: AtomicU64,
    card: watch::Sender<Option<PostedCard>>,
    ephemerals: Mutex<Vec<(String, String)>>,
}

impl TerminalSlack {
    pub fn new(
        console: Arc<Console>,
        timeline: Arc<Timeline>,
        mirror: Option<Arc<dyn SlackApi>>,
    ) -> TerminalSlack {
        TerminalSlack {
            console,
            timeline,
            mirror,
            mirrored: Mutex::new(HashSet::new()),
            next_ts: AtomicU64::new(1),
            card: watch::Sender::new(None),
            ephemerals: Mutex::new(Vec::new()),
        }
    }

    /// The card as it stands now.
    pub fn card(&self) -> Option<PostedCard> {
        self.card.borrow().clone()
    }

    /// Waits for the bot to post a card.
    pub async fn first_card(&self) -> Option<PostedCard> {
        let mut cards = self.card.subscribe();
        cards
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|card| card.clone())
    }

    /// Every ephemeral answer so far, as (user, plain text).
    pub fn ephemerals(&self) -> Vec<(String, String)> {
        lock(&self.ephemerals).clone()
    }

    /// A timestamp in Slack's shape, unique in this run.
    fn local_ts(&self) -> String {
        let n = self.next_ts.fetch_add(1, Ordering::SeqCst);
        format!("{}.{n:06}", Utc::now().timestamp())
    }

    fn is_mirrored(&self, ts: &str) -> bool {
        lock(&self.mirrored).contains(ts)
    }

    /// Posts to the real channel too; where it fails, the rehearsal carries on in the terminal.
    async fn mirror_post(&self, message: &OutgoingMessage) -> Option<PostedMessage> {
        let mirror = self.mirror.as_ref()?;
        if let Some(thread) = &message.thread_ts
            && !self.is_mirrored(thread)
        {
            return None;
        }
        match mirror.post_message(message).await {
            Ok(posted) => {
                lock(&self.mirrored).insert(posted.ts.clone());
                Some(posted)
            }
            Err(error) => {
                self.console.line(
                    "slack",
                    &format!(
                        "(the real channel refused it: {}; the terminal carries on)",
                        error.code
                    ),
                );
                None
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[async_trait]
impl SlackApi for TerminalSlack {
    async fn post_message(&self, message: &OutgoingMessage) -> Result<PostedMessage, SlackError> {
        let posted = match self.mirror_post(message).await {
            Some(posted) => posted,
            None => PostedMessage {
                channel: message.channel.clone(),
                ts: self.local_ts(),
            },
        };
        if !message.blocks.is_empty() {
            let card = PostedCard::new(&posted.channel, &posted.ts, &message.blocks);
            self.console.line(
                "slack",
                &format!("chat.postMessage → #{}: the gate card", posted.channel),
            );
            self.console.drawing(&card.drawing);
            self.timeline.card_posted();
            self.card.send_replace(Some(card));
        } else if message.thread_ts.is_some() {
            self.console.line(
                "slack",
                &format!(
                    "↳ in the card's thread: {}",
                    card::plain_from_mrkdwn(&message.text)
                ),
            );
        } else {
            self.console.line(
                "slack",
                &format!(
                    "chat.postMessage → #{}: {}",
                    posted.channel,
                    card::plain_from_mrkdwn(&message.text)
                ),
            );
        }
        Ok(posted)
    }

    async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[SlackBlock],
    ) -> Result<(), SlackError> {
        if let Some(mirror) = &self.mirror
            && self.is_mirrored(ts)
            && let Err(error) = mirror.update_message(channel, ts, text, blocks).await
        {
            self.console.line(
                "slack",
                &format!("(the real channel refused the update: {})", error.code),
            );
        }
        let card = PostedCard::new(channel, ts, blocks);
        // ECS's news only rewrites the card's last line; the whole card again would bury it.
        let previous = self.card();
        match (previous, card.context_line()) {
            (Some(previous), Some(line)) if previous.same_but_last_line(&card) => {
                self.console.line(
                    "slack",
                    &format!("chat.update → the card's last line: {line}"),
                );
            }
            _ => {
                self.console
                    .line("slack", "chat.update → the card, redrawn");
                self.console.drawing(&card.drawing);
            }
        }
        self.card.send_replace(Some(card));
        Ok(())
    }

    async fn post_ephemeral(
        &self,
        _channel: &SlackChannelId,
        user: &SlackUserId,
        text: &str,
    ) -> Result<(), SlackError> {
        // Not mirrored: the rehearsal's people are not members of the real workspace.
        let plain = card::plain_from_mrkdwn(text);
        self.console.line(
            "slack",
            &format!("chat.postEphemeral → only @{user} sees: {plain}"),
        );
        lock(&self.ephemerals).push((user.0.clone(), plain));
        Ok(())
    }

    async fn usergroup_members(&self, usergroup_id: &str) -> Result<Vec<String>, SlackError> {
        Err(SlackError {
            method: "usergroups.users.list",
            code: format!("no_such_subteam ({usergroup_id}: the rehearsal has no user groups)"),
            retryable: false,
        })
    }

    /// The rehearsal's workspace knows one address: the deployer's.
    async fn user_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        let found = (email == super::people::DEPLOYER_EMAIL)
            .then(|| super::people::CAROL.user_id.to_owned());
        self.console.line(
            "slack",
            &format!(
                "users.lookupByEmail {email} → {}",
                found.as_deref().unwrap_or("nobody")
            ),
        );
        Ok(found)
    }

    /// The rehearsal's stories decide by button and command, never through a modal.
    async fn open_view(
        &self,
        _trigger_id: &str,
        _view: &serde_json::Value,
    ) -> Result<(), SlackError> {
        Err(SlackError {
            method: "views.open",
            code: "not_supported (the rehearsal has no modals)".to_owned(),
            retryable: false,
        })
    }
}

/// Someone in the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    /// How the output names them.
    pub name: &'static str,
    pub user_id: &'static str,
}

/// Slack's side of a click: the signed `block_actions` request to `/slack/interactions`.
pub struct SlackClicks {
    bot: Loopback,
    signing_secret: String,
    console: Arc<Console>,
    timeline: Arc<Timeline>,
}

impl SlackClicks {
    pub fn new(
        bot: Loopback,
        signing_secret: impl Into<String>,
        console: Arc<Console>,
        timeline: Arc<Timeline>,
    ) -> SlackClicks {
        SlackClicks {
            bot,
            signing_secret: signing_secret.into(),
            console,
            timeline,
        }
    }

    /// `person` clicks `button` on `card`. `decisive` marks the click meant to take effect (the
    /// timeline measures from it). Returns the HTTP status the bot answered.
    pub async fn click(
        &self,
        person: Person,
        card: &PostedCard,
        button: Button,
        decisive: bool,
    ) -> Result<u16, String> {
        let (action_id, label) = (button.action_id(), button.label());
        let Some(gate) = card.button_value(action_id) else {
            return Err(format!("the card has no {label} button"));
        };
        let body = click_body(person, card, action_id, &gate)?;
        let mut headers = signed_headers(&self.signing_secret, Utc::now(), body.as_bytes());
        if let Ok(value) = "application/x-www-form-urlencoded".parse() {
            headers.insert(CONTENT_TYPE, value);
        }
        self.console.line(
            person.name,
            &format!(
                "clicks {label} → POST /slack/interactions, signed\n\
                 (block_actions: action_id {action_id}, value {gate})"
            ),
        );
        let index = self.timeline.click_sent(person.user_id, button, decisive);
        let sent = Instant::now();
        let answer = self
            .bot
            .post("/slack/interactions", headers, body)
            .await
            .inspect_err(|error| self.console.line(person.name, &format!("✗ {error}")))?;
        let status = answer.status.as_u16();
        self.timeline.click_answered(index, status);
        self.console.line(
            person.name,
            &format!("← {status} acknowledged in {}", human(sent.elapsed())),
        );
        Ok(status)
    }
}

/// The form body Slack sends for a click on a message button.
fn click_body(
    person: Person,
    card: &PostedCard,
    action_id: &str,
    value: &str,
) -> Result<String, String> {
    let now = Utc::now();
    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0REHEARSAL", "domain": "rehearsal"},
        "user": {"id": person.user_id, "username": person.name, "name": person.name, "team_id": "T0REHEARSAL"},
        "api_app_id": "A0REHEARSAL",
        "container": {"type": "message", "message_ts": card.ts, "channel_id": card.channel, "is_ephemeral": false},
        "channel": {"id": card.channel, "name": "deploys"},
        "message": {"type": "message", "ts": card.ts},
        "trigger_id": format!("{}.1.rehearsal", now.timestamp()),
        "response_url": "https://hooks.slack.com/actions/T0REHEARSAL/1/rehearsal",
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": "gate",
            "value": value,
            "action_ts": format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros()),
        }],
    });
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .map_err(|error| format!("cannot encode the click: {error}"))
}

#[cfg(test)]
mod tests {
    use slack_morphism::prelude::{
        SlackActionsBlock, SlackBlockButtonElement, SlackBlockPlainText,
    };

    use super::*;

    fn card_with_buttons() -> PostedCard {
        let blocks: Vec<SlackBlock> = vec![
            SlackActionsBlock::new(vec![
                SlackBlockButtonElement::new(SlackBlockPlainText::new("Reroute".into()).into())
                    .with_action_id(REROUTE_ACTION_ID.to_owned().into())
                    .with_value("gl-0123456789ab".into())
                    .into(),
            ])
            .into(),
        ];
        PostedCard::new("C0REHEARSAL", "1.000001", &blocks)
    }

    #[test]
    fn button_values_come_from_the_card() {
        let card = card_with_buttons();
        assert_eq!(
            card.button_value(REROUTE_ACTION_ID).as_deref(),
            Some("gl-0123456789ab")
        );
        assert_eq!(card.button_value(ROLLBACK_ACTION_ID), None);
        assert!(!card.is_open());
        assert!(card.drawing.contains("[ Reroute ]"));
    }

    #[test]
    fn a_click_is_a_block_actions_form() {
        let person = Person {
            name: "alice",
            user_id: "U0ALICE001",
        };
        let body = click_body(person, &card_with_buttons(), REROUTE_ACTION_ID, "gl-1").unwrap();
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        assert_eq!(form[0].0, "payload");
        let payload: Value = serde_json::from_str(&form[0].1).unwrap();
        assert_eq!(payload["type"], "block_actions");
        assert_eq!(payload["user"]["id"], "U0ALICE001");
        assert_eq!(payload["channel"]["id"], "C0REHEARSAL");
        assert_eq!(payload["actions"][0]["action_id"], REROUTE_ACTION_ID);
        assert_eq!(payload["actions"][0]["value"], "gl-1");
    }

    #[tokio::test]
    async fn cards_are_drawn_kept_and_waited_for() {
        let console = Arc::new(Console::to(Box::new(std::io::sink())));
        let slack = TerminalSlack::new(console, Arc::new(Timeline::new()), None);
        let waiting = slack.first_card();
        let blocks = vec![
            SlackActionsBlock::new(vec![
                SlackBlockButtonElement::new(SlackBlockPlainText::new("Rollback".into()).into())
                    .with_action_id(ROLLBACK_ACTION_ID.to_owned().into())
                    .with_value("gl-0123456789ab".into())
                    .into(),
            ])
            .into(),
        ];
        let message = OutgoingMessage {
            channel: "C0REHEARSAL".into(),
            text: "card".into(),
            blocks,
            thread_ts: None,
        };
        let (posted, card) = tokio::join!(slack.post_message(&message), waiting);
        let posted = posted.unwrap();
        let card = card.unwrap();
        assert_eq!(card.ts, posted.ts);
        assert!(card.is_open());
        slack
            .update_message(&posted.channel, &posted.ts, "closed", &[])
            .await
            .unwrap();
        assert!(!slack.card().unwrap().is_open());
        slack
            .post_ephemeral(
                &SlackChannelId::new("C0REHEARSAL".into()),
                &SlackUserId::new("U0X".into()),
                "*no* &lt;way&gt;",
            )
            .await
            .unwrap();
        assert_eq!(
            slack.ephemerals(),
            vec![("U0X".to_owned(), "no <way>".to_owned())]
        );
    }
}
