//! What the shell tool may do, as the user configured it: the sandbox, the
//! network, which environment variables reach a command, and whether
//! background processes may outlive the call.

use super::sandbox::SandboxPolicy;

/// How shell commands run. Built by the front ends from the command line and
/// the config files; carried to the tool in [`crate::tools::ToolContext`].
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Default for ShellPolicy {
    fn default() -> Self {
        ShellPolicy {
            shell: ShellPolicy::default(),
            network: false,
            env: EnvPolicy::default(),
            allow_background: false,
        }
    }
}

/// Which environment variables pass to commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvPolicy {
    /// When set, only these variables (names or `*` globs) pass, besides
    /// the few every command needs (PATH, HOME, ...). When unset, every
    /// variable passes except glint's own secrets and names that look like
    /// credentials. A variable named here exactly always passes.
    pub pass: Option<Vec<String>>,
}
