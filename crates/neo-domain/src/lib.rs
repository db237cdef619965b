//! NEO's domain: the message contracts and the exact value types they are made
//! of. No tokio, no I/O, no clock: everything here is pure and deterministic,
//! so the same types serve backtests, one process and distributed services.

pub mod contracts;
mod envelope;
mod id;
pub mod instrument;
pub mod num;
pub mod schema;
pub mod subject;
mod text_enum;
mod time;

pub use contracts::{Contract, Issue, Side};
pub use envelope::{DecodeError, Envelope};
pub use id::{IdKind, MessageId};
pub use instrument::{InstrumentError, InstrumentId};
pub use num::{ArithmeticError, Fixed, Money, Price, Quantity, Rounding};
pub use subject::{Subject, SubjectPattern};
pub use text_enum::UnknownVariant;
pub use time::{TimeError, Timestamp};
