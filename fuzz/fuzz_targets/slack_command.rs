//! The body of `POST /slack/commands` (the `/deploy` form), read as the router reads it once the
//! signature checked out; an accepted command has a user and a channel.
#![no_main]

use greenlight::bot::commands::SlashRequest;
use greenlight::bot::edge::extract::SlackBody;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(SlashRequest::Command(command)) = SlashRequest::parse(body) {
        assert!(!command.user_id.0.trim().is_empty());
        assert!(!command.channel_id.0.trim().is_empty());
    }
});
