//! Reading what the desk resumes from: every fill, the bracket groups that still
//! have a working order, and each open entry's intent and alert id.

use std::collections::BTreeMap;

use neo_domain::MessageId;
use neo_domain::contracts::{FillV1, OrderIntentV1, OrderRole};
use neo_engine::desk::{EntryInfo, Restore};
use neo_engine::oms::RestoredOrder;
use neo_store::{Cursor, Store, StoreError};

const PAGE: u32 = 5_000;

/// The durable state of the desk.
pub(crate) async fn load(store: &Store) -> Result<Restore, StoreError> {
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
    // Fills per order, counted once (fill ids continue from these counts).
    let mut fill_counts: BTreeMap<MessageId, u32> = BTreeMap::new();
    for f in &fills {
        *fill_counts.entry(f.order_id).or_default() += 1;
    }
    let mut signals: Vec<MessageId> = store
        .open_orders()
        .await?
        .iter()
        .map(|o| o.signal_id)
        .collect();
    signals.sort();
    signals.dedup();
    let mut orders = Vec::new();
    let mut entries = Vec::new();
    for signal_id in signals {
        let group = store.orders_for_signal(signal_id).await?;
        let intents: BTreeMap<MessageId, OrderIntentV1> = store
            .audit_for(signal_id)
            .await?
            .into_iter()
            .filter(|a| a.action == "intent")
            .filter_map(|a| serde_json::from_value::<OrderIntentV1>(a.details).ok())
            .map(|i| (i.id, i))
            .collect();
        let source_id = store.get_signal(signal_id).await?.and_then(|s| s.source_id);
        for order in group {
            let intent = intents.get(&order.intent_id);
            let bracket = match (order.role, intent) {
                (OrderRole::Entry, Some(i)) => (i.stop_loss, i.take_profit),
                _ => (None, None),
            };
            if let (OrderRole::Entry, Some(i)) = (order.role, intent) {
                entries.push((
                    order.id,
                    EntryInfo {
                        signal_id,
                        source_id: source_id.clone(),
                        side: order.side,
                        stop_loss: i.stop_loss,
                        take_profit: i.take_profit,
                        probability: 0.5,
                    },
                ));
            }
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
        entries,
    })
}
