//! End-to-end tests of the `flowopt` binary, one module per area.

mod cli;
