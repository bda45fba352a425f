/* With BITNET_STATIC each file gets a private copy of the library: two copies must link. */
#define BITNET_STATIC
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>

int static_b_status_ok(void);

int main(void) {
    int ok = bitnet_status_str(BITNET_ERR_NOMEM)[0] != 0 && static_b_status_ok();
    printf("static_link: %d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
