//! glint's config files: `~/.config/glint/config.toml` (the user's),
//! `.glint/config.toml` in the workspace (the project's) and `-c key=value`
//! on the command line, merged in that order so the later one wins; a flag
//! given on the command line wins over all three.
//!
//! Every key is checked when the file is read: an unknown key or a bad value
//! is a one-line error naming the file and the key, so a typo never silently
//! falls back to a default (a misspelt `sandbox` must not leave commands
//! unconfined without the user knowing).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::cli::SandboxMode;
use crate::engine::local::{DeviceChoice, IsqChoice};
use crate::workspace::Workspace;

mod keys;

/// The project's config file, relative to the workspace root.
pub const PROJECT_FILE: &str = ".glint/config.toml";

/// Config files larger than this are refused: a config is a few lines, and a
/// cap keeps a stray link to a huge file from being read whole.
const MAX_BYTES: usize = 256 * 1024;

/// Settings from the config files and `-c`; `None` where none of them set
/// the key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub device: Option<DeviceChoice>,
    pub isq: Option<IsqChoice>,
    pub max_context: Option<u64>,
    /// `memory_limit`: GiB a local model may use at most.
    pub memory_limit: Option<f64>,
    /// `quantized_cache`: whether `--isq` loads keep and reuse a quantized
    /// copy of the weights.
    pub quantized_cache: Option<bool>,
    pub max_turns: Option<u32>,
    pub thinking: Option<bool>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u64>,
    pub sandbox: Option<SandboxMode>,
    pub network: Option<bool>,
    pub env_pass: Option<Vec<String>>,
    pub allow_background: Option<bool>,
    /// `approval`: which tool calls wait for the user.
    pub approval: Option<crate::approval::ApprovalPolicy>,
    /// `shell.writable_roots`: more directories sandboxed commands may
    /// write (absolute, `~` expanded; checked to exist at start).
    pub writable_roots: Option<Vec<PathBuf>>,
    pub check_command: Option<String>,
    pub check_timeout_s: Option<u64>,
    pub doom_loop_threshold: Option<u32>,
    pub max_retries: Option<u32>,
    /// `compaction.threshold`: percent of the context window at which the
    /// conversation is compacted.
    pub compaction_threshold: Option<u8>,
    /// `compaction.keep_turns`: model turns a compaction keeps verbatim.
    pub compaction_keep_turns: Option<usize>,
    pub http_idle_timeout_s: Option<u64>,
    /// `repo_map.enabled`: whether the system prompt has a repo map.
    pub repo_map: Option<bool>,
    /// `repo_map.max_tokens`: the repo map's budget.
    pub repo_map_max_tokens: Option<u64>,
    /// `[mcp_servers.NAME]`: MCP servers whose tools are offered (checked
    /// complete once every file and `-c` is merged).
    pub mcp_servers: crate::mcp::McpServers,
}

/// A config that cannot be used. The message is one line naming where the
/// problem is (file or `-c`) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: unknown key `{key}`; known keys: {known}")]
    UnknownKey {
        origin: String,
        key: String,
        known: String,
    },
    #[error("{origin}: `{key}` must be {takes}, got {got}")]
    BadValue {
        origin: String,
        key: String,
        takes: &'static str,
        got: String,
    },
    #[error("{origin}: not valid TOML: {problem}")]
    Syntax { origin: String, problem: String },
    #[error("{origin}: cannot read it: {reason}")]
    Unreadable { origin: String, reason: String },
    #[error("-c {given}: give KEY=VALUE, such as -c sampling.temperature=0.2")]
    NotKeyValue { given: String },
    #[error(transparent)]
    Mcp(#[from] crate::mcp::McpConfigError),
}

/// Where glint looks for the user's config: `$XDG_CONFIG_HOME/glint` or
/// `~/.config/glint`, even on macOS, so one path works everywhere.
pub fn user_config_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        _ => dirs::home_dir()?.join(".config"),
    };
    Some(base.join("glint").join("config.toml"))
}

/// Reads and merges the user's file, the workspace's `.glint/config.toml`
/// and the `-c` overrides, later ones winning.
pub fn load(workspace: &Workspace, overrides: &[String]) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    if let Some(path) = user_config_path()
        && let Some(text) = read_user_file(&path)?
    {
        config.merge_file(&path.display().to_string(), &text)?;
    }
    let project_origin = workspace.root().join(PROJECT_FILE).display().to_string();
    match workspace.read_text_capped(PROJECT_FILE, MAX_BYTES) {
        Ok(None) => {}
        Ok(Some(file)) if file.truncated => {
            return Err(too_large(project_origin));
        }
        Ok(Some(file)) => config.merge_file(&project_origin, &file.text)?,
        Err(error) => {
            return Err(ConfigError::Unreadable {
                origin: project_origin,
                reason: error.to_string(),
            });
        }
    }
    for given in overrides {
        config.merge_override(given)?;
    }
    config.mcp_servers.servers()?;
    Ok(config)
}

impl Config {
    /// Parses a whole file's text and lays its keys over `self`.
    pub fn merge_file(&mut self, origin: &str, text: &str) -> Result<(), ConfigError> {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax {
                origin: origin.to_string(),
                problem: syntax_problem(text, &e),
            })?;
        self.merge_table(origin, "", &table)
    }

    /// Applies one `-c key=value`. The value is read as TOML (`0.2`, `true`,
    /// `["A", "B"]`); anything that is not valid TOML is taken as a string,
    /// so `-c model=zai-org/GLM-4.7-Flash` needs no quotes.
    pub fn merge_override(&mut self, given: &str) -> Result<(), ConfigError> {
        let Some((key, raw)) = given.split_once('=') else {
            return Err(ConfigError::NotKeyValue {
                given: given.to_string(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::NotKeyValue {
                given: given.to_string(),
            });
        }
        let raw = raw.trim();
        let value = format!("value = {raw}")
            .parse::<Table>()
            .ok()
            .and_then(|mut t| t.remove("value"))
            .unwrap_or_else(|| Value::String(raw.to_string()));
        self.set(&format!("-c {given}"), key, &value)
    }

    fn merge_table(
        &mut self,
        origin: &str,
        prefix: &str,
        table: &Table,
    ) -> Result<(), ConfigError> {
        for (name, value) in table {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match value {
                Value::Table(inner) if keys::is_table(&key) => {
                    self.merge_table(origin, &key, inner)?
                }
                _ => self.set(origin, &key, value)?,
            }
        }
        Ok(())
    }

    fn set(&mut self, origin: &str, key: &str, value: &Value) -> Result<(), ConfigError> {
        if let Some(result) = self.mcp_servers.set_key(origin, key, value) {
            return Ok(result?);
        }
        let Some(spec) = keys::find(key) else {
            return Err(ConfigError::UnknownKey {
                origin: origin.to_string(),
                key: key.to_string(),
                known: keys::names(),
            });
        };
        (spec.set)(self, value).map_err(|()| ConfigError::BadValue {
            origin: origin.to_string(),
            key: key.to_string(),
            takes: spec.takes,
            got: shown_value(value),
        })
    }
}

/// The user's own file: absent is fine; a directory, a FIFO or an
/// unreadable file is an error, and at most [`MAX_BYTES`] are read.
fn read_user_file(path: &Path) -> Result<Option<String>, ConfigError> {
    let origin = || path.display().to_string();
    let unreadable = |reason: String| ConfigError::Unreadable {
        origin: origin(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return Err(unreadable("it is not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(e.to_string()))?;
    if bytes.len() > MAX_BYTES {
        return Err(too_large(origin()));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| unreadable("it is not UTF-8 text".into()))
}

fn too_large(origin: String) -> ConfigError {
    ConfigError::Unreadable {
        origin,
        reason: format!(
            "it is larger than {} KiB; a config file is a few lines",
            MAX_BYTES / 1024
        ),
    }
}

/// A TOML error as one line with its line number (the toml crate's own
/// message spans several lines with a source excerpt).
fn syntax_problem(text: &str, error: &toml::de::Error) -> String {
    let message = error
        .message()
        .lines()
        .next()
        .unwrap_or("syntax error")
        .trim();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{message} (line {line})")
        }
        None => message.to_string(),
    }
}

/// A value as the user wrote it, shortened for a one-line message.
fn shown_value(value: &Value) -> String {
    let text = value.to_string();
    crate::tools::one_line(&text, 60)
}
