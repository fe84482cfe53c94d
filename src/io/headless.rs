//! `samspill headless`: the live engine without a window, steered by lines on stdin
//! (`master -6`, `note 60 100`, `quit`). It keeps playing when stdin closes, until `quit`,
//! SIGTERM or SIGINT, and prints what a person watching the terminal needs to know.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use super::alsa_cpal::{alsa_host, find_device, Direction};
use super::system::{AudioSystem, IoOptions};
use super::{check_buffer_frames, check_sample_rate, IoError, IoStatus};
use crate::engine::{Command, InputConfig, Patch, MAX_INPUTS};
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
        }
    }
}

/// One line from stdin, understood.
#[derive(Debug)]
pub enum ControlLine {
    Send(Command),
    Status,
    Reopen {
        rate: Option<u32>,
        buffer: Option<u32>,
    },
    Quit,
    Nothing,
}

pub const CONTROL_HELP: &str = "master DB | instruments DB | patch NAME | gain N DB | pan N -1..1 | mute N on|off | monitor N on|off | note KEY [VELOCITY] | off KEY | panic | rate HZ | buffer FRAMES | status | loop N|all OP | loops | tempo BPM [BEATS] | tap | jam save [NAME] | jam list | jam open NAME | quit";

fn number<T: std::str::FromStr>(word: Option<&str>, what: &str) -> Result<T, String> {
    let w = word.ok_or_else(|| format!("{what} is missing"))?;
    w.parse()
        .map_err(|_| format!("\"{w}\" is not a number for {what}"))
}

/// A number that must be finite: `nan` and `inf` parse as f32 but are refused here.
fn level(word: Option<&str>, what: &'static str) -> Result<f32, String> {
    let v: f32 = number(word, what)?;
    crate::number::finite(what, v).map_err(|e| e.to_string())
}

fn on_off(word: Option<&str>) -> Result<bool, String> {
    match word {
        Some("on" | "yes" | "1") => Ok(true),
        Some("off" | "no" | "0") => Ok(false),
        _ => Err("say on or off".into()),
    }
}

fn input_index(word: Option<&str>) -> Result<u8, String> {
    let n: usize = number(word, "the input number")?;
    if (1..=MAX_INPUTS).contains(&n) {
        Ok((n - 1) as u8)
    } else {
        Err(format!("inputs are numbered 1 to {MAX_INPUTS}"))
    }
}

fn key(word: Option<&str>) -> Result<u8, String> {
    let k: u8 = number(word, "the key")?;
    if k <= 127 {
        Ok(k)
    } else {
        Err("keys are 0 to 127 (60 is middle C)".into())
    }
}

impl ControlLine {
    /// Reads one control line; the error says what was wrong in plain words.
    pub fn parse(line: &str) -> Result<ControlLine, String> {
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return Ok(ControlLine::Nothing);
        };
        let a = words.next();
        let b = words.next();
        let cmd = match verb.to_ascii_lowercase().as_str() {
            v if v.starts_with('#') => return Ok(ControlLine::Nothing),
            "quit" | "exit" => return Ok(ControlLine::Quit),
            "status" => return Ok(ControlLine::Status),
            "rate" => {
                return Ok(ControlLine::Reopen {
                    rate: Some(number(a, "the sample rate")?),
                    buffer: None,
                })
            }
            "buffer" => {
                return Ok(ControlLine::Reopen {
                    rate: None,
                    buffer: Some(number(a, "the buffer size")?),
                })
            }
            "master" => Command::MasterGain {
                db: level(a, "the level in dB")?,
            },
            "instruments" => Command::InstrumentGain {
                db: level(a, "the level in dB")?,
            },
            "patch" => {
                let name = a.ok_or("which instrument?")?;
                Command::Patch(Patch::from_key(&name.to_ascii_lowercase()).ok_or_else(|| {
                    let all: Vec<&str> = Patch::ALL.iter().map(|p| p.key()).collect();
                    format!("the instruments are {}", all.join(", "))
                })?)
            }
            "gain" => Command::InputGain {
                input: input_index(a)?,
                db: level(b, "the level in dB")?,
            },
            "pan" => Command::InputPan {
                input: input_index(a)?,
                pan: level(b, "the pan (-1 left to 1 right)")?,
            },
            "mute" => Command::InputMute {
                input: input_index(a)?,
                muted: on_off(b)?,
            },
            "monitor" => Command::InputMonitor {
                input: input_index(a)?,
                on: on_off(b)?,
            },
            "note" => {
                let velocity = match b {
                    Some(_) => number::<u8>(b, "the velocity")?.clamp(1, 127),
                    None => 100,
                };
                Command::Midi {
                    data: [0x90, key(a)?, velocity],
                    len: 3,
                }
            }
            "off" => Command::Midi {
                data: [0x80, key(a)?, 0],
                len: 3,
            },
            "panic" => Command::AllNotesOff,
            other => return Err(format!("I do not know \"{other}\". Try: {CONTROL_HELP}")),
        };
        Ok(ControlLine::Send(cmd))
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
        "levels: master_peak={peak} xruns={} bad_numbers={} refused={} latency_frames={} midi={} malformed={} dropped={} voices={} frames={}",
        s.xruns,
        s.bad_numbers,
        s.commands_refused,
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
    let named = [
        (opts.output_device.as_deref(), Direction::Output),
        (opts.input_device.as_deref(), Direction::Input),
    ];
    if named.iter().all(|(n, _)| n.is_none()) {
        return Ok(());
    }
    let alsa = alsa_host()?;
    for (name, dir) in named {
        if let Some(n) = name.filter(|n| *n != "default") {
            match find_device(&alsa, Some(n), dir) {
                Err(e @ IoError::UnknownDevice(_)) => return Err(e),
                _ => continue,
            }
        }
    }
    Ok(())
}

/// Runs until `quit`, SIGTERM or SIGINT. The error is for people.
pub fn run(opts: HeadlessOptions) -> Result<(), String> {
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
    check_sample_rate(a.sample_rate).map_err(|e| e.to_string())?;
    check_buffer_frames(a.buffer_frames).map_err(|e| e.to_string())?;
    if !(1..=MAX_INPUTS).contains(&opts.inputs) {
        return Err(format!(
            "--inputs {} is not possible: choose 1 to {MAX_INPUTS}.",
            opts.inputs
        ));
    }
    check_named_devices(&opts, a.host).map_err(|e| e.to_string())?;

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
    let sys = AudioSystem::start(engine, &settings.audio, options).map_err(|e| e.to_string())?;
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
        .map_err(|e| e.to_string())?;
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
            if let Some(l) = crate::control::lines::JamLine::parse(&line) {
                // Saving waits here while the audio thread copies the loops out a piece
                // per block: the music plays on; only the next line waits.
                let result = l.and_then(|l| {
                    let jams = crate::session::jam::jams_dir().map_err(|e| e.to_string())?;
                    l.run(&loops.0, &looper_config(&opts), &jams)
                });
                match result {
                    Ok(said) => say(&said),
                    Err(e) => eprintln!("samspill: {e}"),
                }
                continue;
            }
            if let Some(l) = crate::control::lines::LoopLine::parse(&line) {
                match l.and_then(|l| l.run(&loops.0)) {
                    Ok(said) if !said.is_empty() => say(&said),
                    Ok(_) => {}
                    Err(e) => eprintln!("samspill: {e}"),
                }
                continue;
            }
            match ControlLine::parse(&line) {
                Ok(ControlLine::Quit) => break,
                Ok(ControlLine::Nothing) => {}
                Ok(ControlLine::Status) => {
                    say(&format!("status: {}", sys.status().message));
                    say(&status_summary(&controller, &sys));
                }
                Ok(ControlLine::Send(cmd)) => {
                    if let Err(e) = controller.send(cmd) {
                        eprintln!("samspill: {e}");
                    }
                }
                Ok(ControlLine::Reopen { rate, buffer }) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        match ControlLine::parse(line) {
            Ok(ControlLine::Send(c)) => c,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn control_lines_read_like_a_therapist_would_type_them() {
        assert!(matches!(cmd("master -6"), Command::MasterGain { db } if db == -6.0));
        assert!(matches!(cmd("patch EPiano"), Command::Patch(Patch::EPiano)));
        assert!(matches!(cmd("gain 1 -3"), Command::InputGain { input: 0, db } if db == -3.0));
        assert!(matches!(
            cmd("mute 2 on"),
            Command::InputMute {
                input: 1,
                muted: true
            }
        ));
        assert!(matches!(
            cmd("note 60 100"),
            Command::Midi {
                data: [0x90, 60, 100],
                len: 3
            }
        ));
        assert!(matches!(
            cmd("note 60"),
            Command::Midi {
                data: [0x90, 60, 100],
                len: 3
            }
        ));
        assert!(matches!(
            cmd("off 60"),
            Command::Midi {
                data: [0x80, 60, 0],
                len: 3
            }
        ));
        assert!(matches!(cmd("panic"), Command::AllNotesOff));
        assert!(matches!(ControlLine::parse("quit"), Ok(ControlLine::Quit)));
        assert!(matches!(ControlLine::parse("  "), Ok(ControlLine::Nothing)));
        assert!(matches!(
            ControlLine::parse("buffer 512"),
            Ok(ControlLine::Reopen {
                rate: None,
                buffer: Some(512)
            })
        ));
        for (bad, says) in [
            ("gain 0 -3", "numbered 1 to"),
            ("note 200", "0 to 127"),
            ("patch kazoo", "piano, epiano"),
            ("mute 1 maybe", "on or off"),
            ("master loud", "not a number"),
            ("dance", "I do not know"),
        ] {
            let e = ControlLine::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
