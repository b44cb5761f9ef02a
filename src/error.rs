//! Errors: one enum for the whole library, every input error carrying the
//! file and position it is about.
//!
//! Messages are lowercase without a final period (Rust API guidelines,
//! C-GOOD-ERR), and the binary prints them as `neardup: error: {err}`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in the input an error (or a document) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The input file (`-` for standard input).
    pub path: PathBuf,
    /// 1-based line, when known (JSONL record, or the line of a bad byte).
    pub line: Option<u64>,
    /// Byte offset in the (decompressed) file, when known.
    pub byte: Option<u64>,
}

impl Location {
    /// A location naming only a file.
    pub fn file(path: &Path) -> Location {
        Location {
            path: path.to_path_buf(),
            line: None,
            byte: None,
        }
    }

    /// A location at a 1-based line of a file.
    pub fn line(path: &Path, line: u64) -> Location {
        Location {
            path: path.to_path_buf(),
            line: Some(line),
            byte: None,
        }
    }

    /// A location at a byte offset of a file (the line is computed by the caller).
    pub fn at(path: &Path, line: Option<u64>, byte: u64) -> Location {
        Location {
            path: path.to_path_buf(),
            line,
            byte: Some(byte),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(byte) = self.byte {
            write!(f, " (byte {byte})")?;
        }
        Ok(())
    }
}

/// Every error the library returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened, listed or read.
    ///
    /// The operating system's reason is part of the message and is not
    /// also returned by `source()`: a report that walks the chain (such as
    /// `{:#}` of anyhow) would otherwise print it twice.
    #[error("{path}: {cause}")]
    Io {
        /// The file, shown as the user gave it.
        path: String,
        /// The operating system's reason.
        cause: std::io::Error,
    },
    /// Text that is not valid in its encoding.
    #[error("{loc}: invalid {encoding} text")]
    Decode {
        /// Where the first bad byte is.
        loc: Location,
        /// The encoding that was expected.
        encoding: &'static str,
    },
    /// A file that holds binary data rather than text.
    #[error("{loc}: binary data (NUL byte), not text")]
    Binary {
        /// Where the first NUL byte is.
        loc: Location,
    },
    /// A file or record with no text in it.
    #[error("{loc}: empty input, no text to read")]
    Empty {
        /// The empty file or record.
        loc: Location,
    },
    /// A JSONL line that is not a JSON object.
    #[error("{loc}: malformed JSONL record: {reason}")]
    Jsonl {
        /// The line.
        loc: Location,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSONL record without the text field, or with a non-string one.
    #[error("{loc}: record has no string field `{field}`{hint}")]
    MissingField {
        /// The line.
        loc: Location,
        /// The field that was asked for (`--text-field`).
        field: String,
        /// The fields the record has and the flag to try, starting with
        /// `; ` (empty when there is nothing to say).
        hint: String,
    },
    /// A compressed file that cannot be decompressed (truncated, corrupt).
    #[error("{loc}: cannot decompress {format} data: {reason}")]
    Decompress {
        /// The file and, when known, the offset.
        loc: Location,
        /// `gzip` or `zstd`.
        format: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// A Parquet file that cannot be read (corrupt, truncated, a codec
    /// this build lacks) or written back.
    #[error("{loc}: cannot read Parquet: {reason}")]
    Parquet {
        /// The file and, when known, the row.
        loc: Location,
        /// What the Parquet reader said.
        reason: String,
    },
    /// A document larger than `--max-doc-bytes`.
    #[error("{loc}: document of {size} bytes exceeds --max-doc-bytes {limit}")]
    TooLarge {
        /// Where the document is.
        loc: Location,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An option value that makes no sense.
    #[error("invalid option --{name}: {reason}")]
    InvalidOption {
        /// The option's long name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// An output location that would be unsafe to write (inside an input, non-empty).
    #[error("{path}: {reason}")]
    Output {
        /// The output path.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The no-loss check of `clean` or `verify` failed.
    #[error("{path}: verification failed: {reason}")]
    Verify {
        /// The output path that fails.
        path: String,
        /// What does not add up.
        reason: String,
    },
    /// A `FILE:FIRST-LAST` text span that does not name a text.
    #[error("{spec}: {reason}")]
    Span {
        /// The span as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--resume` found stage files of a run with other options or inputs.
    #[error("cannot resume from the work folder {work}: {reason}")]
    Resume {
        /// The work folder.
        work: String,
        /// What changed.
        reason: String,
    },
    /// A stage file of the sharded path ([`crate::shard`]) that is missing,
    /// unreadable, or was written with other parameters.
    #[error("{path}: {reason}")]
    Stage {
        /// The stage file or folder.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: &Path, cause: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            cause,
        }
    }

    /// Whether `--on-error skip` may skip the input this error is about and go on.
    ///
    /// Input errors are recoverable; bad options, unsafe outputs, failed
    /// verification and interruption are not.
    pub fn is_recoverable_input(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::Decode { .. }
                | Error::Binary { .. }
                | Error::Empty { .. }
                | Error::Jsonl { .. }
                | Error::MissingField { .. }
                | Error::Decompress { .. }
                | Error::Parquet { .. }
                | Error::TooLarge { .. }
        )
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
