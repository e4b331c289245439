//! The gate store on DynamoDB: the [`GateTable`] contract as conditional writes, transactions
//! and queries on the table that [`schema`] describes.
//!
//! Each method is one API call. Conditions carry the contract: `attribute_not_exists` for
//! create-only items, the version read for updates, `gate_status = open` for a write that keeps a
//! gate open and, in a transaction, for a vote or a decision lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem,
};
use chrono::{DateTime, Utc};

use super::adapter_error;
use crate::domain::gate::GateId;
use crate::domain::record::GateRecord;
use crate::ports::{AdapterError, Created};
use crate::store::schema::{self, Index};
use crate::store::{
    DecisionLock, GateReader, GateTable, OpenGates, Saved, StoreError, Stored, Taken, clipped,
    decode, expires_at, requested_key, status_word,
};

type Item = HashMap<String, AttributeValue>;

const GATE_SORT_KEY: &str = "GATE";
const DECISION_SORT_KEY: &str = "DECISION";
const ROLLBACK_SORT_KEY: &str = "ROLLBACK";
const RECIPE_SORT_KEY: &str = "RECIPE";
const VOTE_PREFIX: &str = "VOTE#";

/// [`GateTable`] on one DynamoDB table.
pub struct DynamoGateTable {
    client: Client,
    table: String,
    retention: Duration,
    /// Items DynamoDB read for greenlight (returned by `GetItem`, scanned by `Query`): what
    /// proves that no access grows with the number of closed gates.
    items_read: AtomicU64,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn gate_pk(id: &str) -> String {
    format!("GATE#{id}")
}

fn deployment_pk(arn: &str) -> String {
    format!("DEPLOYMENT#{arn}")
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (schema::PARTITION_KEY.to_owned(), s(pk)),
        (schema::SORT_KEY.to_owned(), s(sk)),
    ])
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|value| value.parse().ok())
}

fn conditional_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(service) if service.err().code() == Some("ConditionalCheckFailedException"))
}

fn unavailable<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StoreError::Unavailable(adapter_error(operation, err))
}

fn encode_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| {
        StoreError::Unavailable(AdapterError::permanent("gate-store", err.to_string()))
    })
}

fn lock_of(item: &Item) -> Option<DecisionLock> {
    text(item, schema::BODY).and_then(|json| serde_json::from_str(json).ok())
}

impl DynamoGateTable {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        DynamoGateTable {
            client,
            table: table.into(),
            retention,
            items_read: AtomicU64::new(0),
        }
    }

    /// How many items DynamoDB has read for this adapter so far.
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::Relaxed)
    }

    fn count(&self, items: u64) {
        self.items_read.fetch_add(items, Ordering::Relaxed);
    }

    fn expiry(&self, at: DateTime<Utc>) -> AttributeValue {
        n(
            (at + chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(90)))
                .timestamp(),
        )
    }

    /// The attributes a gate's write sets besides its key: the record, its status, its expiry and
    /// the sparse open-gate index keys.
    fn gate_attributes(&self, record: &GateRecord) -> Result<Item, StoreError> {
        let now = Utc::now();
        let mut item = HashMap::from([
            (schema::RECORD.to_owned(), s(encode_json(&clipped(record))?)),
            (schema::STATUS.to_owned(), s(status_word(&record.status))),
            (
                schema::TTL_ATTRIBUTE.to_owned(),
                n(expires_at(record, self.retention, now).timestamp()),
            ),
        ]);
        if record.needs_sweep() {
            item.insert(schema::OPEN_GATE.to_owned(), s(schema::OPEN_GATE_VALUE));
        }
        if record.status.is_open() {
            if let Some(card) = &record.card {
                item.insert(schema::OPEN_CHANNEL.to_owned(), s(card.channel.clone()));
            }
            if let Some(service) = &record.service {
                item.insert(schema::OPEN_SERVICE.to_owned(), s(service.clone()));
            }
        }
        Ok(item)
    }

    fn decode_item(&self, item: &Item) -> Result<Stored, StoreError> {
        let gate = text(item, schema::PARTITION_KEY)
            .and_then(|pk| pk.strip_prefix("GATE#"))
            .unwrap_or("?");
        decode(
            gate,
            text(item, schema::RECORD),
            text(item, schema::STATUS),
            number(item, schema::VERSION),
        )
    }

    async fn get(&self, key: Item, operation: &'static str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| unavailable(operation, &err))?;
        self.count(u64::from(out.item.is_some()));
        Ok(out.item)
    }

    async fn delete(&self, key: Item, operation: &'static str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(|err| unavailable(operation, &err))?;
        Ok(())
    }

    /// Every item of one key condition, page by page. `index` `None` queries the table itself.
    async fn query(
        &self,
        index: Option<Index>,
        condition: &str,
        names: &[(&str, &str)],
        values: &[(&str, AttributeValue)],
        newest_first_one: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(|index| index.name.to_owned()))
                .key_condition_expression(condition)
                .set_exclusive_start_key(start.take());
            for (name, value) in names {
                request = request.expression_attribute_names(*name, *value);
            }
            for (name, value) in values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            if newest_first_one {
                request = request.scan_index_forward(false).limit(1);
            }
            let out = request
                .send()
                .await
                .map_err(|err| unavailable("dynamodb:Query", &err))?;
            self.count(out.scanned_count.max(out.count).max(0) as u64);
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(next) if !newest_first_one && !next.is_empty() => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    async fn query_gates(&self, index: Index, value: &str) -> Result<Vec<Stored>, StoreError> {
        let items = self
            .query(
                Some(index),
                "#k = :k",
                &[("#k", index.partition_key)],
                &[(":k", s(value))],
                false,
            )
            .await?;
        Ok(self.readable(items))
    }

    /// The gates that read; a corrupt one is logged and left out so that the others still work.
    fn readable(&self, items: Vec<Item>) -> Vec<Stored> {
        items
            .iter()
            .filter_map(|item| match self.decode_item(item) {
                Ok(stored) => Some(stored),
                Err(error) => {
                    tracing::error!(event = "gate.corrupt", error = %error);
                    None
                }
            })
            .collect()
    }

    /// A create-only item in a gate's partition, written only while the gate is open.
    async fn put_while_open(
        &self,
        id: &GateId,
        sort_key: String,
        body: String,
        operation: &'static str,
    ) -> Result<Taken, StoreError> {
        let mut item = key(gate_pk(id.as_str()), &sort_key);
        item.insert(schema::BODY.to_owned(), s(body));
        item.insert(schema::TTL_ATTRIBUTE.to_owned(), self.expiry(Utc::now()));
        let build = |err: aws_sdk_dynamodb::error::BuildError| {
            StoreError::Unavailable(AdapterError::permanent(operation, err.to_string()))
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", schema::PARTITION_KEY)
            .build()
            .map_err(build)?;
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(gate_pk(id.as_str()), GATE_SORT_KEY)))
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", schema::STATUS)
            .expression_attribute_values(":open", s("open"))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Taken::New),
            Err(err) => {
                let reasons: Vec<Option<String>> = err
                    .as_service_error()
                    .and_then(|service| match service {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                            Some(cancelled.cancellation_reasons().iter().map(|r| r.code().map(str::to_owned)).collect())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                let failed = |i: usize| {
                    reasons
                        .get(i)
                        .and_then(|code| code.as_deref())
                        .is_some_and(|code| code == "ConditionalCheckFailed")
                };
                if failed(0) {
                    Ok(Taken::AlreadyExisted)
                } else if failed(1) {
                    Ok(Taken::GateClosed)
                } else {
                    Err(unavailable(operation, &err))
                }
            }
        }
    }

    /// Writes an item only if no item has its key yet.
    async fn put_new(&self, item: Item, operation: &'static str) -> Result<Created, StoreError> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", schema::PARTITION_KEY)
            .send()
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(err) if conditional_failed(&err) => Ok(Created::AlreadyExisted),
            Err(err) => Err(unavailable(operation, &err)),
        }
    }

    /// Creates the table with greenlight's schema and turns TTL on. `Ok(false)` when a table of
    /// that name exists already (it is left as it is).
    pub async fn create_table(&self) -> Result<bool, AdapterError> {
        let build = |err: aws_sdk_dynamodb::error::BuildError| {
            AdapterError::permanent("dynamodb:CreateTable", err.to_string())
        };
        let key_element = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build)
        };
        let mut request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element(schema::PARTITION_KEY, KeyType::Hash)?)
            .key_schema(key_element(schema::SORT_KEY, KeyType::Range)?);
        for name in schema::key_attributes() {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            );
        }
        for index in schema::INDEXES {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key_element(index.partition_key, KeyType::Hash)?)
                    .key_schema(key_element(index.sort_key, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build)?,
            );
        }
        match request.send().await {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(false);
            }
            Err(err) => return Err(adapter_error("dynamodb:CreateTable", &err)),
        }
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|err| adapter_error("dynamodb:DescribeTable", &err))?;
            let active = described
                .table
                .and_then(|table| table.table_status)
                .is_some_and(|status| status.as_str() == "ACTIVE");
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(schema::TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(|err| {
                        AdapterError::permanent("dynamodb:UpdateTimeToLive", err.to_string())
                    })?,
            )
            .send()
            .await
            .map_err(|err| adapter_error("dynamodb:UpdateTimeToLive", &err))?;
        Ok(true)
    }
}

#[async_trait]
impl GateReader for DynamoGateTable {
    async fn load(&self, id: &GateId) -> Result<Option<Stored>, StoreError> {
        match self
            .get(key(gate_pk(id.as_str()), GATE_SORT_KEY), "dynamodb:GetItem")
            .await?
        {
            Some(item) => self.decode_item(&item).map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl GateTable for DynamoGateTable {
    async fn create(&self, record: &GateRecord) -> Result<Created, StoreError> {
        let now = Utc::now();
        let mut item = key(gate_pk(record.gate_id.as_str()), GATE_SORT_KEY);
        item.extend(self.gate_attributes(record)?);
        item.insert(schema::VERSION.to_owned(), n(1));
        item.insert(
            schema::REQUESTED_KEY.to_owned(),
            s(requested_key(record, now)),
        );
        if let (Some(cluster), Some(service)) = (&record.cluster, &record.service) {
            item.insert(
                schema::SERVICE_KEY.to_owned(),
                s(format!("{cluster}/{service}")),
            );
        }
        if let Some(arn) = &record.service_deployment_arn {
            item.insert(schema::DEPLOYMENT_ARN.to_owned(), s(arn.clone()));
        }
        self.put_new(item, "dynamodb:PutItem").await
    }

    async fn save(&self, record: &GateRecord, read_version: u64) -> Result<Saved, StoreError> {
        let attributes = self.gate_attributes(record)?;
        let mut names: HashMap<String, String> = HashMap::from([
            ("#version".to_owned(), schema::VERSION.to_owned()),
            ("#status".to_owned(), schema::STATUS.to_owned()),
        ]);
        let mut values: Item = HashMap::from([
            (":read".to_owned(), n(read_version)),
            (":next".to_owned(), n(read_version + 1)),
        ]);
        let mut set = vec!["#version = :next".to_owned()];
        for (i, (name, value)) in attributes.into_iter().enumerate() {
            let (placeholder, value_name) = if name == schema::STATUS {
                ("#status".to_owned(), ":status".to_owned())
            } else {
                (format!("#a{i}"), format!(":a{i}"))
            };
            names.insert(placeholder.clone(), name);
            values.insert(value_name.clone(), value);
            set.push(format!("{placeholder} = {value_name}"));
        }
        let mut expression = format!("SET {}", set.join(", "));
        let mut remove = Vec::new();
        for (i, sparse) in [
            schema::OPEN_CHANNEL,
            schema::OPEN_SERVICE,
            schema::OPEN_GATE,
        ]
        .into_iter()
        .enumerate()
        {
            if !names.values().any(|name| name == sparse) {
                names.insert(format!("#r{i}"), sparse.to_owned());
                remove.push(format!("#r{i}"));
            }
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut condition = "#version = :read".to_owned();
        if record.status.is_open() {
            // Never from closed back to open, whatever version the writer read.
            condition.push_str(" AND #status = :open");
            values.insert(":open".to_owned(), s("open"));
        }
        match self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(gate_pk(record.gate_id.as_str()), GATE_SORT_KEY)))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
        {
            Ok(_) => Ok(Saved::Saved {
                version: read_version + 1,
            }),
            Err(err) if conditional_failed(&err) => Ok(Saved::Conflict),
            Err(err) => Err(unavailable("dynamodb:UpdateItem", &err)),
        }
    }

    async fn add_vote(
        &self,
        id: &GateId,
        user: &str,
        at: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        let body = encode_json(&serde_json::json!({"user": user, "at": at}))?;
        self.put_while_open(
            id,
            format!("{VOTE_PREFIX}{user}"),
            body,
            "dynamodb:TransactWriteItems",
        )
        .await
    }

    async fn votes(&self, id: &GateId) -> Result<Vec<String>, StoreError> {
        let items = self
            .query(
                None,
                "#pk = :pk AND begins_with(#sk, :vote)",
                &[("#pk", schema::PARTITION_KEY), ("#sk", schema::SORT_KEY)],
                &[(":pk", s(gate_pk(id.as_str()))), (":vote", s(VOTE_PREFIX))],
                false,
            )
            .await?;
        let mut users: Vec<String> = items
            .iter()
            .filter_map(|item| text(item, schema::SORT_KEY))
            .filter_map(|sk| sk.strip_prefix(VOTE_PREFIX))
            .map(str::to_owned)
            .collect();
        users.sort();
        Ok(users)
    }

    async fn lock_decision(&self, id: &GateId, lock: &DecisionLock) -> Result<Taken, StoreError> {
        self.put_while_open(
            id,
            DECISION_SORT_KEY.to_owned(),
            encode_json(lock)?,
            "dynamodb:TransactWriteItems",
        )
        .await
    }

    async fn decision_lock(&self, id: &GateId) -> Result<Option<DecisionLock>, StoreError> {
        Ok(self
            .get(
                key(gate_pk(id.as_str()), DECISION_SORT_KEY),
                "dynamodb:GetItem",
            )
            .await?
            .as_ref()
            .and_then(lock_of))
    }

    async fn unlock_decision(&self, id: &GateId) -> Result<(), StoreError> {
        self.delete(
            key(gate_pk(id.as_str()), DECISION_SORT_KEY),
            "dynamodb:DeleteItem",
        )
        .await
    }

    async fn lock_rollback(&self, arn: &str, lock: &DecisionLock) -> Result<Created, StoreError> {
        let mut item = key(deployment_pk(arn), ROLLBACK_SORT_KEY);
        item.insert(schema::BODY.to_owned(), s(encode_json(lock)?));
        item.insert(schema::TTL_ATTRIBUTE.to_owned(), self.expiry(Utc::now()));
        self.put_new(item, "dynamodb:PutItem").await
    }

    async fn rollback_lock(&self, arn: &str) -> Result<Option<DecisionLock>, StoreError> {
        Ok(self
            .get(
                key(deployment_pk(arn), ROLLBACK_SORT_KEY),
                "dynamodb:GetItem",
            )
            .await?
            .as_ref()
            .and_then(lock_of))
    }

    async fn unlock_rollback(&self, arn: &str) -> Result<(), StoreError> {
        self.delete(
            key(deployment_pk(arn), ROLLBACK_SORT_KEY),
            "dynamodb:DeleteItem",
        )
        .await
    }

    async fn latest_for_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<Stored>, StoreError> {
        let items = self
            .query(
                Some(schema::BY_SERVICE),
                "#k = :k",
                &[("#k", schema::SERVICE_KEY)],
                &[(":k", s(format!("{cluster}/{service}")))],
                true,
            )
            .await?;
        match items.first() {
            Some(item) => self.decode_item(item).map(Some),
            None => Ok(None),
        }
    }

    async fn supersede(
        &self,
        parameter: &str,
        gate: &GateId,
    ) -> Result<Option<GateId>, StoreError> {
        let mut item = key(format!("PARAMETER#{parameter}"), RECIPE_SORT_KEY);
        item.insert(schema::BODY.to_owned(), s(gate.as_str()));
        item.insert(schema::TTL_ATTRIBUTE.to_owned(), self.expiry(Utc::now()));
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|err| unavailable("dynamodb:PutItem", &err))?;
        Ok(out
            .attributes
            .as_ref()
            .and_then(|old| text(old, schema::BODY))
            .and_then(|id| id.parse().ok()))
    }

    async fn deployment_gates(&self, arn: &str) -> Result<Vec<Stored>, StoreError> {
        self.query_gates(schema::BY_DEPLOYMENT, arn).await
    }

    async fn open_gates(&self, which: &OpenGates) -> Result<Vec<Stored>, StoreError> {
        let gates = match which {
            OpenGates::InChannel(channel) => {
                self.query_gates(schema::OPEN_BY_CHANNEL, channel).await?
            }
            OpenGates::OfService(service) => {
                self.query_gates(schema::OPEN_BY_SERVICE, service).await?
            }
            OpenGates::All => {
                self.query_gates(schema::OPEN_GATES, schema::OPEN_GATE_VALUE)
                    .await?
            }
        };
        // An index is eventually consistent: a gate that closed a moment ago may still be there.
        // The sweep's index also holds closed gates whose card is stale.
        Ok(gates
            .into_iter()
            .filter(|stored| match which {
                OpenGates::All => stored.record.needs_sweep(),
                _ => stored.record.status.is_open(),
            })
            .collect())
    }
}
