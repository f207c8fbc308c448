//! End-to-end tests of the `flowopt` binary, one module per area.

mod browser;
mod cli;
mod filter_reference;
mod layout;
mod server;
mod shipped;
