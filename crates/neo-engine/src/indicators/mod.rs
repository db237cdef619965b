//! Streaming technical indicators (O(1) per update), matching TA-Lib.
