//! Whether a process still runs. glint names some temporary directories
//! after the process that made them (scratch trees, partial quantized
//! copies), so a later start can remove what a killed one left behind.

/// Whether `pid` may name a running process. Only "no such process" counts
/// as ended: a process this user may not signal, or any other answer, keeps
/// what it may still be using. A pid that names no single process (0 or
/// negative: a process group to `kill`) counts as running.
pub fn is_running(pid: libc::pid_t) -> bool {
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 sends nothing; kill only reports whether `pid`
    // names a process.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::is_running;

    #[test]
    fn this_process_runs_and_a_reaped_child_does_not() {
        assert!(is_running(std::process::id() as libc::pid_t));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` runs");
        let pid = child.id() as libc::pid_t;
        child.wait().expect("the child ends");
        assert!(!is_running(pid));
        assert!(is_running(0), "0 is a process group, never removed for");
    }
}
