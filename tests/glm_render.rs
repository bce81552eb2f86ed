//! The renderer against the official template's golden renders, plus the
//! corners of the template the goldens don't reach.

use std::fs;
use std::path::{Path, PathBuf};

use glint::conversation::{Message, ToolCall, ToolSpec};
use glint::glm::{
    RenderOptions, RenderRequest, TemplateFlags, py_strip, python_float_repr, python_json,
    render_prompt,
};
use serde_json::{Map, Value, json};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/glm-golden")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// A readable account of where two renders part ways.
fn first_difference(expected: &str, actual: &str) -> String {
    let at = expected
        .char_indices()
        .zip(actual.chars())
        .find(|((_, e), a)| e != a)
        .map(|((i, _), _)| i)
        .unwrap_or_else(|| expected.len().min(actual.len()));
    let context = |s: &str| {
        let mut start = at.saturating_sub(80);
        while !s.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (at + 80).min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        format!("{:?}", &s[start.min(s.len())..end.max(start.min(s.len()))])
    };
    format!(
        "first difference at byte {at} (expected {} bytes, got {})\n  expected: ...{}...\n  actual:   ...{}...",
        expected.len(),
        actual.len(),
        context(expected),
        context(actual)
    )
}

#[test]
fn renders_every_golden_file_exactly() {
    let files = json_files(&fixture_dir());
    assert!(
        !files.is_empty(),
        "no golden files in {}",
        fixture_dir().display()
    );
    assert_renders(&files);
}

/// `GLM_EXTRA_GOLDEN_DIR=dir` checks more renders in the golden shape, e.g. a
/// batch of random conversations rendered by the official template with
/// Python's jinja2 (how the renderer was cross-checked beyond the goldens).
#[test]
fn renders_extra_goldens_from_env() {
    if let Some(dir) = std::env::var_os("GLM_EXTRA_GOLDEN_DIR") {
        let files = json_files(Path::new(&dir));
        assert!(!files.is_empty(), "no json files in {dir:?}");
        assert_renders(&files);
    }
}

fn assert_renders(files: &[PathBuf]) {
    let mut failures = Vec::new();
    for path in files {
        let text = fs::read_to_string(path).unwrap();
        let request: RenderRequest = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a render request: {e}", path.display()));
        let raw: Value = serde_json::from_str(&text).unwrap();
        let expected = raw["expected_prompt"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no expected_prompt", path.display()));
        let actual = request.render();
        if actual != expected {
            failures.push(format!(
                "{}: {}",
                path.display(),
                first_difference(expected, &actual)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The fixture copies are the files committed with the repository: every
/// one listed in `SHA256SUMS` beside them, intact, and no other.
#[test]
fn fixture_copies_are_the_committed_files() {
    let dir = fixture_dir();
    let sums =
        fs::read_to_string(dir.join("SHA256SUMS")).expect("tests/fixtures/glm-golden/SHA256SUMS");
    let mut listed: Vec<String> = sums
        .lines()
        .filter_map(|line| line.split_once("  ").map(|(_, name)| name.to_string()))
        .collect();
    listed.sort();
    let present: Vec<String> = json_files(&dir)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert!(!listed.is_empty(), "SHA256SUMS lists no files");
    assert_eq!(listed, present, "SHA256SUMS and the fixture files disagree");
    let output = std::process::Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .expect("sha256sum (coreutils) runs");
    assert!(
        output.status.success(),
        "a fixture copy changed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The fixture copies equal the shared goldens (`../shared/glm/golden`),
/// file for file. A clean clone (CI) may have no `../shared`: then the
/// comparison is skipped, and says so on the terminal (not in the captured
/// output a passing test hides), unless `GLINT_REQUIRE_SHARED=1` makes the
/// missing directory a failure.
#[test]
fn fixture_copies_match_shared_goldens() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/glm/golden");
    if !shared.is_dir() {
        let required = std::env::var("GLINT_REQUIRE_SHARED").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{} is missing and GLINT_REQUIRE_SHARED=1",
            shared.display()
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED fixture_copies_match_shared_goldens: {} is missing; only the committed copies (SHA256SUMS) were checked",
            shared.display()
        );
        return;
    }
    let originals = json_files(&shared);
    assert!(
        !originals.is_empty(),
        "no golden files in {}",
        shared.display()
    );
    let names = |files: &[PathBuf]| -> Vec<String> {
        files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    };
    assert_eq!(
        names(&originals),
        names(&json_files(&fixture_dir())),
        "the fixture copies and {} hold different files",
        shared.display()
    );
    for path in originals {
        let name = path.file_name().unwrap();
        let copy = fixture_dir().join(name);
        let original = fs::read(&path).unwrap();
        let fixture = fs::read(&copy)
            .unwrap_or_else(|e| panic!("{} has no fixture copy ({e})", path.display()));
        assert!(
            original == fixture,
            "{} differs from {}: refresh the fixture copy",
            copy.display(),
            path.display()
        );
    }
}

#[test]
fn template_flag_defaults() {
    let options = TemplateFlags::default().options();
    assert_eq!(
        options,
        RenderOptions {
            enable_thinking: true,
            preserved_thinking: false,
            add_generation_prompt: true
        }
    );
    let flags: TemplateFlags =
        serde_json::from_value(json!({"clear_thinking": false, "enable_thinking": false})).unwrap();
    assert!(flags.options().preserved_thinking);
    assert!(!flags.options().enable_thinking);
    let default = RenderOptions::default();
    assert!(default.enable_thinking && default.preserved_thinking && default.add_generation_prompt);
    assert_eq!(TemplateFlags::from(default).options(), default);
    assert!(default.starts_in_reasoning());
    let off = RenderOptions {
        enable_thinking: false,
        ..default
    };
    assert!(!off.starts_in_reasoning());
}

#[test]
fn python_json_floats_match_python_repr() {
    // Expected strings are Python 3.11's repr().
    let cases = [
        (1.0, "1.0"),
        (1e-05, "1e-05"),
        (1e20, "1e+20"),
        (0.0001, "0.0001"),
        (0.00012345, "0.00012345"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (1.5e300, "1.5e+300"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (12345.678, "12345.678"),
        (100.0, "100.0"),
        (9999999999999998.0, "9999999999999998.0"),
        (2.5e-5, "2.5e-05"),
    ];
    for (value, expected) in cases {
        assert_eq!(python_float_repr(value), expected, "repr({value:e})");
    }
    assert_eq!(python_json(&json!(1.0)), "1.0");
    assert_eq!(python_json(&json!(40)), "40");
    assert_eq!(python_json(&json!(-7)), "-7");
    assert_eq!(python_json(&json!(u64::MAX)), "18446744073709551615");
    let parsed: Value = serde_json::from_str("[1e2, 1.50, 3]").unwrap();
    assert_eq!(python_json(&parsed), "[100.0, 1.5, 3]");
}

#[test]
fn python_json_strings_unicode_and_controls() {
    assert_eq!(python_json(&json!("«ünï» — 日本")), "\"«ünï» — 日本\"");
    assert_eq!(
        python_json(&json!("q\"b\\n\nr\rt\tb\u{8}f\u{c}\u{1}\u{1f}\u{7f}")),
        "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\u{7f}\""
    );
    assert_eq!(python_json(&json!("😀")), "\"😀\"");
}

#[test]
fn python_json_nested_keeps_key_order() {
    let value: Value = serde_json::from_str(
        r#"{"z": [1, 2.0, "é\n", null, true, {}], "a": [], "m": {"y": false, "b": {"c": [[]]}}}"#,
    )
    .unwrap();
    // Checked against json.dumps(..., ensure_ascii=False).
    assert_eq!(
        python_json(&value),
        r#"{"z": [1, 2.0, "é\n", null, true, {}], "a": [], "m": {"y": false, "b": {"c": [[]]}}}"#
    );
}

#[test]
fn python_strip_counts_c0_separators_as_whitespace() {
    assert_eq!(py_strip("\u{1c}\u{1f} x \u{a0}\u{3000}\n"), "x");
    assert_eq!(py_strip("\u{200b}x"), "\u{200b}x"); // zero-width space is not whitespace
}

fn assistant(content: &str, reasoning: Option<&str>, calls: Vec<ToolCall>) -> Message {
    Message::Assistant {
        content: content.into(),
        reasoning_content: reasoning.map(str::to_string),
        tool_calls: calls,
        reasoning_details: None,
        raw: None,
    }
}

const NO_GEN: RenderOptions = RenderOptions {
    enable_thinking: true,
    preserved_thinking: false,
    add_generation_prompt: false,
};

#[test]
fn inline_think_in_content_is_split_out() {
    let messages = [
        Message::user("q"),
        assistant("<think>\n\nplan it\n</think>\n\n  answer  ", None, vec![]),
    ];
    assert_eq!(
        render_prompt(&messages, &[], &NO_GEN),
        "[gMASK]<sop><|user|>q<|assistant|><think>plan it</think>answer"
    );
    // Everything up to the first </think> and after the last one; text before
    // <think> is dropped, exactly as the template's split()s do.
    let messages = [
        Message::user("q"),
        assistant("junk<think>a</think>b</think>c", None, vec![]),
    ];
    assert_eq!(
        render_prompt(&messages, &[], &NO_GEN),
        "[gMASK]<sop><|user|>q<|assistant|><think>a</think>c"
    );
    // An explicit (even empty) reasoning_content disables the split.
    let messages = [
        Message::user("q"),
        assistant("<think>a</think>b", Some(""), vec![]),
    ];
    assert_eq!(
        render_prompt(&messages, &[], &NO_GEN),
        "[gMASK]<sop><|user|>q<|assistant|></think><think>a</think>b"
    );
    // Split-out reasoning before the last user message is cleared too.
    let messages = [
        Message::user("q"),
        assistant("<think>a</think>b", None, vec![]),
        Message::user("r"),
    ];
    assert_eq!(
        render_prompt(&messages, &[], &NO_GEN),
        "[gMASK]<sop><|user|>q<|assistant|></think>b<|user|>r"
    );
}

#[test]
fn preserved_versus_interleaved_thinking() {
    let messages = [
        Message::system("s"),
        Message::user("one"),
        assistant(" first ", Some("  r1 \n"), vec![]),
        Message::user("two"),
        assistant("second", Some("r2"), vec![]),
    ];
    let interleaved = render_prompt(&messages, &[], &NO_GEN);
    assert_eq!(
        interleaved,
        "[gMASK]<sop><|system|>s<|user|>one<|assistant|></think>first<|user|>two<|assistant|><think>r2</think>second"
    );
    let preserved = RenderOptions {
        preserved_thinking: true,
        ..NO_GEN
    };
    assert_eq!(
        render_prompt(&messages, &[], &preserved),
        "[gMASK]<sop><|system|>s<|user|>one<|assistant|><think>r1</think>first<|user|>two<|assistant|><think>r2</think>second"
    );
    // Whitespace-only reasoning is truthy in the template: an empty block.
    let messages = [Message::user("q"), assistant("x", Some(" \n "), vec![])];
    assert_eq!(
        render_prompt(&messages, &[], &NO_GEN),
        "[gMASK]<sop><|user|>q<|assistant|><think></think>x"
    );
    // With no user message at all, every assistant turn counts as recent.
    let messages = [Message::system("s"), assistant("x", Some("r"), vec![])];
    assert_eq!(
        render_prompt(&messages, &[], &NO_GEN),
        "[gMASK]<sop><|system|>s<|assistant|><think>r</think>x"
    );
}

#[test]
fn tool_calls_results_and_generation_prompt() {
    let mut args = Map::new();
    args.insert("path".into(), json!("  indented.rs"));
    args.insert("limit".into(), json!(40));
    args.insert("ratio".into(), json!(0.5));
    args.insert("flags".into(), json!({"a": [true, null], "b": "ü"}));
    let call = ToolCall::new("c1", "read_file", args);
    let empty = ToolCall::new("c2", "list", Map::new());
    let messages = [
        Message::user("u"),
        assistant("", None, vec![call, empty]),
        Message::tool_result("c1", "one"),
        Message::tool_result("c2", " two\n"),
        Message::user("v"),
        Message::tool_result("c3", "three"),
    ];
    let options = RenderOptions {
        enable_thinking: false,
        preserved_thinking: true,
        add_generation_prompt: true,
    };
    let tools = [ToolSpec::from_function(
        json!({"name": "list", "description": "Lists «files».\n", "parameters": {}}),
    )];
    let expected = concat!(
        "[gMASK]<sop><|system|>\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n",
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
        "{\"type\": \"function\", \"function\": {\"name\": \"list\", \"description\": \"Lists «files».\\n\", \"parameters\": {}}}\n",
        "</tools>\n\nFor each function call, output the function name and arguments within the following XML format:\n",
        "<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key><arg_value>{arg-value-1}</arg_value>",
        "<arg_key>{arg-key-2}</arg_key><arg_value>{arg-value-2}</arg_value>...</tool_call>",
        "<|user|>u<|assistant|></think>",
        "<tool_call>read_file<arg_key>path</arg_key><arg_value>  indented.rs</arg_value>",
        "<arg_key>limit</arg_key><arg_value>40</arg_value><arg_key>ratio</arg_key><arg_value>0.5</arg_value>",
        "<arg_key>flags</arg_key><arg_value>{\"a\": [true, null], \"b\": \"ü\"}</arg_value></tool_call>",
        "<tool_call>list</tool_call>",
        "<|observation|><tool_response>one</tool_response><tool_response> two\n</tool_response>",
        "<|user|>v<|observation|><tool_response>three</tool_response><|assistant|></think>",
    );
    assert_eq!(render_prompt(&messages, &tools, &options), expected);
}

#[test]
fn render_request_ignores_extra_keys_and_defaults_flags() {
    let request: RenderRequest = serde_json::from_value(json!({
        "name": "x",
        "expected_prompt": "ignored",
        "flags": {},
        "tools": [],
        "messages": [{"role": "user", "content": " hi "}]
    }))
    .unwrap();
    assert_eq!(
        request.render(),
        "[gMASK]<sop><|user|> hi <|assistant|><think>"
    );
}
