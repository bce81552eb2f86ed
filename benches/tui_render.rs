//! Frame render time of the interactive app with a long transcript, and how
//! many streamed tokens per second it absorbs while drawing frames.
//!
//! `cargo bench --bench tui_render`; results in BENCHMARKS.md.

mod common;

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use glint::agent::{Event, RunStatus};
use glint::engine::Usage;
use glint::tui::{draw_main, draw_pager};

use common::{app, fill, full_screen_terminal, inline_terminal};

fn frame_time(c: &mut Criterion) {
    let workspace = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("frame");
    for entries in [0usize, 10_000] {
        let mut app = app(workspace.path());
        let mut terminal = inline_terminal();
        fill(&mut app, entries);
        draw_main(&mut terminal, &mut app).unwrap();
        group.bench_with_input(BenchmarkId::new("live_area", entries), &entries, |b, _| {
            b.iter(|| {
                // A keystroke per frame, as while typing; it is taken back
                // so the composer's text stays one line long.
                app.on_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE));
                draw_main(&mut terminal, &mut app).unwrap();
                app.on_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
            })
        });
    }
    let mut app = app(workspace.path());
    fill(&mut app, 10_000);
    let mut terminal = full_screen_terminal();
    app.on_key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL));
    draw_pager(&mut terminal, &mut app).unwrap();
    app.on_key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
    group.bench_function("pager_10000_entries", |b| {
        b.iter(|| {
            app.on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE));
            draw_pager(&mut terminal, &mut app).unwrap();
        })
    });
    group.finish();
}

/// Markdown as a model streams it: prose, a code block, a list, a table.
fn answer_text(tokens: usize) -> Vec<String> {
    let block = "Here is the change to `parse`:\n\n```rust\nfn parse(input: &str) -> Result<u32, Error> {\n    input.trim().parse().map_err(Error::from)\n}\n```\n\n- first, the **input** is trimmed\n- then it is parsed\n\n| case | result |\n|---|---|\n| `\" 7\"` | 7 |\n| `\"x\"` | error |\n\n";
    let text: String = block.repeat(tokens * 4 / block.len() + 1);
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(4)
        .take(tokens)
        .map(|c| c.iter().collect())
        .collect()
}

fn streaming(c: &mut Criterion) {
    const TOKENS: usize = 20_000;
    // 2,000 tokens/s at 60 frames/s is about 33 tokens per frame.
    const TOKENS_PER_FRAME: usize = 33;
    let workspace = tempfile::tempdir().unwrap();
    let deltas = answer_text(TOKENS);
    let mut group = c.benchmark_group("streaming");
    group.throughput(Throughput::Elements(TOKENS as u64));
    group.sample_size(10);
    group.bench_function("tokens_with_a_frame_every_33", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut app = app(workspace.path());
                let mut terminal = inline_terminal();
                let start = Instant::now();
                app.on_agent_event(Event::TurnStarted { turn: 1 }, start);
                for (index, delta) in deltas.iter().enumerate() {
                    let event = Event::Text {
                        turn: 1,
                        delta: delta.clone(),
                    };
                    app.on_agent_event(event, start);
                    if index % TOKENS_PER_FRAME == 0 {
                        draw_main(&mut terminal, &mut app).unwrap();
                    }
                }
                app.on_agent_event(
                    Event::RunFinished {
                        status: RunStatus::Completed,
                        turns: 1,
                        answer: None,
                        error: None,
                        usage: Usage::default(),
                    },
                    start,
                );
                draw_main(&mut terminal, &mut app).unwrap();
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, frame_time, streaming);
criterion_main!(benches);
