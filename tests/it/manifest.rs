//! `manifest.yaml` and `greenlight manifest --url`.

use serde_yaml_ng::Value;

const URL: &str = "https://abc123.lambda-url.eu-west-1.on.aws/";

fn rendered() -> Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .args(["manifest", "--url", URL])
        .output()
        .expect("run greenlight");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_yaml_ng::from_slice(&output.stdout).expect("the printed manifest is YAML")
}

#[test]
fn the_manifest_declares_the_command_interactivity_and_only_the_scopes_used() {
    let manifest = rendered();
    assert_eq!(manifest["_metadata"]["major_version"], Value::from(1));
    assert_eq!(
        manifest["display_information"]["name"],
        Value::from("greenlight")
    );
    assert_eq!(
        manifest["features"]["bot_user"]["display_name"],
        Value::from("greenlight")
    );
    let command = &manifest["features"]["slash_commands"][0];
    assert_eq!(command["command"], Value::from("/deploy"));
    assert_eq!(
        command["url"],
        Value::from("https://abc123.lambda-url.eu-west-1.on.aws/slack/commands")
    );
    assert!(
        command["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert!(
        command["usage_hint"]
            .as_str()
            .is_some_and(|h| h.contains("approve"))
    );
    let interactivity = &manifest["settings"]["interactivity"];
    assert_eq!(interactivity["is_enabled"], Value::from(true));
    assert_eq!(
        interactivity["request_url"],
        Value::from("https://abc123.lambda-url.eu-west-1.on.aws/slack/interactions")
    );
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_sequence()
        .expect("bot scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        scopes,
        [
            "chat:write",
            "commands",
            "usergroups:read",
            "users:read",
            "users:read.email"
        ]
    );
    assert_eq!(
        manifest["settings"]["socket_mode_enabled"],
        Value::from(false)
    );
    let text = serde_yaml_ng::to_string(&manifest).expect("yaml");
    assert!(
        !text.contains("GREENLIGHT_URL"),
        "every placeholder is filled in"
    );
}

#[test]
fn a_non_https_url_is_refused() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .args(["manifest", "--url", "http://localhost:3000"])
        .output()
        .expect("run greenlight");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an https URL"));
}
