//! WASI 0.2, linked for every connector because Rust's std imports it even
//! for pure computation, with nothing granted: no preopens (unless the
//! [`directory`](super::directory) capability adds one), no environment, no
//! arguments, no sockets, no name lookups. stdout and stderr go to a
//! bounded tail the host reads after each call ([`GuestOutput`]).

mod output;

pub use output::{GuestOutput, panic_message};

use super::directory::DirectoryGrant;
use crate::runtime::recording::{self, Tape, TapedWallClock};
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime_wasi::random::Deterministic;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiView};

/// The WASI 0.2 packages linked (outgoing HTTP is [`super::http`]).
pub const IMPORT_PREFIXES: &[&str] = &[
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// The WASI context of one instance.
pub fn context(
    output: &GuestOutput,
    directory: Option<&DirectoryGrant>,
    tape: Option<&Arc<Tape>>,
) -> Result<WasiCtx, String> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(output.clone())
        .stderr(output.clone())
        // File operations of a granted directory run on tokio's blocking
        // pool: in place, a large write's fsync would hold an async worker
        // (and every other target's calls on it) for its whole length.
        .allow_blocking_current_thread(false)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(directory) = directory {
        directory.preopen(&mut wasi)?;
    }
    if let Some(tape) = tape {
        // A recording and its replay must see the same "now" and the same
        // random numbers, or the connector asks different things.
        wasi.wall_clock(TapedWallClock::new(tape.clone()))
            .secure_random(Deterministic::new(recording::fixed_random_bytes()))
            .insecure_random(Deterministic::new(recording::fixed_random_bytes()))
            .insecure_random_seed(0x5eed);
    }
    Ok(wasi.build())
}

pub fn add_to_linker<T: WasiView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
}
