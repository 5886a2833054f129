//! The guest's wall clock on a tape: read from the host and recorded, or
//! answered from the recording, reading by reading.

use super::Tape;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi::HostWallClock;

#[derive(Serialize, Deserialize)]
struct Reading {
    seconds: u64,
    nanoseconds: u32,
}

pub struct TapedWallClock {
    tape: Arc<Tape>,
    /// The last reading, answered again when a replay asks more often than
    /// the recording did (a clock must not fail).
    last: Mutex<Duration>,
}

impl TapedWallClock {
    pub fn new(tape: Arc<Tape>) -> Self {
        TapedWallClock {
            tape,
            last: Mutex::new(Duration::ZERO),
        }
    }
}

impl HostWallClock for TapedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        let reading = self
            .tape
            .exchange_now("clock", "wall", serde_json::Value::Null, || {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Reading {
                    seconds: now.as_secs(),
                    nanoseconds: now.subsec_nanos(),
                }
            });
        let mut last = self.last.lock().expect("clock poisoned");
        if let Ok(reading) = reading {
            *last = Duration::new(reading.seconds, reading.nanoseconds);
        }
        *last
    }
}
