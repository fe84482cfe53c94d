//! Writes `samples/demo/demo.mid`: a calm 40-second song for trying the instruments,
//! the player and the recorder without bringing any music of one's own.
//!
//! Run with `cargo run --release --example make_demo`. The file is committed.
//! 96 BPM in C major: a two-bar piano intro, eight bars of I-vi-IV-V with bass, drums and
//! an electric-piano melody, a four-bar bridge, and a held final chord. Drum fills and
//! crashes mark the section changes. Channels (1-based): 1 piano, 2 bass, 3 melody, 10 drums.

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::Path;

const PPQ: u16 = 480;
const BPM: f64 = 96.0;
const BEATS_PER_BAR: f64 = 4.0;

/// Everything a part can say, in the order events at the same tick are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Program(u8),
    Off(u8),
    Control(u8, u8),
    On(u8, u8),
}

/// One track: a channel and its events at absolute ticks.
struct Part {
    name: &'static str,
    channel: u8,
    events: Vec<(u32, Ev)>,
    /// Small, repeatable velocity changes so repeated notes do not sound machine-stamped.
    seed: u32,
}

fn ticks(beats: f64) -> u32 {
    (beats * PPQ as f64).round() as u32
}

fn bar(n: usize) -> f64 {
    n as f64 * BEATS_PER_BAR
}

impl Part {
    fn new(name: &'static str, channel: u8, program: u8, volume: u8, pan: u8) -> Self {
        let mut p = Part {
            name,
            channel,
            events: Vec::new(),
            seed: 0x1234_5678 ^ channel as u32,
        };
        p.events.push((0, Ev::Program(program)));
        p.events.push((0, Ev::Control(7, volume)));
        p.events.push((0, Ev::Control(10, pan)));
        p
    }

    fn humanise(&mut self, vel: u8) -> u8 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        let wobble = (self.seed % 7) as i32 - 3;
        (vel as i32 + wobble).clamp(1, 127) as u8
    }

    /// A note from `start` for `len` beats.
    fn note(&mut self, start: f64, len: f64, key: u8, vel: u8) {
        let vel = self.humanise(vel);
        self.events.push((ticks(start), Ev::On(key, vel)));
        self.events.push((ticks(start + len), Ev::Off(key)));
    }

    fn chord(&mut self, start: f64, len: f64, keys: &[u8], vel: u8) {
        for &k in keys {
            self.note(start, len, k, vel);
        }
    }

    /// Sustain pedal down over `start..end`, changed just after and just before.
    fn pedal(&mut self, start: f64, end: f64) {
        self.events.push((ticks(start) + 10, Ev::Control(64, 127)));
        self.events.push((ticks(end) - 10, Ev::Control(64, 0)));
    }

    fn into_track(mut self) -> Vec<TrackEvent<'static>> {
        self.events.sort();
        let ch = u4::new(self.channel);
        let mut track = vec![TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::TrackName(self.name.as_bytes())),
        }];
        let mut last = 0;
        for (tick, ev) in self.events {
            let message = match ev {
                Ev::Program(p) => MidiMessage::ProgramChange {
                    program: u7::new(p),
                },
                Ev::Off(k) => MidiMessage::NoteOff {
                    key: u7::new(k),
                    vel: u7::new(64),
                },
                Ev::Control(c, v) => MidiMessage::Controller {
                    controller: u7::new(c),
                    value: u7::new(v),
                },
                Ev::On(k, v) => MidiMessage::NoteOn {
                    key: u7::new(k),
                    vel: u7::new(v),
                },
            };
            track.push(TrackEvent {
                delta: u28::new(tick - last),
                kind: TrackEventKind::Midi {
                    channel: ch,
                    message,
                },
            });
            last = tick;
        }
        track.push(TrackEvent {
            delta: u28::new(ticks(BEATS_PER_BAR)),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        track
    }
}

/// A chord of the song: the bass root, the piano's left hand and right-hand voicing.
#[derive(Clone, Copy)]
struct Chord {
    bass: u8,
    right: [u8; 3],
}

const C: Chord = Chord {
    bass: 36,
    right: [55, 60, 64],
};
const AM: Chord = Chord {
    bass: 33,
    right: [57, 60, 64],
};
const F: Chord = Chord {
    bass: 29,
    right: [57, 60, 65],
};
const G: Chord = Chord {
    bass: 31,
    right: [55, 59, 62],
};
const EM: Chord = Chord {
    bass: 28,
    right: [55, 59, 64],
};

/// (start beat in the song, length in beats, chord)
fn harmony() -> Vec<(f64, f64, Chord)> {
    let mut h = Vec::new();
    let mut at = 0.0;
    let mut push = |len: f64, c: Chord| {
        h.push((at, len, c));
        at += len;
    };
    for c in [C, AM] {
        push(4.0, c); // intro
    }
    for _ in 0..2 {
        for c in [C, AM, F, G] {
            push(4.0, c); // verse, twice
        }
    }
    push(4.0, F); // bridge
    push(4.0, G);
    push(2.0, EM);
    push(2.0, AM);
    push(2.0, F);
    push(2.0, G);
    h
}

const INTRO_BARS: usize = 2;
const VERSE_BARS: usize = 8;
const BRIDGE_BARS: usize = 4;
const END_BAR: usize = INTRO_BARS + VERSE_BARS + BRIDGE_BARS;
/// The last chord is held for two bars.
const FINAL_BEATS: f64 = 8.0;

fn piano(h: &[(f64, f64, Chord)]) -> Part {
    let mut p = Part::new("Piano", 0, 0, 100, 56);
    for &(at, len, c) in h {
        let verse = at >= bar(INTRO_BARS) && at < bar(INTRO_BARS + VERSE_BARS);
        p.pedal(at, at + len);
        p.note(at, len, c.bass + 12, 62);
        if verse {
            // Block chords on the strong beats, under the melody.
            let mut beat = 0.0;
            while beat < len {
                p.chord(at + beat, 1.9, &c.right, if beat == 0.0 { 70 } else { 62 });
                beat += 2.0;
            }
        } else {
            // Flowing eighth-note broken chords in the intro and the bridge.
            let [a, b, d] = c.right;
            let pattern = [a, b, d, b + 12, d, b, a, b];
            for (i, &k) in pattern.iter().enumerate().take((len * 2.0) as usize) {
                p.note(
                    at + i as f64 * 0.5,
                    0.5,
                    k,
                    if i % 4 == 0 { 66 } else { 56 },
                );
            }
        }
    }
    // The last chord, rolled from the bottom and left to ring.
    let end = bar(END_BAR);
    p.pedal(end, end + FINAL_BEATS);
    for (i, k) in [36u8, 48, 55, 60, 64, 67, 72].into_iter().enumerate() {
        p.note(end + i as f64 * 0.06, FINAL_BEATS - i as f64 * 0.06, k, 64);
    }
    p
}

fn bass(h: &[(f64, f64, Chord)]) -> Part {
    let mut p = Part::new("Bass", 1, 33, 96, 64);
    for &(at, len, c) in h {
        if at < bar(INTRO_BARS) {
            continue;
        }
        let r = c.bass;
        if len >= 4.0 {
            p.note(at, 1.4, r, 88);
            p.note(at + 1.5, 0.45, r, 70);
            p.note(at + 2.0, 0.95, r + 7, 80);
            p.note(at + 3.0, 0.95, r + 12, 72);
        } else {
            p.note(at, 1.4, r, 88);
            p.note(at + 1.5, 0.45, r + 7, 72);
        }
    }
    p.note(bar(END_BAR), FINAL_BEATS, 36, 90);
    p
}

fn melody() -> Part {
    let mut p = Part::new("Melody", 2, 4, 92, 74);
    // (beat within the bar, length, key) for each bar from the verse on.
    let bars: [&[(f64, f64, u8)]; VERSE_BARS + BRIDGE_BARS] = [
        &[
            (0.0, 1.5, 76),
            (1.5, 0.5, 74),
            (2.0, 1.0, 72),
            (3.0, 1.0, 67),
        ],
        &[(0.0, 1.5, 69), (1.5, 0.5, 72), (2.0, 2.0, 76)],
        &[
            (0.0, 1.5, 77),
            (1.5, 0.5, 76),
            (2.0, 1.0, 74),
            (3.0, 1.0, 72),
        ],
        &[(0.0, 2.0, 74), (2.0, 1.0, 71), (3.0, 1.0, 67)],
        &[
            (0.0, 1.5, 76),
            (1.5, 0.5, 74),
            (2.0, 1.0, 72),
            (3.0, 1.0, 76),
        ],
        &[(0.0, 1.5, 81), (1.5, 0.5, 79), (2.0, 2.0, 76)],
        &[
            (0.0, 1.0, 77),
            (1.0, 1.0, 81),
            (2.0, 1.0, 79),
            (3.0, 1.0, 77),
        ],
        &[
            (0.0, 1.5, 74),
            (1.5, 0.5, 76),
            (2.0, 1.0, 74),
            (3.0, 1.0, 71),
        ],
        &[(0.0, 2.0, 81), (2.0, 1.0, 79), (3.0, 1.0, 77)],
        &[
            (0.0, 1.5, 79),
            (1.5, 0.5, 77),
            (2.0, 1.0, 76),
            (3.0, 1.0, 74),
        ],
        &[
            (0.0, 1.0, 71),
            (1.0, 1.0, 76),
            (2.0, 1.0, 72),
            (3.0, 1.0, 76),
        ],
        &[
            (0.0, 1.0, 81),
            (1.0, 0.5, 79),
            (1.5, 0.5, 77),
            (2.0, 1.0, 76),
            (3.0, 1.0, 74),
        ],
    ];
    for (i, notes) in bars.iter().enumerate() {
        let start = bar(INTRO_BARS + i);
        for &(beat, len, key) in notes.iter() {
            let accent = if beat == 0.0 { 88 } else { 78 };
            // Slightly short, so repeated notes are heard as repeated.
            p.note(start + beat, len * 0.92, key, accent);
        }
    }
    p.note(bar(END_BAR), FINAL_BEATS, 72, 80);
    p
}

const KICK: u8 = 36;
const RIM: u8 = 37;
const SNARE: u8 = 38;
const CLAP: u8 = 39;
const HAT: u8 = 42;
const OPEN_HAT: u8 = 46;
const CRASH: u8 = 49;
const RIDE: u8 = 51;
const TOMS: [u8; 4] = [50, 48, 45, 41];

fn drums() -> Part {
    let mut p = Part::new("Drums", 9, 0, 100, 64);
    let hit = |p: &mut Part, at: f64, key: u8, vel: u8| p.note(at, 0.25, key, vel);
    // Intro: a soft hi-hat pulse and a kick to start each bar.
    for b in 0..INTRO_BARS {
        let at = bar(b);
        hit(&mut p, at, KICK, 70);
        for beat in 0..4 {
            hit(
                &mut p,
                at + beat as f64,
                HAT,
                if beat % 2 == 0 { 58 } else { 46 },
            );
        }
    }
    hit(&mut p, bar(INTRO_BARS) - 0.5, SNARE, 52);

    for i in 0..VERSE_BARS + BRIDGE_BARS {
        let b = INTRO_BARS + i;
        let at = bar(b);
        let bridge = i >= VERSE_BARS;
        let section_start = i == 0 || i == VERSE_BARS;
        let fill_bar = i == VERSE_BARS - 1 || i == VERSE_BARS + BRIDGE_BARS - 1;
        if section_start {
            hit(&mut p, at, CRASH, 92);
        }
        // The first half of the verse is gentler: side-stick instead of snare.
        let back = if i < 4 { RIM } else { SNARE };
        let beats = if fill_bar { 2 } else { 4 };
        for e in 0..beats * 2 {
            let t = at + e as f64 * 0.5;
            let open = !bridge && e == 7 && i % 2 == 1;
            if bridge {
                hit(&mut p, t, RIDE, if e % 2 == 0 { 72 } else { 58 });
            } else if open {
                hit(&mut p, t, OPEN_HAT, 64);
            } else if !(section_start && e == 0) {
                hit(&mut p, t, HAT, if e % 2 == 0 { 66 } else { 48 });
            }
        }
        hit(&mut p, at, KICK, 96);
        hit(&mut p, at + 1.5, KICK, 72);
        hit(&mut p, at + 2.0, KICK, 88);
        hit(&mut p, at + 1.0, back, 84);
        if !fill_bar {
            hit(&mut p, at + 3.0, back, 86);
            if bridge {
                hit(&mut p, at + 3.0, CLAP, 60);
            }
        } else {
            // Beats 3 and 4: sixteenths down the toms, growing into the next section.
            for s in 0..8 {
                let key = TOMS[s / 2];
                hit(&mut p, at + 2.0 + s as f64 * 0.25, key, 70 + s as u8 * 4);
            }
        }
    }
    let end = bar(END_BAR);
    hit(&mut p, end, KICK, 100);
    hit(&mut p, end, CRASH, 100);
    p
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let h = harmony();
    let mut conductor = vec![
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::TrackName(b"Samspill demo")),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new((60_000_000.0 / BPM) as u32))),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::TimeSignature(4, 2, 24, 8)),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::KeySignature(0, false)),
        },
    ];
    conductor.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });

    let mut smf = Smf::new(Header::new(
        Format::Parallel,
        Timing::Metrical(u15::new(PPQ)),
    ));
    smf.tracks.push(conductor);
    for part in [piano(&h), bass(&h), melody(), drums()] {
        smf.tracks.push(part.into_track());
    }

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("demo.mid");
    smf.save(&path)?;
    let secs = (bar(END_BAR) + FINAL_BEATS) * 60.0 / BPM;
    println!(
        "wrote {} ({} tracks, about {secs:.0} s)",
        path.display(),
        smf.tracks.len()
    );
    Ok(())
}
