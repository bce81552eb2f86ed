//! The real `glint` binary in a pseudo-terminal, its output parsed by a
//! vt100 emulator: type a task and see the answer, switch models, cancel a
//! long turn with Esc, quit, and find the terminal back in its normal mode.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 30;
const COLS: u16 = 100;
/// Generous: the binary may start slowly on a loaded CI machine.
const WAIT: Duration = Duration::from_secs(30);

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
struct Pty {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: SharedWriter,
    drained: Arc<Drained>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    fn spawn(args: &[&str], workspace: &Path, home: &Path) -> Pty {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_glint"));
        command.args(args);
        command.cwd(workspace);
        command.env("TERM", "xterm-256color");
        command.env("HOME", home);
        command.env("GLINT_LOG_FILE", home.join("glint.log"));
        command.env_remove("NO_COLOR");
        command.env_remove("GLINT_MODEL");
        let child = pair.slave.spawn_command(command).unwrap();
        drop(pair.slave);
        let reader = pair.master.try_clone_reader().unwrap();
        let writer: SharedWriter = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            NonZeroU16::new(ROWS).unwrap(),
            NonZeroU16::new(COLS).unwrap(),
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
        }
    }

    fn send(&self, bytes: &[u8]) {
        let mut writer = self.writer.lock().unwrap();
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    }

    /// Types text a key at a time, as a person would.
    fn type_text(&self, text: &str) {
        for ch in text.chars() {
            let mut buf = [0u8; 4];
            self.send(ch.encode_utf8(&mut buf).as_bytes());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// The scrollback the emulator kept, then the screen.
    fn everything(&self) -> String {
        let mut parser = self.parser.lock().unwrap();
        parser.screen_mut().set_scrollback(usize::MAX);
        let kept = parser.screen().scrollback();
        let mut rows = Vec::new();
        // At offset k the top row on screen is scrollback row (kept - k).
        for offset in (1..=kept).rev() {
            parser.screen_mut().set_scrollback(offset);
            rows.extend(parser.screen().rows(0, COLS).take(1));
        }
        parser.screen_mut().set_scrollback(0);
        rows.extend(parser.screen().rows(0, COLS));
        rows.join("\n")
    }

    fn wait_for(&self, needle: &str) {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if self.everything().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "`{needle}` did not appear within {WAIT:?}; the screen:\n{}",
            self.screen()
        );
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
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

    fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// Whether the pty is back in canonical, echoing mode (raw mode off).
    fn cooked(&self) -> bool {
        let fd = self.master.as_raw_fd().unwrap();
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

fn script(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name);
    format!("script:{}", path.display())
}

fn last_index(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[test]
fn type_a_task_cancel_a_long_turn_and_quit_cleanly() {
    let workspace = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let answer = script("tui_answer.json");
    let mut pty = Pty::spawn(&["--model", &answer], workspace.path(), home.path());

    pty.wait_for("ready");
    pty.type_text("what is the answer?");
    pty.send(b"\r");
    pty.wait_for("The answer is forty-two.");
    pty.wait_for("let answer = 42;");
    // The collapsed reasoning sits above the answer.
    pty.wait_for("thought: The user wants the answer.");

    // Switch to a slow model; the conversation carries over.
    pty.type_text(&format!("/model {}", script("tui_slow.json")));
    pty.send(b"\r");
    pty.wait_for("switching to");
    pty.wait_for("ready");
    pty.type_text("count slowly");
    pty.send(b"\r");
    pty.wait_for("generating");
    pty.wait_for("number-3");
    pty.send(b"\x1b");
    pty.wait_for("interrupted");
    assert!(
        !pty.everything().contains("number-399"),
        "the turn ran to its end despite Esc"
    );

    // Ctrl-D on the empty composer quits.
    pty.send(b"\x04");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}");

    let screen = pty.parser.lock().unwrap().screen().clone();
    assert!(!screen.alternate_screen(), "left in the alternate screen");
    assert!(!screen.hide_cursor(), "the cursor is still hidden");
    assert!(pty.cooked(), "raw mode is still on");
    let raw = pty.raw();
    let paste_on = last_index(&raw, b"\x1b[?2004h").expect("bracketed paste was enabled");
    let paste_off = last_index(&raw, b"\x1b[?2004l").expect("bracketed paste was never disabled");
    assert!(paste_off > paste_on, "bracketed paste left on");
    // The transcript stays in the terminal after glint exits.
    assert!(pty.everything().contains("The answer is forty-two."));
}

#[test]
fn ctrl_c_twice_quits_and_restores_the_terminal() {
    let workspace = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let answer = script("tui_answer.json");
    let mut pty = Pty::spawn(&["--model", &answer], workspace.path(), home.path());
    pty.wait_for("ready");
    pty.type_text("half a thought");
    pty.send(b"\x03");
    pty.wait_for("Ctrl-C again to quit");
    pty.send(b"\x03");
    let status = pty.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(pty.cooked(), "raw mode is still on");
    assert!(!pty.parser.lock().unwrap().screen().hide_cursor());
}

/// mistralrs logs and draws progress bars on its own while a model loads;
/// under the app none of it may reach the screen.
#[test]
fn a_local_model_loads_without_its_output_reaching_the_screen() {
    let workspace = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let checkpoint = home.path().join("tiny-glm");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_glint"))
        .args(["dev", "tiny-glm"])
        .arg(&checkpoint)
        .args(["--layers", "2"])
        .status()
        .unwrap();
    assert!(status.success());
    let model = checkpoint.display().to_string();
    let mut pty = Pty::spawn(
        &["--model", &model, "--device", "cpu", "--max-tokens", "4"],
        workspace.path(),
        home.path(),
    );
    // The status line shows the engine's own description once it is ready.
    let start = Instant::now();
    while !pty.screen().contains("ready") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the model did not load; the screen:\n{}",
            pty.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pty.send(b"\x04");
    assert!(pty.wait_exit().success());
    let everything = pty.everything();
    let log = std::fs::read_to_string(home.path().join("glint.log")).unwrap_or_default();
    assert!(
        log.contains("mistralrs"),
        "mistralrs logged nothing, so this test shows nothing:\n{log}"
    );
    for noise in ["INFO", "WARN", "mistralrs", "Loading", "%|"] {
        assert!(
            !everything.contains(noise),
            "`{noise}` reached the screen:\n{everything}"
        );
    }
}
