//! Command-line arguments.

use std::path::{Path, PathBuf};

use anyhow::Context;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};

use crate::agent::{DEFAULT_MAX_TURNS, GuardSettings};
use crate::approval::ApprovalPolicy;
use crate::config::Config;
use crate::engine::OpenOptions;
use crate::engine::local::PrefillChunk;
use crate::engine::local::{DeviceChoice, IsqChoice, QuantizedCache};
use crate::engine::paged_attn::PagedAttnChoice;
use crate::scratch::ApplyMode;
use crate::tools::{CheckCommand, EnvPolicy, SandboxPolicy, ShellPolicy};
use crate::workspace::Workspace;

/// glint: a terminal coding agent running GLM-4.7-Flash in-process.
#[derive(Debug, Parser)]
#[command(name = "glint", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run this task headless and exit ("-" reads the task from stdin).
    #[arg(long, value_name = "TEXT")]
    pub task: Option<String>,

    /// The model: a Hugging Face id, a local directory or .gguf file, or
    /// script:FILE to replay a scripted model.
    #[arg(long, env = "GLINT_MODEL", default_value = "zai-org/GLM-4.7-Flash")]
    pub model: String,

    /// In-situ quantization of a local model's weights at load time.
    #[arg(long, value_enum, default_value_t = IsqChoice::Auto)]
    pub isq: IsqChoice,

    /// Where a local model runs: auto, cpu, cuda:N or metal.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,

    /// Most tokens (prompt + answer) a turn may hold with a local model
    /// (default: the model's window); it also sizes the GPU's KV cache.
    /// With a server (openai:, openrouter:) it is the window compaction
    /// works against (default: the server's model listing).
    #[arg(long, value_name = "TOKENS", value_parser = clap::value_parser!(u64).range(256..))]
    pub max_context: Option<u64>,

    /// The most memory a local model may use, in GiB (GPU memory on a GPU,
    /// RAM on CPU), e.g. on a shared machine: a model that cannot fit is
    /// refused before it is downloaded or loaded, naming what would fit.
    #[arg(long, value_name = "GIB", value_parser = parse_memory_limit)]
    pub memory_limit: Option<f64>,

    /// Quantize a local model with --isq on every start instead of keeping
    /// its quantized weights in ~/.cache/glint/quantized and loading them
    /// on later starts.
    #[arg(long)]
    pub no_quantized_cache: bool,

    /// Keep a local model's KV cache in PagedAttention's blocks: auto (on
    /// with CUDA, off elsewhere), on (a GPU only), or off.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = PagedAttnChoice::Auto)]
    pub paged_attn: PagedAttnChoice,

    /// The most prompt tokens a local model computes in one forward pass: a
    /// longer prompt is prefilled in pieces through the prefix cache, which
    /// bounds the memory its activations take. auto: 8192 with
    /// PagedAttention, one pass otherwise; 0: always one pass.
    #[arg(long, value_name = "TOKENS", default_value = "auto")]
    pub prefill_chunk: PrefillChunk,

    /// Sampling temperature (0 = greedy; local default 0.7, as GLM recommends
    /// for agentic coding).
    #[arg(long, value_parser = parse_temperature)]
    pub temperature: Option<f64>,

    /// Nucleus sampling threshold (local default 1.0).
    #[arg(long, value_parser = parse_top_p)]
    pub top_p: Option<f64>,

    /// Most tokens the model may generate in one turn.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: Option<u64>,

    /// Base URL of an OpenAI-compatible server for --model openai:NAME
    /// (e.g. http://localhost:8000/v1), or to override OpenRouter's.
    #[arg(long, value_name = "URL", env = "GLINT_BASE_URL")]
    pub base_url: Option<String>,

    /// Workspace root (default: the current directory). Tools never read or
    /// write outside it.
    #[arg(long = "cd", value_name = "DIR")]
    pub cd: Option<PathBuf>,

    /// Stop after this many model turns without a final answer.
    #[arg(long, default_value_t = DEFAULT_MAX_TURNS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_turns: u32,

    /// Print one JSON event per line on stdout (schema in README.md).
    #[arg(long)]
    pub json: bool,

    /// Show the model's reasoning on stderr.
    #[arg(long)]
    pub show_reasoning: bool,

    /// Ask the model to answer without reasoning first.
    #[arg(long)]
    pub no_thinking: bool,

    /// How shell commands are confined: workspace-write lets them write only
    /// inside the workspace and temporary directories, without network
    /// unless --network on (Linux namespaces, plus Landlock where present);
    /// off runs them unconfined.
    #[arg(long, value_enum, default_value_t = SandboxMode::WorkspaceWrite)]
    pub sandbox: SandboxMode,

    /// Whether sandboxed shell commands may use the network (Unix sockets
    /// always work).
    #[arg(long, value_enum, default_value_t = NetworkMode::Off)]
    pub network: NetworkMode,

    /// Which tool calls wait for the user's approval: suggest (every edit
    /// and shell command), auto-edit (shell commands outside a read-only
    /// allowlist), full-auto (none; the shell stays sandboxed). Default
    /// full-auto; headless runs refuse what would need approval.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub approval: Option<ApprovalPolicy>,

    /// Let sandboxed shell commands also write in DIR (repeatable), e.g.
    /// --add-dir ~/.cargo so `cargo build` can fetch crates.
    #[arg(long = "add-dir", value_name = "DIR")]
    pub add_dir: Vec<PathBuf>,

    /// Whether a headless run's edits land in the workspace: always, or
    /// never (the run works in a scratch copy and --patch-out gets its
    /// changes as a patch; the workspace is left as it is).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ApplyMode::Always)]
    pub apply: ApplyMode,

    /// With --apply never: the file the run's changes are written to, as a
    /// patch for `git apply` (paths from the repository's top).
    #[arg(long, value_name = "FILE")]
    pub patch_out: Option<PathBuf>,

    /// Take up session ID again (default: the latest of this workspace),
    /// headless with --task or in the app; `glint sessions` lists them.
    #[arg(long, value_name = "ID", num_args = 0..=1)]
    pub resume: Option<Option<String>>,

    /// Continue this workspace's latest session (headless with --task, or
    /// in the app).
    #[arg(long = "continue", conflicts_with = "resume")]
    pub continue_: bool,

    /// Set a config key for this run, above the config files, e.g.
    /// -c sampling.temperature=0.2 (repeatable; keys in README.md).
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,

    /// From the config files only: which environment variables reach shell
    /// commands (`shell.env_pass`).
    #[arg(skip)]
    pub env_pass: Option<Vec<String>>,

    /// From the config files only: whether background processes outlive a
    /// shell call (`shell.allow_background`).
    #[arg(skip)]
    pub allow_background: bool,

    /// From the config files only: the command run after each change
    /// (`check_command`) and its time limit (`check_timeout_s`).
    #[arg(skip)]
    pub check: Option<CheckCommand>,

    /// From the config files only: the agent loop's guards
    /// (`agent.doom_loop_threshold`, `agent.max_retries`, `compaction.*`).
    #[arg(skip)]
    pub guards: GuardSettings,

    /// From the config files only: how long an HTTP stream may stall
    /// mid-answer (`http.idle_timeout_s`).
    #[arg(skip)]
    pub http_idle_timeout_s: Option<u64>,

    /// From the config files only: the MCP servers (`[mcp_servers.NAME]`).
    #[arg(skip)]
    pub mcp_servers: Vec<crate::mcp::ServerConfig>,
}

fn parse_temperature(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(t) if (0.0..=2.0).contains(&t) => Ok(t),
        _ => Err(format!("`{value}` is not a temperature between 0 and 2")),
    }
}

fn parse_memory_limit(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(gib) if gib > 0.0 && gib.is_finite() => Ok(gib),
        _ => Err(format!(
            "`{value}` is not a number of GiB above 0 (e.g. --memory-limit 20)"
        )),
    }
}

/// GiB (as `--memory-limit` and the `memory_limit` key take them) in bytes.
fn gib_to_bytes(gib: f64) -> u64 {
    (gib * (1u64 << 30) as f64) as u64
}

fn parse_top_p(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 1.0 => Ok(p),
        _ => Err(format!("`{value}` is not a top-p in (0, 1]")),
    }
}

/// The workspace `--cd` names, or the current directory.
pub fn open_workspace(cd: Option<&Path>) -> anyhow::Result<Workspace> {
    let root = match cd {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    Workspace::new(&root).with_context(|| format!("--cd {}", root.display()))
}

impl RunArgs {
    /// The engine options these arguments select.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            base_url: self.base_url.clone(),
            isq: self.isq,
            device: self.device,
            max_context: self.max_context.map(|n| n as usize),
            memory_limit: self.memory_limit.map(gib_to_bytes),
            quantized_cache: self.quantized_cache(),
            paged_attn: self.paged_attn,
            prefill_chunk: self.prefill_chunk,
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_tokens.map(|n| n as usize),
            http_idle_timeout: self.http_idle_timeout_s.map(std::time::Duration::from_secs),
        }
    }

    /// Where a local model's quantized weights are kept between starts
    /// (`--no-quantized-cache`, `quantized_cache = false`: nowhere).
    pub fn quantized_cache(&self) -> QuantizedCache {
        if self.no_quantized_cache {
            QuantizedCache::off()
        } else {
            QuantizedCache::default()
        }
    }

    /// How the shell tool runs commands.
    pub fn shell_policy(&self) -> ShellPolicy {
        ShellPolicy {
            sandbox: self.sandbox.into(),
            network: self.network == NetworkMode::On,
            env: EnvPolicy {
                pass: self.env_pass.clone(),
            },
            allow_background: self.allow_background,
            writable_roots: self.add_dir.clone(),
            check: self.check.clone(),
        }
    }

    /// Fills in what the config files (and `-c`) set, except where the same
    /// setting was given as a flag (or its environment variable), which
    /// wins. `matches` are the parsed arguments these came from.
    pub fn apply_config(&mut self, config: &Config, matches: &ArgMatches) {
        let given = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        fn pick<T: Clone>(given: bool, field: &mut T, value: &Option<T>) {
            if let (false, Some(value)) = (given, value) {
                *field = value.clone();
            }
        }
        fn pick_opt<T: Clone>(given: bool, field: &mut Option<T>, value: &Option<T>) {
            if !given && value.is_some() {
                *field = value.clone();
            }
        }
        pick(given("model"), &mut self.model, &config.model);
        pick_opt(given("base_url"), &mut self.base_url, &config.base_url);
        pick(given("device"), &mut self.device, &config.device);
        pick(given("isq"), &mut self.isq, &config.isq);
        pick_opt(
            given("max_context"),
            &mut self.max_context,
            &config.max_context,
        );
        pick_opt(
            given("memory_limit"),
            &mut self.memory_limit,
            &config.memory_limit,
        );
        if !given("no_quantized_cache")
            && let Some(keep) = config.quantized_cache
        {
            self.no_quantized_cache = !keep;
        }
        pick(given("max_turns"), &mut self.max_turns, &config.max_turns);
        pick_opt(
            given("temperature"),
            &mut self.temperature,
            &config.temperature,
        );
        pick_opt(given("top_p"), &mut self.top_p, &config.top_p);
        pick_opt(
            given("max_tokens"),
            &mut self.max_tokens,
            &config.max_tokens,
        );
        pick(given("sandbox"), &mut self.sandbox, &config.sandbox);
        let network = config.network.map(|on| {
            if on {
                NetworkMode::On
            } else {
                NetworkMode::Off
            }
        });
        pick(given("network"), &mut self.network, &network);
        if !given("no_thinking")
            && let Some(thinking) = config.thinking
        {
            self.no_thinking = !thinking;
        }
        pick_opt(given("approval"), &mut self.approval, &config.approval);
        // Roots add up: the config's, then the flags'.
        if let Some(roots) = &config.writable_roots {
            let flags = std::mem::take(&mut self.add_dir);
            self.add_dir = roots.iter().cloned().chain(flags).collect();
        }
        self.env_pass = config.env_pass.clone();
        self.allow_background = config.allow_background.unwrap_or(false);
        self.check = config.check_command.clone().map(|command| CheckCommand {
            command,
            timeout: std::time::Duration::from_secs(
                config
                    .check_timeout_s
                    .unwrap_or(CheckCommand::DEFAULT_TIMEOUT_S),
            ),
        });
        let defaults = GuardSettings::default();
        self.guards = GuardSettings {
            doom_loop_threshold: config
                .doom_loop_threshold
                .unwrap_or(defaults.doom_loop_threshold),
            max_retries: config.max_retries.unwrap_or(defaults.max_retries),
            compaction: crate::agent::compact::CompactionSettings {
                threshold_percent: config
                    .compaction_threshold
                    .unwrap_or(defaults.compaction.threshold_percent),
                keep_turns: config
                    .compaction_keep_turns
                    .unwrap_or(defaults.compaction.keep_turns),
            },
        };
        self.http_idle_timeout_s = config.http_idle_timeout_s;
        // Checked complete when the config was loaded.
        self.mcp_servers = config.mcp_servers.servers().unwrap_or_default();
    }
}

impl RunArgs {
    /// Checks the `--add-dir` and `shell.writable_roots` directories and
    /// makes them absolute and canonical; call once, before
    /// [`RunArgs::shell_policy`].
    pub fn resolve_writable_roots(&mut self) -> anyhow::Result<()> {
        let mut roots = Vec::new();
        for dir in &self.add_dir {
            let resolved = std::fs::canonicalize(dir)
                .ok()
                .filter(|path| path.is_dir())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--add-dir {}: no such directory; create it or leave it out",
                        dir.display()
                    )
                })?;
            if !roots.contains(&resolved) {
                roots.push(resolved);
            }
        }
        self.add_dir = roots;
        Ok(())
    }

    /// The approval policy: as configured, else full-auto.
    pub fn approval_policy(&self) -> ApprovalPolicy {
        self.approval.unwrap_or_default()
    }

    /// Where `--apply never` writes its patch (absolute), or `None` when
    /// the run edits the workspace; errors, one line each, for flags that
    /// do not go together.
    pub fn patch_out(&self) -> anyhow::Result<Option<PathBuf>> {
        let out = match (self.apply, &self.patch_out) {
            (ApplyMode::Always, None) => return Ok(None),
            (ApplyMode::Always, Some(_)) => anyhow::bail!(
                "--patch-out needs --apply never (otherwise the edits land in the workspace and there is no patch to write)"
            ),
            (ApplyMode::Never, None) => anyhow::bail!(
                "--apply never needs --patch-out FILE, the file the run's changes are written to"
            ),
            (ApplyMode::Never, Some(out)) => out,
        };
        if self.task.is_none() {
            anyhow::bail!(
                "--apply never applies to headless runs; add --task \"...\" (the app shows each edit for review instead)"
            );
        }
        let out = std::path::absolute(out)
            .with_context(|| format!("--patch-out {}: not a usable path", out.display()))?;
        if out.is_dir() {
            anyhow::bail!(
                "--patch-out {}: is a directory; name a file, e.g. {}/glint.diff",
                out.display(),
                out.display()
            );
        }
        let (Some(dir), Some(name)) = (out.parent(), out.file_name()) else {
            anyhow::bail!(
                "--patch-out {}: name a file, e.g. glint.diff",
                out.display()
            );
        };
        // Canonical, so messages name the file plainly.
        let Ok(canonical) = std::fs::canonicalize(dir).map(|dir| dir.join(name)) else {
            anyhow::bail!(
                "--patch-out {}: no such directory {}; create it first",
                out.display(),
                dir.display()
            );
        };
        Ok(Some(canonical))
    }
}

/// `--network`: whether sandboxed commands reach the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkMode {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxMode {
    WorkspaceWrite,
    Off,
}

impl From<SandboxMode> for SandboxPolicy {
    fn from(mode: SandboxMode) -> Self {
        match mode {
            SandboxMode::WorkspaceWrite => SandboxPolicy::WorkspaceWrite,
            SandboxMode::Off => SandboxPolicy::Off,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// See exactly what a model is fed and what glint makes of its output.
    #[command(subcommand)]
    Protocol(ProtocolCommand),
    /// Tools for developing glint.
    #[command(subcommand)]
    Dev(crate::dev::command::DevCommand),
    /// Take back the agent's latest change sets in this workspace (the last
    /// run's checkpoints), byte for byte.
    Undo(crate::checkpoint::command::UndoArgs),
    /// List the checkpoints `glint undo` would take back, newest first.
    Checkpoints(crate::checkpoint::command::CheckpointsArgs),
    /// MCP servers from the config: `glint mcp list` starts them and shows
    /// each one's state and tools.
    #[command(subcommand)]
    Mcp(crate::mcp::command::McpCommand),
    /// List this workspace's sessions, newest first (id, last active,
    /// turns, first message), for --resume ID.
    Sessions(crate::session::command::SessionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum ProtocolCommand {
    /// Render a conversation (the golden files' JSON shape) to GLM's prompt text.
    Render {
        /// JSON file: {"flags": {...}, "tools": [...], "messages": [...]} ("-" for stdin).
        file: PathBuf,
    },
    /// Print the exact prompt glint's first turn sends for TASK in this
    /// workspace (system prompt, AGENTS.md, tools, task).
    Prompt {
        task: String,
        /// Workspace root (default: the current directory).
        #[arg(long = "cd", value_name = "DIR")]
        cd: Option<PathBuf>,
        /// Render with thinking off.
        #[arg(long)]
        no_thinking: bool,
    },
    /// Parse raw GLM output from stdin into reasoning, content and tool calls (JSON).
    Parse {
        /// JSON array of tools in the golden files' shape (default: glint's own tools).
        #[arg(long, value_name = "FILE")]
        tools: Option<PathBuf>,
        /// The prompt ended with thinking off, so output starts as text.
        #[arg(long)]
        no_thinking: bool,
        /// Treat the input as a stream cut short: print only what was emitted so far.
        #[arg(long)]
        partial: bool,
    },
}
