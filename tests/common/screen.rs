//! The interactive app drawn into a ratatui `TestBackend`.

use std::path::Path;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Position;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde_json::{Map, Value};

use glint::agent::Event;
use glint::tools::SandboxPolicy;
use glint::tui::theme::Theme;
use glint::tui::{App, AppConfig, viewport_height};

/// The app for `workspace`, its status line naming `model_label`.
pub fn app(workspace: &Path, model_label: &str, theme: Theme) -> App {
    App::new(AppConfig {
        workspace_root: workspace.to_path_buf(),
        model_label: model_label.into(),
        sandbox: SandboxPolicy::WorkspaceWrite,
        theme,
    })
}

/// A terminal with the app's inline viewport and the cursor at the top
/// left, as in a freshly cleared terminal.
pub fn inline_terminal(width: u16, height: u16) -> Terminal<TestBackend> {
    let mut backend = TestBackend::new(width, height);
    ratatui::backend::Backend::set_cursor_position(&mut backend, Position::new(0, 0))
        .expect("a test backend places its cursor");
    Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Inline(viewport_height(height)),
        },
    )
    .expect("a test terminal")
}

/// The buffer as text, a line a row, trailing spaces trimmed.
pub fn buffer_text(buffer: &Buffer) -> String {
    let rows: Vec<String> = (0..buffer.area.height)
        .map(|y| {
            let row: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect();
            row.trim_end().to_string()
        })
        .collect();
    rows.join("\n")
}

/// A run's start up to its first tool call, `call_1` of turn 1, starting.
pub fn tool_call_started(name: &str, arguments: Map<String, Value>) -> [Event; 3] {
    [
        Event::RunStarted {
            model: "m".into(),
            workspace: "/ws".into(),
            task: "t".into(),
            max_turns: 5,
        },
        Event::TurnStarted { turn: 1 },
        Event::ToolCallStarted {
            turn: 1,
            id: "call_1".into(),
            name: name.into(),
            arguments,
        },
    ]
}
