//! Shared bench setup: the app on a test terminal, with a long transcript.
#![allow(dead_code)]

use ratatui::backend::TestBackend;
use ratatui::{Terminal, TerminalOptions, Viewport};

use glint::tools::SandboxPolicy;
use glint::tui::theme::Theme;
use glint::tui::{App, AppConfig, Entry, ToolEntry, viewport_height};

pub const WIDTH: u16 = 120;
pub const HEIGHT: u16 = 40;

/// The app, its model ready, in the coloured theme.
pub fn app(workspace: &std::path::Path) -> App {
    let mut app = App::new(AppConfig {
        workspace_root: workspace.to_path_buf(),
        model_label: "bench".into(),
        sandbox: SandboxPolicy::WorkspaceWrite,
        theme: Theme::colored(),
    });
    app.on_model_ready("bench".into(), Some(202_752));
    app
}

/// A `WIDTH`×`HEIGHT` terminal with the app's inline viewport.
pub fn inline_terminal() -> Terminal<TestBackend> {
    Terminal::with_options(
        TestBackend::new(WIDTH, HEIGHT),
        TerminalOptions {
            viewport: Viewport::Inline(viewport_height(HEIGHT)),
        },
    )
    .unwrap()
}

/// A `WIDTH`×`HEIGHT` terminal drawn whole, as the pager draws on the
/// alternate screen.
pub fn full_screen_terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap()
}

/// A transcript of `count` entries: user messages, markdown answers with
/// code, tool calls with output.
pub fn fill(app: &mut App, count: usize) {
    for index in 0..count {
        let entry = match index % 4 {
            0 => Entry::User(format!("message {index}: please look at the failing test")),
            1 => Entry::Assistant(format!(
                "Answer {index}: the bug is in **parse**.\n\n```rust\nfn parse(x: u32) -> u32 {{ x + {index} }}\n```\n"
            )),
            2 => Entry::Tool(ToolEntry {
                name: "shell".into(),
                target: Some("cargo test".into()),
                ok: true,
                summary: "exit 0".into(),
                output: "running 3 tests\ntest a ... ok\ntest b ... ok\ntest c ... ok".into(),
            }),
            _ => Entry::Reasoning(format!("Thinking about step {index} of the plan.")),
        };
        app.push_entry(entry);
    }
}
