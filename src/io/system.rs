//! The audio system the rest of Samspill talks to: opens the chosen backend, falls back to
//! the internal clock when it cannot, and has a supervisor thread that notices a lost
//! device and reopens it when it is back. The engine lives on across all of this.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::alsa_cpal::{worth_trying, AlsaBackend};
use super::backend::{AudioStream, Backend, BackendKind, Health, LostReason, StreamContext};
use super::clock::ClockBackend;
use super::engine_cell::EngineCell;
use super::error::IoError;
use super::jack_client::JackBackend;
use super::midi_in::{MidiInputs, MidiStatus, MidiStatusKind};
use super::midi_queue::{IoCounters, MidiSender, MidiTap, TimedMidi};
use super::status::{IoStatus, IoStatusKind, RETRY_SECS};
use super::{check_buffer_frames, check_sample_rate};
use crate::engine::{Engine, Shared};
use crate::session::settings::{AudioHost, AudioSettings};

const TICK: Duration = Duration::from_millis(100);

/// How the audio system is wired, beyond what the user's settings say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoOptions {
    /// Device input channels the engine's strips read (channels 0..n; JACK ports in_1..).
    pub input_channels: usize,
    /// JACK: connect to the system's capture and playback ports when they exist.
    pub jack_autoconnect: bool,
    /// Listen to MIDI keyboards through the ALSA sequencer (ALSA and no-device hosts;
    /// on JACK they come in through the `midi_in` port).
    pub midi: bool,
}

impl Default for IoOptions {
    fn default() -> Self {
        Self {
            input_channels: 2,
            jack_autoconnect: false,
            midi: true,
        }
    }
}

/// Owns the engine and keeps it running on the best stream available.
pub struct AudioSystem {
    inner: Arc<Inner>,
    wake: Option<Sender<()>>,
    supervisor: Option<JoinHandle<()>>,
}

struct Inner {
    ctx: StreamContext,
    midi_sender: MidiSender,
    /// A copy of every incoming MIDI message, for the control side (MIDI learn).
    midi_tap: MidiTap,
    midi_tap_rx: Receiver<TimedMidi>,
    options: IoOptions,
    /// Streams and settings: held while opening, which can take a moment.
    state: Mutex<State>,
    /// Apart from `state`, so reading it never waits on a device being opened.
    status: Mutex<IoStatus>,
    /// The settings asked for last, published apart from `state` for the same reason.
    settings: Mutex<AudioSettings>,
    serial: AtomicU64,
}

struct State {
    settings: AudioSettings,
    stream: Option<Box<dyn AudioStream>>,
    /// The stream is the internal clock standing in for the chosen device.
    on_clock: bool,
    retry_at: Option<Instant>,
    midi: Option<MidiInputs>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn check(settings: &AudioSettings) -> Result<(), IoError> {
    check_sample_rate(settings.sample_rate)?;
    check_buffer_frames(settings.buffer_frames)?;
    Ok(())
}

impl AudioSystem {
    /// Starts audio with the user's settings. Only impossible settings are an error: a
    /// missing device leaves the internal clock running and is retried every 2 seconds.
    pub fn start(
        engine: Engine,
        settings: &AudioSettings,
        options: IoOptions,
    ) -> Result<AudioSystem, IoError> {
        check(settings)?;
        let counters = Arc::new(IoCounters::default());
        let (midi_tap, midi_tap_rx) = MidiTap::new(counters.clone());
        let (midi_sender, midi_rx) = MidiSender::new(counters.clone());
        let midi_sender = midi_sender.with_tap(midi_tap.clone());
        let shared = engine.shared().clone();
        let ctx = StreamContext {
            engine: Arc::new(EngineCell::new(engine)),
            shared,
            counters,
            midi: midi_rx,
            input_channels: options.input_channels,
        };
        let inner = Arc::new(Inner {
            ctx,
            midi_sender,
            midi_tap,
            midi_tap_rx,
            options,
            state: Mutex::new(State {
                settings: settings.clone(),
                stream: None,
                on_clock: false,
                retry_at: None,
                midi: None,
            }),
            status: Mutex::new(IoStatus::starting()),
            settings: Mutex::new(settings.clone()),
            serial: AtomicU64::new(0),
        });
        inner.open_chosen(&mut lock(&inner.state));

        let (wake, woken) = crossbeam_channel::bounded::<()>(1);
        let sup = inner.clone();
        let supervisor = std::thread::Builder::new()
            .name("samspill audio supervisor".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = woken.recv_timeout(TICK) {
                    sup.supervise();
                }
            })
            .map_err(|e| IoError::Thread(e.to_string()))?;
        Ok(AudioSystem {
            inner,
            wake: Some(wake),
            supervisor: Some(supervisor),
        })
    }

    /// Switches to other settings (device, host, rate, buffer) while running. The engine
    /// keeps its state; a device that cannot be opened leaves the clock running.
    pub fn reopen(&self, settings: &AudioSettings) -> Result<IoStatus, IoError> {
        check(settings)?;
        *lock(&self.inner.settings) = settings.clone();
        let mut st = lock(&self.inner.state);
        st.settings = settings.clone();
        self.inner.open_chosen(&mut st);
        drop(st);
        Ok(self.status())
    }

    /// The audio situation now, for the panel.
    pub fn status(&self) -> IoStatus {
        lock(&self.inner.status).clone()
    }

    /// The MIDI keyboard situation now, for the panel.
    pub fn midi_status(&self) -> MidiStatus {
        let st = lock(&self.inner.state);
        if st.settings.host == AudioHost::Jack {
            return MidiStatus::new(MidiStatusKind::ThroughJack, vec![]);
        }
        match &st.midi {
            Some(m) => m.status(),
            None => MidiStatus::new(MidiStatusKind::Off, vec![]),
        }
    }

    /// The settings in use (the last ones given to `start` or `reopen`); never waits on
    /// a device being opened.
    pub fn settings(&self) -> AudioSettings {
        lock(&self.inner.settings).clone()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.inner.ctx.shared
    }

    /// MIDI the io layer dropped or delivered.
    pub fn counters(&self) -> &Arc<IoCounters> {
        &self.inner.ctx.counters
    }

    /// Queues MIDI as if played on a keyboard, placed like keyboard input (not on JACK,
    /// where MIDI comes through the `midi_in` port).
    pub fn midi_sender(&self) -> MidiSender {
        self.inner.midi_sender.clone()
    }

    /// Every incoming MIDI message (ALSA keyboards and JACK's `midi_in`), for a control
    /// thread: MIDI learn and mapped pedals run there, never on the audio thread. Drain it
    /// often; what does not fit is dropped and counted in `midi_tap_dropped`.
    pub fn midi_tap(&self) -> Receiver<TimedMidi> {
        self.inner.midi_tap_rx.clone()
    }

    /// Stops every stream and the supervisor. Dropping does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.wake.take());
        if let Some(t) = self.supervisor.take() {
            let _ = t.join();
        }
        let mut st = lock(&self.inner.state);
        st.stream = None;
        st.midi = None;
        st.on_clock = false;
        drop(st);
        let clock = super::backend::StreamInfo {
            backend: BackendKind::Clock,
            device: String::new(),
            sample_rate: 0,
            buffer_frames: 0,
            input_channels: 0,
            input_problem: None,
        };
        self.inner.set_status(IoStatus::fallback(
            IoStatusKind::Stopped,
            "Audio is stopped.",
            &clock,
        ));
    }
}

impl Drop for AudioSystem {
    fn drop(&mut self) {
        if self.supervisor.is_some() {
            self.shutdown();
        }
    }
}

impl Inner {
    fn set_status(&self, mut s: IoStatus) {
        let mut cur = lock(&self.status);
        s.serial = cur.serial;
        if *cur != s {
            s.serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
            *cur = s;
        }
    }

    fn status_kind(&self) -> IoStatusKind {
        lock(&self.status).kind
    }

    fn device_backend(&self, s: &AudioSettings) -> Option<Box<dyn Backend>> {
        match s.host {
            AudioHost::Alsa => Some(Box::new(AlsaBackend {
                output_device: s.output_device.clone(),
                input_device: s.input_device.clone(),
                sample_rate: s.sample_rate,
                buffer_frames: s.buffer_frames,
            })),
            AudioHost::Jack => Some(Box::new(JackBackend {
                client_name: if s.jack_client_name.is_empty() {
                    "samspill".into()
                } else {
                    s.jack_client_name.clone()
                },
                autoconnect: self.options.jack_autoconnect,
                midi_tap: Some(self.midi_tap.clone()),
            })),
            AudioHost::None => None,
        }
    }

    /// Whether an attempt now could work (and not just fill stderr with ALSA's complaints).
    fn worth_trying(s: &AudioSettings) -> bool {
        match s.host {
            AudioHost::Alsa => worth_trying(s.output_device.as_deref()),
            AudioHost::Jack => true,
            AudioHost::None => false,
        }
    }

    fn start_clock(&self, st: &mut State) -> Option<super::backend::StreamInfo> {
        st.stream = None;
        let clock = ClockBackend {
            sample_rate: st.settings.sample_rate,
            buffer_frames: st.settings.buffer_frames,
        };
        match clock.open(&self.ctx) {
            Ok(c) => {
                let info = c.info();
                st.stream = Some(c);
                st.on_clock = true;
                Some(info)
            }
            Err(_) => {
                st.on_clock = false;
                None
            }
        }
    }

    fn fall_back(
        &self,
        st: &mut State,
        status: impl FnOnce(&super::backend::StreamInfo) -> IoStatus,
    ) {
        match self.start_clock(st) {
            Some(info) => self.set_status(status(&info)),
            None => {
                let info = super::backend::StreamInfo {
                    backend: BackendKind::Clock,
                    device: String::new(),
                    sample_rate: 0,
                    buffer_frames: 0,
                    input_channels: 0,
                    input_problem: None,
                };
                self.set_status(IoStatus::fallback(
                    IoStatusKind::Stopped,
                    "Audio could not start at all (no thread could be made).",
                    &info,
                ));
            }
        }
    }

    /// Closes what runs and opens what the settings ask for, or the clock instead.
    fn open_chosen(&self, st: &mut State) {
        st.stream = None;
        st.on_clock = false;
        st.retry_at = None;
        let want_midi = self.options.midi && st.settings.host != AudioHost::Jack;
        if !want_midi {
            st.midi = None;
        } else if st.midi.is_none() {
            st.midi = Some(MidiInputs::start(self.midi_sender.clone()));
        }
        let Some(backend) = self.device_backend(&st.settings) else {
            self.fall_back(st, |info| {
                IoStatus::fallback(
                    IoStatusKind::SoundOff,
                    "Sound is off: no audio device is chosen. Everything else works; choose a device in Settings.",
                    info,
                )
            });
            return;
        };
        let attempt = if Self::worth_trying(&st.settings) {
            backend.open(&self.ctx)
        } else {
            Err(IoError::NoSoundCard)
        };
        match attempt {
            Ok(stream) => {
                self.set_status(IoStatus::running(&stream.info()));
                st.stream = Some(stream);
            }
            Err(e) => {
                self.fall_back(st, |info| IoStatus::after_error(&e, info));
                st.retry_at = Some(Instant::now() + Duration::from_secs(RETRY_SECS));
            }
        }
    }

    /// One look by the supervisor: a lost device, or time to try the chosen one again.
    fn supervise(&self) {
        let mut st = lock(&self.state);
        let now = Instant::now();
        let lost = match &st.stream {
            Some(s) if !st.on_clock => match s.health() {
                Health::Lost(reason) => Some((reason, s.info())),
                Health::Running => {
                    // JACK may change its buffer size while we run.
                    self.set_status(IoStatus::running(&s.info()));
                    None
                }
            },
            _ => None,
        };
        if let Some((reason, info)) = lost {
            let why = match reason {
                LostReason::DeviceGone => format!(
                    "The audio interface \"{}\" was unplugged or stopped working. Loops and settings are kept.",
                    info.device
                ),
                LostReason::ServerGone => {
                    "The JACK sound server stopped. Loops and settings are kept.".to_string()
                }
                LostReason::RateChanged => {
                    "The JACK sound server changed its sample rate; reconnecting.".to_string()
                }
            };
            // The dead stream is closed here, off the audio thread.
            self.fall_back(&mut st, |clock| {
                IoStatus::fallback(IoStatusKind::DeviceLost, &why, clock)
            });
            st.retry_at = Some(match reason {
                LostReason::RateChanged => now,
                _ => now + Duration::from_secs(RETRY_SECS),
            });
            return;
        }
        let due = st.on_clock && st.retry_at.is_some_and(|t| t <= now);
        if !due {
            return;
        }
        st.retry_at = Some(now + Duration::from_secs(RETRY_SECS));
        if !Self::worth_trying(&st.settings) {
            return;
        }
        let Some(backend) = self.device_backend(&st.settings) else {
            return;
        };
        // Opened beside the running clock, which goes as soon as the device plays.
        match backend.open(&self.ctx) {
            Ok(stream) => {
                self.set_status(IoStatus::running(&stream.info()));
                st.stream = Some(stream);
                st.on_clock = false;
                st.retry_at = None;
            }
            Err(e) => {
                // Keep saying "unplugged" until it is back; otherwise say what is wrong now.
                if self.status_kind() != IoStatusKind::DeviceLost {
                    if let Some(info) = st.stream.as_ref().map(|s| s.info()) {
                        self.set_status(IoStatus::after_error(&e, &info));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{new_engine, EngineConfig};
    use std::sync::atomic::Ordering::Relaxed;

    fn settings(host: AudioHost) -> AudioSettings {
        AudioSettings {
            host,
            ..AudioSettings::default()
        }
    }

    #[test]
    fn with_no_device_chosen_the_engine_still_runs_and_reopen_works_while_running() {
        let (controller, engine) = new_engine(&EngineConfig::default());
        let options = IoOptions {
            midi: false,
            ..IoOptions::default()
        };
        let sys = AudioSystem::start(engine, &settings(AudioHost::None), options).unwrap();
        let s = sys.status();
        assert_eq!(s.kind, IoStatusKind::SoundOff);
        assert_eq!(s.backend, BackendKind::Clock);
        assert_eq!(
            s.ready_line(),
            "ready: no sound (internal clock), 48000 Hz, 256 frames"
        );
        std::thread::sleep(Duration::from_millis(100));
        let before = controller.shared().frames.load(Relaxed);
        assert!(before > 0);

        let mut other = settings(AudioHost::None);
        other.sample_rate = 44_100;
        other.buffer_frames = 512;
        let s2 = sys.reopen(&other).unwrap();
        assert_eq!((s2.sample_rate, s2.buffer_frames), (44_100, 512));
        assert!(s2.serial > s.serial);
        assert_eq!(controller.shared().sample_rate.load(Relaxed), 44_100);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            controller.shared().frames.load(Relaxed) > before,
            "the engine kept its count"
        );

        other.buffer_frames = 300;
        let e = sys.reopen(&other).unwrap_err();
        assert!(matches!(e, IoError::BadBufferSize(300)));
        sys.stop();
    }

    #[test]
    fn impossible_settings_are_refused_in_plain_words() {
        let (_c, engine) = new_engine(&EngineConfig::default());
        let mut s = settings(AudioHost::None);
        s.buffer_frames = 100;
        let e = AudioSystem::start(engine, &s, IoOptions::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("power of two"));
    }
}
