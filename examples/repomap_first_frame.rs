//! How long the app takes to draw its first frame in a large tree, whose
//! repo map builds in the background, against an empty workspace, for
//! BENCHMARKS.md: `repomap_first_frame TREE [GLINT_BINARY [RUNS]]` (default
//! `$CARGO_TARGET_DIR/release/glint`, 11 runs of each).
//!
//! Each run starts glint in a fresh pseudo-terminal on a scripted model and
//! times from spawning the process to the first screen that shows the
//! status line (the first frame), then quits it with Ctrl-C twice. Three
//! setups alternate: an empty workspace; TREE with an empty cache (the map
//! parses every file while the app starts); and TREE with the cache of an
//! earlier run (a warm start).

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 30;
const COLS: u16 = 100;
/// What the status line shows first: the scripted model's file name.
const STATUS_MARK: &str = "tui_answer.json";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tree = PathBuf::from(
        args.first()
            .expect("usage: repomap_first_frame TREE [GLINT_BINARY [RUNS]]"),
    );
    assert!(tree.is_dir(), "{} is not a directory", tree.display());
    let binary = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache/glint/target"));
        target.join("release/glint")
    });
    let runs: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(11);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/tui_answer.json");
    let model = format!("script:{}", script.display());

    let empty = tempfile::tempdir().expect("temp dir");
    let warm_cache = tempfile::tempdir().expect("temp dir");
    prime(&tree, warm_cache.path());

    let (mut plain, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let cold_cache = tempfile::tempdir().expect("temp dir");
        plain.push(first_frame(&binary, &model, empty.path(), None));
        cold.push(first_frame(&binary, &model, &tree, Some(cold_cache.path())));
        warm.push(first_frame(&binary, &model, &tree, Some(warm_cache.path())));
    }
    let (a, b, c) = (median(&mut plain), median(&mut cold), median(&mut warm));
    println!(
        "first frame, median of {runs} runs: empty workspace {:.1} ms; large tree, map cold {:.1} ms ({:.2}x), warm {:.1} ms ({:.2}x)",
        ms(a),
        ms(b),
        ms(b) / ms(a),
        ms(c),
        ms(c) / ms(a)
    );
    for (name, samples) in [("empty", &plain), ("cold", &cold), ("warm", &warm)] {
        println!(
            "  {name}: min {:.1} ms, max {:.1} ms",
            ms(samples[0]),
            ms(samples[runs - 1])
        );
    }
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

/// Builds the repo map cache of `tree` where glint run with
/// `XDG_CACHE_HOME=cache` finds it.
fn prime(tree: &Path, cache: &Path) {
    let index = glint::repomap::Index::build(tree, Some(&cache.join("glint/repomap")));
    assert!(index.stats().cache_written, "the cache was written");
}

/// Spawn to first frame, one run; `cache` is `$XDG_CACHE_HOME` (none: a
/// fresh one).
fn first_frame(binary: &Path, model: &str, workspace: &Path, cache: Option<&Path>) -> Duration {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let home = tempfile::tempdir().expect("home");
    let mut command = CommandBuilder::new(binary);
    command.args(["--model", model]);
    command.cwd(workspace);
    command.env("TERM", "xterm-256color");
    command.env("HOME", home.path());
    command.env("XDG_CONFIG_HOME", home.path().join("config"));
    command.env("XDG_DATA_HOME", home.path().join("data"));
    command.env(
        "XDG_CACHE_HOME",
        cache.map_or_else(|| home.path().join("cache"), Path::to_path_buf),
    );
    command.env("GLINT_LOG_FILE", home.path().join("glint.log"));
    let start = Instant::now();
    let mut child = pair.slave.spawn_command(command).expect("glint starts");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("writer")));
    let answer = writer.clone();
    let (seen_tx, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        const QUERY: &[u8] = b"\x1b[6n";
        let mut parser = vt100::Parser::new(
            NonZeroU16::new(ROWS).unwrap(),
            NonZeroU16::new(COLS).unwrap(),
            0,
        );
        let mut buf = [0u8; 8192];
        let mut sent = false;
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            let mut rest = &buf[..n];
            while let Some(at) = rest.windows(QUERY.len()).position(|w| w == QUERY) {
                parser.process(&rest[..at]);
                let (row, col) = parser.screen().cursor_position();
                let reply = format!("\x1b[{};{}R", row + 1, col + 1);
                let _ = answer.lock().unwrap().write_all(reply.as_bytes());
                rest = &rest[at + QUERY.len()..];
            }
            parser.process(rest);
            if !sent && parser.screen().contents().contains(STATUS_MARK) {
                let _ = seen_tx.send(Instant::now());
                sent = true;
            }
        }
    });
    let drawn = seen
        .recv_timeout(Duration::from_secs(30))
        .expect("the first frame within 30 s");
    {
        let mut writer = writer.lock().unwrap();
        let _ = writer.write_all(b"\x03");
        let _ = writer.write_all(b"\x03");
        let _ = writer.flush();
    }
    let quit_by = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < quit_by, "glint did not quit");
        std::thread::sleep(Duration::from_millis(10));
    }
    drawn - start
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
