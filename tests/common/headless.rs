//! The glint binary run headless in a sandbox, and what it printed.

use std::process::{Output, Stdio};

use serde_json::Value;

use super::{Sandbox, glint};

/// glint run to its end in the sandbox's workspace, stdin closed.
pub fn run(sandbox: &Sandbox, args: &[&str]) -> Output {
    glint(&sandbox.workspace())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("glint runs")
}

/// `--json` output: one event a line, every line JSON.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
