//! Every tool has both halves: `tools/NAME.json` (what the model sees) and
//! `src/tools/NAME.rs` (what runs), the JSON is well formed, and the
//! built-in registry serves exactly that set.

use std::collections::BTreeSet;
use std::path::Path;

use glint::tools::{ToolRegistry, embedded_tool_files, parse_tool_spec};
use serde_json::Value;

fn stems(dir: &Path, ext: &str, exclude: &[&str]) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|s| !exclude.contains(&s.as_str()))
        .collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn json_and_rust_files_pair_up() {
    let json = stems(&root().join("tools"), "json", &[]);
    let rust = stems(&root().join("src/tools"), "rs", &["mod"]);
    assert!(!json.is_empty(), "no tools/*.json found");
    let only_json: Vec<_> = json.difference(&rust).collect();
    let only_rust: Vec<_> = rust.difference(&json).collect();
    assert!(
        only_json.is_empty() && only_rust.is_empty(),
        "tools/*.json without src/tools/*.rs: {only_json:?}; src/tools/*.rs without tools/*.json: {only_rust:?}"
    );
}

#[test]
fn every_json_is_a_well_formed_spec() {
    for name in stems(&root().join("tools"), "json", &[]) {
        let path = root().join("tools").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
        let obj = value.as_object().expect("top level is an object");
        assert_eq!(
            obj.keys().map(String::as_str).collect::<Vec<_>>(),
            ["name", "description", "parameters"],
            "{name}: keys and their order"
        );
        assert_eq!(
            obj["name"],
            Value::String(name.clone()),
            "name == file stem"
        );
        assert!(
            obj["description"]
                .as_str()
                .is_some_and(|d| !d.trim().is_empty()),
            "{name}: description"
        );
        let params = obj["parameters"]
            .as_object()
            .expect("parameters is an object");
        assert_eq!(params["type"], "object", "{name}: parameters.type");
        assert!(
            params["properties"].is_object(),
            "{name}: parameters.properties"
        );
        // The library's own checks agree.
        parse_tool_spec(&name, &text).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn embedded_files_match_the_files_on_disk() {
    let on_disk = stems(&root().join("tools"), "json", &[]);
    let embedded: BTreeSet<String> = embedded_tool_files()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(embedded, on_disk, "embedded_tool_files() vs tools/*.json");
    for (name, text) in embedded_tool_files() {
        let disk =
            std::fs::read_to_string(root().join("tools").join(format!("{name}.json"))).unwrap();
        assert_eq!(*text, disk, "{name}: embedded text differs from the file");
    }
}

#[test]
fn builtin_registry_serves_exactly_the_paired_tools() {
    let json = stems(&root().join("tools"), "json", &[]);
    let rust = stems(&root().join("src/tools"), "rs", &["mod"]);
    let registry = ToolRegistry::try_builtin().unwrap_or_else(|e| panic!("{e}"));
    let names: BTreeSet<String> = registry.names().iter().map(|s| s.to_string()).collect();
    assert_eq!(names, json, "registry names vs tools/*.json");
    assert_eq!(names, rust, "registry names vs src/tools/*.rs");
    assert_eq!(registry.names().len(), names.len(), "no duplicates");

    // The specs are the JSON files verbatim, in the OpenAI envelope.
    for spec in registry.specs() {
        assert_eq!(spec.0["type"], "function");
        let name = spec.name().unwrap();
        let text =
            std::fs::read_to_string(root().join("tools").join(format!("{name}.json"))).unwrap();
        let file: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(spec.function(), &file);
        assert_eq!(registry.spec(name).and_then(|s| s.name()), Some(name));
    }
}

#[test]
fn builtin_order_is_stable() {
    assert_eq!(
        ToolRegistry::builtin().names(),
        [
            "read_file",
            "list_dir",
            "write_file",
            "edit_file",
            "glob",
            "grep",
            "shell",
            "git_status",
            "git_diff",
            "git_log",
            "git_show",
            "git_commit",
            "code_outline",
            "find_symbol",
            "update_plan",
        ]
    );
}

#[test]
fn malformed_specs_are_rejected() {
    assert!(parse_tool_spec("x", "{").is_err());
    assert!(
        parse_tool_spec(
            "x",
            r#"{"name":"y","description":"d","parameters":{"type":"object","properties":{}}}"#
        )
        .is_err()
    );
    assert!(
        parse_tool_spec(
            "x",
            r#"{"description":"d","name":"x","parameters":{"type":"object","properties":{}}}"#
        )
        .is_err()
    );
    assert!(
        parse_tool_spec(
            "x",
            r#"{"name":"x","description":"","parameters":{"type":"object","properties":{}}}"#
        )
        .is_err()
    );
    assert!(parse_tool_spec("x", r#"{"name":"x","description":"d","parameters":[]}"#).is_err());
    assert!(
        parse_tool_spec(
            "x",
            r#"{"name":"x","description":"d","parameters":{"type":"object","properties":{},"required":["a"]}}"#
        )
        .is_err()
    );
    assert!(
        parse_tool_spec(
            "x",
            r#"{"name":"x","description":"d","parameters":{"type":"object","properties":{}}}"#
        )
        .is_ok()
    );
}
