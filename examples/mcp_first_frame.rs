//! How long the app takes to draw its first frame with and without MCP
//! servers configured, for BENCHMARKS.md:
//! `mcp_first_frame [GLINT_BINARY [RUNS]]` (default
//! `$CARGO_TARGET_DIR/release/glint`, 11 runs of each).
//!
//! Each run starts glint in a fresh pseudo-terminal on a scripted model and
//! times from spawning the process to the first screen that shows the
//! status line (the first frame), then quits it with Ctrl-C twice. The two
//! setups alternate: a workspace with no config, and one whose
//! `.glint/config.toml` names the three reference servers of
//! `tests/mcp.rs` (`tests/fetch-fixtures.sh` installs them), which start in
//! the background.

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
    let binary = args.first().map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache/glint/target"));
        target.join("release/glint")
    });
    let runs: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(11);
    let fixtures = std::env::var_os("GLINT_FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/glint/fixtures"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/tui_answer.json");
    let model = format!("script:{}", script.display());

    let plain = tempfile::tempdir().expect("temp dir");
    let with_servers = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(with_servers.path().join(".glint")).expect("mkdir");
    let config = match std::env::var("MCP_FIRST_FRAME_CONFIG") {
        Ok(path) => std::fs::read_to_string(path).expect("config"),
        Err(_) => servers_config(&fixtures),
    };
    std::fs::write(with_servers.path().join(".glint/config.toml"), config).expect("config");

    // One warm-up of each (page cache, the servers' own first start).
    first_frame(&binary, &model, plain.path());
    first_frame(&binary, &model, with_servers.path());
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        without.push(first_frame(&binary, &model, plain.path()));
        with.push(first_frame(&binary, &model, with_servers.path()));
    }
    let (a, b) = (median(&mut without), median(&mut with));
    println!(
        "first frame, median of {runs} runs: without MCP servers {:.1} ms, with 3 servers {:.1} ms, ratio {:.2}",
        ms(a),
        ms(b),
        ms(b) / ms(a)
    );
    println!(
        "  without: min {:.1} ms, max {:.1} ms; with: min {:.1} ms, max {:.1} ms",
        ms(without[0]),
        ms(without[runs - 1]),
        ms(with[0]),
        ms(with[runs - 1])
    );
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

fn servers_config(fixtures: &Path) -> String {
    let venv = fixtures.join("mcp-venv/bin");
    let fs =
        fixtures.join("mcp-npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    for path in [venv.join("mcp-server-time"), fs.clone()] {
        assert!(
            path.is_file(),
            "{} is missing; run tests/fetch-fixtures.sh",
            path.display()
        );
    }
    format!(
        "[mcp_servers.time]\ncommand = \"{}\"\n\n[mcp_servers.git]\ncommand = \"{}\"\n\n[mcp_servers.fs]\ncommand = \"node\"\nargs = [\"{}\", \".\"]\n",
        venv.join("mcp-server-time").display(),
        venv.join("mcp-server-git").display(),
        fs.display()
    )
}

/// Spawn to first frame, one run.
fn first_frame(binary: &Path, model: &str, workspace: &Path) -> Duration {
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
