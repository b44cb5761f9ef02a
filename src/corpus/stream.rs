//! Reads JSONL files in bounded batches of lines, decompressing on the fly,
//! so that a corpus far larger than memory can be sketched: only one batch
//! of text is held at a time. A plain file is not read but mapped, a
//! window of its pages a batch ([`LineReader::next_mapped`]). A
//! compressed file is decompressed on a thread of its own, a few chunks ahead of the lines ([`Ahead`]), and its
//! decompressed copy goes to the work folder as the chunks are taken
//! ([`Copy`]), by the thread that splits the lines: the decoder, the
//! slowest step, does nothing else.
//!
//! Only UTF-8 (BOM optional) is streamed. A UTF-16 file, a forced GB18030
//! one, or a file whose first non-ASCII line is not UTF-8 (legacy encoding
//! to detect) is read whole instead, by the caller.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::decompress::{self, Compression};
use crate::error::{Error, Location, Result};
use crate::work::WorkDir;

/// One line of a JSONL file, in the buffer of its [`Lines`].
pub struct Line {
    /// 1-based line number.
    pub lineno: u64,
    /// Byte offset of the line in the (decompressed) file.
    pub offset: u64,
    /// Where the text (without its line break) is in the buffer, or why it
    /// cannot be read. Its UTF-8 is checked by [`Line::text_in`], on the
    /// thread that parses it.
    pub text: Result<std::ops::Range<usize>>,
}

/// A batch of lines, their bytes one after the other in one buffer (or
/// one mapped window of the file): a line costs no allocation of its own,
/// and a buffer given back to [`LineReader::next_batch`] is filled again
/// without touching new memory.
pub struct Lines {
    /// The lines' bytes.
    pub bytes: Bytes,
    /// The lines, in file order.
    pub lines: Vec<Line>,
}

/// The bytes of a batch: read into a buffer, or, from a plain file, the
/// file's pages themselves, mapped for the batch.
pub enum Bytes {
    /// A buffer, to give back to [`LineReader::next_batch`] once read.
    Read(Vec<u8>),
    /// A window of the file, unmapped when dropped.
    Mapped(memmap2::Mmap),
}

impl Bytes {
    /// The buffer to fill again, if the bytes were read into one.
    pub fn into_buffer(self) -> Option<Vec<u8>> {
        match self {
            Bytes::Read(buffer) => Some(buffer),
            Bytes::Mapped(_) => None,
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Read(buffer) => buffer,
            Bytes::Mapped(map) => map,
        }
    }
}

impl Line {
    /// The line's text in `bytes`, its batch's buffer (of `path`), checked
    /// to be UTF-8.
    pub fn text_in<'b>(self, path: &Path, bytes: &'b [u8]) -> Result<&'b str> {
        let range = self.text?;
        super::encoding::str_of(&bytes[range]).map_err(|e| Error::Decode {
            loc: Location::at(
                path,
                Some(self.lineno),
                self.offset + e.valid_up_to() as u64,
            ),
            encoding: "utf-8",
        })
    }
}

/// Why a file cannot be streamed.
pub enum NotStreamable {
    /// It needs whole-file decoding (UTF-16, GB18030 detection).
    WholeFile,
    /// It cannot be read at all.
    Error(Error),
}

impl From<Error> for NotStreamable {
    fn from(e: Error) -> Self {
        NotStreamable::Error(e)
    }
}

/// Batches of lines of one file.
pub struct LineReader {
    reader: Box<dyn BufRead + Send>,
    /// A plain regular file, read by mapping each batch's bytes instead of
    /// through `reader` (see [`LineReader::next_mapped`]).
    mapped: Option<Mapped>,
    path: std::path::PathBuf,
    lineno: u64,
    offset: u64,
    cap: u64,
    all_ascii: bool,
    done: bool,
    compression: Compression,
    copy: Option<Arc<Mutex<Copy>>>,
}

/// The decompressed copy of one compressed input, made as it is read: a
/// file of the work folder. (Holding it in memory instead saved nothing
/// measurable, and cost its size in RSS: BENCHMARKS.md, session 9.)
pub(super) struct Copy {
    /// The file.
    to: PathBuf,
    out: BufWriter<File>,
    written: u64,
}

impl Copy {
    /// A copy written to `to`.
    fn new(to: PathBuf) -> std::io::Result<Copy> {
        let out = BufWriter::with_capacity(1 << 20, File::create(&to)?);
        Ok(Copy {
            to,
            out,
            written: 0,
        })
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// The finished copy: its file and size.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub(super) fn finish(self) -> Result<(PathBuf, u64)> {
        self.out
            .into_inner()
            .map_err(|e| Error::io(&self.to, e.into_error()))?;
        Ok((self.to, self.written))
    }

    /// Removes what was written: the file is read whole instead.
    pub(super) fn discard(self) {
        drop(self.out);
        let _ = std::fs::remove_file(&self.to);
    }
}

impl LineReader {
    /// Opens `path`, recognising gzip/zstd by magic bytes. Lines longer than
    /// `cap` bytes come back as [`Error::TooLarge`] without being held. A
    /// compressed file is also copied, decompressed, as it is read, to a
    /// new file of `work` when given ([`Copy`]).
    pub(super) fn open(
        path: &Path,
        cap: u64,
        work: Option<&WorkDir>,
    ) -> std::result::Result<(Compression, LineReader), NotStreamable> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        // a file of no length may still have lines (/proc): read, not mapped
        let regular = file
            .metadata()
            .ok()
            .filter(|m| m.is_file() && m.len() > 0)
            .map(|m| m.len());
        // the head of a regular file is read and the file rewound (it is
        // mapped); a pipe's stays in the buffer that reads on
        let (head, source) = match regular {
            Some(len) => {
                let head = read_head(&mut file).map_err(|e| Error::io(path, e))?;
                (head, Ok((file, len)))
            }
            None => {
                let mut buffered = BufReader::with_capacity(1 << 20, file);
                let head = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
                (head[..head.len().min(4)].to_vec(), Err(buffered))
            }
        };
        let compression = decompress::sniff(&head);
        if compression == Compression::None
            && head.len() < 4
            && decompress::is_compressed_name(path)
        {
            // a truncated archive: let the whole-file reader name the problem
            return Err(NotStreamable::WholeFile);
        }
        let mut mapped = None;
        let mut copy = None;
        let reader: Box<dyn BufRead + Send> = match (compression, source) {
            (Compression::None, Ok((file, len))) => {
                mapped = Some(Mapped { file, len });
                Box::new(std::io::empty())
            }
            (Compression::None, Err(buffered)) => Box::new(buffered),
            (c, source) => {
                let raw = source.map_or_else(
                    |buffered| buffered,
                    |(file, _)| BufReader::with_capacity(1 << 20, file),
                );
                let inner = decompress::decoder(path, c, raw)?;
                if let Some(work) = work {
                    let to = decompress::copy_path(work, path)?;
                    let made = Copy::new(to.clone()).map_err(|e| Error::io(&to, e))?;
                    copy = Some(Arc::new(Mutex::new(made)));
                }
                Box::new(Ahead::spawn(inner, copy.clone()).map_err(|e| Error::io(path, e))?)
            }
        };
        let mut lr = LineReader {
            reader,
            mapped,
            path: path.to_path_buf(),
            lineno: 0,
            offset: 0,
            cap,
            all_ascii: true,
            done: false,
            compression,
            copy,
        };
        let head = match lr.mapped {
            Some(_) => head,
            None => lr.fill()?,
        };
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            lr.drop_copy();
            return Err(NotStreamable::WholeFile);
        }
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            if lr.mapped.is_none() {
                lr.reader.consume(3);
            }
            lr.offset = 3;
        }
        Ok((compression, lr))
    }

    /// The length of the file when it was opened, if it is read by mapping
    /// (a plain regular file): what its lines are read from.
    pub(super) fn file_len(&self) -> Option<u64> {
        self.mapped.as_ref().map(|m| m.len)
    }

    /// The decompressed copy, if one is made: complete once the last
    /// batch is read.
    pub(super) fn copy(&self) -> Option<Arc<Mutex<Copy>>> {
        self.copy.clone()
    }

    /// Removes the copy made so far: the file is read whole instead.
    fn drop_copy(&mut self) {
        if let Some(copy) = self.copy.take() {
            if let Ok(c) = copy.lock() {
                let _ = std::fs::remove_file(&c.to);
            }
        }
    }

    fn fill(&mut self) -> Result<Vec<u8>> {
        match self.reader.fill_buf() {
            Ok(buf) => Ok(buf[..buf.len().min(4)].to_vec()),
            Err(e) => Err(self.read_error(0, e)),
        }
    }

    /// Reads about `bytes` bytes worth of lines into `buffer` (emptied
    /// first); `None` at the end.
    ///
    /// # Errors
    ///
    /// A read or decompression error ([`NotStreamable::Error`]), or
    /// [`NotStreamable::WholeFile`] when a non-UTF-8 line follows only ASCII
    /// text (a legacy encoding to detect on the whole file).
    pub fn next_batch(
        &mut self,
        bytes: usize,
        mut buffer: Vec<u8>,
    ) -> std::result::Result<Option<Lines>, NotStreamable> {
        if self.done {
            return Ok(None);
        }
        if self.mapped.is_some() {
            return self.next_mapped(bytes);
        }
        // room for the batch and the line that ends it, made at once: a
        // buffer grown by doubling would copy itself into new memory
        let room = bytes + (64 << 10);
        if buffer.capacity() < room {
            buffer = Vec::with_capacity(room);
        }
        buffer.clear();
        let mut lines = Vec::new();
        while buffer.len() < bytes {
            let start = buffer.len();
            let Some(raw) = self.read_line(&mut buffer)? else {
                self.done = true;
                break;
            };
            self.lineno += 1;
            let offset = self.offset;
            self.offset += raw.len as u64;
            if raw.too_long {
                buffer.truncate(start);
                // the batch still moves on by the line it skipped
                buffer.push(b'\n');
                lines.push(Line {
                    lineno: self.lineno,
                    offset,
                    text: Err(self.too_large(raw.len as u64)),
                });
                continue;
            }
            let end = without_line_break(&buffer, start, buffer.len());
            self.check_first_non_ascii(&buffer[start..end])?;
            lines.push(Line {
                lineno: self.lineno,
                offset,
                text: Ok(start..end),
            });
        }
        if lines.is_empty() {
            return Ok(None);
        }
        Ok(Some(Lines {
            bytes: Bytes::Read(buffer),
            lines,
        }))
    }

    /// The error of the current line, `size` bytes, over the cap.
    fn too_large(&self, size: u64) -> Error {
        Error::TooLarge {
            loc: Location::line(&self.path, self.lineno),
            size,
            limit: self.cap,
        }
    }

    /// The first line that is not ASCII decides: UTF-8 streams on (the
    /// parsing threads check each line), anything else is a legacy
    /// encoding to detect on the whole file.
    fn check_first_non_ascii(&mut self, line: &[u8]) -> std::result::Result<(), NotStreamable> {
        if self.all_ascii && !line.is_ascii() {
            if super::encoding::str_of(line).is_err() {
                return Err(NotStreamable::WholeFile);
            }
            self.all_ascii = false;
        }
        Ok(())
    }

    /// Goes on reading the mapped file through a buffer, from where the
    /// last batch ended.
    fn read_from_here(
        &mut self,
        bytes: usize,
    ) -> std::result::Result<Option<Lines>, NotStreamable> {
        use std::io::{Seek, SeekFrom};
        let Some(Mapped { mut file, .. }) = self.mapped.take() else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| Error::io(&self.path, e))?;
        self.reader = Box::new(BufReader::with_capacity(1 << 20, file));
        self.next_batch(bytes, Vec::new())
    }

    /// [`Self::next_batch`] of a plain file: the lines of about `bytes`
    /// bytes from where the last batch ended, in a window of the file
    /// mapped for them (its pages mapped at once), not copied: the kernel's
    /// copy into a buffer, the copy of each line out of it and the new
    /// memory of the buffers were about a sixth of a scan's work on 2
    /// cores. A window ends at the last whole line in it; a first line that
    /// does not fit is mapped again with a window twice as large, until it
    /// fits or is longer than the cap (then skipped, its length counted).
    fn next_mapped(&mut self, bytes: usize) -> std::result::Result<Option<Lines>, NotStreamable> {
        let Some(Mapped { file, len }) = &self.mapped else {
            return Ok(None);
        };
        let len = *len;
        let start = self.offset;
        if start >= len {
            self.done = true;
            return Ok(None);
        }
        let mut window = bytes.max(1) + (64 << 10);
        let (map, ends) = loop {
            let end = len.min(start.saturating_add(window as u64));
            let map = match map_window(file, start, end) {
                Ok(map) => map,
                // a file system that cannot map: read on from here
                Err(_) => return self.read_from_here(bytes),
            };
            let last = end == len;
            let ends = line_ends(&map, bytes, last);
            if !ends.is_empty() {
                break (map, ends);
            }
            if over_cap(self.cap, map.len() as u64) {
                // one line longer than the cap: skipped, not held
                let size = line_len(file, start, len).map_err(|e| Error::io(&self.path, e))?;
                self.lineno += 1;
                self.offset += size;
                self.done = self.offset >= len;
                let line = Line {
                    lineno: self.lineno,
                    offset: start,
                    text: Err(self.too_large(size)),
                };
                return Ok(Some(Lines {
                    bytes: Bytes::Read(Vec::new()),
                    lines: vec![line],
                }));
            }
            window *= 2;
        };
        let mut lines = Vec::with_capacity(ends.len());
        let mut from = 0;
        for to in ends {
            self.lineno += 1;
            let offset = start + from as u64;
            let text = if over_cap(self.cap, (to - from) as u64) {
                Err(self.too_large((to - from) as u64))
            } else {
                let end = without_line_break(&map, from, to);
                self.check_first_non_ascii(&map[from..end])?;
                Ok(from..end)
            };
            lines.push(Line {
                lineno: self.lineno,
                offset,
                text,
            });
            from = to;
        }
        self.offset = start + from as u64;
        self.done = self.offset >= len;
        Ok(Some(Lines {
            bytes: Bytes::Mapped(map),
            lines,
        }))
    }

    /// One line with its terminator, appended to `to`; past `cap` bytes
    /// the rest of the line is skipped, only its length counted (what was
    /// appended is then the caller's to drop).
    fn read_line(&mut self, to: &mut Vec<u8>) -> Result<Option<RawLine>> {
        let mut line = RawLine {
            len: 0,
            too_long: false,
        };
        loop {
            let offset = self.offset + line.len as u64;
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) => return Err(self.read_error(offset, e)),
            };
            if buf.is_empty() {
                break;
            }
            let (n, end) = match memchr_nl(buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !line.too_long && !over_cap(self.cap, (line.len + n) as u64) {
                to.extend_from_slice(&buf[..n]);
            } else {
                line.too_long = true;
            }
            line.len += n;
            self.reader.consume(n);
            if end {
                break;
            }
        }
        Ok((line.len > 0).then_some(line))
    }

    fn read_error(&self, offset: u64, e: std::io::Error) -> Error {
        match self.compression {
            Compression::None => Error::io(&self.path, e),
            c => Error::Decompress {
                loc: Location::at(&self.path, None, offset),
                format: decompress::format_name(c),
                reason: e.to_string(),
            },
        }
    }
}

struct RawLine {
    len: usize,
    too_long: bool,
}

/// Whether a line of `size` bytes is longer than `cap` (its line break,
/// CRLF at most, not counted).
fn over_cap(cap: u64, size: u64) -> bool {
    size > cap.saturating_add(2)
}

fn memchr_nl(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf)
}

/// Where the line `bytes[start..end]` ends without its line break (LF or
/// CRLF).
fn without_line_break(bytes: &[u8], start: usize, mut end: usize) -> usize {
    if end > start && bytes[end - 1] == b'\n' {
        end -= 1;
    }
    if end > start && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    end
}

/// A plain regular file read by mapping.
struct Mapped {
    file: File,
    /// Its length when opened: what is appended later is not read.
    len: u64,
}

/// The first bytes of a regular `file` (up to 4: what the magic numbers
/// and byte order marks need); the file is left at its start.
fn read_head(file: &mut File) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(head[..n].to_vec())
}

/// Bytes `start..end` of `file`, mapped read-only with their pages mapped
/// at once (the file's pages are in the page cache after a first read:
/// one call instead of a fault every few pages).
fn map_window(file: &File, start: u64, end: u64) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is only read. A file cut short by another process
    // while it is mapped makes the cut pages fault (SIGBUS), as for every
    // reader that maps its input (ripgrep); the scan is stopped by it, its
    // output files left as they were.
    unsafe {
        memmap2::MmapOptions::new()
            .offset(start)
            .len((end - start) as usize)
            .populate()
            .map(file)
    }
}

/// Where the lines of `map` end (each past its line break), while they
/// start before byte `bytes`: only whole lines, and the last one without
/// a line break if `last` (the map ends the file).
fn line_ends(map: &[u8], bytes: usize, last: bool) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut from = 0;
    while from < map.len() && from < bytes.max(1) {
        match memchr_nl(&map[from..]) {
            Some(i) => from += i + 1,
            None if last => from = map.len(),
            None => break,
        }
        ends.push(from);
    }
    ends
}

/// The length of the line that starts at `start` in `file` (`len` bytes),
/// line break included, read a window at a time.
fn line_len(file: &File, start: u64, len: u64) -> std::io::Result<u64> {
    const STEP: u64 = 4 << 20;
    let mut at = start;
    while at < len {
        let end = len.min(at + STEP);
        let map = map_window(file, at, end)?;
        if let Some(i) = memchr_nl(&map) {
            return Ok(at + i as u64 + 1 - start);
        }
        at = end;
    }
    Ok(len - start)
}

/// Bytes decompressed at a time ahead of the reader.
const CHUNK: usize = 1 << 20;

/// The first chunk's size; each next one doubles up to [`CHUNK`], so that
/// a small file (a corpus of many) is not given a whole chunk to fill.
const FIRST_CHUNK: usize = 64 << 10;

/// Chunks decompressed and not yet read, at most.
const AHEAD: usize = 4;

/// Decompressed bytes, read from a thread of their own that decompresses
/// ahead while the reader splits the lines it already has: the two run
/// side by side, instead of one after the other on the reader's thread.
/// At most [`AHEAD`] chunks of [`CHUNK`] bytes wait in between. Each chunk
/// goes to the [`Copy`] as the reader takes it: writing it (a memory copy
/// into the page cache, about a tenth of the decoding's time for zstd)
/// then overlaps the decoding of the next chunks instead of following
/// it. An error (of the decoder, or writing the copy) comes after the
/// bytes decompressed before it, at the same offset as reading in line
/// would give it.
pub(super) struct Ahead {
    rx: Option<Receiver<std::io::Result<Vec<u8>>>>,
    /// Read chunks, back to the thread to be filled again.
    back: Sender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    copy: Option<Arc<Mutex<Copy>>>,
    thread: Option<JoinHandle<()>>,
}

impl Ahead {
    /// Decompresses `inner` on a thread of its own, writing `copy` (when
    /// given) as the chunks are read.
    ///
    /// # Errors
    ///
    /// The thread cannot be started.
    pub(super) fn spawn(
        inner: Box<dyn Read + Send>,
        copy: Option<Arc<Mutex<Copy>>>,
    ) -> std::io::Result<Ahead> {
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
        let (back, spare) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("neardup-decompress".into())
            .spawn(move || decompress_ahead(inner, &tx, &spare))?;
        Ok(Ahead {
            rx: Some(rx),
            back,
            buf: Vec::new(),
            pos: 0,
            copy,
            thread: Some(thread),
        })
    }
}

/// The thread of [`Ahead`]: fills chunks and sends them on until the end,
/// an error, or a reader that is gone.
fn decompress_ahead(
    mut inner: Box<dyn Read + Send>,
    tx: &SyncSender<std::io::Result<Vec<u8>>>,
    spare: &Receiver<Vec<u8>>,
) {
    let mut size = FIRST_CHUNK;
    loop {
        let mut chunk = spare.try_recv().unwrap_or_default();
        // a chunk comes back with its length: only what is new is zeroed
        chunk.resize(size, 0);
        let mut filled = 0;
        let end = loop {
            match inner.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == size {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        chunk.truncate(filled);
        if filled > 0 && tx.send(Ok(chunk)).is_err() {
            return;
        }
        match end {
            Ok(false) => size = (size * 2).min(CHUNK),
            Ok(true) => return,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

fn copy_chunk(copy: &Mutex<Copy>, chunk: &[u8]) -> std::io::Result<()> {
    let mut copy = copy
        .lock()
        .map_err(|_| std::io::Error::other("copy lock poisoned"))?;
    copy.write(chunk).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot write the decompressed copy {}: {e}",
                copy.to.display()
            ),
        )
    })
}

impl Read for Ahead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Ahead {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.buf.len() {
            if let Some(rx) = &self.rx {
                match rx.recv() {
                    Ok(Ok(chunk)) => {
                        if let Some(Err(e)) = self.copy.as_deref().map(|c| copy_chunk(c, &chunk)) {
                            // the bytes of a chunk not copied are not given
                            self.rx = None;
                            return Err(e);
                        }
                        let used = std::mem::replace(&mut self.buf, chunk);
                        let _ = self.back.send(used);
                        self.pos = 0;
                    }
                    // the error is given once; what follows is the end
                    Ok(Err(e)) => {
                        self.rx = None;
                        return Err(e);
                    }
                    Err(_) => self.rx = None,
                }
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl Drop for Ahead {
    /// Stops the thread (its next send fails) and waits for it, so that no
    /// decoding goes on once the reader is gone.
    fn drop(&mut self) {
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `good` bytes, a few at a time, then fails.
    struct Failing {
        good: Vec<u8>,
        at: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.good.len() {
                return Err(std::io::Error::other("corrupt block"));
            }
            let n = buf.len().min(self.good.len() - self.at).min(7000);
            buf[..n].copy_from_slice(&self.good[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Every byte comes through in order and into the copy, and an error
    /// comes after the bytes read before it, once.
    #[test]
    fn ahead_gives_the_bytes_then_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let good: Vec<u8> = (0..3 * CHUNK + 12345).map(|i| (i % 251) as u8).collect();
        let copy = Arc::new(Mutex::new(Copy::new(dir.path().join("copy")).unwrap()));
        let inner = Failing {
            good: good.clone(),
            at: 0,
        };
        let mut ahead = Ahead::spawn(Box::new(inner), Some(Arc::clone(&copy))).unwrap();
        let mut got = Vec::new();
        let err = ahead.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "corrupt block");
        assert_eq!(got, good);
        assert_eq!(ahead.fill_buf().unwrap(), b"", "the end after the error");
        drop(ahead);
        let copy = Arc::into_inner(copy).unwrap().into_inner().unwrap();
        let (to, written) = copy.finish().unwrap();
        assert_eq!(written, good.len() as u64);
        assert_eq!(std::fs::read(to).unwrap(), good);
    }

    /// A reader that stops early stops the thread: dropping it returns
    /// although the input never ends.
    #[test]
    fn ahead_stops_with_its_reader() {
        let mut ahead = Ahead::spawn(Box::new(std::io::repeat(b'x')), None).unwrap();
        let mut head = [0u8; 10];
        ahead.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"xxxxxxxxxx");
        drop(ahead);
    }

    /// What the batches give for a file: each line's number, offset and
    /// text, or the size of a line too long to hold.
    fn batched(path: &Path, cap: u64, sizes: &[usize]) -> Vec<(u64, u64, Result<String>)> {
        let (_, mut reader) = LineReader::open(path, cap, None).unwrap_or_else(|_| panic!("opens"));
        let mut out = Vec::new();
        let mut buffer = Vec::new();
        for k in 0.. {
            let size = sizes[k % sizes.len()];
            let got = reader.next_batch(size, std::mem::take(&mut buffer));
            let Some(Lines { bytes, lines }) = got.unwrap_or_else(|_| panic!("reads")) else {
                break;
            };
            for line in lines {
                let (n, at) = (line.lineno, line.offset);
                out.push((n, at, line.text_in(path, &bytes).map(str::to_string)));
            }
            buffer = bytes.into_buffer().unwrap_or_default();
        }
        out
    }

    /// Lines of every length around the reads' size, CRLF and LF, blank
    /// and too long ones, the last without a line break: batched at any
    /// size, from a plain or a gzip file, they come out as the file's lines.
    #[test]
    fn batches_give_the_files_lines() {
        let dir = tempfile::tempdir().unwrap();
        let cap = 300_000u64;
        let mut body = String::new();
        let mut want: Vec<(u64, u64, Option<String>)> = Vec::new();
        let mut seed = 7u64;
        for n in 1..=400u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = match n % 9 {
                0 => 0,
                1 => (seed >> 40) as usize % 400_000,
                _ => (seed >> 40) as usize % 20_000,
            };
            let text: String = "行".repeat(len / 3) + &"a".repeat(len % 3);
            let end = if n == 400 {
                ""
            } else if n % 4 == 0 {
                "\r\n"
            } else {
                "\n"
            };
            let line_len = (text.len() + end.len()) as u64;
            let kept = line_len <= cap + 2;
            want.push((n, body.len() as u64, kept.then(|| text.clone())));
            body.push_str(&text);
            body.push_str(end);
        }
        let plain = dir.path().join("c.jsonl");
        std::fs::write(&plain, &body).unwrap();
        let gz = dir.path().join("c.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        // a named pipe: plain, but read through a buffer, not mapped
        #[cfg(unix)]
        let fifo = {
            let fifo = dir.path().join("fifo.jsonl");
            let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: `name` is a NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
            fifo
        };
        // each path, and whether it is the pipe (written as it is read)
        #[cfg(unix)]
        let paths = [(&plain, false), (&gz, false), (&fifo, true)];
        #[cfg(not(unix))]
        let paths = [(&plain, false), (&gz, false)];
        for (path, pipe) in paths {
            for sizes in [&[1usize][..], &[4 << 20], &[1 << 20, 3_000_000, 10]] {
                let writer = pipe.then(|| {
                    let (path, body) = (path.to_path_buf(), body.clone());
                    std::thread::spawn(move || std::fs::write(path, body).unwrap())
                });
                let got = batched(path, cap, sizes);
                if let Some(w) = writer {
                    w.join().unwrap();
                }
                assert_eq!(got.len(), want.len(), "{}", path.display());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!((g.0, g.1), (w.0, w.1), "line {}", w.0);
                    match (&g.2, &w.2) {
                        (Ok(t), Some(x)) => assert!(t == x, "line {} differs", w.0),
                        (Err(Error::TooLarge { .. }), None) => {}
                        _ => panic!(
                            "line {}: {:?} against {:?}",
                            w.0,
                            g.2.is_ok(),
                            w.2.is_some()
                        ),
                    }
                }
            }
        }
    }
}
