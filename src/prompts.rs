//! Model-facing text from `prompts/`, filled in for the session.

use std::path::Path;

use minijinja::{Environment, context};
use serde::Serialize;

use crate::tools::ToolRegistry;

const SYSTEM_TEMPLATE: &str = include_str!("../prompts/system.md");

/// AGENTS.md beyond this size is cut, so one oversized file cannot crowd the
/// task out of the context window.
const AGENTS_MD_MAX_BYTES: usize = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read {path}: {source}; fix its permissions or remove it")]
    AgentsMd {
        path: String,
        source: std::io::Error,
    },
    #[error("the system prompt template prompts/system.md is broken: {0}")]
    Template(#[from] minijinja::Error),
}

#[derive(Serialize)]
struct ToolLine {
    name: String,
    summary: String,
}

/// Fills `prompts/system.md` for a session in `workspace`, adding the
/// workspace's AGENTS.md when it has one.
pub fn system_prompt(
    workspace: &Path,
    tools: &ToolRegistry,
    date: &str,
) -> Result<String, PromptError> {
    let agents_md = read_agents_md(workspace)?;
    let tools: Vec<ToolLine> = tools
        .specs()
        .iter()
        .map(|spec| ToolLine {
            name: spec.name().unwrap_or_default().to_string(),
            summary: first_sentence(
                spec.function()
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or_default(),
            ),
        })
        .collect();
    let mut env = Environment::new();
    env.set_keep_trailing_newline(false);
    env.add_template("system.md", SYSTEM_TEMPLATE)?;
    let rendered = env.get_template("system.md")?.render(context! {
        workspace => workspace.display().to_string(),
        os => format!("{} ({})", std::env::consts::OS, std::env::consts::ARCH),
        date => date,
        tools => tools,
        agents_md => agents_md,
    })?;
    Ok(rendered.trim_end().to_string())
}

/// [`system_prompt`] dated today (local time).
pub fn system_prompt_today(workspace: &Path, tools: &ToolRegistry) -> Result<String, PromptError> {
    let date = chrono::Local::now().format("%Y-%m-%d").to_string();
    system_prompt(workspace, tools, &date)
}

fn read_agents_md(workspace: &Path) -> Result<Option<String>, PromptError> {
    let path = workspace.join("AGENTS.md");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PromptError::AgentsMd {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() <= AGENTS_MD_MAX_BYTES {
        return Ok(Some(text.to_string()));
    }
    let mut cut = AGENTS_MD_MAX_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Ok(Some(format!(
        "{}\n[... AGENTS.md cut at {} of {} bytes]",
        &text[..cut],
        cut,
        text.len()
    )))
}

/// The first sentence of a tool description, for the one-line tool list.
fn first_sentence(description: &str) -> String {
    let line = description.lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(end) => line[..=end].to_string(),
        None => line.to_string(),
    }
}
