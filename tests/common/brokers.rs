//! Real brokers for the tests: `nats-server` (JetStream) and the `tansu`
//! Kafka-protocol broker, started on free loopback ports in their own
//! temporary directories, killed when dropped. Binaries come from
//! `EVENTRELAY_TEST_NATS_SERVER` / `EVENTRELAY_TEST_TANSU` or `PATH`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        if !p.is_empty() {
            return Some(PathBuf::from(p));
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_default();
    let extra = format!("{path}:/usr/sbin:/usr/local/bin:{home}/.cargo/bin");
    for dir in extra.split(':') {
        for n in names {
            let p = Path::new(dir).join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The binary, or `None` (test skipped) — except under the test script or
/// CI, where a missing broker fails the test.
fn binary(env: &str, names: &[&str]) -> Option<PathBuf> {
    let found = find(env, names);
    if found.is_none() {
        let required = std::env::var_os("EVENTRELAY_TEST_REQUIRE_BROKERS").is_some()
            || std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!required, "{} not found and brokers are required", names[0]);
        eprintln!("SKIPPED: {} not found (set {env})", names[0]);
    }
    found
}

fn wait_for_port(addr: SocketAddr, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "broker exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "broker not listening on {addr} after 20s:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    Command::new(bin)
        .args(args)
        .current_dir(log.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// SIGTERM, then SIGKILL after 5 s: a broker restart as an operator does it.
fn terminate(child: &mut Option<Child>) {
    if let Some(c) = child.as_mut() {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                child.take();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    kill(child);
}

/// A `nats-server -js` on a free port.
pub struct NatsServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts one, or `None` when nats-server is not installed (outside CI).
    pub fn start() -> Option<Self> {
        let bin = binary("EVENTRELAY_TEST_NATS_SERVER", &["nats-server"])?;
        let mut s = Self {
            bin,
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
        };
        s.launch();
        Some(s)
    }

    fn launch(&mut self) {
        let store = self.dir.path().join("js");
        let args = [
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
            &store.display().to_string(),
        ]
        .map(String::from);
        let log = self.dir.path().join("nats.log");
        let mut child = spawn(&self.bin, &args, &log);
        wait_for_port(self.addr(), &mut child, &log);
        self.child = Some(child);
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (JetStream data stays on disk).
    pub fn stop(&mut self) {
        terminate(&mut self.child);
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// A tansu broker on a free port.
pub struct KafkaBroker {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    storage: String,
    advertised: Option<String>,
    child: Option<Child>,
}

impl KafkaBroker {
    /// In-memory storage (fast; lost on restart). `None` when tansu is not
    /// installed (outside CI).
    pub fn start() -> Option<Self> {
        Self::with_storage(|_| "memory://tansu/".to_owned())
    }

    /// In-memory storage, advertising `advertised` (e.g. a proxy in front
    /// of it) to clients.
    pub fn start_behind(advertised: impl FnOnce(u16) -> String) -> Option<Self> {
        let mut b = Self::prepare(|_| "memory://tansu/".to_owned())?;
        b.advertised = Some(advertised(b.port));
        b.launch();
        Some(b)
    }

    /// SQLite storage under the temporary directory: survives `restart`.
    pub fn start_persistent() -> Option<Self> {
        // Relative to the broker's working directory (its temporary one).
        Self::with_storage(|_| "sqlite://tansu.db".to_owned())
    }

    fn with_storage(storage: impl FnOnce(&Path) -> String) -> Option<Self> {
        let mut b = Self::prepare(storage)?;
        b.launch();
        Some(b)
    }

    fn prepare(storage: impl FnOnce(&Path) -> String) -> Option<Self> {
        let bin = binary("EVENTRELAY_TEST_TANSU", &["tansu"])?;
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = storage(dir.path());
        Some(Self {
            bin,
            dir,
            port: free_port(),
            storage,
            advertised: None,
            child: None,
        })
    }

    fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = self
            .advertised
            .as_ref()
            .map_or_else(|| url.clone(), |a| format!("tcp://{a}"));
        let args = [
            "broker".to_owned(),
            "--listener-url".into(),
            url,
            "--advertised-listener-url".into(),
            advertised,
            "--storage-engine".into(),
            self.storage.clone(),
        ];
        let log = self.dir.path().join("tansu.log");
        let mut child = spawn(&self.bin, &args, &log);
        wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], self.port)),
            &mut child,
            &log,
        );
        self.child = Some(child);
    }

    /// The broker's own listening address (behind any proxy).
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:<port>` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let out = Command::new(&self.bin)
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
            ])
            .output()
            .expect("tansu topic create");
        assert!(
            out.status.success(),
            "topic create {name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the broker (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&mut self) {
        terminate(&mut self.child);
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}
