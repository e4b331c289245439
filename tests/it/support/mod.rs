//! Shared helpers for the integration tests: stand-ins that speak the real protocols.
#![allow(dead_code)]

pub mod block_kit;
pub mod bot;
pub mod ecs_double;
pub mod history;
pub mod http_recorder;
pub mod lambda_runtime;
pub mod moto;
pub mod slack_double;
