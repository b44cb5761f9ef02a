//! The `neardup` binary: parse, run, exit code. Everything else is the library.

/// `eprintln!` that does not panic when stderr is closed: diagnostics are
/// best effort, never a reason to crash.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    #[cfg(unix)]
    stop_on_bus_error();
    let args = cli::Cli::parse();
    let code = match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // a path or record in the message must not drive the terminal
            say!(
                "neardup: error: {}",
                neardup::report::escape_controls(&format!("{err:#}"))
            );
            if matches!(
                err.downcast_ref::<neardup::Error>(),
                Some(neardup::Error::Interrupted)
            ) {
                cli::exit::INTERRUPTED
            } else {
                cli::exit::ERROR
            }
        }
    };
    end(code)
}

/// Plain input files are read by mapping their pages. One cut short by
/// another program while it is mapped makes the pages past its new end
/// fault (SIGBUS): the run stops with a message and the error exit code,
/// not the shell's "Bus error". Output files are written under a temporary
/// name and renamed once whole, so none is left half-written under its own.
#[cfg(unix)]
fn stop_on_bus_error() {
    extern "C" fn on_bus_error(_: libc::c_int) {
        const MESSAGE: &[u8] =
            b"neardup: error: an input file was cut short by another program while it was read\n";
        // SAFETY: `write` and `_exit` are async-signal-safe.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(i32::from(cli::exit::ERROR));
        }
    }
    // SAFETY: the handler only calls async-signal-safe functions.
    unsafe {
        libc::signal(
            libc::SIGBUS,
            on_bus_error as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Ends the process with `code`. Everything of the run has been dropped,
/// flushed and renamed by now; on Unix the process ends without its exit
/// handlers, whose only work left is the allocator giving every page back
/// one `madvise` at a time (perf: 2.6% of a 10k-document scan's samples,
/// all on the main thread after the report was written) when the kernel
/// frees them all at once anyway.
fn end(code: u8) -> ExitCode {
    #[cfg(unix)]
    {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        // SAFETY: `_exit` ends the process; no Rust code runs after it, and
        // stdout (the one buffered stream) was flushed above.
        unsafe { libc::_exit(i32::from(code)) }
    }
    #[cfg(not(unix))]
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::cli::Cli::command().debug_assert();
    }
}

// glibc's malloc slows down badly on the churn of millions of per-document
// strings freed in batches (measured: ~10% of a 1M-document scan in malloc
// and free); mimalloc keeps per-thread free lists. Built with `no_thp`: where
// transparent huge pages are on `madvise`, mimalloc's MADV_HUGEPAGE arenas made
// the kernel zero 2 MiB pages over and over as batches were freed and refilled
// (perf: ~20% of a 100k-document scan in clear_page; without: 9% faster, 10%
// less peak RSS).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
