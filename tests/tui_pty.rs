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
        Pty::spawn_with_env(args, workspace, home, &[])
    }

    /// [`Pty::spawn`] with these environment variables set too.
    fn spawn_with_env(args: &[&str], workspace: &Path, home: &Path, env: &[(&str, &str)]) -> Pty {
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
        for (name, value) in env {
            command.env(name, value);
        }
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

/// The notes file the review tests start from; the scripted model
/// (tests/scripts/review_two_hunks.json) changes its second and last lines.
const ORIGINAL_NOTES: &str =
    "# Notes\nalpha\nbeta\ngamma\ndelta\nepsilon\nzeta\neta\ntheta\niota\nkappa\nlambda\n";

/// glint under `--approval suggest` with the review open on the scripted
/// model's two-hunk write to notes.txt.
struct ReviewRun {
    pty: Pty,
    notes: std::path::PathBuf,
    log: std::path::PathBuf,
    _workspace: tempfile::TempDir,
    _home: tempfile::TempDir,
}

impl ReviewRun {
    fn start(env: &[(&str, &str)]) -> ReviewRun {
        let workspace = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let notes = workspace.path().join("notes.txt");
        std::fs::write(&notes, ORIGINAL_NOTES).unwrap();
        // The script, with a prompt log of this test's own.
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/review_two_hunks.json");
        let mut body: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
        let log = home.path().join("prompts.jsonl");
        body["prompt_log"] = serde_json::Value::String(log.display().to_string());
        let script = home.path().join("review_two_hunks.json");
        std::fs::write(&script, body.to_string()).unwrap();
        let model = format!("script:{}", script.display());
        let pty = Pty::spawn_with_env(
            &["--model", &model, "--approval", "suggest"],
            workspace.path(),
            home.path(),
            env,
        );
        pty.wait_for("ready");
        pty.type_text("tidy the notes");
        pty.send(b"\r");
        pty.wait_for("review write_file");
        pty.wait_for("hunk 1 of 2  ○ pending");
        assert!(
            pty.parser.lock().unwrap().screen().alternate_screen(),
            "the review is not full-screen"
        );
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), ORIGINAL_NOTES);
        ReviewRun {
            pty,
            notes,
            log,
            _workspace: workspace,
            _home: home,
        }
    }

    fn notes(&self) -> String {
        std::fs::read_to_string(&self.notes).unwrap()
    }

    /// Every prompt the model was sent, in order.
    fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// Review before apply, end to end: under `--approval suggest` the scripted
/// model proposes a two-hunk write; rejecting the first hunk and accepting
/// the second writes only the second, the model's next prompt says the
/// first was rejected, and `/undo` puts the original back.
#[test]
fn review_rejects_one_hunk_applies_the_other_and_undo_restores() {
    let mut review = ReviewRun::start(&[]);
    // n rejects hunk 1 and moves on to hunk 2, which y accepts.
    review.pty.send(b"n");
    review.pty.wait_for("hunk 1 of 2  ✗ rejected");
    review.pty.send(b"y");
    review.pty.wait_for("every hunk is decided");
    review.pty.send(b"\r");
    review.pty.wait_for("the first change was not wanted");
    assert_eq!(
        review.notes(),
        ORIGINAL_NOTES.replace("lambda", "LAMBDA (second hunk)"),
        "the file does not hold exactly the accepted hunk"
    );
    let prompts = review.prompts();
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    let told = &prompts[1];
    assert!(
        told.contains("hunk 2 of 2 applied, hunk 1 of 2 rejected"),
        "the model was not told which hunk was rejected:\n{told}"
    );
    assert!(told.contains("ALPHA (first hunk)"), "{told}");

    review.pty.type_text("/undo");
    review.pty.send(b"\r");
    review.pty.wait_for("undid:");
    assert_eq!(review.notes(), ORIGINAL_NOTES);

    review.pty.send(b"\x04");
    assert!(review.pty.wait_exit().success());
    assert!(review.pty.cooked(), "raw mode is still on");
}

/// `e` hands the terminal to `$VISUAL` (here a non-interactive `sed`) and
/// takes it back: the view shows the user's version, keys still reach it,
/// and what is applied is the user's text.
#[test]
fn review_edits_the_proposal_in_the_users_editor() {
    let mut review = ReviewRun::start(&[("VISUAL", "sed -i s/ALPHA/Alpha/"), ("EDITOR", "false")]);
    review.pty.send(b"e");
    review.pty.wait_for("(edited by you)");
    review.pty.wait_for("Alpha (first hunk)");
    assert!(
        review
            .pty
            .parser
            .lock()
            .unwrap()
            .screen()
            .alternate_screen(),
        "the review did not come back full-screen after the editor"
    );
    // The edit comes back accepted whole; Enter sends it.
    review.pty.send(b"\r");
    review.pty.wait_for("the first change was not wanted");
    assert_eq!(
        review.notes(),
        ORIGINAL_NOTES
            .replace("alpha", "Alpha (first hunk)")
            .replace("lambda", "LAMBDA (second hunk)")
    );
    let prompts = review.prompts();
    assert!(
        prompts[1].contains("edited your proposal") && prompts[1].contains("+Alpha (first hunk)"),
        "the model was not told of the user's edit:\n{}",
        prompts[1]
    );
    review.pty.send(b"\x04");
    assert!(review.pty.wait_exit().success());
    assert!(review.pty.cooked(), "raw mode is still on");
}
