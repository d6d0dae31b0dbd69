//! The pages, one module per area.

pub mod analytics;
pub mod audit;
pub mod bimtek;
pub mod kim;
pub mod region;
pub mod sign_in;
