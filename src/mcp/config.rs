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

/// One key of a server entry: its name, what it takes, how it is stored.
struct Key {
    name: &'static str,
    takes: &'static str,
    set: fn(&mut Entry, &Value) -> Option<()>,
}

const KEYS: &[Key] = &[
    Key {
        name: "command",
        takes: "the program that runs the server, such as \"mcp-server-time\"",
        set: |e, v| {
            e.command = Some(non_empty(v)?);
            Some(())
        },
    },
    Key {
        name: "args",
        takes: "a list of strings",
        set: |e, v| {
            e.args = Some(strings(v)?);
            Some(())
        },
    },
    Key {
        name: "env",
        takes: "a table of variable names to string values",
        set: |e, v| {
            e.env = Some(string_table(v, is_var_name)?);
            Some(())
        },
    },
    Key {
        name: "env_vars",
        takes: "a list of environment variable names to pass through",
        set: |e, v| {
            let names = strings(v)?;
            names.iter().all(|n| is_var_name(n)).then_some(())?;
            e.env_vars = Some(names);
            Some(())
        },
    },
    Key {
        name: "cwd",
        takes: "a directory (absolute, ~/..., or relative to the workspace)",
        set: |e, v| {
            let text = non_empty(v)?;
            e.cwd = Some(match text.strip_prefix("~/") {
                Some(rest) => dirs::home_dir()?.join(rest),
                None => PathBuf::from(text),
            });
            Some(())
        },
    },
    Key {
        name: "url",
        takes: "the server's http:// or https:// URL",
        set: |e, v| {
            let url = non_empty(v)?;
            (url.starts_with("http://") || url.starts_with("https://")).then_some(())?;
            e.url = Some(url);
            Some(())
        },
    },
    Key {
        name: "bearer_token_env_var",
        takes: "the name of an environment variable holding the token",
        set: |e, v| {
            let name = non_empty(v)?;
            is_var_name(&name).then_some(())?;
            e.bearer_token_env_var = Some(name);
            Some(())
        },
    },
    Key {
        name: "http_headers",
        takes: "a table of header names to string values",
        set: |e, v| {
            e.http_headers = Some(string_table(v, is_header_name)?);
            Some(())
        },
    },
    Key {
        name: "env_http_headers",
        takes: "a table of header names to environment variable names",
        set: |e, v| {
            let table = string_table(v, is_header_name)?;
            table.values().all(|n| is_var_name(n)).then_some(())?;
            e.env_http_headers = Some(table);
            Some(())
        },
    },
    Key {
        name: "enabled",
        takes: "true or false",
        set: |e, v| {
            e.enabled = Some(v.as_bool()?);
            Some(())
        },
    },
    Key {
        name: "startup_timeout_sec",
        takes: "a number of seconds above 0",
        set: |e, v| {
            e.startup_timeout = Some(seconds(v, 1.0)?);
            Some(())
        },
    },
    Key {
        name: "startup_timeout_ms",
        takes: "a number of milliseconds above 0",
        set: |e, v| {
            e.startup_timeout = Some(seconds(v, 0.001)?);
            Some(())
        },
    },
    Key {
        name: "tool_timeout_sec",
        takes: "a number of seconds above 0",
        set: |e, v| {
            e.tool_timeout = Some(seconds(v, 1.0)?);
            Some(())
        },
    },
    Key {
        name: "enabled_tools",
        takes: "a list of the server's tool names",
        set: |e, v| {
            e.enabled_tools = Some(strings(v)?);
            Some(())
        },
    },
    Key {
        name: "disabled_tools",
        takes: "a list of the server's tool names",
        set: |e, v| {
            e.disabled_tools = Some(strings(v)?);
            Some(())
        },
    },
];

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

    /// Whether no server is configured at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

fn non_empty(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect()
}

fn string_table(value: &Value, valid_key: fn(&str) -> bool) -> Option<BTreeMap<String, String>> {
    value
        .as_table()?
        .iter()
        .map(|(k, v)| {
            valid_key(k).then_some(())?;
            Some((k.clone(), v.as_str()?.to_string()))
        })
        .collect()
}

/// A positive number of `unit` seconds (an integer or a float), as a
/// duration.
fn seconds(value: &Value, unit: f64) -> Option<Duration> {
    let n = match value {
        Value::Integer(i) => *i as f64,
        Value::Float(f) => *f,
        _ => return None,
    };
    let secs = n * unit;
    (secs > 0.0 && secs.is_finite() && secs <= 86_400.0).then(|| Duration::from_secs_f64(secs))
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_!#$%&'*+.^`|~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(origin: &str, text: &str, servers: &mut McpServers) -> Result<(), McpConfigError> {
        let table: toml::Table = text.parse().expect("test TOML");
        for (key, value) in &table {
            if let Some(result) = servers.set_key(origin, key, value) {
                result?;
            }
        }
        Ok(())
    }

    #[test]
    fn codex_shaped_entries_parse() {
        let mut servers = McpServers::default();
        parse(
            "a.toml",
            r#"
            [mcp_servers.time]
            command = "mcp-server-time"
            args = ["--local-timezone", "Etc/UTC"]
            env = { TZ = "UTC" }
            startup_timeout_sec = 2.5
            tool_timeout_sec = 30
            disabled_tools = ["convert_time"]

            [mcp_servers.remote]
            url = "https://example.com/mcp"
            bearer_token_env_var = "REMOTE_TOKEN"
            enabled = false
            "#,
            &mut servers,
        )
        .unwrap();
        let list = servers.servers().unwrap();
        assert_eq!(list.len(), 2);
        let remote = &list[0];
        assert_eq!(remote.name, "remote");
        assert!(!remote.enabled);
        assert!(
            matches!(&remote.transport, Transport::Http { bearer_token_env_var: Some(v), .. } if v == "REMOTE_TOKEN")
        );
        let time = &list[1];
        assert_eq!(time.startup_timeout, Duration::from_millis(2500));
        assert_eq!(time.tool_timeout, Duration::from_secs(30));
        assert!(time.offers("get_current_time"));
        assert!(!time.offers("convert_time"));
        match &time.transport {
            Transport::Stdio {
                command, args, env, ..
            } => {
                assert_eq!(command, "mcp-server-time");
                assert_eq!(args, &["--local-timezone", "Etc/UTC"]);
                assert_eq!(env.get("TZ").map(String::as_str), Some("UTC"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn later_files_win_key_by_key() {
        let mut servers = McpServers::default();
        parse(
            "user.toml",
            "[mcp_servers.t]\ncommand = \"a\"\nargs = [\"x\"]",
            &mut servers,
        )
        .unwrap();
        parse(
            "project.toml",
            "[mcp_servers.t]\ncommand = \"b\"",
            &mut servers,
        )
        .unwrap();
        let value = Value::Boolean(false);
        servers
            .set_key("-c", "mcp_servers.t.enabled", &value)
            .unwrap()
            .unwrap();
        let list = servers.servers().unwrap();
        assert!(!list[0].enabled);
        assert!(
            matches!(&list[0].transport, Transport::Stdio { command, args, .. } if command == "b" && args == &["x"])
        );
    }

    #[test]
    fn bad_entries_name_the_file_and_the_server() {
        let cases = [
            ("[mcp_servers.t]\ncommand = 3", "`command` must be"),
            ("[mcp_servers.t]\ncomand = \"x\"", "unknown key `comand`"),
            ("[mcp_servers.t]\nargs = [\"a\"]", "needs `command`"),
            (
                "[mcp_servers.t]\ncommand = \"a\"\nurl = \"http://x\"",
                "both `command` and `url`",
            ),
            (
                "[mcp_servers.t]\nurl = \"http://x\"\nargs = []",
                "apply to a `command` server",
            ),
            (
                "[mcp_servers.t]\ncommand = \"a\"\ntool_timeout_sec = 0",
                "above 0",
            ),
            ("mcp_servers = 3", "must be a table of servers"),
            ("[mcp_servers.\"a b\"]\ncommand = \"a\"", "server name"),
        ];
        for (text, expected) in cases {
            let mut servers = McpServers::default();
            let error = parse("/p/config.toml", text, &mut servers)
                .and_then(|()| servers.servers().map(|_| ()))
                .expect_err(text)
                .to_string();
            assert!(error.starts_with("/p/config.toml: "), "{error}");
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains('\n'), "{error}");
            if !text.starts_with("mcp_servers =") {
                assert!(error.contains("[mcp_servers."), "{error}");
            }
        }
    }
}
