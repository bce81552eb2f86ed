//! Compaction, driven in-process by scripted models with a context window
//! (the scripted model then counts a prompt at one token per 4 bytes): it
//! triggers at the threshold and not below, elides old tool outputs first,
//! has the model write a hand-off note when that is not enough, keeps the
//! pinned notes, the plan, the user's latest request and the last turns
//! word for word, and from the prompt after it on each prompt extends the
//! last one exactly again. `/compact` forces it, and a resume after it
//! re-renders the compacted conversation byte for byte. `front_ends` has
//! the headless `--json` output and the app, `prefix_reuse` the prefix
//! cache over a compacted and resumed session on the local engine.

#[path = "../common/mod.rs"]
mod common;
mod dropping;
mod front_ends;
mod http;
mod prefix_reuse;
mod support;

use glint::agent::Event;
use glint::agent::Op;
use glint::agent::RunStatus;
use glint::agent::compact::CompactionReason;
use glint::conversation::Message;
use glint::engine::TurnRequest;
use glint::engine::scripted::Completion;
use glint::session::{SessionLog, Sessions, Settings};
use glint::tools::update_plan::latest_plan;

use common::{assert_extends, until_finished};
use support::*;

/// Plan, four big files, a small one, an answer.
fn elision_script() -> Vec<Completion> {
    vec![
        plan_call(),
        read("big1.txt", "First file."),
        read("big2.txt", "Second file."),
        read("big3.txt", "Third file."),
        read("big4.txt", "Fourth file."),
        read("small1.txt", "A small one."),
        answer("They hold numbered lines."),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_threshold_old_tool_outputs_are_elided_first() {
    let sandbox = workspace();
    let sizes = measure(&sandbox, elision_script(), 1).await;
    assert_eq!(sizes.len(), 7, "{sizes:?}");
    // Compact before turn 6 (after big4 is read), not before turn 5.
    let window = window_between(sizes[4], sizes[5]);
    let mut agent = start(&sandbox, elision_script(), window, 1, Vec::new(), None);
    agent.handle.send(Op::Pin { text: PIN.into() });
    agent.handle.submit(TASK);
    let events = until_finished(&mut agent.handle).await;
    let messages = agent.handle.shutdown().await;
    let prompts = agent.model.backend().prompts();

    let steps = timeline(&events);
    let at = steps
        .iter()
        .position(|s| s == "compaction_started")
        .expect("a compaction");
    assert_eq!(
        steps[at - 2..at + 3],
        [
            "turn 5",
            "call read_file",
            "compaction_started",
            "compacted",
            "turn 6"
        ],
        "{steps:?}"
    );
    assert_eq!(compactions(&events).len(), 2, "one compaction: {steps:?}");
    let Some(Event::Compacted {
        reason,
        tokens_before,
        tokens_after,
        elided,
        summarised,
        summary,
    }) = events.iter().find(|e| matches!(e, Event::Compacted { .. }))
    else {
        unreachable!()
    };
    assert_eq!(*reason, CompactionReason::Threshold);
    assert!(
        *tokens_before >= window * 85 / 100,
        "{tokens_before} of {window}"
    );
    assert!(
        *tokens_after < tokens_before / 2,
        "{tokens_after} of {tokens_before}"
    );
    let calls: Vec<&str> = elided.iter().map(|e| e.call.as_str()).collect();
    assert_eq!(
        calls,
        [
            "read_file big1.txt",
            "read_file big2.txt",
            "read_file big3.txt"
        ]
    );
    assert_eq!((*summarised, summary), (0, &None), "eliding was enough");

    // No extra model call; the compaction breaks the prefix once, inside
    // the first elided output, and the prompts extend each other again.
    assert_eq!(prompts.len(), 7);
    assert_extends(&prompts[..5]);
    assert!(!prompts[5].starts_with(&prompts[4]));
    let common = common_prefix(&prompts[4], &prompts[5]);
    assert!(
        prompts[4][..common].contains("<tool_call>update_plan"),
        "the shared prefix ends early"
    );
    assert!(!prompts[4][..common].contains("big1 line 2:"));
    assert_extends(&prompts[5..]);
    let after = &prompts[5];
    let stub = after
        .find("[output elided by compaction: read_file big1.txt, ")
        .expect("big1's output is a stub");
    assert!(after[stub..].contains(" lines; call it again to see it]"));
    assert!(!after.contains("big1 line 2:") && !after.contains("big3 line 2:"));
    assert!(
        after.contains("big4 line 320:"),
        "the last turn's output is kept"
    );
    assert!(after.contains(PIN) && after.contains(TASK));
    assert!(latest_plan(&messages).is_some(), "the plan is kept");
    assert!(matches!(
        events.last(),
        Some(Event::RunFinished {
            status: RunStatus::Completed,
            ..
        })
    ));
}

/// Turns whose reasoning is long (eliding outputs cannot help), the plan
/// early on, an answer; one completion for the hand-off note.
fn summary_script(note_at: usize) -> Vec<Completion> {
    let long = |n: usize| {
        format!(
            "Thinking about step {n}. {}",
            "Weighing the options at length. ".repeat(120)
        )
    };
    let mut script = vec![
        plan_call(),
        read("small1.txt", &long(1)),
        read("small2.txt", &long(2)),
        read("small3.txt", &long(3)),
        read("small4.txt", &long(4)),
        read("small5.txt", &long(5)),
        answer("Small files, one line each."),
    ];
    if note_at > 0 {
        script.insert(note_at, note());
    }
    script
}

async fn summarised_session(
    log: Option<SessionLog>,
) -> (Vec<Event>, Vec<String>, Vec<Message>, u64) {
    let sandbox = workspace();
    let sizes = measure(&sandbox, summary_script(0), 2).await;
    assert_eq!(sizes.len(), 7, "{sizes:?}");
    // Compact before turn 6; the note is model call 6.
    let window = window_between(sizes[4], sizes[5]);
    let mut agent = start(&sandbox, summary_script(5), window, 2, Vec::new(), log);
    agent.handle.send(Op::Pin { text: PIN.into() });
    agent.handle.submit(TASK);
    let events = until_finished(&mut agent.handle).await;
    let messages = agent.handle.shutdown().await;
    (events, agent.model.backend().prompts(), messages, window)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_eliding_is_not_enough_the_model_writes_a_hand_off_note() {
    let (events, prompts, messages, _) = summarised_session(None).await;
    let steps = timeline(&events);
    let at = steps
        .iter()
        .position(|s| s == "compaction_started")
        .expect("a compaction");
    assert_eq!(
        steps[at..at + 3],
        ["compaction_started", "compacted", "turn 6"],
        "the note's tool call is not run: {steps:?}"
    );
    let Some(Event::Compacted {
        summarised,
        summary,
        elided,
        ..
    }) = events.iter().find(|e| matches!(e, Event::Compacted { .. }))
    else {
        unreachable!()
    };
    assert_eq!(summary.as_deref(), Some(NOTE));
    assert!(elided.is_empty());
    // The plan call and turns 2 and 3, each with its result (the pin and
    // the request are kept).
    assert_eq!(*summarised, 6);

    // Model calls: 5 turns, the note, 2 more turns.
    assert_eq!(prompts.len(), 8);
    assert_extends(&prompts[..6]);
    let instruction = &prompts[5][prompts[4].len()..];
    assert!(
        instruction.contains("Do not call any tool") && instruction.contains("hand-off note"),
        "{instruction}"
    );
    assert_extends(&prompts[6..]);
    let after = &prompts[6];
    assert_eq!(
        common_prefix(after, &prompts[4]),
        after.find("<|user|>").expect("a user message") + "<|user|>".len(),
        "the system prompt and tool list stay, the rest is new"
    );
    assert!(after.contains(PIN), "the pin survives word for word");
    assert!(after.contains(NOTE) && after.contains("glint compacted this conversation"));
    assert!(after.contains(TASK), "the latest request survives");
    assert!(
        after.contains("<tool_call>update_plan"),
        "the plan is restated"
    );
    assert!(after.contains("Thinking about step 3.") && after.contains("Thinking about step 4."));
    assert!(
        !after.contains("Thinking about step 2."),
        "older turns are summarised"
    );
    let order = [
        PIN,
        NOTE,
        TASK,
        "<tool_call>update_plan",
        "Thinking about step 3.",
    ]
    .map(|needle| after.find(needle).expect("present"));
    assert!(order.is_sorted(), "{order:?}");
    let plan = latest_plan(&messages).expect("the plan is kept");
    assert_eq!(plan.plan.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_compaction_re_renders_it_exactly() {
    let data = tempfile::tempdir().expect("temp dir");
    let sessions = Sessions::under(
        data.path(),
        std::path::Path::new("/w"),
        "script",
        Settings::default(),
    );
    let log = sessions.new_log();
    let (_, prompts, conversation, window) = summarised_session(Some(log.clone())).await;

    let loaded = glint::session::load(log.path()).expect("the log loads");
    assert_eq!(
        loaded.messages, conversation,
        "the log holds the compacted conversation"
    );
    assert_eq!(loaded.compactions.len(), 1);
    let record = &loaded.compactions[0];
    assert_eq!(record.summary.as_deref(), Some(NOTE));
    assert_eq!(record.summarised.len(), 6);
    assert!(
        record.summarised[0].starts_with("assistant"),
        "{:?}",
        record.summarised
    );

    let continued = sessions.resume(None, None).expect("resumes");
    assert_eq!(continued.messages, conversation);
    let sandbox = workspace();
    let mut agent = start(
        &sandbox,
        vec![answer("Still small files.")],
        window,
        2,
        continued.messages,
        Some(continued.log),
    );
    agent.handle.submit("And now?");
    until_finished(&mut agent.handle).await;
    agent.handle.shutdown().await;
    let resumed = agent.model.backend().prompts();
    let last = prompts.last().expect("prompts before");
    assert!(
        resumed[0].starts_with(last.as_str()),
        "the first prompt after the resume extends the last before it"
    );
    let mut expected = conversation.clone();
    expected.push(Message::user("And now?"));
    let render = agent.model.render(&TurnRequest {
        messages: expected,
        tools: tools().specs(),
        thinking: true,
    });
    assert_eq!(resumed[0], render);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_forces_a_compaction_and_the_next_request_extends_it() {
    let sandbox = workspace();
    let script = vec![
        plan_call(),
        read("small1.txt", "One."),
        read("small2.txt", "Two."),
        read("small3.txt", "Three."),
        answer("Small files."),
        note(),
        answer("Yes, still."),
    ];
    let mut agent = start(&sandbox, script, 1_000_000, 1, Vec::new(), None);
    agent.handle.submit(TASK);
    until_finished(&mut agent.handle).await;
    agent.handle.send(Op::Pin { text: PIN.into() });
    agent.handle.send(Op::Compact);
    let events = until(&mut agent.handle, |e| matches!(e, Event::Compacted { .. })).await;
    let Some(Event::Compacted {
        reason, summary, ..
    }) = events.last()
    else {
        unreachable!()
    };
    assert_eq!(*reason, CompactionReason::Requested);
    assert_eq!(summary.as_deref(), Some(NOTE));
    agent.handle.submit("Are they still small?");
    let events = until_finished(&mut agent.handle).await;
    assert!(compactions(&events).is_empty());
    agent.handle.shutdown().await;
    let prompts = agent.model.backend().prompts();
    assert_eq!(prompts.len(), 7);
    assert_extends(&prompts[..6]);
    let last = &prompts[6];
    assert!(last.contains(PIN) && last.contains(NOTE));
    // The last turn (the answer, and the pin after it) stays.
    assert!(
        last.contains(TASK)
            && last.contains("Small files.")
            && last.contains("Are they still small?")
    );
    assert!(!last.contains("Three."), "older turns are summarised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_of_only_its_last_turns_is_not_compacted() {
    let sandbox = workspace();
    let mut agent = start(
        &sandbox,
        vec![answer("Hello.")],
        1_000_000,
        2,
        Vec::new(),
        None,
    );
    agent.handle.send(Op::Compact);
    agent.handle.submit("Hi");
    let events = until_finished(&mut agent.handle).await;
    let warnings: Vec<&Event> = events
        .iter()
        .filter(
            |e| matches!(e, Event::Warning { message } if message.contains("nothing to compact")),
        )
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    agent.handle.send(Op::Compact);
    let events = until(&mut agent.handle, |e| matches!(e, Event::Warning { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::Warning { message }) if message.contains("nothing to compact"))
    );
    let messages = agent.handle.shutdown().await;
    assert_eq!(messages.len(), 3, "system, request, answer: {messages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_only_the_kept_turns_remain_the_user_is_told_once() {
    let sandbox = workspace();
    let script = || {
        vec![
            read("big1.txt", "One."),
            read("big2.txt", "Two."),
            read("big3.txt", "Three."),
            answer("Numbered lines."),
        ]
    };
    let sizes = measure(&sandbox, script(), 3).await;
    // The threshold lies below the first file's read: from turn 2 on every
    // prompt is over it, and only the kept turns are ever there.
    let window = window_between(sizes[0], sizes[1]);
    let mut agent = start(&sandbox, script(), window, 3, Vec::new(), None);
    agent.handle.submit(TASK);
    let events = until_finished(&mut agent.handle).await;
    agent.handle.shutdown().await;
    assert!(compactions(&events).is_empty(), "{:?}", timeline(&events));
    let warnings: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("only the last turns are left") && warnings[0].contains("/new"),
        "{}",
        warnings[0]
    );
    assert!(matches!(
        events.last(),
        Some(Event::RunFinished {
            status: RunStatus::Completed,
            ..
        })
    ));
}
