//! The MCP client against real reference servers that nobody on this
//! project wrote: `mcp-server-time` and `mcp-server-git` (PyPI) and
//! `@modelcontextprotocol/server-filesystem` (npm), installed into the
//! fixture cache by `tests/fetch-fixtures.sh`. The real binary runs
//! headless (or in a pty) with a scripted model that calls their tools.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use common::pty::{Pty, PtyOptions};
use common::{assert_extends, glint, script};

/// Longer than any run here should take (servers get a minute to start);
/// a run past it has hung.
const DEADLINE: Duration = Duration::from_secs(120);

/// The reference servers, as installed by `tests/fetch-fixtures.sh`.
struct Servers {
    time: PathBuf,
    git: PathBuf,
    /// The filesystem server's entry point, run with `node`.
    filesystem: PathBuf,
    /// The Python of the servers' environment.
    python: PathBuf,
}

fn servers() -> Servers {
    let dir = std::env::var_os("GLINT_FIXTURE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/glint/fixtures"))
        })
        .expect("HOME or GLINT_FIXTURE_DIR is set");
    let servers = Servers {
        time: dir.join("mcp-venv/bin/mcp-server-time"),
        git: dir.join("mcp-venv/bin/mcp-server-git"),
        filesystem: dir
            .join("mcp-npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"),
        python: dir.join("mcp-venv/bin/python"),
    };
    for path in [
        &servers.time,
        &servers.git,
        &servers.filesystem,
        &servers.python,
    ] {
        assert!(
            path.is_file(),
            "{} is missing; run tests/fetch-fixtures.sh (the README's test command, .ci/run, does)",
            path.display()
        );
    }
    servers
}

/// A temp dir holding `ws/`: a git repository with `notes.txt` and two
/// commits, and `.glint/config.toml` holding `config`.
fn workspace(config: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".glint")).expect("mkdir");
    std::fs::write(
        ws.join("notes.txt"),
        "Project notes\nThe launch code is 4242.\n",
    )
    .expect("notes");
    std::fs::write(ws.join(".glint/config.toml"), config).expect("config");
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .current_dir(&ws)
            .stdout(Stdio::null())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "notes.txt"]);
    git(&["commit", "-qm", "Add the notes"]);
    std::fs::write(ws.join("README"), "readme\n").expect("readme");
    git(&["add", "README"]);
    git(&["commit", "-qm", "Add a readme"]);
    dir
}

fn ws(dir: &TempDir) -> PathBuf {
    dir.path().join("ws")
}

/// The three reference servers, as a config file: the filesystem server
/// confined to the workspace, the git server on its repository. Python
/// servers can take more than the default 10 s to start on a loaded
/// machine (several test binaries and builds at once), so they get a minute.
fn reference_config(servers: &Servers) -> String {
    format!(
        r#"
[mcp_servers.time]
command = "{time}"
startup_timeout_sec = 60

[mcp_servers.git]
command = "{git}"
args = ["--repository", "."]
startup_timeout_sec = 60

[mcp_servers.fs]
command = "node"
args = ["{fs}", "."]
startup_timeout_sec = 60
"#,
        time = servers.time.display(),
        git = servers.git.display(),
        fs = servers.filesystem.display(),
    )
}

/// A `[mcp_servers.NAME]` entry for a server that starts and never answers
/// (it only sleeps), given up after `startup_timeout_sec`.
fn silent_server(servers: &Servers, name: &str, startup_timeout_sec: u32) -> String {
    format!(
        "[mcp_servers.{name}]\ncommand = \"{}\"\nargs = [\"-c\", \"import time; time.sleep(600)\"]\nstartup_timeout_sec = {startup_timeout_sec}\n",
        servers.python.display()
    )
}

/// `glint mcp list ARGS` in the workspace, `setup` adjusting the command
/// (its environment); the exit code and what it printed.
fn mcp_list(
    dir: &TempDir,
    args: &[&str],
    setup: impl FnOnce(&mut Command),
) -> (Option<i32>, String) {
    let mut command = glint(&ws(dir));
    command.args(["mcp", "list"]).args(args);
    setup(&mut command);
    let output = finish(command);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.code().is_some_and(|code| code <= 1),
        "glint mcp list failed: {stdout}\n{}",
        stderr(&output)
    );
    (output.status.code(), stdout)
}

/// Runs `command` to its end, or fails the test if it is still running
/// after [`DEADLINE`] (it is killed): glint must never hang on a server.
fn finish(mut command: Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("glint starts");
    let pid = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(DEADLINE) {
        Ok(output) => output.expect("glint's output"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("glint did not finish within {DEADLINE:?}: it hung");
        }
    }
}

/// `glint --task ... --json` with the scripted model `name` (its prompts
/// logged to `prompts.jsonl` next to the workspace); the events, the run's
/// output, and the prompts the model received.
fn run(dir: &TempDir, name: &str, extra: &[&str]) -> (Vec<Value>, Output, Vec<String>) {
    let mut script_json: Value =
        serde_json::from_str(&std::fs::read_to_string(script(name)).expect("script"))
            .expect("script JSON");
    let log = dir.path().join("prompts.jsonl");
    script_json["prompt_log"] = Value::String(log.display().to_string());
    let scripted = dir.path().join(name);
    std::fs::write(&scripted, script_json.to_string()).expect("script copy");
    let model = format!("script:{}", scripted.display());
    let mut command = glint(&ws(dir));
    command.args(["--task", "Use the MCP tools.", "--model", &model, "--json"]);
    command.args(extra);
    let output = finish(command);
    let events = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let prompts = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a logged prompt"))
        .collect();
    (events, output, prompts)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `tool_call_started` and `tool_call_finished` events of each call,
/// in order.
fn calls(events: &[Value]) -> Vec<(&Value, &Value)> {
    events
        .iter()
        .filter(|e| e["type"] == "tool_call_started")
        .map(|started| {
            let finished = events
                .iter()
                .find(|e| e["type"] == "tool_call_finished" && e["id"] == started["id"])
                .expect("every call finishes");
            (started, finished)
        })
        .collect()
}

fn warnings(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "warning")
        .filter_map(|e| e["message"].as_str().map(String::from))
        .collect()
}

fn assert_completed(events: &[Value], output: &Output) {
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(output));
    let last = events.last().expect("events");
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["status"], "completed", "{last}");
}

#[test]
fn calls_with_typed_arguments_reach_the_three_reference_servers() {
    let servers = servers();
    let dir = workspace(&reference_config(&servers));
    let (events, output, prompts) = run(&dir, "mcp_typed_calls.json", &[]);
    assert_completed(&events, &output);
    let calls = calls(&events);
    assert_eq!(calls.len(), 3, "{events:?}");

    // `head` is a number in the filesystem server's schema: the text "1"
    // must reach it as 1 (its schema check refuses a string), and only the
    // first line comes back.
    let (started, finished) = calls[0];
    assert_eq!(started["name"], "mcp__fs__read_text_file");
    assert_eq!(started["arguments"]["head"], Value::from(1));
    assert_eq!(finished["ok"], true, "{finished}");
    assert_eq!(finished["output"], "Project notes");
    assert!(
        finished["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("fs: read_text_file")),
        "the summary names the server: {finished}"
    );
    for event in [started, finished] {
        assert_eq!(event["server"], "fs", "{event}");
        assert_eq!(event["server_tool"], "read_text_file", "{event}");
    }

    // `max_count` is an integer: one commit, the latest, comes back.
    let (started, finished) = calls[1];
    assert_eq!(started["arguments"]["max_count"], Value::from(1));
    assert_eq!(finished["ok"], true, "{finished}");
    let log = finished["output"].as_str().unwrap();
    assert!(log.contains("Add a readme"), "{log}");
    assert!(!log.contains("Add the notes"), "{log}");

    let (_, finished) = calls[2];
    assert_eq!(finished["ok"], true, "{finished}");
    assert!(
        finished["output"]
            .as_str()
            .unwrap()
            .contains("\"timezone\": \"Etc/UTC\"")
    );

    // The servers' tools are in the prompt's tool list, like the built-in
    // ones, with their descriptions and schemas; the next prompt extends it.
    assert_eq!(prompts.len(), 2);
    assert_extends(&prompts);
    let tools = &prompts[0][..prompts[0].rfind("</tools>").expect("a tool list")];
    for name in [
        "\"name\": \"read_file\"",
        "\"name\": \"mcp__fs__read_text_file\"",
        "\"name\": \"mcp__git__git_log\"",
        "\"name\": \"mcp__time__get_current_time\"",
        "Get current time in a specific timezone",
    ] {
        assert!(tools.contains(name), "{name} is not in the tool list");
    }
}

#[test]
fn an_is_error_result_and_bad_arguments_reach_the_model_as_failures() {
    let servers = servers();
    let dir = workspace(&reference_config(&servers));
    let (events, output, prompts) = run(&dir, "mcp_failures.json", &[]);
    assert_completed(&events, &output);
    let calls = calls(&events);
    assert_eq!(calls.len(), 3);
    let outputs: Vec<&str> = calls
        .iter()
        .map(|(_, finished)| {
            assert_eq!(finished["ok"], false, "{finished}");
            finished["output"].as_str().unwrap()
        })
        .collect();
    // The time server's own `isError` result, with its message.
    assert!(
        outputs[0].contains("reported an error") && outputs[0].contains("Mars/Olympus_Mons"),
        "{}",
        outputs[0]
    );
    // Arguments the schema rules out never reach the server.
    assert!(
        outputs[1]
            .starts_with("Invalid arguments for mcp__git__git_log: `max_count` must be an integer"),
        "{}",
        outputs[1]
    );
    assert!(
        outputs[2].contains("missing field `source_timezone`"),
        "{}",
        outputs[2]
    );
    // The model's next prompt holds each failure as the call's result.
    let last = prompts.last().expect("prompts");
    for text in &outputs {
        assert!(last.contains(text), "the model never saw: {text}");
    }
}

#[test]
fn a_server_that_exits_mid_session_ends_its_calls_with_a_clear_error() {
    let servers = servers();
    // The server writes its pid where the scripted shell call finds it.
    let config = format!(
        "[mcp_servers.time]\ncommand = \"sh\"\nargs = [\"-c\", \"echo $$ > server.pid; exec {}\"]\n",
        servers.time.display()
    );
    let dir = workspace(&config);
    let started = Instant::now();
    let (events, output, _) = run(&dir, "mcp_server_exits.json", &["--sandbox", "off"]);
    assert_completed(&events, &output);
    let calls = calls(&events);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].1["ok"], true, "{}", calls[0].1);
    assert_eq!(calls[1].1["ok"], true, "the kill: {}", calls[1].1);
    let after = &calls[2].1;
    assert_eq!(after["ok"], false, "{after}");
    assert!(
        after["output"]
            .as_str()
            .unwrap()
            .starts_with("MCP server `time` is no longer running (the server exited)"),
        "{after}"
    );
    let warnings = warnings(&events);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("MCP server `time` stopped: the server exited")),
        "{warnings:?}"
    );
    // Well within the default 60 s tool timeout: glint noticed the exit.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_server_that_never_answers_initialize_fails_after_its_startup_timeout() {
    let servers = servers();
    let config = format!(
        "{}\n[mcp_servers.missing]\ncommand = \"glint-test-no-such-server\"\n",
        silent_server(&servers, "stuck", 1)
    );
    let dir = workspace(&config);
    let started = Instant::now();
    let (events, output, _) = run(&dir, "mcp_stuck_server.json", &[]);
    assert_completed(&events, &output);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited {:?}",
        started.elapsed()
    );
    let warnings = warnings(&events);
    assert!(
        warnings.iter().any(|w| w
            == "MCP server `stuck` failed to start: it did not answer the MCP handshake and list its tools within 1 s (startup_timeout_sec); its tools are unavailable"),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "MCP server `missing` failed to start: cannot run `glint-test-no-such-server`"
        )),
        "{warnings:?}"
    );
    let calls = calls(&events);
    let failed = &calls[0].1;
    assert_eq!(failed["ok"], false);
    assert!(
        failed["output"]
            .as_str()
            .unwrap()
            .starts_with("MCP server `stuck` failed to start (it did not answer"),
        "{failed}"
    );
}

#[test]
fn mcp_list_shows_each_servers_state_and_tools() {
    let servers = servers();
    let config = format!(
        "{}\n[mcp_servers.off]\ncommand = \"x\"\nenabled = false\n\n[mcp_servers.fs_small]\ncommand = \"node\"\nargs = [\"{}\", \".\"]\nenabled_tools = [\"read_text_file\", \"write_file\"]\n",
        reference_config(&servers),
        servers.filesystem.display()
    );
    let dir = workspace(&config);
    let (code, stdout) = mcp_list(&dir, &[], |_| {});
    assert_eq!(code, Some(0), "{stdout}");
    for line in [
        "time  ready, 2 tools",
        "  mcp__time__get_current_time  [read-only]  Get current time in a specific timezone",
        "  mcp__time__convert_time  [read-only]",
        "git  ready, 12 tools",
        "  mcp__git__git_commit  [may change things]  Records changes to the repository",
        "fs  ready, 14 tools",
        "fs_small  ready, 2 tools",
        "  mcp__fs_small__write_file  [may change things]",
        "off  disabled",
    ] {
        assert!(stdout.contains(line), "`{line}` missing from:\n{stdout}");
    }
    assert!(
        !stdout.contains("mcp__fs_small__read_multiple_files"),
        "{stdout}"
    );

    // A server that does not start makes the listing fail (exit 1).
    let (code, stdout) = mcp_list(
        &dir,
        &["-c", "mcp_servers.broken.command=glint-test-no-such-server"],
        |_| {},
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("broken  failed to start: cannot run `glint-test-no-such-server`"),
        "{stdout}"
    );
}

#[test]
fn a_bad_server_entry_is_one_line_naming_the_file_and_the_server() {
    let dir = workspace("[mcp_servers.time]\ncommand = \"x\"\nurl = \"http://localhost:1/mcp\"\n");
    let mut command = glint(&ws(&dir));
    command.args(["--task", "x", "--model", "script:/nonexistent.json"]);
    let output = finish(command);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    let config = ws(&dir).join(".glint/config.toml");
    assert_eq!(
        message.trim_end(),
        format!(
            "glint: {}: [mcp_servers.time] has both `command` and `url`; keep `command` for a program glint starts, or `url` for a streamable-HTTP server",
            config.canonicalize().unwrap_or(config).display()
        )
    );
}

#[test]
fn mcp_calls_go_through_the_approval_policy() {
    let servers = servers();
    let dir = workspace(&reference_config(&servers));
    let (events, output, _) = run(&dir, "mcp_approvals.json", &["--approval", "auto-edit"]);
    assert_completed(&events, &output);
    let made = calls(&events);
    // readOnlyHint: true runs like a read-only command.
    assert_eq!(made[0].1["ok"], true, "{}", made[0].1);
    // Anything else needs approval, which a headless run cannot give.
    let refused = made[1].1;
    assert_eq!(refused["ok"], false);
    assert!(
        refused["output"].as_str().unwrap().starts_with(
            "Not run: the approval policy is `auto-edit`, under which calls of MCP tools that their server does not mark read-only need the user's approval"
        ),
        "{refused}"
    );
    assert!(!ws(&dir).join("made-by-mcp").exists());

    let (events, output, _) = run(&dir, "mcp_approvals.json", &["--approval", "full-auto"]);
    assert_completed(&events, &output);
    assert_eq!(calls(&events)[1].1["ok"], true);
    assert!(ws(&dir).join("made-by-mcp").is_dir());
}

/// A server's tool that writes files is checkpointed like a shell command:
/// `glint undo` takes back what the filesystem server wrote. The JSON
/// events name each MCP call's server and the server's own tool name.
#[test]
fn what_a_server_writes_is_checkpointed_and_glint_undo_takes_it_back() {
    let servers = servers();
    let dir = workspace(&reference_config(&servers));
    let notes = ws(&dir).join("notes.txt");
    let original = std::fs::read_to_string(&notes).expect("notes");
    let made = ws(&dir).join("made-by-mcp.txt");
    let (events, output, _) = run(&dir, "mcp_writes.json", &[]);
    assert_completed(&events, &output);
    let calls = calls(&events);
    assert_eq!(calls.len(), 4, "{events:?}");
    for (_, finished) in &calls {
        assert_eq!(finished["ok"], true, "{finished}");
    }
    for (index, server, tool) in [
        (0, "fs", "write_file"),
        (1, "fs", "write_file"),
        (3, "time", "get_current_time"),
    ] {
        let (started, finished) = calls[index];
        for event in [started, finished] {
            assert_eq!(event["server"], server, "{event}");
            assert_eq!(event["server_tool"], tool, "{event}");
        }
    }
    // A built-in tool's events have neither.
    let (started, finished) = calls[2];
    assert_eq!(started["name"], "read_file");
    for event in [started, finished] {
        assert!(
            event.get("server").is_none() && event.get("server_tool").is_none(),
            "{event}"
        );
    }
    assert!(
        finished["output"]
            .as_str()
            .is_some_and(|o| o.contains("The notes are gone.")),
        "{finished}"
    );
    assert_eq!(
        std::fs::read_to_string(&made)
            .expect("the server wrote the file")
            .trim_end(),
        "written by the filesystem server"
    );

    // One checkpoint per write; the time call changed nothing.
    let mut command = glint(&ws(&dir));
    command.arg("checkpoints");
    let listing = finish(command);
    let listed = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(listing.status.code(), Some(0), "{}", stderr(&listing));
    assert_eq!(listed.matches("mcp__fs__write_file").count(), 2, "{listed}");
    assert!(listed.contains("made-by-mcp.txt (created)"), "{listed}");
    assert!(listed.contains("notes.txt (modified)"), "{listed}");
    assert!(!listed.contains("mcp__time"), "{listed}");

    let mut command = glint(&ws(&dir));
    command.args(["undo", "2"]);
    let undone = finish(command);
    assert_eq!(undone.status.code(), Some(0), "{}", stderr(&undone));
    assert!(!made.exists(), "the created file is still there");
    assert_eq!(std::fs::read_to_string(&notes).expect("notes"), original);
}

/// In the app an MCP call shows its server and its tool's own name, and
/// `/undo` takes back what the server wrote.
#[test]
fn the_app_shows_the_server_of_a_call_and_undo_takes_its_write_back() {
    let servers = servers();
    let dir = workspace(&reference_config(&servers));
    let made = ws(&dir).join("made-by-mcp.txt");
    let home = tempfile::tempdir().expect("home");
    let pty = app(
        &[
            "--model",
            &format!("script:{}", script("mcp_tui_write.json").display()),
        ],
        &ws(&dir),
        home.path(),
    );
    wait_for(&pty, "ready");
    pty.enter_line("Write the file.");
    wait_for(&pty, "The file is written.");
    let screen = pty.everything();
    assert!(
        screen.contains("● fs · write_file (MCP) made-by-mcp.txt ✓"),
        "{screen}"
    );
    assert!(!screen.contains("mcp__fs__write_file"), "{screen}");
    assert!(made.is_file(), "the server did not write the file");
    pty.enter_line("/undo");
    wait_for(&pty, "undid:");
    assert!(!made.exists(), "/undo left the server's file");
    quit(pty);
}

/// A minimal MCP server for the one thing no reference server does on
/// demand: announce a new tool with `notifications/tools/list_changed`.
/// `unlock` adds `double`, whose `n` is an integer.
const LIST_CHANGED_SERVER: &str = r#"
import json, sys
unlocked = False
def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
def tools():
    listed = [{"name": "unlock", "description": "Adds the double tool.", "inputSchema": {"type": "object", "properties": {}}}]
    if unlocked:
        listed.append({"name": "double", "description": "Doubles n.", "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}})
    return listed
for line in sys.stdin:
    message = json.loads(line)
    method, id = message.get("method"), message.get("id")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {"listChanged": True}}, "serverInfo": {"name": "dyn", "version": "1"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": id, "result": {"tools": tools()}})
    elif method == "tools/call":
        name, args = message["params"]["name"], message["params"].get("arguments") or {}
        if name == "unlock":
            unlocked = True
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            text = "unlocked"
        elif name == "double" and unlocked and isinstance(args.get("n"), int):
            text = str(2 * args["n"])
        else:
            send({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "bad call"}], "isError": True}})
            continue
        send({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}})
    elif id is not None:
        send({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"}})
"#;

#[test]
fn tools_added_mid_session_are_announced_in_a_message_and_the_prompt_extends() {
    let servers = servers();
    let dir = workspace("");
    let server = dir.path().join("list_changed_server.py");
    std::fs::write(&server, LIST_CHANGED_SERVER).expect("server");
    let config = format!(
        "[mcp_servers.dyn]\ncommand = \"{}\"\nargs = [\"{}\"]\n",
        servers.python.display(),
        server.display()
    );
    std::fs::write(ws(&dir).join(".glint/config.toml"), config).expect("config");
    let (events, output, prompts) = run(&dir, "mcp_list_changed.json", &[]);
    assert_completed(&events, &output);
    let calls = calls(&events);
    assert_eq!(calls[0].1["output"], "unlocked");
    let (started, finished) = calls[1];
    // Not in the parser's tool list (the prompt began without it), yet
    // typed by its schema.
    assert_eq!(started["arguments"]["n"], "21");
    assert_eq!(finished["ok"], true, "{finished}");
    assert_eq!(finished["output"], "42");

    assert_eq!(prompts.len(), 3);
    assert_extends(&prompts);
    let tool_list_end = prompts[0].rfind("</tools>").expect("a tool list");
    assert!(prompts[0][..tool_list_end].contains("mcp__dyn__unlock"));
    assert!(!prompts[2][..tool_list_end].contains("mcp__dyn__double"));
    let announced = &prompts[1][prompts[0].len()..];
    assert!(
        announced.contains("New tools from MCP servers")
            && announced.contains("\"name\": \"mcp__dyn__double\"")
            && announced.contains("Doubles n."),
        "the second prompt does not announce the new tool:\n{announced}"
    );
}

/// The app's first frame comes while a server is still starting, and
/// `/mcp` shows it starting next to one that is ready.
#[test]
fn the_app_draws_at_once_and_mcp_shows_the_servers() {
    let servers = servers();
    let config = format!(
        "{}\n[mcp_servers.time]\ncommand = \"{}\"\n",
        silent_server(&servers, "slow", 120),
        servers.time.display()
    );
    let dir = workspace(&config);
    let home = tempfile::tempdir().expect("home");
    let pty = app(
        &[
            "--model",
            &format!("script:{}", script("tui_answer.json").display()),
        ],
        &ws(&dir),
        home.path(),
    );
    let started = Instant::now();
    wait_for(&pty, "ready");
    // Far below the slow server's 120 s startup timeout.
    assert!(started.elapsed() < Duration::from_secs(20));
    // The time server is ready within moments; ask until /mcp says so.
    let mut asked = 0;
    pty.wait_until("the time server ready in /mcp", DEADLINE, |pty| {
        let ready = pty.everything().contains("time  ready, 2 tools");
        if !ready && asked % 10 == 0 {
            pty.enter_line("/mcp");
        }
        asked += 1;
        ready
    });
    let screen = pty.everything();
    assert!(screen.contains("slow  starting (up to 2 min)"), "{screen}");
    assert!(
        screen.contains("mcp__time__get_current_time  [read-only]"),
        "{screen}"
    );
    quit(pty);
}

/// The app in a pseudo-terminal (`tests/common/pty.rs`), 40×120, with its
/// config and data under `home`.
fn app(args: &[&str], workspace: &Path, home: &Path) -> Pty {
    let config = home.join("config").display().to_string();
    let data = home.join("data").display().to_string();
    let env = [
        ("XDG_CONFIG_HOME", config.as_str()),
        ("XDG_DATA_HOME", data.as_str()),
    ];
    let options = PtyOptions {
        rows: 40,
        cols: 120,
        env: &env,
    };
    Pty::spawn_with(args, workspace, home, options)
}

/// Waits up to [`DEADLINE`] (MCP servers start slowly on a loaded machine)
/// for `needle` on the screen or in the scrollback.
fn wait_for(pty: &Pty, needle: &str) {
    pty.wait_until(&format!("`{needle}`"), DEADLINE, |pty| {
        pty.everything().contains(needle)
    });
}

/// Ctrl-C twice: the app must exit promptly (a server still starting does
/// not hold it).
fn quit(mut pty: Pty) {
    pty.send(b"\x03");
    pty.send(b"\x03");
    pty.wait_exit();
}

/// A streamable-HTTP server on the official MCP Python SDK (installed with
/// the reference servers) that refuses requests without the bearer token.
const HTTP_SERVER: &str = r#"
import sys, uvicorn
from mcp.server.mcpserver import MCPServer
app = MCPServer("web")
@app.tool()
def add(a: int, b: int) -> str:
    """Adds two integers."""
    return str(a + b)
inner = app.streamable_http_app()
async def guarded(scope, receive, send):
    if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != b"Bearer s3cret":
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"unauthorized"})
        return
    await inner(scope, receive, send)
uvicorn.run(guarded, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"#;

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_streamable_http_server_is_reached_with_its_bearer_token() {
    let servers = servers();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let dir = workspace(&format!(
        "[mcp_servers.web]\nurl = \"http://127.0.0.1:{port}/mcp\"\nbearer_token_env_var = \"GLINT_TEST_WEB_TOKEN\"\n"
    ));
    let script_path = dir.path().join("http_server.py");
    std::fs::write(&script_path, HTTP_SERVER).expect("server");
    let _server = KillOnDrop(
        Command::new(&servers.python)
            .arg(&script_path)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the HTTP server starts"),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < DEADLINE, "the HTTP server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }

    let list = |token: Option<&str>| {
        mcp_list(&dir, &[], |command| {
            match token {
                Some(token) => command.env("GLINT_TEST_WEB_TOKEN", token),
                None => command.env_remove("GLINT_TEST_WEB_TOKEN"),
            };
        })
    };
    let (code, stdout) = list(Some("s3cret"));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("web  ready, 1 tool"), "{stdout}");
    assert!(
        stdout.contains("  mcp__web__add  [may change things]  Adds two integers."),
        "{stdout}"
    );
    let (code, stdout) = list(None);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "web  failed to start: the environment variable GLINT_TEST_WEB_TOKEN is not set"
        ),
        "{stdout}"
    );
    // The server's 401 ends the handshake: the token was what let it in.
    let (code, stdout) = list(Some("wrong"));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("web  failed to start: the MCP handshake"),
        "{stdout}"
    );

    let mut command = glint(&ws(&dir));
    command
        .args(["--task", "Add 2 and 40.", "--model"])
        .arg(format!("script:{}", script("mcp_http.json").display()))
        .arg("--json")
        .env("GLINT_TEST_WEB_TOKEN", "s3cret");
    let output = finish(command);
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_completed(&events, &output);
    let (started, finished) = calls(&events)[0];
    assert_eq!(started["arguments"], serde_json::json!({"a": 2, "b": 40}));
    assert_eq!(finished["ok"], true, "{finished}");
    assert_eq!(finished["output"], "42");
}
