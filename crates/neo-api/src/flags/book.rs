//! [`FlagBook`]: load, change, watch and judge the flags.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use neo_domain::contracts::AuditEventV1;
use neo_domain::{Envelope, IdKind, MessageId, Timestamp};
use neo_engine::flags::{
    ClosedTrip, Cohorts, Comparison, FlagName, FlagProblem, FlagSpec, FlagState, Flags, GuardRule,
    GuardSample, Guards, Trip,
};
use neo_store::{Op, StateKey, StateRecord, Store, StoreError, Unit, Writer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FLAG_CHANGED;
use crate::metrics::names;

/// Why a flag could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// The change would leave the flags invalid (every problem at once).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FlagProblem>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored settings do not parse (written by a newer NEO, or damaged).
    #[error("the stored flags do not parse: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// What the store keeps under [`StateKey::Flags`]: the flags changed since the
/// seed, and a version that grows with every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsDoc {
    /// Grows by one with every change.
    pub version: u64,
    /// Each changed flag's settings (the rest keep the seed's).
    pub flags: BTreeMap<FlagName, FlagSpec>,
}

/// One change, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagChange {
    /// The flag.
    pub flag: FlagName,
    /// The settings before.
    pub from: FlagSpec,
    /// The settings after.
    pub to: FlagSpec,
    /// Who: `operator:<key name>`, `operator`, `auto` or `schedule`.
    pub by: String,
    /// Why.
    pub reason: String,
    /// The settings' version after the change.
    pub version: u64,
    /// When.
    pub at: Timestamp,
}

#[derive(Debug)]
struct Board {
    flags: Flags,
    version: u64,
}

/// The flags of one process: shared by its HTTP handlers, its stages and its
/// watcher; cheap to clone.
#[derive(Debug, Clone)]
pub struct FlagBook {
    store: Store,
    writer: Writer,
    seed: Arc<Flags>,
    board: Arc<RwLock<Arc<Board>>>,
    guards: Arc<Mutex<Guards>>,
    /// One change at a time in this process (each re-reads the stored version).
    changing: Arc<tokio::sync::Mutex<()>>,
    /// Each flag's on and off cohorts, since this process started.
    cohorts: Arc<Mutex<Cohorts>>,
}

impl FlagBook {
    /// The seed overlaid by what the store holds.
    pub async fn open(
        store: Store,
        writer: Writer,
        seed: Flags,
        rules: Vec<GuardRule>,
    ) -> Result<FlagBook, FlagError> {
        let (doc, _) = load(&store).await?;
        let flags = overlay(&seed, &doc).map_err(FlagError::Invalid)?;
        let book = FlagBook {
            store,
            writer,
            seed: Arc::new(seed),
            board: Arc::new(RwLock::new(Arc::new(Board {
                flags,
                version: doc.version,
            }))),
            guards: Arc::new(Mutex::new(Guards::new(rules))),
            changing: Arc::new(tokio::sync::Mutex::new(())),
            cohorts: Arc::default(),
        };
        book.publish_metrics();
        Ok(book)
    }

    /// The flags in force now.
    pub fn flags(&self) -> Flags {
        self.board().flags.clone()
    }

    /// The version of the flags in force (0 until the first change).
    pub fn version(&self) -> u64 {
        self.board().version
    }

    /// Whether `flag` is on for `unit` now.
    pub fn is_on(&self, flag: FlagName, unit: &str) -> bool {
        self.board().flags.is_on(flag, unit)
    }

    /// The flag's settings in force (a flag never named is disabled).
    pub fn spec(&self, flag: FlagName) -> FlagSpec {
        self.board()
            .flags
            .spec(flag)
            .cloned()
            .unwrap_or_else(|| FlagSpec::new(FlagState::Disabled))
    }

    fn board(&self) -> Arc<Board> {
        self.board
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the stored version and takes it when it is newer: how a change made
    /// by another process (or `neo flags set` offline) arrives. True when it changed.
    pub async fn refresh(&self) -> Result<bool, FlagError> {
        let (doc, _) = load(&self.store).await?;
        if doc.version <= self.version() {
            return Ok(false);
        }
        let flags = overlay(&self.seed, &doc).map_err(FlagError::Invalid)?;
        self.install(flags, doc.version);
        Ok(true)
    }

    fn install(&self, flags: Flags, version: u64) {
        {
            let mut board = self.board.write().unwrap_or_else(PoisonError::into_inner);
            if version < board.version {
                return;
            }
            *board = Arc::new(Board { flags, version });
        }
        self.publish_metrics();
    }

    /// Changes one flag: validated with every other flag, written with its
    /// history and `outbox` (notifications) in one commit, then in force here.
    pub async fn change(
        &self,
        flag: FlagName,
        mut to: FlagSpec,
        by: &str,
        reason: &str,
        now: Timestamp,
        outbox: Vec<Envelope<Value>>,
    ) -> Result<FlagChange, FlagError> {
        let _one = self.changing.lock().await;
        let (mut doc, written) = load(&self.store).await?;
        let current = overlay(&self.seed, &doc).map_err(FlagError::Invalid)?;
        let from = current
            .spec(flag)
            .cloned()
            .unwrap_or_else(|| FlagSpec::new(FlagState::Disabled));
        // Never older than the last write, so the store keeps the newest.
        let at = if now > written {
            now
        } else {
            written.add_nanos(1)
        };
        // A new state starts now; an unchanged one keeps its start (unless it had none).
        to.since = if to.state == from.state && from.since != Timestamp::EPOCH {
            from.since
        } else {
            at
        };
        let flags = current.with(flag, to.clone()).map_err(FlagError::Invalid)?;
        doc.version += 1;
        doc.flags.insert(flag, to.clone());
        let change = FlagChange {
            flag,
            from,
            to,
            by: by.to_owned(),
            reason: reason.to_owned(),
            version: doc.version,
            at,
        };
        let unit = Unit {
            inbox: None,
            ops: vec![
                Op::PutState(StateRecord {
                    key: StateKey::Flags,
                    body: serde_json::to_value(&doc)?,
                    ts_event: at,
                }),
                Op::InsertAudit(audit(&change)?),
            ],
            outbox,
        };
        self.writer.commit(vec![unit]).await?;
        self.install(flags, doc.version);
        Ok(change)
    }

    /// Every change of `flag`, oldest first.
    pub async fn history(&self, flag: FlagName) -> Result<Vec<FlagChange>, FlagError> {
        let records = self.store.audit_for(story_id(flag)).await?;
        let mut changes = records
            .into_iter()
            .filter(|a| a.action == FLAG_CHANGED)
            .map(|a| serde_json::from_value::<FlagChange>(a.details))
            .collect::<Result<Vec<_>, _>>()?;
        changes.sort_by_key(|c| c.version);
        Ok(changes)
    }

    /// Adds an observation to the flag's guard rules (ignored while it is off).
    pub fn observe(&self, sample: GuardSample, at: Timestamp) {
        self.guards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(sample, at);
    }

    /// The rules that trip now, for flags that are not already off.
    pub fn trips(&self, now: Timestamp) -> Vec<Trip> {
        let board = self.board();
        let mut guards = self.guards.lock().unwrap_or_else(PoisonError::into_inner);
        guards
            .evaluate(now)
            .into_iter()
            .filter(|t| {
                board
                    .flags
                    .spec(t.flag)
                    .is_some_and(|s| s.state.basis_points() > 0)
            })
            .collect()
    }

    /// Every rule with its current figure and sample count (`null` below the minimum).
    pub fn guard_figures(&self, now: Timestamp) -> Vec<(GuardRule, Option<f64>, usize)> {
        self.guards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .figures(now)
    }

    /// A closed round trip, for the A/B cohorts.
    pub fn trip(&self, trip: &ClosedTrip) {
        self.cohorts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .trip(trip);
    }

    /// A decision's latency under its flags, for the A/B cohorts.
    pub fn decision(&self, flags: &BTreeMap<String, bool>, secs: f64) {
        self.cohorts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .decision(flags, secs);
    }

    /// The flag's on and off cohorts side by side.
    pub fn compare(&self, flag: FlagName) -> Comparison {
        self.cohorts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .compare(flag)
    }

    /// Forgets a flag's guard samples (after its rollback).
    pub fn reset_guards(&self, flag: FlagName) {
        self.guards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reset(flag);
    }

    /// `neo_flag_state{flag}`: the share of units on (0 to 1), -1 in rollback.
    fn publish_metrics(&self) {
        let board = self.board();
        for flag in FlagName::ALL {
            let value = match board.flags.spec(flag).map(|s| &s.state) {
                Some(FlagState::Rollback { .. }) => -1.0,
                Some(state) => f64::from(state.basis_points()) / 10_000.0,
                None => 0.0,
            };
            metrics::gauge!(names::FLAG_STATE, "flag" => flag.as_str()).set(value);
        }
    }
}

/// The story id every change of a flag shares, so its history is one audit query.
fn story_id(flag: FlagName) -> MessageId {
    MessageId::derived(IdKind::Other, &format!("flag:{flag}"))
}

fn audit(change: &FlagChange) -> Result<AuditEventV1, serde_json::Error> {
    Ok(AuditEventV1 {
        id: MessageId::derived(
            IdKind::Other,
            &format!("audit:flag:{}:{}", change.flag, change.version),
        ),
        actor: change.by.clone(),
        action: FLAG_CHANGED.to_owned(),
        entity: Some(format!("flag:{}", change.flag)),
        correlation_id: Some(story_id(change.flag)),
        details: serde_json::to_value(change)?,
        ts_event: change.at,
    })
}

async fn load(store: &Store) -> Result<(FlagsDoc, Timestamp), FlagError> {
    match store.get_state(StateKey::Flags).await? {
        Some(record) => Ok((serde_json::from_value(record.body)?, record.ts_event)),
        None => Ok((FlagsDoc::default(), Timestamp::EPOCH)),
    }
}

/// The seed with every stored flag's settings in its place.
fn overlay(seed: &Flags, doc: &FlagsDoc) -> Result<Flags, Vec<FlagProblem>> {
    let mut specs: BTreeMap<FlagName, FlagSpec> =
        seed.specs().map(|(f, s)| (*f, s.clone())).collect();
    specs.extend(doc.flags.iter().map(|(f, s)| (*f, s.clone())));
    Flags::new(specs)
}
