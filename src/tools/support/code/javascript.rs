//! Definitions in JavaScript, TypeScript and TSX (one walk: TypeScript's
//! grammar extends JavaScript's, and kinds one grammar lacks never occur).

use tree_sitter::Node;

use super::extract::{
    Action, Found, Scope, ScopeKind, field, has_child_kind, named_children, text,
};

/// Node kinds of a value that make a variable a function definition.
const FUNCTION_VALUES: &[&str] = &[
    "arrow_function",
    "function_expression",
    "function",
    "generator_function",
];

pub(super) fn classify<'t>(node: Node<'t>, src: &[u8], scope: &Scope) -> Action<'t> {
    let named = |kind| field(node, "name").and_then(|n| Found::new(kind, node, n, src));
    let body = field(node, "body");
    match node.kind() {
        "function_declaration" | "generator_function_declaration" => {
            Action::one(named("function").map(|f| f.body(body, ScopeKind::Function)))
        }
        "function_signature" => Action::one(named("function")),
        "class_declaration" | "abstract_class_declaration" => {
            Action::one(named("class").map(|f| f.body(body, ScopeKind::Type)))
        }
        "method_definition" => {
            Action::one(named("method").map(|f| f.body(body, ScopeKind::Function)))
        }
        "method_signature" | "abstract_method_signature" => Action::one(named("method")),
        // `handle = () => {...}` in a class body is a method in all but name.
        "field_definition" | "public_field_definition" => {
            let value = field(node, "value");
            if !value.is_some_and(|v| FUNCTION_VALUES.contains(&v.kind())) {
                return Action::Skip;
            }
            let name = field(node, "name").or_else(|| field(node, "property"));
            Action::one(name.and_then(|n| Found::new("method", node, n, src)))
        }
        "interface_declaration" => {
            Action::one(named("interface").map(|f| f.body(body, ScopeKind::Type)))
        }
        "type_alias_declaration" => Action::one(named("type")),
        "enum_declaration" => Action::one(named("enum")),
        "internal_module" => Action::one(named("namespace").map(|f| f.body(body, ScopeKind::Top))),
        "module" => Action::one(named("module").map(|f| f.body(body, ScopeKind::Top))),
        // Wrappers whose children are the definitions.
        "export_statement" | "ambient_declaration" => Action::Descend,
        "expression_statement" if scope.keeps_variables() => Action::Descend,
        "lexical_declaration" | "variable_declaration" if scope.keeps_variables() => {
            variables(node, src)
        }
        // CommonJS and prototype style.
        "assignment_expression" if scope.kind == ScopeKind::Top => assigned_function(node, src),
        _ => Action::Skip,
    }
}

/// `const MAX = 8`, `let x`, `const parse = () => ...`,
/// `const Parser = class {...}`: one definition per declarator. A single
/// declarator spans the whole statement, so its range includes `const`.
fn variables<'t>(node: Node<'t>, src: &[u8]) -> Action<'t> {
    let declarators: Vec<Node> = named_children(node)
        .into_iter()
        .filter(|d| d.kind() == "variable_declarator")
        .collect();
    let single = declarators.len() == 1;
    let constant = has_child_kind(node, "const");
    let defs = declarators
        .into_iter()
        .filter_map(|d| {
            // Destructuring patterns declare no single name.
            let name = field(d, "name").filter(|n| n.kind() == "identifier")?;
            let value = field(d, "value");
            let span = if single { node } else { d };
            let value_kind = value.map(|v| v.kind());
            let found = match value_kind {
                Some(k) if FUNCTION_VALUES.contains(&k) => Found::new("function", span, name, src)?
                    .body(value.and_then(|v| field(v, "body")), ScopeKind::Function),
                Some("class") => Found::new("class", span, name, src)?
                    .body(value.and_then(|v| field(v, "body")), ScopeKind::Type),
                _ => Found::new(if constant { "const" } else { "var" }, span, name, src)?,
            };
            Some(found)
        })
        .collect();
    Action::Defs(defs)
}

/// A function assigned to a name or property at the top level:
/// `exports.parse = function ...` is `parse`, `Parser.prototype.parse = ...`
/// a method of Parser, and `module.exports = function name(...)` takes the
/// function's own name (else it is called `module.exports`).
fn assigned_function<'t>(node: Node<'t>, src: &[u8]) -> Action<'t> {
    let (Some(left), Some(right)) = (field(node, "left"), field(node, "right")) else {
        return Action::Skip;
    };
    if !FUNCTION_VALUES.contains(&right.kind()) {
        return Action::Skip;
    }
    let own_name = field(right, "name");
    let found = match (left.kind(), field(left, "property")) {
        ("identifier", _) => Found::new("function", node, left, src),
        ("member_expression", _) if text(left, src) == "module.exports" => match own_name {
            Some(name) => Found::new("function", node, name, src),
            None => Some(Found::named("function", node, "module.exports".into())),
        },
        ("member_expression", Some(property)) => {
            let class = field(left, "object")
                .filter(|o| o.kind() == "member_expression")
                .filter(|o| field(*o, "property").is_some_and(|p| text(p, src) == "prototype"))
                .and_then(|o| field(o, "object"));
            match class {
                Some(class) => {
                    Found::new("method", node, property, src).map(|f| f.container(text(class, src)))
                }
                None => Found::new("function", node, property, src),
            }
        }
        _ => None,
    };
    Action::one(found.map(|f| f.body(field(right, "body"), ScopeKind::Function)))
}
