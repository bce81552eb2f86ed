//! The context budget: how many tokens the next prompt will hold.
//!
//! Engines count the prompt of every turn (the local engine with the
//! model's tokenizer, a server in its reported usage), but only after the
//! turn; the decision to compact comes before the next one, whose prompt
//! also holds the tool results appended since. So the last count is taken
//! as exact, and only what was appended after it is estimated, at the
//! tokens-per-byte rate that last count showed for the whole conversation.
//! Before any count (a first turn, a resumed conversation, a compaction),
//! the whole conversation is estimated at that rate, or at a cautious
//! default rate before the engine ever reported one.

use crate::conversation::Message;
use crate::engine::Usage;

/// Tokens per byte before an engine reports one: about 3 bytes a token,
/// a little more tokens than English prose or code usually take, so an
/// estimate errs towards compacting early rather than overflowing.
const DEFAULT_TOKENS_PER_BYTE: f64 = 1.0 / 3.0;
/// Bytes a message's role markers and separators stand for.
const MESSAGE_OVERHEAD_BYTES: usize = 16;

/// What is known about the conversation's size in tokens.
#[derive(Debug, Clone)]
pub struct Budget {
    tokens_per_byte: f64,
    /// An engine has counted a prompt (`tokens_per_byte` is measured).
    calibrated: bool,
    /// The conversation's tokens after the last counted turn (its prompt
    /// and its output) and how many messages it had then.
    known: Option<(u64, usize)>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            tokens_per_byte: DEFAULT_TOKENS_PER_BYTE,
            calibrated: false,
            known: None,
        }
    }
}

impl Budget {
    /// Takes in a finished turn's counts. `messages` is the conversation
    /// with the turn's assistant message just appended, `tools_bytes` the
    /// size of the tool list the prompt held.
    pub fn observe(&mut self, usage: Usage, messages: &[Message], tools_bytes: usize) {
        let Some(prompt) = usage.prompt_tokens else {
            return;
        };
        let prompt_messages = &messages[..messages.len().saturating_sub(1)];
        let bytes = conversation_bytes(prompt_messages) + tools_bytes;
        if bytes > 0 && prompt > 0 {
            self.tokens_per_byte = prompt as f64 / bytes as f64;
            self.calibrated = true;
        }
        let total = prompt + usage.completion_tokens.unwrap_or(0);
        self.known = Some((total, messages.len()));
    }

    /// Whether an engine's count stands behind the estimates (else they
    /// use the cautious default rate, and may run high).
    pub fn calibrated(&self) -> bool {
        self.calibrated
    }

    /// Forgets the last count (the conversation was replaced).
    pub fn forget(&mut self) {
        self.known = None;
    }

    /// The tokens of the next prompt for `messages`.
    pub fn next_prompt(&self, messages: &[Message], tools_bytes: usize) -> u64 {
        match self.known {
            Some((total, len)) if len <= messages.len() => {
                total + self.tokens(conversation_bytes(&messages[len..]))
            }
            _ => self.fresh(messages, tools_bytes),
        }
    }

    /// The tokens of a prompt for `messages`, estimated whole.
    pub fn fresh(&self, messages: &[Message], tools_bytes: usize) -> u64 {
        self.tokens(conversation_bytes(messages) + tools_bytes)
    }

    fn tokens(&self, bytes: usize) -> u64 {
        (bytes as f64 * self.tokens_per_byte).ceil() as u64
    }
}

/// The bytes of `messages` as a prompt renders them: the raw output where a
/// turn has one (it goes back verbatim), else its parts.
pub fn conversation_bytes(messages: &[Message]) -> usize {
    messages.iter().map(message_bytes).sum()
}

fn message_bytes(message: &Message) -> usize {
    MESSAGE_OVERHEAD_BYTES
        + match message {
            Message::System { content } | Message::User { content } => content.len(),
            Message::Tool { content, .. } => content.len(),
            Message::Assistant {
                content,
                reasoning_content,
                tool_calls,
                raw,
                ..
            } => match raw {
                Some(raw) => raw.len(),
                None => {
                    content.len()
                        + reasoning_content.as_ref().map_or(0, String::len)
                        + tool_calls
                            .iter()
                            .map(|call| {
                                call.function.name.len()
                                    + serde_json::to_string(&call.function.arguments)
                                        .map_or(0, |s| s.len())
                            })
                            .sum::<usize>()
                }
            },
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: Some(prompt),
            completion_tokens: Some(completion),
        }
    }

    #[test]
    fn a_count_is_exact_and_only_what_follows_it_is_estimated() {
        let mut budget = Budget::default();
        let mut messages = vec![Message::user("x".repeat(984))];
        assert_eq!(budget.next_prompt(&messages, 0), 334, "1000 bytes at 1/3");
        assert!(!budget.calibrated());
        messages.push(Message::user("answer"));
        // 1000 bytes of prompt counted as 250 tokens: 1/4 token per byte.
        budget.observe(usage(250, 10), &messages, 0);
        assert!(budget.calibrated());
        assert_eq!(budget.next_prompt(&messages, 0), 260);
        messages.push(Message::tool_result("call_1", "y".repeat(384)));
        assert_eq!(budget.next_prompt(&messages, 0), 260 + 100);
        budget.forget();
        assert_eq!(
            budget.next_prompt(&messages, 0),
            budget.fresh(&messages, 0),
            "after a compaction the whole conversation is estimated"
        );
    }

    #[test]
    fn an_engine_that_cannot_count_keeps_the_estimate() {
        let mut budget = Budget::default();
        let messages = vec![Message::user("x".repeat(284))];
        budget.observe(Usage::default(), &messages, 0);
        assert!(!budget.calibrated());
        assert_eq!(budget.next_prompt(&messages, 0), 100);
    }
}
