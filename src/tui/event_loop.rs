//! The real-terminal loop, kept thin: terminal input, session events and
//! frame pacing go into [`App`]; the app's effects go to the session.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream, KeyCode, KeyEventKind, KeyModifiers};
use futures::StreamExt;

use super::app::{App, AppConfig, Effect};
use super::screen::{draw_main, draw_pager, viewport_height};
use super::session::{Session, SessionEvent, SessionOptions};
use super::terminal::{self, SavedStdio, TtyTerminal};
use super::theme::Theme;
use super::transcript::Entry;
use crate::agent::{Event as AgentEvent, RunStatus};
use crate::engine::Usage;

/// At most this many frames a second; a frame is drawn only when something
/// changed.
const FRAME: Duration = Duration::from_millis(16);
/// Background checks (the composer's file index) and the token rate.
const TICK: Duration = Duration::from_millis(200);

/// Why the app could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error(
        "the interactive app needs a terminal ({0}); run a task headless with --task \"...\" instead"
    )]
    NoTerminal(io::Error),
    // The cause is the error's source, which `{:#}` prints after this line.
    #[error("terminal error")]
    Terminal(#[from] io::Error),
}

/// What `glint` with no `--task` starts with.
pub struct TuiOptions {
    /// The `--model` value.
    pub model: String,
    pub session: SessionOptions,
    /// glint's log file, where stdout and stderr go while the app runs.
    pub log_path: Option<PathBuf>,
    /// Shown as notices when the app opens (e.g. an AGENTS.md skipped).
    pub warnings: Vec<String>,
}

/// How the app ended.
enum Ended {
    /// The user quit; the agent has stopped.
    Quit,
    /// The user pressed Ctrl-C again while the agent was stopping: glint
    /// exits at once once the terminal is restored, whatever still runs.
    Now,
}

/// Runs the interactive app until the user quits.
///
/// Quitting (Ctrl-C twice, Ctrl-D, `/quit`) cancels any run and waits for
/// the agent to stop; a further Ctrl-C during that wait restores the
/// terminal and exits at once with status 130.
pub async fn run(options: TuiOptions) -> Result<(), TuiError> {
    let mut tty = terminal::open_tty().map_err(TuiError::NoTerminal)?;
    let draw_tty = tty.try_clone()?;
    let rows = crossterm::terminal::size()?.1;
    let stdio = SavedStdio::redirect_to(options.log_path.as_deref()).ok();
    terminal::install_panic_hook(stdio);
    let result = match terminal::enter(&mut tty) {
        Ok(()) => match terminal::inline_terminal(draw_tty, stdio, viewport_height(rows)) {
            Ok(main) => run_app(main, stdio, options).await,
            Err(error) => Err(error.into()),
        },
        Err(error) => Err(error.into()),
    };
    terminal::leave(&mut tty);
    if let Some(stdio) = stdio {
        stdio.restore();
    }
    match result {
        Ok(Ended::Quit) => Ok(()),
        Ok(Ended::Now) => std::process::exit(130),
        Err(error) => Err(error),
    }
}

async fn run_app(
    mut main: TtyTerminal,
    stdio: Option<SavedStdio>,
    options: TuiOptions,
) -> Result<Ended, TuiError> {
    let mut app = App::new(AppConfig {
        workspace_root: options.session.workspace.root().to_path_buf(),
        model_label: options.model.clone(),
        sandbox: options.session.shell.sandbox,
        theme: Theme::from_env(),
    });
    app.set_approvals(options.session.approval.clone());
    app.set_checkpoints(options.session.tools.checkpoints().cloned());
    for warning in &options.warnings {
        app.push_entry(Entry::Notice(format!("warning: {warning}")));
    }
    let mut pager: Option<TtyTerminal> = None;
    // The first frame comes before any work at start begins (the model
    // loading, a long session log read, the MCP servers' processes), which
    // would compete with it for the CPU and, handled first, for the loop.
    draw(&mut app, &mut main, &mut pager, stdio)?;
    let mut last_frame = Instant::now();
    let mcp = options.session.tools.mcp().cloned();
    // MCP warnings show as they come, not at the next turn.
    let mut mcp_warnings = mcp.as_ref().map(|mcp| mcp.live_warnings());
    let mut session = Session::new(options.session);
    if let Err(error) = session.load(&options.model) {
        app.on_model_failed(error);
    }
    if let Some(mcp) = &mcp {
        mcp.start(&tokio::runtime::Handle::current());
    }
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    while !app.should_quit() {
        let next_frame = tokio::time::Instant::from_std(last_frame + FRAME);
        let effects = tokio::select! {
            biased;
            event = input.next() => match event {
                Some(Ok(TermEvent::Key(key))) => app.on_key(key),
                Some(Ok(TermEvent::Paste(text))) => {
                    app.on_paste(&text);
                    Vec::new()
                }
                Some(Ok(_)) => {
                    // Resize and focus changes: redraw at the new size.
                    app.mark_dirty();
                    Vec::new()
                }
                Some(Err(_)) | None => vec![Effect::Quit],
            },
            event = session.next_event() => on_session_event(&mut app, event),
            Some(message) = next_warning(&mut mcp_warnings) => {
                app.push_entry(Entry::Warning(message));
                Vec::new()
            }
            _ = tokio::time::sleep_until(next_frame), if app.is_dirty() => Vec::new(),
            _ = tick.tick() => {
                app.on_tick(Instant::now());
                Vec::new()
            }
        };
        for effect in effects {
            match effect {
                Effect::Submit(text) => {
                    if !session.submit(text) {
                        app.on_agent_event(
                            AgentEvent::RunFinished {
                                status: RunStatus::ModelError,
                                turns: 0,
                                answer: None,
                                error: Some(
                                    "the agent is not running; /model SPEC loads a model".into(),
                                ),
                                usage: Usage::default(),
                            },
                            Instant::now(),
                        );
                    }
                }
                Effect::Cancel => session.cancel(),
                Effect::Approve { id, decision } => session.approve(id, decision),
                Effect::Edit(request) => {
                    // crossterm's input thread would take the editor's keys:
                    // stop it while the editor runs; a fresh one reads after.
                    drop(std::mem::replace(&mut input, EventStream::new()));
                    let result = super::review::edit_in_terminal(&request, pager.is_some());
                    match pager.as_mut() {
                        Some(terminal) => terminal.clear()?,
                        None => main.clear()?,
                    }
                    app.on_editor_closed(&request, result);
                }
                Effect::Op(op) => {
                    if !session.send(op) {
                        app.push_entry(Entry::Error(
                            "the agent is not running; /model SPEC loads a model".into(),
                        ));
                    }
                }
                Effect::ShowCompactions => app.show_compactions(session.compactions().await),
                Effect::NewSession => session.new_conversation().await,
                Effect::ListSessions => app.show_sessions(session.list_sessions().await),
                Effect::Resume(id) => {
                    if let Err(error) = session.resume(id) {
                        app.push_entry(Entry::Error(format!("/resume: {error}")));
                    }
                }
                Effect::SwitchModel(spec) => {
                    if let Err(error) = session.load(&spec) {
                        app.on_model_failed(error);
                    }
                }
                Effect::Quit => {}
            }
        }
        if app.is_dirty() && last_frame.elapsed() >= FRAME {
            draw(&mut app, &mut main, &mut pager, stdio)?;
            last_frame = Instant::now();
        }
    }
    // Leave the transcript in scrollback and nothing of the live area.
    if pager.take().is_some() {
        let mut tty = terminal::open_tty()?;
        terminal::leave_alternate_screen(&mut tty)?;
    }
    app.prepare_frame(main.size()?.width);
    draw_main(&mut main, &mut app)?;
    main.clear()?;
    Ok(stop_session(session, &mut input).await)
}

/// Stops the session, unless the user presses Ctrl-C (again) first.
async fn stop_session(session: Session, input: &mut EventStream) -> Ended {
    let stopping = session.shutdown();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => return Ended::Quit,
            event = input.next() => match event {
                Some(Ok(TermEvent::Key(key))) if is_ctrl_c(&key) => return Ended::Now,
                Some(Ok(_)) => {}
                // No more input: nothing can ask to hurry.
                Some(Err(_)) | None => {
                    stopping.await;
                    return Ended::Quit;
                }
            },
        }
    }
}

/// The next MCP warning; never, without MCP servers.
async fn next_warning(
    warnings: &mut Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
) -> Option<String> {
    match warnings {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

fn is_ctrl_c(key: &crossterm::event::KeyEvent) -> bool {
    key.kind != KeyEventKind::Release
        && key.code == KeyCode::Char('c')
        && key.modifiers.contains(KeyModifiers::CONTROL)
}

fn on_session_event(app: &mut App, event: SessionEvent) -> Vec<Effect> {
    match event {
        SessionEvent::Load(event) => {
            app.on_load_event(&event);
            Vec::new()
        }
        SessionEvent::Ready {
            label,
            context_window,
        } => app.on_model_ready(label, context_window),
        SessionEvent::LoadFailed { error, fallback } => {
            app.on_model_failed(error);
            match fallback {
                Some((label, context_window)) => app.on_model_ready(label, context_window),
                None => Vec::new(),
            }
        }
        SessionEvent::Agent(event) => app.on_agent_event(event, Instant::now()),
        SessionEvent::History(past) => {
            app.seed_history(past);
            Vec::new()
        }
        SessionEvent::Resumed(Ok(resumed)) => {
            app.on_resumed_session(&resumed);
            Vec::new()
        }
        SessionEvent::Resumed(Err(error)) => {
            app.push_entry(Entry::Error(format!("cannot resume: {error}")));
            Vec::new()
        }
        SessionEvent::AgentStopped => {
            app.on_model_failed("the agent stopped unexpectedly; this is a bug".into());
            Vec::new()
        }
    }
}

/// Draws the main view or the pager, switching screens when the pager
/// opens or closes.
fn draw(
    app: &mut App,
    main: &mut TtyTerminal,
    pager: &mut Option<TtyTerminal>,
    stdio: Option<SavedStdio>,
) -> Result<(), TuiError> {
    match (app.pager_open(), pager.is_some()) {
        (true, false) => {
            let mut tty = terminal::open_tty()?;
            terminal::enter_alternate_screen(&mut tty)?;
            *pager = Some(terminal::fullscreen_terminal(tty, stdio)?);
        }
        (false, true) => {
            *pager = None;
            let mut tty = terminal::open_tty()?;
            terminal::leave_alternate_screen(&mut tty)?;
            main.clear()?;
        }
        _ => {}
    }
    match pager {
        Some(terminal) => draw_pager(terminal, app)?,
        None => draw_main(main, app)?,
    }
    Ok(())
}
