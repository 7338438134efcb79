//! Real servers for tests of the shared store and the run queue:
//! PostgreSQL from Debian's packages (`initdb` in a temporary directory,
//! on a port of its own) and nats-server with JetStream, alone or as a
//! cluster of three on loopback. Each server stops, and its directory
//! goes, when it is dropped or at the latest when the process exits (a
//! server kept in a `static` is never dropped).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) -> std::io::Result<()> {
    let start = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(std::io::Error::other(format!("{what} exited: {status}")));
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(std::io::Error::other(format!(
                "{what} did not listen on port {port}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Servers still running, with the directory each one owns.
static RUNNING: std::sync::Mutex<Vec<(PathBuf, u32)>> = std::sync::Mutex::new(Vec::new());

/// Stops `pid` and removes `dir` when the process exits, unless
/// [`forget`] is called first.
fn at_exit(dir: &std::path::Path, pid: u32) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        extern "C" fn clean_up() {
            let running = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(|e| e.into_inner()));
            for (dir, pid) in running {
                if let Ok(pid) = i32::try_from(pid) {
                    // SAFETY: kill(2) and waitpid(2) on our own child.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                        libc::waitpid(pid, std::ptr::null_mut(), 0);
                    }
                }
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // SAFETY: registers a function that only locks, signals and removes.
        unsafe { libc::atexit(clean_up) };
    });
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running.retain(|(d, _)| d != dir);
    running.push((dir.to_path_buf(), pid));
}

/// Undoes [`at_exit`] for `dir` (its server was stopped).
fn forget(dir: &std::path::Path) {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(d, _)| d != dir);
}

/// The directory of PostgreSQL's server programs: `initdb` on `PATH`,
/// else the newest `/usr/lib/postgresql/*/bin`.
pub fn postgres_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").is_file())
            .collect();
        dirs.sort_by_key(|d| {
            d.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0)
        });
        dirs.pop()
    })
}

/// A PostgreSQL server of its own; [`Postgres::database`] makes a fresh
/// database for each test.
pub struct Postgres {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl Postgres {
    /// initdb and start a server. As root, the server runs as the
    /// `postgres` user (initdb refuses root).
    pub fn start() -> std::io::Result<Postgres> {
        let bin = postgres_bin().ok_or_else(|| {
            std::io::Error::other("PostgreSQL is not installed (apt-get install postgresql)")
        })?;
        let dir = tempfile::Builder::new().prefix("taskhost-pg-").tempdir()?;
        let data = dir.path().join("data");
        let as_user = |cmd: &mut Command| -> std::io::Result<()> {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } == 0 {
                let (uid, gid) = postgres_user()?;
                std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
                use std::os::unix::process::CommandExt;
                cmd.uid(uid).gid(gid);
            }
            Ok(())
        };
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "taskhost",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut initdb)?;
        let out = initdb.output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("postgres.log"))?;
        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(log);
        as_user(&mut server)?;
        let mut child = server.spawn()?;
        if let Err(e) = wait_for_port(port, &mut child, "postgres") {
            stop(&mut child);
            let log = std::fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default();
            return Err(std::io::Error::other(format!("{e}\n{log}")));
        }
        at_exit(dir.path(), child.id());
        Ok(Postgres {
            port,
            child,
            _dir: dir,
        })
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://taskhost@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates the empty database `name` and returns its URL.
    pub fn database(&self, name: &str) -> std::io::Result<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let url = self.url("postgres");
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        rt.block_on(async {
            let start = Instant::now();
            let (client, conn) = loop {
                match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    Ok(c) => break c,
                    // Listening is not yet accepting (still starting up).
                    Err(_) if start.elapsed() < START_TIMEOUT => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => return Err(std::io::Error::other(e)),
                }
            };
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE DATABASE {quoted}"))
                .await
                .map_err(std::io::Error::other)
        })?;
        Ok(self.url(name))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop(&mut self.child);
        forget(self._dir.path());
    }
}

fn postgres_user() -> std::io::Result<(u32, u32)> {
    let name = c"postgres";
    // SAFETY: a NUL-terminated name; the result is read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(std::io::Error::other(
            "running as root, and there is no postgres user to run PostgreSQL as",
        ));
    }
    // SAFETY: non-null, from getpwnam.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// One nats-server with JetStream, or one node of a [`NatsCluster`].
pub struct Nats {
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
    dir: PathBuf,
    _tmp: Option<TempDir>,
}

impl Nats {
    /// A single server with JetStream.
    pub fn start() -> std::io::Result<Nats> {
        let tmp = tempfile::Builder::new()
            .prefix("taskhost-nats-")
            .tempdir()?;
        let port = free_port()?;
        let dir = tmp.path().to_path_buf();
        let mut nats = Nats {
            port,
            args: Vec::new(),
            child: None,
            dir,
            _tmp: Some(tmp),
        };
        nats.args = vec![
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-sd".into(),
            nats.dir.join("js").display().to_string(),
        ];
        nats.restart()?;
        Ok(nats)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
            forget(&self.dir);
        }
    }

    /// Whether it runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts it again (with the same storage directory).
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))?;
        let mut child = Command::new(nats_server())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                std::io::Error::other(format!(
                    "cannot start nats-server (apt-get install nats-server): {e}"
                ))
            })?;
        if let Err(e) = wait_for_port(self.port, &mut child, "nats-server") {
            stop(&mut child);
            return Err(e);
        }
        at_exit(&self.dir, child.id());
        self.child = Some(child);
        Ok(())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }
}

/// `nats-server` on `PATH`, else Debian's `/usr/sbin/nats-server` (a
/// user's `PATH` may lack `/usr/sbin`).
fn nats_server() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nats-server"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three nats-servers with JetStream, clustered on loopback.
pub struct NatsCluster {
    /// The nodes, each killable and restartable.
    pub nodes: Vec<Nats>,
    _tmp: TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes that route to each other.
    pub fn start(n: usize) -> std::io::Result<NatsCluster> {
        let tmp = tempfile::Builder::new()
            .prefix("taskhost-nats-cluster-")
            .tempdir()?;
        let ports: Vec<(u16, u16)> = (0..n)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<std::io::Result<_>>()?;
        let routes = ports
            .iter()
            .map(|(_, c)| format!("nats://127.0.0.1:{c}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for (i, (port, cport)) in ports.iter().enumerate() {
            let dir = tmp.path().join(format!("n{i}"));
            std::fs::create_dir_all(&dir)?;
            nodes.push(Nats {
                port: *port,
                args: vec![
                    "-js".into(),
                    "-a".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string(),
                    "-n".into(),
                    format!("n{i}"),
                    "-sd".into(),
                    dir.join("js").display().to_string(),
                    "--cluster_name".into(),
                    "taskhost".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{cport}"),
                    "--routes".into(),
                    routes.clone(),
                ],
                child: None,
                dir,
                _tmp: None,
            });
        }
        for node in &mut nodes {
            node.restart()?;
        }
        Ok(NatsCluster { nodes, _tmp: tmp })
    }

    /// Every node's URL, comma-separated (what `--nats` takes).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(Nats::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}
