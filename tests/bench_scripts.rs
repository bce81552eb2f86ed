//! The benchmark scripts' logic, not their timings.
//!
//! `benches/grep_vs_ripgrep.sh` run against stand-ins for ripgrep and
//! glint's grep: a pattern that matches nothing in `TREE` is reported, never
//! a silent exit.
//!
//! `benches/gpu/`, the scripts for a lent GPU machine (issue 17): they parse;
//! the logit comparison gets ties and disagreements right on files made
//! here; and `device-run.sh --cpu-smoke` runs every stage against glint's
//! tiny checkpoint on the CPU, so a script bug shows here rather than in the
//! GPU's few minutes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("stub written");
    let mut permissions = std::fs::metadata(&path).expect("stub").permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(&path, permissions).expect("stub made executable");
    path
}

/// Runs the bench on a one-file tree with a ripgrep that exits `rg_status`
/// after printing `rg_stderr`, and a glint grep that finds nothing.
fn run_bench(rg_status: u8, rg_stderr: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).expect("tree");
    std::fs::write(tree.join("a.txt"), "nothing to see\n").expect("file");
    let rg = script(
        dir.path(),
        "rg",
        &format!(
            "if [ \"$1\" = --version ]; then echo 'ripgrep 0.0.0 (stand-in)'; exit 0; fi\nprintf '%s' '{rg_stderr}' >&2\nexit {rg_status}"
        ),
    );
    let glint = script(
        dir.path(),
        "grep_bench",
        "echo 'No matches' ; echo 'grep `x`: 0 matches in 0 files' >&2",
    );
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/grep_vs_ripgrep.sh"))
        .env("TREE", &tree)
        .env("RG", &rg)
        .env("GREP_BENCH", &glint)
        .env("RUNS", "1")
        .output()
        .expect("bash runs the script")
}

#[test]
fn a_pattern_with_no_matches_is_reported() {
    let output = run_bench(1, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| case"))
        .collect();
    assert_eq!(rows.len(), 6, "{stdout}");
    for row in rows {
        assert!(row.contains("0 (no matches)"), "{row}");
    }
}

#[test]
fn a_failing_ripgrep_stops_the_script_with_a_message() {
    let output = run_bench(2, "rg: regex parse error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("failed (exit 2) on case 'literal, files_with_matches'"),
        "{stderr}"
    );
    assert!(stderr.contains("regex parse error"), "{stderr}");
}

fn gpu_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gpu")
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("the command starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn gpu_scripts_parse() {
    for script in ["build-cuda.sh", "make-cuda-root.sh", "device-run.sh"] {
        run_ok(Command::new("bash").arg("-n").arg(gpu_dir().join(script)));
    }
    for module in [
        "bandwidth.py",
        "compare_logits.py",
        "greedy_transformers.py",
        "kernel_times.py",
        "make_glm_checkpoint.py",
        "results.py",
        "summarize.py",
    ] {
        run_ok(
            Command::new("python3")
                .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())"])
                .arg(gpu_dir().join(module)),
        );
    }
}

/// Writes `rows` (positions x vocab) as `compare_logits.py` reads them, with
/// `argmax` as the file's own greedy choice per row.
fn write_logits(prefix: &Path, rows: &[Vec<f32>], argmax: &[usize]) {
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(prefix.with_extension("f32"), bytes).expect("logits written");
    let meta = serde_json::json!({"positions": rows.len(), "vocab": rows[0].len(),
        "ids": (0..rows.len()).collect::<Vec<_>>(), "argmax": argmax});
    std::fs::write(prefix.with_extension("json"), meta.to_string()).expect("meta written");
}

#[test]
fn compare_logits_counts_ties_and_disagreements() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Row 0 agrees; row 1's top-1 differs by a 0.25 gap; row 2 is tied in A
    // (ids 1 and 3), where A's greedy choice keeps the last maximum, as
    // mistralrs's sampler does, and B's (torch) the first.
    let a = vec![
        vec![0.0, 1.0, 0.5, 0.25, 0.0, -1.0, 0.0],
        vec![2.0, 0.0, 1.75, 0.0, 0.0, 0.0, 0.0],
        vec![0.0, 3.0, 0.0, 3.0, 1.0, 0.0, 0.0],
    ];
    let mut b = a.clone();
    b[1][2] = 2.5;
    b[2][3] = 2.0;
    write_logits(&dir.path().join("a"), &a, &[1, 0, 3]);
    write_logits(&dir.path().join("b"), &b, &[1, 2, 1]);
    let stdout = run_ok(
        Command::new("python3")
            .arg(gpu_dir().join("compare_logits.py"))
            .args(["compare", "--layers", "2", "--jobs", "1"])
            .arg(format!("glint={}", dir.path().join("a").display()))
            .arg(format!("hf={}", dir.path().join("b").display())),
    );
    let lines = json_lines(&stdout);
    let file_a = &lines[0];
    assert_eq!(file_a["kind"], "logits_file", "{stdout}");
    assert_eq!(file_a["tied_top1_rows"], 1, "{stdout}");
    assert_eq!(file_a["argmax_is_last_max"], 3, "{stdout}");
    assert_eq!(file_a["argmax_is_first_max"], 2, "{stdout}");
    let pair = &lines[2];
    assert_eq!(pair["kind"], "agreement", "{stdout}");
    assert_eq!(pair["layers"], 2);
    // First-maximum convention on both sides: rows 0 and 2 agree.
    assert_eq!(pair["top1_agree"], 2, "{stdout}");
    // Each side's own greedy choice: only row 0 agrees.
    assert_eq!(pair["top1_agree_greedy"], 1, "{stdout}");
    assert_eq!(pair["max_abs_diff"], 1.0, "{stdout}");
    assert_eq!(pair["max_abs_diff_position"], 2, "{stdout}");
    let differs = pair["top1_differs_at"].as_array().expect("a list");
    assert_eq!(differs.len(), 1, "{stdout}");
    assert_eq!(differs[0]["position"], 1);
    assert_eq!(differs[0]["a_top1"], 0);
    assert_eq!(differs[0]["b_top1"], 2);
    assert_eq!(differs[0]["a_gap"], 0.25);
    assert_eq!(differs[0]["b_gap"], 0.5);
}

/// Every stage of the device script on the CPU, against glint's tiny
/// checkpoint: the JSON rows each stage promises reach results.jsonl, the
/// comparison of two identical CPU runs is exact, and the summary renders.
#[test]
fn device_run_cpu_smoke_records_every_stage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let output = Command::new("bash")
        .arg(gpu_dir().join("device-run.sh"))
        .arg("--cpu-smoke")
        .env("GLINT_BIN", env!("CARGO_BIN_EXE_glint"))
        .env("OUT", &out)
        .env("GLINT_WORK", dir.path().join("work"))
        .env("GLINT_CKPT_ROOT", dir.path().join("ckpt"))
        .output()
        .expect("bash runs the script");
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap_or_default();
    let log = std::fs::read_to_string(out.join("run.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "{log}\n{results}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = json_lines(&results);
    let with = |stage: &str, kind: &str| -> Vec<&serde_json::Value> {
        rows.iter()
            .filter(|r| r["stage"] == stage && r["kind"] == kind)
            .collect()
    };
    let turns = with("cache", "turn");
    let f32_turns = with("cache-f32", "turn");
    assert!(
        turns.iter().chain(&f32_turns).all(|r| r["paged"] == "off"),
        "{results}"
    );
    assert!(turns.iter().all(|r| r["dtype"].is_null()), "{results}");
    assert!(f32_turns.iter().all(|r| r["dtype"] == "f32"), "{results}");
    assert_eq!((turns.len(), f32_turns.len()), (3, 3), "{results}");
    let mut layers_compared = Vec::new();
    let agreements = |stage: &str| -> Vec<&serde_json::Value> {
        rows.iter()
            .filter(|r| {
                r["kind"] == "agreement"
                    && r["stage"].as_str().is_some_and(|s| s.starts_with(stage))
            })
            .collect()
    };
    // The fused router is CUDA-only: on the CPU its switch must change nothing.
    let router = agreements("ab");
    assert_eq!(router.len(), 1, "{results}");
    assert_eq!(
        (&router[0]["a"], &router[0]["b"]),
        (&"router-off".into(), &"router-on".into()),
        "{results}"
    );
    assert_eq!(router[0]["max_abs_diff"], 0.0, "{results}");
    assert_eq!(router[0]["top1_agree"], router[0]["positions"], "{results}");
    for pair in agreements("agree") {
        assert_eq!(pair["a"], "glint-paged-off", "{results}");
        assert_eq!(pair["b"], "glint-repeat", "{results}");
        assert_eq!(pair["top1_agree"], pair["positions"], "{results}");
        assert_eq!(pair["max_abs_diff"], 0.0, "{results}");
        layers_compared.push(pair["layers"].as_u64().expect("layers"));
    }
    assert_eq!(layers_compared, [1, 2, 3], "{results}");
    let prefill: Vec<_> = with("speed", "prefill")
        .iter()
        .map(|r| r["context"].as_u64().expect("context"))
        .collect();
    assert_eq!(prefill, [64, 128], "{results}");
    assert_eq!(with("speed", "decode").len(), 1, "{results}");
    for stage in ["speed-64k", "speed-128k"] {
        assert_eq!(with(stage, "prefill").len(), 1, "{stage}: {results}");
    }
    let speed_load = with("speed", "load");
    assert_eq!(speed_load.len(), 1, "{results}");
    assert_eq!(speed_load[0]["max_context"], 8192, "{results}");
    // Issue 18's quantized-MoE pair: each switch quantizes into a cache of
    // its own, a third run loads from the second's cache, and bf16 runs on
    // the same checkpoint. (The tiny checkpoint's layers are too small for
    // mistralrs to serialize quantized, so no copy is kept here: each load
    // row says so.)
    let run_of = |step: &str| -> (Vec<&str>, String) {
        let copy = rows
            .iter()
            .filter(|r| r["stage"] == "ab" && r["step"] == step && r["kind"] == "load")
            .map(|r| r["quantized_copy"].as_str().unwrap_or_default())
            .collect();
        let command = rows
            .iter()
            .find(|r| r["stage"] == "ab" && r["step"] == step && r["kind"] == "step")
            .and_then(|r| r["command"].as_str())
            .unwrap_or_default();
        let cache = command
            .split_whitespace()
            .find(|word| word.starts_with("XDG_CACHE_HOME="))
            .unwrap_or_default()
            .to_string();
        (copy, cache)
    };
    let (off, on, again) = (
        run_of("moe-kernels-off"),
        run_of("moe-kernels-on"),
        run_of("moe-kernels-on-from-copy"),
    );
    for (copy, _) in [&off, &on, &again] {
        assert_eq!(copy.as_slice(), ["not_written"], "{results}");
    }
    assert!(!off.1.is_empty() && off.1 != on.1, "{results}");
    assert_eq!(on.1, again.1, "{results}");
    assert_eq!(run_of("bf16-L3").0, ["unused"], "{results}");
    let not_run: Vec<_> = with("profile", "step")
        .iter()
        .filter(|r| r["status"] == "not_run")
        .map(|r| r["step"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(not_run, ["nsys", "ncu"], "{results}");
    // The flash-attn pair needs the CUDA flash-attn build: on the CPU it is
    // recorded as not run, never as measured.
    let flash: Vec<_> = with("flash", "step")
        .iter()
        .map(|r| (r["step"].as_str(), r["status"].as_str()))
        .collect();
    assert_eq!(
        flash,
        [(Some("flash-attn-on"), Some("not_run"))],
        "{results}"
    );
    let summary = run_ok(
        Command::new("python3")
            .arg(gpu_dir().join("summarize.py"))
            .arg(out.join("results.jsonl")),
    );
    for heading in ["### 1.", "### 2.", "### 3.", "### Still to run"] {
        assert!(summary.contains(heading), "{heading} missing:\n{summary}");
    }
}
