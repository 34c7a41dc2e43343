//! One module per `kiln` subcommand.

pub mod bench;
pub mod check;
pub mod compile;
mod compile_many;
pub mod component;
pub mod demo;
pub mod inspect;
pub mod key;
pub mod native_peak;
pub mod run;
pub mod runner;
pub mod serve;
pub mod targets;
pub mod verify;
pub mod verify_code;
pub mod wast;
