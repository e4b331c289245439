//! The pure core: the names, values and messages every face of greenlight agrees on.
//! Nothing here does I/O, so all of it is tested without a network.

pub mod deployment;
pub mod evidence;
pub mod gate;
pub mod lifecycle;
pub mod notification;
pub mod progress;
pub mod record;
pub mod stage;
pub mod text;
