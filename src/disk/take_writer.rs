//! The take writer: one thread drains every recording take's ring into its WAV file.
//! The header is brought up to date and the data synced to disk every second, so a
//! crash or a power cut loses at most that second (the file is mended on the next
//! start from its length, `wav_repair`). The engine never waits on this thread: when it
//! falls behind, the ring fills and the engine counts what it could not take (written
//! here as silence, in its place).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ringbuf::traits::{Consumer, Observer};

use crate::engine::recorder::TakeFeed;

/// How often the header is rewritten and the data synced: a little under a second, so
/// that with the drain's own delay a power cut never takes more than a second.
pub const SYNC_EVERY: Duration = Duration::from_millis(900);
/// How often the rings are drained.
const DRAIN_EVERY: Duration = Duration::from_millis(20);
/// Frames moved per read.
const CHUNK_FRAMES: usize = 4096;
/// The most a WAV file's data may hold (its sizes are 32-bit), with room for the header.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - (1 << 16);

/// How samples are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeFormat {
    /// 24-bit integer: what studios exchange; 3 bytes a sample.
    #[default]
    Int24,
    /// 32-bit float: never clips; 4 bytes a sample.
    Float32,
}

impl TakeFormat {
    pub fn bytes_per_sample(self) -> u64 {
        match self {
            TakeFormat::Int24 => 3,
            TakeFormat::Float32 => 4,
        }
    }

    fn spec(self, sample_rate: u32) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            TakeFormat::Int24 => (24, hound::SampleFormat::Int),
            TakeFormat::Float32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec {
            channels: 2,
            sample_rate,
            bits_per_sample,
            sample_format,
        }
    }
}

/// A take for the writer: the ring's reading end and where the file goes.
pub struct WriterJob {
    pub feed: TakeFeed,
    pub path: PathBuf,
    pub sample_rate: u32,
    pub format: TakeFormat,
    /// Frames a file holds before the take goes on in the next (`part_path`); 0: as
    /// many as a WAV file holds.
    pub part_frames: u64,
}

/// The most whole frames a WAV file of `format` holds; a multiple of `align` frames
/// (a cycle's length, so no time round is split between two files) when it can be.
pub fn max_part_frames(format: TakeFormat, align: u64) -> u64 {
    let most = MAX_DATA_BYTES / (2 * format.bytes_per_sample());
    match align {
        a if a > 0 && a <= most => most / a * a,
        _ => most,
    }
}

/// The file the take goes on in after `first` is full: `NAME-part2.wav`, `-part3`, …
pub fn part_path(first: &std::path::Path, part: usize) -> PathBuf {
    if part <= 1 {
        return first.to_owned();
    }
    let stem = first
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    first.with_file_name(format!("{stem}-part{part}.wav"))
}

/// Why a take stopped before it was stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteFailure {
    DiskFull,
    Io(String),
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteFailure::DiskFull => write!(f, "the disk is full"),
            WriteFailure::Io(e) => write!(f, "the disk would not take more ({e})"),
        }
    }
}

/// What the writer tells the control side.
#[derive(Clone, Debug, PartialEq)]
pub enum WriterEvent {
    /// The device had a dropout at this frame of the take.
    Dropout { id: u32, at_frame: u64 },
    /// The writer fell behind and the engine could not hand it this many frames so far
    /// (written as silence in their place).
    Behind { id: u32, lost_frames: u64 },
    /// More of the take's waveform overview (`disk::overview`), to append.
    Peaks { id: u32, peaks: Vec<u8> },
    /// The file is complete and synced. `parts`: each file of the take (one unless it
    /// outgrew a WAV file) and its frames, in order.
    Finished {
        id: u32,
        path: PathBuf,
        frames: u64,
        dropouts: Vec<u64>,
        lost_frames: u64,
        parts: Vec<(PathBuf, u64)>,
    },
    /// The take stopped early; what was written up to then is kept and whole.
    Failed {
        id: u32,
        path: PathBuf,
        frames: u64,
        dropouts: Vec<u64>,
        why: WriteFailure,
        parts: Vec<(PathBuf, u64)>,
    },
}

/// The writer thread and its queues.
pub struct TakeWriter {
    jobs: Option<Sender<Open>>,
    events: Receiver<WriterEvent>,
    thread: Option<JoinHandle<()>>,
}

impl TakeWriter {
    pub fn start() -> std::io::Result<TakeWriter> {
        let (jtx, jrx) = crossbeam_channel::unbounded();
        let (etx, erx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("take writer".into())
            .spawn(move || run(jrx, etx))?;
        Ok(TakeWriter {
            jobs: Some(jtx),
            events: erx,
            thread: Some(thread),
        })
    }

    /// Opens the take's file and starts draining its ring. The file is created here, so
    /// a folder that cannot be written to is said before the take starts.
    pub fn write(&self, job: WriterJob) -> Result<(), WriteFailure> {
        let opened = Open::create(job)?;
        if let Some(j) = &self.jobs {
            j.send(opened)
                .map_err(|_| WriteFailure::Io("the writer has stopped".into()))?;
        }
        Ok(())
    }

    pub fn events(&self) -> &Receiver<WriterEvent> {
        &self.events
    }
}

impl Drop for TakeWriter {
    /// Waits until every take the engine has finished is on disk.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A take whose file is open.
struct Open {
    id: u32,
    feed: TakeFeed,
    /// The file being written (the take's first, or a later part).
    path: PathBuf,
    first: PathBuf,
    sample_rate: u32,
    part_frames: u64,
    /// Frames in the file being written.
    in_part: u64,
    /// Files filled before it, and their frames.
    parts: Vec<(PathBuf, u64)>,
    wav: hound::WavWriter<BufWriter<File>>,
    /// The same file, to sync.
    file: File,
    format: TakeFormat,
    frames: u64,
    dropouts: Vec<u64>,
    lost_told: u64,
    last_sync: Instant,
    peaks: crate::disk::overview::PeakMaker,
    peaks_told: usize,
}

fn io_failure(e: std::io::Error) -> WriteFailure {
    if e.raw_os_error() == Some(libc::ENOSPC) || e.kind() == std::io::ErrorKind::StorageFull {
        WriteFailure::DiskFull
    } else {
        WriteFailure::Io(e.to_string())
    }
}

fn hound_failure(e: hound::Error) -> WriteFailure {
    match e {
        hound::Error::IoError(e) => io_failure(e),
        other => WriteFailure::Io(other.to_string()),
    }
}

type Wav = hound::WavWriter<BufWriter<File>>;

/// A new WAV file, readable by its owner only, its header on disk before the first
/// sound: a crash at once still leaves a WAV.
fn new_wav(
    path: &std::path::Path,
    format: TakeFormat,
    rate: u32,
) -> Result<(Wav, File), WriteFailure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).read(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path).map_err(io_failure)?;
    let sync = file.try_clone().map_err(io_failure)?;
    let mut wav = hound::WavWriter::new(BufWriter::with_capacity(1 << 16, file), format.spec(rate))
        .map_err(hound_failure)?;
    wav.flush().map_err(hound_failure)?;
    sync.sync_all().map_err(io_failure)?;
    Ok((wav, sync))
}

/// A whole take written at once (loops brought into a song), readable by its owner only,
/// synced, with its overview beside it.
pub fn write_take_file(
    path: &std::path::Path,
    l: &[f32],
    r: &[f32],
    sample_rate: u32,
    format: TakeFormat,
) -> Result<(), WriteFailure> {
    let (mut wav, file) = new_wav(path, format, sample_rate)?;
    let mut peaks = crate::disk::overview::PeakMaker::default();
    for (a, b) in l.iter().zip(r) {
        for v in [*a, *b] {
            match format {
                TakeFormat::Int24 => {
                    wav.write_sample((v.clamp(-1.0, 1.0) * 8_388_607.0).round() as i32)
                }
                TakeFormat::Float32 => wav.write_sample(v),
            }
            .map_err(hound_failure)?;
        }
        peaks.push(&[*a, *b]);
    }
    wav.finalize().map_err(hound_failure)?;
    file.sync_all().map_err(io_failure)?;
    let _ = crate::disk::overview::save(path, &peaks.finish());
    Ok(())
}

impl Open {
    fn create(job: WriterJob) -> Result<Open, WriteFailure> {
        let (wav, sync) = new_wav(&job.path, job.format, job.sample_rate)?;
        let most = max_part_frames(job.format, 0);
        Ok(Open {
            id: job.feed.id,
            feed: job.feed,
            first: job.path.clone(),
            path: job.path,
            sample_rate: job.sample_rate,
            part_frames: if job.part_frames == 0 {
                most
            } else {
                job.part_frames.min(most)
            },
            in_part: 0,
            parts: Vec::new(),
            wav,
            file: sync,
            format: job.format,
            frames: 0,
            dropouts: Vec::new(),
            lost_told: 0,
            last_sync: Instant::now(),
            peaks: Default::default(),
            peaks_told: 0,
        })
    }

    /// Moves what the ring holds into the file, silence where the ring was full.
    fn drain(&mut self, buf: &mut [f32]) -> Result<(), WriteFailure> {
        loop {
            // The ring first: a gap the tap noted before frames we see is visible by now.
            let ready = self.feed.ring.occupied_len() / 2;
            let gap = self.feed.gaps.try_peek().copied();
            if let Some((at, n)) = gap {
                if at <= self.frames {
                    self.write_frames(None, n as usize)?;
                    self.feed.gaps.try_pop();
                    continue;
                }
            }
            let until_gap = gap.map_or(usize::MAX, |(at, _)| (at - self.frames) as usize);
            let k = ready.min(until_gap).min(buf.len() / 2);
            if k == 0 {
                return Ok(());
            }
            let got = self.feed.ring.pop_slice(&mut buf[..2 * k]);
            let frames = &buf[..got - got % 2];
            self.write_frames(Some(frames), frames.len() / 2)?;
        }
    }

    /// Writes `n` frames: the interleaved `samples`, or silence; a file that is full
    /// is closed and the take goes on in the next, frame for frame.
    fn write_frames(&mut self, samples: Option<&[f32]>, n: usize) -> Result<(), WriteFailure> {
        let mut done = 0;
        while done < n {
            let room = self.part_frames.saturating_sub(self.in_part);
            if room == 0 {
                self.next_part()?;
                continue;
            }
            let k = (n - done).min(room as usize);
            self.write_piece(samples.map(|s| &s[2 * done..2 * (done + k)]), k)?;
            done += k;
        }
        Ok(())
    }

    /// The next file made (its header on disk) before this one is closed, so the take
    /// always has a file to go on in.
    fn next_part(&mut self) -> Result<(), WriteFailure> {
        let next = part_path(&self.first, self.parts.len() + 2);
        let (wav, file) = new_wav(&next, self.format, self.sample_rate)?;
        let old = std::mem::replace(&mut self.wav, wav);
        old.finalize().map_err(hound_failure)?;
        self.file.sync_all().map_err(io_failure)?;
        self.file = file;
        let path = std::mem::replace(&mut self.path, next);
        let _ = crate::disk::overview::save(&path, &std::mem::take(&mut self.peaks).finish());
        self.parts.push((path, self.in_part));
        self.in_part = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn write_piece(&mut self, samples: Option<&[f32]>, n: usize) -> Result<(), WriteFailure> {
        let silence = [0.0f32; 2];
        let mut each = |s: f32| -> Result<(), WriteFailure> {
            match self.format {
                TakeFormat::Int24 => {
                    let v = (s.clamp(-1.0, 1.0) * 8_388_607.0).round() as i32;
                    self.wav.write_sample(v).map_err(hound_failure)
                }
                TakeFormat::Float32 => self.wav.write_sample(s).map_err(hound_failure),
            }
        };
        match samples {
            Some(s) => s.iter().try_for_each(|v| each(*v))?,
            None => (0..n).try_for_each(|_| silence.iter().try_for_each(|v| each(*v)))?,
        }
        match samples {
            Some(s) => self.peaks.push(s),
            None => self.peaks.push_silence(n as u64),
        }
        self.frames += n as u64;
        self.in_part += n as u64;
        self.feed.status.written.store(self.frames, Relaxed);
        Ok(())
    }

    /// The header says how long the file is now, and it is on the disk.
    fn sync(&mut self) -> Result<(), WriteFailure> {
        self.wav.flush().map_err(hound_failure)?;
        self.file.sync_data().map_err(io_failure)?;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn news(&mut self, events: &Sender<WriterEvent>) {
        while let Some(at) = self.feed.marks.try_pop() {
            self.dropouts.push(at);
            let _ = events.send(WriterEvent::Dropout {
                id: self.id,
                at_frame: at,
            });
        }
        if self.peaks.peaks.len() > self.peaks_told {
            let _ = events.send(WriterEvent::Peaks {
                id: self.id,
                peaks: self.peaks.peaks[self.peaks_told..].to_vec(),
            });
            self.peaks_told = self.peaks.peaks.len();
        }
        let lost = self.feed.status.lost.load(Relaxed);
        if lost != self.lost_told {
            self.lost_told = lost;
            let _ = events.send(WriterEvent::Behind {
                id: self.id,
                lost_frames: lost,
            });
        }
    }

    /// Whether every frame of the take is in the file.
    fn complete(&self) -> bool {
        self.feed.status.finished.load(Acquire)
            && self.feed.ring.is_empty()
            && self.feed.gaps.is_empty()
            && self.frames >= self.feed.status.frames.load(Acquire)
    }

    /// The header written, the file synced, and said so.
    fn finish(mut self, events: &Sender<WriterEvent>) {
        let (id, path, frames) = (self.id, self.path.clone(), self.frames);
        if frames > 0 {
            let _ = crate::disk::overview::save(&path, &std::mem::take(&mut self.peaks).finish());
        }
        let (dropouts, lost_frames) = (self.dropouts.clone(), self.feed.status.lost.load(Relaxed));
        let mut parts = std::mem::take(&mut self.parts);
        let in_part = self.in_part;
        let file = match self.file.try_clone() {
            Ok(f) => f,
            Err(e) => return self.give_up(io_failure(e), events),
        };
        let closed = self
            .wav
            .finalize()
            .map_err(hound_failure)
            .and_then(|()| file.sync_all().map_err(io_failure));
        let _ = events.send(match closed {
            Ok(()) => {
                parts.push((path.clone(), in_part));
                WriterEvent::Finished {
                    id,
                    path,
                    frames,
                    dropouts,
                    lost_frames,
                    parts,
                }
            }
            Err(why) => {
                let last = crate::disk::repair_wav(&path).map_or(0, |r| r.frames);
                parts.push((path.clone(), last));
                WriterEvent::Failed {
                    frames: parts.iter().map(|p| p.1).sum(),
                    id,
                    path,
                    dropouts,
                    why,
                    parts,
                }
            }
        });
    }

    /// The take cannot go on: the engine stops offering, the file is closed and mended
    /// to what it holds, and said so.
    fn give_up(mut self, why: WriteFailure, events: &Sender<WriterEvent>) {
        self.feed.status.abandoned.store(true, Relaxed);
        // On a full disk this may not fit; the overview is made from the take when needed.
        if self.frames > 0 {
            let peaks = std::mem::take(&mut self.peaks).finish();
            let _ = crate::disk::overview::save(&self.path, &peaks);
        }
        let (id, path, in_part) = (self.id, self.path.clone(), self.in_part);
        let dropouts = self.dropouts.clone();
        let mut parts = std::mem::take(&mut self.parts);
        // Dropping the writer tries to finish the header; on a full disk that may fail,
        // and the repair below sets it from what reached the file.
        drop(self);
        let last = crate::disk::repair_wav(&path).map_or(in_part, |r| r.frames);
        parts.push((path.clone(), last));
        let _ = events.send(WriterEvent::Failed {
            id,
            path,
            frames: parts.iter().map(|p| p.1).sum(),
            dropouts,
            why,
            parts,
        });
    }
}

fn run(jobs: Receiver<Open>, events: Sender<WriterEvent>) {
    let mut open: Vec<Open> = Vec::new();
    let mut buf = vec![0.0f32; CHUNK_FRAMES * 2];
    let mut accepting = true;
    while accepting || !open.is_empty() {
        if accepting {
            match jobs.recv_timeout(DRAIN_EVERY) {
                Ok(o) => open.push(o),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => accepting = false,
            }
        } else {
            std::thread::sleep(DRAIN_EVERY);
        }
        let mut i = 0;
        while i < open.len() {
            let o = &mut open[i];
            o.news(&events);
            let mut result = o.drain(&mut buf);
            if result.is_ok() && o.last_sync.elapsed() >= SYNC_EVERY {
                result = o.sync();
            }
            let done = result.is_ok() && o.complete();
            if result.is_err() || done {
                let o = open.swap_remove(i);
                match result {
                    Err(why) => o.give_up(why, &events),
                    Ok(()) => o.finish(&events),
                }
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::recorder::{TakeSource, TakeTap};

    fn wait_event(w: &TakeWriter, want: impl Fn(&WriterEvent) -> bool) -> WriterEvent {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match w.events().recv_timeout(left) {
                Ok(e) if want(&e) => return e,
                Ok(_) => {}
                Err(_) => panic!("no such event from the writer"),
            }
        }
    }

    fn signal(i: usize) -> (f32, f32) {
        let t = i as f32 * 0.001;
        (t.sin() * 0.5, (t * 1.3).cos() * 0.25)
    }

    #[test]
    fn a_stalled_writer_loses_nothing_until_its_ring_is_full_and_keeps_time_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("take.wav");
        // Room for 4096 frames; the writer is not there yet while 6000 are offered.
        let (mut tap, feed) = TakeTap::new(7, TakeSource::Mix, 4096);
        tap.start(0, 0);
        let mut at = 0usize;
        let mut offer = |tap: &mut TakeTap, n: usize, xruns: u64| {
            let (l, r): (Vec<f32>, Vec<f32>) = (at..at + n).map(signal).unzip();
            tap.offer(&l, &r, at as u64, xruns);
            at += n;
        };
        for _ in 0..(6000 / 500) {
            offer(&mut tap, 500, 0);
        }
        assert_eq!(tap.status.lost.load(Relaxed), 2000);
        let writer = TakeWriter::start().unwrap();
        writer
            .write(WriterJob {
                feed,
                path: path.clone(),
                sample_rate: 48_000,
                format: TakeFormat::Float32,
                part_frames: 0,
            })
            .unwrap();
        assert_eq!(
            wait_event(&writer, |e| matches!(e, WriterEvent::Behind { .. })),
            WriterEvent::Behind {
                id: 7,
                lost_frames: 2000
            }
        );
        // The writer keeps up again; a dropout on the way is marked where it was.
        std::thread::sleep(Duration::from_millis(100));
        offer(&mut tap, 500, 1);
        tap.stop(6500);
        offer(&mut tap, 1, 1);
        let done = wait_event(&writer, |e| matches!(e, WriterEvent::Finished { .. }));
        let WriterEvent::Finished {
            frames,
            dropouts,
            lost_frames,
            ..
        } = done
        else {
            unreachable!()
        };
        assert_eq!((frames, lost_frames, dropouts), (6500, 2000, vec![6000]));
        let got: Vec<f32> = hound::WavReader::open(&path)
            .unwrap()
            .samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 6500 * 2);
        for i in 0..6500 {
            let want = if (4000..6000).contains(&i) {
                (0.0, 0.0)
            } else {
                signal(i)
            };
            assert_eq!((got[2 * i], got[2 * i + 1]), want, "frame {i}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a take is its owner's only");
    }

    /// A take longer than a file holds goes on in the next file at the very next frame:
    /// the parts, read one after the other, are the take; each is a whole WAV file.
    #[test]
    fn a_take_that_outgrows_its_file_goes_on_in_the_next_without_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.wav");
        let (mut tap, feed) = TakeTap::new(3, TakeSource::Mix, 48_000);
        tap.start(0, 0);
        let writer = TakeWriter::start().unwrap();
        writer
            .write(WriterJob {
                feed,
                path: path.clone(),
                sample_rate: 48_000,
                format: TakeFormat::Float32,
                part_frames: 1000,
            })
            .unwrap();
        let total = 2777usize;
        let mut at = 0;
        while at < total {
            let n = 333.min(total - at);
            let (l, r): (Vec<f32>, Vec<f32>) = (at..at + n).map(signal).unzip();
            tap.offer(&l, &r, at as u64, 0);
            at += n;
            std::thread::sleep(Duration::from_millis(5));
        }
        tap.stop(total as u64);
        tap.offer(&[0.0], &[0.0], total as u64, 0);
        let WriterEvent::Finished { frames, parts, .. } =
            wait_event(&writer, |e| matches!(e, WriterEvent::Finished { .. }))
        else {
            unreachable!()
        };
        assert_eq!(frames, total as u64);
        let names: Vec<_> = parts
            .iter()
            .map(|(p, n)| (p.file_name().unwrap().to_str().unwrap().to_owned(), *n))
            .collect();
        assert_eq!(
            names,
            vec![
                ("long.wav".to_string(), 1000),
                ("long-part2.wav".to_string(), 1000),
                ("long-part3.wav".to_string(), 777)
            ]
        );
        let mut got = Vec::new();
        for (p, n) in &parts {
            let r = hound::WavReader::open(p).unwrap();
            assert_eq!(
                r.duration() as u64,
                *n,
                "{} says its own length",
                p.display()
            );
            got.extend(r.into_samples::<f32>().map(Result::unwrap));
            assert!(crate::disk::overview::peaks_path(p).is_file());
        }
        for i in 0..total {
            assert_eq!((got[2 * i], got[2 * i + 1]), signal(i), "frame {i}");
        }
        assert_eq!(part_path(&path, 1), path);
        assert_eq!(max_part_frames(TakeFormat::Int24, 0), MAX_DATA_BYTES / 6);
        assert_eq!(max_part_frames(TakeFormat::Int24, 96_000) % 96_000, 0);
    }

    #[test]
    fn a_take_in_24_bits_is_the_signal_to_within_half_a_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("take.wav");
        let (mut tap, feed) = TakeTap::new(1, TakeSource::Instruments, 48_000);
        let writer = TakeWriter::start().unwrap();
        writer
            .write(WriterJob {
                feed,
                path: path.clone(),
                sample_rate: 44_100,
                format: TakeFormat::Int24,
                part_frames: 0,
            })
            .unwrap();
        tap.start(0, 0);
        let (l, r): (Vec<f32>, Vec<f32>) = (0..10_000).map(signal).unzip();
        for k in 0..20 {
            let piece = k * 500..(k + 1) * 500;
            tap.offer(&l[piece.clone()], &r[piece], (k * 500) as u64, 0);
        }
        tap.stop(10_000);
        tap.offer(&[0.0], &[0.0], 10_000, 0);
        wait_event(&writer, |e| matches!(e, WriterEvent::Finished { .. }));
        let mut rd = hound::WavReader::open(&path).unwrap();
        assert_eq!(rd.spec().bits_per_sample, 24);
        assert_eq!(rd.spec().sample_rate, 44_100);
        let got: Vec<i32> = rd.samples::<i32>().map(Result::unwrap).collect();
        assert_eq!(got.len(), 20_000);
        for (i, v) in got.iter().enumerate() {
            let want = if i % 2 == 0 { l[i / 2] } else { r[i / 2] };
            assert!((*v as f32 / 8_388_607.0 - want).abs() <= 0.6 / 8_388_607.0);
        }
    }

    #[test]
    fn a_folder_that_cannot_be_written_is_said_before_the_take_starts() {
        let (_tap, feed) = TakeTap::new(1, TakeSource::Mix, 64);
        let writer = TakeWriter::start().unwrap();
        let e = writer
            .write(WriterJob {
                feed,
                path: "/proc/no-such-dir/take.wav".into(),
                sample_rate: 48_000,
                format: TakeFormat::Int24,
                part_frames: 0,
            })
            .unwrap_err();
        assert!(matches!(e, WriteFailure::Io(_)), "{e:?}");
    }
}
