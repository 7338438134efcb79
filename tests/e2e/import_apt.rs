//! `runtask collection import-apt` against a signed apt repository made
//! here from packages the tests build, served on loopback (or read as
//! `file://`), then tampered with, signed by another key, or shrunk.

use crate::pkg::Package;
use crate::{Env, Ran};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

const SUITE: &str = "testing";
const COLLECTION: &str = "testing@debian:suite";

/// The packages the repositories are made of, built once per test process.
struct Pool {
    /// dpkg's name for this machine's architecture.
    arch: String,
    /// Source name → its .dsc, tarball and .debs.
    sources: Vec<(String, Vec<PathBuf>)>,
    /// Kept for the whole process: the files live there.
    _envs: Vec<Env>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut sources = Vec::new();
        let mut envs = Vec::new();
        // aptsrc: an arch:any and an arch:all binary; aptother: one binary.
        for package in [
            Package::new("aptsrc").binary("aptsrc-doc", "all"),
            Package::new("aptother"),
        ] {
            let env = Env::shared(&format!("import-apt-{}", package.name));
            let built = package.build(&env, true);
            let mut files = vec![
                built.dsc.expect("a .dsc"),
                env.path(&format!("{}_1.0.tar.xz", package.name)),
            ];
            files.extend(built.debs);
            sources.push((package.name.clone(), files));
            envs.push(env);
        }
        Pool {
            arch: text(&run_ok(Command::new("dpkg").arg("--print-architecture"))),
            sources,
            _envs: envs,
        }
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A throwaway OpenPGP key: its GNUPGHOME and its public key exported
/// armored and binary.
struct Key {
    home: PathBuf,
    armored: PathBuf,
    binary: PathBuf,
}

impl Key {
    fn new(env: &Env, name: &str) -> Key {
        let home = env.path(&format!("gnupg-{name}"));
        std::fs::create_dir_all(&home).expect("mkdir");
        let key = Key {
            armored: env.path(&format!("{name}.asc")),
            binary: env.path(&format!("{name}.gpg")),
            home,
        };
        key.gpg(&[
            "--quick-gen-key",
            &format!("taskhost test {name} <{name}@taskhost.invalid>"),
            "ed25519",
            "sign",
            "never",
        ]);
        std::fs::write(&key.armored, key.gpg(&["--armor", "--export"])).expect("armored key");
        std::fs::write(&key.binary, key.gpg(&["--export"])).expect("binary key");
        key
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = run_ok(
            Command::new("gpg")
                .args(["--batch", "--yes", "--quiet", "--pinentry-mode", "loopback"])
                .args(["--passphrase", ""])
                .args(args)
                .env("GNUPGHOME", &self.home),
        );
        // No agent is left running.
        let _ = Command::new("gpgconf")
            .args(["--kill", "all"])
            .env("GNUPGHOME", &self.home)
            .status();
        out
    }
}

/// A repository `pool/main/NAME/` + `dists/testing/` signed by `key`.
struct Repo {
    dir: PathBuf,
    key: Key,
}

impl Repo {
    fn new(env: &Env, sources: &[&str]) -> Repo {
        let repo = Repo {
            dir: env.path("repo"),
            key: Key::new(env, "archive"),
        };
        repo.publish(sources);
        repo
    }

    fn dists(&self) -> PathBuf {
        self.dir.join("dists").join(SUITE)
    }

    fn url(&self) -> String {
        url::Url::from_directory_path(&self.dir)
            .expect("file URL")
            .to_string()
    }

    /// Lays out the pool with `sources` only, writes the indices in three
    /// compressions and the Release, and signs it (InRelease and
    /// Release.gpg).
    fn publish(&self, sources: &[&str]) {
        let arch = &pool().arch;
        let _ = std::fs::remove_dir_all(&self.dir);
        for (name, files) in pool()
            .sources
            .iter()
            .filter(|(n, _)| sources.contains(&n.as_str()))
        {
            let dir = self.dir.join("pool/main").join(name);
            std::fs::create_dir_all(&dir).expect("mkdir");
            for file in files {
                std::fs::copy(file, dir.join(file.file_name().expect("name"))).expect("copy");
            }
        }
        std::fs::create_dir_all(self.dir.join("pool/main")).expect("mkdir");
        let ftparchive = |args: &[&str]| {
            run_ok(
                Command::new("apt-ftparchive")
                    .args(args)
                    .current_dir(&self.dir),
            )
        };
        // Overrides, as an archive has: the sources in section misc, and
        // aptsrc-doc in doc (its .deb says devel).
        let overrides = self.dir.with_file_name("overrides");
        std::fs::create_dir_all(&overrides).expect("mkdir");
        let (source, binary) = (overrides.join("source"), overrides.join("binary"));
        std::fs::write(&source, "aptsrc misc\naptother misc\n").expect("override");
        std::fs::write(&binary, "aptsrc-doc optional doc\n").expect("override");
        let (source, binary) = (
            source.to_str().expect("utf-8"),
            binary.to_str().expect("utf-8"),
        );
        for (index, args) in [
            (
                "source/Sources".to_string(),
                ["-s", source, "sources", "pool/main", "/dev/null"].as_slice(),
            ),
            (
                format!("binary-{arch}/Packages"),
                ["packages", "pool/main", binary].as_slice(),
            ),
        ] {
            let path = self.dists().join("main").join(index);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, ftparchive(args)).expect("index");
            run_ok(Command::new("gzip").arg("-9knf").arg(&path));
            run_ok(Command::new("xz").arg("-kf").arg(&path));
        }
        let field = |name: &str, value: &str| format!("APT::FTPArchive::Release::{name}={value}");
        let release = ftparchive(&[
            "-o",
            &field("Suite", SUITE),
            "-o",
            &field("Codename", SUITE),
            "-o",
            &field("Components", "main"),
            "-o",
            &field("Architectures", arch),
            "release",
            &format!("dists/{SUITE}"),
        ]);
        std::fs::write(self.dists().join("Release"), release).expect("Release");
        self.sign(&self.key);
    }

    /// Signs the Release with `key`, as InRelease and Release.gpg.
    fn sign(&self, key: &Key) {
        let release = self.dists().join("Release");
        let release = release.to_str().expect("utf-8 path");
        let in_release = self.dists().join("InRelease");
        let detached = self.dists().join("Release.gpg");
        key.gpg(&[
            "--clearsign",
            "--output",
            in_release.to_str().expect("utf-8"),
            release,
        ]);
        key.gpg(&[
            "--detach-sign",
            "--output",
            detached.to_str().expect("utf-8"),
            release,
        ]);
    }
}

/// Serves a directory over HTTP on loopback until dropped.
struct Served {
    url: String,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    fn new(dir: &Path) -> Served {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().expect("ip address").port();
        let (serving, dir) = (server.clone(), dir.to_path_buf());
        let thread = std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                let path = request
                    .url()
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let file = (!path.split('/').any(|c| c == ".."))
                    .then(|| std::fs::File::open(dir.join(path.trim_start_matches('/'))))
                    .and_then(Result::ok)
                    .filter(|f| f.metadata().is_ok_and(|m| m.is_file()));
                let _ = match file {
                    Some(file) => request.respond(tiny_http::Response::from_file(file)),
                    None => request.respond(tiny_http::Response::empty(404)),
                };
            }
        });
        Served {
            url: format!("http://127.0.0.1:{port}/"),
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn import(env: &Env, url: &str, keyring: &Path, extra: &[&str]) -> Ran {
    let keyring = keyring.to_str().expect("utf-8 path");
    let mut args = vec![
        "collection",
        "import-apt",
        "--mirror",
        url,
        "--suite",
        SUITE,
        "--component",
        "main",
        "--architecture",
        &pool().arch,
        "--keyring",
        keyring,
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// The suite's items as JSON: active ones, or (`history`) all.
fn items(env: &Env, history: bool) -> Vec<Value> {
    let mut args = vec!["collection", "show", COLLECTION, "--json"];
    if history {
        args.push("--history");
    }
    let ran = env.run(&args);
    ran.expect(0);
    serde_json::from_str(&ran.stdout).expect("items JSON")
}

fn names(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = items
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    names
}

#[test]
fn import_apt_fills_the_suite_with_sources_binaries_and_their_files() {
    let env = Env::new();
    let repo = Repo::new(&env, &["aptsrc", "aptother"]);
    let served = Served::new(&repo.dir);
    let arch = &pool().arch;
    let ran = import(&env, &served.url, &repo.key.armored, &[]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("5 added, 0 unchanged, 0 removed"),
        "{}",
        ran.stdout
    );

    let items = items(&env, false);
    let (src, bin, doc) = (
        "aptsrc_1.0".to_string(),
        format!("aptsrc_1.0_{arch}"),
        "aptsrc-doc_1.0_all".to_string(),
    );
    let other = format!("aptother_1.0_{arch}");
    assert_eq!(
        names(&items),
        sorted(&[&src, &bin, &doc, "aptother_1.0", &other])
    );
    for item in &items {
        let name = item["name"].as_str().expect("name");
        let (category, files): (&str, Vec<String>) = if name.matches('_').count() == 1 {
            let base = name.to_string();
            (
                "debian:source-package",
                vec![format!("{base}.dsc"), format!("{base}.tar.xz")],
            )
        } else {
            ("debian:binary-package", vec![format!("{name}.deb")])
        };
        assert_eq!(item["category"], category, "{item}");
        assert_eq!(item["created_by"], "import-apt", "{item}");
        // Section and priority come from the indices, not the packages.
        let section = match name {
            _ if category == "debian:source-package" => "misc",
            "aptsrc-doc_1.0_all" => "doc",
            _ => "devel",
        };
        assert_eq!(item["data"]["component"], "main", "{item}");
        assert_eq!(item["data"]["section"], section, "{item}");
        if category == "debian:binary-package" {
            assert_eq!(item["data"]["priority"], "optional", "{item}");
        }
        let id = item["artifact"].as_u64().expect("artifact id").to_string();
        let shown = env.run(&["artifact", "show", &id]);
        shown.expect(0);
        let artifact: Value = serde_json::from_str(&shown.stdout).expect("artifact JSON");
        assert_eq!(artifact["category"], category);
        let mut stored: Vec<String> = artifact["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["name"].as_str().unwrap_or_default().to_string())
            .collect();
        stored.sort();
        assert_eq!(stored, files, "{name}");
    }
    let doc_item = items.iter().find(|i| i["name"] == doc).expect("doc item");
    assert_eq!(doc_item["data"]["srcpkg_name"], "aptsrc");
    assert_eq!(doc_item["data"]["architecture"], "all");
    let verified = env.run(&["artifact", "verify"]);
    verified.expect(0);
}

#[test]
fn packages_select_one_source_and_a_second_import_changes_nothing() {
    let env = Env::new();
    let repo = Repo::new(&env, &["aptsrc", "aptother"]);
    let arch = &pool().arch;
    // file://, and a binary keyring.
    let ran = import(
        &env,
        &repo.url(),
        &repo.key.binary,
        &["--packages", "aptother"],
    );
    ran.expect(0);
    assert!(ran.stdout.contains("2 added"), "{}", ran.stdout);
    let expected = sorted(&["aptother_1.0", &format!("aptother_1.0_{arch}")]);
    assert_eq!(names(&items(&env, false)), expected);
    let artifacts = env.artifacts().len();

    let again = import(
        &env,
        &repo.url(),
        &repo.key.binary,
        &["--packages", "aptother"],
    );
    again.expect(0);
    assert!(
        again.stdout.contains("0 added, 2 unchanged, 0 removed"),
        "{}",
        again.stdout
    );
    assert_eq!(names(&items(&env, true)), expected);
    assert_eq!(env.artifacts().len(), artifacts, "nothing downloaded again");

    let unknown = import(
        &env,
        &repo.url(),
        &repo.key.binary,
        &["--packages", "aptother,nosuch"],
    );
    assert_ne!(unknown.code, 0, "{}", unknown.stdout);
    assert!(
        unknown.stderr.contains("no source package nosuch"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_tampered_packages_file_is_refused_and_the_collection_is_unchanged() {
    let env = Env::new();
    let repo = Repo::new(&env, &["aptsrc", "aptother"]);
    let served = Served::new(&repo.dir);
    import(
        &env,
        &served.url,
        &repo.key.armored,
        &["--packages", "aptother"],
    )
    .expect(0);
    let before = items(&env, true);
    let artifacts = env.artifacts().len();

    // The Packages.xz rewritten after signing: a section changed.
    let packages = repo
        .dists()
        .join(format!("main/binary-{}/Packages", pool().arch));
    let xz = packages.with_extension("xz");
    let listed = crate::servers::sha256_file(&xz);
    let text = std::fs::read_to_string(&packages).expect("Packages");
    std::fs::write(&packages, text.replace("Section: devel", "Section: evil")).expect("write");
    run_ok(Command::new("xz").arg("-kf").arg(&packages));
    let tampered = crate::servers::sha256_file(&xz);

    let ran = import(&env, &served.url, &repo.key.armored, &[]);
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    let index = format!(
        "dists/{SUITE}/main/binary-{}/Packages.xz: sha256 mismatch",
        pool().arch
    );
    assert!(ran.stderr.contains(&index), "{}", ran.stderr);
    assert!(ran.stderr.contains(&listed), "{}", ran.stderr);
    assert!(ran.stderr.contains(&tampered), "{}", ran.stderr);
    assert_eq!(items(&env, true), before);
    assert_eq!(env.artifacts().len(), artifacts);
}

#[test]
fn a_release_signed_by_another_key_or_altered_after_signing_is_refused() {
    let env = Env::new();
    let repo = Repo::new(&env, &["aptother"]);
    let served = Served::new(&repo.dir);
    let keyring = repo.key.armored.display().to_string();

    repo.sign(&Key::new(&env, "intruder"));
    let ran = import(&env, &served.url, &repo.key.armored, &[]);
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    for needle in [
        &format!("{}dists/{SUITE}/InRelease", served.url),
        "which is not in the keyring",
        &keyring,
        "--keyring",
    ] {
        assert!(ran.stderr.contains(needle), "{needle:?} in\n{}", ran.stderr);
    }

    repo.sign(&repo.key);
    let in_release = repo.dists().join("InRelease");
    let signed = std::fs::read_to_string(&in_release).expect("InRelease");
    std::fs::write(
        &in_release,
        signed.replace("Codename: testing", "Codename: tested"),
    )
    .expect("write");
    let ran = import(&env, &served.url, &repo.key.armored, &[]);
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    assert!(ran.stderr.contains("BAD signature"), "{}", ran.stderr);

    // Without InRelease, an unsigned Release is refused too.
    std::fs::remove_file(&in_release).expect("rm");
    std::fs::remove_file(repo.dists().join("Release.gpg")).expect("rm");
    let ran = import(&env, &served.url, &repo.key.armored, &[]);
    assert_ne!(ran.code, 0, "{}", ran.stdout);
    assert!(ran.stderr.contains("it is not signed"), "{}", ran.stderr);
    // No refused import leaves anything behind, not even the collection.
    let list = env.run(&["collection", "list", "--json"]);
    list.expect(0);
    assert_eq!(list.stdout.trim(), "[]");
    assert!(env.artifacts().is_empty());
}

#[test]
fn a_release_with_a_detached_signature_is_accepted_without_inrelease() {
    let env = Env::new();
    let repo = Repo::new(&env, &["aptother"]);
    std::fs::remove_file(repo.dists().join("InRelease")).expect("rm");
    let served = Served::new(&repo.dir);
    let ran = import(&env, &served.url, &repo.key.binary, &[]);
    ran.expect(0);
    assert!(ran.stdout.contains("2 added"), "{}", ran.stdout);
}

#[test]
fn a_package_gone_from_the_repository_is_removed_from_the_suite() {
    let env = Env::new();
    let repo = Repo::new(&env, &["aptsrc", "aptother"]);
    let served = Served::new(&repo.dir);
    let arch = &pool().arch;
    import(&env, &served.url, &repo.key.armored, &[]).expect(0);

    repo.publish(&["aptsrc"]);
    let ran = import(&env, &served.url, &repo.key.armored, &[]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("0 added, 3 unchanged, 2 removed"),
        "{}",
        ran.stdout
    );
    let gone = sorted(&["aptother_1.0", &format!("aptother_1.0_{arch}")]);
    for name in &gone {
        assert!(
            ran.stdout.contains(&format!("removed {name}")),
            "{}",
            ran.stdout
        );
    }
    assert_eq!(
        names(&items(&env, false)),
        sorted(&[
            "aptsrc_1.0",
            &format!("aptsrc_1.0_{arch}"),
            "aptsrc-doc_1.0_all"
        ])
    );
    let history = items(&env, true);
    let removed: Vec<Value> = history
        .iter()
        .filter(|i| !i["removed_at"].is_null())
        .cloned()
        .collect();
    assert_eq!(names(&removed), gone);
    for item in &removed {
        assert_eq!(item["removed_by"], "import-apt", "{item}");
    }
}
