//! `greenlight demo`: a whole blue/green deployment, rehearsed on one machine.

pub mod console;
pub mod ecs;
pub mod loopback;
pub mod options;
pub mod people;
pub mod slack;
pub mod sns;
pub mod store;
pub mod timeline;
