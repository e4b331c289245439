//! A signed click on a card's Reroute button, from the request entering the bot's router to its
//! 200, with the gate table (DynamoDB) and SSM at moto and Slack at the in-process double (all
//! over loopback HTTP, through the real AWS SDK and Slack adapters). Slack wants the 200 within
//! 3 seconds.
//!
//! Every timed click decides a gate of its own: a fresh gate is opened first through a signed
//! `/sns` gate request (not timed), so each click runs the whole decision: the Slack signature,
//! the gate read (`GetItem`), the policy, the decision lock (a `TransactWriteItems` with a check
//! that the gate is open), the decision parameter (create-only `PutParameter`), the versioned
//! close (`GetItem`, conditional `UpdateItem`), `chat.update` of the card and the note in its
//! thread. The result of every click is
//! checked (the decision parameter reads `approved`) outside the timed span, and so are the totals
//! of Slack calls at the end.
//!
//! A second figure times clicks by someone who is not an approver, on one open gate: the refusal
//! path (signature, record read, policy with a cached user-group lookup, an ephemeral answer).
//!
//! moto: `GREENLIGHT_TEST_MOTO_URL` when set (`scripts/bench` starts one); otherwise this bench
//! starts `.venv/bin/moto_server` on a free loopback port itself and stops it at the end.
//! `GREENLIGHT_BENCH_CLICKS` (default 1000, at least 1000) and `GREENLIGHT_BENCH_REFUSALS`
//! (default 200) set the counts.

#[path = "../tests/it/support/mod.rs"]
mod support;

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use greenlight::card::REROUTE_ACTION_ID;
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::{Summary, count_from_env, header, human, report};
use support::bot::{ALICE, CHANNEL, MALLORY, Options, TestBot};
use support::moto;

const WARM_UP: usize = 20;

/// A moto server this bench started, stopped when dropped.
struct OwnMoto(Child);

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes sure `GREENLIGHT_TEST_MOTO_URL` names a running moto, starting one if need be.
fn ensure_moto() -> Option<OwnMoto> {
    if std::env::var_os("GREENLIGHT_TEST_MOTO_URL").is_some() {
        return None;
    }
    let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        server.is_file(),
        "GREENLIGHT_TEST_MOTO_URL is not set and {} does not exist: run scripts/bench, which installs and starts moto",
        server.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let own = OwnMoto(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start on {url}");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("click bench: started moto on {url}");
    // SAFETY: called from `main` before the runtime or any other thread exists.
    unsafe { std::env::set_var("GREENLIGHT_TEST_MOTO_URL", &url) };
    Some(own)
}

/// Sends one request through the router and returns its status and how long it took.
async fn timed(
    bot: &TestBot,
    request: axum::http::Request<axum::body::Body>,
) -> (StatusCode, Duration) {
    let started = Instant::now();
    let response = bot.app.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let _body = response.into_body().collect().await.expect("body");
    (status, started.elapsed())
}

/// Opens a fresh gate through `/sns` and clicks Reroute on it as an approver.
async fn open_and_click(bot: &TestBot) -> (Duration, Duration) {
    let cluster = moto::unique("click");
    let (gate, message) = bot.gate_request(&cluster);
    let notification = bot.sns_notification(&message);
    let (status, opened) = timed(
        bot,
        axum::http::Request::post("/sns")
            .body(notification.into())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the gate opens");
    let parameter = format!(
        "{}/{cluster}/web/dep1/POST_TEST_TRAFFIC_SHIFT",
        bot.decision_prefix
    );
    // Signed now, as Slack signs a click just before sending it; not part of the bot's time.
    let click = bot.slack_request(
        "/slack/interactions",
        TestBot::click_body(ALICE, CHANNEL, REROUTE_ACTION_ID, &gate),
    );
    let (status, clicked) = timed(bot, click).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bot.parameter(&parameter).await.as_deref(),
        Some("approved"),
        "the click decided gate {gate}"
    );
    (opened, clicked)
}

/// A bot on a fresh gate table of its own. moto runs a transaction by deep-copying the whole table
/// once per item of the transaction (its rollback copy), and a query by going through every item
/// in Python; DynamoDB's latency does not depend on the table's size. A click's decision lock is
/// a two-item transaction, so on a table of 300 items moto spends about 15 ms more on it than on
/// a table of 10 (docs/benchmarks.md, "moto's transactions and the table's size"). The clicks are
/// therefore taken in batches of [`BATCH`] on fresh tables, lest the bench time moto's copy
/// instead of greenlight.
async fn fresh_bot() -> TestBot {
    TestBot::with(Options {
        direct_dynamodb: true,
        ..Options::default()
    })
    .await
}

/// Clicks per bot (and so per table: at most about 60 items, a few gates' worth in a real table,
/// where the size does not matter).
const BATCH: usize = 20;

async fn run(clicks: usize, refusals: usize) {
    let mut opens = Vec::with_capacity(clicks);
    let mut sample = Vec::with_capacity(clicks);
    let mut bot = fresh_bot().await;
    for _ in 0..WARM_UP {
        open_and_click(&bot).await;
    }
    let mut decided = WARM_UP;
    for click in 0..clicks {
        if click > 0 && click % BATCH == 0 {
            check_slack_calls(&bot, decided);
            bot = fresh_bot().await;
            decided = 0;
        }
        let (opened, clicked) = open_and_click(&bot).await;
        opens.push(opened);
        sample.push(clicked);
        decided += 1;
    }
    check_slack_calls(&bot, decided);

    // Refusals: someone outside the policy clicks on one open gate, again and again.
    let cluster = moto::unique("refused");
    let (gate, parameter) = bot.open_gate(&cluster).await;
    let mut refused = Vec::with_capacity(refusals);
    for round in 0..WARM_UP + refusals {
        let click = bot.slack_request(
            "/slack/interactions",
            TestBot::click_body(MALLORY, CHANNEL, REROUTE_ACTION_ID, &gate),
        );
        let (status, took) = timed(&bot, click).await;
        assert_eq!(status, StatusCode::OK, "Slack gets its 200 either way");
        if round >= WARM_UP {
            refused.push(took);
        }
    }
    assert_eq!(bot.parameter(&parameter).await, None, "nothing was decided");
    assert_eq!(bot.slack.ephemerals().len(), WARM_UP + refusals);

    header(&format!(
        "A signed click through the bot's router (app.oneshot), the gate table and SSM at moto, Slack at the double ({clicks} clicks in batches of {BATCH} on fresh tables, after {WARM_UP} untimed)"
    ));
    report(
        "Reroute click by an approver: decides a fresh gate (lock, parameter, record, chat.update, thread note)",
        &Summary::of(&sample),
    );
    report(
        "click by a non-approver: refused (record read, policy, ephemeral)",
        &Summary::of(&refused),
    );
    report(
        "for reference: the signed gate request on /sns that opened each gate (verify, record, card)",
        &Summary::of(&opens),
    );
    let tenth = clicks / 10;
    println!();
    println!(
        "Drift: median of the first {tenth} clicks {}, of the last {tenth} clicks {}.",
        human(Summary::of(&sample[..tenth]).median),
        human(Summary::of(&sample[clicks - tenth..]).median),
    );
}

/// Every click decided its gate: one card update and one thread note each, no refusal.
fn check_slack_calls(bot: &TestBot, decided: usize) {
    assert_eq!(
        bot.slack.calls("chat.update").len(),
        decided,
        "one card update per click"
    );
    let thread_notes = bot
        .slack
        .calls("chat.postMessage")
        .iter()
        .filter(|call| call.body.get("thread_ts").is_some())
        .count();
    assert_eq!(thread_notes, decided, "one thread note per click");
    assert!(bot.slack.ephemerals().is_empty(), "no click was refused");
}

fn main() {
    common::self_check();
    let clicks = count_from_env("GREENLIGHT_BENCH_CLICKS", 1000, 1000);
    let refusals = count_from_env("GREENLIGHT_BENCH_REFUSALS", 200, 1);
    let _moto = ensure_moto();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(clicks, refusals));
}
