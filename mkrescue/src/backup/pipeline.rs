//! Compressing archive sets on every core in a bounded pipeline.
//!
//! The tar stream is cut into chunks; worker threads compress each chunk as a complete
//! zstd frame or gzip member (concatenated frames and members are valid files for
//! `zstd -d`, `gzip -d` and `tar`); one writer puts them back in order into the set files.
//! At most `2 * workers` chunks are in flight, so memory does not grow with the backup.

use rescue_core::media::Compression;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes of tar stream compressed as one unit.
pub const CHUNK: usize = 4 << 20;

/// A finished set file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDone {
    pub number: u32,
    pub path: PathBuf,
    /// Compressed size.
    pub bytes: u64,
    /// Size of the tar stream inside.
    pub tar_bytes: u64,
    /// BLAKE3 of the set file.
    pub b3: [u8; 32],
}

struct Job {
    seq: u64,
    data: Vec<u8>,
    /// Set when this chunk is the last one of set `number`.
    ends: Option<u32>,
    starts: Option<u32>,
}

struct Done {
    seq: u64,
    data: io::Result<Vec<u8>>,
    raw: u64,
    ends: Option<u32>,
    starts: Option<u32>,
}

pub struct Pipeline {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    finished: Receiver<SetDone>,
    buf: Vec<u8>,
    seq: u64,
    current: Option<u32>,
    pending_start: Option<u32>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("seq", &self.seq).finish()
    }
}

/// Names set files: `dir/set-00001.tar.zst`.
pub fn set_file_name(number: u32, compression: Compression) -> String {
    format!("set-{number:05}.{}", compression.extension())
}

impl Pipeline {
    /// Starts `workers` compressors writing set files into `dir`.
    pub fn start(dir: &Path, compression: Compression, level: i32, workers: usize) -> Pipeline {
        let workers_n = workers.max(1);
        let (job_tx, job_rx) = sync_channel::<Job>(workers_n * 2);
        let (done_tx, done_rx) = sync_channel::<Done>(workers_n * 2);
        let (set_tx, set_rx) = sync_channel::<SetDone>(1024);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut workers = Vec::new();
        for _ in 0..workers_n {
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            workers.push(std::thread::spawn(move || loop {
                // A poisoned lock means another worker panicked; stop quietly, the
                // writer reports the missing chunks as an error.
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let raw = job.data.len() as u64;
                let data = compress(&job.data, compression, level);
                let done = Done {
                    seq: job.seq,
                    data,
                    raw,
                    ends: job.ends,
                    starts: job.starts,
                };
                if tx.send(done).is_err() {
                    return;
                }
            }));
        }
        drop(done_tx);
        let dir = dir.to_path_buf();
        let writer = std::thread::spawn(move || write_in_order(done_rx, set_tx, &dir, compression));
        Pipeline {
            jobs: Some(job_tx),
            workers,
            writer: Some(writer),
            finished: set_rx,
            buf: Vec::with_capacity(CHUNK),
            seq: 0,
            current: None,
            pending_start: None,
        }
    }

    /// Starts set `number`: what is written next goes into it.
    pub fn begin_set(&mut self, number: u32) {
        self.current = Some(number);
        self.pending_start = Some(number);
    }

    /// Ends the current set: its file is complete once `take_finished` returns it.
    pub fn end_set(&mut self) -> io::Result<()> {
        let number = self
            .current
            .take()
            .ok_or_else(|| io::Error::other("end_set without begin_set"))?;
        self.send(Some(number))
    }

    /// Sets whose files are complete, in order.
    pub fn take_finished(&self) -> Vec<SetDone> {
        self.finished.try_iter().collect()
    }

    fn send(&mut self, ends: Option<u32>) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let job = Job {
            seq: self.seq,
            data,
            ends,
            starts: self.pending_start.take(),
        };
        self.seq += 1;
        let tx = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("pipeline closed"))?;
        tx.send(job).map_err(|_| {
            self.writer_error()
                .unwrap_or_else(|| io::Error::other("the set writer stopped"))
        })
    }

    /// The writer's error, when it stopped early (a full disk, say).
    fn writer_error(&mut self) -> Option<io::Error> {
        if self.writer.as_ref().is_some_and(|w| w.is_finished()) {
            let handle = self.writer.take()?;
            return match handle.join() {
                Ok(Err(e)) => Some(e),
                Ok(Ok(())) => None,
                Err(_) => Some(io::Error::other("the set writer panicked")),
            };
        }
        None
    }

    /// Waits for every set to be written; returns the ones not yet taken.
    pub fn finish(mut self) -> io::Result<Vec<SetDone>> {
        if !self.buf.is_empty() || self.current.is_some() {
            return Err(io::Error::other("finish with a set still open"));
        }
        drop(self.jobs.take());
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(writer) = self.writer.take() {
            writer
                .join()
                .map_err(|_| io::Error::other("the set writer panicked"))??;
        }
        Ok(self.finished.try_iter().collect())
    }
}

impl Write for Pipeline {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.current.is_none() {
            return Err(io::Error::other("write outside a set"));
        }
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send(None)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn compress(data: &[u8], compression: Compression, level: i32) -> io::Result<Vec<u8>> {
    match compression {
        Compression::Zstd => {
            // The frame checksum lets `zstd -t` find damage with no mkrescue at hand.
            let mut c = zstd::bulk::Compressor::new(level)?;
            c.include_checksum(true)?;
            c.compress(data)
        }
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2),
                flate2::Compression::new(level.clamp(1, 9) as u32),
            );
            gz.write_all(data)?;
            gz.finish()
        }
        Compression::None => Ok(data.to_vec()),
    }
}

struct OpenSet {
    number: u32,
    path: PathBuf,
    file: BufWriter<File>,
    hasher: blake3::Hasher,
    bytes: u64,
    tar_bytes: u64,
}

fn write_in_order(
    done: Receiver<Done>,
    sets: SyncSender<SetDone>,
    dir: &Path,
    compression: Compression,
) -> io::Result<()> {
    let mut next = 0u64;
    let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
    let mut open: Option<OpenSet> = None;
    for d in done {
        waiting.insert(d.seq, d);
        while let Some(d) = waiting.remove(&next) {
            next += 1;
            if let Some(number) = d.starts {
                let path = dir.join(set_file_name(number, compression));
                let file = File::create(&path).map_err(|e| {
                    io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
                })?;
                open = Some(OpenSet {
                    number,
                    path,
                    file: BufWriter::with_capacity(1 << 20, file),
                    hasher: blake3::Hasher::new(),
                    bytes: 0,
                    tar_bytes: 0,
                });
            }
            let set = open
                .as_mut()
                .ok_or_else(|| io::Error::other("a chunk outside any set"))?;
            let data = d.data.map_err(|e| {
                io::Error::new(e.kind(), format!("compressing {}: {e}", set.path.display()))
            })?;
            set.file.write_all(&data).map_err(|e| {
                io::Error::new(e.kind(), format!("writing {}: {e}", set.path.display()))
            })?;
            set.hasher.update(&data);
            set.bytes += data.len() as u64;
            set.tar_bytes += d.raw;
            if d.ends.is_some() {
                let mut set = open.take().ok_or_else(|| io::Error::other("no open set"))?;
                // Scratch files: the volume that receives them is flushed to disk, these
                // need not be.
                set.file.flush().map_err(|e| {
                    io::Error::new(e.kind(), format!("writing {}: {e}", set.path.display()))
                })?;
                let finished = SetDone {
                    number: set.number,
                    path: set.path,
                    bytes: set.bytes,
                    tar_bytes: set.tar_bytes,
                    b3: *set.hasher.finalize().as_bytes(),
                };
                if sets.send(finished).is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn data(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| ((i * 7 + seed as usize) % 251) as u8)
            .collect()
    }

    fn run(compression: Compression) {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Pipeline::start(dir.path(), compression, 3, 3);
        let sets = [data(CHUNK * 2 + 12345, 1), data(10, 2), data(CHUNK * 3, 3)];
        for (i, s) in sets.iter().enumerate() {
            p.begin_set(i as u32 + 1);
            p.write_all(s).unwrap();
            p.end_set().unwrap();
        }
        let mut done = p.take_finished();
        done.extend(p.finish().unwrap());
        assert_eq!(done.iter().map(|d| d.number).collect::<Vec<_>>(), [1, 2, 3]);
        for (d, original) in done.iter().zip(&sets) {
            let bytes = std::fs::read(&d.path).unwrap();
            assert_eq!(bytes.len() as u64, d.bytes);
            assert_eq!(d.tar_bytes, original.len() as u64);
            assert_eq!(*blake3::hash(&bytes).as_bytes(), d.b3);
            let tool = match compression {
                Compression::Zstd => Some("zstd"),
                Compression::Gzip => Some("gzip"),
                Compression::None => None,
            };
            let plain = match tool {
                Some(tool) => {
                    let out = Command::new(tool).arg("-dc").arg(&d.path).output().unwrap();
                    assert!(out.status.success(), "{tool} -dc {}", d.path.display());
                    out.stdout
                }
                None => bytes,
            };
            assert!(plain == *original, "set {} round trip", d.number);
        }
    }

    #[test]
    fn zstd_sets_decompress_with_the_zstd_tool_in_order() {
        run(Compression::Zstd);
    }

    #[test]
    fn gzip_sets_decompress_with_gzip() {
        run(Compression::Gzip);
    }

    #[test]
    fn uncompressed_sets_are_the_stream_itself() {
        run(Compression::None);
    }

    #[test]
    fn a_missing_output_directory_is_an_error_not_a_hang() {
        let mut p = Pipeline::start(Path::new("/nonexistent/dir"), Compression::Zstd, 3, 2);
        p.begin_set(1);
        let mut failed = false;
        for _ in 0..64 {
            if p.write_all(&data(CHUNK, 1)).is_err() {
                failed = true;
                break;
            }
        }
        let end = p.end_set();
        let fin = p.finish();
        assert!(failed || end.is_err() || fin.is_err());
    }
}
