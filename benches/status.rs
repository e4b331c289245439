//! `/deploy status` from the signed request entering the bot's router to its answer, with the gate
//! table at moto (DynamoDB through the real AWS SDK adapter) and Slack at the in-process double.
//!
//! Timed twice on the same bot: with 3 open gates in the deploy channel and nothing else, then
//! after 5,000 closed gates were written into the table (a year of a busy team's history). The
//! open gates come from a sparse index, so both figures should be the same; the bench also prints
//! how many items DynamoDB read per command, from the adapter's own count.
//!
//! moto: `GREENLIGHT_TEST_MOTO_URL` must name a running moto server (`scripts/bench` starts one).
//! `GREENLIGHT_BENCH_STATUS` (default 500, at least 100) sets the count per figure.

#[path = "../tests/it/support/mod.rs"]
mod support;

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::{Summary, count_from_env, header, report};
use support::bot::{ALICE, Options, TestBot};
use support::history::write_history;

const WARM_UP: usize = 20;

/// Runs `/deploy status` `count` times after a warm-up; returns the times and the items read per
/// command.
async fn status_runs(bot: &TestBot, count: usize, open: usize) -> (Vec<Duration>, u64) {
    let mut sample = Vec::with_capacity(count);
    let before = bot.gate_table.items_read();
    for round in 0..WARM_UP + count {
        let request = bot.slack_request("/slack/commands", TestBot::command_body(ALICE, "status"));
        let started = Instant::now();
        let response = bot.app.clone().oneshot(request).await.expect("router");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let took = started.elapsed();
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains(&format!("*{open} open gates*")),
            "the answer lists the open gates: {text}"
        );
        if round >= WARM_UP {
            sample.push(took);
        }
    }
    let per_command = (bot.gate_table.items_read() - before) / (WARM_UP + count) as u64;
    (sample, per_command)
}

async fn run(count: usize) {
    let bot = TestBot::with(Options {
        direct_dynamodb: true,
        ..Options::default()
    })
    .await;
    write_history(&bot, 0, 3).await;
    let (empty, read_empty) = status_runs(&bot, count, 3).await;
    let started = Instant::now();
    write_history(&bot, 5000, 0).await;
    let written = started.elapsed();
    let (full, read_full) = status_runs(&bot, count, 3).await;

    header(&format!(
        "/deploy status through the bot's router, the gate table at moto ({count} commands per row, after {WARM_UP} untimed)"
    ));
    report(
        &format!("3 open gates, no closed gate ({read_empty} items read per command)"),
        &Summary::of(&empty),
    );
    report(
        &format!("3 open gates, 5,000 closed gates ({read_full} items read per command)"),
        &Summary::of(&full),
    );
    println!();
    println!(
        "Writing the 5,000 closed gates (BatchWriteItem, untimed above) took {:.1} s.",
        written.as_secs_f64()
    );
}

fn main() {
    common::self_check();
    let count = count_from_env("GREENLIGHT_BENCH_STATUS", 500, 100);
    assert!(
        std::env::var_os("GREENLIGHT_TEST_MOTO_URL").is_some(),
        "GREENLIGHT_TEST_MOTO_URL is not set: run scripts/bench, which starts moto"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(count));
}
