//! Shared helpers for the host-level tests.
