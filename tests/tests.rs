//! End-to-end tests of the `flowopt` binary, one module per area.

mod cli;
mod filter_reference;
mod shipped;
