//! NEO's roles, each built by one function from a shared [`Context`] into
//! named tasks, in the manner of Vector's topology: `neo run` builds every
//! role in one process; `neo serve --role` builds the chosen ones, the others
//! running in other processes over NATS JetStream and PostgreSQL.
//!
//! - **gateway**: webhooks and the REST API (reads from the store, and from
//!   the desk's published view when the desk is elsewhere).
//! - **market**: the market data source (simulation, venue feed, replay), its
//!   archive and alternative data; over NATS one active per account (a store
//!   lease), publishing on `market.*` and its history to the store.
//! - **desk**: the desk stage (analyst, agents, risk, OMS, portfolio), flags'
//!   guards, reconciliation, retention, market freshness; one active per
//!   account, elected by a store lease, the others on standby. It reads the
//!   market in its process (`neo run`) or follows the market role over the bus.
//! - **notify**: delivery to Slack, Telegram and webhooks (shared durable consumer).
//!
//! Every process also runs the outbox relay and serves `/health`, `/ready` and
//! `/metrics` on its `[server]` port.

pub(crate) mod desk;
pub(crate) mod http;
pub(crate) mod leader;
pub(crate) mod live;
pub(crate) mod market;
pub(crate) mod notify;
pub(crate) mod view;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use neo_api::flags::FlagBook;
use neo_api::slo::SloBook;
use neo_bus::{Bus, MemoryBus};
use neo_domain::contracts::Channel;
use neo_store::{Store, Writer};
use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, Id, JoinSet};

use crate::{Clock, Config};

/// One of NEO's roles, as `neo serve --role` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Webhooks and the REST API.
    Gateway,
    /// The desk stage; one active per account.
    Desk,
    /// The market data source; one active per account.
    Market,
    /// Notification delivery.
    Notify,
}

impl Role {
    /// Every role, in start order of `--role all`.
    pub const ALL: [Role; 4] = [Role::Market, Role::Desk, Role::Notify, Role::Gateway];

    /// The role's name on the command line and in logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Desk => "desk",
            Role::Market => "market",
            Role::Notify => "notify",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one.
#[derive(Debug, thiserror::Error)]
#[error("no role {0:?}: the roles are gateway, desk, market, notify (or all)")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// What every role of one process shares: configuration, store and its writer,
/// bus, clock, shutdown signal, the relay's wake-up, flags, SLOs and channels.
pub(crate) struct Context<B: Bus> {
    pub(crate) config: Arc<Config>,
    pub(crate) data_dir: PathBuf,
    pub(crate) store: Store,
    pub(crate) writer: Writer,
    pub(crate) bus: B,
    /// The in-process bus, when that is the bus (`neo run`'s default).
    pub(crate) embedded: Option<MemoryBus>,
    pub(crate) clock: Clock,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) wake: Arc<Notify>,
    pub(crate) flags: FlagBook,
    pub(crate) slo: SloBook,
    /// The channels notifications are rendered for (whichever process delivers them).
    pub(crate) channels: Vec<Channel>,
    pub(crate) toolbox: crate::agents::McpToolbox,
}

impl<B: Bus> Clone for Context<B> {
    fn clone(&self) -> Self {
        Context {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            store: self.store.clone(),
            writer: self.writer.clone(),
            bus: self.bus.clone(),
            embedded: self.embedded.clone(),
            clock: self.clock.clone(),
            shutdown: self.shutdown.clone(),
            wake: self.wake.clone(),
            flags: self.flags.clone(),
            slo: self.slo.clone(),
            channels: self.channels.clone(),
            toolbox: self.toolbox.clone(),
        }
    }
}

/// A task's name and how it ended.
pub(crate) type Outcome = (&'static str, Result<(), String>);

/// A process's (or a role's) supervised tasks, each named for its reports.
#[derive(Default)]
pub(crate) struct Tasks {
    set: JoinSet<Outcome>,
    names: HashMap<Id, (&'static str, AbortHandle)>,
}

impl Tasks {
    /// Runs `task` as `name`; its error is reported under that name.
    pub(crate) fn spawn<E: fmt::Display>(
        &mut self,
        name: &'static str,
        task: impl Future<Output = Result<(), E>> + Send + 'static,
    ) {
        let handle = self
            .set
            .spawn(async move { (name, task.await.map_err(|e| e.to_string())) });
        self.names.insert(handle.id(), (name, handle));
    }

    /// Runs `task`, which cannot fail, as `name`.
    pub(crate) fn spawn_quiet(
        &mut self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.spawn(name, async move {
            task.await;
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// The next task to end, `None` when none is left.
    pub(crate) async fn next(&mut self) -> Option<Outcome> {
        match self.set.join_next_with_id().await? {
            Ok((id, outcome)) => {
                self.names.remove(&id);
                Some(outcome)
            }
            Err(e) => {
                let name = self.names.remove(&e.id()).map_or("task", |(name, _)| name);
                let why = if e.is_panic() {
                    format!("panicked: {e}")
                } else {
                    e.to_string()
                };
                Some((name, Err(why)))
            }
        }
    }

    /// The names of the tasks still running, sorted.
    pub(crate) fn running(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.names.values().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names
    }

    /// Stops the running tasks `which` picks by name.
    pub(crate) fn abort_where(&self, which: impl Fn(&str) -> bool) {
        for (name, handle) in self.names.values() {
            if which(name) {
                handle.abort();
            }
        }
    }

    /// Stops every task still running.
    pub(crate) fn abort_all(&mut self) {
        self.set.abort_all();
    }
}

/// Whether `roles` asks for `role`.
pub(crate) fn has(roles: &[Role], role: Role) -> bool {
    roles.contains(&role)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Role;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_choices() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        let err = "trader".parse::<Role>().unwrap_err().to_string();
        assert!(err.contains("gateway, desk, market, notify"), "{err}");
    }
}
