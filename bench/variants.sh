#!/usr/bin/env bash
# make bench-variants: the measurements behind the references' choices
# (bench/README.md). Every variant of reference (a)'s SQL
# (bench/refserver/sql/*.sql, served at /q/{name}/...) and of reference
# (b)'s statements (bench/refgo, /v/{name}/...) is loaded in the same
# interleaved rounds as make bench, with the product's rest-c beside them,
# and bench/out/variants.md gets the table.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# shellcheck source=bench/lib.sh
source bench/lib.sh

RESULTS="$OUT/variants.jsonl"
bench_setup "$RESULTS"

specs=("rest-c|$SERVER_PID|http://127.0.0.1:$PORT/users/me/rooms|$TOKEN||50|400|")
for f in bench/refserver/sql/*.sql; do
  v=$(basename "$f" .sql)
  specs+=("a:$v|$REF_PID|http://127.0.0.1:$REFPORT/q/$v/users/me/rooms|$TOKEN||50|400|")
done
specs+=("a:fast-unprepared|$REF_PID|http://127.0.0.1:$REFPORT/q/fast-unprepared/users/me/rooms|$TOKEN||50|400|")
for v in pipeline roomorder joined noviewer; do
  specs+=("b:$v|$GO_PID|http://127.0.0.1:$GOPORT/v/$v/users/me/rooms|$TOKEN||50|400|")
done
if [ -n "${BENCH_ONLY:-}" ]; then # a regular expression on the names, to measure a few
  kept=()
  for s in "${specs[@]}"; do [[ ${s%%|*} =~ $BENCH_ONLY ]] && kept+=("$s"); done
  specs=("${kept[@]}")
fi
bench_rounds "$RESULTS" "${specs[@]}"
bench_meta "$RESULTS" end
bench/bin/report -variants -results "$RESULTS" -conns "$CONNS" -warmup "$WARMUP" -duration "$DURATION" | tee "$OUT/variants.md"
