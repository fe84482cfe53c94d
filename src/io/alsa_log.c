/* ALSA reports its errors through a variadic handler, which stable Rust cannot define:
 * this one formats the message and hands it to Samspill's own reporting. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <alsa/asoundlib.h>

extern void samspill_alsa_message(const char *text);

static void samspill_alsa_handler(const char *file, int line, const char *function, int err,
                                  const char *fmt, ...) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ALSA %s:%d (%s): ", file ? file : "?", line,
                     function ? function : "?");
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n < sizeof msg && fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    size_t len = strlen(msg);
    if (err && len + 2 < sizeof msg) {
        snprintf(msg + len, sizeof msg - len, ": %s", snd_strerror(err));
    }
    samspill_alsa_message(msg);
}

void samspill_route_alsa_messages(void) { snd_lib_error_set_handler(samspill_alsa_handler); }
