//! The gate every tool call passes: runs it, asks the user (yes or no, or
//! hunk by hunk for a write or edit under `suggest`), or refuses.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::readonly::{is_allowed, is_read_only, suggested_prefix};
use super::{ApprovalPolicy, Decision, EDIT_TOOLS, SHELL_TOOL, summary};
use crate::agent::Event;
use crate::conversation::ToolCall;
use crate::review::{FileVerdict, Proposed, REVIEWED_TOOLS, Reviewed, propose};
use crate::tools::{ToolContext, ToolOutcome, ToolRegistry};
use crate::workspace::Workspace;

/// The session's approval state, shared by the agent core (which asks) and
/// the front end (which answers and may switch the policy): a cheap handle
/// to one state. The default runs everything and cannot ask.
#[derive(Clone, Default)]
pub struct Approvals {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    policy: Mutex<ApprovalPolicy>,
    /// Whether a front end answers requests (the app) or not (headless).
    can_ask: bool,
    /// Command prefixes the user allowed for the session.
    allowed: Mutex<Vec<Vec<String>>>,
    /// Requests waiting for an answer, by tool call id.
    pending: Mutex<HashMap<String, oneshot::Sender<Decision>>>,
}

impl fmt::Debug for Approvals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Approvals")
            .field("policy", &self.policy())
            .field("can_ask", &self.inner.can_ask)
            .finish_non_exhaustive()
    }
}

/// Locks `mutex`, also after a panic elsewhere poisoned it (the data are
/// plain lists, always consistent).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the gate makes of one call.
enum Need {
    Run,
    Ask,
}

impl Approvals {
    /// `policy`, with a front end that answers requests when `can_ask`.
    pub fn new(policy: ApprovalPolicy, can_ask: bool) -> Self {
        Approvals {
            inner: Arc::new(Inner {
                policy: Mutex::new(policy),
                can_ask,
                ..Inner::default()
            }),
        }
    }

    pub fn policy(&self) -> ApprovalPolicy {
        *lock(&self.inner.policy)
    }

    /// Switches the policy from the next call on (`/approvals`).
    pub fn set_policy(&self, policy: ApprovalPolicy) {
        *lock(&self.inner.policy) = policy;
    }

    /// The command prefixes allowed for this session, as typed.
    pub fn allowed_prefixes(&self) -> Vec<String> {
        lock(&self.inner.allowed)
            .iter()
            .map(|words| words.join(" "))
            .collect()
    }

    /// Answers the request for call `id`; false when none waits for it.
    pub fn answer(&self, id: &str, decision: Decision) -> bool {
        match lock(&self.inner.pending).remove(id) {
            Some(sender) => sender.send(decision).is_ok(),
            None => false,
        }
    }

    fn need(&self, tool: &str, arguments: &Map<String, Value>) -> Need {
        let policy = self.policy();
        if EDIT_TOOLS.contains(&tool) {
            return match policy {
                ApprovalPolicy::Suggest => Need::Ask,
                _ => Need::Run,
            };
        }
        if tool != SHELL_TOOL || policy == ApprovalPolicy::FullAuto {
            return Need::Run;
        }
        // Without a command the tool refuses the call itself.
        let Some(command) = arguments.get("command").and_then(Value::as_str) else {
            return Need::Run;
        };
        let allowed = is_allowed(command, &lock(&self.inner.allowed));
        let read_only = is_read_only(command);
        let run = match policy {
            // Under suggest even read-only commands are shown, unless
            // nobody can be asked (they change nothing); a command runs
            // unasked only through a prefix the user allowed.
            ApprovalPolicy::Suggest => {
                (allowed && !read_only) || (read_only && !self.inner.can_ask)
            }
            _ => allowed,
        };
        if run { Need::Run } else { Need::Ask }
    }

    /// A call of an MCP tool: it may change anything, so it is asked about
    /// like a shell command that is not read-only, unless its server marks
    /// the tool `readOnlyHint: true`, when it counts as a read-only
    /// command.
    fn need_mcp(&self, read_only: bool) -> Need {
        match self.policy() {
            ApprovalPolicy::FullAuto => Need::Run,
            ApprovalPolicy::AutoEdit if read_only => Need::Run,
            ApprovalPolicy::Suggest if read_only && !self.inner.can_ask => Need::Run,
            _ => Need::Ask,
        }
    }

    /// Decides what becomes of `call`: run it, stand in for it with an
    /// outcome (refused, denied, cancelled while waiting), or carry out the
    /// user's review of it. Emits [`Event::ApprovalRequested`] (or, for a
    /// write or edit whose change can be shown, [`Event::ReviewRequested`])
    /// through `emit` and waits for [`Approvals::answer`] when the user
    /// must decide.
    pub async fn gate(
        &self,
        call: &ToolCall,
        tools: &ToolRegistry,
        workspace: &Workspace,
        cancel: &CancellationToken,
        emit: impl Fn(Event),
    ) -> Gated {
        let tool = call.function.name.as_str();
        let arguments = &call.function.arguments;
        let need = if crate::mcp::is_mcp_tool(tool) {
            self.need_mcp(tools.is_read_only(tool))
        } else {
            self.need(tool, arguments)
        };
        if let Need::Run = need {
            return Gated::Run;
        }
        let policy = self.policy();
        if !self.inner.can_ask {
            return Gated::Done(refused(tool, policy));
        }
        if REVIEWED_TOOLS.contains(&tool) {
            match propose(tools, call, workspace).await {
                Proposed::Ready(pending) => {
                    let event = Event::ReviewRequested {
                        id: call.id.clone(),
                        tool: tool.to_string(),
                        proposal: pending.proposal.clone(),
                    };
                    return match self.ask(&call.id, event, cancel, &emit).await {
                        Some(decision) => Gated::Review(Reviewed::new(pending, decision)),
                        None => Gated::Done(cancelled_while_waiting()),
                    };
                }
                // The call changes nothing or fails by itself: its own
                // result tells the model.
                Proposed::Run => return Gated::Run,
                // Not shown as text: asked yes or no below.
                Proposed::NotText => {}
            }
        }
        // Only a shell command has a prefix to allow (an MCP tool may take
        // an argument called `command` too).
        let command = arguments
            .get("command")
            .and_then(Value::as_str)
            .filter(|_| tool == SHELL_TOOL);
        let prefix = command.and_then(suggested_prefix);
        let cwd = match arguments.get("cwd").and_then(Value::as_str) {
            Some(dir) => workspace.root().join(dir),
            None => workspace.root().to_path_buf(),
        };
        let event = Event::ApprovalRequested {
            id: call.id.clone(),
            tool: tool.to_string(),
            summary: summary::of_call(tool, arguments, workspace),
            cwd: cwd.display().to_string(),
            prefix: prefix.as_ref().map(|words| words.join(" ")),
        };
        match self.ask(&call.id, event, cancel, &emit).await {
            None => Gated::Done(cancelled_while_waiting()),
            Some(Decision::Once) => Gated::Run,
            // A review answer to a yes/no question: yes only if it accepts
            // everything.
            Some(Decision::Review(answer)) => {
                if answer.files.iter().all(|v| *v == FileVerdict::Accept) {
                    Gated::Run
                } else {
                    Gated::Done(denied(tool, answer.note.trim()))
                }
            }
            Some(Decision::AlwaysPrefix) => {
                if let Some(words) = prefix {
                    let mut allowed = lock(&self.inner.allowed);
                    if !allowed.contains(&words) {
                        allowed.push(words);
                    }
                }
                Gated::Run
            }
            Some(Decision::Deny { note }) => Gated::Done(denied(tool, note.trim())),
        }
    }

    /// Emits `event` and waits for the answer to call `id`; `None` when the
    /// run was cancelled meanwhile. An answer channel that closed counts as
    /// a denial.
    async fn ask(
        &self,
        id: &str,
        event: Event,
        cancel: &CancellationToken,
        emit: &impl Fn(Event),
    ) -> Option<Decision> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.inner.pending).insert(id.to_string(), sender);
        emit(event);
        let decision = tokio::select! {
            biased;
            _ = cancel.cancelled() => None,
            answer = receiver => Some(answer.unwrap_or(Decision::Deny { note: String::new() })),
        };
        lock(&self.inner.pending).remove(id);
        decision
    }
}

/// What the gate made of a call.
#[derive(Debug)]
pub enum Gated {
    /// Run the call as the model gave it.
    Run,
    /// This outcome stands in for the call, which does not run.
    Done(ToolOutcome),
    /// The user reviewed the call's change: carry out what they decided.
    Review(Reviewed),
}

impl Gated {
    /// Runs the call as decided: the tool itself, the stand-in outcome, or
    /// the reviewed change (see [`Reviewed::apply`]).
    pub async fn carry_out(
        self,
        tools: &ToolRegistry,
        call: &ToolCall,
        ctx: &ToolContext,
    ) -> ToolOutcome {
        match self {
            Gated::Run => {
                tools
                    .call(&call.function.name, &call.function.arguments, ctx)
                    .await
            }
            Gated::Done(outcome) => outcome,
            Gated::Review(reviewed) => reviewed.apply(tools, call, ctx).await,
        }
    }
}

/// The result for a call cancelled while it waited for the user.
fn cancelled_while_waiting() -> ToolOutcome {
    ToolOutcome {
        ok: false,
        content: "Cancelled by the user while it waited for approval; it did not run.".into(),
        summary: "cancelled".into(),
    }
}

/// The result for a call the user denied.
fn denied(tool: &str, note: &str) -> ToolOutcome {
    let content = if note.is_empty() {
        format!(
            "The user denied this {tool} call; it did not run. Do not retry it as is: ask the user what they want, or take another way."
        )
    } else {
        format!("The user denied this {tool} call; it did not run. The user's note: {note}")
    };
    ToolOutcome {
        ok: false,
        content,
        summary: "denied by the user".into(),
    }
}

/// The result for a call that needs approval where nobody can give it.
fn refused(tool: &str, policy: ApprovalPolicy) -> ToolOutcome {
    let (what, allow) = if tool == SHELL_TOOL {
        match policy {
            ApprovalPolicy::Suggest => (
                "shell commands other than read-only ones (ls, cat, grep, git status, ...)",
                "`--approval auto-edit` (read-only commands and edits) or `--approval full-auto` (everything)",
            ),
            _ => (
                "shell commands other than read-only ones (ls, cat, grep, git status, ...)",
                "`--approval full-auto`",
            ),
        }
    } else if crate::mcp::is_mcp_tool(tool) {
        (
            "calls of MCP tools that their server does not mark read-only",
            "`--approval full-auto`",
        )
    } else {
        (
            "edits (write_file, edit_file, git_commit)",
            "`--approval auto-edit` or `--approval full-auto`",
        )
    };
    ToolOutcome {
        ok: false,
        content: format!(
            "Not run: the approval policy is `{policy}`, under which {what} need the user's approval, and this headless run cannot ask. Do without it (read-only commands and the read tools still work), or the user can rerun with {allow}."
        ),
        summary: format!("needs approval ({policy})"),
    }
}
