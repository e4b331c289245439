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

/// `Ok` when Slack would take these blocks in a message; else why not.
pub fn check_blocks(blocks: &Value) -> Result<(), String> {
    check(blocks, false)
}

/// `Ok` when Slack's `views.open` would take this modal: `type` modal, a plain_text title of up
/// to 24 characters, submit and close of up to 24, `callback_id` and `private_metadata` within
/// 255 and 3,000 characters, a submit button whenever there is an input, and valid blocks (up
/// to 100, inputs allowed).
pub fn check_modal(view: &Value) -> Result<(), String> {
    if view["type"] != "modal" {
        return Err(format!("view.type: {}", view["type"]));
    }
    text_object(&view["title"], 24, true, "view.title")?;
    for name in ["submit", "close"] {
        if let Some(button) = view.get(name) {
            text_object(button, 24, true, &format!("view.{name}"))?;
        }
    }
    if chars(&view["callback_id"]) > 255 {
        return Err("view.callback_id: over 255 characters".to_owned());
    }
    if chars(&view["private_metadata"]) > 3000 {
        return Err("view.private_metadata: over 3000 characters".to_owned());
    }
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.iter().any(|block| block["type"] == "input") && view.get("submit").is_none() {
        return Err("view: an input without a submit button".to_owned());
    }
    check(&view["blocks"], true)
}

fn check(blocks: &Value, allow_inputs: bool) -> Result<(), String> {
    let Some(blocks) = blocks.as_array() else {
        return Err("blocks is not an array".to_owned());
    };
    let most = if allow_inputs { 100 } else { 50 };
    if blocks.len() > most {
        return Err(format!("{} blocks, over {most}", blocks.len()));
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
            // Input blocks exist only in modals; `check_modal` lets them through.
            "input" if allow_inputs => {
                text_object(&block["label"], 2000, true, &format!("{at}.label"))?;
                let element = &block["element"];
                if element["type"] != "plain_text_input" {
                    return Err(format!("{at}.element: of type {}", element["type"]));
                }
                if chars(&element["action_id"]) == 0 || chars(&element["action_id"]) > 255 {
                    return Err(format!("{at}.element.action_id: missing or too long"));
                }
                if let Some(max) = element.get("max_length")
                    && !max.as_u64().is_some_and(|max| (1..=3000).contains(&max))
                {
                    return Err(format!("{at}.element.max_length: {max}"));
                }
                if let Some(placeholder) = element.get("placeholder") {
                    text_object(placeholder, 150, true, &format!("{at}.element.placeholder"))?;
                }
            }
            other => return Err(format!("{at}: a block of type {other:?}")),
        }
    }
    Ok(())
}
