//! The in-process mistralrs engine on CPU: a tiny random-weight GLM-4.7-Flash
//! checkpoint end to end, and SmolLM2-135M-Instruct, a real model.

mod common;

use std::sync::Arc;

use futures::StreamExt;
use glint::conversation::Message;
use glint::dev::tiny_glm::{self, WeightType};
use glint::engine::local::LocalEngine;
use glint::engine::{
    FinishReason, GlmModel, Model, ModelEvent, RawChunk, RawCompletion, RawCompletionRequest,
    TurnRequest, Usage,
};
use glint::tools::ToolRegistry;
use serde_json::Value;

use common::{
    Sandbox, force_tokens, glint, greedy, load, record_contexts, smollm2, tiny_glm_options,
};

/// Streams one raw completion; returns the text and the usage.
async fn complete(engine: &LocalEngine, prompt: &str) -> (String, Usage) {
    let turn = complete_turn(engine, prompt).await;
    (turn.pieces.concat(), turn.usage)
}

/// One raw completion as it streamed.
struct Completion {
    /// Each text chunk, in order.
    pieces: Vec<String>,
    usage: Usage,
    finish: Option<FinishReason>,
}

async fn complete_turn(engine: &LocalEngine, prompt: &str) -> Completion {
    let mut stream = engine.complete(RawCompletionRequest {
        prompt: prompt.to_string(),
        stop: Vec::new(),
    });
    let mut pieces = Vec::new();
    let mut usage = None;
    let mut finish = None;
    while let Some(chunk) = stream.next().await {
        match chunk.expect("the engine streams") {
            RawChunk::Text(piece) => pieces.push(piece),
            RawChunk::Usage(u) => usage = Some(u),
            RawChunk::Finish(reason) => {
                assert_eq!(finish, None, "one finish reason per turn");
                finish = Some(reason);
            }
        }
    }
    Completion {
        pieces,
        usage: usage.expect("usage is reported"),
        finish,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tiny_glm_runs_a_real_agent_prompt_through_the_parser() {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::Bf16, 7))
        .expect("checkpoint written");
    let engine = load(&greedy(&dir.path().display().to_string(), 12)).await;
    let model = GlmModel::new(engine);

    let tools = ToolRegistry::builtin().specs();
    let request = TurnRequest {
        messages: vec![
            Message::system("You are glint, a coding agent."),
            Message::user("List the files in the workspace."),
        ],
        tools,
        thinking: true,
    };
    let prompt = model.render(&request);
    let prompt_tokens = model
        .backend()
        .tokenize(&prompt)
        .await
        .expect("tokenizes")
        .len();
    let mut events = Vec::new();
    let mut stream = model.stream_turn(request);
    while let Some(event) = stream.next().await {
        events.push(event.expect("the turn streams"));
    }
    let usage = events.iter().find_map(|e| match e {
        ModelEvent::Usage(u) => Some(*u),
        _ => None,
    });
    let usage = usage.expect("usage reported");
    assert_eq!(usage.prompt_tokens, Some(prompt_tokens as u64));
    let generated = usage.completion_tokens.expect("counted");
    assert!((1..=12).contains(&generated), "{generated} tokens");
    // The prompt ends in `<think>`, so what the model says first is reasoning.
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            ModelEvent::ReasoningDelta(d) => Some(d.as_str()),
            _ => None,
        })
        .collect();
    assert!(!reasoning.is_empty(), "events: {events:?}");
}

#[test]
fn tiny_glm_through_the_binary_ends_with_a_documented_code() {
    let sandbox = Sandbox::create();
    let checkpoint = sandbox.outside("tiny-glm");
    let status = glint(&sandbox.workspace())
        .args([
            "dev",
            "tiny-glm",
            &checkpoint.display().to_string(),
            "--layers",
            "2",
        ])
        .status()
        .expect("glint runs");
    assert!(status.success());
    let output = glint(&sandbox.workspace())
        .args([
            "--model",
            &checkpoint.display().to_string(),
            "--task",
            "hi",
            "--json",
        ])
        .args([
            "--device",
            "cpu",
            "--max-tokens",
            "6",
            "--max-turns",
            "1",
            "--temperature",
            "0",
        ])
        .output()
        .expect("glint runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let stages: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "model_loading")
        .filter_map(|e| e["stage"].as_str())
        .collect();
    assert_eq!(stages, ["resolving", "loading", "ready"]);
    let last = events.last().expect("events");
    assert_eq!(last["type"], "run_finished", "{stdout}");
    let code = output.status.code();
    match last["status"].as_str() {
        Some("completed") => assert_eq!(code, Some(0)),
        Some("max_turns") => assert_eq!(code, Some(1)),
        other => panic!(
            "unexpected status {other:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[test]
fn a_context_beyond_the_models_window_is_refused_before_loading() {
    let sandbox = Sandbox::create();
    let checkpoint = sandbox.outside("tiny-glm");
    tiny_glm::write(&checkpoint, &tiny_glm_options(WeightType::Bf16, 7))
        .expect("checkpoint written");
    let output = glint(&sandbox.workspace())
        .args(["--model", &checkpoint.display().to_string(), "--task", "hi"])
        .args(["--device", "cpu", "--max-context", "300000"])
        .output()
        .expect("glint runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("larger than the model's window of 202752"),
        "{err}"
    );
    assert!(!err.contains("ready"), "refused before loading: {err}");
}

#[test]
fn a_missing_model_path_is_a_usage_error_not_a_download() {
    let sandbox = Sandbox::create();
    let output = glint(&sandbox.workspace())
        .args(["--model", "./no-such-model", "--task", "hi"])
        .output()
        .expect("glint runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn an_uncached_hub_model_offline_says_how_to_get_it() {
    let sandbox = Sandbox::create();
    let output = glint(&sandbox.workspace())
        .args(["--model", "zai-org/GLM-4.7-Flash", "--task", "hi"])
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", sandbox.outside("hf-home"))
        .env_remove("HF_HUB_CACHE")
        .output()
        .expect("glint runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("not in the Hugging Face cache"), "{err}");
    assert!(
        err.contains("huggingface-cli download zai-org/GLM-4.7-Flash"),
        "{err}"
    );
}

#[test]
fn a_gpu_from_a_cpu_build_names_the_feature_to_build_with() {
    if cfg!(feature = "cuda") {
        return;
    }
    let sandbox = Sandbox::create();
    let checkpoint = sandbox.outside("missing-but-irrelevant");
    std::fs::create_dir_all(&checkpoint).expect("mkdir");
    let output = glint(&sandbox.workspace())
        .args([
            "--model",
            &checkpoint.display().to_string(),
            "--task",
            "hi",
            "--device",
            "cuda:0",
        ])
        .output()
        .expect("glint runs");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("glint: --device cuda:0"), "{err}");
    assert!(last.contains("--features cuda"), "{err}");
}

const SMOL_PROMPT: &str = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHow many legs does a spider have?<|im_end|>\n<|im_start|>assistant\n";

#[tokio::test(flavor = "multi_thread")]
async fn smollm2_greedy_output_is_identical_across_runs_and_reports_usage() {
    let options = greedy(&smollm2().display().to_string(), 24);
    let first_engine = load(&options).await;
    let (first, usage) = complete(&first_engine, SMOL_PROMPT).await;
    drop(first_engine);
    let second_engine = load(&options).await;
    let (second, second_usage) = complete(&second_engine, SMOL_PROMPT).await;

    assert!(!first.trim().is_empty(), "the model said something");
    assert_eq!(first, second, "greedy decoding is deterministic");
    assert_eq!(usage, second_usage);
    let prompt_tokens = second_engine
        .tokenize(SMOL_PROMPT)
        .await
        .expect("tokenizes")
        .len();
    assert_eq!(usage.prompt_tokens, Some(prompt_tokens as u64));
    assert!(
        usage
            .completion_tokens
            .is_some_and(|n| (1..=24).contains(&n)),
        "{usage:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_longer_than_the_context_is_refused_before_the_engine_sees_it() {
    let mut options = greedy(&smollm2().display().to_string(), 8);
    options.max_context = Some(256);
    let engine = Arc::new(load(&options).await);
    let long = "word ".repeat(400);
    let mut stream = engine.complete(RawCompletionRequest {
        prompt: long,
        stop: Vec::new(),
    });
    let error = match stream.next().await {
        Some(Err(e)) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(error.contains("context holds 256"), "{error}");
    assert!(error.contains("/compact"), "{error}");
    assert!(error.contains("--max-context"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_download_reports_bytes_done_of_the_hubs_total() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let hub = MockServer::start().await;
    let listing = serde_json::json!([
        {"type": "file", "path": "config.json", "size": 1000},
        {"type": "file", "path": "model-00001-of-00002.safetensors", "size": 5_000_000},
        {"type": "file", "path": "model-00002-of-00002.safetensors", "size": 4_000_000},
        {"type": "file", "path": "README.md", "size": 123},
        {"type": "directory", "path": "docs", "size": 0},
    ]);
    Mock::given(method("GET"))
        .and(path("/api/models/owner/tiny-model/tree/main"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listing))
        .mount(&hub)
        .await;

    let sandbox = Sandbox::create();
    let hf_home = sandbox.outside("hf-home");
    let endpoint = hub.uri();
    let output = tokio::task::spawn_blocking(move || {
        glint(&sandbox.workspace())
            .args([
                "--model",
                "owner/tiny-model",
                "--task",
                "hi",
                "--json",
                "--device",
                "cpu",
            ])
            .env("HF_HOME", &hf_home)
            .env("HF_ENDPOINT", &endpoint)
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_HUB_CACHE")
            .output()
            .expect("glint runs")
    })
    .await
    .expect("joined");
    // The mock serves no files, so the load fails, after reporting progress.
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let downloading: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "downloading")
        .collect();
    assert!(!downloading.is_empty(), "{stdout}");
    assert_eq!(downloading[0]["bytes_total"], 9_001_000);
    assert!(downloading[0]["bytes_done"].is_u64());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("cannot load owner/tiny-model"), "{err}");
}

/// A damaged `.gguf` is refused before mistralrs sees it, in one line that
/// names the file and says what to do (mistralrs itself only says "Critical
/// failure loading model part 0!").
#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_gguf_is_named_in_one_line() {
    let fixture = smollm2();
    // The real file passes the check: its header and every tensor's data.
    glint::engine::local::check_gguf(&fixture).expect("the fixture is a whole GGUF file");

    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = std::fs::read(&fixture).expect("fixture read");
    let cases: [(&str, Vec<u8>); 3] = [
        // An interrupted download: the header and part of the data.
        ("truncated.gguf", bytes[..bytes.len() / 2].to_vec()),
        // Not a GGUF file at all.
        (
            "html.gguf",
            b"<!DOCTYPE html><html>rate limited</html>".to_vec(),
        ),
        // Cut inside the metadata.
        ("header.gguf", bytes[..4096].to_vec()),
    ];
    for (name, content) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("written");
        let options = greedy(&path.display().to_string(), 4);
        let error = match LocalEngine::load(&options, Arc::new(|_| {})).await {
            Ok(_) => panic!("{name} loaded"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("corrupt or incomplete"), "{error}");
        assert!(error.contains("sha256"), "{error}");
        assert!(!error.contains('\n'), "{error}");
        assert!(!error.contains("Critical failure"), "{error}");
    }
}

/// The issue-14 failure: a tiny checkpoint made to emit only GLM's tags
/// (added tokens, no chat template with think tags) streamed no text at all,
/// because mistralrs dropped them as special. glint's own decoding keeps
/// them: the text is exactly the decode of the generated ids, and a cut at
/// `--max-tokens` says so.
#[tokio::test(flavor = "multi_thread")]
async fn tiny_glm_streams_forced_tags_as_the_decoding_of_its_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(WeightType::Bf16, 7))
        .expect("checkpoint written");
    let engine = load(&greedy(&dir.path().display().to_string(), 6)).await;
    let prompt = "[gMASK]<sop><|user|>hi<|assistant|><think>";
    let prompt_len = engine.tokenize(prompt).await.expect("tokenizes").len();
    let think_end = tag("</think>");
    let call = tag("<tool_call>");
    let forced = vec![
        think_end,
        call,
        1234,
        tag("<arg_key>"),
        tag("</tool_call>"),
        99,
    ];
    engine.set_logits_override(Some(force_tokens(prompt_len, forced.clone())));
    let turn = complete_turn(&engine, prompt).await;
    let text = turn.pieces.concat();
    let expected = engine.detokenize(&forced).await.expect("decodes");
    assert!(
        expected.starts_with("</think><tool_call>"),
        "the tags decode to their text: {expected}"
    );
    assert_eq!(text, expected, "pieces: {:?}", turn.pieces);
    assert_eq!(turn.finish, Some(FinishReason::Length));
    assert_eq!(turn.usage.completion_tokens, Some(6));
    assert_eq!(turn.usage.prompt_tokens, Some(prompt_len as u64));
}

fn tag(text: &str) -> u32 {
    tiny_glm::TAG_TOKENS
        .iter()
        .find(|(_, t)| *t == text)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("{text} is not a tiny-glm tag"))
}

/// A real model's free output: the streamed text is the decode of the ids
/// the engine generated (every one of them seen by a step hook), and a
/// character split across byte tokens is only ever sent whole.
#[tokio::test(flavor = "multi_thread")]
async fn smollm2_streams_the_decoding_of_its_generated_ids() {
    let engine = load(&greedy(&smollm2().display().to_string(), 24)).await;
    let prompt_len = engine.tokenize(SMOL_PROMPT).await.expect("tokenizes").len();
    let context = Arc::new(std::sync::Mutex::new(Vec::new()));
    engine.set_step_hook(Some(record_contexts(context.clone())));
    let turn = complete_turn(&engine, SMOL_PROMPT).await;
    let generated = context.lock().expect("not poisoned")[prompt_len..].to_vec();
    let text = turn.pieces.concat();
    assert!(!text.trim().is_empty(), "the model said something");
    assert_eq!(text, engine.detokenize(&generated).await.expect("decodes"));
    match turn.finish {
        // Cut: every one of the 24 tokens was seen and is in the text.
        Some(FinishReason::Length) => assert_eq!(generated.len(), 24),
        // Its own end: the unseen last token was the stop token.
        Some(FinishReason::Stop) => assert!(generated.len() < 24),
        other => panic!("unexpected finish {other:?}"),
    }

    let wanted = "ok 🦀✓";
    let ids = engine.tokenize(wanted).await.expect("tokenizes");
    let mut split = false;
    for id in &ids {
        split |= engine
            .detokenize(&[*id])
            .await
            .expect("decodes")
            .contains('\u{FFFD}');
    }
    assert!(
        split,
        "{wanted:?} has a character split across tokens: {ids:?}"
    );
    engine.set_step_hook(None);
    engine.forget_continuation();
    let mut forced_ids = ids.clone();
    // Then SmolLM2's end of turn, a stop token, so the text ends there.
    forced_ids.extend(engine.tokenize("<|im_end|>").await.expect("tokenizes"));
    engine.set_logits_override(Some(force_tokens(prompt_len, forced_ids)));
    let forced = complete_turn(&engine, SMOL_PROMPT).await;
    assert_eq!(forced.finish, Some(FinishReason::Stop));
    assert_eq!(forced.pieces.concat(), wanted, "{:?}", forced.pieces);
    for piece in &forced.pieces {
        assert!(
            !piece.contains('\u{FFFD}'),
            "a broken character: {:?}",
            forced.pieces
        );
    }
}

/// Glint's own context limit: an answer that would outgrow the context is
/// cut one token short of it and reported as such.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_cut_by_the_context_reports_the_context_limit() {
    let mut options = greedy(&smollm2().display().to_string(), 100);
    options.max_context = Some(256);
    let engine = load(&options).await;
    let mut words = 200;
    let (prompt, prompt_len) = loop {
        let prompt = "word ".repeat(words);
        let len = engine.tokenize(&prompt).await.expect("tokenizes").len();
        if len >= 240 {
            break (prompt, len);
        }
        words += 5;
    };
    assert!(prompt_len < 250, "{prompt_len} prompt tokens");
    let word = engine.tokenize(" word").await.expect("tokenizes");
    engine.set_logits_override(Some(force_tokens(prompt_len, word)));
    let turn = complete_turn(&engine, &prompt).await;
    assert_eq!(turn.finish, Some(FinishReason::ContextLimit));
    assert_eq!(
        turn.usage.completion_tokens,
        Some((256 - prompt_len - 1) as u64)
    );
}
