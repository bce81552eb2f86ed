//! `[mcp_servers.NAME]` in glint's config files, in Codex CLI's shape so a
//! user can copy their existing server entries as they are.
//!
//! Keys are merged key by key like the rest of the config (the user's file,
//! then the project's, then `-c mcp_servers.NAME.KEY=VALUE`), each value is
//! checked when it is read, and the whole entry (a command or a url, not
//! both) once everything is merged. Every error is one line naming the file
//! and the server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

/// How long a server may take to start and list its tools, by default (as
/// in Codex CLI).
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one tool call may take, by default (as in Codex CLI).
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// One configured server, checked and complete.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub name: String,
    pub transport: Transport,
    pub enabled: bool,
    pub startup_timeout: Duration,
    pub tool_timeout: Duration,
    /// Only these tools are offered, when set.
    pub enabled_tools: Option<Vec<String>>,
    /// These tools are never offered.
    pub disabled_tools: Vec<String>,
}

impl ServerConfig {
    /// Whether the server's tool `tool` is offered to the model.
    pub fn offers(&self, tool: &str) -> bool {
        let enabled = self
            .enabled_tools
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == tool));
        enabled && !self.disabled_tools.iter().any(|name| name == tool)
    }
}

/// How glint reaches a server.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A program glint starts, speaking MCP on its stdin and stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        /// Variables set for the server, over the few passed by default.
        env: BTreeMap<String, String>,
        /// More of glint's own variables to pass through by name.
        env_vars: Vec<String>,
        /// Where it runs (default: the workspace root); relative to it.
        cwd: Option<PathBuf>,
    },
    /// A streamable-HTTP server at `url`.
    Http {
        url: String,
        /// The variable holding a bearer token for the `Authorization` header.
        bearer_token_env_var: Option<String>,
        /// Headers sent with every request.
        http_headers: BTreeMap<String, String>,
        /// Headers whose values come from glint's environment: header name
        /// to variable name.
        env_http_headers: BTreeMap<String, String>,
    },
}

/// A bad `[mcp_servers]` entry: one line naming the file and the server.
#[derive(Debug, thiserror::Error)]
pub enum McpConfigError {
    #[error(
        "{origin}: [mcp_servers.{server}] unknown key `{key}`; known keys: {}",
        KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
    )]
    UnknownKey {
        origin: String,
        server: String,
        key: String,
    },
    #[error("{origin}: [mcp_servers.{server}] `{key}` must be {takes}, got {got}")]
    BadValue {
        origin: String,
        server: String,
        key: String,
        takes: &'static str,
        got: String,
    },
    #[error("{origin}: [mcp_servers.{server}] {problem}")]
    Incomplete {
        origin: String,
        server: String,
        problem: String,
    },
    #[error(
        "{origin}: `mcp_servers` must be a table of servers, such as [mcp_servers.time] with command = \"mcp-server-time\""
    )]
    NotATable { origin: String },
    #[error(
        "{origin}: [mcp_servers.{server}] the server name may hold only letters, digits, `-` and `_`"
    )]
    BadName { origin: String, server: String },
}

/// Every server's keys as merged so far, by server name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct McpServers {
    entries: BTreeMap<String, Entry>,
}

/// One server's keys as merged so far, and where the last one came from.
#[derive(Debug, Clone, Default, PartialEq)]
struct Entry {
    origin: String,
    command: Option<String>,
    args: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    env_vars: Option<Vec<String>>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    bearer_token_env_var: Option<String>,
    http_headers: Option<BTreeMap<String, String>>,
    env_http_headers: Option<BTreeMap<String, String>>,
    enabled: Option<bool>,
    startup_timeout: Option<Duration>,
    tool_timeout: Option<Duration>,
    enabled_tools: Option<Vec<String>>,
    disabled_tools: Option<Vec<String>>,
}

mod keys;
#[cfg(test)]
mod tests;

use keys::KEYS;

impl McpServers {
    /// Takes `key` (dotted, from a file's tables or `-c`) with `value` when
    /// it belongs to `mcp_servers`; `None` when it does not.
    pub fn set_key(
        &mut self,
        origin: &str,
        key: &str,
        value: &Value,
    ) -> Option<Result<(), McpConfigError>> {
        let rest = match key.strip_prefix("mcp_servers") {
            Some("") => None,
            Some(rest) => Some(rest.strip_prefix('.')?),
            None => return None,
        };
        Some(match rest {
            None => self.merge_servers(origin, value),
            Some(rest) => match rest.split_once('.') {
                None => self.merge_server(origin, rest, value),
                Some((server, key)) => self.set_server_key(origin, server, key, value),
            },
        })
    }

    /// `[mcp_servers]` as a whole: a table of server tables.
    fn merge_servers(&mut self, origin: &str, value: &Value) -> Result<(), McpConfigError> {
        let Value::Table(servers) = value else {
            return Err(McpConfigError::NotATable {
                origin: origin.to_string(),
            });
        };
        for (server, entry) in servers {
            self.merge_server(origin, server, entry)?;
        }
        Ok(())
    }

    /// `[mcp_servers.NAME]`: a table of keys.
    fn merge_server(
        &mut self,
        origin: &str,
        server: &str,
        value: &Value,
    ) -> Result<(), McpConfigError> {
        let Value::Table(keys) = value else {
            return Err(McpConfigError::Incomplete {
                origin: origin.to_string(),
                server: server.to_string(),
                problem: "must be a table of keys, such as command = \"mcp-server-time\"".into(),
            });
        };
        check_name(origin, server)?;
        // An empty table still declares the server (and fails the check
        // for a command or url, rather than vanishing).
        self.entry(origin, server);
        for (key, value) in keys {
            self.set_server_key(origin, server, key, value)?;
        }
        Ok(())
    }

    fn entry(&mut self, origin: &str, server: &str) -> &mut Entry {
        let entry = self.entries.entry(server.to_string()).or_default();
        entry.origin = origin.to_string();
        entry
    }

    fn set_server_key(
        &mut self,
        origin: &str,
        server: &str,
        key: &str,
        value: &Value,
    ) -> Result<(), McpConfigError> {
        check_name(origin, server)?;
        let Some(spec) = KEYS.iter().find(|k| k.name == key) else {
            return Err(McpConfigError::UnknownKey {
                origin: origin.to_string(),
                server: server.to_string(),
                key: key.to_string(),
            });
        };
        let entry = self.entry(origin, server);
        (spec.set)(entry, value).ok_or_else(|| McpConfigError::BadValue {
            origin: origin.to_string(),
            server: server.to_string(),
            key: key.to_string(),
            takes: spec.takes,
            got: crate::tools::one_line(&value.to_string(), 60),
        })
    }

    /// The complete servers, in name order, or the first entry that is not
    /// complete (no command or url, or both, or keys of the other kind).
    pub fn servers(&self) -> Result<Vec<ServerConfig>, McpConfigError> {
        self.entries
            .iter()
            .map(|(name, entry)| entry.complete(name))
            .collect()
    }
}

impl Entry {
    fn complete(&self, name: &str) -> Result<ServerConfig, McpConfigError> {
        let incomplete = |problem: &str| McpConfigError::Incomplete {
            origin: self.origin.clone(),
            server: name.to_string(),
            problem: problem.to_string(),
        };
        let stdio_keys = self.args.is_some()
            || self.env.is_some()
            || self.env_vars.is_some()
            || self.cwd.is_some();
        let http_keys = self.bearer_token_env_var.is_some()
            || self.http_headers.is_some()
            || self.env_http_headers.is_some();
        let transport = match (&self.command, &self.url) {
            (Some(_), Some(_)) => {
                return Err(incomplete(
                    "has both `command` and `url`; keep `command` for a program glint starts, or `url` for a streamable-HTTP server",
                ));
            }
            (None, None) => {
                return Err(incomplete(
                    "needs `command` (a program glint starts) or `url` (a streamable-HTTP server)",
                ));
            }
            (Some(command), None) => {
                if http_keys {
                    return Err(incomplete(
                        "`bearer_token_env_var`, `http_headers` and `env_http_headers` apply to a `url` server, not a `command` one",
                    ));
                }
                Transport::Stdio {
                    command: command.clone(),
                    args: self.args.clone().unwrap_or_default(),
                    env: self.env.clone().unwrap_or_default(),
                    env_vars: self.env_vars.clone().unwrap_or_default(),
                    cwd: self.cwd.clone(),
                }
            }
            (None, Some(url)) => {
                if stdio_keys {
                    return Err(incomplete(
                        "`args`, `env`, `env_vars` and `cwd` apply to a `command` server, not a `url` one",
                    ));
                }
                Transport::Http {
                    url: url.clone(),
                    bearer_token_env_var: self.bearer_token_env_var.clone(),
                    http_headers: self.http_headers.clone().unwrap_or_default(),
                    env_http_headers: self.env_http_headers.clone().unwrap_or_default(),
                }
            }
        };
        Ok(ServerConfig {
            name: name.to_string(),
            transport,
            enabled: self.enabled.unwrap_or(true),
            startup_timeout: self.startup_timeout.unwrap_or(DEFAULT_STARTUP_TIMEOUT),
            tool_timeout: self.tool_timeout.unwrap_or(DEFAULT_TOOL_TIMEOUT),
            enabled_tools: self.enabled_tools.clone(),
            disabled_tools: self.disabled_tools.clone().unwrap_or_default(),
        })
    }
}

/// Server names become part of tool names (`mcp__NAME__TOOL`), which
/// models and OpenAI-compatible servers accept only in this alphabet.
fn check_name(origin: &str, server: &str) -> Result<(), McpConfigError> {
    let valid = !server.is_empty()
        && server
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(McpConfigError::BadName {
            origin: origin.to_string(),
            server: server.to_string(),
        })
    }
}
