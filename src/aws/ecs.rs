//! [`Deployments`] on Amazon ECS's service-deployment APIs.

use async_trait::async_trait;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, StopServiceDeploymentStopType, TaskDefinitionField,
};
use chrono::{DateTime, Utc};

use super::adapter_error;
use crate::domain::evidence::{ContainerImage, TaskCount};
use crate::domain::gate::Decision;
use crate::domain::progress::TrafficPlan;
use crate::ports::{
    AdapterError, DeploymentAlarms, DeploymentLookup, DeploymentStage, DeploymentState,
    DeploymentStatus, Deployments, HookState, HookTargetType, LifecycleHookStatus, RevisionDetails,
    Rollback,
};

#[derive(Debug, Clone)]
pub struct EcsDeployments {
    client: Client,
}

impl EcsDeployments {
    pub fn new(client: Client) -> Self {
        EcsDeployments { client }
    }
}

fn to_chrono(time: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

#[async_trait]
impl DeploymentLookup for EcsDeployments {
    async fn describe(&self, arn: &str) -> Result<Option<DeploymentState>, AdapterError> {
        let output = self
            .client
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|err| adapter_error("ecs:DescribeServiceDeployments", &err))?;
        let Some(found) = output
            .service_deployments
            .unwrap_or_default()
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let configuration = found.deployment_configuration.as_ref();
        let plan = TrafficPlan {
            strategy: configuration
                .and_then(|c| c.strategy.as_ref())
                .map(|s| s.as_str().to_owned()),
            bake_time_minutes: configuration
                .and_then(|c| c.bake_time_in_minutes)
                .and_then(|minutes| u32::try_from(minutes).ok()),
            linear_step_percent: configuration
                .and_then(|c| c.linear_configuration.as_ref())
                .and_then(|linear| linear.step_percent),
            canary_percent: configuration
                .and_then(|c| c.canary_configuration.as_ref())
                .and_then(|canary| canary.canary_percent),
        };
        let target_production_weight = found
            .target_service_revision
            .as_ref()
            .and_then(|revision| revision.requested_production_traffic_weight);
        let updated_at = found.updated_at.as_ref().and_then(to_chrono);
        let alarms = found
            .alarms
            .as_ref()
            .map(|alarms| DeploymentAlarms {
                names: alarms.alarm_names.clone().unwrap_or_default(),
                triggered: alarms.triggered_alarm_names.clone().unwrap_or_default(),
            })
            .filter(|alarms| !alarms.names.is_empty());
        let target_tasks = found
            .target_service_revision
            .as_ref()
            .map(|revision| TaskCount {
                running: u32::try_from(revision.running_task_count).unwrap_or(0),
                desired: u32::try_from(revision.requested_task_count).unwrap_or(0),
            });
        Ok(Some(DeploymentState {
            arn: found
                .service_deployment_arn
                .unwrap_or_else(|| arn.to_owned()),
            status: found
                .status
                .map(|s| DeploymentStatus::from_ecs(s.as_str()))
                .unwrap_or_default(),
            status_reason: found.status_reason,
            lifecycle_stage: found
                .lifecycle_stage
                .map(|s| DeploymentStage::from_ecs(s.as_str())),
            rollback: found.rollback.map(|rollback| Rollback {
                reason: rollback.reason,
                started_at: rollback.started_at.as_ref().and_then(to_chrono),
            }),
            source_revisions: found
                .source_service_revisions
                .unwrap_or_default()
                .into_iter()
                .filter_map(|revision| revision.arn)
                .collect(),
            target_revision: found
                .target_service_revision
                .and_then(|revision| revision.arn),
            hooks: found
                .lifecycle_hook_details
                .unwrap_or_default()
                .into_iter()
                .map(|hook| HookState {
                    hook_id: hook.hook_id.unwrap_or_default(),
                    target_type: hook
                        .target_type
                        .map(|t| HookTargetType::from_ecs(t.as_str()))
                        .unwrap_or_default(),
                    status: hook
                        .status
                        .map(|s| LifecycleHookStatus::from_ecs(s.as_str()))
                        .unwrap_or_default(),
                    expires_at: hook.expires_at.as_ref().and_then(to_chrono),
                    timeout_action: hook.timeout_action.and_then(|a| a.as_str().parse().ok()),
                })
                .collect(),
            updated_at,
            plan,
            target_production_weight,
            alarms,
            target_tasks,
        }))
    }
}

#[async_trait]
impl Deployments for EcsDeployments {
    async fn continue_hook(
        &self,
        arn: &str,
        hook_id: &str,
        action: Decision,
    ) -> Result<(), AdapterError> {
        let action = match action {
            Decision::Approved => DeploymentLifecycleHookAction::Continue,
            Decision::Rejected => DeploymentLifecycleHookAction::Rollback,
        };
        self.client
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook_id)
            .action(action)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| adapter_error("ecs:ContinueServiceDeployment", &err))
    }

    async fn revisions(&self, arns: &[String]) -> Result<Vec<RevisionDetails>, AdapterError> {
        let output = self
            .client
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|err| adapter_error("ecs:DescribeServiceRevisions", &err))?;
        Ok(output
            .service_revisions
            .unwrap_or_default()
            .into_iter()
            .filter_map(|revision| {
                Some(RevisionDetails {
                    arn: revision.service_revision_arn?,
                    task_definition: revision.task_definition?,
                    images: revision
                        .container_images
                        .unwrap_or_default()
                        .into_iter()
                        .map(|image| ContainerImage {
                            container: image.container_name.unwrap_or_default(),
                            image: image.image.unwrap_or_default(),
                            digest: image.image_digest,
                        })
                        .collect(),
                })
            })
            .collect())
    }

    async fn task_definition_tags(
        &self,
        task_definition: &str,
    ) -> Result<Vec<(String, String)>, AdapterError> {
        let output = self
            .client
            .describe_task_definition()
            .task_definition(task_definition)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|err| adapter_error("ecs:DescribeTaskDefinition", &err))?;
        Ok(output
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|tag| Some((tag.key?, tag.value.unwrap_or_default())))
            .collect())
    }

    async fn stop_with_rollback(&self, arn: &str) -> Result<(), AdapterError> {
        self.client
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| adapter_error("ecs:StopServiceDeployment", &err))
    }
}
