#!/usr/bin/env bash
# bench/run.sh - whole-process load test of Torii against its peers, on loopback.
#
# Starts, on 127.0.0.1 only, each with one worker/thread:
#   direct    nginx backend: "/" -> 200 "ok\n", "/16k" -> 16 KiB file     :P_BACKEND (18101)
#   nginx     nginx proxy_pass, upstream keepalive pool, HTTP/1.1          :P_NGINX   (18102)
#   haproxy   HAProxy http mode, http-reuse always                         :P_HAPROXY (18103)
#   torii     bin/torii run --config <generated yaml>, ioThreads 1         :P_TORII   (18104)
#   with TORII_B_HOME set, a second Torii for an A/B comparison in the same rounds (another build, or the same
#   build with other JVM options in TORII_B_OPTS, e.g. -Dtorii.transport=io_uring), HTTP/1.1 rows only:
#   torii-b   $TORII_B_HOME/bin/torii, the same config                      :P_TORII_B (18110)
#   with HOOKS=1 (default), a hook round on the small body:
#   nginx-lua  the nginx proxy + access_by_lua_block shared-dict counter    :P_LUA     (18105)
#   torii-hook Torii + the same work as a JS plugin (plugins/counter)      :P_TORII_HOOK (18106)
#   with H2=1 (default), an HTTP/2 round on the small body, run with h2load (H2_CONNS connections x
#   H2_STREAMS streams each), TLS + ALPN h2 downstream, HTTP/1.1 to the same backend:
#   nginx     the same nginx process, "listen ssl http2" server block       :P_NGINX_H2 (18107)
#   torii     the same Torii process, an https listener                    :P_TORII_H2 (18108)
#   (and direct: h2load --h1 against the backend, one request at a time per connection, for scale)
#   with H2C=1 (default, with H2=1), a row that nginx cannot make (its proxy speaks no HTTP/2 upstream):
#   torii-h2c the same Torii listener, path /h2c/ routed to the backend's h2c server block (prior knowledge)
#             nginx backend: "listen ... http2" without TLS, "/" -> 200 "ok\n"   :P_BACKEND_H2C (18109)
# all three proxies in front of the same backend; warms them up (Torii longer: JIT); runs wrk
# time-bounded and interleaved (round 1: A B C D, round 2: A B C D, ...) for the small body at
# CONNS connections and the 16 KiB body at CONNS_16K; prints a table of median RPS and p99 with
# min-max ranges, the ratio to direct and to nginx (median of the per-round paired ratios), and
# the CPU each server under test used; stops exactly the processes it started, by PID.
#
# Usage: bench/run.sh [run|summarize RAW.tsv|help]       (default: run)
#
# Knobs (env):
#   REPS=3 DURATION=10 (s per run) CONNS="50 200" CONNS_16K="50" THREADS=1 (wrk threads)
#   WARMUP=5 (s per peer and body) TORII_WARMUP=90 (s, small body; then WARMUP s of 16 KiB; the JS hook needs it)
#   H2=1 (the HTTP/2 round; empty to skip) H2_CONNS=50 H2_STREAMS=10 H2_REQUESTS=100000 (per run: h2load's
#     timed mode (-D) hung at the end of some runs against a cold server, so runs are request-counted)
#   P_NGINX_H2=18107 P_TORII_H2=18108
#   H2C=1 (the h2c-upstream row of the HTTP/2 round; empty to skip) P_BACKEND_H2C=18109
#   HOOKS=1 (the hook round; empty to skip)  TORII_THREADS=1 (Torii ioThreads)  PROXY_WORKERS=1 (nginx/HAProxy)  BACKEND_WORKERS=1
#   UPSTREAM_KEEPALIVE=1024 (nginx "keepalive N": idle upstream connections kept per worker; as Torii's default)
#   P_BACKEND=18101 P_NGINX=18102 P_HAPROXY=18103 P_TORII=18104
#   TORII_HOME=<repo>/gateway-server/target/torii (built with ./mvnw -B -q -DskipTests package
#     when bin/torii is missing)  SKIP_TORII=1 (peers only)  SKIP_BUILD=1 (never build)
#   SKIP_INSTALL=1 (fail instead of apt-get installing wrk, nginx, haproxy, curl)
#   WORK=$TMPDIR/torii-bench (configs, logs, results)  GAP=1 (s idle between runs)
#   QUIET_WAIT=5 QUIET_BUSY=25: before each run wait at most QUIET_WAIT s for the whole machine
#     to be below QUIET_BUSY % of one core busy (other work may share the cores)
#   MAX_FOREIGN=50: table ignores runs where processes not started here used more than this %
#     of a core (the raw TSV keeps every run)
#   JAVA_OPTS, TORII_OPTS: passed to bin/torii as its launcher reads them (e.g. TORII_OPTS=-Xmx1g)
#   TORII_B_HOME (empty: no torii-b) TORII_B_OPTS (TORII_OPTS of torii-b only) P_TORII_B=18110
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/torii-bench}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"50 200"}
CONNS_16K=${CONNS_16K:-"50"}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-5}
TORII_WARMUP=${TORII_WARMUP:-90}
TORII_THREADS=${TORII_THREADS:-1}
TORII_READY_TIMEOUT=${TORII_READY_TIMEOUT:-60}
PROXY_WORKERS=${PROXY_WORKERS:-1}
BACKEND_WORKERS=${BACKEND_WORKERS:-1}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-1024}
P_BACKEND=${P_BACKEND:-18101}
P_NGINX=${P_NGINX:-18102}
P_HAPROXY=${P_HAPROXY:-18103}
P_TORII=${P_TORII:-18104}
P_LUA=${P_LUA:-18105}
P_TORII_HOOK=${P_TORII_HOOK:-18106}
HOOKS=${HOOKS-1}
H2=${H2-1}
H2_CONNS=${H2_CONNS:-50}
H2_STREAMS=${H2_STREAMS:-10}
H2_REQUESTS=${H2_REQUESTS:-100000}
P_NGINX_H2=${P_NGINX_H2:-18107}
P_TORII_H2=${P_TORII_H2:-18108}
H2C=${H2C-1}
[ -n "$H2" ] || H2C=""
P_BACKEND_H2C=${P_BACKEND_H2C:-18109}
TORII_HOME=${TORII_HOME:-$ROOT/gateway-server/target/torii}
SKIP_TORII=${SKIP_TORII:-}
TORII_B_HOME=${TORII_B_HOME:-}
TORII_B_OPTS=${TORII_B_OPTS:-}
P_TORII_B=${P_TORII_B:-18110}
[ -z "$SKIP_TORII" ] || TORII_B_HOME=""
SKIP_BUILD=${SKIP_BUILD:-}
SKIP_INSTALL=${SKIP_INSTALL:-}
GAP=${GAP:-1}
QUIET_WAIT=${QUIET_WAIT:-5}
QUIET_BUSY=${QUIET_BUSY:-25}
MAX_FOREIGN=${MAX_FOREIGN:-50}

PIDFILE=$WORK/run/pids
HZ=$(getconf CLK_TCK)
STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$WORK/results/raw-$STAMP.tsv
LOG=$WORK/results/log-$STAMP.txt
TABLE=$WORK/results/table-$STAMP.txt

# say, die, process control (start_bg, stop_all, ...), readiness (port_busy, wait_*): shared with the other scripts.
. "$HERE/lib.sh"

# ---------------------------------------------------------------- install and build
install_deps() {
  local need=()
  command -v nginx   >/dev/null || need+=(nginx)
  [ -z "$HOOKS" ] || [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || need+=(libnginx-mod-http-lua)
  command -v haproxy >/dev/null || need+=(haproxy)
  command -v wrk     >/dev/null || need+=(wrk)
  [ -z "$H2" ] || command -v h2load >/dev/null || need+=(nghttp2-client)
  [ -z "$H2" ] || command -v openssl >/dev/null || need+=(openssl)
  command -v curl    >/dev/null || need+=(curl)
  command -v ss      >/dev/null || need+=(iproute2)
  [ ${#need[@]} -eq 0 ] && return 0
  [ -n "$SKIP_INSTALL" ] && die "missing: ${need[*]} (SKIP_INSTALL is set)"
  [ "$(id -u)" = 0 ] || die "missing: ${need[*]} (install them, or run as root to let this script apt-get them)"
  say "installing: ${need[*]}"
  # Debian's maintainer scripts would start system nginx/haproxy services (on :80 and so on): a temporary
  # policy-rc.d forbids that, and only if the machine has none of its own.
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

build_torii() {
  [ -n "$SKIP_TORII" ] && return 0
  [ -x "$TORII_HOME/bin/torii" ] && return 0
  [ -n "$SKIP_BUILD" ] && die "$TORII_HOME/bin/torii is missing (SKIP_BUILD is set; or SKIP_TORII=1 for peers only)"
  say "building Torii's distribution: ./mvnw -B -q -DskipTests package (log: $WORK/logs/build.log)"
  (cd "$ROOT" && ./mvnw -B -q -DskipTests package) >"$WORK/logs/build.log" 2>&1 \
    || die "build failed (see $WORK/logs/build.log)"
  [ -x "$TORII_HOME/bin/torii" ] || die "build left no $TORII_HOME/bin/torii"
}

versions() {
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)   git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "machine: $(nproc) cpus, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
  echo "nginx:   $(nginx -v 2>&1 | sed 's/.*: //')   haproxy: $(haproxy -v 2>&1 | head -1 | awk '{print $3}')   wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')"
  if [ -z "$SKIP_TORII" ]; then
    echo "torii:   $("$TORII_HOME/bin/torii" version 2>/dev/null | head -1 || echo '?')   ioThreads: $TORII_THREADS   java: $(torii_java_version)"
    [ -z "$TORII_B_HOME" ] || echo "torii-b: $TORII_B_HOME   TORII_OPTS='$TORII_B_OPTS'"
  fi
  echo "setup:   reps=$REPS duration=${DURATION}s wrk_threads=$THREADS conns='$CONNS' conns16k='$CONNS_16K' proxy_workers=$PROXY_WORKERS backend_workers=$BACKEND_WORKERS nginx_keepalive=$UPSTREAM_KEEPALIVE"
}

# The JDK bin/torii runs on: the one .mvn/find-jdk.sh picks (as bin/torii and mvnw do), else java on PATH.
torii_java_version() {
  local j=java
  if [ -f "$ROOT/.mvn/find-jdk.sh" ]; then
    j=$( (. "$ROOT/.mvn/find-jdk.sh" >/dev/null 2>&1; echo "${JAVA_HOME:+$JAVA_HOME/bin/}java") 2>/dev/null || echo java)
  fi
  "$j" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}'
}

render() { # template -> output
  sed -e "s|@WORK@|$WORK|g" -e "s|@P_BACKEND@|$P_BACKEND|g" -e "s|@P_NGINX@|$P_NGINX|g" \
      -e "s|@P_HAPROXY@|$P_HAPROXY|g" -e "s|@P_TORII@|$P_TORII|g" -e "s|@TORII_THREADS@|$TORII_THREADS|g" \
      -e "s|@P_LUA@|$P_LUA|g" -e "s|@P_TORII_HOOK@|$P_TORII_HOOK|g" -e "s|@HERE@|$HERE|g" \
      -e "s|@PROXY_WORKERS@|$PROXY_WORKERS|g" -e "s|@BACKEND_WORKERS@|$BACKEND_WORKERS|g" \
      -e "s|@UPSTREAM_KEEPALIVE@|$UPSTREAM_KEEPALIVE|g" \
      -e "s|@P_NGINX_H2@|$P_NGINX_H2|g" -e "s|@P_TORII_H2@|$P_TORII_H2|g" \
      -e "s|@RUN_USER@|$(id -un)|g" -e "s|@RUN_GROUP@|$(id -gn)|g" "$1" >"$2"
}

# The HTTP/2 round's listeners: a server block in the nginx proxy and a listener in Torii's config.
render_h2_blocks() {
  [ -n "$H2" ] || return 0
  # nginx 1.22: keepalive_requests (already 1000000 in the http block) also bounds the requests of an h2
  # connection (http2_max_requests is obsolete there), so nginx never closes a connection mid-run.
  sed -i '$d' "$WORK/conf/nginx.conf"
  cat >>"$WORK/conf/nginx.conf" <<EOF2
    server {
        listen 127.0.0.1:$P_NGINX_H2 ssl http2 reuseport backlog=4096;
        ssl_certificate $WORK/conf/bench.pem;
        ssl_certificate_key $WORK/conf/bench.key;
        http2_max_concurrent_streams 128;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF2
  [ -n "$SKIP_TORII" ] && return 0
  local tmp; tmp=$(mktemp)
  awk -v p="$P_TORII_H2" -v w="$WORK" '
    { print }
    /^listeners:/ { print "  - { name: secure, protocol: https, address: \"127.0.0.1:" p "\"," ;
                    print "      tls: { certificates: [ { cert: \"" w "/conf/bench.pem\", key: \"" w "/conf/bench.key\" } ] } }" }' \
    "$WORK/conf/torii.yaml" >"$tmp" && mv "$tmp" "$WORK/conf/torii.yaml"
  render_h2c_blocks
}

# The h2c-upstream row: an h2c (prior knowledge) server block in the backend nginx, and in Torii an upstream of
# protocol h2c with a route for /h2c/ ahead of the catch-all one. The row is Torii's alone: nginx's proxy_pass
# speaks HTTP/1.x to its upstreams (its grpc_pass speaks h2c, but only for gRPC), so it has no peer.
render_h2c_blocks() {
  [ -n "$H2C" ] || return 0
  sed -i '$d' "$WORK/conf/backend.conf"
  cat >>"$WORK/conf/backend.conf" <<EOF2
    server {
        listen 127.0.0.1:$P_BACKEND_H2C http2 reuseport backlog=4096;
        http2_max_concurrent_streams 1000;
        location / { return 200 "ok\n"; }
    }
}
EOF2
  [ -n "$SKIP_TORII" ] && return 0
  local tmp; tmp=$(mktemp)
  awk -v p="$P_BACKEND_H2C" '
    /^routes:/ { print; print "  - match: { pathPrefix: \"/h2c/\" }"; print "    upstream: backend-h2c"; next }
    /^upstreams:/ { print; print "  backend-h2c: { protocol: h2c, endpoints: [ \"127.0.0.1:" p "\" ] }"; next }
    { print }' \
    "$WORK/conf/torii.yaml" >"$tmp" && mv "$tmp" "$WORK/conf/torii.yaml"
}

# Sanity of one target before measuring: "/" answers "ok\n", "/16k" has 16384 bytes.
check_target() { # name base_url
  local body b16
  body=$(curl -s --max-time 5 "$2/" || true)
  [ "$body" = ok ] || die "$1: GET $2/ answered '$body' (expected: ok)"
  b16=$(curl -s --max-time 5 "$2/16k" | wc -c)
  [ "$b16" = 16384 ] || die "$1: GET $2/16k gave $b16 bytes (expected: 16384)"
}

start_all() {
  mkdir -p "$WORK"/{conf,run,logs,www,results}
  if [ -f "$PIDFILE" ]; then say "pid file left by an earlier run: stopping those PIDs"; stop_all; fi
  : >"$PIDFILE"
  local p ports=("$P_BACKEND" "$P_NGINX" "$P_HAPROXY")
  [ -n "$SKIP_TORII" ] || ports+=("$P_TORII")
  [ -z "$HOOKS" ] || ports+=("$P_LUA")
  [ -z "$HOOKS" ] || [ -n "$SKIP_TORII" ] || ports+=("$P_TORII_HOOK")
  [ -z "$TORII_B_HOME" ] || ports+=("$P_TORII_B")
  [ -z "$H2" ] || ports+=("$P_NGINX_H2")
  [ -z "$H2" ] || [ -n "$SKIP_TORII" ] || ports+=("$P_TORII_H2")
  [ -z "$H2C" ] || ports+=("$P_BACKEND_H2C")
  for p in "${ports[@]}"; do
    port_busy "$p" && die "port $p is already in use on this machine (override P_BACKEND, P_NGINX, P_HAPROXY, P_TORII)"
  done
  head -c 16384 /dev/zero | tr '\0' 'b' >"$WORK/www/16k"
  # A self-signed certificate for the HTTP/2 round (h2load does not verify it), used by nginx and Torii alike.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
      -addext subjectAltName=DNS:bench.test -keyout "$WORK/conf/bench.key" -out "$WORK/conf/bench.pem" \
      >>"$LOG" 2>&1 || die "openssl could not make the bench certificate (see $LOG)"
  chmod -R a+rX "$WORK/www"
  render "$HERE/backend.nginx.conf.in" "$WORK/conf/backend.conf"
  render "$HERE/proxy.nginx.conf.in"   "$WORK/conf/nginx.conf"
  render "$HERE/haproxy.cfg.in"        "$WORK/conf/haproxy.cfg"
  render "$HERE/torii.yaml.in"         "$WORK/conf/torii.yaml"
  [ -z "$TORII_B_HOME" ] || P_TORII=$P_TORII_B render "$HERE/torii.yaml.in" "$WORK/conf/torii-b.yaml"
  render "$HERE/lua.nginx.conf.in"     "$WORK/conf/lua.conf"
  render "$HERE/torii-hook.yaml.in"    "$WORK/conf/torii-hook.yaml"
  render_h2_blocks
  local c cs=(backend nginx)
  [ -z "$HOOKS" ] || cs+=(lua)
  for c in "${cs[@]}"; do
    nginx -t -q -p "$WORK" -e "$WORK/logs/$c.stderr.log" -c "$WORK/conf/$c.conf" >>"$LOG" 2>&1 \
      || die "nginx -t failed for $WORK/conf/$c.conf (see $LOG)"
  done
  haproxy -c -q -f "$WORK/conf/haproxy.cfg" >>"$LOG" 2>&1 || die "haproxy -c failed (see $LOG)"

  start_bg backend nginx -p "$WORK" -e "$WORK/logs/backend.stderr.log" -c "$WORK/conf/backend.conf"
  wait_url "http://127.0.0.1:$P_BACKEND/" 10 || die "backend did not come up (see $WORK/logs/backend.*)"
  start_bg nginx nginx -p "$WORK" -e "$WORK/logs/nginx.stderr.log" -c "$WORK/conf/nginx.conf"
  start_bg haproxy haproxy -db -f "$WORK/conf/haproxy.cfg"
  [ -z "$HOOKS" ] || start_bg lua nginx -p "$WORK" -e "$WORK/logs/lua.stderr.log" -c "$WORK/conf/lua.conf"
  if [ -z "$SKIP_TORII" ]; then
    start_bg torii "$TORII_HOME/bin/torii" run --config "$WORK/conf/torii.yaml"
    [ -z "$HOOKS" ] || start_bg toriihook "$TORII_HOME/bin/torii" run --config "$WORK/conf/torii-hook.yaml"
    [ -z "$TORII_B_HOME" ] || start_bg toriib env TORII_OPTS="$TORII_B_OPTS" "$TORII_B_HOME/bin/torii" run --config "$WORK/conf/torii-b.yaml"
  fi
  wait_url "http://127.0.0.1:$P_NGINX/"   10 || die "nginx did not come up (see $WORK/logs/nginx.*)"
  wait_url "http://127.0.0.1:$P_HAPROXY/" 10 || die "haproxy did not come up (see $WORK/logs/haproxy.out)"
  [ -z "$HOOKS" ] || wait_url "http://127.0.0.1:$P_LUA/" 10 || die "nginx+lua did not come up (see $WORK/logs/lua.*)"
  if [ -z "$SKIP_TORII" ]; then
    wait_url "http://127.0.0.1:$P_TORII/" "$TORII_READY_TIMEOUT" || {
      tail -20 "$WORK/logs/torii.out" >&2 || true
      die "torii did not answer 200 on :$P_TORII within ${TORII_READY_TIMEOUT}s (see $WORK/logs/torii.out)"
    }
    [ -z "$HOOKS" ] || wait_url "http://127.0.0.1:$P_TORII_HOOK/" "$TORII_READY_TIMEOUT" || {
      tail -20 "$WORK/logs/toriihook.out" >&2 || true
      die "torii with the hook did not answer 200 on :$P_TORII_HOOK (see $WORK/logs/toriihook.out)"
    }
    [ -z "$TORII_B_HOME" ] || wait_url "http://127.0.0.1:$P_TORII_B/" "$TORII_READY_TIMEOUT" || {
      tail -20 "$WORK/logs/toriib.out" >&2 || true
      die "torii-b did not answer 200 on :$P_TORII_B (see $WORK/logs/toriib.out)"
    }
  fi
  while read -r name group url; do check_target "$name" "${url%/}"; done < <(targets_for small)
  if [ -n "$H2" ]; then
    local v
    while read -r name group url; do
      [ "$name" = direct ] && continue
      v=$(curl -sk --http2 -o /dev/null -w '%{http_code} %{http_version}' --max-time 5 "$url" || true)
      [ "$v" = "200 2" ] || die "$name: GET $url over h2 answered '$v' (expected: 200 2)"
    done < <(targets_for h2)
  fi
  say "all up ($(wc -l <"$PIDFILE") processes in $PIDFILE)"
}

# ---------------------------------------------------------------- CPU accounting (as in shared/bench/anchors.sh)
# Snapshot: "STAT user nice system idle iowait irq softirq steal" from /proc/stat, then one line per
# process: pid ppid starttime ticks (utime+stime+cutime+cstime).
cpu_snap() {
  local f s pid
  { read -r s </proc/stat; }; set -- $s; echo "STAT $2 $3 $4 $5 $6 $7 $8 $9"
  for f in /proc/[0-9]*/stat; do
    { read -r s <"$f"; } 2>/dev/null || continue
    pid=${s%% *}; s=${s##*) }
    set -- $s
    echo "$pid $2 ${20} $(( ${12} + ${13} + ${14} + ${15} ))"
  done
}
# CPU between two snapshots, in % of one core, per group: each process started here (and its
# descendants), loadgen (this script and wrk), kthreads, busy (all CPUs, /proc/stat) and foreign =
# busy minus all of ours: CPU of processes this script did not start.
cpu_split() { # before after seconds
  local groups="" name pid st
  while read -r name pid st; do groups="$groups $name:$pid"; done <"$PIDFILE"
  awk -v hz="$HZ" -v dur="$3" -v self="$$" -v groups="$groups" '
    FNR==NR { if ($1=="STAT") { for (i=2;i<=9;i++) s0[i]=$i; next }
              b[$1" "$3]=$4; next }
    $1=="STAT" { for (i=2;i<=9;i++) s1[i]=$i; next }
    { k=$1" "$3; delta[$1]+=$4-((k in b)?b[k]:0); pp[$1]=$2 }
    function grp(p,   q, depth) {
      q=p; depth=0
      while (q!="" && q+0>2 && depth<64) { if (q in root) return root[q]; q=pp[q]; depth++ }
      return (p==2 || pp[p]==2) ? "kthreads" : ""
    }
    END {
      n=split(groups, g, " "); for (i=1;i<=n;i++) { split(g[i], kv, ":"); root[kv[2]]=kv[1] }
      root[self]="loadgen"
      ours=0
      for (p in delta) { G=grp(p); if (G!="") { sum[G]+=delta[p]; ours+=delta[p] } }
      busy=(s1[2]-s0[2])+(s1[3]-s0[3])+(s1[4]-s0[4])+(s1[7]-s0[7])+(s1[8]-s0[8])
      sum["busy"]=busy; sum["steal"]=s1[9]-s0[9]; sum["foreign"]=busy-ours
      split("backend nginx haproxy torii lua toriihook toriib loadgen kthreads foreign busy steal", order, " ")
      for (i=1;i<=12;i++) { v=sum[order[i]]*100/hz/dur; if (v<0) v=0; printf "%s=%.0f ", order[i], v }
    }' "$1" "$2"
}

# Busy % (of one core, all CPUs together) over a short sample.
sample_busy() {
  local a b
  read -r a </proc/stat; sleep "${1:-1}"; read -r b </proc/stat
  awk -v a="$a" -v b="$b" -v hz="$HZ" -v t="${1:-1}" 'BEGIN { split(a, x, " "); split(b, y, " ");
    s=0; for (i=2;i<=8;i++) if (i!=5 && i!=6) s+=y[i]-x[i]; printf "%.0f", s*100/hz/t }'
}
# Waits (at most QUIET_WAIT s) for a quiet machine; prints "seconds_waited busy_at_start".
wait_quiet() {
  local t0=$SECONDS busy
  while :; do
    busy=$(sample_busy 1)
    if [ "$busy" -le "$QUIET_BUSY" ] || [ $((SECONDS - t0)) -ge "$QUIET_WAIT" ]; then
      echo "$((SECONDS - t0)) $busy"; return 0
    fi
  done
}

kv() { awk -v k="$1" '{for (i=1;i<=NF;i++) { split($i, a, "="); if (a[1]==k) print a[2] }}' <<<"$2"; }

# ---------------------------------------------------------------- load runs
# targets for a bench [in round N], in the order measured in that round: lines "name group url"
targets_for() {
  if [ "$1" = h2 ]; then
    # HTTP/2 over TLS to the proxies; direct is the backend over HTTP/1.1 (h2load --h1), for scale.
    echo "direct backend http://127.0.0.1:$P_BACKEND/"
    echo "nginx nginx https://127.0.0.1:$P_NGINX_H2/"
    [ -n "$SKIP_TORII" ] || echo "torii torii https://127.0.0.1:$P_TORII_H2/"
    # Torii to the backend over h2c: the same listener, a route of its own (nginx has no such row).
    [ -n "$SKIP_TORII" ] || [ -z "$H2C" ] || echo "torii-h2c torii https://127.0.0.1:$P_TORII_H2/h2c/"
    return 0
  fi
  local path=/; [ "$1" = 16k ] && path=/16k
  echo "direct backend http://127.0.0.1:$P_BACKEND$path"
  echo "nginx nginx http://127.0.0.1:$P_NGINX$path"
  echo "haproxy haproxy http://127.0.0.1:$P_HAPROXY$path"
  # With torii-b, the two Torii slots swap places every other round (round 2, 4, ...: torii-b first), so that
  # neither build always runs right after the peers (or right after the other build) and an A/B ratio is not biased
  # by slot order.
  local a="torii torii http://127.0.0.1:$P_TORII$path" b="torii-b toriib http://127.0.0.1:$P_TORII_B$path"
  [ -n "$SKIP_TORII" ] && a=""
  [ -n "$TORII_B_HOME" ] || b=""
  if [ $(( ${2:-1} % 2 )) = 0 ]; then local t=$a; a=$b; b=$t; fi
  [ -z "$a" ] || echo "$a"
  [ -z "$b" ] || echo "$b"
  # The hook round (small body only): nginx + a Lua access hook, and Torii + the same work as a JS plugin.
  if [ -n "$HOOKS" ] && [ "$1" = small ]; then
    echo "nginx-lua lua http://127.0.0.1:$P_LUA$path"
    [ -n "$SKIP_TORII" ] || echo "torii-hook toriihook http://127.0.0.1:$P_TORII_HOOK$path"
  fi
}
conns_for() { case $1 in small) echo "$CONNS";; 16k) echo "$CONNS_16K";; h2) echo "$H2_CONNS";; esac; }

# raw TSV: round bench conc target rps p50_ms p99_ms errors cpu_server cpu_backend cpu_loadgen cpu_foreign cpu_busy steal pre_busy waited_s
run_one() { # round bench conc target group url
  local round=$1 bench=$2 conc=$3 target=$4 group=$5 url=$6
  local out="$WORK/results/$STAMP-$bench-c$conc-$target-r$round"
  local waited=0 pre=NA
  if [ "$QUIET_WAIT" -gt 0 ]; then read -r waited pre < <(wait_quiet); fi
  cpu_snap >"$out.cpu0"; local t0; t0=$(date +%s.%N)
  if [ "$bench" = h2 ]; then
    h2load_run "$conc" "$url" "$out"
  else
    timeout $((DURATION + 20)) wrk -t"$THREADS" -c"$conc" -d"${DURATION}s" --timeout 5s \
        -s "$HERE/report.lua" "$url" </dev/null >"$out.txt" 2>&1 || true
  fi
  local t1; t1=$(date +%s.%N)
  cpu_snap >"$out.cpu1"
  local secs split
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  split=$(cpu_split "$out.cpu0" "$out.cpu1" "$secs")
  rm -f "$out.cpu0" "$out.cpu1"
  local rps=NA p50=NA p99=NA err=NA r
  r=$(grep '^RESULT' "$out.txt" || true)
  if [ -n "$r" ]; then
    rps=$(sed 's/.* rps=\([^ ]*\).*/\1/' <<<"$r")
    p50=$(sed 's/.* p50_us=\([^ ]*\).*/\1/' <<<"$r" | awk '{printf "%.3f", $1/1000}')
    p99=$(sed 's/.* p99_us=\([^ ]*\).*/\1/' <<<"$r" | awk '{printf "%.3f", $1/1000}')
    err=$(awk '{for(i=1;i<=NF;i++) if ($i ~ /^err_/) {split($i,kv,"="); s+=kv[2]}} END{print s+0}' <<<"$r")
  fi
  local cs cb cl cf cbusy cst
  cs=$(kv "$group" "$split"); cb=$(kv backend "$split"); cl=$(kv loadgen "$split")
  cf=$(kv foreign "$split"); cbusy=$(kv busy "$split"); cst=$(kv steal "$split")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$round" "$bench" "$conc" "$target" "$rps" "$p50" "$p99" "$err" "$cs" "$cb" "$cl" "$cf" "$cbusy" "$cst" "$pre" "$waited" >>"$RAW"
  say "$(printf 'r%s %-5s c%-3s %-8s rps=%-9s p50=%-7s p99=%-7s err=%-3s cpu%%: server=%s backend=%s loadgen=%s foreign=%s steal=%s (waited %ss, busy %s%% before)' \
    "$round" "$bench" "$conc" "$target" "$rps" "$p50" "$p99" "$err" "$cs" "$cb" "$cl" "$cf" "$cst" "$waited" "$pre")"
  sleep "$GAP"
}

# h2load for H2_REQUESTS requests (at most 120 s); leaves a wrk-like RESULT line (rps, p50/p99 from the
# per-request log, errors) in OUT.txt.
h2load_run() { # conc url out
  local conc=$1 url=$2 out=$3 mode=(-m "$H2_STREAMS")
  [[ $url == http://* ]] && mode=(--h1 -m 1)
  timeout 120 h2load -t "$THREADS" -c "$conc" "${mode[@]}" -n "$H2_REQUESTS" \
      --log-file="$out.lat" "$url" </dev/null >"$out.txt" 2>&1 || true
  local rps ok failed p50 p99
  rps=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$out.txt")
  failed=$(awk '/^requests:/ { print $10 + $12 + $14 }' "$out.txt")
  ok=$(awk '/^status codes:/ { gsub(",", "", $3); print $3 }' "$out.txt")
  if [ -n "$rps" ] && [ -s "$out.lat" ]; then
    read -r p50 p99 < <(awk '{ print $3 }' "$out.lat" | sort -n | awk '{ v[NR]=$1 } END {
        printf "%d %d\n", v[int(NR*0.5)+1], v[int(NR*0.99)+1] }')
    echo "RESULT rps=$rps p50_us=$p50 p99_us=$p99 err_failed=${failed:-0} 2xx=${ok:-0}" >>"$out.txt"
  fi
  rm -f "$out.lat"
}

warmup() {
  local name group url secs
  local t=", Torii ${TORII_WARMUP}s (small body) + ${WARMUP}s (16 KiB)"; [ -n "$SKIP_TORII" ] && t=""
  say "warm-up: ${WARMUP}s per peer and body$t"
  while read -r name group url; do
    secs=$WARMUP; [ "$group" = torii ] || [ "$group" = toriihook ] || [ "$group" = toriib ] && secs=$TORII_WARMUP
    timeout $((secs + 20)) wrk -t"$THREADS" -c50 -d"${secs}s" "$url" </dev/null >/dev/null 2>&1 || true
  done < <(targets_for small)
  if [ -n "$H2" ]; then
    local n
    while read -r name group url; do
      [ "$name" = direct ] && continue
      # Requests, not seconds (see h2load_run); Torii's HTTP/2 path needs as long a warm-up as its HTTP/1.1 one
      # (C2 and the Truffle-free Java paths settle after a few hundred thousand requests).
      n=$((WARMUP * 5000)); [ "$group" = torii ] && n=$((TORII_WARMUP * 10000))
      timeout 300 h2load -c 50 -m "$H2_STREAMS" -n "$n" "$url" </dev/null >/dev/null 2>&1 || true
    done < <(targets_for h2)
  fi
  [ -n "${CONNS_16K// /}" ] || return 0
  while read -r name group url; do
    timeout $((WARMUP + 20)) wrk -t"$THREADS" -c50 -d"${WARMUP}s" "$url" </dev/null >/dev/null 2>&1 || true
  done < <(targets_for 16k)
}

bench_all() {
  printf 'round\tbench\tconc\ttarget\trps\tp50_ms\tp99_ms\terrors\tcpu_server\tcpu_backend\tcpu_loadgen\tcpu_foreign\tcpu_busy\tsteal\tpre_busy\twaited_s\n' >"$RAW"
  warmup
  local round b c name group url
  for round in $(seq 1 "$REPS"); do
    local benches="small 16k"; [ -z "$H2" ] || benches="$benches h2"
    for b in $benches; do
      for c in $(conns_for "$b"); do
        while read -r name group url; do
          run_one "$round" "$b" "$c" "$name" "$group" "$url"
        done < <(targets_for "$b" "$round")
      done
    done
  done
  { versions; echo; summarize "$RAW"; } | tee "$TABLE"
  say "raw: $RAW  table: $TABLE  log: $LOG"
}

# Table per (bench, conc, target): median and min-max of RPS and p99; x direct and x nginx = median
# (min-max) over rounds of this target's RPS divided by the reference's RPS in the same round.
summarize() {
  awk -F'\t' -v maxf="$MAX_FOREIGN" '
    function srt(s, a,   n, i, j, t) { n=split(s, a, " "); for (i=2;i<=n;i++) { t=a[i]+0; j=i-1; while (j>0 && a[j]+0>t) { a[j+1]=a[j]; j-- }; a[j+1]=t }; return n }
    function med(s,   a, n) { n=srt(s, a); return (n%2) ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }
    function mn(s,   a) { srt(s, a); return a[1] }
    function mx(s,   a, n) { n=srt(s, a); return a[n] }
    function paired(key, ref,   r, l) {   # "med (min-max)" of per-round ratios key/ref
      if (key == ref) return "1"
      l=""; for (r in rounds) if (((key SUBSEP r) in byr) && ((ref SUBSEP r) in byr) && byr[ref SUBSEP r] > 0) l=l" "byr[key SUBSEP r]/byr[ref SUBSEP r]
      return (l == "") ? "-" : sprintf("%.2f (%.2f-%.2f)", med(l), mn(l), mx(l))
    }
    NR==1 { next }
    { key=$2" "$3" "$4; if (!(key in seen)) { seen[key]=1; order[++k]=key }; tot[key]++ }
    $5=="NA" { bad[key]++; next }
    maxf!="" && $12+0 > maxf+0 { drop[key]++; next }
    { rps[key]=rps[key]" "$5; p99[key]=p99[key]" "$7; err[key]+=$8; n[key]++
      cpu[key]=cpu[key]" "$9; fcpu[key]=fcpu[key]" "$12
      eff[key]=eff[key]" "(($9+0)>0 ? $5/($9/100)/1000 : 0); byr[key SUBSEP $1]=$5; rounds[$1]=1 }
    END {
      printf "%-5s %4s %-10s %5s %8s %15s %7s %13s %17s %17s %5s %6s %6s %6s\n", "bench", "conns", "target", "runs", "RPS med", "RPS min-max", "p99 ms", "p99 min-max", "x direct", "x nginx", "errs", "srvCPU", "fgnCPU", "k/cpu-s"
      for (i=1;i<=k;i++) {
        key=order[i]; split(key, f, " ")
        if (!(key in n)) { printf "%-5s %5s %-10s %2d/%-2d  (no usable run: %d failed, %d dropped)\n", f[1], f[2], f[3], 0, tot[key], bad[key], drop[key]; continue }
        printf "%-5s %5s %-10s %2d/%-2d %8.0f %7.0f-%-7.0f %7.2f %6.2f-%-6.2f %17s %17s %5d %5.0f%% %5.0f%% %6.1f\n", f[1], f[2], f[3], n[key], tot[key], med(rps[key]), mn(rps[key]), mx(rps[key]), med(p99[key]), mn(p99[key]), mx(p99[key]), paired(key, f[1]" "f[2]" direct"), paired(key, f[1]" "f[2]" nginx"), err[key], med(cpu[key]), med(fcpu[key]), med(eff[key])
      }
      for (i=1;i<=k;i++) {
        key=order[i]; split(key, f, " ")
        if (f[3] != "torii-hook") continue
        if (!hooks++) print ""
        printf "hook round, %s/%s: torii-hook x torii = %s, torii-hook x nginx-lua = %s, nginx-lua x nginx = %s\n", f[1], f[2], paired(key, f[1]" "f[2]" torii"), paired(key, f[1]" "f[2]" nginx-lua"), paired(f[1]" "f[2]" nginx-lua", f[1]" "f[2]" nginx")
      }
      for (i=1;i<=k;i++) {
        key=order[i]; split(key, f, " ")
        if (f[3] != "torii-b") continue
        if (!ab++) print ""
        printf "A/B, %s/%s: torii x torii-b = %s (RPS, paired per round)\n", f[1], f[2], paired(f[1]" "f[2]" torii", key)
      }
      print ""
      print "runs = used/made" (maxf != "" ? " (runs with fgnCPU > " maxf "% dropped)" : "") "; RPS and p99 (wrk, closed loop) are medians over rounds with min-max."
      print "x direct, x nginx = median (min-max) over rounds of RPS / the reference RPS in the same round (runs of a round are back to back)."
      print "srvCPU = server under test (the backend itself on direct rows), fgnCPU = processes not started by this script, both medians in % of one core."
      print "k/cpu-s = thousand requests per CPU-second of the server under test: efficiency, comparable across thread counts."
      print "errs = wrk socket errors + non-2xx/3xx responses, summed over runs."
      print "h2 rows: h2load, TLS + ALPN h2, " "conns x streams per connection; p50/p99 from its per-request log; direct = the backend over HTTP/1.1 (h2load --h1)."
      print "torii-h2c (h2 rows): Torii with an h2c upstream (an h2c server block in the backend); x nginx pairs it with nginx and its HTTP/1.1 upstream."
    }' "$1"
}

# ---------------------------------------------------------------- main
mkdir -p "$WORK/results" "$WORK/run" "$WORK/logs"
case ${1:-run} in
  run)
    # One run per WORK directory: a second one would take the first one's PID file for stale.
    exec 9>"$WORK/run/lock"
    flock -n 9 || die "another bench/run.sh is using $WORK (set WORK to run two at once)"
    install_deps
    build_torii
    trap 'stop_all' EXIT
    trap 'exit 130' INT TERM
    versions | tee -a "$LOG" >&2
    start_all
    bench_all
    ;;
  summarize) summarize "${2:?usage: run.sh summarize RAW.tsv}" ;;
  help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' ;;
  *) die "unknown command '$1' (expected: run, summarize RAW.tsv or help)" ;;
esac
