/* stop_reference.h - the expected output of the stop-string matcher for a whole text in one
   piece: the bytes before the first stop string to complete (the longest of those ending at the
   same byte); *which = its index or -1. Shared by tests/test_sampler.c and fuzz/fuzz_stop.c. */
#ifndef STOP_REFERENCE_H
#define STOP_REFERENCE_H
#include <string.h>

static size_t stop_reference(const char *t, size_t n, const char *const *stops, int ns, int *which) {
    size_t end;
    int i;
    *which = -1;
    for (end = 1; end <= n; end++) {
        for (i = 0; i < ns; i++) {
            size_t l = strlen(stops[i]);
            if (l <= end && (*which < 0 || l > strlen(stops[*which])) && memcmp(t + end - l, stops[i], l) == 0)
                *which = i;
        }
        if (*which >= 0) return end - strlen(stops[*which]);
    }
    return n;
}
#endif
