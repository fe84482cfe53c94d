//! The `samspill` command: the panel, the headless engine, offline render, device list.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(debug_assertions)]
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

#[derive(Parser)]
#[command(name = "samspill", version, about = "Play, loop, record and listen together")]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Cmd::Render { script, output }) => render(&script, &output),
        None => Err("The panel is not built yet; try `samspill render`.".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("samspill: {message}");
            ExitCode::FAILURE
        }
    }
}

fn render(script: &std::path::Path, output: &std::path::Path) -> Result<(), String> {
    let started = std::time::Instant::now();
    let rendered = samspill::render::render_file(script).map_err(|e| e.to_string())?;
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
