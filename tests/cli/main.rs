//! Integration tests: the real `neardup` binary over `fixtures/` and over
//! inputs generated at test time. One test binary, one module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

mod boilerplate;
mod browser;
mod clean;
mod compressed;
mod determinism;
mod diff;
mod dryrun;
mod errors;
mod hostile;
mod ingest;
mod inputs;
mod multilingual;
#[cfg(feature = "parquet")]
mod parquet;
mod properties;
mod reference;
mod reports;
#[cfg(unix)]
mod resume;
mod seeds;
#[cfg(feature = "parquet")]
mod shards;
mod spill;
// the Spark stages read and write Parquet
#[cfg(feature = "parquet")]
mod spark;
mod verify;
