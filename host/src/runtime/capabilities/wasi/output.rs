//! A guest's stdout and stderr: kept as a bounded tail so that a panic
//! message can be quoted in the call's error, and never grown without bound
//! by a chatty or hostile plugin. Writes never fail: a guest that prints
//! too much loses its oldest output, it does not trap.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes of guest output kept per instance.
const TAIL_BYTES: usize = 8 * 1024;

/// Shared by the instance's stdout and stderr streams and read by the host.
#[derive(Clone, Default)]
pub struct GuestOutput {
    tail: Arc<Mutex<VecDeque<u8>>>,
}

impl GuestOutput {
    fn append(&self, bytes: &[u8]) {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        let overflow = (tail.len() + bytes.len()).saturating_sub(TAIL_BYTES);
        tail.drain(..overflow);
        tail.extend(bytes);
    }

    /// Takes what the guest printed since the last call.
    pub fn take(&self) -> String {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: Vec<u8> = tail.drain(..).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The message of a Rust panic in `printed`, as std's panic hook writes it:
/// `thread '<unnamed>' panicked at src/lib.rs:10:5:\nthe message`.
pub fn panic_message(printed: &str) -> Option<String> {
    let start = printed.rfind("panicked at ")?;
    let text = &printed[start + "panicked at ".len()..];
    let (location, rest) = text.split_once(":\n").unwrap_or((text, ""));
    let message: Vec<&str> = rest
        .lines()
        .take_while(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    Some(format!(
        "{} (at {})",
        message.join(" ").trim(),
        location.trim()
    ))
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(TAIL_BYTES)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let out = GuestOutput::default();
        out.append(&vec![b'a'; TAIL_BYTES]);
        out.append(b"end");
        let text = out.take();
        assert_eq!(text.len(), TAIL_BYTES);
        assert!(text.ends_with("aend"));
        assert!(out.take().is_empty());
    }

    #[test]
    fn finds_the_panic_message() {
        let printed = "log line\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom: bad row\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(printed).unwrap(),
            "boom: bad row (at src/lib.rs:12:9)"
        );
        assert_eq!(panic_message("nothing"), None);
    }
}
