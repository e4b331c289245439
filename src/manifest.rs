//! The Slack app manifest, with the bot's URL filled in.
//!
//! `manifest.yaml` is compiled into the binary so `greenlight manifest --url …` works from any
//! directory, and the same text is what the repository documents and tests.

/// The manifest as committed, with `https://GREENLIGHT_URL` where the bot's URL goes.
pub const TEMPLATE: &str = include_str!("../manifest.yaml");

/// The placeholder every request URL in [`TEMPLATE`] starts with.
pub const PLACEHOLDER: &str = "https://GREENLIGHT_URL";

/// Why a URL cannot be the bot's URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an https URL without a query, e.g. the stack output BotUrl (https://….lambda-url.REGION.on.aws/)"
)]
pub struct InvalidBotUrl(pub String);

/// The manifest for a bot served at `url` (the function URL; a trailing `/` is fine).
pub fn render(url: &str) -> Result<String, InvalidBotUrl> {
    let parsed = url::Url::parse(url).map_err(|_| InvalidBotUrl(url.to_owned()))?;
    if parsed.scheme() != "https"
        || parsed.host_str().is_none()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(InvalidBotUrl(url.to_owned()));
    }
    Ok(TEMPLATE.replace(PLACEHOLDER, url.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_slack_would_refuse() {
        for bad in [
            "http://example.com",
            "example.com",
            "https://",
            "https://x.example/?a=1",
        ] {
            assert!(render(bad).is_err(), "{bad}");
        }
    }
}
