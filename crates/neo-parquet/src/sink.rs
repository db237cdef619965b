//! The tick sink: a synchronous archive of every tick and trade a feed sees, as
//! hive-style Parquet part files that pandas, pyarrow, duckdb and polars read as
//! one dataset:
//! `<root>/ticks/venue=<v>/instrument=<ID>/date=<YYYY-MM-DD>/hour=<HH>/part-<first ts>-<seq>.parquet`
//! (trades under `<root>/trades/...`).
//!
//! Rows are buffered column by column per (kind, venue, instrument, UTC hour of
//! the event). A buffer is written as ONE complete part file, through a hidden
//! temporary file that is synced and then linked into place, when it holds
//! [`ArchiveConfig::max_rows`] rows, when it is older than
//! [`ArchiveConfig::max_age`], or at shutdown. A crash loses at most the
//! unflushed buffers, never half a file; [`TickArchive::open`] removes the
//! temporary files a crash left. Rows in each file are sorted by `ts`.
//!
//! Prices are Float64 as in the OHLCV store: this is research data; the exact
//! money rules apply to orders, fills and positions, not archives.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, Float64Array, PrimitiveArray, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use neo_domain::contracts::TickV1;
use neo_domain::{InstrumentId, Price, Quantity, Side, Timestamp};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::alt::{
    check_token, day_start, io, list_dirs, list_parts, read_batches, remove_temp_files, write_part,
};
use crate::{Error, Result};

pub(crate) const HOUR_NANOS: i64 = 3_600_000_000_000;
pub(crate) const DAY_NANOS: i64 = 24 * HOUR_NANOS;

/// When buffers are written, so memory and what a crash can lose stay bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveConfig {
    /// Flush a buffer once it holds this many rows (default 100,000).
    pub max_rows: usize,
    /// Flush a buffer this long after it was first seen holding rows (default 10 s).
    pub max_age: Duration,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            max_rows: 100_000,
            max_age: Duration::from_secs(10),
        }
    }
}

/// Which of the archive's two datasets, so readers and counters name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchiveKind {
    /// Quote and trade ticks ([`TickV1`]) under `<root>/ticks`.
    Ticks,
    /// Individual trades ([`TradeRow`]) under `<root>/trades`.
    Trades,
}

impl ArchiveKind {
    /// The dataset's folder name under the root.
    pub const fn dir_name(self) -> &'static str {
        match self {
            ArchiveKind::Ticks => "ticks",
            ArchiveKind::Trades => "trades",
        }
    }
}

/// One trade as a venue printed it: what the trade archive stores per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRow {
    /// What traded.
    pub instrument: InstrumentId,
    /// The trade price.
    pub price: Price,
    /// The traded quantity.
    pub size: Quantity,
    /// The side that took liquidity.
    pub aggressor: Side,
    /// The venue's id for the trade (kept as given).
    pub trade_id: String,
    /// Exchange time of the trade.
    pub ts_event: Timestamp,
}

/// What a flush wrote, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushSummary {
    /// The part files written, one per flushed buffer.
    pub files: Vec<PathBuf>,
    /// Rows written across them.
    pub rows: usize,
}

/// Which buffer a row goes to; also the order flushes write files in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: ArchiveKind,
    venue: usize,
    instrument: InstrumentId,
    hour: i64,
}

/// One buffer's rows, column by column (the tick or the trade columns are used).
#[derive(Debug, Default)]
struct Rows {
    ts: Vec<i64>,
    price: Vec<f64>,
    size: Vec<f64>,
    bid: Vec<Option<f64>>,
    ask: Vec<Option<f64>>,
    buy: Vec<bool>,
    ids: String,
    id_ends: Vec<usize>,
    /// The first `now` a flush check saw this buffer holding rows.
    born: Option<Timestamp>,
    unsorted: bool,
}

impl Rows {
    fn push(&mut self, ts: Timestamp, price: Price, size: Quantity) {
        let ts = ts.as_nanos();
        self.unsorted |= self.ts.last().is_some_and(|&last| last > ts);
        self.ts.push(ts);
        self.price.push(price.value().to_f64());
        self.size.push(size.value().to_f64());
    }

    /// Row positions in time order, or `None` when they already are (the usual case).
    fn order(&self) -> Option<Vec<usize>> {
        self.unsorted.then(|| {
            let mut order: Vec<usize> = (0..self.ts.len()).collect();
            order.sort_by_key(|&i| self.ts[i]);
            order
        })
    }
}

/// Writes every tick and trade pushed into it as Parquet part files under one
/// root; one archive per root at a time (a lock file enforces it). Pushes never
/// write: call [`TickArchive::flush_due`] regularly (every second, say) and
/// [`TickArchive::flush_all`] at shutdown.
#[derive(Debug)]
pub struct TickArchive {
    root: PathBuf,
    config: ArchiveConfig,
    venues: Vec<String>,
    buffers: BTreeMap<Key, Rows>,
    buffered: usize,
    next_seq: u64,
    leftovers_removed: usize,
    /// Held while the archive lives; the OS releases it if the process dies.
    _lock: File,
}

impl TickArchive {
    /// Opens (creating) the archive under `root`, takes its lock and removes the
    /// temporary files a crash left under `<root>/ticks` and `<root>/trades`.
    pub fn open(root: &Path, config: ArchiveConfig) -> Result<Self> {
        let mut leftovers_removed = 0;
        for kind in [ArchiveKind::Ticks, ArchiveKind::Trades] {
            let dir = root.join(kind.dir_name());
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        }
        let lock_path = root
            .join(ArchiveKind::Ticks.dir_name())
            .join(".archive.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        lock.try_lock().map_err(|e| Error::Io {
            action: "lock (is another archive open on this root?)",
            path: lock_path.clone(),
            cause: e.into(),
        })?;
        for kind in [ArchiveKind::Ticks, ArchiveKind::Trades] {
            leftovers_removed += remove_temp_files(&root.join(kind.dir_name()))?;
        }
        Ok(TickArchive {
            root: root.to_owned(),
            config,
            venues: Vec::new(),
            buffers: BTreeMap::new(),
            buffered: 0,
            next_seq: 0,
            leftovers_removed,
            _lock: lock,
        })
    }

    /// How many temporary files [`TickArchive::open`] removed: each is a flush a
    /// crash interrupted, worth a line in the log.
    pub fn leftovers_removed(&self) -> usize {
        self.leftovers_removed
    }

    /// Rows pushed and not yet written: what a crash now would lose.
    pub fn buffered_rows(&self) -> usize {
        self.buffered
    }

    /// Buffers a tick seen on `venue` (refused when `venue` cannot name a folder).
    pub fn push_tick(&mut self, venue: &str, tick: &TickV1) -> Result<()> {
        let rows = self.rows_for(ArchiveKind::Ticks, venue, tick.instrument, tick.ts_event)?;
        rows.push(tick.ts_event, tick.price, tick.size);
        rows.bid.push(tick.bid.map(|p| p.value().to_f64()));
        rows.ask.push(tick.ask.map(|p| p.value().to_f64()));
        Ok(())
    }

    /// Buffers a trade seen on `venue` (refused when `venue` cannot name a folder).
    pub fn push_trade(&mut self, venue: &str, trade: &TradeRow) -> Result<()> {
        let rows = self.rows_for(ArchiveKind::Trades, venue, trade.instrument, trade.ts_event)?;
        rows.push(trade.ts_event, trade.price, trade.size);
        rows.buy.push(trade.aggressor == Side::Buy);
        rows.ids.push_str(&trade.trade_id);
        rows.id_ends.push(rows.ids.len());
        Ok(())
    }

    fn rows_for(
        &mut self,
        kind: ArchiveKind,
        venue: &str,
        instrument: InstrumentId,
        ts: Timestamp,
    ) -> Result<&mut Rows> {
        let venue = match self.venues.iter().position(|v| v == venue) {
            Some(at) => at,
            None => {
                check_token("venue", venue)?;
                self.venues.push(venue.to_owned());
                self.venues.len() - 1
            }
        };
        let hour = ts.as_nanos().div_euclid(HOUR_NANOS);
        self.buffered += 1;
        Ok(self
            .buffers
            .entry(Key {
                kind,
                venue,
                instrument,
                hour,
            })
            .or_default())
    }

    /// Writes the buffers holding `max_rows` rows or more, and those `max_age` or
    /// more past the first `now` that saw them; `now` is the caller's clock.
    pub fn flush_due(&mut self, now: Timestamp) -> Result<FlushSummary> {
        let max_age = i64::try_from(self.config.max_age.as_nanos()).unwrap_or(i64::MAX);
        let max_rows = self.config.max_rows;
        let due: Vec<Key> = self
            .buffers
            .iter_mut()
            .filter_map(|(key, rows)| {
                let born = *rows.born.get_or_insert(now);
                (rows.ts.len() >= max_rows || now.nanos_since(born) >= max_age).then_some(*key)
            })
            .collect();
        self.flush_keys(due)
    }

    /// Writes every buffer (at shutdown, or before reading what was pushed).
    pub fn flush_all(&mut self) -> Result<FlushSummary> {
        let all: Vec<Key> = self.buffers.keys().copied().collect();
        self.flush_keys(all)
    }

    /// Writes the given buffers in order; on an error the failed buffer is kept
    /// (a later flush retries it) and the rest stay buffered.
    fn flush_keys(&mut self, keys: Vec<Key>) -> Result<FlushSummary> {
        let mut summary = FlushSummary::default();
        for key in keys {
            let Some(rows) = self.buffers.remove(&key) else {
                continue;
            };
            match self.write_buffer(&key, &rows) {
                Ok(path) => {
                    summary.rows += rows.ts.len();
                    self.buffered -= rows.ts.len();
                    summary.files.push(path);
                }
                Err(e) => {
                    self.buffers.insert(key, rows);
                    return Err(e);
                }
            }
        }
        Ok(summary)
    }

    fn write_buffer(&mut self, key: &Key, rows: &Rows) -> Result<PathBuf> {
        let venue = self.venues.get(key.venue).map_or("", String::as_str);
        let start = Timestamp::from_nanos(key.hour.saturating_mul(HOUR_NANOS)).to_datetime();
        let dir = self
            .root
            .join(key.kind.dir_name())
            .join(format!("venue={venue}"))
            .join(format!("instrument={}", key.instrument.as_str()))
            .join(format!("date={}", start.format("%Y-%m-%d")))
            .join(format!("hour={}", start.format("%H")));
        let order = rows.order();
        let order = order.as_deref();
        let first = order
            .and_then(|o| o.first())
            .map_or(rows.ts.first(), |&i| rows.ts.get(i))
            .copied()
            .unwrap_or(0);
        let batch = match key.kind {
            ArchiveKind::Ticks => tick_batch(rows, order),
            ArchiveKind::Trades => trade_batch(rows, order),
        }
        .map_err(|cause| Error::Arrow {
            path: dir.clone(),
            cause,
        })?;
        let (path, seq) = write_part(&dir, first, self.next_seq, &batch)?;
        self.next_seq = seq + 1;
        Ok(path)
    }
}

/// `v` in `order` (all of it, as is, when `order` is `None`).
fn permute<T: Copy>(v: &[T], order: Option<&[usize]>) -> Vec<T> {
    match order {
        None => v.to_vec(),
        Some(order) => order.iter().map(|&i| v[i]).collect(),
    }
}

pub(crate) fn ts_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        false,
    )
}

pub(crate) fn ts_array(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(values).with_timezone("UTC"))
}

/// The tick files' schema: what other tools see.
fn tick_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts_field("ts"),
        Field::new("price", DataType::Float64, false),
        Field::new("size", DataType::Float64, false),
        Field::new("bid", DataType::Float64, true),
        Field::new("ask", DataType::Float64, true),
    ]))
}

/// The trade files' schema.
fn trade_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        ts_field("ts"),
        Field::new("price", DataType::Float64, false),
        Field::new("size", DataType::Float64, false),
        Field::new("aggressor", DataType::Utf8, false),
        Field::new("trade_id", DataType::Utf8, false),
    ]))
}

fn tick_batch(
    rows: &Rows,
    order: Option<&[usize]>,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let floats = |v: &[f64]| -> ArrayRef { Arc::new(Float64Array::from(permute(v, order))) };
    let quotes =
        |v: &[Option<f64>]| -> ArrayRef { Arc::new(Float64Array::from(permute(v, order))) };
    RecordBatch::try_new(
        tick_schema(),
        vec![
            ts_array(permute(&rows.ts, order)),
            floats(&rows.price),
            floats(&rows.size),
            quotes(&rows.bid),
            quotes(&rows.ask),
        ],
    )
}

fn trade_batch(
    rows: &Rows,
    order: Option<&[usize]>,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let floats = |v: &[f64]| -> ArrayRef { Arc::new(Float64Array::from(permute(v, order))) };
    let side = |buy: bool| if buy { "buy" } else { "sell" };
    let id = |i: usize| {
        let start = i.checked_sub(1).map_or(0, |p| rows.id_ends[p]);
        rows.ids.get(start..rows.id_ends[i]).unwrap_or_default()
    };
    let (aggressor, trade_id) = match order {
        None => (
            StringArray::from_iter_values(rows.buy.iter().map(|&b| side(b))),
            StringArray::from_iter_values((0..rows.ts.len()).map(id)),
        ),
        Some(order) => (
            StringArray::from_iter_values(order.iter().map(|&i| side(rows.buy[i]))),
            StringArray::from_iter_values(order.iter().map(|&i| id(i))),
        ),
    };
    RecordBatch::try_new(
        trade_schema(),
        vec![
            ts_array(permute(&rows.ts, order)),
            floats(&rows.price),
            floats(&rows.size),
            Arc::new(aggressor),
            Arc::new(trade_id),
        ],
    )
}

/// The ticks of `instrument` on `venue` (every venue when `None`) with
/// `from <= ts_event < to`, sorted by time; only the hour folders that can
/// overlap the range are opened.
pub fn read_ticks(
    root: &Path,
    venue: Option<&str>,
    instrument: &InstrumentId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TickV1>> {
    let mut out = Vec::new();
    for path in part_files(root, ArchiveKind::Ticks, venue, instrument, from, to)? {
        read_batches(&path, |col| {
            let (ts, price) = (col.ts("ts")?, col.f64("price", false)?);
            let size = col.f64("size", false)?;
            let (bid, ask) = (col.f64("bid", true)?, col.f64("ask", true)?);
            for i in 0..col.batch.num_rows() {
                let ts_event = Timestamp::from_nanos(ts.value(i));
                if ts_event < from || ts_event >= to {
                    continue;
                }
                let quote = |a: &PrimitiveArray<Float64Type>| {
                    a.is_valid(i).then(|| col.price(a.value(i), i)).transpose()
                };
                out.push(TickV1 {
                    instrument: *instrument,
                    price: col.price(price.value(i), i)?,
                    size: col.quantity(size.value(i), i)?,
                    bid: quote(bid)?,
                    ask: quote(ask)?,
                    ts_event,
                });
            }
            Ok(())
        })?;
    }
    out.sort_by_key(|t| t.ts_event);
    Ok(out)
}

/// The trades of `instrument` on `venue` (every venue when `None`) with
/// `from <= ts_event < to`, sorted by time.
pub fn read_trades(
    root: &Path,
    venue: Option<&str>,
    instrument: &InstrumentId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TradeRow>> {
    let mut out = Vec::new();
    for path in part_files(root, ArchiveKind::Trades, venue, instrument, from, to)? {
        read_batches(&path, |col| {
            let (ts, price) = (col.ts("ts")?, col.f64("price", false)?);
            let size = col.f64("size", false)?;
            let (aggressor, ids) = (col.text("aggressor")?, col.text("trade_id")?);
            for i in 0..col.batch.num_rows() {
                let ts_event = Timestamp::from_nanos(ts.value(i));
                if ts_event < from || ts_event >= to {
                    continue;
                }
                let side = aggressor.value(i);
                out.push(TradeRow {
                    instrument: *instrument,
                    price: col.price(price.value(i), i)?,
                    size: col.quantity(size.value(i), i)?,
                    aggressor: side
                        .parse()
                        .map_err(|_| col.damaged(i, format!("aggressor {side:?}")))?,
                    trade_id: ids.value(i).to_owned(),
                    ts_event,
                });
            }
            Ok(())
        })?;
    }
    out.sort_by_key(|t| t.ts_event);
    Ok(out)
}

/// Rows stored in one dataset, from the files' footers (no data is decoded):
/// what a health check or a test compares with what was pushed.
pub fn count_rows(root: &Path, kind: ArchiveKind) -> Result<usize> {
    let mut total = 0usize;
    let mut stack = vec![root.join(kind.dir_name())];
    while let Some(dir) = stack.pop() {
        for (_, sub) in list_dirs(&dir, "")? {
            stack.push(sub);
        }
        for path in list_parts(&dir)? {
            let file = File::open(&path).map_err(io("open", &path))?;
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|cause| Error::Parquet {
                    path: path.clone(),
                    cause,
                })?;
            let rows = builder.metadata().file_metadata().num_rows();
            total += usize::try_from(rows).unwrap_or(0);
        }
    }
    Ok(total)
}

/// Removes the `date=` folders of ticks, trades and alternative data whose every row is more than
/// `keep_days` days older than `now` (the whole UTC day ended before
/// `now - keep_days`); `keep_days` 0 keeps everything. Returns how many.
pub fn prune(root: &Path, keep_days: u32, now: Timestamp) -> Result<usize> {
    if keep_days == 0 {
        return Ok(0);
    }
    let cutoff = now.add_nanos(-i64::from(keep_days).saturating_mul(DAY_NANOS));
    let mut removed = 0;
    for kind in [ArchiveKind::Ticks, ArchiveKind::Trades] {
        for (_, venue) in list_dirs(&root.join(kind.dir_name()), "venue")? {
            for (_, instrument) in list_dirs(&venue, "instrument")? {
                removed += prune_days(&instrument, cutoff)?;
            }
        }
    }
    for (_, source) in list_dirs(&root.join(crate::ALT_DIR), "source")? {
        removed += prune_days(&source, cutoff)?;
    }
    Ok(removed)
}

/// Removes the `date=` folders under `dir` whose whole day is before `cutoff`.
fn prune_days(dir: &Path, cutoff: Timestamp) -> Result<usize> {
    let mut removed = 0;
    for (date, day) in list_dirs(dir, "date")? {
        let Some(start) = day_start(&date) else {
            continue;
        };
        if Timestamp::from_nanos(start.saturating_add(DAY_NANOS)) <= cutoff {
            std::fs::remove_dir_all(&day).map_err(io("remove", &day))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The part files of one instrument whose hour folder can overlap `from..to`.
fn part_files(
    root: &Path,
    kind: ArchiveKind,
    venue: Option<&str>,
    instrument: &InstrumentId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<PathBuf>> {
    if let Some(venue) = venue {
        check_token("venue", venue)?;
    }
    let overlaps =
        |start: i64, len: i64| start < to.as_nanos() && start.saturating_add(len) > from.as_nanos();
    let mut files = Vec::new();
    for (name, dir) in list_dirs(&root.join(kind.dir_name()), "venue")? {
        if venue.is_some_and(|v| v != name) {
            continue;
        }
        let dir = dir.join(format!("instrument={}", instrument.as_str()));
        for (date, dir) in list_dirs(&dir, "date")? {
            let Some(day) = day_start(&date).filter(|&d| overlaps(d, DAY_NANOS)) else {
                continue;
            };
            for (hour, dir) in list_dirs(&dir, "hour")? {
                let start = hour
                    .parse::<i64>()
                    .ok()
                    .filter(|h| (0..24).contains(h))
                    .map(|h| day.saturating_add(h * HOUR_NANOS));
                if start.is_some_and(|s| overlaps(s, HOUR_NANOS)) {
                    files.extend(list_parts(&dir)?);
                }
            }
        }
    }
    Ok(files)
}
