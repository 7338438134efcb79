//! The one granter of a run: every capability decision — exec, env,
//! backend, url, lookup, artifact read, create and relate, and quotas —
//! goes through [`Granter`], which answers allow, or deny naming the grant
//! and the policy line that would allow it, and writes one audit line.
//!
//! A host call cannot skip it: the capabilities hold a `Granter`, not the
//! grants themselves.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Value, json};
use url::Url;

use super::audit::{Audit, Decision};
use super::effective::toml_key;
use super::quota::{Quota, Quotas, Usage};
use super::{Denied, Effective, Identity, Limits, Permit, UrlGrant};

/// An artifact id of the store.
type ArtifactId = u64;

/// Every decision of one run.
#[derive(Debug)]
pub struct Granter {
    effective: Effective,
    identity: Identity,
    audit: Audit,
    quotas: Quotas,
    usage: Usage,
    /// Artifacts the plugin may read: inputs, creations, lookups.
    visible: HashSet<ArtifactId>,
    /// Artifacts created by this run, in order.
    created: Vec<ArtifactId>,
    /// Collections an allowed `collections.get` found, with their
    /// `NAME@CATEGORY`.
    collections: HashMap<u64, String>,
    /// Categories the manifest declares it creates.
    creates: Vec<String>,
    /// Quotas whose first refusal is audited already.
    audited_quotas: BTreeSet<Quota>,
}

impl Granter {
    /// The granter of a run under `permit`, creating `creates`
    /// categories, auditing into `audit`.
    pub fn new(permit: Permit, creates: Vec<String>, audit: Audit) -> Self {
        let Permit {
            identity,
            effective,
        } = permit;
        let quotas = effective.limits().quotas.clone();
        Granter {
            effective,
            identity,
            audit,
            quotas,
            usage: Usage::default(),
            visible: HashSet::new(),
            created: Vec::new(),
            collections: HashMap::new(),
            creates,
            audited_quotas: BTreeSet::new(),
        }
    }

    /// A granter that allows nothing and audits nothing (`describe`).
    pub fn nothing(identity: Identity) -> Self {
        let effective =
            Effective::new(&identity.name, Default::default(), Default::default(), None);
        Self::new(
            Permit {
                identity,
                effective,
            },
            Vec::new(),
            Audit::none(),
        )
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.identity.name
    }

    pub fn effective(&self) -> &Effective {
        &self.effective
    }

    pub fn limits(&self) -> &Limits {
        self.effective.limits()
    }

    pub fn quota(&self, quota: Quota) -> u64 {
        self.quotas.limit(quota)
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Artifacts created so far, in order.
    pub fn created(&self) -> &[ArtifactId] {
        &self.created
    }

    /// Writes the audit lines out (once, at the end of the run).
    pub fn write_audit(&mut self) -> std::io::Result<()> {
        self.audit.write()
    }

    fn decide<T>(
        &mut self,
        capability: &str,
        request: Value,
        result: Result<T, Denied>,
        rule: impl FnOnce(&T) -> String,
    ) -> Result<T, Denied> {
        match &result {
            Ok(allowed) => {
                let rule = rule(allowed);
                self.audit
                    .record(capability, request, Decision::Allow, &rule)
            }
            Err(denied) => self
                .audit
                .record(capability, request, Decision::Deny, &denied.reason),
        }
        result
    }

    /// Runs `argv`?
    pub fn exec(&mut self, argv: &[String]) -> Result<(), Denied> {
        let result = self.effective.check_exec(argv);
        self.decide("exec", json!(argv), result, String::clone)
            .map(drop)
    }

    /// Passes environment variable `name` to a command?
    pub fn env(&mut self, name: &str) -> Result<(), Denied> {
        let result = self.effective.check_env(name);
        self.decide("env", json!(name), result, String::clone)
            .map(drop)
    }

    /// Opens backend `name`?
    pub fn backend(&mut self, name: &str) -> Result<(), Denied> {
        let result = self.effective.check_backend(name);
        self.decide("backend", json!(name), result, String::clone)
            .map(drop)
    }

    /// Reaches machine `target` through the ssh backend?
    pub fn ssh_host(&mut self, target: &crate::backends::ssh::Target) -> Result<(), Denied> {
        let result = self.effective.check_ssh_host(target);
        self.decide("ssh-host", json!(target.to_string()), result, String::clone)
            .map(drop)
    }

    /// Reaches `url` (already canonical)? Says whether only a `*`-host
    /// grant allows it.
    pub fn url(&mut self, url: &Url) -> Result<UrlGrant, Denied> {
        let result = self.effective.check_url(url);
        self.decide("url", json!(url.as_str()), result, |g| g.rule.clone())
    }

    /// Refuses a URL for a reason found outside the grants (its form, the
    /// address it resolves to), and audits it.
    pub fn refuse_url(&mut self, url: &str, reason: String, hint: Option<String>) -> Denied {
        let denied = self.denied("url", url, reason, hint);
        self.audit
            .record("url", json!(url), Decision::Deny, &denied.reason);
        denied
    }

    /// Looks up `query` (a `COLLECTION/match:...` lookup) in the store?
    pub fn lookup(&mut self, query: &str, category: &str) -> Result<(), Denied> {
        let result = self.effective.check_lookup(query);
        let request = json!({"query": query, "category": category});
        self.decide("lookup", request, result, String::clone)
            .map(drop)
    }

    /// Finds collection `query` (`NAME@CATEGORY`, `NNN@collections`)?
    /// Granted as a lookup.
    pub fn collection(&mut self, query: &str) -> Result<(), Denied> {
        let result = self.effective.check_lookup(query);
        let request = json!({"query": query, "category": "collection"});
        self.decide("lookup", request, result, String::clone)
            .map(drop)
    }

    /// Records collection `id` (`NAME@CATEGORY` `label`), found by an
    /// allowed [`Granter::collection`]: the run may read its items.
    pub fn add_collection(&mut self, id: u64, label: &str) {
        self.collections.insert(id, label.to_owned());
    }

    /// Reads the items of collection `id`?
    pub fn collection_items(&mut self, id: u64) -> Result<(), Denied> {
        let request = json!({"collection": id, "call": "collections.items"});
        let result = self.seen_collection(id, "read");
        self.decide("read", request, result, |r| (*r).to_owned())
            .map(drop)
    }

    /// Submits a child run of `task`?
    pub fn submit(&mut self, task: &str, params: &str) -> Result<(), Denied> {
        let request = json!({"task": task, "params": params});
        if let Err(denied) = self.effective.check_submit(task) {
            return self.decide("submit", request, Err(denied), |_: &()| String::new());
        }
        self.charge(Quota::ChildRuns, 1)?;
        let result = self.effective.check_submit(task);
        self.decide("submit", request, result, String::clone)
            .map(drop)
    }

    /// Changes (`add`, `remove`) item `name` of collection `id`, one
    /// this run got? Counted against the `collection-changes` quota.
    pub fn change_collection(&mut self, id: u64, change: &str, name: &str) -> Result<(), Denied> {
        let label = self
            .collections
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("{id}@collections"));
        let request = json!({"collection": label, "change": change, "name": name});
        let result = self
            .seen_collection(id, "collection")
            .and_then(|_| self.effective.check_collection(&label));
        if result.is_ok() {
            self.charge(Quota::CollectionChanges, 1)?;
        }
        self.decide("collection", request, result, String::clone)
            .map(drop)
    }

    /// Waits for child run `run_id`, which this run `submitted` (or not)?
    pub fn wait(&mut self, run_id: &str, submitted: bool) -> Result<(), Denied> {
        let request = json!({"run": run_id, "call": "runs.wait"});
        let result = if submitted {
            Ok("a run this run submitted")
        } else {
            Err(self.denied(
                "read",
                &format!("run {run_id}"),
                "it was not submitted by this run".into(),
                None,
            ))
        };
        self.decide("read", request, result, |r| (*r).to_owned())
            .map(drop)
    }

    fn seen_collection(&self, id: u64, capability: &str) -> Result<&'static str, Denied> {
        if self.collections.contains_key(&id) {
            Ok("a collection found by an allowed collections.get")
        } else {
            Err(self.denied(
                capability,
                &format!("{id}@collections"),
                "this run did not get it with collections.get".into(),
                None,
            ))
        }
    }

    /// Makes `ids` readable: the run's inputs, named by its task_data.
    pub fn add_inputs(&mut self, ids: impl IntoIterator<Item = ArtifactId>) {
        for id in ids {
            self.visible.insert(id);
            self.audit.record(
                "read",
                json!({"id": id, "call": "fetch-inputs"}),
                Decision::Allow,
                "an input of this run (task_data)",
            );
        }
    }

    /// Makes `id` readable after an allowed lookup found it.
    pub fn add_found(&mut self, id: ArtifactId) {
        self.visible.insert(id);
    }

    /// Reads artifact `id` through `call`?
    pub fn read(&mut self, call: &str, id: ArtifactId) -> Result<(), Denied> {
        let request = json!({"id": id, "call": call});
        let result = if self.created.contains(&id) {
            Ok("created by this run")
        } else if self.visible.contains(&id) {
            Ok("an input of this run, or found by an allowed lookup")
        } else {
            Err(self.denied(
                "read",
                &id.to_string(),
                "it is neither an input of this run nor created by it".into(),
                None,
            ))
        };
        self.decide("read", request, result, |r| (*r).to_owned())
            .map(drop)
    }

    /// Creates an artifact of `category` with `files` files?
    pub fn create(&mut self, category: &str, files: u64) -> Result<(), Denied> {
        let request = json!({"category": category, "files": files});
        if !self.creates.iter().any(|c| c == category) {
            let reason = format!("its manifest declares creates = {:?}", self.creates);
            let denied = self.denied("create", category, reason, None);
            return self.decide("create", request, Err(denied), |_: &()| String::new());
        }
        self.charge(Quota::Artifacts, 1)?;
        self.charge(Quota::ArtifactFiles, files)?;
        self.decide("create", request, Ok(()), |_| {
            format!("creates = [\"{category}\"] in its manifest")
        })
    }

    /// Records an artifact this run created: readable, and a relation source.
    pub fn note_created(&mut self, id: ArtifactId) {
        self.created.push(id);
        self.visible.insert(id);
    }

    /// Relates `source` to `target`?
    pub fn relate(
        &mut self,
        source: ArtifactId,
        target: ArtifactId,
        relation: &str,
    ) -> Result<(), Denied> {
        let request = json!({"source": source, "target": target, "relation": relation});
        let subject = format!("{source} {relation} {target}");
        let result = if !self.created.contains(&source) {
            Err(self.denied(
                "relate",
                &subject,
                format!("artifact {source} was not created by this run"),
                None,
            ))
        } else if !self.visible.contains(&target) {
            Err(self.denied(
                "relate",
                &subject,
                format!("artifact {target} is neither an input of this run nor created by it"),
                None,
            ))
        } else {
            Ok(())
        };
        self.decide("relate", request, result, |_| {
            "source created by this run, target visible to it".to_owned()
        })
    }

    /// Adds `amount` to `quota`, or refuses (nothing added). The first
    /// refusal of each quota is audited; later ones are counted.
    pub fn charge(&mut self, quota: Quota, amount: u64) -> Result<(), Denied> {
        let limit = self.quotas.limit(quota);
        if self.usage.charge(quota, amount, limit) {
            return Ok(());
        }
        Err(self.quota_denied(quota))
    }

    /// Records a gauge (open handles, disk use); refuses past the quota.
    pub fn gauge(&mut self, quota: Quota, value: u64) -> Result<(), Denied> {
        self.usage.set(quota, value);
        if value <= self.quotas.limit(quota) {
            return Ok(());
        }
        self.usage.refused(quota);
        Err(self.quota_denied(quota))
    }

    /// Records a refusal that the runtime itself enforced (a full handle
    /// table).
    pub fn quota_hit(&mut self, quota: Quota) -> Denied {
        self.usage.refused(quota);
        self.quota_denied(quota)
    }

    fn quota_denied(&mut self, quota: Quota) -> Denied {
        let denied = self.describe_quota(quota);
        if self.audited_quotas.insert(quota) {
            let limit = self.quotas.limit(quota);
            let request =
                json!({"quota": quota.key(), "used": self.usage.used(quota), "limit": limit});
            self.audit
                .record("quota", request, Decision::Deny, &denied.reason);
        }
        denied
    }

    /// The refusal `quota` gives, recording nothing.
    pub fn describe_quota(&self, quota: Quota) -> Denied {
        let limit = self.quotas.limit(quota);
        let source = if self.quotas.is_set(quota) {
            format!("`{} = {limit}` in {}", quota.key(), self.policy_name())
        } else {
            "the built-in default".to_owned()
        };
        let reason = format!(
            "the run may hold at most {} {} ({source})",
            quota.amount(limit),
            quota.what()
        );
        let hint = format!(
            "to raise it add to {}:\n  [plugins.{}]\n  {} = {}",
            self.policy_name(),
            toml_key(self.identity.hint_table()),
            quota.key(),
            if quota.is_bytes() {
                format!("\"{}\"", super::quota::human_size(limit.saturating_mul(2)))
            } else {
                limit.saturating_mul(2).to_string()
            }
        );
        self.denied("quota", quota.key(), reason, Some(hint))
    }

    fn policy_name(&self) -> String {
        self.effective.policy_name()
    }

    fn denied(
        &self,
        capability: &str,
        subject: &str,
        reason: String,
        hint: Option<String>,
    ) -> Denied {
        Denied {
            plugin: self.identity.name.clone(),
            capability: capability.to_owned(),
            subject: subject.to_owned(),
            reason,
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::audit;
    use crate::policy::{Declared, ExecPattern, Grants, Overrides, Policy};
    use std::path::Path;

    fn granter(dir: &Path, policy: &str, declared: Declared) -> Granter {
        let policy = Policy::from_toml(policy, Path::new("/etc/taskhost/policy.toml")).unwrap();
        let identity = Identity::trusted("p", &"a".repeat(64));
        let grants: Grants = policy.grants_for("p", &Overrides::default());
        let effective = Effective::for_identity(
            &identity,
            declared,
            grants,
            policy.source().map(Path::to_path_buf),
        );
        let audit = Audit::new("run1", "p", &identity.digest(), Some(dir));
        Granter::new(
            Permit {
                identity,
                effective,
            },
            vec!["test:x".into()],
            audit,
        )
    }

    fn events(dir: &Path, mut g: Granter) -> Vec<audit::Event> {
        g.write_audit().unwrap();
        audit::read(&dir.join("run1").join(audit::FILE)).unwrap()
    }

    #[test]
    fn every_decision_is_one_audit_line_naming_its_rule() {
        let dir = tempfile::tempdir().unwrap();
        let declared = Declared {
            exec: vec![ExecPattern::parse("echo **").unwrap()],
            ..Declared::default()
        };
        let mut g = granter(dir.path(), "[plugins.p]\nexec = [\"echo hi\"]\n", declared);
        assert!(g.exec(&["echo".into(), "hi".into()]).is_ok());
        assert!(g.exec(&["echo".into(), "ho".into()]).is_err());
        assert!(g.read("artifacts.get", 7).is_err());
        let e = events(dir.path(), g);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].decision, Decision::Allow);
        assert!(
            e[0].rule.contains("exec = [\"echo hi\"] in [plugins.p]"),
            "{}",
            e[0].rule
        );
        assert_eq!(e[1].decision, Decision::Deny);
        assert_eq!(e[1].rule, "declared but not granted");
        assert_eq!(e[2].capability, "read");
        assert!(
            e.iter()
                .all(|e| e.digest == format!("sha256:{}", "a".repeat(64)))
        );
    }

    #[test]
    fn artifacts_are_readable_only_when_given_created_or_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = granter(dir.path(), "", Declared::default());
        g.add_inputs([1]);
        assert!(g.read("get", 1).is_ok());
        assert!(g.read("get", 2).is_err());
        assert!(g.create("test:other", 1).is_err());
        assert!(g.create("test:x", 1).is_ok());
        g.note_created(3);
        assert!(g.read("get", 3).is_ok());
        assert!(g.relate(3, 1, "relates-to").is_ok());
        assert!(g.relate(1, 3, "relates-to").is_err(), "source not created");
        assert!(g.relate(3, 2, "relates-to").is_err(), "target not visible");
    }

    #[test]
    fn a_quota_refuses_past_its_limit_and_is_audited_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = granter(
            dir.path(),
            "[plugins.p]\nresults = 2\n",
            Declared::default(),
        );
        assert!(g.charge(Quota::Results, 1).is_ok());
        assert!(g.charge(Quota::Results, 1).is_ok());
        let denied = g.charge(Quota::Results, 1).unwrap_err();
        assert!(denied.to_string().contains("at most 2 results"), "{denied}");
        assert!(denied.to_string().contains("results = 4"), "{denied}");
        assert!(g.charge(Quota::Results, 1).is_err());
        assert_eq!(
            g.usage().exceeded().collect::<Vec<_>>(),
            [(Quota::Results, 2)]
        );
        let e = events(dir.path(), g);
        assert_eq!(e.len(), 1, "one audit line per exceeded quota");
        assert_eq!(e[0].capability, "quota");
    }

    #[test]
    fn creating_past_the_artifact_quota_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = granter(
            dir.path(),
            "[plugins.p]\nartifacts = 1\nartifact-files = 3\n",
            Declared::default(),
        );
        assert!(g.create("test:x", 2).is_ok());
        assert!(
            g.create("test:x", 1)
                .unwrap_err()
                .to_string()
                .contains("artifacts")
        );
        let mut g = granter(
            dir.path(),
            "[plugins.p]\nartifact-files = 3\n",
            Declared::default(),
        );
        assert!(
            g.create("test:x", 4)
                .unwrap_err()
                .to_string()
                .contains("artifact files")
        );
    }

    /// Every capability × {declared and granted, declared not granted,
    /// granted not declared, denied by a deny rule}: the decision and the
    /// audit line it writes.
    #[test]
    fn deny_matrix() {
        use crate::policy::{LookupPattern, UrlPrefix};
        let dir = tempfile::tempdir().unwrap();
        let declared = Declared {
            exec: vec![ExecPattern::parse("tool **").unwrap()],
            backends: vec!["local".into(), "unshare".into()],
            env: vec!["LANG".into(), "TZ".into()],
            urls: vec![
                UrlPrefix::parse("https://a.example/").unwrap(),
                UrlPrefix::parse("https://b.example/").unwrap(),
            ],
            lookups: vec![
                LookupPattern::parse("debian/match:*").unwrap(),
                LookupPattern::parse("*@debian:suite").unwrap(),
            ],
            collections: vec![LookupPattern::parse("*@debian:suite-lintian").unwrap()],
            submit: vec!["lintian".into(), "sbuild".into()],
        };
        let policy = r#"
[defaults]
deny-exec = ["tool --rm **"]
deny-backends = ["unshare"]
deny-env = ["TZ"]
deny-urls = ["https://b.example/"]
deny-lookups = ["debian/match:codename=sid*"]
deny-collections = ["sid@debian:suite-lintian"]
deny-submit = ["sbuild"]

[plugins.p]
exec = ["tool **", "other **"]
backends = ["local", "unshare", "qemu"]
env = ["LANG", "TZ", "HOME"]
urls = ["https://a.example/", "https://b.example/", "https://c.example/"]
lookups = ["debian/match:*", "fedora/match:*", "*@debian:suite"]
collections = ["*@debian:suite-lintian", "*@debian:suite"]
submit = ["lintian", "sbuild", "piuparts"]
child-runs = 1
"#;
        let mut g = granter(dir.path(), policy, declared);
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let url = |s: &str| Url::parse(s).unwrap();
        // (capability, decision, rule fragment)
        let mut expected: Vec<(&str, Decision, &str)> = Vec::new();
        let mut check = |cap: &'static str, ok: bool, rule: &'static str| {
            let decision = if ok { Decision::Allow } else { Decision::Deny };
            expected.push((cap, decision, rule));
        };
        // exec
        assert!(g.exec(&argv("tool x")).is_ok());
        check("exec", true, "exec = [\"tool **\"] in [plugins.p]");
        assert!(g.exec(&argv("tool --rm x")).is_err());
        check("exec", false, "denied by deny-exec `tool --rm **`");
        assert!(g.exec(&argv("other x")).is_err());
        check("exec", false, "not declared in its manifest");
        // env
        assert!(g.env("LANG").is_ok());
        check("env", true, "env = [\"LANG\"]");
        assert!(g.env("TZ").is_err());
        check("env", false, "denied by deny-env `TZ`");
        assert!(g.env("HOME").is_err());
        check("env", false, "not declared");
        // backend
        assert!(g.backend("local").is_ok());
        check("backend", true, "backends = [\"local\"]");
        assert!(g.backend("unshare").is_err());
        check("backend", false, "denied by deny-backends `unshare`");
        assert!(g.backend("qemu").is_err());
        check("backend", false, "not declared");
        // url
        assert!(g.url(&url("https://a.example/x")).is_ok());
        check("url", true, "urls = [\"https://a.example/\"]");
        assert!(g.url(&url("https://b.example/x")).is_err());
        check("url", false, "denied by deny-urls `https://b.example/`");
        assert!(g.url(&url("https://c.example/x")).is_err());
        check("url", false, "not declared");
        // lookup
        assert!(g.lookup("debian/match:codename=trixie", "c").is_ok());
        check("lookup", true, "lookups = [\"debian/match:*\"]");
        assert!(g.lookup("debian/match:codename=sid", "c").is_err());
        check("lookup", false, "denied by deny-lookups");
        assert!(g.lookup("fedora/match:release=40", "c").is_err());
        check("lookup", false, "not declared");
        // collections: found by a lookup grant, changed by a collections one
        assert!(g.collection("bookworm@debian:suite").is_ok());
        check("lookup", true, "lookups = [\"*@debian:suite\"]");
        g.add_collection(5, "bookworm@debian:suite-lintian");
        g.add_collection(6, "sid@debian:suite-lintian");
        g.add_collection(8, "bookworm@debian:suite");
        assert!(g.collection_items(5).is_ok());
        check("read", true, "found by an allowed collections.get");
        assert!(g.collection_items(7).is_err());
        check("read", false, "did not get it with collections.get");
        assert!(g.change_collection(5, "add", "x").is_ok());
        check(
            "collection",
            true,
            "collections = [\"*@debian:suite-lintian\"]",
        );
        assert!(g.change_collection(6, "remove", "x").is_err());
        check("collection", false, "denied by deny-collections");
        assert!(g.change_collection(8, "add", "x").is_err());
        check("collection", false, "not declared");
        assert!(g.change_collection(7, "add", "x").is_err());
        check("collection", false, "did not get it with collections.get");
        // wait: only for the run's own children
        assert!(g.wait("r1", true).is_ok());
        check("read", true, "a run this run submitted");
        assert!(g.wait("r2", false).is_err());
        check("read", false, "not submitted by this run");
        // submit: by task name, within the child-runs quota
        assert!(g.submit("lintian", "p1").is_ok());
        check("submit", true, "submit = [\"lintian\"]");
        assert!(g.submit("sbuild", "p2").is_err());
        check("submit", false, "denied by deny-submit `sbuild`");
        assert!(g.submit("piuparts", "p3").is_err());
        check("submit", false, "not declared");
        assert!(g.submit("lintian", "p4").is_err());
        check("quota", false, "child-runs");
        // read, create, relate (decided by the run's scope and manifest)
        g.add_inputs([1]);
        check("read", true, "an input of this run (task_data)");
        assert!(g.read("artifacts.get", 1).is_ok());
        check("read", true, "an input of this run");
        assert!(g.read("artifacts.get", 2).is_err());
        check(
            "read",
            false,
            "neither an input of this run nor created by it",
        );
        assert!(g.create("test:x", 1).is_ok());
        check("create", true, "creates = [\"test:x\"] in its manifest");
        assert!(g.create("test:y", 1).is_err());
        check("create", false, "its manifest declares creates");
        g.note_created(3);
        assert!(g.relate(3, 1, "relates-to").is_ok());
        check("relate", true, "source created by this run");
        assert!(g.relate(1, 3, "relates-to").is_err());
        check("relate", false, "was not created by this run");
        assert!(g.relate(3, 2, "relates-to").is_err());
        check(
            "relate",
            false,
            "neither an input of this run nor created by it",
        );
        let events = events(dir.path(), g);
        assert_eq!(events.len(), expected.len(), "{events:#?}");
        for (event, (cap, decision, rule)) in events.iter().zip(&expected) {
            assert_eq!(event.capability, *cap, "{event:?}");
            assert_eq!(event.decision, *decision, "{event:?}");
            assert!(event.rule.contains(rule), "{:?} lacks {rule:?}", event.rule);
        }
    }

    /// Declared, not granted: each capability's refusal names the policy
    /// line that would grant it.
    #[test]
    fn declared_but_not_granted_names_the_line_to_add() {
        use crate::policy::{LookupPattern, UrlPrefix};
        let dir = tempfile::tempdir().unwrap();
        let declared = Declared {
            exec: vec![ExecPattern::parse("tool **").unwrap()],
            backends: vec!["local".into()],
            env: vec!["LANG".into()],
            urls: vec![UrlPrefix::parse("https://a.example/").unwrap()],
            lookups: vec![LookupPattern::parse("debian/match:*").unwrap()],
            collections: vec![LookupPattern::parse("*@debian:suite-lintian").unwrap()],
            submit: vec!["lintian".into()],
        };
        let mut g = granter(dir.path(), "", declared);
        let hints = [
            g.exec(&["tool".into()]).unwrap_err(),
            g.env("LANG").unwrap_err(),
            g.backend("local").unwrap_err(),
            g.url(&Url::parse("https://a.example/x").unwrap())
                .unwrap_err(),
            g.lookup("debian/match:a=b", "c").unwrap_err(),
            {
                g.add_collection(1, "sid@debian:suite-lintian");
                g.change_collection(1, "add", "x").unwrap_err()
            },
            g.submit("lintian", "p").unwrap_err(),
        ];
        for (denied, line) in hints.iter().zip([
            "exec = [\"tool **\"]",
            "env = [\"LANG\"]",
            "backends = [\"local\"]",
            "urls = [\"https://a.example/\"]",
            "lookups = [\"debian/match:*\"]",
            "collections = [\"*@debian:suite-lintian\"]",
            "submit = [\"lintian\"]",
        ]) {
            assert_eq!(denied.reason, "declared but not granted");
            let text = denied.to_string();
            assert!(
                text.contains("[plugins.p]") && text.contains(line),
                "{text}"
            );
        }
        // Every quota refuses past its limit, naming the key to raise.
        for quota in Quota::ALL {
            let limit = g.quota(quota);
            assert!(g.charge(quota, limit).is_ok(), "{quota}");
            let denied = g.charge(quota, 1).unwrap_err();
            assert!(
                denied
                    .to_string()
                    .contains(&format!("  {} = ", quota.key())),
                "{denied}"
            );
        }
        let events = events(dir.path(), g);
        let quota_lines = events.iter().filter(|e| e.capability == "quota").count();
        assert_eq!(quota_lines, Quota::ALL.len());
    }
}
