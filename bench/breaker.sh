#!/bin/bash
# The plugin breaker round (issue 10): one wrk hammers a path whose global plugin loops (each call runs into the
# statement limit) while a second wrk measures a normal path on the same gateway; once with the plugin's breaker
# (5 overruns in 10 s, fail open) and once without (threshold 0). Prints RPS and p50/p99 of the normal path.
# Needs wrk and a built tree: ./mvnw -B -o -pl gateway-server -am package -DskipTests, then
#   ./mvnw -B -o -pl gateway-server dependency:build-classpath -Dmdep.outputFile=/tmp/torii-cp.txt
# usage: bench/breaker.sh [rounds]   (default 2, interleaved off/on)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CP=$ROOT/gateway-server/target/classes:$ROOT/gateway-scripts/target/classes:$ROOT/gateway-core/target/classes:$(tr ':' '\n' < /tmp/torii-cp.txt | grep -v '/dev/torii/' | paste -sd:)
JAVA=${JAVA:-java}
for v in on off; do
  mkdir -p "$WORK/plugins/loop-$v"
  cat > "$WORK/plugins/loop-$v/plugin.js" <<'JS'
export function onRequest(ex) {
  if (ex.request.path.startsWith("/loop")) { for (;;) {} }
  ex.request.headers.set("x-plugin", "ran");
}
JS
done
echo '{ "name": "loop-on", "version": "1.0.0", "breaker": { "threshold": 5, "window": "10s", "coolDown": "30s", "failOpen": true } }' \
  > "$WORK/plugins/loop-on/plugin.json"
echo '{ "name": "loop-off", "version": "1.0.0", "breaker": { "threshold": 0 } }' > "$WORK/plugins/loop-off/plugin.json"

round() {
  local v=$1 port=$2 echo=$3
  cat > "$WORK/torii-$v.yaml" <<YAML
ioThreads: 2
listeners: [ { name: web, protocol: http, address: "127.0.0.1:$port" } ]
plugins: { directory: $WORK/plugins, watch: false, global: [ { name: loop-$v } ] }
routes: [ { match: { pathPrefix: "/" }, upstream: demo } ]
upstreams: { demo: { endpoints: [ "127.0.0.1:$echo" ] } }
demo: { echo: "127.0.0.1:$echo" }
YAML
  "$JAVA" -cp "$CP" dev.torii.server.Main run --config "$WORK/torii-$v.yaml" > "$WORK/torii-$v.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/ok" && break; sleep 0.3; done
  wrk -t1 -c4 -d10s "http://127.0.0.1:$port/ok" > /dev/null
  echo "== breaker $v: /ok alone"
  wrk -t1 -c4 -d10s --latency "http://127.0.0.1:$port/ok" | grep -E 'Requests/sec|  (50|99)%'
  wrk -t1 -c4 -d12s "http://127.0.0.1:$port/loop" > "$WORK/hammer.txt" &
  local h=$!
  sleep 1
  echo "== breaker $v: /ok while /loop is hammered"
  wrk -t1 -c4 -d10s --latency "http://127.0.0.1:$port/ok" | grep -E 'Requests/sec|  (50|99)%'
  wait $h
  echo "hammered /loop:"; grep -E 'Requests/sec|Non-2xx' "$WORK/hammer.txt"
  kill $pid; wait $pid 2>/dev/null || true
}
for _ in $(seq 1 "${1:-2}"); do
  round off 18082 18092
  round on 18081 18091
done
