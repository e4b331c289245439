//! The gate card: what people in the deploy channel see and click, in Block Kit.
//!
//! Pure functions from a [`GateRecord`] (and a little state only the bot knows, [`CardView`]) to
//! blocks, so every state of the card is tested without Slack, and the same card is drawn in the
//! terminal by [`draw`] for the local rehearsal and the README.
//!
//! Rules the card keeps:
//! - A button's `value` is the gate id and nothing else. The click comes back through the user's
//!   browser, so it must never carry a parameter name or anything else the bot would act on
//!   without looking it up in its own record.
//! - Whatever came from outside Slack (titles, descriptions, ECS outcomes) is escaped before it
//!   goes into `mrkdwn`, so a hook cannot make the card ping `@channel` or show a disguised link.
//! - Times are Slack date tokens, so each reader sees their own time zone, with a UTC fallback.
//! - A card that is no longer open has no buttons: the decision is shown instead, and the console
//!   link moves into the outcome line.

use crate::domain::text::clip;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use slack_morphism::prelude::{
    SlackActionBlockElement, SlackActionsBlock, SlackBlock, SlackBlockButtonElement,
    SlackBlockButtonStyle, SlackBlockConfirmItem, SlackBlockMarkDownText, SlackBlockPlainText,
    SlackBlockPlainTextOnly, SlackBlockText, SlackContextBlock, SlackContextBlockElement,
    SlackHeaderBlock, SlackSectionBlock,
};
use unicode_width::UnicodeWidthStr;

use crate::domain::deployment::short_revision;
use crate::domain::gate::{Decision, TimeoutAction};
use crate::domain::record::{GateRecord, GateStatus, Resolution};
use crate::slack::api::OutgoingMessage;

/// `action_id` of the button that approves the gate (production traffic moves to the new
/// revision).
pub const REROUTE_ACTION_ID: &str = "greenlight.reroute";
/// `action_id` of the button that rejects the gate (ECS rolls back).
pub const ROLLBACK_ACTION_ID: &str = "greenlight.rollback";
/// `action_id` of the button that stops a deployment with a rollback after its gate let it go on
/// (during the traffic shift or the bake time).
pub const ROLLBACK_NOW_ACTION_ID: &str = "greenlight.rollback_now";
/// `action_id` of the console link button. Slack reports clicks on link buttons to the app too;
/// the router acknowledges them and does nothing else.
pub const CONSOLE_ACTION_ID: &str = "greenlight.console";
/// The question a gate asks.
pub const QUESTION: &str = "Reroute production traffic to the new revision?";

// Block Kit limits (characters), from Slack's reference.
const HEADER_MAX: usize = 150;
const SECTION_TEXT_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const CONFIRM_TITLE_MAX: usize = 100;
const CONFIRM_TEXT_MAX: usize = 300;
const FALLBACK_TEXT_MAX: usize = 3000;
const CONTEXT_TEXT_MAX: usize = 3000;
const BUTTON_URL_MAX: usize = 3000;

/// What the bot knows about a gate beyond its record: votes so far, the policy's verdict on
/// whether anyone may approve, and a live status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    /// Slack user IDs who approved so far (quorum gates).
    pub votes: Vec<String>,
    /// Approvals needed; 1 for an ordinary gate.
    pub quorum: u32,
    /// Whether the policy names anyone who may approve this gate. When not, the gate fails
    /// closed and the card says so.
    pub approvers_configured: bool,
    /// A live line, e.g. "bake time, 12 min left".
    pub status_line: Option<String>,
    /// Whether a closed card offers "Roll back now": the gate let the deployment go on and it has
    /// not ended yet (see `GateRecord::offers_rollback_now`). Ignored while the gate is open,
    /// where Rollback does the same.
    pub offer_rollback_now: bool,
}

/// A card ready to post or to put in place of the old one.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedCard {
    /// Fallback text: notifications, screen readers, clients without blocks.
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

impl RenderedCard {
    /// The card as a new message in `channel`.
    pub fn into_message(self, channel: impl Into<String>) -> OutgoingMessage {
        OutgoingMessage {
            channel: channel.into(),
            text: self.text,
            blocks: self.blocks,
            thread_ts: None,
        }
    }
}

/// The card of a gate, in whatever state its record is.
pub fn gate_card(record: &GateRecord, view: &CardView) -> RenderedCard {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    let open = record.status.is_open();

    blocks.push(SlackHeaderBlock::new(plain_only(&clip(&header_text(record), HEADER_MAX))).into());

    if !record.description.trim().is_empty() {
        blocks.push(section(&clip(
            &escape(record.description.trim()),
            SECTION_TEXT_MAX,
        )));
    }

    let fields = fields(record);
    if !fields.is_empty() {
        blocks.push(
            SlackSectionBlock::new()
                .with_fields(
                    fields
                        .iter()
                        .map(|field| mrkdwn(&clip(field, FIELD_MAX)))
                        .collect(),
                )
                .into(),
        );
    }

    if open {
        if !view.approvers_configured {
            blocks.push(section(&fail_closed_warning(record)));
        }
        // Slack refuses an actions block without elements (`invalid_blocks`): a card with no
        // button to offer has no actions block at all.
        let buttons = buttons(record, view);
        if !buttons.is_empty() {
            blocks.push(SlackActionsBlock::new(buttons).into());
        }
    } else if let Some(line) = outcome_line(record) {
        // The link only if it fits whole: a clipped link would point somewhere else.
        let line = match record.console_url.as_deref().and_then(link_target) {
            Some(url) => {
                let with_link = format!("{line}\n<{url}|Open in ECS console>");
                if with_link.chars().count() <= SECTION_TEXT_MAX {
                    with_link
                } else {
                    line
                }
            }
            None => line,
        };
        blocks.push(section(&clip(&line, SECTION_TEXT_MAX)));
        if view.offer_rollback_now {
            blocks.push(SlackActionsBlock::new(vec![rollback_now_button(record)]).into());
        }
    }

    blocks.push(SlackContextBlock::new(context(record, view)).into());

    RenderedCard {
        text: clip(&fallback_text(record), FALLBACK_TEXT_MAX),
        blocks,
    }
}

fn header_text(record: &GateRecord) -> String {
    match &record.service {
        Some(service) => format!("{service}: {QUESTION}"),
        // Slack refuses an empty header.
        None if record.title.trim().is_empty() => "Deployment gate".to_owned(),
        None => record.title.trim().to_owned(),
    }
}

fn fallback_text(record: &GateRecord) -> String {
    let name = match &record.service {
        Some(service) => escape(service),
        None => escape(&header_text(record)),
    };
    match outcome_line(record) {
        None if record.service.is_some() => format!("{name}: {QUESTION} ({})", record.gate_id),
        None => format!("{name} ({})", record.gate_id),
        Some(line) => format!("{name}: {line}"),
    }
}

/// The label/value fields, in reading order; only the ones the record knows.
fn fields(record: &GateRecord) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = |label: &str, value: String| fields.push(format!("*{label}*\n{value}"));
    if let Some(cluster) = &record.cluster {
        field("Cluster", escape(cluster));
    }
    if let Some(service) = &record.service {
        field("Service", escape(service));
    }
    // The cluster's region is in the console link; a recipe card has only the region to show.
    if let (None, Some(region)) = (&record.cluster, &record.region) {
        field("Region", escape(region));
    }
    if let Some(stage) = record.stage {
        field(
            "Stage",
            format!("{}\n{}", code(stage.as_str()), stage.situation()),
        );
    }
    if let Some(step) = &record.step {
        field("Traffic step", escape(&step.describe()));
    }
    if let Some(target) = &record.target_revision {
        let mut value = code(short_revision(target));
        if !record.source_revisions.is_empty() {
            let sources: Vec<String> = record
                .source_revisions
                .iter()
                .map(|source| code(short_revision(source)))
                .collect();
            let _ = write!(value, "\nreplacing {}", sources.join(", "));
        }
        field("New revision", value);
    }
    if let Some(at) = record.requested_at {
        field("Requested", slack_date(at));
    }
    if let Some(deadline) = record.deadline {
        let value = match record.timeout_action {
            Some(action) => format!(
                "{}\nthen {}",
                slack_date(deadline),
                timeout_consequence(action)
            ),
            None => slack_date(deadline),
        };
        field("Deadline", value);
    }
    if let Some(url) = record.test_url.as_deref().and_then(link_target) {
        field("Test URL", format!("<{url}>"));
    }
    fields
}

fn timeout_consequence(action: TimeoutAction) -> &'static str {
    match action {
        TimeoutAction::Rollback => "it rolls back",
        TimeoutAction::Continue => "it continues",
    }
}

/// Why a card without approvers offers no decision button.
///
/// The policy fails closed: with nobody configured, nobody may reroute and nobody may roll back
/// through greenlight, so a button would only invite a refusal. The card says so, names what
/// happens at the deadline, and points to the ECS console for a rollback sooner.
fn fail_closed_warning(record: &GateRecord) -> String {
    let mut text = String::from(
        "⚠️ *Nobody can decide this gate:* no approvers are configured for it, so greenlight \
         fails closed: it will not reroute production traffic, and offers no button anyone could \
         only be refused at. Add approvers to the policy, or roll back in the ECS console.",
    );
    if let Some(deadline) = record.deadline {
        let action = record.timeout_action.unwrap_or(TimeoutAction::Rollback);
        let _ = write!(
            text,
            " Without a decision, at {} {}.",
            slack_date(deadline),
            timeout_consequence(action)
        );
    }
    text
}

fn buttons(record: &GateRecord, view: &CardView) -> Vec<SlackActionBlockElement> {
    let name = escape(record.display_name());
    let gate = record.gate_id.as_str().to_owned();
    let mut elements: Vec<SlackActionBlockElement> = Vec::new();

    if view.approvers_configured {
        let moves_to = match &record.target_revision {
            Some(target) => format!(" moves to {}", code(short_revision(target))),
            None => " moves to the new revision".to_owned(),
        };
        let confirm = SlackBlockConfirmItem::new(
            plain_only("Reroute production traffic?"),
            mrkdwn(&clip(
                &format!("Production traffic for *{name}*{moves_to}."),
                CONFIRM_TEXT_MAX,
            )),
            plain_only("Reroute"),
            plain_only("Cancel"),
        )
        .with_style("primary".into());
        elements.push(
            SlackBlockButtonElement::new(plain_only("Reroute"))
                .with_action_id(REROUTE_ACTION_ID.to_owned().into())
                .with_value(gate.clone())
                .with_style(SlackBlockButtonStyle::Primary)
                .with_confirm(confirm)
                .into(),
        );
    }

    // Rollback is policy-checked like Reroute: with nobody configured, nobody could click it
    // either, so the card offers neither and says why.
    if view.approvers_configured {
        let back_to = match record.source_revisions.first() {
            Some(source) => format!(" back to {}", code(short_revision(source))),
            None => String::new(),
        };
        let confirm = SlackBlockConfirmItem::new(
            plain_only(&clip("Roll back this deployment?", CONFIRM_TITLE_MAX)),
            mrkdwn(&clip(
                &format!("ECS stops this deployment and takes *{name}*{back_to}."),
                CONFIRM_TEXT_MAX,
            )),
            plain_only("Roll back"),
            plain_only("Cancel"),
        )
        .with_style("danger".into());
        elements.push(
            SlackBlockButtonElement::new(plain_only("Rollback"))
                .with_action_id(ROLLBACK_ACTION_ID.to_owned().into())
                .with_value(gate)
                .with_style(SlackBlockButtonStyle::Danger)
                .with_confirm(confirm)
                .into(),
        );
    }

    if let Some(url) = record
        .console_url
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
        // Slack refuses a whole card whose button URL is over its limit (a console link is
        // built from the deployment ARN, whose region the parser does not bound): no button then.
        .filter(|url| url.scheme() == "https" && url.as_str().chars().count() <= BUTTON_URL_MAX)
    {
        elements.push(
            SlackBlockButtonElement::new(plain_only("Open in ECS console"))
                .with_action_id(CONSOLE_ACTION_ID.to_owned().into())
                .with_url(url)
                .into(),
        );
    }
    elements
}

/// "Roll back now": after the gate let the deployment go on, a person can still stop it with a
/// rollback (`StopServiceDeployment`) until it ends. It asks first, like Rollback, because it
/// undoes what someone approved.
fn rollback_now_button(record: &GateRecord) -> SlackActionBlockElement {
    let name = escape(record.display_name());
    let back_to = match record.source_revisions.first() {
        Some(source) => format!(" back to {}", code(short_revision(source))),
        None => String::new(),
    };
    let confirm = SlackBlockConfirmItem::new(
        plain_only("Roll back now?"),
        mrkdwn(&clip(
            &format!(
                "ECS stops this deployment and takes *{name}*{back_to}, although it was approved."
            ),
            CONFIRM_TEXT_MAX,
        )),
        plain_only("Roll back now"),
        plain_only("Cancel"),
    )
    .with_style("danger".into());
    SlackBlockButtonElement::new(plain_only("Roll back now"))
        .with_action_id(ROLLBACK_NOW_ACTION_ID.to_owned().into())
        .with_value(record.gate_id.as_str().to_owned())
        .with_style(SlackBlockButtonStyle::Danger)
        .with_confirm(confirm)
        .into()
}

/// The line that replaces the buttons once the gate is no longer open.
fn outcome_line(record: &GateRecord) -> Option<String> {
    // A pause hook's timeout is applied by ECS itself, not by greenlight; the card says so.
    let timed_out_by = match record.resolution {
        Resolution::PauseHook { .. } => "⏰ Timed out in ECS",
        Resolution::Parameter { .. } => "⏰ Timed out",
    };
    match &record.status {
        GateStatus::Open => None,
        GateStatus::Decided {
            decision: Decision::Approved,
            by,
            at,
        } => Some(format!(
            "✅ Rerouted by {} at {}",
            mention(by),
            slack_date(*at)
        )),
        GateStatus::Decided {
            decision: Decision::Rejected,
            by,
            at,
        } => Some(format!(
            "⏪ Rollback requested by {} at {}",
            mention(by),
            slack_date(*at)
        )),
        GateStatus::TimedOut { action, at } => Some(format!(
            "{timed_out_by}: {} at {}",
            action.past_tense(),
            slack_date(*at)
        )),
        GateStatus::ResolvedElsewhere { outcome, at } => Some(format!(
            "Resolved outside greenlight: {} at {}",
            escape(outcome),
            slack_date(*at)
        )),
    }
}

/// What a recipe gate's card says about where it came from.
pub const RECIPE_NOTE: &str = " · from a hook greenlight does not know: it names no service \
deployment, so only a policy rule for every cluster and service judges it";

fn context(record: &GateRecord, view: &CardView) -> Vec<SlackContextBlockElement> {
    let mut line = format!("Gate {}", code(record.gate_id.as_str()));
    // The count is what an open gate still needs; once it is closed, the outcome line says who
    // decided, and a stale "0 of 2" would only contradict it.
    if view.quorum > 1 && record.status.is_open() {
        let voters: Vec<String> = view.votes.iter().map(|user| mention(user)).collect();
        let _ = write!(line, " · {} of {} approvals", view.votes.len(), view.quorum);
        if !voters.is_empty() {
            let _ = write!(line, ": {}", voters.join(", "));
        }
    }
    if let Some(status) = view.status_line.as_deref().filter(|s| !s.trim().is_empty()) {
        let _ = write!(line, " · {}", escape(status.trim()));
    }
    if record.service_deployment_arn.is_none() {
        // A recipe gate: nothing ties it to a deployment greenlight could check.
        line.push_str(RECIPE_NOTE);
    }
    // Votes and the status line are not bounded by anything the card controls.
    vec![SlackBlockMarkDownText::new(clip(&line, CONTEXT_TEXT_MAX)).into()]
}

/// The audit-trail entries greenlight posts in the card's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent<'a> {
    /// One approval counted towards a quorum that is not reached yet.
    Approval {
        by: &'a str,
        votes: usize,
        quorum: u32,
    },
    /// The gate was decided by this person's click.
    Decided {
        decision: Decision,
        by: &'a str,
        at: DateTime<Utc>,
    },
    /// Nobody decided before the deadline; greenlight applied the timeout action.
    TimedOut {
        action: TimeoutAction,
        at: DateTime<Utc>,
    },
    /// ECS reported the gate resolved outside greenlight (console, CLI).
    ResolvedElsewhere { outcome: &'a str, at: DateTime<Utc> },
    /// Someone used "Roll back now" after the gate was approved (during bake time).
    RolledBackAfterApproval { by: &'a str, at: DateTime<Utc> },
    /// An `ECS Deployment State Change` event for the gate's deployment.
    Deployment {
        status: &'a str,
        reason: Option<&'a str>,
    },
}

impl<'a> AuditEvent<'a> {
    /// The entry for a gate that has just left `Open`; `None` for an open gate.
    pub fn from_status(status: &'a GateStatus) -> Option<AuditEvent<'a>> {
        match status {
            GateStatus::Open => None,
            GateStatus::Decided { decision, by, at } => Some(AuditEvent::Decided {
                decision: *decision,
                by,
                at: *at,
            }),
            GateStatus::TimedOut { action, at } => Some(AuditEvent::TimedOut {
                action: *action,
                at: *at,
            }),
            GateStatus::ResolvedElsewhere { outcome, at } => {
                Some(AuditEvent::ResolvedElsewhere { outcome, at: *at })
            }
        }
    }
}

/// The text of one audit-trail reply in the card's thread. Each ends with the gate id so a search
/// in Slack finds the whole history of a gate. Refusals are never posted here: they go to the
/// person who clicked, ephemerally, and to the log.
pub fn thread_note(record: &GateRecord, event: &AuditEvent<'_>) -> String {
    let target = record
        .target_revision
        .as_deref()
        .map(|target| code(short_revision(target)))
        .unwrap_or_else(|| "the new revision".to_owned());
    let note = match *event {
        AuditEvent::Approval { by, votes, quorum } => {
            format!("👍 {} approved ({votes} of {quorum})", mention(by))
        }
        AuditEvent::Decided {
            decision: Decision::Approved,
            by,
            at,
        } => format!(
            "✅ {} approved at {}: production traffic moves to {target}",
            mention(by),
            slack_date(at)
        ),
        AuditEvent::Decided {
            decision: Decision::Rejected,
            by,
            at,
        } => format!(
            "⏪ {} requested a rollback at {}",
            mention(by),
            slack_date(at)
        ),
        AuditEvent::TimedOut { action, at } => format!(
            "⏰ Nobody decided before the deadline; at {} {} {}",
            slack_date(at),
            match record.resolution {
                Resolution::PauseHook { .. } => "ECS",
                Resolution::Parameter { .. } => "greenlight",
            },
            match action {
                TimeoutAction::Rollback => "rolled the deployment back",
                TimeoutAction::Continue => "let the deployment continue",
            }
        ),
        AuditEvent::ResolvedElsewhere { outcome, at } => format!(
            "↪️ Resolved outside greenlight at {}: {}",
            slack_date(at),
            escape(outcome)
        ),
        AuditEvent::RolledBackAfterApproval { by, at } => format!(
            "⏪ {} rolled the deployment back after approval, at {}",
            mention(by),
            slack_date(at)
        ),
        AuditEvent::Deployment { status, reason } => {
            match reason.filter(|r| !r.trim().is_empty()) {
                Some(reason) => format!(
                    "ECS reports the deployment {}: {}",
                    code(status),
                    escape(reason.trim())
                ),
                None => format!("ECS reports the deployment {}", code(status)),
            }
        }
    };
    clip(
        &format!("{note} · {}", code(record.gate_id.as_str())),
        SECTION_TEXT_MAX,
    )
}

/// A Slack date token: each reader sees the time in their own zone; clients that cannot format
/// it show the UTC fallback.
pub fn slack_date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A user mention, if `user` looks like a Slack user ID; otherwise the text, escaped.
fn mention(user: &str) -> String {
    if !user.is_empty() && user.bytes().all(|b| b.is_ascii_alphanumeric()) {
        format!("<@{user}>")
    } else {
        escape(user)
    }
}

/// Escapes the three characters Slack's `mrkdwn` treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Inline code; backticks inside would end it early.
fn code(text: &str) -> String {
    format!("`{}`", escape(&text.replace('`', "'")))
}

/// An http(s) URL fit to put inside `<…>`, or `None`.
/// A URL from a request as a link target: https only (a plain-http test listener is shown as
/// text, not offered as a link), escaped for mrkdwn.
fn link_target(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if parsed.scheme() != "https" {
        return None;
    }
    Some(escape(parsed.as_str()).replace('|', "%7C"))
}

fn plain_only(text: &str) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(text.to_owned()).into()
}

fn mrkdwn(text: &str) -> SlackBlockText {
    SlackBlockMarkDownText::new(text.to_owned()).into()
}

fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new().with_text(mrkdwn(text)).into()
}

/// Inner width of the drawing, in terminal columns.
const DRAW_WIDTH: usize = 66;

/// A plain-text drawing of a message's blocks, for the terminal: a box with the header, texts and
/// fields as lines, and buttons as `[ Reroute ]  [ Rollback ]`.
pub fn draw(blocks: &[SlackBlock]) -> String {
    let rule = "─".repeat(DRAW_WIDTH + 2);
    let mut out = format!("┌{rule}┐\n");
    // No blank row before the first block, nor right under the header's rule.
    let mut spaced = true;
    for block in blocks {
        let Ok(value) = serde_json::to_value(block) else {
            continue;
        };
        let kind = value["type"].as_str().unwrap_or_default();
        if kind == "divider" {
            let _ = writeln!(out, "├{rule}┤");
            spaced = true;
            continue;
        }
        let lines = match kind {
            "header" => vec![text_of(&value["text"])],
            "section" => {
                let mut lines = Vec::new();
                if !value["text"].is_null() {
                    lines.push(text_of(&value["text"]));
                }
                for field in value["fields"].as_array().into_iter().flatten() {
                    lines.push(field_line(&text_of(field)));
                }
                lines
            }
            "actions" => {
                let buttons: Vec<String> = value["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|element| {
                        let label = text_of(&element["text"]);
                        if element["url"].is_string() {
                            format!("[ {label} ↗ ]")
                        } else {
                            format!("[ {label} ]")
                        }
                    })
                    .collect();
                vec![buttons.join("  ")]
            }
            "context" => {
                let parts: Vec<String> = value["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text_of)
                    .collect();
                vec![parts.join("  ")]
            }
            _ => vec![format!("({kind} block)")],
        };
        if !spaced && kind != "header" {
            let _ = writeln!(out, "│ {} │", " ".repeat(DRAW_WIDTH));
        }
        spaced = false;
        for line in lines {
            for source_row in line.split('\n') {
                let text = source_row.trim_start_matches(' ');
                let indent = " ".repeat(source_row.len() - text.len());
                for row in wrap(text, DRAW_WIDTH.saturating_sub(indent.len())) {
                    let row = format!("{indent}{row}");
                    let pad = DRAW_WIDTH.saturating_sub(row.width());
                    let _ = writeln!(out, "│ {row}{} │", " ".repeat(pad));
                }
            }
        }
        if kind == "header" {
            let _ = writeln!(out, "├{rule}┤");
            spaced = true;
        }
    }
    let _ = writeln!(out, "└{rule}┘");
    out
}

/// A text object's text, with `mrkdwn` turned into what a person would read.
fn text_of(value: &serde_json::Value) -> String {
    let text = value["text"].as_str().unwrap_or_default();
    if value["type"] == "mrkdwn" {
        plain_from_mrkdwn(text)
    } else {
        text.to_owned()
    }
}

/// `Label\nvalue` fields read as `Label: value`.
fn field_line(text: &str) -> String {
    match text.split_once('\n') {
        Some((label, value)) => format!("{label}: {}", value.replace('\n', "\n  ")),
        None => text.to_owned(),
    }
}

/// Slack `mrkdwn` as plain text: date tokens show their fallback, mentions `@U…`, links
/// `text (url)`, bold markers go, escapes are undone.
pub fn plain_from_mrkdwn(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let token = &after[..end];
        let (target, label) = match token.split_once('|') {
            Some((target, label)) => (target, Some(label)),
            None => (token, None),
        };
        if let Some(user) = target.strip_prefix('@') {
            let _ = write!(out, "@{user}");
        } else if target.starts_with("!date^") {
            out.push_str(label.unwrap_or(target));
        } else if let Some(special) = target.strip_prefix('!') {
            let _ = write!(out, "@{special}");
        } else {
            match label {
                Some(label) => {
                    let _ = write!(out, "{label} ({target})");
                }
                None => out.push_str(target),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out.replace(['*', '`'], "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Splits a line into rows of at most `width` columns, at spaces where possible.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in line.split(' ') {
        let candidate_width = if row.is_empty() {
            word.width()
        } else {
            row.width() + 1 + word.width()
        };
        if candidate_width <= width {
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(word);
            continue;
        }
        if !row.is_empty() {
            rows.push(std::mem::take(&mut row));
        }
        // A word longer than the row is cut into pieces.
        let mut piece = String::new();
        for c in word.chars() {
            if piece.width() + c.to_string().width() > width {
                rows.push(std::mem::take(&mut piece));
            }
            piece.push(c);
        }
        row = piece;
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::gate::{GateId, ParameterName};
    use crate::domain::record::Resolution;
    use crate::domain::stage::LifecycleStage;

    const CONSOLE: &str = "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/deployments?region=eu-west-1";

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().unwrap()
    }

    fn record() -> GateRecord {
        GateRecord {
            region: Some("eu-west-1".into()),
            cluster: Some("prod".into()),
            service: Some("web".into()),
            service_deployment_arn: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/d1".into(),
            ),
            stage: Some(LifecycleStage::PostTestTrafficShift),
            target_revision: Some(
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/7788".into(),
            ),
            source_revisions: vec![
                "arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/7777".into(),
            ],
            requested_at: Some(at(1_777_000_000)),
            deadline: Some(at(1_777_003_600)),
            timeout_action: Some(TimeoutAction::Rollback),
            console_url: Some(CONSOLE.into()),
            test_url: Some("https://test.web.example.com/".into()),
            ..GateRecord::new(
                "gl-0123456789ab".parse::<GateId>().unwrap(),
                Resolution::Parameter {
                    name: ParameterName::new(
                        "/greenlight/decisions/prod/web/d1/POST_TEST_TRAFFIC_SHIFT",
                    )
                    .unwrap(),
                },
                "web is waiting for a decision",
            )
        }
    }

    fn recipe_record() -> GateRecord {
        GateRecord {
            title: "Approve production deployment?".into(),
            description: "Test traffic is on green. **Check** the <dashboard>.".into(),
            cluster: None,
            service: None,
            service_deployment_arn: None,
            stage: None,
            target_revision: None,
            source_revisions: vec![],
            requested_at: None,
            deadline: None,
            timeout_action: None,
            console_url: None,
            test_url: None,
            ..record()
        }
    }

    fn view() -> CardView {
        CardView {
            votes: vec![],
            quorum: 1,
            approvers_configured: true,
            status_line: None,
            offer_rollback_now: false,
        }
    }

    fn json_blocks(card: &RenderedCard) -> Vec<Value> {
        card.blocks
            .iter()
            .map(|block| serde_json::to_value(block).unwrap())
            .collect()
    }

    fn of_type<'a>(blocks: &'a [Value], kind: &str) -> Vec<&'a Value> {
        blocks.iter().filter(|b| b["type"] == kind).collect()
    }

    fn buttons(blocks: &[Value]) -> Vec<Value> {
        of_type(blocks, "actions")
            .iter()
            .flat_map(|b| b["elements"].as_array().unwrap().clone())
            .collect()
    }

    fn button<'a>(buttons: &'a [Value], action_id: &str) -> Option<&'a Value> {
        buttons.iter().find(|b| b["action_id"] == action_id)
    }

    fn all_text(blocks: &[Value]) -> String {
        serde_json::to_string(blocks).unwrap()
    }

    fn field_texts(blocks: &[Value]) -> Vec<String> {
        of_type(blocks, "section")
            .iter()
            .flat_map(|b| b["fields"].as_array().cloned().unwrap_or_default())
            .map(|f| {
                assert_eq!(f["type"], "mrkdwn");
                f["text"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn the_header_names_the_service_and_asks_the_question() {
        let card = gate_card(&record(), &view());
        let blocks = json_blocks(&card);
        assert_eq!(
            blocks[0],
            json!({"type": "header", "text": {"type": "plain_text",
                "text": "web: Reroute production traffic to the new revision?"}})
        );
        assert_eq!(
            card.text,
            "web: Reroute production traffic to the new revision? (gl-0123456789ab)"
        );
    }

    #[test]
    fn fields_tell_where_what_and_until_when() {
        let blocks = json_blocks(&gate_card(&record(), &view()));
        let fields = field_texts(&blocks);
        assert_eq!(
            fields,
            vec![
                "*Cluster*\nprod".to_owned(),
                "*Service*\nweb".to_owned(),
                "*Stage*\n`POST_TEST_TRAFFIC_SHIFT`\ntest traffic is on the new revision; production is still on the old one".to_owned(),
                "*New revision*\n`7788`\nreplacing `7777`".to_owned(),
                "*Requested*\n<!date^1777000000^{date_short_pretty} {time}|2026-04-24 03:06 UTC>".to_owned(),
                "*Deadline*\n<!date^1777003600^{date_short_pretty} {time}|2026-04-24 04:06 UTC>\nthen it rolls back".to_owned(),
                "*Test URL*\n<https://test.web.example.com/>".to_owned(),
            ]
        );
    }

    #[test]
    fn reroute_and_rollback_carry_only_the_gate_id_and_ask_first() {
        let blocks = json_blocks(&gate_card(&record(), &view()));
        let buttons = buttons(&blocks);
        assert_eq!(buttons.len(), 3);

        let reroute = button(&buttons, REROUTE_ACTION_ID).unwrap();
        assert_eq!(reroute["text"]["text"], "Reroute");
        assert_eq!(reroute["style"], "primary");
        assert_eq!(reroute["value"], "gl-0123456789ab");
        assert_eq!(
            reroute["confirm"],
            json!({
                "title": {"type": "plain_text", "text": "Reroute production traffic?"},
                "text": {"type": "mrkdwn", "text": "Production traffic for *web* moves to `7788`."},
                "confirm": {"type": "plain_text", "text": "Reroute"},
                "deny": {"type": "plain_text", "text": "Cancel"},
                "style": "primary"
            })
        );

        let rollback = button(&buttons, ROLLBACK_ACTION_ID).unwrap();
        assert_eq!(rollback["text"]["text"], "Rollback");
        assert_eq!(rollback["style"], "danger");
        assert_eq!(rollback["value"], "gl-0123456789ab");
        assert_eq!(rollback["confirm"]["style"], "danger");
        assert_eq!(rollback["confirm"]["confirm"]["text"], "Roll back");
        assert_eq!(
            rollback["confirm"]["text"]["text"],
            "ECS stops this deployment and takes *web* back to `7777`."
        );

        let console = button(&buttons, CONSOLE_ACTION_ID).unwrap();
        assert_eq!(console["url"], CONSOLE);
        assert!(console.get("value").is_none());

        // Nothing anywhere on the card names the decision parameter.
        assert!(!all_text(&blocks).contains("/greenlight/decisions"));
    }

    #[test]
    fn quorum_progress_and_status_line_are_in_the_context() {
        let view = CardView {
            votes: vec!["U1".into()],
            quorum: 2,
            approvers_configured: true,
            status_line: Some("bake time, 12 min left".into()),
            offer_rollback_now: false,
        };
        let blocks = json_blocks(&gate_card(&record(), &view));
        let context = blocks.last().unwrap();
        assert_eq!(context["type"], "context");
        assert_eq!(
            context["elements"][0],
            json!({"type": "mrkdwn",
                "text": "Gate `gl-0123456789ab` · 1 of 2 approvals: <@U1> · bake time, 12 min left"})
        );

        let single = json_blocks(&gate_card(&record(), &self::view()));
        assert_eq!(
            single.last().unwrap()["elements"][0]["text"],
            "Gate `gl-0123456789ab`"
        );
    }

    #[test]
    fn without_approvers_the_card_fails_closed_and_offers_no_decision() {
        let view = CardView {
            approvers_configured: false,
            ..view()
        };
        let blocks = json_blocks(&gate_card(&record(), &view));
        let buttons = buttons(&blocks);
        assert!(button(&buttons, REROUTE_ACTION_ID).is_none());
        assert!(button(&buttons, ROLLBACK_ACTION_ID).is_none());
        assert!(button(&buttons, CONSOLE_ACTION_ID).is_some());
        let text = all_text(&blocks);
        assert!(text.contains("Nobody can decide this gate"), "{text}");
        assert!(text.contains("fails closed"), "{text}");
        assert!(text.contains("it rolls back"), "{text}");
    }

    #[test]
    fn a_closed_quorum_card_drops_the_vote_count() {
        let mut decided = record();
        decided.status = GateStatus::Decided {
            decision: Decision::Approved,
            by: "U42".into(),
            at: at(1_777_001_000),
        };
        let quorum = CardView {
            quorum: 2,
            ..view()
        };
        assert!(!all_text(&json_blocks(&gate_card(&decided, &quorum))).contains("approvals"));
        assert!(
            all_text(&json_blocks(&gate_card(&record(), &quorum))).contains("0 of 2 approvals")
        );
    }

    #[test]
    fn a_decided_card_has_no_buttons_and_says_who_and_when() {
        let mut approved = record();
        approved.status = GateStatus::Decided {
            decision: Decision::Approved,
            by: "U42".into(),
            at: at(1_777_001_000),
        };
        let card = gate_card(&approved, &view());
        let blocks = json_blocks(&card);
        assert!(of_type(&blocks, "actions").is_empty());
        let text = all_text(&blocks);
        assert!(
            text.contains(
                "✅ Rerouted by <@U42> at <!date^1777001000^{date_short_pretty} {time}|2026-04-24 03:23 UTC>"
            ),
            "{text}"
        );
        assert!(text.contains(&format!("<{CONSOLE}|Open in ECS console>")));
        assert!(
            card.text.starts_with("web: ✅ Rerouted by <@U42>"),
            "{}",
            card.text
        );

        let mut rejected = record();
        rejected.status = GateStatus::Decided {
            decision: Decision::Rejected,
            by: "U7".into(),
            at: at(1_777_001_000),
        };
        let blocks = json_blocks(&gate_card(&rejected, &view()));
        assert!(of_type(&blocks, "actions").is_empty());
        assert!(all_text(&blocks).contains("⏪ Rollback requested by <@U7> at <!date^1777001000^"));
    }

    #[test]
    fn timed_out_and_elsewhere_cards_say_what_happened() {
        for (action, words) in [
            (
                TimeoutAction::Rollback,
                "⏰ Timed out: rolled back at <!date^",
            ),
            (
                TimeoutAction::Continue,
                "⏰ Timed out: continued at <!date^",
            ),
        ] {
            let mut timed_out = record();
            timed_out.status = GateStatus::TimedOut {
                action,
                at: at(1_777_003_600),
            };
            let blocks = json_blocks(&gate_card(&timed_out, &view()));
            assert!(of_type(&blocks, "actions").is_empty());
            assert!(all_text(&blocks).contains(words));
        }

        let mut elsewhere = record();
        elsewhere.status = GateStatus::ResolvedElsewhere {
            outcome: "rolled back <in the console>".into(),
            at: at(1_777_002_000),
        };
        let blocks = json_blocks(&gate_card(&elsewhere, &view()));
        assert!(of_type(&blocks, "actions").is_empty());
        assert!(
            all_text(&blocks)
                .contains("Resolved outside greenlight: rolled back &lt;in the console&gt; at")
        );
    }

    #[test]
    fn an_approved_card_offers_roll_back_now_while_the_deployment_runs() {
        let mut approved = record();
        approved.status = GateStatus::Decided {
            decision: Decision::Approved,
            by: "U42".into(),
            at: at(1_777_001_000),
        };
        let offering = CardView {
            offer_rollback_now: true,
            status_line: Some("bake time, about 12 min left (until 03:35 UTC)".into()),
            ..view()
        };
        let blocks = json_blocks(&gate_card(&approved, &offering));
        let buttons = buttons(&blocks);
        assert_eq!(buttons.len(), 1, "{buttons:?}");
        let now = button(&buttons, ROLLBACK_NOW_ACTION_ID).unwrap();
        assert_eq!(now["text"]["text"], "Roll back now");
        assert_eq!(now["style"], "danger");
        assert_eq!(now["value"], "gl-0123456789ab");
        assert_eq!(now["confirm"]["style"], "danger");
        assert_eq!(now["confirm"]["confirm"]["text"], "Roll back now");
        assert_eq!(
            now["confirm"]["text"]["text"],
            "ECS stops this deployment and takes *web* back to `7777`, although it was approved."
        );
        assert!(all_text(&blocks).contains("✅ Rerouted by <@U42>"));
        assert!(
            blocks.last().unwrap()["elements"][0]["text"]
                .as_str()
                .unwrap()
                .ends_with("· bake time, about 12 min left (until 03:35 UTC)")
        );

        // Once the deployment has ended the view stops offering it, and the button goes.
        let blocks = json_blocks(&gate_card(&approved, &view()));
        assert!(of_type(&blocks, "actions").is_empty());
        // An open card never shows it: Rollback does the same there.
        let blocks = json_blocks(&gate_card(&record(), &offering));
        assert!(button(&self::buttons(&blocks), ROLLBACK_NOW_ACTION_ID).is_none());
    }

    #[test]
    fn a_step_card_says_which_traffic_step_it_gates() {
        let mut step = record();
        step.stage = Some(LifecycleStage::PreProductionTrafficShift);
        step.step = Some(crate::domain::progress::TrafficStep {
            number: 2,
            of: Some(4),
            green_percent: Some(25.0),
            next_percent: Some(50.0),
        });
        let blocks = json_blocks(&gate_card(&step, &view()));
        assert!(
            field_texts(&blocks)
                .contains(&"*Traffic step*\nstep 2 of 4: 25 % on green, next 50 %".to_owned()),
            "{:?}",
            field_texts(&blocks)
        );
    }

    #[test]
    fn a_pause_that_timed_out_says_ecs_applied_the_timeout() {
        let mut paused = record();
        paused.resolution = Resolution::PauseHook {
            hook_id: "ecs-pause-1".into(),
        };
        paused.status = GateStatus::TimedOut {
            action: TimeoutAction::Rollback,
            at: at(1_777_003_600),
        };
        let blocks = json_blocks(&gate_card(&paused, &view()));
        assert!(of_type(&blocks, "actions").is_empty());
        assert!(all_text(&blocks).contains("⏰ Timed out in ECS: rolled back at <!date^"));
        let note = thread_note(
            &paused,
            &AuditEvent::TimedOut {
                action: TimeoutAction::Continue,
                at: at(1_777_003_600),
            },
        );
        assert!(note.contains("ECS let the deployment continue"), "{note}");
    }

    #[test]
    fn a_recipe_card_renders_from_title_and_description() {
        let card = gate_card(&recipe_record(), &view());
        let blocks = json_blocks(&card);
        assert_eq!(blocks[0]["text"]["text"], "Approve production deployment?");
        assert_eq!(
            blocks[1],
            json!({"type": "section", "text": {"type": "mrkdwn",
                "text": "Test traffic is on green. **Check** the &lt;dashboard&gt;."}})
        );
        assert_eq!(field_texts(&blocks), vec!["*Region*\neu-west-1".to_owned()]);
        let buttons = buttons(&blocks);
        assert_eq!(buttons.len(), 2, "no console link without a console URL");
        assert_eq!(
            button(&buttons, REROUTE_ACTION_ID).unwrap()["confirm"]["text"]["text"],
            "Production traffic for *Approve production deployment?* moves to the new revision."
        );
        assert_eq!(
            card.text,
            "Approve production deployment? (gl-0123456789ab)"
        );
    }

    #[test]
    fn outside_text_cannot_ping_or_disguise_links() {
        let mut hostile = recipe_record();
        hostile.description = "<!channel> see <https://evil.example|the dashboard> & more".into();
        hostile.service = Some("web<!here>".into());
        let card = gate_card(&hostile, &view());
        // plain_text (the header, button labels) is shown literally; mrkdwn is what Slack parses.
        let mut mrkdwn = Vec::new();
        collect_mrkdwn(&serde_json::to_value(&card.blocks).unwrap(), &mut mrkdwn);
        mrkdwn.push(card.text.clone());
        let text = mrkdwn.join("\n");
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(!text.contains("<!here>"), "{text}");
        assert!(!text.contains("<https://evil"), "{text}");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(text.contains("&amp; more"), "{text}");
    }

    fn collect_mrkdwn(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if map.get("type") == Some(&json!("mrkdwn")) {
                    into.push(map["text"].as_str().unwrap().to_owned());
                }
                map.values().for_each(|v| collect_mrkdwn(v, into));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_mrkdwn(v, into)),
            _ => {}
        }
    }

    #[test]
    fn long_titles_fit_slacks_limits() {
        let mut long = recipe_record();
        long.title = "x".repeat(400);
        let blocks = json_blocks(&gate_card(&long, &view()));
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), HEADER_MAX);
        assert!(header.ends_with('…'));

        long.title = "  ".into();
        let blocks = json_blocks(&gate_card(&long, &view()));
        assert_eq!(blocks[0]["text"]["text"], "Deployment gate");
    }

    #[test]
    fn unusable_links_are_left_out() {
        let mut odd = record();
        odd.console_url = Some("javascript:alert(1)".into());
        odd.test_url = Some("not a url".into());
        let blocks = json_blocks(&gate_card(&odd, &view()));
        assert!(button(&buttons(&blocks), CONSOLE_ACTION_ID).is_none());
        assert!(!all_text(&blocks).contains("Test URL"));
        // Plain http is not offered as a link either.
        odd.console_url = Some("http://console.example/ecs".into());
        odd.test_url = Some("http://green.example/".into());
        let blocks = json_blocks(&gate_card(&odd, &view()));
        assert!(button(&buttons(&blocks), CONSOLE_ACTION_ID).is_none());
        assert!(!all_text(&blocks).contains("green.example"));
    }

    #[test]
    fn slack_dates_carry_a_utc_fallback() {
        assert_eq!(
            slack_date(at(0)),
            "<!date^0^{date_short_pretty} {time}|1970-01-01 00:00 UTC>"
        );
    }

    #[test]
    fn thread_notes_tell_the_story_with_the_gate_id() {
        let record = record();
        let when = at(1_777_001_000);
        let notes = [
            thread_note(
                &record,
                &AuditEvent::Approval {
                    by: "U1",
                    votes: 1,
                    quorum: 2,
                },
            ),
            thread_note(
                &record,
                &AuditEvent::Decided {
                    decision: Decision::Approved,
                    by: "U2",
                    at: when,
                },
            ),
            thread_note(
                &record,
                &AuditEvent::Decided {
                    decision: Decision::Rejected,
                    by: "U2",
                    at: when,
                },
            ),
            thread_note(
                &record,
                &AuditEvent::TimedOut {
                    action: TimeoutAction::Rollback,
                    at: when,
                },
            ),
            thread_note(
                &record,
                &AuditEvent::ResolvedElsewhere {
                    outcome: "continued from the console",
                    at: when,
                },
            ),
            thread_note(
                &record,
                &AuditEvent::RolledBackAfterApproval { by: "U3", at: when },
            ),
            thread_note(
                &record,
                &AuditEvent::Deployment {
                    status: "ROLLBACK_SUCCESSFUL",
                    reason: Some("Rolled back <by request>"),
                },
            ),
        ];
        for note in &notes {
            assert!(note.ends_with(" · `gl-0123456789ab`"), "{note}");
        }
        assert!(notes[0].starts_with("👍 <@U1> approved (1 of 2)"));
        assert!(notes[1].starts_with("✅ <@U2> approved at <!date^1777001000^"));
        assert!(notes[1].contains("production traffic moves to `7788`"));
        assert!(notes[2].starts_with("⏪ <@U2> requested a rollback at <!date^"));
        assert!(notes[3].contains("greenlight rolled the deployment back"));
        assert!(notes[4].contains("continued from the console"));
        assert!(notes[5].starts_with("⏪ <@U3> rolled the deployment back after approval"));
        assert!(
            notes[6].starts_with(
                "ECS reports the deployment `ROLLBACK_SUCCESSFUL`: Rolled back &lt;by request&gt;"
            ),
            "{}",
            notes[6]
        );
    }

    #[test]
    fn audit_events_follow_the_status() {
        assert_eq!(AuditEvent::from_status(&GateStatus::Open), None);
        let status = GateStatus::Decided {
            decision: Decision::Rejected,
            by: "U9".into(),
            at: at(5),
        };
        assert_eq!(
            AuditEvent::from_status(&status),
            Some(AuditEvent::Decided {
                decision: Decision::Rejected,
                by: "U9",
                at: at(5)
            })
        );
    }

    #[test]
    fn mentions_are_only_made_of_user_ids() {
        assert_eq!(mention("U123ABC"), "<@U123ABC>");
        assert_eq!(mention("U1> <!channel"), "U1&gt; &lt;!channel");
    }

    #[test]
    fn the_drawing_shows_header_fields_and_buttons_in_a_box() {
        let view = CardView {
            votes: vec!["U1".into()],
            quorum: 2,
            approvers_configured: true,
            status_line: None,
            offer_rollback_now: false,
        };
        let drawing = draw(&gate_card(&record(), &view).blocks);
        let lines: Vec<&str> = drawing.lines().collect();
        assert!(lines[0].starts_with('┌') && lines[0].ends_with('┐'));
        assert!(lines.last().unwrap().starts_with('└'));
        assert!(lines[1].contains("web: Reroute production traffic to the new revision?"));
        assert!(lines[2].starts_with('├'));
        assert!(drawing.contains("Cluster: prod"));
        assert!(drawing.contains("Requested: 2026-04-24 03:06 UTC"));
        assert!(drawing.contains("[ Reroute ]  [ Rollback ]  [ Open in ECS console ↗ ]"));
        assert!(drawing.contains("1 of 2 approvals: @U1"));
        // Every row of the box is as wide as the top edge.
        let width = lines[0].width();
        for line in &lines {
            assert_eq!(line.width(), width, "{line:?}\n{drawing}");
        }
    }

    #[test]
    fn the_drawing_of_a_decided_card_keeps_the_box_straight() {
        let mut decided = record();
        decided.status = GateStatus::TimedOut {
            action: TimeoutAction::Rollback,
            at: at(1_777_003_600),
        };
        let view = CardView {
            approvers_configured: false,
            ..view()
        };
        let drawing = draw(&gate_card(&decided, &view).blocks);
        assert!(
            drawing.contains("⏰ Timed out: rolled back at 2026-04-24 04:06 UTC"),
            "{drawing}"
        );
        assert!(!drawing.contains("[ Reroute ]"));
        let lines: Vec<&str> = drawing.lines().collect();
        for line in &lines {
            assert_eq!(line.width(), lines[0].width(), "{line:?}\n{drawing}");
        }
    }

    // Found by the property tests (tests/it/properties.rs): the ARN parser takes a region of any
    // length, and the console link is built from it; a link over Slack's 3,000 characters made
    // Slack refuse the whole card (`invalid_blocks`), so the gate had no card at all.
    #[test]
    fn a_console_link_too_long_for_a_button_is_left_out_not_the_card() {
        let region = "x".repeat(1_600);
        let arn = format!("arn:aws:ecs:{region}:123456789012:service-deployment/prod/web/d1")
            .parse::<crate::domain::deployment::ServiceDeploymentArn>()
            .unwrap();
        let long = GateRecord {
            console_url: Some(arn.console_url()),
            ..record()
        };
        assert!(long.console_url.as_deref().unwrap().len() > 3_000);
        let blocks = json_blocks(&gate_card(&long, &view()));
        let buttons = buttons(&blocks);
        assert!(button(&buttons, CONSOLE_ACTION_ID).is_none());
        assert!(button(&buttons, REROUTE_ACTION_ID).is_some());

        let closed = GateRecord {
            status: GateStatus::TimedOut {
                action: TimeoutAction::Rollback,
                at: at(1_777_003_600),
            },
            ..long
        };
        for block in json_blocks(&gate_card(&closed, &view())) {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= SECTION_TEXT_MAX);
                assert!(!text.contains("Open in ECS console"));
            }
        }
    }

    // Found by the property tests: the context line (gate id, votes, status line) was not
    // clipped, and a context element over 3,000 characters made Slack refuse the card.
    #[test]
    fn a_long_status_line_or_many_votes_are_clipped_in_the_context() {
        let view = CardView {
            votes: (0..400).map(|n| format!("U{n:09}")).collect(),
            quorum: 500,
            status_line: Some("<&>".repeat(2_000)),
            ..view()
        };
        let blocks = json_blocks(&gate_card(&record(), &view));
        let context = of_type(&blocks, "context");
        let text = context[0]["elements"][0]["text"].as_str().unwrap();
        assert_eq!(text.chars().count(), CONTEXT_TEXT_MAX);
        assert!(text.starts_with("Gate `gl-0123456789ab`"));
    }
}
