//! debusine's `notifications` key, which every task takes: the host takes
//! it off the task_data (plugins never see it), checks it against the
//! operator's channels before the run, and after a failed or errored run
//! sends one email per `on_failure` entry. The run's result never depends
//! on the mail.
//!
//! Channels are `[notification-channels.NAME]` tables of the policy file:
//!
//! ```toml
//! [notification-channels.qa]
//! type = "email"
//! from = "taskhost@example.org"
//! to = ["qa@example.org"]
//! subject = "WorkRequest $work_request_id completed in $work_request_result"
//! smtp-host = "smtp.example.org"
//! smtp-port = 587            # the default
//! tls = "starttls"           # the default; "none" only without credentials
//! credentials-file = "/etc/taskhost/smtp-credentials"   # user, then password
//! ```

use crate::report::{Report, Status};
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// debusine's default subject.
pub const DEFAULT_SUBJECT: &str = "WorkRequest $work_request_id completed in $work_request_result";
/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The operator's channels, by name, and the file that defines them.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    pub source: Option<PathBuf>,
    pub channels: BTreeMap<String, Channel>,
}

/// One `[notification-channels.NAME]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    pub subject: Option<String>,
    pub smtp_host: String,
    #[serde(default = "submission_port")]
    pub smtp_port: u16,
    #[serde(default)]
    pub tls: TlsMode,
    /// A CA certificate (PEM) to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// A file with the user name on its first line, the password on its
    /// second.
    pub credentials_file: Option<PathBuf>,
}

fn submission_port() -> u16 {
    587
}

/// The only channel type (debusine's).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// STARTTLS, required: nothing is sent if the upgrade fails.
    #[default]
    Starttls,
    /// Plain SMTP (a relay on loopback); refused with credentials.
    None,
}

impl Channels {
    /// Checks the channels of a policy file (`source`).
    pub fn new(
        source: Option<PathBuf>,
        channels: BTreeMap<String, Channel>,
    ) -> Result<Channels, String> {
        for (name, c) in &channels {
            let table = format!("[notification-channels.{name}]");
            if c.tls == TlsMode::None && c.credentials_file.is_some() {
                return Err(format!(
                    "{table}: credentials-file with tls = \"none\" would send the password in \
                     clear; use tls = \"starttls\""
                ));
            }
            mailbox(&c.from).map_err(|e| format!("{table}: from: {e}"))?;
            for (key, list) in [("to", &c.to), ("cc", &c.cc)] {
                for a in list {
                    mailbox(a).map_err(|e| format!("{table}: {key}: {e}"))?;
                }
            }
        }
        Ok(Channels { source, channels })
    }
}

/// task_data's `notifications`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default)]
    pub on_failure: Vec<Entry>,
}

/// One notification: a channel and what to change of its defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub channel: String,
    #[serde(default)]
    pub data: EntryData,
}

/// An email channel's `data`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryData {
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
    pub cc: Option<Vec<String>>,
    pub subject: Option<String>,
}

/// What became of one notification, in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub channel: String,
    pub to: Vec<String>,
    pub subject: String,
    /// Why it was not sent; none: the server took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Takes `notifications` off `task_data` and checks it: every channel must
/// be the operator's, every address an address. An error names the key.
pub fn take(task_data: &mut Value, channels: &Channels) -> Result<Notifications, String> {
    let Some(value) = task_data
        .as_object_mut()
        .and_then(|m| m.remove("notifications"))
    else {
        return Ok(Notifications::default());
    };
    let n: Notifications =
        serde_json::from_value(value).map_err(|e| format!("task_data: notifications: {e}"))?;
    for (i, entry) in n.on_failure.iter().enumerate() {
        let key = format!("task_data: notifications.on_failure[{i}]");
        if !channels.channels.contains_key(&entry.channel) {
            let defined: Vec<&str> = channels.channels.keys().map(String::as_str).collect();
            let file = channels
                .source
                .as_deref()
                .map_or("the policy file".to_string(), |p| p.display().to_string());
            return Err(format!(
                "{key}.channel: no notification channel '{}' in {file} ({}); the operator \
                 defines it as [notification-channels.{}] with type = \"email\", from, to \
                 and smtp-host",
                entry.channel,
                if defined.is_empty() {
                    "it defines none".to_string()
                } else {
                    format!("it defines: {}", defined.join(", "))
                },
                entry.channel
            ));
        }
        let d = &entry.data;
        if let Some(from) = &d.from {
            mailbox(from).map_err(|e| format!("{key}.data.from: {e}"))?;
        }
        for (name, list) in [("to", &d.to), ("cc", &d.cc)] {
            for (j, a) in list.iter().flatten().enumerate() {
                mailbox(a).map_err(|e| format!("{key}.data.{name}[{j}]: {e}"))?;
            }
        }
    }
    Ok(n)
}

fn mailbox(address: &str) -> Result<Mailbox, String> {
    address
        .parse()
        .map_err(|e| format!("'{address}' is not an email address ({e})"))
}

/// A failed, errored or crashed run is notified.
pub fn wanted(status: Status) -> bool {
    matches!(status, Status::Failure | Status::Error | Status::Crashed)
}

/// `template` with `$work_request_id` / `${work_request_id}` and
/// `$work_request_result` replaced, as Python's
/// `string.Template.safe_substitute` does: `$$` is `$`, and any other
/// `$name` (such as `$work_request_idx`) is left as it is.
pub fn subject(template: &str, id: &str, result: &str) -> String {
    let value = |name: &str| match name {
        "work_request_id" => Some(id),
        "work_request_result" => Some(result),
        _ => None,
    };
    let ident_len = |s: &str| {
        let ok_start = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        if !ok_start {
            return 0;
        }
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(braced) = after.strip_prefix('{') {
            let n = ident_len(braced);
            match (n > 0 && braced[n..].starts_with('}'))
                .then(|| value(&braced[..n]))
                .flatten()
            {
                Some(v) => {
                    out.push_str(v);
                    rest = &braced[n + 1..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        } else {
            let n = ident_len(after);
            match value(&after[..n]) {
                Some(v) if n > 0 => {
                    out.push_str(v);
                    rest = &after[n..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sends the notifications of a finished run; each outcome is logged by
/// the caller and kept in the report. Blocking (SMTP).
pub fn send(n: &Notifications, channels: &Channels, report: &Report) -> Vec<Sent> {
    n.on_failure
        .iter()
        .map(|entry| {
            let Some(channel) = channels.channels.get(&entry.channel) else {
                // `take` checked it; the policy cannot change mid-run.
                return failed(entry, Vec::new(), String::new(), "no such channel".into());
            };
            let d = &entry.data;
            let to = d.to.clone().unwrap_or_else(|| channel.to.clone());
            let template = d
                .subject
                .as_deref()
                .or(channel.subject.as_deref())
                .unwrap_or(DEFAULT_SUBJECT);
            let subject = subject(template, &report.run_id, report.status.as_str());
            match deliver(channel, d, &to, &subject, &body(report)) {
                Ok(()) => Sent {
                    channel: entry.channel.clone(),
                    to,
                    subject,
                    error: None,
                },
                Err(e) => failed(entry, to, subject, e),
            }
        })
        .collect()
}

fn failed(entry: &Entry, to: Vec<String>, subject: String, error: String) -> Sent {
    Sent {
        channel: entry.channel.clone(),
        to,
        subject,
        error: Some(error),
    }
}

/// The mail's text: what ran and how it ended.
fn body(report: &Report) -> String {
    let mut text = format!(
        "Task {} (run {}) completed in {}.\n",
        report.task,
        report.run_id,
        report.status.as_str()
    );
    if let (Some(stage), Some(error)) = (&report.failed_stage, &report.error) {
        text.push_str(&format!("\nThe {stage} stage failed: {error}\n"));
    }
    if !report.results.is_empty() {
        text.push_str("\nResults:\n");
        for r in &report.results {
            text.push_str(&format!("  {} {} ({})\n", r.outcome, r.item, r.item_type));
        }
    }
    if let Some(file) = &report.results_file {
        text.push_str(&format!("\nReport: {}\n", file.display()));
    }
    text
}

fn deliver(
    channel: &Channel,
    d: &EntryData,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<(), String> {
    if to.is_empty() {
        return Err("no recipient: neither the entry nor the channel gives `to`".into());
    }
    let mut message = Message::builder()
        .from(mailbox(d.from.as_deref().unwrap_or(&channel.from))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for a in to {
        message = message.to(mailbox(a)?);
    }
    for a in d.cc.as_ref().unwrap_or(&channel.cc) {
        message = message.cc(mailbox(a)?);
    }
    let message = message
        .body(body.to_string())
        .map_err(|e| format!("building the mail: {e}"))?;
    let mut transport = SmtpTransport::builder_dangerous(&channel.smtp_host)
        .port(channel.smtp_port)
        .timeout(Some(SMTP_TIMEOUT));
    if channel.tls == TlsMode::Starttls {
        transport = transport.tls(Tls::Required(tls_parameters(channel)?));
    }
    if let Some(file) = &channel.credentials_file {
        transport = transport.credentials(credentials(file)?);
    }
    transport
        .build()
        .send(&message)
        .map(drop)
        .map_err(|e| format!("{}:{}: {e}", channel.smtp_host, channel.smtp_port))
}

fn tls_parameters(channel: &Channel) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(channel.smtp_host.clone());
    if let Some(file) = &channel.ca_file {
        let pem = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let cert = lettre::transport::smtp::client::Certificate::from_pem(&pem)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("TLS for {}: {e}", channel.smtp_host))
}

fn credentials(file: &Path) -> Result<Credentials, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(user), Some(password)) if !user.is_empty() => {
            Ok(Credentials::new(user.to_string(), password.to_string()))
        }
        _ => Err(format!(
            "{}: expected the user name on the first line and the password on the second",
            file.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subjects_substitute_as_python_safe_substitute_does() {
        let s = |t: &str| subject(t, "42", "failure");
        assert_eq!(s(DEFAULT_SUBJECT), "WorkRequest 42 completed in failure");
        assert_eq!(
            s("${work_request_id}x ${work_request_result}"),
            "42x failure"
        );
        assert_eq!(s("$work_request_idx stays"), "$work_request_idx stays");
        assert_eq!(
            s("$$work_request_id is $work_request_id"),
            "$work_request_id is 42"
        );
        assert_eq!(s("cost $5, ${other} $ end $"), "cost $5, ${other} $ end $");
        assert_eq!(s("${work_request_id"), "${work_request_id");
        assert_eq!(s("$work_request_id."), "42.");
        assert_eq!(s("ünï $work_request_result€"), "ünï failure€");
    }

    fn channels() -> Channels {
        let c: Channel = toml::from_str(
            r#"type = "email"
               from = "th@example.org"
               to = ["qa@example.org"]
               smtp-host = "127.0.0.1"
               tls = "none""#,
        )
        .unwrap();
        Channels::new(Some("/etc/p.toml".into()), [("qa".to_string(), c)].into()).unwrap()
    }

    #[test]
    fn notifications_are_taken_off_the_task_data_and_checked() {
        let mut data = json!({"x": 1, "notifications": {"on_failure": [
            {"channel": "qa", "data": {"to": ["a@example.org"], "subject": "s"}}]}});
        let n = take(&mut data, &channels()).unwrap();
        assert_eq!(data, json!({"x": 1}));
        assert_eq!(
            n.on_failure[0].data.to.as_deref(),
            Some(&["a@example.org".to_string()][..])
        );

        let mut data = json!({"notifications": {"on_failure": [{"channel": "ops"}]}});
        let e = take(&mut data, &channels()).unwrap_err();
        assert!(
            e.starts_with(
                "task_data: notifications.on_failure[0].channel: no notification \
                               channel 'ops' in /etc/p.toml (it defines: qa)"
            ),
            "{e}"
        );
        let mut data = json!({"notifications": {"on_failure": [
            {"channel": "qa", "data": {"cc": ["ok@example.org", "not an address"]}}]}});
        let e = take(&mut data, &channels()).unwrap_err();
        assert!(
            e.starts_with("task_data: notifications.on_failure[0].data.cc[1]: 'not an address'"),
            "{e}"
        );
        let mut data = json!({"notifications": {"on_success": []}});
        let e = take(&mut data, &channels()).unwrap_err();
        assert!(
            e.starts_with("task_data: notifications: unknown field `on_success`"),
            "{e}"
        );
        let mut data =
            json!({"notifications": {"on_failure": [{"channel": "qa", "data": {"bcc": []}}]}});
        assert!(take(&mut data, &channels()).is_err());
    }

    #[test]
    fn a_channel_refuses_a_password_in_clear_and_bad_addresses() {
        let c = |extra: &str| -> Result<Channels, String> {
            let c: Channel = toml::from_str(&format!(
                "type = \"email\"\nfrom = \"th@example.org\"\nsmtp-host = \"h\"\n{extra}"
            ))
            .map_err(|e| e.to_string())?;
            Channels::new(None, [("qa".to_string(), c)].into())
        };
        assert!(c("").is_ok());
        let e = c("tls = \"none\"\ncredentials-file = \"/x\"").unwrap_err();
        assert!(e.contains("in clear"), "{e}");
        let e = c("to = [\"nobody\"]").unwrap_err();
        assert!(
            e.starts_with("[notification-channels.qa]: to: 'nobody'"),
            "{e}"
        );
        assert!(c("type2 = 1").is_err());
        assert!(c("tls = \"ssl\"").is_err());
    }

    #[test]
    fn only_failed_errored_and_crashed_runs_are_notified() {
        assert!(wanted(Status::Failure) && wanted(Status::Error) && wanted(Status::Crashed));
        assert!(!wanted(Status::Success) && !wanted(Status::Skipped) && !wanted(Status::Refused));
    }
}
