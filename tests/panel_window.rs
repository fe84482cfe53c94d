//! The panel in a real window: Xvfb, eframe's glow renderer on Mesa's software GL, and
//! a screenshot taken by eframe itself, written to target/panel-screenshot.png (Play)
//! and target/panel-screenshot-settings.png (and -easy, -english, -jam for the Loop view,
//! -record-count-in, -record, -record-english for the Record view: docs/ keeps copies).
//! A missing package fails the test by name.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui;
use samspill::control::listen::ListenLine;
use samspill::controller::{build_looper, LooperConfig};
use samspill::engine::looper::LoopOp;
use samspill::session::settings::{AudioHost, AudioSettings, Language, Settings};
use samspill::ui::{
    self,
    state::{ListenAction, RecordAction},
    Action, ApplyError, AudioControl, AudioState, AudioStatus, Panel, View,
};
use samspill::{new_engine, Command, EngineConfig};
use winit::platform::x11::EventLoopBuilderExtX11;

const PACKAGES: &str = "xvfb libgl1 libglx-mesa0 libgl1-mesa-dri libegl1 libegl-mesa0 \
                        libxkbcommon-x11-0 libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6";

/// An Xvfb server of our own, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let mut child = Process::new("Xvfb")
            // Xvfb picks a free display and writes its number to stdout when ready.
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "Could not start Xvfb ({e}). Install the packages: apt-get install {PACKAGES}"
                )
            });
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let number = line.trim();
        if read.is_err() || number.is_empty() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "Xvfb did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Xvfb {
            display: format!(":{number}"),
            child,
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A working device layer for the picture: a USB interface, running.
struct ShowroomDevices;

impl AudioControl for ShowroomDevices {
    fn status(&self) -> AudioStatus {
        AudioStatus {
            state: AudioState::Running,
            host: AudioHost::Alsa,
            device: "Focusrite Scarlett 2i2".into(),
            sample_rate: 48_000,
            buffer_frames: 256,
            latency_frames: 512,
            detail: String::new(),
        }
    }
    fn output_devices(&self, _host: AudioHost) -> Vec<String> {
        vec!["Focusrite Scarlett 2i2".into(), "HDA Intel PCH".into()]
    }
    fn input_devices(&self, _host: AudioHost) -> Vec<String> {
        vec!["Focusrite Scarlett 2i2".into()]
    }
    fn midi_ports(&self) -> Vec<String> {
        vec!["Roland A-49".into()]
    }
    fn apply(&self, _settings: &AudioSettings) -> Result<(), ApplyError> {
        Ok(())
    }
}

type Shot = Arc<Mutex<Option<Arc<egui::ColorImage>>>>;

/// The photographer's script: at these seconds after the window opened, click these, or
/// take a picture (the clicks for a picture come half a second before it, so it shows them
/// settled). The engine plays in real time, so the Record view's pictures show a count-in,
/// a kept take and a running one with their waveforms.
enum Step {
    Act(&'static [Action]),
    Shoot(&'static str),
    /// The songs the test made (a list with lyrics beside its first song) are opened.
    OpenSongs,
    /// A cue at this many seconds, with this prompt, on the song playing.
    Cue(f64, &'static str),
}

const SCRIPT: &[(f32, Step)] = &[
    (1.5, Step::Shoot("panel-screenshot.png")),
    (2.0, Step::Act(&[Action::Show(View::Settings)])),
    (2.5, Step::Shoot("panel-screenshot-settings.png")),
    (
        3.0,
        Step::Act(&[Action::EasyMode(true), Action::Show(View::Play)]),
    ),
    (3.5, Step::Shoot("panel-screenshot-easy.png")),
    (
        4.0,
        Step::Act(&[Action::EasyMode(false), Action::Language(Language::English)]),
    ),
    (4.5, Step::Shoot("panel-screenshot-english.png")),
    (
        5.0,
        Step::Act(&[
            Action::Language(Language::Bokmal),
            Action::Show(View::Jam),
            Action::Loop {
                track: 0,
                op: LoopOp::Record,
            },
        ]),
    ),
    (5.5, Step::Shoot("panel-screenshot-jam.png")),
    // A first take: 2.4 s of count-in at the new song's 100 bpm, then 3 s of the tone.
    (
        6.0,
        Step::Act(&[
            Action::Show(View::Record),
            Action::Record(RecordAction::Start),
        ]),
    ),
    (11.4, Step::Act(&[Action::Record(RecordAction::Stop)])),
    (12.5, Step::Act(&[Action::Record(RecordAction::Start)])),
    (13.5, Step::Shoot("panel-screenshot-record-count-in.png")),
    (17.5, Step::Shoot("panel-screenshot-record.png")),
    (17.6, Step::Act(&[Action::Record(RecordAction::Stop)])),
    (18.0, Step::Act(&[Action::Language(Language::English)])),
    (18.5, Step::Shoot("panel-screenshot-record-english.png")),
    (
        19.0,
        Step::Act(&[
            Action::Language(Language::Bokmal),
            Action::Show(View::Listen),
        ]),
    ),
    (19.1, Step::OpenSongs),
    (19.3, Step::Cue(1.5, "Hva tenker du på når du hører dette?")),
    (22.5, Step::Shoot("panel-screenshot-listen.png")),
    (22.6, Step::Act(&[Action::Language(Language::English)])),
    (23.1, Step::Shoot("panel-screenshot-listen-english.png")),
];

fn shot_names() -> Vec<&'static str> {
    SCRIPT
        .iter()
        .filter_map(|(_, s)| match s {
            Step::Shoot(name) => Some(*name),
            _ => None,
        })
        .collect()
}

/// Runs the panel through [`SCRIPT`], then closes the window.
struct Photographer {
    panel: Panel,
    started: Instant,
    /// How many steps of the script are done.
    done: usize,
    /// Shared with the test, which reads them once the window is closed.
    shots: Arc<Mutex<Vec<Shot>>>,
    /// Where the test's songs are.
    songs: PathBuf,
}

impl eframe::App for Photographer {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.panel.show(ui);
        let ctx = ui.ctx().clone();
        let secs = self.started.elapsed().as_secs_f32();
        let mut shots = self.shots.lock().unwrap();
        // One step a frame, so a picture is never asked for in the frame of its clicks.
        if let Some((_, step)) = SCRIPT.get(self.done).filter(|(at, _)| secs >= *at) {
            match step {
                Step::Act(actions) => {
                    for action in actions.iter() {
                        self.panel.act(action.clone());
                    }
                }
                Step::OpenSongs => {
                    let list = self.songs.join("liste.m3u");
                    self.panel
                        .act(Action::Listen(ListenAction::Open(vec![list])));
                }
                Step::Cue(at, prompt) => {
                    self.panel
                        .act(Action::Listen(ListenAction::Line(ListenLine::Cue(
                            Some(*at),
                            prompt.to_string(),
                            false,
                        ))));
                }
                Step::Shoot(_) => {
                    let slot: Shot = Arc::default();
                    let fill = slot.clone();
                    ctx.request_screenshot(move |image| *fill.lock().unwrap() = Some(image));
                    shots.push(slot);
                }
            }
            self.done += 1;
        }
        let taken = shots.iter().filter(|s| s.lock().unwrap().is_some()).count();
        if taken == shot_names().len() || secs > 60.0 {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ctx.request_repaint_after(Duration::from_millis(30));
    }
}

/// Two songs (notes, as a singer's demo), lyrics beside the first, and a list that
/// also names a song that is not there.
fn make_songs(dir: &Path) {
    for (name, base) in [("Sang for deg", 220.0), ("Vise", 196.0)] {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.join(format!("{name}.wav")), spec).unwrap();
        for i in 0..30 * 48_000 {
            let t = i as f64 / 48_000.0;
            let f = base * [1.0, 1.25, 1.5, 1.335][(t / 0.6) as usize % 4];
            let s = 0.25 * (std::f64::consts::TAU * f * t).sin() * (-2.0 * (t % 0.6)).exp();
            w.write_sample((s * 32767.0) as i16).unwrap();
            w.write_sample((s * 30000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }
    std::fs::write(
        dir.join("Sang for deg.lrc"),
        "[00:00.50]Når morgenen kommer\n[00:02.00]og lyset slipper inn\n[00:04.00]da synger jeg for deg\n[00:06.00]en sang som er din\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("liste.m3u"),
        "#EXTINF:30,Sang for deg\nSang for deg.wav\n#EXTINF:30,Vise\nVise.wav\nborte.mp3\n",
    )
    .unwrap();
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .to_owned()
}

fn write_png(image: &egui::ColorImage, path: &Path) {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|p| p.to_array()).collect();
    let png = image::RgbaImage::from_raw(w as u32, h as u32, bytes).expect("a whole image");
    png.save(path)
        .unwrap_or_else(|e| panic!("could not write {}: {e}", path.display()));
}

/// Distinct colours in the picture: a blank or broken window has one or two.
fn colours(path: &Path) -> (u32, u32, usize) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()))
        .to_rgba8();
    let distinct: std::collections::HashSet<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    (img.width(), img.height(), distinct.len())
}

#[test]
fn the_panel_opens_a_real_window_and_its_screenshot_shows_the_panel() {
    // Safe here: this binary has one test, and nothing else reads the environment yet.
    std::env::remove_var("DISPLAY");
    let no_screen = ui::open_window(ui::native_options(), Default::default(), |_| {
        unreachable!("no window without a display")
    });
    assert_eq!(
        no_screen.map_err(|e| e.to_string()),
        Err("Fant ingen skjerm å vise panelet på (DISPLAY er ikke satt).".to_string()),
        "without a display the caller gets a plain message and can run headless"
    );

    let xvfb = Xvfb::start();
    std::env::set_var("DISPLAY", &xvfb.display);
    std::env::set_var("WINIT_X11_SCALE_FACTOR", "1");
    std::env::set_var("LIBGL_ALWAYS_SOFTWARE", "1");

    // The engine on its own thread, as a device would drive it: notes on input 1, a chord.
    let (controller, mut engine) = new_engine(&EngineConfig::default());
    let looper = LooperConfig {
        tracks: 3,
        max_secs: 5.0,
        undo_levels: 1,
        ..Default::default()
    };
    controller
        .send(Command::InstallLooper(build_looper(&looper, 48_000)))
        .unwrap();
    for key in [60u8, 64, 67] {
        controller
            .send(Command::Midi {
                data: [0x90, key, 90],
                len: 3,
            })
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let audio_thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut input, mut left, mut right) = ([0f32; 256], [0f32; 256], [0f32; 256]);
            let silence = [0f32; 256];
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                for s in input.iter_mut() {
                    // A note plucked every half second, so waveforms look like playing.
                    let t = n as f32 / 48_000.0;
                    let pluck = 0.6 * (-5.0 * (t % 0.5)).exp() * (0.6 + 0.4 * (1.3 * t).sin());
                    *s = pluck * (std::f32::consts::TAU * 220.0 * t).sin();
                    n += 1;
                }
                engine.process(&[&input, &silence], &mut left, &mut right, &[]);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let settings_file = tempfile::tempdir().unwrap();
    let panel = Panel::new(controller, Box::new(ShowroomDevices), Settings::default())
        .save_settings_to(settings_file.path().join("settings.toml"));
    let mut options = ui::native_options();
    // libtest runs tests off the main thread; X11 allows that when asked.
    options.event_loop_builder = Some(Box::new(|builder| {
        builder.with_any_thread(true);
    }));
    let shots: Arc<Mutex<Vec<Shot>>> = Arc::default();
    let songs = tempfile::tempdir().unwrap();
    make_songs(songs.path());
    let photographer = Photographer {
        panel,
        started: Instant::now(),
        done: 0,
        shots: shots.clone(),
        songs: songs.path().to_owned(),
    };
    let result = ui::open_window(options, Default::default(), move |_| Box::new(photographer));
    stop.store(true, Ordering::Relaxed);
    audio_thread.join().unwrap();
    drop(xvfb);
    if let Err(e) = result {
        panic!("{e}\nThe window needs Mesa's software GL and X11 libraries: apt-get install {PACKAGES}");
    }

    let shots = shots.lock().unwrap().clone();
    let images: Vec<Arc<egui::ColorImage>> = shots
        .iter()
        .filter_map(|s| s.lock().unwrap().clone())
        .collect();
    assert_eq!(
        images.len(),
        shot_names().len(),
        "eframe took every screenshot before the window closed"
    );
    for (image, name) in images.iter().zip(shot_names()) {
        let path = target_dir().join(name);
        let _ = std::fs::remove_file(&path);
        write_png(image, &path);
        let (w, h, distinct) = colours(&path);
        assert_eq!(
            [w as f32, h as f32],
            ui::WINDOW_SIZE,
            "{name} has the window's size"
        );
        assert!(
            distinct > 50,
            "{name} is nearly one flat colour ({distinct} colours)"
        );
        eprintln!("Wrote {}", path.display());
    }
}
