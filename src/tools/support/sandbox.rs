//! Confining shell commands (Landlock on Linux).

/// How shell commands are confined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SandboxPolicy {
    /// Commands may write only inside the workspace and temporary directories.
    #[default]
    WorkspaceWrite,
    /// No confinement.
    Off,
}
