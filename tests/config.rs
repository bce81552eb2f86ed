//! Config files and `-c`: keys checked, errors naming file and key, and the
//! order in which settings win.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Output, Stdio};

use glint::cli::{NetworkMode, SandboxMode};
use glint::config::Config;
use glint::engine::local::{DeviceChoice, IsqChoice};

use common::headless::stderr;
use common::{Sandbox, glint, model_arg};

#[test]
fn every_key_is_read_from_a_file() {
    let mut config = Config::default();
    config
        .merge_file(
            "test.toml",
            r#"
model = "zai-org/GLM-4.7-Flash"
base_url = "http://localhost:8000/v1"
device = "cuda:1"
isq = "q4k"
max_context = 65536
max_turns = 80
thinking = false
sandbox = "off"
network = "on"

[sampling]
temperature = 0.2
top_p = 0.95
max_tokens = 4096

[shell]
env_pass = ["PATH", "CARGO_*"]
allow_background = true
"#,
        )
        .expect("valid config");
    assert_eq!(
        config,
        Config {
            model: Some("zai-org/GLM-4.7-Flash".into()),
            base_url: Some("http://localhost:8000/v1".into()),
            device: Some(DeviceChoice::Cuda(1)),
            isq: Some(IsqChoice::Q4k),
            max_context: Some(65536),
            max_turns: Some(80),
            thinking: Some(false),
            temperature: Some(0.2),
            top_p: Some(0.95),
            max_tokens: Some(4096),
            sandbox: Some(SandboxMode::Off),
            network: Some(true),
            env_pass: Some(vec!["PATH".into(), "CARGO_*".into()]),
            allow_background: Some(true),
            ..Config::default()
        }
    );
}

#[test]
fn unknown_keys_and_bad_values_name_the_file_and_the_key() {
    let cases = [
        ("modle = \"x\"", "unknown key `modle`"),
        (
            "[sampling]\ntemprature = 0.2",
            "unknown key `sampling.temprature`",
        ),
        ("[shel]\nallow_background = true", "unknown key `shel`"),
        (
            "sandbox = \"workspace_write\"",
            "`sandbox` must be \"workspace-write\" or \"off\"",
        ),
        (
            "sampling.temperature = 3.5",
            "`sampling.temperature` must be a number from 0 to 2",
        ),
        (
            "max_context = 10",
            "`max_context` must be a number of tokens, at least 256",
        ),
        ("max_turns = \"many\"", "`max_turns` must be a whole number"),
        ("device = \"gpu\"", "`device` must be one of"),
        ("network = \"maybe\"", "`network` must be \"on\" or \"off\""),
        (
            "[shell]\nenv_pass = \"PATH\"",
            "`shell.env_pass` must be a list",
        ),
        (
            "base_url = \"localhost:8000\"",
            "`base_url` must be the URL",
        ),
        ("model = \"\"", "`model` must be"),
    ];
    for (text, expected) in cases {
        let error = Config::default()
            .merge_file("/home/u/.config/glint/config.toml", text)
            .expect_err(text)
            .to_string();
        assert!(
            error.starts_with("/home/u/.config/glint/config.toml: "),
            "{text}: {error}"
        );
        assert!(error.contains(expected), "{text}: {error}");
        assert!(!error.contains('\n'), "{text}: not one line: {error}");
    }
}

#[test]
fn a_toml_syntax_error_is_one_line_with_its_line_number() {
    let error = Config::default()
        .merge_file("p.toml", "model = \"a\"\nsandbox = \n")
        .expect_err("broken TOML")
        .to_string();
    assert!(error.starts_with("p.toml: not valid TOML: "), "{error}");
    assert!(error.contains("(line 2)"), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn overrides_take_toml_values_or_bare_strings() {
    let mut config = Config::default();
    config.merge_override("sampling.temperature=0.3").unwrap();
    config
        .merge_override("model=zai-org/GLM-4.7-Flash")
        .unwrap();
    config.merge_override("shell.env_pass=[\"HOME\"]").unwrap();
    config.merge_override("network=on").unwrap();
    assert_eq!(config.temperature, Some(0.3));
    assert_eq!(config.model.as_deref(), Some("zai-org/GLM-4.7-Flash"));
    assert_eq!(config.env_pass, Some(vec!["HOME".to_string()]));
    assert_eq!(config.network, Some(true));

    let error = config
        .merge_override("temperature=0.3")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error.split(';').next(),
        Some("-c temperature=0.3: unknown key `temperature`")
    );
    let error = config
        .merge_override("sampling.top_p")
        .unwrap_err()
        .to_string();
    assert!(error.contains("give KEY=VALUE"), "{error}");
}

#[test]
fn later_layers_win_key_by_key() {
    let mut config = Config::default();
    config
        .merge_file(
            "user",
            "model = \"a\"\n[sampling]\ntemperature = 0.1\ntop_p = 0.5",
        )
        .unwrap();
    config
        .merge_file("project", "[sampling]\ntemperature = 0.9")
        .unwrap();
    assert_eq!(config.model.as_deref(), Some("a"));
    assert_eq!(config.temperature, Some(0.9));
    assert_eq!(config.top_p, Some(0.5));
}

// ---- the binary: files found where the README says, and what wins ----

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, text).expect("write config");
}

fn run_with_user_config(sandbox: &Sandbox, user_dir: &Path, args: &[&str]) -> Output {
    glint(&sandbox.workspace())
        .env("XDG_CONFIG_HOME", user_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("glint runs")
}

#[test]
fn a_bad_config_file_stops_glint_naming_the_file_and_key() {
    // (the file, relative to the sandbox; its text; what the error names)
    for (file, text, names) in [
        (
            "ws/.glint/config.toml",
            "[sampling]\ntemperature = \"hot\"\n",
            [".glint/config.toml", "`sampling.temperature`"],
        ),
        (
            "xdg/glint/config.toml",
            "sandbox = \"off\"\nnetwrok = true\n",
            ["xdg/glint/config.toml", "unknown key `netwrok`"],
        ),
    ] {
        let sandbox = Sandbox::create();
        let user = sandbox.outside("xdg");
        write(&sandbox.dir.path().join(file), text);
        let model = model_arg("read_then_answer.json");
        let output = run_with_user_config(&sandbox, &user, &["--task", "hi", "--model", &model]);
        assert_eq!(output.status.code(), Some(2), "{file}: {}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{file}: {err}");
        for name in names {
            assert!(err.contains(name), "{file}: {err}");
        }
    }
}

#[test]
fn the_project_config_chooses_the_model_and_a_flag_overrides_it() {
    let sandbox = Sandbox::create();
    let user = sandbox.outside("xdg");
    // The user's config names a script that does not exist; the project's
    // names a real one and wins.
    write(
        &user.join("glint/config.toml"),
        "model = \"script:/nonexistent/user.json\"\n",
    );
    write(
        &sandbox.workspace().join(".glint/config.toml"),
        &format!("model = \"{}\"\n", model_arg("read_then_answer.json")),
    );
    let output = run_with_user_config(&sandbox, &user, &["--task", "What do the notes say?"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("4242"));

    // -c beats both files.
    let output = run_with_user_config(
        &sandbox,
        &user,
        &[
            "--task",
            "hi",
            "-c",
            "model=script:/nonexistent/override.json",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("override.json"),
        "{}",
        stderr(&output)
    );

    // A flag beats -c.
    let output = run_with_user_config(
        &sandbox,
        &user,
        &[
            "--task",
            "What do the notes say?",
            "-c",
            "model=script:/nonexistent/override.json",
            "--model",
            &model_arg("read_then_answer.json"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn network_flag_and_config_resolve_in_order() {
    use clap::{CommandFactory, FromArgMatches};
    use glint::cli::Cli;
    let resolve = |argv: &[&str], config: &Config| {
        let matches = Cli::command().get_matches_from(argv);
        let mut cli = Cli::from_arg_matches(&matches).expect("parses");
        cli.run.apply_config(config, &matches);
        cli.run
    };
    let mut config = Config::default();
    config.merge_file("f", "network = \"on\"\nsandbox = \"off\"\n[shell]\nenv_pass = [\"PATH\"]\nallow_background = true").unwrap();
    let args = resolve(&["glint"], &config);
    assert_eq!(args.network, NetworkMode::On);
    assert_eq!(args.sandbox, SandboxMode::Off);
    let policy = args.shell_policy();
    assert!(policy.network && policy.allow_background);
    assert_eq!(policy.env.pass, Some(vec!["PATH".to_string()]));

    let args = resolve(
        &["glint", "--network", "off", "--sandbox", "workspace-write"],
        &config,
    );
    assert_eq!(args.network, NetworkMode::Off);
    assert_eq!(args.sandbox, SandboxMode::WorkspaceWrite);

    let args = resolve(&["glint"], &Config::default());
    assert_eq!(args.network, NetworkMode::Off);
    assert!(!args.shell_policy().allow_background);
}

#[test]
fn the_later_keys_are_read_and_checked() {
    use glint::approval::ApprovalPolicy;
    let mut config = Config::default();
    config
        .merge_file(
            "f.toml",
            r#"
sandbox = "workspace-write"
approval = "auto-edit"
check_command = "cargo check --message-format short"
check_timeout_s = 90

[shell]
writable_roots = ["/tmp"]

[agent]
doom_loop_threshold = 4
max_retries = 1

[http]
idle_timeout_s = 30
"#,
        )
        .expect("valid config");
    assert_eq!(config.sandbox, Some(SandboxMode::WorkspaceWrite));
    assert_eq!(config.approval, Some(ApprovalPolicy::AutoEdit));
    assert_eq!(
        config.check_command.as_deref(),
        Some("cargo check --message-format short")
    );
    assert_eq!(config.check_timeout_s, Some(90));
    assert_eq!(config.writable_roots.as_ref().map(Vec::len), Some(1));
    assert_eq!(config.doom_loop_threshold, Some(4));
    assert_eq!(config.max_retries, Some(1));
    assert_eq!(config.http_idle_timeout_s, Some(30));

    for (text, key) in [
        ("approval = \"ask\"", "`approval`"),
        ("check_timeout_s = 0", "`check_timeout_s`"),
        ("check_timeout_s = 241", "`check_timeout_s`"),
        (
            "agent.doom_loop_threshold = 1",
            "`agent.doom_loop_threshold`",
        ),
        ("agent.max_retries = -1", "`agent.max_retries`"),
        ("http.idle_timeout_s = 0", "`http.idle_timeout_s`"),
        ("shell.writable_roots = \"/tmp\"", "`shell.writable_roots`"),
    ] {
        let error = Config::default()
            .merge_file("f.toml", text)
            .expect_err(text)
            .to_string();
        assert!(error.starts_with("f.toml: "), "{text}: {error}");
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn the_http_idle_timeout_reaches_the_engine_options() {
    use clap::{CommandFactory, FromArgMatches};
    use glint::cli::Cli;
    let matches = Cli::command().get_matches_from(["glint"]);
    let mut cli = Cli::from_arg_matches(&matches).expect("parses");
    assert_eq!(cli.run.open_options().http_idle_timeout, None);
    let mut config = Config::default();
    config.merge_override("http.idle_timeout_s=7").unwrap();
    cli.run.apply_config(&config, &matches);
    assert_eq!(
        cli.run.open_options().http_idle_timeout,
        Some(std::time::Duration::from_secs(7))
    );
}
