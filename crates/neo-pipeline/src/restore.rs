//! Reading what the desk resumes from: the desk's memory (its books, trading
//! state, the day's marks, calibration, open round trips and entries),
//! committed as a typed document with every step that changed it, and the
//! bracket groups that still have a working order with their fills. Every
//! fill is read only for a memory written before the books were kept in it.
//! Nothing is parsed out of the audit trail.

use std::collections::BTreeMap;

use neo_domain::MessageId;
use neo_domain::contracts::{FillV1, OrderRole};
use neo_engine::desk::{DeskMemory, Restore};
use neo_engine::oms::RestoredOrder;
use neo_store::{Cursor, StateKey, Store, StoreError};

const PAGE: u32 = 5_000;

/// Why the desk's durable state could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored memory is not a desk memory this version understands (never guessed at).
    #[error("the stored desk memory cannot be read: {0}")]
    Memory(#[from] serde_json::Error),
}

/// The durable state of the desk.
pub(crate) async fn load(store: &Store) -> Result<Restore, RestoreError> {
    let memory: Option<DeskMemory> = match store.get_state(StateKey::Desk).await? {
        Some(record) => Some(serde_json::from_value(record.body)?),
        None => None,
    };
    let mut signals: Vec<MessageId> = store
        .open_orders()
        .await?
        .iter()
        .map(|o| o.signal_id)
        .collect();
    signals.sort();
    signals.dedup();
    // The books come from the memory when it holds them; only an older memory
    // (or none) needs every fill replayed.
    let books_kept = memory.as_ref().is_some_and(|m| m.ledger.is_some());
    let fills = if books_kept {
        Vec::new()
    } else {
        every_fill(store).await?
    };
    let mut orders = Vec::new();
    for signal_id in signals {
        // Fills per order, counted once (fill ids continue from these counts).
        let mut fill_counts: BTreeMap<MessageId, u32> = BTreeMap::new();
        for f in store.fills_for_signal(signal_id).await? {
            *fill_counts.entry(f.order_id).or_default() += 1;
        }
        for order in store.orders_for_signal(signal_id).await? {
            let entry = memory.as_ref().and_then(|m| m.entries.get(&order.id));
            let bracket = match (order.role, entry) {
                (OrderRole::Entry, Some(e)) => (e.stop_loss, e.take_profit),
                _ => (None, None),
            };
            let fills = fill_counts.get(&order.id).copied().unwrap_or(0);
            orders.push(RestoredOrder {
                order,
                fills,
                bracket,
            });
        }
    }
    Ok(Restore {
        fills,
        orders,
        memory,
    })
}

/// Every stored fill, oldest first, a page at a time.
async fn every_fill(store: &Store) -> Result<Vec<FillV1>, StoreError> {
    let mut fills: Vec<FillV1> = Vec::new();
    let mut after = None;
    loop {
        let page = store.fills_after(PAGE, after).await?;
        let Some(last) = page.last() else { break };
        after = Some(Cursor {
            ts: last.ts_event,
            id: last.id,
        });
        fills.extend(page);
    }
    Ok(fills)
}

/// The orchestrator and the agents' memory, as restored.
pub(crate) type Restored = (
    std::sync::Arc<neo_agents::orchestrator::Orchestrator>,
    neo_agents::context::AgentMemory,
);

/// The agents `config` enables, with the LLM's spend and the agents' memory
/// restored from the store.
pub(crate) async fn orchestrator(
    config: &neo_agents::config::AgentsConfig,
    store: &Store,
    toolbox: &crate::agents::McpToolbox,
    now: neo_domain::Timestamp,
) -> Result<Option<Restored>, crate::PipelineError> {
    use crate::PipelineError;
    if !config.llm_enabled() {
        return Ok(None);
    }
    let ledger: neo_agents::budget::Ledger =
        stored(store, StateKey::LlmBudget, "the LLM budget").await?;
    let memory: neo_agents::context::AgentMemory =
        stored(store, StateKey::AgentMemory, "the agents' memory").await?;
    let toolbox: std::sync::Arc<dyn neo_agents::tools::Toolbox> =
        std::sync::Arc::new(toolbox.clone());
    let orchestrator = neo_agents::orchestrator::Orchestrator::new(config, ledger, Some(toolbox))
        .map_err(|e| PipelineError::Setup(e.to_string()))?;
    if let Some(llm) = orchestrator.llm() {
        crate::agents::export_budget(llm, now);
    }
    Ok(Some((std::sync::Arc::new(orchestrator), memory)))
}

/// The document stored under `key`, or its default when there is none; one
/// this version cannot read stops the start (never guessed at).
async fn stored<T: serde::de::DeserializeOwned + Default>(
    store: &Store,
    key: StateKey,
    what: &str,
) -> Result<T, crate::PipelineError> {
    use crate::PipelineError;
    match store
        .get_state(key)
        .await
        .map_err(|e| PipelineError::Setup(format!("restore {what}: {e}")))?
    {
        Some(record) => serde_json::from_value(record.body)
            .map_err(|e| PipelineError::Setup(format!("the stored {what} cannot be read: {e}"))),
        None => Ok(T::default()),
    }
}
