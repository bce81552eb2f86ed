//! Markdown to ratatui lines (being written).
