//! Timing policy: exponential backoff with jitter, and a sliding-window rate
//! limit that also remembers a server's "retry after" for the whole channel.

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RetryConfig;

/// xorshift64*: tiny, seedable, good enough to spread retries apart.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// A generator from `seed`, or from the process's random hasher keys.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(0x6e65_6f6e_6f74_6966);
            h.finish()
        });
        // Zero is xorshift's fixed point; any other constant works.
        Jitter(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..=max`.
    fn below_or_equal(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Retry numbers taken from [`RetryConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    pub(crate) max_attempts: u32,
    initial_ms: u64,
    max_ms: u64,
    pub(crate) max_retry_after: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &RetryConfig) -> Self {
        Backoff {
            max_attempts: config.max_attempts.max(1),
            initial_ms: config.initial_backoff_ms.max(1),
            max_ms: config.max_backoff_ms.max(config.initial_backoff_ms.max(1)),
            max_retry_after: Duration::from_millis(config.max_retry_after_ms),
        }
    }

    /// The wait after failed attempt `attempt` (1-based): "equal jitter", a
    /// uniform pick in `[base/2, base]` with `base = initial * 2^(attempt-1)`
    /// capped at the maximum, so waits grow but never bunch up.
    pub(crate) fn delay(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        let shift = attempt.saturating_sub(1).min(32);
        let base = self
            .initial_ms
            .saturating_mul(1u64 << shift)
            .min(self.max_ms);
        let half = base / 2;
        Duration::from_millis(half + jitter.below_or_equal(base - half))
    }
}

/// At most `limit` sends in any window of `interval`, and nothing before a
/// server-imposed pause ends.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: usize,
    interval: Duration,
    recent: VecDeque<Instant>,
    not_before: Option<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(limit: u32, interval: Duration) -> Self {
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        RateLimiter {
            limit,
            interval,
            recent: VecDeque::with_capacity(limit.min(1024)),
            not_before: None,
        }
    }

    /// Waits until one more send fits, then counts it.
    pub(crate) async fn acquire(&mut self) {
        if let Some(at) = self.not_before.take() {
            tokio::time::sleep_until(at).await;
        }
        if self.recent.len() >= self.limit
            && let Some(&oldest) = self.recent.front()
        {
            tokio::time::sleep_until(oldest + self.interval).await;
        }
        let now = Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= self.interval)
        {
            self.recent.pop_front();
        }
        while self.recent.len() >= self.limit {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
    }

    /// The server asked for a pause: no send on this channel before it ends.
    pub(crate) fn pause_for(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        self.not_before = Some(self.not_before.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(initial: u64, max: u64) -> RetryConfig {
        RetryConfig {
            initial_backoff_ms: initial,
            max_backoff_ms: max,
            ..RetryConfig::default()
        }
    }

    #[test]
    fn backoff_doubles_within_equal_jitter_bounds_and_caps() {
        let b = Backoff::new(&config(100, 1000));
        let mut j = Jitter::new(Some(7));
        for _ in 0..200 {
            for (attempt, base) in [
                (1, 100),
                (2, 200),
                (3, 400),
                (4, 800),
                (5, 1000),
                (40, 1000),
            ] {
                let d = b.delay(attempt, &mut j).as_millis() as u64;
                assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d}");
            }
        }
    }

    #[test]
    fn jitter_is_deterministic_per_seed() {
        let mut a = Jitter::new(Some(42));
        let mut b = Jitter::new(Some(42));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_sends_by_the_window() {
        let mut r = RateLimiter::new(2, Duration::from_secs(1));
        let start = Instant::now();
        for _ in 0..5 {
            r.acquire().await;
        }
        // 2 at t=0, 2 at t=1s, 1 at t=2s.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn pause_delays_the_next_send() {
        let mut r = RateLimiter::new(10, Duration::from_secs(1));
        r.acquire().await;
        let start = Instant::now();
        r.pause_for(Duration::from_secs(3));
        r.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
