#!/usr/bin/env bash
# Browser test of the HTML reports: generates the run, compare and sweep reports, opens
# each in headless Chromium at 1,400 px, and fails if a page is blank, if any chart is
# empty, if the browser logged a console error, if texts of a chart overlap or are cut,
# if a table is wider than its card, if an axis leaves the data's range (a negative axis
# for non-negative data), if a drawn line is zero throughout, or if a page lacks a chart
# it must have: the option chain and writers' liquidations of an options run, the real
# volume beside the simulated liquidations of a replay on a UTC axis, a run with
# collateral's venue price above its liquidations by cause (check_page.py lists the
# checks). Screenshots are kept in target/report-screenshots/.
#
# The reports come from crates/report's `write_fixtures` test: the synthetic crash run,
# compare and sweep, and the quickstart scenario run by the kernel. When
# `liqsim run --out` writes report.html, the command line's own report is checked too.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT="$ROOT/target/report-fixtures"
SHOTS="$ROOT/target/report-screenshots"

find_chromium() {
    for b in chromium chromium-browser google-chrome-stable google-chrome; do
        if command -v "$b" >/dev/null 2>&1; then
            command -v "$b"
            return 0
        fi
    done
    return 1
}

if ! CHROMIUM=$(find_chromium); then
    echo "== installing chromium (Debian package)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
    CHROMIUM=$(find_chromium) || { echo "chromium could not be installed" >&2; exit 1; }
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is needed to check the screenshots" >&2
    exit 1
fi
"$CHROMIUM" --version

echo "== generating reports"
rm -rf "$OUT" "$SHOTS"
mkdir -p "$OUT" "$SHOTS"
LIQSIM_REPORT_FIXTURES="$OUT" cargo test --quiet -p liqsim-report --test report write_fixtures

# The charts an options run, a replay and a run with collateral add to a run report
# (`:utc`: on a UTC axis).
OPTION_CHARTS="option-open-interest,option-value,option-writers"
REPLAY_CHARTS="replay-volume:utc,replay-liquidations:utc"
COLLATERAL_CHARTS="collateral-price:utc,collateral-liquidations:utc"

# name, file, minimum number of charts, screenshot height (the whole page), and the
# charts it must have (ids separated by commas, or -)
PAGES=(
    "run $OUT/run/report.html 7 3600 -"
    "compare $OUT/compare.html 4 3000 -"
    "sweep $OUT/sweep.html 1 1400 -"
    "quickstart $OUT/quickstart/report.html 7 3600 -"
    "options-replay $OUT/options-replay/report.html 12 5400 $OPTION_CHARTS,$REPLAY_CHARTS"
    "collateral $OUT/collateral/report.html 9 4400 $COLLATERAL_CHARTS"
)

echo "== liqsim run scenarios/quickstart.toml --out"
if cargo run --quiet -- run scenarios/quickstart.toml --out "$OUT/cli-quickstart" >/dev/null \
    && [ -f "$OUT/cli-quickstart/report.html" ]; then
    PAGES+=("cli-quickstart $OUT/cli-quickstart/report.html 7 3600 -")
else
    echo "NOTE: liqsim run did not write report.html; the quickstart report checked is the one write_fixtures rendered"
fi

echo "== liqsim run, compare and sweep on the bundled scenarios"
LIQSIM="$ROOT/target/release/liqsim"
cargo build --quiet --release
for run in "black-thursday-2020 9 4400 $REPLAY_CHARTS" \
    "oct-2025-deleveraging 9 4400 $REPLAY_CHARTS" \
    "oct-2025-collateral 11 5200 $REPLAY_CHARTS,$COLLATERAL_CHARTS" \
    "options-gamma-squeeze 10 4800 $OPTION_CHARTS" \
    "options-gap-risk 10 4800 $OPTION_CHARTS" \
    "jump-crash 7 3600 -"; do
    read -r scenario charts height required <<<"$run"
    "$LIQSIM" run "scenarios/$scenario.toml" --out "$OUT/cli-$scenario" >/dev/null
    PAGES+=("cli-$scenario $OUT/cli-$scenario/report.html $charts $height $required")
done
for scenario in quickstart jump-crash; do
    "$LIQSIM" compare "scenarios/$scenario.toml" --seeds 5 --out "$OUT/compare-$scenario" >/dev/null
    PAGES+=("compare-$scenario $OUT/compare-$scenario/compare.html 5 3400 -")
    "$LIQSIM" sweep "scenarios/$scenario.toml" --grid "liquidation.fee=0.005,0.01" \
        --grid "margin.policy=es,fixed" --seeds 3 --out "$OUT/sweep-$scenario" >/dev/null
    PAGES+=("sweep-$scenario $OUT/sweep-$scenario/sweep.html 1 1400 -")
done

echo "== liqsim calibrate scenarios/oct-2025-deleveraging.toml (a short budget)"
# A budget this short may leave a target unmet (exit 2); the report is written either way.
rc=0
cargo run --quiet -- calibrate scenarios/oct-2025-deleveraging.toml \
    --targets scenarios/targets/oct-2025-deleveraging.toml --seeds 2 --max-runs 24 \
    --out "$OUT/calibrate" >/dev/null || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    echo "liqsim calibrate failed (exit $rc)" >&2
    exit 1
fi
PAGES+=("calibrate $OUT/calibrate/calibrate.html 2 1600 -")

echo "== liqsim target scenarios/quickstart.toml (two seeds, three steps)"
cargo run --quiet -- target scenarios/quickstart.toml --bad-debt 1 --seeds 2 --steps 3 \
    --out "$OUT/target" >/dev/null
PAGES+=("target $OUT/target/target.html 1 1000 -")

chrome() {
    local profile
    profile=$(mktemp -d)
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --hide-scrollbars --enable-logging=stderr --v=0 \
        --user-data-dir="$profile" "$@"
    local rc=$?
    rm -rf "$profile"
    return $rc
}

failed=0
for page in "${PAGES[@]}"; do
    read -r name file min_charts height required <<<"$page"
    if [ "$required" = "-" ]; then required=""; fi
    echo "== $name: $file"
    work="$OUT/browser-$name"
    mkdir -p "$work"
    # The layout is measured by a script run in a copy of the page (reports carry none).
    measured="$(dirname "$file")/.measured-$name.html"
    python3 -c 'import sys; page, js = open(sys.argv[1]).read(), open(sys.argv[2]).read(); print(page.replace("</body>", "<script>" + js + "</script></body>"))' \
        "$file" tests/browser/layout_check.js >"$measured"
    chrome --dump-dom --window-size="1400,$height" "file://$measured" >"$work/dom.html" 2>"$work/dom.log" || true
    rm -f "$measured"
    chrome --screenshot="$SHOTS/$name.png" --window-size="1400,$height" "file://$file" \
        >/dev/null 2>"$work/shot.log" || true
    cat "$work/dom.log" "$work/shot.log" >"$work/console.log"
    if [ ! -s "$work/dom.html" ] || [ ! -s "$SHOTS/$name.png" ]; then
        echo "$name: chromium produced no DOM or no screenshot; its log:" >&2
        tail -20 "$work/console.log" >&2
        failed=1
        continue
    fi
    if ! python3 tests/browser/check_page.py "$work/dom.html" "$SHOTS/$name.png" "$work/console.log" "$min_charts" "$required"; then
        failed=1
    fi
done

echo "screenshots: $SHOTS"
exit $failed
