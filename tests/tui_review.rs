//! The review view: an edit held under the `suggest` policy, drawn
//! full-screen into a ratatui `TestBackend` (as the app draws it on the
//! alternate screen) and compared with insta snapshots; keys build exactly
//! the answer that goes back to the agent.

mod common;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use common::screen::{app, buffer_text, tool_call_started};
use glint::agent::Event;
use glint::approval::Decision;
use glint::review::{ChangeProposal, FileProposal, FileVerdict, ReviewAnswer};
use glint::tui::theme::Theme;
use glint::tui::{App, Effect, draw_pager};

/// The app with a review open, and the full-screen terminal it draws on.
struct Review {
    app: App,
    terminal: Terminal<TestBackend>,
    _workspace: tempfile::TempDir,
}

impl Review {
    fn open(files: Vec<FileProposal>, theme: Theme, width: u16, height: u16) -> Review {
        let workspace = tempfile::tempdir().unwrap();
        let mut app = app(workspace.path(), "script:review.json", theme);
        app.on_model_ready("script:review.json".into(), Some(8192));
        let now = Instant::now();
        let arguments = serde_json::json!({"path": files[0].path})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let asked = Event::ReviewRequested {
            id: "call_1".into(),
            tool: "edit_file".into(),
            proposal: ChangeProposal { files },
        };
        for event in tool_call_started("edit_file", arguments)
            .into_iter()
            .chain([asked])
        {
            let effects = app.on_agent_event(event, now);
            assert!(effects.is_empty(), "{effects:?}");
        }
        assert!(app.review().is_some(), "ReviewRequested opened no review");
        assert!(app.pager_open(), "the review is not drawn full-screen");
        let terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        Review {
            app,
            terminal,
            _workspace: workspace,
        }
    }

    fn draw(&mut self) {
        draw_pager(&mut self.terminal, &mut self.app).unwrap();
    }

    fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    /// Presses each character's key (`\n` is Enter, `\t` Tab).
    fn keys(&mut self, keys: &str) -> Vec<Effect> {
        let mut effects = Vec::new();
        for ch in keys.chars() {
            let code = match ch {
                '\n' => KeyCode::Enter,
                '\t' => KeyCode::Tab,
                c => KeyCode::Char(c),
            };
            effects.extend(self.key(code));
        }
        effects
    }

    /// The screen as text, trailing spaces trimmed.
    fn text(&self) -> String {
        buffer_text(self.terminal.backend().buffer())
    }

    /// The foreground colour of the first cell showing `needle` on the row
    /// that contains `row`.
    fn color_of(&self, row: &str, needle: &str) -> Option<Color> {
        let buffer = self.terminal.backend().buffer();
        let y = self.text().lines().position(|line| line.contains(row))?;
        let line: Vec<&str> = (0..buffer.area.width)
            .map(|x| buffer[(x, y as u16)].symbol())
            .collect();
        let x = (0..line.len()).find(|&x| line[x..].concat().starts_with(needle))?;
        buffer[(x as u16, y as u16)].style().fg
    }
}

const BEFORE: &str = "use std::fmt;

pub struct Point {
    pub x: i32,
    pub y: i32,
}

impl Point {
    pub fn new(x: i32, y: i32) -> Point {
        Point { x, y }
    }

    pub fn norm(&self) -> i32 {
        self.x.abs() + self.y.abs()
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, \"({}, {})\", self.x, self.y)
    }
}
";

/// Two hunks: the struct gains a derive; Display writes a semicolon.
fn after() -> String {
    BEFORE
        .replace(
            "pub struct Point {",
            "#[derive(Debug, Clone, Copy)]\npub struct Point {",
        )
        .replace("\"({}, {})\"", "\"({}; {})\"")
}

fn two_hunks() -> Vec<FileProposal> {
    vec![FileProposal {
        path: "src/point.rs".into(),
        before: Some(BEFORE.into()),
        after: after(),
    }]
}

fn new_file() -> Vec<FileProposal> {
    vec![FileProposal {
        path: "scripts/hello.py".into(),
        before: None,
        after: "import sys\n\n\ndef main():\n    print(\"hello\", sys.argv[1:])\n\n\nmain()\n"
            .into(),
    }]
}

fn approve(answer: ReviewAnswer) -> Vec<Effect> {
    vec![Effect::Approve {
        id: "call_1".into(),
        decision: Decision::Review(answer),
    }]
}

#[test]
fn two_hunks_one_accepted_one_rejected() {
    let mut review = Review::open(two_hunks(), Theme::plain(), 80, 30);
    review.draw();
    insta::assert_snapshot!("two_hunks_pending", review.text());
    assert!(review.keys("yn").is_empty());
    review.draw();
    let text = review.text();
    assert!(text.contains("hunk 1 of 2  ✓ accepted"), "{text}");
    assert!(text.contains("hunk 2 of 2  ✗ rejected"), "{text}");
    insta::assert_snapshot!("two_hunks_decided", text);
    assert_eq!(
        review.keys("\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Hunks(vec![true, false])],
            note: String::new(),
        })
    );
    assert!(review.app.review().is_none());
    assert!(!review.app.pager_open(), "the review stayed on screen");
}

#[test]
fn a_new_file() {
    let mut review = Review::open(new_file(), Theme::plain(), 80, 16);
    review.draw();
    let text = review.text();
    assert!(text.contains("(new file)"), "{text}");
    insta::assert_snapshot!("new_file", text);
    assert_eq!(
        review.keys("y\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Accept],
            note: String::new(),
        })
    );
}

#[test]
fn diff_lines_are_highlighted_and_coloured_by_sign() {
    let mut review = Review::open(two_hunks(), Theme::colored(), 100, 30);
    review.draw();
    let theme = Theme::colored();
    // An added line: the sign is green, an attribute keeps its syntax colour.
    assert_eq!(
        review.color_of("#[derive(Debug", "+"),
        theme.success.fg,
        "{}",
        review.text()
    );
    assert_eq!(
        review.color_of("#[derive(Debug", "derive"),
        theme.highlight_style("attribute").fg
    );
    // A removed line is red where the syntax has no colour of its own, and
    // its string keeps the string colour.
    assert_eq!(
        review.color_of("({}, {})", "write!"),
        theme.highlight_style("function.macro").fg
    );
    assert_eq!(review.color_of("({}, {})", ", self.x"), theme.error.fg);
    assert_eq!(
        review.color_of("({}, {})", "\"({}, {})\""),
        theme.highlight_style("string").fg
    );
}

#[test]
fn enter_waits_until_every_hunk_is_decided() {
    let mut review = Review::open(two_hunks(), Theme::plain(), 80, 30);
    assert!(review.keys("y\n").is_empty());
    review.draw();
    let text = review.text();
    assert!(text.contains("1 hunk undecided"), "{text}");
    assert!(review.app.review().is_some());
    assert_eq!(
        review.keys("n\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Hunks(vec![true, false])],
            note: String::new(),
        })
    );
}

#[test]
fn whole_file_whole_proposal_and_a_note() {
    let mut files = two_hunks();
    files.extend(new_file());
    let mut review = Review::open(files.clone(), Theme::plain(), 80, 30);
    // R rejects the first file, Tab goes to the second, y accepts it.
    assert_eq!(
        review.keys("R\ty\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Reject, FileVerdict::Accept],
            note: String::new(),
        })
    );

    let mut review = Review::open(files.clone(), Theme::plain(), 80, 30);
    review.keys("mplease keep the old format");
    review.draw();
    assert!(
        review
            .text()
            .contains("note for the model: please keep the old format▏"),
        "{}",
        review.text()
    );
    // Enter keeps the note; the next Enter sends the answer.
    assert!(review.keys("\nr").is_empty());
    assert_eq!(
        review.keys("\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Reject, FileVerdict::Reject],
            note: "please keep the old format".into(),
        })
    );

    // A paste goes into the note being typed, never to the hidden composer.
    let mut review = Review::open(files.clone(), Theme::plain(), 80, 30);
    review.app.on_paste("pasted");
    review.keys("m");
    review.app.on_paste("use\nthe builder");
    assert_eq!(
        review.keys("\nA\tA\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Accept, FileVerdict::Accept],
            note: "use the builder".into(),
        })
    );
    review.app.on_agent_event(
        Event::RunFinished {
            status: glint::agent::RunStatus::Completed,
            turns: 1,
            answer: None,
            error: None,
            usage: glint::engine::Usage::default(),
        },
        Instant::now(),
    );
    // The composer is empty: Enter sends nothing.
    assert_eq!(review.keys("\n"), vec![]);

    let mut review = Review::open(files, Theme::plain(), 80, 30);
    review.keys("a\tn");
    assert_eq!(
        review.keys("\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Accept, FileVerdict::Reject],
            note: String::new(),
        })
    );
}

#[test]
fn esc_interrupts_and_applies_nothing() {
    let mut review = Review::open(two_hunks(), Theme::plain(), 80, 30);
    review.keys("y");
    assert_eq!(review.key(KeyCode::Esc), vec![Effect::Cancel]);
    assert!(review.app.review().is_none());
    let mut review = Review::open(two_hunks(), Theme::plain(), 80, 30);
    assert_eq!(
        review
            .app
            .on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        vec![Effect::Cancel]
    );
}

#[test]
fn an_edit_in_the_editor_is_what_gets_applied() {
    let mut review = Review::open(two_hunks(), Theme::plain(), 80, 30);
    let effects = review.keys("e");
    let [Effect::Edit(request)] = effects.as_slice() else {
        panic!("e asked for no editor: {effects:?}");
    };
    assert_eq!(request.text, after());
    assert_eq!(request.path, "src/point.rs");
    let edited = after().replace("Clone, Copy", "Clone, Copy, PartialEq");
    // An unchanged buffer and a failed editor change nothing.
    review.app.on_editor_closed(request, Ok(None));
    review.draw();
    assert!(review.text().contains("not changed in the editor"));
    review.app.on_editor_closed(
        request,
        Err("the editor `vi` failed (exit status: 1)".into()),
    );
    review.draw();
    assert!(review.text().contains("the editor `vi` failed"));
    review
        .app
        .on_editor_closed(request, Ok(Some(edited.clone())));
    review.draw();
    let text = review.text();
    assert!(text.contains("(edited by you)"), "{text}");
    assert!(text.contains("PartialEq"), "{text}");
    assert_eq!(
        review.keys("\n"),
        approve(ReviewAnswer {
            files: vec![FileVerdict::Edited(edited)],
            note: String::new(),
        })
    );
}

#[test]
fn the_call_ending_closes_the_review() {
    let mut review = Review::open(two_hunks(), Theme::plain(), 80, 30);
    review.app.on_agent_event(
        Event::ToolCallFinished {
            turn: 1,
            id: "call_1".into(),
            name: "edit_file".into(),
            ok: false,
            summary: "cancelled".into(),
            output: String::new(),
        },
        Instant::now(),
    );
    assert!(review.app.review().is_none());
    assert!(!review.app.pager_open());
}

/// A 5,000-line file changed every tenth line: moving to the last hunk
/// scrolls it into view, and the first one back.
#[test]
fn a_long_diff_keeps_the_focused_hunk_in_view() {
    let before: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    let after: String = (0..5000)
        .map(|i| {
            if i % 10 == 5 {
                format!("changed {i}\n")
            } else {
                format!("line {i}\n")
            }
        })
        .collect();
    let files = vec![FileProposal {
        path: "long.txt".into(),
        before: Some(before),
        after,
    }];
    let mut review = Review::open(files, Theme::plain(), 80, 24);
    review.draw();
    assert!(review.text().contains("hunk 1 of 500"), "{}", review.text());
    review.key(KeyCode::End);
    review.draw();
    let text = review.text();
    assert!(text.contains("hunk 500 of 500  ○ pending"), "{text}");
    assert!(text.contains("+ changed 4995"), "{text}");
    review.key(KeyCode::Up);
    review.draw();
    assert!(review.text().contains("hunk 499 of 500  ○ pending"));
    review.key(KeyCode::Home);
    review.draw();
    let text = review.text();
    assert!(text.contains("+ changed 5"), "{text}");
    assert!(!text.contains("changed 4995"), "{text}");
}
