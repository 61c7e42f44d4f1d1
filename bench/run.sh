#!/usr/bin/env bash
# make bench: seeds PostgreSQL with the benchmark dataset, starts the
# product and the two references (bench/refserver, one SQL statement;
# bench/refgo, the Go limit), fails unless the references give the
# product's answer, loads every server from a separate process over
# loopback in interleaved rounds, and writes bench/RESULTS.md with every
# figure as a ratio to both references measured in the same rounds.
# See bench/README.md. BENCH_ROUNDS, BENCH_DURATION, BENCH_WARMUP,
# BENCH_CONNS tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# shellcheck source=bench/lib.sh
source bench/lib.sh

RESULTS="$OUT/results.jsonl"
bench_setup "$RESULTS"

echo "== exact-bytes check: the references against the product's GET /users/me/rooms" >&2
P="http://127.0.0.1:$PORT/users/me/rooms"
A="http://127.0.0.1:$REFPORT/users/me/rooms"
B="http://127.0.0.1:$GOPORT/users/me/rooms"
X="http://127.0.0.1:$REFPORT/q/exact/users/me/rooms"
{
  bench/bin/diffcheck -host bench -token "$TOKEN" -product "$P" -bytes "ref-b=$B" -json "ref-a=$A" -json "ref-exact=$X"
  bench/bin/diffcheck -host bench-1000 -token "$BIGTOKEN" -product "$P" -bytes "ref-b=$B" -json "ref-a=$A"
  # ref-exact inner-joins the settings, so it drops this host's room without any.
  bench/bin/diffcheck -host diff -token "$DIFFTOKEN" -product "$P" -bytes "ref-b=$B" -json "ref-a=$A"
} | sed 's/^{"name":"\([^"]*\)"/{"name":"diffcheck","check":"\1"/' | tee -a "$RESULTS" >&2

ROOM='id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt'
SETTINGS='settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants }'
PART='id roomId userId guestName isActive isHost joinedAt leftAt'
QA="{\"query\":\"{ me { rooms { $ROOM $SETTINGS participants { $PART } } } }\"}"
QB="{\"query\":\"{ me { rooms { $ROOM host { displayName } $SETTINGS participants { $PART user { displayName } } } } }\"}"
QPAGE="{\"query\":\"{ me { rooms(first: 50) { $ROOM $SETTINGS participants { $PART } } } }\"}"
# Issue #12's dashboard query and me.rooms for the same 20 rooms.
STATS='stats { activeParticipants peakParticipants uniqueParticipants totalJoins participantSeconds durationSeconds lastActivityAt }'
QPAGE20="{\"query\":\"{ me { rooms(first: 20) { $ROOM $SETTINGS participants { $PART } } } }\"}"
QDASH20="{\"query\":\"{ me { roomsConnection(first: 20) { totalCount nodes { $ROOM $SETTINGS participants { $PART } $STATS } } } }\"}"
G="http://127.0.0.1:$PORT/query"
# The same product with its response cache on (the default): warm reads,
# 304 revalidations, and a 1 % write mix of guests joining and leaving the
# host's open rooms.
CG="http://127.0.0.1:$CPORT/query"
CP="http://127.0.0.1:$CPORT/users/me/rooms"
WRITECODES=$(psql "$DBURL" -tA -c "SELECT string_agg(r.code, ',') FROM rooms r JOIN room_settings s ON s.room_id = r.id
  WHERE r.host_id = 'cbenchhost000000000000001' AND r.is_active AND NOT r.is_locked AND s.allow_guest_access AND NOT s.waiting_room")
WRITES="-write-fraction 0.01 -write-url $CG -write-codes $WRITECODES -write-cleanup-dsn $DBURL"

# name|pid|url|token|body|rooms|participants|loadgen flags
bench_rounds "$RESULTS" \
  "ref-a|$REF_PID|$A|$TOKEN||50|400|" \
  "ref-b|$GO_PID|$B|$TOKEN||50|400|" \
  "ref-exact|$REF_PID|$X|$TOKEN||50|400|" \
  "graphql-a|$SERVER_PID|$G|$TOKEN|$QA|50|400|" \
  "graphql-b|$SERVER_PID|$G|$TOKEN|$QB|50|400|-expect-users" \
  "rest-c|$SERVER_PID|$P|$TOKEN||50|400|" \
  "graphql-a-cached|$CACHED_PID|$CG|$TOKEN|$QA|50|400|" \
  "rest-c-cached|$CACHED_PID|$CP|$TOKEN||50|400|" \
  "ref-b-304|$GO_PID|http://127.0.0.1:$GOPORT/revalidate/users/me/rooms|$TOKEN||50|400|-revalidate" \
  "graphql-a-304|$CACHED_PID|$CG|$TOKEN|$QA|50|400|-revalidate" \
  "rest-c-304|$CACHED_PID|$CP|$TOKEN||50|400|-revalidate" \
  "graphql-a-cached-w1|$CACHED_PID|$CG|$TOKEN|$QA|50|400|$WRITES" \
  "rest-c-cached-w1|$CACHED_PID|$CP|$TOKEN||50|400|$WRITES" \
  "ref-a-1000|$REF_PID|$A|$BIGTOKEN||1000|8000|" \
  "ref-b-1000|$GO_PID|$B|$BIGTOKEN||1000|8000|" \
  "graphql-page-1000|$SERVER_PID|$G|$BIGTOKEN|$QPAGE|50|400|" \
  "rest-c-1000|$SERVER_PID|$P|$BIGTOKEN||1000|8000|" \
  "graphql-page-20|$SERVER_PID|$G|$TOKEN|$QPAGE20|20|160|" \
  "graphql-dashboard-20|$SERVER_PID|$G|$TOKEN|$QDASH20|-1|-1|"
bench_meta "$RESULTS" end
bench_rss "$RESULTS" product "$SERVER_PID"
bench_rss "$RESULTS" product-cached "$CACHED_PID"
bench_rss "$RESULTS" ref-a "$REF_PID"
bench_rss "$RESULTS" ref-b "$GO_PID"
bench_cleanup
trap - EXIT

echo "== in-process handler benchmarks (allocations and SQL statements per request)" >&2
TEST_DATABASE_URL="$PGURL" go test -run '^$' -bench BenchmarkMeRooms -benchtime 300x -count 1 ./test/e2e/ | tee "$OUT/gobench.txt" >&2
BENCH_DATABASE_URL="$DBURL" go test -run '^$' -bench BenchmarkReference -benchtime 100x -count 1 ./bench/refgo ./bench/refserver | tee -a "$OUT/gobench.txt" >&2

bench/bin/report -results "$RESULTS" -gobench "$OUT/gobench.txt" -conns "$CONNS" -warmup "$WARMUP" -duration "$DURATION" | tee bench/RESULTS.md
