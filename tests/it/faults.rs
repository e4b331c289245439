//! Faults, each through the real protocols: Slack slow, rate-limiting or failing while a person
//! decides (the answer never waits for Slack's drawing; the card is eventually right), SNS
//! delivering one notification ten times at once, and a storm of 200 deployments.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::Value;

use crate::support::bot::{ALICE, TestBot};
use crate::support::moto;
use crate::support::slack_double::Failure;
use greenlight::card::REROUTE_ACTION_ID;

/// The card of `gate` as it stands at the Slack double, as JSON text.
async fn card(bot: &TestBot, gate: &str) -> String {
    let record = bot.gate_record(gate).await.expect("gate");
    let channel = record["card"]["channel"].as_str().expect("carded");
    let ts = record["card"]["ts"].as_str().expect("ts");
    bot.slack
        .message(channel, ts)
        .expect("card")
        .blocks
        .to_string()
}

/// Waits (up to 20 s) until `done` holds.
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_click_is_answered_before_a_slow_slack_has_redrawn_the_card() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate(&moto::unique("slow-slack")).await;
    // Slack takes 5 s for the next drawing calls: the card's redraw and the thread note (the
    // client gives up on each after its attempt timeout, which adds up past the budget).
    bot.slack
        .fail_next("chat.update", Failure::Delay(Duration::from_secs(5)), 1);
    bot.slack.fail_next(
        "chat.postMessage",
        Failure::Delay(Duration::from_secs(5)),
        1,
    );

    let status = bot.click(ALICE, REROUTE_ACTION_ID, &gate).await;
    assert_eq!(status, StatusCode::OK);
    // Answered while the redraw was still on its way: the decision is in, the card not yet.
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    assert!(
        card(&bot, &gate).await.contains(REROUTE_ACTION_ID),
        "not redrawn yet"
    );
    // The gate is marked for the sweep in case the redraw never lands.
    assert!(
        eventually(async || bot.gate_record(&gate).await.unwrap()["cardStaleSince"].is_string())
            .await
    );

    // Eventually right: the redraw that gave up left the card stale; the sweep's pass draws it.
    let report = bot.bot.sweep(Utc::now()).await.unwrap();
    assert_eq!(report.redrawn, 1);
    assert!(card(&bot, &gate).await.contains("Rerouted by"));
    let record = bot.gate_record(&gate).await.unwrap();
    assert!(record.get("cardStaleSince").is_none(), "cleared: {record}");
    assert_eq!(bot.bot.sweep(Utc::now()).await.unwrap().redrawn, 0);
}

#[tokio::test]
async fn a_card_slack_refused_to_redraw_is_redrawn_by_the_sweep() {
    for failure in [
        Failure::RateLimited {
            retry_after_secs: 30,
        },
        Failure::Status(500),
    ] {
        let bot = TestBot::start().await;
        let (gate, parameter) = bot.open_gate(&moto::unique("refused-redraw")).await;
        bot.slack.fail_next("chat.update", failure.clone(), 5);
        assert_eq!(
            bot.click(ALICE, REROUTE_ACTION_ID, &gate).await,
            StatusCode::OK
        );
        assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
        assert!(
            card(&bot, &gate).await.contains(REROUTE_ACTION_ID),
            "{failure:?}"
        );
        let record = bot.gate_record(&gate).await.unwrap();
        assert!(
            record["cardStaleSince"].is_string(),
            "{failure:?}: {record}"
        );
        assert_eq!(record["status"]["state"], "decided");

        // Once Slack answers again (the refusals queued above run out), a sweep pass draws the
        // decided card.
        let mut report = bot.bot.sweep(Utc::now()).await.unwrap();
        // The double may still hold refusals queued above; a pass later it is through.
        for _ in 0..5 {
            if report.redrawn == 1 {
                break;
            }
            report = bot.bot.sweep(Utc::now()).await.unwrap();
        }
        assert_eq!(report.redrawn, 1, "{failure:?}");
        assert!(
            card(&bot, &gate).await.contains("Rerouted by"),
            "{failure:?}"
        );
        assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    }
}

#[tokio::test]
async fn a_command_is_answered_in_time_and_its_outcome_follows() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate(&moto::unique("slow-cmd")).await;
    // The card's redraw and the thread note go out together, so each must outlast the budget on
    // its own: a 429 asking for 2 s, then no answer within the 2 s attempt timeout.
    for method in ["chat.update", "chat.postMessage"] {
        bot.slack.fail_next(
            method,
            Failure::RateLimited {
                retry_after_secs: 2,
            },
            1,
        );
        bot.slack
            .fail_next(method, Failure::Delay(Duration::from_secs(5)), 1);
    }
    let (status, answer) = bot.command(ALICE, &format!("approve {gate}")).await;
    assert_eq!(status, StatusCode::OK);
    let text = answer["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains("Still working on it"), "{text}");
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
    // The outcome reaches the person as an ephemeral message once the command is done.
    assert!(
        eventually(async || bot
            .slack
            .ephemeral_texts()
            .iter()
            .any(|told| told.contains("You approved")))
        .await
    );
}

#[tokio::test]
async fn ten_deliveries_of_one_notification_at_once_make_one_card() {
    let bot = TestBot::start().await;
    let (gate, message) = bot.gate_request(&moto::unique("tenfold"));
    let body = bot.sns_notification(&message);
    let deliveries = (0..10).map(|_| bot.post("/sns", body.clone()));
    let answers = futures_util::future::join_all(deliveries).await;
    for (status, text) in &answers {
        // A delivery that found another posting the card is asked to come again (503); SNS
        // redelivers. None is refused, none fails.
        assert!(
            *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}: {text}"
        );
    }
    let cards: Vec<Value> = bot
        .slack
        .calls("chat.postMessage")
        .into_iter()
        .map(|call| call.body)
        .filter(|body| body["thread_ts"].is_null())
        .collect();
    assert_eq!(cards.len(), 1, "one card for ten deliveries");
    assert!(bot.gate_record(&gate).await.unwrap()["card"].is_object());
}

/// The storm: 200 deployments' gate requests at once. Every one gets its card, exactly one, and
/// no delivery fails (a 503 asks SNS to deliver again; the retry finds the card there).
/// The same storm as Slack meets it in one channel: `chat.postMessage` answers 429 past about one
/// message a second (after a burst). A card Slack refused is not lost: the delivery is answered
/// 503, SNS delivers it again, and every gate ends with exactly one card.
#[tokio::test]
async fn a_storm_into_one_rate_limited_channel_ends_with_every_card_once() {
    let bot = TestBot::start().await;
    bot.slack.limit_posts(1.0, 4.0);
    let run = moto::unique("limited");
    let requests: Vec<(String, String)> = (0..16)
        .map(|i| bot.gate_request(&format!("{run}-{i}")))
        .collect();
    let mut waiting: Vec<&(String, String)> = requests.iter().collect();
    for _round in 0..60 {
        let deliveries = waiting
            .iter()
            .map(|(_, message)| bot.post("/sns", bot.sns_notification(message)));
        let answers = futures_util::future::join_all(deliveries).await;
        let mut again = Vec::new();
        for (request, (status, text)) in waiting.iter().zip(answers) {
            match status {
                StatusCode::OK => {}
                // What SNS retries; anything else is a refusal it would not.
                StatusCode::SERVICE_UNAVAILABLE => again.push(*request),
                other => panic!("{other}: {text}"),
            }
        }
        waiting = again;
        if waiting.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(waiting.is_empty(), "{} gates never carded", waiting.len());
    assert!(bot.slack.posts_rate_limited() > 0, "Slack's limit was met");
    let cards = bot
        .slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|call| call.body["thread_ts"].is_null())
        .count();
    // Refused posts are recorded calls too: count the cards Slack kept.
    let kept = bot
        .slack
        .messages()
        .iter()
        .filter(|message| message.thread_ts.is_none())
        .count();
    assert_eq!(kept, 16, "{cards} calls, {kept} cards");
    for (gate, _) in &requests {
        let record = bot.gate_record(gate).await.expect("recorded");
        assert!(record["card"].is_object(), "{gate} carded");
    }
}

#[tokio::test]
async fn two_hundred_gate_requests_at_once_make_two_hundred_cards() {
    let bot = TestBot::start().await;
    let run = moto::unique("storm");
    let requests: Vec<(String, String)> = (0..200)
        .map(|i| bot.gate_request(&format!("{run}-{i}")))
        .collect();
    let started = std::time::Instant::now();
    let deliveries = requests
        .iter()
        .map(|(_, message)| bot.post("/sns", bot.sns_notification(message)));
    let answers = futures_util::future::join_all(deliveries).await;
    // SNS's retry of whatever was asked to come again.
    for ((_, message), (status, _)) in requests.iter().zip(&answers) {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            let (again, text) = bot.post("/sns", bot.sns_notification(message)).await;
            assert_eq!(again, StatusCode::OK, "{text}");
        }
    }
    eprintln!(
        "storm: 200 gate requests → 200 cards in {:.2} s ({} answered 503 first)",
        started.elapsed().as_secs_f64(),
        answers
            .iter()
            .filter(|(status, _)| *status != StatusCode::OK)
            .count()
    );
    let cards = bot
        .slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|call| call.body["thread_ts"].is_null())
        .count();
    assert_eq!(cards, 200);
    for (gate, _) in &requests {
        let record = bot.gate_record(gate).await.expect("recorded");
        assert!(record["card"].is_object(), "{gate} carded");
    }
    assert!(bot.slack.refused_blocks().is_empty());
}
