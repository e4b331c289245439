//! `POST /sns` refuses everything that is not a genuine delivery about an allowed topic, before any
//! side effect: each refusal has its documented status, and afterwards Slack has seen no call and
//! SSM holds nothing under either prefix.
//!
//! Every tampered body starts from a gate request that the bot would card, so a refusal that
//! wrongly let it through would show up as a Slack call and a gate record. Where the mutation is
//! to the envelope, the untouched original is posted afterwards and must be accepted: the mutated
//! field, and nothing else about the test, is what was refused.

use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::bot::{Options, TestBot, resign};
use crate::support::http_recorder::HttpRecorder;
use crate::support::moto::{self, ACCOUNT, REGION};
use greenlight::sns::signer::SnsSigner;
use greenlight::sns::verify::SignatureVersion;

/// A signed notification of a gate request, as JSON to tamper with.
fn signed_gate_request(bot: &TestBot) -> (String, Value) {
    let (_, message) = bot.gate_request(&moto::unique("refuse"));
    let body = bot.sns_notification(&message);
    let value = serde_json::from_str(&body).expect("the signer writes JSON");
    (body, value)
}

/// Posts `body`, expects `status` with `reason` in the plain-text answer, and checks that nothing
/// happened: no Slack call, nothing written under either prefix.
async fn assert_refused(bot: &TestBot, body: impl Into<String>, status: StatusCode, reason: &str) {
    let (got, text) = bot.post("/sns", body.into()).await;
    assert_eq!(got, status, "answer: {text}");
    assert!(
        text.contains(reason),
        "the answer {text:?} should say {reason:?}"
    );
    assert_nothing_happened(bot).await;
}

async fn assert_nothing_happened(bot: &TestBot) {
    assert!(
        bot.slack.all_calls().is_empty(),
        "no Slack call: {:?}",
        bot.slack.all_calls()
    );
    assert!(
        bot.written().await.is_empty(),
        "nothing written: {:?}",
        bot.written().await
    );
}

/// The untouched original is accepted and carded: the control for an envelope mutation.
async fn assert_original_accepted(bot: &TestBot, original: &str) {
    let (status, text) = bot.post("/sns", original.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "the original must pass: {text}");
    assert_eq!(bot.slack.calls("chat.postMessage").len(), 1);
}

/// Replaces one field of a signed body (without signing again) and expects a 403 with `reason`.
async fn refuse_with_field(field: &str, value: Value, reason: &str) {
    let bot = TestBot::start().await;
    let (original, mut body) = signed_gate_request(&bot);
    body[field] = value;
    assert_refused(&bot, body.to_string(), StatusCode::FORBIDDEN, reason).await;
    assert_original_accepted(&bot, &original).await;
}

const CERT: &str = "SimpleNotificationService-greenlight-rehearsal.pem";

#[tokio::test]
async fn a_tampered_message_fails_its_signature() {
    let bot = TestBot::start().await;
    let (original, mut body) = signed_gate_request(&bot);
    let (_, other) = bot.gate_request("someone-elses-cluster");
    body["Message"] = json!(other);
    assert_refused(
        &bot,
        body.to_string(),
        StatusCode::FORBIDDEN,
        "bad signature",
    )
    .await;
    assert_original_accepted(&bot, &original).await;
}

#[tokio::test]
async fn a_signature_that_is_not_base64_is_a_bad_signature() {
    refuse_with_field("Signature", json!("not base64 at all!"), "bad signature").await;
}

#[tokio::test]
async fn an_unknown_signature_version_is_refused() {
    refuse_with_field(
        "SignatureVersion",
        json!("3"),
        "unsupported SignatureVersion",
    )
    .await;
}

#[tokio::test]
async fn a_certificate_url_over_http_is_refused() {
    // The file name is the pinned one: only the scheme can be the reason.
    refuse_with_field(
        "SigningCertURL",
        json!(format!("http://sns.{REGION}.amazonaws.com/{CERT}")),
        "untrusted SigningCertURL: not https",
    )
    .await;
}

#[tokio::test]
async fn a_certificate_url_on_a_foreign_host_is_refused() {
    refuse_with_field(
        "SigningCertURL",
        json!(format!("https://certs.evil.example/{CERT}")),
        "untrusted SigningCertURL: host is not sns.<region>.amazonaws.com",
    )
    .await;
}

#[tokio::test]
async fn look_alike_certificate_hosts_are_refused() {
    for url in [
        format!("https://sns.{REGION}.amazonaws.com.evil.example/{CERT}"),
        format!("https://evilsns.{REGION}.amazonaws.com/{CERT}"),
        format!("https://sns.evil.amazonaws.com/{CERT}"),
        format!("https://sns.{REGION}.amazonaws.com@evil.example/{CERT}"),
    ] {
        let bot = TestBot::start().await;
        let (_, mut body) = signed_gate_request(&bot);
        body["SigningCertURL"] = json!(url);
        assert_refused(
            &bot,
            body.to_string(),
            StatusCode::FORBIDDEN,
            "untrusted SigningCertURL",
        )
        .await;
    }
}

#[tokio::test]
async fn a_certificate_url_that_is_not_a_pem_file_is_refused() {
    for path in [
        "SimpleNotificationService-greenlight-rehearsal.txt",
        "SimpleNotificationService-greenlight-rehearsal.pem/extra",
        "certs/",
    ] {
        let bot = TestBot::start().await;
        let (_, mut body) = signed_gate_request(&bot);
        body["SigningCertURL"] = json!(format!("https://sns.{REGION}.amazonaws.com/{path}"));
        assert_refused(
            &bot,
            body.to_string(),
            StatusCode::FORBIDDEN,
            "untrusted SigningCertURL: does not name a .pem file",
        )
        .await;
    }
}

#[tokio::test]
async fn a_topic_greenlight_does_not_accept_is_refused_even_when_well_signed() {
    let bot = TestBot::start().await;
    let (original, mut body) = signed_gate_request(&bot);
    let config = moto::sdk_config().await;
    let foreign = moto::create_topic(&config, &moto::unique("foreign")).await;
    body["TopicArn"] = json!(foreign);
    resign(&bot.signer, &mut body);
    let (status, text) = bot.post("/sns", body.to_string()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("topic not accepted"), "{text}");
    assert!(
        !text.contains(&foreign) && !text.contains(&bot.topic_arn),
        "the answer names no topic: {text}"
    );
    assert_nothing_happened(&bot).await;
    assert_original_accepted(&bot, &original).await;
}

#[tokio::test]
async fn a_stale_message_is_refused_as_a_replay() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("stale");
    let old = bot
        .signer
        .notification(
            &bot.topic_arn,
            &message,
            None,
            Utc::now() - TimeDelta::hours(2),
            SignatureVersion::V2Sha256,
        )
        .expect("sign");
    assert_refused(&bot, old, StatusCode::FORBIDDEN, "message too old").await;
}

#[tokio::test]
async fn a_message_from_the_future_is_refused() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("future");
    let ahead = bot
        .signer
        .notification(
            &bot.topic_arn,
            &message,
            None,
            Utc::now() + TimeDelta::minutes(30),
            SignatureVersion::V2Sha256,
        )
        .expect("sign");
    assert_refused(
        &bot,
        ahead,
        StatusCode::FORBIDDEN,
        "message timestamp in the future",
    )
    .await;
}

#[tokio::test]
async fn a_missing_field_is_malformed() {
    for field in ["Signature", "MessageId", "TopicArn", "Timestamp", "Type"] {
        let bot = TestBot::start().await;
        let (_, mut body) = signed_gate_request(&bot);
        body.as_object_mut().expect("object").remove(field);
        assert_refused(
            &bot,
            body.to_string(),
            StatusCode::BAD_REQUEST,
            "malformed SNS message",
        )
        .await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed() {
    let bot = TestBot::start().await;
    assert_refused(
        &bot,
        "Type=Notification&Message=hello",
        StatusCode::BAD_REQUEST,
        "malformed SNS message: body is not JSON",
    )
    .await;
    assert_refused(
        &bot,
        "[1, 2, 3]",
        StatusCode::BAD_REQUEST,
        "body is not a JSON object",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("big");
    let mut value: Value = serde_json::from_str(&message).expect("json");
    value["content"]["description"] = json!("x".repeat(400 * 1024));
    let body = bot.sns_notification(&value.to_string());
    assert!(body.len() > greenlight::bot::edge::extract::BODY_LIMIT);
    assert_refused(
        &bot,
        body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body is larger than",
    )
    .await;
}

/// A well-signed gate request whose decision parameter is `parameter`.
fn gate_request_for(bot: &TestBot, parameter: &str) -> String {
    let (_, message) = bot.gate_request("prefix");
    let mut value: Value = serde_json::from_str(&message).expect("json");
    value["metadata"]["additionalContext"]["parameterName"] = json!(parameter);
    // Without a gate id the bot derives one from the parameter, as for the recipe's hooks.
    value["metadata"]["additionalContext"]
        .as_object_mut()
        .expect("object")
        .remove("gateId");
    bot.sns_notification(&value.to_string())
}

#[tokio::test]
async fn a_decision_parameter_outside_the_prefix_is_refused() {
    let bot = TestBot::start().await;
    for parameter in [
        "/production/database/password".to_owned(),
        // A sibling whose name starts like the prefix is not under it.
        format!("{}-evil/web/approval", bot.decision_prefix),
        // The prefix itself is not a parameter under it.
        bot.decision_prefix.clone(),
    ] {
        assert_refused(
            &bot,
            gate_request_for(&bot, &parameter),
            StatusCode::FORBIDDEN,
            "outside GREENLIGHT_DECISION_PREFIX",
        )
        .await;
    }
}

#[tokio::test]
async fn a_decision_parameter_in_ssms_reserved_namespace_is_refused() {
    let bot = TestBot::start().await;
    for parameter in [
        "/aws/reference/secretsmanager/prod-db",
        "/ssm/approval",
        "/AWS/approval",
        "/awsx/approval",
    ] {
        assert_refused(
            &bot,
            gate_request_for(&bot, parameter),
            StatusCode::FORBIDDEN,
            "names beginning with aws or ssm are reserved",
        )
        .await;
    }
}

#[tokio::test]
async fn a_decision_parameter_that_climbs_out_of_the_prefix_is_refused() {
    let bot = TestBot::start().await;
    let parameter = format!("{}/../../production/approval", bot.decision_prefix);
    assert_refused(
        &bot,
        gate_request_for(&bot, &parameter),
        StatusCode::FORBIDDEN,
        "a level may not be . or ..",
    )
    .await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let bot = TestBot::start().await;
    let now = Utc::now();
    let expired =
        SnsSigner::valid_between(REGION, now - TimeDelta::days(30), now - TimeDelta::days(1))
            .expect("expired signer");
    let file = "SimpleNotificationService-expired0000000000000000000000.pem";
    bot.certificates
        .pin(file, expired.certificate_pem().as_bytes())
        .expect("pin the expired certificate");
    let (_, message) = bot.gate_request("expired");
    let body = expired
        .notification(
            &bot.topic_arn,
            &message,
            None,
            now,
            SignatureVersion::V2Sha256,
        )
        .expect("sign");
    let mut body: Value = serde_json::from_str(&body).expect("json");
    // SigningCertURL is not signed: pointing it at the expired certificate needs no new signature.
    body["SigningCertURL"] = json!(format!("https://sns.{REGION}.amazonaws.com/{file}"));
    assert_refused(
        &bot,
        body.to_string(),
        StatusCode::FORBIDDEN,
        "signing certificate not valid at message time",
    )
    .await;
}

#[tokio::test]
async fn a_certificate_that_signed_nothing_here_fails_the_signature() {
    // A well-formed body signed by some other key, naming the pinned certificate's URL.
    let bot = TestBot::start().await;
    let stranger = SnsSigner::new(REGION).expect("another signer");
    let (_, message) = bot.gate_request("stranger");
    let body = stranger
        .notification(
            &bot.topic_arn,
            &message,
            None,
            Utc::now(),
            SignatureVersion::V2Sha256,
        )
        .expect("sign");
    assert_refused(&bot, body, StatusCode::FORBIDDEN, "bad signature").await;
}

/// A signed `SubscriptionConfirmation` (or, with `kind`, another confirmation type) for `topic`.
fn confirmation(bot: &TestBot, topic: &str, token: &str, kind: &str) -> String {
    let body = bot
        .signer
        .subscription_confirmation(topic, token, Utc::now(), SignatureVersion::V2Sha256)
        .expect("sign");
    let mut body: Value = serde_json::from_str(&body).expect("json");
    if kind != "SubscriptionConfirmation" {
        body["Type"] = json!(kind);
        resign(&bot.signer, &mut body);
    }
    body.to_string()
}

/// moto answers `ConfirmSubscription` for any token on an existing topic, so this proves the
/// route's success path end to end, not that moto checked the token.
#[tokio::test]
async fn a_subscription_confirmation_for_the_allowed_topic_is_confirmed() {
    let bot = TestBot::start().await;
    let body = confirmation(&bot, &bot.topic_arn, "token-1", "SubscriptionConfirmation");
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, "subscription confirmed\n");
    assert_nothing_happened(&bot).await;
}

/// What the bot sends to confirm: the SNS API's `ConfirmSubscription` with the topic and the
/// token, at the SNS endpoint it is configured with (here a recorder, which answers nothing SNS
/// would, so the route then answers 503 and SNS would deliver the confirmation again).
#[tokio::test]
async fn confirmation_goes_through_the_sns_api_with_the_token() {
    let recorder = HttpRecorder::start().await;
    let bot = TestBot::with(Options {
        sns_endpoint: Some(recorder.url.trim_end_matches('/').to_owned()),
        ..Options::default()
    })
    .await;
    let body = confirmation(
        &bot,
        &bot.topic_arn,
        "token-from-sns-42",
        "SubscriptionConfirmation",
    );
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(
        text.contains("could not confirm the subscription"),
        "{text}"
    );
    let calls = recorder.bodies();
    assert_eq!(calls.len(), 1, "one API call: {calls:?}");
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&calls[0]).expect("a query form");
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(field("Action"), Some("ConfirmSubscription"));
    assert_eq!(field("TopicArn"), Some(bot.topic_arn.as_str()));
    assert_eq!(field("Token"), Some("token-from-sns-42"));
    assert_nothing_happened(&bot).await;
}

/// A confirmation SNS itself rejects (here: the topic no longer exists at the SNS endpoint) is
/// answered 503, so that SNS delivers it again rather than leaving the subscription pending.
#[tokio::test]
async fn a_confirmation_the_sns_api_rejects_is_answered_503() {
    let bot = TestBot::start().await;
    let config = moto::sdk_config().await;
    aws_sdk_sns::Client::new(&config)
        .delete_topic()
        .topic_arn(&bot.topic_arn)
        .send()
        .await
        .expect("delete the topic on moto");
    let body = confirmation(&bot, &bot.topic_arn, "token-2", "SubscriptionConfirmation");
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(
        text.contains("could not confirm the subscription"),
        "{text}"
    );
    assert_nothing_happened(&bot).await;
}

#[tokio::test]
async fn a_confirmation_for_another_topic_is_refused_without_any_call() {
    let recorder = HttpRecorder::start().await;
    let bot = TestBot::with(Options {
        sns_endpoint: Some(recorder.url.trim_end_matches('/').to_owned()),
        ..Options::default()
    })
    .await;
    let other = format!("arn:aws:sns:{REGION}:{ACCOUNT}:someone-elses-topic");
    let body = confirmation(&bot, &other, "token-3", "SubscriptionConfirmation");
    assert_refused(&bot, body, StatusCode::FORBIDDEN, "topic not accepted").await;
    assert!(recorder.bodies().is_empty(), "no SNS API call");
}

#[tokio::test]
async fn an_unsubscribe_confirmation_is_acknowledged_and_nothing_else() {
    let recorder = HttpRecorder::start().await;
    let bot = TestBot::with(Options {
        sns_endpoint: Some(recorder.url.trim_end_matches('/').to_owned()),
        ..Options::default()
    })
    .await;
    let body = confirmation(&bot, &bot.topic_arn, "token-4", "UnsubscribeConfirmation");
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, "unsubscribe noted\n");
    assert!(recorder.bodies().is_empty(), "nothing confirmed");
    assert_nothing_happened(&bot).await;
}

/// Slack down when the card is due: the gate stays recorded without a card and the delivery is
/// answered 503, so that SNS delivers it again; the redelivery then posts exactly one card.
#[tokio::test]
async fn slack_down_asks_sns_to_deliver_again_and_the_redelivery_cards_once() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("slackdown");
    let body = bot.sns_notification(&message);
    bot.slack.fail_next(
        "chat.postMessage",
        crate::support::slack_double::Failure::Status(503),
        1,
    );
    let (status, text) = bot.post("/sns", body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("deliver again"), "{text}");
    let gate = serde_json::from_str::<serde_json::Value>(&message).unwrap()["metadata"]
        ["additionalContext"]["gateId"]
        .as_str()
        .unwrap()
        .to_owned();
    let record = bot.gate_record(&gate).await.expect("still recorded");
    assert!(record.get("card").is_none(), "without a card: {record}");
    let (status, text) = bot.post("/sns", body).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "card posted\n"));
    assert_eq!(
        bot.slack.calls("chat.postMessage").len(),
        2,
        "one failed, one card"
    );
    assert_eq!(bot.slack.calls("chat.update").len(), 0);
}

/// A Slack refusal that no retry of SNS's fixes (the bot is not in the channel) is answered 200 so
/// SNS stops retrying; the gate stays recorded without a card, and the next delivery of its
/// request (the hook re-publishes until its gate is carded) posts it once the bot is invited.
#[tokio::test]
async fn a_permanent_slack_refusal_is_not_retried_and_the_next_delivery_cards_the_gate() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("notinchannel");
    bot.slack.fail_next(
        "chat.postMessage",
        crate::support::slack_double::Failure::Error("not_in_channel".to_owned()),
        1,
    );
    let (status, text) = bot.post("/sns", bot.sns_notification(&message)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("not_in_channel"), "{text}");
    let (status, text) = bot.post("/sns", bot.sns_notification(&message)).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "card posted\n"));
    assert_eq!(bot.slack.calls("chat.postMessage").len(), 2);
}
