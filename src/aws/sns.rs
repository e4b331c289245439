//! [`TopicPublisher`] and [`SubscriptionConfirmer`] on Amazon SNS.

use async_trait::async_trait;
use aws_sdk_sns::Client;

use super::adapter_error;
use crate::ports::{AdapterError, SubscriptionConfirmer, TopicPublisher};

/// Publishes to one topic.
///
/// Messages are published without a `Subject`: Amazon Q Developer and greenlight read the title
/// from the message itself, and leaving it out keeps the string-to-sign identical across SNS and
/// the moto server used in tests (which leaves `Subject` out of its signature).
#[derive(Debug, Clone)]
pub struct SnsTopic {
    client: Client,
    topic_arn: String,
}

impl SnsTopic {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsTopic {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

#[async_trait]
impl TopicPublisher for SnsTopic {
    async fn publish(&self, message: &str) -> Result<(), AdapterError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| adapter_error("sns:Publish", &err))
    }
}

/// Confirms HTTPS subscriptions through the `ConfirmSubscription` API.
#[derive(Debug, Clone)]
pub struct SnsSubscriptions {
    client: Client,
}

impl SnsSubscriptions {
    pub fn new(client: Client) -> Self {
        SnsSubscriptions { client }
    }
}

#[async_trait]
impl SubscriptionConfirmer for SnsSubscriptions {
    async fn confirm(&self, topic_arn: &str, token: &str) -> Result<(), AdapterError> {
        self.client
            .confirm_subscription()
            .topic_arn(topic_arn)
            .token(token)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| adapter_error("sns:ConfirmSubscription", &err))
    }
}
