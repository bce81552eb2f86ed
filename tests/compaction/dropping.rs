//! The last resort: when the hand-off note and the kept turns would still
//! reach the threshold (long turns, many kept), the oldest turns go whole
//! until the prompt is at the target (half the threshold), never the pinned notes, the note, the user's latest
//! request or the plan; it is recorded in the session log like any
//! compaction and `/compacted` lists what went.

use glint::agent::Event;
use glint::agent::Op;
use glint::engine::scripted::Completion;
use glint::session::{Sessions, Settings};
use glint::tools::update_plan::latest_plan;
use glint::tui::compaction::compaction_report;

use crate::common::{assert_extends, until_finished};
use crate::support::*;

/// The plan, then turns whose reasoning is long, so that the four kept
/// turns alone reach the threshold.
fn script(note_at: usize) -> Vec<Completion> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_note_and_kept_turns_are_too_big_the_oldest_turns_go_whole() {
    let sandbox = workspace();
    let sizes = measure(&sandbox, script(0), 4).await;
    assert_eq!(sizes.len(), 7, "{sizes:?}");
    let data = tempfile::tempdir().expect("temp dir");
    let sessions = Sessions::under(
        data.path(),
        std::path::Path::new("/w"),
        "script",
        Settings::default(),
    );
    let log = sessions.new_log();
    // Compact before turn 6; the note is model call 6.
    let window = window_between(sizes[4], sizes[5]);
    let mut agent = start(
        &sandbox,
        script(5),
        window,
        4,
        Vec::new(),
        Some(log.clone()),
    );
    agent.handle.send(Op::Pin { text: PIN.into() });
    agent.handle.submit(TASK);
    let events = until_finished(&mut agent.handle).await;
    let messages = agent.handle.shutdown().await;
    let prompts = agent.model.backend().prompts();

    let Some(Event::Compacted { summary, .. }) =
        events.iter().find(|e| matches!(e, Event::Compacted { .. }))
    else {
        panic!("no compaction: {:?}", timeline(&events));
    };
    assert_eq!(summary.as_deref(), Some(NOTE), "the note came first");
    let warnings: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("dropped the") && w.contains("/compacted")),
        "{warnings:?}"
    );

    // Model calls: 5 turns, the note, 2 more turns.
    assert_eq!(prompts.len(), 8);
    let after = &prompts[6];
    assert!(after.contains(PIN) && after.contains(NOTE) && after.contains(TASK));
    assert!(after.contains("<tool_call>update_plan"), "the plan stays");
    assert!(
        !after.contains("Thinking about step 1."),
        "the oldest kept turn is dropped"
    );
    assert!(
        after.len() < prompts[5].len() * 6 / 10,
        "far under the threshold: {} of {}",
        after.len(),
        prompts[5].len()
    );
    assert_extends(&prompts[6..]);
    assert!(latest_plan(&messages).is_some());

    // Recorded, and shown by /compacted.
    let loaded = glint::session::load(log.path()).expect("the log loads");
    let record = &loaded.compactions[0];
    let dropped: Vec<&str> = record.dropped().collect();
    assert!(
        dropped
            .first()
            .is_some_and(|line| line.contains("called read_file small1.txt")),
        "{dropped:?}"
    );
    assert_eq!(record.replaced().count(), 2, "the plan call and its result");
    let report = compaction_report(&loaded.compactions);
    assert!(
        report.contains("messages dropped whole") && report.contains("read_file small1.txt"),
        "{report}"
    );
    assert_eq!(loaded.messages, messages, "a resume continues from it");
}
