//! The local engine's guards on CPU: a model that cannot fit is refused
//! before it is downloaded or loaded, and a model whose every step fails
//! ends each request with one line instead of retrying or hanging.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use glint::dev::tiny_glm::{self, WeightType};
use glint::engine::local::{LoadEvent, LocalEngine};
use glint::engine::{RawChunk, RawCompletion, RawCompletionRequest};
use serde_json::Value;

use common::{Sandbox, glint, greedy, load, tiny_glm_options};

/// Bytes of the safetensors shards in `dir`.
fn weight_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("checkpoint dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
        .map(|e| e.metadata().expect("metadata").len())
        .sum()
}

/// Loads with a memory cap, recording the load stages reported.
async fn load_capped(
    options: &glint::engine::local::LocalOptions,
    limit: u64,
) -> (Result<LocalEngine, String>, Vec<&'static str>) {
    let stages = Arc::new(Mutex::new(Vec::new()));
    let seen = stages.clone();
    let progress = Arc::new(move |event: LoadEvent| {
        seen.lock().expect("not poisoned").push(event.stage);
    });
    let result = LocalEngine::load_within(options, Some(limit), progress)
        .await
        .map_err(|e| e.to_string());
    let stages = stages.lock().expect("not poisoned").clone();
    (result, stages)
}

/// The tiny checkpoint's bf16 weights take twice their bytes as f32 on CPU:
/// a cap below that refuses the load before loading starts, naming the ISQ
/// level that fits; a cap above it loads.
#[tokio::test(flavor = "multi_thread")]
async fn a_memory_limit_below_the_f32_weights_refuses_the_load_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::Bf16, 7))
        .expect("checkpoint written");
    let bytes = weight_bytes(dir.path());
    let mut options = greedy(&dir.path().display().to_string(), 4);
    options.max_context = Some(256);

    // 1.5× the bf16 bytes: 1.35× usable, short of the 2× f32 takes, ample
    // for Q8_0 (0.53×).
    let (result, stages) = load_capped(&options, bytes * 3 / 2).await;
    let error = match result {
        Ok(_) => panic!("loaded within {bytes} × 1.5 bytes"),
        Err(e) => e,
    };
    assert_eq!(stages, ["resolving"], "refused before loading: {error}");
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(error.contains("RAM at f32"), "{error}");
    assert!(error.contains("--memory-limit"), "{error}");
    assert!(error.contains("--isq q8_0 should fit"), "{error}");

    // Too small for any level.
    let (result, stages) = load_capped(&options, bytes / 10).await;
    let error = result.err().expect("refused");
    assert_eq!(stages, ["resolving"], "refused before loading: {error}");
    assert!(error.contains("nothing fits"), "{error}");

    // Room for f32 weights and the KV cache: it loads and answers.
    let (result, stages) = load_capped(&options, bytes * 4).await;
    let engine = result.unwrap_or_else(|e| panic!("does not load within 4× its bytes: {e}"));
    assert_eq!(stages, ["resolving", "loading", "ready"]);
    assert_eq!(engine.max_context(), 256);
}

/// A Hub model larger than any machine's RAM is refused from the Hub's
/// listing, before a byte of its weights is requested.
#[tokio::test(flavor = "multi_thread")]
async fn a_hub_model_that_cannot_fit_is_refused_before_downloading() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let hub = MockServer::start().await;
    // 10 TB of bf16 weights: 5 T parameters, 2.8 TB even at Q4K.
    let shard = 10_000_000_000_000u64;
    let listing = serde_json::json!([
        {"type": "file", "path": "config.json", "size": 1000},
        {"type": "file", "path": "model-00001-of-00001.safetensors", "size": shard},
    ]);
    let info = serde_json::json!({"id": "owner/huge", "safetensors": {"total": shard / 2}});
    let checkpoint = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(checkpoint.path(), &tiny_glm_options(WeightType::Bf16, 7))
        .expect("checkpoint written");
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(checkpoint.path().join("config.json")).expect("config"),
    )
    .expect("json");
    for (route, body) in [
        ("/api/models/owner/huge/tree/main", listing),
        ("/api/models/owner/huge", info),
        ("/owner/huge/resolve/main/config.json", config),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&hub)
            .await;
    }

    let sandbox = Sandbox::create();
    let hf_home = sandbox.outside("hf-home");
    let endpoint = hub.uri();
    let output = tokio::task::spawn_blocking(move || {
        glint(&sandbox.workspace())
            .args(["--model", "owner/huge", "--task", "hi", "--json"])
            .args(["--device", "cpu"])
            .env("HF_HOME", &hf_home)
            .env("HF_ENDPOINT", &endpoint)
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_HUB_CACHE")
            .output()
            .expect("glint runs")
    })
    .await
    .expect("joined");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("glint: cannot load owner/huge: the model needs about"),
        "{err}"
    );
    assert!(last.contains("GiB of RAM"), "{err}");
    assert!(last.contains("nothing fits"), "{err}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stages: Vec<String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["stage"].as_str().map(String::from))
        .collect();
    assert_eq!(stages, ["resolving"], "{stdout}");
    let requested: Vec<String> = hub
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        requested.iter().all(|p| !p.ends_with(".safetensors")),
        "weights were requested: {requested:?}"
    );
}

/// `--memory-limit` (and the `memory_limit` key) reach the engine: below
/// the tiny checkpoint's f32 weights the run ends before loading, in one
/// line naming the limit and a level that fits; the key in a project config
/// does the same; a generous limit loads and answers.
#[test]
fn the_memory_limit_flag_and_key_refuse_a_model_that_cannot_fit() {
    let sandbox = Sandbox::create();
    let checkpoint = sandbox.outside("tiny");
    tiny_glm::write(&checkpoint, &tiny_glm_options(WeightType::Bf16, 7)).expect("checkpoint");
    // f32 on CPU: twice the bf16 bytes; half of that fits no f32 load.
    let limit_gib = weight_bytes(&checkpoint) as f64 / (1u64 << 30) as f64;
    let run = |extra: &[&str]| {
        glint(&sandbox.workspace())
            .args(["--model", &checkpoint.display().to_string(), "--task", "hi"])
            .args([
                "--device",
                "cpu",
                "--max-context",
                "8192",
                "--max-tokens",
                "2",
                "--json",
            ])
            .args(extra)
            .output()
            .expect("glint runs")
    };
    let refused = |output: &std::process::Output| {
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.trim().lines().last().unwrap_or_default().to_string();
        assert!(last.contains("--memory-limit"), "{err}");
        assert!(last.contains("--isq"), "{err}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.contains("\"loading\""), "{stdout}");
    };
    refused(&run(&["--memory-limit", &format!("{limit_gib:.6}")]));

    let config_dir = sandbox.workspace().join(".glint");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::write(
        config_dir.join("config.toml"),
        format!("memory_limit = {limit_gib:.6}\n"),
    )
    .expect("config");
    refused(&run(&[]));

    // The flag wins over the key: eight times the bf16 bytes loads (what
    // the random model then answers does not matter here).
    let fits = run(&["--memory-limit", &format!("{:.6}", limit_gib * 8.0)]);
    let stdout = String::from_utf8_lossy(&fits.stdout);
    assert!(stdout.contains("\"stage\":\"ready\""), "{fits:?}");
    assert!(stdout.contains("\"type\":\"run_finished\""), "{fits:?}");

    let bad = run(&["--memory-limit", "0"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not a number of GiB above 0"),
        "{bad:?}"
    );
}

/// A checkpoint whose routing groups do not divide its experts (8 experts
/// in 3 groups) loads, and every forward pass then fails in mistralrs: each
/// request ends with the engine's error in one line, none hangs or retries,
/// and the engine still answers the next one.
#[tokio::test(flavor = "multi_thread")]
async fn a_model_whose_every_step_fails_ends_each_request_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::Bf16, 7))
        .expect("checkpoint written");
    let config_path = dir.path().join("config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).expect("config"))
            .expect("json");
    assert_eq!(config["n_routed_experts"], 8, "{config}");
    config["n_group"] = 3.into();
    std::fs::write(&config_path, config.to_string()).expect("written");
    let engine = load(&greedy(&dir.path().display().to_string(), 8)).await;

    for attempt in 1..=3 {
        let mut stream = engine.complete(RawCompletionRequest {
            prompt: format!("[gMASK]<sop><|user|>attempt {attempt}<|assistant|>"),
            stop: Vec::new(),
        });
        let drive = async {
            let mut error = None;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(RawChunk::Text(text)) => panic!("the broken model said {text:?}"),
                    Ok(_) => {}
                    Err(e) => error = Some(e.to_string()),
                }
            }
            error
        };
        let error = tokio::time::timeout(Duration::from_secs(60), drive)
            .await
            .unwrap_or_else(|_| panic!("request {attempt} hung"))
            .unwrap_or_else(|| panic!("request {attempt} ended without an error"));
        assert!(error.starts_with("the model failed: "), "{error}");
        assert!(
            error.contains("cannot reshape"),
            "mistralrs's own error: {error}"
        );
        assert!(!error.contains('\n'), "one line: {error}");
    }
}
