//! Long output and post-edit syntax checks, end to end with scripted models:
//! through the agent core (in-process) and through the real binary's JSON
//! events. A 200,000-line command output is capped in the tool result, which
//! names a spill file holding all of it (read_file pages through it, and it
//! is removed with the session); an edit that breaks a Python file is
//! reported with line and column, and the edit that fixes it reports
//! nothing. Every test checks that each prompt extends the previous one
//! exactly.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;

use glint::agent::{self, AgentConfig, Event, GuardSettings, RunStatus};
use glint::engine::GlmModel;
use glint::engine::scripted::{Completion, ScriptedModel};
use glint::tools::{MAX_OUTPUT_BYTES, ShellPolicy, ToolContext, ToolRegistry};
use glint::workspace::Workspace;
use serde_json::{Value, json};

use common::{
    Sandbox, assert_extends, glint, numbers, script, spill_path, tail, tool_results, until_finished,
};

const PYTHON: &str = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3))\n";

/// The completions of a script under tests/scripts.
fn completions(name: &str) -> Vec<Completion> {
    let text = std::fs::read_to_string(script(name)).expect("read the script");
    let file: Value = serde_json::from_str(&text).expect("the script is JSON");
    serde_json::from_value(file["completions"].clone()).expect("completions")
}

/// What a capped 200,000-line `seq` result must look like.
fn assert_capped_seq(output: &str) {
    assert!(output.len() <= MAX_OUTPUT_BYTES, "{} bytes", output.len());
    assert!(
        output.contains("Output (200000 lines"),
        "{}",
        &output[..300.min(output.len())]
    );
    assert!(output.contains("\n1\n2\n3\n"), "the head is kept");
    assert!(output.contains("\n199999\n200000"), "the tail is kept");
    assert!(!output.contains("\n100000\n"), "the middle is not");
    assert!(
        output.contains("page through it with read_file"),
        "paging advice: {}",
        tail(output)
    );
    assert!(output.contains("removed when this session ends"));
}

// ---- Through the agent core ----

struct Core {
    handle: agent::AgentHandle,
    model: Arc<GlmModel<ScriptedModel>>,
    tools: Arc<ToolRegistry>,
    workspace: Workspace,
    events: Vec<Event>,
}

/// Runs the script `name` on the agent core until run_finished; the core is
/// left running (so the session's spill files stay) for the test to
/// inspect, and checks that each prompt extends the one before it.
async fn run_core(name: &str, sandbox: &Sandbox) -> Core {
    let model = Arc::new(GlmModel::new(ScriptedModel::new(
        "output-checks",
        completions(name),
        5,
    )));
    let tools = Arc::new(ToolRegistry::builtin());
    let workspace = Workspace::new(sandbox.workspace()).expect("workspace");
    let mut handle = agent::spawn(AgentConfig {
        model: model.clone(),
        tools: tools.clone(),
        workspace: workspace.clone(),
        system_prompt: "You are glint.".into(),
        max_turns: 20,
        thinking: true,
        shell: ShellPolicy::default(),
        guards: GuardSettings::default(),
        approval: Default::default(),
    });
    handle.submit("Do the task.");
    let events = until_finished(&mut handle).await;
    assert_extends(&model.backend().prompts());
    match events.last() {
        Some(Event::RunFinished { status, .. }) => assert_eq!(*status, RunStatus::Completed),
        other => panic!("the last event is not run_finished: {other:?}"),
    }
    Core {
        handle,
        model,
        tools,
        workspace,
        events,
    }
}

#[tokio::test]
async fn core_a_200000_line_output_is_capped_and_whole_in_a_file_read_file_pages() {
    let sandbox = Sandbox::create();
    let core = run_core("output_spill.json", &sandbox).await;
    let results = tool_results(&core.events);
    assert_eq!(results.len(), 1, "{results:?}");
    let (name, ok, output) = &results[0];
    assert_eq!(name, "shell");
    assert!(ok, "{}", tail(output));
    assert_capped_seq(output);

    // The model saw exactly that capped result in its next prompt.
    let prompts = core.model.backend().prompts();
    assert_eq!(prompts.len(), 2);
    assert!(prompts[1][prompts[0].len()..].contains(output.as_str()));

    // The named file, outside the workspace, holds the whole output.
    let path = spill_path(output);
    assert!(path.is_absolute());
    assert!(
        !path.starts_with(sandbox.workspace()),
        "spilled into the tree"
    );
    assert!(
        path.starts_with(core.tools.spill_area().dir()) || {
            let dir = std::fs::canonicalize(core.tools.spill_area().dir()).expect("spill dir");
            path.starts_with(dir)
        }
    );
    let whole = std::fs::read_to_string(&path).expect("the spill file exists");
    assert_eq!(
        whole,
        numbers(200_000),
        "the spill file is not the whole output"
    );

    // read_file, through the run's own registry and spill area, pages it.
    let mut ctx = ToolContext::new(core.workspace.clone());
    ctx.spill = core.tools.spill_area().clone();
    let args = json!({"path": path.to_str().unwrap(), "offset": 100000, "limit": 3});
    let Value::Object(args) = args else {
        unreachable!()
    };
    let page = core.tools.call("read_file", &args, &ctx).await;
    assert!(page.ok, "{}", page.content);
    assert_eq!(
        page.content,
        "100000\t100000\n100001\t100001\n100002\t100002\n[... 99998 more lines; call read_file with offset=100003 to continue]"
    );
    let args = json!({"path": path.to_str().unwrap(), "offset": 199999});
    let Value::Object(args) = args else {
        unreachable!()
    };
    let last = core.tools.call("read_file", &args, &ctx).await;
    assert!(last.ok, "{}", last.content);
    assert_eq!(last.content, "199999\t199999\n200000\t200000");

    // The session ends: its spill files go with it.
    let Core {
        handle,
        tools,
        model,
        ..
    } = core;
    handle.shutdown().await;
    drop(ctx);
    drop(model);
    drop(tools);
    assert!(!path.exists(), "{} outlived the session", path.display());
    assert!(!path.parent().expect("spill dir").exists());
}

#[tokio::test]
async fn core_an_edit_that_breaks_python_is_reported_and_the_fix_reports_nothing() {
    let sandbox = Sandbox::create();
    std::fs::write(sandbox.workspace().join("geo.py"), PYTHON).expect("write geo.py");
    let core = run_core("output_syntax.json", &sandbox).await;
    let results = tool_results(&core.events);
    let names: Vec<&str> = results.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["edit_file", "edit_file", "write_file", "write_file"],
        "{results:?}"
    );
    assert!(results.iter().all(|(_, ok, _)| *ok), "{results:?}");
    for broken in [&results[0].2, &results[2].2] {
        assert!(
            broken.contains("Syntax check (Python): this change introduced 1 syntax error"),
            "{broken}"
        );
        assert!(
            broken.contains("syntax error at 2:5 near `return w * (h +`"),
            "{broken}"
        );
    }
    for fixed in [&results[1].2, &results[3].2] {
        assert!(!fixed.contains("syntax error"), "{fixed}");
        assert!(!fixed.contains("Syntax check"), "{fixed}");
    }
    // Each result is what the model read in the next prompt.
    let prompts = core.model.backend().prompts();
    assert_eq!(prompts.len(), 5);
    for (i, (_, _, output)) in results.iter().enumerate() {
        assert!(
            prompts[i + 1][prompts[i].len()..].contains(output.as_str()),
            "prompt {} lacks result {i}",
            i + 1
        );
    }
    assert_eq!(
        std::fs::read_to_string(sandbox.workspace().join("geo.py")).unwrap(),
        PYTHON
    );
    core.handle.shutdown().await;
}

// ---- Through the real binary's JSON events ----

/// Runs the script `name` (with a prompt log added) through `glint --json`
/// with its data directory at `data`; returns the output, the events and
/// the prompts, after checking that each prompt extends the one before it.
fn run_headless(sandbox: &Sandbox, name: &str, data: &Path) -> (Output, Vec<Value>, Vec<String>) {
    let log = sandbox.outside("prompts.jsonl");
    let mut body: Value =
        serde_json::from_str(&std::fs::read_to_string(script(name)).expect("read the script"))
            .expect("the script is JSON");
    body["prompt_log"] = json!(log.display().to_string());
    let logged = sandbox.outside(name);
    std::fs::write(&logged, body.to_string()).expect("write the script");
    let model = format!("script:{}", logged.display());
    let output = glint(&sandbox.workspace())
        .env("XDG_DATA_HOME", data)
        .args(["--task", "Do the task.", "--model", &model, "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("glint runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert_eq!(events.last().expect("events")["status"], "completed");
    let prompts: Vec<String> = std::fs::read_to_string(&log)
        .expect("the model was called and logged its prompts")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON string per line"))
        .collect();
    assert_extends(&prompts);
    (output, events, prompts)
}

fn finished_calls(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "tool_call_finished")
        .collect()
}

#[test]
fn json_a_200000_line_output_is_capped_names_its_spill_file_which_goes_with_the_session() {
    let sandbox = Sandbox::create();
    let data = sandbox.outside("data");
    std::fs::create_dir(&data).expect("mkdir data");
    let (_, events, prompts) = run_headless(&sandbox, "output_spill.json", &data);
    let finished = finished_calls(&events);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["name"], "shell");
    assert_eq!(finished[0]["ok"], true);
    let output = finished[0]["output"].as_str().expect("output");
    assert_capped_seq(output);
    assert_eq!(prompts.len(), 2);
    assert!(prompts[1][prompts[0].len()..].contains(output));

    let path = spill_path(output);
    let sessions = data
        .canonicalize()
        .expect("canonical data dir")
        .join("glint/sessions");
    assert!(
        path.starts_with(&sessions),
        "{} is not under {}",
        path.display(),
        sessions.display()
    );
    assert!(!path.starts_with(sandbox.workspace()));
    // glint has exited: the session's spill directory is gone.
    assert!(!path.exists(), "{} outlived glint", path.display());
    assert!(!path.parent().expect("spill dir").exists());
}

#[test]
fn json_an_edit_that_breaks_python_reports_line_and_column_and_the_fix_nothing() {
    let sandbox = Sandbox::create();
    std::fs::write(sandbox.workspace().join("geo.py"), PYTHON).expect("write geo.py");
    let data = sandbox.outside("data");
    std::fs::create_dir(&data).expect("mkdir data");
    let (_, events, prompts) = run_headless(&sandbox, "output_syntax.json", &data);
    let finished = finished_calls(&events);
    let names: Vec<&str> = finished.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(
        names,
        ["edit_file", "edit_file", "write_file", "write_file"]
    );
    let outputs: Vec<&str> = finished
        .iter()
        .map(|e| e["output"].as_str().expect("output"))
        .collect();
    assert!(finished.iter().all(|e| e["ok"] == true), "{outputs:?}");
    for broken in [outputs[0], outputs[2]] {
        assert!(broken.contains("syntax error at 2:5"), "{broken}");
        assert!(broken.contains("Syntax check (Python)"), "{broken}");
    }
    for fixed in [outputs[1], outputs[3]] {
        assert!(!fixed.contains("syntax error"), "{fixed}");
        assert!(!fixed.contains("Syntax check"), "{fixed}");
    }
    assert_eq!(prompts.len(), 5);
    for (i, output) in outputs.iter().enumerate() {
        assert!(prompts[i + 1][prompts[i].len()..].contains(output));
    }
    assert_eq!(
        std::fs::read_to_string(sandbox.workspace().join("geo.py")).unwrap(),
        PYTHON
    );
}
