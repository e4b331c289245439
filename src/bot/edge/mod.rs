//! The HTTP edge of the bot: the router, the refusals, and the extractors that authenticate a
//! request before its handler runs. Handlers import the extractors and the error, never the
//! router, so the router depends on the handlers and not the other way round.

pub mod budget;
pub mod error;
pub mod extract;
pub mod router;
