//! `glint dev speed` on the tiny GLM-4.7-Flash checkpoint (CPU) at tiny
//! sizes: every line appears, in order, with sane fields (the timings'
//! values are not checked: they belong in benchmarks), and a size that
//! fails is an error line after which the command goes on.

use serde_json::Value;

mod common;

use common::tiny_glm_options;
use glint::dev::tiny_glm::{self, WeightType};

fn checkpoint() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::Bf16, 3)).expect("checkpoint");
    dir
}

/// Runs `glint dev speed MODEL --device cpu --json ARGS...`: exit code and
/// the lines it printed.
fn speed(model: &str, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = common::glint(dir.path())
        .args(["dev", "speed", model, "--device", "cpu", "--json"])
        .args(args)
        .output()
        .expect("glint runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    (
        output.status.code(),
        lines,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn positive(line: &Value, field: &str) -> f64 {
    let value = line[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number: {line}"));
    assert!(value.is_finite() && value > 0.0, "{field}: {line}");
    value
}

#[test]
fn every_measurement_is_a_line_with_sane_fields() {
    let dir = checkpoint();
    let model = dir.path().display().to_string();
    let (code, lines, stderr) = speed(
        &model,
        &[
            "--prefill",
            "16,48",
            "--decode-after",
            "16",
            "--decode-tokens",
            "4",
            "--session-turns",
            "3",
            "--session-first",
            "40",
            "--session-new",
            "8",
            "--session-output",
            "4",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}\n{lines:?}");
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["load", "prefill", "prefill", "decode", "session"],
        "{lines:?}"
    );
    positive(&lines[0], "seconds");
    for (line, context) in lines[1..3].iter().zip([16, 48]) {
        assert_eq!(line["context"], context, "{line}");
        let seconds = positive(line, "seconds");
        let rate = positive(line, "tokens_per_s");
        assert!(
            (rate * seconds - context as f64).abs() < 1e-6 * context as f64 + 1e-9,
            "tokens/s is the context over the seconds: {line}"
        );
    }
    let decode = &lines[3];
    assert_eq!(decode["after"], 16, "{decode}");
    // Up to 4 tokens: the random model may end its answer sooner.
    let tokens = decode["tokens"].as_u64().expect("tokens");
    assert!((1..=4).contains(&tokens), "{decode}");
    positive(decode, "tokens_per_s");
    let session = &lines[4];
    assert_eq!(session["turns"], 3, "{session}");
    // 40 tokens, then two turns of at most 4 answered tokens, the turn end
    // and 8 new ones.
    let prompt = session["prompt_tokens"].as_u64().expect("prompt_tokens");
    assert!((40 + 2 * 9..=40 + 2 * 13).contains(&prompt), "{session}");
    positive(session, "ttft_cached_ms");
    positive(session, "ttft_cold_ms");
}

#[test]
fn a_size_that_fails_is_an_error_line_and_the_next_size_runs() {
    let dir = checkpoint();
    let model = dir.path().display().to_string();
    let (code, lines, stderr) = speed(
        &model,
        &[
            "--max-context",
            "256",
            "--prefill",
            "16,1000,32",
            "--decode-after",
            "16",
            "--decode-tokens",
            "2",
            "--session-turns",
            "0",
        ],
    );
    assert_eq!(code, Some(1), "some size failed: {stderr}\n{lines:?}");
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["load", "prefill", "error", "prefill", "decode"],
        "{lines:?}"
    );
    let error = &lines[2];
    assert_eq!(error["stage"], "prefill", "{error}");
    assert_eq!(error["context"], 1000, "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("1000"), "{error}");
    assert!(!message.contains('\n'), "{error}");
    assert_eq!(lines[3]["context"], 32);
}

#[test]
fn paged_attention_on_the_cpu_is_refused_before_loading() {
    let (code, lines, stderr) = speed("no-such-model", &["--paged-attn", "on"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("PagedAttention does not exist on the CPU"),
        "{stderr}"
    );
}
