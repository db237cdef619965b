//! Operator commands at the desk: halt, resume and flatten arrive as
//! `TradingCommandV1` messages on `signals.operator.trading`, are applied by the
//! one desk in order with the signals, and commit what they changed (the
//! desk's memory, orders, fills) with an audit event the API waits for.

use neo_api::server::TRADING_COMMAND_AUDIT;
use neo_domain::contracts::{AuditEventV1, TradingAction, TradingCommandV1};
use neo_domain::{Contract, IdKind, MessageId, Timestamp};
use neo_engine::desk::{Desk, OperatorError, Step};
use neo_engine::risk::TradingState;
use neo_stage::{Effects, HandlerError};
use neo_store::Op;
use serde_json::{Value, json};

use crate::desk_stage::effects;

/// Applies one command; a refusal (resuming during a breach) is an outcome, not an error.
pub(crate) fn apply(
    desk: &mut Desk,
    command: &TradingCommandV1,
    cause: MessageId,
    now: Timestamp,
    channels: &[neo_domain::contracts::Channel],
) -> Result<Effects, HandlerError> {
    if let Some(issue) = command.check().into_iter().next() {
        return Err(HandlerError::Permanent(format!("invalid command: {issue}")));
    }
    let fatal = |e: neo_engine::desk::DeskError| HandlerError::Fatal(format!("desk: {e}"));
    let (step, outcome) = match command.action {
        TradingAction::Halt | TradingAction::Resume => {
            let to = if command.action == TradingAction::Halt {
                TradingState::Halted
            } else {
                TradingState::Active
            };
            match desk.set_trading_state(to, &command.by, &command.reason, now) {
                Ok(step) => {
                    let changed = !step.state_changes.is_empty();
                    let outcome = if changed { "applied" } else { "unchanged" };
                    (step, json!({ "outcome": outcome }))
                }
                Err(OperatorError::Desk(e)) => return Err(fatal(e)),
                Err(e) => (
                    Step::default(),
                    json!({ "outcome": "refused", "message": e.to_string() }),
                ),
            }
        }
        TradingAction::Flatten => {
            let (step, report) = desk.flatten(command.id, now).map_err(fatal)?;
            let report = serde_json::to_value(&report).unwrap_or(Value::Null);
            (step, json!({ "outcome": "applied", "flatten": report }))
        }
    };
    let mut out = effects(&step, None, cause, now, channels);
    let status = serde_json::to_value(desk.trading_status()).unwrap_or(Value::Null);
    let mut details = json!({ "command": command, "status": status });
    if let (Value::Object(d), Value::Object(o)) = (&mut details, outcome) {
        d.extend(o);
    }
    out.ops.push(Op::InsertAudit(AuditEventV1 {
        id: MessageId::derived(
            IdKind::Other,
            &format!("audit:trading.command:{}", command.id),
        ),
        actor: command.by.clone(),
        action: TRADING_COMMAND_AUDIT.to_owned(),
        entity: Some(command.id.to_string()),
        correlation_id: Some(command.id),
        details,
        ts_event: now,
    }));
    Ok(out)
}
