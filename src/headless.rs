//! The headless front end: `glint --task "..."`.
//!
//! Progress goes to stderr (one line per tool call; reasoning only when
//! asked), the final answer to stdout. With `--json`, stdout carries one
//! [`Event`] per line instead and nothing else. Plain output shows control
//! characters from the model or tools as visible symbols (see
//! [`printable`]), so they cannot drive the terminal.
//!
//! The first Ctrl-C cancels the run; a second one ends glint at once
//! (exit 130), whatever is still running.

use std::io::Write;

use serde_json::Value;

use crate::agent::{AgentHandle, Event, RunStatus};
use crate::engine::local::LoadEvent;
use crate::tools::update_plan::{PlanItem, StepStatus};
use crate::tools::{one_line, printable};

/// Exit codes of a headless run.
pub mod exit {
    pub const ANSWERED: u8 = 0;
    pub const AGENT_FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct HeadlessOptions {
    pub json: bool,
    pub show_reasoning: bool,
}

/// Submits `task`, prints the run's progress and returns the exit code.
/// The first Ctrl-C cancels the turn cleanly; a second one exits at once
/// (while the run is being cancelled, or while the agent shuts down).
///
/// The caller must not wait for the runtime's blocking tasks afterwards
/// (use `Runtime::shutdown_background`): a cancelled tool's blocking work
/// may still be finishing.
pub async fn run(mut agent: AgentHandle, task: String, options: HeadlessOptions) -> u8 {
    let mut printer = Printer::new(options);
    let mut interrupt = match Interrupts::listen() {
        Ok(interrupt) => Some(interrupt),
        Err(error) => {
            eprintln!("glint: cannot listen for Ctrl-C ({error}); it will end glint at once");
            None
        }
    };
    agent.submit(task);
    let mut interrupts = 0u32;
    let code = loop {
        let event = tokio::select! {
            event = agent.next_event() => event,
            Some(()) = next_interrupt(&mut interrupt) => {
                interrupts += 1;
                if interrupts > 1 {
                    exit_now();
                }
                eprintln!("glint: interrupting (Ctrl-C again to quit at once)");
                agent.cancel();
                continue;
            }
        };
        let Some(event) = event else {
            eprintln!(
                "glint: the agent stopped without finishing the run; this is a bug, please report it"
            );
            break exit::AGENT_FAILED;
        };
        printer.print(&event);
        if let Event::RunFinished { status, .. } = event {
            break exit_code(status);
        }
    };
    // A Ctrl-C while the agent shuts down ends glint at once too.
    tokio::select! {
        _ = agent.shutdown() => {}
        Some(()) = next_interrupt(&mut interrupt) => exit_now(),
    }
    code
}

/// Ends glint at once with [`exit::INTERRUPTED`], without waiting for
/// anything still running (a blocking tool, the engine). Headless mode
/// leaves the terminal as it found it, so there is nothing to restore.
fn exit_now() -> ! {
    let _ = std::io::stdout().flush();
    // process::exit skips destructors: remove an --apply never scratch tree.
    crate::scratch::remove_live();
    eprintln!("glint: interrupted again; quitting");
    std::process::exit(i32::from(exit::INTERRUPTED))
}

/// SIGINT as a stream: a listener made once, so that no Ctrl-C is lost
/// between two waits.
#[cfg(unix)]
struct Interrupts(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Interrupts {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::interrupt()).map(Interrupts)
    }

    async fn recv(&mut self) -> Option<()> {
        self.0.recv().await
    }
}

#[cfg(not(unix))]
struct Interrupts;

#[cfg(not(unix))]
impl Interrupts {
    fn listen() -> std::io::Result<Self> {
        Ok(Interrupts)
    }

    async fn recv(&mut self) -> Option<()> {
        tokio::signal::ctrl_c().await.ok()
    }
}

/// The next Ctrl-C, or never when there is no listener.
async fn next_interrupt(interrupts: &mut Option<Interrupts>) -> Option<()> {
    match interrupts {
        Some(interrupts) => interrupts.recv().await,
        None => std::future::pending().await,
    }
}

/// Shows a model-loading stage: a JSON event with `--json`, else a line on
/// stderr.
pub fn print_load_event(options: HeadlessOptions, event: &LoadEvent) {
    if options.json {
        let mut value = serde_json::to_value(event).unwrap_or_default();
        if let Value::Object(map) = &mut value {
            map.insert("type".into(), Value::String("model_loading".into()));
        }
        write_json_line(&value.to_string());
    } else {
        let gib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0 * 1024.0);
        let size = match (event.bytes_done, event.bytes_total) {
            (Some(done), Some(total)) => format!(": {:.2} of {:.2} GiB", gib(done), gib(total)),
            (Some(done), None) => format!(": {:.2} GiB", gib(done)),
            (None, Some(total)) => format!(" ({:.2} GiB)", gib(total)),
            (None, None) => String::new(),
        };
        eprintln!("glint: {}{size} ({:.1} s)", event.message, event.elapsed_s);
    }
}

/// Shows a warning met before the run starts (e.g. an AGENTS.md that was
/// skipped): a `warning` event with `--json`, else a line on stderr.
pub fn print_warning(options: HeadlessOptions, message: &str) {
    if options.json {
        let event = serde_json::json!({"type": "warning", "message": message});
        write_json_line(&event.to_string());
    } else {
        eprintln!("glint: warning: {}", printable(message));
    }
}

/// `--apply never --patch-out FILE`, after the run: writes what the run
/// changed in its scratch tree to `out` as a patch and says so on stderr.
/// Returns the run's exit `code`, or [`exit::AGENT_FAILED`] when the patch
/// could not be written.
pub fn write_patch(scratch: &crate::scratch::Scratch, out: &std::path::Path, code: u8) -> u8 {
    match scratch.write_patch(out) {
        Ok(patch) if patch.files == 0 => {
            eprintln!(
                "glint: the run changed no files; wrote an empty patch to {}",
                out.display()
            );
            code
        }
        Ok(patch) => {
            let s = if patch.files == 1 { "" } else { "s" };
            let partial = if code == exit::ANSWERED {
                ""
            } else {
                " (the run did not finish; this is what it changed so far)"
            };
            eprintln!(
                "glint: wrote the patch of {} file{s} to {}{partial}; apply it with `git apply {}` at the repository's top",
                patch.files,
                out.display(),
                out.display()
            );
            code
        }
        Err(error) => {
            eprintln!("glint: cannot write the patch: {error}");
            if code == exit::ANSWERED {
                exit::AGENT_FAILED
            } else {
                code
            }
        }
    }
}

pub fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Completed => exit::ANSWERED,
        RunStatus::MaxTurns | RunStatus::ModelError | RunStatus::MalformedOutput => {
            exit::AGENT_FAILED
        }
        RunStatus::Interrupted => exit::INTERRUPTED,
    }
}

/// Turns events into the headless output.
struct Printer {
    options: HeadlessOptions,
    /// Text of the turn in progress: progress (stderr) if the turn calls
    /// tools, the answer (stdout) if it is the last.
    turn_text: String,
    reasoning_open: bool,
    /// The key argument of the call in progress (calls run one at a time).
    call_target: Option<String>,
}

impl Printer {
    fn new(options: HeadlessOptions) -> Self {
        Printer {
            options,
            turn_text: String::new(),
            reasoning_open: false,
            call_target: None,
        }
    }

    fn print(&mut self, event: &Event) {
        if self.options.json {
            print_json(event);
        } else {
            self.print_human(event);
        }
    }

    fn print_human(&mut self, event: &Event) {
        let mut err = std::io::stderr().lock();
        match event {
            Event::Reasoning { delta, .. } if self.options.show_reasoning => {
                if !self.reasoning_open {
                    let _ = write!(err, "thinking: ");
                    self.reasoning_open = true;
                }
                let _ = write!(err, "{}", printable(delta));
            }
            Event::Text { delta, .. } => self.turn_text.push_str(delta),
            Event::ToolCallStarted { arguments, .. } => {
                self.close_reasoning(&mut err);
                // What the model said before its calls reads as their preface.
                if !self.turn_text.is_empty() {
                    let _ = writeln!(err, "{}", printable(&self.turn_text));
                    self.turn_text.clear();
                }
                self.call_target = key_argument(arguments);
            }
            Event::ToolCallFinished {
                name, ok, summary, ..
            } => {
                let mark = if *ok { "ok" } else { "failed" };
                let target = self.call_target.take().unwrap_or_default();
                let summary = one_line(summary, 160);
                let _ = writeln!(
                    err,
                    "  {} {} {mark}: {}",
                    printable(name),
                    printable(&target),
                    printable(&summary)
                );
            }
            Event::TurnFinished { tool_calls, .. } => {
                self.close_reasoning(&mut err);
                if *tool_calls > 0 {
                    self.turn_text.clear();
                }
            }
            Event::RunFinished {
                status,
                answer,
                error,
                ..
            } => {
                self.close_reasoning(&mut err);
                match status {
                    RunStatus::Completed => {
                        let answer = answer.as_deref().unwrap_or_default();
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{}", printable(answer));
                    }
                    RunStatus::Interrupted => {
                        let _ = writeln!(err, "glint: interrupted");
                    }
                    RunStatus::MaxTurns | RunStatus::ModelError | RunStatus::MalformedOutput => {
                        let message = error.as_deref().unwrap_or("the run failed");
                        let _ = writeln!(err, "glint: {}", printable(message));
                    }
                }
            }
            Event::Warning { message } => {
                self.close_reasoning(&mut err);
                let _ = writeln!(err, "glint: warning: {}", printable(message));
            }
            Event::TurnStarted { .. } => self.turn_text.clear(),
            Event::PlanUpdated { explanation, plan } => {
                self.close_reasoning(&mut err);
                let _ = write!(err, "{}", plan_lines(explanation.as_deref(), plan));
            }
            Event::CompactionStarted { .. } => {}
            Event::Compacted {
                reason,
                tokens_before,
                tokens_after,
                elided,
                summarised,
                ..
            } => {
                self.close_reasoning(&mut err);
                let line = crate::agent::compact::compacted_line(
                    *reason,
                    *tokens_before,
                    *tokens_after,
                    elided.len(),
                    *summarised,
                );
                let _ = writeln!(err, "glint: {line}");
            }
            // Headless runs cannot ask: the core refuses instead of asking.
            Event::RunStarted { .. }
            | Event::Reasoning { .. }
            | Event::ApprovalRequested { .. }
            | Event::ReviewRequested { .. } => {}
        }
    }

    fn close_reasoning(&mut self, err: &mut impl Write) {
        if self.reasoning_open {
            let _ = writeln!(err);
            self.reasoning_open = false;
        }
    }
}

fn print_json(event: &Event) {
    let line = match serde_json::to_string(event) {
        Ok(line) => line,
        Err(error) => {
            serde_json::json!({"type": "warning", "message": error.to_string()}).to_string()
        }
    };
    write_json_line(&line);
}

/// One JSON event on stdout, flushed at once so a reader sees it live.
fn write_json_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A plan for plain output: a `plan:` line (with the explanation, when the
/// model gave one), then one line per step marked `[x]` completed, `[>]` in
/// progress or `[ ]` pending.
fn plan_lines(explanation: Option<&str>, plan: &[PlanItem]) -> String {
    let mut out = String::from("plan:");
    if let Some(explanation) = explanation.filter(|e| !e.trim().is_empty()) {
        out.push(' ');
        out.push_str(&printable(&one_line(explanation, 160)));
    }
    out.push('\n');
    for item in plan {
        let mark = match item.status {
            StepStatus::Completed => "[x]",
            StepStatus::InProgress => "[>]",
            StepStatus::Pending => "[ ]",
        };
        out.push_str(&format!(
            "  {mark} {}\n",
            printable(&one_line(&item.step, 160))
        ));
    }
    out
}

/// The argument that best identifies a call, for progress lines.
fn key_argument(arguments: &serde_json::Map<String, Value>) -> Option<String> {
    ["path", "command", "pattern", "name"]
        .iter()
        .find_map(|key| arguments.get(*key).and_then(Value::as_str))
        .or_else(|| arguments.values().find_map(Value::as_str))
        .map(|value| one_line(value, 80))
}
