//! Verification of the requests Slack sends greenlight (button clicks, slash commands).
//!
//! The function URL is public, so this check is what makes a click a click: Slack signs every
//! request with the app's signing secret, `v0=` + hex HMAC-SHA256 over `v0:{timestamp}:{raw body}`,
//! and sends the signature in `X-Slack-Signature` and the timestamp in `X-Slack-Request-Timestamp`.
//! A request is accepted only if the signature matches and the timestamp lies within five minutes
//! of now, either way: an old request is a replay, a future-dated one is a replay prepared in
//! advance (or a clock so wrong that nothing it says can be trusted).
//!
//! slack-morphism ships `SlackEventSignatureVerifier`, which does the same HMAC with a
//! constant-time compare, but it reads the wall clock itself (its time-taking variant is private),
//! so the window cannot be tested at a chosen instant, and it takes the body as `&str`. The HMAC is
//! small enough to do here with `hmac`'s own constant-time `verify_slice`, with `now` passed in.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Header carrying `v0=<hex signature>`.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Header carrying the Unix time (seconds) at which Slack signed the request.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far a request's timestamp may be from now, in either direction, as Slack recommends.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 5 * 60;

const VERSION_PREFIX: &str = "v0=";

/// Why a request was refused as not coming from Slack.
///
/// The router answers 401 with [`SlackSignatureRefusal::reason`] and logs the variant. None of
/// these carries the expected signature: logging it would hand out a valid credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlackSignatureRefusal {
    /// greenlight was started without a signing secret; nothing can be verified, so nothing is
    /// accepted (an empty HMAC key would let anyone sign).
    #[error("no signing secret configured")]
    NoSigningSecret,
    #[error("missing X-Slack-Request-Timestamp")]
    MissingTimestamp,
    #[error("X-Slack-Request-Timestamp is not a Unix time")]
    BadTimestamp,
    #[error("request timestamp is more than 5 minutes old")]
    Stale,
    #[error("request timestamp is more than 5 minutes in the future")]
    Future,
    #[error("missing X-Slack-Signature")]
    MissingSignature,
    #[error("X-Slack-Signature is not v0= and 64 hex digits")]
    MalformedSignature,
    #[error("signature does not match")]
    Mismatch,
}

impl SlackSignatureRefusal {
    /// A short reason, safe to send back to the caller.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

/// Checks that a request was signed by Slack with this app's signing secret, recently.
///
/// Built once at start-up from the secret; the HMAC key is prepared then and cloned per request.
#[derive(Clone)]
pub struct SlackRequestVerifier {
    /// `None` when the secret is empty: every request is then refused.
    keyed: Option<HmacSha256>,
}

impl std::fmt::Debug for SlackRequestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackRequestVerifier")
            .field("configured", &self.keyed.is_some())
            .finish_non_exhaustive()
    }
}

impl SlackRequestVerifier {
    pub fn new(signing_secret: &str) -> Self {
        let keyed = if signing_secret.is_empty() {
            None
        } else {
            // HMAC takes keys of any length, so this never fails; `ok()` keeps the function total.
            HmacSha256::new_from_slice(signing_secret.as_bytes()).ok()
        };
        SlackRequestVerifier { keyed }
    }

    /// Accepts the request if `headers` carry a valid signature of `body` (the raw bytes, before
    /// any parsing) made within five minutes of `now`.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SlackSignatureRefusal> {
        let Some(keyed) = &self.keyed else {
            return Err(SlackSignatureRefusal::NoSigningSecret);
        };
        let timestamp = headers
            .get(TIMESTAMP_HEADER)
            .ok_or(SlackSignatureRefusal::MissingTimestamp)?
            .to_str()
            .map_err(|_| SlackSignatureRefusal::BadTimestamp)?;
        let seconds = parse_timestamp(timestamp)?;
        let skew = now.timestamp().saturating_sub(seconds);
        if skew > MAX_CLOCK_SKEW_SECONDS {
            return Err(SlackSignatureRefusal::Stale);
        }
        if skew < -MAX_CLOCK_SKEW_SECONDS {
            return Err(SlackSignatureRefusal::Future);
        }

        let signature = headers
            .get(SIGNATURE_HEADER)
            .ok_or(SlackSignatureRefusal::MissingSignature)?;
        let received = signature
            .to_str()
            .ok()
            .and_then(|text| text.strip_prefix(VERSION_PREFIX))
            .filter(|digits| digits.len() == 64)
            .and_then(|digits| hex::decode(digits).ok())
            .ok_or(SlackSignatureRefusal::MalformedSignature)?;

        let mut mac = keyed.clone();
        // Signed over the timestamp exactly as sent, not as re-printed after parsing.
        update_base_string(&mut mac, timestamp, body);
        mac.verify_slice(&received)
            .map_err(|_| SlackSignatureRefusal::Mismatch)
    }
}

/// Slack sends whole seconds as ASCII digits. Signs, spaces and fractions are refused rather than
/// guessed at, since the timestamp is part of what was signed.
fn parse_timestamp(text: &str) -> Result<i64, SlackSignatureRefusal> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlackSignatureRefusal::BadTimestamp);
    }
    text.parse()
        .map_err(|_| SlackSignatureRefusal::BadTimestamp)
}

fn update_base_string(mac: &mut HmacSha256, timestamp: &str, body: &[u8]) {
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
}

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`.
///
/// For the local rehearsal and tests, which sign their requests the way Slack does.
pub fn sign(signing_secret: &str, timestamp: i64, body: &[u8]) -> String {
    match HmacSha256::new_from_slice(signing_secret.as_bytes()) {
        Ok(mut mac) => {
            update_base_string(&mut mac, &timestamp.to_string(), body);
            format!(
                "{VERSION_PREFIX}{}",
                hex::encode(mac.finalize().into_bytes())
            )
        }
        // HMAC accepts keys of any length; an impossible error yields a signature that never
        // verifies rather than a panic.
        Err(_) => format!("{VERSION_PREFIX}{}", "0".repeat(64)),
    }
}

/// The two headers Slack would send with `body` signed at `now`.
pub fn signed_headers(signing_secret: &str, now: DateTime<Utc>, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let timestamp = now.timestamp();
    if let Ok(value) = timestamp.to_string().parse() {
        headers.insert(TIMESTAMP_HEADER, value);
    }
    if let Ok(value) = sign(signing_secret, timestamp, body).parse() {
        headers.insert(SIGNATURE_HEADER, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    // Slack's documented example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: i64 = 1531420618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().unwrap()
    }

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    fn documented() -> HeaderMap {
        headers(&TIMESTAMP.to_string(), SIGNATURE)
    }

    #[test]
    fn slacks_documented_example_verifies_at_its_time() {
        let verifier = SlackRequestVerifier::new(SECRET);
        assert_eq!(
            verifier.verify(&documented(), BODY.as_bytes(), at(TIMESTAMP)),
            Ok(())
        );
        assert_eq!(sign(SECRET, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    }

    #[test]
    fn the_window_is_five_minutes_either_way_inclusive() {
        let verifier = SlackRequestVerifier::new(SECRET);
        for now in [TIMESTAMP - 300, TIMESTAMP + 300] {
            assert_eq!(
                verifier.verify(&documented(), BODY.as_bytes(), at(now)),
                Ok(())
            );
        }
        assert_eq!(
            verifier.verify(&documented(), BODY.as_bytes(), at(TIMESTAMP + 301)),
            Err(SlackSignatureRefusal::Stale)
        );
        assert_eq!(
            verifier.verify(&documented(), BODY.as_bytes(), at(TIMESTAMP - 301)),
            Err(SlackSignatureRefusal::Future)
        );
    }

    #[test]
    fn a_tampered_body_is_a_mismatch() {
        let verifier = SlackRequestVerifier::new(SECRET);
        let tampered = BODY.replace("roadrunner", "coyote");
        assert_eq!(
            verifier.verify(&documented(), tampered.as_bytes(), at(TIMESTAMP)),
            Err(SlackSignatureRefusal::Mismatch)
        );
        let mut longer = BODY.as_bytes().to_vec();
        longer.push(b'&');
        assert_eq!(
            verifier.verify(&documented(), &longer, at(TIMESTAMP)),
            Err(SlackSignatureRefusal::Mismatch)
        );
    }

    #[test]
    fn a_changed_timestamp_is_a_mismatch() {
        let verifier = SlackRequestVerifier::new(SECRET);
        let moved = headers(&(TIMESTAMP + 1).to_string(), SIGNATURE);
        assert_eq!(
            verifier.verify(&moved, BODY.as_bytes(), at(TIMESTAMP)),
            Err(SlackSignatureRefusal::Mismatch)
        );
    }

    #[test]
    fn another_secret_is_a_mismatch() {
        let verifier = SlackRequestVerifier::new("8f742231b10e8888abcd99yyyzzz85a6");
        assert_eq!(
            verifier.verify(&documented(), BODY.as_bytes(), at(TIMESTAMP)),
            Err(SlackSignatureRefusal::Mismatch)
        );
    }

    #[test]
    fn an_empty_secret_refuses_everything() {
        let verifier = SlackRequestVerifier::new("");
        let body = b"payload=x";
        let now = at(TIMESTAMP);
        assert_eq!(
            verifier.verify(&signed_headers("", now, body), body, now),
            Err(SlackSignatureRefusal::NoSigningSecret)
        );
        assert!(!format!("{verifier:?}").contains(SECRET));
    }

    #[test]
    fn missing_headers_are_refused_by_name() {
        let verifier = SlackRequestVerifier::new(SECRET);
        let now = at(TIMESTAMP);
        let mut no_timestamp = documented();
        no_timestamp.remove(TIMESTAMP_HEADER);
        assert_eq!(
            verifier.verify(&no_timestamp, BODY.as_bytes(), now),
            Err(SlackSignatureRefusal::MissingTimestamp)
        );
        let mut no_signature = documented();
        no_signature.remove(SIGNATURE_HEADER);
        assert_eq!(
            verifier.verify(&no_signature, BODY.as_bytes(), now),
            Err(SlackSignatureRefusal::MissingSignature)
        );
        assert_eq!(
            verifier.verify(&HeaderMap::new(), BODY.as_bytes(), now),
            Err(SlackSignatureRefusal::MissingTimestamp)
        );
    }

    #[test]
    fn malformed_values_are_refused_before_any_hmac() {
        let verifier = SlackRequestVerifier::new(SECRET);
        let now = at(TIMESTAMP);
        for bad in [
            "",
            "abc",
            "-1531420618",
            "1531420618.5",
            " 1531420618",
            "+1531420618",
        ] {
            assert_eq!(
                verifier.verify(&headers(bad, SIGNATURE), BODY.as_bytes(), now),
                Err(SlackSignatureRefusal::BadTimestamp),
                "{bad:?}"
            );
        }
        let hex = &SIGNATURE[3..];
        for bad in [
            hex.to_owned(),
            format!("v1={hex}"),
            format!("v0={}", &hex[..63]),
            format!("v0={hex}00"),
            format!("v0={}g", &hex[..63]),
            format!("V0={hex}"),
        ] {
            assert_eq!(
                verifier.verify(&headers(&TIMESTAMP.to_string(), &bad), BODY.as_bytes(), now),
                Err(SlackSignatureRefusal::MalformedSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn upper_case_hex_is_the_same_signature() {
        let verifier = SlackRequestVerifier::new(SECRET);
        let upper = format!("v0={}", SIGNATURE[3..].to_ascii_uppercase());
        assert_eq!(
            verifier.verify(
                &headers(&TIMESTAMP.to_string(), &upper),
                BODY.as_bytes(),
                at(TIMESTAMP)
            ),
            Ok(())
        );
    }

    #[test]
    fn signed_headers_round_trip() {
        let verifier = SlackRequestVerifier::new("s3cret");
        let now = Utc::now();
        let body = br#"payload={"type":"block_actions"}"#;
        assert_eq!(
            verifier.verify(&signed_headers("s3cret", now, body), body, now),
            Ok(())
        );
    }

    #[test]
    fn refusals_have_short_reasons() {
        assert_eq!(
            SlackSignatureRefusal::Stale.reason(),
            "request timestamp is more than 5 minutes old"
        );
        assert_eq!(
            SlackSignatureRefusal::Mismatch.reason(),
            "signature does not match"
        );
    }
}
