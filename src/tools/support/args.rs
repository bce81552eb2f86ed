//! Checking a call's arguments against its tool's JSON schema.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::conversation::ToolSpec;
use crate::tools::ToolError;

/// Deserialises a tool's arguments into its argument struct (which should be
/// `#[serde(deny_unknown_fields)]`), turning any problem into an
/// [`ToolError::InvalidArguments`] that names the tool, the problem and the
/// arguments the spec expects, so the model can retry correctly.
///
/// Types are checked against the JSON schema first, because serde's own
/// type errors do not say which argument was wrong. A `null` value for an
/// optional argument counts as absent.
pub fn parse_arguments<T: DeserializeOwned>(
    spec: &ToolSpec,
    arguments: Map<String, Value>,
) -> Result<T, ToolError> {
    let name = spec.name().unwrap_or("tool");
    let invalid = |problem: String| {
        ToolError::InvalidArguments(format!(
            "Invalid arguments for {name}: {problem}. Expected: {}.",
            expected_arguments(spec)
        ))
    };
    let parameters = spec.function().get("parameters");
    let properties = parameters
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object);
    let required: Vec<&str> = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    if let Some(properties) = properties {
        if let Some(unknown) = arguments.keys().find(|k| !properties.contains_key(*k)) {
            return Err(invalid(format!("unknown field `{unknown}`")));
        }
        if let Some(missing) = required
            .iter()
            .find(|r| arguments.get(**r).is_none_or(Value::is_null))
        {
            return Err(invalid(format!("missing field `{missing}`")));
        }
        for (key, value) in &arguments {
            if value.is_null() {
                continue;
            }
            let Some(ty) = properties.get(key).and_then(|p| p.get("type")) else {
                continue;
            };
            if !value_matches_type(value, ty) {
                return Err(invalid(format!(
                    "`{key}` must be {}, got {}",
                    type_phrase(ty),
                    describe_value(value)
                )));
            }
        }
    }

    // Optional nulls are dropped so `Option` fields see them as absent even
    // when a field has a serde default rather than `Option`.
    let arguments: Map<String, Value> = arguments
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .collect();
    serde_json::from_value(Value::Object(arguments)).map_err(|e| invalid(reword_serde_error(&e)))
}

/// `path (string, required), offset (integer), limit (integer)`, from the
/// spec's schema in declaration order.
pub fn expected_arguments(spec: &ToolSpec) -> String {
    let parameters = spec.function().get("parameters");
    let required: Vec<&str> = parameters
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = parameters
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object)
    else {
        return "no arguments".into();
    };
    if properties.is_empty() {
        return "no arguments".into();
    }
    properties
        .iter()
        .map(|(key, schema)| {
            let ty = match schema.get("type") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(types)) => types
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "any".into(),
            };
            if required.contains(&key.as_str()) {
                format!("{key} ({ty}, required)")
            } else {
                format!("{key} ({ty})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_matches_type(value: &Value, ty: &Value) -> bool {
    match ty {
        Value::String(t) => value_matches_type_name(value, t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .any(|t| value_matches_type_name(value, t)),
        _ => true,
    }
}

fn value_matches_type_name(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        // An unknown schema type: let serde decide.
        _ => true,
    }
}

fn type_phrase(ty: &Value) -> String {
    let article = |t: &str| match t {
        "integer" | "array" | "object" => format!("an {t}"),
        "null" => "null".to_string(),
        _ => format!("a {t}"),
    };
    match ty {
        Value::String(t) => article(t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .map(article)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a valid value".into(),
    }
}

/// `string "x"`, `number 1.5`, ... with long values shortened.
fn describe_value(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let text = value.to_string();
    if text.chars().count() > 40 {
        let short: String = text.chars().take(40).collect();
        format!("{kind} {short}…")
    } else {
        format!("{kind} {text}")
    }
}

/// Serde's messages name Rust types (`expected u64`); the model knows JSON
/// Schema types, so say those instead.
fn reword_serde_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // `unknown field `x`, expected one of ...` repeats the Expected list.
    let message = match message.find(", expected one of") {
        Some(i) if message.starts_with("unknown field") => message[..i].to_string(),
        _ => message,
    };
    let mut message = message;
    for rust in ["u64", "u32", "usize", "u16", "u8"] {
        message = message.replace(
            &format!("expected {rust}"),
            "expected a non-negative integer",
        );
    }
    for (rust, schema) in [
        ("i64", "a 64-bit signed integer"),
        ("i32", "a 32-bit signed integer"),
        ("isize", "a 64-bit signed integer"),
    ] {
        message = message.replace(&format!("expected {rust}"), &format!("expected {schema}"));
    }
    message
}
