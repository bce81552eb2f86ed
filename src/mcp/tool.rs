//! One MCP tool as glint offers it: named `mcp__SERVER__TOOL`, with the
//! server's description and JSON Schema in the same tool spec shape as the
//! built-in tools, so GLM's prompt renders it like them.

use serde_json::{Map, Value, json};

use crate::conversation::ToolSpec;

/// What every MCP tool's name starts with.
pub const PREFIX: &str = "mcp__";

/// The longest tool name glint offers: OpenAI-compatible servers refuse
/// longer function names.
const MAX_NAME: usize = 64;

/// Which server's tool a call goes to: what the JSON events and the
/// transcript show beside the `mcp__SERVER__TOOL` name the model used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpOrigin {
    /// The server's name, as configured (`[mcp_servers.NAME]`).
    pub server: String,
    /// The tool's own name, as the server knows it.
    pub tool: String,
}

/// A tool a server listed, ready to offer.
#[derive(Debug, Clone)]
pub struct McpTool {
    /// The tool's own name, as the server knows it.
    pub name: String,
    /// `mcp__SERVER__TOOL`, what the model calls.
    pub full_name: String,
    pub spec: ToolSpec,
    /// The server marks it `readOnlyHint: true`: the approval policy treats
    /// it like a read-only shell command.
    pub read_only: bool,
    /// The description's first line, for `glint mcp list` and `/mcp`.
    pub summary: String,
}

impl McpTool {
    /// The tool `tool` of server `server`, as the model will see it.
    pub fn new(server: &str, tool: &rmcp::model::Tool) -> McpTool {
        let full_name = full_name(server, &tool.name);
        let description = tool
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(str::to_string)
            .or_else(|| tool.title.clone())
            .unwrap_or_else(|| format!("The `{}` tool of MCP server `{server}`.", tool.name));
        let parameters = parameters(&tool.input_schema);
        let spec = ToolSpec::from_function(json!({
            "name": full_name,
            "description": description,
            "parameters": parameters,
        }));
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        McpTool {
            name: tool.name.to_string(),
            full_name,
            spec,
            read_only,
            summary: crate::tools::one_line(&description, 100),
        }
    }
}

/// The server's input schema, as an object schema (a server that sends
/// none, or a bare `{}`, gets an object with no declared properties).
fn parameters(schema: &Map<String, Value>) -> Value {
    let mut schema = schema.clone();
    schema
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    Value::Object(schema)
}

/// `mcp__SERVER__TOOL`, with characters outside `[A-Za-z0-9_-]` replaced by
/// `_`, and names over 64 characters cut with a hash of the whole so two
/// long names stay apart.
pub fn full_name(server: &str, tool: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!("{PREFIX}{}__{}", clean(server), clean(tool));
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = format!(
        "{:08x}",
        fnv1a(format!("{server}\0{tool}").as_bytes()) as u32
    );
    format!("{}_{hash}", &name[..MAX_NAME - hash.len() - 1])
}

/// FNV-1a: a hash that is the same in every build, so a shortened name
/// stays the same across runs (std's hasher makes no such promise).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether `name` is an MCP tool's name at all.
pub fn is_mcp_tool(name: &str) -> bool {
    name.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_cleaned() {
        assert_eq!(
            full_name("time", "get_current_time"),
            "mcp__time__get_current_time"
        );
        assert_eq!(full_name("my.srv", "a b/c"), "mcp__my_srv__a_b_c");
        let long = "x".repeat(80);
        let a = full_name("s", &format!("{long}1"));
        let b = full_name("s", &format!("{long}2"));
        assert_eq!(a.len(), MAX_NAME);
        assert_ne!(a, b);
        assert!(a.starts_with("mcp__s__xxx"));
    }

    #[test]
    fn a_spec_keeps_the_servers_schema_and_description() {
        let tool: rmcp::model::Tool = serde_json::from_value(json!({
            "name": "get_current_time",
            "description": "Get current time in a specific timezone",
            "inputSchema": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
            "annotations": {"readOnlyHint": true}
        }))
        .unwrap();
        let offered = McpTool::new("time", &tool);
        assert!(offered.read_only);
        assert_eq!(
            offered.spec.function(),
            &json!({
                "name": "mcp__time__get_current_time",
                "description": "Get current time in a specific timezone",
                "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}
            })
        );
        let bare: rmcp::model::Tool =
            serde_json::from_value(json!({"name": "ping", "inputSchema": {}})).unwrap();
        let offered = McpTool::new("s", &bare);
        assert!(!offered.read_only);
        assert_eq!(
            offered.spec.function()["parameters"],
            json!({"type": "object", "properties": {}})
        );
    }
}
