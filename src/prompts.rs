//! Model-facing text from `prompts/`, filled in for the session.

use std::path::Path;

use minijinja::{Environment, context};
use serde::Serialize;

use crate::tools::ToolRegistry;
use crate::workspace::{Workspace, WorkspaceError};

const SYSTEM_TEMPLATE: &str = include_str!("../prompts/system.md");

/// AGENTS.md beyond this size is cut, so one oversized file cannot crowd the
/// task out of the context window.
pub const AGENTS_MD_MAX_BYTES: usize = 32 * 1024;

/// The project instructions file, at the workspace root.
const AGENTS_MD: &str = "AGENTS.md";

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    // The cause is the error's source, which `{:#}` prints after this line.
    #[error("the system prompt template prompts/system.md is broken")]
    Template(#[from] minijinja::Error),
}

/// A system prompt with the warnings met while building it (e.g. an
/// AGENTS.md that was skipped), one line each, for the front ends to show.
#[derive(Debug, Clone)]
pub struct SystemPrompt {
    pub text: String,
    pub warnings: Vec<String>,
}

#[derive(Serialize)]
struct ToolLine {
    name: String,
    summary: String,
}

/// Fills `prompts/system.md` for a session in `workspace`, adding the
/// workspace's AGENTS.md when it has one. Warnings (an AGENTS.md that could
/// not be used) are logged; [`build_system_prompt`] returns them instead.
pub fn system_prompt(
    workspace: &Path,
    tools: &ToolRegistry,
    date: &str,
) -> Result<String, PromptError> {
    let built = build_system_prompt(workspace, tools, date)?;
    for warning in &built.warnings {
        tracing::warn!("{warning}");
    }
    Ok(built.text)
}

/// [`system_prompt`], also returning the warnings for the front end to show.
pub fn build_system_prompt(
    workspace: &Path,
    tools: &ToolRegistry,
    date: &str,
) -> Result<SystemPrompt, PromptError> {
    let mut warnings = Vec::new();
    let agents_md = read_agents_md(workspace, &mut warnings);
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
    Ok(SystemPrompt {
        text: rendered.trim_end().to_string(),
        warnings,
    })
}

/// [`system_prompt`] dated today (local time).
pub fn system_prompt_today(workspace: &Path, tools: &ToolRegistry) -> Result<String, PromptError> {
    system_prompt(workspace, tools, &today())
}

/// [`build_system_prompt`] dated today (local time).
pub fn build_system_prompt_today(
    workspace: &Path,
    tools: &ToolRegistry,
) -> Result<SystemPrompt, PromptError> {
    build_system_prompt(workspace, tools, &today())
}

fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// The workspace's AGENTS.md, read through the workspace's confinement
/// (symlinks must stay inside it, regular files only) and cut at
/// [`AGENTS_MD_MAX_BYTES`]. Anything that stops it being used is a warning,
/// never a failure: glint still starts, without the file.
fn read_agents_md(workspace: &Path, warnings: &mut Vec<String>) -> Option<String> {
    let read = Workspace::new(workspace)
        .and_then(|ws| ws.read_text_capped(AGENTS_MD, AGENTS_MD_MAX_BYTES));
    let capped = match read {
        Ok(Some(capped)) => capped,
        Ok(None) => return None,
        Err(e) => {
            warnings.push(format!("{AGENTS_MD} was not used: {}", skip_reason(&e)));
            return None;
        }
    };
    let text = capped.text.trim();
    if text.is_empty() {
        return None;
    }
    if !capped.truncated {
        return Some(text.to_string());
    }
    warnings.push(format!(
        "{AGENTS_MD} is {} bytes; only its first {} bytes are in the prompt",
        capped.total_bytes,
        capped.text.len()
    ));
    Some(format!(
        "{text}\n[... {AGENTS_MD} cut at {} of {} bytes]",
        capped.text.len(),
        capped.total_bytes
    ))
}

/// Why AGENTS.md was skipped, in words for the user (the workspace errors
/// speak to the model).
fn skip_reason(e: &WorkspaceError) -> String {
    match e {
        WorkspaceError::SymlinkOutside { target, .. } => format!(
            "it is a symlink to {}, outside the workspace, and glint reads only files inside it",
            target.display()
        ),
        WorkspaceError::BrokenSymlink { .. } => {
            "it is a symlink whose target does not exist".to_string()
        }
        WorkspaceError::NotRegularFile { kind, .. } => {
            format!("it is {kind}, not a regular file")
        }
        other => other.to_string(),
    }
}

/// The first sentence of a tool description, for the one-line tool list.
fn first_sentence(description: &str) -> String {
    let line = description.lines().next().unwrap_or_default();
    match line.find(". ") {
        Some(end) => line[..=end].to_string(),
        None => line.to_string(),
    }
}
