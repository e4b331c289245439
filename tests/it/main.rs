//! The one integration-test binary: every test that talks to greenlight over a real protocol
//! (HTTP to the router, the AWS SDK to moto, the Slack Web API to a recording double).

mod binary;
mod hook;
mod pause;
mod slack;
mod sns_intake;
mod support;
