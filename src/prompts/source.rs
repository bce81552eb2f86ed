//! The system prompt an agent takes, settled at the first turn.
//!
//! Every turn's prompt must extend the one before it exactly, so the system
//! prompt can change only before the first turn. The repo map is built in
//! the background (a large tree must not hold up the app's first frame),
//! so the prompt is settled when the conversation's first message is sent:
//! the map goes in if it is ready by [`REPO_MAP_WAIT`] after it started
//! (headless runs, which send at once, wait up to then; in the app the
//! user is still typing), ranked toward what that first message mentions.
//! Otherwise the conversation starts without it, and the next one (a
//! later `/new`, the next run) finds it ready, from the cache at the latest.

use std::sync::Arc;
use std::time::Duration;

use super::{PromptInputs, render};
use crate::repomap::RepoMapJob;

/// How long after the repo map started building the first turn waits for
/// it: a warm start takes milliseconds and a cold one of a large tree
/// about this long on two cores.
pub const REPO_MAP_WAIT: Duration = Duration::from_secs(3);

/// A system prompt, and the repo map to add to it at the first turn.
/// Plain text converts into one with no map.
#[derive(Debug, Clone, Default)]
pub struct SystemPromptSource {
    /// The prompt without the map.
    text: String,
    map: Option<(RepoMapJob, Arc<PromptInputs>)>,
}

impl From<String> for SystemPromptSource {
    fn from(text: String) -> Self {
        SystemPromptSource { text, map: None }
    }
}

impl From<&str> for SystemPromptSource {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl SystemPromptSource {
    pub(super) fn new(text: String, map: Option<(RepoMapJob, Arc<PromptInputs>)>) -> Self {
        SystemPromptSource { text, map }
    }

    /// The prompt without the repo map.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The prompt for a conversation whose first message is `task`, on a
    /// blocking thread (waiting for the map and ranking it take time).
    pub async fn resolve(&self, task: &str) -> String {
        if self.map.is_none() {
            return self.text.clone();
        }
        let this = self.clone();
        let task = task.to_string();
        tokio::task::spawn_blocking(move || this.resolve_blocking(&task))
            .await
            .unwrap_or_else(|_| self.text.clone())
    }

    /// [`SystemPromptSource::resolve`], waiting on this thread.
    pub fn resolve_blocking(&self, task: &str) -> String {
        let Some((job, inputs)) = &self.map else {
            return self.text.clone();
        };
        let Some(index) = job.wait_until(job.started() + REPO_MAP_WAIT) else {
            tracing::info!(
                "the repo map was not ready {} s after it started; this conversation starts without it",
                REPO_MAP_WAIT.as_secs()
            );
            return self.text.clone();
        };
        let map = index.render(task, job.max_tokens());
        if map.trim().is_empty() {
            return self.text.clone();
        }
        let inputs = PromptInputs {
            repo_map: Some(map.trim_end().to_string()),
            ..PromptInputs::clone(inputs)
        };
        match render(&inputs) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!("cannot add the repo map to the system prompt: {e:#}");
                self.text.clone()
            }
        }
    }
}
