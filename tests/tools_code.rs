//! `code_outline` and `find_symbol` on real temporary git workspaces: the
//! exact outline of a small sample per language (tests/fixtures/code/),
//! directory walks honouring .gitignore, search filters, refusals and caps.

mod common;

use common::Fixture;
use serde_json::json;

const LANGS: [&str; 8] = ["rs", "py", "js", "ts", "go", "c", "cpp", "java"];

/// A git workspace holding `sample.EXT` for every language.
fn samples() -> Fixture {
    let fx = Fixture::new();
    git2::Repository::init(&fx.root).unwrap();
    for ext in LANGS {
        fx.write(&format!("sample.{ext}"), sample(ext));
    }
    fx
}

fn sample(ext: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/code/sample.{ext}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn outline(fx: &Fixture, path: &str) -> String {
    fx.ok("code_outline", json!({ "path": path })).await.content
}

async fn find(fx: &Fixture, args: serde_json::Value) -> String {
    fx.ok("find_symbol", args).await.content
}

/// The exact outline of each language's sample.
const OUTLINES: [(&str, &str); 8] = [
    (
        "sample.rs",
        "\
sample.rs (Rust, 57 lines): 16 definitions
const MAX_DEPTH (5-5)
static GREETING (6-6)
struct Parser (9-11)
enum Token (13-16)
trait Visitor (18-20)
  method visit (19-19)
impl Parser (22-30)
  method new (23-25)
  method parse (27-29)
impl fmt::Display for Parser (32-36)
  method fmt (33-35)
type Tokens (38-38)
macro shout (40-44)
function tokenize (46-49)
module tests (51-57)
  function roundtrip (54-56)",
    ),
    (
        "sample.py",
        "\
sample.py (Python, 28 lines): 7 definitions
const MAX_DEPTH (5-5)
class Parser (8-21)
  method __init__ (13-14)
  method parse (17-18)
  class Error (20-21)
function tokenize (24-28)
  function clean (25-26)",
    ),
    (
        "sample.js",
        "\
sample.js (JavaScript, 32 lines): 9 definitions
const MAX_DEPTH (3-3)
class Parser (5-13)
  method constructor (6-8)
  method parse (10-12)
function tokenize (15-20)
  function clean (16-18)
function shout (22-24)
class Lexer (26-30)
  method next (27-29)",
    ),
    (
        "sample.ts",
        "\
sample.ts (TypeScript, 38 lines): 12 definitions
const MAX_DEPTH (3-3)
interface Visitor (5-7)
  method visit (6-6)
type Token (9-9)
enum Mode (11-14)
class Parser (16-28)
  method constructor (19-19)
  method visit (21-23)
  method parse (25-27)
function tokenize (30-32)
namespace Util (34-38)
  function shout (35-37)",
    ),
    (
        "sample.go",
        "\
sample.go (Go, 31 lines): 9 definitions
const MaxDepth (6-6)
var greeting (8-8)
struct Parser (11-13)
interface Visitor (15-17)
  method Visit (16-16)
type Tokens (19-19)
function NewParser (21-23)
method Parse in Parser (25-27)
function Tokenize (29-31)",
    ),
    (
        "sample.c",
        "\
sample.c (C, 34 lines): 10 definitions
macro MAX_DEPTH (4-4)
macro IS_SPACE (5-5)
const limit (7-7)
struct parser (9-11)
struct token (13-16)
type token_t (13-16)
enum mode (18-18)
prototype count_tokens (20-20)
function is_word (22-24)
function count_tokens (26-34)",
    ),
    (
        "sample.cpp",
        "\
sample.cpp (C++, 41 lines): 10 definitions
namespace text (5-36)
  const kMaxDepth (7-7)
  class Parser (9-21)
    method Parser (11-11)
    method parse (13-13)
    method depth (15-17)
  method parse in Parser (23-25)
  struct Token (27-29)
  function identity (32-34)
function main (38-41)",
    ),
    (
        "sample.java",
        "\
sample.java (Java, 31 lines): 8 definitions
class Parser (6-31)
  const MAX_DEPTH (7-7)
  constructor Parser (11-13)
  method parse (15-17)
  interface Visitor (19-21)
    method visit (20-20)
  enum Mode (23-30)
    method strict (27-29)",
    ),
];

#[tokio::test]
async fn outlines_every_language() {
    let fx = samples();
    for (file, expected) in OUTLINES {
        assert_eq!(outline(&fx, file).await, expected, "the outline of {file}");
    }
}

#[tokio::test]
async fn outlines_other_extensions_with_their_grammar() {
    let fx = Fixture::new();
    git2::Repository::init(&fx.root).unwrap();
    fx.write(
        "ui/App.tsx",
        "export function App(props: { name: string }) {\n  return <div>{props.name}</div>;\n}\n",
    );
    fx.write("lib/util.mjs", "export const twice = (x) => x * 2;\n");
    fx.write("include/point.h", "#ifndef POINT_H\n#define POINT_H\nstruct point { int x; };\nint norm(struct point p);\n#endif\n");
    fx.write("stubs/api.pyi", "def fetch(url: str) -> bytes: ...\n");
    fx.write(
        "lib/legacy.cjs",
        "function Parser() {}\nParser.prototype.parse = function (text) {};\nexports.helper = () => 1;\nmodule.exports = function build() {};\n",
    );
    assert_eq!(
        outline(&fx, "ui/App.tsx").await,
        "ui/App.tsx (TSX, 3 lines): 1 definition\nfunction App (1-3)"
    );
    assert_eq!(
        outline(&fx, "lib/util.mjs").await,
        "lib/util.mjs (JavaScript, 1 line): 1 definition\nfunction twice (1-1)"
    );
    assert_eq!(
        outline(&fx, "include/point.h").await,
        "include/point.h (C, 5 lines): 3 definitions\nmacro POINT_H (2-2)\nstruct point (3-3)\nprototype norm (4-4)"
    );
    assert_eq!(
        outline(&fx, "lib/legacy.cjs").await,
        "lib/legacy.cjs (JavaScript, 4 lines): 4 definitions\nfunction Parser (1-1)\nmethod parse in Parser (2-2)\nfunction helper (3-3)\nfunction build (4-4)"
    );
    assert_eq!(
        outline(&fx, "stubs/api.pyi").await,
        "stubs/api.pyi (Python, 1 line): 1 definition\nfunction fetch (1-1)"
    );
}

#[tokio::test]
async fn a_file_with_syntax_errors_still_gets_what_was_recovered() {
    let fx = Fixture::new();
    fx.write(
        "broken.py",
        "def good():\n    return 1\n\ndef broken(:\n    pass\n\nclass Later:\n    def method(self):\n        pass\n",
    );
    let out = outline(&fx, "broken.py").await;
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with("; the file has syntax errors, so this is what the parser recovered"),
        "{out}"
    );
    assert!(out.contains("\nfunction good (1-2)"), "{out}");
    assert!(
        out.contains("\nclass Later (7-9)\n  method method (8-9)"),
        "{out}"
    );
}

#[tokio::test]
async fn a_file_without_definitions_says_so() {
    let fx = Fixture::new();
    fx.write("main.py", "print('hello')\n");
    assert_eq!(
        outline(&fx, "main.py").await,
        "main.py (Python, 1 line): 0 definitions"
    );
}

#[tokio::test]
async fn unsupported_files_are_refused_with_the_supported_extensions() {
    let fx = Fixture::new();
    fx.write("notes.md", "# Notes\n");
    let err = fx.err("code_outline", json!({"path": "notes.md"})).await;
    assert!(
        err.starts_with(
            "`notes.md` is not a supported source file; code_outline reads .rs, .py, .pyi, .js"
        ),
        "{err}"
    );
    assert!(err.contains(".java") && err.contains("read_file"), "{err}");
    let err = fx
        .err("find_symbol", json!({"name": "x", "path": "notes.md"}))
        .await;
    assert!(err.contains("not a supported source file"), "{err}");
}

#[tokio::test]
async fn directory_outline_honours_gitignore_and_groups_by_file() {
    let fx = Fixture::new();
    git2::Repository::init(&fx.root).unwrap();
    fx.write(".gitignore", "target/\n*.gen.rs\n");
    fx.write("src/lib.rs", "pub mod parser;\n\npub fn run() {}\n");
    fx.write(
        "src/parser.rs",
        "pub struct Parser;\n\nimpl Parser {\n    pub fn parse(&self) {}\n}\n",
    );
    fx.write("src/table.gen.rs", "pub fn generated() {}\n");
    fx.write("target/debug/build.rs", "fn built() {}\n");
    fx.write(".hidden/secret.rs", "fn hidden() {}\n");
    fx.write("scripts/tool.py", "import sys\n");
    fx.write("scripts/deploy.py", "def deploy():\n    pass\n");
    fx.write("README.md", "# readme\n");

    let out = fx.ok("code_outline", json!({"path": "."})).await;
    assert_eq!(
        out.content,
        "\
.: 4 source files (1 without definitions not listed)

scripts/deploy.py
  function deploy (1-2)

src/lib.rs
  module parser (1-1)
  function run (3-3)

src/parser.rs
  struct Parser (1-1)
  impl Parser (3-5)
    method parse (4-4)"
    );
    assert_eq!(out.summary, ".: 6 definitions in 4 files");

    // A subdirectory, and a file the .gitignore names, given explicitly.
    assert_eq!(
        outline(&fx, "scripts").await,
        "scripts: 2 source files (1 without definitions not listed)\n\nscripts/deploy.py\n  function deploy (1-2)"
    );
    assert_eq!(
        outline(&fx, "src/table.gen.rs").await,
        "src/table.gen.rs (Rust, 1 line): 1 definition\nfunction generated (1-1)"
    );
    fx.write("docs/guide.md", "text\n");
    assert_eq!(
        outline(&fx, "docs").await,
        "`docs` has no supported source files (.rs, .py, .pyi, .js, .mjs, .cjs, .jsx, .ts, .mts, .cts, .tsx, .go, .c, .h, .cc, .cpp, .cxx, .hpp, .hh, .hxx, .java); hidden files and files ignored by .gitignore are skipped."
    );
}

#[tokio::test]
async fn find_symbol_across_languages() {
    let fx = samples();
    let out = fx.ok("find_symbol", json!({"name": "parse"})).await;
    assert_eq!(
        out.content,
        "\
7 definitions of `parse`:
sample.cpp:13: method parse in Parser
    std::vector<std::string> parse(const std::string &text) const;
sample.cpp:23: method parse in Parser
    std::vector<std::string> Parser::parse(const std::string &text) const {
sample.java:15: method parse in Parser
    public List<String> parse(String text) {
sample.js:10: method parse in Parser
    parse(text) {
sample.py:17: method parse in Parser
    def parse(text):
sample.rs:27: method parse in Parser
    pub fn parse(&self, text: &str) -> Vec<Token> {
sample.ts:25: method parse in Parser
    parse(text: string): Token[] {"
    );
    assert_eq!(out.summary, "find_symbol parse: 7 matches");

    // Go's method is `Parse`: an exact match elsewhere hides it, alone it
    // is found ignoring case and marked as such.
    assert_eq!(
        find(&fx, json!({"name": "parse", "path": "sample.go"})).await,
        "No exact match for `parse`; 1 definition matches ignoring case:\nsample.go:25: method Parse in Parser\n    func (p *Parser) Parse(text string) Tokens {"
    );
}

#[tokio::test]
async fn find_symbol_filters_by_kind_and_path() {
    let fx = samples();
    assert_eq!(
        find(&fx, json!({"name": "Parser", "kind": "struct"})).await,
        "\
2 structs of `Parser`:
sample.go:11: struct Parser
    type Parser struct {
sample.rs:9: struct Parser
    pub struct Parser {"
    );
    assert_eq!(
        find(&fx, json!({"name": "Parser", "kind": "impl"})).await,
        "\
2 impls of `Parser`:
sample.rs:22: impl Parser
    impl Parser {
sample.rs:32: impl fmt::Display for Parser
    impl fmt::Display for Parser {"
    );
    let classes = find(&fx, json!({"name": "Parser", "kind": "class"})).await;
    assert!(
        classes.starts_with("5 classes of `Parser`:\nsample.cpp:9: class Parser in text\n"),
        "{classes}"
    );
    // `fn` is accepted for `function`; `path` narrows to one file.
    assert_eq!(
        find(
            &fx,
            json!({"name": "tokenize", "kind": "fn", "path": "sample.py"})
        )
        .await,
        "1 function of `tokenize`:\nsample.py:24: function tokenize\n    def tokenize(text):"
    );
    // A qualified name picks the container.
    assert_eq!(
        find(&fx, json!({"name": "Parser.depth"})).await,
        "1 definition of `Parser.depth`:\nsample.cpp:15: method depth in Parser\n    int depth() const {"
    );
    // Nested definitions name their container.
    assert_eq!(
        find(&fx, json!({"name": "clean"})).await,
        "\
2 definitions of `clean`:
sample.js:16: function clean in tokenize
    function clean(word) {
sample.py:25: function clean in tokenize
    def clean(word):"
    );
}

#[tokio::test]
async fn find_symbol_in_a_subdirectory() {
    let fx = Fixture::new();
    git2::Repository::init(&fx.root).unwrap();
    fx.write("a/one.rs", "fn helper() {}\n");
    fx.write("b/two.go", "package b\n\nfunc helper() {}\n");
    assert_eq!(
        find(&fx, json!({"name": "helper", "path": "b"})).await,
        "1 definition of `helper`:\nb/two.go:3: function helper\n    func helper() {}"
    );
}

#[tokio::test]
async fn find_symbol_without_a_match_says_so() {
    let fx = samples();
    let out = fx.ok("find_symbol", json!({"name": "nowhere"})).await;
    assert_eq!(
        out.content,
        "No definition named `nowhere` in 8 source files under `.` (names must match exactly, or else ignoring case; hidden and .gitignore'd files are skipped). Use grep to search the text instead."
    );
    assert_eq!(out.summary, "find_symbol nowhere: no match");
    // Mentions, not definitions, do not count.
    let uses = find(&fx, json!({"name": "strings"})).await;
    assert!(uses.starts_with("No definition named `strings`"), "{uses}");
    assert_eq!(
        find(&fx, json!({"name": "tokenize", "kind": "class"})).await,
        "No class named `tokenize` under `.`, but 4 definitions of other kinds (function); call find_symbol again without `kind` to see them."
    );
}

#[tokio::test]
async fn find_symbol_rejects_bad_arguments() {
    let fx = samples();
    let err = fx
        .err("find_symbol", json!({"name": "parse", "kind": "gadget"}))
        .await;
    assert!(
        err.starts_with(
            "Invalid arguments for find_symbol: unknown kind `gadget`; use one of function, method,"
        ),
        "{err}"
    );
    let err = fx.err("find_symbol", json!({"name": "  "})).await;
    assert!(err.contains("`name` is empty"), "{err}");
    let err = fx.err("find_symbol", json!({"name": "fn parse"})).await;
    assert!(err.contains("must be one identifier"), "{err}");
    let err = fx.err("find_symbol", json!({})).await;
    assert!(err.contains("missing field `name`"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn paths_outside_the_workspace_are_refused_and_symlinks_not_followed() {
    let fx = samples();
    std::fs::write(
        fx.outside.join("evil.rs"),
        "fn parse() {}\nfn escaped() {}\n",
    )
    .unwrap();
    fx.outside_links();

    for path in [
        "../outside",
        "../outside/evil.rs",
        "linkdir",
        "linkdir/evil.rs",
    ] {
        let err = fx.err("code_outline", json!({"path": path})).await;
        assert!(err.contains("outside the workspace"), "{path}: {err}");
        let err = fx
            .err("find_symbol", json!({"name": "parse", "path": path}))
            .await;
        assert!(err.contains("outside the workspace"), "{path}: {err}");
    }
    // The walk of the workspace does not go through `linkdir`.
    let out = find(&fx, json!({"name": "escaped"})).await;
    assert!(out.starts_with("No definition named `escaped`"), "{out}");
    let out = outline(&fx, ".").await;
    assert!(!out.contains("evil") && !out.contains("escaped"), "{out}");
}

#[tokio::test]
async fn find_symbol_caps_its_matches() {
    let fx = Fixture::new();
    let many: String = (0..150).map(|_| "def dup():\n    pass\n").collect();
    fx.write("many.py", many);
    let out = find(&fx, json!({"name": "dup"})).await;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("150 definitions of `dup`:"));
    assert_eq!(out.lines().count(), 1 + 2 * 100 + 1, "{out}");
    assert!(out.contains("\nmany.py:199: function dup\n"), "{out}");
    assert!(
        out.ends_with("\n[... 50 more matches; narrow the search with `path` or `kind`]"),
        "{out}"
    );
}

#[tokio::test]
async fn directory_outline_caps_the_number_of_files() {
    let fx = Fixture::new();
    for i in 0..205 {
        fx.write(
            &format!("src/m{i:03}.go"),
            format!("package src\n\nfunc F{i}() {{}}\n"),
        );
    }
    let out = outline(&fx, "src").await;
    assert!(
        out.starts_with("src: 205 source files\n\nsrc/m000.go\n  function F0 (3-3)\n"),
        "{out}"
    );
    assert!(
        out.contains("\nsrc/m199.go\n  function F199 (3-3)\n"),
        "{out}"
    );
    assert!(!out.contains("m200"), "{out}");
    assert!(
        out.ends_with("\n[... 5 more files; outline a subdirectory or a single file to see them]"),
        "{out}"
    );
}

#[tokio::test]
async fn long_outlines_are_cut_with_a_marker() {
    let fx = Fixture::new();
    let many: String = (0..5000)
        .map(|i| format!("def function_number_{i:05}(): pass\n"))
        .collect();
    fx.write("big.py", many);
    let out = fx.ok("code_outline", json!({"path": "big.py"})).await;
    assert!(
        out.content.len() <= glint::tools::MAX_OUTPUT_BYTES,
        "{}",
        out.content.len()
    );
    assert!(out.content.starts_with(
        "big.py (Python, 5000 lines): 5000 definitions\nfunction function_number_00000 (1-1)\n"
    ));
    let last = out.content.lines().last().unwrap();
    assert!(
        last.starts_with("[... ") && last.contains(" more definitions; read_file from line "),
        "{last}"
    );
}

#[tokio::test]
async fn files_over_the_size_limit_are_skipped_with_a_note() {
    let fx = Fixture::new();
    let line = "// filler line to make the file large enough\n";
    let mut big = String::from("fn parse() {}\n");
    while big.len() <= 1024 * 1024 {
        big.push_str(line);
    }
    fx.write("big.rs", &big);
    fx.write("small.rs", "fn parse() {}\n");
    let err = fx.err("code_outline", json!({"path": "big.rs"})).await;
    assert!(
        err.starts_with("`big.rs` is 1.0 MiB, over the 1.0 MiB code_outline parses"),
        "{err}"
    );
    assert_eq!(
        outline(&fx, ".").await,
        ".: 2 source files\n\nbig.rs: skipped (1.0 MiB, over the 1.0 MiB limit)\n\nsmall.rs\n  function parse (1-1)"
    );
    assert_eq!(
        find(&fx, json!({"name": "parse"})).await,
        "1 definition of `parse`:\nsmall.rs:1: function parse\n    fn parse() {}\n(Not searched, over the 1.0 MiB limit: big.rs (1.0 MiB); use grep for those.)"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn special_files_are_not_opened() {
    let fx = Fixture::new();
    let fifo = fx.root.join("pipe.rs");
    // mkfifo(3) directly: every Unix has it, so a FIFO that cannot be made
    // is a failure, never a test that passes having checked nothing.
    let path =
        std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("no NUL in a temp path");
    // SAFETY: `path` is a valid NUL-terminated string for the call.
    let made = unsafe { libc::mkfifo(path.as_ptr(), 0o644) };
    assert_eq!(
        made,
        0,
        "cannot make a FIFO at {}: {}",
        fifo.display(),
        std::io::Error::last_os_error()
    );
    assert!(
        std::fs::symlink_metadata(&fifo).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_fifo()
        }),
        "{} is not a FIFO",
        fifo.display()
    );
    let err = fx.err("code_outline", json!({"path": "pipe.rs"})).await;
    assert!(err.contains("not a regular file"), "{err}");
    let err = fx
        .err("find_symbol", json!({"name": "x", "path": "pipe.rs"}))
        .await;
    assert!(err.contains("not a regular file"), "{err}");
    // A directory walk passes it by.
    fx.write("ok.rs", "fn x() {}\n");
    assert_eq!(
        find(&fx, json!({"name": "x"})).await,
        "1 definition of `x`:\nok.rs:1: function x\n    fn x() {}"
    );
}
