//! `glint dev ...`: the developer commands' arguments and dispatch, kept
//! beside the commands themselves rather than in the user-facing CLI.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::dev::tiny_glm::{self, TinyGlmOptions};
use crate::engine::local::{DeviceChoice, IsqChoice};
use crate::headless::exit;

/// Runs one `glint dev` command; the exit code is the process's.
pub fn run(command: DevCommand) -> Result<u8> {
    match command {
        DevCommand::TinyGlm { dir, options } => write_tiny_glm(&dir, &options),
        DevCommand::CacheCheck(args) => crate::dev::cache_check::command(&args),
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
    /// and the tokens prefilled against the new ones.
    CacheCheck(CacheCheckArgs),
}

#[derive(Debug, Args)]
pub struct CacheCheckArgs {
    /// A local model directory, .gguf file or Hugging Face id.
    pub model: String,
    /// Agent turns in the session.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub turns: u64,
    /// Tokens generated per turn (greedy).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: u64,
    /// Where the model runs: auto, cpu, cuda:N or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// In-situ quantization of the weights at load time.
    #[arg(long, value_enum, default_value_t = IsqChoice::None)]
    pub isq: IsqChoice,
    /// Most tokens one turn may hold (also sizes a GPU's KV cache).
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u64).range(256..))]
    pub max_context: Option<u64>,
    /// Leave glint's tool definitions out of the prompt (a short prompt, in
    /// which each turn's new tokens weigh more).
    #[arg(long)]
    pub no_tools: bool,
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
