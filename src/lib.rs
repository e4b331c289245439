//! greenlight: a human gate, in Slack, in front of the production traffic shift of an ECS
//! blue/green deployment. See `docs/architecture.md` for the map of the code.

pub mod aws;
pub mod domain;
pub mod memory;
pub mod ports;
pub mod sns;
pub mod tls;
