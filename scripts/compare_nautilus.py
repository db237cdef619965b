#!/usr/bin/env python3
"""Throughput comparison: `neo backtest` vs NautilusTrader on the same bars.

Generates N deterministic 1-minute bars (a geometric random walk, 2-decimal
prices, integer volume, each bar opening at the previous close), writes them
to a CSV, then runs the same EMA-cross strategy on both engines and prints
engine, bars, trades, seconds and bars/s (and return, as a sanity check
that both ran the same strategy), plus the NEO/Nautilus ratio.

    python3 scripts/compare_nautilus.py                     # 1,000,000 bars
    python3 scripts/compare_nautilus.py --bars 100000 --json
    python3 scripts/compare_nautilus.py --nautilus-only --bars 100000
    python3 scripts/compare_nautilus.py --neo target/release/neo --csv /tmp/bars.csv

Needs: numpy and nautilus_trader (`pip install nautilus-trader`) and a
release build of NEO (`cargo build --release -p neo`) unless --nautilus-only.

What is timed:
  NEO       its own `elapsed_s`/`bars_per_s` (engine loop, CSV loading excluded).
  Nautilus  wall time of `engine.run()` only (bar construction and
            `add_data` excluded; the run includes Nautilus' end-of-run
            stop/flush, with logging bypassed and post-run analysis off).
            By default gc.freeze() runs first, so Python's cyclic GC does
            not keep rescanning the preloaded Bar objects (--no-gc-freeze).

Strategy on the Nautilus side: Nautilus' ExponentialMovingAverage(fast) and
(slow) registered for the bar type; a cross up closes any short and buys, a
cross down closes any long and sells, as market orders. Size: whole units of
current equity (cash + unrealised PnL) at the signal bar's close, so "all
available cash" like NEO. Differences to know:
  - Nautilus' EMA is seeded with the first close (not TA-Lib's SMA seed), so
    the first crosses may differ; the gap decays as (1 - alpha)^n and is
    gone after a few hundred bars (on the default data both seeds trade alike).
  - Nautilus fills a market order sent from on_bar at the bar's close; NEO
    fills at the next bar's open. The generated bars open at the previous
    close, so the fill prices are the same; a signal on the last bar is
    ignored, as NEO has no next bar to execute it on.
  - NEO's `trades` counts closed round trips; Nautilus' count here is
    positions opened, so it is one higher when a position is still open at
    the end (it is not closed; both value it at the last close).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TS = 1_704_067_200  # 2024-01-01T00:00:00Z
STARTING_CASH = 10_000


def generate_bars(n: int, seed: int) -> dict[str, np.ndarray]:
    """Deterministic random-walk OHLCV bars; open[t] == close[t-1]."""
    rng = np.random.default_rng(seed)
    log_ret = rng.normal(0.0, 0.001, n)
    close = np.round(100.0 * np.exp(np.cumsum(log_ret)), 2)
    close = np.maximum(close, 0.01)
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1]
    wick_hi = np.abs(rng.normal(0.0, 0.0005, n))
    wick_lo = np.abs(rng.normal(0.0, 0.0005, n))
    body_hi = np.maximum(open_, close)
    body_lo = np.minimum(open_, close)
    high = np.maximum(np.round(body_hi * (1.0 + wick_hi), 2), body_hi)
    low = np.minimum(np.round(body_lo * (1.0 - wick_lo), 2), body_lo)
    low = np.maximum(low, 0.01)
    volume = rng.integers(100_000, 1_000_000, n)
    ts = START_TS + 60 * np.arange(n, dtype=np.int64)
    return {"timestamp": ts, "open": open_, "high": high, "low": low,
            "close": close, "volume": volume}


def write_csv(bars: dict[str, np.ndarray], path: Path) -> None:
    cols = ["timestamp", "open", "high", "low", "close", "volume"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(zip(bars["timestamp"].tolist(),
                        *(np.char.mod("%.2f", bars[c]).tolist() for c in cols[1:5]),
                        bars["volume"].tolist()))


def run_neo(neo: Path, csv_path: Path, fast: int, slow: int) -> dict:
    cmd = [str(neo), "backtest", "--data", str(csv_path), "--strategy", "ema-cross",
           "--param", f"fast={fast}", "--param", f"slow={slow}",
           "--cash", str(STARTING_CASH), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: NEO exited with {proc.returncode}: {' '.join(cmd)}\n"
                 f"--- stderr ---\n{proc.stderr.strip()}")
    try:
        out = json.loads(proc.stdout)
        return {"engine": "neo", "bars": int(out["bars"]), "trades": int(out["trades"]),
                "seconds": float(out["elapsed_s"]), "bars_per_s": float(out["bars_per_s"]),
                "return_pct": out.get("return_pct"), "final_equity": out.get("final_equity")}
    except (ValueError, KeyError, TypeError) as e:
        sys.exit(f"error: cannot read NEO's JSON output ({e!r}):\n{proc.stdout[:2000]}"
                 f"\n--- stderr ---\n{proc.stderr.strip()}")


def run_nautilus(bars: dict[str, np.ndarray], fast: int, slow: int, gc_freeze: bool) -> dict:
    import gc
    from decimal import Decimal

    import nautilus_trader
    import pandas as pd
    from nautilus_trader.backtest.engine import BacktestEngine
    from nautilus_trader.config import BacktestEngineConfig, LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import ExponentialMovingAverage
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.persistence.wranglers import BarDataWrangler
    from nautilus_trader.trading.strategy import Strategy

    class EmaCrossConfig(StrategyConfig, frozen=True):
        instrument_id: InstrumentId
        bar_type: BarType
        fast: int
        slow: int
        last_ts: int  # ts_event of the final bar: no next bar to fill a signal on

    class EmaCross(Strategy):
        def __init__(self, config: EmaCrossConfig) -> None:
            super().__init__(config)
            self.fast = ExponentialMovingAverage(config.fast)
            self.slow = ExponentialMovingAverage(config.slow)
            self.side = 0  # last strict sign of fast - slow: +1, -1 or 0 (unknown)
            self.entries = 0
            self.fills = 0

        def on_start(self) -> None:
            self.instrument = self.cache.instrument(self.config.instrument_id)
            self.account = self.portfolio.account(self.config.instrument_id.venue)
            self.position = None  # the open position, kept to avoid cache queries
            self.register_indicator_for_bars(self.config.bar_type, self.fast)
            self.register_indicator_for_bars(self.config.bar_type, self.slow)
            self.subscribe_bars(self.config.bar_type)

        def on_bar(self, bar: Bar) -> None:
            if not self.slow.initialized:
                return
            diff = self.fast.value - self.slow.value
            side = 1 if diff > 0 else -1 if diff < 0 else 0
            if side == 0:
                return
            prev, self.side = self.side, side
            if prev == 0 or prev == side or bar.ts_event >= self.config.last_ts:
                return
            # Equity = cash + unrealised PnL at this close (= next open, the fill).
            equity = self.account.balance_total(USD).as_double()
            if self.position is not None:
                equity += self.position.unrealized_pnl(bar.close).as_double()
                self.close_position(self.position)
            qty = int(equity // bar.close.as_double())
            if qty > 0:
                order_side = OrderSide.BUY if side > 0 else OrderSide.SELL
                self.submit_order(self.order_factory.market(
                    self.config.instrument_id, order_side, self.instrument.make_qty(qty)))
                self.entries += 1

        def on_position_opened(self, event) -> None:
            self.position = self.cache.position(event.position_id)

        def on_position_closed(self, event) -> None:
            if self.position is not None and self.position.id == event.position_id:
                self.position = None

        def on_order_filled(self, event) -> None:
            self.fills += 1

    venue = Venue("SIM")
    iid = InstrumentId(Symbol("SYN"), venue)
    instrument = Equity(iid, Symbol("SYN"), USD, 2, Price.from_str("0.01"),
                        Quantity.from_int(1), 0, 0)
    bar_type = BarType.from_str(f"{iid}-1-MINUTE-LAST-EXTERNAL")
    df = pd.DataFrame({c: bars[c].astype(np.float64)
                       for c in ("open", "high", "low", "close", "volume")},
                      index=pd.to_datetime(bars["timestamp"] + 60, unit="s", utc=True))
    df.index.name = "timestamp"  # Nautilus stamps a bar at its close: open + 60 s
    nt_bars = BarDataWrangler(bar_type, instrument).process(df)
    del df

    engine = BacktestEngine(BacktestEngineConfig(
        logging=LoggingConfig(log_level="ERROR", bypass_logging=True),
        run_analysis=False))
    # Margin account (shorting needs one; the Equity has margin_init 0). HEDGING
    # gives each entry its own position: under NETTING the one reused position
    # collects every order and the run slows down quadratically.
    engine.add_venue(venue, OmsType.HEDGING, AccountType.MARGIN,
                     [Money(STARTING_CASH, USD)], base_currency=USD,
                     default_leverage=Decimal(1))
    engine.add_instrument(instrument)
    engine.add_data(nt_bars)
    strategy = EmaCross(EmaCrossConfig(instrument_id=iid, bar_type=bar_type, fast=fast,
                                       slow=slow, last_ts=nt_bars[-1].ts_event))
    engine.add_strategy(strategy)

    if gc_freeze:  # keep Python's GC from rescanning the 1M preloaded bars
        gc.collect()
        gc.freeze()
    t0, c0 = time.perf_counter(), time.process_time()
    engine.run()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    gc.unfreeze()

    account = engine.portfolio.account(venue)
    last = nt_bars[-1].close
    upnl = engine.portfolio.unrealized_pnl(iid, last)
    final_equity = account.balance_total(USD).as_double() + (upnl.as_double() if upnl else 0.0)
    n = len(nt_bars)
    engine.dispose()
    return {"engine": f"nautilus_trader {nautilus_trader.__version__}", "bars": n,
            "trades": strategy.entries, "fills": strategy.fills, "seconds": seconds,
            "cpu_seconds": cpu_seconds,  # process CPU time: less noisy on a busy box
            "bars_per_s": n / seconds, "final_equity": round(final_equity, 2),
            "return_pct": round(100.0 * (final_equity / STARTING_CASH - 1.0), 4),
            "sizing": "whole units of equity at the signal bar's close",
            "gc_frozen": gc_freeze}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bars", type=int, default=1_000_000, help="bars to generate")
    ap.add_argument("--seed", type=int, default=7, help="random-walk seed")
    ap.add_argument("--fast", type=int, default=10, help="fast EMA period")
    ap.add_argument("--slow", type=int, default=20, help="slow EMA period")
    ap.add_argument("--csv", type=Path, help="write (and keep) the bars CSV here")
    ap.add_argument("--neo", type=Path, default=REPO_ROOT / "target/release/neo",
                    help="NEO binary (default: <repo>/target/release/neo)")
    ap.add_argument("--nautilus-only", action="store_true", help="skip NEO")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                    help="gc.freeze() before Nautilus' run (default; ~1.5x faster at 1M bars)")
    args = ap.parse_args()
    if args.bars < args.slow + 2 or not 0 < args.fast < args.slow:
        sys.exit("error: need 0 < --fast < --slow and --bars > --slow + 1")

    if not args.nautilus_only and not (args.neo.is_file() and os.access(args.neo, os.X_OK)):
        sys.exit(f"error: NEO binary not found at {args.neo}; build it with "
                 "`cargo build --release -p neo` (from the repo root), pass --neo PATH, "
                 "or use --nautilus-only")
    try:
        import nautilus_trader  # noqa: F401
    except ImportError:
        sys.exit("error: nautilus_trader is not installed; `pip install nautilus-trader`")

    bars = generate_bars(args.bars, args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="neo-vs-nautilus-") as tmp:
        csv_path = args.csv or Path(tmp) / "bars.csv"
        if args.csv or not args.nautilus_only:
            write_csv(bars, csv_path)
        if not args.nautilus_only:
            results.append(run_neo(args.neo, csv_path, args.fast, args.slow))
            if results[0]["bars"] != args.bars:
                print(f"warning: NEO read {results[0]['bars']} bars, wrote {args.bars}",
                      file=sys.stderr)
    results.append(run_nautilus(bars, args.fast, args.slow, args.gc_freeze))

    ratio = results[0]["bars_per_s"] / results[1]["bars_per_s"] if len(results) == 2 else None
    if args.json:
        print(json.dumps({"bars": args.bars, "seed": args.seed, "fast": args.fast,
                          "slow": args.slow, "results": results,
                          "neo_over_nautilus": ratio}, indent=2))
        return
    print(f"{'engine':<26} {'bars':>10} {'trades':>8} {'seconds':>9} {'bars/s':>12} "
          f"{'return %':>10}")
    for r in results:
        try:
            ret = f"{float(r.get('return_pct')):>10.4f}"
        except (TypeError, ValueError):
            ret = f"{'?':>10}"
        print(f"{r['engine']:<26} {r['bars']:>10} {r['trades']:>8} "
              f"{r['seconds']:>9.3f} {r['bars_per_s']:>12,.0f} {ret}")
    if ratio is not None:
        print(f"NEO/Nautilus throughput ratio: {ratio:.1f}x")
    print(f"Nautilus: sizing = {results[-1]['sizing']}; gc.freeze = {args.gc_freeze}")


if __name__ == "__main__":
    main()
