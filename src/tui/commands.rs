//! Slash commands. Each is one row of [`COMMANDS`]: adding a command is
//! adding a row (and the [`SlashCommand`] variant it parses to).

/// What a slash command asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    Help,
    New,
    /// `/model` shows the model; `/model SPEC` switches to another.
    Model(Option<String>),
    Diff,
    /// `/undo [N] [--force]` takes back the agent's last N change sets.
    Undo {
        count: usize,
        force: bool,
    },
    /// `/checkpoints` lists them.
    Checkpoints,
    /// `/approvals` shows the approval policy; `/approvals POLICY` switches.
    Approvals(Option<String>),
    /// `/mcp` shows the MCP servers, their state and tools.
    Mcp,
    /// `/sessions` lists the workspace's sessions.
    Sessions,
    /// `/resume [ID]` takes a session up again (default: the latest other
    /// than this one).
    Resume(Option<String>),
    /// `/compact` compacts the conversation now.
    Compact,
    /// `/pin TEXT` pins a note that survives every compaction.
    Pin(String),
    /// `/compacted` shows what the session's compactions elided and
    /// summarised.
    Compacted,
    Quit,
}

/// A command's name, its one-line help, and how its argument is read.
pub struct CommandInfo {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    parse: fn(&str) -> Result<SlashCommand, String>,
}

/// Every command the app has today, in the order `/help` lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "help",
        usage: "/help",
        help: "list commands and keys",
        parse: |arg| only(arg, "help", SlashCommand::Help),
    },
    CommandInfo {
        name: "new",
        usage: "/new",
        help: "start a new conversation",
        parse: |arg| only(arg, "new", SlashCommand::New),
    },
    CommandInfo {
        name: "model",
        usage: "/model [SPEC]",
        help: "show the model, or switch to SPEC (kept conversation)",
        parse: |arg| Ok(SlashCommand::Model(optional(arg))),
    },
    CommandInfo {
        name: "diff",
        usage: "/diff",
        help: "the workspace's git diff in the pager",
        parse: |arg| only(arg, "diff", SlashCommand::Diff),
    },
    CommandInfo {
        name: "approvals",
        usage: "/approvals [POLICY]",
        help: "show the approval policy, or switch (suggest, auto-edit, full-auto)",
        parse: |arg| Ok(SlashCommand::Approvals(optional(arg))),
    },
    CommandInfo {
        name: "mcp",
        usage: "/mcp",
        help: "the MCP servers: state and tools",
        parse: |arg| only(arg, "mcp", SlashCommand::Mcp),
    },
    CommandInfo {
        name: "undo",
        usage: "/undo [N] [--force]",
        help: "take back the agent's last N changes (files, modes, shell effects)",
        parse: super::undo::parse_undo,
    },
    CommandInfo {
        name: "checkpoints",
        usage: "/checkpoints",
        help: "list the agent's changes that /undo can take back",
        parse: |arg| only(arg, "checkpoints", SlashCommand::Checkpoints),
    },
    CommandInfo {
        name: "sessions",
        usage: "/sessions",
        help: "list this workspace's sessions, newest first",
        parse: |arg| only(arg, "sessions", SlashCommand::Sessions),
    },
    CommandInfo {
        name: "resume",
        usage: "/resume [ID]",
        help: "continue session ID (default: the latest before this one)",
        parse: |arg| match arg.split_whitespace().count() {
            0 => Ok(SlashCommand::Resume(None)),
            1 => Ok(SlashCommand::Resume(Some(arg.to_string()))),
            _ => Err(format!(
                "/resume takes one session id (got `{arg}`); /sessions lists them"
            )),
        },
    },
    CommandInfo {
        name: "compact",
        usage: "/compact",
        help: "compact the conversation now: old tool outputs elided, older turns summarised",
        parse: |arg| only(arg, "compact", SlashCommand::Compact),
    },
    CommandInfo {
        name: "pin",
        usage: "/pin TEXT",
        help: "pin a note for the model that every compaction keeps word for word",
        parse: |arg| {
            if arg.is_empty() {
                Err("/pin needs the note to pin, such as /pin never touch the migrations".into())
            } else {
                Ok(SlashCommand::Pin(arg.to_string()))
            }
        },
    },
    CommandInfo {
        name: "compacted",
        usage: "/compacted",
        help: "what this session's compactions elided and summarised",
        parse: |arg| only(arg, "compacted", SlashCommand::Compacted),
    },
    CommandInfo {
        name: "quit",
        usage: "/quit",
        help: "leave glint",
        parse: |arg| only(arg, "quit", SlashCommand::Quit),
    },
];

/// An optional argument: `None` when there is none.
fn optional(arg: &str) -> Option<String> {
    (!arg.is_empty()).then(|| arg.to_string())
}

fn only(arg: &str, name: &str, command: SlashCommand) -> Result<SlashCommand, String> {
    if arg.is_empty() {
        Ok(command)
    } else {
        Err(format!("/{name} takes no argument (got `{arg}`)"))
    }
}

/// Reads a submitted line that starts with `/`; `None` when it is not a
/// command at all (e.g. a path such as `/etc/hosts is wrong`).
pub fn parse(input: &str) -> Option<Result<SlashCommand, String>> {
    let rest = input.trim().strip_prefix('/')?;
    let (name, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(match COMMANDS.iter().find(|command| command.name == name) {
        Some(command) => (command.parse)(arg.trim()),
        None => Err(format!("unknown command /{name}; /help lists the commands")),
    })
}

/// `(name, help)` pairs for the composer's command popup.
pub fn completion_list() -> Vec<(String, String)> {
    COMMANDS
        .iter()
        .map(|command| (command.name.to_string(), command.help.to_string()))
        .collect()
}

/// The `/help` text: commands, then keys.
pub fn help_text() -> String {
    let mut text = String::from("commands:\n");
    for command in COMMANDS {
        text.push_str(&format!("  {:<15} {}\n", command.usage, command.help));
    }
    text.push_str(KEYS_HELP);
    text
}

const KEYS_HELP: &str = "keys:
  Enter           send            Shift+Enter / Alt+Enter / Ctrl-J  new line
  Up / Down       history         @path  complete a workspace file
  Esc             interrupt the running turn
  Ctrl-C          clear / interrupt; twice to quit     Ctrl-D (empty)  quit
  Ctrl-R          show or hide reasoning               Ctrl-T  transcript pager";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_arguments() {
        assert_eq!(parse("/help"), Some(Ok(SlashCommand::Help)));
        assert_eq!(parse("  /quit "), Some(Ok(SlashCommand::Quit)));
        assert_eq!(parse("/model"), Some(Ok(SlashCommand::Model(None))));
        assert_eq!(
            parse("/model script:a.json"),
            Some(Ok(SlashCommand::Model(Some("script:a.json".into()))))
        );
        assert!(matches!(parse("/new now"), Some(Err(_))));
        assert_eq!(parse("/resume"), Some(Ok(SlashCommand::Resume(None))));
        assert_eq!(
            parse("/resume 20250101-1"),
            Some(Ok(SlashCommand::Resume(Some("20250101-1".into()))))
        );
        assert!(matches!(parse("/resume a b"), Some(Err(_))));
        assert_eq!(parse("/compact"), Some(Ok(SlashCommand::Compact)));
        assert_eq!(
            parse("/pin keep  the API stable"),
            Some(Ok(SlashCommand::Pin("keep  the API stable".into())))
        );
        assert!(matches!(parse("/pin"), Some(Err(message)) if message.contains("/pin")));
        assert_eq!(parse("/compacted"), Some(Ok(SlashCommand::Compacted)));
        assert!(matches!(parse("/nope"), Some(Err(message)) if message.contains("/help")));
    }

    #[test]
    fn paths_are_not_commands() {
        assert_eq!(parse("/etc/hosts is wrong"), None);
        assert_eq!(parse("fix /help"), None);
    }

    #[test]
    fn every_command_is_listed_in_help() {
        let help = help_text();
        for command in COMMANDS {
            assert!(help.contains(command.usage), "{}", command.usage);
        }
    }
}
