//! The order lifecycle as one table: every allowed `(state, event) -> state`
//! is listed here, and anything unlisted is an error the caller sees, never a
//! panic and never a silent state change.

use neo_domain::contracts::OrderStatus;

/// Something that happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderEvent {
    /// The venue acknowledged it.
    Accept,
    /// The venue refused it.
    Reject,
    /// Part of the remaining quantity filled.
    PartialFill,
    /// The remaining quantity filled.
    Fill,
    /// The quantity changed (a bracket child following its entry's fills).
    Amend,
    /// Cancelled by request, by its OCO sibling, or by IOC/FOK rules.
    Cancel,
    /// Its time in force ran out.
    Expire,
}

/// A transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order in state {from} cannot take event {event:?}")]
pub struct InvalidTransition {
    /// The state the order was in.
    pub from: OrderStatus,
    /// The event refused.
    pub event: OrderEvent,
}

/// The next state, or why there is none.
pub fn transition(from: OrderStatus, event: OrderEvent) -> Result<OrderStatus, InvalidTransition> {
    use OrderEvent as E;
    use OrderStatus as S;
    let next = match (from, event) {
        (S::New, E::Accept) => S::Accepted,
        (S::New, E::Reject) => S::Rejected,
        (S::New, E::Cancel) => S::Cancelled,
        (S::Accepted, E::PartialFill) => S::PartiallyFilled,
        (S::Accepted, E::Fill) => S::Filled,
        (S::Accepted, E::Amend) => S::Accepted,
        (S::Accepted, E::Cancel) => S::Cancelled,
        (S::Accepted, E::Expire) => S::Expired,
        (S::PartiallyFilled, E::PartialFill) => S::PartiallyFilled,
        (S::PartiallyFilled, E::Fill) => S::Filled,
        (S::PartiallyFilled, E::Amend) => S::PartiallyFilled,
        (S::PartiallyFilled, E::Cancel) => S::Cancelled,
        (S::PartiallyFilled, E::Expire) => S::Expired,
        _ => return Err(InvalidTransition { from, event }),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: [OrderEvent; 7] = [
        OrderEvent::Accept,
        OrderEvent::Reject,
        OrderEvent::PartialFill,
        OrderEvent::Fill,
        OrderEvent::Amend,
        OrderEvent::Cancel,
        OrderEvent::Expire,
    ];

    #[test]
    fn the_whole_table() {
        use OrderEvent as E;
        use OrderStatus as S;
        let allowed = [
            (S::New, E::Accept, S::Accepted),
            (S::New, E::Reject, S::Rejected),
            (S::New, E::Cancel, S::Cancelled),
            (S::Accepted, E::PartialFill, S::PartiallyFilled),
            (S::Accepted, E::Fill, S::Filled),
            (S::Accepted, E::Amend, S::Accepted),
            (S::Accepted, E::Cancel, S::Cancelled),
            (S::Accepted, E::Expire, S::Expired),
            (S::PartiallyFilled, E::PartialFill, S::PartiallyFilled),
            (S::PartiallyFilled, E::Fill, S::Filled),
            (S::PartiallyFilled, E::Amend, S::PartiallyFilled),
            (S::PartiallyFilled, E::Cancel, S::Cancelled),
            (S::PartiallyFilled, E::Expire, S::Expired),
        ];
        for &from in OrderStatus::ALL {
            for event in EVENTS {
                let expected = allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|t| t.2);
                match (transition(from, event), expected) {
                    (Ok(next), Some(want)) => assert_eq!(next, want, "{from} + {event:?}"),
                    (Err(err), None) => assert_eq!(err, InvalidTransition { from, event }),
                    (got, want) => panic!("{from} + {event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for &from in OrderStatus::ALL.iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                assert!(transition(from, event).is_err(), "{from} + {event:?}");
            }
        }
    }
}
