//! greenlight: a human gate, in Slack, in front of the production traffic shift of an ECS
//! blue/green deployment. See `docs/architecture.md` for the map of the code.

pub mod aws;
pub mod bot;
pub mod card;
pub mod cli;
pub mod config;
// The local rehearsal, `greenlight demo`: only with the `rehearsal` feature (on by default; the
// Lambda package is built without it).
#[cfg(feature = "rehearsal")]
pub mod demo;
pub mod domain;
pub mod hook;
pub mod hook_process;
pub mod manifest;
pub mod memory;
pub mod policy;
pub mod ports;
pub mod probe;
pub mod slack;
pub mod sns;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod wiring;
