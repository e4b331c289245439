//! Every message greenlight sends is valid Block Kit: the Slack double refuses what Slack refuses
//! (`support::block_kit`), and a test double that still saw a refusal when it is dropped fails its
//! test. These tests cover the cards most likely to go wrong.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::block_kit::check_blocks;
use crate::support::bot::{Options, TestBot};
use crate::support::moto::REGION;

/// A recipe gate (no console link) under a policy with no approver: a card with no button to
/// offer. It used to carry an actions block with no elements, which Slack refuses; the card was
/// never seen and its deployment waited for its timeout unseen.
#[tokio::test]
async fn a_card_with_no_button_to_offer_is_posted_and_valid() {
    let bot = TestBot::with(Options {
        approvers: "",
        ..Options::default()
    })
    .await;
    let parameter = format!("{}/blue-green/approval", bot.decision_prefix);
    let message = json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": "Approve the production shift?", "description": "The recipe's hook is waiting."},
        "metadata": {"enableCustomActions": true, "additionalContext": {"ActionGroup": "ecs-approval", "parameterName": parameter, "region": REGION}}});
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&message.to_string()))
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "card posted\n"));
    let posts = bot.slack.calls("chat.postMessage");
    assert_eq!(posts.len(), 1);
    let blocks = &posts[0].body["blocks"];
    let blocks = match blocks {
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    check_blocks(&blocks).expect("valid Block Kit");
    assert!(
        blocks
            .as_array()
            .unwrap()
            .iter()
            .all(|block| block["type"] != "actions"),
        "no actions block: {blocks}"
    );
    assert!(bot.slack.refused_blocks().is_empty());
}

#[test]
fn the_checker_refuses_what_slack_refuses() {
    let long = "x".repeat(151);
    let cases = [
        (json!([{"type": "actions", "elements": []}]), "0 elements"),
        (
            json!([{"type": "header", "text": {"type": "plain_text", "text": long}}]),
            "over 150",
        ),
        (
            json!([{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}]),
            "mrkdwn",
        ),
        (json!([{"type": "section"}]), "neither text nor fields"),
        (
            json!([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]),
            "empty text",
        ),
        (
            json!([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"}, "style": "green"}]}]),
            "style",
        ),
        (
            json!([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Go"},
                "confirm": {"title": {"type": "mrkdwn", "text": "Sure?"}, "text": {"type": "mrkdwn", "text": "x"},
                    "confirm": {"type": "plain_text", "text": "Yes"}, "deny": {"type": "plain_text", "text": "No"}}}]}]),
            "confirm.title",
        ),
        (
            json!(
                (0..51)
                    .map(|_| json!({"type": "divider"}))
                    .collect::<Vec<_>>()
            ),
            "over 50",
        ),
    ];
    for (blocks, why) in cases {
        let refused = check_blocks(&blocks).expect_err(why);
        assert!(refused.contains(why), "{why}: {refused}");
    }
}
