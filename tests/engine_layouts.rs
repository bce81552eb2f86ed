//! The two layouts of routed experts run on CPU and give the same model:
//! the official per-expert tensors (`mlp.experts.N.gate_proj.weight`, which
//! glint's patch of mistralrs-quant loads; before it they became dummy layers
//! that failed at the first forward pass) and the stacked ones. The engine is
//! driven directly, so the comparison covers mistralrs's loading alone.

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use glint::dev::tiny_glm::{self, ExpertLayout, WeightType};
use mistralrs::{
    Constraint, CustomLogitsProcessor, ModelDType, NormalRequest, Request, RequestMessage,
    Response, SamplingParams, Tensor, TextModelBuilder,
};
use tokio::sync::mpsc;

/// Every decoding step's logits, as the engine computed them.
#[derive(Default)]
struct LogitsRecorder {
    steps: Mutex<Vec<Vec<f32>>>,
}

impl CustomLogitsProcessor for LogitsRecorder {
    fn apply(&self, logits: &Tensor, _context: &[u32]) -> mistralrs::Result<Tensor> {
        let row = logits.flatten_all()?.to_vec1::<f32>()?;
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(row);
        Ok(logits.clone())
    }
}

/// What a greedy completion of a checkpoint produced.
struct Run {
    logits: Vec<Vec<f32>>,
    tokens: Vec<u32>,
}

/// The prompt: GLM's `[gMASK]<sop>` and ordinary words.
const PROMPT: [u32; 8] = [154_822, 154_824, 17, 4_096, 99_999, 31, 2_024, 150_000];
const NEW_TOKENS: usize = 6;

async fn greedy_run(layout: ExpertLayout, weight_type: WeightType) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = tiny_glm::TinyGlmOptions {
        layout,
        ..common::tiny_glm_options(weight_type, 3)
    };
    tiny_glm::write(dir.path(), &options).expect("checkpoint written");
    let index =
        std::fs::read_to_string(dir.path().join("model.safetensors.index.json")).expect("index");
    let per_expert = index.contains("mlp.experts.0.gate_proj.weight");
    let stacked = index.contains("mlp.experts.gate_up_proj");
    assert_eq!(
        (per_expert, stacked),
        (
            layout == ExpertLayout::PerExpert,
            layout == ExpertLayout::Stacked
        ),
        "{layout:?} checkpoint"
    );

    let model = TextModelBuilder::new(dir.path().display().to_string())
        .with_force_cpu()
        .with_dtype(ModelDType::F32)
        .with_prefix_cache_n(None)
        .build()
        .await
        .unwrap_or_else(|e| panic!("the {layout:?} checkpoint does not load: {e}"));
    let recorder = Arc::new(LogitsRecorder::default());
    let (tx, mut rx) = mpsc::channel(8);
    let runner = model.inner();
    let mut params = SamplingParams::deterministic();
    params.max_len = Some(NEW_TOKENS);
    let request = Request::Normal(Box::new(NormalRequest {
        messages: RequestMessage::CompletionTokens(PROMPT.to_vec()),
        sampling_params: params,
        response: tx,
        return_logprobs: false,
        is_streaming: false,
        id: runner.next_request_id(),
        constraint: Constraint::None,
        suffix: None,
        tools: None,
        tool_choice: None,
        logits_processors: Some(vec![recorder.clone() as Arc<dyn CustomLogitsProcessor>]),
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    runner
        .get_sender(None)
        .expect("the engine runs")
        .send(request)
        .await
        .expect("the request is sent");
    let response = tokio::time::timeout(std::time::Duration::from_secs(300), rx.recv())
        .await
        .expect("the completion finishes")
        .expect("the engine answers");
    match response {
        Response::CompletionDone(_) => {}
        Response::CompletionModelError(message, _) | Response::ModelError(message, _) => {
            panic!("the {layout:?} checkpoint fails to run: {message}")
        }
        _ => panic!("the {layout:?} checkpoint gave an unexpected response"),
    }
    let logits = std::mem::take(
        &mut *recorder
            .steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    // Each step's greedy choice, taking the first maximum.
    let tokens = logits
        .iter()
        .map(|row| {
            let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.iter().position(|&x| x == best).expect("a maximum") as u32
        })
        .collect();
    Run { logits, tokens }
}

async fn layouts_agree(weight_type: WeightType) {
    let stacked = greedy_run(ExpertLayout::Stacked, weight_type).await;
    let per_expert = greedy_run(ExpertLayout::PerExpert, weight_type).await;
    assert_eq!(
        stacked.logits.len(),
        NEW_TOKENS,
        "one row of logits per step"
    );
    assert_eq!(
        per_expert.logits.len(),
        NEW_TOKENS,
        "one row of logits per step"
    );
    for (step, (a, b)) in stacked.logits.iter().zip(&per_expert.logits).enumerate() {
        let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
        assert_eq!(
            differing, 0,
            "{weight_type:?} step {step}: {differing} logits differ between the layouts"
        );
    }
    assert_eq!(stacked.tokens, per_expert.tokens);
    // The logits are the model's own, not a constant: steps differ.
    assert_ne!(stacked.logits[0], stacked.logits[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_expert_and_stacked_bf16_checkpoints_give_identical_logits() {
    layouts_agree(WeightType::Bf16).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn per_expert_and_stacked_f32_checkpoints_give_identical_logits() {
    layouts_agree(WeightType::F32).await;
}

/// Through glint itself: the official per-expert layout loads on CPU (glint
/// refused it there before quant patch 0001) and completes a prompt with the
/// same text as the stacked layout of the same weights.
#[tokio::test(flavor = "multi_thread")]
async fn glint_runs_both_layouts_on_cpu_with_the_same_text() {
    let mut texts = Vec::new();
    for layout in [ExpertLayout::PerExpert, ExpertLayout::Stacked] {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = tiny_glm::TinyGlmOptions {
            layout,
            ..common::tiny_glm_options(WeightType::F32, 3)
        };
        tiny_glm::write(dir.path(), &options).expect("checkpoint written");
        let engine = common::load(&common::greedy(&dir.path().display().to_string(), 6)).await;
        let text = common::completion_text(&engine, "[gMASK]<sop><|user|>hello<|assistant|>")
            .await
            .unwrap_or_else(|e| panic!("{layout:?}: {e}"));
        assert!(!text.is_empty(), "{layout:?} produced no text");
        texts.push(text);
    }
    assert_eq!(texts[0], texts[1], "per-expert vs stacked");
}
