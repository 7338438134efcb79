//! The lintian plugin's output parser, in wasm against native
//! (docs/performance.md, "lintian (issue 3)", has the figures and goals).
//!
//!     cargo bench -p taskhost --bench lintian
//!
//! Input: the real lintian outputs of `plugins/lintian/testdata`,
//! concatenated and repeated to at least 50 MB (`LINTIAN_PARSE_MB` changes
//! the size). Group `parse`:
//! * `native`: `parser::parse` (`taskhost_debian::lintian`, which the plugin uses)
//!   compiled in this bench's profile, timed around the call, on a copy
//!   read from the file just before (as the guest does);
//! * `wasm`: the parse inside the `lintian-parse` test plugin
//!   (`tests/plugins/lintian-parse`, built in the `plugin` profile like the
//!   shipped plugins), timed *in the guest* with `Instant` (WASI monotonic
//!   clock) and reported back in the result's `parse_us`;
//! * `native_call`: read the file + parse + free the tags, natively;
//! * `wasm_call`: the whole call as the host sees it: instantiate in a
//!   pooled Store, `execute` (read the file through WASI, parse, free, emit
//!   the result), drop the Store. The workspace (the file hard-linked into
//!   a fresh one) is made and removed outside the timing.
//!
//! The tags are freed outside the timing in `native` and `wasm`. After
//! the group, `LINTIAN_PARSE_ROUNDS` (default 5) alternating rounds of a
//! native and a wasm call print the medians of each step (read, parse,
//! free, whole call) and the wasm/native ratios, plus the parse in a
//! linear memory that is already grown (third parse in one instance:
//! no page faults). `LINTIAN_PARSE_WASM` runs another build of the plugin.
//! `runtask` + lintian against plain lintian is `examples/lintian_overhead.rs`.

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use taskhost::capabilities::RunContext;
use taskhost::manifest::Declares;
use taskhost::policy::{Overrides, Permit, Policy};
use taskhost::report::CheckResult;
use taskhost::run::{DEFAULT_MEMORY, STDIO_LIMIT};
use taskhost::runtime::{Plugin, Runtime, RuntimeConfig, SandboxLimits};
use taskhost::store::{ArtifactStore, LocalStore};
use taskhost::workspace::Workspace;

use taskhost_debian::lintian as parser;

const PLUGIN: &str = env!("TASKHOST_TEST_PLUGIN_LINTIAN_PARSE");

/// The plugin build.rs made, or `$LINTIAN_PARSE_WASM` (e.g. the same
/// crate built with another opt-level).
fn plugin_path() -> PathBuf {
    std::env::var_os("LINTIAN_PARSE_WASM")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PLUGIN.into())
}

/// The real lintian outputs of the parser's tests.
const FIXTURES: [&str; 5] = [
    include_str!("../../plugins/lintian/testdata/basic-deb.txt"),
    include_str!("../../plugins/lintian/testdata/basic-changes.txt"),
    include_str!("../../plugins/lintian/testdata/overrides-source.txt"),
    include_str!("../../plugins/lintian/testdata/overrides-binary.txt"),
    include_str!("../../plugins/lintian/testdata/changes-dists.txt"),
];

/// The fixtures repeated to at least `LINTIAN_PARSE_MB` (default 50) MB,
/// and the number of tags the parser must find in it.
fn big_output() -> (String, usize) {
    let mb: usize = std::env::var("LINTIAN_PARSE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let per_round: usize = FIXTURES.iter().map(|f| parser::parse(f).len()).sum();
    let round = FIXTURES.concat();
    let rounds = (mb * 1_000_000).div_ceil(round.len());
    (round.repeat(rounds), per_round * rounds)
}

/// The wasm side: a runtime with a warm cache, the plugin, and the input
/// file that each run's workspace gets a hard link to.
struct Fixture {
    dir: tempfile::TempDir,
    runtime: Runtime,
    plugin: Plugin,
    grants: Permit,
    store: Arc<dyn ArtifactStore>,
    input: PathBuf,
    tags: usize,
    next: AtomicU64,
}

const TASK_DATA: &str = r#"{"file":"lintian.txt"}"#;
/// Three parses in one instance: the last in linear memory already grown.
const TASK_DATA_WARM: &str = r#"{"file":"lintian.txt","repeat":3}"#;

impl Fixture {
    fn new(output: &str, tags: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.path().join("cache")),
            max_instances: 4,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let wasm = std::fs::read(plugin_path()).unwrap();
        runtime.load(&wasm, "lintian-parse").unwrap(); // fills the cache
        let plugin = runtime.load(&wasm, "lintian-parse").unwrap();
        assert!(plugin.cached);
        let name = plugin.name();
        let grants = Policy::empty().permit_trusted(
            name,
            &plugin.sha256,
            plugin.info.manifest.declared().unwrap(),
            &Overrides::default(),
        );
        let store: Arc<dyn ArtifactStore> =
            Arc::new(LocalStore::open(dir.path().join("store")).unwrap());
        let input = dir.path().join("lintian.txt");
        std::fs::write(&input, output).unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        Fixture {
            dir,
            runtime,
            plugin,
            grants,
            store,
            input,
            tags,
            next: AtomicU64::new(0),
        }
    }

    /// A fresh workspace holding the input (hard link: no copy).
    fn workspace(&self) -> Workspace {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let ws = Workspace::create(&self.dir.path().join("ws"), &format!("w{n}"), false).unwrap();
        std::fs::hard_link(&self.input, ws.root().join("lintian.txt")).unwrap();
        ws
    }

    fn context(&self, workspace: Workspace, deadline: Instant) -> RunContext {
        RunContext::bare(
            "bench",
            self.plugin.info.manifest.clone(),
            self.grants.clone(),
            workspace,
            self.store.clone(),
            deadline,
        )
    }

    /// One run, as `run_task` would make it (the host's default memory
    /// limit): the time of instantiate + execute + Store drop, and the
    /// result the guest emitted.
    async fn call(&self, task_data: &str) -> (Duration, CheckResult) {
        let limits = SandboxLimits {
            handles: 1000,
            memory: DEFAULT_MEMORY,
            deadline: Instant::now() + Duration::from_secs(600),
            stdio_limit: STDIO_LIMIT,
        };
        let context = self.context(self.workspace(), limits.deadline);
        let start = Instant::now();
        let mut instance = self
            .runtime
            .instantiate(&self.plugin, context, limits)
            .await
            .unwrap();
        let status = instance.execute(black_box(task_data)).await.unwrap();
        let run = instance.into_state().run;
        let took = start.elapsed();
        assert!(
            matches!(status, Ok(taskhost::runtime::bindings::Status::Success)),
            "{status:?}"
        );
        let mut harvest = run.harvest();
        let result = harvest.results.pop().expect("the plugin emitted no result");
        assert_eq!(result.keyvals["tags"], self.tags.to_string());
        drop(harvest); // removes the workspace, untimed
        (took, result)
    }
}

/// A keyval in microseconds.
fn micros(result: &CheckResult, key: &str) -> Duration {
    Duration::from_micros(result.keyvals[key].parse().unwrap())
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn parse(c: &mut Criterion) {
    let rt = tokio();
    let (output, tags) = big_output();
    let fx = Fixture::new(&output, tags);
    eprintln!(
        "lintian output: {} bytes, {tags} tags; wasm plugin {}",
        output.len(),
        plugin_path().display()
    );
    drop(output); // each run reads the file
    let mut g = c.benchmark_group("parse");
    // One parse takes a few hundred ms: 10 samples of one iteration each.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("native", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // A freshly read copy, like the guest's (re-parsing one
                // old string is 10-30 % slower: heap layout).
                let text = std::fs::read_to_string(&fx.input).unwrap();
                let start = Instant::now();
                let parsed = parser::parse(black_box(&text));
                total += start.elapsed();
                assert_eq!(parsed.len(), tags);
                drop(parsed);
            }
            total
        })
    });
    g.bench_function("wasm", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_, result) = rt.block_on(fx.call(TASK_DATA));
                total += micros(&result, "parse_us");
            }
            total
        })
    });
    g.bench_function("native_call", |b| b.iter(|| native_call(&fx.input, tags)));
    g.bench_function("wasm_call", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(fx.call(TASK_DATA)).0;
            }
            total
        })
    });
    g.finish();

    // Alternating rounds, for the ratios: native then wasm, each timed
    // the same way (read, parse, free; the parse as in `native` / `wasm`).
    let rounds: usize = std::env::var("LINTIAN_PARSE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (mut native, mut wasm) = (Steps::default(), Steps::default());
    let mut warm = Vec::new();
    for _ in 0..rounds {
        native.push(native_call(&fx.input, tags));
        let (took, result) = rt.block_on(fx.call(TASK_DATA));
        wasm.push([
            micros(&result, "read_us"),
            micros(&result, "parse_us"),
            micros(&result, "free_us"),
            took,
        ]);
        let (_, result) = rt.block_on(fx.call(TASK_DATA_WARM));
        warm.push(micros(&result, "parse_last_us"));
    }
    eprintln!(
        "{rounds} alternating rounds, median [min] (wasm: timed in the guest, call: by the host):"
    );
    for (name, i) in [("read", 0), ("parse", 1), ("free", 2), ("call", 3)] {
        let (n, w) = (median(&native.0[i]), median(&wasm.0[i]));
        eprintln!(
            "  {name:<5}  native {:>8.1} ms [{:>6.1}]  wasm {:>8.1} ms [{:>6.1}]  ratio {:.2}",
            n.as_secs_f64() * 1e3,
            native.0[i].iter().min().unwrap().as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3,
            wasm.0[i].iter().min().unwrap().as_secs_f64() * 1e3,
            w.as_secs_f64() / n.as_secs_f64(),
        );
    }
    let (n, w) = (median(&native.0[1]), median(&warm));
    eprintln!(
        "  parse, wasm memory already grown (3rd parse in one instance): {:.1} ms [{:.1}], ratio {:.2}",
        w.as_secs_f64() * 1e3,
        warm.iter().min().unwrap().as_secs_f64() * 1e3,
        w.as_secs_f64() / n.as_secs_f64(),
    );
}

/// Read, parse, free natively, as the guest does: the three times and
/// the total.
fn native_call(input: &std::path::Path, tags: usize) -> [Duration; 4] {
    let start = Instant::now();
    let text = std::fs::read_to_string(black_box(input)).unwrap();
    let read = start.elapsed();
    let parsing = Instant::now();
    let parsed = parser::parse(&text);
    let parse = parsing.elapsed();
    assert_eq!(parsed.len(), tags);
    let freeing = Instant::now();
    drop(parsed);
    let free = freeing.elapsed();
    drop(text);
    [read, parse, free, start.elapsed()]
}

/// Read, parse, free, whole call: one list each.
#[derive(Default)]
struct Steps([Vec<Duration>; 4]);

impl Steps {
    fn push(&mut self, times: [Duration; 4]) {
        for (list, t) in self.0.iter_mut().zip(times) {
            list.push(t);
        }
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    (v[(v.len() - 1) / 2] + v[v.len() / 2]) / 2
}

criterion_group!(benches, parse);
criterion_main!(benches);
