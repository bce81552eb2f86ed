//! `glint dev ...`: the developer commands' arguments and dispatch, kept
//! beside the commands themselves rather than in the user-facing CLI.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::dev::tiny_glm::{self, TinyGlmOptions};
use crate::engine::local::{
    DeviceChoice, IsqChoice, LocalOptions, Precision, PrefillChunk, Sampling,
};
use crate::engine::paged_attn::{self, PagedAttnChoice};
use crate::headless::exit;

/// Runs one `glint dev` command; the exit code is the process's.
pub fn run(command: DevCommand) -> Result<u8> {
    match command {
        DevCommand::TinyGlm { dir, options } => write_tiny_glm(&dir, &options),
        DevCommand::CacheCheck(args) => crate::dev::cache_check::command(&args),
        DevCommand::Logits(args) => crate::dev::logits::command(&args),
        DevCommand::Speed(args) => crate::dev::speed::command(&args),
    }
}

/// `glint dev tiny-glm DIR`.
fn write_tiny_glm(dir: &Path, options: &TinyGlmOptions) -> Result<u8> {
    let summary = tiny_glm::write(dir, options)?;
    println!(
        "wrote {}: {} tensors, {} parameters, {:.1} MiB",
        dir.display(),
        summary.tensors,
        summary.parameters,
        summary.bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(exit::ANSWERED)
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Write a random-weight checkpoint of GLM-4.7-Flash's architecture.
    TinyGlm {
        /// Output directory (created if needed).
        dir: PathBuf,
        #[command(flatten)]
        options: TinyGlmOptions,
    },
    /// Check that turns served from the prefix cache equal cold prefills:
    /// runs an agent session on a cached and an uncached engine and prints,
    /// per turn, the largest first-step logit difference, greedy agreement,
    /// and the tokens prefilled against the new ones; then probe turns (one
    /// new token, a block boundary, the split-prefill noise row).
    CacheCheck(CacheCheckArgs),
    /// Teacher-forced logits: each position's logit row over a given token
    /// sequence, written as PREFIX.f32 (positions × vocab, little-endian)
    /// and PREFIX.json (ids and the greedy choice at each position).
    Logits(LogitsArgs),
    /// Load time, prefill and decode tokens/s at given contexts, and the
    /// time to first token of a long session's last turn, cached and cold;
    /// one line per measurement, printed as soon as it is known.
    Speed(SpeedArgs),
}

/// Where and how a dev command loads its model.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// A local model directory, .gguf file or Hugging Face id.
    pub model: String,
    /// Where the model runs: auto, cpu, cuda:N or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// In-situ quantization of the weights at load time.
    #[arg(long, value_enum, default_value_t = IsqChoice::None)]
    pub isq: IsqChoice,
    /// Most tokens one request may hold (also sizes a GPU's KV cache).
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u64).range(256..))]
    pub max_context: Option<u64>,
    /// PagedAttention: auto (on with CUDA), on (a GPU only) or off.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = PagedAttnChoice::Auto)]
    pub paged_attn: PagedAttnChoice,
    /// The most prompt tokens one forward pass computes: auto (8192 with
    /// PagedAttention, one pass otherwise), 0 (one pass) or a number.
    #[arg(long, value_name = "TOKENS", default_value = "auto")]
    pub prefill_chunk: PrefillChunk,
    /// Precision of the unquantized weights, activations and KV cache: auto
    /// (bf16 on a GPU, f32 on the CPU) or f32 (on a GPU: what bf16 rounding
    /// explains; without --isq or PagedAttention).
    #[arg(long, value_enum, default_value_t = Precision::Auto)]
    pub dtype: Precision,
}

#[derive(Debug, Args)]
pub struct LogitsArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// A file of whitespace-separated token ids.
    #[arg(long, value_name = "FILE")]
    pub ids: PathBuf,
    /// Output prefix: writes PREFIX.f32 and PREFIX.json.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SpeedArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Prompt lengths whose prefill is timed.
    #[arg(long, value_name = "TOKENS,...", value_delimiter = ',', default_value = "1024,8192,32768", value_parser = clap::value_parser!(u64).range(1..))]
    pub prefill: Vec<u64>,
    /// Prompt lengths after which decoding is timed.
    #[arg(long, value_name = "TOKENS,...", value_delimiter = ',', default_value = "1024,8192", value_parser = clap::value_parser!(u64).range(1..))]
    pub decode_after: Vec<u64>,
    /// Tokens decoded per decode measurement.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub decode_tokens: u64,
    /// Turns of the session whose last turn's time to first token is
    /// measured (0: no session).
    #[arg(long, default_value_t = 30)]
    pub session_turns: u64,
    /// Tokens of the session's first prompt (a system prompt and tools).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_first: u64,
    /// New tokens each later turn adds (a tool result or a message).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_new: u64,
    /// Tokens the model writes each turn.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_output: u64,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CacheCheckArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Agent turns in the session.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub turns: u64,
    /// Tokens generated per turn (greedy).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: u64,
    /// Leave glint's tool definitions out of the prompt (a short prompt, in
    /// which each turn's new tokens weigh more).
    #[arg(long)]
    pub no_tools: bool,
    /// Skip the probe turns after the session.
    #[arg(long)]
    pub no_probes: bool,
    /// Split-prefill noise rows among the probes: fresh prompts prefilled in
    /// two pieces (split at a quarter, a half, three quarters in turn)
    /// against one cold prefill. In bf16 a rare row jumps far above the
    /// rest; more rows show how often, to judge the turns' outliers by.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub noise_probes: u64,
    /// Compact the conversation before this turn, as /compact does (a
    /// summary turn, then the compacted conversation).
    #[arg(long, value_name = "TURN")]
    pub compact_at: Option<u64>,
    /// Stop before this turn and resume from the session log on a fresh
    /// engine, as a new glint would.
    #[arg(long, value_name = "TURN")]
    pub resume_at: Option<u64>,
    /// Print the per-turn reports as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl EngineArgs {
    /// The engine these arguments load, greedy, with the prefix cache;
    /// `max_tokens` caps each request's answer (`None`: the context's
    /// room). What [`EngineArgs::check`] refuses is refused first.
    pub fn local_options(&self, max_tokens: Option<usize>) -> Result<LocalOptions> {
        self.check()?;
        Ok(LocalOptions {
            model: self.model.clone(),
            isq: self.isq,
            device: self.device,
            max_context: self.max_context.map(usize::try_from).transpose()?,
            sampling: Sampling {
                temperature: 0.0,
                top_p: 1.0,
                max_tokens,
            },
            prefix_cache: true,
            paged_attn: self.paged_attn,
            precision: self.dtype,
            prefill_chunk: self.prefill_chunk,
        })
    }

    /// Refuses, before anything loads, a PagedAttention choice that cannot
    /// run here and what `--dtype` cannot run with.
    pub fn check(&self) -> Result<()> {
        paged_attn::check_early(self.paged_attn, self.device)?;
        self.dtype
            .check(self.isq, self.paged_attn)
            .map_err(anyhow::Error::msg)
    }
}
