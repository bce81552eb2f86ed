//! A conservative reading of a bash command line: a pipeline of simple
//! commands, each a list of words after quote removal, or a refusal naming
//! the construct that makes the line more than that.
//!
//! Written here rather than taken from `shlex`/`shell-words`: those split
//! words but do not recognise operators (`ls;rm x` comes back as one word
//! `ls;rm`), and a full bash grammar (tree-sitter-bash) would be a large new
//! dependency for a question with a short answer. The rule is the reverse of
//! a parser's: anything not fully understood (expansions, substitutions,
//! lists, subshells, redirections other than to `/dev/null` or between
//! descriptors, unbalanced quotes) is refused, so a refusal only ever costs a
//! question to the user, never an unreviewed command.

/// One word of a simple command, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// The word starts with an unquoted glob character (`*`, `?`, `[`), so
    /// the shell may expand it to a file name that starts with `-` and so
    /// reads as an option (`find . *` with a file named `-delete`).
    pub glob_leading: bool,
}

/// One simple command: its words (the program first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    pub words: Vec<Word>,
}

impl Simple {
    pub fn program(&self) -> Option<&str> {
        self.words.first().map(|w| w.text.as_str())
    }

    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.words.iter().skip(1).map(|w| w.text.as_str())
    }
}

/// Why a command line is not a plain pipeline of simple commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("it runs several commands (`;`, `&&`, `||`, a newline or `&`)")]
    List,
    #[error("it expands a variable or substitutes a command (`$`, backticks)")]
    Expansion,
    #[error("it substitutes a process (`<(...)`, `>(...)`)")]
    ProcessSubstitution,
    #[error("it uses a subshell, group or brace expansion")]
    Grouping,
    #[error("it redirects output to a file")]
    Redirection,
    #[error("it uses a here-document")]
    HereDocument,
    #[error("its quoting is unbalanced")]
    Quoting,
    #[error("it has a comment")]
    Comment,
    #[error("a pipeline stage is empty")]
    EmptyCommand,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(Word),
    Pipe,
    Redirect(Redirect),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Redirect {
    /// `>`, `>>`, `>|`, `&>`, `&>>`: writes to the target.
    Write,
    /// `>&`, `<&`: duplicates or closes a descriptor (target digits or `-`).
    Duplicate,
    /// `<`: reads the target.
    Read,
}

/// Reads `line` as a pipeline of simple commands.
pub fn parse(line: &str) -> Result<Vec<Simple>, Unsupported> {
    let tokens = lex(line)?;
    let mut stages = Vec::new();
    let mut words = Vec::new();
    let mut iter = tokens.into_iter();
    while let Some(token) = iter.next() {
        match token {
            Token::Word(word) => words.push(word),
            Token::Pipe => {
                if words.is_empty() {
                    return Err(Unsupported::EmptyCommand);
                }
                stages.push(Simple {
                    words: std::mem::take(&mut words),
                });
            }
            Token::Redirect(kind) => {
                let Some(Token::Word(target)) = iter.next() else {
                    return Err(Unsupported::Redirection);
                };
                let allowed = match kind {
                    Redirect::Write => target.text == "/dev/null" && !target.glob_leading,
                    Redirect::Duplicate => {
                        target.text == "-"
                            || (!target.text.is_empty()
                                && target.text.chars().all(|c| c.is_ascii_digit()))
                    }
                    Redirect::Read => true,
                };
                if !allowed {
                    return Err(Unsupported::Redirection);
                }
            }
        }
    }
    if words.is_empty() {
        return Err(Unsupported::EmptyCommand);
    }
    stages.push(Simple { words });
    Ok(stages)
}

/// The word being read, started if none is.
fn start(word: &mut Option<Word>) -> &mut Word {
    word.get_or_insert_with(|| Word {
        text: String::new(),
        glob_leading: false,
    })
}

/// Splits `line` into words, pipes and redirections, refusing everything
/// else the shell would treat specially.
fn lex(line: &str) -> Result<Vec<Token>, Unsupported> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    // The word being read; `None` between words.
    let mut word: Option<Word> = None;
    // Whether the current word had any quoted or escaped part (so `2` in
    // `"2">x` is not a descriptor number).
    let mut quoted = false;
    let end_word = |word: &mut Option<Word>, tokens: &mut Vec<Token>, quoted: &mut bool| {
        if let Some(w) = word.take() {
            tokens.push(Token::Word(w));
        }
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => end_word(&mut word, &mut tokens, &mut quoted),
            '\n' | ';' => return Err(Unsupported::List),
            '$' | '`' => return Err(Unsupported::Expansion),
            '(' | ')' | '{' | '}' => return Err(Unsupported::Grouping),
            '#' if word.is_none() => return Err(Unsupported::Comment),
            '\'' => {
                quoted = true;
                let w = start(&mut word);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => w.text.push(ch),
                        None => return Err(Unsupported::Quoting),
                    }
                }
            }
            '"' => {
                quoted = true;
                let w = start(&mut word);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$' | '`') => return Err(Unsupported::Expansion),
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => w.text.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                w.text.push('\\');
                                w.text.push(ch);
                            }
                            None => return Err(Unsupported::Quoting),
                        },
                        Some(ch) => w.text.push(ch),
                        None => return Err(Unsupported::Quoting),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(ch) => {
                    quoted = true;
                    start(&mut word).text.push(ch);
                }
                None => return Err(Unsupported::Quoting),
            },
            '|' => {
                match chars.peek() {
                    Some('|') => return Err(Unsupported::List),
                    Some('&') => {
                        chars.next();
                    }
                    _ => {}
                }
                end_word(&mut word, &mut tokens, &mut quoted);
                tokens.push(Token::Pipe);
            }
            '&' => match chars.peek() {
                Some('>') => {
                    chars.next();
                    if chars.peek() == Some(&'>') {
                        chars.next();
                    }
                    end_word(&mut word, &mut tokens, &mut quoted);
                    tokens.push(Token::Redirect(Redirect::Write));
                }
                _ => return Err(Unsupported::List),
            },
            '<' | '>' => {
                // A word of digits right before the operator is the
                // descriptor it redirects, not an argument.
                let is_fd = !quoted
                    && word
                        .as_ref()
                        .is_some_and(|w| w.text.chars().all(|ch| ch.is_ascii_digit()));
                if is_fd {
                    word = None;
                    quoted = false;
                } else {
                    end_word(&mut word, &mut tokens, &mut quoted);
                }
                let kind = match (c, chars.peek().copied()) {
                    (_, Some('(')) => return Err(Unsupported::ProcessSubstitution),
                    ('<', Some('<')) => return Err(Unsupported::HereDocument),
                    ('<', Some('>')) => return Err(Unsupported::Redirection),
                    (_, Some('&')) => {
                        chars.next();
                        Redirect::Duplicate
                    }
                    ('>', Some('>' | '|')) => {
                        chars.next();
                        Redirect::Write
                    }
                    ('>', _) => Redirect::Write,
                    _ => Redirect::Read,
                };
                tokens.push(Token::Redirect(kind));
            }
            '*' | '?' | '[' => {
                let fresh = word.is_none();
                let w = start(&mut word);
                if fresh {
                    w.glob_leading = true;
                }
                w.text.push(c);
            }
            _ => start(&mut word).text.push(c),
        }
    }
    end_word(&mut word, &mut tokens, &mut quoted);
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        parse(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .into_iter()
            .map(|s| s.words.into_iter().map(|w| w.text).collect())
            .collect()
    }

    #[test]
    fn quotes_and_escapes_are_removed() {
        assert_eq!(words("l's' -la"), [["ls", "-la"]]);
        assert_eq!(
            words(r#"grep "a b" 'c;d' e\ f"#),
            [["grep", "a b", "c;d", "e f"]]
        );
        assert_eq!(words(r#"echo "say \"hi\"""#), [["echo", "say \"hi\""]]);
        assert_eq!(
            words("grep x | head -3"),
            [vec!["grep", "x"], vec!["head", "-3"]]
        );
    }

    #[test]
    fn benign_redirections_are_dropped() {
        assert_eq!(words("cargo test 2>&1"), [["cargo", "test"]]);
        assert_eq!(words("ls >/dev/null 2> /dev/null"), [["ls"]]);
        assert_eq!(words("wc -l < notes.txt"), [["wc", "-l"]]);
    }

    #[test]
    fn everything_else_is_refused() {
        for (line, why) in [
            ("ls; rm x", Unsupported::List),
            ("ls && rm x", Unsupported::List),
            ("ls || rm x", Unsupported::List),
            ("ls &", Unsupported::List),
            ("ls\nrm x", Unsupported::List),
            ("echo $(rm x)", Unsupported::Expansion),
            ("echo \"$(rm x)\"", Unsupported::Expansion),
            ("echo `rm x`", Unsupported::Expansion),
            ("echo $HOME", Unsupported::Expansion),
            ("cat <(rm x)", Unsupported::ProcessSubstitution),
            ("tee >(sh)", Unsupported::ProcessSubstitution),
            ("(rm x)", Unsupported::Grouping),
            ("echo {a,b}", Unsupported::Grouping),
            ("cat a > b", Unsupported::Redirection),
            ("cat a >> b", Unsupported::Redirection),
            ("cat a >&b", Unsupported::Redirection),
            ("cat a &> b", Unsupported::Redirection),
            ("cat a 1>'/dev/null'x", Unsupported::Redirection),
            ("cat <<EOF", Unsupported::HereDocument),
            ("echo 'unclosed", Unsupported::Quoting),
            ("echo \"unclosed", Unsupported::Quoting),
            ("echo x\\", Unsupported::Quoting),
            ("ls # rm", Unsupported::Comment),
            ("| head", Unsupported::EmptyCommand),
            ("ls |", Unsupported::EmptyCommand),
            ("", Unsupported::EmptyCommand),
        ] {
            assert_eq!(parse(line), Err(why), "{line}");
        }
    }

    #[test]
    fn leading_globs_are_marked() {
        let stages = parse("find . *.rs src/*.rs '*'").expect("parses");
        let marks: Vec<bool> = stages[0].words.iter().map(|w| w.glob_leading).collect();
        assert_eq!(marks, [false, false, true, false, false]);
    }
}
