//! TradingCommandV1: an operator's halt, resume or flatten, carried to the
//! desk like a signal so it is applied once, in order, and persisted with what
//! it changed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue};
use crate::text_enum::text_enum;
use crate::{MessageId, Timestamp};

text_enum! {
    /// What the operator asks the desk to do.
    pub enum TradingAction {
        /// Stop new exposure (exits still pass).
        Halt => "halt",
        /// Trade normally again.
        Resume => "resume",
        /// Cancel every working order and close every position through risk.
        Flatten => "flatten",
    }
}

/// One operator command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TradingCommandV1 {
    /// The command's id (exits a flatten places derive from it, so a retry places nothing twice).
    pub id: MessageId,
    /// What to do.
    pub action: TradingAction,
    /// Why, in the operator's words (shown in the state, the audit and notifications).
    pub reason: String,
    /// Who asked (an API key's name, or `operator`).
    pub by: String,
    /// When it was asked.
    pub ts_event: Timestamp,
}

impl Contract for TradingCommandV1 {
    const TYPE_NAME: &'static str = "TradingCommandV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.text(&self.reason, "/reason", 500);
        c.text(&self.by, "/by", 128);
        c.finish()
    }
}
