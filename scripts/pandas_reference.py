#!/usr/bin/env python3
"""Write the pandas references the cross backtests are checked against.

Run from anywhere: `python3 scripts/pandas_reference.py` (needs `pip install pandas`).
The output is deterministic: re-running it rewrites identical files.

- crates/neo-engine/tests/data/pandas/rolling_mean.csv: inputs (GOOG's closes, a
  5-decimal FX random walk with flat stretches, values around zero) and pandas'
  `rolling(n).mean()` for n = 1, 3, 10, 20, written with repr (round-trip exact),
  so `tests/pandas.rs` checks NEO's `RollingMean` bit for bit without Python.
- fixtures/ohlcv/FX-TIE.csv: 1-minute EUR/USD-like bars on which the 10- and
  20-bar means tie exactly (a falling run, a flat run, then a rise). backtesting.py's
  `crossover` needs strictly below then strictly above, so it does not buy out of
  the tie; a mean that is off by one bit does.
"""

import os
import random

import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERIODS = (1, 3, 10, 20)


def fx_walk(rng, bars):
    """A 5-decimal random walk around 1.08 with flat runs of 25 bars."""
    price, out = 1.08, []
    for i in range(bars):
        if (i // 25) % 4 != 3:
            price = round(price + rng.choice((-1, 1)) * rng.randint(0, 8) * 1e-5, 5)
        out.append(price)
    return out


def rolling_inputs():
    goog = pd.read_csv(os.path.join(ROOT, "fixtures", "ohlcv", "GOOG.csv"))["Close"].tolist()
    rng = random.Random(42)
    around_zero = [round(rng.uniform(-1, 1), 6) for _ in range(300)] + [-0.5] * 30 + [0.0] * 30
    return goog + fx_walk(rng, 2000) + around_zero


def write_rolling():
    xs = rolling_inputs()
    out = pd.DataFrame({"x": xs})
    for n in PERIODS:
        out[f"mean_{n}"] = pd.Series(xs).rolling(n).mean()
    path = os.path.join(ROOT, "crates", "neo-engine", "tests", "data", "pandas", "rolling_mean.csv")
    with open(path, "w") as f:
        f.write(",".join(out.columns) + "\n")
        for row in out.itertuples(index=False):
            f.write(",".join("" if v != v else repr(float(v)) for v in row) + "\n")


def tie_closes():
    """Falls, holds one price for 30 bars (both means reach it exactly), rises,
    holds, falls, then crosses up and down without a tie; six times over at
    different levels, so the run has ties to step over and real crosses to trade."""
    closes, price = [], 1.08350
    for level in range(6):
        for _ in range(25):
            price = round(price - 0.00007, 5)
            closes.append(price)
        closes.extend([price] * 30)
        for _ in range(25):
            price = round(price + 0.00011, 5)
            closes.append(price)
        closes.extend([price] * 30)
        for _ in range(10):
            price = round(price - 0.00013 * (level + 1), 5)
            closes.append(price)
        for step in (0.00009, -0.00008):  # a real cross up and a real cross down
            for _ in range(15):
                price = round(price + step, 5)
                closes.append(price)
    return closes


def write_tie():
    closes = tie_closes()
    start = pd.Timestamp("2026-03-02 00:00:00")
    path = os.path.join(ROOT, "fixtures", "ohlcv", "FX-TIE.csv")
    with open(path, "w") as f:
        f.write(",Open,High,Low,Close,Volume\n")
        prev = closes[0]
        for i, c in enumerate(closes):
            o = prev
            hi, lo = max(o, c), min(o, c)
            stamp = (start + pd.Timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S")
            f.write(f"{stamp},{o:.5f},{hi:.5f},{lo:.5f},{c:.5f},1000\n")
            prev = c


if __name__ == "__main__":
    write_rolling()
    write_tie()
