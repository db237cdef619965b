//! The tick sink: every tick and trade, from any source, into the Parquet
//! archive (`<data>/market/ticks/venue=../instrument=../date=../hour=../part-*.parquet`,
//! `<data>/market/trades/...`; beside the candle store, so readers of the whole
//! candle store see one schema), and a live venue's closed one-minute candles
//! into the candle store `neo data ingest` fills (`<data>/history/instrument=../timeframe=1m`).
//! The simulation's candles stay out of the candle store (its ticks are
//! archived under `venue=sim`), so simulated prices never mix with real history.
//!
//! The archive is synchronous file I/O, so it runs on its own thread behind a
//! bounded queue; when the queue is full the newest batch is dropped and counted
//! (`neo_market_dropped_total{kind="archive"}`). Part files are written by size
//! (100,000 rows) or age (a minute), each complete (temporary file, then link);
//! candles are merged every five minutes; both at shutdown. At start and then
//! every hour, finished hours are compacted into one file each and days older
//! than `archive_days` are pruned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use neo_api::metrics::names;
use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::history::Bar;
use neo_market::event::MarketEvent;
use neo_parquet::{ArchiveConfig, TickArchive, Timeframe, TradeRow};

use crate::Clock;

/// Batches waiting for the archive thread.
const QUEUE: usize = 4_096;
/// How often part files past their age are written.
const FLUSH_EVERY: i64 = 1_000_000_000;
/// How often closed candles are merged into the candle store.
const CANDLES_EVERY: i64 = 300_000_000_000;
/// How often old days are pruned.
const PRUNE_EVERY: i64 = 3_600_000_000_000;

type Batch = (String, Vec<MarketEvent>);

/// Where market data is handed to the archive.
#[derive(Debug, Clone)]
pub struct Archiver {
    tx: SyncSender<Batch>,
}

/// The archive thread; join it after the feed has stopped (it flushes everything first).
pub type ArchiveThread = std::thread::JoinHandle<()>;

impl Archiver {
    /// Opens the archive under `root` (removing a crash's temporary files) and
    /// starts its thread, merging candles into the store at `candles`;
    /// `keep_days` 0 keeps everything.
    pub fn start(
        root: &Path,
        candles: &Path,
        keep_days: u32,
        clock: Clock,
    ) -> Result<(Archiver, ArchiveThread), neo_parquet::Error> {
        let config = ArchiveConfig {
            max_age: Duration::from_secs(60),
            ..ArchiveConfig::default()
        };
        let archive = TickArchive::open(root, config)?;
        if archive.leftovers_removed() > 0 {
            tracing::warn!(
                removed = archive.leftovers_removed(),
                "removed unfinished archive files left by a crash"
            );
        }
        let (tx, rx) = sync_channel::<Batch>(QUEUE);
        let worker = Worker {
            root: root.to_owned(),
            candle_root: candles.to_owned(),
            keep_days,
            archive,
            candles: BTreeMap::new(),
            clock,
        };
        let thread = std::thread::Builder::new()
            .name("neo-archive".to_owned())
            .spawn(move || worker.run(&rx))
            .map_err(|cause| neo_parquet::Error::Io {
                action: "start the archive thread for",
                path: root.to_owned(),
                cause,
            })?;
        Ok((Archiver { tx }, thread))
    }

    /// Queues `events` from `source`; a full queue drops them (counted).
    pub fn archive(&self, source: &str, events: &[MarketEvent]) {
        let keep: Vec<MarketEvent> = events
            .iter()
            .filter(|e| !matches!(e, MarketEvent::Candle { closed: false, .. }))
            .cloned()
            .collect();
        if keep.is_empty() {
            return;
        }
        let n = u64::try_from(keep.len()).unwrap_or(u64::MAX);
        match self.tx.try_send((source.to_owned(), keep)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!(names::MARKET_DROPPED, "kind" => "archive").increment(n);
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the market archive thread has stopped; ticks are not archived");
            }
        }
    }
}

struct Worker {
    root: PathBuf,
    candle_root: PathBuf,
    keep_days: u32,
    archive: TickArchive,
    candles: BTreeMap<InstrumentId, Vec<Bar>>,
    clock: Clock,
}

impl Worker {
    fn run(mut self, rx: &Receiver<Batch>) {
        let start = (self.clock)();
        let (mut flushed, mut merged, mut pruned) = (start, start, start.add_nanos(-PRUNE_EVERY));
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok((source, events)) => self.take(&source, events),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = (self.clock)();
            if now.nanos_since(flushed) >= FLUSH_EVERY {
                flushed = now;
                if let Err(e) = self.archive.flush_due(now) {
                    tracing::warn!(error = %e, "archive flush failed; retried on the next one");
                }
            }
            if now.nanos_since(merged) >= CANDLES_EVERY {
                merged = now;
                self.merge_candles();
            }
            if now.nanos_since(pruned) >= PRUNE_EVERY {
                pruned = now;
                self.housekeeping(now);
            }
        }
        if let Err(e) = self.archive.flush_all() {
            tracing::error!(error = %e, "archive flush at shutdown failed");
        }
        self.merge_candles();
    }

    /// Hourly (and at start): finished hours compacted into one file each, then
    /// days past retention removed.
    fn housekeeping(&self, now: Timestamp) {
        // Every row of an hour is flushed a minute after it ends; two leave a margin.
        match neo_parquet::compact(&self.root, now.add_nanos(-2 * 60_000_000_000)) {
            Ok(s) if s.hours > 0 || s.leftovers > 0 => tracing::info!(
                hours = s.hours,
                parts = s.parts,
                rows = s.rows,
                leftovers = s.leftovers,
                "compacted archived market data"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "archive compaction failed; retried next hour"),
        }
        if self.keep_days > 0 {
            match neo_parquet::prune(&self.root, self.keep_days, now) {
                Ok(0) => {}
                Ok(n) => tracing::info!(days = n, "pruned archived market data past retention"),
                Err(e) => tracing::warn!(error = %e, "archive prune failed"),
            }
        }
    }

    fn take(&mut self, source: &str, events: Vec<MarketEvent>) {
        for event in events {
            let pushed = match event {
                MarketEvent::Tick(t) => self.archive.push_tick(source, &t),
                MarketEvent::Trade(t) => self.archive.push_trade(
                    source,
                    &TradeRow {
                        instrument: t.instrument,
                        price: t.price,
                        size: t.size,
                        aggressor: t.aggressor,
                        trade_id: t.trade_id,
                        ts_event: t.ts_event,
                    },
                ),
                MarketEvent::Candle { candle, .. } if source != "sim" => {
                    self.candles
                        .entry(candle.instrument)
                        .or_default()
                        .push(bar(&candle));
                    Ok(())
                }
                MarketEvent::Candle { .. } => Ok(()),
            };
            if let Err(e) = pushed {
                tracing::warn!(error = %e, source, "market data not archived");
            }
        }
    }

    fn merge_candles(&mut self) {
        let Ok(one_minute) = Timeframe::new("1m") else {
            return;
        };
        for (instrument, bars) in std::mem::take(&mut self.candles) {
            let merged = neo_parquet::merge_into_partition(
                &self.candle_root,
                &instrument,
                &one_minute,
                &bars,
                &mut |_, _| {},
            );
            if let Err(e) = merged {
                tracing::warn!(%instrument, error = %e, "closed candles not stored; kept for the next merge");
                self.candles.entry(instrument).or_default().extend(bars);
            }
        }
    }
}

/// A candle as the history store's bar (analytics: `f64`).
fn bar(c: &CandleV1) -> Bar {
    Bar {
        line: 0,
        ts: c.ts_open,
        open: c.open.value().to_f64(),
        high: c.high.value().to_f64(),
        low: c.low.value().to_f64(),
        close: c.close.value().to_f64(),
        volume: c.volume.value().to_f64(),
    }
}
