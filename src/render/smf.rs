//! Standard MIDI Files for the offline render: every track merged, tempo map applied,
//! turned into timed raw messages as if played on a keyboard.

use std::path::Path;

use midly::{MetaMessage, MidiMessage as M, Smf, Timing, TrackEventKind};

use super::RenderError;

/// A MIDI message at a time in seconds from the file's start.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedMidi {
    pub secs: f64,
    pub bytes: [u8; 3],
    pub len: u8,
}

pub fn read_smf(path: &Path) -> Result<Vec<TimedMidi>, RenderError> {
    let bytes = std::fs::read(path).map_err(|e| RenderError::Open {
        path: path.to_owned(),
        source: e,
    })?;
    parse_smf(&bytes).map_err(|message| RenderError::Midi {
        path: path.to_owned(),
        message,
    })
}

/// Checks the chunk lengths first: a lenient parser would quietly play half a file.
fn check_chunks(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 14 || &bytes[..4] != b"MThd" {
        return Err("it is not a Standard MIDI File (no MThd header)".into());
    }
    let mut at = 0usize;
    while at < bytes.len() {
        if bytes.len() - at < 8 {
            return Err("the file ends in the middle of a chunk header (truncated)".into());
        }
        let len = u32::from_be_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        if bytes.len() - at - 8 < len {
            return Err(format!(
                "the file is truncated: a chunk says it has {len} bytes but only {} are left",
                bytes.len() - at - 8
            ));
        }
        at += 8 + len;
    }
    Ok(())
}

pub fn parse_smf(bytes: &[u8]) -> Result<Vec<TimedMidi>, String> {
    check_chunks(bytes)?;
    let smf = Smf::parse(bytes).map_err(|e| format!("it could not be read ({e})"))?;
    // (tick, order, event)
    let mut events: Vec<(u64, usize, TrackEventKind)> = Vec::new();
    let mut order = 0usize;
    for track in &smf.tracks {
        let mut tick = 0u64;
        for ev in track {
            tick += ev.delta.as_int() as u64;
            events.push((tick, order, ev.kind));
            order += 1;
        }
    }
    events.sort_by_key(|(t, o, _)| (*t, *o));

    let mut out = Vec::new();
    let (mut last_tick, mut secs) = (0u64, 0f64);
    let mut us_per_beat = 500_000f64;
    let secs_per_tick = |us_per_beat: f64| -> f64 {
        match smf.header.timing {
            Timing::Metrical(tpb) => us_per_beat / 1e6 / tpb.as_int().max(1) as f64,
            Timing::Timecode(fps, sub) => 1.0 / (fps.as_f32() as f64 * sub.max(1) as f64),
        }
    };
    for (tick, _, kind) in events {
        secs += (tick - last_tick) as f64 * secs_per_tick(us_per_beat);
        last_tick = tick;
        match kind {
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => us_per_beat = t.as_int() as f64,
            TrackEventKind::Midi { channel, message } => {
                let ch = channel.as_int();
                let (b, len) = match message {
                    M::NoteOff { key, vel } => ([0x80 | ch, key.as_int(), vel.as_int()], 3),
                    M::NoteOn { key, vel } => ([0x90 | ch, key.as_int(), vel.as_int()], 3),
                    M::Aftertouch { key, vel } => ([0xA0 | ch, key.as_int(), vel.as_int()], 3),
                    M::Controller { controller, value } => {
                        ([0xB0 | ch, controller.as_int(), value.as_int()], 3)
                    }
                    M::ProgramChange { program } => ([0xC0 | ch, program.as_int(), 0], 2),
                    M::ChannelAftertouch { vel } => ([0xD0 | ch, vel.as_int(), 0], 2),
                    M::PitchBend { bend } => {
                        let v = bend.0.as_int();
                        ([0xE0 | ch, (v & 0x7F) as u8, (v >> 7) as u8], 3)
                    }
                };
                out.push(TimedMidi {
                    secs,
                    bytes: b,
                    len,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}
