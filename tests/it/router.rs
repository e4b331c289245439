//! The router itself: routes, methods, the body limit, Slack's request signature on both Slack
//! routes, and Lambda function URL events reaching the same router.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::bot::{ALICE, CHANNEL, MALLORY, SIGNING_SECRET, TestBot};
use greenlight::bot::edge::extract::BODY_LIMIT;
use greenlight::slack::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers};

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Sends a request and returns status, content type and body text.
async fn call(bot: &TestBot, request: Request<Body>) -> (StatusCode, String, String) {
    let response = bot.app.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let kind = content_type(response.headers());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, kind, String::from_utf8_lossy(&body).into_owned())
}

/// A short, one-line, plain-text reason.
fn assert_plain_reason(kind: &str, text: &str, contains: &str) {
    assert!(kind.starts_with("text/plain"), "content type {kind:?}");
    assert!(text.contains(contains), "{text:?} should say {contains:?}");
    assert!(text.len() < 120, "short: {text:?}");
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
}

#[tokio::test]
async fn healthz_answers_ok() {
    let bot = TestBot::start().await;
    let (status, _, text) = call(
        &bot,
        Request::get("/healthz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "ok\n");
    assert!(bot.slack.all_calls().is_empty());
}

#[tokio::test]
async fn an_unknown_path_is_404_with_a_reason() {
    let bot = TestBot::start().await;
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/slack"),
        ("POST", "/sns/extra"),
        ("GET", "/admin"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let (status, kind, text) = call(&bot, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_plain_reason(&kind, &text, "no such route");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_a_reason() {
    let bot = TestBot::start().await;
    for (method, path) in [
        ("GET", "/sns"),
        ("PUT", "/sns"),
        ("GET", "/slack/interactions"),
        ("DELETE", "/slack/commands"),
        ("POST", "/healthz"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let (status, kind, text) = call(&bot, request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_plain_reason(&kind, &text, "method not allowed");
    }
    assert!(bot.slack.all_calls().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_on_every_post_route() {
    let bot = TestBot::start().await;
    let big = "a".repeat(BODY_LIMIT + 1);
    for path in ["/sns", "/slack/interactions", "/slack/commands"] {
        // Signed like Slack, so that only the size can be the reason on the Slack routes.
        let mut request = Request::post(path)
            .body(Body::from(big.clone()))
            .expect("request");
        request
            .headers_mut()
            .extend(signed_headers(SIGNING_SECRET, Utc::now(), big.as_bytes()));
        let (status, kind, text) = call(&bot, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {text}");
        assert_plain_reason(&kind, &text, "request body is larger than");
    }
    // Exactly at the limit the body is read (and then refused for what it is, not its size).
    let (status, _) = bot.post("/sns", "a".repeat(BODY_LIMIT)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bot.slack.all_calls().is_empty());
    assert!(bot.written().await.is_empty());
}

/// A request to `path` with `body`, carrying exactly `headers`.
fn with_headers(path: &str, body: &str, headers: HeaderMap) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request");
    request.headers_mut().extend(headers);
    request
}

/// The ways a Slack request can be forged or replayed, each as (name, request).
fn forgeries(path: &str, genuine: &str, signed_for: &str) -> Vec<(&'static str, Request<Body>)> {
    let now = Utc::now();
    let mut cases = vec![
        ("unsigned", with_headers(path, genuine, HeaderMap::new())),
        (
            // Signed for another body (Mallory's), sent with Alice's.
            "tampered body",
            with_headers(
                path,
                genuine,
                signed_headers(SIGNING_SECRET, now, signed_for.as_bytes()),
            ),
        ),
        (
            "wrong secret",
            with_headers(
                path,
                genuine,
                signed_headers("not-the-signing-secret", now, genuine.as_bytes()),
            ),
        ),
        (
            "replayed",
            with_headers(
                path,
                genuine,
                signed_headers(
                    SIGNING_SECRET,
                    now - TimeDelta::minutes(6),
                    genuine.as_bytes(),
                ),
            ),
        ),
        (
            "future-dated",
            with_headers(
                path,
                genuine,
                signed_headers(
                    SIGNING_SECRET,
                    now + TimeDelta::minutes(6),
                    genuine.as_bytes(),
                ),
            ),
        ),
    ];
    // A valid signature whose timestamp header was changed afterwards.
    let mut moved = signed_headers(SIGNING_SECRET, now, genuine.as_bytes());
    moved.insert(
        TIMESTAMP_HEADER,
        (now.timestamp() - 1).to_string().parse().expect("header"),
    );
    cases.push(("timestamp changed", with_headers(path, genuine, moved)));
    let mut signature_only = signed_headers(SIGNING_SECRET, now, genuine.as_bytes());
    signature_only.remove(TIMESTAMP_HEADER);
    cases.push(("no timestamp", with_headers(path, genuine, signature_only)));
    let mut timestamp_only = signed_headers(SIGNING_SECRET, now, genuine.as_bytes());
    timestamp_only.remove(SIGNATURE_HEADER);
    cases.push(("no signature", with_headers(path, genuine, timestamp_only)));
    cases
}

/// Every forgery of a request that would decide the gate is refused with 401, the decision
/// parameter stays absent and Slack hears nothing beyond the card; the genuine request then
/// decides the gate, so the forgeries failed for their signatures alone.
async fn forged_requests_are_refused(path: &str) {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("forged").await;
    let (genuine, signed_for) = if path == "/slack/interactions" {
        (
            TestBot::click_body(ALICE, CHANNEL, "greenlight.reroute", &gate),
            TestBot::click_body(MALLORY, CHANNEL, "greenlight.reroute", &gate),
        )
    } else {
        (
            TestBot::command_body(ALICE, &format!("approve {gate}")),
            TestBot::command_body(MALLORY, &format!("approve {gate}")),
        )
    };
    for (name, request) in forgeries(path, &genuine, &signed_for) {
        let (status, kind, text) = call(&bot, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {name}: {text}");
        assert!(kind.starts_with("text/plain"), "{path} {name}: {kind}");
        assert!(!text.trim().is_empty(), "{path} {name}: a reason");
        assert_eq!(bot.parameter(&parameter).await, None, "{path} {name}");
        let calls: Vec<String> = bot
            .slack
            .all_calls()
            .into_iter()
            .map(|c| c.method)
            .collect();
        assert_eq!(calls, ["chat.postMessage"], "{path} {name}: only the card");
    }
    let (status, text) = bot.request(bot.slack_request(path, genuine)).await;
    assert_eq!(status, StatusCode::OK, "{path} genuine: {text}");
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}

#[tokio::test]
async fn forged_clicks_are_refused_with_401() {
    forged_requests_are_refused("/slack/interactions").await;
}

#[tokio::test]
async fn forged_commands_are_refused_with_401() {
    forged_requests_are_refused("/slack/commands").await;
}

/// A Lambda function URL event (payload format 2.0), as the Lambda runtime hands it over.
fn function_url_event(
    method: &str,
    path: &str,
    headers: Value,
    body: Option<&[u8]>,
    base64: bool,
) -> String {
    let mut all_headers = json!({
        "host": "abcdefghijklmnop.lambda-url.us-east-1.on.aws",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "x-forwarded-for": "203.0.113.9",
        "x-amzn-trace-id": "Root=1-6650f2a1-0123456789abcdef01234567",
    });
    if let (Value::Object(all), Value::Object(extra)) = (&mut all_headers, headers) {
        all.extend(extra);
    }
    let body = body.map(|bytes| {
        if base64 {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        }
    });
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnop",
            "domainName": "abcdefghijklmnop.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnop",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "Amazon Simple Notification Service Agent"
            },
            "requestId": "0c2f3a6e-1d1b-4f6e-9a55-0b7c1d2e3f40",
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795687200000u64
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}

/// Converts the event as `lambda_http` does and sends it through the router.
async fn through_function_url(bot: &TestBot, event: &str) -> (StatusCode, String) {
    let request = lambda_http::request::from_str(event).expect("a function URL event");
    let response = bot.app.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_function_url_event_for_healthz_reaches_the_router() {
    let bot = TestBot::start().await;
    let event = function_url_event("GET", "/healthz", json!({}), None, false);
    assert_eq!(
        through_function_url(&bot, &event).await,
        (StatusCode::OK, "ok\n".to_owned())
    );
    let event = function_url_event("GET", "/nowhere", json!({}), None, false);
    assert_eq!(
        through_function_url(&bot, &event).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_signed_sns_delivery_as_a_function_url_event_posts_the_card() {
    let bot = TestBot::start().await;
    let (_, message) = bot.gate_request("lambda");
    let body = bot.sns_notification(&message);
    // SNS posts `text/plain`; a function URL hands such a body over base64-encoded.
    let headers = json!({
        "content-type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "Notification",
    });
    let event = function_url_event("POST", "/sns", headers.clone(), Some(body.as_bytes()), true);
    let (status, text) = through_function_url(&bot, &event).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, "card posted\n");
    assert_eq!(bot.slack.calls("chat.postMessage").len(), 1);

    // The same conversion of a tampered delivery is refused, with nothing posted.
    let mut tampered: Value = serde_json::from_str(&bot.sns_notification(&message)).expect("json");
    tampered["Message"] = json!("Approve everything");
    let event = function_url_event(
        "POST",
        "/sns",
        headers,
        Some(tampered.to_string().as_bytes()),
        false,
    );
    let (status, text) = through_function_url(&bot, &event).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert_eq!(bot.slack.calls("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn a_signed_click_as_a_function_url_event_decides_the_gate() {
    let bot = TestBot::start().await;
    let (gate, parameter) = bot.open_gate("lambda-click").await;
    let body = TestBot::click_body(ALICE, CHANNEL, "greenlight.reroute", &gate);
    let signed = signed_headers(SIGNING_SECRET, Utc::now(), body.as_bytes());
    let mut headers = json!({"content-type": "application/x-www-form-urlencoded"});
    for (name, value) in &signed {
        headers[name.as_str()] = json!(value.to_str().expect("ascii"));
    }
    // The signature covers the raw bytes; they must survive the base64 round trip unchanged.
    let event = function_url_event(
        "POST",
        "/slack/interactions",
        headers,
        Some(body.as_bytes()),
        true,
    );
    let (status, text) = through_function_url(&bot, &event).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(bot.parameter(&parameter).await.as_deref(), Some("approved"));
}
