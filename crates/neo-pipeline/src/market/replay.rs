//! `source = "replay"`: a stored candle history played through the same path
//! as a live feed, for demos and tests. The history is moved in time so its
//! warm-up ends at NEO's start and the rest plays from then on; NEO's clock
//! runs `speed` times faster than the wall clock ([`accelerated`]), so bars
//! keep their real length, the desk sees fresh data, and an hour of history
//! plays in a minute at speed 60.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use neo_domain::contracts::CandleV1;
use neo_domain::{Fixed, InstrumentId, Price, Quantity, Rounding, Timestamp};
use neo_engine::history::{Bar, infer_interval, interval_name};
use neo_market::replay::Replay;
use neo_parquet::Timeframe;
use tokio::sync::watch;

use super::live::Fanout;
use super::{FeedError, Warm};
use crate::Clock;
use crate::config::ReplayConfig;

/// The source's name on the bus and in `/ready`.
pub const SOURCE: &str = "replay";

/// A clock that starts where `inner` is now and runs `speed` times as fast.
pub fn accelerated(inner: Clock, speed: f64) -> Clock {
    let start = inner();
    Arc::new(move || {
        let elapsed = inner().nanos_since(start).max(0);
        // Time, not money: a float scale is exact enough (well under a microsecond a day).
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let scaled = (elapsed as f64 * speed).min(i64::MAX as f64) as i64;
        start.add_nanos(scaled)
    })
}

/// Reads the history for `instruments` from `path` (a candle store, or one file
/// for the only instrument): one series per instrument, oldest first.
pub fn load(
    config: &ReplayConfig,
    path: &Path,
    instruments: &[InstrumentId],
) -> Result<Vec<Vec<CandleV1>>, FeedError> {
    let problem = |what: String| FeedError(format!("replay {}: {what}", path.display()));
    if !path.exists() {
        return Err(problem(
            "nothing there: set [market.replay] path to an OHLCV CSV or Parquet file, or fill the candle store (`neo data ingest`)".to_owned(),
        ));
    }
    if path.is_dir() {
        let interval = Timeframe::new(&config.interval).map_err(|e| problem(e.to_string()))?;
        return instruments
            .iter()
            .map(|i| {
                let read = neo_parquet::read_history(path, i, &interval, (None, None), false)
                    .map_err(|e| problem(e.to_string()))?;
                candles(&read.bars, *i, interval.nanos(), interval.as_str()).map_err(problem)
            })
            .collect();
    }
    let [instrument] = instruments else {
        return Err(problem(format!(
            "one file holds one instrument, but [market] instruments names {}",
            instruments.len()
        )));
    };
    let read = neo_parquet::read_ohlcv_file(path).map_err(|e| problem(e.to_string()))?;
    if let Some(first) = read.unreadable.first() {
        return Err(problem(format!(
            "{} rows cannot be read (the first: {first}); `neo data validate` lists them",
            read.unreadable.len()
        )));
    }
    let step =
        infer_interval(&read.bars).ok_or_else(|| problem("fewer than two bars".to_owned()))?;
    let label = interval_name(step);
    Ok(vec![
        candles(&read.bars, *instrument, step, &label).map_err(problem)?,
    ])
}

/// History bars (floating point, as files hold them) as exact candles.
fn candles(
    bars: &[Bar],
    instrument: InstrumentId,
    step: i64,
    interval: &str,
) -> Result<Vec<CandleV1>, String> {
    bars.iter()
        .map(|b| {
            let exact = |x: f64, what: &str| {
                Fixed::from_f64(x, Rounding::HalfEven)
                    .map_err(|e| format!("bar at {}: {what} {x}: {e}", b.ts))
            };
            let price = |x: f64, what: &str| {
                Price::new(exact(x, what)?).map_err(|e| format!("bar at {}: {what}: {e}", b.ts))
            };
            let volume = Quantity::new(exact(b.volume, "volume")?)
                .map_err(|e| format!("bar at {}: volume: {e}", b.ts))?;
            Ok(CandleV1 {
                instrument,
                interval: interval.to_owned(),
                ts_open: b.ts,
                ts_event: b.ts.add_nanos(step),
                open: price(b.open, "open")?,
                high: price(b.high, "high")?,
                low: price(b.low, "low")?,
                close: price(b.close, "close")?,
                volume,
            })
        })
        .collect()
}

/// Moves the series in time so the first `warmup` of history ends at `now`: the
/// bars closed by then are the warm-up, the rest is what plays.
pub fn prepare(
    series: Vec<Vec<CandleV1>>,
    warmup: Duration,
    now: Timestamp,
) -> Result<Warm, FeedError> {
    let first = series
        .iter()
        .filter_map(|s| s.iter().map(|c| c.ts_open).min())
        .min()
        .ok_or_else(|| FeedError("replay: the history holds no bars".to_owned()))?;
    let warm_nanos = i64::try_from(warmup.as_nanos()).unwrap_or(i64::MAX);
    let shift = now.nanos_since(first.add_nanos(warm_nanos));
    let mut history = Vec::new();
    let mut last_ticks = Vec::new();
    let mut playing = Vec::new();
    for bars in series {
        let (warm, rest): (Vec<CandleV1>, Vec<CandleV1>) = bars
            .into_iter()
            .map(|mut c| {
                c.ts_open = c.ts_open.add_nanos(shift);
                c.ts_event = c.ts_event.add_nanos(shift);
                c
            })
            .partition(|c| c.ts_event <= now);
        if let Some(c) = warm.iter().max_by_key(|c| c.ts_event) {
            last_ticks.push(super::close_tick(c));
        }
        history.extend(warm);
        playing.push(rest);
    }
    if playing.iter().all(Vec::is_empty) {
        return Err(FeedError(format!(
            "replay: the history ends within the warm-up ({} minutes); lower [market] warmup_minutes or replay a longer history",
            warmup.as_secs() / 60
        )));
    }
    history.sort_by_key(|c| c.ts_event);
    Ok(Warm {
        source: super::Source::Replay(Replay::new(playing)),
        history,
        last_ticks,
        steps: std::collections::BTreeMap::new(),
    })
}

/// Plays the replay as NEO's clock reaches each event, until shutdown (once
/// everything has played, the data goes stale as a stopped feed's would).
pub async fn run(
    mut replay: Replay,
    out: Arc<Fanout>,
    clock: Clock,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), FeedError> {
    out.share.update_feed(|f| {
        f.venue = Some(SOURCE.to_owned());
        f.connected = true;
    });
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        let events = replay.due(clock());
        if !events.is_empty() {
            out.deliver(SOURCE, events);
        }
        if replay.finished() {
            let played = replay.played();
            tracing::info!(
                events = played,
                "the replay has played everything; its data goes stale from here"
            );
            out.share.update_feed(|f| {
                f.connected = false;
                f.last_problem = Some(format!("the replay has played all its {played} events"));
            });
            let _ = shutdown.wait_for(|stop| *stop).await;
            return Ok(());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000_000;

    fn bars(n: i64) -> Vec<Bar> {
        (0..n)
            .map(|i| Bar {
                line: usize::try_from(i).unwrap() + 1,
                ts: Timestamp::from_nanos(1_699_999_980_000_000_000 + i * MINUTE),
                open: 100.5,
                high: 101.25,
                low: 99.0,
                close: 100.0 + f64::from(u8::try_from(i % 7).unwrap()),
                volume: 2.5,
            })
            .collect()
    }

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "neo-replay-unit-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn unique_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn plays_a_store_and_warms_up_on_its_start() {
        let root = dir();
        let (btc, eth) = (
            InstrumentId::new("BTC-USD").unwrap(),
            InstrumentId::new("ETH-USD").unwrap(),
        );
        let m1 = Timeframe::new("1m").unwrap();
        for i in [btc, eth] {
            neo_parquet::merge_into_partition(&root, &i, &m1, &bars(30), &mut |_, _| {}).unwrap();
        }
        let config = ReplayConfig::default();
        let series = load(&config, &root, &[btc, eth]).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0][0].close.to_string(), "100");
        assert_eq!(series[0][1].high.to_string(), "101.25");
        assert_eq!(series[0][0].interval, "1m");

        let now = Timestamp::from_nanos(1_800_000_000_000_000_000);
        let warm = prepare(series, Duration::from_secs(600), now).unwrap();
        // Ten minutes of each: the warm-up, ending exactly at now.
        assert_eq!(warm.history.len(), 20);
        assert!(warm.history.iter().all(|c| c.ts_event <= now));
        assert_eq!(warm.history.last().unwrap().ts_event, now);
        assert_eq!(warm.last_ticks.len(), 2);
        let super::super::Source::Replay(mut replay) = warm.source else {
            unreachable!()
        };
        assert_eq!(replay.next_due(), Some(now));
        // Twenty minutes play, five events a bar, two instruments.
        assert_eq!(replay.due(now.add_nanos(30 * MINUTE)).len(), 200);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn refuses_what_cannot_play() {
        let root = dir();
        let btc = InstrumentId::new("BTC-USD").unwrap();
        let config = ReplayConfig::default();
        let err = |r: Result<Vec<Vec<CandleV1>>, FeedError>| r.err().unwrap().to_string();
        // Nothing stored for it.
        assert!(err(load(&config, &root, &[btc])).contains("no stored data"));
        // Nothing at the path at all: said so, with what to do.
        assert!(err(load(&config, &root.join("missing"), &[btc])).contains("nothing there"));
        // A file holds one instrument.
        let csv = root.join("a.csv");
        std::fs::write(
            &csv,
            "date,open,high,low,close\n2024-01-01,1,2,1,2\n2024-01-02,1,2,1,2\n",
        )
        .unwrap();
        let two = [btc, InstrumentId::new("ETH-USD").unwrap()];
        assert!(err(load(&config, &csv, &two)).contains("one file holds one instrument"));
        let daily = load(&config, &csv, &[btc]).unwrap();
        assert_eq!(daily[0][0].interval, "1d");
        // A bad row is named, not skipped.
        std::fs::write(
            &csv,
            "date,open,high,low,close\n2024-01-01,1,2,1,2\n2024-01-02,1,x,1,2\n",
        )
        .unwrap();
        assert!(err(load(&config, &csv, &[btc])).contains("line 3"));
        // A history shorter than the warm-up leaves nothing to play.
        let short = prepare(
            daily,
            Duration::from_secs(3 * 86_400),
            Timestamp::from_nanos(0),
        );
        assert!(
            short
                .err()
                .unwrap()
                .to_string()
                .contains("within the warm-up")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_clock_runs_speed_times_faster() {
        let wall = Arc::new(std::sync::atomic::AtomicI64::new(1_000));
        let w = wall.clone();
        let inner: Clock =
            Arc::new(move || Timestamp::from_nanos(w.load(std::sync::atomic::Ordering::SeqCst)));
        let fast = accelerated(inner, 60.0);
        assert_eq!(fast().as_nanos(), 1_000);
        wall.store(2_000, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(fast().as_nanos(), 61_000);
    }
}
