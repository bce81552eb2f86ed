//! What the shell tool may do, as the user configured it: the sandbox, the
//! network, which environment variables reach a command, and whether
//! background processes may outlive the call.

use std::ffi::{OsStr, OsString};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::sandbox::SandboxPolicy;

/// How shell commands run. Built by the front ends from the command line and
/// the config files; carried to the tool in [`crate::tools::ToolContext`].
/// The default: sandboxed, no network, secrets withheld, no background jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellPolicy {
    /// How commands are confined on the filesystem.
    pub sandbox: SandboxPolicy,
    /// Whether sandboxed commands may use the network (Unix sockets always
    /// work). Ignored when the sandbox is off.
    pub network: bool,
    /// Which of glint's environment variables a command sees.
    pub env: EnvPolicy,
    /// Whether processes a command leaves running in the background survive
    /// the call (otherwise they are killed when it ends).
    pub allow_background: bool,
    /// Directories besides the workspace and temporary directories that
    /// sandboxed commands may write (`--add-dir`, `shell.writable_roots`:
    /// `~/.cargo` for `cargo build`, `~/.npm` for `npm install`). Absolute
    /// and existing; the front ends check them at start.
    pub writable_roots: Vec<std::path::PathBuf>,
    /// The user's `check_command`, run like a shell command after each
    /// write_file or edit_file call that changed a file.
    pub check: Option<CheckCommand>,
}

/// A command that checks the workspace after a change (`cargo check`, a
/// linter), configured by the user as `check_command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckCommand {
    /// The script for `bash -c`, run in the workspace root.
    pub command: String,
    /// How long it may run before it is killed (`check_timeout_s`).
    pub timeout: std::time::Duration,
}

impl CheckCommand {
    /// Seconds a check may run when `check_timeout_s` is not set.
    pub const DEFAULT_TIMEOUT_S: u64 = 60;
    /// The largest `check_timeout_s`: the check runs inside the edit's own
    /// call, which the registry stops after 5 minutes.
    pub const MAX_TIMEOUT_S: u64 = 240;
}

impl ShellPolicy {
    /// Whether commands can run under this policy on this system; the error
    /// is the one-line refusal.
    pub fn check(&self) -> Result<(), String> {
        self.sandbox.check_with_network(self.network)
    }
}

/// Which environment variables pass to commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvPolicy {
    /// When set, only these variables (names or `*` globs) pass, besides
    /// the few every command needs (PATH, HOME, ...). When unset, every
    /// variable passes except glint's own secrets and names that look like
    /// credentials. A variable named here exactly always passes; a glob
    /// never lets a secret through.
    pub pass: Option<Vec<String>>,
}

/// The credentials glint itself reads (the HTTP engines' keys, the Hugging
/// Face token): never passed unless named exactly in the pass list.
pub const GLINT_SECRETS: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "GLINT_API_KEY",
];

/// Names (upper-cased) that look like credentials: a variable matching one
/// is withheld unless named exactly in the pass list.
const CREDENTIAL_GLOBS: &[&str] = &[
    "*API_KEY*",
    "*APIKEY*",
    "*_TOKEN",
    "TOKEN",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*CREDENTIAL*",
    "*PRIVATE_KEY*",
    "*ACCESS_KEY*",
    "*_AUTH",
    "AWS_*",
];

/// Variables every command gets when a pass list is set (names or globs).
const CORE_VARIABLES: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "TERM",
];

impl EnvPolicy {
    /// The variables of `vars` (glint's own environment) that a command
    /// gets, in their original order.
    pub fn filter(
        &self,
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Vec<(OsString, OsString)> {
        let credentials = glob_set(CREDENTIAL_GLOBS);
        let (exact, globs): (Vec<&str>, GlobSet) = match &self.pass {
            None => (Vec::new(), GlobSet::empty()),
            Some(list) => {
                let exact = list
                    .iter()
                    .map(String::as_str)
                    .filter(|n| !n.contains(['*', '?', '[']))
                    .collect();
                let patterns: Vec<&str> = CORE_VARIABLES
                    .iter()
                    .copied()
                    .chain(list.iter().map(String::as_str))
                    .collect();
                (exact, glob_set(&patterns))
            }
        };
        vars.into_iter()
            .filter(|(name, _)| {
                let name = name_text(name);
                if exact.contains(&name.as_ref()) {
                    return true;
                }
                let upper = name.to_ascii_uppercase();
                if GLINT_SECRETS.contains(&upper.as_str()) || credentials.is_match(&upper) {
                    return false;
                }
                self.pass.is_none() || globs.is_match(name.as_ref())
            })
            .collect()
    }
}

fn name_text(name: &OsStr) -> std::borrow::Cow<'_, str> {
    name.to_string_lossy()
}

/// A set of `*` globs; patterns that do not parse are skipped (the config
/// loader reports them).
fn glob_set(patterns: &[&str]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = Glob::new(pattern) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(names: &[&str]) -> Vec<(OsString, OsString)> {
        names
            .iter()
            .map(|n| (OsString::from(n), OsString::from("v")))
            .collect()
    }

    fn passed(policy: &EnvPolicy, names: &[&str]) -> Vec<String> {
        policy
            .filter(vars(names))
            .into_iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect()
    }

    const SAMPLE: &[&str] = &[
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "OPENAI_API_KEY",
        "OPENROUTER_API_KEY",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "DB_PASSWORD",
        "my_secret",
        "CARGO_HOME",
        "RUST_LOG",
        "SSH_AUTH_SOCK",
        "EDITOR",
    ];

    #[test]
    fn by_default_everything_but_secrets_passes() {
        assert_eq!(
            passed(&EnvPolicy::default(), SAMPLE),
            [
                "PATH",
                "HOME",
                "LANG",
                "LC_ALL",
                "CARGO_HOME",
                "RUST_LOG",
                "SSH_AUTH_SOCK",
                "EDITOR"
            ]
        );
    }

    #[test]
    fn a_pass_list_passes_only_core_and_listed_names() {
        let policy = EnvPolicy {
            pass: Some(vec!["CARGO_*".into(), "GITHUB_TOKEN".into(), "*".into()]),
        };
        // `*` passes everything except secrets; the exact name passes a
        // credential.
        assert_eq!(
            passed(&policy, SAMPLE),
            [
                "PATH",
                "HOME",
                "LANG",
                "LC_ALL",
                "GITHUB_TOKEN",
                "CARGO_HOME",
                "RUST_LOG",
                "SSH_AUTH_SOCK",
                "EDITOR"
            ]
        );
        let policy = EnvPolicy {
            pass: Some(vec!["CARGO_*".into(), "OPENAI_API_KEY".into()]),
        };
        assert_eq!(
            passed(&policy, SAMPLE),
            [
                "PATH",
                "HOME",
                "LANG",
                "LC_ALL",
                "OPENAI_API_KEY",
                "CARGO_HOME"
            ]
        );
        let policy = EnvPolicy { pass: Some(vec![]) };
        assert_eq!(passed(&policy, SAMPLE), ["PATH", "HOME", "LANG", "LC_ALL"]);
    }
}
