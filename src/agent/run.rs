//! One run of the tool-calling loop: model turn, the turn's tool calls in
//! order, results appended, next turn, until the model answers without a call.

use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::guards::{self, RepeatGuard};
use super::turn_check::{self, Malformed};
use super::{AgentConfig, Event, RunStatus};
use crate::approval::Gated;
use crate::conversation::{Message, ToolCall};
use crate::engine::{FinishReason, ModelEvent, TurnRequest, Usage};
use crate::glm::ParsedToolCall;
use crate::session::CallOutcome;
use crate::tools::update_plan::{Plan, latest_plan};
use crate::tools::{Tool, ToolContext, ToolOutcome, UpdatePlan};

mod compaction;
mod recording;

pub(super) use compaction::{Requests, SharedRequests};

/// What one model turn produced.
#[derive(Default)]
struct TurnOutput {
    reasoning: String,
    text: String,
    calls: Vec<ParsedToolCall>,
    usage: Usage,
    reasoning_details: Option<Vec<serde_json::Value>>,
    /// The exact raw output, when the engine produces GLM text.
    raw: Option<String>,
    /// Why the engine stopped, when it said.
    finish: Option<FinishReason>,
}

/// How streaming a model turn ended.
enum TurnEnd {
    Done(TurnOutput),
    Cancelled(TurnOutput),
    Failed(String),
}

/// The conversation and what a run needs to extend it.
pub(super) struct Session {
    config: AgentConfig,
    messages: Vec<Message>,
    next_call_id: u64,
    events: UnboundedSender<Event>,
    repeats: RepeatGuard,
    /// The latest plan the model recorded with `update_plan`, kept so that
    /// a compaction can carry it over.
    plan: Option<Plan>,
    /// The session log, when the session is recorded.
    recorder: Option<recording::Recorder>,
    /// The context budget, pins and compaction requests.
    context: compaction::Context,
}

impl Session {
    pub(super) fn new(
        config: AgentConfig,
        messages: Vec<Message>,
        events: UnboundedSender<Event>,
    ) -> Self {
        // Call ids stay unique across the whole conversation, seeded or not
        // (after a compaction fewer calls remain than were numbered).
        let earlier_calls: usize = messages
            .iter()
            .map(|message| match message {
                Message::Assistant { tool_calls, .. } => tool_calls.len(),
                _ => 0,
            })
            .sum::<usize>()
            .max(compaction::highest_call_number(&messages));
        let repeats = RepeatGuard::new(config.guards.doom_loop_threshold);
        let plan = latest_plan(&messages);
        Session {
            config,
            messages,
            next_call_id: earlier_calls as u64 + 1,
            events,
            repeats,
            plan,
            recorder: None,
            context: Default::default(),
        }
    }

    /// The session's current plan (also after a model switch or a resume,
    /// found again in the conversation), which a compaction restates.
    pub(super) fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    pub(super) fn into_messages(self) -> Vec<Message> {
        self.messages
    }

    fn emit(&self, event: Event) {
        // A front end that went away cannot be told anything; the run still
        // finishes so the conversation stays consistent.
        self.record_event(&event);
        let _ = self.events.send(event);
    }

    fn finish(
        &self,
        status: RunStatus,
        turns: u32,
        answer: Option<String>,
        error: Option<String>,
        usage: Usage,
    ) -> RunStatus {
        self.emit(Event::RunFinished {
            status,
            turns,
            answer,
            error,
            usage,
        });
        status
    }

    /// Runs `task` to a final answer, the turn limit, an engine error or
    /// cancellation, and reports which.
    pub(super) async fn run(&mut self, task: String, cancel: CancellationToken) -> RunStatus {
        if self.messages.is_empty() {
            let system = self.config.system_prompt.resolve(&task).await;
            if !system.is_empty() {
                self.push(Message::system(system));
            }
        }
        self.push_task(task.clone());
        self.note_task();
        self.emit(Event::RunStarted {
            model: self.config.model.describe(),
            workspace: self.config.workspace.root().display().to_string(),
            task,
            max_turns: self.config.max_turns,
        });

        let mut total = Usage {
            prompt_tokens: Some(0),
            completion_tokens: Some(0),
        };
        self.repeats.reset();
        // Malformed or cut turns in a row without a call that ran.
        let mut retries = 0u32;
        for turn in 1..=self.config.max_turns {
            self.before_turn(&cancel).await;
            if let Some(usage) = self.manage_context(&cancel, true).await {
                total.accumulate(usage);
            }
            self.emit(Event::TurnStarted { turn });
            let mut output = match self.stream_turn(turn, &cancel).await {
                TurnEnd::Done(output) => output,
                TurnEnd::Cancelled(partial) => {
                    total.accumulate(partial.usage);
                    self.record_partial_turn(partial);
                    return self.finish(RunStatus::Interrupted, turn, None, None, total);
                }
                TurnEnd::Failed(error) => {
                    return self.finish(RunStatus::ModelError, turn, None, Some(error), total);
                }
            };
            total.accumulate(output.usage);
            let usage = output.usage;
            let problem = self.reinterpret(&mut output);
            let finish_reason = guards::refine_finish(
                output.finish,
                usage,
                self.config.model.context_window(),
                !output.calls.is_empty(),
            );
            let calls = self.record_turn(output);
            self.observe_turn(usage);

            for call in &calls {
                self.run_tool_call(turn, call, &cancel).await;
            }
            self.emit(Event::TurnFinished {
                turn,
                tool_calls: calls.len(),
                usage,
                finish_reason,
            });
            if cancel.is_cancelled() {
                return self.finish(RunStatus::Interrupted, turn, None, None, total);
            }
            if !calls.is_empty() {
                retries = 0;
            }
            if finish_reason.is_cut() {
                if calls.is_empty() {
                    retries += 1;
                    if retries > self.config.guards.max_retries {
                        let error = format!(
                            "the model's output was cut at the token limit {retries} times in a row; raise --max-tokens (sampling.max_tokens) or --max-context, or narrow the task"
                        );
                        return self.finish(RunStatus::ModelError, turn, None, Some(error), total);
                    }
                }
                self.emit(Event::Warning {
                    message: cut_warning(finish_reason, usage),
                });
                self.push(Message::user(guards::cut_notice(
                    finish_reason,
                    usage,
                    self.config.model.context_window(),
                )));
                continue;
            }
            if let Some(problem) = problem {
                retries += 1;
                if retries > self.config.guards.max_retries {
                    let error = format!(
                        "the model's output was malformed {retries} times in a row (last: {}); retry, rephrase the task, or use a larger model",
                        problem.describe()
                    );
                    return self.finish(RunStatus::MalformedOutput, turn, None, Some(error), total);
                }
                self.emit(Event::Warning {
                    message: format!(
                        "the model's output was malformed ({}); asking it to try again (retry {retries} of {})",
                        problem.describe(),
                        self.config.guards.max_retries
                    ),
                });
                self.push(Message::user(problem.notice()));
                continue;
            }
            if calls.is_empty() {
                let answer = match self.messages.last() {
                    Some(Message::Assistant { content, .. }) => content.clone(),
                    _ => String::new(),
                };
                return self.finish(RunStatus::Completed, turn, Some(answer), None, total);
            }
        }
        let error = format!(
            "reached the limit of {} turns before a final answer; raise --max-turns or narrow the task",
            self.config.max_turns
        );
        self.finish(
            RunStatus::MaxTurns,
            self.config.max_turns,
            None,
            Some(error),
            total,
        )
    }

    /// Before each model turn, what the MCP servers need said: warnings for
    /// the user, and a message announcing tools that appeared or went away
    /// since the prompt began (its tool list never changes, so each prompt
    /// still extends the last exactly). A conversation's first turn waits
    /// for servers still starting, each at most its startup timeout.
    async fn before_turn(&mut self, cancel: &CancellationToken) {
        let fresh = !self
            .messages
            .iter()
            .any(|message| matches!(message, Message::Assistant { .. }));
        let tools = self.config.tools.clone();
        let notes = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            notes = tools.prepare_turn(fresh) => notes,
        };
        for message in notes.warnings {
            self.emit(Event::Warning { message });
        }
        if let Some(text) = notes.announcement {
            self.push(Message::user(text));
        }
    }

    /// Streams one model turn, forwarding deltas as events.
    async fn stream_turn(&self, turn: u32, cancel: &CancellationToken) -> TurnEnd {
        let request = TurnRequest {
            messages: self.messages.clone(),
            tools: self.config.tools.specs(),
            thinking: self.config.thinking,
        };
        let mut stream = self.config.model.stream_turn(request);
        let mut output = TurnOutput::default();
        loop {
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return TurnEnd::Cancelled(output),
                item = stream.next() => item,
            };
            match item {
                None => return TurnEnd::Done(output),
                Some(Err(error)) => return TurnEnd::Failed(error.to_string()),
                Some(Ok(ModelEvent::ReasoningDelta(delta))) => {
                    output.reasoning.push_str(&delta);
                    self.emit(Event::Reasoning { turn, delta });
                }
                Some(Ok(ModelEvent::TextDelta(delta))) => {
                    output.text.push_str(&delta);
                    self.emit(Event::Text { turn, delta });
                }
                Some(Ok(ModelEvent::ToolCall(call))) => output.calls.push(call),
                Some(Ok(ModelEvent::Usage(usage))) => output.usage = usage,
                Some(Ok(ModelEvent::ReasoningDetails(details))) => {
                    output.reasoning_details = Some(details);
                }
                Some(Ok(ModelEvent::RawTurn(raw))) => output.raw = Some(raw),
                Some(Ok(ModelEvent::Finish(reason))) => output.finish = Some(reason),
            }
        }
    }

    /// Reads a turn without calls again: complete calls written inside its
    /// reasoning become its calls; otherwise says what is malformed about it
    /// (`None` for a proper answer, a turn with calls, or a cut turn, which
    /// is handled as a cut and whose reasoning is not searched for calls).
    fn reinterpret(&self, output: &mut TurnOutput) -> Option<Malformed> {
        if !output.calls.is_empty() {
            return None;
        }
        // A turn cut while thinking had not decided anything yet.
        if output.finish.is_some_and(FinishReason::is_cut) {
            return None;
        }
        let tools = self.config.tools.specs();
        output.calls = turn_check::leaked_calls(
            &output.reasoning,
            &output.text,
            output.raw.as_deref(),
            &tools,
        );
        if !output.calls.is_empty() {
            return None;
        }
        turn_check::malformed(&output.reasoning, &output.text, &tools)
    }

    /// Appends the assistant turn, giving each call an id, and returns the calls.
    fn record_turn(&mut self, output: TurnOutput) -> Vec<ToolCall> {
        let calls: Vec<ToolCall> = output
            .calls
            .into_iter()
            .map(|call| {
                // A server's own id is kept (its next request must name the
                // same one); GLM text has none, so glint numbers those.
                let id = match call.id {
                    Some(id) => id,
                    None => {
                        let id = format!("call_{}", self.next_call_id);
                        self.next_call_id += 1;
                        id
                    }
                };
                ToolCall::new(id, call.name, call.arguments)
            })
            .collect();
        self.push(Message::Assistant {
            content: output.text,
            reasoning_content: non_empty(output.reasoning),
            tool_calls: calls.clone(),
            reasoning_details: output.reasoning_details,
            raw: output.raw,
        });
        calls
    }

    /// Keeps what a cancelled turn had said, without its (unrun) tool calls,
    /// so the conversation can continue from where the user stopped it.
    fn record_partial_turn(&mut self, partial: TurnOutput) {
        if partial.reasoning.is_empty() && partial.text.is_empty() {
            return;
        }
        self.push(Message::Assistant {
            content: partial.text,
            reasoning_content: non_empty(partial.reasoning),
            tool_calls: Vec::new(),
            reasoning_details: partial.reasoning_details,
            // A cancelled turn's output is incomplete: render it anew.
            raw: None,
        });
    }

    /// Runs one tool call and appends its result. Every call gets a result,
    /// even when cancelled, so the conversation stays well-formed.
    async fn run_tool_call(&mut self, turn: u32, call: &ToolCall, cancel: &CancellationToken) {
        let name = call.function.name.clone();
        self.emit(Event::ToolCallStarted {
            turn,
            id: call.id.clone(),
            name: name.clone(),
            arguments: call.function.arguments.clone(),
        });
        let refusal = self.repeats.refusal(&name, &call.function.arguments);
        let refused = refusal.is_some() && !cancel.is_cancelled();
        let outcome = if cancel.is_cancelled() {
            cancelled_outcome()
        } else if let Some(refusal) = refusal {
            self.emit(Event::Warning {
                message: format!(
                    "refused a repeated call: {name} with the same arguments and the same result as the calls before it; the model was asked to do something else"
                ),
            });
            refusal
        } else {
            let tools = self.config.tools.clone();
            let gated = self
                .config
                .approval
                .gate(call, &tools, &self.config.workspace, cancel, |event| {
                    self.emit(event)
                })
                .await;
            if let Gated::Done(outcome) = gated {
                outcome
            } else {
                let context = ToolContext {
                    workspace: self.config.workspace.clone(),
                    cancel: cancel.child_token(),
                    shell: self.config.shell.clone(),
                    spill: self.config.tools.spill_area().clone(),
                    call_id: Some(call.id.clone()),
                };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => cancelled_outcome(),
                    outcome = gated.carry_out(&tools, call, &context) => outcome,
                }
            }
        };
        if !refused {
            let interrupted = cancel.is_cancelled();
            self.repeats
                .record(&name, &call.function.arguments, &outcome, interrupted);
        }
        self.push_tool_result(
            Message::tool_result(call.id.clone(), outcome.content.clone()),
            CallOutcome {
                ok: outcome.ok,
                summary: outcome.summary.clone(),
            },
        );
        self.emit(Event::ToolCallFinished {
            turn,
            id: call.id.clone(),
            name,
            ok: outcome.ok,
            summary: outcome.summary,
            output: outcome.content,
        });
        if outcome.ok && call.function.name == UpdatePlan::NAME {
            self.record_plan(call);
        }
    }

    /// Keeps the plan of a successful `update_plan` call and tells the
    /// front ends.
    fn record_plan(&mut self, call: &ToolCall) {
        let Ok(plan) = Plan::from_arguments(&call.function.arguments) else {
            return;
        };
        self.emit(Event::PlanUpdated {
            explanation: plan.explanation.clone(),
            plan: plan.plan.clone(),
        });
        self.plan = Some(plan);
    }
}

/// The user's line about a cut turn.
fn cut_warning(reason: FinishReason, usage: Usage) -> String {
    let limit = if reason == FinishReason::ContextLimit {
        "the context window is full"
    } else {
        "it reached --max-tokens"
    };
    let after = usage
        .completion_tokens
        .map(|n| format!(" after {n} tokens"))
        .unwrap_or_default();
    format!(
        "the model's output was cut{after} because {limit}; an unfinished tool call was not run and the model was told"
    )
}

fn cancelled_outcome() -> ToolOutcome {
    ToolOutcome {
        ok: false,
        content: "Cancelled by the user before it finished.".into(),
        summary: "cancelled".into(),
    }
}

fn non_empty(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}
