//! The last resort of a compaction: when eliding and the hand-off note
//! cannot bring the conversation under budget (the note and the kept turns
//! are still too big, or the summary turn itself would not fit the
//! window), whole model turns are dropped, oldest first, each with its tool
//! results, until it fits. What every compaction keeps stays: the system
//! prompt, the pinned notes and MCP tool announcements, the hand-off note,
//! the user's latest request, and the plan (the turn that set it stays
//! when it did nothing else; else the plan is restated as the model's own
//! `update_plan` call where that turn was).

use std::collections::HashSet;

use crate::conversation::Message;
use crate::tools::update_plan::{Plan, latest_plan};
use crate::tools::{Tool, UpdatePlan};

use super::{describe, kept_through_compaction, restated_plan};

/// The conversation after dropping turns.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    pub messages: Vec<Message>,
    /// Where the user's latest request is now.
    pub latest_task: Option<usize>,
    /// One line for each message dropped, for `/compacted`.
    pub dropped: Vec<String>,
    /// Whether the result fits (else every turn that may go is gone).
    pub fits: bool,
}

/// Drops the oldest model turns of `messages` until `fits` says the
/// conversation fits, never what this module's description says stays.
/// `latest_task` is the user's latest request, `plan` the current plan;
/// `call_id` names a restated plan call.
pub fn drop_oldest_turns(
    messages: &[Message],
    latest_task: Option<usize>,
    plan: Option<&Plan>,
    call_id: impl FnOnce() -> String,
    fits: impl Fn(&[Message]) -> bool,
) -> Dropped {
    if fits(messages) {
        return Dropped {
            messages: messages.to_vec(),
            latest_task,
            dropped: Vec::new(),
            fits: true,
        };
    }
    let turns = turns(messages, latest_task);
    let restated = plan.map(|plan| restated_plan(plan, call_id()));
    let mut best = None;
    for count in 1..=turns.len() {
        let candidate = without(messages, &turns[..count], latest_task, plan, &restated);
        let done = fits(&candidate.messages);
        best = Some(candidate);
        if done {
            break;
        }
    }
    match best {
        Some(mut dropped) => {
            dropped.fits = fits(&dropped.messages);
            dropped
        }
        None => Dropped {
            messages: messages.to_vec(),
            latest_task,
            dropped: Vec::new(),
            fits: false,
        },
    }
}

/// The messages of each model turn that may be dropped, oldest first: an
/// assistant message, its tool results, and glint's notices after it. The
/// turn that set the current plan with nothing but `update_plan` stays (it
/// is small, and dropping it would only restate it).
fn turns(messages: &[Message], latest_task: Option<usize>) -> Vec<Vec<usize>> {
    let plan_turn = messages
        .iter()
        .rposition(calls_update_plan)
        .filter(|&index| {
            matches!(&messages[index], Message::Assistant { tool_calls, .. }
            if tool_calls.iter().all(|call| call.function.name == UpdatePlan::NAME))
        });
    let mut turns: Vec<Vec<usize>> = Vec::new();
    // The turn the messages that follow belong to (`None`: one that stays).
    let mut current = None;
    for (index, message) in messages.iter().enumerate() {
        match message {
            Message::Assistant { .. } if Some(index) == plan_turn => current = None,
            Message::Assistant { .. } => {
                turns.push(vec![index]);
                current = Some(turns.len() - 1);
            }
            Message::System { .. } => {}
            _ if Some(index) == latest_task || stays(message) => {}
            _ => {
                if let Some(turn) = current {
                    turns[turn].push(index);
                }
            }
        }
    }
    turns
}

fn calls_update_plan(message: &Message) -> bool {
    matches!(message, Message::Assistant { tool_calls, .. }
        if tool_calls.iter().any(|call| call.function.name == UpdatePlan::NAME))
}

/// User messages no drop removes: pinned notes, MCP announcements, the
/// hand-off note.
fn stays(message: &Message) -> bool {
    kept_through_compaction(message)
        || matches!(message, Message::User { content } if content.starts_with("glint compacted"))
}

/// `messages` without the messages of `turns`, with the plan restated
/// where the first dropped turn was when the rest no longer holds it.
fn without(
    messages: &[Message],
    turns: &[Vec<usize>],
    latest_task: Option<usize>,
    plan: Option<&Plan>,
    restated: &Option<[Message; 2]>,
) -> Dropped {
    let gone: HashSet<usize> = turns.iter().flatten().copied().collect();
    let first_gone = gone.iter().min().copied();
    let rest: Vec<Message> = messages
        .iter()
        .enumerate()
        .filter(|(index, _)| !gone.contains(index))
        .map(|(_, message)| message.clone())
        .collect();
    let restate = match (plan, restated) {
        (Some(plan), Some(restated)) if latest_plan(&rest).as_ref() != Some(plan) => Some(restated),
        _ => None,
    };
    let mut out = Vec::with_capacity(rest.len() + 2);
    let mut new_task = None;
    let mut dropped = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        if Some(index) == first_gone
            && let Some(restated) = restate
        {
            out.extend(restated.iter().cloned());
        }
        if gone.contains(&index) {
            dropped.push(describe(messages, message));
            continue;
        }
        if Some(index) == latest_task {
            new_task = Some(out.len());
        }
        out.push(message.clone());
    }
    Dropped {
        messages: out,
        latest_task: new_task,
        dropped,
        fits: false,
    }
}
