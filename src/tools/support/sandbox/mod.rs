//! Confining shell commands.
//!
//! Under [`SandboxPolicy::WorkspaceWrite`] a command may read and execute
//! anything (so compilers, interpreters and test runners work unchanged) but
//! may write only beneath the workspace root and the temporary directories:
//! every other path is on a read-only mount in the command's own mount
//! namespace ([`namespace`]), so data and metadata writes alike fail with
//! "Read-only file system". Unless the network is allowed, the command also
//! gets an empty network namespace (loopback only). Landlock, where the
//! kernel has it, is applied on top ([`landlock`]).
//!
//! Everything is prepared in the parent and applied in the child between
//! `fork` and `exec`, where only system calls are safe.
//!
//! Where the kernel lacks a mechanism the namespace sandbox needs, glint
//! refuses to run commands under this policy rather than run them less
//! confined than it claims; `--sandbox off` is the explicit way to run them
//! unconfined.

use std::io;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
mod landlock;
#[cfg(target_os = "linux")]
mod namespace;

/// How shell commands are confined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SandboxPolicy {
    /// Commands may write only inside the workspace and temporary directories.
    #[default]
    WorkspaceWrite,
    /// No confinement.
    Off,
}

impl SandboxPolicy {
    /// Whether commands can run under this policy with the network off (the
    /// default): always for [`SandboxPolicy::Off`]; for
    /// [`SandboxPolicy::WorkspaceWrite`] when the kernel offers user, mount
    /// and network namespaces and `mount_setattr`. The error is the one-line
    /// refusal the model (and user) sees.
    pub fn check(self) -> Result<(), String> {
        self.check_with_network(false)
    }

    /// [`SandboxPolicy::check`] for a command that may (`network`) or may
    /// not use the network; only the latter needs network namespaces.
    /// Detected once per process by a probe child, so a refusal comes before
    /// anything runs.
    pub fn check_with_network(self, network: bool) -> Result<(), String> {
        match self {
            SandboxPolicy::Off => Ok(()),
            SandboxPolicy::WorkspaceWrite => imp::check(network),
        }
    }

    /// The Landlock ABI version the running kernel offers, or why Landlock is
    /// unavailable. Landlock is an extra layer: the sandbox works without it.
    pub fn landlock_abi() -> Result<i32, String> {
        imp::landlock_abi()
    }

    /// The directories and files that [`SandboxPolicy::WorkspaceWrite`] lets
    /// a command write beneath, for a workspace rooted at `root`. Only those
    /// that exist are listed, canonicalised, without duplicates.
    pub fn writable_paths(root: &Path) -> Vec<PathBuf> {
        Self::writable_paths_with(root, &[])
    }

    /// [`SandboxPolicy::writable_paths`] plus the user's `extra` writable
    /// roots (`--add-dir`).
    pub fn writable_paths_with(root: &Path, extra: &[PathBuf]) -> Vec<PathBuf> {
        let mut candidates = vec![root.to_path_buf(), std::env::temp_dir()];
        candidates.extend(extra.iter().cloned());
        candidates.extend(
            [
                "/tmp",
                "/var/tmp",
                "/dev/shm",
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/tty",
            ]
            .map(PathBuf::from),
        );
        let mut paths: Vec<PathBuf> = Vec::new();
        for candidate in candidates {
            if let Ok(path) = std::fs::canonicalize(&candidate)
                && !paths.contains(&path)
            {
                paths.push(path);
            }
        }
        paths
    }
}

/// The one-line refusal for a system without `mechanism`.
fn refusal(mechanism: &str, detail: &str, network: bool) -> String {
    let network_hint = if network {
        ""
    } else {
        " (or `--network on` if only network namespaces are missing)"
    };
    format!(
        "shell commands cannot run: the workspace-write sandbox needs {mechanism}, which this system \
         does not allow ({detail}); the user can start glint with `--sandbox off` to run commands \
         unconfined{network_hint}"
    )
}

/// A sandbox prepared in the parent, applied in the child between `fork`
/// and `exec` by [`Confinement::apply_in_child`].
#[derive(Debug)]
pub struct Confinement {
    #[cfg(target_os = "linux")]
    namespace: namespace::Prepared,
    #[cfg(target_os = "linux")]
    landlock: Option<landlock::Prepared>,
}

impl Confinement {
    /// Prepares the confinement `policy` asks for, for a command running in
    /// `cwd` in a workspace rooted at `root`, with or without `network`:
    /// `None` for [`SandboxPolicy::Off`]. The error is a one-line message
    /// for the model.
    ///
    /// The command may also write beneath `extra` (the user's writable
    /// roots, `ShellPolicy::writable_roots`).
    pub fn prepare_with_roots(
        policy: SandboxPolicy,
        network: bool,
        root: &Path,
        extra: &[PathBuf],
        cwd: &Path,
    ) -> Result<Option<Confinement>, String> {
        match policy {
            SandboxPolicy::Off => Ok(None),
            SandboxPolicy::WorkspaceWrite => {
                policy.check_with_network(network)?;
                imp::prepare(root, extra, cwd, network).map(Some)
            }
        }
    }

    /// Restricts the calling process. Meant for `pre_exec`, so it only makes
    /// system calls: no allocation, no locks.
    pub fn apply_in_child(&mut self) -> io::Result<()> {
        imp::apply(self)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::path::{Path, PathBuf};

    use super::{Confinement, SandboxPolicy, landlock, namespace, refusal};

    pub(super) fn check(network: bool) -> Result<(), String> {
        let support = namespace::support();
        if let Err((step, detail)) = &support.base {
            return Err(refusal(step.mechanism(), detail, network));
        }
        match (&support.network, network) {
            (Err(detail), false) => Err(refusal(
                namespace::Step::NetworkNamespace.mechanism(),
                detail,
                network,
            )),
            _ => Ok(()),
        }
    }

    pub(super) fn landlock_abi() -> Result<i32, String> {
        landlock::abi()
    }

    pub(super) fn prepare(
        root: &Path,
        extra: &[PathBuf],
        cwd: &Path,
        network: bool,
    ) -> Result<Confinement, String> {
        let writable = SandboxPolicy::writable_paths_with(root, extra);
        Ok(Confinement {
            namespace: namespace::prepare(&writable, cwd, network)?,
            landlock: landlock::prepare(&writable)?,
        })
    }

    pub(super) fn apply(confinement: &mut Confinement) -> io::Result<()> {
        namespace::apply(&confinement.namespace)
            .map_err(|(_, errno)| io::Error::from_raw_os_error(errno))?;
        match confinement.landlock.as_mut() {
            Some(l) => l.apply(),
            None => Ok(()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::path::{Path, PathBuf};

    use super::{Confinement, refusal};

    const WHY: &str = "the sandbox uses Linux namespaces";

    pub(super) fn check(network: bool) -> Result<(), String> {
        Err(refusal("Linux namespaces", WHY, network))
    }

    pub(super) fn landlock_abi() -> Result<i32, String> {
        Err("Landlock exists only on Linux".into())
    }

    pub(super) fn prepare(
        _root: &Path,
        _extra: &[PathBuf],
        _cwd: &Path,
        network: bool,
    ) -> Result<Confinement, String> {
        Err(refusal("Linux namespaces", WHY, network))
    }

    pub(super) fn apply(_confinement: &mut Confinement) -> io::Result<()> {
        Ok(())
    }
}
