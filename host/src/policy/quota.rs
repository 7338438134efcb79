//! Per-run quotas: what a plugin can make the host hold or write.
//!
//! The plugin's memory limit bounds only its own linear memory; everything
//! it hands the host (results, log lines, progress labels, artifacts,
//! handles, workspace files) is bounded here, per run.

use std::fmt;

/// One quota a run can exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quota {
    /// Results emitted.
    Results,
    /// Bytes of results (item, type, checkname, note, keyvals).
    ResultBytes,
    /// Bytes of the plugin's log messages.
    LogBytes,
    /// Distinct progress labels.
    ProgressLabels,
    /// Artifacts created.
    Artifacts,
    /// Files in the artifacts created.
    ArtifactFiles,
    /// Resource handles (WASI files, streams, environments) held at once.
    Handles,
    /// Bytes in the workspace (blocks used).
    Disk,
    /// Files and directories in the workspace.
    DiskInodes,
    /// Child runs submitted (`runs.submit`).
    ChildRuns,
    /// Items added to or removed from collections.
    CollectionChanges,
}

impl Quota {
    pub const ALL: [Quota; 11] = [
        Quota::Results,
        Quota::ResultBytes,
        Quota::LogBytes,
        Quota::ProgressLabels,
        Quota::Artifacts,
        Quota::ArtifactFiles,
        Quota::Handles,
        Quota::Disk,
        Quota::DiskInodes,
        Quota::ChildRuns,
        Quota::CollectionChanges,
    ];

    /// The policy key.
    pub fn key(self) -> &'static str {
        match self {
            Quota::Results => "results",
            Quota::ResultBytes => "result-bytes",
            Quota::LogBytes => "log-bytes",
            Quota::ProgressLabels => "progress-labels",
            Quota::Artifacts => "artifacts",
            Quota::ArtifactFiles => "artifact-files",
            Quota::Handles => "handles",
            Quota::Disk => "disk",
            Quota::DiskInodes => "disk-inodes",
            Quota::ChildRuns => "child-runs",
            Quota::CollectionChanges => "collection-changes",
        }
    }

    /// Whether the quota counts bytes (shown as sizes).
    pub fn is_bytes(self) -> bool {
        matches!(self, Quota::ResultBytes | Quota::LogBytes | Quota::Disk)
    }

    /// The built-in default.
    pub fn default_limit(self) -> u64 {
        match self {
            Quota::Results => 10_000,
            Quota::ResultBytes => 16 << 20,
            Quota::LogBytes => 16 << 20,
            Quota::ProgressLabels => 100,
            Quota::Artifacts => 1_000,
            Quota::ArtifactFiles => 100_000,
            Quota::Handles => 1_000,
            Quota::Disk => 16 << 30,
            Quota::DiskInodes => 1_000_000,
            Quota::ChildRuns => 100_000,
            Quota::CollectionChanges => 200_000,
        }
    }

    /// What is counted, for messages.
    pub fn what(self) -> &'static str {
        match self {
            Quota::Results => "results",
            Quota::ResultBytes => "of results",
            Quota::LogBytes => "of log messages",
            Quota::ProgressLabels => "progress labels",
            Quota::Artifacts => "artifacts",
            Quota::ArtifactFiles => "artifact files",
            Quota::Handles => "open handles",
            Quota::Disk => "of disk in its workspace",
            Quota::DiskInodes => "workspace files",
            Quota::ChildRuns => "child runs",
            Quota::CollectionChanges => "collection item changes",
        }
    }

    /// `n` in this quota's unit, e.g. `16 MiB` or `10000`.
    pub fn amount(self, n: u64) -> String {
        if self.is_bytes() {
            human_size(n)
        } else {
            n.to_string()
        }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A size in the largest binary unit that keeps it whole, or bytes.
pub fn human_size(n: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// Quota limits set by a policy table; `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quotas {
    limits: std::collections::BTreeMap<Quota, u64>,
}

impl Quotas {
    /// The limit in force for `quota`.
    pub fn limit(&self, quota: Quota) -> u64 {
        self.limits
            .get(&quota)
            .copied()
            .unwrap_or_else(|| quota.default_limit())
    }

    /// Whether the policy set `quota` (rather than the default).
    pub fn is_set(&self, quota: Quota) -> bool {
        self.limits.contains_key(&quota)
    }

    pub fn set(&mut self, quota: Quota, limit: u64) {
        self.limits.insert(quota, limit);
    }

    /// `self` with every quota that `over` sets replaced.
    pub fn overlay(&self, over: &Quotas) -> Quotas {
        let mut limits = self.limits.clone();
        limits.extend(over.limits.iter().map(|(k, v)| (*k, *v)));
        Quotas { limits }
    }
}

/// What a run has used of each quota.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    used: std::collections::BTreeMap<Quota, u64>,
    /// Quotas hit, with how many requests were refused.
    refused: std::collections::BTreeMap<Quota, u64>,
}

impl Usage {
    pub fn used(&self, quota: Quota) -> u64 {
        self.used.get(&quota).copied().unwrap_or(0)
    }

    /// Adds `amount` if it fits under `limit`; false (and nothing added)
    /// otherwise.
    pub fn charge(&mut self, quota: Quota, amount: u64, limit: u64) -> bool {
        let used = self.used.entry(quota).or_insert(0);
        match used.checked_add(amount) {
            Some(total) if total <= limit => {
                *used = total;
                true
            }
            _ => {
                *self.refused.entry(quota).or_insert(0) += 1;
                false
            }
        }
    }

    /// Sets the current value of a gauge (handles, disk).
    pub fn set(&mut self, quota: Quota, value: u64) {
        self.used.insert(quota, value);
    }

    /// Records a refusal decided elsewhere (a full handle table).
    pub fn refused(&mut self, quota: Quota) {
        *self.refused.entry(quota).or_insert(0) += 1;
    }

    /// Quotas that refused something, with the count refused.
    pub fn exceeded(&self) -> impl Iterator<Item = (Quota, u64)> + '_ {
        self.refused.iter().map(|(q, n)| (*q, *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_past_the_limit_is_refused_and_counted() {
        let mut u = Usage::default();
        assert!(u.charge(Quota::Results, 2, 3));
        assert!(!u.charge(Quota::Results, 2, 3));
        assert!(u.charge(Quota::Results, 1, 3));
        assert_eq!(u.used(Quota::Results), 3);
        assert_eq!(u.exceeded().collect::<Vec<_>>(), [(Quota::Results, 1)]);
        assert!(!u.charge(Quota::LogBytes, u64::MAX, u64::MAX - 1));
    }

    #[test]
    fn policy_limits_override_defaults() {
        let mut q = Quotas::default();
        assert_eq!(q.limit(Quota::Results), 10_000);
        q.set(Quota::Results, 5);
        let mut over = Quotas::default();
        over.set(Quota::Disk, 1 << 20);
        let merged = q.overlay(&over);
        assert_eq!(merged.limit(Quota::Results), 5);
        assert_eq!(merged.limit(Quota::Disk), 1 << 20);
        assert!(!merged.is_set(Quota::Handles));
    }

    #[test]
    fn sizes_are_shown_in_whole_units() {
        assert_eq!(human_size(16 << 20), "16 MiB");
        assert_eq!(human_size(1500), "1500 bytes");
        assert_eq!(Quota::Results.amount(7), "7");
    }
}
