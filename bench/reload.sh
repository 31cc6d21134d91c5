#!/usr/bin/env bash
# bench/reload.sh - the reload pause: p99 latency while the configuration is reloaded every second, against p99
# without reloads, interleaved in the same run (round 1: quiet, reloading; round 2: quiet, reloading; ...).
#
# Starts, on 127.0.0.1 only: an nginx backend ("/" -> 200 "ok\n") on P_BACKEND, and Torii (one listener, two routes,
# admin API) on P_TORII / P_ADMIN. In the "reloading" runs a loop rewrites torii.yaml (the second route's prefix
# alternates, so every reload really swaps the routing table) and POSTs /reload every RELOAD_EVERY seconds while wrk
# runs; each reload's answer must say "applied":true. Prints each round's p99 (wrk --latency), the medians, and the
# median of the per-round ratios (reloading / quiet) with its range. Stops exactly the processes it started, by PID.
#
# Usage: bench/reload.sh
# Knobs (env): REPS=5 DURATION=10 (s per run) CONNS=50 THREADS=1 WARMUP=20 (s) RELOAD_EVERY=1 (s)
#   TORII_THREADS=1 P_BACKEND=18201 P_TORII=18204 P_ADMIN=18205 WORK=$TMPDIR/torii-reload-bench
#   TORII_CMD: how to run Torii (default: $TORII_HOME/bin/torii, TORII_HOME=<repo>/gateway-server/target/torii);
#     e.g. TORII_CMD="java -cp CLASSPATH dev.torii.server.Main" for a build without the packaged distribution.
set -euo pipefail
export PATH=$PATH:/usr/sbin
REPO=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-5} DURATION=${DURATION:-10} CONNS=${CONNS:-50} THREADS=${THREADS:-1} WARMUP=${WARMUP:-20}
RELOAD_EVERY=${RELOAD_EVERY:-1} TORII_THREADS=${TORII_THREADS:-1}
P_BACKEND=${P_BACKEND:-18201} P_TORII=${P_TORII:-18204} P_ADMIN=${P_ADMIN:-18205}
WORK=${WORK:-${TMPDIR:-/tmp}/torii-reload-bench}
TORII_HOME=${TORII_HOME:-$REPO/gateway-server/target/torii}
TORII_CMD=${TORII_CMD:-$TORII_HOME/bin/torii}
for tool in wrk nginx curl; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
rm -rf "$WORK"; mkdir -p "$WORK/nginx"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$P_BACKEND; location / { return 200 "ok\n"; } } }
NGINX
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & PIDS+=($!)

config() { # $1: the second route's prefix
  cat > "$WORK/torii.yaml.tmp" <<YAML
listeners: [ { name: web, protocol: http, address: "127.0.0.1:$P_TORII" } ]
ioThreads: $TORII_THREADS
routes:
  - { name: main, match: { pathPrefix: / }, upstream: app }
  - { name: other, match: { pathPrefix: $1 }, upstream: app }
upstreams: { app: { endpoints: [ "127.0.0.1:$P_BACKEND" ] } }
admin: { address: "127.0.0.1:$P_ADMIN" }
YAML
  mv "$WORK/torii.yaml.tmp" "$WORK/torii.yaml"
}
config /a
# shellcheck disable=SC2086
$TORII_CMD run --config "$WORK/torii.yaml" > "$WORK/torii.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 300); do curl -fs "127.0.0.1:$P_ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "127.0.0.1:$P_TORII/" >/dev/null || { echo "torii did not start; see $WORK/torii.log" >&2; exit 1; }

echo "warming up ${WARMUP}s"; wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "http://127.0.0.1:$P_TORII/" >/dev/null

p99() { # wrk --latency output on stdin -> p99 in ms
  awk '$1=="99%" { v=$2; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 }; print v }'
}
reloader() { # reloads every RELOAD_EVERY s until killed; counts refusals in $WORK/refused
  local i=0
  while true; do
    i=$((i + 1)); config "/r$i"
    curl -fs -X POST "127.0.0.1:$P_ADMIN/reload" | grep -q '"applied":true' || echo x >> "$WORK/refused"
    sleep "$RELOAD_EVERY"
  done
}
: > "$WORK/rounds.tsv"
for r in $(seq 1 "$REPS"); do
  quiet=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$P_TORII/" | tee "$WORK/quiet.$r.txt" | p99)
  sleep 1
  reloader & RL=$!
  busy=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$P_TORII/" | tee "$WORK/reloading.$r.txt" | p99)
  kill "$RL"; wait "$RL" 2>/dev/null || true
  echo -e "$r\t$quiet\t$busy" | tee -a "$WORK/rounds.tsv"
  sleep 1
done
reloads=$(curl -fs "127.0.0.1:$P_ADMIN/reload")
echo "reload counts: $reloads; refused in the loop: $(cat "$WORK/refused" 2>/dev/null | wc -l)"
errors=$(grep -h "Non-2xx\|Socket errors" "$WORK"/reloading.*.txt "$WORK"/quiet.*.txt || true)
[ -z "$errors" ] || echo "wrk reported: $errors"
awk -F'\t' '
  function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { q[NR] = $2; b[NR] = $3; r[NR] = $3 / $2; qs[NR] = $2; bs[NR] = $3; rs[NR] = r[NR] }
  END { n = NR; mq = median(qs, n); mb = median(bs, n); mr = median(rs, n)
    lo = hi = r[1]; for (i = 2; i <= n; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
    qlo = qhi = q[1]; blo = bhi = b[1]
    for (i = 2; i <= n; i++) { if (q[i] < qlo) qlo = q[i]; if (q[i] > qhi) qhi = q[i]; if (b[i] < blo) blo = b[i]; if (b[i] > bhi) bhi = b[i] }
    printf "p99 quiet:     median %.2f ms (range %.2f-%.2f)\n", mq, qlo, qhi
    printf "p99 reloading: median %.2f ms (range %.2f-%.2f)\n", mb, blo, bhi
    printf "ratio reloading/quiet: median of per-round ratios %.2f (range %.2f-%.2f), %d rounds\n", mr, lo, hi, n }
' "$WORK/rounds.tsv"
