//! The agent loop's guards' settings and the messages they send the model.
//!
//! A small local model repeats itself, writes half a call, or is cut at the
//! token limit far more often than a frontier model; each guard catches one
//! of these where it happens and tells the model, in words it can act on,
//! what to do instead. The words live in `prompts/guards.md` so they can be
//! tuned without touching code.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::engine::{FinishReason, Usage};
use crate::tools::ToolOutcome;

/// The guards' knobs (config keys `agent.doom_loop_threshold` and
/// `agent.max_retries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    /// The n-th identical successful call in a row is refused; 0 turns the
    /// guard off. Values below 2 other than 0 are treated as 2, since a
    /// first call can never be a repeat.
    pub doom_loop_threshold: u32,
    /// How many malformed or cut turns in a row the model may retry before
    /// the run fails.
    pub max_retries: u32,
    /// When the conversation is compacted and what it keeps (the guard
    /// against outgrowing the context window; `compaction.*` keys).
    pub compaction: super::compact::CompactionSettings,
}

/// Default for `agent.doom_loop_threshold`.
pub const DEFAULT_DOOM_LOOP_THRESHOLD: u32 = 3;
/// Default for `agent.max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 2;

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            doom_loop_threshold: DEFAULT_DOOM_LOOP_THRESHOLD,
            max_retries: DEFAULT_MAX_RETRIES,
            compaction: Default::default(),
        }
    }
}

const GUARD_PROMPTS: &str = include_str!("../../prompts/guards.md");

/// The `## name` section of `prompts/guards.md`, trimmed, with each
/// `{key}` replaced by its value.
pub(super) fn notice(name: &str, values: &[(&str, String)]) -> String {
    let heading = format!("## {name}");
    let mut text = GUARD_PROMPTS
        .split("\n## ")
        .skip(1)
        .find_map(|section| {
            let (title, body) = section.split_once('\n')?;
            (format!("## {}", title.trim()) == heading).then(|| body.trim().to_string())
        })
        // A missing section is a bug caught by this module's tests; the
        // model still gets a usable message.
        .unwrap_or_else(|| format!("glint: {name}"));
    for (key, value) in values {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

/// Tells the model its output was cut, and how much room is left.
pub(super) fn cut_notice(
    reason: FinishReason,
    usage: Usage,
    context_window: Option<u64>,
) -> String {
    let room = match (usage.prompt_tokens, usage.completion_tokens, context_window) {
        (Some(prompt), Some(generated), Some(window)) => {
            let used = prompt + generated;
            notice(
                "room_window",
                &[
                    ("used", used.to_string()),
                    ("window", window.to_string()),
                    ("left", window.saturating_sub(used).to_string()),
                ],
            )
        }
        (_, Some(generated), _) => {
            notice("room_generated", &[("generated", generated.to_string())])
        }
        _ => notice("room_unknown", &[]),
    };
    let name = if reason == FinishReason::ContextLimit {
        "cut_context"
    } else {
        "cut_length"
    };
    notice(name, &[("room", room)])
}

/// The engine's finish reason made precise: a length cut that filled the
/// context window is a context-limit cut, and a normal stop after calls is
/// a stop for tool calls.
pub(super) fn refine_finish(
    reported: Option<FinishReason>,
    usage: Usage,
    context_window: Option<u64>,
    has_calls: bool,
) -> FinishReason {
    let reason = reported.unwrap_or(FinishReason::Stop);
    match reason {
        FinishReason::Length => {
            let filled = match (usage.prompt_tokens, usage.completion_tokens, context_window) {
                (Some(prompt), Some(generated), Some(window)) => prompt + generated >= window,
                _ => false,
            };
            if filled {
                FinishReason::ContextLimit
            } else {
                reason
            }
        }
        FinishReason::Stop if has_calls => FinishReason::ToolCalls,
        _ => reason,
    }
}

/// Refuses a call identical to the ones just before it when they all
/// succeeded with the same result: a model stuck in a loop learns nothing
/// from running it again. Failed and interrupted calls end a streak, so a
/// retry after a failure always runs.
#[derive(Debug)]
pub(super) struct RepeatGuard {
    threshold: u32,
    /// The last call that ran (name, canonical arguments) and its result.
    last: Option<(String, String, String)>,
    /// How many calls in a row ran as `last` with `last`'s result.
    streak: u32,
}

impl RepeatGuard {
    pub(super) fn new(threshold: u32) -> Self {
        RepeatGuard {
            threshold: if threshold == 0 { 0 } else { threshold.max(2) },
            last: None,
            streak: 0,
        }
    }

    /// Forgets every earlier call (a new run starts).
    pub(super) fn reset(&mut self) {
        self.last = None;
        self.streak = 0;
    }

    /// The refusal to return instead of running this call, if it repeats
    /// the calls before it.
    pub(super) fn refusal(
        &self,
        name: &str,
        arguments: &Map<String, Value>,
    ) -> Option<ToolOutcome> {
        if self.threshold == 0 || self.streak + 1 < self.threshold {
            return None;
        }
        let (last_name, last_args, _) = self.last.as_ref()?;
        if last_name != name || *last_args != canonical(arguments) {
            return None;
        }
        let previous = match self.streak {
            2 => "two".to_string(),
            n => n.to_string(),
        };
        Some(ToolOutcome {
            ok: false,
            content: notice(
                "doom_loop",
                &[("tool", name.to_string()), ("previous", previous)],
            ),
            summary: format!("refused: the same call {} times in a row", self.streak + 1),
        })
    }

    /// Records a call that was run (not refused).
    pub(super) fn record(
        &mut self,
        name: &str,
        arguments: &Map<String, Value>,
        outcome: &ToolOutcome,
        interrupted: bool,
    ) {
        if !outcome.ok || interrupted {
            self.reset();
            return;
        }
        let args = canonical(arguments);
        let same = self
            .last
            .as_ref()
            .is_some_and(|(n, a, result)| n == name && *a == args && *result == outcome.content);
        if same {
            self.streak += 1;
        } else {
            self.last = Some((name.to_string(), args, outcome.content.clone()));
            self.streak = 1;
        }
    }
}

/// Arguments in a form where key order does not matter.
fn canonical(arguments: &Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, String> = arguments
        .iter()
        .map(|(key, value)| (key, value.to_string()))
        .collect();
    format!("{sorted:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_the_code_names_exists() {
        for name in [
            "doom_loop",
            "cut_length",
            "cut_context",
            "room_window",
            "room_generated",
            "room_unknown",
            "unclosed_call",
            "empty_call",
            "stray_markup",
            "empty_output",
        ] {
            let text = notice(name, &[]);
            assert_ne!(text, format!("glint: {name}"), "section {name} is missing");
            assert!(!text.contains("\n## "), "{name} runs into the next section");
        }
    }

    fn ok(content: &str) -> ToolOutcome {
        ToolOutcome {
            ok: true,
            content: content.into(),
            summary: String::new(),
        }
    }

    #[test]
    fn the_third_identical_call_with_the_same_result_is_refused() {
        let mut guard = RepeatGuard::new(3);
        let mut args = Map::new();
        args.insert("path".into(), Value::String(".".into()));
        assert!(guard.refusal("list_dir", &args).is_none());
        guard.record("list_dir", &args, &ok("a"), false);
        assert!(guard.refusal("list_dir", &args).is_none());
        guard.record("list_dir", &args, &ok("a"), false);
        let refusal = guard.refusal("list_dir", &args).expect("refused");
        assert!(
            refusal.content.contains("two calls just before it"),
            "{}",
            refusal.content
        );
        // A different result, a failure or other arguments break the streak.
        let mut other = guard_with(&args, &["a", "b"]);
        assert!(other.refusal("list_dir", &args).is_none());
        other.record(
            "list_dir",
            &args,
            &ToolOutcome {
                ok: false,
                ..ok("a")
            },
            false,
        );
        other.record("list_dir", &args, &ok("a"), false);
        assert!(other.refusal("list_dir", &args).is_none());
        assert!(RepeatGuard::new(0).refusal("list_dir", &args).is_none());
    }

    fn guard_with(args: &Map<String, Value>, results: &[&str]) -> RepeatGuard {
        let mut guard = RepeatGuard::new(3);
        for result in results {
            guard.record("list_dir", args, &ok(result), false);
        }
        guard
    }

    #[test]
    fn a_length_cut_that_fills_the_window_is_a_context_limit() {
        let usage = Usage {
            prompt_tokens: Some(900),
            completion_tokens: Some(100),
        };
        let refined = refine_finish(Some(FinishReason::Length), usage, Some(1000), false);
        assert_eq!(refined, FinishReason::ContextLimit);
        let refined = refine_finish(Some(FinishReason::Length), usage, Some(4000), false);
        assert_eq!(refined, FinishReason::Length);
        assert_eq!(
            refine_finish(None, usage, None, true),
            FinishReason::ToolCalls
        );
        let notice = cut_notice(FinishReason::Length, usage, Some(4000));
        assert!(
            notice.contains("1000 of the 4000-token context window; 3000 tokens are left"),
            "{notice}"
        );
    }
}
