//! Everything greenlight says to Slack, and how it checks what Slack says to it.
//!
//! - [`api`]: the port, [`SlackApi`], with the four Web API calls greenlight makes.
//! - [`signature`]: verification of signed requests from Slack (clicks, slash commands).

pub mod api;
pub mod signature;

pub use api::{OutgoingMessage, PostedMessage, SlackApi, SlackError, archive_link};
pub use signature::{SlackRequestVerifier, SlackSignatureRefusal};
