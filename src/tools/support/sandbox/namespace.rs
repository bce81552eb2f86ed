//! The mount-namespace sandbox: a read-only view of the whole filesystem
//! except the writable roots, an empty network, and no way back.
//!
//! Between `fork` and `exec` the child unshares a user namespace (mapping
//! glint's uid and gid to themselves, so files keep their owners), a mount
//! namespace and, unless the network is allowed, a network namespace whose
//! only interface is the loopback. It makes every mount read-only
//! (`mount_setattr` with `AT_RECURSIVE`), then binds each writable root onto
//! itself and makes that bind writable again. Read-only mounts refuse every
//! kind of write with `EROFS`, metadata included (chmod, chown, utimes,
//! rename, unlink), which Landlock alone does not cover. Device nodes,
//! FIFOs and Unix sockets stay usable on a read-only mount.
//!
//! Inside its user namespace the child holds every capability (and is uid 0
//! there when glint runs as root), which would let the command remount `/`
//! writable. So before `exec` it empties the capability bounding set, locks
//! the securebits so that uid 0 gains nothing at `exec`, sets
//! `no_new_privs` and clears its own capabilities. A nested user namespace
//! the command creates gets capabilities only over copies of these mounts,
//! which the kernel locks read-only.
//!
//! Only async-signal-safe system calls run in the child: every string is
//! built in the parent by [`prepare`].

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `struct mount_attr` for `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// The capability numbers tried when emptying the bounding set; the kernel
/// answers EINVAL past its last one.
const MAX_CAPABILITY: libc::c_ulong = 63;

/// What the child needs, prepared in the parent.
#[derive(Debug)]
pub struct Prepared {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    /// Directories bound writable, none beneath another.
    binds: Vec<CString>,
    /// The command's working directory, entered again after the binds (the
    /// inherited one still points at the mount underneath).
    cwd: CString,
    network: bool,
}

/// Declares [`Step`] and its list from one list of names, so that decoding
/// a step's code can never miss a step.
macro_rules! steps {
    ($first:ident, $($rest:ident),+ $(,)?) => {
        /// A step of [`apply`], named in a failure.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Step {
            // Codes start at 1: the probe reports 0 for success.
            $first = 1,
            $($rest),+
        }

        impl Step {
            const ALL: &[Step] = &[Step::$first, $(Step::$rest),+];
        }
    };
}

steps!(
    UserNamespace,
    IdMaps,
    MountNamespace,
    NetworkNamespace,
    Private,
    ReadOnly,
    Bind,
    Writable,
    Chdir,
    Privileges,
);

impl Step {
    fn from_code(code: i32) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| *s as i32 == code)
    }

    /// The kernel mechanism this step needs, as the refusal names it.
    pub fn mechanism(self) -> &'static str {
        match self {
            Step::UserNamespace | Step::IdMaps => "unprivileged user namespaces",
            Step::MountNamespace | Step::Private | Step::Bind | Step::Writable | Step::Chdir => {
                "mount namespaces with bind mounts"
            }
            Step::NetworkNamespace => "network namespaces (to turn the network off)",
            Step::ReadOnly => "mount_setattr (Linux 5.12 or newer)",
            Step::Privileges => "dropping capabilities",
        }
    }
}

/// Prepares the sandbox for a command running in `cwd` that may write
/// beneath the directories in `writable` (files among them, such as
/// `/dev/null`, need no bind: devices stay writable).
pub fn prepare(writable: &[PathBuf], cwd: &Path, network: bool) -> Result<Prepared, String> {
    let mut dirs: Vec<&PathBuf> = writable.iter().filter(|p| p.is_dir()).collect();
    dirs.sort_by_key(|p| p.components().count());
    let mut kept: Vec<&PathBuf> = Vec::new();
    for dir in dirs {
        if !kept.iter().any(|k| dir.starts_with(k)) {
            kept.push(dir);
        }
    }
    let c_path = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| format!("the path {} contains a NUL byte", p.display()))
    };
    Ok(Prepared {
        uid_map: id_map(current_uid()),
        gid_map: id_map(current_gid()),
        binds: kept
            .into_iter()
            .map(|p| c_path(p))
            .collect::<Result<_, _>>()?,
        cwd: c_path(cwd)?,
        network,
    })
}

fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

fn current_gid() -> u32 {
    // SAFETY: getgid cannot fail.
    unsafe { libc::getgid() }
}

/// A one-line map of `id` to itself.
fn id_map(id: u32) -> Vec<u8> {
    format!("{id} {id} 1\n").into_bytes()
}

/// Confines the calling process. For `pre_exec`: system calls only. The
/// error names the step and carries its errno.
pub fn apply(p: &Prepared) -> Result<(), (Step, i32)> {
    apply_steps(p, &mut None)
}

/// [`apply`], but with `net_failure` set (to `Some(0)`) a failing network
/// namespace is recorded there as its errno and the rest still runs: the
/// probe checks both at once.
fn apply_steps(p: &Prepared, net_failure: &mut Option<i32>) -> Result<(), (Step, i32)> {
    let fail = |step: Step| Err((step, errno()));
    // SAFETY: plain system calls on memory owned by `p` or the stack.
    unsafe {
        // A process that changed uid is undumpable, and its /proc files
        // (uid_map among them) are then root's; exec resets this anyway.
        libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
        if libc::unshare(libc::CLONE_NEWUSER) != 0 {
            return fail(Step::UserNamespace);
        }
        // Absent before Linux 3.19, where gid_map needs no "deny".
        if write_file(c"/proc/self/setgroups", b"deny") != 0 && errno() != libc::ENOENT {
            return fail(Step::IdMaps);
        }
        if write_file(c"/proc/self/uid_map", &p.uid_map) != 0
            || write_file(c"/proc/self/gid_map", &p.gid_map) != 0
        {
            return fail(Step::IdMaps);
        }
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return fail(Step::MountNamespace);
        }
        if !p.network {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                let Some(slot) = net_failure.as_mut() else {
                    return fail(Step::NetworkNamespace);
                };
                *slot = errno();
            } else {
                // Best effort: local servers inside one command work.
                loopback_up();
            }
        }
        // Nothing done here may reach the parent namespace.
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return fail(Step::Private);
        }
        if mount_setattr(c"/", MOUNT_ATTR_RDONLY, 0) != 0 {
            return fail(Step::ReadOnly);
        }
        for dir in &p.binds {
            if libc::mount(
                dir.as_ptr(),
                dir.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ) != 0
            {
                return fail(Step::Bind);
            }
            // A submount the host made read-only is locked so in this
            // namespace; then only the bind itself becomes writable.
            if mount_setattr(dir, 0, MOUNT_ATTR_RDONLY) != 0
                && (errno() != libc::EPERM || mount_setattr_flat(dir, MOUNT_ATTR_RDONLY) != 0)
            {
                return fail(Step::Writable);
            }
        }
        if libc::chdir(p.cwd.as_ptr()) != 0 {
            return fail(Step::Chdir);
        }
        if drop_privileges() != 0 {
            return fail(Step::Privileges);
        }
    }
    Ok(())
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Writes `data` to `path` in one `write`; 0 on success.
unsafe fn write_file(path: &std::ffi::CStr, data: &[u8]) -> i32 {
    // SAFETY: the caller passes a valid path; the buffer outlives the call.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return -1;
        }
        let written = libc::write(fd, data.as_ptr().cast(), data.len());
        let saved = errno();
        libc::close(fd);
        if written == data.len() as isize {
            0
        } else {
            *libc::__errno_location() = saved;
            -1
        }
    }
}

/// Sets and clears mount attributes on the mount at `path` and every mount
/// beneath it.
unsafe fn mount_setattr(path: &std::ffi::CStr, set: u64, clear: u64) -> libc::c_long {
    // SAFETY: forwarded.
    unsafe { mount_setattr_flags(path, set, clear, libc::AT_RECURSIVE) }
}

/// Clears attributes on the mount at `path` only.
unsafe fn mount_setattr_flat(path: &std::ffi::CStr, clear: u64) -> libc::c_long {
    // SAFETY: forwarded.
    unsafe { mount_setattr_flags(path, 0, clear, 0) }
}

unsafe fn mount_setattr_flags(
    path: &std::ffi::CStr,
    set: u64,
    clear: u64,
    flags: libc::c_int,
) -> libc::c_long {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the attribute struct lives on the stack for the call.
    unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    }
}

/// `struct ifreq` with the flags member of its union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Brings `lo` up in a fresh network namespace; failures are ignored.
unsafe fn loopback_up() {
    // SAFETY: a socket and two ioctls on a stack struct.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return;
        }
        let mut req = IfReqFlags {
            name: [0; 16],
            flags: 0,
            _pad: [0; 22],
        };
        req.name[..2].copy_from_slice(b"lo");
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req as *mut IfReqFlags) == 0 {
            req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &mut req as *mut IfReqFlags);
        }
        libc::close(fd);
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Gives up every capability for good: bounding set emptied, ambient set
/// cleared, securebits locked so uid 0 gains nothing at `exec`,
/// `no_new_privs` set, then the process's own sets cleared. 0 on success.
unsafe fn drop_privileges() -> i32 {
    // SAFETY: prctl and capset on stack memory.
    unsafe {
        let bits = libc::SECBIT_NOROOT
            | libc::SECBIT_NOROOT_LOCKED
            | libc::SECBIT_KEEP_CAPS_LOCKED
            | libc::SECBIT_NO_CAP_AMBIENT_RAISE
            | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
        if libc::prctl(libc::PR_SET_SECUREBITS, bits as libc::c_ulong, 0, 0, 0) != 0 {
            return -1;
        }
        for cap in 0..=MAX_CAPABILITY {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno() != libc::EINVAL {
                return -1;
            }
        }
        // EINVAL before Linux 4.3, which has no ambient set.
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
            && errno() != libc::EINVAL
        {
            return -1;
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return -1;
        }
        let mut header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        if libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        ) != 0
        {
            return -1;
        }
    }
    0
}

/// What the kernel allows, found once per process by a probe child.
#[derive(Debug, Clone)]
pub struct Support {
    /// Everything but the network namespace, or the failing step and why.
    pub base: Result<(), (Step, String)>,
    /// The network namespace, or why not.
    pub network: Result<(), String>,
}

/// The sandbox support of this system, probed on first use.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(probe)
}

/// Forks a child that sets up the whole sandbox (no binds, network off)
/// and reports through a pipe which step failed.
fn probe() -> Support {
    let failed = |why: String| Support {
        base: Err((Step::UserNamespace, why.clone())),
        network: Err(why),
    };
    let prepared = match prepare(&[], Path::new("/"), false) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return failed(format!("pipe: {}", io::Error::last_os_error()));
    }
    // SAFETY: the child makes only system calls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut net = Some(0);
        let report: [i32; 3] = match apply_steps(&prepared, &mut net) {
            Ok(()) => [0, 0, net.unwrap_or(0)],
            Err((step, errno)) => [step as i32, errno, net.unwrap_or(0)],
        };
        // SAFETY: write and _exit only.
        unsafe {
            libc::write(
                fds[1],
                report.as_ptr().cast(),
                std::mem::size_of_val(&report),
            );
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    if pid < 0 {
        // SAFETY: closing the read end.
        unsafe { libc::close(fds[0]) };
        return failed(format!("fork: {}", io::Error::last_os_error()));
    }
    let mut report = [0i32; 3];
    // SAFETY: reads into the array, then waits for exactly this child.
    let read = unsafe {
        let n = libc::read(
            fds[0],
            report.as_mut_ptr().cast(),
            std::mem::size_of_val(&report),
        );
        libc::close(fds[0]);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 && errno() == libc::EINTR {}
        n
    };
    if read != std::mem::size_of_val(&report) as isize {
        return failed("the probe child died before reporting".into());
    }
    let describe = |errno: i32| io::Error::from_raw_os_error(errno).to_string();
    let base = match Step::from_code(report[0]) {
        None => Ok(()),
        Some(step) => Err((step, describe(report[1]))),
    };
    let network = match report[2] {
        0 if base.is_ok() => Ok(()),
        0 => Err("not checked".into()),
        errno => Err(describe(errno)),
    };
    Support { base, network }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_its_own_nonzero_code() {
        for (index, &step) in Step::ALL.iter().enumerate() {
            assert_eq!(step as i32, index as i32 + 1, "{step:?}");
            assert_eq!(Step::from_code(step as i32), Some(step));
        }
        // 0 is the probe's success.
        assert_eq!(Step::from_code(0), None);
    }
}
