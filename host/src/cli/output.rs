//! What commands print. A reader that goes away (`provisio … | head`)
//! ends the command quietly, as Unix tools do, instead of the panic
//! `println!` raises on a closed pipe.

use std::io::{ErrorKind, Write};

/// `println!` for a command's output on stdout.
macro_rules! say {
    () => { $crate::cli::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::line(format_args!($($arg)*)) };
}
pub(crate) use say;

pub fn line(text: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(text).and_then(|()| out.write_all(b"\n"));
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(2);
        }
    }
}
