//! The core's only source of time. Live shells pass a wall clock; backtests and
//! tests pass a [`ManualClock`] that moves only when told to.

use std::cell::Cell;

use neo_domain::Timestamp;

/// Where the core reads "now".
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A clock that moves only when set or advanced: replays history deterministically.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Cell<Timestamp>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: Cell::new(start),
        }
    }

    /// Moves to `ts`; time never goes backwards, so an earlier `ts` is ignored and reported.
    pub fn set(&self, ts: Timestamp) -> bool {
        if ts < self.now.get() {
            return false;
        }
        self.now.set(ts);
        true
    }

    /// Moves forward by `nanos` (negative values are ignored).
    pub fn advance(&self, nanos: i64) {
        self.now.set(self.now.get().add_nanos(nanos.max(0)));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.now.get()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let clock = ManualClock::new(Timestamp::from_nanos(100));
        assert_eq!(clock.now(), Timestamp::from_nanos(100));
        clock.advance(50);
        assert_eq!(clock.now(), Timestamp::from_nanos(150));
        assert!(!clock.set(Timestamp::from_nanos(10)));
        assert_eq!(clock.now(), Timestamp::from_nanos(150));
        assert!(clock.set(Timestamp::from_nanos(1_000)));
        clock.advance(-5);
        assert_eq!(clock.now(), Timestamp::from_nanos(1_000));
        let by_ref: &dyn Clock = &clock;
        assert_eq!(by_ref.now(), Timestamp::from_nanos(1_000));
    }
}
