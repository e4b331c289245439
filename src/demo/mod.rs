//! `greenlight demo`: a whole blue/green deployment, rehearsed on one machine.

pub mod ecs;
