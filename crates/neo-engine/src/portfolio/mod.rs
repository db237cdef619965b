//! Positions, cash, PnL, equity and drawdown, all exact.
