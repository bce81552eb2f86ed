//! Which shell commands only read: the allowlist `auto-edit` runs without
//! asking, and the command prefixes a user may allow for the session.
//!
//! A command is read-only when it is a pipeline (see [`super::command`])
//! whose every stage is a listed program used without the options that make
//! it write or run something else (`find -exec`, `sort -o`, `rg --pre`,
//! `git diff --output`). GNU tools accept any unambiguous abbreviation of a
//! long option, so dangerous long options are refused by prefix.

use super::command::{Simple, parse};

/// Programs that only read, whatever their arguments.
const ALWAYS_READ_ONLY: &[&str] = &[
    "ls",
    "cat",
    "head",
    "tail",
    "wc",
    "pwd",
    "echo",
    "true",
    "false",
    "whoami",
    "id",
    "uname",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "stat",
    "du",
    "df",
    "nl",
    "cut",
    "tr",
    "diff",
    "cmp",
    "comm",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "which",
    "grep",
    "egrep",
    "fgrep",
];

/// `find` primaries that run commands, delete or write files.
const FIND_ACTIONS: &[&str] = &[
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls",
];

/// git subcommands that only read (with [`GIT_WRITING_OPTIONS`] refused).
const GIT_READ_ONLY: &[&str] = &[
    "status",
    "diff",
    "log",
    "show",
    "blame",
    "ls-files",
    "rev-parse",
    "shortlog",
];

/// git long options that write a file or run a configured program.
const GIT_WRITING_OPTIONS: &[&str] = &["output", "ext-diff", "textconv"];

/// Whether `line` only reads: every stage of its pipeline is read-only.
pub fn is_read_only(line: &str) -> bool {
    parse(line).is_ok_and(|stages| stages.iter().all(stage_read_only))
}

/// Whether `line` may run without asking given the session's allowed
/// `prefixes` (each a list of leading words): a pipeline whose every stage
/// is read-only or starts with an allowed prefix.
pub fn is_allowed(line: &str, prefixes: &[Vec<String>]) -> bool {
    let Ok(stages) = parse(line) else {
        return false;
    };
    stages.iter().all(|stage| {
        stage_read_only(stage) || prefixes.iter().any(|prefix| starts_with(stage, prefix))
    })
}

/// The prefix "always allow" would allow for `line`: the program and its
/// first argument when that is a subcommand-like word (`cargo test`,
/// `npm install`), else the program alone, taken from the first stage
/// that is not read-only. `None` when the line is not a plain pipeline
/// (the user can still run it once).
pub fn suggested_prefix(line: &str) -> Option<Vec<String>> {
    let stages = parse(line).ok()?;
    let stage = stages
        .iter()
        .find(|stage| !stage_read_only(stage))
        .or(stages.first())?;
    let program = stage.words.first()?;
    if program.glob_leading || program.text.contains('=') || program.text.is_empty() {
        return None;
    }
    let mut prefix = vec![program.text.clone()];
    if let Some(next) = stage.words.get(1)
        && !next.glob_leading
        && !next.text.is_empty()
        && next
            .text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        && !next.text.starts_with('-')
    {
        prefix.push(next.text.clone());
    }
    Some(prefix)
}

fn starts_with(stage: &Simple, prefix: &[String]) -> bool {
    !prefix.is_empty()
        && stage.words.len() >= prefix.len()
        && stage
            .words
            .iter()
            .zip(prefix)
            .all(|(word, want)| !word.glob_leading && word.text == *want)
}

fn stage_read_only(stage: &Simple) -> bool {
    let Some(program) = stage.words.first() else {
        return false;
    };
    if program.glob_leading {
        return false;
    }
    let args: Vec<&str> = stage.args().collect();
    let globbed = stage.words.iter().skip(1).any(|w| w.glob_leading);
    match program.text.as_str() {
        name if ALWAYS_READ_ONLY.contains(&name) => true,
        // `--pre` and `--hostname-bin` run a program of the caller's choice.
        "rg" => {
            !globbed
                && args
                    .iter()
                    .all(|a| !a.starts_with("--pre") && !a.starts_with("--hostname-bin"))
        }
        "find" => !globbed && args.iter().all(|a| !FIND_ACTIONS.contains(a)),
        "git" => !globbed && git_read_only(&args),
        // `-o FILE` / `--output` write; `--compress-program` runs one.
        "sort" => {
            !globbed
                && args.iter().all(|a| {
                    if let Some(long) = a.strip_prefix("--") {
                        !abbreviates(long, &["output", "compress-program"])
                    } else {
                        !(a.starts_with('-') && a.contains('o'))
                    }
                })
        }
        // A second file operand is where uniq writes.
        "uniq" => !globbed && args.iter().filter(|a| !a.starts_with('-')).count() <= 1,
        _ => false,
    }
}

fn git_read_only(args: &[&str]) -> bool {
    let args = match args.first() {
        Some(&"--no-pager") => &args[1..],
        _ => args,
    };
    let Some((subcommand, rest)) = args.split_first() else {
        return false;
    };
    GIT_READ_ONLY.contains(subcommand)
        && rest.iter().all(|a| match a.strip_prefix("--") {
            Some(long) => !abbreviates(long, GIT_WRITING_OPTIONS),
            None => true,
        })
}

/// Whether the long option `given` (after `--`, maybe with `=VALUE`) names,
/// or abbreviates, one of `options`.
fn abbreviates(given: &str, options: &[&str]) -> bool {
    let name = given.split('=').next().unwrap_or(given);
    !name.is_empty() && options.iter().any(|option| option.starts_with(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_program_and_subcommand() {
        let prefix = |line: &str| suggested_prefix(line).map(|p| p.join(" "));
        assert_eq!(prefix("cargo test --release"), Some("cargo test".into()));
        assert_eq!(
            prefix("cargo test 2>&1 | tail -5"),
            Some("cargo test".into())
        );
        assert_eq!(prefix("rm -rf build"), Some("rm".into()));
        assert_eq!(prefix("FOO=1 make"), None);
        assert_eq!(prefix("make && rm x"), None);
    }

    #[test]
    fn allowed_prefixes_match_whole_words_of_every_stage() {
        let allowed = vec![vec!["cargo".to_string(), "test".to_string()]];
        assert!(is_allowed("cargo test -p glint", &allowed));
        assert!(is_allowed("cargo test 2>&1 | tail -20", &allowed));
        assert!(!is_allowed("cargo testing", &allowed));
        assert!(!is_allowed("cargo build", &allowed));
        assert!(!is_allowed("cargo test; rm -rf .", &allowed));
        assert!(!is_allowed("cargo test | sh", &allowed));
    }
}
