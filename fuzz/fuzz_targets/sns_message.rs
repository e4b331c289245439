//! The `Message` of an SNS notification, past the signature: the input is the message text (its
//! first byte picks the signature version and whether there is a subject), the target signs it
//! with a throwaway key pinned in memory, verifies it as `/sns` does (it must verify: the signer
//! and the verifier agree on the string to sign, whatever the text), then classifies it and reads
//! what the bot reads.
#![no_main]

use std::sync::OnceLock;

use chrono::{TimeDelta, Utc};
use greenlight::sns::{SignatureVersion, SnsSigner, SnsVerifier};
use greenlight_fuzz::{block_on, follow_message, pinned_store};
use libfuzzer_sys::fuzz_target;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:greenlight";

fn signer_and_verifier() -> &'static (SnsSigner, SnsVerifier) {
    static BOTH: OnceLock<(SnsSigner, SnsVerifier)> = OnceLock::new();
    BOTH.get_or_init(|| {
        let now = Utc::now();
        let signer = SnsSigner::valid_between(
            "eu-west-1",
            now - TimeDelta::days(1),
            now + TimeDelta::days(30),
        )
        .expect("a throwaway signer");
        let store = pinned_store();
        signer
            .pin_into(&store)
            .expect("the signer's certificate parses");
        let verifier = SnsVerifier::new(
            vec![TOPIC.to_owned()],
            greenlight::sns::DEFAULT_MAX_AGE,
            store,
        );
        (signer, verifier)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(message) = std::str::from_utf8(rest) else {
        return;
    };
    let (signer, verifier) = signer_and_verifier();
    // SHA1withRSA is signed by hand (slow); one input in eight takes it.
    let version = if flags & 0b111 == 0 {
        SignatureVersion::V1Sha1
    } else {
        SignatureVersion::V2Sha256
    };
    let subject = (flags & 0b1000 != 0).then_some("greenlight");
    let now = Utc::now();
    let body = signer
        .notification(TOPIC, message, subject, now, version)
        .expect("the signer signs any text");
    let envelope = match block_on(verifier.verify(body.as_bytes(), now)) {
        Ok(envelope) => envelope,
        Err(refusal) => panic!("a correctly signed message was refused: {refusal}"),
    };
    assert_eq!(envelope.message, message);
    follow_message(&envelope.message, &envelope.message_id);
});
