//! Styles shared by every part of the TUI (being written).
