//! Members by invitation: owners invite, the invited person accepts through a single-use link.

pub mod html;
pub mod service;
pub mod store;
