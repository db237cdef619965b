//! NEO's HTTP edge: the pure heart of webhook intake ([`intake`]), turning
//! what TradingView and signed senders post into checked `SignalEventV1`s, with
//! no I/O and no clock, so every rule is testable on its own; and the axum
//! [`server`] around it, which answers 202 only once a signal is durable; and
//! [`auth`], who may call the rest of the API.

pub mod auth;
pub mod flags;
pub mod guard;
mod hex;
pub mod intake;
pub mod metrics;
pub mod server;
pub mod slo;
