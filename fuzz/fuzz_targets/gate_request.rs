//! A message on the gate topic, as text (what `classify` reads after the envelope verified):
//! gate requests, follow-ups, ECS events and anything else. A gate request under the decision
//! prefix is bound to its deployment (the gate id must be the one derived from deployment and
//! stage), recorded, and its card drawn in every state must pass the Block Kit check.
#![no_main]

use greenlight_fuzz::follow_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = std::str::from_utf8(data) {
        follow_message(message, "4bd5a1a6-7f1c-5c3d-9a4e-0123456789ab");
    }
});
