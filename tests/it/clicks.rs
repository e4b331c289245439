//! Clicks on a card's buttons, through signed requests to the router, with SSM at moto and Slack
//! at the double: who may decide, what gets written, and what the card and the clicker see.

use axum::http::StatusCode;
use serde_json::Value;

use crate::support::bot::{ALICE, BOB, CHANNEL, MALLORY, Options, TestBot, send};
use greenlight::card::{REROUTE_ACTION_ID, ROLLBACK_ACTION_ID};

const CAROL: &str = "U0CAROL001";

/// Two approvals to reroute; one is enough to roll back.
const QUORUM_TWO: &str = r#"
[[rule]]
name = "two to reroute"
approvers = ["U0ALICE001", "U0BOB00001", "S0SRETEAM1"]
quorum = 2
"#;

fn quorum_two() -> Options {
    Options {
        policy: Some(QUORUM_TWO.to_owned()),
        ..Options::default()
    }
}

/// Where the gate's card was posted, from its record.
async fn card_of(bot: &TestBot, gate: &str) -> (String, String) {
    let record = bot.gate_record(gate).await.expect("the gate record");
    (
        record["card"]["channel"]
            .as_str()
            .expect("card channel")
            .to_owned(),
        record["card"]["ts"].as_str().expect("card ts").to_owned(),
    )
}

/// The card as it stands now in the double, as JSON text.
async fn card_now(bot: &TestBot, gate: &str) -> (String, Value) {
    let (channel, ts) = card_of(bot, gate).await;
    let message = bot.slack.message(&channel, &ts).expect("the card");
    (
        format!(
            "{} {}",
            message.text.unwrap_or_default(),
            serde_json::to_string(&message.blocks).expect("blocks")
        ),
        message.blocks,
    )
}

/// Whether the card still asks for a decision (Reroute or Rollback). A rerouted card keeps one
/// other button until its deployment ends, "Roll back now", which decides nothing about the gate.
fn has_buttons(blocks: &Value) -> bool {
    blocks.as_array().is_some_and(|blocks| {
        blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .any(|e| e["action_id"] == REROUTE_ACTION_ID || e["action_id"] == ROLLBACK_ACTION_ID)
    })
}

fn has_reroute_button(blocks: &Value) -> bool {
    blocks.as_array().is_some_and(|blocks| {
        blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .any(|e| e["action_id"] == REROUTE_ACTION_ID)
    })
}

/// `chat.update` calls that closed the card (a decision line in place of the buttons).
fn decided_updates(bot: &TestBot) -> Vec<Value> {
    bot.slack
        .calls("chat.update")
        .into_iter()
        .map(|call| call.body)
        .filter(|body| {
            let text = body.to_string();
            text.contains("Rerouted by") || text.contains("Rollback requested by")
        })
        .collect()
}

/// Ephemerals to `user`, as texts.
fn ephemerals_to(bot: &TestBot, user: &str) -> Vec<String> {
    bot.slack
        .ephemerals()
        .into_iter()
        .filter(|(channel, to, _)| channel == CHANNEL && to == user)
        .map(|(_, _, text)| text)
        .collect()
}

/// The decision lock's JSON (who decided), if any.
async fn decision_lock(bot: &TestBot, gate: &str) -> Option<Value> {
    bot.decision_lock(gate)
        .await
        .map(|lock| serde_json::to_value(lock).expect("lock JSON"))
}

#[tokio::test]
async fn a_deciding_click_reads_its_gate_once() {
    // The close starts from the read the click made (the lock is an item of its own and leaves
    // the gate's version alone), so a click that decides reads one item of the table.
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("one-read").await;
    let before = bot.gate_table.items_read();
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    assert_eq!(bot.gate_table.items_read() - before, 1);
    let record = bot.gate_record(&gate).await.expect("the gate");
    assert_eq!(record["status"]["state"], "decided", "{record}");
}

#[tokio::test]
async fn reroute_by_an_approver_writes_approved_and_closes_the_card() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("reroute").await;
    let (_, before) = card_now(&bot, &gate).await;
    assert!(has_buttons(&before));

    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );

    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let updates = bot.slack.calls("chat.update");
    assert_eq!(updates.len(), 1, "one card update");
    let (channel, ts) = card_of(&bot, &gate).await;
    assert_eq!(updates[0].body["channel"], channel.as_str());
    assert_eq!(updates[0].body["ts"], ts.as_str());
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(!has_buttons(&blocks), "buttons gone: {text}");
    assert!(
        text.contains(&format!("Rerouted by <@{ALICE}>")),
        "who decided: {text}"
    );
    let replies = bot.slack.replies(&channel, &ts);
    assert_eq!(replies.len(), 1, "one thread reply");
    let reply = replies[0].text.clone().unwrap_or_default();
    assert!(
        reply.contains(&format!("<@{ALICE}> approved")) && reply.contains(&gate),
        "{reply}"
    );
    assert!(
        bot.slack.ephemerals().is_empty(),
        "the card says it all: {:?}",
        bot.slack.ephemerals()
    );
    assert_eq!(decision_lock(&bot, &gate).await.expect("lock")["by"], ALICE);
}

#[tokio::test]
async fn rollback_by_an_approver_writes_rejected() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("rollback").await;
    assert_eq!(
        bot.click(BOB, ROLLBACK_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(!has_buttons(&blocks));
    assert!(
        text.contains(&format!("Rollback requested by <@{BOB}>")),
        "{text}"
    );
    let (channel, ts) = card_of(&bot, &gate).await;
    let replies = bot.slack.replies(&channel, &ts);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0]
            .text
            .as_deref()
            .unwrap_or_default()
            .contains("requested a rollback")
    );
}

#[tokio::test]
async fn an_unauthorised_user_is_told_why_and_nothing_is_written() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("mallory").await;
    let written_before = bot.written().await;
    for action in [REROUTE_ACTION_ID, ROLLBACK_ACTION_ID] {
        assert_eq!(bot.click(MALLORY, action, &gate).await, StatusCode::OK);
    }
    assert_eq!(bot.parameter(&parameter).await, None);
    assert_eq!(bot.written().await, written_before, "nothing written");
    assert!(bot.slack.calls("chat.update").is_empty(), "card unchanged");
    let told = ephemerals_to(&bot, MALLORY);
    assert_eq!(told.len(), 2, "{told:?}");
    for text in &told {
        assert!(text.contains("not an approver"), "{text}");
    }
    assert_eq!(
        bot.slack.ephemerals().len(),
        2,
        "nobody else was told anything"
    );
    // Mallory is not in the SRE group either: the refusal came after asking Slack.
    assert!(!bot.slack.calls("usergroups.users.list").is_empty());
    // The gate stays open for a real approver.
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn a_member_of_an_approver_group_can_approve() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("group").await;
    assert_eq!(
        bot.click(CAROL, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let lookups = bot.slack.calls("usergroups.users.list");
    assert!(
        lookups.iter().any(|c| c.body["usergroup"] == "S0SRETEAM1"),
        "membership read from Slack: {lookups:?}"
    );
    let (text, _) = card_now(&bot, &gate).await;
    assert!(text.contains(&format!("Rerouted by <@{CAROL}>")), "{text}");
}

#[tokio::test]
async fn a_quorum_of_two_needs_two_distinct_approvers() {
    let bot = TestBot::with(quorum_two()).await;
    let (gate, parameter) = bot.open_gate("quorum").await;
    let (text, _) = card_now(&bot, &gate).await;
    assert!(text.contains("0 of 2 approvals"), "{text}");

    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(
        bot.parameter(&parameter).await,
        None,
        "one vote decides nothing"
    );
    assert!(decision_lock(&bot, &gate).await.is_none());
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(text.contains("1 of 2 approvals"), "{text}");
    assert!(text.contains(&format!("<@{ALICE}>")), "who voted: {text}");
    assert!(has_buttons(&blocks), "still open");
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("1 of 2"), "{}", told[0]);

    assert_eq!(
        bot.click(BOB, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(!has_buttons(&blocks));
    assert!(text.contains(&format!("Rerouted by <@{BOB}>")), "{text}");
    assert_eq!(decided_updates(&bot).len(), 1);
}

#[tokio::test]
async fn the_same_approver_twice_does_not_make_a_quorum() {
    let bot = TestBot::with(quorum_two()).await;
    let (gate, parameter) = bot.open_gate("twice").await;
    for _ in 0..3 {
        assert_eq!(
            bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
            StatusCode::OK
        );
    }
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(text.contains("1 of 2 approvals"), "{text}");
    assert!(has_buttons(&blocks));
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 3, "{told:?}");
    assert!(told[1].contains("already approved") && told[2].contains("already approved"));
    // The card was redrawn for the one counted vote only.
    assert_eq!(bot.slack.calls("chat.update").len(), 1);
}

#[tokio::test]
async fn one_rollback_vetoes_a_quorum_gate_at_once() {
    let bot = TestBot::with(quorum_two()).await;
    let (gate, parameter) = bot.open_gate("veto").await;
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert_eq!(
        bot.click(BOB, ROLLBACK_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(!has_buttons(&blocks));
    assert!(
        text.contains(&format!("Rollback requested by <@{BOB}>")),
        "{text}"
    );
    // A later approval changes nothing and says so.
    assert_eq!(
        bot.click(CAROL, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
    let told = ephemerals_to(&bot, CAROL);
    assert_eq!(told.len(), 1);
    assert!(
        told[0].contains("already rejected") && told[0].contains(&format!("<@{BOB}>")),
        "{}",
        told[0]
    );
}

#[tokio::test]
async fn fifty_concurrent_conflicting_clicks_make_exactly_one_decision() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("race").await;
    let clickers = [ALICE, BOB, CAROL];
    let clicks: Vec<(&str, &str)> = (0..50)
        .map(|i| {
            let action = if i % 2 == 0 {
                REROUTE_ACTION_ID
            } else {
                ROLLBACK_ACTION_ID
            };
            (clickers[i % clickers.len()], action)
        })
        .collect();
    let statuses = futures_util::future::join_all(
        clicks
            .iter()
            .map(|(user, action)| bot.click(user, action, &gate)),
    )
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );

    let value = bot.parameter(&parameter).await.expect("a decision");
    assert!(value == "approved" || value == "rejected", "{value}");
    let lock = decision_lock(&bot, &gate).await.expect("the lock");
    let winner = lock["by"].as_str().expect("by").to_owned();
    let decision = lock["decision"].as_str().expect("decision").to_owned();
    assert_eq!(decision, value, "the lock and the parameter agree");
    assert_eq!(
        bot.parameter_writes(&parameter).await,
        1,
        "one SSM write of the decision"
    );

    let closed = decided_updates(&bot);
    assert_eq!(closed.len(), 1, "exactly one Decided card update");
    assert_eq!(
        bot.slack.calls("chat.update").len(),
        1,
        "no other card update"
    );
    let (text, _) = card_now(&bot, &gate).await;
    assert!(text.contains(&format!("by <@{winner}>")), "{text}");

    let what = if value == "approved" {
        "already approved (rerouted) by"
    } else {
        "already rejected (rolled back) by"
    };
    let ephemerals = bot.slack.ephemerals();
    assert_eq!(ephemerals.len(), 49, "every other clicker was told");
    for (channel, user, text) in &ephemerals {
        assert_eq!(channel, CHANNEL);
        assert!(clickers.contains(&user.as_str()));
        assert!(
            text.contains(what) && text.contains(&format!("<@{winner}>")),
            "{user} was told {text:?}"
        );
    }
    // Per clicker: the winner was told 16 or 17 times minus the winning click, the others all.
    for clicker in clickers {
        let clicked = clicks.iter().filter(|(user, _)| *user == clicker).count();
        let told = ephemerals
            .iter()
            .filter(|(_, user, _)| user == clicker)
            .count();
        let expected = if clicker == winner {
            clicked - 1
        } else {
            clicked
        };
        assert_eq!(told, expected, "{clicker}");
    }
    let (channel, ts) = card_of(&bot, &gate).await;
    assert_eq!(bot.slack.replies(&channel, &ts).len(), 1, "one audit reply");
}

#[tokio::test]
async fn a_click_for_an_unknown_gate_writes_nothing() {
    let bot = TestBot::start().await;
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, "gl-0123456789ab").await,
        StatusCode::OK
    );
    assert!(bot.written().await.is_empty());
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("knows no open gate"), "{}", told[0]);
    let methods: Vec<String> = bot
        .slack
        .all_calls()
        .into_iter()
        .map(|c| c.method)
        .collect();
    assert_eq!(methods, ["chat.postEphemeral"]);
}

#[tokio::test]
async fn a_button_value_that_is_not_a_gate_writes_nothing() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("badvalue").await;
    let written_before = bot.written().await;
    for value in [
        parameter.as_str(),
        "approved",
        "",
        "gl-XYZ",
        "gl-0123456789abc",
    ] {
        assert_eq!(
            bot.click(ALICE, REROUTE_ACTION_ID, value).await,
            StatusCode::OK
        );
    }
    assert_eq!(bot.parameter(&parameter).await, None);
    assert_eq!(bot.written().await, written_before);
    assert!(bot.slack.calls("chat.update").is_empty());
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 5);
    assert!(
        told.iter()
            .all(|t| t.contains("does not name a greenlight gate"))
    );
    // Other buttons (the console link) report clicks too; they change nothing and say nothing.
    assert_eq!(
        bot.click(ALICE, "greenlight.console", &gate).await,
        StatusCode::OK
    );
    assert_eq!(ephemerals_to(&bot, ALICE).len(), 5);
    assert_eq!(bot.parameter(&parameter).await, None);
}

#[tokio::test]
async fn with_ssm_down_a_click_decides_nothing_and_says_so() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("ssmdown").await;
    let down = bot.sibling_with_ssm_at("http://127.0.0.1:9").await;
    let body = TestBot::click_body(ALICE, CHANNEL, REROUTE_ACTION_ID, &gate);
    let (status, text) = send(&down, bot.slack_request("/slack/interactions", body)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(
        told[0].contains("Nothing was decided") && told[0].contains("keeps its buttons"),
        "{}",
        told[0]
    );
    assert!(bot.slack.calls("chat.update").is_empty(), "card unchanged");
    let (_, blocks) = card_now(&bot, &gate).await;
    assert!(has_buttons(&blocks));
    assert_eq!(bot.parameter(&parameter).await, None, "no decision");
    assert!(decision_lock(&bot, &gate).await.is_none());
    // Once SSM is back, the same click decides.
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn a_click_from_another_channel_is_refused() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("elsewhere").await;
    let other = "C0ELSEWHERE";
    assert_eq!(
        bot.click_in(other, ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    assert!(bot.slack.calls("chat.update").is_empty());
    let ephemerals = bot.slack.ephemerals();
    assert_eq!(ephemerals.len(), 1);
    let (channel, user, text) = &ephemerals[0];
    assert_eq!((channel.as_str(), user.as_str()), (other, ALICE));
    assert!(
        text.contains(&format!("can only be decided in <#{CHANNEL}>")),
        "{text}"
    );
}

#[tokio::test]
async fn without_approvers_the_card_fails_closed_and_reroute_is_refused() {
    let bot = TestBot::with(Options {
        approvers: "",
        ..Options::default()
    })
    .await;
    let (gate, parameter) = bot.open_gate("nobody").await;
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(
        text.contains("Nobody can decide this gate") && text.contains("fails closed"),
        "{text}"
    );
    assert!(!has_reroute_button(&blocks), "no Reroute to click");
    assert!(
        !blocks.to_string().contains(ROLLBACK_ACTION_ID),
        "no Rollback either: nobody could click it"
    );
    // A forged Reroute click (there is no button) is refused all the same.
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    assert!(bot.slack.calls("chat.update").is_empty());
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("no approver is configured"), "{}", told[0]);
}

/// Two approvers of a quorum-two gate click close together, and Slack is slow to apply the first
/// click's "1 of 2" redraw: that redraw lands after the second click closed the card. The card
/// must still end up closed, not back to "1 of 2" with live buttons on a decided gate.
#[tokio::test]
async fn a_slow_vote_redraw_does_not_reopen_a_decided_card() {
    let bot = TestBot::with(quorum_two()).await;
    let (gate, parameter) = bot.open_gate("slowvote").await;
    bot.slack.fail_next(
        "chat.update",
        crate::support::slack_double::Failure::Delay(std::time::Duration::from_millis(1500)),
        1,
    );
    let first = bot.click(ALICE, REROUTE_ACTION_ID, &gate);
    let second = async {
        // Wait until Alice's redraw is in flight at Slack, then Bob decides.
        for _ in 0..500 {
            if !bot.slack.calls("chat.update").is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            bot.slack.calls("chat.update").len(),
            1,
            "Alice's redraw started"
        );
        bot.click(BOB, REROUTE_ACTION_ID, &gate).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!((first, second), (StatusCode::OK, StatusCode::OK));
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(
        !has_buttons(&blocks),
        "the decided card has no buttons: {text}"
    );
    assert!(text.contains(&format!("Rerouted by <@{BOB}>")), "{text}");
}

/// The gate id on the Reroute button of the `index`-th card posted.
fn button_gate(bot: &TestBot, index: usize) -> String {
    let posts = bot.slack.calls("chat.postMessage");
    let blocks = posts[index].body["blocks"]
        .as_array()
        .expect("blocks")
        .clone();
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == REROUTE_ACTION_ID)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
        .expect("a Reroute button")
}

/// A do-it-yourself recipe hook names the same decision parameter for every deployment and
/// deletes it once it has read the decision. The next deployment's request must get a card of its
/// own that can be decided, while a redelivery of one request still makes one card.
#[tokio::test]
async fn each_recipe_request_gets_its_own_gate_though_the_parameter_is_the_same() {
    let bot = TestBot::start().await;
    let parameter = format!("{}/blue-green/approval", bot.decision_prefix);
    let message = serde_json::json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": "Approve the production shift?", "description": "The recipe's hook is waiting."},
        "metadata": {"enableCustomActions": true, "additionalContext": {"ActionGroup": "ecs-approval", "parameterName": parameter, "region": "us-east-1"}}})
    .to_string();

    let first = bot.sns_notification(&message);
    assert_eq!(bot.post("/sns", first.clone()).await.0, StatusCode::OK);
    assert_eq!(
        bot.post("/sns", first).await.0,
        StatusCode::OK,
        "redelivery"
    );
    assert_eq!(
        bot.slack.calls("chat.postMessage").len(),
        1,
        "one card per request"
    );
    let gate = button_gate(&bot, 0);
    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    // The recipe's hook reads the decision and deletes it.
    bot.ssm
        .delete_parameter()
        .name(&parameter)
        .send()
        .await
        .expect("the hook deletes the decision");

    // The next deployment: the same notification, published again.
    let (status, text) = bot.post("/sns", bot.sns_notification(&message)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let posts = bot.slack.calls("chat.postMessage");
    let cards: Vec<_> = posts
        .iter()
        .filter(|p| p.body.get("thread_ts").is_none())
        .collect();
    assert_eq!(cards.len(), 2, "a new card for the new request: {text}");
    let second = button_gate(&bot, posts.len() - 1);
    assert_ne!(second, gate, "a gate of its own");
    assert_eq!(
        bot.click(BOB, ROLLBACK_ACTION_ID, &second).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("rejected"));
    let told = ephemerals_to(&bot, BOB);
    assert!(told.is_empty(), "Bob decided, not refused: {told:?}");
}

/// When Slack cannot say who is in an approver group, a member of that group is not let in on a
/// guess: nothing is decided, and they are told to try again, which then works.
#[tokio::test]
async fn a_group_lookup_failure_refuses_and_says_try_again() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("grouplookup").await;
    bot.slack.fail_next(
        "usergroups.users.list",
        crate::support::slack_double::Failure::Error("fatal_error".to_owned()),
        1,
    );
    assert_eq!(
        bot.click(CAROL, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    assert!(bot.slack.calls("chat.update").is_empty());
    let told = ephemerals_to(&bot, CAROL);
    assert_eq!(told.len(), 1);
    assert!(
        told[0].contains("could not check your user-group membership"),
        "{}",
        told[0]
    );
    assert_eq!(bot.slack.calls("usergroups.users.list").len(), 1);
    // Slack answers again: the same click decides.
    assert_eq!(
        bot.click(CAROL, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

/// The decision write is create-only: a decision already in the parameter (someone ran
/// `aws ssm put-parameter`, as the recipe's buttons did) wins over a later click, and the clicker
/// is told so rather than shown a decision of their own.
#[tokio::test]
async fn a_decision_written_outside_greenlight_wins_over_a_later_click() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("outside").await;
    bot.ssm
        .put_parameter()
        .name(&parameter)
        .value("approved")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("write the decision outside greenlight");
    assert_eq!(
        bot.click(ALICE, ROLLBACK_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(
        told[0].contains("resolved outside greenlight (approved outside greenlight)"),
        "{}",
        told[0]
    );
    assert!(
        decided_updates(&bot).is_empty(),
        "no card claims a decision by Alice"
    );
    // Nothing stays locked: the lock was released when the write found the decision.
    assert!(decision_lock(&bot, &gate).await.is_none());
    // The card stops offering a decision that was already taken, and says what happened.
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(!has_reroute_button(&blocks), "{text}");
    assert!(text.contains("approved outside greenlight"), "{text}");
    let (_, status) = bot.command(ALICE, "status").await;
    assert!(
        !status["text"].as_str().unwrap_or_default().contains(&gate),
        "no longer listed as open: {status}"
    );
}

/// The same race on a quorum-two gate: votes and decisions interleave, yet exactly one decision
/// is written, exactly one update closes the card, and the card ends closed. (On loopback the
/// vote redraws rarely lose the race; `a_slow_vote_redraw_does_not_reopen_a_decided_card` forces
/// the late redraw.)
#[tokio::test]
async fn concurrent_votes_on_a_quorum_gate_make_exactly_one_decision() {
    let bot = TestBot::with(quorum_two()).await;
    let (gate, parameter) = bot.open_gate("quorumrace").await;
    let clickers = [ALICE, BOB, CAROL];
    let statuses = futures_util::future::join_all(
        (0..30).map(|i| bot.click(clickers[i % clickers.len()], REROUTE_ACTION_ID, &gate)),
    )
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let lock = decision_lock(&bot, &gate).await.expect("the lock");
    let winner = lock["by"].as_str().expect("by").to_owned();
    assert_eq!(decided_updates(&bot).len(), 1, "one update closes the card");
    let (text, blocks) = card_now(&bot, &gate).await;
    assert!(!has_buttons(&blocks), "the card ends closed: {text}");
    assert!(text.contains(&format!("Rerouted by <@{winner}>")), "{text}");
}

#[tokio::test]
async fn without_approvers_a_rollback_click_is_refused_too() {
    // The policy fails closed for every action: the card keeps a Rollback button, but with
    // nobody configured nobody may press it to effect.
    let bot = TestBot::with(Options {
        approvers: "",
        ..Options::default()
    })
    .await;
    let (gate, parameter) = bot.open_gate("nobody-rollback").await;
    assert_eq!(
        bot.click(ALICE, ROLLBACK_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(told[0].contains("no approver is configured"), "{}", told[0]);
}

#[tokio::test]
async fn a_click_on_a_timed_out_gate_decides_nothing() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot
        .open_gate_due(
            "timedout",
            chrono::Utc::now() - chrono::Duration::minutes(1),
        )
        .await;
    let follow_up = serde_json::json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": format!("Gate {gate} timed out"),
            "description": "Nobody decided before the deadline: the deployment is rolled back."},
        "metadata": {"enableCustomActions": false, "additionalContext": {
            "greenlightEvent": "gate.timed_out", "gateId": gate,
            "at": chrono::Utc::now().to_rfc3339(), "timeoutAction": "ROLLBACK"}}});
    let (status, text) = bot
        .post("/sns", bot.sns_notification(&follow_up.to_string()))
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "card updated\n"));
    let (card, blocks) = card_now(&bot, &gate).await;
    assert!(
        !has_buttons(&blocks) && card.contains("Timed out"),
        "{card}"
    );

    assert_eq!(
        bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 1);
    assert!(
        told[0].contains("timed out and was rolled back"),
        "{}",
        told[0]
    );
}

/// Signed requests that are not clicks on a card: malformed ones are 400, other interaction types
/// are acknowledged; none of them changes anything.
#[tokio::test]
async fn signed_bodies_that_are_not_card_clicks_change_nothing() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("notclicks").await;
    let payload = |value: serde_json::Value| {
        serde_urlencoded::to_string([("payload", value.to_string())]).expect("form")
    };
    let cases = [
        (
            "{\"type\":\"block_actions\"}".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        ("nopayload=1".to_owned(), StatusCode::BAD_REQUEST),
        (
            payload(serde_json::json!("not an object")),
            StatusCode::BAD_REQUEST,
        ),
        (
            // A block action without a user or channel (a modal, say).
            payload(serde_json::json!({"type": "block_actions",
                "actions": [{"action_id": REROUTE_ACTION_ID, "value": gate}]})),
            StatusCode::BAD_REQUEST,
        ),
        (
            // A view submission without its view cannot be a reason form.
            payload(serde_json::json!({"type": "view_submission",
                "user": {"id": ALICE}, "channel": {"id": CHANNEL},
                "actions": [{"action_id": REROUTE_ACTION_ID, "value": gate}]})),
            StatusCode::BAD_REQUEST,
        ),
        (
            // Some other modal's submission: acknowledged, nothing done.
            payload(serde_json::json!({"type": "view_submission",
                "user": {"id": ALICE},
                "view": {"callback_id": "someone.else", "private_metadata": "",
                    "state": {"values": {}}}})),
            StatusCode::OK,
        ),
        (
            // The reason form naming no gate.
            payload(serde_json::json!({"type": "view_submission",
                "user": {"id": ALICE},
                "view": {"callback_id": "greenlight.reason", "private_metadata": "{}",
                    "state": {"values": {"reason": {"reason_input": {"value": "fine"}}}}}})),
            StatusCode::BAD_REQUEST,
        ),
        (
            payload(serde_json::json!({"type": "view_closed", "user": {"id": ALICE}})),
            StatusCode::OK,
        ),
    ];
    for (body, expected) in cases {
        let (status, text) = bot
            .request(bot.slack_request("/slack/interactions", body.clone()))
            .await;
        assert_eq!(status, expected, "{body}: {text}");
    }
    assert_eq!(bot.parameter(&parameter).await, None);
    assert!(decision_lock(&bot, &gate).await.is_none());
    let methods: Vec<String> = bot
        .slack
        .all_calls()
        .into_iter()
        .map(|c| c.method)
        .collect();
    assert_eq!(methods, ["chat.postMessage"], "only the card");
}

/// SSM answers reads but refuses the decision write (throttling, a missing permission): the
/// decision lock taken for this click is released, nothing is decided, the card keeps its
/// buttons, the clicker is told, and a later click decides.
#[tokio::test]
async fn a_failed_decision_write_releases_the_lock_and_decides_nothing() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("writefails").await;
    let failing_ssm: std::sync::Arc<dyn greenlight::ports::ParameterStore> =
        std::sync::Arc::new(crate::support::bot::FailingCreates {
            inner: bot.moto_store().await,
            failing_prefix: bot.decision_prefix.clone(),
            applied: false,
        });
    let failing_table: std::sync::Arc<dyn greenlight::store::GateTable> = std::sync::Arc::new(
        crate::support::bot::ScriptedTable::failing_locks(bot.gate_table.clone()),
    );
    let siblings = [
        (
            "the decision write",
            failing_ssm,
            bot.gate_table.clone() as _,
        ),
        ("the lock write", bot.moto_store().await, failing_table),
    ];
    for (failing, store, gates) in siblings {
        let flaky = bot.sibling_with_stores(store, gates).await;
        let body = TestBot::click_body(ALICE, CHANNEL, REROUTE_ACTION_ID, &gate);
        let (status, text) = send(&flaky, bot.slack_request("/slack/interactions", body)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(bot.parameter(&parameter).await, None, "{failing}");
        assert!(
            decision_lock(&bot, &gate).await.is_none(),
            "{failing}: the lock is not left behind"
        );
    }
    let told = ephemerals_to(&bot, ALICE);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].contains("Nothing was decided: the decision could not be written"),
        "{}",
        told[0]
    );
    assert!(
        told[1].contains("Nothing was decided: the gate store is unavailable"),
        "{}",
        told[1]
    );
    assert!(bot.slack.calls("chat.update").is_empty(), "card unchanged");
    assert_eq!(
        bot.click(BOB, REROUTE_ACTION_ID, &gate).await,
        StatusCode::OK
    );
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    let (text, _) = card_now(&bot, &gate).await;
    assert!(text.contains(&format!("Rerouted by <@{BOB}>")), "{text}");
}
