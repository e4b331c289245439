//! [`AlarmStates`] on CloudWatch's `DescribeAlarms`.

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use chrono::DateTime;

use super::adapter_error;
use crate::domain::evidence::AlarmReading;
use crate::ports::{AdapterError, AlarmStates};

/// `DescribeAlarms` takes at most 100 names per call.
const NAMES_PER_CALL: usize = 100;

#[derive(Debug, Clone)]
pub struct CloudWatchAlarms {
    client: Client,
}

impl CloudWatchAlarms {
    pub fn new(client: Client) -> Self {
        CloudWatchAlarms { client }
    }
}

/// One alarm's name, state and when it entered it, metric or composite alike.
fn reading(
    name: Option<String>,
    state: Option<StateValue>,
    since: Option<aws_smithy_types::DateTime>,
) -> AlarmReading {
    AlarmReading {
        name: name.unwrap_or_default(),
        state: state
            .map(|state| state.as_str().to_owned())
            .unwrap_or_default(),
        since: since.and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())),
    }
}

#[async_trait]
impl AlarmStates for CloudWatchAlarms {
    async fn states(&self, names: &[String]) -> Result<Vec<AlarmReading>, AdapterError> {
        let mut readings = Vec::with_capacity(names.len());
        for chunk in names.chunks(NAMES_PER_CALL) {
            let output = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                // Without `AlarmTypes`, CloudWatch answers with metric alarms only.
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .max_records(100)
                .send()
                .await
                .map_err(|err| adapter_error("cloudwatch:DescribeAlarms", &err))?;
            let metric = output.metric_alarms.unwrap_or_default().into_iter();
            readings.extend(metric.map(|alarm| {
                reading(
                    alarm.alarm_name,
                    alarm.state_value,
                    alarm.state_updated_timestamp,
                )
            }));
            let composite = output.composite_alarms.unwrap_or_default().into_iter();
            readings.extend(composite.map(|alarm| {
                reading(
                    alarm.alarm_name,
                    alarm.state_value,
                    alarm.state_updated_timestamp,
                )
            }));
        }
        Ok(readings)
    }
}
