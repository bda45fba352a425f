// The declaration half of bitnet.h must compile as C++ (game engines include it from C++).
#include "bitnet.h"
#include <cstdio>

int main() {
    bitnet_pool_stats stats = bitnet_pool_stats();
    int ok = stats.in_use == 0 && BITNET_VERSION_MAJOR >= 0;
    std::printf("cxx_header: %d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
