//! The real binary, run headless with scripted models.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};

use serde_json::Value;

use common::completions::{ANSWER, logged_prompts, script_file};
use common::headless::{json_lines, run, stderr};
use common::{Sandbox, assert_extends, glint, model_arg};

/// glint asked "What do the notes say?" of `read_then_answer.json`, with
/// `extra` arguments.
fn ask_about_the_notes(sandbox: &Sandbox, extra: &[&str]) -> Output {
    let model = model_arg("read_then_answer.json");
    let mut args = vec!["--task", "What do the notes say?", "--model", &model];
    args.extend_from_slice(extra);
    run(sandbox, &args)
}

#[test]
fn json_mode_prints_the_documented_events() {
    let sandbox = Sandbox::create();
    let output = ask_about_the_notes(&sandbox, &["--json"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let events = json_lines(&output.stdout);

    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"run_started"));
    assert_eq!(types.last(), Some(&"run_finished"));
    for expected in [
        "turn_started",
        "reasoning",
        "text",
        "tool_call_started",
        "tool_call_finished",
        "turn_finished",
    ] {
        assert!(types.contains(&expected), "missing {expected} in {types:?}");
    }

    let started = &events[0];
    assert_eq!(started["task"], "What do the notes say?");
    assert_eq!(started["max_turns"], 50);
    assert!(
        started["model"]
            .as_str()
            .unwrap_or_default()
            .starts_with("script:")
    );
    let workspace = sandbox.workspace().canonicalize().expect("canonical");
    assert_eq!(started["workspace"], workspace.display().to_string());

    let call = events
        .iter()
        .find(|e| e["type"] == "tool_call_started")
        .expect("call");
    assert_eq!(call["name"], "read_file");
    assert_eq!(call["arguments"]["path"], "notes.txt");
    assert_eq!(call["turn"], 1);
    let result = events
        .iter()
        .find(|e| e["type"] == "tool_call_finished")
        .expect("result");
    assert_eq!(result["id"], call["id"]);
    assert_eq!(result["ok"], true);
    assert!(result["summary"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        result["output"]
            .as_str()
            .unwrap_or_default()
            .contains("4242")
    );

    let turns: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "turn_finished")
        .collect();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0]["tool_calls"], 1);
    assert!(
        turns[0]["usage"]["completion_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    let done = events.last().expect("events");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["turns"], 2);
    assert_eq!(done["answer"], "The notes say: the launch code is 4242.");
    assert_eq!(done["error"], Value::Null);
}

#[test]
fn plain_mode_answers_on_stdout_and_reports_tools_on_stderr() {
    let sandbox = Sandbox::create();
    let output = ask_about_the_notes(&sandbox, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "The notes say: the launch code is 4242.\n"
    );
    let err = stderr(&output);
    assert!(err.contains("read_file notes.txt ok"), "{err}");
    assert!(
        !err.contains("I should read it first"),
        "reasoning hidden by default: {err}"
    );

    let model = model_arg("read_then_answer.json");
    let output = run(
        &sandbox,
        &["--task", "x", "--model", &model, "--show-reasoning"],
    );
    assert!(stderr(&output).contains("I should read it first"));
}

#[test]
fn task_from_stdin() {
    let sandbox = Sandbox::create();
    let model = model_arg("read_then_answer.json");
    let mut child = glint(&sandbox.workspace())
        .args(["--task", "-", "--model", &model, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all("Summarise notes.txt\n".as_bytes())
        .expect("write task");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        json_lines(&output.stdout)[0]["task"],
        "Summarise notes.txt\n"
    );
}

#[test]
fn max_turns_reached_exits_1() {
    let sandbox = Sandbox::create();
    let model = model_arg("endless_tool_calls.json");
    let output = run(
        &sandbox,
        &[
            "--task",
            "loop",
            "--model",
            &model,
            "--max-turns",
            "2",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let events = json_lines(&output.stdout);
    let done = events.last().expect("events");
    assert_eq!(done["status"], "max_turns");
    assert_eq!(done["turns"], 2);
}

#[test]
fn model_error_exits_1_naming_the_call() {
    let sandbox = Sandbox::create();
    let model = model_arg("runs_out.json");
    let output = run(&sandbox, &["--task", "go", "--model", &model]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("model call 2"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let sandbox = Sandbox::create();
    let model = model_arg("read_then_answer.json");
    let missing = sandbox.outside("missing.json");
    let cases: Vec<Vec<String>> = vec![
        vec![
            "--task".into(),
            "go".into(),
            "--model".into(),
            format!("script:{}", missing.display()),
        ],
        vec![
            "--task".into(),
            "go".into(),
            "--model".into(),
            "script:".into(),
        ],
        vec![
            "--task".into(),
            "  ".into(),
            "--model".into(),
            model.clone(),
        ],
        vec![
            "--task".into(),
            "go".into(),
            "--model".into(),
            model.clone(),
            "--max-turns".into(),
            "0".into(),
        ],
        vec![
            "--task".into(),
            "go".into(),
            "--model".into(),
            model.clone(),
            "--cd".into(),
            missing.display().to_string(),
        ],
        vec![
            "--task".into(),
            "go".into(),
            "--model".into(),
            model.clone(),
            "--no-such-flag".into(),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(&sandbox, &args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!stderr(&output).trim().is_empty(), "{args:?}");
    }
    let bad_script = sandbox.outside("bad.json");
    std::fs::write(&bad_script, "{\"completion\": []}").expect("write");
    let output = run(
        &sandbox,
        &[
            "--task",
            "go",
            "--model",
            &format!("script:{}", bad_script.display()),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("completions"), "{err}");
}

#[test]
fn ctrl_c_cancels_the_turn_and_exits_130() {
    let sandbox = Sandbox::create();
    let model = model_arg("slow_answer.json");
    let mut child = glint(&sandbox.workspace())
        .args(["--task", "think", "--model", &model, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Wait until the model is streaming its reasoning.
    for line in lines.by_ref() {
        let line = line.expect("line");
        if line.contains("\"type\":\"reasoning\"") {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.expect("line")).collect();
    let exit = child.wait().expect("wait");
    assert_eq!(exit.code(), Some(130));
    let last: Value = serde_json::from_str(rest.last().expect("a final event")).expect("json");
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["status"], "interrupted");
}

#[test]
fn protocol_render_reproduces_a_golden_file() {
    let sandbox = Sandbox::create();
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/glm-golden/agentic_preserved_thinking.json");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&golden).expect("read")).expect("json");
    let output = run(
        &sandbox,
        &["protocol", "render", &golden.display().to_string()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        expected["expected_prompt"].as_str().expect("prompt")
    );
}

fn parse_cmd(sandbox: &Sandbox, args: &[&str], raw: &str) -> Value {
    let mut child = glint(&sandbox.workspace())
        .args(["protocol", "parse"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn protocol_parse_prints_reasoning_content_and_typed_calls() {
    let sandbox = Sandbox::create();
    let raw = "Plan.</think>Reading.<tool_call>read_file<arg_key>path</arg_key><arg_value> a.rs</arg_value><arg_key>limit</arg_key><arg_value>5</arg_value></tool_call><tool_call>list_dir</tool_call>";
    let parsed = parse_cmd(&sandbox, &[], raw);
    assert_eq!(parsed["reasoning"], "Plan.");
    assert_eq!(parsed["content"], "Reading.");
    assert_eq!(parsed["tool_calls"][0]["name"], "read_file");
    assert_eq!(parsed["tool_calls"][0]["arguments"]["path"], " a.rs");
    assert_eq!(parsed["tool_calls"][0]["arguments"]["limit"], 5);
    assert_eq!(parsed["tool_calls"][1]["name"], "list_dir");
    assert_eq!(parsed["tool_calls"][1]["arguments"], serde_json::json!({}));

    let parsed = parse_cmd(&sandbox, &["--no-thinking"], "Just text.");
    assert_eq!(parsed["reasoning"], "");
    assert_eq!(parsed["content"], "Just text.");

    // Cut short inside a call: the call is not complete, so nothing of it shows.
    let cut = "Plan.</think>Reading.<tool_call>read_file<arg_key>pa";
    let parsed = parse_cmd(&sandbox, &["--partial"], cut);
    assert_eq!(parsed["content"], "Reading.");
    assert_eq!(parsed["tool_calls"], serde_json::json!([]));

    // With --tools, values are typed by the given schema.
    let tools = sandbox.outside("tools.json");
    std::fs::write(
        &tools,
        r#"[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "string"}}}}}]"#,
    )
    .expect("write tools");
    let raw = "</think><tool_call>f<arg_key>n</arg_key><arg_value>5</arg_value></tool_call>";
    let parsed = parse_cmd(&sandbox, &["--tools", &tools.display().to_string()], raw);
    assert_eq!(parsed["tool_calls"][0]["arguments"]["n"], "5");
}

#[test]
fn protocol_prompt_shows_the_first_turn_exactly() {
    let sandbox = Sandbox::create();
    std::fs::write(
        sandbox.workspace().join("AGENTS.md"),
        "Run `make check` before committing.\n",
    )
    .expect("write AGENTS.md");
    let output = run(&sandbox, &["protocol", "prompt", "Fix the build"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let prompt = String::from_utf8_lossy(&output.stdout);
    assert!(
        prompt.starts_with("[gMASK]<sop><|system|>\n# Tools"),
        "{prompt}"
    );
    assert!(
        prompt.contains("\"name\": \"edit_file\""),
        "tools are listed"
    );
    let root = sandbox.workspace().canonicalize().expect("canonical");
    assert!(prompt.contains(&format!("Workspace root: {}", root.display())));
    assert!(
        prompt.contains("Run `make check` before committing."),
        "AGENTS.md is included"
    );
    assert!(
        prompt.ends_with("<|user|>Fix the build<|assistant|><think>"),
        "{prompt}"
    );
}

/// Writes a model script with these raw completions next to the workspace.
fn write_script(sandbox: &Sandbox, name: &str, completions: &[String]) -> String {
    script_file(&sandbox.outside(name), completions)
}

/// One raw completion calling `tool` with string arguments.
fn call_completion(tool: &str, args: &[(&str, &str)]) -> String {
    let mut raw = format!("I will call {tool}.</think>\n<tool_call>{tool}\n");
    for (key, value) in args {
        raw.push_str(&format!(
            "<arg_key>{key}</arg_key>\n<arg_value>{value}</arg_value>\n"
        ));
    }
    raw.push_str("</tool_call><|observation|>");
    raw
}

fn sigint(child: &std::process::Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) with a pid this test spawned and has not reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
}

/// CPU time (user + system) the child has used so far, from /proc.
fn cpu_seconds(child: &std::process::Child) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and
    // stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks / per_second.max(1) as f64
}

/// Waits (generously) for the child to exit; kills it and fails if it does
/// not.
fn wait_exit(child: &mut std::process::Child, within: std::time::Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("glint did not exit within {within:?} after Ctrl-C twice");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_twice_ends_glint_during_a_huge_grep() {
    // The reproduction: grep with a 1 MiB pattern over a file with a 1 MiB
    // line kept glint spinning after Ctrl-C (dropping the runtime waited for
    // the abandoned search), and a second Ctrl-C did nothing. Today the
    // pattern is refused at once, the run goes on to a long command, and
    // the Ctrl-C interrupts that; either way glint must end.
    let sandbox = Sandbox::create();
    std::fs::write(
        sandbox.workspace().join("long.txt"),
        format!("{}\n", "a".repeat(1 << 20)),
    )
    .expect("write long line");
    let pattern = format!("{}b", "a".repeat((1 << 20) - 1));
    let model = write_script(
        &sandbox,
        "huge_grep.json",
        &[
            call_completion("grep", &[("pattern", &pattern)]),
            call_completion("shell", &[("command", "sleep 600")]),
            ANSWER.to_string(),
        ],
    );
    let mut child = glint(&sandbox.workspace())
        .args(["--task", "search", "--model", &model, "--json"])
        .args(["--sandbox", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (err_tx, err_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let (out_tx, out_rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    let within = std::time::Duration::from_secs(30);
    let event = |kind: &str| {
        loop {
            match out_rx.recv_timeout(within) {
                Ok(line) if line.contains(&format!("\"type\":\"{kind}\"")) => break,
                Ok(_) => {}
                Err(e) => panic!("no {kind} event: {e}"),
            }
        }
    };
    event("tool_call_started");
    // Interrupt once the search is really under way (it has used a second
    // of CPU time), or once grep has answered (refused the pattern).
    let cpu_at_start = cpu_seconds(&child);
    loop {
        match out_rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(line) if line.contains("\"type\":\"tool_call_finished\"") => break,
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("glint stopped before the interrupt: {e}"),
        }
        if cpu_seconds(&child) >= cpu_at_start + 1.0 {
            break;
        }
    }
    sigint(&child);
    // The first Ctrl-C is seen ...
    loop {
        match err_rx.recv_timeout(within) {
            Ok(line) if line.contains("interrupting") => break,
            Ok(_) => {}
            // ... or glint already ended (and closed stderr).
            Err(_) => break,
        }
    }
    // ... and a second one ends glint at once, whatever still runs.
    sigint(&child);
    assert_eq!(wait_exit(&mut child, within), Some(130));
}

#[test]
fn plain_output_shows_control_characters_instead_of_sending_them() {
    let sandbox = Sandbox::create();
    let model = write_script(
        &sandbox,
        "escapes.json",
        &[
            call_completion("glob", &[("pattern", "\u{1b}]0;pwned\u{7}*.txt")]),
            "Done.</think>\u{1b}[31mred\u{1b}[0m\rover\u{8}written\ttab\nline two<|endoftext|>"
                .to_string(),
        ],
    );
    let output = run(&sandbox, &["--task", "answer", "--model", &model]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let out = String::from_utf8_lossy(&output.stdout);
    let err = stderr(&output);
    for text in [&*out, &*err] {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "raw control characters in {text:?}"
        );
    }
    assert!(
        out.contains("␛[31mred␛[0m␍over␈written\ttab\nline two"),
        "{out:?}"
    );
    assert!(err.contains("␛]0;pwned␇*.txt"), "{err:?}");
}

#[test]
fn json_tool_summaries_are_capped() {
    let sandbox = Sandbox::create();
    let name = "x".repeat(100_000);
    let model = write_script(
        &sandbox,
        "long_summary.json",
        &[
            call_completion("find_symbol", &[("name", &name)]),
            ANSWER.to_string(),
        ],
    );
    let output = run(&sandbox, &["--task", "find", "--model", &model, "--json"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let events = json_lines(&output.stdout);
    let finished = events
        .iter()
        .find(|e| e["type"] == "tool_call_finished")
        .expect("a finished call");
    let summary = finished["summary"].as_str().expect("summary");
    assert!(
        summary.chars().count() <= glint::tools::MAX_SUMMARY_CHARS + 1,
        "{} chars",
        summary.chars().count()
    );
    assert!(!summary.contains('\n'));
}

#[cfg(unix)]
#[test]
fn an_agents_md_leading_outside_is_skipped_with_a_warning() {
    let sandbox = Sandbox::create();
    std::os::unix::fs::symlink(
        sandbox.outside("secret.txt"),
        sandbox.workspace().join("AGENTS.md"),
    )
    .expect("symlink");
    let output = ask_about_the_notes(&sandbox, &["--json"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let events = json_lines(&output.stdout);
    assert_eq!(events[0]["type"], "warning", "{events:?}");
    let message = events[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("AGENTS.md") && message.contains("outside"),
        "{message}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("top secret"));

    let output = ask_about_the_notes(&sandbox, &[]);
    assert_eq!(output.status.code(), Some(0));
    let err = stderr(&output);
    assert!(err.contains("glint: warning: AGENTS.md"), "{err}");
}

// ---- The agent loop's guards, through the real binary's events ----

/// Runs `completions` as a script whose prompts are logged, with `--json`
/// (unless `plain`) and `extra` arguments; checks that each logged prompt
/// extends the one before it. Returns the output and the prompts.
fn run_guarded(
    sandbox: &Sandbox,
    completions: Value,
    plain: bool,
    extra: &[&str],
) -> (Output, Vec<String>) {
    let log = sandbox.outside("prompts.jsonl");
    let script = sandbox.outside("guards.json");
    let body = serde_json::json!({
        "completions": completions,
        "prompt_log": log.display().to_string(),
    });
    std::fs::write(&script, body.to_string()).expect("write the script");
    let model = format!("script:{}", script.display());
    let mut args = vec!["--task", "What is the launch code?", "--model", &model];
    if !plain {
        args.push("--json");
    }
    args.extend_from_slice(extra);
    let output = run(sandbox, &args);
    let prompts = logged_prompts(&log);
    assert_extends(&prompts);
    (output, prompts)
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

const LIST_CALL: &str =
    "<tool_call>list_dir<arg_key>path</arg_key><arg_value>.</arg_value></tool_call><|observation|>";
const FINAL: &str = "Done.</think>The launch code is 4242.<|endoftext|>";

fn looping() -> Value {
    serde_json::json!([
        format!("Look.</think>{LIST_CALL}"),
        format!("Again.</think>{LIST_CALL}"),
        format!("Again.</think>{LIST_CALL}"),
        FINAL,
    ])
}

#[test]
fn json_a_repeated_call_is_refused_with_a_warning() {
    let sandbox = Sandbox::create();
    let (output, prompts) = run_guarded(&sandbox, looping(), false, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(prompts.len(), 4);
    let events = json_lines(&output.stdout);
    let finished = of_type(&events, "tool_call_finished");
    assert_eq!(finished.len(), 3);
    assert_eq!(finished[2]["ok"], false);
    let refusal = finished[2]["output"].as_str().unwrap_or_default();
    assert!(
        refusal.contains("glint refused to run this call"),
        "{refusal}"
    );
    assert!(prompts[3].contains(refusal), "the model got the refusal");
    let warnings = of_type(&events, "warning");
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused a repeated call")
    );
    let turns = of_type(&events, "turn_finished");
    assert_eq!(turns[0]["finish_reason"], "tool_calls");
    assert_eq!(turns[3]["finish_reason"], "stop");
    assert_eq!(events.last().expect("events")["status"], "completed");
}

#[test]
fn plain_a_refused_call_is_a_warning_on_stderr_and_the_threshold_is_a_config_key() {
    let sandbox = Sandbox::create();
    let (output, _) = run_guarded(&sandbox, looping(), true, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("glint: warning: refused a repeated call: list_dir"),
        "{}",
        stderr(&output)
    );
    let sandbox = Sandbox::create();
    let (output, _) = run_guarded(
        &sandbox,
        looping(),
        false,
        &["-c", "agent.doom_loop_threshold=0"],
    );
    let events = json_lines(&output.stdout);
    assert!(of_type(&events, "warning").is_empty());
    assert!(
        of_type(&events, "tool_call_finished")
            .iter()
            .all(|e| e["ok"] == true)
    );
}

#[test]
fn json_a_call_inside_the_reasoning_runs() {
    let sandbox = Sandbox::create();
    let leaked = "Read the notes. <tool_call>read_file<arg_key>path</arg_key><arg_value>notes.txt</arg_value></tool_call><|observation|>";
    let (output, prompts) = run_guarded(&sandbox, serde_json::json!([leaked, FINAL]), false, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = json_lines(&output.stdout);
    let finished = of_type(&events, "tool_call_finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["name"], "read_file");
    assert_eq!(finished[0]["ok"], true);
    // The raw turn is in the next prompt exactly as generated.
    assert!(prompts[1][prompts[0].len()..].starts_with("Read the notes. <tool_call>read_file"));
}

#[test]
fn json_a_cut_turn_carries_its_finish_reason_and_runs_no_half_call() {
    let sandbox = Sandbox::create();
    let cut = "Write.</think><tool_call>write_file<arg_key>path</arg_key><arg_value>out.txt</arg_value><arg_key>content</arg_key><arg_value>half";
    let script = serde_json::json!([{"text": cut, "finish_reason": "length"}, FINAL]);
    let (output, prompts) = run_guarded(&sandbox, script, false, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = json_lines(&output.stdout);
    assert!(of_type(&events, "tool_call_started").is_empty());
    assert!(!sandbox.workspace().join("out.txt").exists());
    let turns = of_type(&events, "turn_finished");
    assert_eq!(turns[0]["finish_reason"], "length");
    assert_eq!(turns[0]["tool_calls"], 0);
    let warnings = of_type(&events, "warning");
    assert_eq!(warnings.len(), 1);
    assert!(prompts[1].contains("glint: your last output was cut off"));
}

#[test]
fn broken_output_is_retried_then_fails_with_exit_1() {
    let sandbox = Sandbox::create();
    let broken = "Read.</think><tool_call>read_file<arg_key>path</arg_key><|observation|>";
    let script = serde_json::json!([broken, broken, broken]);
    let (output, prompts) = run_guarded(&sandbox, script.clone(), false, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(prompts.len(), 3);
    let events = json_lines(&output.stdout);
    let last = events.last().expect("events");
    assert_eq!(last["status"], "malformed_output");
    assert_eq!(last["answer"], Value::Null);
    assert!(
        last["error"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed 3 times in a row")
    );
    assert_eq!(of_type(&events, "warning").len(), 2);

    // Plain mode shows no markup as an answer, and one fewer retry with the
    // config key.
    let sandbox = Sandbox::create();
    let (output, prompts) = run_guarded(&sandbox, script, true, &["-c", "agent.max_retries=1"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(prompts.len(), 2);
    assert!(output.stdout.is_empty(), "no answer on stdout");
    assert!(
        stderr(&output).contains("malformed 2 times in a row"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn errors_name_their_cause_once() {
    let sandbox = Sandbox::create();
    let missing = sandbox.outside("missing.json");
    let bad = sandbox.outside("bad.json");
    std::fs::write(&bad, r#"{"completions": 5}"#).expect("write script");
    for (script, cause) in [(missing, "No such file"), (bad, "invalid type")] {
        let model = format!("script:{}", script.display());
        let output = run(&sandbox, &["--task", "hi", "--model", &model]);
        assert_eq!(output.status.code(), Some(2));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(err.matches(cause).count(), 1, "{err}");
    }
}
