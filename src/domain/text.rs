//! Bounding free text: records must stay under SSM's 4 KiB and Block Kit has a limit per field,
//! while titles and descriptions come from whoever published to the topic.

/// At most `max` characters, ending in an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clips_by_characters_not_bytes() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("abc", 0), "…");
    }
}
