//! Raw completions for scripted models, and script files holding them.

use std::path::Path;

/// A final answer after a short thought.
pub const ANSWER: &str = "Done.</think>Done.<|endoftext|>";

/// A raw completion calling `tool` with string arguments.
pub fn tool_call(tool: &str, args: &[(&str, &str)]) -> String {
    let mut raw = format!("I will call {tool}.</think><tool_call>{tool}");
    for (key, value) in args {
        raw.push_str(&format!(
            "<arg_key>{key}</arg_key><arg_value>{value}</arg_value>"
        ));
    }
    raw.push_str("</tool_call><|observation|>");
    raw
}

/// Writes a model script with these raw completions to `path`; returns
/// the `--model` argument that names it.
pub fn script_file(path: &Path, completions: &[String]) -> String {
    let script = serde_json::json!({ "completions": completions });
    std::fs::write(path, script.to_string()).expect("write script");
    format!("script:{}", path.display())
}

/// The prompts a script's `prompt_log` recorded, in order.
pub fn logged_prompts(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .expect("the model was called and logged its prompts")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON string per line"))
        .collect()
}
