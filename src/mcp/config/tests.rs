//! Config entries: parsing, merging, and the one-line errors.

use super::*;

fn parse(origin: &str, text: &str, servers: &mut McpServers) -> Result<(), McpConfigError> {
    let table: toml::Table = text.parse().expect("test TOML");
    for (key, value) in &table {
        if let Some(result) = servers.set_key(origin, key, value) {
            result?;
        }
    }
    Ok(())
}

#[test]
fn codex_shaped_entries_parse() {
    let mut servers = McpServers::default();
    parse(
        "a.toml",
        r#"
        [mcp_servers.time]
        command = "mcp-server-time"
        args = ["--local-timezone", "Etc/UTC"]
        env = { TZ = "UTC" }
        startup_timeout_sec = 2.5
        tool_timeout_sec = 30
        disabled_tools = ["convert_time"]

        [mcp_servers.remote]
        url = "https://example.com/mcp"
        bearer_token_env_var = "REMOTE_TOKEN"
        enabled = false
        "#,
        &mut servers,
    )
    .unwrap();
    let list = servers.servers().unwrap();
    assert_eq!(list.len(), 2);
    let remote = &list[0];
    assert_eq!(remote.name, "remote");
    assert!(!remote.enabled);
    assert!(
        matches!(&remote.transport, Transport::Http { bearer_token_env_var: Some(v), .. } if v == "REMOTE_TOKEN")
    );
    let time = &list[1];
    assert_eq!(time.startup_timeout, Duration::from_millis(2500));
    assert_eq!(time.tool_timeout, Duration::from_secs(30));
    assert!(time.offers("get_current_time"));
    assert!(!time.offers("convert_time"));
    match &time.transport {
        Transport::Stdio {
            command, args, env, ..
        } => {
            assert_eq!(command, "mcp-server-time");
            assert_eq!(args, &["--local-timezone", "Etc/UTC"]);
            assert_eq!(env.get("TZ").map(String::as_str), Some("UTC"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn later_files_win_key_by_key() {
    let mut servers = McpServers::default();
    parse(
        "user.toml",
        "[mcp_servers.t]\ncommand = \"a\"\nargs = [\"x\"]",
        &mut servers,
    )
    .unwrap();
    parse(
        "project.toml",
        "[mcp_servers.t]\ncommand = \"b\"",
        &mut servers,
    )
    .unwrap();
    let value = Value::Boolean(false);
    servers
        .set_key("-c", "mcp_servers.t.enabled", &value)
        .unwrap()
        .unwrap();
    let list = servers.servers().unwrap();
    assert!(!list[0].enabled);
    assert!(
        matches!(&list[0].transport, Transport::Stdio { command, args, .. } if command == "b" && args == &["x"])
    );
}

#[test]
fn bad_entries_name_the_file_and_the_server() {
    let cases = [
        ("[mcp_servers.t]\ncommand = 3", "`command` must be"),
        ("[mcp_servers.t]\ncomand = \"x\"", "unknown key `comand`"),
        ("[mcp_servers.t]\nargs = [\"a\"]", "needs `command`"),
        (
            "[mcp_servers.t]\ncommand = \"a\"\nurl = \"http://x\"",
            "both `command` and `url`",
        ),
        (
            "[mcp_servers.t]\nurl = \"http://x\"\nargs = []",
            "apply to a `command` server",
        ),
        (
            "[mcp_servers.t]\ncommand = \"a\"\ntool_timeout_sec = 0",
            "above 0",
        ),
        ("mcp_servers = 3", "must be a table of servers"),
        ("[mcp_servers.\"a b\"]\ncommand = \"a\"", "server name"),
    ];
    for (text, expected) in cases {
        let mut servers = McpServers::default();
        let error = parse("/p/config.toml", text, &mut servers)
            .and_then(|()| servers.servers().map(|_| ()))
            .expect_err(text)
            .to_string();
        assert!(error.starts_with("/p/config.toml: "), "{error}");
        assert!(error.contains(expected), "{text}: {error}");
        assert!(!error.contains('\n'), "{error}");
        if !text.starts_with("mcp_servers =") {
            assert!(error.contains("[mcp_servers."), "{error}");
        }
    }
}
