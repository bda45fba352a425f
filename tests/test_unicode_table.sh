#!/usr/bin/env bash
# The Unicode class table in bitnet.h is exactly what tools/gen_unicode.py generates from
# Debian's unicode-data (skipped where that package is not installed).
cd "$(dirname "$0")/.." || exit 1
if [ ! -f /usr/share/unicode/UnicodeData.txt ] || ! command -v python3 >/dev/null; then
    echo "skipped: no unicode-data or python3"
    echo "unicode_table: 0 passed, 0 failed"
    exit 0
fi
if python3 tools/gen_unicode.py --check; then
    echo "unicode_table: 1 passed, 0 failed"
else
    echo "unicode_table: 0 passed, 1 failed"
    exit 1
fi
