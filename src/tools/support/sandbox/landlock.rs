//! Confining shell commands (Landlock on Linux).
//!
//! Under [`SandboxPolicy::WorkspaceWrite`] a command may read and execute
//! anything (so compilers, interpreters and test runners work unchanged) but
//! may write only beneath the workspace root, the temporary directories and a
//! few harmless devices such as `/dev/null`. The rules are enforced by the
//! kernel through Landlock, so they hold for every process the command
//! starts, whatever language it is written in.
//!
//! The ruleset is built in the parent (opening the allowed directories
//! needs allocation and file-system calls, which are not safe between `fork`
//! and `exec` in a threaded program) and only applied in the child, where
//! applying it is two system calls.
//!
//! Where Landlock is missing, glint refuses to run commands under this policy
//! rather than run them unconfined while claiming otherwise; `--sandbox off`
//! is the explicit way to run them unconfined.

use std::io;
use std::path::{Path, PathBuf};

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
    /// Whether commands can run under this policy on this system: always for
    /// [`SandboxPolicy::Off`]; for [`SandboxPolicy::WorkspaceWrite`] only when
    /// the kernel supports Landlock. The error is the one-line refusal the
    /// model (and user) sees.
    pub fn check(self) -> Result<(), String> {
        match self {
            SandboxPolicy::Off => Ok(()),
            SandboxPolicy::WorkspaceWrite => Self::landlock_abi().map(|_| ()).map_err(refusal),
        }
    }

    /// The Landlock ABI version the running kernel offers, or why Landlock is
    /// unavailable. Detected once per process, since it cannot change while
    /// the system runs.
    pub fn landlock_abi() -> Result<i32, String> {
        imp::landlock_abi()
    }

    /// The directories and files that [`SandboxPolicy::WorkspaceWrite`] lets
    /// a command write beneath, for a workspace rooted at `root`. Only those
    /// that exist are listed, canonicalised, without duplicates.
    pub fn writable_paths(root: &Path) -> Vec<PathBuf> {
        let mut candidates = vec![root.to_path_buf(), std::env::temp_dir()];
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

/// The one-line refusal for a system without Landlock.
fn refusal(reason: String) -> String {
    format!(
        "shell commands cannot run: the default sandbox (workspace-write) needs Landlock, \
         which this system lacks ({reason}); the user can start glint with `--sandbox off` \
         to run commands unconfined"
    )
}

/// A sandbox prepared in the parent, applied in the child between `fork`
/// and `exec` by [`Confinement::apply_in_child`].
#[derive(Debug)]
pub struct Confinement {
    #[cfg(target_os = "linux")]
    ruleset: Option<landlock::RulesetCreated>,
}

impl Confinement {
    /// Prepares the confinement `policy` asks for in a workspace rooted at
    /// `root`: `None` for [`SandboxPolicy::Off`]. The error is a one-line
    /// message for the model.
    pub fn prepare(policy: SandboxPolicy, root: &Path) -> Result<Option<Confinement>, String> {
        match policy {
            SandboxPolicy::Off => Ok(None),
            SandboxPolicy::WorkspaceWrite => {
                policy.check()?;
                imp::prepare(root).map(Some)
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
    use std::path::Path;
    use std::sync::OnceLock;

    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
        path_beneath_rules,
    };

    use super::{Confinement, SandboxPolicy};

    /// The newest ABI whose rights glint asks for; older kernels get the
    /// subset they support (the crate's best-effort mode).
    const TARGET_ABI: ABI = ABI::V5;
    /// `landlock_create_ruleset` flag asking for the ABI version.
    const CREATE_RULESET_VERSION: libc::c_uint = 1;

    pub(super) fn landlock_abi() -> Result<i32, String> {
        static ABI_VERSION: OnceLock<Result<i32, String>> = OnceLock::new();
        ABI_VERSION.get_or_init(detect).clone()
    }

    fn detect() -> Result<i32, String> {
        // SAFETY: with a null attribute pointer, size 0 and the VERSION
        // flag, the call only returns a number; it touches no memory.
        let version = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        if version > 0 {
            return i32::try_from(version).map_err(|_| format!("odd Landlock ABI {version}"));
        }
        let error = io::Error::last_os_error();
        Err(match error.raw_os_error() {
            Some(libc::ENOSYS) => {
                "Landlock is not built into this kernel, or a seccomp filter blocks it".into()
            }
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built into this kernel but not enabled at boot; add `landlock` to \
                 the `lsm=` kernel parameter"
                    .into()
            }
            _ => format!("the Landlock version check failed: {error}"),
        })
    }

    pub(super) fn prepare(root: &Path) -> Result<Confinement, String> {
        let failed = |e: landlock::RulesetError| {
            format!(
                "could not prepare the Landlock sandbox: {e}; the user can start glint with `--sandbox off` to run commands unconfined"
            )
        };
        // Reading, listing, executing and device ioctls are allowed
        // everywhere; every write right is allowed only beneath the
        // writable paths (files among them, such as /dev/null, get the
        // file subset of the rights).
        let everywhere = AccessFs::from_read(TARGET_ABI) | AccessFs::IoctlDev;
        let ruleset = Ruleset::default()
            .handle_access(AccessFs::from_all(TARGET_ABI))
            .and_then(|r| r.create())
            .and_then(|r| r.add_rules(path_beneath_rules(["/"], everywhere)))
            .and_then(|r| {
                r.add_rules(path_beneath_rules(
                    SandboxPolicy::writable_paths(root),
                    AccessFs::from_all(TARGET_ABI),
                ))
            })
            .map_err(failed)?;
        Ok(Confinement {
            ruleset: Some(ruleset),
        })
    }

    pub(super) fn apply(confinement: &mut Confinement) -> io::Result<()> {
        let Some(ruleset) = confinement.ruleset.take() else {
            // Applied already: `pre_exec` runs once per fork.
            return Ok(());
        };
        match ruleset.restrict_self() {
            Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Ok(()),
            // The parent checked support, so this is a kernel that changed
            // its mind; refuse rather than run unconfined.
            Ok(_) => Err(io::Error::from_raw_os_error(libc::ENOSYS)),
            Err(_) => Err(io::Error::last_os_error()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::path::Path;

    use super::Confinement;

    pub(super) fn landlock_abi() -> Result<i32, String> {
        Err("Landlock exists only on Linux".into())
    }

    pub(super) fn prepare(_root: &Path) -> Result<Confinement, String> {
        Err(super::refusal("Landlock exists only on Linux".into()))
    }

    pub(super) fn apply(_confinement: &mut Confinement) -> io::Result<()> {
        Ok(())
    }
}
