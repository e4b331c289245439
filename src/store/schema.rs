//! The gate table's schema, written once: `greenlight table create` builds the table from it, the
//! DynamoDB adapter reads and writes by it, and a test holds `infra/template.yaml` to it.
//!
//! One table, single-table design. Every item has a string partition key `pk` and sort key `sk`:
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | a gate | `GATE#{gateId}` | `GATE` |
//! | one person's approval of a gate | `GATE#{gateId}` | `VOTE#{userId}` |
//! | a gate's decision lock (first decision wins) | `GATE#{gateId}` | `DECISION` |
//! | a deployment's "Roll back now" claim | `DEPLOYMENT#{serviceDeploymentArn}` | `ROLLBACK` |
//!
//! A gate item also carries the attributes its indexes are keyed on. The three `open_*` indexes are
//! sparse: the attributes they are keyed on exist only while the gate is open, so what they hold
//! stays as small as the number of open gates however long greenlight has run.

/// The partition key of every item.
pub const PARTITION_KEY: &str = "pk";
/// The sort key of every item.
pub const SORT_KEY: &str = "sk";
/// Epoch seconds after which DynamoDB's TTL deletes the item.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The gate record as JSON.
pub const RECORD: &str = "record";
/// Bumped by every write of a gate; every update is conditional on the version it read.
pub const VERSION: &str = "version";
/// `open`, `decided`, `timedOut` or `resolvedElsewhere`: what write conditions test.
pub const STATUS: &str = "gate_status";
/// `{requestedAt}#{gateId}`: orders a service's and a deployment's gates by when they were asked.
pub const REQUESTED_KEY: &str = "requested_key";
/// `{cluster}/{service}`, on every gate that names both.
pub const SERVICE_KEY: &str = "service_key";
/// The service-deployment ARN, on every gate that names one.
pub const DEPLOYMENT_ARN: &str = "deployment_arn";
/// The card's channel, only while the gate is open and carded.
pub const OPEN_CHANNEL: &str = "open_channel";
/// The service's name, only while the gate is open.
pub const OPEN_SERVICE: &str = "open_service";
/// [`OPEN_GATE_VALUE`], only while the sweep has work for the gate (it is open, or its card is
/// stale): the sweep's one index.
pub const OPEN_GATE: &str = "open_gate";
/// The one value of [`OPEN_GATE`]. One partition holds every open gate; open gates are few (a
/// team's deployments in flight), so it stays far below a partition's throughput.
pub const OPEN_GATE_VALUE: &str = "open";
/// A vote's or a lock's JSON body.
pub const BODY: &str = "body";

/// One global secondary index; every index projects all attributes, so a query answers without a
/// second read per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// The latest gate of a service (newest first, `Limit 1`).
pub const BY_SERVICE: Index = Index {
    name: "by_service",
    partition_key: SERVICE_KEY,
    sort_key: REQUESTED_KEY,
};
/// Every gate of one service deployment.
pub const BY_DEPLOYMENT: Index = Index {
    name: "by_deployment",
    partition_key: DEPLOYMENT_ARN,
    sort_key: REQUESTED_KEY,
};
/// The open gates of a channel (sparse).
pub const OPEN_BY_CHANNEL: Index = Index {
    name: "open_by_channel",
    partition_key: OPEN_CHANNEL,
    sort_key: REQUESTED_KEY,
};
/// The open gates of a service, by the service's name (sparse).
pub const OPEN_BY_SERVICE: Index = Index {
    name: "open_by_service",
    partition_key: OPEN_SERVICE,
    sort_key: REQUESTED_KEY,
};

/// Every open gate, carded or not (sparse): what the sweep goes through each pass.
pub const OPEN_GATES: Index = Index {
    name: "open_gates",
    partition_key: OPEN_GATE,
    sort_key: REQUESTED_KEY,
};

/// Every index of the table.
pub const INDEXES: [Index; 5] = [
    BY_SERVICE,
    BY_DEPLOYMENT,
    OPEN_BY_CHANNEL,
    OPEN_BY_SERVICE,
    OPEN_GATES,
];

/// Every attribute a key or an index key is made of (all strings), as `AttributeDefinitions`
/// lists them.
pub fn key_attributes() -> Vec<&'static str> {
    let mut names = vec![PARTITION_KEY, SORT_KEY];
    for index in INDEXES {
        for name in [index.partition_key, index.sort_key] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}
