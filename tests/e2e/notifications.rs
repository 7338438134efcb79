//! task_data's `notifications`: the host mails a failed run's result
//! through the policy's channels (a real SMTP server on loopback, aiosmtpd
//! with STARTTLS and AUTH), never a successful one, refuses an unknown
//! channel before the run, and keeps the run's result when the server is
//! down.

use crate::blhc::build_package;
use crate::{Env, report};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const GRANTS: &[&str] = &[
    "--allow-exec",
    "blhc --debian **",
    "--allow-backend",
    "local",
];

/// The sink of tests/smtp/sink.py; it stops when dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start(env: &Env, tls: Option<(&Path, &Path)>) -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = env.path("mail");
        std::fs::create_dir_all(&dir).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/smtp/sink.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg(port.to_string()).arg(&dir);
        if let Some((cert, key)) = tls {
            cmd.arg("--tls").arg(cert).arg(key);
            cmd.args(["--auth", "taskhost", "s3cret:x"]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (python3-aiosmtpd; .ci/install-deps installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Sink { child, port, dir }
    }

    /// The messages received, oldest first.
    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str()?.parse::<u32>().ok())
                .unwrap_or(0)
        });
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a certificate it signed for 127.0.0.1: (ca, cert, key).
fn certificate(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    let p = |name: &str| env.path(name).display().to_string();
    let ext = env.write("leaf.ext", "subjectAltName=IP:127.0.0.1\n");
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .expect("openssl")
            .success();
        assert!(ok, "openssl {args:?} failed");
    };
    let (ca, ca_key, csr) = (p("ca.pem"), p("ca.key"), p("leaf.csr"));
    let (cert, key) = (p("cert.pem"), p("key.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=taskhost test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    openssl(&[
        "x509",
        "-req",
        "-days",
        "1",
        "-CAcreateserial",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-extfile",
        &ext.display().to_string(),
        "-out",
        &cert,
    ]);
    (ca.into(), cert.into(), key.into())
}

/// A policy whose channel `qa` mails through `port`.
fn policy(env: &Env, port: u16, ca: Option<&Path>) -> String {
    let security = match ca {
        Some(cert) => {
            let credentials = env.write("smtp-credentials", "taskhost\ns3cret:x\n");
            format!(
                "tls = \"starttls\"\nca-file = {:?}\ncredentials-file = {:?}\n",
                cert.display().to_string(),
                credentials.display().to_string()
            )
        }
        None => "tls = \"none\"\n".into(),
    };
    let text = format!(
        "[notification-channels.qa]\ntype = \"email\"\nfrom = \"taskhost@example.org\"\n\
         to = [\"qa@example.org\"]\nsmtp-host = \"127.0.0.1\"\nsmtp-port = {port}\n{security}"
    );
    env.write("policy.toml", &text).display().to_string()
}

fn task_data(env: &Env, log: &Path, notifications: &str) -> String {
    let data = format!(
        "{{\"input\": {{\"artifact\": {:?}}}, \"notifications\": {notifications}}}",
        log.display().to_string()
    );
    env.write("blhc.json", &data).display().to_string()
}

fn run(env: &Env, data: &str, policy: &str) -> crate::Ran {
    let mut args = vec![
        "run", "blhc", "--data", data, "--format", "json", "--policy", policy,
    ];
    args.extend_from_slice(GRANTS);
    env.run(&args)
}

const TWO: &str = r#"{"on_failure": [
    {"channel": "qa"},
    {"channel": "qa", "data": {"to": ["dev@example.org"], "cc": ["lead@example.org"],
     "subject": "${work_request_result}: $work_request_idx of $work_request_id"}}]}"#;

#[test]
fn a_failed_run_mails_each_entry_with_its_subject_over_starttls() {
    let env = Env::new();
    let (ca, cert, key) = certificate(&env);
    let sink = Sink::start(&env, Some((&cert, &key)));
    let log = build_package(&env, "notify-fail", "gcc -O2 -o hello hello.c");
    let ran = run(
        &env,
        &task_data(&env, &log, TWO),
        &policy(&env, sink.port, Some(&ca)),
    );
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "failure");
    let id = report["run_id"].as_str().unwrap();
    let sent = report["notifications"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "{report}");
    assert!(sent.iter().all(|s| s.get("error").is_none()), "{report}");

    let mail = sink.messages();
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert!(
        mail[0].contains(&format!("Subject: WorkRequest {id} completed in failure")),
        "{}",
        mail[0]
    );
    assert!(
        mail[0].contains("X-Envelope-To: qa@example.org"),
        "{}",
        mail[0]
    );
    assert!(
        mail[0].contains("From: taskhost@example.org"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("Task blhc (run"), "{}", mail[0]);
    assert!(
        mail[1].contains(&format!("Subject: failure: $work_request_idx of {id}")),
        "{}",
        mail[1]
    );
    assert!(
        mail[1].contains("X-Envelope-To: dev@example.org"),
        "{}",
        mail[1]
    );
    assert!(
        mail[1].contains("X-Envelope-To: lead@example.org"),
        "{}",
        mail[1]
    );
    assert!(
        !mail[1].contains("X-Envelope-To: qa@example.org"),
        "{}",
        mail[1]
    );
}

#[test]
fn a_successful_run_mails_nothing() {
    let env = Env::new();
    let sink = Sink::start(&env, None);
    let log = build_package(
        &env,
        "notify-clean",
        "$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o hello hello.c",
    );
    let ran = run(
        &env,
        &task_data(&env, &log, TWO),
        &policy(&env, sink.port, None),
    );
    ran.expect(0);
    let report = report(&ran);
    assert_eq!(report["status"], "success");
    assert!(report.get("notifications").is_none(), "{report}");
    assert!(sink.messages().is_empty());
}

#[test]
fn an_unknown_channel_is_refused_before_the_run() {
    let env = Env::new();
    let log = build_package(&env, "notify-unknown", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, r#"{"on_failure": [{"channel": "ops"}]}"#);
    let policy = policy(&env, 9, None);
    let ran = run(&env, &data, &policy);
    ran.expect(2);
    assert!(
        ran.stderr
            .contains("notifications.on_failure[0].channel: no notification channel 'ops'")
            && ran.stderr.contains(&policy)
            && ran.stderr.contains("it defines: qa"),
        "{}",
        ran.stderr
    );
    assert!(env.artifacts().is_empty(), "nothing is imported or run");
}

#[test]
fn a_server_that_is_down_does_not_change_the_result() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let log = build_package(&env, "notify-down", "gcc -O2 -o hello hello.c");
    let data = task_data(&env, &log, r#"{"on_failure": [{"channel": "qa"}]}"#);
    let ran = run(&env, &data, &policy(&env, port, None));
    ran.expect(100);
    let report = report(&ran);
    assert_eq!(report["status"], "failure");
    let error = report["notifications"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{report}");
    assert!(ran.stderr.contains("qa: not sent"), "{}", ran.stderr);
}
