#!/usr/bin/env bash
# bench/hook-cpu.sh - CPU per request of Torii with and without the hook round's JS plugin (plugins/counter), paired.
#
# Starts the nginx backend and both Torii processes (torii.yaml.in and torii-hook.yaml.in, 1 I/O thread each) on
# 127.0.0.1, warms each with wrk for WARM s, then alternates DUR-second wrk runs (50 connections) between them,
# WINDOWS times, and prints for each run the CPU per request of the event-loop thread and of the whole process, read
# from /proc (so a shared machine's other work does not count, although it still slows caches). Compare the two
# figures of one window: their ratio is the hook's cost. Stops exactly the processes it started.
#
# Knobs: WARM=40 DUR=15 WINDOWS=4 WORK=/tmp/torii-hook-cpu TORII_HOME=<repo>/gateway-server/target/torii
#        P_BACKEND=18201 P_TORII=18204 P_TORII_HOOK=18206
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${WORK:-/tmp/torii-hook-cpu}
TORII_HOME=${TORII_HOME:-$HERE/../gateway-server/target/torii}
P_BACKEND=${P_BACKEND:-18201} P_TORII=${P_TORII:-18204} P_TORII_HOOK=${P_TORII_HOOK:-18206}
WARM=${WARM:-40} DUR=${DUR:-15} WINDOWS=${WINDOWS:-4}
mkdir -p "$WORK"/{conf,run,logs,www}
head -c 16384 /dev/zero | tr '\0' 'b' >"$WORK/www/16k"
render() {
  sed -e "s|@WORK@|$WORK|g" -e "s|@P_BACKEND@|$P_BACKEND|g" -e "s|@P_TORII@|$P_TORII|g" -e "s|@TORII_THREADS@|1|g" \
      -e "s|@P_TORII_HOOK@|$P_TORII_HOOK|g" -e "s|@HERE@|$HERE|g" -e "s|@BACKEND_WORKERS@|1|g" \
      -e "s|@RUN_USER@|$(id -un)|g" -e "s|@RUN_GROUP@|$(id -gn)|g" "$1" >"$2"
}
render "$HERE/backend.nginx.conf.in" "$WORK/conf/backend.conf"
render "$HERE/torii.yaml.in" "$WORK/conf/torii.yaml"
render "$HERE/torii-hook.yaml.in" "$WORK/conf/torii-hook.yaml"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
nginx -p "$WORK" -e "$WORK/logs/backend.stderr.log" -c "$WORK/conf/backend.conf" & pids+=($!)
declare -A PID PORT=([torii]=$P_TORII [torii-hook]=$P_TORII_HOOK)
for t in torii torii-hook; do
  "$TORII_HOME/bin/torii" run --config "$WORK/conf/$t.yaml" >"$WORK/logs/$t.out" 2>&1 & PID[$t]=$!; pids+=($!)
done
for t in torii torii-hook; do
  for _ in $(seq 1 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$t]}/" 2>/dev/null)" = 200 ] && break
    sleep 0.5
  done
  wrk -t1 -c50 -d"${WARM}s" -H 'X-Client: c1' "http://127.0.0.1:${PORT[$t]}/" >/dev/null
done
ticks() { # pid [thread-name-substring]: utime+stime of the process's threads (all, or those named like $2)
  local s=0 d
  for d in /proc/$1/task/*; do
    if [ -z "${2:-}" ] || grep -q "$2" "$d/comm"; then s=$((s + $(awk '{print $14+$15}' "$d/stat"))); fi
  done
  echo $s
}
us() { awk -v c="$1" -v r="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c * 1e6 / hz / r }'; }
for w in $(seq 1 "$WINDOWS"); do
  line="window $w"
  for t in torii torii-hook; do
    p=${PID[$t]}; a=$(ticks "$p"); b=$(ticks "$p" torii-io)
    r=$(wrk -t1 -c50 -d"${DUR}s" -H 'X-Client: c1' "http://127.0.0.1:${PORT[$t]}/" | awk '/requests in/ {print $1}')
    line="$line | $t: event loop $(us $(( $(ticks "$p" torii-io) - b )) "$r") us, process $(us $(( $(ticks "$p") - a )) "$r") us per request"
  done
  echo "$line"
done
