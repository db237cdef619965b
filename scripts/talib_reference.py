#!/usr/bin/env python3
"""Write the TA-Lib reference CSVs that crates/neo-engine/tests/talib.rs checks against.

Run from anywhere: `python3 scripts/talib_reference.py` (needs `pip install ta-lib`, 0.8.x).
The output is deterministic: re-running it rewrites identical files.

Two series are written, each as an input file and one file per indicator:
  main/  1200 daily bars: a seeded random walk with a 60-bar flat stretch (constant
         prices: zero ranges, zero variance, decaying Wilder sums), a gap up and a gap down.
  edge/  200 bars with the shortest periods TA-Lib accepts and unusual MACD/BBANDS
         settings; it starts with 3 flat bars, so the first outputs hit TA-Lib's zero
         guards (RSI and DI of 0, a skipped DX).
Each indicator file has one column per output, named `<indicator>_<params>`; cells before
TA-Lib's first valid output (NaN) are empty; values are written with repr (round-trip exact).
"""

import datetime
import os
import random

import numpy as np
import talib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "neo-engine", "tests", "data", "talib")


def series(seed, bars, flats, gaps):
    """A seeded OHLCV random walk; `flats` are (start, length) runs of one constant price,
    `gaps` are (index, factor) jumps applied to the open of that bar."""
    rng = random.Random(seed)
    flat_bars = {i for start, length in flats for i in range(start, start + length)}
    gap_at = dict(gaps)
    close = 100.0
    rows = []
    for i in range(bars):
        if i in flat_bars:
            price = round(close, 2)
            rows.append((price, price, price, price, 0))
            close = price
            continue
        open_ = close * gap_at.get(i, 1.0) * (1.0 + rng.gauss(0.0, 0.002))
        close = open_ * (1.0 + rng.gauss(0.0, 0.015))
        high = max(open_, close) * (1.0 + abs(rng.gauss(0.0, 0.006)))
        low = min(open_, close) * (1.0 - abs(rng.gauss(0.0, 0.006)))
        open_, high, low, close = (round(v, 2) for v in (open_, high, low, close))
        high = max(high, open_, close)
        low = min(low, open_, close)
        rows.append((open_, high, low, close, rng.randint(1_000, 90_000)))
    return rows


def cell(value):
    return "" if np.isnan(value) else repr(float(value))


def write_csv(path, header, columns):
    with open(path, "w", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for row in zip(*columns):
            f.write(",".join(row) + "\n")


def write_set(name, rows, specs):
    out = os.path.join(OUT_DIR, name)
    os.makedirs(out, exist_ok=True)
    start = datetime.date(2020, 1, 1)
    dates = [(start + datetime.timedelta(days=i)).isoformat() for i in range(len(rows))]
    o, h, l, c, v = (np.array([r[k] for r in rows], dtype=np.float64) for k in range(5))
    write_csv(
        os.path.join(out, "ohlcv.csv"),
        ["date", "open", "high", "low", "close", "volume"],
        [dates] + [[repr(float(x)) for x in a] for a in (o, h, l, c)] + [[str(int(x)) for x in v]],
    )
    for file_name, outputs in specs(h, l, c):
        header = [col for col, _ in outputs]
        columns = [[cell(x) for x in values] for _, values in outputs]
        write_csv(os.path.join(out, file_name + ".csv"), header, columns)


def main_specs(h, l, c):
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    return [
        ("sma_20", [("sma_20", talib.SMA(c, timeperiod=20))]),
        ("ema_20", [("ema_20", talib.EMA(c, timeperiod=20))]),
        ("wma_20", [("wma_20", talib.WMA(c, timeperiod=20))]),
        ("rsi_14", [("rsi_14", talib.RSI(c, timeperiod=14))]),
        ("trange", [("trange", talib.TRANGE(h, l, c))]),
        ("atr_14", [("atr_14", talib.ATR(h, l, c, timeperiod=14))]),
        ("macd_12_26_9", [
            ("macd_12_26_9", macd), ("macd_signal_12_26_9", signal), ("macd_hist_12_26_9", hist),
        ]),
        ("bbands_20_2", [
            ("bb_upper_20_2", upper), ("bb_middle_20_2", middle), ("bb_lower_20_2", lower),
        ]),
        ("stddev_20", [("stddev_20", talib.STDDEV(c, timeperiod=20, nbdev=1.0))]),
        ("adx_14", [
            ("adx_14", talib.ADX(h, l, c, timeperiod=14)),
            ("plus_di_14", talib.PLUS_DI(h, l, c, timeperiod=14)),
            ("minus_di_14", talib.MINUS_DI(h, l, c, timeperiod=14)),
        ]),
        ("roc_10", [("roc_10", talib.ROC(c, timeperiod=10))]),
    ]


def edge_specs(h, l, c):
    macd, signal, hist = talib.MACD(c, fastperiod=2, slowperiod=3, signalperiod=1)
    upper, middle, lower = talib.BBANDS(c, timeperiod=2, nbdevup=1.5, nbdevdn=1.5, matype=0)
    return [
        ("sma_1", [("sma_1", talib.SMA(c, timeperiod=1))]),
        ("sma_2", [("sma_2", talib.SMA(c, timeperiod=2))]),
        ("ema_1", [("ema_1", talib.EMA(c, timeperiod=1))]),
        ("ema_50", [("ema_50", talib.EMA(c, timeperiod=50))]),
        ("wma_2", [("wma_2", talib.WMA(c, timeperiod=2))]),
        ("rsi_2", [("rsi_2", talib.RSI(c, timeperiod=2))]),
        ("atr_1", [("atr_1", talib.ATR(h, l, c, timeperiod=1))]),
        ("macd_2_3_1", [
            ("macd_2_3_1", macd), ("macd_signal_2_3_1", signal), ("macd_hist_2_3_1", hist),
        ]),
        ("bbands_2_1.5", [
            ("bb_upper_2_1.5", upper), ("bb_middle_2_1.5", middle), ("bb_lower_2_1.5", lower),
        ]),
        ("stddev_2", [("stddev_2", talib.STDDEV(c, timeperiod=2, nbdev=1.0))]),
        ("adx_2", [
            ("adx_2", talib.ADX(h, l, c, timeperiod=2)),
            ("plus_di_2", talib.PLUS_DI(h, l, c, timeperiod=2)),
            ("minus_di_2", talib.MINUS_DI(h, l, c, timeperiod=2)),
        ]),
        ("roc_1", [("roc_1", talib.ROC(c, timeperiod=1))]),
    ]


def main():
    # Fixed TA-Lib globals so the reference does not depend on a caller's settings.
    talib.set_compatibility(0)
    write_set("main", series(7, 1200, flats=[(700, 60)], gaps=[(400, 1.08), (950, 0.9)]),
              main_specs)
    write_set("edge", series(11, 200, flats=[(0, 3), (100, 8)], gaps=[(150, 1.2)]), edge_specs)
    print(f"wrote {OUT_DIR} (TA-Lib {talib.__ta_version__.decode()})")


if __name__ == "__main__":
    main()
