"""Runs backtesting.py's documented SmaCross on an OHLCV CSV and prints its
figures and every trade as JSON, for comparison with `neo backtest`.

Usage: python3 scripts/reference_backtesting.py DATA.csv [--fast 10] [--slow 20]
       [--cash 10000] [--commission F] [--spread F] [--ema]

The strategy is the one in backtesting.py's README (exclusive_orders=True);
`--ema` swaps the simple averages for TA-Lib-style exponential ones (seeded
with the first window's mean) to check `neo backtest --strategy ema-cross`.
Needs `pip install backtesting` (0.6.x).
"""

import argparse
import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover


def sma(values, n):
    return pd.Series(values).rolling(n).mean()


def ema(values, n):
    """TA-Lib EMA: NaN for the first n-1, the SMA at n-1, then alpha = 2/(n+1)."""
    values = np.asarray(values, dtype=float)
    out = np.full(len(values), np.nan)
    if len(values) < n:
        return out
    k = 2.0 / (n + 1)
    prev = 0.0
    for v in values[:n]:  # TA-Lib's plain running sum (numpy's mean sums pairwise)
        prev += v
    prev /= n
    out[n - 1] = prev
    for i in range(n, len(values)):
        prev = (values[i] - prev) * k + prev
        out[i] = prev
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=20)
    ap.add_argument("--cash", type=float, default=10_000)
    ap.add_argument("--commission", type=float, default=0.0)
    ap.add_argument("--spread", type=float, default=0.0)
    ap.add_argument("--ema", action="store_true")
    args = ap.parse_args()

    df = pd.read_csv(args.data, index_col=0, parse_dates=True)
    df.columns = [c.capitalize() for c in df.columns]
    average = ema if args.ema else sma

    class Cross(Strategy):
        def init(self):
            self.ma1 = self.I(average, self.data.Close, args.fast)
            self.ma2 = self.I(average, self.data.Close, args.slow)

        def next(self):
            if crossover(self.ma1, self.ma2):
                self.buy()
            elif crossover(self.ma2, self.ma1):
                self.sell()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(df, Cross, cash=args.cash, commission=args.commission,
                      spread=args.spread, exclusive_orders=True)
        stats = bt.run()

    def num(x):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x

    trades = stats["_trades"]
    out = {
        "return_pct": num(stats["Return [%]"]),
        "buy_hold_return_pct": num(stats["Buy & Hold Return [%]"]),
        "cagr_pct": num(stats["CAGR [%]"]),
        "return_ann_pct": num(stats["Return (Ann.) [%]"]),
        "volatility_ann_pct": num(stats["Volatility (Ann.) [%]"]),
        "sharpe": num(stats["Sharpe Ratio"]),
        "sortino": num(stats["Sortino Ratio"]),
        "max_drawdown_pct": num(stats["Max. Drawdown [%]"]),
        "trades": int(stats["# Trades"]),
        "win_rate_pct": num(stats["Win Rate [%]"]),
        "profit_factor": num(stats["Profit Factor"]),
        "exposure_pct": num(stats["Exposure Time [%]"]),
        "final_equity": num(stats["Equity Final [$]"]),
        "equity_peak": num(stats["Equity Peak [$]"]),
        "trade_list": [
            {
                "entry_bar": int(t.EntryBar),
                "exit_bar": int(t.ExitBar),
                "size": int(t.Size),
                "entry_price": float(t.EntryPrice),
                "exit_price": float(t.ExitPrice),
                "pnl": float(t.PnL),
            }
            for t in trades.itertuples()
        ],
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
