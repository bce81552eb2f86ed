//! Reads a finished model turn for what went wrong in its *shape*: tool calls
//! written inside the reasoning, and output that is neither a call nor an
//! answer (half a call, an empty call, stray markup, nothing at all).
//!
//! Only the interpretation changes: the turn's raw text stays in the
//! conversation exactly as generated, so every prompt still extends the one
//! before it.

use crate::conversation::ToolSpec;
use crate::glm::{ParsedToolCall, parse_complete};

const CALL_OPEN: &str = "<tool_call>";
const CALL_CLOSE: &str = "</tool_call>";
/// Tags that never belong in an answer shown to the user.
const MARKUP: [&str; 8] = [
    "<tool_call>",
    "</tool_call>",
    "<arg_key>",
    "</arg_key>",
    "<arg_value>",
    "</arg_value>",
    "<think>",
    "</think>",
];
const OBSERVATION: &str = "<|observation|>";

/// Why a turn with no call is not an answer either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Malformed {
    /// `<tool_call>` that never reached `</tool_call>`.
    UnclosedCall,
    /// `<tool_call></tool_call>`: a call naming no tool.
    EmptyCall,
    /// Other protocol tags left in the answer.
    StrayMarkup(&'static str),
    /// No answer and no call (an empty completion, `</think>` alone, or
    /// reasoning that never reached an answer).
    Empty,
}

impl Malformed {
    /// The `prompts/guards.md` section that tells the model, and the values
    /// it needs.
    pub(super) fn notice(&self) -> String {
        match self {
            Malformed::UnclosedCall => super::guards::notice("unclosed_call", &[]),
            Malformed::EmptyCall => super::guards::notice("empty_call", &[]),
            Malformed::StrayMarkup(tag) => {
                super::guards::notice("stray_markup", &[("tag", (*tag).to_string())])
            }
            Malformed::Empty => super::guards::notice("empty_output", &[]),
        }
    }

    /// A few words for the user and the run's error.
    pub(super) fn describe(&self) -> String {
        match self {
            Malformed::UnclosedCall => "a tool call that was never closed".into(),
            Malformed::EmptyCall => "an empty tool call naming no tool".into(),
            Malformed::StrayMarkup(tag) => format!("stray tool-call markup ({tag})"),
            Malformed::Empty => "no answer and no tool call".into(),
        }
    }
}

/// Complete tool calls the model wrote inside its reasoning, to be run when
/// the turn made no call after `</think>` and either said nothing visible or
/// stopped to wait for tool results (`<|observation|>`). A turn that went on
/// to answer in plain text keeps its answer: a call quoted while thinking is
/// not run behind the user's back.
pub(super) fn leaked_calls(
    reasoning: &str,
    text: &str,
    raw: Option<&str>,
    tools: &[ToolSpec],
) -> Vec<ParsedToolCall> {
    if !reasoning.contains(CALL_OPEN) {
        return Vec::new();
    }
    let waits_for_results = raw.is_some_and(|raw| raw.trim_end().ends_with(OBSERVATION));
    if !text.trim().is_empty() && !waits_for_results {
        return Vec::new();
    }
    parse_complete(reasoning, tools, false).tool_calls
}

/// What is wrong with a turn that made no call, or `None` when its text is
/// a proper answer. `reasoning` is checked only when there is no text, for a
/// call the model began there and never finished.
pub(super) fn malformed(reasoning: &str, text: &str, tools: &[ToolSpec]) -> Option<Malformed> {
    if let Some(problem) = markup_problem(text) {
        return Some(problem);
    }
    if !text.trim().is_empty() {
        return None;
    }
    if reasoning.contains(CALL_OPEN) {
        // The reasoning held no complete call (those would have run); what
        // the parser hands back of a broken one says which way it broke.
        let leftover = parse_complete(reasoning, tools, false).content;
        if let Some(problem) = markup_problem(&leftover) {
            return Some(problem);
        }
    }
    Some(Malformed::Empty)
}

fn markup_problem(text: &str) -> Option<Malformed> {
    if let Some(at) = text.find(CALL_OPEN) {
        let after = text[at + CALL_OPEN.len()..].trim_start();
        return Some(if after.starts_with(CALL_CLOSE) {
            Malformed::EmptyCall
        } else {
            Malformed::UnclosedCall
        });
    }
    MARKUP
        .iter()
        .find(|tag| text.contains(**tag))
        .map(|tag| Malformed::StrayMarkup(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_broken_shape_is_named() {
        let none: &[ToolSpec] = &[];
        assert_eq!(
            malformed("", "<tool_call>read_file<arg_key>path", none),
            Some(Malformed::UnclosedCall)
        );
        assert_eq!(
            malformed("", "<tool_call></tool_call>", none),
            Some(Malformed::EmptyCall)
        );
        assert_eq!(malformed("", "", none), Some(Malformed::Empty));
        assert_eq!(
            malformed("x", "see </arg_value> here", none),
            Some(Malformed::StrayMarkup("</arg_value>"))
        );
        assert_eq!(
            malformed("plan <tool_call>read_file<arg_key>path</arg_key>", "", none),
            Some(Malformed::UnclosedCall)
        );
        assert_eq!(malformed("", "The answer is 4.", none), None);
    }

    #[test]
    fn calls_in_reasoning_run_only_when_the_turn_waits_for_them() {
        let none: &[ToolSpec] = &[];
        let reasoning = "Read it.<tool_call>read_file<arg_key>path</arg_key><arg_value>a</arg_value></tool_call>";
        assert_eq!(leaked_calls(reasoning, "", None, none).len(), 1);
        assert!(leaked_calls(reasoning, "Done.", Some("<think>x</think>Done."), none).is_empty());
        assert_eq!(
            leaked_calls(
                reasoning,
                "Checking.",
                Some("...Checking.<|observation|>"),
                none
            )
            .len(),
            1
        );
    }
}
