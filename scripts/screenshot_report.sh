#!/usr/bin/env bash
# Screenshot an rvcqa HTML report with headless Chromium, to check that it renders (CI artifact,
# or a look at the report without a desktop).
#
#   scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#
# Defaults: OUT = REPORT.png beside the report, size 1200x3000 (the top of the report: summary,
# provenance, output analysis). Needs Chromium: apt-get install chromium (Debian/Ubuntu; the
# snap-only chromium-browser of Ubuntu also works if you set CHROMIUM=/snap/bin/chromium).
# The report is self-contained (inline CSS, base64 PNG pictures), so no network is needed; every
# flag below keeps Chromium from reaching out or writing into your profile.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 3 ]; then
    echo "usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]" >&2
    exit 2
fi
html=$1
out=${2:-${html%.*}.png}
size=${3:-1200x3000}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$chromium" ]; then
    echo "$0: Chromium not found: apt-get install chromium (or set CHROMIUM=/path/to/chrome)" >&2
    exit 3
fi
if [ ! -f "$html" ]; then
    echo "$0: no such report: $html" >&2
    exit 2
fi
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --hide-scrollbars --screenshot="$out" --window-size="${size/x/,}" "file://$abs_html" \
    >"$profile/chromium.log" 2>&1 || true
if [ ! -s "$out" ]; then
    echo "$0: Chromium wrote no screenshot; its output:" >&2
    cat "$profile/chromium.log" >&2
    exit 1
fi
echo "$out"
