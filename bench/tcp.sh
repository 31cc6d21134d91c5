#!/usr/bin/env bash
# bench/tcp.sh - L4 (TCP) proxying: Torii's tcp listener against nginx stream and HAProxy mode tcp, on loopback.
#
# Starts, on 127.0.0.1 only, each proxy with one worker/thread and two listeners:
#   backends  iperf3 -s :P_IPERF (18201), nginx HTTP "/" -> 200 "ok\n", one worker :P_WEB (18202)
#   nginx     stream { server { proxy_pass } } (ngx_stream_module)  :P_NGINX+0 (iperf) / +1 (web)   (18210)
#   haproxy   mode tcp, nbthread 1                                  :P_HAPROXY+0 / +1               (18220)
#   torii     protocol: tcp listeners, ioThreads 1 (default transport: NIO)  :P_TORII+0 / +1        (18230)
#   torii-ALT the same with -Dtorii.transport=ALT (ALT=nio default; torii itself takes io_uring where it loads)    :P_ALT+0 / +1          (18240)
# Two benches per round, interleaved (round 1: direct nginx haproxy torii torii-ALT, round 2: ...):
#   bulk   iperf3 -c ... -t DURATION, one stream (P_STREAMS), client -> server; Gbit/s received
#   conn   wrk -H 'Connection: close' -c CONNS -d DURATION: one small request and response per TCP connection,
#          so each request is a new connection through the proxy and a new upstream connection; connections/s
# prints median and min-max per target, the ratio to nginx (median and min-max of per-round ratios) and the CPU the
# target's processes used per run (/proc: conn = microseconds per connection, bulk = % of one core); the CPU figure
# is the steadier one on a shared machine. Stops exactly the processes it started, by PID.
#
# Usage: bench/tcp.sh [run|summarize RAW.tsv|help]       (default: run)
# Knobs (env): REPS=3 DURATION=10 CONNS=50 P_STREAMS=1 WARMUP=5 TORII_WARMUP=20 (s of conn load before measuring)
#   ALT=nio (the transport of the second Torii row: nio or io_uring; empty to skip; URING= also skips it)
#   TORII_THREADS=1 PROXY_WORKERS=1
#   P_IPERF=18201 P_WEB=18202 P_NGINX=18210 P_HAPROXY=18220 P_TORII=18230 P_ALT=18240 (or P_URING)
#   TORII_HOME=<repo>/gateway-server/target/torii (build it with ./mvnw -B -q -DskipTests package)
#   SKIP_INSTALL=1 (fail instead of apt-get installing iperf3, nginx, libnginx-mod-stream, haproxy, wrk)
#   WORK=$TMPDIR/torii-tcpbench  GAP=1 (s between runs)  JAVA_OPTS, TORII_OPTS (as bin/torii reads them)
#   START_TIMEOUT=180 (s each proxy may take to answer through its listener; JVMs start slowly on a loaded machine)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/torii-tcpbench}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
P_STREAMS=${P_STREAMS:-1}
WARMUP=${WARMUP:-5}
TORII_WARMUP=${TORII_WARMUP:-20}
ALT=${ALT-nio}
if [ -n "${URING+x}" ] && [ -z "$URING" ]; then ALT=""; fi
TORII_THREADS=${TORII_THREADS:-1}
PROXY_WORKERS=${PROXY_WORKERS:-1}
P_IPERF=${P_IPERF:-18201}
P_WEB=${P_WEB:-18202}
P_NGINX=${P_NGINX:-18210}
P_HAPROXY=${P_HAPROXY:-18220}
P_TORII=${P_TORII:-18230}
P_ALT=${P_ALT:-${P_URING:-18240}}
TORII_HOME=${TORII_HOME:-$ROOT/gateway-server/target/torii}
SKIP_INSTALL=${SKIP_INSTALL:-}
GAP=${GAP:-1}
START_TIMEOUT=${START_TIMEOUT:-180}
export PATH=$PATH:/usr/sbin:/sbin

PIDFILE=$WORK/run/pids
STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$WORK/results/tcp-raw-$STAMP.tsv
LOG=$WORK/results/tcp-log-$STAMP.txt
TABLE=$WORK/results/tcp-table-$STAMP.txt
STREAM_SO=/usr/lib/nginx/modules/ngx_stream_module.so

# say, die, process control (start_bg, stop_all, ...), readiness (port_busy, wait_*): shared with the other scripts.
. "$HERE/lib.sh"

# nginx's stream module: built in, or the Debian dynamic module (libnginx-mod-stream).
stream_builtin() { nginx -V 2>&1 | tr ' ' '\n' | grep -qx -- '--with-stream'; }

install_deps() {
  local need=()
  command -v iperf3  >/dev/null || need+=(iperf3)
  command -v nginx   >/dev/null || need+=(nginx)
  command -v nginx >/dev/null && { stream_builtin || [ -f "$STREAM_SO" ] || need+=(libnginx-mod-stream); }
  command -v haproxy >/dev/null || need+=(haproxy)
  command -v wrk     >/dev/null || need+=(wrk)
  command -v curl    >/dev/null || need+=(curl)
  command -v ss      >/dev/null || need+=(iproute2)
  command -v jq      >/dev/null || need+=(jq)
  [ ${#need[@]} -eq 0 ] && return 0
  [ -n "$SKIP_INSTALL" ] && die "missing: ${need[*]} (SKIP_INSTALL is set)"
  [ "$(id -u)" = 0 ] || die "missing: ${need[*]} (install them, or run as root to let this script apt-get them)"
  say "installing: ${need[*]}"
  # A temporary policy-rc.d keeps Debian's maintainer scripts from starting system nginx/haproxy/iperf3 services.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1
  fi
  local rc=0
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      -o DPkg::Lock::Timeout=600 "${need[@]}"; } >>"$LOG" 2>&1 || rc=$?
  [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get install ${need[*]} failed (see $LOG)"
}

# ---------------------------------------------------------------- configs
write_configs() {
  mkdir -p "$WORK"/{conf,run,logs,www,results}
  local u g; u=$(id -un); g=$(id -gn)
  printf 'ok\n' >"$WORK/www/index.txt"; chmod -R a+rX "$WORK/www"
  cat >"$WORK/conf/web.conf" <<EOC
# Backend of the conn bench: one request per connection, "ok\n".
worker_processes 1;
user $u $g;
worker_rlimit_nofile 20000;
daemon off;
pid $WORK/run/web.pid;
error_log $WORK/logs/web.error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    server_tokens off;
    default_type text/plain;
    server {
        listen 127.0.0.1:$P_WEB reuseport backlog=4096;
        location = / { return 200 "ok\n"; }
    }
}
EOC
  local load=""; stream_builtin || load="load_module $STREAM_SO;"
  cat >"$WORK/conf/stream.conf" <<EOC
# Peer: nginx stream (L4) proxy, $PROXY_WORKERS worker(s).
$load
worker_processes $PROXY_WORKERS;
user $u $g;
worker_rlimit_nofile 20000;
daemon off;
pid $WORK/run/stream.pid;
error_log $WORK/logs/stream.error.log warn;
events { worker_connections 8192; }
stream {
    tcp_nodelay on;
    server { listen 127.0.0.1:$P_NGINX reuseport backlog=4096;       proxy_pass 127.0.0.1:$P_IPERF; }
    server { listen 127.0.0.1:$((P_NGINX + 1)) reuseport backlog=4096; proxy_pass 127.0.0.1:$P_WEB; }
}
EOC
  cat >"$WORK/conf/haproxy.cfg" <<EOC
# Peer: HAProxy mode tcp, $PROXY_WORKERS thread(s).
global
    nbthread $PROXY_WORKERS
    maxconn 8192
defaults
    mode tcp
    timeout connect 5s
    timeout client  60s
    timeout server  60s
frontend iperf
    bind 127.0.0.1:$P_HAPROXY
    default_backend iperf
frontend web
    bind 127.0.0.1:$((P_HAPROXY + 1))
    default_backend web
backend iperf
    server s1 127.0.0.1:$P_IPERF
backend web
    server s1 127.0.0.1:$P_WEB
EOC
  local p
  for p in "$P_TORII" "$P_ALT"; do
    cat >"$WORK/conf/torii-$p.yaml" <<EOC
# Torii under test: two tcp listeners, $TORII_THREADS I/O thread(s).
ioThreads: $TORII_THREADS
listeners:
  - { name: iperf, protocol: tcp, address: "127.0.0.1:$p", upstream: iperf }
  - { name: web, protocol: tcp, address: "127.0.0.1:$((p + 1))", upstream: web }
upstreams:
  iperf: { endpoints: [ "127.0.0.1:$P_IPERF" ] }
  web: { endpoints: [ "127.0.0.1:$P_WEB" ] }
EOC
  done
}

start_all() {
  mkdir -p "$WORK"/{conf,run,logs,www,results}
  if [ -f "$PIDFILE" ]; then say "pid file left by an earlier run: stopping those PIDs"; stop_all; fi
  : >"$PIDFILE"
  local p ports=("$P_IPERF" "$P_WEB" "$P_NGINX" $((P_NGINX + 1)) "$P_HAPROXY" $((P_HAPROXY + 1)) "$P_TORII" $((P_TORII + 1)))
  [ -z "$ALT" ] || ports+=("$P_ALT" $((P_ALT + 1)))
  for p in "${ports[@]}"; do port_busy "$p" && die "port $p is already in use (override the P_* knobs)"; done
  write_configs
  nginx -t -q -p "$WORK" -e "$WORK/logs/web.stderr.log" -c "$WORK/conf/web.conf" >>"$LOG" 2>&1 || die "nginx -t web.conf (see $LOG)"
  nginx -t -q -p "$WORK" -e "$WORK/logs/stream.stderr.log" -c "$WORK/conf/stream.conf" >>"$LOG" 2>&1 || die "nginx -t stream.conf (see $LOG)"
  haproxy -c -q -f "$WORK/conf/haproxy.cfg" >>"$LOG" 2>&1 || die "haproxy -c (see $LOG)"
  start_bg iperf3 iperf3 -s -B 127.0.0.1 -p "$P_IPERF"
  start_bg web nginx -p "$WORK" -e "$WORK/logs/web.stderr.log" -c "$WORK/conf/web.conf"
  start_bg nginx nginx -p "$WORK" -e "$WORK/logs/stream.stderr.log" -c "$WORK/conf/stream.conf"
  start_bg haproxy haproxy -W -db -f "$WORK/conf/haproxy.cfg"
  start_bg torii "$TORII_HOME/bin/torii" run --config "$WORK/conf/torii-$P_TORII.yaml"
  [ -z "$ALT" ] || TORII_OPTS="${TORII_OPTS:-} -Dtorii.transport=$ALT" \
      start_bg "torii-$ALT" "$TORII_HOME/bin/torii" run --config "$WORK/conf/torii-$P_ALT.yaml"
  wait_port "$P_IPERF" 10 || die "iperf3 did not listen on $P_IPERF"
  local name port
  while read -r name port; do
    wait_ok "http://127.0.0.1:$((port + 1))/" "$START_TIMEOUT" || die "$name: no 'ok' through 127.0.0.1:$((port + 1)) (see $WORK/logs/)"
  done < <(targets | awk '{print $1, $2}')
  local want
  for name in torii ${ALT:+torii-$ALT}; do
    want=${ALT:-x}; [ "$name" = torii ] && want="io_uring|nio"
    grep -qE "\[($want) transport\]" "$WORK/logs/$name.out" ||
        say "note: $name's log does not say [$want transport] for its listeners (see $WORK/logs/$name.out)"
  done
}

# targets, in the order measured in each round: "name iperf_port" (web port = iperf port + 1; direct: P_IPERF, P_WEB)
targets() {
  echo "direct $P_IPERF"
  echo "nginx $P_NGINX"
  echo "haproxy $P_HAPROXY"
  echo "torii $P_TORII"
  [ -z "$ALT" ] || echo "torii-$ALT $P_ALT"
}
web_port() { [ "$1" = "$P_IPERF" ] && echo "$P_WEB" || echo $(($1 + 1)); }

# ---------------------------------------------------------------- runs
# The process that serves a target (bench: bulk or conn): the one whose CPU a run records (its descendants too).
server_of() { # bench target
  case $2 in
    direct) [ "$1" = bulk ] && echo iperf3 || echo web ;;
    *) echo "$2" ;;
  esac
}
# CPU clock ticks (user + system) used so far by the process recorded as NAME in $PIDFILE and its descendants.
cpu_ticks() { # name
  local name pid st total=0 p s
  read -r name pid st < <(awk -v n="$1" '$1 == n' "$PIDFILE")
  [ -n "${pid:-}" ] || { echo 0; return; }
  for p in "$pid" $(descendants "$pid" | awk '{print $1}'); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }; set -- $s; total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)

# raw TSV: round bench target value (bulk: Gbit/s received; conn: connections/s) errors cpu (bulk: % of one core;
# conn: microseconds per connection, of the process serving the target)
run_bulk() { # round target port
  local out="$WORK/results/$STAMP-bulk-$2-r$1.json" v err=0 server t0 t1 s0 cpu
  server=$(server_of bulk "$2"); t0=$(cpu_ticks "$server"); s0=$(date +%s%N)
  timeout $((DURATION + 30)) iperf3 -c 127.0.0.1 -p "$3" -t "$DURATION" -P "$P_STREAMS" -J >"$out" 2>&1 || err=1
  t1=$(cpu_ticks "$server")
  cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v ns=$(($(date +%s%N) - s0)) 'BEGIN {printf "%.0f", 100 * d / hz / (ns / 1e9)}')
  v=$(jq -r '.end.sum_received.bits_per_second // empty' "$out" 2>/dev/null | awk '{printf "%.2f", $1/1e9}')
  [ -n "$v" ] || { v=NA; err=1; }
  printf '%s\tbulk\t%s\t%s\t%s\t%s\n' "$1" "$2" "$v" "$err" "$cpu" >>"$RAW"
  say "$(printf 'r%s bulk %-12s %s Gbit/s (cpu %s%%)' "$1" "$2" "$v" "$cpu")"
  sleep "$GAP"
}
run_conn() { # round target port
  local out="$WORK/results/$STAMP-conn-$2-r$1.txt" v err server t0 t1 n cpu
  server=$(server_of conn "$2"); t0=$(cpu_ticks "$server")
  timeout $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s -H 'Connection: close' \
      "http://127.0.0.1:$(web_port "$3")/" </dev/null >"$out" 2>&1 || true
  t1=$(cpu_ticks "$server")
  v=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out"); [ -n "$v" ] || v=NA
  err=$(awk '/Socket errors:/ {gsub(",", ""); s=$4+$6+$8+$10} /Non-2xx/ {s+=$NF} END {print s+0}' "$out")
  n=$(awk '/ requests in / {print $1}' "$out")
  cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="${n:-0}" 'BEGIN {if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "NA"}')
  printf '%s\tconn\t%s\t%s\t%s\t%s\n' "$1" "$2" "$v" "$err" "$cpu" >>"$RAW"
  say "$(printf 'r%s conn %-12s %s conn/s (errors %s, %s us CPU per connection)' "$1" "$2" "$v" "$err" "$cpu")"
  sleep "$GAP"
}

warmup() {
  local name port secs
  while read -r name port; do
    secs=$WARMUP; [[ $name == torii* ]] && secs=$TORII_WARMUP
    say "warm-up $name: ${secs}s conn load, 3 s bulk"
    timeout $((secs + 20)) wrk -t1 -c"$CONNS" -d"${secs}s" -H 'Connection: close' "http://127.0.0.1:$(web_port "$port")/" \
        </dev/null >/dev/null 2>&1 || true
    timeout 30 iperf3 -c 127.0.0.1 -p "$port" -t 3 >/dev/null 2>&1 || true
  done < <(targets)
}

bench_all() {
  printf 'round\tbench\ttarget\tvalue\terrors\tcpu\n' >"$RAW"
  warmup
  local r name port
  for r in $(seq 1 "$REPS"); do
    while read -r name port; do run_bulk "$r" "$name" "$port"; done < <(targets)
    while read -r name port; do run_conn "$r" "$name" "$port"; done < <(targets)
  done
  { versions; echo; summarize "$RAW"; } | tee "$TABLE"
  say "raw: $RAW  table: $TABLE  log: $LOG"
}

versions() {
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)   git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "machine: $(nproc) cpus, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nginx:   $(nginx -v 2>&1 | sed 's/.*: //')   haproxy: $(haproxy -v 2>&1 | head -1 | awk '{print $3}')   iperf3: $(iperf3 -v 2>&1 | head -1 | awk '{print $2}')"
  echo "setup:   reps=$REPS duration=${DURATION}s conns=$CONNS iperf3_streams=$P_STREAMS torii_ioThreads=$TORII_THREADS proxy_workers=$PROXY_WORKERS"
}

# Per (bench, target): median and min-max; x nginx = median (min-max) over rounds of value / nginx's value in the same round.
summarize() {
  awk -F'\t' '
    function srt(s, a,   n, i, j, t) { n=split(s, a, " "); for (i=2;i<=n;i++) { t=a[i]+0; j=i-1; while (j>0 && a[j]+0>t) { a[j+1]=a[j]; j-- }; a[j+1]=t }; return n }
    function med(s,   a, n) { n=srt(s, a); return (n%2) ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
    function mn(s,   a) { srt(s, a); return a[1] }
    function mx(s,   a, n) { n=srt(s, a); return a[n] }
    NR==1 { next }
    { key=$2" "$3; if (!(key in seen)) { seen[key]=1; order[++k]=key }; tot[key]++; err[key]+=$5 }
    $4=="NA" { next }
    { v[key]=v[key]" "$4; n[key]++; byr[key SUBSEP $1]=$4; rounds[$1]=1 }
    NF >= 6 && $6 != "NA" && $6 != "" { c[key]=c[key]" "$6; cpu[key SUBSEP $1]=$6 }
    END {
      printf "%-5s %-12s %5s %10s %19s %18s %6s %20s %18s\n", "bench", "target", "runs", "median", "min-max", "x nginx", "errors", "cpu med (min-max)", "cpu x nginx"
      for (i=1;i<=k;i++) {
        key=order[i]; split(key, f, " "); ref=f[1]" nginx"; l=""
        for (r in rounds) if (((key SUBSEP r) in byr) && ((ref SUBSEP r) in byr) && byr[ref SUBSEP r] > 0) l=l" "byr[key SUBSEP r]/byr[ref SUBSEP r]
        x=(l=="") ? "-" : sprintf("%.2f (%.2f-%.2f)", med(l), mn(l), mx(l))
        if (!(key in n)) { printf "%-5s %-12s %2d/%-2d  (no usable run)\n", f[1], f[2], 0, tot[key]; continue }
        cl=""; for (r in rounds) if (((key SUBSEP r) in cpu) && ((ref SUBSEP r) in cpu) && cpu[ref SUBSEP r] > 0) cl=cl" "cpu[key SUBSEP r]/cpu[ref SUBSEP r]
        cm=(c[key]=="") ? "-" : sprintf("%.1f (%.1f-%.1f)", med(c[key]), mn(c[key]), mx(c[key]))
        cx=(cl=="") ? "-" : sprintf("%.2f (%.2f-%.2f)", med(cl), mn(cl), mx(cl))
        printf "%-5s %-12s %2d/%-2d %10.2f %9.2f-%-9.2f %18s %6d %20s %18s\n", f[1], f[2], n[key], tot[key], med(v[key]), mn(v[key]), mx(v[key]), x, err[key], cm, cx
      }
      print ""
      print "bulk = iperf3, one TCP stream client -> server, Gbit/s received; conn = wrk -H \"Connection: close\", connections/s"
      print "(one small HTTP request and response per connection, a new upstream connection each). Medians over rounds, min-max;"
      print "x nginx = median (min-max) over rounds of value / nginx stream'"'"'s value in the same round (runs of a round are back to back)."
      print "cpu = CPU of the process serving the target (with its children), from /proc: conn = microseconds per connection,"
      print "bulk = % of one core; cpu x nginx = per-round ratio to nginx stream'"'"'s (for conn, lower is cheaper). On a shared"
      print "machine it varies less than the rates: read it first."
    }' "$1"
}

# ---------------------------------------------------------------- main
mkdir -p "$WORK/results" "$WORK/run" "$WORK/logs"
case ${1:-run} in
  run)
    exec 9>"$WORK/run/lock"
    flock -n 9 || die "another bench/tcp.sh is using $WORK (set WORK to run two at once)"
    install_deps
    [ -x "$TORII_HOME/bin/torii" ] || die "$TORII_HOME/bin/torii is missing: ./mvnw -B -q -DskipTests package"
    trap 'stop_all' EXIT
    trap 'exit 130' INT TERM
    versions | tee -a "$LOG" >&2
    start_all
    bench_all
    ;;
  summarize) summarize "${2:?usage: tcp.sh summarize RAW.tsv}" ;;
  help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' ;;
  *) die "unknown command '$1' (expected: run, summarize RAW.tsv or help)" ;;
esac
