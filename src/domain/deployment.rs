//! Identity of an ECS service deployment, parsed from its ARN.
//!
//! Everything greenlight names (the gate, its decision parameter, the console link) derives from
//! this ARN, so it is parsed strictly once, here, instead of being split ad hoc in each adapter.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A parsed `arn:PARTITION:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceDeploymentArn {
    partition: String,
    region: String,
    account: String,
    cluster: String,
    service: String,
    deployment_id: String,
}

/// Why a text is not a service-deployment ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an ECS service-deployment ARN ({reason})")]
pub struct InvalidDeploymentArn {
    pub text: String,
    pub reason: &'static str,
}

impl ServiceDeploymentArn {
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn account(&self) -> &str {
        &self.account
    }
    pub fn cluster(&self) -> &str {
        &self.cluster
    }
    pub fn service(&self) -> &str {
        &self.service
    }
    pub fn deployment_id(&self) -> &str {
        &self.deployment_id
    }

    /// The service's deployments tab in the ECS console, where a person can see this deployment.
    pub fn console_url(&self) -> String {
        let host = if self.partition == "aws-cn" {
            format!("{}.console.amazonaws.cn", self.region)
        } else {
            format!("{}.console.aws.amazon.com", self.region)
        };
        format!(
            "https://{host}/ecs/v2/clusters/{}/services/{}/deployments?region={}",
            self.cluster, self.service, self.region
        )
    }
}

/// Cluster, service and deployment names ECS allows: letters, digits, hyphens and underscores.
/// Anything else would also be unsafe in a parameter name or a Slack message, so it is refused.
fn is_ecs_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl FromStr for ServiceDeploymentArn {
    type Err = InvalidDeploymentArn;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| InvalidDeploymentArn {
            text: text.chars().take(300).collect(),
            reason,
        };
        let mut parts = text.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some("ecs"),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(fail(
                "expected arn:PARTITION:ecs:REGION:ACCOUNT:service-deployment/…",
            ));
        };
        if !partition.starts_with("aws") || !is_ecs_name(partition) {
            return Err(fail("unknown partition"));
        }
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(fail("bad region"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("the account must be 12 digits"));
        }
        let mut path = resource.split('/');
        let (Some("service-deployment"), Some(cluster), Some(service), Some(deployment_id), None) = (
            path.next(),
            path.next(),
            path.next(),
            path.next(),
            path.next(),
        ) else {
            return Err(fail("expected service-deployment/CLUSTER/SERVICE/ID"));
        };
        if ![cluster, service, deployment_id]
            .into_iter()
            .all(is_ecs_name)
        {
            return Err(fail(
                "cluster, service and deployment id may hold only letters, digits, - and _",
            ));
        }
        Ok(ServiceDeploymentArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            deployment_id: deployment_id.to_owned(),
        })
    }
}

impl fmt::Display for ServiceDeploymentArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:ecs:{}:{}:service-deployment/{}/{}/{}",
            self.partition,
            self.region,
            self.account,
            self.cluster,
            self.service,
            self.deployment_id
        )
    }
}

impl TryFrom<String> for ServiceDeploymentArn {
    type Error = InvalidDeploymentArn;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ServiceDeploymentArn> for String {
    fn from(arn: ServiceDeploymentArn) -> String {
        arn.to_string()
    }
}

/// The short name of a service or task-definition revision ARN: what a person recognises
/// (`web:42`, or the last path segment of a service revision) instead of the whole ARN.
pub fn short_revision(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/Abc123_x";

    #[test]
    fn parses_and_prints_back() {
        let arn: ServiceDeploymentArn = ARN.parse().unwrap();
        assert_eq!(arn.region(), "eu-west-1");
        assert_eq!(arn.account(), "123456789012");
        assert_eq!(arn.cluster(), "prod");
        assert_eq!(arn.service(), "web");
        assert_eq!(arn.deployment_id(), "Abc123_x");
        assert_eq!(arn.to_string(), ARN);
        assert!(arn.console_url().starts_with(
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/"
        ));
    }

    #[test]
    fn refuses_what_is_not_a_service_deployment() {
        for bad in [
            "",
            "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
            "arn:aws:sns:eu-west-1:123456789012:service-deployment/prod/web/x",
            "arn:aws:ecs:eu-west-1:1234:service-deployment/prod/web/x",
            "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web",
            "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/x/y",
            "arn:aws:ecs:eu-west-1:123456789012:service-deployment/pr od/web/x",
            "arn:aws:ecs:eu-west-1:123456789012:service-deployment/../web/x",
            "arn:aws:ecs:EU:123456789012:service-deployment/prod/web/x",
        ] {
            assert!(bad.parse::<ServiceDeploymentArn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn short_revision_keeps_the_last_segment() {
        assert_eq!(
            short_revision("arn:aws:ecs:r:1:task-definition/web:42"),
            "web:42"
        );
        assert_eq!(short_revision("web:42"), "web:42");
    }
}
