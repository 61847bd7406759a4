#!/bin/sh
# report.html_in_chromium: `syncsim run --html` opened in headless Chromium.
# The page's script must run (filters from the address applied, the count of
# shown cases written), the caught bug's case must show its sequence diagram
# and its RESYNC-2 finding inline, the rule filter must hide what does not
# cite the rule, and a screenshot is saved as a CI artifact.
# Usage: chromium_report.sh SYNCSIM SOURCE_DIR WORK_DIR ARTIFACT_DIR
set -eu
syncsim=$1 src=$2 out=$3 artifacts=$4
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "chromium is not installed (scripts/test.sh installs it: apt-get install chromium)" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out" "$artifacts"
"$syncsim" run "$src/scenarios/bug-client-no-resync-on-gap.yaml" \
  "$src/scenarios/resync-reordered-deltas.yaml" "$src/scenarios/writes-converge.yaml" \
  --html "$out/report.html" >/dev/null
page="file://$out/report.html"
browse() {  # browse PROFILE ARGS...: Chromium as the probe of this machine runs it
  profile=$1
  shift
  timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$out/$profile" "$@" 2>>"$out/chromium.log"
}
fail() {
  echo "report.html_in_chromium: $1" >&2
  exit 1
}
browse p1 --dump-dom "$page#verdict=XFAIL" > "$out/xfail.html" || fail "chromium failed (see $out/chromium.log)"
grep -q 'data-ready="1"' "$out/xfail.html" || fail "the page's script did not run"
grep -q 'showing 1 of 3 case(s)' "$out/xfail.html" || fail "#verdict=XFAIL did not leave 1 of 3 cases"
[ "$(grep -c '<section class="case hidden"' "$out/xfail.html")" -eq 2 ] || fail "the 2 PASS cases are not hidden"
grep -q '<section class="case" id="case-bug-client-no-resync-on-gap-seed-1"' "$out/xfail.html" ||
  fail "the caught bug's case is not shown"
grep -q '<svg class="seq"' "$out/xfail.html" || fail "no sequence diagram"
grep -q 'RESYNC-2 (MUST)' "$out/xfail.html" || fail "the RESYNC-2 finding is not inline"
grep -q 'class="msg lost"' "$out/xfail.html" || fail "the dropped ShapeDelta is not drawn as lost"
browse p2 --dump-dom "$page#rule=RESYNC-4" > "$out/rule.html" || fail "chromium failed"
grep -q 'showing 1 of 3 case(s)' "$out/rule.html" || fail "#rule=RESYNC-4 did not leave the one case citing it"
browse p3 --window-size=1400,2400 --screenshot="$artifacts/report.png" "$page#verdict=XFAIL" >/dev/null ||
  fail "no screenshot"
size=$(wc -c < "$artifacts/report.png")
[ "$size" -gt 20000 ] || fail "the screenshot is only $size bytes"
echo "rendered in $($chromium --version 2>/dev/null | head -1); screenshot: $artifacts/report.png ($size bytes)"
