//! Slack's request signature: the input is the `X-Slack-Request-Timestamp` value, a newline, the
//! `X-Slack-Signature` value, a newline, and the body. Whatever the headers, `verify` answers
//! without panicking, and accepts only within five minutes; and the body signed as Slack signs it
//! is always accepted.
#![no_main]

use chrono::{TimeZone, Utc};
use greenlight::slack::SlackRequestVerifier;
use greenlight::slack::signature::{
    MAX_CLOCK_SKEW_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers,
};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let timestamp = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let now = Utc.timestamp_opt(1_531_420_618, 0).unwrap();
    let verifier = SlackRequestVerifier::new(SECRET);

    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(timestamp) {
        headers.insert(TIMESTAMP_HEADER, value);
    }
    if let Ok(value) = HeaderValue::from_bytes(signature) {
        headers.insert(SIGNATURE_HEADER, value);
    }
    if verifier.verify(&headers, body, now).is_ok() {
        let seconds: i64 = std::str::from_utf8(timestamp).unwrap().parse().unwrap();
        assert!((now.timestamp() - seconds).abs() <= MAX_CLOCK_SKEW_SECONDS);
    }

    let signed = signed_headers(SECRET, now, body);
    assert_eq!(verifier.verify(&signed, body, now), Ok(()));
});
