#!/usr/bin/env bash
# Start-up of the standalone gateway: the time from `bin/torii run` to the first proxied request answered 200, for a
# configuration without plugins and one with a global plugin (examples/plugins/dos-guard), 5 runs each, interleaved;
# prints each run, the median and the range, and the gateway's RSS right after that first request and after a short
# load (wrk, 5 s).
#
#   bench/startup.sh [DIST]     DIST: an unpacked distribution (default gateway-server/target/torii)
#
# Environment: RUNS (5); LOAD= (empty) skips the wrk load; LIMIT_MS (60000) the longest start waited for; each round also starts once without the AOT cache
# (TORII_NO_AOT=1) and without plugins, as the peer the cache is compared with. Each run also reports the CPU time
# the process used up to its first 200 (all threads), which a loaded machine changes far less than the wall clock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
dist=${1:-$root/gateway-server/target/torii}
runs=${RUNS:-5}
limit_ms=${LIMIT_MS:-60000} # a start slower than this fails the benchmark (raise it on a busy machine)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

write_config() { # $1 file, $2 with plugins (yes|no), $3 port, $4 echo port
  {
    echo "listeners:"
    echo "  - { name: web, address: \"127.0.0.1:$3\" }"
    if [ "$2" = yes ]; then
      echo "plugins:"
      echo "  directory: $root/examples/plugins"
      echo "  watch: false"
      echo "  global:"
      echo "    - { name: dos-guard, config: { rate: 100000, burst: 100000 } }"
    fi
    echo "routes:"
    echo "  - { match: { pathPrefix: \"/\" }, upstream: demo }"
    echo "upstreams:"
    echo "  demo: { endpoints: [ \"127.0.0.1:$4\" ] }"
    echo "demo: { echo: \"127.0.0.1:$4\" }"
  } > "$1"
}

now_ms() { date +%s%3N; }

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

cpu_ms() { # user + system CPU time of process $1 so far, all threads (JIT and GC included), in ms
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"
}

one_run() { # $1 plugins yes|no|noaot (no plugins, no AOT cache); prints "ms cpu_ms rss_start_kb rss_load_kb"
  local port echo_port cfg pid start t plugins=$1 noaot=""
  [ "$1" != noaot ] || { plugins=no; noaot=1; }
  port=$(free_port); echo_port=$(free_port)
  cfg=$work/torii-$1.yaml
  write_config "$cfg" "$plugins" "$port" "$echo_port"
  start=$(now_ms)
  TORII_NO_AOT=$noaot "$dist/bin/torii" run --config "$cfg" > "$work/log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/ping" 2>/dev/null; do
    # A refused start (e.g. a plugin past its evaluation deadline on a busy machine) is reported and not counted.
    kill -0 "$pid" 2>/dev/null || { tail -n 3 "$work/log" >&2; echo "failed n/a n/a n/a"; return; }
    t=$(( $(now_ms) - start ))
    [ "$t" -lt "$limit_ms" ] || { kill "$pid"; echo "startup.sh: no answer within $limit_ms ms" >&2; exit 1; }
    sleep 0.01
  done
  t=$(( $(now_ms) - start ))
  local rss1 rss2="" cpu
  cpu=$(cpu_ms "$pid")
  rss1=$(rss_kb "$pid")
  if [ -n "${LOAD-1}" ] && command -v wrk >/dev/null 2>&1; then
    wrk -t1 -c16 -d5s "http://127.0.0.1:$port/" > /dev/null 2>&1 || true
    rss2=$(rss_kb "$pid")
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$t $cpu $rss1 ${rss2:-n/a}"
}

summary() { # name values...
  local name=$1; shift
  [ $# -gt 0 ] || { echo "$name: no successful run"; return; }
  printf '%s\n' "$@" | sort -n | awk -v n="$name" '{ v[NR] = $1 } END {
    printf "%s: median %d ms, range %d-%d ms (n=%d)\n", n, v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}

declare -a plain=() plug=() noaot=() plain_cpu=() plug_cpu=() noaot_cpu=()
for i in $(seq "$runs"); do
  for kind in no noaot yes; do
    read -r ms cpu rss1 rss2 < <(one_run "$kind")
    if [ "$ms" = failed ]; then
      echo "run $i $kind: torii refused to start (see above)"
      continue
    fi
    echo "run $i $kind: first 200 after ${ms} ms (${cpu} ms of CPU); RSS ${rss1} kB after it, ${rss2} kB after 5 s of wrk -c16"
    case $kind in
      no) plain+=("$ms"); plain_cpu+=("$cpu") ;;
      noaot) noaot+=("$ms"); noaot_cpu+=("$cpu") ;;
      yes) plug+=("$ms"); plug_cpu+=("$cpu") ;;
    esac
  done
done
summary "without plugins" "${plain[@]}"
summary "without plugins, without the AOT cache" "${noaot[@]}"
summary "with a plugin  " "${plug[@]}"
# CPU time to the first 200: what a busy machine's wall clock hides (a start waits for cores, it does not do more).
summary "CPU, without plugins" "${plain_cpu[@]}"
summary "CPU, without plugins, without the AOT cache" "${noaot_cpu[@]}"
summary "CPU, with a plugin  " "${plug_cpu[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
