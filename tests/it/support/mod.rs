//! Shared helpers for the integration tests: stand-ins that speak the real protocols.
#![allow(dead_code)]
pub mod slack_double;
