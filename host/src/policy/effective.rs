//! Declared ∩ granted − denied, and the refusals that explain it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{ExecPattern, Identity, LookupPattern, Quotas, UrlPrefix};
use crate::backends::ssh::Target;

/// Resource limits of one run. `None` leaves the host's built-in default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Wasm linear memory limit, in bytes.
    pub memory: Option<u64>,
    /// Wall-clock deadline of a run.
    pub timeout: Option<Duration>,
    /// Cap on each command's captured stdout/stderr, in bytes.
    pub output_limit: Option<u64>,
    /// Memory limit of the programs a run spawns.
    pub command_memory: Option<u64>,
    /// Memory of a virtual machine (qemu backend).
    pub vm_memory: Option<u64>,
    /// CPUs of a virtual machine (qemu backend).
    pub vm_cpus: Option<u64>,
    /// Per-run quotas.
    pub quotas: Quotas,
}

impl Limits {
    /// `self` with every limit that `over` sets replaced.
    pub fn overlay(&self, over: &Limits) -> Limits {
        Limits {
            memory: over.memory.or(self.memory),
            timeout: over.timeout.or(self.timeout),
            output_limit: over.output_limit.or(self.output_limit),
            command_memory: over.command_memory.or(self.command_memory),
            vm_memory: over.vm_memory.or(self.vm_memory),
            vm_cpus: over.vm_cpus.or(self.vm_cpus),
            quotas: self.quotas.overlay(&over.quotas),
        }
    }
}

/// What the operator granted (and denied) one plugin: policy file plus CLI.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    pub exec: Vec<ExecPattern>,
    pub deny_exec: Vec<ExecPattern>,
    pub backends: Vec<String>,
    pub deny_backends: Vec<String>,
    pub env: Vec<String>,
    pub deny_env: Vec<String>,
    pub urls: Vec<UrlPrefix>,
    pub deny_urls: Vec<UrlPrefix>,
    pub lookups: Vec<LookupPattern>,
    pub deny_lookups: Vec<LookupPattern>,
    /// Collections (`NAME@CATEGORY` patterns) it may change.
    pub collections: Vec<LookupPattern>,
    pub deny_collections: Vec<LookupPattern>,
    /// Tasks it may submit as child runs.
    pub submit: Vec<String>,
    pub deny_submit: Vec<String>,
    /// `ssh-hosts` of the plugin's table: the machines the ssh backend may
    /// reach; `None`: any.
    pub ssh_hosts: Option<Vec<Target>>,
    /// `ssh-hosts` of `[defaults]`, which must allow the machine too.
    pub default_ssh_hosts: Option<Vec<Target>>,
    pub limits: Limits,
    /// The CLI overrides already merged into the lists above, kept only to
    /// attribute a refusal to a flag rather than to the policy file.
    pub cli: Overrides,
}

/// Per-run CLI flags (`--allow-exec`, `--deny-exec`, ..., `--memory`,
/// `--timeout`). Allows add to the policy's grants; denies always win.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub allow_exec: Vec<ExecPattern>,
    pub deny_exec: Vec<ExecPattern>,
    pub allow_backend: Vec<String>,
    pub deny_backend: Vec<String>,
    pub allow_env: Vec<String>,
    pub deny_env: Vec<String>,
    pub allow_url: Vec<UrlPrefix>,
    pub deny_url: Vec<UrlPrefix>,
    pub allow_lookup: Vec<LookupPattern>,
    pub allow_collection: Vec<LookupPattern>,
    pub allow_submit: Vec<String>,
    pub memory: Option<u64>,
    pub timeout: Option<Duration>,
    pub output_limit: Option<u64>,
}

/// What a plugin's manifest declares it needs.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    pub exec: Vec<ExecPattern>,
    pub backends: Vec<String>,
    pub env: Vec<String>,
    pub urls: Vec<UrlPrefix>,
    pub lookups: Vec<LookupPattern>,
    /// Collections it may add items to or remove items from.
    pub collections: Vec<LookupPattern>,
    /// Tasks it may submit as child runs.
    pub submit: Vec<String>,
}

/// A URL allowed by a grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlGrant {
    /// The grant, for the audit log.
    pub rule: String,
    /// Allowed only through a `*`-host grant: such a URL may not reach
    /// loopback, link-local or private addresses.
    pub any_host: bool,
}

/// A refused capability, with the reason and, when granting would help,
/// a hint saying how.
///
/// Displays like `plugin 'blhc' may not run `cat /etc/passwd`: not declared
/// in its manifest (declared: `blhc --debian **`)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Denied {
    /// The plugin that asked.
    pub plugin: String,
    /// `"exec"`, `"backend"`, `"env"`, `"url"`, `"lookup"`, `"read"`,
    /// `"create"`, `"relate"` or `"quota"`.
    pub capability: String,
    /// What was asked for: a shell-quoted argv, a program, a name or a URL.
    pub subject: String,
    pub reason: String,
    /// Policy lines and CLI flag that would grant it.
    pub hint: Option<String>,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.capability.as_str() {
            "exec" => "run",
            "backend" => "use backend",
            "env" => "read environment variable",
            "url" => "access",
            "lookup" => "look up",
            "collection" => "change collection",
            "submit" => "submit task",
            "ssh-host" => "use ssh host",
            "read" => "use artifact",
            "quota" => "go past quota",
            other => other,
        };
        write!(
            f,
            "plugin '{}' may not {verb} `{}`: {}",
            self.plugin, self.subject, self.reason
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// The capabilities one plugin run actually gets.
#[derive(Clone, Debug)]
pub struct Effective {
    plugin: String,
    declared: Declared,
    grants: Grants,
    policy_source: Option<PathBuf>,
    /// The `[plugins.TABLE]` hints name.
    table: String,
    /// A digest hints must pin (`sha256 = [...]`): no table grants the
    /// plugin yet.
    pin: Option<String>,
    /// The policy file's sha256.
    policy_digest: Option<String>,
}

/// Capability kind: its name, the policy key, and the CLI flags.
struct Kind {
    capability: &'static str,
    key: &'static str,
    deny_key: &'static str,
    allow_flag: &'static str,
    deny_flag: &'static str,
}

const EXEC: Kind = Kind {
    capability: "exec",
    key: "exec",
    deny_key: "deny-exec",
    allow_flag: "--allow-exec",
    deny_flag: "--deny-exec",
};
const BACKEND: Kind = Kind {
    capability: "backend",
    key: "backends",
    deny_key: "deny-backends",
    allow_flag: "--allow-backend",
    deny_flag: "--deny-backend",
};
const ENV: Kind = Kind {
    capability: "env",
    key: "env",
    deny_key: "deny-env",
    allow_flag: "--allow-env",
    deny_flag: "--deny-env",
};
const URL: Kind = Kind {
    capability: "url",
    key: "urls",
    deny_key: "deny-urls",
    allow_flag: "--allow-url",
    deny_flag: "--deny-url",
};
const SSH_HOST: Kind = Kind {
    capability: "ssh-host",
    key: "ssh-hosts",
    deny_key: "",
    allow_flag: "",
    deny_flag: "",
};
const LOOKUP: Kind = Kind {
    capability: "lookup",
    key: "lookups",
    deny_key: "deny-lookups",
    allow_flag: "--allow-lookup",
    deny_flag: "deny-lookups",
};
const SUBMIT: Kind = Kind {
    capability: "submit",
    key: "submit",
    deny_key: "deny-submit",
    allow_flag: "--allow-submit",
    deny_flag: "deny-submit",
};
const COLLECTION: Kind = Kind {
    capability: "collection",
    key: "collections",
    deny_key: "deny-collections",
    allow_flag: "--allow-collection",
    deny_flag: "deny-collections",
};

impl Effective {
    /// Combines a plugin's manifest with what the operator granted it.
    /// `policy_source` is the policy file, named in hints.
    pub fn new(
        plugin: &str,
        declared: Declared,
        grants: Grants,
        policy_source: Option<PathBuf>,
    ) -> Self {
        Self {
            plugin: plugin.to_owned(),
            declared,
            grants,
            policy_source,
            table: plugin.to_owned(),
            pin: None,
            policy_digest: None,
        }
    }

    /// Records the policy file's digest (for provenance).
    pub fn with_policy_digest(mut self, digest: Option<String>) -> Self {
        self.policy_digest = digest;
        self
    }

    /// The policy file and its sha256, when there is one.
    pub fn policy(&self) -> (Option<&std::path::Path>, Option<&str>) {
        (self.policy_source.as_deref(), self.policy_digest.as_deref())
    }

    /// What the run may do, as JSON: declared ∩ granted − denied names, the
    /// grant patterns of declared programs, URL and lookup grants, limits.
    pub fn summary(&self) -> serde_json::Value {
        let g = &self.grants;
        let programs: Vec<&str> = self.declared.exec.iter().map(|p| p.program()).collect();
        let any_program = self.declared.exec.iter().any(|p| p.is_any_program());
        let strings = |v: &mut dyn Iterator<Item = String>| v.collect::<Vec<_>>();
        let l = &g.limits;
        serde_json::json!({
            "exec": strings(&mut g.exec.iter().filter(|p| any_program || programs.contains(&p.program())).map(|p| p.to_string())),
            "deny_exec": strings(&mut g.deny_exec.iter().map(|p| p.to_string())),
            "backends": self.granted_backends(),
            "env": self.granted_env(),
            "urls": strings(&mut g.urls.iter().map(|p| p.to_string())),
            "deny_urls": strings(&mut g.deny_urls.iter().map(|p| p.to_string())),
            "lookups": strings(&mut g.lookups.iter().map(|p| p.to_string())),
            "collections": strings(&mut g.collections.iter().map(|p| p.to_string())),
            "submit": g.submit.iter().filter(|t| self.declared.submit.contains(t)).collect::<Vec<_>>(),
            "ssh_hosts": g.ssh_hosts.as_ref().map(|l| l.iter().map(|t| t.to_string()).collect::<Vec<_>>()),
            "default_ssh_hosts": g.default_ssh_hosts.as_ref().map(|l| l.iter().map(|t| t.to_string()).collect::<Vec<_>>()),
            "limits": {
                "memory": l.memory,
                "timeout_s": l.timeout.map(|t| t.as_secs()),
                "output_limit": l.output_limit,
                "command_memory": l.command_memory,
                "vm_memory": l.vm_memory,
                "vm_cpus": l.vm_cpus,
                "quotas": super::Quota::ALL.iter().map(|q| (q.key().to_owned(), serde_json::json!(l.quotas.limit(*q)))).collect::<serde_json::Map<_, _>>(),
            },
        })
    }

    /// [`Effective::new`] for a resolved plugin: hints name its table, and
    /// pin its digest when no table grants it yet.
    pub fn for_identity(
        identity: &Identity,
        declared: Declared,
        grants: Grants,
        policy_source: Option<PathBuf>,
    ) -> Self {
        Self {
            table: identity.hint_table().to_owned(),
            pin: identity.needs_pin().then(|| identity.sha256.clone()),
            ..Self::new(&identity.name, declared, grants, policy_source)
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// What the manifest declared.
    pub fn declared(&self) -> &Declared {
        &self.declared
    }

    /// What the operator granted and denied.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Allows `argv` only if it matches a declared pattern, a granted
    /// pattern and no denied pattern. An empty argv is refused. Returns the
    /// rule that allowed it.
    pub fn check_exec(&self, argv: &[String]) -> Result<String, Denied> {
        let subject = shell_words::join(argv);
        if argv.is_empty() {
            return Err(self.denied(&EXEC, "", "empty command line".into(), None));
        }
        let Some(declared) = self.declared.exec.iter().find(|p| p.matches(argv)) else {
            let reason = not_declared(self.declared.exec.iter().map(|p| format!("`{p}`")));
            return Err(self.denied(&EXEC, &subject, reason, None));
        };
        if let Some(deny) = self.grants.deny_exec.iter().find(|p| p.matches(argv)) {
            let reason = self.denied_by(
                &EXEC,
                deny.to_string(),
                self.grants.cli.deny_exec.contains(deny),
            );
            return Err(self.denied(&EXEC, &subject, reason, None));
        }
        let Some(grant) = self.grants.exec.iter().find(|p| p.matches(argv)) else {
            // Under `* **`, suggest exactly this command line.
            let grant = match ExecPattern::exact(argv).filter(|_| declared.is_any_program()) {
                Some(exact) => exact.to_string(),
                None => declared.to_string(),
            };
            let hint = self.hint(&EXEC, &[grant]);
            return Err(self.denied(
                &EXEC,
                &subject,
                "declared but not granted".into(),
                Some(hint),
            ));
        };
        Ok(self.granted_by(
            &EXEC,
            &grant.to_string(),
            self.grants.cli.allow_exec.contains(grant),
        ))
    }

    /// Allows a declared, granted and not denied backend.
    pub fn check_backend(&self, name: &str) -> Result<String, Denied> {
        let g = &self.grants;
        self.check_name(
            &BACKEND,
            name,
            &self.declared.backends,
            (&g.backends, &g.cli.allow_backend),
            (&g.deny_backends, &g.cli.deny_backend),
        )
    }

    /// Allows submitting a child run of a declared, granted and not
    /// denied task.
    pub fn check_submit(&self, task: &str) -> Result<String, Denied> {
        let g = &self.grants;
        self.check_name(
            &SUBMIT,
            task,
            &self.declared.submit,
            (&g.submit, &g.cli.allow_submit),
            (&g.deny_submit, &[]),
        )
    }

    /// Allows a declared, granted and not denied environment variable.
    pub fn check_env(&self, name: &str) -> Result<String, Denied> {
        let g = &self.grants;
        self.check_name(
            &ENV,
            name,
            &self.declared.env,
            (&g.env, &g.cli.allow_env),
            (&g.deny_env, &g.cli.deny_env),
        )
    }

    /// Each pair: (all, those from the CLI).
    fn check_name(
        &self,
        kind: &Kind,
        name: &str,
        declared: &[String],
        (granted, cli_granted): (&[String], &[String]),
        (denied, cli_denied): (&[String], &[String]),
    ) -> Result<String, Denied> {
        if !declared.iter().any(|d| d == name) {
            let reason = not_declared(declared.iter().cloned());
            return Err(self.denied(kind, name, reason, None));
        }
        if denied.iter().any(|d| d == name) {
            let reason =
                self.denied_by(kind, name.to_owned(), cli_denied.iter().any(|d| d == name));
            return Err(self.denied(kind, name, reason, None));
        }
        if !granted.iter().any(|g| g == name) {
            let hint = self.hint(kind, &[name.to_owned()]);
            return Err(self.denied(kind, name, "declared but not granted".into(), Some(hint)));
        }
        Ok(self.granted_by(kind, name, cli_granted.iter().any(|g| g == name)))
    }

    /// Allows the ssh backend to reach `target` when every `ssh-hosts`
    /// list that applies (`[defaults]`, the plugin's table) holds it; no
    /// list: any machine.
    pub fn check_ssh_host(&self, target: &Target) -> Result<String, Denied> {
        let g = &self.grants;
        let plugin_table = self.table_lines();
        let lists = [
            (&g.default_ssh_hosts, "[defaults]".to_owned()),
            (&g.ssh_hosts, plugin_table),
        ];
        let mut rules = Vec::new();
        for (list, table) in lists {
            let Some(list) = list else { continue };
            let header = table.lines().next().unwrap_or_default().to_owned();
            let shown = |l: &[Target]| {
                let names: Vec<String> = l.iter().map(|t| t.to_string()).collect();
                toml_list(&names)
            };
            if !list.contains(target) {
                let mut fixed = list.clone();
                fixed.push(target.clone());
                let reason = format!(
                    "not in ssh-hosts = [{}] in {header} of {}",
                    shown(list),
                    self.policy_name()
                );
                let hint = format!(
                    "to allow it add it to that list:\n  {table}\n  ssh-hosts = [{}]",
                    shown(&fixed)
                );
                return Err(self.denied(&SSH_HOST, &target.to_string(), reason, Some(hint)));
            }
            rules.push(format!(
                "ssh-hosts = [{}] in {header} of {}",
                toml_string(&target.to_string()),
                self.policy_name()
            ));
        }
        if rules.is_empty() {
            return Ok("any machine: no ssh-hosts in the policy".to_owned());
        }
        Ok(rules.join(", "))
    }

    /// Allows a store lookup matching a declared, a granted and no denied
    /// pattern.
    pub fn check_lookup(&self, query: &str) -> Result<String, Denied> {
        let g = &self.grants;
        let lists = (&g.lookups[..], &g.deny_lookups[..], &g.cli.allow_lookup[..]);
        self.check_pattern(&LOOKUP, query, &self.declared.lookups, lists)
    }

    /// Allows a change (add, remove) to collection `label` (`NAME@CATEGORY`)
    /// matching a declared, a granted and no denied `collections` pattern.
    pub fn check_collection(&self, label: &str) -> Result<String, Denied> {
        let g = &self.grants;
        let lists = (
            &g.collections[..],
            &g.deny_collections[..],
            &g.cli.allow_collection[..],
        );
        self.check_pattern(&COLLECTION, label, &self.declared.collections, lists)
    }

    /// Lists: (granted, denied, granted by the CLI).
    fn check_pattern(
        &self,
        kind: &Kind,
        subject: &str,
        declared: &[LookupPattern],
        (granted, denied, cli): (&[LookupPattern], &[LookupPattern], &[LookupPattern]),
    ) -> Result<String, Denied> {
        let Some(declared) = declared.iter().find(|p| p.matches(subject)) else {
            let reason = not_declared(declared.iter().map(|p| format!("`{p}`")));
            return Err(self.denied(kind, subject, reason, None));
        };
        if let Some(deny) = denied.iter().find(|p| p.matches(subject)) {
            let reason = self.denied_by(kind, deny.to_string(), false);
            return Err(self.denied(kind, subject, reason, None));
        }
        let Some(grant) = granted.iter().find(|p| p.matches(subject)) else {
            let hint = self.hint(kind, &[declared.to_string()]);
            return Err(self.denied(kind, subject, "declared but not granted".into(), Some(hint)));
        };
        Ok(self.granted_by(kind, &grant.to_string(), cli.contains(grant)))
    }

    /// Allows a URL under a declared prefix and a granted prefix, under no
    /// denied prefix, and carrying no user info. The URL must already be in
    /// canonical form (see `policy::url_prefix::canonical`).
    pub fn check_url(&self, url: &Url) -> Result<UrlGrant, Denied> {
        if !url.username().is_empty() || url.password().is_some() {
            let mut shown = url.clone();
            // Never echo credentials; both calls only fail for URLs without a host.
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            let reason = "URLs carrying user info (user:password@) are refused".to_owned();
            return Err(self.denied(&URL, shown.as_str(), reason, None));
        }
        let subject = url.as_str();
        let Some(declared) = self.declared.urls.iter().find(|p| p.matches(url)) else {
            let reason = not_declared(self.declared.urls.iter().map(|p| p.to_string()));
            return Err(self.denied(&URL, subject, reason, None));
        };
        if let Some(deny) = self.grants.deny_urls.iter().find(|p| p.matches(url)) {
            let reason = self.denied_by(
                &URL,
                deny.to_string(),
                self.grants.cli.deny_url.contains(deny),
            );
            return Err(self.denied(&URL, subject, reason, None));
        }
        let granted: Vec<&UrlPrefix> = self.grants.urls.iter().filter(|p| p.matches(url)).collect();
        // A grant naming the host beats a `*` one: it may reach private
        // addresses.
        let Some(grant) = granted
            .iter()
            .find(|p| !p.any_host())
            .or_else(|| granted.first())
        else {
            // Under a `*` host declaration, suggest this URL's own host.
            let grant = if declared.any_host() {
                format!("{}/", url.origin().ascii_serialization())
            } else {
                declared.to_string()
            };
            let hint = self.hint(&URL, &[grant]);
            return Err(self.denied(&URL, subject, "declared but not granted".into(), Some(hint)));
        };
        Ok(UrlGrant {
            rule: self.granted_by(
                &URL,
                &grant.to_string(),
                self.grants.cli.allow_url.contains(grant),
            ),
            any_host: grant.any_host(),
        })
    }

    /// Declared ∩ granted − denied backends, in declared order.
    pub fn granted_backends(&self) -> Vec<String> {
        effective_names(
            &self.declared.backends,
            &self.grants.backends,
            &self.grants.deny_backends,
        )
    }

    /// Declared ∩ granted − denied environment variables, in declared order.
    pub fn granted_env(&self) -> Vec<String> {
        effective_names(&self.declared.env, &self.grants.env, &self.grants.deny_env)
    }

    /// The run's resource limits.
    pub fn limits(&self) -> &Limits {
        &self.grants.limits
    }

    /// Checks, before the plugin starts, that everything it declared is
    /// granted: every declared exec pattern by a grant pattern that can
    /// match one of its command lines (a narrower grant is checked at each
    /// call) and no deny rule covering it; at least one declared backend
    /// (they are alternatives), and each of `opens`, the backends this run
    /// is known to open (task_data's `backend`, `--ssh`, `--libvirt`);
    /// every declared env var and URL prefix (but for a `*` host) by a
    /// grant and no deny.
    /// Returns all missing grants, each with a hint naming the policy lines
    /// and CLI flags that would grant it.
    pub fn preflight(&self, opens: &[String]) -> Result<(), Vec<Denied>> {
        let missing: Vec<Denied> = self.missing(opens).into_iter().map(|(d, _)| d).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// One policy snippet granting everything declared but not yet granted
    /// (denied items excluded), or `None` when nothing is missing.
    pub fn missing_grants_snippet(&self) -> Option<String> {
        self.missing_grants_snippet_for(&[])
    }

    /// [`Effective::missing_grants_snippet`] for a run that opens the
    /// backends `opens` (see [`Effective::preflight`]).
    pub fn missing_grants_snippet_for(&self, opens: &[String]) -> Option<String> {
        let missing = self.missing(opens);
        let mut lines = Vec::new();
        for kind in [&EXEC, &BACKEND, &ENV, &URL, &LOOKUP] {
            let values: Vec<String> = missing
                .iter()
                .filter(|(d, _)| d.capability == kind.capability)
                .flat_map(|(_, values)| values.iter().cloned())
                .collect();
            if !values.is_empty() {
                lines.push(format!("{} = [{}]", kind.key, toml_list(&values)));
            }
        }
        if lines.is_empty() {
            return None;
        }
        Some(format!(
            "{}\n{}\n",
            self.table_lines().replace("\n  ", "\n"),
            lines.join("\n")
        ))
    }

    /// Every preflight refusal, with the values that would grant it (none
    /// when a deny rule is in the way).
    fn missing(&self, opens: &[String]) -> Vec<(Denied, Vec<String>)> {
        let mut missing = Vec::new();
        let g = &self.grants;

        // `* **` names no program to grant up front: its commands are
        // checked (with a hint naming the command line) as they run.
        for p in self.declared.exec.iter().filter(|p| !p.is_any_program()) {
            let subject = p.to_string();
            if let Some(deny) = g.deny_exec.iter().find(|d| d.covers(p)) {
                let reason =
                    self.denied_by(&EXEC, deny.to_string(), g.cli.deny_exec.contains(deny));
                missing.push((self.denied(&EXEC, &subject, reason, None), Vec::new()));
            } else if !g.exec.iter().any(|grant| grant.overlaps(p)) {
                missing.push(self.not_granted(&EXEC, &subject, vec![subject.clone()]));
            }
        }

        // Backends are alternatives: one usable backend is enough to start,
        // but one this run will open (`opens`) must be granted.
        let backends = dedup(&self.declared.backends);
        let usable = |b: &String| g.backends.contains(b) && !g.deny_backends.contains(b);
        let any_usable = backends.iter().any(|b| usable(b));
        for name in backends {
            if usable(name) || (any_usable && !opens.contains(name)) {
                continue;
            }
            if g.deny_backends.contains(name) {
                let reason =
                    self.denied_by(&BACKEND, name.clone(), g.cli.deny_backend.contains(name));
                missing.push((self.denied(&BACKEND, name, reason, None), Vec::new()));
            } else {
                missing.push(self.not_granted(&BACKEND, name, vec![name.clone()]));
            }
        }

        let names = [(
            &ENV,
            &self.declared.env,
            &g.env,
            &g.deny_env,
            &g.cli.deny_env,
        )];
        for (kind, declared, granted, deny, cli_deny) in names {
            for name in dedup(declared) {
                if deny.contains(name) {
                    let reason = self.denied_by(kind, name.clone(), cli_deny.contains(name));
                    missing.push((self.denied(kind, name, reason, None), Vec::new()));
                } else if !granted.contains(name) {
                    missing.push(self.not_granted(kind, name, vec![name.clone()]));
                }
            }
        }

        for prefix in dedup(&self.declared.urls) {
            let subject = prefix.to_string();
            if let Some(deny) = g.deny_urls.iter().find(|d| d.covers(prefix)) {
                let reason = self.denied_by(&URL, deny.to_string(), g.cli.deny_url.contains(deny));
                missing.push((self.denied(&URL, &subject, reason, None), Vec::new()));
            } else if !prefix.any_host()
                && !g.urls.iter().any(|u| u.covers(prefix) || prefix.covers(u))
            {
                // A `*` host declaration names no host to grant up front:
                // its URLs are checked (with a hint naming the host) as used.
                missing.push(self.not_granted(&URL, &subject, vec![subject.clone()]));
            }
        }

        // Lookups are checked as they are made (a plugin that may be given
        // a lookup in its task_data need not always make one); the refusal
        // names the grant.
        missing
    }

    fn not_granted(
        &self,
        kind: &Kind,
        subject: &str,
        values: Vec<String>,
    ) -> (Denied, Vec<String>) {
        let hint = self.hint(kind, &values);
        (
            self.denied(kind, subject, "declared but not granted".into(), Some(hint)),
            values,
        )
    }

    fn denied(&self, kind: &Kind, subject: &str, reason: String, hint: Option<String>) -> Denied {
        Denied {
            plugin: self.plugin.clone(),
            capability: kind.capability.to_owned(),
            subject: subject.to_owned(),
            reason,
            hint,
        }
    }

    pub(crate) fn policy_name(&self) -> String {
        match &self.policy_source {
            Some(p) => p.display().to_string(),
            None => "the policy".to_owned(),
        }
    }

    fn denied_by(&self, kind: &Kind, rule: String, from_cli: bool) -> String {
        if from_cli {
            format!("denied by {} {}", kind.deny_flag, shell_words::quote(&rule))
        } else {
            format!(
                "denied by {} `{rule}` in {}",
                kind.deny_key,
                self.policy_name()
            )
        }
    }

    /// Names the grant that allowed a request, for the audit log.
    fn granted_by(&self, kind: &Kind, rule: &str, from_cli: bool) -> String {
        if from_cli {
            format!("{} {}", kind.allow_flag, shell_words::quote(rule))
        } else {
            format!(
                "{} = [{}] in [plugins.{}] of {}",
                kind.key,
                toml_string(rule),
                toml_key(&self.table),
                self.policy_name()
            )
        }
    }

    /// The table header (and the digest pin it needs) of a hint.
    fn table_lines(&self) -> String {
        match &self.pin {
            Some(pin) => format!(
                "[plugins.{}]\n  sha256 = [{}]",
                toml_key(&self.table),
                toml_string(pin)
            ),
            None => format!("[plugins.{}]", toml_key(&self.table)),
        }
    }

    fn hint(&self, kind: &Kind, values: &[String]) -> String {
        let file = match &self.policy_source {
            Some(p) => p.display().to_string(),
            None => "a policy file (e.g. ~/.config/taskhost/policy.toml)".to_owned(),
        };
        let flags: Vec<String> = values
            .iter()
            .map(|v| format!("{} {}", kind.allow_flag, shell_words::quote(v)))
            .collect();
        format!(
            "to grant it add to {file}:\n  {}\n  {} = [{}]\n or pass {}",
            self.table_lines(),
            kind.key,
            toml_list(values),
            flags.join(" ")
        )
    }
}

fn not_declared(declared: impl Iterator<Item = String>) -> String {
    let list: Vec<String> = declared.collect();
    if list.is_empty() {
        "not declared in its manifest (it declares none)".to_owned()
    } else {
        format!(
            "not declared in its manifest (declared: {})",
            list.join(", ")
        )
    }
}

fn effective_names(declared: &[String], granted: &[String], denied: &[String]) -> Vec<String> {
    dedup(declared)
        .into_iter()
        .filter(|n| granted.contains(n) && !denied.contains(n))
        .cloned()
        .collect()
}

fn dedup<T: PartialEq>(items: &[T]) -> Vec<&T> {
    let mut out: Vec<&T> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// A TOML basic string.
pub(crate) fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| toml_string(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TOML key: bare if possible, else quoted.
pub(crate) fn toml_key(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare { s.to_owned() } else { toml_string(s) }
}
