//! The one integration-test binary: every test that talks to greenlight over a real protocol
//! (HTTP to the router, the AWS SDK to moto, the Slack Web API to a recording double).

mod binary;
mod block_kit;
mod clicks;
mod commands;
mod demo;
mod faults;
mod hook;
mod judgement;
mod manifest;
mod pause;
mod properties;
mod router;
mod slack;
mod sns_intake;
mod sns_refusals;
mod store;
mod support;
mod trust;
