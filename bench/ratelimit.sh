#!/usr/bin/env bash
# bench/ratelimit.sh - what a rate limit costs: one Torii process in front of the nginx backend of bench/run.sh,
# three routes that differ only in their limit, measured with wrk interleaved (round 1: none local redis, round 2:
# ...) on the same warm JVM:
#   /none/   no limit
#   /local/  rateLimit keyed by header:x-key (10,000 distinct keys from the wrk script, as a per-IP limit behind a
#            trusted proxy would see them), local buckets, a rate that never refuses (the cost of the bookkeeping)
#   /redis/  the same policy with store: redis (a redis-server started here), onStoreFailure: open
# Prints per target the median RPS and p99 with min-max over rounds, and the median of the per-round ratio to
# /none/. Stops exactly the processes it started, by PID.
#
# Usage: bench/ratelimit.sh            Knobs (env): REPS=5 DURATION=10 CONNS=50 THREADS=1 WARMUP=60 (s on each
#   target before the rounds) KEYS=10000 TORII_THREADS=1 P_BACKEND=18121 P_TORII=18124 P_REDIS=18126
#   TORII_HOME=<repo>/gateway-server/target/torii (./mvnw -B -q -DskipTests package builds it) WORK=$TMPDIR/torii-bench-rl
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/torii-bench-rl}
REPS=${REPS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-60}
KEYS=${KEYS:-10000}
TORII_THREADS=${TORII_THREADS:-1}
P_BACKEND=${P_BACKEND:-18121}
P_TORII=${P_TORII:-18124}
P_REDIS=${P_REDIS:-18126}
TORII_HOME=${TORII_HOME:-$ROOT/gateway-server/target/torii}
export PATH=$PATH:/usr/sbin KEYS

mkdir -p "$WORK/run" "$WORK/logs" "$WORK/www" "$WORK/results"
LOG=$WORK/logs/ratelimit.log
STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$WORK/results/$STAMP-ratelimit.tsv
PIDS=()
say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { say "ERROR: $*"; exit 1; }
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
wait_url() { # url timeout_s
  local end=$((SECONDS + $2))
  until curl -fsS -o /dev/null -H 'x-key: probe' "$1" 2>/dev/null; do
    [ $SECONDS -lt $end ] || die "$1 did not answer within $2 s (logs in $WORK/logs)"
    sleep 0.5
  done
}

for tool in wrk nginx redis-server curl; do command -v "$tool" >/dev/null || die "$tool is missing"; done
[ -x "$TORII_HOME/bin/torii" ] || die "no $TORII_HOME/bin/torii (build with ./mvnw -B -q -DskipTests package)"
trap stop_all EXIT
trap 'exit 130' INT TERM

# The backend: bench/run.sh's nginx origin.
sed -e "s|@BACKEND_WORKERS@|1|g" -e "s|@RUN_USER@|$(id -un)|g" -e "s|@RUN_GROUP@|$(id -gn)|g" \
    -e "s|@WORK@|$WORK|g" -e "s|@P_BACKEND@|$P_BACKEND|g" "$HERE/backend.nginx.conf.in" >"$WORK/backend.conf"
nginx -c "$WORK/backend.conf" -p "$WORK" >"$WORK/logs/backend.out" 2>&1 &
PIDS+=($!)
redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$WORK/logs/redis.out" 2>&1 &
PIDS+=($!)

cat >"$WORK/torii.yaml" <<YAML
ioThreads: $TORII_THREADS
listeners:
  - { name: web, protocol: http, address: "127.0.0.1:$P_TORII" }
redis: { address: "127.0.0.1:$P_REDIS" }
rateLimits:
  local: { key: "header:x-key", rate: 100, per: 1s, burst: 100 }
  redis: { key: "header:x-key", rate: 100, per: 1s, burst: 100, store: redis, onStoreFailure: open, storeTimeout: 50ms }
routes:
  - { match: { pathPrefix: /local/ }, upstream: backend, rateLimit: local }
  - { match: { pathPrefix: /redis/ }, upstream: backend, rateLimit: redis }
  - { match: { pathPrefix: / }, upstream: backend }
upstreams:
  backend: { endpoints: [ "127.0.0.1:$P_BACKEND" ] }
YAML
"$TORII_HOME/bin/torii" run --config "$WORK/torii.yaml" >"$WORK/logs/torii.out" 2>&1 &
PIDS+=($!)
wait_url "http://127.0.0.1:$P_BACKEND/" 20
wait_url "http://127.0.0.1:$P_TORII/none/" 60

cat "$HERE/report.lua" "$HERE/ratelimit.lua" >"$WORK/wrk.lua"
TARGETS=(none local redis)
say "warming up: ${WARMUP}s on each of ${TARGETS[*]} (wrk -c$CONNS, $KEYS keys)"
for t in "${TARGETS[@]}"; do
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$WORK/wrk.lua" "http://127.0.0.1:$P_TORII/$t/" >/dev/null 2>&1 || true
done
printf 'round\ttarget\trps\tp50_ms\tp99_ms\terrors\n' >"$RAW"
for r in $(seq "$REPS"); do
  for t in "${TARGETS[@]}"; do
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s -s "$WORK/wrk.lua" "http://127.0.0.1:$P_TORII/$t/" 2>&1 || true)
    res=$(grep '^RESULT' <<<"$out" || echo "RESULT rps=NA p50_us=0 p99_us=0")
    rps=$(sed 's/.* rps=\([^ ]*\).*/\1/' <<<"$res")
    p50=$(sed 's/.* p50_us=\([^ ]*\).*/\1/' <<<"$res" | awk '{printf "%.3f", $1/1000}')
    p99=$(sed 's/.* p99_us=\([^ ]*\).*/\1/' <<<"$res" | awk '{printf "%.3f", $1/1000}')
    err=$(awk '{for(i=1;i<=NF;i++) if ($i ~ /^err_/) {split($i,kv,"="); s+=kv[2]}} END{print s+0}' <<<"$res")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$rps" "$p50" "$p99" "$err" >>"$RAW"
    say "r$r $t rps=$rps p50=${p50}ms p99=${p99}ms errors=$err"
    sleep 1
  done
done
say "limiter state: $(curl -s -o /dev/null -w '%{http_code}' -H 'x-key: probe' "http://127.0.0.1:$P_TORII/local/") from /local/ (200: never refused)"

awk -F'\t' 'NR > 1 {
    rps[$2, $1] = $3; p99[$2, $1] = $5; err[$2] += $6; rounds[$1] = 1; targets[$2] = 1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END {
    printf "%-6s %10s %19s %8s %17s %14s %6s\n", "target", "RPS", "(min-max)", "p99 ms", "(min-max)", "x none", "errs"
    split("none local redis", order, " ")
    for (k = 1; k <= 3; k++) {
      t = order[k]; n = 0; delete R; delete P; delete X
      for (r in rounds) {
        if ((t, r) in rps && rps[t, r] != "NA") {
          n++; R[n] = rps[t, r] + 0; P[n] = p99[t, r] + 0; X[n] = (rps[t, r] + 0) / (rps["none", r] + 0)
        }
      }
      if (n == 0) continue
      minr = R[1]; maxr = R[1]; minp = P[1]; maxp = P[1]; minx = X[1]; maxx = X[1]
      for (i = 1; i <= n; i++) {
        if (R[i] < minr) minr = R[i]; if (R[i] > maxr) maxr = R[i]
        if (P[i] < minp) minp = P[i]; if (P[i] > maxp) maxp = P[i]
        if (X[i] < minx) minx = X[i]; if (X[i] > maxx) maxx = X[i]
      }
      printf "%-6s %10.0f (%7.0f-%7.0f) %8.2f (%6.2f-%6.2f) %5.3f (%.3f-%.3f) %4d\n", t, median(R, n), minr, maxr,
        median(P, n), minp, maxp, median(X, n), minx, maxx, err[t]
    }
    print "RPS, p99: medians over rounds (min-max); x none: median of the per-round RPS ratio to /none/ (runs back to back)."
  }' "$RAW" | tee -a "$LOG"
say "raw: $RAW"
