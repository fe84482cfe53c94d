//! The client's songs, decoded: whatever a USB stick brings (WAV, AIFF, FLAC, MP3, Ogg
//! Vorbis, MP4/M4A with AAC or ALAC) through symphonia, as stereo at the engine's rate
//! (rubato's FFT resampler when the file's rate differs). Not rt: the listen feeder
//! calls it on its own thread and hands the frames over in a ring.
//!
//! Every way a file can fail to play has its own plain message: not there, a folder,
//! not readable, not a sound file, a sound Samspill has no decoder for, broken.

use std::fs::File;
use std::path::{Path, PathBuf};

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTagKey, Value};
use symphonia::core::probe::Hint;
use symphonia::core::units::Time;

/// Input frames the resampler takes at once.
const RESAMPLE_CHUNK: usize = 1024;
/// Broken packets in a row after which a file is given up as broken.
const MAX_BAD_PACKETS: u32 = 50;

#[derive(Clone, Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} is not there (moved, renamed or on a USB stick that was taken out)")]
    Missing(PathBuf),
    #[error("{0} is a folder, not a song")]
    Folder(PathBuf),
    #[error("{0} cannot be read: {1}")]
    Unreadable(PathBuf, String),
    #[error("{0} is not a sound file Samspill knows (it plays WAV, AIFF, FLAC, MP3, Ogg Vorbis and M4A/MP4 with AAC or ALAC)")]
    NotSound(PathBuf),
    #[error("{0} holds sound in a form Samspill cannot play ({1}); convert it to MP3 or FLAC")]
    Codec(PathBuf, String),
    #[error("{0} is broken: {1}")]
    Broken(PathBuf, String),
}

/// What a file says about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// ReplayGain's track gain (dB) and peak (linear), when the file carries them.
    pub replay_gain_db: Option<f32>,
    pub replay_peak: Option<f32>,
}

/// An open song: its decoder, and the frames decoded but not yet taken.
pub struct SongFile {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    /// The file's own rate and channel count.
    pub file_rate: u32,
    pub channels: usize,
    /// Frames at the file's rate, when the file says.
    pub file_frames: Option<u64>,
    pub tags: Tags,
    samples: Option<(SampleBuffer<f32>, symphonia::core::audio::SignalSpec)>,
    /// Frames to drop before the next ones count (an accurate seek lands before).
    skip: u64,
    bad_in_a_row: u32,
    /// Packets that would not decode and were left out.
    pub bad_packets: u64,
    ended: bool,
}

/// Where the checks before opening say a path fails.
pub fn check_path(path: &Path) -> Result<(), DecodeError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(DecodeError::Missing(path.to_owned()))
        }
        Err(e) => Err(DecodeError::Unreadable(path.to_owned(), e.to_string())),
        Ok(m) if m.is_dir() => Err(DecodeError::Folder(path.to_owned())),
        Ok(_) => Ok(()),
    }
}

fn tags_from(rev: &MetadataRevision, tags: &mut Tags) {
    for t in rev.tags() {
        let text = match &t.value {
            Value::String(s) => s.trim().to_string(),
            Value::Float(f) => f.to_string(),
            Value::SignedInt(i) => i.to_string(),
            Value::UnsignedInt(i) => i.to_string(),
            _ => continue,
        };
        // "-6.20 dB", "+1.5 dB", "0.98"
        let number = || {
            text.trim_end_matches(|c: char| c.is_alphabetic() || c.is_whitespace())
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
        };
        match t.std_key {
            Some(StandardTagKey::TrackTitle) => tags.title = Some(text),
            Some(StandardTagKey::Artist) => tags.artist = Some(text),
            Some(StandardTagKey::Album) => tags.album = Some(text),
            Some(StandardTagKey::ReplayGainTrackGain) => tags.replay_gain_db = number(),
            Some(StandardTagKey::ReplayGainTrackPeak) => tags.replay_peak = number(),
            _ => {}
        }
    }
}

impl SongFile {
    /// Not rt: opens and probes `path` by its content (a wrong extension is fine).
    pub fn open(path: &Path) -> Result<SongFile, DecodeError> {
        check_path(path)?;
        let file = File::open(path)
            .map_err(|e| DecodeError::Unreadable(path.to_owned(), e.to_string()))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let opts = FormatOptions {
            enable_gapless: true,
            ..Default::default()
        };
        let mut probed = symphonia::default::get_probe()
            .format(&hint, mss, &opts, &MetadataOptions::default())
            .map_err(|e| match e {
                SymError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
                    DecodeError::Unreadable(path.to_owned(), io.to_string())
                }
                SymError::Unsupported(_) | SymError::IoError(_) => {
                    DecodeError::NotSound(path.to_owned())
                }
                other => DecodeError::Broken(path.to_owned(), other.to_string()),
            })?;
        let mut tags = Tags::default();
        if let Some(rev) = probed.metadata.get().as_ref().and_then(|m| m.current()) {
            tags_from(rev, &mut tags);
        }
        let mut format = probed.format;
        if let Some(rev) = format.metadata().current() {
            tags_from(rev, &mut tags);
        }
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| DecodeError::NotSound(path.to_owned()))?;
        let params = track.codec_params.clone();
        let id = track.id;
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|_| {
                let name = symphonia::default::get_codecs()
                    .get_codec(params.codec)
                    .map(|d| d.short_name.to_string())
                    .unwrap_or_else(|| "a codec Samspill does not have".into());
                DecodeError::Codec(path.to_owned(), name)
            })?;
        let file_rate = params
            .sample_rate
            .filter(|r| (1_000..=768_000).contains(r))
            .ok_or_else(|| DecodeError::Broken(path.to_owned(), "no sample rate".into()))?;
        let channels = params.channels.map_or(0, |c| c.count());
        Ok(SongFile {
            path: path.to_owned(),
            format,
            decoder,
            track: id,
            file_rate,
            channels,
            file_frames: params.n_frames,
            tags,
            samples: None,
            skip: 0,
            bad_in_a_row: 0,
            bad_packets: 0,
            ended: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seconds the file lasts, when it says.
    pub fn secs(&self) -> Option<f64> {
        self.file_frames
            .map(|f| f as f64 / self.file_rate.max(1) as f64)
    }

    /// Not rt: goes to `secs` into the song, to the frame (decoding from the packet before).
    pub fn seek(&mut self, secs: f64) -> Result<(), DecodeError> {
        let secs = secs.max(0.0);
        let to = SeekTo::Time {
            time: Time::from(secs),
            track_id: Some(self.track),
        };
        match self.format.seek(SeekMode::Accurate, to) {
            Ok(at) => {
                self.decoder.reset();
                self.skip = at.required_ts.saturating_sub(at.actual_ts);
                self.ended = false;
                self.bad_in_a_row = 0;
                Ok(())
            }
            // Past the end: nothing more to play.
            Err(SymError::IoError(_)) | Err(SymError::SeekError(_)) => {
                self.ended = true;
                Ok(())
            }
            Err(e) => Err(DecodeError::Broken(self.path.clone(), e.to_string())),
        }
    }

    /// Not rt: the next decoded frames at the file's rate, as stereo interleaved, added
    /// to `out`. `Ok(false)` at the end of the song. A packet that does not decode is
    /// left out (counted); a file that keeps failing is broken.
    pub fn decode_more(&mut self, out: &mut Vec<f32>) -> Result<bool, DecodeError> {
        loop {
            if self.ended {
                return Ok(false);
            }
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.ended = true;
                    return Ok(false);
                }
                Err(SymError::ResetRequired) => {
                    self.decoder.reset();
                    continue;
                }
                Err(e) => {
                    // A file cut short mid-packet: what came before plays.
                    self.ended = true;
                    if self.bad_packets == 0 && self.samples.is_none() {
                        return Err(DecodeError::Broken(self.path.clone(), e.to_string()));
                    }
                    return Ok(false);
                }
            };
            if packet.track_id() != self.track {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(why)) => {
                    self.bad_packets += 1;
                    self.bad_in_a_row += 1;
                    if self.bad_in_a_row >= MAX_BAD_PACKETS {
                        self.ended = true;
                        return Err(DecodeError::Broken(self.path.clone(), why.to_string()));
                    }
                    continue;
                }
                Err(SymError::IoError(_)) => {
                    self.ended = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.ended = true;
                    return Err(DecodeError::Broken(self.path.clone(), e.to_string()));
                }
            };
            self.bad_in_a_row = 0;
            let spec = *decoded.spec();
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let need = decoded.capacity() as u64;
            let buf = match &mut self.samples {
                Some((b, s))
                    if *s == spec && b.capacity() as u64 >= need * spec.channels.count() as u64 =>
                {
                    b
                }
                slot => &mut slot.insert((SampleBuffer::new(need, spec), spec)).0,
            };
            buf.copy_interleaved_ref(decoded);
            let ch = spec.channels.count().max(1);
            let samples = buf.samples();
            let skip = (self.skip.min(frames as u64)) as usize;
            self.skip -= skip as u64;
            for f in samples.chunks_exact(ch).skip(skip) {
                let (l, r) = stereo(f);
                out.push(l);
                out.push(r);
            }
            if skip < frames {
                return Ok(true);
            }
        }
    }
}

/// A frame of any channel count as stereo: mono on both sides; more than two, the
/// front pair with the centre (third) at -3 dB on each side.
fn stereo(f: &[f32]) -> (f32, f32) {
    let clean = |v: f32| if v.is_finite() { v } else { 0.0 };
    match f {
        [m] => (clean(*m), clean(*m)),
        [l, r] => (clean(*l), clean(*r)),
        [l, r, c, ..] => {
            let c = clean(*c) * std::f32::consts::FRAC_1_SQRT_2;
            (clean(*l) + c, clean(*r) + c)
        }
        [] => (0.0, 0.0),
    }
}

/// A song as stereo frames at the engine's rate: the file decoded and, if its rate
/// differs, resampled.
pub struct SongStream {
    file: SongFile,
    rate: u32,
    resampler: Option<Box<FftFixedIn<f32>>>,
    /// Decoded frames at the file's rate waiting for the resampler (planar L, R).
    waiting: [Vec<f32>; 2],
    /// Resampler output frames still to drop (its delay).
    delay: usize,
    decoded: Vec<f32>,
    out_planes: Vec<Vec<f32>>,
    file_done: bool,
    /// Frames decoded (file rate) and given out (engine rate): the song keeps its length.
    in_total: u64,
    out_total: u64,
}

impl SongStream {
    /// Not rt: `file` played at `rate`.
    pub fn new(file: SongFile, rate: u32) -> Result<SongStream, DecodeError> {
        let resampler = if file.file_rate != rate {
            let r = FftFixedIn::<f32>::new(
                file.file_rate as usize,
                rate as usize,
                RESAMPLE_CHUNK,
                2,
                2,
            )
            .map_err(|e| DecodeError::Broken(file.path.clone(), e.to_string()))?;
            Some(Box::new(r))
        } else {
            None
        };
        let delay = resampler.as_ref().map_or(0, |r| r.output_delay());
        let out_planes = resampler
            .as_ref()
            .map_or_else(Vec::new, |r| r.output_buffer_allocate(true));
        Ok(SongStream {
            file,
            rate,
            resampler,
            waiting: [Vec::new(), Vec::new()],
            delay,
            decoded: Vec::new(),
            out_planes,
            file_done: false,
            in_total: 0,
            out_total: 0,
        })
    }

    pub fn file(&self) -> &SongFile {
        &self.file
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Not rt: starts again `secs` into the song.
    pub fn seek(&mut self, secs: f64) -> Result<(), DecodeError> {
        self.file.seek(secs)?;
        self.waiting[0].clear();
        self.waiting[1].clear();
        self.decoded.clear();
        self.file_done = false;
        self.in_total = 0;
        self.out_total = 0;
        if let Some(r) = &mut self.resampler {
            r.reset();
            self.delay = r.output_delay();
        }
        Ok(())
    }

    /// Not rt: the next frames, interleaved stereo at the engine's rate, added to `out`.
    /// `Ok(false)` once the song has given everything.
    pub fn read(&mut self, out: &mut Vec<f32>) -> Result<bool, DecodeError> {
        let Some(r) = self.resampler.as_mut() else {
            return self.file.decode_more(out);
        };
        let need = r.input_frames_next();
        while self.waiting[0].len() < need && !self.file_done {
            self.decoded.clear();
            if !self.file.decode_more(&mut self.decoded)? {
                self.file_done = true;
            }
            for f in self.decoded.chunks_exact(2) {
                self.waiting[0].push(f[0]);
                self.waiting[1].push(f[1]);
            }
        }
        let path = &self.file.path;
        let broken = |e: rubato::ResampleError| DecodeError::Broken(path.clone(), e.to_string());
        let made = if self.waiting[0].len() >= need {
            let (_, made) = r
                .process_into_buffer(&self.waiting, &mut self.out_planes, None)
                .map_err(broken)?;
            for w in &mut self.waiting {
                w.drain(..need);
            }
            self.in_total += need as u64;
            made
        } else {
            // The song's end: its last frames, then silence pushed through the resampler
            // until all of the song has come out, and not a frame more.
            let expected = crate::prep::resample::resampled_len(
                (self.in_total + self.waiting[0].len() as u64) as usize,
                self.file.file_rate,
                self.rate,
            ) as u64;
            if self.out_total >= expected {
                return Ok(false);
            }
            let (used, made) = if self.waiting[0].is_empty() {
                r.process_partial_into_buffer(None::<&[Vec<f32>]>, &mut self.out_planes, None)
            } else {
                r.process_partial_into_buffer(Some(&self.waiting), &mut self.out_planes, None)
            }
            .map_err(broken)?;
            let had = self.waiting[0].len();
            for w in &mut self.waiting {
                w.clear();
            }
            debug_assert!(used >= had);
            self.in_total += had as u64;
            let room = (expected - self.out_total) as usize + self.delay;
            made.min(room)
        };
        let skip = self.delay.min(made);
        self.delay -= skip;
        for i in skip..made {
            out.push(self.out_planes[0][i]);
            out.push(self.out_planes[1][i]);
        }
        self.out_total += (made - skip) as u64;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random bytes behind the first bytes of every format Samspill reads: the probe
    /// and the decoder refuse or play them, never panic.
    #[test]
    fn any_file_is_refused_or_played_without_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let heads: [&[u8]; 8] = [
            b"RIFF\x24\x00\x00\x00WAVEfmt ",
            b"fLaC\x00\x00\x00\x22",
            b"ID3\x04\x00\x00\x00\x00\x00\x00",
            b"\xFF\xFB\x90\x64",
            b"OggS\x00\x02",
            b"\x00\x00\x00\x20ftypM4A ",
            b"FORM\x00\x00\x10\x00AIFF",
            b"",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..160 {
            let head = heads[round % heads.len()];
            let len = (next() % 6000) as usize;
            let mut bytes = head.to_vec();
            bytes.extend((0..len).map(|_| next() as u8));
            let path = dir.path().join(format!("f{round}.bin"));
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(f) = SongFile::open(&path) {
                if let Ok(mut s) = SongStream::new(f, 48_000) {
                    let mut out = Vec::new();
                    for _ in 0..64 {
                        match s.read(&mut out) {
                            Ok(true) => {}
                            _ => break,
                        }
                    }
                    assert!(out.iter().all(|v| v.is_finite()));
                }
            }
        }
    }
}
