//! Gate items written straight into a test's table: history (thousands of closed gates) and
//! corrupt items, which the bot could not be made to write itself.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use greenlight::store::schema;
use serde_json::json;

use super::bot::{CHANNEL, TestBot};

pub fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

/// A gate item written straight into the table, as a test's stand-in for history.
pub fn gate_item(
    id: &str,
    record: &str,
    status: &str,
    open_channel: Option<&str>,
) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(format!("GATE#{id}"))),
        ("sk".to_owned(), s("GATE")),
        (schema::RECORD.to_owned(), s(record)),
        (schema::STATUS.to_owned(), s(status)),
        (schema::VERSION.to_owned(), AttributeValue::N("1".into())),
        (
            schema::REQUESTED_KEY.to_owned(),
            s(format!("2026-11-01T00:00:00.000Z#{id}")),
        ),
        (schema::SERVICE_KEY.to_owned(), s("history/web")),
    ]);
    if let Some(channel) = open_channel {
        item.insert(schema::OPEN_CHANNEL.to_owned(), s(channel));
    }
    item
}

/// A gate record's JSON, closed or open, with a card in the deploy channel.
pub fn record_json(id: &str, open: bool) -> String {
    let status = if open {
        json!({"state": "open"})
    } else {
        json!({"state": "timedOut", "action": "ROLLBACK", "at": "2026-11-01T01:00:00Z"})
    };
    json!({
        "gateId": id,
        "resolution": {"kind": "parameter", "name": "/history/decisions/web"},
        "title": format!("web: gate {id}"),
        "cluster": "history", "service": "web",
        "requestedAt": "2026-11-01T00:00:00Z",
        "card": {"channel": CHANNEL, "ts": format!("1700000000.{}", &id[3..9])},
        "status": status
    })
    .to_string()
}

pub async fn put_items(bot: &TestBot, items: Vec<HashMap<String, AttributeValue>>) {
    let batches: Vec<Vec<WriteRequest>> = items
        .into_iter()
        .map(|item| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("put"),
                )
                .build()
        })
        .collect::<Vec<_>>()
        .chunks(25)
        .map(<[WriteRequest]>::to_vec)
        .collect();
    for chunk in batches.chunks(8) {
        futures_util::future::join_all(chunk.iter().map(|batch| {
            bot.dynamodb
                .batch_write_item()
                .request_items(&bot.table, batch.clone())
                .send()
        }))
        .await
        .into_iter()
        .for_each(|out| {
            let out = out.expect("batch write");
            assert!(
                out.unprocessed_items.unwrap_or_default().is_empty(),
                "moto wrote every item"
            );
        });
    }
}

/// Writes `closed` closed gates and `open` open ones (carded in the deploy channel) of the
/// service `web` in cluster `history`; returns the open gates' ids.
pub async fn write_history(
    bot: &TestBot,
    closed: usize,
    open: usize,
) -> Vec<greenlight::domain::gate::GateId> {
    use greenlight::domain::gate::GateId;
    let mut items: Vec<HashMap<String, AttributeValue>> = (0..closed)
        .map(|i| {
            let id = GateId::derive(&format!("{} closed {i}", bot.table));
            gate_item(
                id.as_str(),
                &record_json(id.as_str(), false),
                "timedOut",
                None,
            )
        })
        .collect();
    let open: Vec<GateId> = (0..open)
        .map(|i| GateId::derive(&format!("{} open {i}", bot.table)))
        .collect();
    for id in &open {
        items.push(gate_item(
            id.as_str(),
            &record_json(id.as_str(), true),
            "open",
            Some(CHANNEL),
        ));
    }
    put_items(bot, items).await;
    open
}
