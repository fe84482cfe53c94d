//! Live audio and MIDI: the backends behind one trait.
