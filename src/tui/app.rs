//! The app's state and how agent events and model loading change it. Keys
//! and slash commands are in `input.rs`, drawing in `screen.rs`: everything
//! here takes values in and changes state, so a screen can be built in a
//! test from events alone.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use ratatui::text::Line;

use super::approval::ApprovalPrompt;
use super::commands;
use super::composer::Composer;
use super::live::LiveTurn;
use super::pager::Pager;
use super::status::{EngineState, StatusLine, git_branch};
use super::theme::Theme;
use super::transcript::{Detail, Entry, ToolEntry, key_argument};
use crate::agent::{Event, RunStatus};
use crate::approval::{Approvals, Decision};
use crate::engine::local::LoadEvent;
use crate::tools::SandboxPolicy;

/// What the app asks of the loop that owns the agent and the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this user message to the agent.
    Submit(String),
    /// Cancel the running turn.
    Cancel,
    /// Start a new conversation with the same model.
    NewSession,
    /// Load the model this `--model` value names and continue the
    /// conversation on it.
    SwitchModel(String),
    /// List the workspace's sessions (`/sessions`).
    ListSessions,
    /// Take session ID up again (`/resume [ID]`; `None`: the latest
    /// other than this one).
    Resume(Option<String>),
    /// Answer the approval request for tool call `id`.
    Approve {
        id: String,
        decision: Decision,
    },
    /// Send this op to the agent (`/compact`, `/pin`).
    Op(crate::agent::Op),
    /// Read the session log's compactions and show them (`/compacted`).
    ShowCompactions,
    /// Suspend the terminal and edit a proposal in the user's editor (the
    /// review view's `e`); the result goes to [`App::on_editor_closed`].
    Edit(super::review::EditRequest),
    Quit,
}

/// What the app starts with.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub workspace_root: PathBuf,
    /// The `--model` value, shown until the engine describes itself.
    pub model_label: String,
    pub sandbox: SandboxPolicy,
    pub theme: Theme,
}

/// Whether the last block in scrollback was a tool call (tool calls of one
/// turn sit together; everything else is set off by a blank row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Tool,
    Other,
}

/// A piece of scrollback not yet inserted.
enum Queued {
    /// Rows already laid out (streamed text, a gap between blocks).
    Rows(Vec<Line<'static>>),
    /// `entries[index]`, to render at insertion time.
    Entry { index: usize, detail: Detail },
}

/// The interactive app's whole state.
pub struct App {
    pub(super) theme: Theme,
    pub(super) workspace_root: PathBuf,
    /// Columns of the terminal, for rendering rows.
    pub(super) width: u16,
    pub(super) composer: Composer,
    /// Every finished entry, for the transcript pager.
    pub(super) entries: Vec<Entry>,
    /// What waits to go into the terminal's scrollback. Entries are
    /// rendered when they are taken, at the width of the frame that draws
    /// them (the terminal's width is only known from the first draw on).
    scrollback: Vec<Queued>,
    last_block: Option<Block>,
    pub(super) turn: Option<LiveTurn>,
    /// A run (one user message's turns) is in progress.
    pub(super) running: bool,
    pub(super) status: StatusLine,
    /// Reasoning in full (Ctrl-R) rather than one summary row.
    pub(super) show_reasoning: bool,
    /// Messages sent while the model loads or a run is going, in order.
    pub(super) queued: VecDeque<String>,
    /// Ctrl-C was pressed once; the next one quits.
    pub(super) quit_armed: bool,
    /// A one-line note above the composer (e.g. "Ctrl-C again to quit").
    pub(super) hint: Option<String>,
    pub(super) pager: Option<Pager>,
    /// `/undo` and `/checkpoints` (see `undo.rs`).
    pub(super) checkpoints: super::undo::UndoState,
    pub(super) dirty: bool,
    pub(super) quit: bool,
    /// A tool call waiting for the user's approval.
    pub(super) approval: Option<ApprovalPrompt>,
    /// The session's approval state (`/approvals`).
    pub(super) approvals: Approvals,
    /// The model's latest plan, shown above the composer.
    pub(super) plan: super::plan::PlanPanel,
    /// An edit waiting for review (full-screen, see `review/`).
    pub(super) review: Option<super::review::ReviewView>,
}

impl App {
    pub fn new(config: AppConfig) -> App {
        let mut composer = Composer::new(config.workspace_root.clone());
        composer.set_commands(commands::completion_list());
        let mut status = StatusLine::new(config.model_label, config.sandbox);
        status.git_branch = git_branch(&config.workspace_root);
        App {
            theme: config.theme,
            workspace_root: config.workspace_root,
            width: 80,
            composer,
            entries: Vec::new(),
            scrollback: Vec::new(),
            last_block: None,
            turn: None,
            running: false,
            status,
            show_reasoning: false,
            queued: VecDeque::new(),
            quit_armed: false,
            hint: None,
            pager: None,
            checkpoints: Default::default(),
            dirty: true,
            quit: false,
            approval: None,
            approvals: Approvals::default(),
            plan: Default::default(),
            review: None,
        }
    }

    /// The approval state `/approvals` shows and switches (the session's).
    pub fn set_approvals(&mut self, approvals: Approvals) {
        self.approvals = approvals;
    }

    /// The tool call waiting for approval, if any.
    pub fn approval_prompt(&self) -> Option<&ApprovalPrompt> {
        self.approval.as_ref()
    }

    /// Whether something changed since the last frame.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether the pager or the review view is open: both are drawn
    /// full-screen, by [`super::draw_pager`].
    pub fn pager_open(&self) -> bool {
        self.pager.is_some() || self.review.is_some()
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn status(&self) -> &StatusLine {
        &self.status
    }

    /// Adds a finished entry: to the transcript, and rendered to scrollback.
    pub fn push_entry(&mut self, entry: Entry) {
        let detail = Detail::compact(self.show_reasoning);
        let block = match entry {
            Entry::Tool(_) => Block::Tool,
            _ => Block::Other,
        };
        self.begin_block(block);
        self.scrollback.push(Queued::Entry {
            index: self.entries.len(),
            detail,
        });
        self.entries.push(entry);
        self.dirty = true;
    }

    fn push_rows(&mut self, rows: Vec<Line<'static>>) {
        match self.scrollback.last_mut() {
            Some(Queued::Rows(last)) => last.extend(rows),
            _ => self.scrollback.push(Queued::Rows(rows)),
        }
    }

    fn begin_block(&mut self, block: Block) {
        let gap = match self.last_block {
            None => false,
            Some(Block::Tool) => block != Block::Tool,
            Some(Block::Other) => true,
        };
        if gap {
            self.push_rows(vec![Line::default()]);
        }
        self.last_block = Some(block);
    }

    /// Moves the streamed text's finished rows to scrollback; call before
    /// each frame with the terminal's width.
    pub fn prepare_frame(&mut self, width: u16) {
        if width != self.width {
            self.width = width;
            self.dirty = true;
        }
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let rows = turn.take_committed(self.width, &self.theme);
        if rows.is_empty() {
            return;
        }
        let first = !turn.text_started;
        turn.text_started = true;
        if first {
            self.begin_block(Block::Other);
        }
        self.push_rows(rows);
    }

    /// The rows to insert above the live area now, entries rendered at the
    /// width the last [`App::prepare_frame`] gave.
    pub fn take_scrollback(&mut self) -> Vec<Line<'static>> {
        let mut rows = Vec::new();
        for queued in std::mem::take(&mut self.scrollback) {
            match queued {
                Queued::Rows(lines) => rows.extend(lines),
                Queued::Entry { index, detail } => {
                    if let Some(entry) = self.entries.get(index) {
                        rows.extend(entry.render(self.width, &self.theme, detail));
                    }
                }
            }
        }
        rows
    }

    /// Marks a frame drawn.
    pub fn frame_drawn(&mut self) {
        self.dirty = false;
    }

    /// A stage of model loading.
    pub fn on_load_event(&mut self, event: &LoadEvent) {
        let percent = match (event.bytes_done, event.bytes_total) {
            (Some(done), Some(total)) if total > 0 => Some((done.min(total) * 100 / total) as u8),
            _ => None,
        };
        self.status.engine = EngineState::Loading {
            message: event.message.clone(),
            percent,
        };
        self.dirty = true;
    }

    /// The model is loaded: sends the first message that waited for it.
    pub fn on_model_ready(&mut self, label: String, context_window: Option<u64>) -> Vec<Effect> {
        self.status.model = label;
        self.status.context_window = context_window;
        self.status.engine = EngineState::Ready;
        self.dirty = true;
        self.send_queued()
    }

    /// Loading failed; the conversation stays, `/model SPEC` tries another.
    pub fn on_model_failed(&mut self, error: String) {
        self.status.engine = EngineState::Failed;
        self.push_entry(Entry::Error(format!(
            "{error}\n/model SPEC loads another model; /quit leaves"
        )));
    }

    pub(super) fn model_ready(&self) -> bool {
        matches!(
            self.status.engine,
            EngineState::Ready | EngineState::Generating { .. }
        )
    }

    /// Sends `text` now, or queues it until the model is ready and idle.
    pub(super) fn send_or_queue(&mut self, text: String) -> Vec<Effect> {
        self.queued.push_back(text);
        self.dirty = true;
        self.send_queued()
    }

    fn send_queued(&mut self) -> Vec<Effect> {
        if self.running || !self.model_ready() {
            return Vec::new();
        }
        let Some(text) = self.queued.pop_front() else {
            return Vec::new();
        };
        self.push_entry(Entry::User(text.clone()));
        // The agent answers with RunStarted; until then the app counts the
        // run as started so that a second message queues behind it.
        self.running = true;
        vec![Effect::Submit(self.checkpoints.with_note(text))]
    }

    /// Applies one agent event; `now` times the token rate.
    pub fn on_agent_event(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        self.dirty = true;
        match event {
            Event::RunStarted { .. } => {
                self.running = true;
                self.status.engine = EngineState::Generating { tokens_per_s: None };
            }
            Event::TurnStarted { .. } => {
                self.turn = Some(LiveTurn::new(now));
                self.status.turn_tokens = Some(0);
            }
            Event::Reasoning { delta, .. } => {
                let turn = self.turn.get_or_insert_with(|| LiveTurn::new(now));
                turn.reasoning.push_str(&delta);
                self.count_delta(now);
            }
            Event::Text { delta, .. } => {
                self.commit_reasoning();
                let turn = self.turn.get_or_insert_with(|| LiveTurn::new(now));
                turn.push_text(&delta);
                self.count_delta(now);
            }
            Event::ToolCallStarted {
                name, arguments, ..
            } => {
                self.commit_reasoning();
                self.finish_text();
                let target = key_argument(&arguments);
                let turn = self.turn.get_or_insert_with(|| LiveTurn::new(now));
                self.status.running_tool = Some(name.clone());
                turn.running_tool = Some((name, target));
            }
            Event::ToolCallFinished {
                name,
                ok,
                summary,
                output,
                ..
            } => {
                self.approval = None;
                self.review = None;
                let target = self
                    .turn
                    .as_mut()
                    .and_then(|turn| turn.running_tool.take())
                    .and_then(|(_, target)| target);
                self.status.running_tool = None;
                self.push_entry(Entry::Tool(ToolEntry {
                    name,
                    target,
                    ok,
                    summary,
                    output,
                }));
            }
            Event::TurnFinished { usage, .. } => {
                self.end_turn();
                if let Some(completion) = usage.completion_tokens {
                    self.status.turn_tokens = Some(completion);
                }
                if let (Some(prompt), Some(completion)) =
                    (usage.prompt_tokens, usage.completion_tokens)
                {
                    self.status.context_used = Some(prompt + completion);
                }
            }
            Event::RunFinished { status, error, .. } => {
                self.approval = None;
                self.review = None;
                self.end_turn();
                self.running = false;
                self.hint = None;
                self.status.engine = EngineState::Ready;
                self.status.git_branch = git_branch(&self.workspace_root);
                match status {
                    RunStatus::Completed => {}
                    RunStatus::Interrupted => self.push_entry(Entry::Notice("interrupted".into())),
                    RunStatus::MaxTurns | RunStatus::ModelError | RunStatus::MalformedOutput => {
                        let message = error.unwrap_or_else(|| "the run failed".into());
                        self.push_entry(Entry::Error(message));
                    }
                }
                return self.send_queued();
            }
            Event::Warning { message } => self.push_entry(Entry::Warning(message)),
            Event::PlanUpdated { explanation, plan } => self.plan.update(explanation, plan),
            Event::ApprovalRequested {
                id,
                tool,
                summary,
                cwd,
                prefix,
            } => {
                self.approval = Some(ApprovalPrompt {
                    id,
                    tool,
                    summary,
                    cwd,
                    prefix,
                    note: None,
                });
            }
            Event::ReviewRequested { id, tool, proposal } => {
                self.open_review(id, tool, proposal);
            }
            event @ (Event::CompactionStarted { .. } | Event::Compacted { .. }) => {
                self.on_compaction_event(event)
            }
        }
        Vec::new()
    }

    fn count_delta(&mut self, now: Instant) {
        if let Some(turn) = self.turn.as_mut() {
            turn.deltas += 1;
            self.status.turn_tokens = Some(turn.deltas);
            self.status.engine = EngineState::Generating {
                tokens_per_s: turn.rate(now),
            };
        }
    }

    /// The turn's reasoning ends when its text or first call starts.
    fn commit_reasoning(&mut self) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        if turn.reasoning_done {
            return;
        }
        turn.reasoning_done = true;
        let reasoning = std::mem::take(&mut turn.reasoning);
        if !reasoning.trim().is_empty() {
            self.push_entry(Entry::Reasoning(reasoning.trim().to_string()));
        }
    }

    /// Ends the text block streaming now: its last rows to scrollback, its
    /// source to the transcript.
    fn finish_text(&mut self) {
        let width = self.width;
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let started = turn.text_started;
        let (rows, source) = turn.finish_text(width, &self.theme);
        if source.trim().is_empty() {
            return;
        }
        if !started {
            self.begin_block(Block::Other);
        }
        self.push_rows(rows);
        self.entries.push(Entry::Assistant(source));
    }

    fn end_turn(&mut self) {
        self.commit_reasoning();
        self.finish_text();
        self.turn = None;
        self.status.running_tool = None;
    }

    /// Drops everything of the conversation the app holds (after `/new`).
    pub(super) fn reset_conversation(&mut self) {
        self.turn = None;
        self.status.running_tool = None;
        self.running = false;
        self.queued.clear();
        self.status.context_used = None;
        self.status.turn_tokens = None;
        self.plan.clear();
    }
}

impl App {
    /// Forces a redraw (after a resize).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Periodic work: the composer's background file index, the token rate.
    pub fn on_tick(&mut self, now: Instant) {
        if self.composer.poll_background() {
            self.dirty = true;
        }
        if let Some(turn) = &self.turn
            && self.running
            && turn.deltas > 0
        {
            self.status.engine = EngineState::Generating {
                tokens_per_s: turn.rate(now),
            };
            self.dirty = true;
        }
    }
}
