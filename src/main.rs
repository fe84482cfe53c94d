//! The `samspill` command: the panel, the headless engine, offline render, device list.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(debug_assertions)]
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

#[derive(Parser)]
#[command(
    name = "samspill",
    version,
    about = "Play, loop, record and listen together"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Render a script offline to a WAV file: what the speakers would have played.
    Render {
        script: PathBuf,
        #[arg(short, long, default_value = "out.wav")]
        output: PathBuf,
    },
    /// Run the live engine without a window, steered by lines on stdin (`master -6`,
    /// `note 60 100`, `quit`). Options left out come from the saved settings.
    Headless {
        /// Audio host.
        #[arg(long, value_enum)]
        host: Option<HostArg>,
        /// JACK client name.
        #[arg(long, value_name = "NAME")]
        jack_name: Option<String>,
        /// A SoundFont file, or `none` for the built-in synth.
        #[arg(long, value_name = "PATH|none")]
        soundfont: Option<String>,
        /// Number of input strips (device input channels 1..N).
        #[arg(long, default_value_t = 2, value_name = "N")]
        inputs: usize,
        /// Sample rate in Hz (ALSA and no device; JACK uses the server's).
        #[arg(long, value_name = "HZ")]
        rate: Option<u32>,
        /// Frames per buffer: 64, 128, 256, 512, 1024 or 2048.
        #[arg(long, value_name = "FRAMES")]
        buffer: Option<u32>,
        /// ALSA output device, as `samspill devices` lists it.
        #[arg(long, value_name = "NAME")]
        device: Option<String>,
        /// ALSA input device, as `samspill devices` lists it.
        #[arg(long, value_name = "NAME")]
        input_device: Option<String>,
        /// JACK: connect to the system's capture and playback ports.
        #[arg(long)]
        connect: bool,
        /// OSC port on 127.0.0.1 (SooperLooper's protocol).
        #[arg(long, default_value_t = samspill::control::DEFAULT_OSC_PORT, value_name = "PORT")]
        osc_port: u16,
        /// No OSC at all.
        #[arg(long)]
        no_osc: bool,
        /// Longest loop in seconds. Memory is about 7.7 MB per second at 48 kHz
        /// (4 tracks, 4 undo levels): 60 s ≈ 460 MB.
        #[arg(long, default_value_t = 60.0, value_name = "SECS", value_parser = loop_secs)]
        loop_secs: f32,
        /// The song's click on its own outputs, for headphones: JACK ports click_left and
        /// click_right, or outputs 3 and 4 of a device opened with four or more.
        #[arg(long)]
        click_apart: bool,
    },
    /// List audio devices, the JACK server and MIDI keyboards.
    Devices {
        /// Also print what the sound libraries (ALSA, JACK) said, for a bug report.
        #[arg(long)]
        details: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum HostArg {
    Jack,
    Alsa,
    None,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // ALSA and JACK print their own complaints unless told where to put them.
    samspill::io::route_library_messages();
    let result = match cli.command {
        Some(Cmd::Render { script, output }) => render(&script, &output),
        Some(Cmd::Headless {
            host,
            jack_name,
            soundfont,
            inputs,
            rate,
            buffer,
            device,
            input_device,
            connect,
            osc_port,
            no_osc,
            loop_secs,
            click_apart,
        }) => {
            use samspill::app::headless::{run, HeadlessOptions, SoundFontChoice};
            use samspill::session::settings::AudioHost;
            run(HeadlessOptions {
                host: host.map(|h| match h {
                    HostArg::Jack => AudioHost::Jack,
                    HostArg::Alsa => AudioHost::Alsa,
                    HostArg::None => AudioHost::None,
                }),
                jack_name,
                soundfont: soundfont
                    .as_deref()
                    .map_or(SoundFontChoice::Default, SoundFontChoice::from_arg),
                inputs,
                sample_rate: rate,
                buffer_frames: buffer,
                output_device: device,
                input_device,
                connect,
                osc_port: (!no_osc).then_some(osc_port),
                loop_secs,
                click_apart,
            })
            .map_err(|e| e.to_string())
        }
        Some(Cmd::Devices { details }) => {
            print!("{}", samspill::io::list_devices());
            if details {
                println!();
                println!("What the sound libraries said:");
                for m in samspill::io::library_messages() {
                    println!("  {m}");
                }
            }
            Ok(())
        }
        None => panel_or_headless(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("samspill: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--loop-secs`: a number of seconds from 1 to 600 (`nan` and `inf` parse as f32).
fn loop_secs(text: &str) -> Result<f32, String> {
    let secs: f32 = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number"))?;
    let secs = samspill::number::finite("the loop length", secs).map_err(|e| e.to_string())?;
    if (1.0..=600.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("a loop is 1 to 600 seconds long, not {secs}"))
    }
}

/// The panel when there is a display; otherwise the same engine, headless.
fn panel_or_headless() -> Result<(), String> {
    use samspill::app::headless::{run, HeadlessOptions};
    use samspill::io::{AudioSystem, IoOptions};
    use samspill::session::settings::Settings;
    use samspill::{new_engine, EngineConfig};

    let headless = || run(HeadlessOptions::default()).map_err(|e| e.to_string());
    if std::env::var_os("DISPLAY").is_none() {
        eprintln!(
            "samspill: no display here, so no window; running headless (type `quit` to stop)."
        );
        return headless();
    }
    let (settings, note) = Settings::load();
    if let Some(n) = note {
        eprintln!("samspill: {n}");
    }
    let config = EngineConfig {
        sample_rate: settings.audio.sample_rate,
        ..EngineConfig::default()
    };
    let (controller, engine) = new_engine(&config);
    let options = IoOptions {
        input_channels: config.inputs.len(),
        ..IoOptions::default()
    };
    let system = AudioSystem::start(engine, &settings.audio, options).map_err(|e| e.to_string())?;
    // After the device is open, so the SoundFont is built for the rate it runs at.
    controller.load_soundfont_in_background(settings.soundfont.clone());
    // MIDI learn and learned pedals run on the panel's thread, fed by a copy of all MIDI.
    let midi_tap = system.midi_tap();
    let osc_enabled = settings.osc_enabled;
    let audio = Box::new(samspill::ui::LiveAudio::new(system));
    let mut panel = samspill::ui::Panel::new(controller, audio, settings).with_midi_tap(midi_tap);
    if osc_enabled {
        // A busy port is a calm line in the panel, never a reason not to start.
        panel = panel.with_osc_on(samspill::control::DEFAULT_OSC_PORT);
    }
    samspill::ui::run_panel(panel).map_err(|e| e.to_string())
}

fn render(script: &std::path::Path, output: &std::path::Path) -> Result<(), String> {
    let started = std::time::Instant::now();
    let rendered = samspill::render::render_file(script).map_err(|e| e.to_string())?;
    for line in &rendered.said {
        println!("{line}");
    }
    rendered.write_wav(output).map_err(|e| e.to_string())?;
    let secs = rendered.left.len() as f64 / rendered.sample_rate as f64;
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "Wrote {} ({secs:.1} s of audio in {took:.2} s, {:.0}x real time).",
        output.display(),
        secs / took.max(1e-9)
    );
    Ok(())
}
