//! Local engine throughput on CPU, and what the prefix cache saves over a
//! multi-turn exchange.
//!
//! `cargo run --release --example local_bench -- [MODEL] [TURNS]` (MODEL
//! defaults to the SmolLM2 fixture from tests/fetch-fixtures.sh). For each
//! turn of a growing ChatML conversation it measures, on one engine with the
//! prefix cache and one without (the baseline, in the same run): time to
//! first token (prefill), decode speed, and the warm/cold prefill ratio next
//! to the share of the prompt that is new. mistralrs 0.8.1 reports the full
//! prompt length as prompt_tokens whether or not the cache hit, so the
//! tokens actually prefilled are estimated from time: warm/cold × prompt.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use glint::engine::local::{DeviceChoice, IsqChoice, LocalEngine, LocalOptions, Sampling};
use glint::engine::{RawChunk, RawCompletion, RawCompletionRequest};

const QUESTIONS: [&str; 6] = [
    "How many legs does a spider have?",
    "And an ant?",
    "Which of the two is an insect?",
    "Name one more insect.",
    "How many wings does it have?",
    "Summarise what we said in one sentence.",
];

struct Timing {
    text: String,
    ttft_s: f64,
    decode_tok_s: f64,
    prompt_tokens: u64,
    generated: u64,
}

async fn run(engine: &LocalEngine, prompt: &str) -> anyhow::Result<Timing> {
    let started = Instant::now();
    let mut stream = engine.complete(RawCompletionRequest {
        prompt: prompt.to_string(),
        stop: vec!["<|im_end|>".into()],
    });
    let mut first = None;
    let mut text = String::new();
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        match chunk? {
            RawChunk::Text(piece) => {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64());
                text.push_str(&piece);
            }
            RawChunk::Usage(u) => usage = Some(u),
            RawChunk::Finish(_) => {}
        }
    }
    let total = started.elapsed().as_secs_f64();
    let ttft_s = first.unwrap_or(total);
    let usage = usage.ok_or_else(|| anyhow::anyhow!("no usage reported"))?;
    let generated = usage.completion_tokens.unwrap_or(0);
    let decode_tok_s = generated.saturating_sub(1) as f64 / (total - ttft_s).max(1e-9);
    Ok(Timing {
        text,
        ttft_s,
        decode_tok_s,
        prompt_tokens: usage.prompt_tokens.unwrap_or(0),
        generated,
    })
}

fn options(model: &str, prefix_cache: bool) -> LocalOptions {
    LocalOptions {
        model: model.to_string(),
        isq: IsqChoice::None,
        device: DeviceChoice::Cpu,
        max_context: Some(8192),
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: Some(32),
        },
        prefix_cache,
        paged_attn: glint::engine::paged_attn::PagedAttnChoice::Auto,
        precision: glint::engine::local::Precision::Auto,
        prefill_chunk: glint::engine::local::PrefillChunk::Auto,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args.next().map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        home.join(".cache/glint/fixtures/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    let turns: usize = args.next().map(|t| t.parse()).transpose()?.unwrap_or(4);
    let model = model.display().to_string();
    let warm = LocalEngine::load(&options(&model, true), Arc::new(|_| {})).await?;
    let cold = LocalEngine::load(&options(&model, false), Arc::new(|_| {})).await?;
    // Warm up both (allocations, first-call costs) on an unrelated prompt.
    run(
        &warm,
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    )
    .await?;
    run(
        &cold,
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    )
    .await?;

    println!("model: {model}");
    println!(
        "turn | prompt tok | new tok | cold prefill s | warm prefill s | warm/cold | new/prompt | est. prefilled | cold prefill tok/s | decode tok/s"
    );
    let mut prompt = String::from("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
    let mut previous_tokens = 0u64;
    for (turn, question) in QUESTIONS.iter().cycle().take(turns).enumerate() {
        prompt.push_str(&format!(
            "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        ));
        let warm_run = run(&warm, &prompt).await?;
        let cold_run = run(&cold, &prompt).await?;
        let total = warm_run.prompt_tokens;
        let new = total.saturating_sub(previous_tokens);
        let ratio = warm_run.ttft_s / cold_run.ttft_s.max(1e-9);
        println!(
            "{:>4} | {:>10} | {:>7} | {:>14.3} | {:>14.3} | {:>9.2} | {:>10.2} | {:>14.0} | {:>18.0} | {:>12.1}",
            turn + 1,
            total,
            new,
            cold_run.ttft_s,
            warm_run.ttft_s,
            ratio,
            new as f64 / total.max(1) as f64,
            ratio * total as f64,
            total as f64 / cold_run.ttft_s.max(1e-9),
            cold_run.decode_tok_s,
        );
        prompt.push_str(&warm_run.text);
        prompt.push_str("<|im_end|>\n");
        previous_tokens = total + warm_run.generated;
    }
    Ok(())
}
