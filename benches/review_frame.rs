//! Frame time of the review view on a 5,000-line diff, against the
//! transcript's frames as `tui_render` measures them, in the same run: the
//! live area over a 10,000-entry transcript, and the full-screen transcript
//! pager (Ctrl-T), which like the review redraws the whole screen.
//!
//! `cargo bench --bench review_frame`; results in BENCHMARKS.md. After
//! criterion's own report it prints the median of each frame, timed
//! alternately in one loop, the ratios, and how long opening the view
//! (laying out and highlighting the diff, once) takes.

mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use glint::agent::Event;
use glint::review::{ChangeProposal, FileProposal};
use glint::tui::{App, draw_main, draw_pager};

use common::{app, fill, full_screen_terminal, inline_terminal};

const LINES: usize = 5_000;

/// A Rust-like source of `LINES` lines.
fn source(changed: impl Fn(usize) -> bool) -> String {
    (0..LINES)
        .map(|i| {
            if changed(i) {
                format!(
                    "    let value_{i} = compute({i}, \"changed\").unwrap_or_default(); // new\n"
                )
            } else if i % 7 == 0 {
                format!("fn function_{i}(input: &str) -> Result<u32, Error> {{\n")
            } else {
                format!("    let value_{i} = compute({i}, \"text\")?; // step {i}\n")
            }
        })
        .collect()
}

/// The shapes of a diff of a 5,000-line file: changed every tenth line
/// (500 hunks, about 5,000 rows), a new file (one hunk of 5,000 rows), and
/// one line changed (what opening costs in the common case).
fn proposals() -> [(&'static str, FileProposal); 3] {
    [
        (
            "500_hunks",
            FileProposal {
                path: "src/long.rs".into(),
                before: Some(source(|_| false)),
                after: source(|i| i % 10 == 5),
            },
        ),
        (
            "new_file",
            FileProposal {
                path: "src/new.rs".into(),
                before: None,
                after: source(|_| false),
            },
        ),
        (
            "1_hunk",
            FileProposal {
                path: "src/long.rs".into(),
                before: Some(source(|_| false)),
                after: source(|i| i == 2_500),
            },
        ),
    ]
}

fn open_review(app: &mut App, file: FileProposal) {
    app.on_agent_event(
        Event::ReviewRequested {
            id: "call_1".into(),
            tool: "edit_file".into(),
            proposal: ChangeProposal { files: vec![file] },
        },
        Instant::now(),
    );
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// A review frame as the user moves: the next hunk (back to the first
/// after the last) or, in one long hunk, the next page.
fn review_frame(app: &mut App, terminal: &mut Terminal<TestBackend>, step: &mut usize) {
    *step += 1;
    let code = match *step % 40 {
        0 => KeyCode::Home,
        n if n % 2 == 0 => KeyCode::Char('j'),
        _ => KeyCode::PageDown,
    };
    press(app, code);
    draw_pager(terminal, app).unwrap();
}

/// The transcript's frame: a keystroke and the live area redrawn.
fn transcript_frame(app: &mut App, terminal: &mut Terminal<TestBackend>) {
    press(app, KeyCode::Char('x'));
    draw_main(terminal, app).unwrap();
    press(app, KeyCode::Backspace);
}

/// The transcript pager's frame: a row up, the screen redrawn.
fn pager_frame(app: &mut App, terminal: &mut Terminal<TestBackend>) {
    press(app, KeyCode::Up);
    draw_pager(terminal, app).unwrap();
}

/// The 10,000-entry transcript in the pager, scrolled to its end.
fn transcript_pager(workspace: &std::path::Path) -> (App, Terminal<TestBackend>) {
    let (mut app, _) = transcript(workspace);
    let mut terminal = full_screen_terminal();
    app.on_key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL));
    draw_pager(&mut terminal, &mut app).unwrap();
    press(&mut app, KeyCode::End);
    (app, terminal)
}

/// The live area over the transcript `tui_render` draws, 10,000 entries.
fn transcript(workspace: &std::path::Path) -> (App, Terminal<TestBackend>) {
    let mut app = app(workspace);
    fill(&mut app, 10_000);
    let mut terminal = inline_terminal();
    draw_main(&mut terminal, &mut app).unwrap();
    (app, terminal)
}

fn frames(c: &mut Criterion) {
    let workspace = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("review_frame");
    for (name, file) in proposals() {
        let mut app = app(workspace.path());
        open_review(&mut app, file);
        let mut terminal = full_screen_terminal();
        draw_pager(&mut terminal, &mut app).unwrap();
        let mut step = 0;
        group.bench_function(name, |b| {
            b.iter(|| review_frame(&mut app, &mut terminal, &mut step))
        });
    }
    let (mut app, mut terminal) = transcript(workspace.path());
    group.bench_function("baseline_transcript_10000_entries", |b| {
        b.iter(|| transcript_frame(&mut app, &mut terminal))
    });
    let (mut app, mut terminal) = transcript_pager(workspace.path());
    group.bench_function("baseline_pager_10000_entries", |b| {
        b.iter(|| pager_frame(&mut app, &mut terminal))
    });
    group.finish();
}

/// How long `frame` takes.
fn timed(frame: impl FnOnce()) -> Duration {
    let start = Instant::now();
    frame();
    start.elapsed()
}

/// Both frames timed alternately in one loop, so machine load falls on
/// both alike; prints the ratio the target is about.
fn ratio(_: &mut Criterion) {
    const RUNS: usize = 2_000;
    let workspace = tempfile::tempdir().unwrap();
    let (mut base_app, mut base_terminal) = transcript(workspace.path());
    let (mut pager_app, mut pager_terminal) = transcript_pager(workspace.path());
    println!();
    for (name, file) in proposals() {
        let mut app = app(workspace.path());
        let mut terminal = full_screen_terminal();
        let start = Instant::now();
        open_review(&mut app, file);
        draw_pager(&mut terminal, &mut app).unwrap();
        let open = start.elapsed();
        let mut step = 0;
        let mut review_times = Vec::with_capacity(RUNS);
        let mut base_times = Vec::with_capacity(RUNS);
        let mut pager_times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            review_times.push(timed(|| review_frame(&mut app, &mut terminal, &mut step)));
            base_times.push(timed(|| {
                transcript_frame(&mut base_app, &mut base_terminal)
            }));
            pager_times.push(timed(|| pager_frame(&mut pager_app, &mut pager_terminal)));
        }
        let median = |times: &mut Vec<Duration>| {
            times.sort();
            times[RUNS / 2].as_secs_f64() * 1e6
        };
        let review = median(&mut review_times);
        let base = median(&mut base_times);
        let pager = median(&mut pager_times);
        println!(
            "review frame, {name} ({LINES} lines): {review:.1} µs; live area over 10,000 entries: {base:.1} µs (review/live {:.2}×); transcript pager: {pager:.1} µs (review/pager {:.2}×); opening the view and drawing its first frame: {:.1} ms",
            review / base,
            review / pager,
            open.as_secs_f64() * 1e3,
        );
    }
}

criterion_group!(benches, frames, ratio);
criterion_main!(benches);
