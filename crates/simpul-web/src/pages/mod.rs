//! The pages, one module per area.

pub mod kim;
pub mod region;
pub mod sign_in;
