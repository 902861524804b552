# crest report: the HTML page of a finished, a single-generation and an interrupted run, each
# figure present and drawn, nothing fetched from the network, and the page rendered by a real
# browser (headless Chromium) without console errors and not blank.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
TINY="$SRC/tests/cli/tiny.yaml"

CHROMIUM=${CREST_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ] || [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: Chromium is not installed; the report test renders the page in it."
  echo "Run scripts/test.sh (it installs the Debian package chromium), or set CREST_CHROMIUM."
  exit 1
fi

# chromium ARGS...: headless, offline, in a throwaway profile; stderr holds the console log.
chromium() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$WORK/profile.XXXXXX")" --enable-logging=stderr --v=0 "$@"
}

# figure_drawn HTML FIGURE PATTERN: every <svg data-figure="FIGURE"> line holds PATTERN (a
# drawn bar, line or cell), and there is at least one such figure.
figure_drawn() {
  local lines
  lines=$(grep -o "data-figure=\"$2\".*</svg>" "$1")
  [ -n "$lines" ] || { fail "$1: no figure '$2'"; return; }
  while IFS= read -r line; do
    grep -qE -- "$3" <<<"$line" || fail "$1: figure '$2' has nothing drawn (no match for $3)"
  done <<<"$lines"
}

BAR='class="bar" x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="[1-9]'
LINE='class="line" d="M[0-9.]+ [0-9.]+L'
POINT='class="point" cx="'
CELL='class="cell"'

# check_page HTML: the figures of a finished run and no reference to anything on the network.
check_page() {
  figure_drawn "$1" generations "$LINE|$POINT"
  figure_drawn "$1" labeled-size "$BAR"
  figure_drawn "$1" labeled-distribution "$BAR"
  figure_drawn "$1" per-class-recall "$BAR"
  figure_drawn "$1" per-class-precision "$BAR"
  figure_drawn "$1" selection-count "$BAR"
  figure_drawn "$1" selection-precision "$BAR"
  figure_drawn "$1" confusion "$CELL"
  figure_drawn "$1" curves-loss "$LINE"
  figure_drawn "$1" curves-mask-rate "$LINE"
  figure_drawn "$1" curves-accuracy "$LINE"
  figure_drawn "$1" curves-lr "$LINE"
  grep -qiE 'https?://|src=|<script|<link|@import|url\(' "$1" &&
    fail "$1 refers to an external resource or runs a script"
  for name in disc square triangle ring; do
    grep -q ">$name<" "$1" || fail "$1 does not show the class name '$name'"
  done
  grep -q '<details id="config"><summary>' "$1" || fail "$1 has no collapsible config section"
  grep -q 'crest.mode\|mode: crest+' "$1" || fail "$1 does not show the resolved config"
  grep -q 'report written by' "$1" || fail "$1 does not show the environment"
  grep -q 'id="execution"' "$1" || fail "$1 does not show how each generation ran"
  grep -q '<td class="text">cpu (' "$1" || fail "$1 does not show the device from execution.json"
}

# ---- a finished run of 2 generations --------------------------------------------------------
run -q train --config "$TINY" --out r
expect_code 0 "training the tiny config"
run report r
expect_code 0 "report of a finished run"
[ "$(cat "$OUT")" = "r/report.html" ] || fail "stdout should be the path written, r/report.html"
[ -s r/report.html ] || fail "no r/report.html"
check_page r/report.html
grep -q 'id="incomplete"' r/report.html && fail "a finished run is reported as incomplete"
[ "$(grep -c 'data-figure="labeled-distribution"' r/report.html)" -eq 2 ] ||
  fail "one labeled-distribution panel per generation expected"
grep -q 'data-figure="confusion" data-generation="1"' r/report.html ||
  fail "the confusion matrix should be of the last generation (1 under select_on last)"
ls r/report.html.tmp.* >/dev/null 2>&1 && fail "a temporary file was left behind"

# The same folder gives the same bytes; --out writes elsewhere.
run report r --out elsewhere/page.html
expect_code 0 "report --out"
expect_out "elsewhere/page.html" "report --out prints its path"
cmp -s r/report.html elsewhere/page.html || fail "two reports of one folder differ"

# Rendered by Chromium: the DOM holds the figures, no console message, a picture that is not
# blank. The calibration page (empty, same size) and a page with a console error check that
# this Chromium reports what the checks look for.
printf '<!DOCTYPE html><html><body></body></html>' >blank.html
printf '<!DOCTYPE html><html><body><script>console.error("crest-control")</script></body></html>' \
  >control.html
chromium --dump-dom "file://$WORK/control.html" >control.dom 2>control.log
grep -q 'CONSOLE.*crest-control' control.log ||
  fail "Chromium's console log is not captured (--enable-logging=stderr); cannot check the page"

chromium --dump-dom "file://$WORK/r/report.html" >dom.html 2>dom.log
[ -s dom.html ] || fail "Chromium did not load r/report.html: $(tail -5 dom.log)"
for figure in generations labeled-distribution per-class-recall selection-count confusion \
              curves-loss; do
  grep -q "data-figure=\"$figure\"" dom.html || fail "the rendered DOM lacks figure '$figure'"
done
grep -q 'CONSOLE' dom.log &&
  fail "console messages while loading the report: $(grep CONSOLE dom.log)"

chromium --window-size=1280,4000 --screenshot="$WORK/blank.png" "file://$WORK/blank.html" \
  >/dev/null 2>&1
chromium --window-size=1280,4000 --screenshot="$WORK/report.png" "file://$WORK/r/report.html" \
  >/dev/null 2>screenshot.log
[ -s report.png ] || fail "Chromium wrote no screenshot: $(tail -5 screenshot.log)"
[ "$(head -c 8 report.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
  fail "the screenshot is not a PNG"
# A blank 1280x4000 page compresses to a few KB; the report's charts and text to hundreds.
blank_size=$(stat -c %s blank.png 2>/dev/null || echo 0)
report_size=$(stat -c %s report.png 2>/dev/null || echo 0)
[ "$blank_size" -gt 0 ] || fail "Chromium wrote no screenshot of the blank page"
[ "$report_size" -gt $((blank_size * 10)) ] && [ "$report_size" -gt 100000 ] ||
  fail "the screenshot looks blank: $report_size bytes (a blank page: $blank_size bytes)"
[ -n "${CREST_REPORT_PNG:-}" ] && cp report.png "$CREST_REPORT_PNG"

# ---- a single-generation run: the training curves of generation 0 ------------------------------
run -q train --config "$TINY" --out one --set crest.generations=1
expect_code 0 "single-generation run"
run report one
expect_code 0 "report of a single-generation run"
check_page one/report.html
grep -q 'id="incomplete"' one/report.html && fail "a finished 1-generation run is not incomplete"
[ "$(grep -c '<circle class="point"' one/report.html)" -ge 4 ] ||
  fail "the single-generation curves show their evaluation points"

# ---- fixmatch: nothing selected, so the selection figures give way to a sentence ---------------
run -q train --config "$TINY" --out fm --set crest.mode=fixmatch --set crest.generations=1
expect_code 0 "fixmatch run"
run report fm
expect_code 0 "report of a fixmatch run"
grep -q 'no pseudo-labels are selected' fm/report.html || fail "fixmatch: no selection sentence"
figure_drawn fm/report.html per-class-recall "$BAR"
figure_drawn fm/report.html curves-accuracy "$LINE"

# ---- an interrupted run: SIGKILL in generation 1 -----------------------------------------------
kill_in_generation_1 killed -q train --config "$TINY"
run report killed
expect_code 0 "report of an interrupted run"
expect_err "incomplete run" "the report warns about an interrupted run"
grep -q 'id="incomplete"' killed/report.html || fail "the page does not say the run is incomplete"
grep -q 'Incomplete run' killed/report.html || fail "no 'Incomplete run' banner"
grep -q 'gen_1: did not finish' killed/report.html || fail "the banner does not name gen_1"
grep -q 'summary.json: not written yet' killed/report.html || fail "the banner misses summary.json"
figure_drawn killed/report.html per-class-recall "$BAR"
figure_drawn killed/report.html confusion "$CELL"
grep -q 'data-figure="confusion" data-generation="0"' killed/report.html ||
  fail "the confusion matrix of an interrupted run is its last finished generation"

# ---- errors ---------------------------------------------------------------------------------
mkdir -p not_a_run
run report not_a_run
expect_code 2 "a folder without config.yaml"
expect_err "not_a_run is not a run folder" "the error names the folder"
expect_err "config.yaml" "the error says what was expected"
run report does_not_exist
expect_code 2 "a folder that does not exist"
expect_err "does_not_exist" "the error names the missing folder"

cp -r r damaged
printf '4,extra,0.5,0.5\n' >>damaged/gen_0/per_class.csv
run report damaged
expect_code 2 "a malformed per_class.csv"
expect_err "damaged/gen_0/per_class.csv:6" "the error names the file and line"
cp r/gen_0/per_class.csv damaged/gen_0/per_class.csv
printf '{"classes": [' >damaged/gen_1/selection.json
run report damaged
expect_code 2 "a malformed selection.json"
expect_err "damaged/gen_1/selection.json" "the error names the JSON file"
expect_err "line 1" "the error names the line"

finish
