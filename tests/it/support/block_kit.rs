//! A Block Kit checker of our own, as strict as Slack where greenlight's messages could go wrong:
//! the Slack double runs it on every `chat.postMessage` and `chat.update` and refuses what fails
//! with `invalid_blocks`, as Slack does, so every message the suite sends is checked.
//!
//! The limits are Slack's documented ones for the blocks and elements greenlight uses: at most 50
//! blocks; header text plain_text up to 150; section text up to 3,000, at most 10 fields of up to
//! 2,000 each, text or fields required; context 1 to 10 elements; actions 1 to 25 elements;
//! buttons with plain_text text up to 75, `action_id` up to 255, `value` up to 2,000, `url` up to
//! 3,000, style `primary` or `danger`; confirm dialogs with plain_text title (100), text (300),
//! confirm and deny (30); `block_id` up to 255; no text object empty.

use serde_json::Value;

fn chars(value: &Value) -> usize {
    value.as_str().map(|text| text.chars().count()).unwrap_or(0)
}

/// A text object: `type` plain_text or mrkdwn (or only `plain` when `plain_only`), non-empty text
/// of at most `max` characters.
fn text_object(value: &Value, max: usize, plain_only: bool, at: &str) -> Result<(), String> {
    let kind = value["type"].as_str().unwrap_or("");
    let allowed = if plain_only {
        kind == "plain_text"
    } else {
        kind == "plain_text" || kind == "mrkdwn"
    };
    if !allowed {
        return Err(format!("{at}: a text object of type {kind:?}"));
    }
    let length = chars(&value["text"]);
    if length == 0 {
        return Err(format!("{at}: empty text"));
    }
    if length > max {
        return Err(format!("{at}: text of {length} characters, over {max}"));
    }
    Ok(())
}

fn button(element: &Value, at: &str) -> Result<(), String> {
    text_object(&element["text"], 75, true, &format!("{at}.text"))?;
    for (name, max) in [("action_id", 255), ("value", 2000), ("url", 3000)] {
        if chars(&element[name]) > max {
            return Err(format!("{at}.{name}: over {max} characters"));
        }
    }
    if let Some(style) = element.get("style")
        && !matches!(style.as_str(), Some("primary" | "danger"))
    {
        return Err(format!("{at}.style: {style}"));
    }
    if let Some(confirm) = element.get("confirm") {
        text_object(&confirm["title"], 100, true, &format!("{at}.confirm.title"))?;
        text_object(&confirm["text"], 300, false, &format!("{at}.confirm.text"))?;
        text_object(
            &confirm["confirm"],
            30,
            true,
            &format!("{at}.confirm.confirm"),
        )?;
        text_object(&confirm["deny"], 30, true, &format!("{at}.confirm.deny"))?;
    }
    Ok(())
}

/// `Ok` when Slack would take these blocks; else why not.
pub fn check_blocks(blocks: &Value) -> Result<(), String> {
    let Some(blocks) = blocks.as_array() else {
        return Err("blocks is not an array".to_owned());
    };
    if blocks.len() > 50 {
        return Err(format!("{} blocks, over 50", blocks.len()));
    }
    for (index, block) in blocks.iter().enumerate() {
        let at = format!("blocks[{index}]");
        if chars(&block["block_id"]) > 255 {
            return Err(format!("{at}.block_id: over 255 characters"));
        }
        match block["type"].as_str().unwrap_or("") {
            "header" => text_object(&block["text"], 150, true, &format!("{at}.text"))?,
            "section" => {
                let fields = block.get("fields").and_then(Value::as_array);
                if block.get("text").is_none() && fields.is_none() {
                    return Err(format!("{at}: a section with neither text nor fields"));
                }
                if let Some(text) = block.get("text") {
                    text_object(text, 3000, false, &format!("{at}.text"))?;
                }
                if let Some(fields) = fields {
                    if fields.is_empty() || fields.len() > 10 {
                        return Err(format!("{at}.fields: {} fields", fields.len()));
                    }
                    for (i, field) in fields.iter().enumerate() {
                        text_object(field, 2000, false, &format!("{at}.fields[{i}]"))?;
                    }
                }
                if let Some(accessory) = block.get("accessory")
                    && accessory["type"] == "button"
                {
                    button(accessory, &format!("{at}.accessory"))?;
                }
            }
            "context" => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 10 {
                    return Err(format!("{at}.elements: {} elements", elements.len()));
                }
                for (i, element) in elements.iter().enumerate() {
                    if element["type"] != "image" {
                        text_object(element, 3000, false, &format!("{at}.elements[{i}]"))?;
                    }
                }
            }
            "actions" => {
                let elements = block["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 25 {
                    return Err(format!("{at}.elements: {} elements", elements.len()));
                }
                for (i, element) in elements.iter().enumerate() {
                    let at = format!("{at}.elements[{i}]");
                    match element["type"].as_str() {
                        Some("button") => button(element, &at)?,
                        other => return Err(format!("{at}: an element of type {other:?}")),
                    }
                }
            }
            "divider" => {}
            other => return Err(format!("{at}: a block of type {other:?}")),
        }
    }
    Ok(())
}
