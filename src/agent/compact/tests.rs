use serde_json::json;

use super::*;
use crate::tools::update_plan::latest_plan;

fn args(value: serde_json::Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn call(id: &str, name: &str, arguments: serde_json::Value) -> Message {
    Message::Assistant {
        content: String::new(),
        reasoning_content: Some(format!("thinking before {id}")),
        tool_calls: vec![ToolCall::new(id, name, args(arguments))],
        reasoning_details: None,
        raw: Some(format!("<think>raw {id}</think>")),
    }
}

fn answer(text: &str) -> Message {
    Message::Assistant {
        content: text.into(),
        reasoning_content: None,
        tool_calls: Vec::new(),
        reasoning_details: None,
        raw: None,
    }
}

fn plan_arguments(status: &str) -> serde_json::Value {
    json!({"plan": [{"step": "Read", "status": "completed"}, {"step": "Fix", "status": status}]})
}

/// system, task, 5 read_file turns with long outputs, a plan call early on.
fn conversation() -> Vec<Message> {
    let mut messages = vec![
        Message::system("You are glint."),
        Message::user("Fix the parser."),
        call("call_1", "update_plan", plan_arguments("in_progress")),
        Message::tool_result("call_1", "Plan updated: 1 of 2 steps completed."),
    ];
    for n in 2..=6 {
        messages.push(call(
            &format!("call_{n}"),
            "read_file",
            json!({"path": format!("src/f{n}.rs")}),
        ));
        messages.push(Message::tool_result(
            format!("call_{n}"),
            format!("line of f{n}\n").repeat(60),
        ));
    }
    messages
}

#[test]
fn the_split_keeps_the_last_turns_with_the_request_before_them() {
    let messages = conversation();
    let split = Split::new(&messages, 2);
    assert_eq!(split.head, 1);
    // The last two model turns: call_5 and call_6.
    assert_eq!(split.tail, messages.len() - 4);
    assert!(split.has_older());

    let mut short = vec![Message::system("s"), Message::user("hi"), answer("hello")];
    assert!(!Split::new(&short, 2).has_older());
    short.push(Message::user("again"));
    short.push(answer("yes"));
    let split = Split::new(&short, 1);
    assert_eq!(split.tail, 3, "the kept turn starts with its request");
}

#[test]
fn eliding_stubs_old_outputs_only_and_says_how_to_get_them_back() {
    let messages = conversation();
    let split = Split::new(&messages, 2);
    let (elided, list) = elide(&messages, split);
    assert_eq!(elided.len(), messages.len(), "every message stays in place");
    let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["call_2", "call_3", "call_4"],
        "short and kept outputs stay"
    );
    assert_eq!(list[0].call, "read_file src/f2.rs");
    assert_eq!(list[0].lines, 60);
    let Message::Tool { content, .. } = &elided[5] else {
        panic!("not a tool result: {:?}", elided[5]);
    };
    assert_eq!(
        content,
        "[output elided by compaction: read_file src/f2.rs, 60 lines; call it again to see it]"
    );
    assert_eq!(
        elided[split.tail..],
        messages[split.tail..],
        "kept verbatim"
    );
    assert_eq!(elided[3], messages[3], "the short plan result stays");
    let (again, none) = elide(&elided, split);
    assert_eq!(again, elided);
    assert!(none.is_empty(), "stubs are not elided again");
}

#[test]
fn assembling_keeps_pins_plan_request_and_tail() {
    let mut messages = conversation();
    messages.insert(2, pin_message("never touch the migrations"));
    messages.insert(
        3,
        Message::user("[glint] New tools from MCP servers can be called from now on"),
    );
    let split = Split::new(&messages, 2);
    let plan = latest_plan(&messages).expect("a plan");
    let assembled = assemble(
        &messages,
        split,
        Some(1),
        Some(&plan),
        "Goal: fix the parser.",
        || "call_7".to_string(),
    );
    let out = &assembled.messages;
    assert_eq!(out[0], messages[0], "the system prompt stays first");
    assert_eq!(out[1], messages[2], "the pin, word for word");
    assert_eq!(out[2], messages[3], "the MCP announcement");
    let Message::User { content } = &out[3] else {
        panic!("no hand-off note: {:?}", out[3]);
    };
    assert!(content.starts_with("glint compacted this conversation"));
    assert!(
        content.contains("8 earlier messages, 4 of them tool outputs, were replaced"),
        "{content}"
    );
    assert!(content.ends_with("Goal: fix the parser."));
    assert_eq!(out[4], Message::user("Fix the parser."));
    assert_eq!(assembled.latest_task, Some(4));
    assert_eq!(latest_plan(out), Some(plan), "the plan is restated");
    assert!(
        matches!(&out[6], Message::Tool { tool_call_id, content } if tool_call_id == "call_7" && content.starts_with("Plan updated: 1 of 2"))
    );
    assert_eq!(out[7..], messages[split.tail..]);
    assert_eq!(pinned_notes(out), ["never touch the migrations"]);
    // The plan call and result, and 3 read_file turns (call and result).
    assert_eq!(assembled.summarised.len(), 8, "{:?}", assembled.summarised);
    assert_eq!(assembled.summarised[0], "assistant (called update_plan)");
    assert_eq!(
        assembled.summarised[2],
        "assistant (called read_file src/f2.rs)"
    );
    assert_eq!(
        assembled.summarised[3],
        "result of read_file src/f2.rs: 60 lines"
    );
}

#[test]
fn a_plan_the_kept_turns_hold_is_not_restated() {
    let mut messages = conversation();
    messages.push(call("call_7", "update_plan", plan_arguments("completed")));
    messages.push(Message::tool_result("call_7", "Plan updated."));
    let split = Split::new(&messages, 1);
    let plan = latest_plan(&messages).expect("a plan");
    let assembled = assemble(&messages, split, Some(1), Some(&plan), "note", || {
        panic!("no call id is needed")
    });
    assert_eq!(
        assembled.messages[assembled.messages.len() - 2..],
        messages[split.tail..]
    );
    assert_eq!(latest_plan(&assembled.messages), Some(plan));
}

#[test]
fn a_request_in_the_kept_turns_is_found_there() {
    let mut messages = conversation();
    messages.push(Message::user("Now the tests."));
    messages.push(answer("Done."));
    let task = messages.len() - 2;
    assert_eq!(find_latest_task(&messages), Some(task));
    let split = Split::new(&messages, 1);
    let assembled = assemble(&messages, split, Some(task), None, "note", || {
        "call_9".into()
    });
    let found = assembled.latest_task.expect("the request is kept");
    assert_eq!(assembled.messages[found], Message::user("Now the tests."));
    assert_eq!(
        assembled
            .messages
            .iter()
            .filter(|m| **m == Message::user("Now the tests."))
            .count(),
        1
    );
}

#[test]
fn glints_own_messages_are_not_the_users_request() {
    let messages = vec![
        Message::system("s"),
        Message::user("Do it."),
        answer("ok"),
        pin_message("a note"),
        Message::user("glint: your last output was cut off"),
    ];
    assert_eq!(find_latest_task(&messages), Some(1));
}

#[test]
fn every_section_is_in_the_prompt_file() {
    for name in ["elided", "summarise", "handoff", "pinned"] {
        let text = section(name, &[]);
        assert_ne!(
            text,
            format!("glint: {name}"),
            "prompts/compact.md lacks ## {name}"
        );
    }
    let instruction = summary_instruction(900, Some(1000), 3);
    let Message::User { content } = instruction else {
        panic!("not a user message");
    };
    assert!(content.contains("900 of 1000 tokens"), "{content}");
    assert!(!content.contains('{'), "a placeholder is left: {content}");
}

/// system, a pin, a hand-off note, the task, then `conversation()`'s turns.
fn compacted_conversation() -> (Vec<Message>, usize) {
    let turns = conversation();
    let mut messages = vec![
        turns[0].clone(),
        pin_message("Never touch migrations/."),
        Message::user(section(
            "handoff",
            &[
                ("replaced", "4".into()),
                ("outputs", "2".into()),
                ("summary", "Goal: fix the parser.".into()),
            ],
        )),
        turns[1].clone(),
    ];
    messages.extend_from_slice(&turns[2..]);
    (messages, 3)
}

#[test]
fn dropping_takes_the_oldest_turns_whole_and_keeps_request_pins_note_and_plan() {
    let (messages, task) = compacted_conversation();
    let plan = latest_plan(&messages).expect("a plan");
    let total = budget::conversation_bytes(&messages);
    // Room for all but about three of the six turns.
    let limit = total * 6 / 10;
    let fits = |m: &[Message]| budget::conversation_bytes(m) <= limit;
    let dropped = drop_oldest_turns(
        &messages,
        Some(task),
        Some(&plan),
        || "call_99".into(),
        fits,
    );
    assert!(dropped.fits);
    let out = &dropped.messages;
    assert!(budget::conversation_bytes(out) <= limit);
    assert_eq!(
        out[..4],
        messages[..4],
        "system, pin, note and request stay first"
    );
    assert_eq!(dropped.latest_task, Some(3));
    // The turn that set the plan stays, where it was.
    assert_eq!(out[4..6], messages[4..6]);
    assert_eq!(latest_plan(out).as_ref(), Some(&plan));
    // Whole turns: every remaining result has its call, the last turns are
    // untouched, and each dropped call went with its result.
    let kept_calls: Vec<&str> = out
        .iter()
        .flat_map(|m| match m {
            Message::Assistant { tool_calls, .. } => {
                tool_calls.iter().map(|c| c.id.as_str()).collect()
            }
            _ => Vec::new(),
        })
        .collect();
    for message in out {
        if let Message::Tool { tool_call_id, .. } = message {
            assert!(
                kept_calls.contains(&tool_call_id.as_str()),
                "{tool_call_id}"
            );
        }
    }
    assert_eq!(out.last(), messages.last());
    assert!(kept_calls.contains(&"call_6") && !kept_calls.contains(&"call_2"));
    assert_eq!(dropped.dropped.len() % 2, 0, "{:?}", dropped.dropped);
    assert_eq!(dropped.dropped[0], "assistant (called read_file src/f2.rs)");
    assert!(dropped.dropped[1].starts_with("result of read_file src/f2.rs"));
}

#[test]
fn dropping_stops_at_what_must_stay_and_leaves_a_fitting_conversation_alone() {
    let (messages, task) = compacted_conversation();
    let plan = latest_plan(&messages).expect("a plan");
    let nothing_fits = drop_oldest_turns(
        &messages,
        Some(task),
        Some(&plan),
        || "call_99".into(),
        |_| false,
    );
    assert!(!nothing_fits.fits);
    let out = &nothing_fits.messages;
    assert_eq!(out[..4], messages[..4]);
    // Only the plan's turn is left.
    assert_eq!(out.len(), 6, "{out:#?}");
    assert_eq!(out[4..], messages[4..6]);
    assert_eq!(nothing_fits.dropped.len(), 10);

    // A plan set by a turn that also did other work goes with that turn,
    // and is restated where it was.
    let mut mixed = messages.clone();
    if let Message::Assistant { tool_calls, .. } = &mut mixed[4] {
        tool_calls.push(ToolCall::new(
            "call_1b",
            "read_file",
            args(json!({"path": "a.rs"})),
        ));
    }
    mixed.insert(6, Message::tool_result("call_1b", "fn a() {}"));
    let dropped = drop_oldest_turns(
        &mixed,
        Some(task),
        Some(&plan),
        || "call_99".into(),
        |_| false,
    );
    let out = &dropped.messages;
    assert!(
        matches!(&out[4], Message::Assistant { tool_calls, .. } if tool_calls[0].id == "call_99"),
        "{out:#?}"
    );
    assert_eq!(latest_plan(out).as_ref(), Some(&plan));
    assert_eq!(out.len(), 6);

    let all_fit = drop_oldest_turns(
        &messages,
        Some(task),
        Some(&plan),
        || "call_99".into(),
        |_| true,
    );
    assert!(all_fit.fits && all_fit.dropped.is_empty());
    assert_eq!(all_fit.messages, messages);
    assert_eq!(all_fit.latest_task, Some(task));
}
