//! How long an `--isq` start takes with and without the quantized cache, in
//! one run: the checkpoint loaded unquantized (the baseline a pre-quantized
//! format should match), quantized with the cache off (every start before
//! the cache), the first start that quantizes and writes the copy, and the
//! later starts that read it (median of `--runs`).
//!
//! `cargo run --release --example quantized_cache_load -- [--isq q4k]
//! [--layers 3] [--runs 3] [--device cpu] [--model DIR]`
//!
//! Without `--model` it writes the tiny GLM checkpoint at GLM-4.7-Flash's
//! real dimensions (`--layers` decoder layers, the first dense, experts one
//! per expert as in the official checkpoint, bf16) to a temporary
//! directory. Every load reads files the one before left in the page cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use glint::dev::tiny_glm::{self, ExpertLayout, TinyGlmOptions, WeightType};
use glint::engine::local::{
    DeviceChoice, IsqChoice, LoadSettings, LocalEngine, LocalOptions, QuantizedCache,
    QuantizedCacheUse, Sampling,
};

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum, default_value_t = IsqChoice::Q4k)]
    isq: IsqChoice,
    /// Decoder layers of the generated checkpoint.
    #[arg(long, default_value_t = 3)]
    layers: u32,
    /// Cached loads to take the median of.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// A checkpoint directory to load instead of the generated one.
    #[arg(long)]
    model: Option<PathBuf>,
}

fn options(model: &str, isq: IsqChoice, device: DeviceChoice) -> LocalOptions {
    LocalOptions {
        model: model.to_string(),
        isq,
        device,
        max_context: Some(4096),
        sampling: Sampling::default(),
        prefix_cache: true,
        paged_attn: glint::engine::paged_attn::PagedAttnChoice::Auto,
        precision: glint::engine::local::Precision::Auto,
        prefill_chunk: glint::engine::local::PrefillChunk::Auto,
    }
}

/// Seconds one load takes, and what it did with the cache.
async fn timed_load(
    options: &LocalOptions,
    cache: QuantizedCache,
) -> anyhow::Result<(f64, QuantizedCacheUse)> {
    let settings = LoadSettings {
        memory_limit: None,
        quantized_cache: cache,
    };
    let started = Instant::now();
    let engine = LocalEngine::load_with(options, &settings, Arc::new(|_| {})).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((seconds, engine.quantized_cache_use().clone()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let generated = tempfile::tempdir()?;
    let model = match &args.model {
        Some(dir) => dir.clone(),
        None => {
            let summary = tiny_glm::write(
                generated.path(),
                &TinyGlmOptions {
                    layers: args.layers,
                    real_dims: true,
                    hidden: None,
                    heads: None,
                    experts: None,
                    active_experts: None,
                    layout: ExpertLayout::PerExpert,
                    weight_type: WeightType::Bf16,
                    seed: 1,
                },
            )?;
            println!("checkpoint: {summary:?}");
            generated.path().to_path_buf()
        }
    };
    let name = model.display().to_string();
    let cache_dir = tempfile::tempdir()?;
    let quantized = options(&name, args.isq, args.device);

    let (unquantized, _) = timed_load(
        &options(&name, IsqChoice::None, args.device),
        QuantizedCache::off(),
    )
    .await?;
    let (isq, _) = timed_load(&quantized, QuantizedCache::off()).await?;
    let (first, written) = timed_load(&quantized, QuantizedCache::at(cache_dir.path())).await?;
    let &QuantizedCacheUse::Written { bytes, .. } = &written else {
        anyhow::bail!("the first start did not write its copy: {written:?}");
    };
    let mut cached = Vec::new();
    for _ in 0..args.runs.max(1) {
        let (seconds, used) = timed_load(&quantized, QuantizedCache::at(cache_dir.path())).await?;
        if !matches!(used, QuantizedCacheUse::Read { .. }) {
            anyhow::bail!("a later start did not read the copy: {used:?}");
        }
        cached.push(seconds);
    }
    cached.sort_by(f64::total_cmp);
    let cached = cached[cached.len() / 2];

    println!(
        "device {}, isq {}, copy {:.2} GiB",
        args.device,
        args.isq.name(),
        bytes as f64 / (1u64 << 30) as f64
    );
    println!("unquantized load        {unquantized:8.2} s");
    println!("isq load, cache off     {isq:8.2} s");
    println!("isq load, writing copy  {first:8.2} s");
    println!("isq load, cached (med)  {cached:8.2} s");
    println!("isq / cached            {:8.2}x", isq / cached);
    println!("writing / isq           {:8.2}x", first / isq);
    println!("cached / unquantized    {:8.2}x", cached / unquantized);
    Ok(())
}
