//! The terminal while the app owns it: raw mode, bracketed paste, the inline
//! viewport drawn to `/dev/tty`, and everything put back on exit or panic.
//!
//! mistralrs prints progress bars and messages to stdout and stderr on its
//! own; under the TUI both descriptors point at glint's log file, so nothing
//! but the app reaches the screen. Copies of the real ones are kept for the
//! panic hook and for what glint prints after the app ends.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, KeyboardEnhancementFlags,
    PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};
use unicode_width::UnicodeWidthStr;

/// Where the process's stdout and stderr really went before the app
/// redirected them.
#[derive(Debug, Clone, Copy)]
pub struct SavedStdio {
    stdout: RawFd,
    stderr: RawFd,
    log: RawFd,
}

impl SavedStdio {
    /// Points fds 1 and 2 at `log` (or `/dev/null`), keeping duplicates of
    /// the originals.
    pub fn redirect_to(log: Option<&Path>) -> io::Result<SavedStdio> {
        let file = match log {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .or_else(|_| File::options().write(true).open("/dev/null"))?,
            None => File::options().write(true).open("/dev/null")?,
        };
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        // SAFETY: dup/dup2 on descriptors this process owns; failures are
        // reported by their return values and checked.
        unsafe {
            let stdout = checked(libc::dup(1))?;
            let stderr = checked(libc::dup(2))?;
            let log = checked(libc::dup(file.as_raw_fd()))?;
            checked(libc::dup2(log, 1))?;
            checked(libc::dup2(log, 2))?;
            Ok(SavedStdio {
                stdout,
                stderr,
                log,
            })
        }
    }

    /// Puts the real stdout and stderr back (idempotent).
    pub fn restore(&self) {
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        // SAFETY: as above; the saved descriptors stay open for the life
        // of the process so this can run again from the panic hook.
        unsafe {
            libc::dup2(self.stdout, 1);
            libc::dup2(self.stderr, 2);
        }
    }

    /// Runs `f` with the real stdout on fd 1: crossterm asks the terminal
    /// for the cursor position through stdout.
    fn with_real_stdout<T>(&self, f: impl FnOnce() -> T) -> T {
        let _ = io::stdout().flush();
        // SAFETY: as above.
        unsafe {
            libc::dup2(self.stdout, 1);
        }
        let result = f();
        let _ = io::stdout().flush();
        // SAFETY: as above.
        unsafe {
            libc::dup2(self.log, 1);
        }
        result
    }
}

fn checked(fd: libc::c_int) -> io::Result<RawFd> {
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fd)
    }
}

/// Opens the controlling terminal for drawing.
pub fn open_tty() -> io::Result<File> {
    File::options().read(true).write(true).open("/dev/tty")
}

/// The crossterm backend on `/dev/tty`. ratatui asks for the cursor
/// position on every `insert_before`; asking the terminal (a round trip that
/// races crossterm's own input reader) happens only once, at start-up, with
/// the real stdout in place; after that the backend tracks the cursor from
/// what it draws and where it moves it.
pub struct TtyBackend {
    inner: CrosstermBackend<BufWriter<File>>,
    stdio: Option<SavedStdio>,
    cursor: Option<Position>,
}

impl TtyBackend {
    pub fn new(tty: File, stdio: Option<SavedStdio>) -> TtyBackend {
        TtyBackend {
            inner: CrosstermBackend::new(BufWriter::with_capacity(64 * 1024, tty)),
            stdio,
            cursor: None,
        }
    }
}

impl Backend for TtyBackend {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut last = None;
        let content = content.inspect(|(x, y, cell)| last = Some((*x, *y, cell.symbol().width())));
        self.inner.draw(content)?;
        if let Some((x, y, width)) = last {
            self.cursor = Some(Position::new(x.saturating_add(width as u16), y));
        }
        Ok(())
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.inner.append_lines(n)?;
        let rows = self.inner.size()?.height;
        if let Some(cursor) = self.cursor.as_mut() {
            cursor.y = cursor.y.saturating_add(n).min(rows.saturating_sub(1));
        }
        Ok(())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        if let Some(cursor) = self.cursor {
            return Ok(cursor);
        }
        Backend::flush(&mut self.inner)?;
        let cursor = match self.stdio {
            Some(stdio) => stdio.with_real_stdout(|| self.inner.get_cursor_position())?,
            None => self.inner.get_cursor_position()?,
        };
        self.cursor = Some(cursor);
        Ok(cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let position = position.into();
        self.inner.set_cursor_position(position)?;
        self.cursor = Some(position);
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

pub type TtyTerminal = Terminal<TtyBackend>;

/// Raw mode, bracketed paste and key disambiguation (so Shift+Enter is told
/// from Enter where the terminal supports it) on the tty.
pub fn enter(tty: &mut File) -> io::Result<()> {
    crossterm::terminal::enable_raw_mode()?;
    execute!(
        tty,
        EnableBracketedPaste,
        PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
    )
}

/// Undoes [`enter`] and any alternate screen; safe to call more than once.
pub fn leave(tty: &mut File) {
    let _ = execute!(
        tty,
        PopKeyboardEnhancementFlags,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

pub fn enter_alternate_screen(tty: &mut File) -> io::Result<()> {
    execute!(tty, EnterAlternateScreen)
}

pub fn leave_alternate_screen(tty: &mut File) -> io::Result<()> {
    execute!(tty, LeaveAlternateScreen)
}

/// The inline terminal of the main view, `height` rows tall.
pub fn inline_terminal(
    tty: File,
    stdio: Option<SavedStdio>,
    height: u16,
) -> io::Result<TtyTerminal> {
    Terminal::with_options(
        TtyBackend::new(tty, stdio),
        TerminalOptions {
            viewport: Viewport::Inline(height),
        },
    )
}

/// A full-screen terminal for the pager (on the alternate screen).
pub fn fullscreen_terminal(tty: File, stdio: Option<SavedStdio>) -> io::Result<TtyTerminal> {
    Terminal::new(TtyBackend::new(tty, stdio))
}

/// Restores the terminal and the real stderr before a panic's message is
/// printed, so the message is readable and the shell is usable.
pub fn install_panic_hook(stdio: Option<SavedStdio>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut tty) = open_tty() {
            leave(&mut tty);
            let _ = writeln!(tty);
        }
        if let Some(stdio) = stdio {
            stdio.restore();
        }
        previous(info);
    }));
}
