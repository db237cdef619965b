//! Batched execution of a commit: the inbox keys, each kind of op and the outbox
//! rows of a whole transaction go out as a few multi-row statements instead of
//! one statement per write, with the same outcome as writing them one by one in
//! unit order (see [`reduce`] for the one place where that takes care).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::backend::{Tx, Val};
use crate::plan::{OpRow, Outgoing, UnitPlan};
use crate::shape::{INBOX, Kind, OUTBOX, OUTBOX_LOCK, Shape};
use crate::{StoreError, StoreKind};

/// Most rows in one statement: large enough that a group commit needs few statements,
/// small enough to keep statement text (and the time to parse it) modest.
const MAX_ROWS: usize = 1000;

/// Bind parameters one statement may carry.
const fn max_params(kind: StoreKind) -> usize {
    match kind {
        // SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite (>= 3.32).
        StoreKind::Sqlite => 32_766,
        // The wire protocol counts parameters in an unsigned 16-bit integer.
        StoreKind::Postgres => 65_535,
    }
}

/// Bytes one PostgreSQL statement may carry (bound values and its share of SQL text).
///
/// sqlx 0.9.0 leaves Nagle's algorithm on (no `TCP_NODELAY`; sqlx issue #4335). A
/// message larger than the socket's send buffer (16 KiB at first on Linux) goes out in
/// several writes, and the last small segment then waits for the server's delayed ACK:
/// about 40 ms per statement, measured here. Statements under the buffer never wait.
const PG_BUDGET: usize = 12 * 1024;

/// SQL text per bound value (`$123::numeric, `), counted against [`PG_BUDGET`] because
/// the first use of a statement on a connection sends its text.
const SQL_PER_VALUE: usize = 12;

/// Rows per statement for a shape, within the backend's parameter limit.
fn chunk_rows(kind: StoreKind, shape: &Shape) -> usize {
    (max_params(kind) / shape.width().max(1)).clamp(1, MAX_ROWS)
}

/// Splits `rows` into statements: within the parameter limit and [`MAX_ROWS`], and on
/// PostgreSQL within [`PG_BUDGET`] (`bytes` sizes a row's bound values); a row larger
/// than the budget goes alone.
fn chunks<'r, R>(
    kind: StoreKind,
    shape: &Shape,
    rows: &'r [R],
    bytes: impl Fn(&R) -> usize,
) -> Vec<&'r [R]> {
    let most = chunk_rows(kind, shape);
    let budget = match kind {
        StoreKind::Sqlite => usize::MAX,
        StoreKind::Postgres => PG_BUDGET,
    };
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0_usize);
    for (i, row) in rows.iter().enumerate() {
        let row_size = bytes(row) + shape.width() * SQL_PER_VALUE;
        if i > start && (i - start == most || size.saturating_add(row_size) > budget) {
            out.push(&rows[start..i]);
            (start, size) = (i, 0);
        }
        size += row_size;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

fn vals_len<'v>(vals: impl IntoIterator<Item = &'v Val>) -> usize {
    vals.into_iter().map(Val::wire_len).sum()
}

/// Inserts every unit's inbox key and says, per unit, whether it is new in this
/// transaction. A key already stored, or carried by an earlier unit of the same
/// call, leaves that unit not fresh (it is `AlreadyHandled`).
pub(crate) async fn claim_inbox(tx: &mut Tx, plans: &[UnitPlan]) -> Result<Vec<bool>, StoreError> {
    // The first unit carrying a key is the one that may apply it. Sorted keys also
    // make concurrent PostgreSQL writers lock inbox entries in one order (no deadlock).
    let mut first: BTreeMap<(&str, Uuid), usize> = BTreeMap::new();
    for (i, plan) in plans.iter().enumerate() {
        if let Some(key) = &plan.inbox {
            first
                .entry((key.consumer.as_str(), *key.message_id.as_uuid()))
                .or_insert(i);
        }
    }
    let mut fresh: Vec<bool> = plans.iter().map(|p| p.inbox.is_none()).collect();
    let rows: Vec<[Val; 2]> = first
        .keys()
        .map(|&(consumer, id)| [Val::Text(consumer.to_owned()), Val::Id(id)])
        .collect();
    let kind = tx.kind();
    for chunk in chunks(kind, &INBOX, &rows, |row| vals_len(row)) {
        let rows: Vec<(String, String)> = tx
            .fetch_generated(INBOX.sql(kind, chunk.len()), chunk.iter().flatten())
            .await?;
        for (consumer, id) in rows {
            let id = parse_uuid("inbox", &id)?;
            if let Some(&unit) = first.get(&(consumer.as_str(), id))
                && let Some(slot) = fresh.get_mut(unit)
            {
                *slot = true;
            }
        }
    }
    Ok(fresh)
}

/// Writes the ops of the applied units: one statement (per chunk) per kind.
pub(crate) async fn write_ops<'a>(
    tx: &mut Tx,
    ops: impl Iterator<Item = &'a OpRow>,
) -> Result<(), StoreError> {
    let ops: Vec<&OpRow> = ops.collect();
    let kind = tx.kind();
    for table in Kind::ALL {
        let rows: Vec<&OpRow> = ops.iter().copied().filter(|op| op.kind == table).collect();
        if rows.is_empty() {
            continue;
        }
        let shape = table.shape();
        let rows = reduce(shape, rows);
        for chunk in chunks(kind, shape, &rows, |row| vals_len(row.iter())) {
            let vals = chunk.iter().flat_map(|row| row.iter());
            tx.exec_generated(shape.sql(kind, chunk.len()), vals)
                .await?;
        }
    }
    Ok(())
}

/// The rows to send for one kind, in an order and number a multi-row statement accepts,
/// leaving the table as writing `rows` one by one would.
///
/// Plain inserts (`DO NOTHING`) go as they are: the database keeps the first of equal
/// ids. Upserts of one key are merged into one row, because PostgreSQL refuses a
/// statement that updates a row twice. Applied one by one, a write applies when its
/// precedence is `>=` the current row's, so the row left is the last write of the
/// highest precedence (or the stored row, when that is higher still). The merged row
/// is that write, except that columns the upsert never updates come from the key's
/// first write, which is the one that inserts them when the key is not stored yet.
fn reduce<'a>(shape: &Shape, rows: Vec<&'a OpRow>) -> Vec<Cow<'a, [Val]>> {
    // Per key: its first write and the write that wins (with that write's precedence).
    let mut merged: BTreeMap<&str, (&OpRow, &OpRow, (i64, i64))> = BTreeMap::new();
    let mut plain = Vec::new();
    for row in rows {
        let Some(upsert) = &row.upsert else {
            plain.push(Cow::Borrowed(row.vals.as_slice()));
            continue;
        };
        let precedence = upsert.precedence;
        merged
            .entry(upsert.key.as_str())
            .and_modify(|(_, winner, best)| {
                if precedence >= *best {
                    *winner = row;
                    *best = precedence;
                }
            })
            .or_insert((row, row, precedence));
    }
    plain.extend(merged.into_values().map(|(first, winner, _)| {
        if std::ptr::eq(first, winner) {
            return Cow::Borrowed(winner.vals.as_slice());
        }
        let mut vals = winner.vals.clone();
        for i in shape.insert_only() {
            if let (Some(v), Some(f)) = (vals.get_mut(i), first.vals.get(i)) {
                v.clone_from(f);
            }
        }
        Cow::Owned(vals)
    }));
    plain
}

/// Inserts the outbox rows of the applied units, in unit then row order, and returns
/// each unit's new seqs (a row whose envelope id is already stored, or repeats an
/// earlier row of the commit, gets none). On PostgreSQL the outbox lock is taken first.
pub(crate) async fn write_outbox(
    tx: &mut Tx,
    plans: &[UnitPlan],
    applied: &[bool],
) -> Result<Vec<Vec<i64>>, StoreError> {
    let mut seqs = vec![Vec::new(); plans.len()];
    let rows: Vec<(usize, &Outgoing)> = plans
        .iter()
        .zip(applied)
        .enumerate()
        .filter(|(_, (_, applied))| **applied)
        .flat_map(|(i, (plan, _))| plan.outbox.iter().map(move |row| (i, row)))
        .collect();
    if rows.is_empty() {
        return Ok(seqs);
    }
    let kind = tx.kind();
    if kind == StoreKind::Postgres {
        tx.exec(&OUTBOX_LOCK, &[]).await?;
    }
    for chunk in chunks(kind, &OUTBOX, &rows, |(_, row)| vals_len(&row.vals)) {
        // Within a statement the first row of an envelope id is the one inserted.
        let mut first: HashMap<Uuid, usize> = HashMap::with_capacity(chunk.len());
        for (at, (_, row)) in chunk.iter().enumerate() {
            first.entry(row.envelope_id).or_insert(at);
        }
        let vals = chunk.iter().flat_map(|(_, row)| row.vals.iter());
        let returned: Vec<(i64, String)> = tx
            .fetch_generated(OUTBOX.sql(kind, chunk.len()), vals)
            .await?;
        let mut inserted = Vec::with_capacity(returned.len());
        for (seq, id) in returned {
            if let Some(&at) = first.get(&parse_uuid("outbox", &id)?) {
                inserted.push((at, seq));
            }
        }
        // Rows are numbered in statement order, so pushing in that order keeps each
        // unit's seqs in the order of its envelopes.
        inserted.sort_unstable();
        for (at, seq) in inserted {
            if let Some((unit, _)) = chunk.get(at)
                && let Some(unit_seqs) = seqs.get_mut(*unit)
            {
                unit_seqs.push(seq);
            }
        }
    }
    Ok(seqs)
}

fn parse_uuid(table: &'static str, text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt {
        table,
        message: format!("returned id {text:?}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_under_the_parameter_limits() {
        for kind in [StoreKind::Sqlite, StoreKind::Postgres] {
            let shapes = Kind::ALL.map(Kind::shape);
            for shape in shapes.iter().copied().chain([&INBOX, &OUTBOX]) {
                let rows = chunk_rows(kind, shape);
                assert!((1..=MAX_ROWS).contains(&rows));
                assert!(rows * shape.width() <= max_params(kind), "{shape:?}");
            }
        }
    }

    #[test]
    fn postgres_statements_stay_within_the_byte_budget() {
        let sizes = |kind, rows: &[usize]| -> Vec<usize> {
            chunks(kind, &INBOX, rows, |&b| b)
                .iter()
                .map(|c| c.len())
                .collect()
        };
        let small = vec![100; 2_500];
        assert_eq!(sizes(StoreKind::Sqlite, &small), [1000, 1000, 500]);
        let per_row = 100 + 2 * SQL_PER_VALUE;
        let pg = sizes(StoreKind::Postgres, &small);
        assert_eq!(pg.iter().sum::<usize>(), 2_500);
        assert!(pg.iter().all(|&n| n * per_row <= PG_BUDGET));
        assert_eq!(pg[0], PG_BUDGET / per_row);
        // A row larger than the budget still goes, alone.
        let big = [10, PG_BUDGET * 2, 10];
        assert_eq!(sizes(StoreKind::Postgres, &big), [1, 1, 1]);
        assert!(sizes(StoreKind::Sqlite, &[]).is_empty());
    }
}
