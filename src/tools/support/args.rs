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
    let properties = spec
        .function()
        .get("parameters")
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object);
    let required = spec.required_arguments();

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
            let Some(types) = properties.get(key).and_then(allowed_types) else {
                continue;
            };
            if !types.iter().any(|ty| has_type(value, ty)) {
                return Err(invalid(format!(
                    "`{key}` must be {}, got {}",
                    type_phrase(&types),
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
    let required = spec.required_arguments();
    let Some(properties) = spec
        .function()
        .get("parameters")
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
            let ty = allowed_types(schema).map_or_else(|| "any".into(), |types| types.join(" or "));
            if required.contains(&key.as_str()) {
                format!("{key} ({ty}, required)")
            } else {
                format!("{key} ({ty})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl ToolSpec {
    /// The names the schema's `required` list holds.
    pub fn required_arguments(&self) -> Vec<&str> {
        self.function()
            .get("parameters")
            .and_then(|p| p.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether argument `key`'s schema allows a value of `value`'s JSON
    /// type (by [`allowed_types`]); an undeclared argument, or one whose
    /// schema names no types, allows any. The check the built-in tools'
    /// arguments get, for the MCP adapter that types text by the schema.
    pub fn allows(&self, key: &str, value: &Value) -> bool {
        let schema = self
            .function()
            .get("parameters")
            .and_then(|p| p.get("properties"))
            .and_then(|p| p.get(key));
        match schema.and_then(allowed_types) {
            Some(types) => types.iter().any(|ty| has_type(value, ty)),
            None => true,
        }
    }
}

/// The JSON types one argument's schema allows: its `type` (a name or a
/// list of names), or, for `anyOf`/`oneOf`, those of every alternative;
/// `None` when any type may do (no `type`, or an alternative without one).
fn allowed_types(schema: &Value) -> Option<Vec<&str>> {
    if let Some(ty) = schema.get("type") {
        return type_names(ty);
    }
    let alternatives = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)?;
    let mut types = Vec::new();
    for alternative in alternatives {
        types.extend(type_names(alternative.get("type")?)?);
    }
    Some(types)
}

/// `"string"` or `["string", "null"]` as names; `None` for anything else.
fn type_names(ty: &Value) -> Option<Vec<&str>> {
    match ty {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(types) => Some(types.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn has_type(value: &Value, ty: &str) -> bool {
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

/// `an integer`, `a string or null`.
fn type_phrase(types: &[&str]) -> String {
    let article = |t: &str| match t {
        "integer" | "array" | "object" => format!("an {t}"),
        "null" => "null".to_string(),
        _ => format!("a {t}"),
    };
    if types.is_empty() {
        return "a valid value".into();
    }
    types
        .iter()
        .map(|t| article(t))
        .collect::<Vec<_>>()
        .join(" or ")
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
