//! An MCP call's arguments, typed and checked against the tool's JSON
//! Schema before they go to the server.
//!
//! GLM writes every argument as text (`<arg_value>`). The parser already
//! types the tools that were in the prompt from the start, by the same rule
//! as here ([`ToolSpec::argument_type`]); tools announced later are not in
//! the parser's list, and a schema that gives no single type (`anyOf`,
//! `oneOf`, none at all) is left as text by it. So the adapter types again:
//! values already typed pass through unchanged, and where the schema gives
//! no single type, text that parses as a JSON literal becomes it, as
//! llama.cpp's and vLLM's GLM parsers do (unless the schema's alternatives
//! rule that type out and allow a string).

use serde_json::{Map, Value};

use crate::conversation::{ArgumentType, ToolSpec};
use crate::tools::{ToolError, expected_arguments, parse_arguments};

/// `arguments` with text values typed by `spec`'s schema.
pub fn typed(spec: &ToolSpec, arguments: &Map<String, Value>) -> Map<String, Value> {
    let properties = properties(spec);
    let open = properties.is_none_or(Map::is_empty);
    arguments
        .iter()
        .map(|(key, value)| {
            let typed = match value {
                Value::String(raw) => type_text(spec, properties, open, key, raw),
                other => other.clone(),
            };
            (key.clone(), typed)
        })
        .collect()
}

fn type_text(
    spec: &ToolSpec,
    properties: Option<&Map<String, Value>>,
    open: bool,
    key: &str,
    raw: &str,
) -> Value {
    let text = || Value::String(raw.to_string());
    let literal = || serde_json::from_str::<Value>(raw.trim()).ok();
    match spec.argument_type(key) {
        Some(ArgumentType::String) => text(),
        Some(ArgumentType::Other) => literal().unwrap_or_else(text),
        None => {
            if properties.and_then(|p| p.get(key)).is_none() {
                // No schema at all: any JSON literal; an undeclared key of a
                // declared schema stays text, as the parser leaves it.
                return if open {
                    literal().unwrap_or_else(text)
                } else {
                    text()
                };
            }
            // A literal of a type the schema's alternatives rule out (a
            // number where they allow string or null) stays text.
            match literal() {
                Some(value) if spec.allows(key, &value) => value,
                _ => text(),
            }
        }
    }
}

/// Checks typed arguments against the schema's `required` list and its
/// declared types, so a bad call fails with the same `Invalid arguments
/// for TOOL: ...` message as a built-in tool's (naming the argument and
/// listing the expected ones) instead of whatever the server says. The
/// server still checks the rest (enums, nested objects).
pub fn checked(
    spec: &ToolSpec,
    arguments: Map<String, Value>,
) -> Result<Map<String, Value>, ToolError> {
    let extra_keys_allowed = match spec
        .function()
        .get("parameters")
        .and_then(|p| p.get("additionalProperties"))
    {
        None | Some(Value::Bool(false)) => false,
        Some(_) => true,
    };
    if !extra_keys_allowed && properties(spec).is_some_and(|p| !p.is_empty()) {
        // Nulls stand for absent optional arguments and are dropped.
        return parse_arguments::<Map<String, Value>>(spec, arguments);
    }
    let name = spec.name().unwrap_or("tool");
    if let Some(missing) = spec
        .required_arguments()
        .into_iter()
        .find(|key| arguments.get(*key).is_none_or(Value::is_null))
    {
        return Err(ToolError::InvalidArguments(format!(
            "Invalid arguments for {name}: missing field `{missing}`. Expected: {}.",
            expected_arguments(spec)
        )));
    }
    Ok(arguments)
}

fn properties(spec: &ToolSpec) -> Option<&Map<String, Value>> {
    spec.function()
        .get("parameters")?
        .get("properties")?
        .as_object()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(parameters: Value) -> ToolSpec {
        ToolSpec::from_function(
            json!({"name": "mcp__s__t", "description": "d", "parameters": parameters}),
        )
    }

    fn args(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn text_becomes_the_schemas_types() {
        let spec = spec(json!({"type": "object", "properties": {
            "path": {"type": "string"},
            "head": {"type": "number"},
            "flags": {"type": "array", "items": {"type": "string"}},
            "since": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "any": {"description": "no type"},
        }}));
        let typed = typed(
            &spec,
            &args(json!({
                "path": "12", "head": "3", "flags": "[\"-a\"]",
                "since": "2024", "count": "5", "any": "true", "undeclared": "7",
            })),
        );
        assert_eq!(
            Value::Object(typed),
            json!({
                "path": "12", "head": 3, "flags": ["-a"],
                // A number is no alternative of string-or-null: stays text.
                "since": "2024", "count": 5, "any": true, "undeclared": "7",
            })
        );
        let typed_again = super::typed(&spec, &args(json!({"head": 3, "since": "null"})));
        assert_eq!(
            Value::Object(typed_again),
            json!({"head": 3, "since": null})
        );
    }

    #[test]
    fn without_a_schema_json_literals_are_taken() {
        let spec = spec(json!({"type": "object", "properties": {}}));
        let typed = typed(
            &spec,
            &args(json!({"n": "7", "s": "seven", "o": "{\"a\": 1}"})),
        );
        assert_eq!(
            Value::Object(typed),
            json!({"n": 7, "s": "seven", "o": {"a": 1}})
        );
    }

    #[test]
    fn bad_arguments_are_refused_like_a_builtin_tools() {
        let spec = spec(json!({"type": "object", "properties": {
            "repo_path": {"type": "string"}, "max_count": {"type": "integer"}
        }, "required": ["repo_path"]}));
        let error = checked(&spec, args(json!({"repo_path": ".", "max_count": "lots"})))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("Invalid arguments for mcp__s__t: `max_count` must be an integer"),
            "{error}"
        );
        let error = checked(&spec, args(json!({"max_count": 2})))
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing field `repo_path`"), "{error}");
        assert!(checked(&spec, args(json!({"repo_path": ".", "max_count": 2}))).is_ok());
        let open =
            super::tests::spec(json!({"type": "object", "properties": {}, "required": ["x"]}));
        assert!(
            checked(&open, args(json!({"y": 1})))
                .unwrap_err()
                .to_string()
                .contains("`x`")
        );
        assert!(checked(&open, args(json!({"x": 1, "y": 1}))).is_ok());
    }

    #[test]
    fn any_of_alternatives_types_are_checked_and_listed() {
        let spec = spec(json!({"type": "object", "properties": {
            "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        }}));
        let error = checked(&spec, args(json!({"count": "lots"})))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "Invalid arguments for mcp__s__t: `count` must be an integer or null, got string \"lots\". Expected: count (integer or null)."
        );
        assert!(checked(&spec, args(json!({"count": 3}))).is_ok());
    }
}
