//! Normalization: a [`RawAlert`] becomes a checked `SignalEventV1` with a
//! canonical instrument, a side, a signal type, a priority and an idempotent id.

use std::time::Duration;

use neo_domain::contracts::{SignalEventV1, SignalSource, SignalType};
use neo_domain::instrument::parse_ticker;
use neo_domain::{Contract, Side, Timestamp};

use super::error::{IntakeError, Problem, ProblemKind};
use super::idempotency::IdScope;
use super::priority::PriorityRules;
use super::raw::{MarketPosition, RawAlert};

/// Normalizes an alert:
///
/// - instrument: `parse_ticker(ticker, exchange)`; the exchange kept is the
///   ticker's prefix, else the `exchange` field, upper-cased;
/// - signal type and side: see [`infer_type`];
/// - priority: [`PriorityRules::priority`];
/// - `ts_event`: the alert's time when given, else `received_at`;
/// - id: [`IdScope::id`]: the sender's explicit id, else the content within the bucket.
///
/// The result passes `SignalEventV1::check()`; its issues become 422
/// `contract_violation` problems (with the paths the sender used).
pub fn normalize(
    raw: RawAlert,
    source: SignalSource,
    rules: &PriorityRules,
    received_at: Timestamp,
    scope: &IdScope<'_>,
) -> Result<SignalEventV1, IntakeError> {
    let ticker_path = raw.path_of("ticker");
    let Some(ticker) = raw.ticker.as_deref() else {
        return Err(IntakeError::one(
            ProblemKind::MissingField,
            ticker_path,
            "the alert needs a ticker (`ticker`, e.g. \"BINANCE:BTCUSDT\")",
        ));
    };
    let parsed = parse_ticker(ticker, raw.exchange.as_deref()).map_err(|e| {
        IntakeError::one(
            ProblemKind::UnknownInstrument,
            ticker_path.clone(),
            e.to_string(),
        )
    })?;
    let exchange = match ticker.trim().split_once(':') {
        Some((prefix, _)) => Some(prefix.trim()),
        None => raw.exchange.as_deref(),
    }
    .filter(|e| !e.is_empty())
    .map(str::to_ascii_uppercase);
    let (signal_type, side) = infer_type(&raw);
    let priority = rules.priority(
        signal_type,
        raw.strategy.as_deref(),
        raw.comment.as_deref(),
        raw.priority,
    );
    let mut signal = SignalEventV1 {
        id: neo_domain::MessageId::derived(neo_domain::IdKind::Signal, ""),
        source,
        source_id: raw.source_id.clone(),
        instrument: parsed.id,
        exchange,
        side,
        signal_type,
        priority,
        price: raw.price,
        quantity: raw.quantity,
        strategy: raw.strategy.clone(),
        interval: raw.interval.clone(),
        comment: raw.comment.clone(),
        ts_event: raw.time.unwrap_or(received_at),
        metadata: raw.metadata.clone(),
        original: raw.original.clone(),
    };
    signal.id = scope.id(&signal, received_at);
    let issues = signal.check();
    if !issues.is_empty() {
        let problems = issues
            .into_iter()
            .map(|issue| {
                let path = sender_path(&raw, &issue.path);
                Problem::new(ProblemKind::ContractViolation, path, issue.problem)
            })
            .collect();
        return Err(IntakeError::Invalid(problems));
    }
    Ok(signal)
}

/// The contract path (`/side`) as the key the sender used (`/action`).
fn sender_path(raw: &RawAlert, contract_path: &str) -> String {
    let field = contract_path.trim_start_matches('/');
    if raw.keys.contains_key(field) {
        raw.path_of(field)
    } else {
        contract_path.to_owned()
    }
}

/// The signal type and side, in this order:
///
/// | given | type | side when none was given |
/// | --- | --- | --- |
/// | `type` / `signal_type` | as given | from the positions, as below |
/// | an action word that implies a type (`close`, `exit_long`, `alert`) | that type | from the word or the positions |
/// | `market_position` flat | exit | opposite of the previous position |
/// | previous position opposite to the current one | reverse | the current position's |
/// | previous position flat | entry | the current position's |
/// | previous and current the same way | entry if the size grew or the side agrees, exit if it shrank or the side opposes | |
/// | a position and a side, no previous | entry when the side opens that position, exit when it reduces it (a sell that leaves you long) | |
/// | only a side | entry | |
/// | nothing | alert | |
///
/// `market_position` may also come from the sign of `position_size` (and the
/// previous one from `prev_market_position_size`).
pub fn infer_type(raw: &RawAlert) -> (SignalType, Option<Side>) {
    let inferred = infer_from_positions(raw);
    let explicit = raw.signal_type.or(raw.action_type);
    let kind = match (explicit, inferred) {
        (Some(kind), _) => kind,
        (None, Some((kind, _))) => kind,
        (None, None) if raw.side.is_some() => SignalType::Entry,
        (None, None) => SignalType::Alert,
    };
    let side = raw.side.or_else(|| {
        // Only borrow the positions' side when it describes the same kind of signal.
        inferred.and_then(|(k, side)| (k == kind).then_some(side).flatten())
    });
    (kind, side)
}

/// What the strategy's positions say, with the side they imply.
fn infer_from_positions(raw: &RawAlert) -> Option<(SignalType, Option<Side>)> {
    use MarketPosition::{Flat, Long, Short};
    let current = raw.market_position?;
    let opposite = |side: Option<Side>| side.map(Side::opposite);
    match (raw.prev_market_position, current) {
        (prev, Flat) => Some((
            SignalType::Exit,
            prev.and_then(MarketPosition::opening_side)
                .map(Side::opposite),
        )),
        (Some(Long), Short) | (Some(Short), Long) => {
            Some((SignalType::Reverse, current.opening_side()))
        }
        (Some(Flat), _) => Some((SignalType::Entry, current.opening_side())),
        (Some(_), _) => {
            let grew = match (raw.prev_position_size, raw.position_size) {
                (Some(prev), Some(now)) if prev.abs() != now.abs() => Some(now.abs() > prev.abs()),
                _ => raw.side.map(|s| Some(s) == current.opening_side()),
            }?;
            if grew {
                Some((SignalType::Entry, current.opening_side()))
            } else {
                Some((SignalType::Exit, opposite(current.opening_side())))
            }
        }
        (None, _) => {
            let side = raw.side?;
            if Some(side) == current.opening_side() {
                Some((SignalType::Entry, Some(side)))
            } else {
                Some((SignalType::Exit, Some(side)))
            }
        }
    }
}

/// Refuses an alert whose own time is more than `window` before (422
/// `stale_alert`) or after (422 `future_alert`, a wrong clock) its arrival.
/// The window is the same both ways; call it only when a window is configured.
pub fn check_freshness(
    ts_event: Timestamp,
    received_at: Timestamp,
    window: Duration,
) -> Result<(), IntakeError> {
    let window_nanos = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
    let age = received_at.nanos_since(ts_event);
    let window_secs = window.as_secs();
    if age > window_nanos {
        Err(IntakeError::StaleAlert {
            ts_event,
            received_at,
            window_secs,
        })
    } else if age < window_nanos.saturating_neg() {
        Err(IntakeError::FutureAlert {
            ts_event,
            received_at,
            window_secs,
        })
    } else {
        Ok(())
    }
}
