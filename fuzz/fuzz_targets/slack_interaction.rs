//! The body of `POST /slack/interactions` (a form with a JSON `payload`), read as the router
//! reads it once the signature checked out.
#![no_main]

use greenlight::bot::edge::extract::SlackBody;
use greenlight::bot::interactions::Payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = Payload::parse(body);
});
