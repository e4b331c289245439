//! What every bench shares: summary statistics of a sample of durations, and the one line format
//! each bench prints its figures in (`scripts/bench` collects those lines into a table).
//!
//! Percentiles are nearest-rank on the sorted sample, never interpolated: the p99 of 1000 clicks
//! is the 990th fastest click, a duration that really happened.
#![allow(dead_code)]

use std::time::Duration;

/// A sample of durations, summarised.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub min: Duration,
    pub median: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

/// The value at `percent` by nearest rank: the smallest sample such that at least `percent` of
/// the sample is at or below it.
fn nearest_rank(sorted: &[Duration], percent: f64) -> Duration {
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Summarises `sample`. Panics on an empty sample: a bench that measured nothing is broken.
    pub fn of(sample: &[Duration]) -> Summary {
        assert!(!sample.is_empty(), "an empty sample has no summary");
        let mut sorted = sample.to_vec();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        Summary {
            count: sorted.len(),
            min: sorted[0],
            median: nearest_rank(&sorted, 50.0),
            p90: nearest_rank(&sorted, 90.0),
            p99: nearest_rank(&sorted, 99.0),
            max: sorted[sorted.len() - 1],
            mean: total / u32::try_from(sorted.len()).unwrap_or(u32::MAX),
        }
    }
}

/// A duration in the unit that suits it, to three significant figures (rounded to nearest):
/// 41.7 µs, 3.08 ms, 1.25 s.
pub fn human(duration: Duration) -> String {
    let nanos = duration.as_nanos() as f64;
    let (value, unit) = if nanos < 1_000.0 {
        (nanos, "ns")
    } else if nanos < 1_000_000.0 {
        (nanos / 1_000.0, "µs")
    } else if nanos < 1_000_000_000.0 {
        (nanos / 1_000_000.0, "ms")
    } else {
        (nanos / 1_000_000_000.0, "s")
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// Prints one figure as a Markdown table row: what, n, median, p90, p99, min, max, mean.
pub fn report(what: &str, summary: &Summary) {
    println!(
        "| {what} | {} | {} | {} | {} | {} | {} | {} |",
        summary.count,
        human(summary.median),
        human(summary.p90),
        human(summary.p99),
        human(summary.min),
        human(summary.max),
        human(summary.mean),
    );
}

/// The header that goes with [`report`] rows.
pub fn header(title: &str) {
    println!();
    println!("### {title}");
    println!();
    println!("| what | n | median | p90 | p99 | min | max | mean |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
}

/// A count from the environment (e.g. `GREENLIGHT_BENCH_CLICKS`), or `default`; never below `min`
/// so a rerun cannot quietly report a figure from too small a sample.
pub fn count_from_env(name: &str, default: usize, min: usize) -> usize {
    let count = std::env::var(name)
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .unwrap_or(default);
    assert!(
        count >= min,
        "{name}={count}: the figures need at least {min} iterations"
    );
    count
}

/// Checks the percentile arithmetic on a known sample, so a wrong figure cannot come from here.
/// Benches have no test harness, so each calls this before measuring.
pub fn self_check() {
    let sample: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
    let summary = Summary::of(&sample);
    assert_eq!(summary.median, Duration::from_micros(500));
    assert_eq!(summary.p90, Duration::from_micros(900));
    assert_eq!(summary.p99, Duration::from_micros(990));
    assert_eq!(summary.min, Duration::from_micros(1));
    assert_eq!(summary.max, Duration::from_micros(1000));
    let small = Summary::of(&[Duration::from_millis(3)]);
    assert_eq!(small.p99, Duration::from_millis(3));
    assert_eq!(human(Duration::from_nanos(41_749)), "41.7 µs");
    assert_eq!(human(Duration::from_micros(3_084)), "3.08 ms");
}
