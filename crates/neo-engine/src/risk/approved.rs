//! The only door into the OMS: a value that only the risk module can build, so no
//! agent, LLM or strategy can place an order that risk has not checked.

use neo_domain::contracts::OrderIntentV1;

/// An intent that passed every pre-trade check.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskApproved<T = OrderIntentV1> {
    inner: T,
}

impl<T> RiskApproved<T> {
    /// Built only inside `risk`, after the checks pass.
    pub(in crate::risk) fn new(inner: T) -> Self {
        RiskApproved { inner }
    }

    /// The approved value.
    pub fn get(&self) -> &T {
        &self.inner
    }

    /// The approved value, consumed.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// Test-only approval for code that consumes approved intents (the OMS tests).
#[cfg(test)]
pub(crate) fn approve_for_test<T>(inner: T) -> RiskApproved<T> {
    RiskApproved::new(inner)
}
