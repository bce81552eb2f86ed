//! `update_plan`: the model's plan for a task of several steps, in Codex
//! CLI's shape (`plan`: a list of `{step, status}`, at most one step
//! `in_progress`; an optional `explanation`).
//!
//! The tool only checks the plan and confirms it. The plan's state lives in
//! the conversation: the agent core reads a successful call's arguments
//! with [`Plan::from_arguments`], keeps the latest plan for the session and
//! tells the front ends (`Event::PlanUpdated`). Because the calls are part
//! of the messages, [`latest_plan`] finds the plan again after a model
//! switch or a resumed session, with no state of its own to carry over.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Tool, ToolContext, ToolError, ToolOutput, one_line};
use crate::conversation::Message;

/// Steps a plan may have: a plan is a checklist the user reads at a glance,
/// and a model that lists more is better off grouping them.
pub const MAX_STEPS: usize = 50;
/// Characters a step may have (a short sentence).
pub const MAX_STEP_CHARS: usize = 300;

pub struct UpdatePlan;

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    InProgress,
    Completed,
}

impl StepStatus {
    /// The status as the schema names it.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::InProgress => "in_progress",
            StepStatus::Completed => "completed",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    pub step: String,
    pub status: StepStatus,
}

/// A whole plan, as the model gives it (the tool's arguments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub plan: Vec<PlanItem>,
    #[serde(default)]
    pub explanation: Option<String>,
}

impl Plan {
    /// The plan a call's arguments give, checked as the tool checks it; an
    /// error when the call would have failed.
    pub fn from_arguments(arguments: &Map<String, Value>) -> Result<Plan, ToolError> {
        let plan: Plan = serde_json::from_value(Value::Object(arguments.clone()))
            .map_err(|e| ToolError::invalid(UpdatePlan::NAME, e))?;
        plan.check()?;
        Ok(plan)
    }

    /// Refuses what a checklist cannot show: no steps, empty or overlong
    /// steps, and more than one step in progress.
    fn check(&self) -> Result<(), ToolError> {
        let invalid = |problem: String| ToolError::invalid(UpdatePlan::NAME, problem);
        if self.plan.is_empty() {
            return Err(invalid(
                "`plan` is empty; give every step of the plan, each as {\"step\": \"...\", \"status\": \"pending\"}".into(),
            ));
        }
        if self.plan.len() > MAX_STEPS {
            return Err(invalid(format!(
                "`plan` has {} steps, more than {MAX_STEPS}; group them into fewer, larger steps",
                self.plan.len()
            )));
        }
        for (index, item) in self.plan.iter().enumerate() {
            let n = index + 1;
            if item.step.trim().is_empty() {
                return Err(invalid(format!(
                    "step {n} is empty; say what the step does in a short sentence"
                )));
            }
            if item.step.chars().count() > MAX_STEP_CHARS {
                return Err(invalid(format!(
                    "step {n} is longer than {MAX_STEP_CHARS} characters; keep each step to a short sentence"
                )));
            }
        }
        let in_progress: Vec<String> = self
            .plan
            .iter()
            .enumerate()
            .filter(|(_, item)| item.status == StepStatus::InProgress)
            .map(|(index, item)| format!("{} (`{}`)", index + 1, one_line(&item.step, 60)))
            .collect();
        if in_progress.len() > 1 {
            return Err(invalid(format!(
                "{} steps are in_progress: {}; at most one step may be in progress at a time, so mark the others pending or completed",
                in_progress.len(),
                in_progress.join(", ")
            )));
        }
        Ok(())
    }

    /// How many steps have `status`.
    pub fn count(&self, status: StepStatus) -> usize {
        self.plan
            .iter()
            .filter(|item| item.status == status)
            .count()
    }

    /// The step in progress, if any.
    pub fn current(&self) -> Option<&PlanItem> {
        self.plan
            .iter()
            .find(|item| item.status == StepStatus::InProgress)
    }

    /// `2 of 5 steps completed`, `in progress: ...` when a step is.
    pub fn progress(&self) -> String {
        let total = self.plan.len();
        let steps = if total == 1 { "step" } else { "steps" };
        let done = format!(
            "{} of {total} {steps} completed",
            self.count(StepStatus::Completed)
        );
        match self.current() {
            Some(item) => format!("{done}; in progress: {}", one_line(&item.step, 80)),
            None => done,
        }
    }
}

impl Tool for UpdatePlan {
    const NAME: &'static str = "update_plan";
    type Args = Plan;

    async fn run(&self, plan: Plan, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        plan.check()?;
        Ok(ToolOutput {
            content: format!("Plan updated: {}.", plan.progress()),
            summary: plan.progress(),
        })
    }
}

/// The plan of the last `update_plan` call in `messages` that the tool
/// accepted: the session's current plan, found again from the conversation
/// alone (after a model switch or a resume).
pub fn latest_plan(messages: &[Message]) -> Option<Plan> {
    messages.iter().rev().find_map(|message| match message {
        Message::Assistant { tool_calls, .. } => tool_calls
            .iter()
            .rev()
            .filter(|call| call.function.name == UpdatePlan::NAME)
            .find_map(|call| Plan::from_arguments(&call.function.arguments).ok()),
        _ => None,
    })
}
