//! The streaming output parser: tags split across chunks, GLM-4.5-style
//! whitespace, value typing, malformed calls, stop tokens, and two
//! properties: chunking never changes the result, and a rendered assistant
//! turn parses back to itself.

use glint::conversation::{Message, ToolCall, ToolSpec};
use glint::glm::{
    ParseEvent, ParsedToolCall, ParsedTurn, RenderOptions, STOP_TOKEN_IDS, STOP_TOKENS,
    StreamParser, parse_complete, py_strip, render_prompt,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::from_function(json!({
            "name": "read_file",
            "parameters": {"type": "object", "properties": {
                "path": {"type": "string"}, "offset": {"type": "integer"}, "limit": {"type": "integer"}}}
        })),
        ToolSpec::from_function(json!({
            "name": "edit_file",
            "parameters": {"type": "object", "properties": {
                "path": {"type": "string"}, "old_string": {"type": "string"},
                "new_string": {"type": "string"}, "replace_all": {"type": "boolean"}}}
        })),
        ToolSpec::from_function(json!({
            "name": "shell",
            "parameters": {"type": "object", "properties": {
                "command": {"type": "string"}, "timeout_s": {"type": "integer"},
                "env": {"type": "object"}, "steps": {"type": "array"},
                "note": {"type": ["string", "null"]}, "ratio": {"type": ["number", "null"]}}}
        })),
    ]
}

/// Feeds `chunks` one by one, then finishes.
fn parse_chunks(chunks: &[&str], starts_in_reasoning: bool) -> (Vec<ParseEvent>, bool) {
    let mut parser = StreamParser::new(&tools(), starts_in_reasoning);
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(parser.feed(chunk));
    }
    events.extend(parser.finish());
    (events, parser.stopped())
}

/// Adjacent deltas of the same kind concatenated: what any chunking must
/// agree on.
fn merge(events: Vec<ParseEvent>) -> Vec<ParseEvent> {
    let mut merged: Vec<ParseEvent> = Vec::new();
    for event in events {
        match (merged.last_mut(), event) {
            (Some(ParseEvent::ReasoningDelta(prev)), ParseEvent::ReasoningDelta(next))
            | (Some(ParseEvent::TextDelta(prev)), ParseEvent::TextDelta(next)) => {
                prev.push_str(&next)
            }
            (_, event) => merged.push(event),
        }
    }
    merged
}

fn whole(raw: &str, starts_in_reasoning: bool) -> (Vec<ParseEvent>, bool) {
    let (events, stopped) = parse_chunks(&[raw], starts_in_reasoning);
    (merge(events), stopped)
}

fn char_chunks(raw: &str) -> Vec<&str> {
    raw.char_indices()
        .map(|(i, c)| &raw[i..i + c.len_utf8()])
        .collect()
}

/// Every two-way split and the one-char chunking agree with the whole.
fn assert_chunk_invariant(raw: &str, starts_in_reasoning: bool) -> ParsedTurn {
    let expected = whole(raw, starts_in_reasoning);
    for (cut, _) in raw.char_indices().skip(1) {
        let (events, stopped) = parse_chunks(&[&raw[..cut], &raw[cut..]], starts_in_reasoning);
        assert_eq!(
            (merge(events), stopped),
            expected,
            "split at {cut}: {:?} | {:?}",
            &raw[..cut],
            &raw[cut..]
        );
    }
    let (events, stopped) = parse_chunks(&char_chunks(raw), starts_in_reasoning);
    assert_eq!(
        (merge(events), stopped),
        expected,
        "one-char chunks of {raw:?}"
    );
    ParsedTurn::from_events(expected.0)
}

fn call(name: &str, args: Value) -> ParsedToolCall {
    let Value::Object(arguments) = args else {
        panic!("arguments must be an object")
    };
    ParsedToolCall {
        id: None,
        name: name.into(),
        arguments,
    }
}

fn turn(reasoning: &str, content: &str, tool_calls: Vec<ParsedToolCall>) -> ParsedTurn {
    ParsedTurn {
        reasoning: reasoning.into(),
        content: content.into(),
        tool_calls,
    }
}

#[test]
fn full_turn_with_every_tag_split_everywhere() {
    let raw = "\n  Plan: read <it> first.\n\n</think>\n\nLet me look.\n<tool_call>read_file<arg_key>path</arg_key><arg_value>src/a.rs</arg_value><arg_key>limit</arg_key><arg_value>40</arg_value></tool_call><|observation|>ignored";
    let parsed = assert_chunk_invariant(raw, true);
    assert_eq!(
        parsed,
        turn(
            "Plan: read <it> first.",
            "Let me look.",
            vec![call("read_file", json!({"path": "src/a.rs", "limit": 40}))]
        )
    );
    let (events, stopped) = whole(raw, true);
    assert!(stopped);
    assert_eq!(events.len(), 3, "{events:?}");
}

#[test]
fn text_is_emitted_promptly_and_partial_tags_held() {
    let mut parser = StreamParser::new(&tools(), true);
    assert_eq!(
        parser.feed("Let me think"),
        vec![ParseEvent::ReasoningDelta("Let me think".into())]
    );
    // Trailing whitespace and a possible `</think>` are held back.
    assert_eq!(
        parser.feed(" more \n</thi"),
        vec![ParseEvent::ReasoningDelta(" more".into())]
    );
    assert_eq!(parser.feed("nk>\n"), vec![]);
    assert_eq!(
        parser.feed("Hi <"),
        vec![ParseEvent::TextDelta("Hi".into())]
    );
    assert_eq!(
        parser.feed("b> there<tool_ca"),
        vec![ParseEvent::TextDelta(" <b> there".into())]
    );
    assert_eq!(
        parser.feed("ll>shell<arg_key>command</arg_key><arg_value>ls"),
        vec![]
    );
    assert_eq!(
        parser.feed("</arg_value></tool_call><|obser"),
        vec![ParseEvent::ToolCall(call(
            "shell",
            json!({"command": "ls"})
        ))]
    );
    assert!(!parser.stopped());
    assert_eq!(parser.feed("vation|>trailing"), vec![]);
    assert!(parser.stopped());
    assert_eq!(parser.feed("more"), vec![]);
    assert_eq!(parser.finish(), vec![]);
}

#[test]
fn whitespace_between_tags_glm45_style() {
    let raw = "</think>\n<tool_call>shell \n<arg_key> command </arg_key>\n<arg_value>ls -la</arg_value>\n<arg_key>\ntimeout_s\n</arg_key> <arg_value> 30\n</arg_value>\n</tool_call>\n";
    let parsed = assert_chunk_invariant(raw, true);
    assert_eq!(
        parsed,
        turn(
            "",
            "",
            vec![call("shell", json!({"command": "ls -la", "timeout_s": 30}))]
        )
    );
}

#[test]
fn values_are_typed_by_schema() {
    let raw = concat!(
        "<tool_call>shell",
        "<arg_key>timeout_s</arg_key><arg_value>-12</arg_value>",
        "<arg_key>env</arg_key><arg_value>{\"A\": [1, 2.5, null], \"B\": {\"c\": \"ü\"}}</arg_value>",
        "<arg_key>steps</arg_key><arg_value>[\"a\", \"b\"]</arg_value>",
        "<arg_key>note</arg_key><arg_value>null</arg_value>",
        "<arg_key>ratio</arg_key><arg_value>0.25</arg_value>",
        "<arg_key>unknown</arg_key><arg_value>42</arg_value>",
        "</tool_call>",
        "<tool_call>edit_file<arg_key>replace_all</arg_key><arg_value>true</arg_value></tool_call>",
        "<tool_call>read_file<arg_key>limit</arg_key><arg_value>forty</arg_value>",
        "<arg_key>offset</arg_key><arg_value>1 2</arg_value></tool_call>",
        "<tool_call>not_a_tool<arg_key>n</arg_key><arg_value>7</arg_value></tool_call>",
    );
    let parsed = assert_chunk_invariant(raw, false);
    let env = json!({"A": [1, 2.5, null], "B": {"c": "ü"}});
    assert_eq!(
        parsed.tool_calls,
        vec![
            call(
                "shell",
                json!({"timeout_s": -12, "env": env, "steps": ["a", "b"], "note": "null", "ratio": 0.25, "unknown": "42"})
            ),
            call("edit_file", json!({"replace_all": true})),
            // Invalid JSON for a non-string type falls back to the raw text.
            call("read_file", json!({"limit": "forty", "offset": "1 2"})),
            call("not_a_tool", json!({"n": "7"})),
        ]
    );
    // Key order is the model's, not the schema's.
    let keys: Vec<&String> = parsed.tool_calls[0].arguments.keys().collect();
    assert_eq!(
        keys,
        ["timeout_s", "env", "steps", "note", "ratio", "unknown"]
    );
    assert_eq!(parsed.content, "");
}

#[test]
fn string_values_are_kept_exactly() {
    let old = "    s.split(',').collect()\n";
    let new = "\n\t  s.split(',')\n        .filter(|p| !p.is_empty())  \n";
    let raw = format!(
        "</think><tool_call>edit_file<arg_key>path</arg_key><arg_value> src/p.rs </arg_value><arg_key>old_string</arg_key><arg_value>{old}</arg_value><arg_key>new_string</arg_key><arg_value>{new}</arg_value></tool_call>"
    );
    let parsed = assert_chunk_invariant(&raw, true);
    assert_eq!(
        parsed.tool_calls,
        vec![call(
            "edit_file",
            json!({"path": " src/p.rs ", "old_string": old, "new_string": new})
        )]
    );
}

/// A value may contain `</arg_value>` itself (code that handles GLM's
/// format, say): only an `</arg_value>` followed, after optional
/// whitespace, by `<arg_key>` or `</tool_call>` ends it.
#[test]
fn a_value_may_contain_the_closing_tag() {
    let old = "let end = \"</arg_value>\";\n";
    let new = "x</arg_value>\n  y <arg_key>k</arg_key></tool_call> z</arg_value>";
    let raw = format!(
        "</think>Edit.<tool_call>edit_file<arg_key>path</arg_key><arg_value>src/p.rs</arg_value>\n<arg_key>old_string</arg_key><arg_value>{old}</arg_value><arg_key>new_string</arg_key><arg_value>{new}</arg_value>\n</tool_call><|observation|>"
    );
    let parsed = assert_chunk_invariant(&raw, true);
    assert_eq!(
        parsed,
        turn(
            "",
            "Edit.",
            vec![call(
                "edit_file",
                json!({"path": "src/p.rs", "old_string": old, "new_string": new})
            )]
        )
    );
}

/// The tag at the very end of a value, and a value that is nothing but the
/// tag, with whitespace before the next `<arg_key>` and before a stop.
#[test]
fn a_value_may_end_with_the_closing_tag() {
    let raw = "<tool_call>shell<arg_key>command</arg_key><arg_value>echo '</arg_value>'</arg_value> \n <arg_key>note</arg_key><arg_value></arg_value></arg_value></tool_call>";
    let parsed = assert_chunk_invariant(raw, false);
    assert_eq!(
        parsed.tool_calls,
        vec![call(
            "shell",
            json!({"command": "echo '</arg_value>'", "note": "</arg_value>"})
        )]
    );
}

/// A streaming parser must not decide on `</arg_value>` before it sees what
/// follows: the value stays open while only whitespace or a tag prefix came.
#[test]
fn the_closing_tag_is_held_until_what_follows_decides() {
    let mut parser = StreamParser::new(&tools(), false);
    let mut events =
        parser.feed("<tool_call>shell<arg_key>command</arg_key><arg_value>a</arg_value>");
    events.extend(parser.feed(" \n"));
    events.extend(parser.feed("<arg_"));
    events.extend(parser.feed("valuable"));
    events.extend(parser.feed("</arg_value></tool_call>"));
    events.extend(parser.finish());
    assert_eq!(
        merge(events),
        vec![ParseEvent::ToolCall(call(
            "shell",
            json!({"command": "a</arg_value> \n<arg_valuable"})
        ))]
    );
}

/// An unclosed call whose value holds the tag is still text, whole.
#[test]
fn an_unclosed_call_with_the_tag_inside_is_text() {
    let raw = "Hi <tool_call>shell<arg_key>command</arg_key><arg_value>a</arg_value> b</arg_value>";
    let parsed = assert_chunk_invariant(raw, false);
    assert_eq!(parsed, turn("", raw, vec![]));
}

#[test]
fn zero_argument_and_several_calls() {
    let raw = "Two calls.<tool_call>list_files</tool_call>\n\n<tool_call>\nread_file\n<arg_key>path</arg_key><arg_value>a</arg_value></tool_call>  then <tool_call>shell</tool_call> done \n";
    let parsed = assert_chunk_invariant(raw, false);
    assert_eq!(
        parsed,
        turn(
            "",
            "Two calls.thendone",
            vec![
                call("list_files", json!({})),
                call("read_file", json!({"path": "a"})),
                call("shell", json!({})),
            ]
        )
    );
    // Events keep the model's order.
    let (events, _) = whole(raw, false);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            ParseEvent::ReasoningDelta(_) => "r",
            ParseEvent::TextDelta(_) => "t",
            ParseEvent::ToolCall(_) => "c",
        })
        .collect();
    assert_eq!(kinds, ["t", "c", "c", "t", "c", "t"]);
}

#[test]
fn unclosed_tool_call_is_text() {
    let raw = "Trying. <tool_call>read_file<arg_key>path</arg_key><arg_value>a.rs \n";
    let parsed = assert_chunk_invariant(raw, false);
    assert_eq!(
        parsed,
        turn(
            "",
            "Trying. <tool_call>read_file<arg_key>path</arg_key><arg_value>a.rs",
            vec![]
        )
    );
    // Cut off by a stop token: still not a call.
    let raw = "<tool_call>shell<arg_key>command</arg_key><arg_value>ls<|user|>more";
    let parsed = assert_chunk_invariant(raw, false);
    assert_eq!(
        parsed,
        turn(
            "",
            "<tool_call>shell<arg_key>command</arg_key><arg_value>ls",
            vec![]
        )
    );
    assert!(whole(raw, false).1);
    // A call naming nothing is not a call either.
    let parsed = assert_chunk_invariant("a <tool_call> </tool_call> b", false);
    assert_eq!(parsed, turn("", "a <tool_call> </tool_call> b", vec![]));
    // A half-written tag at the very end is flushed as text.
    let parsed = assert_chunk_invariant("done <tool_ca", false);
    assert_eq!(parsed, turn("", "done <tool_ca", vec![]));
}

#[test]
fn reasoning_that_never_closes_is_all_reasoning() {
    let raw = "\n I am thinking <tool_call>not a call</tool_call> still </thin \n";
    let parsed = assert_chunk_invariant(raw, true);
    assert_eq!(
        parsed,
        turn(
            "I am thinking <tool_call>not a call</tool_call> still </thin",
            "",
            vec![]
        )
    );
}

#[test]
fn stop_tokens_end_output_in_any_state() {
    for stop in STOP_TOKENS {
        for raw in [
            format!("reason{stop}after</think>text"),
            format!("r</think>text {stop} after<tool_call>x</tool_call>"),
            format!("r</think><tool_call>a</tool_call>{stop}<tool_call>b</tool_call>"),
        ] {
            let (_, stopped) = whole(&raw, true);
            assert!(stopped, "{raw:?}");
            assert_chunk_invariant(&raw, true);
        }
    }
    let parsed = assert_chunk_invariant("reason<|endoftext|>after</think>text", true);
    assert_eq!(parsed, turn("reason", "", vec![]));
    let parsed = assert_chunk_invariant("r</think>text <|user|> after", true);
    assert_eq!(parsed, turn("r", "text", vec![]));
    let (_, stopped) = whole("no stop here", false);
    assert!(!stopped);
    assert_eq!(STOP_TOKEN_IDS, [154820, 154827, 154829]);
}

#[test]
fn thinking_off_output_and_leading_think_tags() {
    let parsed = assert_chunk_invariant("  Just text, <think> here is literal.  ", false);
    assert_eq!(
        parsed,
        turn("", "Just text, <think> here is literal.", vec![])
    );
    // The model re-opening thinking although the prompt closed it.
    let parsed = assert_chunk_invariant("\n<think>\nhmm\n</think>\nAnswer", false);
    assert_eq!(parsed, turn("hmm", "Answer", vec![]));
    // A stray leading close is dropped, in either mode.
    let parsed = assert_chunk_invariant(" </think> Answer", false);
    assert_eq!(parsed, turn("", "Answer", vec![]));
    let parsed = assert_chunk_invariant("r</think>\n</think>Answer </think>", true);
    assert_eq!(parsed, turn("r", "Answer </think>", vec![]));
    // A lone `<` or `</` at the start is text once it can't be a tag.
    let parsed = assert_chunk_invariant("</b> and <", false);
    assert_eq!(parsed, turn("", "</b> and <", vec![]));
}

#[test]
fn parse_complete_matches_streaming() {
    let raw = "why</think>what<tool_call>shell<arg_key>command</arg_key><arg_value>ls</arg_value></tool_call>";
    let parsed = parse_complete(raw, &tools(), true);
    assert_eq!(parsed, assert_chunk_invariant(raw, true));
    assert_eq!(
        parsed,
        turn("why", "what", vec![call("shell", json!({"command": "ls"}))])
    );
    let as_json = serde_json::to_value(&parsed).unwrap();
    assert_eq!(as_json["tool_calls"][0]["arguments"]["command"], "ls");
}

// ---------------------------------------------------------------------------
// Properties.

/// Raw outputs from a vocabulary rich in tags, partial tags, stop tokens,
/// whitespace and values, so every state and every hold-back is exercised.
fn raw_output() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "<think>",
        "</think>",
        "<tool_call>",
        "</tool_call>",
        "<arg_key>",
        "</arg_key>",
        "<arg_value>",
        "</arg_value>",
        "<|endoftext|>",
        "<|user|>",
        "<|observation|>",
        "</thi",
        "<tool_ca",
        "<|obser",
        "<arg_",
        "</arg_v",
        "<",
        "</",
        "<|",
        ">",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "\u{a0}",
        "\u{1c}",
        "word",
        "é",
        "日本",
        "😀",
        "x y",
        "read_file",
        "shell",
        "limit",
        "path",
        "command",
        "timeout_s",
        "env",
        "40",
        "-3",
        "true",
        "[1, 2]",
        "{\"a\": 1}",
        "not json",
    ];
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|pieces| pieces.concat())
}

/// Realistic outputs: reasoning, text, well-formed calls, maybe a stop.
fn structured_output() -> impl Strategy<Value = String> {
    let text = prop::collection::vec(
        prop::sample::select(&[" ", "\n", "ab", "c d", "<", "é", "\t", "</", "x"][..]),
        0..8,
    )
    .prop_map(|p| p.concat());
    let value = prop_oneof![
        text.clone(),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("{\"k\": [true, null]}".to_string()),
    ];
    let arg = (
        prop::sample::select(&["path", "limit", "env", " command\n"][..]),
        value,
    )
        .prop_map(|(k, v)| format!("<arg_key>{k}</arg_key>\n<arg_value>{v}</arg_value>"));
    let call = (
        prop::sample::select(&["read_file", "shell", "\nedit_file "][..]),
        prop::collection::vec(arg, 0..3),
    )
        .prop_map(|(name, args)| format!("<tool_call>{name}{}</tool_call>", args.concat()));
    let stop = prop::sample::select(&["", "", "<|observation|>", "<|user|>", "<|endoftext|>"][..]);
    (
        text.clone(),
        prop::bool::ANY,
        text,
        prop::collection::vec(call, 0..3),
        stop,
    )
        .prop_map(|(reasoning, closed, text, calls, stop)| {
            let close = if closed { "</think>" } else { "" };
            format!("{reasoning}{close}{text}{}{stop}", calls.concat())
        })
}

/// Cuts `raw` at the given char positions.
fn cut(raw: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
    let boundaries: Vec<usize> = raw
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(raw.len()))
        .collect();
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| boundaries[c.index(boundaries.len())])
        .collect();
    points.push(0);
    points.push(raw.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| raw[w[0]..w[1]].to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunking_never_changes_the_result(
        raw in prop_oneof![raw_output(), structured_output()],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        starts_in_reasoning in prop::bool::ANY,
    ) {
        let expected = whole(&raw, starts_in_reasoning);
        let chunks = cut(&raw, &cuts);
        let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let (events, stopped) = parse_chunks(&chunk_refs, starts_in_reasoning);
        prop_assert_eq!((merge(events), stopped), expected.clone());
        let (events, stopped) = parse_chunks(&char_chunks(&raw), starts_in_reasoning);
        prop_assert_eq!((merge(events), stopped), expected);
    }

    #[test]
    fn rendered_assistant_turn_parses_back(
        (message, expected) in assistant_turn(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let options = RenderOptions { add_generation_prompt: false, ..RenderOptions::default() };
        let prompt = render_prompt(&[Message::user("hi"), message], &tools(), &options);
        let (_, turn) = prompt.split_once("<|user|>hi<|assistant|>").unwrap();
        // The generation prompt ends in `<think>`; the model writes the rest.
        let generated = turn.strip_prefix("<think>").unwrap_or(turn);
        prop_assert!(RenderOptions::default().starts_in_reasoning());
        let parsed = parse_complete(generated, &tools(), true);
        prop_assert_eq!(&parsed, &expected);
        let chunks = cut(generated, &cuts);
        let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let (events, _) = parse_chunks(&chunk_refs, true);
        prop_assert_eq!(ParsedTurn::from_events(events), expected);
    }
}

/// Text without `>`, so it can never form a tag, but with `<`, `</` and `<|`
/// to exercise hold-back, and whitespace of every kind at the edges.
fn free_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            &[
                "a",
                "word",
                " ",
                "  ",
                "\n",
                "\t",
                "\u{a0}",
                "\u{1c}",
                "é",
                "日本",
                "<",
                "</",
                "<|",
                "/",
                "think",
                "tool_call",
                "{",
                "}",
            ][..],
        ),
        0..10,
    )
    .prop_map(|p| p.concat())
}

/// A string argument's value: free text plus GLM's own tags, including
/// `</arg_value>` (never followed by `<arg_key>` or `</tool_call>`, the one
/// case the format cannot tell from the value's end).
fn value_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            free_text(),
            prop::sample::select(
                &[
                    "</arg_value>;",
                    "</arg_value> x",
                    "</arg_value",
                    "<arg_key>k</arg_key>",
                    "<arg_value>",
                    "</tool_call>",
                    "<tool_call>",
                ][..]
            )
            .prop_map(str::to_string),
        ],
        0..4,
    )
    .prop_map(|p| p.concat())
}

/// An assistant message and the turn its render must parse back to.
fn assistant_turn() -> impl Strategy<Value = (Message, ParsedTurn)> {
    let read = (free_text(), prop::option::of(any::<i64>())).prop_map(|(path, limit)| {
        let mut args = Map::new();
        args.insert("path".into(), Value::String(path));
        if let Some(limit) = limit {
            args.insert("limit".into(), json!(limit));
        }
        ("read_file", args)
    });
    let edit = (value_text(), value_text(), prop::bool::ANY).prop_map(|(old, new, all)| {
        let mut args = Map::new();
        args.insert("old_string".into(), Value::String(old));
        args.insert("new_string".into(), Value::String(new));
        args.insert("replace_all".into(), Value::Bool(all));
        ("edit_file", args)
    });
    let shell = (
        value_text(),
        prop::collection::vec(any::<i32>(), 0..3),
        free_text(),
    )
        .prop_map(|(command, steps, key)| {
            let mut args = Map::new();
            args.insert("command".into(), Value::String(command));
            args.insert("steps".into(), json!(steps));
            args.insert(
                "env".into(),
                json!({ key: [0.5, null, "v"], "n": {"deep": -1.25} }),
            );
            ("shell", args)
        });
    let empty = Just(("shell", Map::new()));
    let calls = prop::collection::vec(prop_oneof![read, edit, shell, empty], 0..3);
    (free_text(), free_text(), calls).prop_map(|(reasoning, content, calls)| {
        let tool_calls = calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| ToolCall::new(format!("call_{i}"), *name, args.clone()))
            .collect();
        let expected = ParsedTurn {
            reasoning: py_strip(&reasoning).to_string(),
            content: py_strip(&content).to_string(),
            tool_calls: calls
                .into_iter()
                .map(|(name, arguments)| ParsedToolCall {
                    id: None,
                    name: name.to_string(),
                    arguments,
                })
                .collect(),
        };
        let message = Message::Assistant {
            content,
            reasoning_content: Some(reasoning),
            tool_calls,
            reasoning_details: None,
            raw: None,
        };
        (message, expected)
    })
}
