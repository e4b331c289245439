//! Reading what people judge a gate by (see `domain::evidence`): when a card is posted, on every
//! sweep pass, and, for `block_on_alarm`, again when a Reroute click arrives.
//!
//! Every source is read on its own and its failure is kept as "could not be read" with the
//! reason: evidence informs a decision, and a missing piece of it must never stop one (except an
//! alarm under `block_on_alarm`, which fails closed in [`Bot::firing_alarms`]).

use chrono::Utc;

use crate::domain::evidence::{
    AlarmReading, DEPLOYER_TAG, Deployer, Evidence, Reading, RevisionChange, TaskDefinitionView,
    task_definition_name,
};
use crate::domain::record::GateRecord;
use crate::ports::{DeploymentState, RevisionDetails};

use super::Bot;

/// What one reading found: the evidence, and who deployed (when the task definition says).
pub struct Gathered {
    pub evidence: Evidence,
    pub deployer: Option<Deployer>,
}

impl Bot {
    /// Reads the evidence for a gate's card. `None` for a gate that names no deployment (a recipe
    /// gate: there is nothing to ask ECS about) or one ECS does not know.
    pub async fn gather_evidence(&self, record: &GateRecord) -> Option<Gathered> {
        let arn = record.service_deployment_arn.as_deref()?;
        let read_at = Utc::now();
        let deployment = match self.deployments.describe(arn).await {
            Ok(Some(deployment)) => deployment,
            Ok(None) => return None,
            Err(error) => {
                tracing::warn!(event = "evidence.unreadable", gate_id = %record.gate_id, source = "deployment", error = %error);
                let why = error.to_string();
                return Some(Gathered {
                    evidence: Evidence {
                        read_at,
                        revisions: Some(Reading::Unreadable(why)),
                        alarms: None,
                        tasks: None,
                    },
                    deployer: None,
                });
            }
        };
        let (revisions, alarms) = tokio::join!(
            self.read_revisions(&deployment),
            self.read_alarms(&deployment)
        );
        let tagged = match &revisions {
            Some((_, Some(target_task_definition))) => {
                self.deployer_tag(record, target_task_definition).await
            }
            _ => None,
        };
        // CI's tag first (it registered what is being deployed), then what the hook said.
        let deployer = match tagged.or_else(|| record.deployer.clone()) {
            Some(deployer) => Some(self.resolve(deployer).await),
            None => None,
        };
        Some(Gathered {
            evidence: Evidence {
                read_at,
                revisions: revisions.map(|(reading, _)| reading),
                alarms,
                tasks: deployment.target_tasks,
            },
            deployer,
        })
    }

    /// The task definitions and images of the target and source revisions, and the target's task
    /// definition ARN (for its tags).
    async fn read_revisions(
        &self,
        deployment: &DeploymentState,
    ) -> Option<(Reading<RevisionChange>, Option<String>)> {
        let target = deployment.target_revision.clone()?;
        let mut arns = vec![target.clone()];
        arns.extend(deployment.source_revisions.iter().cloned());
        let found = match self.deployments.revisions(&arns).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(event = "evidence.unreadable", deployment = %deployment.arn, source = "revisions", error = %error);
                return Some((Reading::Unreadable(error.to_string()), None));
            }
        };
        let view = |details: &RevisionDetails| TaskDefinitionView {
            name: task_definition_name(&details.task_definition),
            images: details.images.clone(),
        };
        let Some(target_details) = found.iter().find(|details| details.arn == target) else {
            let why = "ECS did not describe the target revision".to_owned();
            return Some((Reading::Unreadable(why), None));
        };
        let sources = deployment
            .source_revisions
            .iter()
            .filter_map(|arn| found.iter().find(|details| &details.arn == arn))
            .map(view)
            .collect();
        let change = RevisionChange {
            target: view(target_details),
            sources,
        };
        Some((
            Reading::Read(change),
            Some(target_details.task_definition.clone()),
        ))
    }

    /// The deployment's alarms as CloudWatch has them now; `None` when it has none configured.
    async fn read_alarms(
        &self,
        deployment: &DeploymentState,
    ) -> Option<Reading<Vec<AlarmReading>>> {
        let names = &deployment.alarms.as_ref()?.names;
        Some(match self.alarms.states(names).await {
            Ok(mut readings) => {
                // One line per configured alarm, in the configuration's order; an alarm
                // CloudWatch no longer knows is shown as such rather than dropped.
                readings.sort_by_key(|reading| names.iter().position(|name| *name == reading.name));
                for name in names {
                    if !readings.iter().any(|reading| &reading.name == name) {
                        readings.push(AlarmReading {
                            name: name.clone(),
                            state: "NOT_FOUND".to_owned(),
                            since: None,
                        });
                    }
                }
                Reading::Read(readings)
            }
            Err(error) => {
                tracing::warn!(event = "evidence.unreadable", deployment = %deployment.arn, source = "alarms", error = %error);
                Reading::Unreadable(error.to_string())
            }
        })
    }

    /// The `greenlight:deployer` tag of the target revision's task definition, if it has one
    /// that reads as a Slack user or an e-mail address.
    async fn deployer_tag(&self, record: &GateRecord, task_definition: &str) -> Option<Deployer> {
        match self.deployments.task_definition_tags(task_definition).await {
            Ok(tags) => tags
                .iter()
                .find(|(key, _)| key == DEPLOYER_TAG)
                .and_then(|(_, value)| Deployer::parse(value)),
            Err(error) => {
                tracing::warn!(event = "evidence.unreadable", gate_id = %record.gate_id, source = "task_definition", error = %error);
                None
            }
        }
    }

    /// An e-mail address as the Slack user it belongs to, when Slack says (`users.lookupByEmail`
    /// needs the `users:read.email` scope); otherwise it stays an address, shown as text.
    async fn resolve(&self, deployer: Deployer) -> Deployer {
        let Deployer::Email(address) = &deployer else {
            return deployer;
        };
        match self.slack.user_by_email(address).await {
            Ok(Some(user)) => Deployer::SlackUser(user),
            Ok(None) => deployer,
            Err(error) => {
                tracing::warn!(event = "evidence.unreadable", source = "users.lookupByEmail", slack_error = %error.code);
                deployer
            }
        }
    }

    /// The deployment's alarms in `ALARM` now, read from ECS and CloudWatch when asked (never
    /// from what the card showed). An error when they cannot be read: under `block_on_alarm`, a
    /// Reroute nobody can check the alarms for is refused.
    pub async fn firing_alarms(&self, record: &GateRecord) -> Result<Vec<AlarmReading>, String> {
        let Some(arn) = record.service_deployment_arn.as_deref() else {
            return Ok(Vec::new());
        };
        let deployment = match self.deployments.describe(arn).await {
            Ok(Some(deployment)) => deployment,
            Ok(None) => return Err("ECS does not know the deployment".to_owned()),
            Err(error) => return Err(error.to_string()),
        };
        let Some(configured) = deployment.alarms else {
            return Ok(Vec::new());
        };
        let readings = self
            .alarms
            .states(&configured.names)
            .await
            .map_err(|error| error.to_string())?;
        Ok(readings
            .into_iter()
            .filter(|alarm| alarm.firing())
            .collect())
    }

    /// Reads the evidence again and keeps it on the gate; the caller redraws the card.
    pub async fn refresh_evidence(&self, record: &GateRecord) -> Option<GateRecord> {
        let gathered = self.gather_evidence(record).await?;
        let update = self
            .gates
            .update(&record.gate_id, |stored| {
                stored.evidence = Some(gathered.evidence.clone());
                if gathered.deployer.is_some() {
                    stored.deployer = gathered.deployer.clone();
                }
            })
            .await
            .ok()
            .flatten()?;
        Some(update.after)
    }
}
