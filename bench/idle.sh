#!/usr/bin/env bash
# bench/idle.sh - memory of Torii holding many idle connections, on loopback.
#
# Starts, on 127.0.0.1 only: an nginx HTTP backend ("/" -> 200 "ok\n", long timeouts) on P_BACKEND (18301) and
# Torii (bin/torii run, ioThreads TORII_THREADS) with four listeners:
#   tcp   protocol: tcp -> the backend                                        :P_TORII     (18302)
#   http  protocol: http, route "/" -> the backend (HTTP/1.1 clients)          :P_TORII+1
#   h2    the same http listener, reached as h2c by prior knowledge            :P_TORII+1
#   h2s   protocol: https (a self-signed P-256 certificate), HTTP/2 by ALPN    :P_TORII+2
# Per kind (in that order, one at a time): RSS of the Torii JVM (VmRSS from /proc/PID/status) before, then
# bench/idle_client.py opens N connections (each sends one request and reads its answer: a keep-alive HTTP/1.1
# GET for tcp and http, the HTTP/2 preface + SETTINGS + one GET for h2 and h2s) from SOURCES addresses 127.0.0.2...,
# holds them idle, and after SETTLE s (75 by default: bin/torii's G1 gives unused heap back after 30-60 s without a
# collection, see docs/operations.md "Memory"; SETTLE=5 reads the peak left by the burst) the RSS "held" is read,
# with the JVM heap use (jcmd GC.heap_info) and, with HISTO=1, the top of a heap histogram (jcmd
# GC.class_histogram); then the client exits (closing them all) and the script waits until Torii's connection
# count falls back. Prints a table: RSS before/held, the difference per connection, and whether the process stays
# within GOAL_MIB.
# The backend's and the client's processes are not counted: only the Torii process. Stops exactly the PIDs it started.
#
# Usage: bench/idle.sh [run|help]
# Knobs (env): N=10000 (N_TCP=N for the tcp kind, lowered to fit ulimit -n) SOURCES=8 PARALLEL=200 (connections opened at once) SETTLE=75 (s) KINDS="tcp http h2 h2s"
#   READY_S=300 (s the client may take to open them all: more on a loaded machine) START_S=60 (s Torii may take to start)
#   GOAL_MIB=256 HISTO=1 TORII_THREADS=1 P_BACKEND=18301 P_TORII=18302
#   TORII_HOME=<repo>/gateway-server/target/torii  JAVA_OPTS, TORII_OPTS (as bin/torii reads them)
#   SKIP_INSTALL=1 (fail instead of apt-get installing nginx, python3, curl)  WORK=$TMPDIR/torii-idlebench
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/torii-idlebench}
N=${N:-10000}
N_TCP=${N_TCP:-$N}
SOURCES=${SOURCES:-8}
PARALLEL=${PARALLEL:-200}
SETTLE=${SETTLE:-75}
READY_S=${READY_S:-300}
START_S=${START_S:-60}
KINDS=${KINDS:-"tcp http h2 h2s"}
GOAL_MIB=${GOAL_MIB:-256}
HISTO=${HISTO-1}
TORII_THREADS=${TORII_THREADS:-1}
P_BACKEND=${P_BACKEND:-18301}
P_TORII=${P_TORII:-18302}
TORII_HOME=${TORII_HOME:-$ROOT/gateway-server/target/torii}
SKIP_INSTALL=${SKIP_INSTALL:-}
export PATH=$PATH:/usr/sbin:/sbin

PIDFILE=$WORK/run/pids
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$WORK/results/idle-log-$STAMP.txt
TABLE=$WORK/results/idle-table-$STAMP.txt
HISTOS=$WORK/results/idle-histo-$STAMP.txt

# say, die, process control (start_bg, stop_all, ...), readiness (port_busy, wait_*): shared with the other scripts.
. "$HERE/lib.sh"

install_deps() {
  local need=()
  command -v nginx   >/dev/null || need+=(nginx)
  command -v python3 >/dev/null || need+=(python3)
  command -v curl    >/dev/null || need+=(curl)
  command -v ss      >/dev/null || need+=(iproute2)
  command -v openssl >/dev/null || need+=(openssl)
  [ ${#need[@]} -eq 0 ] && return 0
  [ -n "$SKIP_INSTALL" ] && die "missing: ${need[*]} (SKIP_INSTALL is set)"
  [ "$(id -u)" = 0 ] || die "missing: ${need[*]} (install them, or run as root to let this script apt-get them)"
  say "installing: ${need[*]}"
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

# File descriptors: Torii holds 2 per tcp connection (client + upstream), the backend and the client 1 each.
raise_nofile() {
  local want=$((2 * N + 4096))
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want" ]; then
    ulimit -Hn "$want" 2>/dev/null || say "note: ulimit -Hn stays $(ulimit -Hn) (< $want: no CAP_SYS_RESOURCE here)"
  fi
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  local lim; lim=$(ulimit -n)
  [ "$lim" = unlimited ] && return 0
  [ "$lim" -ge $((N + 400)) ] || die "ulimit -n is $lim < N + 400 = $((N + 400)) (a smaller N, or raise the hard limit)"
  # The tcp kind needs two descriptors per connection in Torii: it gets as many connections as fit.
  if [ "$lim" -lt $((2 * N + 400)) ]; then
    N_TCP=$(( (lim - 400) / 2 ))
    say "note: ulimit -n $lim: the tcp kind holds N_TCP=$N_TCP connections (2 descriptors each in Torii), the others N=$N"
  fi
}

# jcmd of the JVM's own JDK (a jlink runtime has none: then the JDK .mvn/find-jdk.sh picks, as bin/torii does).
find_jcmd() {
  local d; d=$(dirname "$(readlink -f "/proc/$1/exe")")
  if [ -x "$d/jcmd" ]; then echo "$d/jcmd"; return; fi
  if [ -f "$ROOT/.mvn/find-jdk.sh" ]; then
    d=$( (. "$ROOT/.mvn/find-jdk.sh" >/dev/null 2>&1; echo "${JAVA_HOME:-}") 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/bin/jcmd" ]; then echo "$d/bin/jcmd"; return; fi
  fi
  echo jcmd
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Established TCP connections whose local port is PORT (the listener's accepted side).
established() { ss -Htn state established "sport = :$1" 2>/dev/null | wc -l; }
# The JVM of bin/torii (it execs java, so the recorded PID; a child if a launcher stays in between).
torii_jvm() {
  local pid=$1 c
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null | sed 's|.*/||')" = java ] && { echo "$pid"; return; }
  c=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}'); echo "${c:-$pid}"
}

start_all() {
  mkdir -p "$WORK"/{conf,run,logs,results}
  if [ -f "$PIDFILE" ]; then say "pid file left by an earlier run: stopping those PIDs"; stop_all; fi
  : >"$PIDFILE"
  local p; for p in "$P_BACKEND" "$P_TORII" $((P_TORII + 1)) $((P_TORII + 2)); do port_busy "$p" && die "port $p is already in use"; done
  cat >"$WORK/conf/backend.conf" <<EOC
# Backend for bench/idle.sh: "/" -> 200 "ok\n"; idle connections may stay for 10 minutes.
worker_processes 1;
user $(id -un) $(id -gn);
worker_rlimit_nofile $((N + 4096));
daemon off;
pid $WORK/run/backend.pid;
error_log $WORK/logs/backend.error.log warn;
events { worker_connections $((N + 2048)); }
http {
    access_log off;
    server_tokens off;
    default_type text/plain;
    keepalive_timeout 600s;
    keepalive_requests 1000000;
    client_header_timeout 600s;
    server {
        listen 127.0.0.1:$P_BACKEND backlog=4096;
        location = / { return 200 "ok\n"; }
    }
}
EOC
  cat >"$WORK/conf/torii.yaml" <<EOC
# Torii for bench/idle.sh: a tcp listener and an http listener (HTTP/1.1 and h2c) to one backend.
ioThreads: $TORII_THREADS
listeners:
  - { name: tcp, protocol: tcp, address: "127.0.0.1:$P_TORII", upstream: backend, idleTimeout: 10m }
  - { name: web, protocol: http, address: "127.0.0.1:$((P_TORII + 1))" }
  - name: secure
    protocol: https
    address: "127.0.0.1:$((P_TORII + 2))"
    tls: { certificates: [ { cert: "$WORK/conf/idle.pem", key: "$WORK/conf/idle.key" } ] }
routes:
  - match: { pathPrefix: "/" }
    upstream: backend
upstreams:
  backend: { endpoints: [ "127.0.0.1:$P_BACKEND" ], idleTimeout: 10m }
limits:
  idleTimeout: 10m
  maxConnections: $((2 * N + 1000))
  # HTTP/2 connections without a stream close after 60 s by default: opening 10,000 can take longer than that.
  http2: { idleTimeout: 10m }
EOC
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=idle.test \
      -addext subjectAltName=DNS:idle.test -keyout "$WORK/conf/idle.key" -out "$WORK/conf/idle.pem" >>"$LOG" 2>&1 \
    || die "openssl could not make the certificate (see $LOG)"
  nginx -t -q -p "$WORK" -e "$WORK/logs/backend.stderr.log" -c "$WORK/conf/backend.conf" >>"$LOG" 2>&1 \
    || die "nginx -t failed (see $LOG)"
  start_bg backend nginx -p "$WORK" -e "$WORK/logs/backend.stderr.log" -c "$WORK/conf/backend.conf"
  start_bg torii "$TORII_HOME/bin/torii" run --config "$WORK/conf/torii.yaml"
  wait_ok "http://127.0.0.1:$P_BACKEND/" 10 || die "backend does not answer (see $WORK/logs/)"
  wait_ok "http://127.0.0.1:$((P_TORII + 1))/" "$START_S" || die "Torii does not answer on $((P_TORII + 1)) (see $WORK/logs/torii.out)"
}

# One kind: RSS before, open N, RSS held, close; appends a table row.
measure() { # kind
  local kind=$1 port=$((P_TORII + 1)) jvm=$JVM n=$N
  [ "$kind" = tcp ] && { port=$P_TORII; n=$N_TCP; }
  [ "$kind" = h2s ] && port=$((P_TORII + 2))
  # A few requests first, so that the first kind does not pay for the classes all kinds load.
  python3 "$HERE/idle_client.py" "$kind" 127.0.0.1 "$port" 20 2 20 >/dev/null 2>&1 </dev/null & local w=$!
  sleep 2; kill "$w" 2>/dev/null || true; wait "$w" 2>/dev/null || true
  sleep 1
  local before; before=$(rss_kib "$jvm")
  local out="$WORK/logs/client-$kind.out"
  python3 "$HERE/idle_client.py" "$kind" 127.0.0.1 "$port" "$n" "$SOURCES" "$PARALLEL" >"$out" 2>&1 </dev/null &
  local cpid=$! cst; cst=$(starttime "$cpid"); echo "client-$kind $cpid $cst" >>"$PIDFILE"
  local t0=$SECONDS
  until grep -q '^READY' "$out" 2>/dev/null; do
    alive "$cpid" "$cst" || die "client for $kind exited: $(tail -3 "$out")"
    [ $((SECONDS - t0)) -lt "$READY_S" ] || die "client for $kind not ready after $READY_S s"
    sleep 0.5
  done
  local open_s=$((SECONDS - t0)) ready; ready=$(grep '^READY' "$out")
  sleep "$SETTLE"
  local held est heap
  held=$(rss_kib "$jvm"); est=$(established "$port")
  heap=$("$JCMD" "$jvm" GC.heap_info 2>/dev/null | awk '/ total .* used / {for (i=1;i<=NF;i++) if ($i=="used") {print $(i+1); exit}}')
  if [ -n "$HISTO" ]; then
    { echo "== $kind: $ready, RSS ${held} KiB"; "$JCMD" "$jvm" GC.class_histogram 2>/dev/null | awk 'NR <= 25 || /^Total/'; echo; } >>"$HISTOS"
  fi
  stop_one "$cpid" "$cst"
  local t1=$SECONDS
  while [ "$(established "$port")" -gt 5 ] && [ $((SECONDS - t1)) -lt 60 ]; do sleep 0.5; done
  local per=$(( (held - before) * 1024 / n ))
  say "$kind: $ready established=$est open=${open_s}s rss before=${before}KiB held=${held}KiB heap_used=${heap:-?} => $per B/conn"
  printf '%-5s %6s %8s %9.1f %9.1f %9.1f %8d %10s %s\n' "$kind" "$n" "${ready#READY }" "$(echo "$before/1024" | bc -l)" \
    "$(echo "$held/1024" | bc -l)" "$(echo "($held-$before)/1024" | bc -l)" "$per" "${heap:-?}" \
    "$([ "$held" -le $((GOAL_MIB * 1024)) ] && echo yes || echo NO)" >>"$TABLE.rows"
}

versions() {
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)   git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "machine: $(nproc) cpus, $(free -m | awk '/^Mem:/ {print $2}') MiB, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
  local opts; opts=$(tr '\0' ' ' <"/proc/$JVM/cmdline" | grep -o -- '-Xm[sx][^ ]*\|-XX:[^ ]*Heap[^ ]*\|-Dtorii.transport=[^ ]*' | tr '\n' ' ' || true)
  echo "torii:   ioThreads $TORII_THREADS, JVM heap/transport options: ${opts:-none (bin/torii defaults)}"
  echo "setup:   N=$N sources=$SOURCES parallel=$PARALLEL settle=${SETTLE}s goal=${GOAL_MIB} MiB"
}

mkdir -p "$WORK/results" "$WORK/run" "$WORK/logs"
case ${1:-run} in
  run)
    exec 9>"$WORK/run/lock"
    flock -n 9 || die "another bench/idle.sh is using $WORK (set WORK to run two at once)"
    install_deps
    command -v bc >/dev/null || die "bc is missing"
    [ -x "$TORII_HOME/bin/torii" ] || die "$TORII_HOME/bin/torii is missing: ./mvnw -B -q -DskipTests package"
    raise_nofile
    trap 'stop_all' EXIT
    trap 'exit 130' INT TERM
    start_all
    JVM=$(torii_jvm "$(awk '$1=="torii" {print $2}' "$PIDFILE")")
    JCMD=$(find_jcmd "$JVM")
    : >"$TABLE.rows"
    for k in $KINDS; do measure "$k"; done
    { versions; echo
      printf '%-5s %6s %8s %9s %9s %9s %8s %10s %s\n' kind conns client "RSS0 MiB" "held MiB" "delta MiB" "B/conn" "heap used" "<= ${GOAL_MIB} MiB"
      cat "$TABLE.rows"; echo
      echo "RSS0 = Torii's VmRSS before the kind's connections, held = with all of them open and idle ($SETTLE s after the last"
      echo "opened), B/conn = (held - RSS0) / conns. tcp: each connection also holds an upstream connection. heap used = jcmd GC.heap_info."
      [ -z "$HISTO" ] || echo "heap histograms (top 20 classes) while held: $HISTOS"
    } | tee "$TABLE"
    rm -f "$TABLE.rows"
    say "table: $TABLE  log: $LOG"
    ;;
  help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' ;;
  *) die "unknown command '$1' (expected: run or help)" ;;
esac
