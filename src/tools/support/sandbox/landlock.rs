//! Landlock, the second layer of the workspace-write sandbox.
//!
//! The mount namespace ([`super::namespace`]) is what makes the filesystem
//! read-only; Landlock is kept as defence in depth where the kernel has it:
//! it denies file writes outside the writable paths even if a mount were
//! somehow made writable again, and a Landlock-restricted process may not
//! mount or unmount anything at all.
//!
//! The ruleset is built in the parent (opening the allowed directories
//! needs allocation and file-system calls, which are not safe between `fork`
//! and `exec` in a threaded program) and only applied in the child, where
//! applying it is two system calls. Rules are attached to inodes, not
//! mounts, so they still hold after the child's bind mounts.

use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

use landlock::{
    ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus,
    path_beneath_rules,
};

/// The newest ABI whose rights glint asks for; older kernels get the
/// subset they support (the crate's best-effort mode).
const TARGET_ABI: ABI = ABI::V5;
/// `landlock_create_ruleset` flag asking for the ABI version.
const CREATE_RULESET_VERSION: libc::c_uint = 1;

/// The Landlock ABI version the running kernel offers, or why Landlock is
/// unavailable. Detected once per process.
pub fn abi() -> Result<i32, String> {
    static ABI_VERSION: OnceLock<Result<i32, String>> = OnceLock::new();
    ABI_VERSION.get_or_init(detect).clone()
}

fn detect() -> Result<i32, String> {
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag,
    // the call only returns a number; it touches no memory.
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
            "Landlock is built into this kernel but not enabled at boot".into()
        }
        _ => format!("the Landlock version check failed: {error}"),
    })
}

/// A ruleset ready to be applied in the child.
#[derive(Debug)]
pub struct Prepared {
    ruleset: Option<RulesetCreated>,
}

/// Builds the ruleset: reading, listing, executing and device ioctls
/// everywhere; every write right only beneath `writable`. `None` where the
/// kernel lacks Landlock (the namespace sandbox alone then confines).
pub fn prepare(writable: &[PathBuf]) -> Result<Option<Prepared>, String> {
    if abi().is_err() {
        return Ok(None);
    }
    let everywhere = AccessFs::from_read(TARGET_ABI) | AccessFs::IoctlDev;
    let ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(["/"], everywhere)))
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                writable.iter(),
                AccessFs::from_all(TARGET_ABI),
            ))
        })
        .map_err(|e| format!("could not prepare the Landlock rules: {e}"))?;
    Ok(Some(Prepared {
        ruleset: Some(ruleset),
    }))
}

impl Prepared {
    /// Restricts the calling process. Meant for `pre_exec`: two system
    /// calls (`no_new_privs` is already set by then), no allocation.
    pub fn apply(&mut self) -> io::Result<()> {
        let Some(ruleset) = self.ruleset.take() else {
            // Applied already: `pre_exec` runs once per fork.
            return Ok(());
        };
        match ruleset.restrict_self() {
            Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Ok(()),
            // The parent saw support, so this is a kernel that changed its
            // mind; refuse rather than run less confined than promised.
            Ok(_) => Err(io::Error::from_raw_os_error(libc::ENOSYS)),
            Err(_) => Err(io::Error::last_os_error()),
        }
    }
}
