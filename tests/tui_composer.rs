//! The composer driven by key events, pastes and a real workspace directory,
//! and drawn into a ratatui buffer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use glint::tui::composer::{Composer, ComposerAction};
use glint::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

fn composer() -> Composer {
    Composer::new(PathBuf::from("/nonexistent-workspace"))
}

fn key(c: &mut Composer, code: KeyCode, modifiers: KeyModifiers) -> ComposerAction {
    c.handle_key(KeyEvent::new(code, modifiers))
}

fn ch(c: &mut Composer, ch: char, modifiers: KeyModifiers) -> ComposerAction {
    key(c, KeyCode::Char(ch), modifiers)
}

fn type_text(c: &mut Composer, text: &str) {
    for ch in text.chars() {
        assert_eq!(key(c, KeyCode::Char(ch), NONE), ComposerAction::None);
    }
}

/// The displayed text with `|` at the cursor.
fn state(c: &Composer) -> String {
    let mut text = c.display_text().to_owned();
    text.insert(c.cursor(), '|');
    text
}

fn typed(text: &str) -> Composer {
    let mut c = composer();
    type_text(&mut c, text);
    c
}

/// Renders the composer into a `width`-column buffer of its desired height
/// and returns the rows as text, with `▏` inserted before the cursor's cell.
fn screen(c: &Composer, width: u16) -> String {
    let height = c.desired_height(width);
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    c.render(area, &mut buf, &Theme::plain());
    let cursor = c.cursor_position(area);
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        let mut x = 0;
        while x < width {
            if cursor == Some((x, y)) {
                line.push('▏');
            }
            let symbol = buf[(x, y)].symbol();
            line.push_str(symbol);
            // A wide character covers the cells after it.
            x += symbol.width().max(1) as u16;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn character_motions() {
    let mut c = typed("hello world");
    key(&mut c, KeyCode::Left, NONE);
    assert_eq!(state(&c), "hello worl|d");
    key(&mut c, KeyCode::Home, NONE);
    assert_eq!(state(&c), "|hello world");
    key(&mut c, KeyCode::Right, NONE);
    assert_eq!(state(&c), "h|ello world");
    key(&mut c, KeyCode::End, NONE);
    assert_eq!(state(&c), "hello world|");
    ch(&mut c, 'a', CTRL);
    assert_eq!(state(&c), "|hello world");
    ch(&mut c, 'e', CTRL);
    assert_eq!(state(&c), "hello world|");
    ch(&mut c, 'b', CTRL);
    assert_eq!(state(&c), "hello worl|d");
    ch(&mut c, 'f', CTRL);
    assert_eq!(state(&c), "hello world|");
    key(&mut c, KeyCode::Right, NONE);
    assert_eq!(state(&c), "hello world|");
}

#[test]
fn word_motions() {
    let mut c = typed("let x = foo_bar(1);");
    ch(&mut c, 'b', ALT);
    assert_eq!(state(&c), "let x = foo_bar(1|);");
    ch(&mut c, 'b', ALT);
    assert_eq!(state(&c), "let x = foo_bar(|1);");
    ch(&mut c, 'b', ALT);
    assert_eq!(state(&c), "let x = foo_bar|(1);");
    ch(&mut c, 'b', ALT);
    assert_eq!(state(&c), "let x = |foo_bar(1);");
    key(&mut c, KeyCode::Left, CTRL);
    assert_eq!(state(&c), "let x |= foo_bar(1);");
    ch(&mut c, 'f', ALT);
    assert_eq!(state(&c), "let x =| foo_bar(1);");
    key(&mut c, KeyCode::Right, CTRL);
    assert_eq!(state(&c), "let x = foo_bar|(1);");
    key(&mut c, KeyCode::Right, ALT);
    assert_eq!(state(&c), "let x = foo_bar(|1);");
}

#[test]
fn deletions_and_yank() {
    let mut c = typed("one two three");
    key(&mut c, KeyCode::Backspace, NONE);
    assert_eq!(state(&c), "one two thre|");
    ch(&mut c, 'w', CTRL);
    assert_eq!(state(&c), "one two |");
    ch(&mut c, 'y', CTRL);
    assert_eq!(state(&c), "one two thre|");
    key(&mut c, KeyCode::Home, NONE);
    key(&mut c, KeyCode::Delete, NONE);
    assert_eq!(state(&c), "|ne two thre");
    ch(&mut c, 'd', CTRL);
    assert_eq!(state(&c), "|e two thre");
    ch(&mut c, 'd', ALT);
    assert_eq!(state(&c), "| two thre");
    ch(&mut c, 'f', ALT);
    ch(&mut c, 'k', CTRL);
    assert_eq!(state(&c), " two|");
    ch(&mut c, 'u', CTRL);
    assert_eq!(state(&c), "|");
    ch(&mut c, 'y', CTRL);
    assert_eq!(state(&c), " two|");
    key(&mut c, KeyCode::Backspace, ALT);
    assert_eq!(state(&c), " |");
    ch(&mut c, 'h', CTRL);
    assert_eq!(state(&c), "|");
}

#[test]
fn line_kills_join_lines_at_their_edges() {
    let mut c = typed("ab");
    key(&mut c, KeyCode::Enter, SHIFT);
    type_text(&mut c, "cd");
    ch(&mut c, 'a', CTRL);
    assert_eq!(state(&c), "ab\n|cd");
    ch(&mut c, 'u', CTRL);
    assert_eq!(state(&c), "ab|cd");
    ch(&mut c, 'k', CTRL);
    assert_eq!(state(&c), "ab|");
    key(&mut c, KeyCode::Enter, ALT);
    type_text(&mut c, "x");
    key(&mut c, KeyCode::Up, NONE);
    ch(&mut c, 'e', CTRL);
    assert_eq!(state(&c), "ab|\nx");
    ch(&mut c, 'k', CTRL);
    assert_eq!(state(&c), "ab|x");
}

#[test]
fn newline_keys_and_submit() {
    let mut c = typed("a");
    key(&mut c, KeyCode::Enter, SHIFT);
    type_text(&mut c, "b");
    key(&mut c, KeyCode::Enter, ALT);
    type_text(&mut c, "c");
    ch(&mut c, 'j', CTRL);
    type_text(&mut c, "d\\");
    assert_eq!(key(&mut c, KeyCode::Enter, NONE), ComposerAction::None);
    type_text(&mut c, "e");
    assert_eq!(state(&c), "a\nb\nc\nd\ne|");
    assert_eq!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit("a\nb\nc\nd\ne".into())
    );
    assert!(c.is_empty());
    assert_eq!(key(&mut c, KeyCode::Enter, NONE), ComposerAction::None);
    type_text(&mut c, "  ");
    assert_eq!(key(&mut c, KeyCode::Enter, NONE), ComposerAction::None);
}

#[test]
fn control_keys_reach_the_app() {
    let mut c = composer();
    assert_eq!(ch(&mut c, 'd', CTRL), ComposerAction::Quit);
    assert_eq!(ch(&mut c, 'c', CTRL), ComposerAction::CtrlC);
    assert_eq!(key(&mut c, KeyCode::Esc, NONE), ComposerAction::Interrupt);
    type_text(&mut c, "x");
    assert_eq!(ch(&mut c, 'c', CTRL), ComposerAction::CtrlC);
    assert_eq!(c.text(), "x", "the app decides what Ctrl-C clears");
    c.clear();
    assert!(c.is_empty());
    c.set_enabled(false);
    assert_eq!(ch(&mut c, 'z', NONE), ComposerAction::None);
    assert!(c.is_empty());
    assert_eq!(ch(&mut c, 'd', CTRL), ComposerAction::Quit);
    let release = KeyEvent::new_with_kind(KeyCode::Char('q'), NONE, KeyEventKind::Release);
    c.set_enabled(true);
    assert_eq!(c.handle_key(release), ComposerAction::None);
    assert!(c.is_empty());
}

#[test]
fn up_and_down_move_between_lines_keeping_the_column() {
    let mut c = typed("abcdef");
    key(&mut c, KeyCode::Enter, SHIFT);
    type_text(&mut c, "ab");
    key(&mut c, KeyCode::Enter, SHIFT);
    type_text(&mut c, "abcdefgh");
    key(&mut c, KeyCode::Left, NONE);
    assert_eq!(state(&c), "abcdef\nab\nabcdefg|h");
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "abcdef\nab|\nabcdefgh");
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "abcdef|\nab\nabcdefgh");
    key(&mut c, KeyCode::Down, NONE);
    key(&mut c, KeyCode::Down, NONE);
    assert_eq!(state(&c), "abcdef\nab\nabcdefg|h");
}

#[test]
fn up_and_down_follow_wrapped_rows() {
    let mut c = typed("aaaa bbbb cccc");
    // 10 columns leave 7 for text: rows "aaaa ", "bbbb ", "cccc".
    c.desired_height(10);
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "aaaa bbbb| cccc");
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "aaaa| bbbb cccc");
    key(&mut c, KeyCode::Down, NONE);
    key(&mut c, KeyCode::Down, NONE);
    assert_eq!(state(&c), "aaaa bbbb cccc|");
}

#[test]
fn history_browsing_keeps_the_draft() {
    let mut c = typed("first");
    assert!(matches!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit(_)
    ));
    c.set_text("second\nline");
    assert!(matches!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit(_)
    ));
    type_text(&mut c, "draft");
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "|second\nline");
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "|first");
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(state(&c), "|first", "nothing older");
    key(&mut c, KeyCode::Down, NONE);
    assert_eq!(state(&c), "second\nline|");
    ch(&mut c, 'p', CTRL);
    ch(&mut c, 'n', CTRL);
    assert_eq!(state(&c), "second\nline|");
    key(&mut c, KeyCode::Down, NONE);
    assert_eq!(state(&c), "draft|");
    key(&mut c, KeyCode::Down, NONE);
    assert_eq!(state(&c), "draft|");
    c.push_history("from the app");
    c.clear();
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(c.text(), "from the app");
}

#[test]
fn long_paste_collapses_and_expands_on_submit() {
    let mut c = typed("see ");
    let log: String = (1..=1234).map(|i| format!("line {i}\r\n")).collect();
    c.handle_paste(&log);
    type_text(&mut c, " please");
    assert_eq!(c.display_text(), "see [Pasted 1,234 lines] please");
    let expected = format!("see {} please", log.replace("\r\n", "\n"));
    assert_eq!(c.text(), expected);
    assert_eq!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit(expected)
    );
    // History keeps the paste collapsed.
    key(&mut c, KeyCode::Up, NONE);
    assert_eq!(c.display_text(), "see [Pasted 1,234 lines] please");
}

#[test]
fn backspace_deletes_a_placeholder_whole() {
    let mut c = typed("a");
    c.handle_paste(&"x".repeat(1500));
    assert_eq!(state(&c), "a[Pasted 1,500 chars]|");
    key(&mut c, KeyCode::Left, NONE);
    assert_eq!(state(&c), "a|[Pasted 1,500 chars]");
    key(&mut c, KeyCode::Right, NONE);
    key(&mut c, KeyCode::Backspace, NONE);
    assert_eq!(state(&c), "a|");
    assert_eq!(c.text(), "a");
    c.handle_paste("1\n2\n3\n4\n5\n6");
    key(&mut c, KeyCode::Home, NONE);
    key(&mut c, KeyCode::Right, NONE);
    key(&mut c, KeyCode::Delete, NONE);
    assert_eq!(state(&c), "a|");
}

#[test]
fn short_paste_is_inserted_as_text() {
    let mut c = typed("ab");
    key(&mut c, KeyCode::Left, NONE);
    c.handle_paste("1\r\n2\x1b[0m");
    assert_eq!(state(&c), "a1\n2[0m|b");
}

#[test]
fn unicode_moves_by_grapheme_and_width() {
    let mut c = typed("日本語");
    assert_eq!(c.cursor_position(Rect::new(0, 0, 40, 2)), Some((8, 1)));
    key(&mut c, KeyCode::Left, NONE);
    assert_eq!(state(&c), "日本|語");
    assert_eq!(c.cursor_position(Rect::new(0, 0, 40, 2)), Some((6, 1)));
    key(&mut c, KeyCode::Backspace, NONE);
    assert_eq!(state(&c), "日|語");

    let family = "👨\u{200d}👩\u{200d}👧";
    let mut c = typed(&format!("a{family}🇯🇵e\u{301}"));
    key(&mut c, KeyCode::Left, NONE);
    assert_eq!(state(&c), format!("a{family}🇯🇵|e\u{301}"));
    key(&mut c, KeyCode::Left, NONE);
    assert_eq!(state(&c), format!("a{family}|🇯🇵e\u{301}"));
    key(&mut c, KeyCode::Backspace, NONE);
    assert_eq!(state(&c), "a|🇯🇵e\u{301}");
    key(&mut c, KeyCode::End, NONE);
    key(&mut c, KeyCode::Backspace, NONE);
    assert_eq!(state(&c), "a🇯🇵|");
}

#[test]
fn slash_popup_filters_and_completes_commands() {
    let mut c = composer();
    c.set_commands(vec![
        ("help".into(), "show the keys and commands".into()),
        ("new".into(), "start a new conversation".into()),
        ("model".into(), "show or switch the model".into()),
        ("diff".into(), "the workspace's git diff".into()),
        ("/quit".into(), "leave glint".into()),
    ]);
    type_text(&mut c, "/");
    assert!(c.is_popup_open());
    let all = screen(&c, 50);
    for name in ["/help", "/new", "/model", "/diff", "/quit"] {
        assert!(all.contains(name), "{name} missing from\n{all}");
    }
    type_text(&mut c, "d");
    let filtered = screen(&c, 50);
    assert!(filtered.contains("/diff") && filtered.contains("/model"));
    assert!(!filtered.contains("/help") && !filtered.contains("/quit"));
    assert!(filtered.find("/diff") < filtered.find("/model"));
    key(&mut c, KeyCode::Down, NONE);
    key(&mut c, KeyCode::Tab, NONE);
    assert_eq!(state(&c), "/model |");
    assert!(!c.is_popup_open());

    c.clear();
    type_text(&mut c, "/qu");
    assert_eq!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit("/quit".into())
    );

    type_text(&mut c, "/he");
    assert_eq!(key(&mut c, KeyCode::Esc, NONE), ComposerAction::None);
    assert!(!c.is_popup_open());
    type_text(&mut c, "l");
    assert!(!c.is_popup_open(), "stays closed in the dismissed token");
    assert_eq!(key(&mut c, KeyCode::Esc, NONE), ComposerAction::Interrupt);
    assert_eq!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit("/hel".into())
    );

    type_text(&mut c, "/zz");
    assert!(screen(&c, 50).contains("no matching command"));
    assert_eq!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit("/zz".into())
    );
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ".gitignore",
        "README.md",
        "src/main.rs",
        "src/tui/mod.rs",
        "src/lib.rs",
        "target/debug/glint",
        "notes/debug.log",
        ".github/workflows/ci.yml",
    ];
    for file in files {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "x").unwrap();
    }
    std::fs::write(dir.path().join(".gitignore"), "target/\n*.log\n").unwrap();
    dir
}

fn wait_for_index(c: &mut Composer) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.file_index_ready() {
        assert!(Instant::now() < deadline, "file index never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The popup fills when `@` is typed if the walk had already finished, or
    // on this poll if it finished later; either way it is then open and
    // polling again has nothing left to refresh.
    c.poll_background();
    assert!(c.is_popup_open());
    assert!(!c.poll_background());
}

fn at_composer(root: &Path) -> Composer {
    let mut c = Composer::new(root.to_path_buf());
    type_text(&mut c, "look at @");
    wait_for_index(&mut c);
    c
}

#[test]
fn at_path_completion_offers_workspace_files_but_not_ignored_ones() {
    let dir = workspace();
    let c = at_composer(dir.path());
    let listed = screen(&c, 60);
    for file in [".gitignore", "README.md", "src/main.rs", "src/lib.rs"] {
        assert!(listed.contains(file), "{file} missing from\n{listed}");
    }
    for ignored in ["target/", "debug.log", ".git/"] {
        assert!(!listed.contains(ignored), "{ignored} offered in\n{listed}");
    }
}

#[test]
fn at_path_completion_filters_and_accepts() {
    let dir = workspace();
    let mut c = at_composer(dir.path());
    type_text(&mut c, "smr");
    let listed = screen(&c, 60);
    assert!(listed.contains("› src/main.rs"), "{listed}");
    assert!(!listed.contains("README"), "{listed}");
    key(&mut c, KeyCode::Enter, NONE);
    assert_eq!(state(&c), "look at @src/main.rs |");
    assert!(!c.is_popup_open());

    type_text(&mut c, "and @mod");
    key(&mut c, KeyCode::Tab, NONE);
    assert_eq!(state(&c), "look at @src/main.rs and @src/tui/mod.rs |");

    type_text(&mut c, "@nothing-like-this");
    assert!(screen(&c, 60).contains("no matching file"));
    key(&mut c, KeyCode::Esc, NONE);
    assert!(!c.is_popup_open());
    assert_eq!(
        key(&mut c, KeyCode::Enter, NONE),
        ComposerAction::Submit(
            "look at @src/main.rs and @src/tui/mod.rs @nothing-like-this".into()
        )
    );
}

#[test]
fn at_path_completion_replaces_the_whole_token() {
    let dir = workspace();
    let mut c = at_composer(dir.path());
    type_text(&mut c, "lib");
    key(&mut c, KeyCode::Left, NONE);
    key(&mut c, KeyCode::Left, NONE);
    key(&mut c, KeyCode::Up, NONE);
    key(&mut c, KeyCode::Down, NONE);
    key(&mut c, KeyCode::Tab, NONE);
    assert_eq!(state(&c), "look at @src/lib.rs |");
}

#[test]
fn tall_text_scrolls_inside_a_capped_height() {
    let mut c = composer();
    c.set_text(
        &(1..=30)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(c.desired_height(40), 11);
    let bottom = screen(&c, 40);
    assert!(
        bottom.contains("line 30▏") && !bottom.contains("line 20\n"),
        "{bottom}"
    );
    for _ in 0..29 {
        key(&mut c, KeyCode::Up, NONE);
    }
    let top = screen(&c, 40);
    assert!(
        top.contains("› line 1▏\n") && !top.contains("line 11"),
        "{top}"
    );
}

#[test]
fn snapshot_multi_line_text() {
    let mut c = composer();
    c.set_text(
        "Refactor the parser:\n- keep the public API\n- add tests for the edge cases, \
                especially empty input and very long lines that need wrapping",
    );
    c.handle_paste(&"trace line\n".repeat(40));
    insta::assert_snapshot!(screen(&c, 60));
}

#[test]
fn snapshot_at_popup_open() {
    let dir = workspace();
    let mut c = at_composer(dir.path());
    type_text(&mut c, "s");
    insta::assert_snapshot!(screen(&c, 60));
}

#[test]
fn snapshot_narrow_40_columns() {
    let mut c = composer();
    c.set_placeholder("Ask glint to do anything");
    let empty = screen(&c, 40);
    c.set_text("日本語のテキストと emoji 🎉 が混ざった長い文章を四十桁で折り返す");
    c.set_commands(vec![("help".into(), "show the keys".into())]);
    insta::assert_snapshot!(format!("{empty}{}", screen(&c, 40)));
}
