//! Every word the panel shows, in Norwegian bokmål and English: one table, one lookup.
//! Texts with `{n}` get a number put in by the caller.

use crate::engine::Patch;
use crate::session::settings::Language;

/// One row per string key: `Key => ("bokmål", "English"),`. The enum, [`Text::ALL`] and
/// the lookup all come from this one table, so a key cannot lack a text.
macro_rules! text_table {
    ($($key:ident => ($nb:expr, $en:expr $(,)?),)*) => {
        /// A string key of the panel.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Text {
            $($key,)*
        }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$key,)*];

            /// (bokmål, English).
            fn texts(self) -> (&'static str, &'static str) {
                match self {
                    $(Text::$key => ($nb, $en),)*
                }
            }
        }
    };
}

text_table! {
    AppName => ("Samspill", "Samspill"),
    ViewPlay => ("Spill", "Play"),
    ViewSettings => ("Innstillinger", "Settings"),
    ViewJam => ("Loop", "Loops"),
    ViewRecord => ("Spill inn", "Record a song"),
    ViewListen => ("Lytt", "Listen"),
    ListenNothing => ("Ingen sang er valgt ennå.", "No song is chosen yet."),
    ListenPlay => ("Spill", "Play"),
    ListenPause => ("Pause", "Pause"),
    ListenResume => ("Spill videre", "Play on"),
    ListenStop => ("Stopp", "Stop"),
    ListenNext => ("Neste sang", "Next song"),
    ListenBack => ("15 s tilbake", "Back 15 s"),
    ListenForward => ("15 s fram", "On 15 s"),
    ListenTalk => ("Snakk", "Talk"),
    ListenTalking => ("Musikken er dempet – trykk igjen for å ta den opp", "The music is down – press again to bring it back"),
    ListenList => ("Spillelisten", "The list"),
    ListenPathHint => ("Sti til en sang, en mappe eller en spilleliste", "Path to a song, a folder or a playlist"),
    ListenOpen => ("Åpne", "Open"),
    ListenMusicFolder => ("Musikkmappen", "Music folder"),
    ListenStick => ("Minnepinne: {n}", "USB stick: {n}"),
    ListenLookAgain => ("Se etter minnepinner", "Look for USB sticks"),
    ListenDropHint => ("… eller dra sanger, mapper eller spillelister hit.", "… or drag songs, folders or playlists here."),
    ListenMeasuring => ("Måler lydstyrken: {n}", "Measuring loudness: {n}"),
    ListenLevel => ("Nivå {n} dB", "Level {n} dB"),
    ListenPaused => ("På pause", "Paused"),
    ListenFadeSecs => ("Pause og stopp toner ut over (sekunder)", "Pause and stop fade over (seconds)"),
    ListenRunOn => ("Spill neste sang etter en pause", "Play the next song after a gap"),
    ListenTalkDepth => ("Snakk demper musikken (dB)", "Talk turns the music down by (dB)"),
    SettingsListen => ("Lytting", "Listening"),
    ListenLyrics => ("Tekst", "Lyrics"),
    ListenTransposeDown => ("Akkorder ned", "Chords down"),
    ListenTransposeUp => ("Akkorder opp", "Chords up"),
    ListenCues => ("Stikkord", "Cues"),
    ListenCueHere => ("Stikkord her", "Cue here"),
    ListenCueWait => ("Stikkord her, og vent", "Cue here, and wait"),
    ListenPromptHint => ("Hva skal stå der?", "What should it say?"),
    ListenRepeatA => ("Gjenta fra her (A)", "Repeat from here (A)"),
    ListenRepeatB => ("… til her (B)", "… to here (B)"),
    ListenRepeatOff => ("Slutt å gjenta", "Stop repeating"),
    ListenRepeating => ("Gjentar {n}", "Repeating {n}"),
    ListenNotes => ("Notater om sangen", "Notes on the song"),
    ListenSessionNote => ("Notat for timen", "Note for this session"),
    ListenRemove => ("Fjern", "Remove"),
    ListenWaits => ("venter", "waits"),
    ListenChoose => ("Velg sanger …", "Choose songs …"),
    ListenUp => ("Opp", "Up"),
    ListenPlayFolder => ("Spill hele mappen", "Play the whole folder"),
    ListenClose => ("Lukk", "Close"),
    ListenSongLine => ("Sangen fra start til slutt – trykk for å hoppe dit", "The song from start to end – press to go there"),
    ListenMicDips => ("Musikken dempes når det snakkes i", "The music dips while someone speaks into"),
    ListenMicOff => ("ingen", "none"),
    ListenMicInput => ("inngang {n}", "input {n}"),
    ProblemMissing => ("finnes ikke (flyttet, fått nytt navn eller på en minnepinne som ikke står i)", "not there (moved, renamed, or on a USB stick that is not in)"),
    ProblemWindows => ("finnes ikke her (listen peker til {n} på en Windows-maskin)", "not found here (the list points to {n} on a Windows machine)"),
    ProblemFolder => ("en mappe, ikke en sang", "a folder, not a song"),
    ProblemWeb => ("en nettadresse: Samspill spiller bare filer på denne maskinen", "a web address: Samspill plays files on this machine only"),
    ProblemUnreadable => ("kan ikke leses", "cannot be read"),
    ProblemNotSound => ("ikke en lydfil Samspill kjenner", "not a sound file Samspill knows"),
    ProblemCodec => ("lyd i en form Samspill ikke kan spille ({n}); gjør den om til MP3 eller FLAC", "sound in a form Samspill cannot play ({n}); convert it to MP3 or FLAC"),
    ProblemBroken => ("ødelagt", "broken"),
    RecordStart => ("Start opptak", "Start recording"),
    RecordStop => ("Stopp", "Stop"),
    RecordCountIn => ("Tell inn … {n}", "Count-in … {n}"),
    RecordRecording => ("Tar opp", "Recording"),
    RecordNoSong => ("Ingen sang ennå. Trykk «Start opptak», så lages en.", "No song yet. Press “Start recording” and one is made."),
    RecordSong => ("Sang:", "Song:"),
    RecordNewSong => ("Ny sang", "New song"),
    RecordRoom => ("Plass på disken: {n}", "Room on disk: {n}"),
    RecordDiscardRunning => ("Kast dette opptaket", "Throw away this take"),
    RecordDiscardLast => ("Kast siste opptak", "Throw away the last take"),
    RecordHere => ("Ta opp her", "Record here"),
    RecordPunch => ("Bytt bare ut en bit av sporet", "Replace only part of the track"),
    RecordCycle => ("Ta opp om og om igjen, takt", "Record round and round, bars"),
    RecordFrom => ("fra", "from"),
    RecordTo => ("til", "to"),
    RecordExportWav => ("Lagre som WAV", "Save as WAV"),
    RecordExportPhone => ("Lagre for mobil", "Save for a phone"),
    RecordTrackEmpty => ("Ingen opptak ennå", "No takes yet"),
    RecordDropoutsN => ("{n} hakk i lyden, merket", "{n} dropouts, marked"),
    RecordSaved => ("Lagret: {n}", "Saved: {n}"),
    RecordSavingN => ("Lagrer … {n} %", "Saving … {n} %"),
    RecordCancel => ("Avbryt", "Cancel"),
    RecordRecoveredN => ("Et opptak ble avbrutt av et krasj eller strømbrudd, og er hentet tilbake: {n}.", "A recording was cut off by a crash or a power cut and has been brought back: {n}."),
    RecordKeepRecovered => ("Behold det", "Keep it"),
    RecordDiscardRecovered => ("Kast det", "Throw it away"),
    RecordCancelled => ("Lagringen ble avbrutt; ingen fil ble skrevet.", "Saving was cancelled; no file was written."),
    RecordUnavailable => ("Opptak er ikke mulig her:", "Recording is not possible here:"),
    LoopGettingReady => ("Gjør klar loopene …", "Getting the loops ready …"),
    TrackN => ("Spor {n}", "Track {n}"),
    // What the track's big button does next, in plain words.
    DoRecord => ("Ta opp", "Record"),
    DoCancelStart => ("Ikke start", "Do not start"),
    DoStopRecording => ("Stopp opptak", "Stop recording"),
    DoOverdub => ("Legg på", "Add a layer"),
    DoStopOverdub => ("Stopp pålegg", "Stop adding"),
    DoUnmute => ("Slå på lyden", "Sound on"),
    DoPlay => ("Spill av", "Play back"),
    // What the track is doing now.
    StateEmpty => ("Tom", "Empty"),
    StateWaiting => ("Venter", "Waiting"),
    StateRecording => ("Tar opp", "Recording"),
    StateFinishing => ("Runder av", "Rounding off"),
    StatePlaying => ("Spiller", "Playing"),
    StateOverdubbing => ("Legger på", "Adding a layer"),
    StateMultiplying => ("Forlenger", "Lengthening"),
    StateInserting => ("Setter inn", "Inserting"),
    StateReplacing => ("Erstatter", "Replacing"),
    StateMuted => ("Dempet", "Muted"),
    StateOnce => ("Spiller én gang", "Playing once"),
    StatePaused => ("Pause", "Paused"),
    Mute => ("Demp", "Mute"),
    Undo => ("Angre", "Undo"),
    Redo => ("Gjør om", "Redo"),
    ClearTrack => ("Tøm", "Clear"),
    ClearAsk => ("Tømme spor {n}?", "Clear track {n}?"),
    ClearYes => ("Ja, tøm", "Yes, clear"),
    ClearNo => ("Nei, behold", "No, keep it"),
    TrackLevel => ("Nivå", "Level"),
    // What a track records from: every input, one input ("Inngang {n}"), the instruments
    // or everything heard before the loops.
    SourceLabel => ("Tar opp fra", "Records from"),
    SourceInputs => ("Alle innganger", "All inputs"),
    SourceInstruments => ("Instrumentene", "The instruments"),
    SourceMix => ("Alt som spilles", "Everything playing"),
    // The meter of what a loop track plays, and what a screen reader calls it.
    TrackSound => ("Lyd", "Sound"),
    TrackSoundN => ("Lyd fra spor {n}", "Sound from track {n}"),
    // Why Undo or Redo is greyed out.
    NothingToUndo => (
        "Ingenting å angre på dette sporet ennå.",
        "Nothing to undo on this track yet.",
    ),
    NothingToRedo => (
        "Ingenting å gjøre om. Angre først.",
        "Nothing to redo. Undo something first.",
    ),
    NothingToUndoAll => (
        "Ingen av sporene har noe å angre.",
        "No track has anything to undo.",
    ),
    NothingToRedoAll => (
        "Ingen av sporene har noe å gjøre om.",
        "No track has anything to redo.",
    ),
    TrackFull => (
        "Sporet ble fullt, så opptaket stoppet.",
        "The track filled up, so recording stopped.",
    ),
    StartLoop => ("Start en loop", "Start a loop"),
    StopLoop => ("Stopp loopen", "Stop the loop"),
    AllTracksUsed => (
        "Alle sporene er i bruk. Tøm ett for å ta opp mer.",
        "Every track is in use. Clear one to record more.",
    ),
    CycleFrom => ("Takten settes av", "The beat is set by"),
    FirstLoop => ("Første loop", "The first loop"),
    Tempo => ("Tempo", "Tempo"),
    Slower => ("Saktere", "Slower"),
    Faster => ("Raskere", "Faster"),
    TapTempo => ("Tapp takten", "Tap the beat"),
    BeatsPerBar => ("Slag per takt", "Beats per bar"),
    StartOn => ("Start og stopp", "Start and stop"),
    QuantizeOff => ("Straks", "At once"),
    QuantizeBeat => ("På neste slag", "On the next beat"),
    QuantizeBar => ("På neste takt", "On the next bar"),
    QuantizeCycle => ("På neste runde", "On the next cycle"),
    Click => ("Klikk", "Click"),
    CountIn => ("Inntelling", "Count-in"),
    LoopSection => ("Loopminne", "Loop memory"),
    LoopTracks => ("Spor", "Tracks"),
    MinutesPerTrack => ("Minutter per spor", "Minutes per track"),
    UndoLevels => ("Angre-steg", "Undo steps"),
    Crossfade => ("Overgang", "Crossfade"),
    LatencyOffset => ("Opptaksjustering", "Recording alignment"),
    LatencyOffsetHint => (
        "Havner nye lag etter de gamle, skru opp; før dem, skru ned.",
        "If new layers land after the old ones, turn this up; before them, down.",
    ),
    LoopMemory => ("Minne:", "Memory:"),
    LoopMemoryHint => (
        "Alt minnet settes av når Samspill starter. Endringer her gjelder fra neste start.",
        "All the memory is set aside when Samspill starts. Changes here apply from the next start.",
    ),
    MidiLearn => ("Lær MIDI", "MIDI learn"),
    LearnPickTarget => (
        "Klikk på knappen som skal styres: et spors store knapp, Demp, Angre, Gjør om eller Tapp takten.",
        "Click the button to control: a track's big button, Mute, Undo, Redo or Tap the beat.",
    ),
    LearnPress => ("Trykk en tangent eller pedal…", "Press a key or pedal…"),
    LearnCancel => ("Avbryt", "Cancel"),
    Learned => ("Lært:", "Learned:"),
    TriggerNote => ("tone {n}", "note {n}"),
    TriggerCc => ("CC {n}", "CC {n}"),
    OnChannel => ("på kanal {n}", "on channel {n}"),
    Forget => ("Glem", "Forget"),
    NoMappings => (
        "Ingen tangenter eller pedaler er lært ennå.",
        "No keys or pedals are learned yet.",
    ),
    FootSwitch => ("fotbryter", "foot switch"),
    AllTracks => ("Alle spor", "All tracks"),
    Chosen => ("valgt", "chosen"),
    Shortcuts => (
        "Taster: Mellomrom = fotbryter på valgt spor · 1–8 = velg spor · U = angre · R = gjør om · M = demp · T = tapp takten · Esc = avbryt",
        "Keys: Space = foot switch on the chosen track · 1–8 = choose a track · U = undo · R = redo · M = mute · T = tap the beat · Esc = cancel",
    ),
    MidiNoTrack => (
        "En lært tangent eller pedal styrer et spor som ikke finnes nå.",
        "A learned key or pedal controls a track that does not exist now.",
    ),
    MapSaveFailed => (
        "Kunne ikke lagre de lærte tangentene:",
        "Could not save the learned keys:",
    ),
    MapLoadFailed => (
        "Kunne ikke lese de lærte tangentene:",
        "Could not read the learned keys:",
    ),
    OscSection => ("Fjernstyring", "Remote control"),
    ClickApartToggle => ("Klikket i egne utganger", "Click on its own outputs"),
    ClickApartHint => ("Klikket og inntellingen går til utgang 3–4 (JACK: click_left/click_right), så de bare høres i hodetelefonene og ikke kommer med i opptaket.", "The click and count-in go to outputs 3–4 (JACK: click_left/click_right), so they are heard only in the headphones and stay out of the recording."),
    OscToggle => ("OSC på", "OSC on"),
    OscOff => ("OSC er av.", "OSC is off."),
    OscHint => (
        "Bare programmer på denne maskinen kan styre loopene (SooperLoopers språk).",
        "Only programs on this computer can steer the loops (SooperLooper's language).",
    ),
    OscBusy => (
        "OSC kunne ikke starte; porten er kanskje i bruk av et annet program. Alt annet virker. Port:",
        "OSC could not start; another program may be using its port. Everything else works. Port:",
    ),
    // Saving the loops as a jam and opening one again (the Loop view's last card).
    JamSection => ("Lagre og åpne", "Save and open"),
    JamName => ("Navn", "Name"),
    JamSave => ("Lagre", "Save"),
    JamOpen => ("Åpne", "Open"),
    JamCloseList => ("Lukk listen", "Close the list"),
    JamSaving => (
        "Lagrer … Musikken spiller videre.",
        "Saving … The music plays on.",
    ),
    JamOpening => ("Åpner …", "Opening …"),
    JamSavedAs => ("Lagret som «{n}».", "Saved as “{n}”."),
    JamOpened => ("Åpnet «{n}».", "Opened “{n}”."),
    JamNoneSaved => ("Ingenting er lagret ennå.", "Nothing is saved yet."),
    JamPick => ("Velg det du vil åpne:", "Choose what to open:"),
    JamReplaceAsk => (
        "Loopene du har nå blir erstattet. Lagre dem først?",
        "The loops you have now will be replaced. Save them first?",
    ),
    JamSaveFirst => ("Lagre først", "Save first"),
    JamReplace => ("Erstatt", "Replace"),
    JamCancel => ("Ikke åpne", "Do not open"),
    JamSaveFailed => ("Loopene ble ikke lagret.", "The loops were not saved."),
    JamOpenFailed => ("Kunne ikke åpne.", "Could not open it."),
    JamWhyNoFolder => (
        "Samspill finner ikke mappen sin og får ikke laget den.",
        "Samspill cannot find or make its folder.",
    ),
    JamWhyDisk => (
        "Det gikk ikke å skrive til disken. Loopene spiller fortsatt; sjekk at det er plass, og prøv igjen.",
        "Writing to the disk failed. The loops still play; check that there is room and try again.",
    ),
    JamWhyGone => ("Den finnes ikke lenger.", "It is no longer there."),
    JamWhyUnreadable => (
        "Ingenting i den kunne leses; filene er skadet eller mangler.",
        "Nothing in it could be read; its files are damaged or missing.",
    ),
    JamWhyNoLooper => (
        "Loopene er ikke klare ennå, så det er ingenting å lagre.",
        "The loops are not ready yet, so there is nothing to save.",
    ),
    JamWhyBusy => (
        "Loopene lagres allerede; vent litt og prøv igjen.",
        "The loops are already being saved; wait a moment and try again.",
    ),
    JamWhyTryAgain => (
        "Lydmotoren ble ikke ferdig i tide. Ingenting ble endret; prøv igjen.",
        "The sound engine did not finish in time. Nothing was changed; try again.",
    ),
    // What the user should know after a save or an open. Tracks as the rows name them.
    JamNoteSavedBefore => (
        "Spor {n} ble endret (pålegg eller lignende) og er lagret slik det var før.",
        "Track {n} was being changed (adding a layer or similar) and is saved as it was before.",
    ),
    JamNoteRecording => (
        "Spor {n} tok opp; det nye opptaket er ikke lagret.",
        "Track {n} was recording; the new take is not saved.",
    ),
    JamNoteChanged => (
        "Spor {n} endret seg mens det ble lagret og er ikke med.",
        "Track {n} changed while it was being saved and is not in the save.",
    ),
    JamNoteConverted => (
        "Den ble lagret med en annen samplingsfrekvens; loopene er regnet om og har samme tonehøyde og tempo.",
        "It was saved at another sample rate; the loops were converted and keep their pitch and tempo.",
    ),
    JamNoteDidNotFit => (
        "Spor {n} fikk ikke plass i loopminnet.",
        "Track {n} did not fit in the loop memory.",
    ),
    JamTroubleLoops => (
        "{n} spor kunne ikke leses og er tomme:",
        "{n} tracks could not be read and are empty:",
    ),
    JamTroubleOneLoop => (
        "Ett spor kunne ikke leses og er tomt:",
        "One track could not be read and is empty:",
    ),
    JamTroubleSession => (
        "Øktfilen var skadet eller borte, men {n} spor ble lest fra lydfilene. Tempo og nivåer er satt tilbake.",
        "The session file was damaged or missing, but {n} tracks were read from their sound files. Tempo and levels are back to normal.",
    ),
    ChooseInstrument => ("Velg instrument", "Choose an instrument"),
    PatchPiano => ("Piano", "Piano"),
    PatchEPiano => ("El-piano", "Electric piano"),
    PatchGuitar => ("Gitar", "Guitar"),
    PatchBass => ("Bass", "Bass"),
    PatchStrings => ("Strykere", "Strings"),
    PatchPad => ("Pad", "Pad"),
    PatchOrgan => ("Orgel", "Organ"),
    StopAllNotes => ("Stopp alle toner", "Stop all notes"),
    SoundFontBuiltIn => (
        "Instrumentene bruker den innebygde lyden.",
        "The instruments use the built-in sound.",
    ),
    SoundFontLoading => (
        "Henter instrumentlydene …",
        "Getting the instrument sounds …",
    ),
    SoundFontReady => ("Instrumentlyder:", "Instrument sounds:"),
    SoundFontFailed => (
        "Fant ikke instrumentlydene; den innebygde lyden spiller i stedet.",
        "Could not find the instrument sounds; the built-in sound plays instead.",
    ),
    Levels => ("Lydnivå", "Sound levels"),
    InputN => ("Inngang {n}", "Input {n}"),
    Instruments => ("Instrumenter", "Instruments"),
    Speakers => ("Høyttalere", "Speakers"),
    HearInput => ("Hør i programmet", "Hear through Samspill"),
    HearInputHint => (
        "Slå av hvis lydkortet lar deg høre inngangen direkte. Loopene tar opp inngangen uansett.",
        "Turn off if your audio interface lets you hear the input directly. Loops record the input either way.",
    ),
    Silent => ("stille", "silent"),
    Limiter => ("Begrenser", "Limiter"),
    LimiterHint => (
        "Lyser når lyden er så sterk at den blir dempet for å skåne ørene og høyttalerne.",
        "Lights up when the sound is so loud that it is turned down to protect ears and speakers.",
    ),
    Volume => ("Volum", "Volume"),
    Quieter => ("Lavere", "Quieter"),
    Louder => ("Høyere", "Louder"),
    SoundSection => ("Lyd", "Sound"),
    AudioSystem => ("Lydsystem", "Audio system"),
    HostAlsa => ("ALSA", "ALSA"),
    HostJack => ("JACK", "JACK"),
    HostNone => ("Uten lydkort", "No audio device"),
    HostNoneHint => (
        "Uten lydkort blir ingenting spilt ut. Nyttig for å prøve panelet.",
        "With no audio device nothing is played aloud. Useful for trying the panel.",
    ),
    JackDecides => (
        "JACK bestemmer samplingsfrekvens og bufferstørrelse.",
        "JACK decides the sample rate and the buffer size.",
    ),
    SoundOut => ("Lyd ut", "Sound out"),
    SoundIn => ("Lyd inn", "Sound in"),
    SystemDefault => ("Systemets standard", "System default"),
    NotConnected => ("(ikke tilkoblet)", "(not connected)"),
    NoneFound => ("Fant ingen.", "None found."),
    SampleRate => ("Samplingsfrekvens", "Sample rate"),
    BufferSize => ("Bufferstørrelse", "Buffer size"),
    BufferHint => (
        "Mindre gir kortere forsinkelse; større tåler en travel maskin bedre.",
        "Smaller gives a shorter delay; larger copes better with a busy computer.",
    ),
    Latency => ("Forsinkelse:", "Latency:"),
    MidiKeyboards => ("MIDI-keyboard", "MIDI keyboards"),
    NoMidi => ("Fant ingen MIDI-keyboard.", "No MIDI keyboard found."),
    LookAgain => ("Let på nytt", "Look again"),
    Apply => ("Bruk", "Apply"),
    Opening => ("Åpner lydenheten …", "Opening the sound device …"),
    ViewSection => ("Visning", "Display"),
    Language => ("Språk", "Language"),
    // Each language's name in itself, so anyone can find their own.
    LanguageBokmal => ("Norsk bokmål", "Norsk bokmål"),
    LanguageEnglish => ("English", "English"),
    EasyMode => ("Enkel visning", "Easy mode"),
    EasyModeHint => (
        "Store knapper og stor tekst.",
        "Large buttons and large text.",
    ),
    StatusStarting => ("Starter lyden …", "Starting the sound …"),
    StatusRunning => ("Lyden er på", "Sound is on"),
    StatusSilent => (
        "Uten lydkort: ingenting blir spilt ut.",
        "No audio device: nothing is played aloud.",
    ),
    StatusNoDevice => (
        "Fant ikke noe lydkort. Koble det til, og trykk Bruk under Innstillinger.",
        "No audio device was found. Plug it in and press Apply in Settings.",
    ),
    StatusDeviceLost => (
        "Lydkortet ble koblet fra. Koble det til igjen, eller velg et annet under Innstillinger.",
        "The audio device was unplugged. Plug it back in, or choose another in Settings.",
    ),
    StatusFailed => (
        "Lyden kunne ikke starte. Prøv et annet valg under Innstillinger.",
        "The sound could not start. Try another choice in Settings.",
    ),
    BadNumbers => (
        "Lyd som ikke var tall ble gjort stille ({n} ganger); musikken spiller videre.",
        "Sound that was not numbers was silenced ({n} times); the music plays on.",
    ),
    Stutters => (
        "Lyden har hakket {n} ganger; en større buffer kan hjelpe.",
        "The sound has stuttered {n} times; a larger buffer may help.",
    ),
    Applied => (
        "De nye lydinnstillingene er i bruk.",
        "The new sound settings are in use.",
    ),
    ApplyFailed => (
        "Kunne ikke bytte lydinnstillinger:",
        "Could not change the sound settings:",
    ),
    SaveFailed => (
        "Kunne ikke lagre innstillingene:",
        "Could not save the settings:",
    ),
    EngineBusy => (
        "Lydmotoren rakk ikke å ta imot det; prøv igjen.",
        "The sound engine could not take that just now; try again.",
    ),
    EngineStopped => ("Lydmotoren har stoppet.", "The sound engine has stopped."),
    NotANumber => (
        "Et tall var ikke gyldig og ble ikke brukt:",
        "A number was not valid and was not used:",
    ),
    NoDisplay => (
        "Fant ingen skjerm å vise panelet på (DISPLAY er ikke satt).",
        "There is no screen to show the panel on (DISPLAY is not set).",
    ),
    WindowFailed => (
        "Kunne ikke åpne panelvinduet:",
        "Could not open the panel window:",
    ),
}

/// The text for `key` in `lang`.
pub fn tr(lang: Language, key: Text) -> &'static str {
    let (nb, en) = key.texts();
    match lang {
        Language::Bokmal => nb,
        Language::English => en,
    }
}

/// The text for `key` with `{n}` replaced.
pub fn tr_n(lang: Language, key: Text, n: impl std::fmt::Display) -> String {
    tr(lang, key).replace("{n}", &n.to_string())
}

pub fn patch_text(patch: Patch) -> Text {
    match patch {
        Patch::Piano => Text::PatchPiano,
        Patch::EPiano => Text::PatchEPiano,
        Patch::Guitar => Text::PatchGuitar,
        Patch::Bass => Text::PatchBass,
        Patch::Strings => Text::PatchStrings,
        Patch::Pad => Text::PatchPad,
        Patch::Organ => Text::PatchOrgan,
    }
}

pub fn language_text(lang: Language) -> Text {
    match lang {
        Language::Bokmal => Text::LanguageBokmal,
        Language::English => Text::LanguageEnglish,
    }
}

/// A number with `places` decimals, with a decimal comma in bokmål.
pub fn decimal(lang: Language, value: f32, places: usize) -> String {
    let s = format!("{value:.places$}");
    match lang {
        Language::Bokmal => s.replace('.', ","),
        Language::English => s,
    }
}

/// One buffer's worth of delay in milliseconds.
pub fn latency_ms(frames: u32, sample_rate: u32) -> f32 {
    frames as f32 * 1000.0 / sample_rate.max(1) as f32
}

/// "5,3 ms" / "5.3 ms".
pub fn ms_text(lang: Language, frames: u32, sample_rate: u32) -> String {
    format!("{} ms", decimal(lang, latency_ms(frames, sample_rate), 1))
}

/// "44,1 kHz" / "48 kHz".
pub fn rate_text(lang: Language, sample_rate: u32) -> String {
    let khz = sample_rate as f32 / 1000.0;
    let places = if sample_rate.is_multiple_of(1000) {
        0
    } else {
        1
    };
    format!("{} kHz", decimal(lang, khz, places))
}

/// "460 MB" / "1,8 GB": what looper memory costs, in the unit a person reads easily.
pub fn bytes_text(lang: Language, bytes: u64) -> String {
    let mb = bytes as f32 / 1_000_000.0;
    if mb >= 1000.0 {
        format!("{} GB", decimal(lang, mb / 1000.0, 1))
    } else {
        format!("{mb:.0} MB")
    }
}

/// "120 BPM", whole beats.
pub fn bpm_text(bpm: f32) -> String {
    format!("{:.0} BPM", bpm.round())
}

/// "-6 dB", rounded to whole decibels (finer steps mean nothing to a listener).
pub fn db_text(db: f32) -> String {
    let r = db.round();
    // Avoid "-0 dB".
    let r = if r == 0.0 { 0.0 } else { r };
    format!("{r:.0} dB")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGS: [Language; 2] = [Language::Bokmal, Language::English];

    #[test]
    fn every_key_has_text_in_both_languages() {
        for &key in Text::ALL {
            for lang in LANGS {
                assert!(
                    !tr(lang, key).trim().is_empty(),
                    "{key:?} is empty in {lang:?}"
                );
            }
        }
        for patch in Patch::ALL {
            assert!(Text::ALL.contains(&patch_text(patch)));
        }
    }

    #[test]
    fn numbers_read_the_way_each_language_writes_them() {
        assert_eq!(ms_text(Language::Bokmal, 256, 48_000), "5,3 ms");
        assert_eq!(ms_text(Language::English, 256, 48_000), "5.3 ms");
        assert_eq!(ms_text(Language::English, 64, 44_100), "1.5 ms");
        assert_eq!(rate_text(Language::Bokmal, 44_100), "44,1 kHz");
        assert_eq!(rate_text(Language::English, 48_000), "48 kHz");
        assert_eq!(db_text(-6.2), "-6 dB");
        assert_eq!(db_text(-0.3), "0 dB");
        assert_eq!(tr_n(Language::English, Text::InputN, 2), "Input 2");
        assert_eq!(bytes_text(Language::Bokmal, 1_843_200_000), "1,8 GB");
        assert_eq!(bytes_text(Language::English, 460_800_000), "461 MB");
        assert_eq!(bpm_text(119.6), "120 BPM");
    }
}
