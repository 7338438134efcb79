use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::*;

fn argv(s: &str) -> Vec<String> {
    shell_words::split(s).expect("test argv")
}

fn pat(s: &str) -> ExecPattern {
    ExecPattern::parse(s).expect("test pattern")
}

fn prefix(s: &str) -> UrlPrefix {
    UrlPrefix::parse(s).expect("test prefix")
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("test url")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const POLICY_PATH: &str = "/etc/taskhost/policy.toml";

fn policy(text: &str) -> Policy {
    Policy::from_toml(text, Path::new(POLICY_PATH)).expect("test policy")
}

fn blhc_declared() -> Declared {
    Declared {
        lookups: Vec::new(),
        collections: Vec::new(),
        submit: Vec::new(),
        exec: vec![pat("blhc --debian **")],
        backends: strings(&["local", "unshare"]),
        env: strings(&["LANG"]),
        urls: vec![prefix("https://deb.debian.org/debian/")],
    }
}

const BLHC_POLICY: &str = r#"
[plugins.blhc]
exec = ["blhc --debian **"]
backends = ["local", "unshare"]
env = ["LANG"]
urls = ["https://deb.debian.org/debian/"]
"#;

fn effective(text: &str, overrides: &Overrides) -> Effective {
    let p = policy(text);
    let grants = p.grants_for("blhc", overrides);
    Effective::new(
        "blhc",
        blhc_declared(),
        grants,
        p.source().map(Path::to_path_buf),
    )
}

// ---- exec patterns ----

#[test]
fn literal_pattern_matches_only_the_exact_argv() {
    let p = pat("blhc --debian build.log");
    assert!(p.matches(&argv("blhc --debian build.log")));
    assert!(!p.matches(&argv("blhc --debian other.log")));
    assert!(!p.matches(&argv("blhc --debian")));
    assert!(!p.matches(&argv("blhc --debian build.log extra")));
    assert!(!p.matches(&[]));
}

#[test]
fn star_matches_exactly_one_argument() {
    let p = pat("cp * /tmp/out");
    assert!(p.matches(&argv("cp anything /tmp/out")));
    assert!(!p.matches(&argv("cp /tmp/out")));
    assert!(!p.matches(&argv("cp a b /tmp/out")));
}

#[test]
fn star_does_not_match_zero_arguments() {
    let p = pat("ls *");
    assert!(!p.matches(&argv("ls")));
    assert!(p.matches(&argv("ls -l")));
}

#[test]
fn double_star_matches_zero_or_more_trailing_arguments() {
    let p = pat("blhc --debian **");
    assert!(p.matches(&argv("blhc --debian")));
    assert!(p.matches(&argv("blhc --debian a")));
    assert!(p.matches(&argv("blhc --debian a b c")));
    assert!(!p.matches(&argv("blhc --all")));
    assert!(!p.matches(&argv("blhc")));
}

#[test]
fn double_star_in_the_middle_is_rejected() {
    let err = ExecPattern::parse("blhc ** --debian")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`**` is only allowed as the last token"),
        "{err}"
    );
    assert!(ExecPattern::from_tokens(strings(&["a", "**", "b"])).is_err());
}

#[test]
fn program_must_be_a_non_empty_literal() {
    assert!(ExecPattern::parse("").is_err());
    assert!(ExecPattern::parse("* foo").is_err());
    assert!(ExecPattern::parse("**").is_err());
    assert!(ExecPattern::parse("''").is_err());
    assert!(ExecPattern::from_tokens(vec![]).is_err());
}

#[test]
fn unbalanced_quotes_are_rejected() {
    let err = ExecPattern::parse("sh -c 'echo").unwrap_err().to_string();
    assert!(err.contains("invalid exec pattern"), "{err}");
}

#[test]
fn program_is_matched_literally_without_path_lookup() {
    let p = pat("blhc **");
    assert!(!p.matches(&argv("/usr/bin/blhc")));
    assert_eq!(p.program(), "blhc");
}

#[test]
fn quoted_tokens_stay_single_arguments() {
    let p = pat("sh -c 'echo hi'");
    assert!(p.matches(&strings(&["sh", "-c", "echo hi"])));
    assert!(!p.matches(&strings(&["sh", "-c", "echo", "hi"])));
    assert_eq!(
        p,
        ExecPattern::from_tokens(strings(&["sh", "-c", "echo hi"])).unwrap()
    );
}

#[test]
fn escaped_star_matches_a_literal_star() {
    let p = pat(r"find . -name '\*'");
    assert!(p.matches(&strings(&["find", ".", "-name", "*"])));
    assert!(!p.matches(&strings(&["find", ".", "-name", "x"])));
}

#[test]
fn display_round_trips_through_parse() {
    for text in [
        "blhc --debian **",
        "sh -c 'echo hi'",
        "cp * '/tmp/a b'",
        r"find -name '\*' **",
        "x '' y",
    ] {
        let p = pat(text);
        let shown = p.to_string();
        assert_eq!(pat(&shown), p, "{text} -> {shown}");
    }
    assert_eq!(pat("blhc --debian **").to_string(), "blhc --debian **");
    let odd = ExecPattern::from_tokens(strings(&["p", "*", r"\*", r"\\**", "it's"])).unwrap();
    assert_eq!(pat(&odd.to_string()), odd);
}

// ---- URL prefixes ----

#[test]
fn url_prefix_matches_its_path_and_below() {
    let p = prefix("https://koji.example.org/kojihub");
    assert!(p.matches(&url("https://koji.example.org/kojihub")));
    assert!(p.matches(&url("https://koji.example.org/kojihub/x?y=1")));
    assert!(p.matches(&url("https://KOJI.example.org:443/kojihub/")));
}

#[test]
fn url_prefix_respects_path_segment_boundaries() {
    let p = prefix("https://koji.example.org/kojihub");
    assert!(!p.matches(&url("https://koji.example.org/kojihubx")));
    assert!(!p.matches(&url("https://koji.example.org/")));
    assert!(!p.matches(&url("https://koji.example.org/kojihub/../etc")));
}

#[test]
fn url_prefix_with_trailing_slash_still_matches_the_directory() {
    let p = prefix("https://deb.debian.org/debian/");
    assert!(p.matches(&url("https://deb.debian.org/debian")));
    assert!(p.matches(&url("https://deb.debian.org/debian/pool/main")));
    assert!(!p.matches(&url("https://deb.debian.org/debian-security/")));
    assert_eq!(p.to_string(), "https://deb.debian.org/debian/");
}

#[test]
fn url_prefix_refuses_lookalike_hosts() {
    let p = prefix("https://koji.example.org/kojihub");
    assert!(!p.matches(&url("https://koji.example.org.evil.com/kojihub")));
    assert!(!p.matches(&url("https://evilkoji.example.org/kojihub")));
    assert!(!p.matches(&url("https://sub.koji.example.org/kojihub")));
}

#[test]
fn url_prefix_refuses_another_scheme() {
    let p = prefix("https://koji.example.org/kojihub");
    assert!(!p.matches(&url("http://koji.example.org/kojihub")));
}

#[test]
fn url_prefix_refuses_another_port() {
    let p = prefix("https://koji.example.org/kojihub");
    assert!(!p.matches(&url("https://koji.example.org:8443/kojihub")));
    let q = prefix("http://localhost:8080/");
    assert!(q.matches(&url("http://localhost:8080/a")));
    assert!(!q.matches(&url("http://localhost/a")));
}

#[test]
fn url_prefix_refuses_userinfo() {
    let p = prefix("https://koji.example.org/kojihub");
    assert!(!p.matches(&url("https://user@koji.example.org/kojihub")));
    assert!(!p.matches(&url("https://user:pw@koji.example.org/kojihub")));
    assert!(!p.matches(&url("https://:pw@koji.example.org/kojihub")));
}

#[test]
fn url_prefix_parse_rejects_bad_prefixes() {
    for bad in [
        "koji.example.org/kojihub",
        "https://user@koji.example.org/",
        "https://koji.example.org/?q=1",
        "https://koji.example.org/#frag",
        "mailto:someone@example.org",
        "not a url",
    ] {
        assert!(UrlPrefix::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn url_prefix_parse_rejects_bad_file_and_wildcard_prefixes() {
    for bad in [
        "file://host/usr/share/keyrings/",
        "file://:*/x",
        "http://*.example.org/",
        "http://127.0.0.1:*/?q=1",
        "http://user@127.0.0.1:*/",
        "http://:*/",
        "https://*.debian.org/",
        "https://*:8443/",
        "https://d*/",
    ] {
        assert!(UrlPrefix::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn file_url_prefix_matches_files_under_its_directory() {
    let p = prefix("file:///usr/share/keyrings/");
    assert_eq!(p.to_string(), "file:///usr/share/keyrings/");
    assert!(p.matches(&url(
        "file:///usr/share/keyrings/debian-archive-keyring.gpg"
    )));
    assert!(p.matches(&url("file:///usr/share/keyrings")));
    assert!(p.matches(&url("file://localhost/usr/share/keyrings/x.gpg")));
    assert!(!p.matches(&url("file:///usr/share/keyrings-evil/x.gpg")));
    assert!(!p.matches(&url("file:///usr/share/keyrings/../../../etc/passwd")));
    assert!(!p.matches(&url("file:///etc/passwd")));
    assert!(!p.matches(&url("file://evil.example/usr/share/keyrings/x.gpg")));
    assert!(!p.matches(&url("http://localhost/usr/share/keyrings/x.gpg")));
    // An http prefix never matches a file URL with the same path.
    assert!(!prefix("http://localhost/usr/").matches(&url("file:///usr/share/keyrings/x")));
    assert_eq!(
        prefix("file://localhost/usr/share/"),
        prefix("file:///usr/share/")
    );
}

#[test]
fn file_url_prefix_covers_subdirectories_only() {
    let p = prefix("file:///usr/share/");
    assert!(p.covers(&prefix("file:///usr/share/keyrings/")));
    assert!(p.covers(&prefix("file:///usr/share")));
    assert!(!p.covers(&prefix("file:///usr/")));
    assert!(!p.covers(&prefix("file:///usr/shared/")));
    assert!(!p.covers(&prefix("http://localhost/usr/share/")));
    assert!(!prefix("http://localhost/usr/share/").covers(&p));
}

#[test]
fn url_prefix_with_any_port_matches_every_port_of_its_host_only() {
    let p = prefix("http://127.0.0.1:*/files/");
    assert_eq!(p.to_string(), "http://127.0.0.1:*/files/");
    assert_eq!(prefix(&p.to_string()), p);
    assert!(p.matches(&url("http://127.0.0.1:8080/files/a")));
    assert!(p.matches(&url("http://127.0.0.1/files/a")));
    assert!(!p.matches(&url("http://127.0.0.1:8080/filesx")));
    assert!(!p.matches(&url("http://127.0.0.2:8080/files/a")));
    assert!(!p.matches(&url("http://127.0.0.1.evil.test:8080/files/a")));
    assert!(!p.matches(&url("https://127.0.0.1:8080/files/a")));
    assert!(!p.matches(&url("http://u:p@127.0.0.1:8080/files/a")));
    let v6 = prefix("http://[::1]:*/");
    assert_eq!(v6.to_string(), "http://[::1]:*/");
    assert!(v6.matches(&url("http://[::1]:8080/x")));
    // Without `:*` the port is still compared.
    assert!(!prefix("http://127.0.0.1/").matches(&url("http://127.0.0.1:8080/a")));
}

#[test]
fn url_prefix_with_any_port_covers_each_port_but_not_the_reverse() {
    let any = prefix("http://127.0.0.1:*/");
    let one = prefix("http://127.0.0.1:8080/files/");
    assert!(any.covers(&one));
    assert!(any.covers(&prefix("http://127.0.0.1/")));
    assert!(any.covers(&prefix("http://127.0.0.1:*/files/")));
    assert!(!one.covers(&any));
    assert!(!prefix("http://127.0.0.1/").covers(&any));
    assert!(!any.covers(&prefix("http://localhost:8080/")));
}

#[test]
fn url_prefix_with_any_host_matches_every_host_of_its_scheme() {
    let p = prefix("https://*/");
    assert_eq!(p.to_string(), "https://*/");
    assert_eq!(prefix(&p.to_string()), p);
    assert!(p.matches(&url("https://deb.debian.org/debian/dists/x")));
    assert!(p.matches(&url("https://127.0.0.1:8443/k.asc")));
    assert!(!p.matches(&url("http://deb.debian.org/")));
    assert!(!p.matches(&url("https://u:p@deb.debian.org/")));
    assert!(!p.matches(&url("file:///etc/passwd")));
    let under = prefix("https://*/debian/");
    assert!(under.matches(&url("https://a.example/debian/pool")));
    assert!(!under.matches(&url("https://a.example/debian-evil/")));
    // It covers any host of the scheme; no single host covers it.
    assert!(p.covers(&prefix("https://deb.debian.org/debian/")));
    assert!(p.covers(&prefix("https://127.0.0.1:*/")));
    assert!(p.covers(&under));
    assert!(!under.covers(&p));
    assert!(!p.covers(&prefix("http://deb.debian.org/")));
    assert!(!prefix("https://deb.debian.org/").covers(&p));
    assert!(!prefix("https://deb.debian.org:*/").covers(&p));
}

#[test]
fn a_host_wildcard_declaration_allows_only_the_granted_hosts() {
    let declared = Declared {
        urls: vec![prefix("http://*/"), prefix("https://*/")],
        ..Declared::default()
    };
    let p = policy(
        r#"[plugins.f]
urls = ["http://mirror.example/debian/"]"#,
    );
    let e = Effective::new(
        "f",
        declared,
        p.grants_for("f", &Overrides::default()),
        None,
    );
    // A `*` host names nothing to grant up front: the preflight passes
    // and each URL is checked as it is used.
    assert!(e.preflight(&[]).is_ok());
    assert!(
        e.check_url(&url("http://mirror.example/debian/dists/x"))
            .is_ok()
    );
    let d = e
        .check_url(&url("http://other.example/debian/"))
        .unwrap_err();
    assert_eq!(d.subject, "http://other.example/debian/");
    assert!(
        d.hint
            .is_some_and(|h| h.contains("urls = [\"http://other.example/\"]"))
    );
    assert!(e.check_url(&url("http://mirror.example/other")).is_err());
}

#[test]
fn url_checks_on_file_urls_and_any_port_grants() {
    let declared = Declared {
        urls: vec![
            prefix("file:///usr/share/keyrings/"),
            prefix("http://127.0.0.1:*/"),
        ],
        ..Declared::default()
    };
    let p = policy(
        r#"[plugins.f]
urls = ["file:///usr/share/keyrings/", "http://127.0.0.1:4242/files/"]
deny-urls = ["file:///usr/share/keyrings/private/"]"#,
    );
    let e = Effective::new(
        "f",
        declared,
        p.grants_for("f", &Overrides::default()),
        None,
    );
    assert!(e.preflight(&[]).is_ok());
    assert!(
        e.check_url(&url("file:///usr/share/keyrings/a.gpg"))
            .is_ok()
    );
    assert!(e.check_url(&url("http://127.0.0.1:4242/files/a")).is_ok());
    let d = e.check_url(&url("file:///etc/passwd")).unwrap_err();
    assert!(d.reason.starts_with("not declared"), "{d}");
    let d = e
        .check_url(&url("file:///usr/share/keyrings/private/k.gpg"))
        .unwrap_err();
    assert!(d.reason.starts_with("denied by deny-urls"), "{d}");
    // Declared with any port, granted on one port: other ports are refused.
    let d = e
        .check_url(&url("http://127.0.0.1:4243/files/a"))
        .unwrap_err();
    assert_eq!(d.reason, "declared but not granted", "{d}");
    let d = e
        .check_url(&url("http://127.0.0.1:4242/other"))
        .unwrap_err();
    assert_eq!(d.reason, "declared but not granted", "{d}");
}

// ---- effective grants: exec ----

#[test]
fn granted_and_declared_command_is_allowed() {
    let e = effective(BLHC_POLICY, &Overrides::default());
    assert!(e.check_exec(&argv("blhc --debian build.log")).is_ok());
    assert!(e.preflight(&[]).is_ok());
}

#[test]
fn undeclared_program_is_denied() {
    let e = effective(BLHC_POLICY, &Overrides::default());
    let d = e.check_exec(&argv("cat /etc/passwd")).unwrap_err();
    assert_eq!(
        d.to_string(),
        "plugin 'blhc' may not run `cat /etc/passwd`: not declared in its manifest (declared: `blhc --debian **`)"
    );
    assert_eq!(d.capability, "exec");
    assert_eq!(d.hint, None);
}

#[test]
fn arguments_outside_the_declared_pattern_are_denied() {
    let e = effective(
        r#"[plugins.blhc]
exec = ["blhc **"]"#,
        &Overrides::default(),
    );
    let d = e.check_exec(&argv("blhc --all build.log")).unwrap_err();
    assert!(d.reason.starts_with("not declared in its manifest"), "{d}");
}

#[test]
fn empty_argv_is_denied() {
    let e = effective(BLHC_POLICY, &Overrides::default());
    let d = e.check_exec(&[]).unwrap_err();
    assert_eq!(d.reason, "empty command line");
}

#[test]
fn declared_but_not_granted_command_is_denied_with_a_policy_hint() {
    let e = effective("", &Overrides::default());
    let d = e.check_exec(&argv("blhc --debian x.log")).unwrap_err();
    assert_eq!(
        d.to_string(),
        "plugin 'blhc' may not run `blhc --debian x.log`: declared but not granted; to grant it add to \
         /etc/taskhost/policy.toml:\n  [plugins.blhc]\n  exec = [\"blhc --debian **\"]\n or pass \
         --allow-exec 'blhc --debian **'"
    );
}

#[test]
fn granted_pattern_narrower_than_declared_still_limits_the_command() {
    let e = effective(
        r#"[plugins.blhc]
exec = ["blhc --debian build.log"]"#,
        &Overrides::default(),
    );
    assert!(e.check_exec(&argv("blhc --debian build.log")).is_ok());
    let d = e.check_exec(&argv("blhc --debian other.log")).unwrap_err();
    assert_eq!(d.reason, "declared but not granted");
}

#[test]
fn policy_deny_beats_policy_allow() {
    let e = effective(
        r#"[plugins.blhc]
exec = ["blhc --debian **"]
deny-exec = ["blhc --debian --all **"]"#,
        &Overrides::default(),
    );
    assert!(e.check_exec(&argv("blhc --debian x.log")).is_ok());
    let d = e
        .check_exec(&argv("blhc --debian --all x.log"))
        .unwrap_err();
    assert_eq!(
        d.reason,
        "denied by deny-exec `blhc --debian --all **` in /etc/taskhost/policy.toml"
    );
    assert_eq!(d.hint, None);
}

#[test]
fn defaults_deny_applies_to_every_plugin() {
    let text = format!("[defaults]\ndeny-exec = [\"blhc --debian --all **\"]\n{BLHC_POLICY}");
    let e = effective(&text, &Overrides::default());
    assert!(e.check_exec(&argv("blhc --debian --all")).is_err());
}

#[test]
fn cli_deny_beats_policy_allow() {
    let ov = Overrides {
        deny_exec: vec![pat("blhc **")],
        ..Overrides::default()
    };
    let e = effective(BLHC_POLICY, &ov);
    let d = e.check_exec(&argv("blhc --debian x")).unwrap_err();
    assert_eq!(d.reason, "denied by --deny-exec 'blhc **'");
}

#[test]
fn cli_deny_beats_cli_allow() {
    let ov = Overrides {
        allow_exec: vec![pat("blhc --debian **")],
        deny_exec: vec![pat("blhc --debian x")],
        ..Overrides::default()
    };
    let e = effective("", &ov);
    assert!(e.check_exec(&argv("blhc --debian y")).is_ok());
    assert!(e.check_exec(&argv("blhc --debian x")).is_err());
}

#[test]
fn cli_allow_adds_to_the_policy() {
    let text = r#"[plugins.blhc]
backends = ["local"]"#;
    let ov = Overrides {
        allow_exec: vec![pat("blhc --debian **")],
        allow_backend: strings(&["unshare"]),
        ..Overrides::default()
    };
    let e = effective(text, &ov);
    assert!(e.check_exec(&argv("blhc --debian x")).is_ok());
    assert_eq!(e.granted_backends(), strings(&["local", "unshare"]));
}

// ---- backends, env, urls ----

#[test]
fn backend_checks_cover_undeclared_ungranted_and_denied() {
    let ov = Overrides {
        deny_backend: strings(&["unshare"]),
        ..Overrides::default()
    };
    let e = effective(
        r#"[plugins.blhc]
backends = ["local", "unshare", "podman"]"#,
        &ov,
    );
    assert!(e.check_backend("local").is_ok());
    let undeclared = e.check_backend("podman").unwrap_err();
    assert!(
        undeclared.reason.starts_with("not declared"),
        "{undeclared}"
    );
    let denied = e.check_backend("unshare").unwrap_err();
    assert_eq!(denied.reason, "denied by --deny-backend unshare");
    assert_eq!(e.granted_backends(), strings(&["local"]));

    let e = effective("", &Overrides::default());
    let d = e.check_backend("local").unwrap_err();
    assert!(
        d.to_string()
            .contains("backends = [\"local\"]\n or pass --allow-backend local"),
        "{d}"
    );
}

#[test]
fn env_checks_cover_undeclared_ungranted_and_denied() {
    let e = effective(
        r#"[plugins.blhc]
env = ["LANG", "HOME"]
deny-env = ["LANG"]"#,
        &Overrides::default(),
    );
    assert!(
        e.check_env("HOME")
            .unwrap_err()
            .reason
            .starts_with("not declared")
    );
    assert_eq!(
        e.check_env("LANG").unwrap_err().reason,
        "denied by deny-env `LANG` in /etc/taskhost/policy.toml"
    );
    assert!(e.granted_env().is_empty());

    let e = effective("", &Overrides::default());
    let d = e.check_env("LANG").unwrap_err();
    assert_eq!(d.reason, "declared but not granted");
    assert!(d.to_string().contains("env = [\"LANG\"]"));
    assert_eq!(
        effective(BLHC_POLICY, &Overrides::default()).granted_env(),
        strings(&["LANG"])
    );
}

#[test]
fn url_checks_cover_undeclared_ungranted_denied_and_userinfo() {
    let e = effective(BLHC_POLICY, &Overrides::default());
    assert!(
        e.check_url(&url("https://deb.debian.org/debian/pool/x.deb"))
            .is_ok()
    );
    let d = e
        .check_url(&url("https://evil.example/debian/"))
        .unwrap_err();
    assert!(d.reason.starts_with("not declared"), "{d}");
    let d = e
        .check_url(&url("https://user:secret@deb.debian.org/debian/"))
        .unwrap_err();
    assert!(d.reason.contains("user info"));
    assert!(!d.to_string().contains("secret"), "{d}");

    let ov = Overrides {
        deny_url: vec![prefix("https://deb.debian.org/debian/pool")],
        ..Overrides::default()
    };
    let e = effective(BLHC_POLICY, &ov);
    let d = e
        .check_url(&url("https://deb.debian.org/debian/pool/x.deb"))
        .unwrap_err();
    assert_eq!(
        d.reason,
        "denied by --deny-url https://deb.debian.org/debian/pool"
    );
    assert!(
        e.check_url(&url("https://deb.debian.org/debian/dists/sid/Release"))
            .is_ok()
    );

    let e = effective("", &Overrides::default());
    let d = e
        .check_url(&url("https://deb.debian.org/debian/x"))
        .unwrap_err();
    assert!(
        d.to_string()
            .contains("urls = [\"https://deb.debian.org/debian/\"]"),
        "{d}"
    );
}

// ---- preflight ----

#[test]
fn preflight_lists_every_missing_grant() {
    let e = effective("", &Overrides::default());
    let missing = e.preflight(&[]).unwrap_err();
    let subjects: Vec<(&str, &str)> = missing
        .iter()
        .map(|d| (d.capability.as_str(), d.subject.as_str()))
        .collect();
    assert_eq!(
        subjects,
        [
            ("exec", "blhc --debian **"),
            ("backend", "local"),
            ("backend", "unshare"),
            ("env", "LANG"),
            ("url", "https://deb.debian.org/debian/"),
        ]
    );
    let exec = &missing[0];
    assert_eq!(
        exec.hint.as_deref(),
        Some(
            "to grant it add to /etc/taskhost/policy.toml:\n  [plugins.blhc]\n  exec = [\"blhc --debian **\"]\n \
             or pass --allow-exec 'blhc --debian **'"
        )
    );
    assert!(
        missing[4]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("--allow-url https://deb.debian.org/debian/")
    );
}

#[test]
fn preflight_accepts_a_narrower_grant_for_the_same_program() {
    let e = effective(
        r#"[plugins.blhc]
exec = ["blhc --debian build.log"]
backends = ["local", "unshare"]
env = ["LANG"]
urls = ["https://deb.debian.org/debian/pool"]"#,
        &Overrides::default(),
    );
    assert!(e.preflight(&[]).is_ok());
}

#[test]
fn overlap_means_one_command_line_matches_both() {
    let yes = [
        ("blhc --debian **", "blhc --debian build.log"),
        ("blhc --debian **", "blhc * x"),
        ("blhc * y", "blhc x *"),
        ("blhc **", "blhc"),
        ("blhc a **", "blhc * b **"),
    ];
    for (a, b) in yes {
        assert!(pat(a).overlaps(&pat(b)), "{a} / {b}");
        assert!(pat(b).overlaps(&pat(a)), "{b} / {a}");
    }
    let no = [
        ("blhc --debian **", "blhc --all **"),
        ("blhc --debian **", "lintian --debian **"),
        ("blhc x", "blhc x y"),
        ("blhc x y **", "blhc x"),
        ("blhc a *", "blhc * b c"),
    ];
    for (a, b) in no {
        assert!(!pat(a).overlaps(&pat(b)), "{a} / {b}");
        assert!(!pat(b).overlaps(&pat(a)), "{b} / {a}");
    }
    let any = ExecPattern::parse_declared("* **").expect("any");
    assert!(any.overlaps(&pat("sh -c x")) && pat("sh -c x").overlaps(&any));
}

#[test]
fn covers_means_every_command_line_of_the_other_matches() {
    let yes = [
        ("blhc **", "blhc --debian **"),
        ("blhc --debian **", "blhc --debian x"),
        ("blhc * **", "blhc x y"),
        ("blhc *", "blhc x"),
        ("blhc x", "blhc x"),
    ];
    for (a, b) in yes {
        assert!(pat(a).covers(&pat(b)), "{a} covers {b}");
    }
    let no = [
        ("blhc --debian **", "blhc **"),
        ("blhc x", "blhc *"),
        ("blhc *", "blhc * **"),
        ("blhc * *", "blhc *"),
        ("lintian **", "blhc **"),
    ];
    for (a, b) in no {
        assert!(!pat(a).covers(&pat(b)), "{a} does not cover {b}");
    }
}

#[test]
fn preflight_refuses_a_grant_that_can_never_match_the_declared_pattern() {
    // The program is granted, but only with a flag the plugin never uses.
    let text = BLHC_POLICY.replace("blhc --debian **", "blhc --all **");
    let missing = effective(&text, &Overrides::default())
        .preflight(&[])
        .unwrap_err();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].subject, "blhc --debian **");
    assert!(
        missing[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("exec = [\"blhc --debian **\"]"),
        "{missing:?}"
    );
}

#[test]
fn preflight_refuses_a_pattern_a_deny_rule_covers_but_not_one_it_narrows() {
    let ov = Overrides {
        deny_exec: vec![pat("blhc --debian **")],
        ..Overrides::default()
    };
    let missing = effective(BLHC_POLICY, &ov).preflight(&[]).unwrap_err();
    assert_eq!(
        missing[0].reason,
        "denied by --deny-exec 'blhc --debian **'"
    );
    // A deny of some command lines only: checked at each call.
    let ov = Overrides {
        deny_exec: vec![pat("blhc --debian secret.log")],
        ..Overrides::default()
    };
    let e = effective(BLHC_POLICY, &ov);
    assert!(e.preflight(&[]).is_ok());
    assert!(
        e.check_exec(&strings(&["blhc", "--debian", "secret.log"]))
            .is_err()
    );
    assert!(
        e.check_exec(&strings(&["blhc", "--debian", "build.log"]))
            .is_ok()
    );
}

#[test]
fn preflight_refuses_a_backend_the_run_will_open_that_is_not_granted() {
    // local granted, unshare not: a run that opens local starts, one whose
    // task_data names unshare is refused before the plugin starts.
    let text = BLHC_POLICY.replace(r#"["local", "unshare"]"#, r#"["local"]"#);
    let e = effective(&text, &Overrides::default());
    assert!(e.preflight(&[]).is_ok());
    assert!(e.preflight(&strings(&["local"])).is_ok());
    let missing = e.preflight(&strings(&["unshare"])).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert_eq!(
        (missing[0].capability.as_str(), missing[0].subject.as_str()),
        ("backend", "unshare")
    );
    assert!(
        missing[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("backends = [\"unshare\"]")
    );
    // A backend the plugin does not declare is its own affair (refused
    // when opened); the preflight does not ask for it.
    assert!(e.preflight(&strings(&["ssh"])).is_ok());
}

#[test]
fn preflight_refuses_a_wholly_denied_program() {
    let ov = Overrides {
        deny_exec: vec![pat("blhc **")],
        ..Overrides::default()
    };
    let e = effective(BLHC_POLICY, &ov);
    let missing = e.preflight(&[]).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].reason, "denied by --deny-exec 'blhc **'");
    assert_eq!(missing[0].hint, None);
}

#[test]
fn preflight_refuses_denied_backend_env_and_url() {
    let text = format!(
        "{BLHC_POLICY}deny-backends = [\"local\", \"unshare\"]\ndeny-env = [\"LANG\"]\ndeny-urls = [\"https://deb.debian.org/\"]\n"
    );
    let e = effective(&text, &Overrides::default());
    let missing = e.preflight(&[]).unwrap_err();
    let caps: Vec<&str> = missing.iter().map(|d| d.capability.as_str()).collect();
    assert_eq!(caps, ["backend", "backend", "env", "url"]);
    assert!(
        missing
            .iter()
            .all(|d| d.reason.starts_with("denied by") && d.hint.is_none())
    );
}

#[test]
fn backends_are_alternatives_one_usable_is_enough_to_start() {
    // unshare denied, local granted: the run may start; opening unshare
    // is refused when the plugin asks for it.
    let text = format!("{BLHC_POLICY}deny-backends = [\"unshare\"]\n");
    let e = effective(&text, &Overrides::default());
    assert!(e.preflight(&[]).is_ok());
    let denied = e.check_backend("unshare").unwrap_err();
    assert!(denied.reason.starts_with("denied by"), "{denied:?}");
    assert!(e.check_backend("local").is_ok());
    // Neither granted: both are named, each with its grant.
    let e = effective(
        "[plugins.blhc]\nexec = [\"blhc --debian **\"]\nenv = [\"LANG\"]\nurls = [\"https://deb.debian.org/debian/\"]\n",
        &Overrides::default(),
    );
    let missing = e.preflight(&[]).unwrap_err();
    let subjects: Vec<&str> = missing.iter().map(|d| d.subject.as_str()).collect();
    assert_eq!(subjects, ["local", "unshare"]);
}

#[test]
fn missing_grants_snippet_collects_one_plugin_table() {
    let e = effective("", &Overrides::default());
    assert_eq!(
        e.missing_grants_snippet().as_deref(),
        Some(
            "[plugins.blhc]\nexec = [\"blhc --debian **\"]\nbackends = [\"local\", \"unshare\"]\nenv = [\"LANG\"]\n\
             urls = [\"https://deb.debian.org/debian/\"]\n"
        )
    );
    assert_eq!(
        effective(BLHC_POLICY, &Overrides::default()).missing_grants_snippet(),
        None
    );
    // The snippet is itself a valid policy.
    let snippet = e.missing_grants_snippet().unwrap_or_default();
    assert_eq!(
        effective(&snippet, &Overrides::default()).preflight(&[]),
        Ok(())
    );
}

#[test]
fn hints_quote_awkward_plugin_names_and_patterns() {
    let declared = Declared {
        exec: vec![pat(r#"sh -c 'echo "hi"'"#)],
        ..Declared::default()
    };
    let e = Effective::new("my.plugin", declared, Grants::default(), None);
    let hint = e.preflight(&[]).unwrap_err()[0]
        .hint
        .clone()
        .unwrap_or_default();
    assert!(hint.contains("[plugins.\"my.plugin\"]"), "{hint}");
    assert!(hint.contains(r#"exec = ["sh -c 'echo \"hi\"'"]"#), "{hint}");
    assert!(hint.contains("a policy file"), "{hint}");
    let snippet = e.missing_grants_snippet().unwrap_or_default();
    let p = Policy::from_toml(&snippet, Path::new("x.toml")).expect("snippet parses");
    let g = p.grants_for("my.plugin", &Overrides::default());
    assert_eq!(g.exec, vec![pat(r#"sh -c 'echo "hi"'"#)]);
}

// ---- policy file ----

#[test]
fn policy_file_fills_grants_and_limits() {
    let p = policy(
        r#"
[defaults]
memory = "512 MiB"
timeout = "2h"
output-limit = 67108864

[plugins.blhc]
exec = ["blhc --debian **", ["sh", "-c", "echo hi"]]
backends = ["local"]
memory = "256 MiB"
timeout = "30m"
"#,
    );
    let g = p.grants_for("blhc", &Overrides::default());
    assert_eq!(
        g.exec,
        vec![pat("blhc --debian **"), pat("sh -c 'echo hi'")]
    );
    assert_eq!(g.limits.memory, Some(256 << 20));
    assert_eq!(g.limits.timeout, Some(Duration::from_secs(1800)));
    assert_eq!(g.limits.output_limit, Some(64 << 20));

    let other = p.grants_for("other", &Overrides::default());
    assert!(other.exec.is_empty() && other.backends.is_empty());
    assert_eq!(other.limits.memory, Some(512 << 20));
    assert_eq!(other.limits.timeout, Some(Duration::from_secs(7200)));

    let ov = Overrides {
        memory: Some(1 << 30),
        timeout: Some(Duration::from_secs(5)),
        ..Overrides::default()
    };
    let g = p.grants_for("blhc", &ov);
    assert_eq!(g.limits.memory, Some(1 << 30));
    assert_eq!(g.limits.timeout, Some(Duration::from_secs(5)));
    assert_eq!(p.source(), Some(Path::new(POLICY_PATH)));
    assert_eq!(p.plugin_names().collect::<Vec<_>>(), ["blhc"]);
}

#[test]
fn empty_policy_grants_nothing() {
    let p = Policy::empty();
    assert_eq!(p.source(), None);
    let e = Effective::new(
        "blhc",
        blhc_declared(),
        p.grants_for("blhc", &Overrides::default()),
        None,
    );
    assert_eq!(e.preflight(&[]).unwrap_err().len(), 5);
    assert!(e.granted_backends().is_empty());
}

#[test]
fn unknown_policy_key_error_names_it() {
    let err = Policy::from_toml("[plugins.blhc]\nexecs = []\n", Path::new("/p.toml")).unwrap_err();
    assert!(matches!(err, PolicyError::Parse { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("/p.toml: "), "{msg}");
    assert!(msg.contains("unknown field `execs`"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");

    let err = Policy::from_toml("[defaults]\nexec = []\n", Path::new("/p.toml")).unwrap_err();
    assert!(err.to_string().contains("unknown field `exec`"), "{err}");
    let err = Policy::from_toml("[plugin.blhc]\n", Path::new("/p.toml")).unwrap_err();
    assert!(err.to_string().contains("unknown field `plugin`"), "{err}");
}

#[test]
fn toml_syntax_error_gives_path_line_and_column() {
    let err = Policy::from_toml(
        "[plugins.blhc]\nexec = [\"a\"\n",
        Path::new("/etc/x/policy.toml"),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("/etc/x/policy.toml: "), "{msg}");
    assert!(msg.contains("line 2") || msg.contains("line 3"), "{msg}");
    assert!(msg.contains("column"), "{msg}");
}

#[test]
fn invalid_values_name_the_key_and_line() {
    let cases = [
        ("[plugins.a]\nexec = [\"x ** y\"]\n", "`exec`"),
        ("[plugins.a]\ndeny-exec = [42]\n", "`deny-exec`"),
        ("[plugins.a]\nurls = [\"https://u@h/\"]\n", "`urls`"),
        ("[plugins.a]\nenv = [\"A=B\"]\n", "`env`"),
        ("[plugins.a]\nbackends = [\"\"]\n", "`backends`"),
        ("[defaults]\nmemory = \"lots\"\n", "`memory`"),
        ("[defaults]\nmemory = 0\n", "`memory`"),
        ("[defaults]\noutput-limit = -1\n", "`output-limit`"),
        ("[plugins.a]\ntimeout = 30\n", "`timeout`"),
        ("[plugins.a]\ntimeout = \"soon\"\n", "`timeout`"),
    ];
    for (text, key) in cases {
        let msg = Policy::from_toml(text, Path::new("/p.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("/p.toml: "), "{msg}");
        assert!(msg.contains(key), "{text}: {msg}");
        assert!(msg.contains("line 2"), "{text}: {msg}");
    }
}

#[test]
fn load_error_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing.toml");
    let err = Policy::load(&path).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }));
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

// ---- discovery ----

struct Layout {
    _dir: tempfile::TempDir,
    explicit: PathBuf,
    xdg: PathBuf,
    home: PathBuf,
    system: PathBuf,
}

fn layout() -> Layout {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    Layout {
        explicit: root.join("explicit.toml"),
        xdg: root.join("xdg"),
        home: root.join("home"),
        system: root.join("etc/taskhost/policy.toml"),
        _dir: dir,
    }
}

fn write(path: &Path) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, "[plugins.x]\n").expect("write");
}

fn env_of(l: &Layout, with_xdg: bool) -> impl Fn(&str) -> Option<String> {
    let xdg = l.xdg.to_string_lossy().into_owned();
    let home = l.home.to_string_lossy().into_owned();
    move |k| match k {
        "XDG_CONFIG_HOME" if with_xdg => Some(xdg.clone()),
        "HOME" => Some(home.clone()),
        _ => None,
    }
}

#[test]
fn discover_prefers_the_explicit_file() {
    let l = layout();
    write(&l.explicit);
    write(&l.xdg.join("taskhost/policy.toml"));
    write(&l.system);
    let p = Policy::discover_in(Some(&l.explicit), env_of(&l, true), &l.system).expect("discover");
    assert_eq!(p.source(), Some(l.explicit.as_path()));
}

#[test]
fn discover_fails_when_the_explicit_file_is_missing() {
    let l = layout();
    write(&l.system);
    let err = Policy::discover_in(Some(&l.explicit), env_of(&l, true), &l.system).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }), "{err}");
}

#[test]
fn discover_uses_xdg_config_home_before_the_system_file() {
    let l = layout();
    let xdg_file = l.xdg.join("taskhost/policy.toml");
    write(&xdg_file);
    write(&l.system);
    let p = Policy::discover_in(None, env_of(&l, true), &l.system).expect("discover");
    assert_eq!(p.source(), Some(xdg_file.as_path()));
}

#[test]
fn discover_defaults_xdg_config_home_to_home_dot_config() {
    let l = layout();
    let home_file = l.home.join(".config/taskhost/policy.toml");
    write(&home_file);
    write(&l.system);
    let p = Policy::discover_in(None, env_of(&l, false), &l.system).expect("discover");
    assert_eq!(p.source(), Some(home_file.as_path()));
    // A relative XDG_CONFIG_HOME is ignored, per the XDG spec.
    let home = l.home.to_string_lossy().into_owned();
    let env = move |k: &str| match k {
        "XDG_CONFIG_HOME" => Some("relative".to_owned()),
        "HOME" => Some(home.clone()),
        _ => None,
    };
    let p = Policy::discover_in(None, env, &l.system).expect("discover");
    assert_eq!(p.source(), Some(home_file.as_path()));
}

#[test]
fn discover_falls_back_to_the_system_file() {
    let l = layout();
    write(&l.system);
    let p = Policy::discover_in(None, env_of(&l, true), &l.system).expect("discover");
    assert_eq!(p.source(), Some(l.system.as_path()));
    let p = Policy::discover_in(None, |_: &str| None, &l.system).expect("discover");
    assert_eq!(p.source(), Some(l.system.as_path()));
}

#[test]
fn discover_without_any_file_gives_the_empty_policy() {
    let l = layout();
    let p = Policy::discover_in(None, env_of(&l, true), &l.system).expect("discover");
    assert_eq!(p.source(), None);
}

#[test]
fn discover_reports_a_broken_user_policy_instead_of_falling_back() {
    let l = layout();
    let xdg_file = l.xdg.join("taskhost/policy.toml");
    fs::create_dir_all(xdg_file.parent().unwrap_or(&l.xdg)).expect("mkdir");
    fs::write(&xdg_file, "nope nope").expect("write");
    write(&l.system);
    let err = Policy::discover_in(None, env_of(&l, true), &l.system).unwrap_err();
    assert!(
        err.to_string().contains(&*xdg_file.to_string_lossy()),
        "{err}"
    );
}

// ---- sizes and durations ----

#[test]
fn sizes_parse_with_and_without_units() {
    assert_eq!(parse_size("1048576").ok(), Some(1 << 20));
    assert_eq!(parse_size("512 MiB").ok(), Some(512 << 20));
    assert_eq!(parse_size("512MiB").ok(), Some(512 << 20));
    assert_eq!(parse_size("1G").ok(), Some(1 << 30));
    assert_eq!(parse_size("1g").ok(), Some(1 << 30));
    assert_eq!(parse_size("64 KiB").ok(), Some(64 << 10));
    assert_eq!(parse_size("2 MB").ok(), Some(2_000_000));
    assert_eq!(parse_size("1.5 GiB").ok(), Some(3 << 29));
    assert_eq!(parse_size("10 B").ok(), Some(10));
    assert_eq!(parse_size(" 1T ").ok(), Some(1 << 40));
}

#[test]
fn bad_sizes_are_rejected() {
    for bad in [
        "",
        "MiB",
        "lots",
        "1 XB",
        "1.2.3 M",
        "-1",
        "99999999999999999999999 TiB",
        "1e9",
    ] {
        let err = parse_size(bad).unwrap_err().to_string();
        assert!(err.contains("invalid size"), "{bad}: {err}");
    }
}

#[test]
fn durations_parse_compound_forms() {
    assert_eq!(parse_duration("90s").ok(), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("30m").ok(), Some(Duration::from_secs(1800)));
    assert_eq!(parse_duration("2h").ok(), Some(Duration::from_secs(7200)));
    assert_eq!(
        parse_duration("1h30m").ok(),
        Some(Duration::from_secs(5400))
    );
    assert_eq!(
        parse_duration("1h 30m 5s").ok(),
        Some(Duration::from_secs(5405))
    );
    assert_eq!(parse_duration("1d").ok(), Some(Duration::from_secs(86400)));
    assert_eq!(
        parse_duration("250ms").ok(),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        parse_duration("2 hours").ok(),
        Some(Duration::from_secs(7200))
    );
}

#[test]
fn bad_durations_are_rejected() {
    for bad in [
        "",
        "90",
        "h",
        "1.5h",
        "1x",
        "30m-",
        "99999999999999999999s",
        "18446744073709551615d",
    ] {
        let err = parse_duration(bad).unwrap_err().to_string();
        assert!(err.contains("invalid duration"), "{bad}: {err}");
    }
}

#[test]
fn patterns_and_prefixes_parse_from_cli_strings() {
    let p: ExecPattern = "blhc --debian **".parse().expect("pattern");
    assert_eq!(p, pat("blhc --debian **"));
    let u: UrlPrefix = "https://koji.example.org/kojihub".parse().expect("prefix");
    assert_eq!(u.to_string(), "https://koji.example.org/kojihub");
    let e = "x ** y".parse::<ExecPattern>().unwrap_err();
    assert!(matches!(e, PolicyError::Invalid { path: None, .. }));
}

#[test]
fn any_command_line_is_declarable_but_never_grantable() {
    let any = ExecPattern::parse_declared("* **").expect("a manifest may declare `* **`");
    assert!(any.is_any_program());
    assert_eq!(any.to_string(), "* **");
    assert!(any.matches(&argv("rm -rf /")));
    assert!(!any.matches(&[]));
    // Grants (policy files, --allow-exec) always name their program.
    assert!(ExecPattern::parse("* **").is_err());
    assert!(
        Policy::from_toml(
            "[plugins.shell]\nexec = [\"* **\"]\n",
            Path::new(POLICY_PATH)
        )
        .is_err()
    );
    // Only exactly `* **` is special.
    assert!(ExecPattern::parse_declared("* foo").is_err());
    assert_eq!(
        ExecPattern::parse_declared("echo **").expect("literal"),
        pat("echo **")
    );
}

#[test]
fn under_a_declared_any_command_line_only_the_grants_decide() {
    let declared = Declared {
        exec: vec![ExecPattern::parse_declared("* **").expect("declared")],
        ..Declared::default()
    };
    let p = policy(
        r#"[plugins.shell]
exec = ["echo **", "rpm -qp *"]
deny-exec = ["echo secret **"]"#,
    );
    let e = Effective::new(
        "shell",
        declared,
        p.grants_for("shell", &Overrides::default()),
        Some(PathBuf::from(POLICY_PATH)),
    );
    // Nothing to grant up front.
    assert!(e.preflight(&[]).is_ok());
    assert!(e.check_exec(&argv("echo hello world")).is_ok());
    assert!(e.check_exec(&argv("rpm -qp x.rpm")).is_ok());
    let d = e.check_exec(&argv("rpm -qp a.rpm b.rpm")).unwrap_err();
    assert_eq!(d.reason, "declared but not granted");
    let hint = d.hint.expect("a hint");
    assert!(hint.contains("exec = [\"rpm -qp a.rpm b.rpm\"]"), "{hint}");
    // A literal `*` in the command line is escaped in the suggestion.
    let hint = e
        .check_exec(&argv("ls '*'"))
        .unwrap_err()
        .hint
        .expect("a hint");
    assert!(hint.contains(r#"exec = ["ls '\\*'"]"#), "{hint}");
    let d = e.check_exec(&argv("echo secret x")).unwrap_err();
    assert!(d.reason.contains("echo secret **"), "{}", d.reason);
}

// ---- ssh-hosts ----

fn target(s: &str) -> crate::backends::ssh::Target {
    crate::backends::ssh::Target::parse(s).expect("test target")
}

#[test]
fn without_ssh_hosts_any_machine_is_allowed() {
    let e = effective(BLHC_POLICY, &Overrides::default());
    let rule = e
        .check_ssh_host(&target("qa@anywhere.example:2222"))
        .unwrap();
    assert!(rule.contains("no ssh-hosts"), "{rule}");
}

#[test]
fn ssh_hosts_in_defaults_and_in_the_table_must_both_hold_the_machine() {
    let text = format!(
        "[defaults]\nssh-hosts = [\"qa@a.example\", \"qa@b.example:2222\"]\n{BLHC_POLICY}ssh-hosts = [\"qa@A.example:22\", \"qa@c.example\"]\n"
    );
    let e = effective(&text, &Overrides::default());
    // Port 22 when none is given; host names in any case.
    let rule = e.check_ssh_host(&target("qa@a.example:22")).unwrap();
    assert!(
        rule.contains("[defaults]") && rule.contains("[plugins.blhc]"),
        "{rule}"
    );

    let d = e.check_ssh_host(&target("qa@b.example:2222")).unwrap_err();
    assert_eq!(d.capability, "ssh-host");
    assert_eq!(d.subject, "qa@b.example:2222");
    assert!(
        d.reason
            .contains("[plugins.blhc] of /etc/taskhost/policy.toml"),
        "{d}"
    );
    let text = d.to_string();
    assert!(
        text.starts_with("plugin 'blhc' may not use ssh host `qa@b.example:2222`"),
        "{text}"
    );
    assert!(
        text.contains(
            "ssh-hosts = [\"qa@a.example:22\", \"qa@c.example:22\", \"qa@b.example:2222\"]"
        ),
        "{text}"
    );

    let d = e.check_ssh_host(&target("qa@c.example")).unwrap_err();
    assert!(d.reason.contains("in [defaults]"), "{d}");
    assert!(d.to_string().contains("[defaults]\n  ssh-hosts = ["), "{d}");

    // Another user or port is another machine.
    assert!(e.check_ssh_host(&target("root@a.example")).is_err());
    assert!(e.check_ssh_host(&target("qa@a.example:23")).is_err());
}

#[test]
fn bad_ssh_hosts_entries_name_the_key() {
    for bad in [
        "\"-oProxyCommand=x@h\"",
        "\"h\"",
        "\"u@h;id\"",
        "\"u@h:0\"",
        "\"u@h\", 3",
    ] {
        let text = format!("[plugins.blhc]\nssh-hosts = [{bad}]\n");
        let e = Policy::from_toml(&text, Path::new(POLICY_PATH))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid `ssh-hosts`"), "{bad}: {e}");
    }
}
