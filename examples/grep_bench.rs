//! Runs glint's `grep` tool once, the way the agent loop does, for
//! `benches/grep_vs_ripgrep.sh`: `grep_bench ROOT PATTERN [MODE [HEAD_LIMIT]]`.
//!
//! ROOT becomes the workspace root and is searched whole. The tool's output
//! goes to stdout and its one-line summary to stderr.

use std::process::ExitCode;

use glint::tools::{ToolContext, ToolRegistry};
use glint::workspace::Workspace;
use serde_json::{Map, Value, json};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(root), Some(pattern)) = (args.first(), args.get(1)) else {
        eprintln!("usage: grep_bench ROOT PATTERN [content|files_with_matches|count [HEAD_LIMIT]]");
        return ExitCode::from(2);
    };
    let mode = args.get(2).map_or("content", String::as_str);
    let head_limit: i64 = match args.get(3).map(|s| s.parse()) {
        None => 2000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("grep_bench: HEAD_LIMIT: {e}");
            return ExitCode::from(2);
        }
    };
    let workspace = match Workspace::new(root) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("grep_bench: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("grep_bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let registry = ToolRegistry::builtin();
    let ctx = ToolContext::new(workspace);
    let Value::Object(arguments) =
        json!({"pattern": pattern, "output_mode": mode, "head_limit": head_limit})
    else {
        return ExitCode::FAILURE;
    };
    let arguments: Map<String, Value> = arguments;
    let outcome = runtime.block_on(registry.call("grep", &arguments, &ctx));
    println!("{}", outcome.content);
    eprintln!("{}", outcome.summary);
    if outcome.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
