#define BITNET_STATIC
#define BITNET_IMPLEMENTATION
#include "bitnet.h"

int static_b_status_ok(void);
int static_b_status_ok(void) { return bitnet_status_str(BITNET_OK)[0] == 'o'; }
