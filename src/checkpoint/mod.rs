//! Checkpoints and undo: every file change the agent makes can be taken
//! back byte for byte.
//!
//! Around each mutating tool call (write_file, edit_file, shell,
//! git_commit, any MCP tool) the workspace is snapshotted as git objects
//! before and after ([`snapshot`]); the difference is the call's change
//! set. A non-empty one is stored as a checkpoint on a private ref
//! ([`store`]) and undo puts the files back ([`restore`]), after checking
//! that the user has not changed them since, so their work is never
//! overwritten silently.
//!
//! Files `.gitignore` excludes (build output such as `target/`), `.git`
//! itself, files over [`snapshot::MAX_FILE_BYTES`] and empty directories
//! are not checkpointed.

pub mod command;
mod restore;
mod snapshot;
mod store;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use git2::Repository;

use crate::tools::{ToolContext, ToolOutcome};

pub use snapshot::{MAX_FILE_BYTES, MAX_FILES};
pub use store::{ChangeKind, Checkpoint, FileChange, Location, Meta, REF_PREFIX};

/// Why checkpointing or undo failed. Each message is one line saying what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint repository: {0}")]
    Git(#[from] git2::Error),
    #[error(
        "the workspace has more than {0} files, too many to checkpoint; add build output to .gitignore"
    )]
    TooManyFiles(usize),
    #[error("no data directory for the shadow checkpoint repository; set XDG_DATA_HOME")]
    NoDataDir,
    #[error("cannot use the shadow checkpoint repository {}: {reason}", path.display())]
    Shadow { path: PathBuf, reason: String },
    #[error(
        "a stored checkpoint is unreadable ({0}); delete the refs under refs/glint/checkpoints/ to start afresh"
    )]
    Corrupt(String),
    #[error("undo refused: you changed {} after glint did; `undo --force` overwrites them", .0.join(", "))]
    Conflict(Vec<String>),
    #[error(
        "undo refused: `{0}` now lies under a symlink or outside the workspace; restore it by hand"
    )]
    Unsafe(String),
    #[error("cannot restore `{path}`: {reason}; undo stopped part-way, check `git status`")]
    Restore { path: String, reason: String },
    #[error(
        "nothing to undo: glint has made no changes in this workspace (that it still has checkpoints of)"
    )]
    Nothing,
    #[error("the checkpoint store's lock was poisoned by a panic; restart glint")]
    Poisoned,
}

/// Whether a call of `tool` may change files and so gets checkpointed.
///
/// Every MCP tool counts, as a shell command does: a server may write files
/// (the filesystem server's `write_file`), and its `readOnlyHint` is the
/// server's claim, not a guarantee. A call that changed nothing stores no
/// checkpoint.
pub fn is_mutating(tool: &str) -> bool {
    matches!(tool, "write_file" | "edit_file" | "shell" | "git_commit")
        || crate::mcp::is_mcp_tool(tool)
}

/// What an undo took back, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoReport {
    pub undone: Vec<Checkpoint>,
}

impl UndoReport {
    /// The note the model is given, so it knows its changes are gone.
    pub fn note_for_model(&self) -> String {
        let mut note = String::from(
            "[glint] The user undid these changes of yours; the files are back as they were before each call:\n",
        );
        for checkpoint in &self.undone {
            // The call id, where known, names the very call taken back.
            let call = checkpoint
                .meta
                .call_id
                .as_deref()
                .map(|id| format!(" call {id}"))
                .unwrap_or_default();
            note.push_str(&format!(
                "- {}{call} ({}): {}\n",
                checkpoint.meta.tool,
                checkpoint.meta.summary,
                files_line(&checkpoint.meta.files)
            ));
        }
        note
    }
}

/// `a.rs (created), b.rs (modified)`.
pub fn files_line(files: &[FileChange]) -> String {
    files
        .iter()
        .map(|f| format!("{} ({})", f.path, f.change.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The snapshot taken before a call, waiting for the one after.
pub struct Before {
    tree: snapshot::Snapshot,
}

/// The checkpoints of one session in one workspace. Shared by the tool
/// registry (which records) and the front end (which lists and undoes).
pub struct Checkpoints {
    root: PathBuf,
    session: String,
    location: Location,
    inner: Mutex<Inner>,
}

struct Inner {
    repo: Repository,
    cache: snapshot::StatCache,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints")
            .field("root", &self.root)
            .field("session", &self.session)
            .finish()
    }
}

impl Checkpoints {
    /// A new session for the workspace at `root`; the shadow repository (if
    /// one is needed) goes under `shadow_base`, by default the user's data
    /// directory's `glint/shadow`.
    pub fn new_session(root: &Path, shadow_base: Option<&Path>) -> Result<Self, CheckpointError> {
        let (repo, location) = store::open_repository(root, shadow_base)?;
        store::prune_sessions(&repo, root)?;
        Ok(Self::with(
            root,
            store::new_session_id(root),
            location,
            repo,
        ))
    }

    /// The workspace's most recent session that still has checkpoints:
    /// what `glint undo` and `glint checkpoints` act on.
    pub fn latest_session(
        root: &Path,
        shadow_base: Option<&Path>,
    ) -> Result<Option<Self>, CheckpointError> {
        let (repo, location) = store::open_repository(root, shadow_base)?;
        let sessions = store::sessions(&repo, root)?;
        Ok(sessions
            .last()
            .cloned()
            .map(|session| Self::with(root, session, location, repo)))
    }

    fn with(root: &Path, session: String, location: Location, repo: Repository) -> Self {
        Checkpoints {
            root: root.to_path_buf(),
            session,
            location,
            inner: Mutex::new(Inner {
                repo,
                cache: snapshot::StatCache::default(),
            }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    /// The session's ref.
    pub fn ref_name(&self) -> String {
        format!("{REF_PREFIX}{}", self.session)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, CheckpointError> {
        self.inner.lock().map_err(|_| CheckpointError::Poisoned)
    }

    /// How many files snapshots have read and hashed so far (the stat cache
    /// spares unchanged ones).
    pub fn hashed_files(&self) -> u64 {
        self.lock().map(|inner| inner.cache.hashed).unwrap_or(0)
    }

    /// Snapshots the workspace before a call (blocking).
    pub fn before(&self) -> Result<Before, CheckpointError> {
        let mut inner = self.lock()?;
        let Inner { repo, cache } = &mut *inner;
        Ok(Before {
            tree: snapshot::take(repo, &self.root, self.location.path(), cache)?,
        })
    }

    /// Snapshots the workspace after a call and stores the change set as a
    /// checkpoint; `None` when the call changed nothing (blocking).
    pub fn after(
        &self,
        before: Before,
        tool: &str,
        call_id: Option<&str>,
        summary: &str,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        let mut inner = self.lock()?;
        let Inner { repo, cache } = &mut *inner;
        let after = snapshot::take(repo, &self.root, self.location.path(), cache)?;
        let changes = restore::diff(&before.tree, &after);
        if changes.is_empty() {
            return Ok(None);
        }
        let meta = Meta {
            tool: tool.to_string(),
            call_id: call_id.map(str::to_string),
            summary: summary.to_string(),
            time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            files: restore::describe(&changes),
        };
        let before_tree = snapshot::write_tree(repo, &before.tree)?;
        let after_tree = snapshot::write_tree(repo, &after)?;
        let id = store::append(repo, &self.session, before_tree, after_tree, &meta)?;
        Ok(Some(Checkpoint {
            id,
            before: before_tree,
            after: after_tree,
            meta,
        }))
    }

    /// The session's checkpoints, oldest first.
    pub fn list(&self) -> Result<Vec<Checkpoint>, CheckpointError> {
        let inner = self.lock()?;
        store::list(&inner.repo, &self.session)
    }

    /// Undoes the newest `n` checkpoints: every file they touched goes back
    /// to its state before the oldest of them. Refuses, naming the files,
    /// when any of them is no longer as the agent left it (the user changed
    /// it after the agent did, also between two of the undone calls),
    /// unless `force`.
    pub fn undo(&self, n: usize, force: bool) -> Result<UndoReport, CheckpointError> {
        let mut inner = self.lock()?;
        let Inner { repo, cache } = &mut *inner;
        let all = store::list(repo, &self.session)?;
        if all.is_empty() || n == 0 {
            return Err(CheckpointError::Nothing);
        }
        let undone: Vec<Checkpoint> = all.iter().rev().take(n).cloned().collect();
        // For each path, newest first: what the workspace must hold now
        // (the newest after-state) and what it goes back to (the oldest
        // before-state); any gap between one call's after and the next
        // one's before is a change the user made in between.
        let mut expected: BTreeMap<Vec<u8>, Option<snapshot::Entry>> = BTreeMap::new();
        let mut target: BTreeMap<Vec<u8>, Option<snapshot::Entry>> = BTreeMap::new();
        let mut conflicts = Vec::new();
        let mut oldest_before = snapshot::Snapshot::default();
        for checkpoint in &undone {
            let before = snapshot::read_tree(repo, checkpoint.before)?;
            let after = snapshot::read_tree(repo, checkpoint.after)?;
            for (path, (old, new)) in restore::diff(&before, &after) {
                match target.get(&path) {
                    None => {
                        expected.insert(path.clone(), new);
                    }
                    Some(later_before) if *later_before != new => {
                        conflicts.push(restore::display(&path));
                    }
                    Some(_) => {}
                }
                target.insert(path, old);
            }
            oldest_before = before;
        }
        let current = snapshot::take(repo, &self.root, self.location.path(), cache)?;
        for (path, want) in &expected {
            if current.is_unknown(path) || current.files.get(path).copied() != *want {
                conflicts.push(restore::display(path));
            }
        }
        conflicts.sort();
        conflicts.dedup();
        if !conflicts.is_empty() && !force {
            return Err(CheckpointError::Conflict(conflicts));
        }
        restore::apply(repo, &self.root, &target, &oldest_before)?;
        let ids: Vec<u32> = undone.iter().map(|c| c.id).collect();
        store::pop(repo, &self.session, &ids)?;
        Ok(UndoReport { undone })
    }
}

/// Runs one tool call, checkpointing it when it may change files: the hook
/// [`crate::tools::ToolRegistry::call`] wraps every call in. A snapshot
/// that fails is logged and the call runs unrecorded; a call dropped
/// half-way (the user interrupted it) is still recorded, in the background.
pub async fn around<F>(
    store: &Arc<Checkpoints>,
    tool: &str,
    ctx: &ToolContext,
    call: F,
) -> ToolOutcome
where
    F: Future<Output = ToolOutcome>,
{
    if !is_mutating(tool) || ctx.workspace.root() != store.root() {
        return call.await;
    }
    let taking = store.clone();
    let before = match tokio::task::spawn_blocking(move || taking.before()).await {
        Ok(Ok(before)) => before,
        Ok(Err(error)) => {
            tracing::warn!("no checkpoint for this {tool} call: {error}");
            return call.await;
        }
        Err(error) => {
            tracing::warn!("no checkpoint for this {tool} call: {error}");
            return call.await;
        }
    };
    let mut pending = Pending {
        store: store.clone(),
        tool: tool.to_string(),
        call_id: ctx.call_id.clone(),
        before: Some(before),
    };
    let outcome = call.await;
    if let Some(before) = pending.before.take() {
        let (store, tool, summary) = (store.clone(), tool.to_string(), outcome.summary.clone());
        let call_id = ctx.call_id.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            store.after(before, &tool, call_id.as_deref(), &summary)
        })
        .await;
        log_failure(
            recorded
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
        );
    }
    outcome
}

fn log_failure<T>(result: Result<T, String>) {
    if let Err(error) = result {
        tracing::warn!("cannot record a checkpoint: {error}");
    }
}

/// A call whose after-snapshot is still due; recorded on drop.
struct Pending {
    store: Arc<Checkpoints>,
    tool: String,
    call_id: Option<String>,
    before: Option<Before>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(before) = self.before.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let tool = std::mem::take(&mut self.tool);
        let call_id = self.call_id.take();
        runtime.spawn_blocking(move || {
            log_failure(
                store
                    .after(before, &tool, call_id.as_deref(), "interrupted")
                    .map_err(|e| e.to_string()),
            );
        });
    }
}
