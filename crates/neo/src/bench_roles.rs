//! `neo bench pipeline --bus-url nats://... --store-url postgres://...`: the
//! roles as separate `neo serve` processes of this same binary (desk, then
//! notify, then gateway), each on its own port and data folder, over the given
//! NATS and PostgreSQL, so the figures include every process hop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The role processes; killed and cleaned up when dropped.
pub(crate) struct Roles {
    children: Vec<Child>,
    dir: PathBuf,
    /// The gateway's base URL.
    pub(crate) gateway: String,
}

/// The passphrase the benchmark's alerts carry.
pub(crate) const PASSPHRASE: &str = "bench-passphrase";

impl Roles {
    /// Starts market, desk, notify and gateway on `bus_url` and `store_url`, telling `slack`.
    pub(crate) async fn start(
        bus_url: &str,
        store_url: &str,
        slack: SocketAddr,
    ) -> anyhow::Result<Roles> {
        if !store_url.starts_with("postgres") {
            bail!(
                "--bus-url runs the roles as separate processes, which share a PostgreSQL store: give --store-url postgres://..."
            );
        }
        let dir = std::env::temp_dir().join(format!("neo-bench-roles-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let config = dir.join("neo.toml");
        std::fs::write(
            &config,
            format!(
                "[gateway]\npassphrase = \"{PASSPHRASE}\"\n\
                 [guard]\nrate_limit_per_ip = 0\nrate_limit_per_key = 0\n\
                 [bus]\nkind = \"nats\"\nurl = {bus_url:?}\n\
                 [store]\nurl = {store_url:?}\n\
                 [notify.console]\nenabled = false\n\
                 [notify.slack]\nenabled = true\nwebhook_url = \"http://{slack}/hook\"\n\
                 rate_limit = 1000000\nqueue_capacity = 100000\n\
                 [desk.risk]\nmax_open_orders = 1000000\n"
            ),
        )?;
        let mut roles = Roles {
            children: Vec::new(),
            dir,
            gateway: String::new(),
        };
        let http = reqwest::Client::new();
        for role in ["market", "desk", "notify", "gateway"] {
            let port = free_port()?;
            let log = std::fs::File::create(roles.dir.join(format!("{role}.log")))?;
            let child = Command::new(std::env::current_exe()?)
                .args(["serve", "--role", role, "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(roles.dir.join(role))
                .env("NEO_SERVER__PORT", port.to_string())
                .env("NEO_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start neo serve --role {role}"))?;
            roles.children.push(child);
            let base = format!("http://127.0.0.1:{port}");
            roles.wait_ready(&http, &base, role).await?;
            if role == "gateway" {
                roles.gateway = base;
            }
        }
        Ok(roles)
    }

    /// Waits (60 s at most) for `/ready`, and for a desk or market to be the active one.
    async fn wait_ready(
        &self,
        http: &reqwest::Client,
        base: &str,
        role: &str,
    ) -> anyhow::Result<()> {
        for _ in 0..600 {
            if let Ok(r) = http.get(format!("{base}/ready")).send().await
                && r.status().is_success()
            {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                let leads = matches!(role, "desk" | "market");
                if !leads || body["roles"][role] == "active" {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.dir.join(format!("{role}.log"))).unwrap_or_default();
        bail!("neo serve --role {role} did not become ready within 60 s:\n{log}")
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
