//! Building the index in the background: started with the session, so a
//! large tree never holds up the first frame, and waited for (up to a
//! bound) only when the first turn's system prompt is written.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::index::Index;

/// A background build of the workspace's index. Cloning shares it.
#[derive(Clone)]
pub struct RepoMapJob {
    state: Arc<State>,
    max_tokens: usize,
}

struct State {
    /// `None` while running; then the index, or `None` inside when the
    /// build could not run (no thread, or a panic in a parser).
    done: Mutex<Option<Option<Arc<Index>>>>,
    finished: Condvar,
    started: Instant,
}

impl std::fmt::Debug for RepoMapJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoMapJob")
            .field("started", &self.state.started)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl RepoMapJob {
    /// Starts indexing `root` on a thread of its own, through the cache in
    /// `cache_dir`; the map it gives is cut to `max_tokens`.
    pub fn spawn(root: PathBuf, cache_dir: Option<PathBuf>, max_tokens: usize) -> RepoMapJob {
        let state = Arc::new(State {
            done: Mutex::new(None),
            finished: Condvar::new(),
            started: Instant::now(),
        });
        let worker = state.clone();
        let spawned = std::thread::Builder::new()
            .name("glint-repomap".into())
            .spawn(move || {
                let built = std::panic::catch_unwind(|| {
                    let index = Index::build(&root, cache_dir.as_deref());
                    // The graph too, so the first turn only ranks.
                    index.links();
                    index
                });
                if built.is_err() {
                    tracing::warn!("building the repo map failed; the session goes on without it");
                }
                worker.finish(built.ok().map(Arc::new));
            });
        if let Err(e) = spawned {
            tracing::warn!(
                "cannot start the repo map thread ({e}); the session goes on without it"
            );
            state.finish(None);
        }
        RepoMapJob { state, max_tokens }
    }

    /// When the build started.
    pub fn started(&self) -> Instant {
        self.state.started
    }

    /// The token budget of the map.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The index, if the build has finished (and succeeded).
    pub fn try_get(&self) -> Option<Arc<Index>> {
        self.state.lock().clone().flatten()
    }

    /// The index, waiting for the build until `deadline` at the latest.
    pub fn wait_until(&self, deadline: Instant) -> Option<Arc<Index>> {
        let mut done = self.state.lock();
        loop {
            if let Some(result) = done.as_ref() {
                return result.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            done = match self.state.finished.wait_timeout(done, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Option<Arc<Index>>>> {
        // Nothing can leave the slot half-written: a poisoned lock still
        // holds a whole value.
        self.done
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn finish(&self, result: Option<Arc<Index>>) {
        *self.lock() = Some(result);
        self.finished.notify_all();
    }
}
