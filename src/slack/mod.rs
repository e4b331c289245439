//! Everything greenlight says to Slack, and how it checks what Slack says to it.
//!
//! - [`api`]: the port, [`SlackApi`], with the four Web API calls greenlight makes.
//! - [`web`]: its adapter on slack-morphism's client, for production and the local double.
//! - [`signature`]: verification of signed requests from Slack (clicks, slash commands).
//!
//! What the messages say (the gate card, the thread notes) is pure and lives in `crate::card`.

pub mod api;
pub mod signature;
pub mod web;

pub use api::{OutgoingMessage, PostedMessage, SlackApi, SlackError, archive_link};
pub use signature::{SlackRequestVerifier, SlackSignatureRefusal};
pub use web::SlackWebApi;
