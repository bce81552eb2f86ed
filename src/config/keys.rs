//! The keys a config file may set, each with the parser that checks its
//! value. One table serves the files and `-c key=value`, so both accept and
//! refuse exactly the same things.

use std::str::FromStr;

use clap::ValueEnum;
use toml::Value;

use super::Config;
use crate::approval::ApprovalPolicy;
use crate::cli::SandboxMode;
use crate::engine::local::{DeviceChoice, IsqChoice};

/// One settable key: its dotted name, what it takes (for error messages)
/// and how a value is checked and stored.
pub(super) struct Key {
    pub name: &'static str,
    pub takes: &'static str,
    pub set: fn(&mut Config, &Value) -> Result<(), ()>,
}

/// Every key, in the order the README lists them.
pub(super) const KEYS: &[Key] = &[
    Key {
        name: "model",
        takes: "a Hugging Face id, a local directory or .gguf file, script:FILE or openai:NAME",
        set: |c, v| {
            c.model = Some(non_empty_string(v)?);
            Ok(())
        },
    },
    Key {
        name: "base_url",
        takes: "the URL of an OpenAI-compatible server, such as \"http://localhost:8000/v1\"",
        set: |c, v| {
            let url = non_empty_string(v)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(());
            }
            c.base_url = Some(url);
            Ok(())
        },
    },
    Key {
        name: "device",
        takes: "one of \"auto\", \"cpu\", \"cuda:N\" or \"metal\"",
        set: |c, v| {
            c.device = Some(DeviceChoice::from_str(&non_empty_string(v)?).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "isq",
        takes: "one of \"auto\", \"q4k\", \"q6k\", \"q8_0\", \"fp8\" or \"none\"",
        set: |c, v| {
            c.isq = Some(IsqChoice::from_str(&non_empty_string(v)?, false).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "max_context",
        takes: "a number of tokens, at least 256",
        set: |c, v| {
            c.max_context = Some(integer_at_least(v, 256)?);
            Ok(())
        },
    },
    Key {
        name: "memory_limit",
        takes: "a number of GiB above 0",
        set: |c, v| {
            c.memory_limit = Some(number_in(v, |g| g > 0.0 && g.is_finite())?);
            Ok(())
        },
    },
    Key {
        name: "quantized_cache",
        takes: "true or false",
        set: |c, v| {
            c.quantized_cache = Some(v.as_bool().ok_or(())?);
            Ok(())
        },
    },
    Key {
        name: "max_turns",
        takes: "a whole number of model turns, at least 1",
        set: |c, v| {
            c.max_turns = Some(u32::try_from(integer_at_least(v, 1)?).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "thinking",
        takes: "true or false",
        set: |c, v| {
            c.thinking = Some(v.as_bool().ok_or(())?);
            Ok(())
        },
    },
    Key {
        name: "check_command",
        takes: "a shell command run after each change the agent makes, such as \"cargo check --message-format short\"",
        set: |c, v| {
            c.check_command = Some(non_empty_string(v)?);
            Ok(())
        },
    },
    Key {
        name: "check_timeout_s",
        takes: "a whole number of seconds from 1 to 240",
        set: |c, v| {
            let seconds = integer_at_least(v, 1)?;
            if seconds > crate::tools::CheckCommand::MAX_TIMEOUT_S {
                return Err(());
            }
            c.check_timeout_s = Some(seconds);
            Ok(())
        },
    },
    Key {
        name: "sampling.temperature",
        takes: "a number from 0 to 2 (0 is greedy)",
        set: |c, v| {
            c.temperature = Some(number_in(v, |t| (0.0..=2.0).contains(&t))?);
            Ok(())
        },
    },
    Key {
        name: "sampling.top_p",
        takes: "a number above 0 and at most 1",
        set: |c, v| {
            c.top_p = Some(number_in(v, |p| p > 0.0 && p <= 1.0)?);
            Ok(())
        },
    },
    Key {
        name: "sampling.max_tokens",
        takes: "a whole number of tokens, at least 1",
        set: |c, v| {
            c.max_tokens = Some(integer_at_least(v, 1)?);
            Ok(())
        },
    },
    Key {
        name: "sandbox",
        takes: "\"workspace-write\" or \"off\"",
        set: |c, v| {
            c.sandbox = Some(SandboxMode::from_str(&non_empty_string(v)?, false).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "shell.writable_roots",
        takes: "a list of absolute directories (or ~/...) sandboxed commands may also write, such as [\"~/.cargo\", \"~/.npm\"]",
        set: |c, v| {
            let list = v.as_array().ok_or(())?;
            let roots = list
                .iter()
                .map(|item| absolute_dir(item.as_str().ok_or(())?))
                .collect::<Result<Vec<_>, ()>>()?;
            c.writable_roots = Some(roots);
            Ok(())
        },
    },
    Key {
        name: "approval",
        takes: "one of \"suggest\", \"auto-edit\" or \"full-auto\"",
        set: |c, v| {
            c.approval = Some(ApprovalPolicy::from_name(&non_empty_string(v)?).ok_or(())?);
            Ok(())
        },
    },
    Key {
        name: "network",
        takes: "\"on\" or \"off\" (or true/false)",
        set: |c, v| {
            c.network = Some(on_off(v)?);
            Ok(())
        },
    },
    Key {
        name: "shell.env_pass",
        takes: "a list of variable names or * globs, such as [\"PATH\", \"CARGO_*\"]",
        set: |c, v| {
            let list = v.as_array().ok_or(())?;
            let names = list
                .iter()
                .map(|item| {
                    let name = item.as_str().ok_or(())?;
                    let valid = !name.is_empty()
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '*');
                    if valid { Ok(name.to_string()) } else { Err(()) }
                })
                .collect::<Result<Vec<_>, ()>>()?;
            c.env_pass = Some(names);
            Ok(())
        },
    },
    Key {
        name: "shell.allow_background",
        takes: "true or false",
        set: |c, v| {
            c.allow_background = Some(v.as_bool().ok_or(())?);
            Ok(())
        },
    },
    Key {
        name: "agent.doom_loop_threshold",
        takes: "a whole number of identical calls in a row, at least 2 (the last is refused), or 0 to turn the guard off",
        set: |c, v| {
            let n = integer_at_least(v, 0)?;
            if n == 1 {
                return Err(());
            }
            c.doom_loop_threshold = Some(u32::try_from(n).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "agent.max_retries",
        takes: "a whole number of retries, 0 or more",
        set: |c, v| {
            c.max_retries = Some(u32::try_from(integer_at_least(v, 0)?).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "compaction.threshold",
        takes: "a percentage of the context window from 10 to 99 (compact when the next prompt would reach it)",
        set: |c, v| {
            let percent = integer_at_least(v, 10)?;
            if percent > 99 {
                return Err(());
            }
            c.compaction_threshold = Some(u8::try_from(percent).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "compaction.keep_turns",
        takes: "a whole number of model turns a compaction keeps word for word, at least 1",
        set: |c, v| {
            c.compaction_keep_turns =
                Some(usize::try_from(integer_at_least(v, 1)?).map_err(|_| ())?);
            Ok(())
        },
    },
    Key {
        name: "http.idle_timeout_s",
        takes: "a whole number of seconds, at least 1",
        set: |c, v| {
            c.http_idle_timeout_s = Some(integer_at_least(v, 1)?);
            Ok(())
        },
    },
    Key {
        name: "repo_map.enabled",
        takes: "true or false",
        set: |c, v| {
            c.repo_map = Some(v.as_bool().ok_or(())?);
            Ok(())
        },
    },
    Key {
        name: "repo_map.max_tokens",
        takes: "a whole number of tokens from 64 to 65536",
        set: |c, v| {
            let tokens = integer_at_least(v, 64)?;
            if tokens > 65536 {
                return Err(());
            }
            c.repo_map_max_tokens = Some(tokens);
            Ok(())
        },
    },
];

/// The key called `name`.
pub(super) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}

/// The names of every key, for "unknown key" messages.
pub(super) fn names() -> String {
    KEYS.iter()
        .map(|key| key.name)
        .chain(["mcp_servers.NAME.*"])
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `name` is a table that holds keys (`sampling`, `shell`).
pub(super) fn is_table(name: &str) -> bool {
    KEYS.iter().any(|key| {
        key.name
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// An absolute path, `~/` expanded to the home directory.
fn absolute_dir(text: &str) -> Result<std::path::PathBuf, ()> {
    let path = match text.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().ok_or(())?.join(rest),
        None if text == "~" => dirs::home_dir().ok_or(())?,
        None => std::path::PathBuf::from(text),
    };
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(())
    }
}

fn non_empty_string(value: &Value) -> Result<String, ()> {
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
        _ => Err(()),
    }
}

fn integer_at_least(value: &Value, min: i64) -> Result<u64, ()> {
    match value.as_integer() {
        Some(n) if n >= min => u64::try_from(n).map_err(|_| ()),
        _ => Err(()),
    }
}

fn number_in(value: &Value, ok: impl Fn(f64) -> bool) -> Result<f64, ()> {
    let number = match value {
        Value::Float(f) => *f,
        Value::Integer(i) => *i as f64,
        _ => return Err(()),
    };
    if ok(number) { Ok(number) } else { Err(()) }
}

fn on_off(value: &Value) -> Result<bool, ()> {
    match value {
        Value::Boolean(b) => Ok(*b),
        Value::String(s) if s == "on" => Ok(true),
        Value::String(s) if s == "off" => Ok(false),
        _ => Err(()),
    }
}
