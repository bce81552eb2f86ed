//! Screens of the interactive app, drawn from state into a ratatui
//! `TestBackend` (the inline viewport with the scrollback rows above it, as
//! a terminal shows them) and compared with insta snapshots.

mod common;

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Map, Value, json};

use common::screen::{app, buffer_text, inline_terminal};
use glint::agent::{Event, RunStatus};
use glint::engine::{FinishReason, Usage};
use glint::tui::markdown::render_markdown;
use glint::tui::theme::Theme;
use glint::tui::{App, Effect, draw_main};

/// An app in a temporary (non-git) workspace, with the plain theme.
struct Screen {
    app: App,
    terminal: Terminal<TestBackend>,
    clock: Instant,
    _workspace: tempfile::TempDir,
}

impl Screen {
    fn new(width: u16, height: u16) -> Screen {
        let workspace = tempfile::tempdir().unwrap();
        Screen {
            app: app(
                workspace.path(),
                "script:tests/scripts/tui_answer.json",
                Theme::plain(),
            ),
            terminal: inline_terminal(width, height),
            clock: Instant::now(),
            _workspace: workspace,
        }
    }

    fn ready(width: u16, height: u16) -> Screen {
        let mut screen = Screen::new(width, height);
        let effects = screen
            .app
            .on_model_ready("script:tui_answer.json".into(), Some(8192));
        assert!(effects.is_empty());
        screen
    }

    fn draw(&mut self) {
        draw_main(&mut self.terminal, &mut self.app).unwrap();
    }

    fn event(&mut self, event: Event) -> Vec<Effect> {
        // A steady 1 ms per event keeps the token rate deterministic.
        self.clock += Duration::from_millis(1);
        self.app.on_agent_event(event, self.clock)
    }

    fn key(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
        self.app.on_key(KeyEvent::new(code, modifiers))
    }

    fn type_text(&mut self, text: &str) {
        for ch in text.chars() {
            self.key(KeyCode::Char(ch), KeyModifiers::NONE);
        }
    }

    /// Sends `text` as the user would; returns the message the agent gets.
    fn send(&mut self, text: &str) -> String {
        self.type_text(text);
        let effects = self.key(KeyCode::Enter, KeyModifiers::NONE);
        match effects.as_slice() {
            [Effect::Submit(sent)] => sent.clone(),
            other => panic!("expected one submit, got {other:?}"),
        }
    }

    /// Streams `text` in chunks of `chunk` characters, drawing a frame every
    /// few chunks as the real loop would.
    fn stream(&mut self, reasoning: &str, text: &str, chunk: usize) {
        self.event(Event::TurnStarted { turn: 1 });
        for (index, piece) in chunks(reasoning, chunk).into_iter().enumerate() {
            self.event(Event::Reasoning {
                turn: 1,
                delta: piece,
            });
            if index % 5 == 0 {
                self.draw();
            }
        }
        for (index, piece) in chunks(text, chunk).into_iter().enumerate() {
            self.event(Event::Text {
                turn: 1,
                delta: piece,
            });
            if index % 5 == 0 {
                self.draw();
            }
        }
    }

    fn finish_run(&mut self, tokens: u64) {
        self.event(Event::TurnFinished {
            turn: 1,
            tool_calls: 0,
            usage: Usage {
                prompt_tokens: Some(1200),
                completion_tokens: Some(tokens),
            },
            finish_reason: FinishReason::Stop,
        });
        self.event(Event::RunFinished {
            status: RunStatus::Completed,
            turns: 1,
            answer: None,
            error: None,
            usage: Usage::default(),
        });
        self.draw();
    }

    /// The screen as text, trailing spaces trimmed.
    fn text(&self) -> String {
        buffer_text(self.terminal.backend().buffer())
    }
}

/// The status line of a screen's text.
fn status_row(text: &str) -> &str {
    text.lines()
        .find(|row| row.starts_with("script:tui_answer.json ·"))
        .unwrap_or_else(|| panic!("no status line in\n{text}"))
}

fn chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn arguments(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

const ANSWER: &str = "## Plan\n\nThe parser lives in `src/glm/parse.rs`:\n\n```rust\nfn main() {\n    let answer = 42;\n    println!(\"{answer}\");\n}\n```\n\n| file | lines |\n|---|---|\n| parse.rs | 420 |\n| render.rs | 310 |\n\nThat is **all**.";

#[test]
fn start_up_while_the_model_loads() {
    let mut screen = Screen::new(80, 16);
    screen.draw();
    insta::assert_snapshot!("start_up_loading", screen.text());
}

#[test]
fn start_up_ready() {
    let mut screen = Screen::ready(80, 16);
    screen.draw();
    insta::assert_snapshot!("start_up_ready", screen.text());
}

#[test]
fn streamed_answer_with_code_block_and_table() {
    let mut screen = Screen::ready(80, 40);
    let sent = screen.send("where is the parser?");
    assert_eq!(sent, "where is the parser?");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: sent,
        max_turns: 50,
    });
    screen.stream("", ANSWER, 3);
    screen.finish_run(123);
    let text = screen.text();
    insta::assert_snapshot!("streamed_answer", text);
    // Streaming committed exactly the rows a whole render gives.
    let whole: Vec<String> = render_markdown(ANSWER, 80, &Theme::plain())
        .iter()
        .map(|line| line.to_string().trim_end().to_string())
        .collect();
    let screen_text = format!("\n{text}\n");
    assert!(
        screen_text.contains(&format!("\n{}\n", whole.join("\n"))),
        "screen:\n{text}\nwhole render:\n{}",
        whole.join("\n")
    );
}

#[test]
fn streaming_shows_the_pending_tail_in_the_live_area() {
    let mut screen = Screen::ready(80, 24);
    screen.send("explain");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: "explain".into(),
        max_turns: 50,
    });
    // Stop inside the code block: it cannot be committed yet.
    let cut = ANSWER.find("println").unwrap();
    screen.stream("", &ANSWER[..cut], 4);
    screen.draw();
    insta::assert_snapshot!("streaming_mid_code_block", screen.text());
}

const REASONING: &str = "The user wants the parser. It is probably under src/glm. I will answer with the path and a short example of its use.";

fn reasoning_screen(expanded: bool) -> Screen {
    let mut screen = Screen::ready(80, 24);
    if expanded {
        screen.key(KeyCode::Char('r'), KeyModifiers::CONTROL);
    }
    screen.send("where is the parser?");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: "where is the parser?".into(),
        max_turns: 50,
    });
    screen.stream(REASONING, "It is in `src/glm/parse.rs`.", 5);
    screen.finish_run(40);
    screen
}

#[test]
fn reasoning_collapsed() {
    let screen = reasoning_screen(false);
    insta::assert_snapshot!("reasoning_collapsed", screen.text());
}

#[test]
fn reasoning_expanded() {
    let screen = reasoning_screen(true);
    insta::assert_snapshot!("reasoning_expanded", screen.text());
}

#[test]
fn reasoning_while_it_streams() {
    let mut screen = Screen::ready(80, 16);
    screen.send("go");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: "go".into(),
        max_turns: 50,
    });
    screen.stream(REASONING, "", 5);
    screen.draw();
    // The folded row is sized for the head it is drawn with: nothing of it,
    // least of all its closing parenthesis, falls off the edge.
    let text = screen.text();
    let row = text
        .lines()
        .find(|row| row.starts_with("▸ thinking: "))
        .unwrap_or_else(|| panic!("no folded reasoning row in\n{text}"));
    assert!(row.ends_with("(23 words, Ctrl-R shows)"), "{row:?}");
    insta::assert_snapshot!("reasoning_streaming", text);
}

fn tool_events(screen: &mut Screen) {
    screen.send("run the tests");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: "run the tests".into(),
        max_turns: 50,
    });
    screen.stream("", "Let me look first.", 4);
    let calls = [
        (
            "read_file",
            json!({"path": "src/lib.rs", "limit": 20}),
            true,
            "20 lines",
            "1\t//! glint\n2\tpub mod agent;",
        ),
        (
            "shell",
            json!({"command": "cargo test --release"}),
            true,
            "exit 0",
            "running 9 tests\ntest a ... ok\ntest b ... ok\ntest c ... ok\ntest d ... ok\ntest e ... ok\ntest result: ok. 9 passed",
        ),
        (
            "edit_file",
            json!({"path": "src/missing.rs", "old": "a", "new": "b"}),
            false,
            "src/missing.rs does not exist",
            "src/missing.rs does not exist",
        ),
    ];
    for (index, (name, args, ok, summary, output)) in calls.into_iter().enumerate() {
        let id = format!("call_{index}");
        screen.event(Event::ToolCallStarted {
            turn: 1,
            id: id.clone(),
            name: name.into(),
            arguments: arguments(args),
        });
        screen.draw();
        screen.event(Event::ToolCallFinished {
            turn: 1,
            id,
            name: name.into(),
            ok,
            summary: summary.into(),
            output: output.into(),
        });
    }
}

#[test]
fn tool_entries() {
    let mut screen = Screen::ready(80, 24);
    tool_events(&mut screen);
    screen.event(Event::TurnFinished {
        turn: 1,
        tool_calls: 3,
        usage: Usage::default(),
        finish_reason: FinishReason::ToolCalls,
    });
    screen.draw();
    insta::assert_snapshot!("tool_entries", screen.text());
}

#[test]
fn a_running_tool_call_shows_in_the_live_area() {
    let mut screen = Screen::ready(80, 16);
    screen.send("check");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: "check".into(),
        max_turns: 50,
    });
    screen.event(Event::TurnStarted { turn: 1 });
    screen.event(Event::ToolCallStarted {
        turn: 1,
        id: "call_1".into(),
        name: "shell".into(),
        arguments: arguments(json!({"command": "cargo build"})),
    });
    screen.draw();
    // The status line says what the engine waits for.
    let text = screen.text();
    let status = status_row(&text);
    assert!(
        status.contains("running shell") && !status.contains("ready"),
        "{status:?}"
    );
    insta::assert_snapshot!("tool_running", text);
    screen.event(Event::ToolCallFinished {
        turn: 1,
        id: "call_1".into(),
        name: "shell".into(),
        ok: true,
        summary: "exit 0".into(),
        output: String::new(),
    });
    screen.draw();
    let text = screen.text();
    let status = status_row(&text);
    assert!(!status.contains("running shell"), "{status:?}");
}

#[test]
fn forty_column_terminal() {
    let mut screen = Screen::ready(40, 40);
    screen.send("where is the parser? explain it in a few words please");
    screen.event(Event::RunStarted {
        model: "script".into(),
        workspace: "/w".into(),
        task: "where".into(),
        max_turns: 50,
    });
    screen.stream(REASONING, ANSWER, 3);
    screen.finish_run(99);
    // The message was sent before the first frame: it is laid out for the
    // terminal's 40 columns, not cut at the 80 the app assumed until then.
    let text = screen.text();
    assert!(
        text.contains("› where is the parser? explain it in a")
            && text.contains("few words please"),
        "{text}"
    );
    insta::assert_snapshot!("forty_columns", text);
}

#[test]
fn a_message_sent_while_loading_waits_for_the_model() {
    let mut screen = Screen::new(80, 16);
    screen.type_text("hello");
    let effects = screen.key(KeyCode::Enter, KeyModifiers::NONE);
    assert!(effects.is_empty(), "{effects:?}");
    screen.draw();
    assert!(
        screen
            .text()
            .contains("queued until the model is ready: hello")
    );
    let effects = screen.app.on_model_ready("script".into(), None);
    assert_eq!(effects, [Effect::Submit("hello".into())]);
}

#[test]
fn a_message_sent_during_a_run_is_sent_after_it() {
    let mut screen = Screen::ready(80, 16);
    screen.send("first");
    screen.type_text("second");
    assert!(screen.key(KeyCode::Enter, KeyModifiers::NONE).is_empty());
    let effects = screen.event(Event::RunFinished {
        status: RunStatus::Completed,
        turns: 1,
        answer: None,
        error: None,
        usage: Usage::default(),
    });
    assert_eq!(effects, [Effect::Submit("second".into())]);
}

#[test]
fn esc_interrupts_a_running_turn_and_ctrl_c_twice_quits() {
    let mut screen = Screen::ready(80, 16);
    assert!(screen.key(KeyCode::Esc, KeyModifiers::NONE).is_empty());
    screen.send("long task");
    assert_eq!(
        screen.key(KeyCode::Esc, KeyModifiers::NONE),
        [Effect::Cancel]
    );
    screen.event(Event::RunFinished {
        status: RunStatus::Interrupted,
        turns: 1,
        answer: None,
        error: None,
        usage: Usage::default(),
    });
    screen.draw();
    assert!(screen.text().contains("interrupted"));

    screen.type_text("draft");
    assert!(
        screen
            .key(KeyCode::Char('c'), KeyModifiers::CONTROL)
            .is_empty()
    );
    assert!(!screen.app.should_quit());
    screen.draw();
    assert!(screen.text().contains("Ctrl-C again to quit"));
    assert!(
        !screen.text().contains("draft"),
        "the first Ctrl-C clears the draft"
    );
    assert_eq!(
        screen.key(KeyCode::Char('c'), KeyModifiers::CONTROL),
        [Effect::Quit]
    );
    assert!(screen.app.should_quit());
}

#[test]
fn ctrl_d_on_an_empty_composer_quits() {
    let mut screen = Screen::ready(80, 16);
    assert_eq!(
        screen.key(KeyCode::Char('d'), KeyModifiers::CONTROL),
        [Effect::Quit]
    );
}

#[test]
fn slash_commands() {
    // Tall enough for the whole /help list above the composer.
    let mut screen = Screen::ready(80, 60);
    screen.type_text("/help");
    assert!(screen.key(KeyCode::Enter, KeyModifiers::NONE).is_empty());
    screen.type_text("/bogus");
    assert!(screen.key(KeyCode::Enter, KeyModifiers::NONE).is_empty());
    screen.draw();
    let text = screen.text();
    assert!(text.contains("/model [SPEC]"), "{text}");
    assert!(text.contains("unknown command /bogus"), "{text}");
    screen.type_text("/model script:other.json");
    assert_eq!(
        screen.key(KeyCode::Enter, KeyModifiers::NONE),
        [Effect::SwitchModel("script:other.json".into())]
    );
    screen.type_text("/new");
    assert_eq!(
        screen.key(KeyCode::Enter, KeyModifiers::NONE),
        [Effect::NewSession]
    );
    screen.type_text("/quit");
    assert_eq!(
        screen.key(KeyCode::Enter, KeyModifiers::NONE),
        [Effect::Quit]
    );
}

#[test]
fn the_plain_theme_draws_no_colours() {
    let mut screen = Screen::ready(80, 24);
    tool_events(&mut screen);
    screen.draw();
    let buffer = screen.terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset);
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
}
