# Shared by bench/run.sh and bench/variants.sh (sourced, not run): settings,
# building, seeding, starting the servers and running one load.
# shellcheck shell=bash

CONNS="${BENCH_CONNS:-32}"
WARMUP="${BENCH_WARMUP:-1s}"
DURATION="${BENCH_DURATION:-6s}"
ROUNDS="${BENCH_ROUNDS:-3}"
PGURL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
DBNAME="nm_bench"
DBURL="postgres://postgres@127.0.0.1:5432/${DBNAME}?sslmode=disable"
SECRET="bench-secret-bench-secret-bench-secret"
PORT=18181    # the product, RESPONSE_CACHE=off (the uncached goals)
CPORT=18182   # the product, RESPONSE_CACHE=on (the default)
REFPORT=18190 # reference (a), bench/refserver
GOPORT=18191  # reference (b), bench/refgo
OUT=bench/out

bench_build() {
  echo "== building" >&2
  mkdir -p "$OUT" bench/bin
  go build -o bench/bin/neuronmeet .
  local cmd
  for cmd in refserver refgo loadgen mint report diffcheck; do
    go build -o "bench/bin/$cmd" "./bench/$cmd"
  done
}

# bench_seed seeds nm_bench once (BENCH_RESEED=1 rebuilds it), replaces the
# exact-bytes check's host, and vacuums: the cluster runs with autovacuum
# off, and without a vacuum the visibility map stays empty, index-only scans
# read the heap, and a vacuum starting mid-run would change the costs
# between rounds.
bench_seed() {
  # The big host comes last: a seed that failed part way is seeded again.
  if [ "${BENCH_RESEED:-0}" = 1 ] || ! psql "$DBURL" -tAc "SELECT 1 FROM users WHERE id = 'cbighost00000000000000001'" 2>/dev/null | grep -q 1; then
    echo "== seeding ${DBNAME} (10,000 users, 100,000 rooms, ~500,000 participants)" >&2
    psql "$PGURL" -q -c "DROP DATABASE IF EXISTS ${DBNAME} WITH (FORCE)" -c "CREATE DATABASE ${DBNAME}"
    DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/neuronmeet migrate
    local start f
    start=$(date +%s)
    for f in bench/sql/bulk.sql bench/sql/host.sql bench/sql/bighost.sql; do
      psql "$DBURL" -q -v ON_ERROR_STOP=1 -f "$f"
    done
    echo "   seeded in $(($(date +%s) - start))s" >&2
  else
    echo "== reusing seeded ${DBNAME} (BENCH_RESEED=1 to rebuild)" >&2
    DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/neuronmeet migrate
  fi
  psql "$DBURL" -q -v ON_ERROR_STOP=1 -f bench/sql/diffhost.sql
  psql "$DBURL" -q -c "VACUUM (ANALYZE) users, rooms, room_settings, participants"
}

pids=()
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# bench_wait_http URL: until the server answers at all (a 401 counts).
bench_wait_http() {
  local _
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" != 000 ] && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# bench_start [product]: the references, and the product (without and with
# its response cache) when asked; sets SERVER_PID, CACHED_PID, REF_PID,
# GO_PID, TOKEN, BIGTOKEN, DIFFTOKEN.
bench_start() {
  if [ "${1:-}" = product ]; then
    DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" PORT=$PORT LOG_LEVEL=warn APP_ENV=production RESPONSE_CACHE=off \
      bench/bin/neuronmeet serve 2>"$OUT/server.log" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    # The write mix joins rooms from one address far faster than the join
    # limits allow a real one; nothing the reads do is rate-limited.
    DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" PORT=$CPORT LOG_LEVEL=warn APP_ENV=production RATE_LIMITS=off \
      bench/bin/neuronmeet serve 2>"$OUT/server-cached.log" &
    CACHED_PID=$!
    pids+=("$CACHED_PID")
  fi
  DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/refserver -addr 127.0.0.1:$REFPORT 2>"$OUT/refserver.log" &
  REF_PID=$!
  pids+=("$REF_PID")
  DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/refgo -addr 127.0.0.1:$GOPORT 2>"$OUT/refgo.log" &
  GO_PID=$!
  pids+=("$GO_PID")
  if [ "${1:-}" = product ]; then
    local _
    local port
    for port in $PORT $CPORT; do
      for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.2
      done
    done
  fi
  bench_wait_http "http://127.0.0.1:$REFPORT/users/me/rooms"
  bench_wait_http "http://127.0.0.1:$GOPORT/users/me/rooms"
  TOKEN=$(JWT_SECRET="$SECRET" bench/bin/mint cbenchhost000000000000001 bench@neuronmeet.dev)
  BIGTOKEN=$(JWT_SECRET="$SECRET" bench/bin/mint cbighost00000000000000001 bighost@neuronmeet.dev)
  DIFFTOKEN=$(JWT_SECRET="$SECRET" bench/bin/mint cdiffhost0000000000000001 diffhost@neuronmeet.dev)
}

# bench_load RESULTS NAME ROUND PID URL TOKEN BODY ROOMS PARTICIPANTS [loadgen flags]
bench_load() {
  local results=$1 name=$2 round=$3 pid=$4 url=$5 token=$6 body=$7 rooms=$8 people=$9
  shift 9
  echo "== round $round: $name" >&2
  bench/bin/loadgen -name "$name" -round "$round" -pid "$pid" -pg-admin "$PGURL" -pg-db "$DBNAME" \
    -url "$url" -token "$token" -body "$body" -c "$CONNS" -warmup "$WARMUP" -d "$DURATION" \
    -expect-rooms "$rooms" -expect-participants "$people" "$@" | tee -a "$results" >&2
}

# bench_rounds RESULTS SPEC...: every load once per round, ROUNDS rounds,
# the order rotated each round so no load always runs first, last, or right
# after the same neighbour. A spec is "name|pid|url|token|body|rooms|participants|flags".
bench_rounds() {
  local results=$1
  shift
  local specs=("$@") n=$# r i
  local step=$(((n + ROUNDS - 1) / ROUNDS))
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < n; i++)); do
      local spec=${specs[$(((i + (r - 1) * step) % n))]}
      local name pid url token body rooms people flags
      IFS='|' read -r name pid url token body rooms people flags <<<"$spec"
      # shellcheck disable=SC2086 # flags are words
      bench_load "$results" "$name" "$r" "$pid" "$url" "$token" "$body" "$rooms" "$people" $flags
    done
  done
}

# bench_meta RESULTS LABEL: the load average and uptime at this point.
bench_meta() {
  printf '{"name":"meta","key":"%s","loadavg":"%s","at":"%s"}\n' "$2" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%FT%TZ)" >>"$1"
}

# bench_rss RESULTS LABEL PID: a process's current and peak resident set.
bench_rss() {
  awk -v l="$2" '/^(VmRSS|VmHWM)/ {printf "{\"name\":\"rss\",\"key\":\"%s %s\",\"kb\":%s}\n", l, $1, $2}' "/proc/$3/status" >>"$1"
}

# bench_setup RESULTS: what every bench script does first: an empty results
# file, PostgreSQL up, the machine's load noted, everything built, nm_bench
# seeded, and the product started (stopped again on exit).
bench_setup() {
  mkdir -p "$OUT"
  : >"$1"
  bash .ci/ensure-postgres
  bench_meta "$1" start
  bench_build
  bench_seed
  trap bench_cleanup EXIT
  bench_start product
}
