//! The ECS lifecycle stages a blue/green deployment walks through.
//!
//! Kept as an enum rather than free text so a typo in `GREENLIGHT_GATED_STAGES` fails at start-up
//! instead of silently never gating anything.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One lifecycle stage of an ECS service deployment, spelled as ECS spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleStage {
    ReconcileService,
    PreScaleUp,
    PostScaleUp,
    TestTrafficShift,
    PostTestTrafficShift,
    PreProductionTrafficShift,
    ProductionTrafficShift,
    PostProductionTrafficShift,
}

impl LifecycleStage {
    /// Every stage, in the order a deployment reaches them.
    pub const ALL: [LifecycleStage; 8] = [
        LifecycleStage::ReconcileService,
        LifecycleStage::PreScaleUp,
        LifecycleStage::PostScaleUp,
        LifecycleStage::TestTrafficShift,
        LifecycleStage::PostTestTrafficShift,
        LifecycleStage::PreProductionTrafficShift,
        LifecycleStage::ProductionTrafficShift,
        LifecycleStage::PostProductionTrafficShift,
    ];

    /// The name ECS uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::ReconcileService => "RECONCILE_SERVICE",
            LifecycleStage::PreScaleUp => "PRE_SCALE_UP",
            LifecycleStage::PostScaleUp => "POST_SCALE_UP",
            LifecycleStage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            LifecycleStage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            LifecycleStage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
        }
    }

    /// What is true of the traffic at this stage, in words a person in a deploy channel reads.
    pub fn situation(self) -> &'static str {
        match self {
            LifecycleStage::ReconcileService => "ECS is reconciling the service",
            LifecycleStage::PreScaleUp => "the new revision is about to start",
            LifecycleStage::PostScaleUp => "the new revision is running, with no traffic yet",
            LifecycleStage::TestTrafficShift => "test traffic is moving to the new revision",
            LifecycleStage::PostTestTrafficShift => {
                "test traffic is on the new revision; production is still on the old one"
            }
            LifecycleStage::PreProductionTrafficShift => {
                "production traffic is about to move to the new revision"
            }
            LifecycleStage::ProductionTrafficShift => {
                "production traffic is moving to the new revision"
            }
            LifecycleStage::PostProductionTrafficShift => {
                "production traffic is on the new revision"
            }
        }
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the stage names ECS uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an ECS lifecycle stage (expected one of RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT)"
)]
pub struct UnknownStage(pub String);

impl FromStr for LifecycleStage {
    type Err = UnknownStage;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        LifecycleStage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownStage(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_round_trips_through_its_wire_name() {
        for stage in LifecycleStage::ALL {
            assert_eq!(stage.as_str().parse::<LifecycleStage>(), Ok(stage));
            let json = serde_json::to_string(&stage).unwrap();
            assert_eq!(json, format!("\"{}\"", stage.as_str()));
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_text() {
        let err = "POST_TEST".parse::<LifecycleStage>().unwrap_err();
        assert!(err.to_string().contains("`POST_TEST`"));
    }
}
