#!/usr/bin/env bash
# make bench: seeds PostgreSQL with the benchmark dataset, starts the server
# and the one-SQL reference server, loads both from a separate process over
# loopback, and prints (and writes to bench/RESULTS.md) the figures with
# their ratios to the reference. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

CONNS="${BENCH_CONNS:-32}"
WARMUP="${BENCH_WARMUP:-3s}"
DURATION="${BENCH_DURATION:-10s}"
PGURL="${BENCH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
DBNAME="nm_bench"
DBURL="postgres://postgres@127.0.0.1:5432/${DBNAME}?sslmode=disable"
SECRET="bench-secret-bench-secret-bench-secret"
PORT=18181
REFPORT=18190
OUT=bench/out
mkdir -p "$OUT" bench/bin
: >"$OUT/results.jsonl"

bash .ci/ensure-postgres

echo "== building" >&2
go build -o bench/bin/neuronmeet .
go build -o bench/bin/refserver ./bench/refserver
go build -o bench/bin/loadgen ./bench/loadgen
go build -o bench/bin/mint ./bench/mint
go build -o bench/bin/report ./bench/report

if [ "${BENCH_RESEED:-0}" = 1 ] || ! psql "$PGURL" -tAc "SELECT 1 FROM pg_database WHERE datname='${DBNAME}'" | grep -q 1; then
  echo "== seeding ${DBNAME} (10,000 users, 100,000 rooms, ~500,000 participants)" >&2
  psql "$PGURL" -q -c "DROP DATABASE IF EXISTS ${DBNAME} WITH (FORCE)" -c "CREATE DATABASE ${DBNAME}"
  DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/neuronmeet migrate
  start=$(date +%s)
  for f in bench/sql/bulk.sql bench/sql/host.sql bench/sql/bighost.sql; do
    psql "$DBURL" -q -v ON_ERROR_STOP=1 -f "$f"
  done
  echo "   seeded in $(( $(date +%s) - start ))s" >&2
else
  echo "== reusing seeded ${DBNAME} (BENCH_RESEED=1 to rebuild)" >&2
  DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/neuronmeet migrate
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" PORT=$PORT LOG_LEVEL=warn APP_ENV=production \
  bench/bin/neuronmeet serve 2>"$OUT/server.log" &
SERVER_PID=$!; pids+=("$SERVER_PID")
DATABASE_URL="$DBURL" JWT_SECRET="$SECRET" bench/bin/refserver -addr 127.0.0.1:$REFPORT 2>"$OUT/refserver.log" &
pids+=("$!")
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2
done

TOKEN=$(JWT_SECRET="$SECRET" bench/bin/mint cbenchhost000000000000001 bench@neuronmeet.dev)
BIGTOKEN=$(JWT_SECRET="$SECRET" bench/bin/mint cbighost00000000000000001 bighost@neuronmeet.dev)

ROOM='id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt'
SETTINGS='settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants }'
PART='id roomId userId guestName isActive isHost joinedAt leftAt'
QA="{ me { rooms { $ROOM $SETTINGS participants { $PART } } } }"
QB="{ me { rooms { $ROOM host { displayName } $SETTINGS participants { $PART user { displayName } } } } }"
QPAGE="{ me { rooms(first: 50) { $ROOM $SETTINGS participants { $PART } } } }"
json() { printf '{"query":"%s"}' "$1"; }

load() { # name url token body expect-rooms expect-participants [extra flags]
  local name=$1 url=$2 token=$3 body=$4 rooms=$5 people=$6; shift 6
  echo "== $name" >&2
  bench/bin/loadgen -name "$name" -url "$url" -token "$token" -body "$body" \
    -c "$CONNS" -warmup "$WARMUP" -d "$DURATION" -expect-rooms "$rooms" -expect-participants "$people" "$@" \
    | tee -a "$OUT/results.jsonl" >&2
}

load reference "http://127.0.0.1:$REFPORT/users/me/rooms" "$TOKEN" "" 50 400
load graphql-a "http://127.0.0.1:$PORT/query" "$TOKEN" "$(json "$QA")" 50 400
load graphql-b "http://127.0.0.1:$PORT/query" "$TOKEN" "$(json "$QB")" 50 400 -expect-users
load rest-c "http://127.0.0.1:$PORT/users/me/rooms" "$TOKEN" "" 50 400
rss() { # label: the server's current and peak resident set so far
  grep -E '^(VmRSS|VmHWM)' "/proc/$SERVER_PID/status" | awk -v l="$1" '{print "{\"name\":\"rss\",\"key\":\""l" "$1"\",\"kb\":"$2"}"}' >>"$OUT/results.jsonl"
}
rss "main loads"
load graphql-page-1000 "http://127.0.0.1:$PORT/query" "$BIGTOKEN" "$(json "$QPAGE")" 50 400
load rest-c-1000 "http://127.0.0.1:$PORT/users/me/rooms" "$BIGTOKEN" "" 1000 8000
rss "all loads"

echo "== in-process handler benchmark (allocations and SQL statements per request)" >&2
TEST_DATABASE_URL="$PGURL" go test -run '^$' -bench BenchmarkMeRooms -benchtime 300x -count 1 ./test/e2e/ | tee "$OUT/gobench.txt" >&2

bench/bin/report -results "$OUT/results.jsonl" -gobench "$OUT/gobench.txt" -conns "$CONNS" -duration "$DURATION" | tee bench/RESULTS.md
