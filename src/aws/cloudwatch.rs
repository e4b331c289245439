//! [`AlarmStates`] on CloudWatch's `DescribeAlarms`.

use async_trait::async_trait;
use aws_sdk_cloudwatch::Client;
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

#[async_trait]
impl AlarmStates for CloudWatchAlarms {
    async fn states(&self, names: &[String]) -> Result<Vec<AlarmReading>, AdapterError> {
        let mut readings = Vec::with_capacity(names.len());
        for chunk in names.chunks(NAMES_PER_CALL) {
            let output = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .max_records(100)
                .send()
                .await
                .map_err(|err| adapter_error("cloudwatch:DescribeAlarms", &err))?;
            for alarm in output.metric_alarms.unwrap_or_default() {
                readings.push(AlarmReading {
                    name: alarm.alarm_name.unwrap_or_default(),
                    state: alarm
                        .state_value
                        .map(|state| state.as_str().to_owned())
                        .unwrap_or_default(),
                    since: alarm
                        .state_updated_timestamp
                        .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())),
                });
            }
            for alarm in output.composite_alarms.unwrap_or_default() {
                readings.push(AlarmReading {
                    name: alarm.alarm_name.unwrap_or_default(),
                    state: alarm
                        .state_value
                        .map(|state| state.as_str().to_owned())
                        .unwrap_or_default(),
                    since: alarm
                        .state_updated_timestamp
                        .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())),
                });
            }
        }
        Ok(readings)
    }
}
