//! `samspill headless`: the live engine without a window, steered by lines on stdin
//! (`master -6`, `note 60 100`, `quit`). It keeps playing when stdin closes, until `quit`,
//! SIGTERM or SIGINT, and prints what a person watching the terminal needs to know.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use crate::control::lines::{ControlLine, Line, LineError};
use crate::engine::{Command, InputConfig, MAX_INPUTS};
use crate::io::{check_alsa_names, AudioSystem, IoOptions};
use crate::io::{check_buffer_frames, check_sample_rate, IoError, IoStatus};
use crate::session::settings::{AudioHost, Settings};
use crate::{new_engine, Controller, EngineConfig, SoundFontState};

/// Which SoundFont to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoundFontChoice {
    /// The one in the settings, or the best installed.
    Default,
    /// None: the built-in synth plays.
    Off,
    File(PathBuf),
}

impl SoundFontChoice {
    /// `none` or a path, as given on the command line.
    pub fn from_arg(arg: &str) -> Self {
        if arg.eq_ignore_ascii_case("none") {
            SoundFontChoice::Off
        } else {
            SoundFontChoice::File(PathBuf::from(arg))
        }
    }
}

/// The command line of `samspill headless`; `None` keeps what the settings say.
#[derive(Clone, Debug)]
pub struct HeadlessOptions {
    pub host: Option<AudioHost>,
    pub jack_name: Option<String>,
    pub soundfont: SoundFontChoice,
    pub inputs: usize,
    pub sample_rate: Option<u32>,
    pub buffer_frames: Option<u32>,
    pub output_device: Option<String>,
    pub input_device: Option<String>,
    /// JACK: connect to the system's ports.
    pub connect: bool,
    /// OSC on 127.0.0.1 at this port; `None` for no OSC.
    pub osc_port: Option<u16>,
    /// Longest loop in seconds. Memory: 4 tracks × 5 layers × secs × rate × 8 bytes
    /// (60 s at 48 kHz ≈ 460 MB).
    pub loop_secs: f32,
    /// The song's click on its own output pair (`Command::ClickApart`).
    pub click_apart: bool,
}

impl Default for HeadlessOptions {
    fn default() -> Self {
        Self {
            host: None,
            jack_name: None,
            soundfont: SoundFontChoice::Default,
            inputs: 2,
            sample_rate: None,
            buffer_frames: None,
            output_device: None,
            input_device: None,
            connect: false,
            osc_port: Some(crate::control::DEFAULT_OSC_PORT),
            loop_secs: 60.0,
            click_apart: false,
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: all a signal handler may safely do here.
    STOP.store(true, Ordering::SeqCst);
}

fn catch_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // Safety: the handler is async-signal safe (one atomic store).
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

fn say(line: &str) {
    // A closed stdout must not stop the music.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn soundfont_line(s: &SoundFontState) -> Option<String> {
    match s {
        SoundFontState::BuiltIn => None,
        SoundFontState::Loading(p) => Some(format!("soundfont: loading {}", p.display())),
        SoundFontState::Ready(name) => Some(format!("soundfont: ready {name}")),
        SoundFontState::Failed(why) => Some(format!("soundfont: {why}")),
    }
}

fn status_summary(controller: &Controller, sys: &AudioSystem) -> String {
    let s = controller.snapshot();
    let peak = if s.master.peak > 0.0 {
        format!("{:.1}dB", 20.0 * s.master.peak.log10())
    } else {
        "silent".into()
    };
    format!(
        "levels: master_peak={peak} xruns={} recentred={} ring={}/{} bad_numbers={} refused={} rt_allocations={} longest_callback_us={} latency_frames={} midi={} malformed={} dropped={} voices={} frames={}",
        s.xruns,
        controller.shared().input_recentred.load(Ordering::Relaxed),
        controller.shared().input_ring_frames.load(Ordering::Relaxed),
        controller.shared().input_ring_settled.load(Ordering::Relaxed),
        s.bad_numbers,
        s.commands_refused,
        controller.shared().rt_allocations.load(Ordering::Relaxed),
        controller
            .shared()
            .longest_callback_us
            .load(Ordering::Relaxed),
        s.latency_frames,
        s.midi_received,
        s.midi_malformed,
        sys.counters().midi_dropped.load(Ordering::Relaxed),
        s.voices,
        s.frames
    )
}

/// Checks names given on the command line now, so a typo stops here in plain words
/// instead of leaving Samspill silently waiting for a device that does not exist.
fn check_named_devices(opts: &HeadlessOptions, host: AudioHost) -> Result<(), IoError> {
    if host != AudioHost::Alsa {
        return Ok(());
    }
    check_alsa_names(opts.output_device.as_deref(), opts.input_device.as_deref())
}

/// Why the headless program could not start, in words for the person who started it.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("--inputs {0} is not possible: choose 1 to {max}.", max = MAX_INPUTS)]
    Inputs(usize),
    #[error("could not start reading typed lines: {0}")]
    Stdin(std::io::Error),
}

/// Runs until `quit`, SIGTERM or SIGINT. The error is for people.
pub fn run(opts: HeadlessOptions) -> Result<(), HeadlessError> {
    let (mut settings, note) = Settings::load();
    if let Some(n) = note {
        eprintln!("samspill: {n}");
    }
    let a = &mut settings.audio;
    if let Some(h) = opts.host {
        a.host = h;
    }
    if let Some(n) = &opts.jack_name {
        a.jack_client_name = n.clone();
    }
    if let Some(r) = opts.sample_rate {
        a.sample_rate = r;
    }
    if let Some(b) = opts.buffer_frames {
        a.buffer_frames = b;
    }
    if opts.output_device.is_some() {
        a.output_device = opts.output_device.clone();
    }
    if opts.input_device.is_some() {
        a.input_device = opts.input_device.clone();
    }
    check_sample_rate(a.sample_rate)?;
    check_buffer_frames(a.buffer_frames)?;
    if !(1..=MAX_INPUTS).contains(&opts.inputs) {
        return Err(HeadlessError::Inputs(opts.inputs));
    }
    check_named_devices(&opts, a.host)?;

    let config = EngineConfig {
        sample_rate: a.sample_rate,
        inputs: (0..opts.inputs)
            .map(|i| InputConfig {
                name: format!("Input {}", i + 1),
                channel: i,
                right_channel: None,
            })
            .collect(),
    };
    let (controller, engine) = new_engine(&config);
    let _ = controller.send(Command::MasterGain {
        db: settings.master_db,
    });
    let _ = controller.send(Command::Patch(settings.patch));
    // Inputs the panel was told not to play through Samspill stay that way here.
    for input in settings
        .unmonitored_inputs
        .iter()
        .filter_map(|i| u8::try_from(*i).ok())
    {
        let _ = controller.send(Command::InputMonitor { input, on: false });
    }
    catch_signals();

    let options = IoOptions {
        input_channels: opts.inputs,
        jack_autoconnect: opts.connect,
        midi: true,
    };
    let sys = AudioSystem::start(engine, &settings.audio, options)?;
    // After the device is open: the SoundFont is built for the rate it runs at.
    match &opts.soundfont {
        SoundFontChoice::Off => {}
        SoundFontChoice::File(p) => controller.load_soundfont_in_background(Some(p.clone())),
        SoundFontChoice::Default => {
            controller.load_soundfont_in_background(settings.soundfont.clone())
        }
    }

    let mut status = sys.status();
    say(&status.ready_line());
    if !status.is_playing() {
        say(&format!("status: {}", status.message));
    }
    let mut midi = sys.midi_status();
    say(&format!("midi: {}", midi.message));
    let mut soundfont = controller.soundfont_state();
    let mut bad_numbers = 0;
    let mut commands_refused = 0;
    let loops = start_looper_and_osc(&controller, &opts);
    if opts.click_apart {
        let _ = controller.send(Command::ClickApart(true));
    }
    // Takes a crash cut off come back first, then the desk for new ones.
    let mut songs = match crate::session::song::songs_dir() {
        Ok(dir) => {
            for line in crate::control::songs::recover_songs(&dir) {
                say(&line);
            }
            crate::control::songs::SongDesk::new(controller.clone(), dir)
                .map_err(|e| eprintln!("samspill: songs cannot be recorded: {e}"))
                .ok()
        }
        Err(e) => {
            eprintln!("samspill: {e}");
            None
        }
    };

    let mut listen = crate::control::listen::ListenDesk::new(
        controller.clone(),
        crate::session::playlist::loudness_cache_path(),
    );
    if let Some(dir) = crate::session::playlist::listening_dir() {
        listen = listen.keep_notes_in(dir);
    }

    let (tx, lines) = crossbeam_channel::bounded::<String>(64);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        })
        .map_err(HeadlessError::Stdin)?;
    let mut stdin_open = true;
    // Pedals and pads learned in the panel work here too.
    let tap = sys.midi_tap();
    let mut learned = match crate::control::MidiLearn::load() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("samspill: {e}");
            crate::control::MidiLearn::default()
        }
    };

    while !STOP.load(Ordering::SeqCst) {
        while let Ok(m) = tap.try_recv() {
            if let Some(action) = learned.handle(m.event.bytes()) {
                if let Err(e) = loops.0.perform(action) {
                    eprintln!("samspill: {e}");
                }
            }
        }
        let line = if stdin_open {
            match lines.recv_timeout(Duration::from_millis(100)) {
                Ok(l) => Some(l),
                Err(RecvTimeoutError::Timeout) => None,
                // Closed stdin (a service, a test): keep playing.
                Err(RecvTimeoutError::Disconnected) => {
                    stdin_open = false;
                    None
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(100));
            None
        };
        if let Some(line) = line {
            match Line::parse(&line) {
                Ok(Line::Jam(l)) => {
                    // Saving waits here while the audio thread copies the loops out a
                    // piece per block: the music plays on; only the next line waits.
                    let result = crate::session::jam::jams_dir()
                        .map_err(LineError::from)
                        .and_then(|jams| l.run(&loops.0, &looper_config(&opts), &jams));
                    match result {
                        Ok(said) => say(&said),
                        Err(e) => eprintln!("samspill: {e}"),
                    }
                }
                Ok(Line::Listen(l)) => match listen.run(l) {
                    Ok(said) => say(&said),
                    Err(e) => eprintln!("samspill: {e}"),
                },
                // A bare `stop` stops what plays: the song or take first, else the listening.
                Ok(Line::Song(crate::control::songs::SongLine::Stop))
                    if listen.is_playing() && !songs.as_ref().is_some_and(|d| d.is_busy()) =>
                {
                    match listen.run(crate::control::listen::ListenLine::Stop) {
                        Ok(said) => say(&said),
                        Err(e) => eprintln!("samspill: {e}"),
                    }
                }
                Ok(Line::Song(l)) => match songs.as_mut() {
                    Some(desk) => match desk.run(l) {
                        Ok(said) => said.lines().for_each(say),
                        Err(e) => eprintln!("samspill: {e}"),
                    },
                    None => eprintln!("samspill: songs cannot be recorded here"),
                },
                Ok(Line::Loop(l)) => match l.run(&loops.0) {
                    Ok(said) if !said.is_empty() => say(&said),
                    Ok(_) => {}
                    Err(e) => eprintln!("samspill: {e}"),
                },
                Ok(Line::Control(ControlLine::Quit)) => break,
                Ok(Line::Control(ControlLine::Nothing)) => {}
                Ok(Line::Control(ControlLine::Status)) => {
                    say(&format!("status: {}", sys.status().message));
                    say(&status_summary(&controller, &sys));
                }
                Ok(Line::Control(ControlLine::Send(cmd))) => {
                    if let Err(e) = controller.send(cmd) {
                        eprintln!("samspill: {e}");
                    }
                }
                Ok(Line::Control(ControlLine::Reopen { rate, buffer })) => {
                    let mut s = sys.settings();
                    s.sample_rate = rate.unwrap_or(s.sample_rate);
                    s.buffer_frames = buffer.unwrap_or(s.buffer_frames);
                    if let Err(e) = sys.reopen(&s) {
                        eprintln!("samspill: {e}");
                    }
                }
                Err(e) => eprintln!("samspill: {e}"),
            }
        }
        if let Some(desk) = songs.as_mut() {
            desk.poll().iter().for_each(|l| say(l));
        }
        listen.poll().iter().for_each(|l| say(l));
        let now = sys.status();
        if now.serial != status.serial {
            report_change(&status, &now);
            status = now;
        }
        let refused = controller.shared().commands_refused.load(Ordering::Relaxed);
        if refused != commands_refused {
            say(&format!(
                "fault: the engine had no room for changes timed later and refused them ({refused} so far)"
            ));
            commands_refused = refused;
        }
        let bad = controller.shared().bad_numbers.load(Ordering::Relaxed);
        if bad != bad_numbers {
            say(&format!(
                "fault: sound that was not numbers was silenced ({bad} times so far); the music plays on"
            ));
            bad_numbers = bad;
        }
        let m = sys.midi_status();
        if m != midi {
            say(&format!("midi: {}", m.message));
            midi = m;
        }
        let sf = controller.soundfont_state();
        if sf != soundfont {
            if let Some(l) = soundfont_line(&sf) {
                say(&l);
            }
            soundfont = sf;
        }
    }
    // A take running at quit is ended and finished on disk while the engine still runs.
    if let Some(mut desk) = songs.take() {
        desk.finish().iter().for_each(|l| say(l));
    }
    drop(loops);
    sys.stop();
    controller.collect_garbage();
    say("stopped");
    Ok(())
}

/// The looper `samspill headless` builds (and a reopened jam starts from).
fn looper_config(opts: &HeadlessOptions) -> crate::controller::LooperConfig {
    crate::controller::LooperConfig {
        max_secs: opts.loop_secs.clamp(1.0, 600.0),
        ..Default::default()
    }
}

/// The looper's memory is built in the background; OSC starts at once and answers with
/// no loops until it is ready. A busy OSC port is said, not fatal: the music goes on.
fn start_looper_and_osc(
    controller: &Controller,
    opts: &HeadlessOptions,
) -> (
    crate::control::LoopControl,
    Option<crate::control::OscServer>,
) {
    controller.enable_looper_in_background(looper_config(opts));
    let loops = crate::control::LoopControl::new(controller.clone());
    let osc = opts.osc_port.and_then(|port| {
        match crate::control::OscServer::start(loops.clone(), port) {
            Ok(s) => {
                say(&format!("osc: listening on {}", s.local_addr()));
                Some(s)
            }
            Err(e) => {
                say(&format!("osc: {e}"));
                None
            }
        }
    });
    (loops, osc)
}

fn report_change(before: &IoStatus, now: &IoStatus) {
    if now.is_playing()
        && (!before.is_playing()
            || (now.sample_rate, now.buffer_frames) != (before.sample_rate, before.buffer_frames))
    {
        say(&now.ready_line());
    }
    say(&format!("status: {}", now.message));
}
