/* errbuf.h - the tools' parsers report errors by printf into a caller's buffer. */
#ifndef BITNET_ERRBUF_H
#define BITNET_ERRBUF_H
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (nothing when err is NULL or err_size 0) and returns -1, so a parser can
   `return errbuf_printf(err, err_size, "...", ...);`. */
static inline int errbuf_printf(char *err, size_t err_size, const char *fmt, ...) {
    va_list ap;
    if (err && err_size) {
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}
#endif
