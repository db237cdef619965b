//! `neo.toml` plus `NEO_` environment overrides, as typed sections that refuse
//! unknown keys and report every problem at once. An environment variable
//! names a key by its path with `__` between levels:
//! `NEO_SERVER__PORT=9000`, `NEO_GATEWAY__PASSPHRASE=...`,
//! `NEO_NOTIFY__SLACK__WEBHOOK_URL=https://hooks.slack.com/...`. The seed
//! documents' `FF_<FLAG>` variables (`FF_TV_SLICE=off`, `FF_CONFIDENCE_CALIBRATION=25%`)
//! set a flag's initial state.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::util::nest;
use figment::value::Value;
use neo_agents::config::AgentsConfig;
use neo_api::auth::ApiConfig;
use neo_api::guard::GuardConfig;
use neo_api::server::{GatewayConfig, HttpLimits};
use neo_engine::autonomy::AutonomyConfig;
use neo_engine::desk::DeskConfig;
use neo_notify::NotifyConfig;
use serde::Deserialize;

mod flags;
mod log;
mod market;
mod slo;

pub use log::{LogConfig, LogFormat, TelemetryConfig};
pub use market::{MarketConfig, MarketSource, ReplayConfig, VenueEndpoints};

pub use flags::{FlagsConfig, RuleOverride};
pub use slo::{SloConfig, SloOverride, objectives};

/// Everything `neo run` reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`: where HTTP listens and how long shutdown may take.
    pub server: ServerConfig,
    /// `[gateway]`: webhook authentication, limits, dedupe and priorities.
    pub gateway: GatewayConfig,
    /// `[guard]`: source-IP allow-list, trusted proxies and rate limits (webhooks and REST API).
    pub guard: GuardConfig,
    /// `[api]`: the API keys the REST API needs, and whether `/metrics` is public.
    pub api: ApiConfig,
    /// `[store]`: SQLite (default) or PostgreSQL.
    pub store: StoreConfig,
    /// `[bus]`: in-process (default) or NATS JetStream.
    pub bus: BusConfig,
    /// `[notify]`: console, Slack, Telegram and webhook channels.
    pub notify: NotifyConfig,
    /// `[market]`: the simulated or live feed, its archive.
    pub market: MarketConfig,
    /// `[positions]`: how often positions are reconciled against the stored fills.
    pub positions: PositionsConfig,
    /// `[desk]`: the paper account, analyst, sizing, risk and OMS.
    pub desk: DeskConfig,
    /// `[strategy]`: NEO's own ensemble trading on every closed candle (off by default).
    pub strategy: AutonomyConfig,
    /// `[flags]`: the feature flags' initial states and guard rules.
    pub flags: FlagsConfig,
    /// `[slo.<name>]`: SLO targets over the seed documents' defaults.
    pub slo: SloConfig,
    /// `[agents]`: the agents each signal is offered to, their policy, deadline,
    /// LLM providers and budget.
    pub agents: AgentsConfig,
    /// `[log]`: text or JSON lines.
    pub log: LogConfig,
    /// `[telemetry]`: OpenTelemetry span export.
    pub telemetry: TelemetryConfig,
}

/// `[positions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PositionsConfig {
    /// Seconds between reconciliations of stored fills, stored positions and the desk (default 60).
    pub reconcile_secs: u64,
}

impl Default for PositionsConfig {
    fn default() -> Self {
        PositionsConfig { reconcile_secs: 60 }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind (default 127.0.0.1; 0.0.0.0 accepts alerts from outside, and is
    /// refused unless `[[api.keys]]` protect the REST API).
    pub host: String,
    /// Port (default 8001; 0 picks a free one).
    pub port: u16,
    /// Seconds a graceful shutdown may take before the process stops anyway (default 10).
    pub shutdown_grace_secs: u64,
    /// `[server.limits]`: connection caps and timeouts at the HTTP edge.
    pub limits: HttpLimits,
}

impl ServerConfig {
    /// Whether `host` only listens on this machine (`localhost`, `127.0.0.0/8`, `::1`).
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        bare.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The problem with serving beyond this machine without keys, if there is one.
    pub fn exposure_problem(&self, api: &ApiConfig) -> Option<String> {
        (!self.is_loopback() && !api.has_keys()).then(|| {
            format!(
                "server.host = {:?} serves beyond this machine, but no [[api.keys]] is configured: \
                 anyone who reaches it could read the account and halt or flatten trading. \
                 Make a key with `neo keys new --name ops --role admin` and paste its lines, \
                 or bind 127.0.0.1",
                self.host
            )
        })
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".to_owned(),
            port: 8001,
            shutdown_grace_secs: 10,
            limits: HttpLimits::default(),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://path?mode=rwc` or `postgres://...`; default a SQLite file in the data dir.
    pub url: Option<String>,
    /// Days of inbox, relayed outbox, audit rows and settled orders kept (0:
    /// forever; default 30; at least 8, longer than the bus keeps a message).
    pub retention_days: u32,
}

impl StoreConfig {
    /// How long rows are kept, `None` for forever.
    pub fn retention(&self) -> Option<std::time::Duration> {
        (self.retention_days > 0)
            .then(|| std::time::Duration::from_secs(u64::from(self.retention_days) * 86_400))
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: None,
            retention_days: 30,
        }
    }
}

/// The shortest retention: longer than JetStream keeps a message (7 days), so a
/// redelivered message always finds its inbox row.
pub const MIN_RETENTION_DAYS: u32 = 8;

/// Which bus carries messages between stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// In-process; the store's outbox is the durable log.
    #[default]
    Embedded,
    /// NATS JetStream at `bus.url`.
    Nats,
}

/// `[bus]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// `embedded` or `nats`.
    pub kind: BusKind,
    /// The NATS URL (`nats://127.0.0.1:4222`) when `kind = "nats"`; a cluster's
    /// servers comma-separated (`tls://a:4222,tls://b:4222`).
    pub url: Option<String>,
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (prefer `NEO_BUS__PASSWORD`).
    pub password: Option<String>,
    /// Token authentication (prefer `NEO_BUS__TOKEN`).
    pub token: Option<String>,
    /// A `.creds` file (user JWT and nkey seed) for operator-mode (decentralized) auth.
    pub credentials_file: Option<PathBuf>,
    /// Require TLS.
    pub tls: bool,
    /// The CA certificate (PEM) that signed the servers' certificates.
    pub root_ca: Option<PathBuf>,
    /// This client's certificate (PEM), for servers that verify clients.
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub client_key: Option<PathBuf>,
}

impl BusConfig {
    /// The NATS connection these settings describe (stream settings at their defaults).
    pub fn nats(&self) -> neo_bus::NatsConfig {
        neo_bus::NatsConfig {
            url: self.url.clone().unwrap_or_default(),
            user: self.user.clone(),
            password: self.password.clone(),
            token: self.token.clone(),
            credentials_file: self.credentials_file.clone(),
            tls: self.tls,
            root_ca: self.root_ca.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            ..neo_bus::NatsConfig::default()
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is unreadable, not TOML, or a value has the wrong type or an unknown key.
    #[error("{0}")]
    Load(String),
    /// Values that parse but make no sense, every one listed.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Reads `file` (when given), then `NEO_*` variables from `env`, then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let mut flag_env = Vec::new();
        for (key, value) in env {
            if key.starts_with("FF_") {
                flag_env.push((key, value));
                continue;
            }
            let Some(path) = key.strip_prefix("NEO_").filter(|p| p.contains("__")) else {
                continue;
            };
            let path = path.to_lowercase().replace("__", ".");
            figment = figment.merge(Serialized::globals(nest(&path, env_value(&path, value))));
        }
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe(e)))?;
        let mut problems = Vec::new();
        for (key, value) in flag_env {
            if let Err(p) = config.flags.apply_env(&key, &value) {
                problems.push(p);
            }
        }
        problems.extend(config.validate());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The flags' initial states: `[flags]`'s seed, where configuring the LLM
    /// agent seeds `agent_gpt` on and a budget cap seeds `api_budget` on, unless
    /// `[flags.seed]` or `FF_*` say otherwise (the store still wins after a
    /// flag's first change): what is configured runs.
    pub fn seed_flags(&self) -> Result<neo_engine::flags::Flags, Vec<String>> {
        use neo_engine::flags::{FlagName, FlagSpec, FlagState};
        let mut flags = self.flags.clone();
        for (flag, wanted) in [
            (FlagName::AgentGpt, self.agents.llm_enabled()),
            (FlagName::ApiBudget, self.agents.has_caps()),
        ] {
            if wanted {
                flags
                    .seed
                    .entry(flag)
                    .or_insert_with(|| FlagSpec::new(FlagState::Enabled));
            }
        }
        flags.seed_flags()
    }

    /// Every problem in every section; a missing passphrase is not one (`neo run` makes one).
    pub fn validate(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .gateway
            .validate()
            .into_iter()
            .filter(|p| !p.starts_with("gateway.passphrase is not set"))
            .collect();
        problems.extend(
            self.guard
                .validate()
                .into_iter()
                .map(|p| format!("guard: {p}")),
        );
        problems.extend(self.api.validate());
        problems.extend(self.server.exposure_problem(&self.api));
        problems.extend(self.server.limits.problems());
        if let Err(e) = self.notify.validate() {
            problems.extend(e.0.iter().map(ToString::to_string));
        }
        problems.extend(
            self.desk
                .validate()
                .into_iter()
                .map(|p| format!("desk: {p}")),
        );
        problems.extend(self.strategy.validate());
        problems.extend(self.flags.validate());
        problems.extend(slo::problems(&self.slo));
        problems.extend(self.agents.validate());
        problems.extend(self.market.validate());
        problems.extend(self.telemetry.validate());
        if !(1..=86_400).contains(&self.positions.reconcile_secs) {
            problems.push(format!(
                "positions.reconcile_secs must be between 1 and 86400, got {}",
                self.positions.reconcile_secs
            ));
        }
        if let Some(url) = &self.store.url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            problems.push(format!(
                "store.url must start with sqlite: or postgres:// (got {})",
                url.split('@').next_back().unwrap_or("")
            ));
        }
        let days = self.store.retention_days;
        if days != 0 && !(MIN_RETENTION_DAYS..=36_500).contains(&days) {
            problems.push(format!(
                "store.retention_days must be 0 (keep everything) or between {MIN_RETENTION_DAYS} and 36500, got {days}"
            ));
        }
        if self.bus.kind == BusKind::Nats {
            if self.bus.url.is_none() {
                problems.push("bus.url is required when bus.kind = \"nats\"".to_owned());
            } else {
                problems.extend(self.bus.nats().validate());
            }
        }
        problems
    }

    /// The store URL: the configured one, or `neo.db` in the data directory.
    pub fn store_url(&self, data_dir: &Path) -> String {
        self.store
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("neo.db").display()))
    }
}

/// Keys whose values are always text, even when they look like numbers.
const TEXT_KEYS: [&str; 10] = [
    "passphrase",
    "host",
    "sha256",
    "name",
    "webhook_url",
    "bot_token",
    "chat_id",
    "secret",
    "url",
    "api_base",
];

/// An environment value: numbers, booleans and `[a, b]` lists parsed, secrets kept as text.
fn env_value(path: &str, text: String) -> Value {
    let last = path.rsplit('.').next().unwrap_or(path);
    if TEXT_KEYS.contains(&last) {
        return Value::from(text);
    }
    text.parse::<Value>().unwrap_or_else(|_| Value::from(text))
}

/// One line per figment error, naming the key path.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let path = e.path.join(".");
            if path.is_empty() {
                e.kind.to_string()
            } else {
                format!("{path}: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A URL with its credentials replaced by `***`, for messages and banners.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The default data directory: `./neo-data`.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("neo-data")
}

#[cfg(test)]
mod tests;
