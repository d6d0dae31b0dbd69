//! One integration-test binary; each module an area. Every store test runs against a real
//! PostgreSQL (its own database, created and dropped here) and against SQLite (a temp file).

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod analyst;
mod analytics;
mod api;
mod architecture;
mod as_of;
mod audit;
mod bimtek;
mod cli;
mod commands;
mod contract;
mod demo;
mod exports;
mod faults;
mod feed;
mod files;
mod helpers;
mod imports;
mod ledger;
mod limits;
mod master_key;
mod persons;
mod progression;
mod projections;
mod property;
mod queries;
mod recovery;
mod restore;
mod rules;
mod server;
mod tokens;
mod web;
