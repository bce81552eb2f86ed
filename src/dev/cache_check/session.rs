//! The session `glint dev cache-check` runs: agent turns as the agent
//! records them (glint's renderer, the model's raw output written back
//! verbatim), each answered alternately by a tool result and a user
//! message, so each prompt extends the last. Optionally the session is
//! compacted (`--compact-at`), as `/compact` does it: a summary turn on the
//! conversation so far, then the compacted conversation; and stopped and
//! resumed (`--resume-at`): the conversation is read back from the session
//! log it was recorded to and continued on a fresh engine, as a new glint
//! would. Each turn, including the summary turn and the first turns after
//! the compaction and the resume, is compared with a cold prefill.

use serde::Serialize;

use super::{CacheCheckOptions, Engines, TurnKind, TurnReport, probes};
use crate::agent::compact::{self, DEFAULT_KEEP_TURNS, Split};
use crate::conversation::{Message, ToolSpec};
use crate::engine::local::LoadProgress;
use crate::engine::local::prefill::PrefillLog;
use crate::engine::{EngineError, TurnRequest};
use crate::session::record::{CompactionRecord, VERSION, now};
use crate::session::{Header, Record, Resumed, SessionLog};
use crate::tools::ToolRegistry;

/// What interrupts the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LongSession {
    /// Compact before this turn, as `/compact` does.
    pub compact_at: Option<usize>,
    /// Stop before this turn and resume on a fresh engine.
    pub resume_at: Option<usize>,
}

/// Every turn's report, and how the resume went.
#[derive(Debug, Clone, Serialize)]
pub struct SessionReport {
    pub turns: Vec<TurnReport>,
    /// Whether the resumed conversation re-rendered byte for byte as the
    /// prompt the session would have sent without the stop (`None`: no
    /// resume).
    pub resume_exact: Option<bool>,
}

impl SessionReport {
    /// The session's own turns, without the probes that follow them.
    fn session_turns(&self) -> impl Iterator<Item = &TurnReport> {
        self.turns.iter().filter(|r| !r.kind.is_probe())
    }

    /// Tokens the cached engine prefilled over the session; `None` when the
    /// engine did not report a turn's.
    pub fn prefilled(&self) -> Option<u64> {
        self.session_turns().map(|r| r.prefilled).sum()
    }

    /// Tokens of the session's prompts that the engine had not computed.
    pub fn new_tokens(&self) -> u64 {
        self.session_turns().map(|r| r.new_tokens as u64).sum()
    }

    /// Prefilled ÷ new over the whole session: 1.00 when the prefix cache
    /// reused everything it could.
    pub fn ratio(&self) -> Option<f64> {
        Some(self.prefilled()? as f64 / self.new_tokens().max(1) as f64)
    }

    /// Tokens prefilled by the turns of `kind`.
    pub fn prefilled_by(&self, kind: TurnKind) -> u64 {
        self.turns
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| r.prefilled)
            .sum()
    }
}

/// The task the session starts with.
const TASK: &str = "Turn 1: read the project and make a plan.";

/// Runs the session (see the module's documentation).
pub async fn run(
    options: &CacheCheckOptions,
    long: &LongSession,
    prefill_log: &PrefillLog,
    progress: LoadProgress,
) -> Result<SessionReport, EngineError> {
    let mut engines = Engines::load(options, progress.clone()).await?;
    let tools = if options.tools {
        ToolRegistry::builtin().specs()
    } else {
        Vec::new()
    };
    let dir = tempfile::tempdir().map_err(|e| {
        EngineError::Backend(format!("cannot make a directory for the session log: {e}"))
    })?;
    let mut log = SessionLog::create(
        dir.path().join("session.jsonl"),
        Header {
            version: VERSION,
            id: "cache-check".into(),
            time: now(),
            workspace: String::new(),
            model: options.model.clone(),
            settings: Default::default(),
        },
    );
    let mut messages = Vec::new();
    push(
        &log,
        &mut messages,
        Message::system("You are glint, a coding agent. Work step by step."),
        false,
    )?;
    push(&log, &mut messages, Message::user(TASK), true)?;
    let mut reports = Vec::with_capacity(options.turns + 1);
    let mut resume_exact = None;
    let mut kind = TurnKind::Turn;
    for turn in 1..=options.turns {
        if long.compact_at == Some(turn) {
            let report =
                compact(&mut engines, &log, &mut messages, turn, &tools, prefill_log).await?;
            reports.push(report);
            kind = TurnKind::Compacted;
        }
        if long.resume_at == Some(turn) {
            let (resumed, exact) = resume(
                &mut engines,
                &log,
                &messages,
                &tools,
                options,
                progress.clone(),
            )
            .await?;
            log = resumed.0;
            messages = resumed.1;
            resume_exact = Some(exact);
            kind = TurnKind::Resumed;
        }
        let request = request(&messages, &tools);
        let (assistant, report) = engines.turn(turn, kind, request, prefill_log).await?;
        reports.push(report);
        kind = TurnKind::Turn;
        push(&log, &mut messages, assistant, false)?;
        let next = if turn % 2 == 1 {
            Message::tool_result(
                format!("call_{turn}"),
                format!(
                    "exit code 0\nstep {turn}: {} files checked, all passed",
                    turn * 7
                ),
            )
        } else {
            Message::user(format!(
                "Turn {}: good, continue with the next step.",
                turn + 1
            ))
        };
        push(&log, &mut messages, next, false)?;
    }
    if options.probes {
        let first = options.turns + 1;
        reports.extend(probes::run(&mut engines, first, options.noise_probes, prefill_log).await?);
    }
    Ok(SessionReport {
        turns: reports,
        resume_exact,
    })
}

fn request(messages: &[Message], tools: &[ToolSpec]) -> TurnRequest {
    TurnRequest {
        messages: messages.to_vec(),
        tools: tools.to_vec(),
        thinking: true,
    }
}

/// Appends `message` to the conversation and the session log.
fn push(
    log: &SessionLog,
    messages: &mut Vec<Message>,
    message: Message,
    task: bool,
) -> Result<(), EngineError> {
    log.message(&message, task).map_err(log_error)?;
    messages.push(message);
    Ok(())
}

fn log_error(error: crate::session::SessionError) -> EngineError {
    EngineError::Backend(error.to_string())
}

/// The compaction `/compact` makes: the summary turn (reported), then the
/// conversation rebuilt around its note, recorded in the log.
async fn compact(
    engines: &mut Engines,
    log: &SessionLog,
    messages: &mut Vec<Message>,
    turn: usize,
    tools: &[ToolSpec],
    prefill_log: &PrefillLog,
) -> Result<TurnReport, EngineError> {
    let split = Split::new(messages, DEFAULT_KEEP_TURNS);
    let before = engines.computed.last().map_or(0, Vec::len) as u64;
    let window = engines.cached.backend().max_context() as u64;
    let mut summary_request = messages.clone();
    summary_request.push(compact::summary_instruction(
        before,
        Some(window),
        DEFAULT_KEEP_TURNS,
    ));
    let (written, report) = engines
        .turn(
            turn,
            TurnKind::Summary,
            request(&summary_request, tools),
            prefill_log,
        )
        .await?;
    // A tiny random model writes no sense and may never close its
    // reasoning: its raw output stands in for the note.
    let note = match written {
        Message::Assistant { raw: Some(raw), .. } => raw,
        _ => "(no note)".to_string(),
    };
    let assembled = compact::assemble(messages, split, Some(1), None, &note, || {
        "call_0".to_string()
    });
    log.record(&Record::Compaction(CompactionRecord {
        time: now(),
        reason: compact::CompactionReason::Requested,
        tokens_before: before,
        tokens_after: 0,
        elided: Vec::new(),
        summarised: assembled.summarised,
        summary: Some(note),
        summary_prompt_tokens: Some(report.prompt_tokens as u64),
        summary_completion_tokens: Some(report.generated as u64),
        messages: assembled.messages.clone(),
    }))
    .map_err(log_error)?;
    *messages = assembled.messages;
    Ok(report)
}

/// Stops and resumes: the conversation read back from the log, a fresh
/// cached engine. Returns the log to go on with and the conversation, and
/// whether it renders exactly as the one before the stop.
async fn resume(
    engines: &mut Engines,
    log: &SessionLog,
    messages: &[Message],
    tools: &[ToolSpec],
    options: &CacheCheckOptions,
    progress: LoadProgress,
) -> Result<((SessionLog, Vec<Message>), bool), EngineError> {
    let before = engines.cached.render(&request(messages, tools));
    let loaded = crate::session::load(log.path()).map_err(log_error)?;
    engines.cached = Engines::load_cached(options, progress).await?;
    engines.computed.clear();
    let after = engines.cached.render(&request(&loaded.messages, tools));
    let exact = loaded.messages == messages && after == before;
    let log = SessionLog::append_to(
        &loaded,
        Resumed {
            time: now(),
            model: options.model.clone(),
            settings: Default::default(),
        },
    );
    Ok(((log, loaded.messages), exact))
}
