//! Exact prefix-cache reuse on the in-process engine (CPU, tiny GLM-4.7-Flash
//! checkpoint in F32): a turn served from the cache equals a cold prefill and
//! prefills only its new tokens; a failing or stalled request ends as an
//! error and frees its sequence, as does a cancelled one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use glint::conversation::Message;
use glint::dev::cache_check::{self, CacheCheckOptions, TurnReport};
use glint::dev::tiny_glm::{self, WeightType};
use glint::engine::local::prefill::PrefillLog;
use glint::engine::local::{DeviceChoice, IsqChoice, LocalEngine};
use glint::engine::{
    GlmModel, Model, ModelEvent, RawChunk, RawCompletion, RawCompletionRequest, StallLimits,
    TurnRequest,
};
use tempfile::TempDir;
use tracing_subscriber::layer::SubscriberExt;

mod common;

use common::{greedy, load, tiny_glm_options};

/// Tests of this binary run one at a time: the engine's prefill events go to
/// one process-wide log, which must see one session's engines only.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The engine reports prefix-cache lookups through `tracing`; every test of
/// this binary shares one subscriber that collects them.
fn prefill_log() -> &'static PrefillLog {
    static LOG: OnceLock<PrefillLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = PrefillLog::new();
        let subscriber = tracing_subscriber::registry().with(log.layer());
        tracing::subscriber::set_global_default(subscriber)
            .expect("one subscriber per test binary");
        log
    })
}

fn tiny_checkpoint(weight_type: WeightType) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    tiny_glm::write(dir.path(), &tiny_glm_options(weight_type, 11)).expect("checkpoint written");
    dir
}

/// Runs the cached-vs-cold check and asserts what issue 6 asks of every
/// turn: the same greedy tokens, first-step logits within 0.1, and only the
/// new tokens prefilled (the cache covers all earlier turns).
async fn check_session(model: String, turns: usize, tools: bool) -> Vec<TurnReport> {
    let options = CacheCheckOptions {
        model,
        device: DeviceChoice::Cpu,
        isq: IsqChoice::None,
        turns,
        max_tokens: 8,
        max_context: Some(8192),
        tools,
    };
    let reports = cache_check::run(&options, prefill_log(), Arc::new(|_| {}))
        .await
        .expect("the session runs");
    let table = cache_check::table(&reports);
    assert_eq!(reports.len(), turns, "{table}");
    for report in &reports {
        assert!(
            report.greedy_agrees(),
            "turn {} diverges:\n{table}",
            report.turn
        );
        assert!(
            report.max_abs_logit_diff <= 0.1,
            "turn {} logits differ by {}:\n{table}",
            report.turn,
            report.max_abs_logit_diff
        );
        assert_eq!(
            report.prefilled,
            Some(report.new_tokens as u64),
            "turn {} prefilled other than its new tokens:\n{table}",
            report.turn
        );
    }
    let first = &reports[0];
    assert_eq!(first.new_tokens, first.prompt_tokens, "{table}");
    for report in &reports[1..] {
        assert!(
            report.new_tokens * 2 < report.prompt_tokens,
            "turn {} reuses too little:\n{table}",
            report.turn
        );
    }
    reports
}

/// The tiny GLM-4.7-Flash checkpoint in F32: GLM's renderer, tags and stop
/// tokens, over a 10-turn session. Against unpatched mistralrs-core 0.8.1
/// every cached turn's logits are off by 0.012 to 0.016 and turn 6 picks
/// another token; patched, they agree to within 1e-4 (F32 sums in another
/// order), so this checkpoint is held to 1e-3, well inside the 0.1 bound.
#[tokio::test(flavor = "multi_thread")]
async fn tiny_glm_cached_turns_equal_cold_prefills() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tiny_checkpoint(WeightType::F32);
    let reports = check_session(dir.path().display().to_string(), 10, false).await;
    let worst = reports
        .iter()
        .map(|r| r.max_abs_logit_diff)
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-3,
        "logits differ by up to {worst}:\n{}",
        cache_check::table(&reports)
    );
}

/// SmolLM2-135M-Instruct, a real model, whose attention notices a wrong KV
/// row: against unpatched mistralrs-core 0.8.1 cached turns' logits differ
/// from cold by 0.8 to 1.6 and most turns pick other tokens.
#[tokio::test(flavor = "multi_thread")]
async fn smollm2_cached_turns_equal_cold_prefills() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // Run the GGUF's weights dequantized to F32 (candle's switch, read when
    // the weights load): quantized matmuls round differently for different
    // batch sizes, which a cached turn (few new tokens) and a cold prefill
    // (the whole prompt) are, and that noise would hide the cache's own
    // error. SAFETY: this binary's tests run one at a time (the lock above),
    // so no other thread reads the environment while it is written.
    unsafe { std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1") };
    check_session(common::smollm2().display().to_string(), 4, false).await;
}

fn request() -> TurnRequest {
    TurnRequest {
        messages: vec![
            Message::system("You are glint."),
            Message::user("Say something long."),
        ],
        tools: Vec::new(),
        thinking: true,
    }
}

/// Runs a turn to its end; the error it ended with, if any.
async fn turn_error(model: &GlmModel<LocalEngine>) -> Option<String> {
    let mut stream = model.stream_turn(request());
    let drive = async {
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                return Some(error.to_string());
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(120), drive)
        .await
        .expect("the turn ends (no hang)")
}

/// Waits until `steps` stops growing: the engine no longer runs the sequence.
async fn settled(steps: &AtomicUsize) -> usize {
    let mut last = steps.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = steps.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_model_step_ends_the_turn_with_an_error() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tiny_checkpoint(WeightType::Bf16);
    let model = GlmModel::new(load(&greedy(&dir.path().display().to_string(), 400)).await);
    let steps = Arc::new(AtomicUsize::new(0));
    let counter = steps.clone();
    model.backend().set_step_hook(Some(Arc::new(move |_, _| {
        if counter.fetch_add(1, Ordering::SeqCst) == 2 {
            return Err("injected step failure".into());
        }
        Ok(())
    })));
    let error = turn_error(&model).await.expect("the turn fails");
    assert!(error.contains("injected step failure"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(
        settled(&steps).await <= 4,
        "the failed sequence kept running"
    );

    // The engine serves the next turn normally.
    model.backend().set_step_hook(None);
    assert_eq!(turn_error(&model).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_request_ends_as_an_error_and_its_sequence_is_freed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tiny_checkpoint(WeightType::Bf16);
    let model = GlmModel::new(load(&greedy(&dir.path().display().to_string(), 400)).await)
        .with_stall_limits(StallLimits {
            first_chunk: Duration::from_secs(60),
            between_chunks: Duration::from_secs(1),
        });
    let steps = Arc::new(AtomicUsize::new(0));
    let counter = steps.clone();
    model.backend().set_step_hook(Some(Arc::new(move |_, _| {
        // The fourth step hangs for longer than the limit between chunks.
        if counter.fetch_add(1, Ordering::SeqCst) == 3 {
            std::thread::sleep(Duration::from_secs(3));
        }
        Ok(())
    })));
    let error = turn_error(&model).await.expect("the turn fails");
    assert!(
        error.contains("produced no further output for 1 s"),
        "{error}"
    );
    // Once the engine wakes up it finds the turn gone and drops the sequence
    // instead of generating its remaining ~400 tokens.
    let stopped_at = settled(&steps).await;
    assert!(
        stopped_at <= 6,
        "the abandoned sequence ran {stopped_at} steps"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_request_frees_its_sequence() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tiny_checkpoint(WeightType::Bf16);
    let engine = load(&greedy(&dir.path().display().to_string(), 400)).await;
    let steps = Arc::new(AtomicUsize::new(0));
    let counter = steps.clone();
    engine.set_step_hook(Some(Arc::new(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        // Slow enough that the sequence is still running when it is dropped.
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    })));
    let mut stream = engine.complete(RawCompletionRequest {
        prompt: "<|user|>hello<|assistant|><think>".into(),
        stop: Vec::new(),
    });
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        if let RawChunk::Text(_) = chunk.expect("streams") {
            chunks += 1;
            if chunks == 3 {
                break;
            }
        }
    }
    drop(stream);
    let stopped_at = settled(&steps).await;
    assert!(
        stopped_at < 20,
        "the cancelled sequence ran {stopped_at} steps of 400"
    );

    // The engine serves the next request normally.
    engine.set_step_hook(None);
    let mut stream = engine.complete(RawCompletionRequest {
        prompt: "<|user|>again<|assistant|><think>".into(),
        stop: Vec::new(),
    });
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        if let RawChunk::Usage(u) = chunk.expect("streams") {
            usage = Some(u);
        }
    }
    let generated = usage.and_then(|u| u.completion_tokens);
    assert!(generated.is_some_and(|n| n > 0), "{usage:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_raw_turn_record_makes_the_next_prompt_extend_this_one() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tiny_checkpoint(WeightType::Bf16);
    let model = GlmModel::new(load(&greedy(&dir.path().display().to_string(), 6)).await);
    let first = request();
    let first_prompt = model.render(&first);
    let mut raw = None;
    let mut stream = model.stream_turn(first.clone());
    while let Some(event) = stream.next().await {
        if let ModelEvent::RawTurn(record) = event.expect("streams") {
            raw = Some(record);
        }
    }
    let raw = raw.expect("a completed turn sends its raw record");
    assert!(raw.starts_with("<think>"), "{raw}");
    let mut messages = first.messages;
    messages.push(Message::Assistant {
        content: String::new(),
        reasoning_content: Some("whatever the parser made of it".into()),
        tool_calls: Vec::new(),
        reasoning_details: None,
        raw: Some(raw.clone()),
    });
    messages.push(Message::user("next"));
    let second = model.render(&TurnRequest {
        messages,
        tools: Vec::new(),
        thinking: true,
    });
    assert_eq!(
        second,
        format!(
            "{first_prompt}{}<|user|>next<|assistant|><think>",
            &raw["<think>".len()..]
        )
    );
}
