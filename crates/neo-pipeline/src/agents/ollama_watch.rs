//! The Ollama lifecycle, for each `kind = "ollama"` provider while the
//! `ollama_lifecycle` flag is on for it (its unit is the provider's name):
//! pull the model when missing (progress in the log), load it at start and
//! whenever signals arrive after it was unloaded, unload it after
//! `idle_unload_secs` without a signal, and read what it holds from `/api/ps`.
//! Load time, memory share and (from the consultations) inference latency go
//! to `/metrics` and to the flag's guard rules, which roll it back when the
//! seed's targets (30 s, 80%, 2 s) are missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use neo_agents::config::OllamaConfig;
use neo_agents::ollama::Ollama;
use neo_agents::provider::{ProviderConfig, ProviderKind};
use neo_api::flags::FlagBook;
use neo_api::metrics::names;
use neo_domain::Timestamp;
use neo_engine::flags::{FlagName, GuardSample, RuleKind};
use tokio::sync::watch;

use crate::Clock;

/// When a signal last asked the agents (nanoseconds since the epoch), shared
/// between the desk stage and the lifecycle.
#[derive(Debug, Default)]
pub struct Activity(AtomicI64);

impl Activity {
    /// Notes a consultation at `now`.
    pub fn touch(&self, now: Timestamp) {
        self.0.fetch_max(now.as_nanos(), Ordering::Relaxed);
    }

    fn last(&self) -> Timestamp {
        Timestamp::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// One managed model and whether NEO loaded it.
struct Managed {
    name: String,
    ollama: Ollama,
    installed: bool,
    loaded: bool,
}

/// Runs the lifecycle for `providers`' Ollama models until shutdown.
pub async fn run(
    providers: Vec<ProviderConfig>,
    config: OllamaConfig,
    activity: Arc<Activity>,
    flags: FlagBook,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = reqwest::Client::new();
    let mut models: Vec<Managed> = providers
        .iter()
        .filter(|p| p.kind == ProviderKind::Ollama)
        .map(|p| Managed {
            name: p.name.clone(),
            ollama: Ollama::new(client.clone(), &p.base_url, &p.model),
            installed: false,
            loaded: false,
        })
        .collect();
    if models.is_empty() {
        return;
    }
    // Warm at start, as if a signal had just arrived.
    activity.touch(clock());
    let every = Duration::from_secs(config.check_every_secs.max(1));
    while !*shutdown.borrow() {
        let now = clock();
        for model in &mut models {
            if flags.is_on(FlagName::OllamaLifecycle, &model.name) {
                look_after(model, &config, activity.last(), &flags, now).await;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// One look at one model: pull, load or unload as due; measure what it holds.
async fn look_after(
    model: &mut Managed,
    config: &OllamaConfig,
    last_use: Timestamp,
    flags: &FlagBook,
    now: Timestamp,
) {
    let idle = Duration::from_nanos(u64::try_from(now.nanos_since(last_use)).unwrap_or(0));
    let keep = Duration::from_secs(config.idle_unload_secs);
    if !model.installed && !ensure_installed(model, config.pull).await {
        return;
    }
    if idle < keep && !model.loaded {
        match model.ollama.load(keep.saturating_sub(idle)).await {
            Ok(took) => {
                model.loaded = true;
                let secs = took.as_secs_f64();
                tracing::info!(model = %model.name, secs, "local model loaded");
                metrics::gauge!(names::OLLAMA_LOAD, "provider" => model.name.clone()).set(secs);
                sample(flags, RuleKind::OllamaLoadSecs, secs, now);
            }
            Err(e) => {
                tracing::warn!(model = %model.name, error = %e, "loading the local model failed")
            }
        }
    } else if idle >= keep && model.loaded {
        match model.ollama.unload().await {
            Ok(()) => {
                model.loaded = false;
                tracing::info!(model = %model.name, idle_secs = idle.as_secs(), "idle local model unloaded");
            }
            Err(e) => {
                tracing::warn!(model = %model.name, error = %e, "unloading the local model failed")
            }
        }
    }
    measure(model, flags, now).await;
}

/// Whether the model is there, pulling it when allowed.
async fn ensure_installed(model: &mut Managed, pull: bool) -> bool {
    match model.ollama.installed().await {
        Ok(true) => model.installed = true,
        Ok(false) if pull => {
            tracing::info!(model = %model.name, "pulling the local model");
            let mut shown = -1i64;
            let name = model.name.clone();
            let pulled = model
                .ollama
                .pull(|status, share| {
                    #[allow(clippy::cast_possible_truncation)]
                    let tenth = share.map_or(-1, |s| (s * 10.0).floor() as i64);
                    if tenth != shown {
                        shown = tenth;
                        tracing::info!(model = %name, status, percent = tenth * 10, "pull");
                    }
                })
                .await;
            match pulled {
                Ok(()) => model.installed = true,
                Err(e) => {
                    tracing::warn!(model = %model.name, error = %e, "pulling the local model failed")
                }
            }
        }
        Ok(false) => {
            tracing::warn!(model = %model.name, "the local model is missing and [agents.ollama] pull = false")
        }
        Err(e) => tracing::warn!(model = %model.name, error = %e, "Ollama cannot be reached"),
    }
    model.installed
}

/// What the model holds now (`/api/ps`), as a share of the machine's memory.
async fn measure(model: &mut Managed, flags: &FlagBook, now: Timestamp) {
    let loaded = match model.ollama.loaded().await {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::debug!(model = %model.name, error = %e, "reading /api/ps failed");
            return;
        }
    };
    model.loaded = loaded.is_some();
    let label = model.name.clone();
    metrics::gauge!(names::OLLAMA_LOADED, "provider" => label.clone()).set(if model.loaded {
        1.0
    } else {
        0.0
    });
    if let (Some(loaded), Some(total)) = (loaded, memory_total()) {
        #[allow(clippy::cast_precision_loss)]
        let share = loaded.size as f64 / total as f64;
        metrics::gauge!(names::OLLAMA_MEMORY, "provider" => label).set(share);
        sample(flags, RuleKind::OllamaMemoryShare, share, now);
    }
}

/// Feeds one observation to the `ollama_lifecycle` flag's rules.
pub fn sample(flags: &FlagBook, kind: RuleKind, value: f64, now: Timestamp) {
    flags.observe(
        GuardSample {
            flag: FlagName::OllamaLifecycle,
            kind,
            value,
            reference: 0.0,
        },
        now,
    );
}

/// The machine's memory in bytes (`MemTotal` in /proc/meminfo), when readable.
fn memory_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
