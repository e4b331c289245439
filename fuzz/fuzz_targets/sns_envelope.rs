//! Raw bytes POSTed to `/sns`: the envelope parse and every check of `SnsVerifier::verify`, with
//! the certificates of the genuine AWS messages in `tests/fixtures/sns` pinned (seeded with those
//! messages, mutations get as far as the signature); whatever verifies is classified and read.
#![no_main]

use greenlight_fuzz::{FIXTURE_TOPICS, block_on, fixture_now, fixture_verifier, follow_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let verified = block_on(fixture_verifier().verify(body, fixture_now()));
    match verified {
        Ok(envelope) => {
            assert!(FIXTURE_TOPICS.contains(&envelope.topic_arn.as_str()));
            follow_message(&envelope.message, &envelope.message_id);
        }
        Err(refusal) => {
            // Every refusal has a status and a short reason for the log and the caller.
            let status = refusal.status().as_u16();
            assert!(matches!(status, 400 | 403 | 503), "status {status}");
            let _ = (refusal.reason(), refusal.code());
        }
    }
});
