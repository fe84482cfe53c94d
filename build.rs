//! ALSA's error handler is variadic: a few lines of C format its messages for us.
fn main() {
    println!("cargo:rerun-if-changed=src/io/alsa_log.c");
    cc::Build::new()
        .file("src/io/alsa_log.c")
        .warnings(true)
        .compile("samspill_alsa_log");
}
