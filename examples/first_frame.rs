//! How long the app takes to draw its first frame in each setup that does
//! work at start, against a plain workspace measured in the same run, for
//! BENCHMARKS.md:
//!
//! `first_frame [--runs N] [--tree DIR] [--binary GLINT]` (default 11 runs
//! of each setup, `$CARGO_TARGET_DIR/release/glint`; the tree defaults to
//! `$GLINT_BENCH_TREE`, else the crates `benches/repomap.rs` copies from
//! `~/.cargo/registry/src`).
//!
//! Each run starts glint in a fresh pseudo-terminal (its output fed to a
//! vt100 emulator that answers cursor-position queries) on a scripted model
//! and times from spawning the process to the first screen that shows the
//! status line (the first frame), then quits it with Ctrl-C twice. The
//! setups alternate run by run, so the machine's load falls on all alike
//! (each round starting with the next one):
//!
//! - `plain`: an empty workspace, no config (the baseline);
//! - `repo map cold`: the large tree, empty map cache (the map parses every
//!   file while the app starts);
//! - `repo map warm`: the same tree with the cache of an earlier build;
//! - `3 MCP servers`: `.glint/config.toml` names the three reference servers
//!   of `tests/mcp.rs` (`tests/fetch-fixtures.sh` installs them);
//! - `--continue, long log`: `glint --continue` on a workspace whose session
//!   log holds 300 runs of two model turns each, written through glint's own
//!   session-log writer; it also times when the resumed conversation's last
//!   answer is on screen.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde_json::{Map, Value};

use glint::conversation::{Message, ToolCall};
use glint::session::{Record, Sessions, Settings};
use glint::workspace::Workspace;

#[path = "../benches/common/registry_tree.rs"]
mod registry_tree;
use registry_tree::copy_crates;

const ROWS: u16 = 30;
const COLS: u16 = 100;
/// What the status line shows first: the scripted model's file name.
const STATUS_MARK: &str = "tui_answer.json";
/// The last answer of the long session log.
const LOG_END_MARK: &str = "END-OF-THE-LONG-SESSION";
/// Runs (user messages) in the long session log, two model turns each.
const LOG_RUNS: usize = 300;

/// One way of starting glint.
struct Setup {
    name: &'static str,
    workspace: PathBuf,
    args: Vec<String>,
    /// `$XDG_CACHE_HOME`; `None`: a fresh one each run.
    cache: Option<PathBuf>,
    /// `$XDG_DATA_HOME`; `None`: a fresh one each run.
    data: Option<PathBuf>,
    /// Also time until this text is on screen.
    then: Option<&'static str>,
    frames: Vec<Duration>,
    shown: Vec<Duration>,
}

impl Setup {
    fn new(name: &'static str, workspace: &Path) -> Setup {
        Setup {
            name,
            workspace: workspace.to_path_buf(),
            args: Vec::new(),
            cache: None,
            data: None,
            then: None,
            frames: Vec::new(),
            shown: Vec::new(),
        }
    }
}

struct Options {
    runs: usize,
    tree: Option<PathBuf>,
    binary: PathBuf,
}

fn main() {
    let options = parse_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = format!(
        "script:{}",
        root.join("tests/scripts/tui_answer.json").display()
    );
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let dir = |name: &str| {
        let path = scratch.path().join(name);
        std::fs::create_dir_all(&path).expect("a scratch directory");
        path
    };

    let plain = dir("plain");
    let tree = match &options.tree {
        Some(tree) => tree.clone(),
        None => copy_crates(&dir("tree"), "pass --tree DIR"),
    };
    let warm_cache = dir("warm-cache");
    let index = glint::repomap::Index::build(&tree, Some(&warm_cache.join("glint/repomap")));
    assert!(index.stats().cache_written, "the warm cache was written");
    let with_servers = dir("mcp");
    std::fs::create_dir_all(with_servers.join(".glint")).expect("mkdir .glint");
    std::fs::write(
        with_servers.join(".glint/config.toml"),
        servers_config(&fixtures()),
    )
    .expect("write the MCP config");
    let long = dir("long-session");
    let long_data = dir("long-session-data");
    let log_bytes = write_long_session(&long, &long_data, &model);

    let mut setups = vec![Setup::new("plain (baseline)", &plain)];
    setups.push(Setup::new("repo map cold (large tree, empty cache)", &tree));
    setups.push(Setup {
        cache: Some(warm_cache.clone()),
        ..Setup::new("repo map warm (large tree, cache)", &tree)
    });
    setups.push(Setup::new("3 MCP servers configured", &with_servers));
    setups.push(Setup {
        args: vec!["--continue".into()],
        data: Some(long_data.clone()),
        then: Some(LOG_END_MARK),
        ..Setup::new("--continue, long session log", &long)
    });
    println!(
        "tree: {}; session log: {LOG_RUNS} runs, {} model turns, {:.1} MB; {} runs of each setup",
        tree.display(),
        2 * LOG_RUNS,
        log_bytes as f64 / 1e6,
        options.runs
    );

    // One warm-up of each (page cache, the servers' own first start).
    for setup in &setups {
        run_once(&options.binary, &model, setup);
    }
    // Each round starts with the next setup, so none always follows the
    // same one.
    let count = setups.len();
    for round in 0..options.runs {
        for turn in 0..count {
            let setup = &mut setups[(round + turn) % count];
            let (frame, shown) = run_once(&options.binary, &model, setup);
            setup.frames.push(frame);
            setup.shown.extend(shown);
        }
    }

    let baseline = median(&mut setups[0].frames.clone());
    println!("\n| setup | first frame median ms | min ms | worst ms | median / baseline |");
    println!("|---|---:|---:|---:|---:|");
    for setup in &mut setups {
        let frames = &mut setup.frames;
        let middle = median(frames);
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.2}× |",
            setup.name,
            ms(middle),
            ms(frames[0]),
            ms(frames[frames.len() - 1]),
            ms(middle) / ms(baseline)
        );
    }
    for setup in &mut setups {
        if setup.shown.is_empty() {
            continue;
        }
        let middle = median(&mut setup.shown);
        println!(
            "\n{}: resumed conversation on screen after {:.1} ms (median), {:.1}–{:.1} ms",
            setup.name,
            ms(middle),
            ms(setup.shown[0]),
            ms(setup.shown[setup.shown.len() - 1])
        );
    }
}

fn parse_args() -> Options {
    let mut options = Options {
        runs: 11,
        tree: std::env::var_os("GLINT_BENCH_TREE").map(PathBuf::from),
        binary: std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache/glint/target"))
            .join("release/glint"),
    };
    let mut args = std::env::args().skip(1);
    const USAGE: &str = "usage: first_frame [--runs N] [--tree DIR] [--binary GLINT]";
    while let Some(flag) = args.next() {
        let value = args.next().expect(USAGE);
        match flag.as_str() {
            "--runs" => options.runs = value.parse::<usize>().expect(USAGE).max(1),
            "--tree" => options.tree = Some(PathBuf::from(value)),
            "--binary" => options.binary = PathBuf::from(value),
            _ => panic!("{USAGE}"),
        }
    }
    assert!(
        options.binary.is_file(),
        "{} is missing; cargo build --release --bin glint",
        options.binary.display()
    );
    options
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

fn fixtures() -> PathBuf {
    std::env::var_os("GLINT_FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/glint/fixtures"))
}

fn servers_config(fixtures: &Path) -> String {
    let venv = fixtures.join("mcp-venv/bin");
    let fs =
        fixtures.join("mcp-npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    for path in [
        venv.join("mcp-server-time"),
        venv.join("mcp-server-git"),
        fs.clone(),
    ] {
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

/// Writes a session of [`LOG_RUNS`] runs for `workspace` where glint run
/// with `XDG_DATA_HOME=data` finds it, through glint's own log writer:
/// each run a task, a turn that reads a file (reasoning, the call, the
/// file's text as its result, the model's raw output), and a turn that
/// answers. Returns the log's size in bytes.
fn write_long_session(workspace: &Path, data: &Path, model: &str) -> u64 {
    let root = Workspace::new(workspace).expect("the workspace opens");
    let sessions = Sessions::under(
        &data.join("glint/session-logs"),
        root.root(),
        model,
        Settings::default(),
    );
    let log = sessions.new_log();
    let sources = source_texts();
    for run in 0..LOG_RUNS {
        let (path, text) = &sources[run % sources.len()];
        let task = format!("Run {run}: explain what {path} does and whether it needs a fix.");
        log.message(&Message::user(task), true).expect("record");
        let reasoning = format!(
            "The user asks about {path}. I should read it first, then look at how it is used. {}",
            "Reading the file before answering keeps the answer grounded. ".repeat(20)
        );
        let mut arguments = Map::new();
        arguments.insert("path".into(), Value::String(path.clone()));
        let call = ToolCall::new(format!("call_{run}"), "read_file", arguments);
        let raw = format!(
            "<think>{reasoning}</think><tool_call>read_file<arg_key>path</arg_key><arg_value>{path}</arg_value></tool_call>"
        );
        log.message(
            &Message::Assistant {
                content: String::new(),
                reasoning_content: Some(reasoning),
                tool_calls: vec![call],
                reasoning_details: None,
                raw: Some(raw),
            },
            false,
        )
        .expect("record");
        log.record(&usage(
            2 * run as u32 + 1,
            2_000 + 800 * run as u64,
            300,
            "tool_calls",
        ))
        .expect("record");
        log.message(
            &Message::tool_result(format!("call_{run}"), text.clone()),
            false,
        )
        .expect("record");
        let answer = if run + 1 == LOG_RUNS {
            format!("{path} is fine as it is. {LOG_END_MARK}")
        } else {
            format!(
                "{path} does what its comments say. {}",
                "Nothing in it needs a fix; the error paths are handled. ".repeat(10)
            )
        };
        let reasoning = "The file reads cleanly; I can answer now.".to_string();
        log.message(
            &Message::Assistant {
                raw: Some(format!("<think>{reasoning}</think>{answer}")),
                content: answer,
                reasoning_content: Some(reasoning),
                tool_calls: Vec::new(),
                reasoning_details: None,
            },
            false,
        )
        .expect("record");
        log.record(&usage(
            2 * run as u32 + 2,
            2_400 + 800 * run as u64,
            200,
            "stop",
        ))
        .expect("record");
        log.record(&Record::Run {
            status: "completed".into(),
            turns: 2,
        })
        .expect("record");
    }
    std::fs::metadata(log.path()).expect("the log").len()
}

fn usage(turn: u32, prompt: u64, completion: u64, finish: &str) -> Record {
    Record::Usage {
        turn,
        prompt_tokens: Some(prompt),
        completion_tokens: Some(completion),
        finish_reason: Some(finish.into()),
    }
}

/// glint's own sources, as the files the long session's runs read.
fn source_texts() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in ["src/tui", "src/agent", "src/session", "src/mcp"] {
        let entries = std::fs::read_dir(root.join(dir)).expect("glint's sources");
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                let shown = path.strip_prefix(root).unwrap_or(&path);
                texts.push((shown.display().to_string(), text));
            }
        }
    }
    texts.sort();
    assert!(!texts.is_empty(), "glint's sources are readable");
    texts
}

/// Spawn to first frame, one run; and to `setup.then` on screen, if set.
fn run_once(binary: &Path, model: &str, setup: &Setup) -> (Duration, Option<Duration>) {
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
    command.args(&setup.args);
    command.cwd(&setup.workspace);
    command.env("TERM", "xterm-256color");
    command.env("HOME", home.path());
    command.env("XDG_CONFIG_HOME", home.path().join("config"));
    let or_fresh =
        |dir: &Option<PathBuf>, name: &str| dir.clone().unwrap_or_else(|| home.path().join(name));
    command.env("XDG_DATA_HOME", or_fresh(&setup.data, "data"));
    command.env("XDG_CACHE_HOME", or_fresh(&setup.cache, "cache"));
    command.env("GLINT_LOG_FILE", home.path().join("glint.log"));
    command.env_remove("GLINT_MODEL");
    let start = Instant::now();
    let mut child = pair.slave.spawn_command(command).expect("glint starts");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("writer")));
    let answer = writer.clone();
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let marks: Vec<&'static str> = std::iter::once(STATUS_MARK).chain(setup.then).collect();
    let wanted = marks.len();
    std::thread::spawn(move || {
        const QUERY: &[u8] = b"\x1b[6n";
        let mut parser = vt100::Parser::new(
            NonZeroU16::new(ROWS).expect("rows"),
            NonZeroU16::new(COLS).expect("columns"),
            0,
        );
        let mut buf = [0u8; 8192];
        let mut next = 0;
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            let mut rest = &buf[..n];
            while let Some(at) = rest.windows(QUERY.len()).position(|w| w == QUERY) {
                parser.process(&rest[..at]);
                let (row, col) = parser.screen().cursor_position();
                let reply = format!("\x1b[{};{}R", row + 1, col + 1);
                let _ = answer.lock().map(|mut w| w.write_all(reply.as_bytes()));
                rest = &rest[at + QUERY.len()..];
            }
            parser.process(rest);
            while next < marks.len() && parser.screen().contents().contains(marks[next]) {
                let _ = seen_tx.send(Instant::now());
                next += 1;
            }
        }
    });
    let mut times = Vec::new();
    for _ in 0..wanted {
        let at = seen
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{}: the screen never showed it within 30 s", setup.name));
        times.push(at - start);
    }
    {
        let mut writer = writer.lock().expect("the writer");
        let _ = writer.write_all(b"\x03");
        let _ = writer.write_all(b"\x03");
        let _ = writer.flush();
    }
    let quit_by = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < quit_by,
            "{}: glint did not quit",
            setup.name
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (times[0], times.get(1).copied())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
