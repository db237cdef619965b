//! The paper order management system: lifecycle table, matching, fills.
