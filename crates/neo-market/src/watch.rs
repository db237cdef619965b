//! What a feed watches besides the messages themselves: gaps in a venue's
//! sequence numbers (something was missed: backfill the candles it covered),
//! and each instrument's freshness (the seed's "< 5 minutes": a stale
//! instrument refuses entries and raises a notice). Pure, on times passed in.

use std::collections::BTreeMap;
use std::time::Duration;

use neo_domain::{InstrumentId, Timestamp};

/// A jump in a venue's sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The number that was due.
    pub expected: u64,
    /// The number that came.
    pub got: u64,
}

/// One connection's sequence numbers (a new connection starts a new one).
#[derive(Debug, Clone, Default)]
pub struct Sequence {
    last: Option<u64>,
}

impl Sequence {
    /// Notes `seq`; the gap when numbers were skipped. A repeat or an older
    /// number is not a gap (the message is a duplicate).
    pub fn observe(&mut self, seq: u64) -> Option<Gap> {
        let gap = match self.last {
            Some(last) if seq > last.saturating_add(1) => Some(Gap {
                expected: last + 1,
                got: seq,
            }),
            _ => None,
        };
        self.last = Some(self.last.map_or(seq, |last| last.max(seq)));
        gap
    }
}

/// When each instrument last had data.
#[derive(Debug, Clone, Default)]
pub struct Freshness {
    last: BTreeMap<InstrumentId, Timestamp>,
}

impl Freshness {
    /// Notes data for `instrument` at `at` (an older time than seen is ignored).
    pub fn saw(&mut self, instrument: InstrumentId, at: Timestamp) {
        let last = self.last.entry(instrument).or_insert(at);
        *last = (*last).max(at);
    }

    /// How long since `instrument` had data at `now` (`None`: never).
    pub fn age(&self, instrument: InstrumentId, now: Timestamp) -> Option<Duration> {
        let last = self.last.get(&instrument)?;
        let nanos = u64::try_from(now.nanos_since(*last)).unwrap_or(0);
        Some(Duration::from_nanos(nanos))
    }

    /// Which of `instruments` have had no data for longer than `max_age` (or never).
    pub fn stale(
        &self,
        instruments: &[InstrumentId],
        now: Timestamp,
        max_age: Duration,
    ) -> Vec<InstrumentId> {
        instruments
            .iter()
            .copied()
            .filter(|i| self.age(*i, now).is_none_or(|age| age > max_age))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_skip_is_a_gap_a_repeat_is_not() {
        let mut s = Sequence::default();
        assert_eq!(s.observe(5), None, "the first number starts the count");
        assert_eq!(s.observe(6), None);
        assert_eq!(s.observe(6), None, "a duplicate");
        assert_eq!(s.observe(4), None, "an old one");
        assert_eq!(
            s.observe(9),
            Some(Gap {
                expected: 7,
                got: 9
            })
        );
        assert_eq!(s.observe(10), None);
    }

    #[test]
    fn instruments_go_stale_past_the_age_or_when_never_seen() {
        let t = |secs| Timestamp::from_unix_secs(secs).unwrap();
        let (btc, eth) = (
            InstrumentId::new("BTC-USDT").unwrap(),
            InstrumentId::new("ETH-USDT").unwrap(),
        );
        let mut f = Freshness::default();
        f.saw(btc, t(1_000));
        f.saw(btc, t(900));
        assert_eq!(f.age(btc, t(1_060)), Some(Duration::from_secs(60)));
        let five = Duration::from_secs(300);
        assert_eq!(f.stale(&[btc, eth], t(1_200), five), vec![eth]);
        assert_eq!(f.stale(&[btc, eth], t(1_301), five), vec![btc, eth]);
    }

    proptest! {
        /// Whatever the order, a gap is reported only for numbers never reached before.
        #[test]
        fn gaps_only_move_forward(seqs in prop::collection::vec(0u64..1_000, 1..50)) {
            let mut s = Sequence::default();
            let mut high: Option<u64> = None;
            for seq in seqs {
                if let Some(gap) = s.observe(seq) {
                    prop_assert_eq!(Some(gap.expected - 1), high);
                    prop_assert!(gap.got > gap.expected);
                }
                high = Some(high.map_or(seq, |h| h.max(seq)));
            }
        }
    }
}
