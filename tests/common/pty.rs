//! The real `glint` binary in a pseudo-terminal, its output parsed by a
//! vt100 emulator that answers cursor-position queries as a terminal does.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// Generous: the binary may start slowly on a loaded CI machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// How the terminal is set up beyond the command line.
pub struct PtyOptions<'a> {
    pub rows: u16,
    pub cols: u16,
    /// Environment variables set for glint, after the harness's own.
    pub env: &'a [(&'a str, &'a str)],
}

impl Default for PtyOptions<'_> {
    fn default() -> Self {
        PtyOptions {
            rows: 30,
            cols: 100,
            env: &[],
        }
    }
}

type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// Set by the reader once the pty reports end of output (every holder of
/// the terminal's slave side, glint included, has closed it).
#[derive(Default)]
struct Drained {
    done: Mutex<bool>,
    changed: Condvar,
}

impl Drained {
    fn set(&self) {
        *self.done.lock().unwrap() = true;
        self.changed.notify_all();
    }

    /// Waits up to `limit` for the end of output; whether it came.
    fn wait(&self, limit: Duration) -> bool {
        let done = self.done.lock().unwrap();
        let (done, _) = self
            .changed
            .wait_timeout_while(done, limit, |done| !*done)
            .unwrap();
        *done
    }
}

/// A running glint in a pty, with everything it wrote so far.
pub struct Pty {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: SharedWriter,
    drained: Arc<Drained>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    cols: u16,
}

impl Pty {
    /// glint with `args` in `workspace`, `home` as its HOME (and its log
    /// file there), on a 30×100 terminal.
    pub fn spawn(args: &[&str], workspace: &Path, home: &Path) -> Pty {
        Pty::spawn_with(args, workspace, home, PtyOptions::default())
    }

    /// [`Pty::spawn`] with another size or more environment variables.
    pub fn spawn_with(args: &[&str], workspace: &Path, home: &Path, options: PtyOptions) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: options.rows,
                cols: options.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_glint"));
        command.args(args);
        command.cwd(workspace);
        command.env("TERM", "xterm-256color");
        command.env("HOME", home);
        command.env("GLINT_LOG_FILE", home.join("glint.log"));
        command.env_remove("NO_COLOR");
        command.env_remove("GLINT_MODEL");
        for (name, value) in options.env {
            command.env(name, value);
        }
        let child = pair.slave.spawn_command(command).expect("glint starts");
        drop(pair.slave);
        let reader = pair.master.try_clone_reader().expect("a pty reader");
        let writer: SharedWriter =
            Arc::new(Mutex::new(pair.master.take_writer().expect("a pty writer")));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            NonZeroU16::new(options.rows).expect("a terminal of at least one row"),
            NonZeroU16::new(options.cols).expect("a terminal of at least one column"),
            1000,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let drained = Arc::new(Drained::default());
        spawn_reader(
            reader,
            parser.clone(),
            raw.clone(),
            writer.clone(),
            drained.clone(),
        );
        Pty {
            parser,
            raw,
            writer,
            drained,
            child,
            master: pair.master,
            cols: options.cols,
        }
    }

    pub fn send(&self, bytes: &[u8]) {
        let mut writer = self.writer.lock().unwrap();
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    }

    /// Types text a key at a time, as a person would.
    pub fn type_text(&self, text: &str) {
        for ch in text.chars() {
            let mut buf = [0u8; 4];
            self.send(ch.encode_utf8(&mut buf).as_bytes());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Types `line`, then Enter.
    pub fn enter_line(&self, line: &str) {
        self.type_text(line);
        self.send(b"\r");
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// The emulator's whole state now (modes, cursor, cells).
    pub fn terminal(&self) -> vt100::Screen {
        self.parser.lock().unwrap().screen().clone()
    }

    /// The scrollback the emulator kept, then the screen.
    pub fn everything(&self) -> String {
        let mut parser = self.parser.lock().unwrap();
        parser.screen_mut().set_scrollback(usize::MAX);
        let kept = parser.screen().scrollback();
        let mut rows = Vec::new();
        // At offset k the top row on screen is scrollback row (kept - k).
        for offset in (1..=kept).rev() {
            parser.screen_mut().set_scrollback(offset);
            rows.extend(parser.screen().rows(0, self.cols).take(1));
        }
        parser.screen_mut().set_scrollback(0);
        rows.extend(parser.screen().rows(0, self.cols));
        rows.join("\n")
    }

    /// Waits (up to [`WAIT`]) for `needle` in the scrollback or on screen.
    pub fn wait_for(&self, needle: &str) {
        self.wait_until(&format!("`{needle}` to appear"), WAIT, |pty| {
            pty.everything().contains(needle)
        });
    }

    /// Polls `done` until it holds; fails naming `what` after `limit`.
    pub fn wait_until(&self, what: &str, limit: Duration, mut done: impl FnMut(&Pty) -> bool) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "waited {limit:?} for {what} in vain; the screen:\n{}",
            self.screen()
        );
    }

    /// Waits for glint to exit and for all it wrote to be read.
    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Everything glint wrote is read once the pty reports the
                // end of output: wait for that, not for a guessed while.
                assert!(
                    self.drained.wait(WAIT),
                    "glint exited but its terminal output never ended; the screen:\n{}",
                    self.screen()
                );
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("glint did not exit; the screen:\n{}", self.screen());
    }

    /// Every byte glint wrote so far.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// Whether the pty is back in canonical, echoing mode (raw mode off).
    pub fn cooked(&self) -> bool {
        let fd = self.master.as_raw_fd().expect("the pty's file descriptor");
        let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the struct for a valid fd.
        let termios = unsafe {
            assert_eq!(libc::tcgetattr(fd, termios.as_mut_ptr()), 0);
            termios.assume_init()
        };
        termios.c_lflag & libc::ICANON != 0 && termios.c_lflag & libc::ECHO != 0
    }
}

/// Feeds the output to the emulator and answers cursor-position queries
/// (`ESC [ 6 n`) the way a terminal does, from the emulator's cursor.
fn spawn_reader(
    mut reader: Box<dyn Read + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: SharedWriter,
    drained: Arc<Drained>,
) {
    std::thread::spawn(move || {
        const QUERY: &[u8] = b"\x1b[6n";
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            raw.lock().unwrap().extend_from_slice(&buf[..n]);
            pending.extend_from_slice(&buf[..n]);
            loop {
                match pending.windows(QUERY.len()).position(|w| w == QUERY) {
                    Some(at) => {
                        let mut parser = parser.lock().unwrap();
                        parser.process(&pending[..at]);
                        let (row, col) = parser.screen().cursor_position();
                        drop(parser);
                        let reply = format!("\x1b[{};{}R", row + 1, col + 1);
                        let mut writer = writer.lock().unwrap();
                        let _ = writer.write_all(reply.as_bytes());
                        let _ = writer.flush();
                        pending.drain(..at + QUERY.len());
                    }
                    None => {
                        // Keep a possible partial query for the next read.
                        let keep = pending.len().min(QUERY.len() - 1);
                        let split = pending.len() - keep;
                        let keep_from = (split..pending.len())
                            .find(|&i| QUERY.starts_with(&pending[i..]))
                            .unwrap_or(pending.len());
                        parser.lock().unwrap().process(&pending[..keep_from]);
                        pending.drain(..keep_from);
                        break;
                    }
                }
            }
        }
        parser.lock().unwrap().process(&pending);
        drained.set();
    });
}

/// Where `needle` last occurs in `haystack`.
pub fn last_index(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
