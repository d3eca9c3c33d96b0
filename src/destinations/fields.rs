//! Kept so that existing `crate::destinations::fields` imports still compile; the field types
//! live in [`crate::fields`], below every feature. New code imports them from there.

pub use crate::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields, rules};
