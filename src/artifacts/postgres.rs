//! See the module documentation in `artifacts/mod.rs`.
