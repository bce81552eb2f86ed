//! The keys a server entry may hold, each with the check its value must
//! pass, in Codex CLI's names.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use super::Entry;

/// One key of a server entry: its name, what it takes, how it is stored.
pub(super) struct Key {
    pub name: &'static str,
    pub takes: &'static str,
    pub set: fn(&mut Entry, &Value) -> Option<()>,
}

pub(super) const KEYS: &[Key] = &[
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
