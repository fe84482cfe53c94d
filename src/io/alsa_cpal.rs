//! ALSA through cpal: an output stream that runs the engine, and a separate input stream
//! whose frames cross to it through a ring buffer pre-filled with one buffer of silence.
//! Running dry or over is counted in `shared.xruns`, never waited on.

use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::Release,
};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    ErrorKind, FromSample, InputCallbackInfo, OutputCallbackInfo, Sample, SampleFormat,
    SizedSample, StreamConfig, SupportedBufferSize, SupportedStreamConfigRange,
};
use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::crossing::Crossing;

use super::backend::{
    AudioStream, Backend, BackendKind, Health, LostFlag, LostReason, StreamContext, StreamInfo,
};
use super::engine_cell::EngineCell;
use super::error::IoError;
use super::midi_queue::{for_each_chunk, now_nanos, MidiScheduler};
use crate::engine::{Shared, MAX_INPUTS};

/// Most device input channels the engine can read (a stereo pair per strip).
pub const MAX_INPUT_CHANNELS: usize = MAX_INPUTS * 2;
/// How long cpal may take to set a stream up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(3);

/// ALSA devices by the names `samspill devices` prints; `None` is the system default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlsaBackend {
    pub output_device: Option<String>,
    pub input_device: Option<String>,
    pub sample_rate: u32,
    pub buffer_frames: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Output,
    Input,
}

pub(crate) fn alsa_host() -> Result<cpal::Host, IoError> {
    cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| IoError::DeviceOpen {
        device: "ALSA".into(),
        reason: e.to_string(),
    })
}

/// The PCM name ALSA knows a device by ("default", "hw:CARD=USB,DEV=0").
pub(crate) fn pcm_name(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// A readable one-line name ("USB Audio, USB Audio").
pub(crate) fn friendly_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_default()
}

/// Whether this machine has any sound card at all (ALSA PCM device nodes).
pub(crate) fn has_sound_card() -> bool {
    std::fs::read_dir("/dev/snd")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("pcmC"))
        })
        .unwrap_or(false)
}

fn is_default(name: Option<&str>) -> bool {
    matches!(name, None | Some("") | Some("default"))
}

/// Whether opening `name` is worth trying now. Without a card, ALSA's default device
/// cannot work and every attempt prints ALSA's own complaints on stderr.
pub(crate) fn worth_trying(name: Option<&str>) -> bool {
    has_sound_card() || !(is_default(name) || name.is_some_and(|n| n.contains("hw:")))
}

/// Finds a device by PCM name or by its readable name (case does not matter).
pub(crate) fn find_device(
    host: &cpal::Host,
    name: Option<&str>,
    dir: Direction,
) -> Result<cpal::Device, IoError> {
    if is_default(name) {
        let d = match dir {
            Direction::Output => host.default_output_device(),
            Direction::Input => host.default_input_device(),
        };
        return d.ok_or(IoError::NoSoundCard);
    }
    let name = name.unwrap_or_default();
    let devices = host.devices().map_err(|e| IoError::DeviceOpen {
        device: name.to_string(),
        reason: e.to_string(),
    })?;
    let mut by_label = None;
    for d in devices {
        let fits = match dir {
            Direction::Output => d.supports_output(),
            Direction::Input => d.supports_input(),
        };
        if pcm_name(&d) == name {
            return Ok(d);
        }
        if fits && by_label.is_none() && friendly_name(&d).eq_ignore_ascii_case(name) {
            by_label = Some(d);
        }
    }
    by_label.ok_or_else(|| IoError::UnknownDevice(name.to_string()))
}

fn open_error(device: &str, e: cpal::Error) -> IoError {
    if is_default(Some(device)) && !has_sound_card() {
        return IoError::NoSoundCard;
    }
    let reason = match e.kind() {
        ErrorKind::DeviceBusy => {
            "another program is using it. Close that program or choose another device.".into()
        }
        ErrorKind::DeviceNotAvailable => "it is not connected.".into(),
        ErrorKind::PermissionDenied => {
            "this user may not use it (add the user to the group \"audio\").".into()
        }
        _ => e.to_string(),
    };
    IoError::DeviceOpen {
        device: device.to_string(),
        reason,
    }
}

fn format_rank(f: SampleFormat) -> Option<u8> {
    match f {
        SampleFormat::F32 => Some(0),
        SampleFormat::I32 => Some(1),
        SampleFormat::I16 => Some(2),
        _ => None,
    }
}

fn buffer_fits(range: &SupportedStreamConfigRange, frames: u32) -> bool {
    match range.buffer_size() {
        SupportedBufferSize::Range { min, max } => (*min..=*max).contains(&frames),
        SupportedBufferSize::Unknown => true,
    }
}

/// Picks a configuration at exactly `rate` and `frames`: enough channels first (the
/// fewest that suffice), then float over integer samples. The error is a hint for people.
pub(crate) fn choose_config(
    ranges: &[SupportedStreamConfigRange],
    rate: u32,
    frames: u32,
    want_channels: u16,
) -> Result<(StreamConfig, SampleFormat), String> {
    let best = ranges
        .iter()
        .filter(|r| r.contains_rate(rate) && buffer_fits(r, frames))
        .filter_map(|r| {
            let fr = format_rank(r.sample_format())?;
            let ch = r.channels();
            let fit = if ch >= want_channels {
                (0, ch - want_channels)
            } else {
                (1, want_channels - ch)
            };
            Some((fit, fr, r))
        })
        .min_by_key(|(fit, fr, _)| (*fit, *fr));
    if let Some((_, _, r)) = best {
        return Ok((
            StreamConfig {
                channels: r.channels(),
                sample_rate: rate,
                buffer_size: cpal::BufferSize::Fixed(frames),
            },
            r.sample_format(),
        ));
    }
    let usable: Vec<_> = ranges
        .iter()
        .filter(|r| format_rank(r.sample_format()).is_some())
        .collect();
    if usable.is_empty() {
        return Err("It uses a sample format Samspill cannot read.".into());
    }
    if !usable.iter().any(|r| r.contains_rate(rate)) {
        let rates: Vec<u32> = [44_100, 48_000, 88_200, 96_000, 192_000]
            .into_iter()
            .filter(|s| usable.iter().any(|r| r.contains_rate(*s)))
            .collect();
        let mut names: Vec<String> = rates.iter().map(|x| x.to_string()).collect();
        return Err(match names.pop() {
            None => "Choose another sample rate in Settings.".into(),
            Some(last) if names.is_empty() => {
                format!("It can play at {last} Hz; choose that in Settings.")
            }
            Some(last) => format!(
                "It can play at {} or {last} Hz; choose one of those in Settings.",
                names.join(", ")
            ),
        });
    }
    let (lo, hi) = usable
        .iter()
        .filter_map(|r| match r.buffer_size() {
            SupportedBufferSize::Range { min, max } => Some((*min, *max)),
            SupportedBufferSize::Unknown => None,
        })
        .fold((u32::MAX, 0), |(a, b), (min, max)| (a.min(min), b.max(max)));
    Err(format!(
        "It accepts buffers from {lo} to {hi} frames; choose another buffer size in Settings."
    ))
}

struct AlsaStream {
    // Input first: it is dropped first, so the output never waits on a dead producer.
    _input: Option<cpal::Stream>,
    _output: cpal::Stream,
    lost: Arc<LostFlag>,
    info: StreamInfo,
}

// Safety net for the trait object: cpal's ALSA streams are Send.
const _: () = {
    fn assert_send<T: Send>() {}
    let _ = assert_send::<cpal::Stream>;
};

impl AudioStream for AlsaStream {
    fn info(&self) -> StreamInfo {
        self.info.clone()
    }
    fn health(&self) -> Health {
        self.lost.health()
    }
}

impl Backend for AlsaBackend {
    fn open(&self, ctx: &StreamContext) -> Result<Box<dyn AudioStream>, IoError> {
        let rate = super::check_sample_rate(self.sample_rate)?;
        let frames = super::check_buffer_frames(self.buffer_frames)?;
        let out_name = self.output_device.as_deref();
        let out_label = out_name.unwrap_or("default").to_string();
        if !worth_trying(out_name) {
            return Err(IoError::NoSoundCard);
        }
        let host = alsa_host()?;
        let out_dev = find_device(&host, out_name, Direction::Output)?;
        let ranges: Vec<_> = out_dev
            .supported_output_configs()
            .map_err(|e| open_error(&out_label, e))?
            .collect();
        let (out_cfg, out_fmt) =
            choose_config(&ranges, rate, frames, 2).map_err(|hint| IoError::Unsupported {
                device: out_label.clone(),
                rate,
                frames,
                hint,
            })?;

        // Made before the engine is lent: it plays on meanwhile.
        let assets = crate::prep::for_rate(rate);
        let engine_latency = ctx
            .engine
            .with(Duration::from_secs(2), |e| {
                e.set_sample_rate(assets);
                e.latency_frames() as u32
            })
            .ok_or(IoError::EngineBusy)?;
        now_nanos();

        let lost = Arc::new(LostFlag::default());
        let in_latency = Arc::new(AtomicU32::new(0));
        let input_started = Arc::new(AtomicBool::new(false));
        let push_times = Arc::new(AtomicU64::new(0));
        let push_seq = Arc::new(AtomicU64::new(0));
        let want_in = ctx.input_channels.min(MAX_INPUT_CHANNELS) as u16;

        // The input is optional: without it the output still plays the instruments.
        let mut input_problem = None;
        let mut input = None;
        if want_in > 0 {
            match self.open_input(
                ctx,
                &host,
                rate,
                frames,
                want_in,
                &lost,
                &in_latency,
                &input_started,
                &push_times,
                &push_seq,
            ) {
                Ok(i) => input = Some(i),
                Err(e) => input_problem = Some(e.to_string()),
            }
        }
        let (in_stream, cons, in_channels) = match input {
            Some((s, c, ch)) => (Some(s), Some(c), ch),
            None => (None, None, 0),
        };
        // Another input device runs on a clock of its own: its drift is followed.
        let own_clock = self.input_device.as_deref().unwrap_or("default")
            != self.output_device.as_deref().unwrap_or("default");

        // Audio blocks are usually exactly `frames`; longer ones are cut into pieces.
        let chunk = (frames as usize * 2).max(1024);
        let side = OutputSide {
            engine: ctx.engine.clone(),
            shared: ctx.shared.clone(),
            crossing: cons.map(|c| Crossing::new(c, in_channels, rate, frames, own_clock, chunk)),
            push_times: push_times.clone(),
            push_seq: push_seq.clone(),
            in_channels,
            out_channels: out_cfg.channels as usize,
            interleaved: vec![0.0; chunk * in_channels.max(1)],
            planar: vec![vec![0.0; chunk]; in_channels],
            left: vec![0.0; chunk],
            right: vec![0.0; chunk],
            click: [vec![0.0; chunk], vec![0.0; chunk]],
            midi: MidiScheduler::new(ctx.midi.clone(), ctx.counters.clone()),
            rate,
            in_latency,
            input_started,
            // The ring holds one buffer of input; the engine adds its look-ahead.
            fixed_latency: if in_channels > 0 { frames } else { 0 } + engine_latency,
        };
        let err = error_handler(ctx.shared.clone(), lost.clone());
        let out_stream = match out_fmt {
            SampleFormat::F32 => build_output::<f32>(&out_dev, out_cfg, side, err),
            SampleFormat::I32 => build_output::<i32>(&out_dev, out_cfg, side, err),
            _ => build_output::<i16>(&out_dev, out_cfg, side, err),
        }
        .map_err(|e| open_error(&out_label, e))?;
        out_stream.play().map_err(|e| open_error(&out_label, e))?;
        if let Some(s) = &in_stream {
            if let Err(e) = s.play() {
                input_problem = Some(e.to_string());
            }
        }
        let in_label = self.input_device.as_deref().unwrap_or("default");
        Ok(Box::new(AlsaStream {
            _input: in_stream,
            _output: out_stream,
            lost,
            info: StreamInfo {
                backend: BackendKind::Alsa,
                device: out_label,
                sample_rate: rate,
                buffer_frames: frames,
                input_channels: in_channels,
                input_problem: input_problem
                    .map(|p| format!("The input \"{in_label}\" could not be opened: {p}")),
            },
        }))
    }
}

impl AlsaBackend {
    #[allow(clippy::too_many_arguments)]
    fn open_input(
        &self,
        ctx: &StreamContext,
        host: &cpal::Host,
        rate: u32,
        frames: u32,
        want: u16,
        lost: &Arc<LostFlag>,
        in_latency: &Arc<AtomicU32>,
        started: &Arc<AtomicBool>,
        push_times: &Arc<AtomicU64>,
        push_seq: &Arc<AtomicU64>,
    ) -> Result<(cpal::Stream, HeapCons<f32>, usize), IoError> {
        let name = self.input_device.as_deref();
        let label = name.unwrap_or("default").to_string();
        let dev = find_device(host, name, Direction::Input)?;
        let ranges: Vec<_> = dev
            .supported_input_configs()
            .map_err(|e| open_error(&label, e))?
            .collect();
        let (cfg, fmt) =
            choose_config(&ranges, rate, frames, want).map_err(|hint| IoError::Unsupported {
                device: label.clone(),
                rate,
                frames,
                hint,
            })?;
        let ch = (cfg.channels as usize).min(MAX_INPUT_CHANNELS);
        let device_channels = cfg.channels as usize;
        // Room for four buffers; one buffer of silence sets the latency.
        let rb = HeapRb::<f32>::new(ch * frames as usize * 4);
        let (mut prod, cons) = rb.split();
        prod.push_iter(std::iter::repeat_n(0.0, ch * frames as usize));
        let side = InputSide {
            prod,
            shared: ctx.shared.clone(),
            channels: ch,
            device_channels,
            rate,
            in_latency: in_latency.clone(),
            started: started.clone(),
            push_times: push_times.clone(),
            push_seq: push_seq.clone(),
        };
        let err = error_handler(ctx.shared.clone(), lost.clone());
        let stream = match fmt {
            SampleFormat::F32 => build_input::<f32>(&dev, cfg, side, err),
            SampleFormat::I32 => build_input::<i32>(&dev, cfg, side, err),
            _ => build_input::<i16>(&dev, cfg, side, err),
        }
        .map_err(|e| open_error(&label, e))?;
        Ok((stream, cons, ch))
    }
}

/// Not rt, but on the stream's thread: counts xruns, notices a device that went away.
fn error_handler(shared: Arc<Shared>, lost: Arc<LostFlag>) -> impl FnMut(cpal::Error) + Send {
    move |e: cpal::Error| match e.kind() {
        ErrorKind::Xrun => Shared::count(&shared.xruns),
        ErrorKind::DeviceNotAvailable
        | ErrorKind::StreamInvalidated
        | ErrorKind::HostUnavailable => lost.raise(LostReason::DeviceGone),
        _ => {}
    }
}

fn build_output<T>(
    dev: &cpal::Device,
    cfg: StreamConfig,
    mut side: OutputSide,
    err: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let shared = side.shared.clone();
    dev.build_output_stream::<T, _, _>(
        cfg,
        move |data: &mut [T], info: &OutputCallbackInfo| {
            super::backend::checked_callback(&shared, || side.render(data, info))
        },
        err,
        Some(OPEN_TIMEOUT),
    )
}

fn build_input<T>(
    dev: &cpal::Device,
    cfg: StreamConfig,
    mut side: InputSide,
    err: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let shared = side.shared.clone();
    dev.build_input_stream::<T, _, _>(
        cfg,
        move |data: &[T], info: &InputCallbackInfo| {
            super::backend::checked_callback(&shared, || side.capture(data, info))
        },
        err,
        Some(OPEN_TIMEOUT),
    )
}

/// Frames in `d`, to the nearest: cpal turns its frame counts into whole nanoseconds
/// (256 frames at 48 kHz are 5 333 333 ns), and truncating them back would lose a frame
/// per direction from the round trip.
fn frames_of(d: Duration, rate: u32) -> u32 {
    ((d.as_nanos() * rate as u128 + 500_000_000) / 1_000_000_000) as u32
}

/// The input callback's state: the producing half of the crossing.
pub(crate) struct InputSide {
    prod: HeapProd<f32>,
    shared: Arc<Shared>,
    /// Channels kept per frame (the device may have more).
    channels: usize,
    device_channels: usize,
    rate: u32,
    in_latency: Arc<AtomicU32>,
    started: Arc<AtomicBool>,
    /// Σ (`now_nanos` of a push × frames pushed), wrapping: how long the input waited in
    /// the ring, for the output's fill keeper.
    push_times: Arc<AtomicU64>,
    push_seq: Arc<AtomicU64>,
}

impl InputSide {
    /// rt: pushes whole frames into the ring; what does not fit is dropped and counted.
    fn capture<T: Sample>(&mut self, data: &[T], info: &InputCallbackInfo)
    where
        f32: FromSample<T>,
    {
        let ts = info.timestamp();
        let lat = ts.callback.saturating_duration_since(ts.capture);
        self.in_latency.store(frames_of(lat, self.rate), Relaxed);
        self.push(data);
    }

    /// rt: the input callback's frames into the ring, as f32; what does not fit is counted.
    fn push<T: Sample>(&mut self, data: &[T])
    where
        f32: FromSample<T>,
    {
        let dc = self.device_channels.max(1);
        let frames = data.len() / dc;
        let fit = (self.prod.vacant_len() / self.channels.max(1)).min(frames);
        if fit < frames {
            Shared::count(&self.shared.xruns);
        }
        let ch = self.channels;
        let samples = data
            .chunks_exact(dc)
            .take(fit)
            .flat_map(|f| f[..ch].iter().map(|s| s.to_sample::<f32>()));
        // Odd while the push and its time are out of step (see `Crossing::begin`).
        self.push_seq.fetch_add(1, Relaxed);
        fence(Release);
        self.prod.push_iter(samples);
        // Time × frames, summed (wrapping): the output side integrates the ring's fill.
        self.push_times
            .fetch_add(now_nanos().wrapping_mul(fit as u64), Relaxed);
        self.push_seq.fetch_add(1, Release);
        self.started.store(true, Relaxed);
    }
}

/// The output callback's state: everything allocated before the stream starts.
pub(crate) struct OutputSide {
    engine: Arc<EngineCell>,
    shared: Arc<Shared>,
    /// The input ring and what keeps its fill (and the round trip) where it settled.
    crossing: Option<Crossing>,
    push_times: Arc<AtomicU64>,
    push_seq: Arc<AtomicU64>,
    in_channels: usize,
    out_channels: usize,
    interleaved: Vec<f32>,
    planar: Vec<Vec<f32>>,
    left: Vec<f32>,
    right: Vec<f32>,
    /// The click's own pair: outputs 3 and 4, when the device has them.
    click: [Vec<f32>; 2],
    midi: MidiScheduler,
    rate: u32,
    in_latency: Arc<AtomicU32>,
    input_started: Arc<AtomicBool>,
    fixed_latency: u32,
}

impl OutputSide {
    /// rt: input from the ring, the engine, interleaved out.
    fn render<T: Sample + FromSample<f32>>(&mut self, data: &mut [T], info: &OutputCallbackInfo) {
        let ts = info.timestamp();
        let out_latency = frames_of(
            ts.playback.saturating_duration_since(ts.callback),
            self.rate,
        );
        self.shared.latency_frames.store(
            self.in_latency.load(Relaxed) + self.fixed_latency + out_latency,
            Relaxed,
        );
        self.run(data, now_nanos());
    }

    /// rt: the part that does not need cpal's timing, so tests can drive it.
    fn run<T: Sample + FromSample<f32>>(&mut self, data: &mut [T], now: u64) {
        let oc = self.out_channels.max(1);
        let frames = data.len() / oc;
        let chunk = self.left.len();
        if self.input_started.load(Relaxed) {
            if let Some(c) = self.crossing.as_mut() {
                c.begin(now, &self.push_times, &self.push_seq);
                let k = c.keeper();
                self.shared.input_recentred.store(k.corrections(), Relaxed);
                let (fill, settled) = k.fill();
                let frames = |f: Option<f64>| f.map_or(0, |f| f.round().max(0.0) as u32);
                self.shared.input_ring_frames.store(frames(fill), Relaxed);
                self.shared
                    .input_ring_settled
                    .store(frames(settled), Relaxed);
            }
        }
        let Self {
            engine,
            shared,
            crossing,
            in_channels,
            interleaved,
            planar,
            left,
            right,
            click,
            midi,
            rate,
            input_started,
            ..
        } = self;
        let ic = *in_channels;
        let events = midi.collect(now, frames, *rate);
        for_each_chunk(frames, chunk, events, |start, len, ev| {
            if let Some(crossing) = crossing.as_mut() {
                let full = crossing.read(&mut interleaved[..len * ic], len);
                if !full && input_started.load(Relaxed) {
                    Shared::count(&shared.xruns);
                }
                for (c, plane) in planar.iter_mut().enumerate() {
                    for (i, s) in plane[..len].iter_mut().enumerate() {
                        *s = interleaved[i * ic + c];
                    }
                }
            }
            let mut ins: [&[f32]; MAX_INPUT_CHANNELS] = [&[]; MAX_INPUT_CHANNELS];
            for (slot, plane) in ins.iter_mut().zip(planar.iter()) {
                *slot = &plane[..len];
            }
            let (l, r) = (&mut left[..len], &mut right[..len]);
            let [cl, cr] = click;
            let (cl, cr) = (&mut cl[..len], &mut cr[..len]);
            match engine.lend() {
                Some(mut e) if oc >= 4 => {
                    e.process_with_click(&ins[..ic], l, r, Some((&mut *cl, &mut *cr)), ev)
                }
                Some(mut e) => e.process(&ins[..ic], l, r, ev),
                None => {
                    // The control side has the engine for a moment (a new sample rate).
                    for out in [&mut *l, &mut *r, &mut *cl, &mut *cr] {
                        out.fill(0.0);
                    }
                }
            }
            let out = &mut data[start * oc..(start + len) * oc];
            for (i, frame) in out.chunks_exact_mut(oc).enumerate() {
                if oc == 1 {
                    frame[0] = T::from_sample((l[i] + r[i]) * 0.5);
                } else {
                    frame[0] = T::from_sample(l[i]);
                    frame[1] = T::from_sample(r[i]);
                    for (k, s) in frame[2..].iter_mut().enumerate() {
                        *s = match k {
                            0 => T::from_sample(cl[i]),
                            1 => T::from_sample(cr[i]),
                            _ => T::EQUILIBRIUM,
                        };
                    }
                }
            }
        });
    }
}

/// Not rt: ALSA device names given on the command line, checked now, so that a typo stops
/// there in plain words instead of leaving Samspill waiting for a device that does not
/// exist. "default" and no name pass.
pub fn check_alsa_names(output: Option<&str>, input: Option<&str>) -> Result<(), IoError> {
    let named = [(output, Direction::Output), (input, Direction::Input)];
    if named.iter().all(|(n, _)| n.is_none()) {
        return Ok(());
    }
    let alsa = alsa_host()?;
    for (name, dir) in named {
        if let Some(n) = name.filter(|n| *n != "default") {
            if let Err(e @ IoError::UnknownDevice(_)) = find_device(&alsa, Some(n), dir) {
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::midi_queue::{IoCounters, MidiSender};
    use crate::{new_engine, EngineConfig};

    fn range(ch: u16, fmt: SampleFormat, lo: u32, hi: u32) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(
            ch,
            lo,
            hi,
            SupportedBufferSize::Range { min: 64, max: 4096 },
            fmt,
        )
    }

    #[test]
    fn the_config_has_enough_channels_and_float_samples_when_it_can() {
        let ranges = [
            range(2, SampleFormat::I16, 44_100, 48_000),
            range(2, SampleFormat::F32, 44_100, 48_000),
            range(8, SampleFormat::F32, 44_100, 96_000),
            range(1, SampleFormat::F32, 44_100, 48_000),
        ];
        let (c, f) = choose_config(&ranges, 48_000, 256, 2).unwrap();
        assert_eq!((c.channels, f), (2, SampleFormat::F32));
        assert_eq!(c.buffer_size, cpal::BufferSize::Fixed(256));
        let (c, _) = choose_config(&ranges, 96_000, 256, 2).unwrap();
        assert_eq!(c.channels, 8);
        let (c, _) = choose_config(&ranges, 48_000, 256, 1).unwrap();
        assert_eq!(c.channels, 1);
        let hint = choose_config(&ranges, 22_050, 256, 2).unwrap_err();
        assert!(hint.contains("44100, 48000, 88200 or 96000 Hz"), "{hint}");
        let hint = choose_config(&ranges, 48_000, 8192, 2).unwrap_err();
        assert!(hint.contains("from 64 to 4096 frames"), "{hint}");
    }

    /// cpal's delays are whole nanoseconds, rounded; they must come back as the frame
    /// counts they were made from.
    #[test]
    fn delays_in_nanoseconds_come_back_as_whole_frames() {
        for rate in [44_100u32, 48_000, 96_000] {
            for frames in [1u64, 41, 255, 256, 512, 1024, 4097] {
                let nanos = (frames * 1_000_000_000 + rate as u64 / 2) / rate as u64;
                let d = Duration::from_nanos(nanos);
                assert_eq!(
                    frames_of(d, rate) as u64,
                    frames,
                    "{frames} frames at {rate} Hz"
                );
            }
        }
    }

    /// The input and output callbacks driven by hand: what goes in comes out one buffer
    /// later, running dry is counted and filled with silence, and nothing ever waits.
    #[test]
    fn input_crosses_to_the_output_through_the_ring_and_underruns_are_counted() {
        let frames = 64usize;
        let (controller, engine) = new_engine(&EngineConfig::default());
        let shared = controller.shared().clone();
        let rb = HeapRb::<f32>::new(2 * frames * 4);
        let (mut prod, cons) = rb.split();
        prod.push_iter(std::iter::repeat_n(0.0, 2 * frames));
        let started = Arc::new(AtomicBool::new(false));
        let mut input = InputSide {
            prod,
            shared: shared.clone(),
            channels: 2,
            device_channels: 2,
            rate: 48_000,
            in_latency: Arc::new(AtomicU32::new(0)),
            started: started.clone(),
            push_times: Arc::new(AtomicU64::new(0)),
            push_seq: Arc::new(AtomicU64::new(0)),
        };
        let counters = Arc::new(IoCounters::default());
        let (_tx, rx) = MidiSender::new(counters.clone());
        let engine_latency = engine.latency_frames();
        let mut output = OutputSide {
            engine: Arc::new(EngineCell::new(engine)),
            shared: shared.clone(),
            crossing: Some(Crossing::new(cons, 2, 48_000, frames as u32, false, 1024)),
            push_times: Arc::new(AtomicU64::new(0)),
            push_seq: Arc::new(AtomicU64::new(0)),
            in_channels: 2,
            out_channels: 2,
            interleaved: vec![0.0; 1024 * 2],
            planar: vec![vec![0.0; 1024]; 2],
            left: vec![0.0; 1024],
            right: vec![0.0; 1024],
            click: [vec![0.0; 1024], vec![0.0; 1024]],
            midi: MidiScheduler::new(rx, counters),
            rate: 48_000,
            in_latency: Arc::new(AtomicU32::new(0)),
            input_started: started,
            fixed_latency: 0,
        };
        // An impulse on input 1 (left channel of the device) in the first input block.
        let mut block_in = vec![0.0f32; frames * 2];
        block_in[0] = 0.5;
        let mut heard = vec![];
        let mut out = vec![0.0f32; frames * 2];
        for b in 0..12 {
            input.push(&block_in);
            block_in[0] = 0.0;
            output.run(&mut out, b * 1_000_000);
            heard.extend(out.chunks_exact(2).map(|f| f[0]));
        }
        assert_eq!(shared.xruns.load(Relaxed), 0);
        let at = heard
            .iter()
            .position(|s| s.abs() > 1e-3)
            .expect("impulse came through");
        assert_eq!(
            at,
            frames + engine_latency,
            "one buffer of ring + the limiter"
        );

        // The input stops: the ring's last buffer plays, then each dry block is counted.
        for b in 0..4 {
            output.run(&mut out, (20 + b) * 1_000_000);
        }
        assert_eq!(shared.xruns.load(Relaxed), 3);
        // The output stops: the input drops what does not fit and counts, never blocks.
        for _ in 0..6 {
            input.push(&block_in);
        }
        assert_eq!(shared.xruns.load(Relaxed), 5);
        // A device block longer than the buffers is cut into pieces, not refused.
        let mut long = vec![0.0f32; 3000 * 2];
        output.run(&mut long, 40_000_000);
        assert_eq!(long.len(), 6000);
    }
}
