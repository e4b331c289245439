//! Bounding free text (items have a size limit and Block Kit has one per field, while titles and
//! descriptions come from whoever published to the topic), and the UUID shape AWS's ids take.

/// At most `max` characters, ending in an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// 16 bytes in the 8-4-4-4-12 hexadecimal shape of a UUID, as SNS message ids and EventBridge
/// event ids are written.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::{clip, uuid_text};

    #[test]
    fn uuids_take_the_8_4_4_4_12_shape() {
        assert_eq!(
            uuid_text(&[0xab; 16]),
            "abababab-abab-abab-abab-abababababab"
        );
    }

    #[test]
    fn clips_by_characters_not_bytes() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("abc", 0), "…");
    }
}
