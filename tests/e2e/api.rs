//! Contract versions: a plugin built against API 0.1.0 keeps loading and
//! running on this 0.2.0 host, through the same grant checks and audit; a
//! plugin for a future version is refused naming both.

use crate::{Env, LEGACY01, first_note, report};
use serde_json::json;

#[test]
fn a_plugin_built_against_0_1_runs_and_its_denied_call_is_denied_and_audited() {
    let env = Env::new();
    let inspect = env.run(&["plugin", "inspect", LEGACY01, "--json"]);
    inspect.expect(0);
    let info: serde_json::Value = serde_json::from_str(&inspect.stdout).expect("JSON");
    assert_eq!(info["api"], "0.1.0", "{}", inspect.stdout);

    let data = env.write(
        "task.json",
        &json!({"argv": [["echo", "hello"], ["cat", "/etc/hostname"]]}).to_string(),
    );
    // `cat` is granted only for /dev/null: the 0.1 plugin's cat of
    // /etc/hostname must be denied exactly as a 0.2 plugin's would.
    let ran = env.run(&[
        "run",
        LEGACY01,
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
        "--allow-backend",
        "local",
        "--allow-exec",
        "echo **",
        "--allow-exec",
        "cat /dev/null",
    ]);
    ran.expect(100);
    let r = report(&ran);
    assert_eq!(r["status"], "success", "{}", ran.stdout);
    assert_eq!(first_note(&r), "ran: hello");
    let denied = r["results"][1]["note"].as_str().unwrap_or_default();
    assert!(
        denied.starts_with(
            "access-denied: plugin 'legacy01' may not run `cat /etc/hostname`: declared but not granted"
        ),
        "{denied}"
    );
    assert_eq!(r["results"][1]["outcome"], "FAILED");
    let stored: Vec<_> = env
        .artifacts()
        .into_iter()
        .filter(|a| a["category"] == "test:legacy")
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");

    let run_id = r["run_id"].as_str().expect("run id");
    let audit = env.run(&["audit", run_id]);
    audit.expect(0);
    assert!(
        audit
            .stdout
            .lines()
            .any(|l| l.contains("allow  exec") && l.contains("--allow-exec 'echo **'")),
        "{}",
        audit.stdout
    );
    let audit = env.run(&["audit", run_id, "--denied"]);
    audit.expect(0);
    let lines: Vec<&str> = audit.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", audit.stdout);
    assert!(
        lines[0].contains("DENY   exec") && lines[0].contains(r#"["cat","/etc/hostname"]"#),
        "{}",
        lines[0]
    );
}

#[test]
fn a_0_1_plugin_is_refused_before_it_starts_like_any_other() {
    let env = Env::new();
    let data = env.write("task.json", &json!({"argv": [["echo", "x"]]}).to_string());
    let ran = env.run(&[
        "run",
        LEGACY01,
        "--data",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
        "--allow-backend",
        "local",
        "--allow-exec",
        "echo **",
    ]);
    ran.expect(3);
    let error = report(&ran)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("plugin 'legacy01' may not run `cat **`: declared but not granted"),
        "{error}"
    );
}
