#!/usr/bin/env bash
# bench/dns.sh - Torii's DNS server mode against unbound and dnsmasq, with dnsperf, on loopback.
#
# Starts, on 127.0.0.1 only:
#   auth      unbound serving the zone bench.test. (HIT_NAMES A records h0..hN, and a "redirect" zone
#             miss.bench.test. that answers any name under it): the one authoritative upstream of all three  :P_AUTH (15360)
#   torii     bin/torii run: a dns listener, dns.upstreams = auth, ioThreads THREADS                     :P_TORII (15361)
#   unbound   unbound as a caching forwarder to auth, num-threads THREADS                                :P_UNBOUND (15362)
#   dnsmasq   dnsmasq in the foreground (-k), its own config, cache-size 10000, forwarding to auth         :P_DNSMASQ (15363)
# Each server under test is started fresh for each run (so every miss is a miss), warmed up with the hit
# file (Torii longer: JIT), then measured twice with dnsperf:
#   throughput: as fast as it answers (-c CLIENTS -q OUTSTANDING, -l DURATION s): queries per second
#   latency:    at a fixed offered rate (-Q LAT_QPS, or MISS_LAT_QPS for misses, -l LAT_DURATION s, -v):
#               p50/p99/p99.9 from every query's latency (lost queries count as infinitely slow)
# for two mixes of the same query files for every server:
#   hit   HIT_NAMES names, all cached after warm-up
#   miss  a fresh name per query (q<i>.<round>.<server>.miss.bench.test), each a cache miss forwarded to auth
#   silent (only when named in MIXES) SILENT_NAMES names with a 2 s TTL, cached by a warm-up; then one fixed-rate
#         dnsperf run (-Q SILENT_QPS, SILENT_DURATION s, -v) during which auth is paused with SIGSTOP after
#         SILENT_AFTER s, for SILENT_PAUSE s (the congestion case: silent, not refusing), then resumed with SIGCONT.
#         Every server serves stale: Torii by default (staleClientTimeout 30 ms), unbound with serve-expired
#         (serve-expired-client-timeout 30 ms), dnsmasq with use-stale-cache. Reported: the share of queries answered
#         NOERROR, SERVFAIL and lost (dnsperf's 5 s timeout), p50/p99/p99.9 over the run; raw in ...-dns-silent.raw.tsv.
# Rounds rotate the order of the servers. Results: a raw TSV and a table (median and min-max over rounds,
# and Torii's ratio to each peer as the median of the per-round ratios) in RESULTS, plus uptime before/after.
# It stops exactly the processes it started, by PID.
#
# Usage: bench/dns.sh [run|summarize RAW.tsv|summarize-silent SILENT.raw.tsv|help]       (default: run)
#
# Knobs (env):
#   ROUNDS=3 DURATION=15 (s, throughput) LAT_DURATION=10 (s) LAT_QPS=20000 MISS_LAT_QPS=5000
#   CLIENTS=8 OUTSTANDING=200 (dnsperf -c, -q) DNSPERF_THREADS=1 (dnsperf -T)
#   THREADS=1 (Torii ioThreads and unbound num-threads; dnsmasq is single-threaded)
#   WARMUP=5 (s of hits before measuring each server) TORII_WARMUP=15 (s, instead of WARMUP for Torii)
#   HIT_NAMES=1000 MISS_NAMES=800000 (names per miss file; a throughput run stops at the end of it)
#   SERVERS="torii unbound dnsmasq" MIXES="hit miss" (add silent: MIXES="hit miss silent", or MIXES=silent)
#   SILENT_NAMES=200 SILENT_QPS=2000 SILENT_DURATION=40 SILENT_AFTER=5 SILENT_PAUSE=30
#   P_AUTH=15360 P_TORII=15361 P_UNBOUND=15362 P_DNSMASQ=15363 P_ADMIN=15364
#   TORII_HOME=<repo>/gateway-server/target/torii (built with ./mvnw -B -q -DskipTests package when
#     bin/torii is missing; SKIP_BUILD=1 fails instead)  SKIP_INSTALL=1 (fail instead of apt-get)
#   WORK=$TMPDIR/torii-dns-bench  RESULTS=<repo>/bench/results  TORII_OPTS, JAVA_OPTS: for bin/torii
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/torii-dns-bench}
RESULTS=${RESULTS:-$HERE/results}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15}
LAT_DURATION=${LAT_DURATION:-10}
LAT_QPS=${LAT_QPS:-20000}
MISS_LAT_QPS=${MISS_LAT_QPS:-5000}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-200}
DNSPERF_THREADS=${DNSPERF_THREADS:-1}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-5}
TORII_WARMUP=${TORII_WARMUP:-15}
HIT_NAMES=${HIT_NAMES:-1000}
MISS_NAMES=${MISS_NAMES:-800000}
SERVERS=${SERVERS:-"torii unbound dnsmasq"}
MIXES=${MIXES:-"hit miss"}
SILENT_NAMES=${SILENT_NAMES:-200}
SILENT_QPS=${SILENT_QPS:-2000}
SILENT_DURATION=${SILENT_DURATION:-40}
SILENT_AFTER=${SILENT_AFTER:-5}
SILENT_PAUSE=${SILENT_PAUSE:-30}
AUTH_PID=""
P_AUTH=${P_AUTH:-15360}
P_TORII=${P_TORII:-15361}
P_UNBOUND=${P_UNBOUND:-15362}
P_DNSMASQ=${P_DNSMASQ:-15363}
P_ADMIN=${P_ADMIN:-15364}
TORII_HOME=${TORII_HOME:-$ROOT/gateway-server/target/torii}
UNBOUND=$(command -v unbound || echo /usr/sbin/unbound)
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# ------------------------------------------------------------------------------------------- processes
STARTED=()
cleanup() {
  [ -z "$AUTH_PID" ] || kill -CONT "$AUTH_PID" 2>/dev/null || true # a paused auth would ignore SIGTERM
  for pid in "${STARTED[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

stop() { # stop PID: SIGTERM, then SIGKILL after 10 s
  local pid=$1
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=()
  for p in "${STARTED[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  STARTED=("${keep[@]+"${keep[@]}"}")
}

port_free() { ! ss -Hlnu "sport = :$1" | grep -q . && ! ss -Hlnt "sport = :$1" | grep -q .; }

wait_answer() { # wait_answer PORT NAME: until the server answers (60 s at most)
  for _ in $(seq 120); do
    if dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short "$2" A 2>/dev/null | grep -q '^10\.'; then return 0; fi
    sleep 0.5
  done
  echo "dns.sh: nothing answers $2 on port $1 (see $WORK/logs)" >&2
  return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# ------------------------------------------------------------------------------------------- set-up
install_tools() {
  local need=()
  command -v dnsperf >/dev/null || need+=(dnsperf)
  [ -x "$UNBOUND" ] || need+=(unbound)
  [ -x "$DNSMASQ" ] || need+=(dnsmasq)
  command -v dig >/dev/null || need+=(dnsutils)
  [ ${#need[@]} -eq 0 ] && return 0
  if [ -n "${SKIP_INSTALL:-}" ]; then echo "dns.sh: missing ${need[*]} (SKIP_INSTALL is set)" >&2; exit 1; fi
  echo "dns.sh: installing ${need[*]}"
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1; fi
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" || { [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
  UNBOUND=$(command -v unbound || echo /usr/sbin/unbound)
  DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
}

build_torii() {
  [ -x "$TORII_HOME/bin/torii" ] && return 0
  if [ -n "${SKIP_BUILD:-}" ]; then echo "dns.sh: $TORII_HOME/bin/torii missing (SKIP_BUILD is set)" >&2; exit 1; fi
  (cd "$ROOT" && ./mvnw -B -q -DskipTests package)
}

write_configs() {
  mkdir -p "$WORK/conf" "$WORK/logs" "$WORK/queries" "$WORK/run"
  local unbound_common="  do-daemonize: no
  chroot: \"\"
  username: \"\"
  directory: \"$WORK/run\"
  use-syslog: no
  logfile: \"\"
  verbosity: 0
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: \"iterator\""
  {
    echo "server:"
    echo "  interface: 127.0.0.1@$P_AUTH"
    echo "  pidfile: \"$WORK/run/auth.pid\""
    echo "  num-threads: 1"
    echo "$unbound_common"
    echo '  local-zone: "." static'
    echo '  local-zone: "bench.test." static'
    echo '  local-data: "bench.test. 3600 IN SOA ns.bench.test. admin.bench.test. 1 3600 600 86400 60"'
    awk -v n="$HIT_NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "  local-data: \"h%d.bench.test. 3600 IN A 10.0.%d.%d\"\n", i, int(i / 250), i % 250 + 1 }'
    awk -v n="$SILENT_NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "  local-data: \"s%d.bench.test. 2 IN A 10.2.%d.%d\"\n", i, int(i / 250), i % 250 + 1 }'
    echo '  local-zone: "miss.bench.test." redirect'
    echo '  local-data: "miss.bench.test. 3600 IN A 10.1.1.1"'
    echo "remote-control:"
    echo "  control-enable: no"
  } > "$WORK/conf/auth.conf"
  cat > "$WORK/conf/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$P_UNBOUND
  pidfile: "$WORK/run/unbound.pid"
  num-threads: $THREADS
$unbound_common
  do-not-query-localhost: no
  so-reuseport: yes
  msg-cache-size: 64m
  rrset-cache-size: 128m
  num-queries-per-thread: 4096
  local-zone: "test." nodefault
  serve-expired: yes
  serve-expired-ttl: 3600
  serve-expired-client-timeout: 30
forward-zone:
  name: "bench.test."
  forward-addr: 127.0.0.1@$P_AUTH
remote-control:
  control-enable: no
EOF
  cat > "$WORK/conf/dnsmasq.conf" <<EOF
port=$P_DNSMASQ
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
server=127.0.0.1#$P_AUTH
cache-size=10000
dns-forward-max=1000
use-stale-cache
pid-file=$WORK/run/dnsmasq.pid
EOF
  cat > "$WORK/conf/torii.yaml" <<EOF
listeners:
  - { name: dns, protocol: dns, address: "127.0.0.1:$P_TORII" }
dns: { upstreams: [ "127.0.0.1:$P_AUTH" ], maxTtl: 1h }
admin: { address: "127.0.0.1:$P_ADMIN" }
ioThreads: $THREADS
EOF
  awk -v n="$HIT_NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "h%d.bench.test A\n", i }' > "$WORK/queries/hit.txt"
  awk -v n="$SILENT_NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "s%d.bench.test A\n", i }' > "$WORK/queries/silent.txt"
}

miss_file() { # miss_file TAG: a file of MISS_NAMES names never asked before
  local f="$WORK/queries/miss-$1.txt"
  awk -v n="$MISS_NAMES" -v tag="$1" 'BEGIN { for (i = 0; i < n; i++) printf "q%d.%s.miss.bench.test A\n", i, tag }' > "$f"
  echo "$f"
}

# ------------------------------------------------------------------------------------------- servers
start_server() { # start_server NAME: prints its PID and port
  local name=$1 pid port
  case $name in
    torii)
      port=$P_TORII
      # shellcheck disable=SC2086
      "$TORII_HOME/bin/torii" run --config "$WORK/conf/torii.yaml" > "$WORK/logs/torii.log" 2>&1 &
      pid=$! ;;
    unbound)
      port=$P_UNBOUND
      "$UNBOUND" -d -c "$WORK/conf/unbound.conf" > "$WORK/logs/unbound.log" 2>&1 &
      pid=$! ;;
    dnsmasq)
      port=$P_DNSMASQ
      "$DNSMASQ" -k -C "$WORK/conf/dnsmasq.conf" > "$WORK/logs/dnsmasq.log" 2>&1 &
      pid=$! ;;
    *) echo "dns.sh: unknown server $name" >&2; exit 2 ;;
  esac
  STARTED+=("$pid")
  SERVER_PID=$pid
  SERVER_PORT=$port
}

dnsperf_run() { # dnsperf_run OUT PORT ARGS...: runs dnsperf, output to OUT
  local out=$1 port=$2
  shift 2
  dnsperf -s 127.0.0.1 -p "$port" -T "$DNSPERF_THREADS" "$@" > "$out" 2>&1 || true
}

field() { # field FILE LABEL: the first number after LABEL in dnsperf's statistics
  awk -v label="$2" 'index($0, label) { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }' "$1"
}

percentiles() { # percentiles VERBOSE_OUT: p50 p99 p99.9 in ms, lost queries counted as infinite
  local lost
  lost=$(field "$1" "Queries lost:")
  grep '^> ' "$1" | awk '{print $NF}' | sort -g | awk -v lost="${lost:-0}" '
    { v[NR] = $1 }
    END {
      n = NR + lost
      if (n == 0) { print "nan nan nan"; exit }
      split("0.50 0.99 0.999", q, " ")
      out = ""
      for (j = 1; j <= 3; j++) {
        k = int(q[j] * n + 0.999999); if (k < 1) k = 1
        out = out (k > NR ? "inf" : sprintf("%.3f", v[k] * 1000)) (j < 3 ? " " : "")
      }
      print out
    }'
}

window_p99() { # window_p99 VERBOSE_OUT FROM TO: p99 (ms) of the answers received between FROM and TO s into a
  # fixed-rate run, placed in time by their order (answer i at about i / SILENT_QPS s): is the tail the pause's or
  # the machine's? (dnsperf -v prints no timestamps.)
  grep '^> ' "$1" | awk -v qps="$SILENT_QPS" -v from="$2" -v to="$3" '
    { t = (NR - 1) / qps; if (t >= from && t < to) print $NF }' | sort -g | awk '
    { v[NR] = $1 }
    END { if (NR == 0) { print "nan"; exit } k = int(0.99 * NR + 0.999999); printf "%.3f\n", v[k] * 1000 }'
}

measure() { # measure ROUND MIX SERVER: one run; appends a row to RAW
  local round=$1 mix=$2 server=$3
  start_server "$server"
  local pid=$SERVER_PID port=$SERVER_PORT
  wait_answer "$port" h0.bench.test
  local warm=$WARMUP
  [ "$server" = torii ] && warm=$TORII_WARMUP
  dnsperf_run "$WORK/logs/warm.out" "$port" -d "$WORK/queries/hit.txt" -l "$warm" -c "$CLIENTS" -q "$OUTSTANDING"
  local file latfile rate extra=()
  if [ "$mix" = hit ]; then
    file=$WORK/queries/hit.txt; latfile=$file; rate=$LAT_QPS
  else
    file=$(miss_file "r$round-$server-t"); latfile=$(miss_file "r$round-$server-l"); rate=$MISS_LAT_QPS; extra=(-n 1)
  fi
  local load1 t0 t1 c0 c1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  dnsperf_run "$WORK/logs/tput-$round-$mix-$server.out" "$port" -d "$file" -l "$DURATION" -c "$CLIENTS" -q "$OUTSTANDING" "${extra[@]}"
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  local out=$WORK/logs/tput-$round-$mix-$server.out
  local qps lost avg cpu
  qps=$(field "$out" "Queries per second:")
  lost=$(field "$out" "Queries lost:")
  avg=$(field "$out" "Average Latency (s):")
  cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / hz / (t1 - t0) * 100 }')
  local lat=$WORK/logs/lat-$round-$mix-$server.out
  dnsperf_run "$lat" "$port" -d "$latfile" -l "$LAT_DURATION" -Q "$rate" -c "$CLIENTS" -q "$OUTSTANDING" -v "${extra[@]}"
  local pct lat_lost
  pct=$(percentiles "$lat")
  lat_lost=$(field "$lat" "Queries lost:")
  rm -f "$lat" "$WORK"/queries/miss-*.txt
  stop "$pid"
  printf '%s\t%s\t%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mix" "$server" "${qps:-0}" "${lost:-0}" \
    "$(awk -v a="${avg:-0}" 'BEGIN { print a * 1000 }')" "$cpu" "$rate" "$(echo "$pct" | tr ' ' '\t')" "${lat_lost:-0}" "$load1" >> "$RAW"
  printf '  round %s %-4s %-8s %10.0f qps  lost %-6s cpu %4s%%   at %s qps: p50 %s p99 %s p99.9 %s ms (lost %s)  load %s\n' \
    "$round" "$mix" "$server" "${qps:-0}" "${lost:-0}" "$cpu" "$rate" $pct "${lat_lost:-0}" "$load1"
}

measure_silent() { # measure_silent ROUND SERVER: the silent-upstream run; appends a row to SILENT_RAW
  local round=$1 server=$2
  start_server "$server"
  local pid=$SERVER_PID port=$SERVER_PORT
  wait_answer "$port" h0.bench.test
  local warm=$WARMUP
  [ "$server" = torii ] && warm=$TORII_WARMUP
  dnsperf_run "$WORK/logs/warm.out" "$port" -d "$WORK/queries/hit.txt" -l "$warm" -c "$CLIENTS" -q "$OUTSTANDING"
  dnsperf_run "$WORK/logs/warm-silent.out" "$port" -d "$WORK/queries/silent.txt" -n 1 -c 1 -q 10
  local out=$WORK/logs/silent-$round-$server.out load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  dnsperf_run "$out" "$port" -d "$WORK/queries/silent.txt" -l "$SILENT_DURATION" -Q "$SILENT_QPS" -c "$CLIENTS" \
    -q "$OUTSTANDING" -v &
  local perf=$!
  sleep "$SILENT_AFTER"
  kill -STOP "$AUTH_PID"
  sleep "$SILENT_PAUSE"
  kill -CONT "$AUTH_PID"
  wait "$perf" || true
  local sent noerror servfail lost pct
  sent=$(field "$out" "Queries sent:")
  lost=$(field "$out" "Queries lost:")
  noerror=$(grep -c '^> NOERROR' "$out" || true)
  servfail=$(grep -c '^> SERVFAIL' "$out" || true)
  pct=$(percentiles "$out")
  local before during after
  before=$(window_p99 "$out" 0 "$SILENT_AFTER")
  during=$(window_p99 "$out" "$SILENT_AFTER" $((SILENT_AFTER + SILENT_PAUSE)))
  after=$(window_p99 "$out" $((SILENT_AFTER + SILENT_PAUSE)) "$SILENT_DURATION")
  stop "$pid"
  local share
  share=$(awk -v a="$noerror" -v n="${sent:-0}" 'BEGIN { printf "%.2f", (n > 0 ? a / n * 100 : 0) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "${sent:-0}" "$noerror" \
    "$servfail" "${lost:-0}" "$share" "$(echo "$pct" | tr ' ' '\t')" "$load1" "$before" "$during" "$after" >> "$SILENT_RAW"
  printf '  round %s silent %-8s sent %s  NOERROR %s (%s%%)  SERVFAIL %s  lost %s   p50 %s p99 %s p99.9 %s ms  load %s\n' \
    "$round" "$server" "${sent:-0}" "$noerror" "$share" "$servfail" "${lost:-0}" $pct "$load1"
  printf '          p99 before the pause %s ms, during it %s ms, after it %s ms\n' "$before" "$during" "$after"
}

summarize_silent() { # summarize_silent RAW: the silent-upstream table
  python3 - "$1" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip() and not l.startswith("round")]
num = lambda s: float("inf") if s == "inf" else float(s)
by = {}
for r in rows:
    by.setdefault(r[1], []).append(dict(share=float(r[6]), servfail=int(r[4]), lost=int(float(r[5])), p50=num(r[7]),
                                        p99=num(r[8]), p999=num(r[9])))
ms = lambda v: "inf" if v == float("inf") else f"{v:.3f}"
print("| silent upstream | answered NOERROR %, median (min-max) | SERVFAIL | lost | p50 ms | p99 ms (min-max) | p99.9 ms |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for s in [s for s in ["torii", "unbound", "dnsmasq"] if s in by]:
    v = by[s]
    sh = [x["share"] for x in v]
    p99 = [x["p99"] for x in v]
    print(f"| {s} | {statistics.median(sh):.2f} ({min(sh):.2f}-{max(sh):.2f}) | {sum(x['servfail'] for x in v)} | "
          f"{sum(x['lost'] for x in v)} | {ms(statistics.median([x['p50'] for x in v]))} | "
          f"{ms(statistics.median(p99))} ({ms(min(p99))}-{ms(max(p99))}) | {ms(statistics.median([x['p999'] for x in v]))} |")
EOF
}

# ------------------------------------------------------------------------------------------- summary
summarize() { # summarize RAW: the table
  python3 - "$1" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip() and not l.startswith("round")]
def num(s):
    return float("inf") if s == "inf" else float(s)
by = {}
for r in rows:
    rnd, mix, server = r[0], r[1], r[2]
    by.setdefault((mix, server), []).append(dict(round=rnd, qps=num(r[3]), lost=int(float(r[4])), cpu=num(r[6]),
                                                   rate=r[7], p50=num(r[8]), p99=num(r[9]), p999=num(r[10])))
mixes = sorted({k[0] for k in by}, key=lambda m: (m != "hit", m))
servers = [s for s in ["torii", "unbound", "dnsmasq"] if any(k[1] == s for k in by)]
def rng(vals, fmt):
    return f"{fmt(statistics.median(vals))} ({fmt(min(vals))}-{fmt(max(vals))})"
q = lambda v: f"{v/1000:.1f}k"
ms = lambda v: "inf" if v == float("inf") else f"{v:.3f}"
print("| mix | server | QPS median (min-max) | server CPU % | p50 ms | p99 ms (min-max) | p99.9 ms | at QPS | lost |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for mix in mixes:
    for s in servers:
        v = by.get((mix, s))
        if not v:
            continue
        print(f"| {mix} | {s} | {rng([x['qps'] for x in v], q)} | {statistics.median([x['cpu'] for x in v]):.0f} | "
              f"{ms(statistics.median([x['p50'] for x in v]))} | {rng([x['p99'] for x in v], ms)} | "
              f"{ms(statistics.median([x['p999'] for x in v]))} | {v[0]['rate']} | {sum(x['lost'] for x in v)} |")
print()
for mix in mixes:
    t = {x["round"]: x for x in by.get((mix, "torii"), [])}
    for peer in servers[1:]:
        p = {x["round"]: x for x in by.get((mix, peer), [])}
        rounds = sorted(set(t) & set(p))
        if not rounds:
            continue
        qr = statistics.median([t[r]["qps"] / p[r]["qps"] for r in rounds if p[r]["qps"] > 0] or [float("nan")])
        pr = statistics.median([t[r]["p99"] / p[r]["p99"] if p[r]["p99"] > 0 else float("nan") for r in rounds])
        print(f"{mix}: torii / {peer}: QPS x{qr:.2f}, p99 x{pr:.2f} (median of {len(rounds)} paired rounds; QPS higher"
              f" is better, p99 lower is better)")
EOF
}

# ------------------------------------------------------------------------------------------- main
case ${1:-run} in
  help|-h|--help) usage; exit 0 ;;
  summarize) summarize "$2"; exit 0 ;;
  summarize-silent) summarize_silent "$2"; exit 0 ;;
  run) ;;
  *) usage >&2; exit 2 ;;
esac

install_tools
build_torii
for p in $P_AUTH $P_TORII $P_UNBOUND $P_DNSMASQ $P_ADMIN; do
  port_free "$p" || { echo "dns.sh: port $p is taken (override the P_* variables)" >&2; exit 1; }
done
write_configs
mkdir -p "$RESULTS"
STAMP=$(date -u +%Y-%m-%d-%H%M)
RAW=$RESULTS/$STAMP-dns.raw.tsv
TXT=$RESULTS/$STAMP-dns.txt
SILENT_RAW=$RESULTS/$STAMP-dns-silent.raw.tsv
printf 'round\tserver\tsent\tnoerror\tservfail\tlost\tanswered_pct\tp50_ms\tp99_ms\tp999_ms\tload1\tp99_before_ms\tp99_during_ms\tp99_after_ms\n' > "$SILENT_RAW"
printf 'round\tmix\tserver\tqps\tlost\tavg_ms\tcpu_pct\tlat_qps\tp50_ms\tp99_ms\tp999_ms\tlat_lost\tload1\n' > "$RAW"

"$UNBOUND" -d -c "$WORK/conf/auth.conf" > "$WORK/logs/auth.log" 2>&1 &
AUTH_PID=$!
STARTED+=("$AUTH_PID")
wait_answer "$P_AUTH" h0.bench.test

{
  echo "bench/dns.sh $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores; uptime before: $(uptime)"
  echo "ROUNDS=$ROUNDS DURATION=$DURATION LAT_DURATION=$LAT_DURATION LAT_QPS=$LAT_QPS MISS_LAT_QPS=$MISS_LAT_QPS CLIENTS=$CLIENTS OUTSTANDING=$OUTSTANDING THREADS=$THREADS HIT_NAMES=$HIT_NAMES MISS_NAMES=$MISS_NAMES"
  echo "versions: $(dnsperf -h 2>&1 | grep -m1 Version) | unbound $("$UNBOUND" -V | awk 'NR==1{print $2}') | dnsmasq $("$DNSMASQ" -v | awk 'NR==1{print $3}') | torii $("$TORII_HOME/bin/torii" version 2>/dev/null | tail -1)"
} | tee "$TXT"

read -r -a order <<< "$SERVERS"
for round in $(seq "$ROUNDS"); do
  for mix in $MIXES; do
    for server in "${order[@]}"; do
      if [ "$mix" = silent ]; then
        measure_silent "$round" "$server"
      else
        measure "$round" "$mix" "$server"
      fi
    done
  done
  order=("${order[@]:1}" "${order[0]}") # rotate: every server goes first once
done

{
  echo "uptime after: $(uptime)"
  echo
  summarize "$RAW"
  echo
  echo "raw: $RAW"
  if [ "$(wc -l < "$SILENT_RAW")" -gt 1 ]; then
    echo
    summarize_silent "$SILENT_RAW"
    echo "raw: $SILENT_RAW"
  fi
} | tee -a "$TXT"
