#!/usr/bin/env bash
# bench/dns-perquery.sh - per-query costs of Torii's DNS server mode, A/B interleaved between builds or JVM flags:
# CPU per query (the Torii process's CPU ticks from /proc/PID/stat over a fixed count of queries at a fixed rate,
# divided by the queries answered), bytes allocated per query (JFR jdk.ThreadAllocationStatistics, every thread, at
# the start and end of the measured run), young collections and their pauses in that run (jdk.GarbageCollection),
# and p50/p99/p99.9 (dnsperf -v). Loaded machines distort the latencies and pauses, not the allocation; CPU less so.
#
# Starts an authoritative unbound (the same zones as bench/dns.sh) on P_AUTH; then, per round, variant and mix: a
# fresh bin/torii (dns listener, ioThreads 1) on the next port from P_BASE, 6 s of hits and 10 s of misses (8k QPS) to
# warm up, and the measured run: misses (MISS_QPS x SECS fresh names, -n 1) or hits (HIT_QPS for SECS s, 1,000 names).
# Stops what it started, by PID. Needs dnsperf, unbound, dig, jcmd and jfr of a JDK 25
# (JFR_BIN, else $JAVA_HOME/bin, else where jcmd on the PATH lives).
#
# Usage: VARIANTS="before=/path/to/torii| after=/path/to/torii|-Xmn32m~-XX:+UseSerialGC" bench/dns-perquery.sh
#   each variant NAME=TORII_HOME|TORII_OPTS, options separated by ~
# Knobs: ROUNDS=2 MIXES="miss hit" MISS_QPS=6000 HIT_QPS=20000 SECS=10 WORK=/tmp/torii-dns-perquery P_AUTH=15370
#   P_BASE=15371 (ports P_BASE+2, +4, ... up to P_BASE+88) JFC (a JFR settings file or name, e.g. profile)
#   TORII_NO_AOT=1 when a variant's jars differ from those its AOT cache was built with. Results: WORK/results.txt.
set -euo pipefail
W=${WORK:-/tmp/torii-dns-perquery}
P_AUTH=${P_AUTH:-15370}
P_BASE=${P_BASE:-15371}
JFR_BIN=${JFR_BIN:-${JAVA_HOME:+$JAVA_HOME/bin}}
JFR_BIN=${JFR_BIN:-$(dirname "$(readlink -f "$(command -v jcmd)")")}
ROUNDS=${ROUNDS:-2}
MIXES=${MIXES:-"miss hit"}
MISS_QPS=${MISS_QPS:-6000}
HIT_QPS=${HIT_QPS:-20000}
SECS=${SECS:-10}
mkdir -p $W/conf $W/logs $W/q $W/run
UNBOUND=/usr/sbin/unbound
STARTED=()
cleanup() { for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
cat > $W/conf/auth.conf <<C
server:
  interface: 127.0.0.1@$P_AUTH
  pidfile: "$W/run/auth.pid"
  num-threads: 1
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$W/run"
  use-syslog: no
  logfile: ""
  verbosity: 0
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." static
  local-zone: "bench.test." static
  local-data: "bench.test. 3600 IN SOA ns.bench.test. admin.bench.test. 1 3600 600 86400 60"
$(awk 'BEGIN { for (i = 0; i < 1000; i++) printf "  local-data: \"h%d.bench.test. 3600 IN A 10.0.%d.%d\"\n", i, int(i / 250), i % 250 + 1 }')
  local-zone: "miss.bench.test." redirect
  local-data: "miss.bench.test. 3600 IN A 10.1.1.1"
remote-control:
  control-enable: no
C
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "h%d.bench.test A\n", i }' > $W/q/hit.txt
cat > $W/conf/alloc.jfc <<C
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ThreadAllocationStatistics"><setting name="enabled">true</setting><setting name="period">everyChunk</setting></event>
  <event name="jdk.GarbageCollection"><setting name="enabled">true</setting><setting name="threshold">0 ms</setting></event>
</configuration>
C
cat > $W/jfrsum.py <<'PY'
import json, subprocess, sys
jfr, f = sys.argv[1], sys.argv[2]
def ev(name):
    out = subprocess.run([jfr, "print", "--json", "--events", name, f], capture_output=True, text=True).stdout
    return json.loads(out)["recording"]["events"]
first, last = {}, {}
for e in ev("jdk.ThreadAllocationStatistics"):
    v = e["values"]; t = v["thread"]["javaThreadId"] if v["thread"] else None
    first.setdefault(t, v["allocated"]); last[t] = v["allocated"]
alloc = sum(last[t] - first[t] for t in last)
gcs = ev("jdk.GarbageCollection")
def dur(s):  # "PT0.001234S"
    return float(s[2:-1]) * 1000 if isinstance(s, str) else s / 1e6
pauses = [dur(g["values"]["sumOfPauses"]) for g in gcs]
print(alloc, len(gcs), "%.2f" % (max(pauses) if pauses else 0), "%.2f" % sum(pauses))
PY
$UNBOUND -d -c $W/conf/auth.conf > $W/logs/auth.log 2>&1 & STARTED+=($!)
sleep 1
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
pct() { grep '^> ' "$1" | awk '{print $NF}' | sort -g | awk -v lost="$2" '{ v[NR] = $1 } END { n = NR + lost; split("0.50 0.99 0.999", q, " "); for (j = 1; j <= 3; j++) { k = int(q[j] * n + 0.999999); printf "%s ", (k > NR ? "inf" : sprintf("%.3f", v[k] * 1000)) } }'; }
field() { awk -v label="$2" 'index($0, label) { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }' "$1"; }
port=$P_BASE
for round in $(seq $ROUNDS); do
 for v in $VARIANTS; do
  name=${v%%=*}; rest=${v#*=}; home=${rest%%|*}; opts=${rest#*|}
  for mix in $MIXES; do
   port=$((port + 2)); [ $port -gt $((P_BASE + 88)) ] && port=$((P_BASE + 2))
   cat > $W/conf/torii-$name.yaml <<C
listeners:
  - { name: dns, protocol: dns, address: "127.0.0.1:$port" }
dns: { upstreams: [ "127.0.0.1:$P_AUTH" ], maxTtl: 1h }
ioThreads: 1
C
   TORII_OPTS="${opts//\~/ }" $home/bin/torii run --config $W/conf/torii-$name.yaml > $W/logs/torii-$name.log 2>&1 & pid=$!; STARTED+=($pid)
   for _ in $(seq 120); do dig @127.0.0.1 -p $port +time=1 +tries=1 +short h0.bench.test A 2>/dev/null | grep -q '^10\.' && break; sleep 0.5; done
   # warm-up: hits and misses (JIT both paths)
   awk -v t="w$round$name$mix" 'BEGIN { for (i = 0; i < 150000; i++) printf "q%d.%s.miss.bench.test A\n", i, t }' > $W/q/warm.txt
   dnsperf -s 127.0.0.1 -p $port -d $W/q/hit.txt -l 6 -c 8 -q 200 > /dev/null 2>&1 || true
   dnsperf -s 127.0.0.1 -p $port -d $W/q/warm.txt -n 1 -l 10 -Q 8000 -c 8 -q 200 > /dev/null 2>&1 || true
   if [ $mix = miss ]; then
     n=$((MISS_QPS * SECS)); awk -v n=$n -v t="m$round$name" 'BEGIN { for (i = 0; i < n; i++) printf "q%d.%s.miss.bench.test A\n", i, t }' > $W/q/m.txt
     f=$W/q/m.txt; rate=$MISS_QPS; extra="-n 1"
   else f=$W/q/hit.txt; rate=$HIT_QPS; extra=""; fi
   "$JFR_BIN/jcmd" $pid JFR.start name=ab settings=${JFC:-$W/conf/alloc.jfc} filename=$W/logs/ab-$name.jfr > /dev/null
   c0=$(ticks $pid)
   dnsperf -s 127.0.0.1 -p $port -d $f $extra -l $SECS -Q $rate -c 8 -q 200 -v > $W/logs/p.out 2>&1 || true
   c1=$(ticks $pid)
   "$JFR_BIN/jcmd" $pid JFR.stop name=ab > /dev/null
   done_q=$(field $W/logs/p.out "Queries completed:"); lost=$(field $W/logs/p.out "Queries lost:")
   read alloc gcs maxp sump < <(python3 $W/jfrsum.py "$JFR_BIN/jfr" $W/logs/ab-$name.jfr)
   stop=$(date +%s); kill $pid; wait $pid 2>/dev/null || true
   awk -v r=$round -v n=$name -v m=$mix -v c=$((c1 - c0)) -v q=$done_q -v l=$lost -v a="$alloc" -v p="$(pct $W/logs/p.out $lost)" -v g=$gcs -v mp="$maxp" -v sp="$sump" -v ld="$(cut -d' ' -f1 /proc/loadavg)" \
     'BEGIN { printf "round %s %-8s %-4s queries %d lost %d  cpu/query %.1f us  alloc/query %.0f B  p50/p99/p99.9 %s ms  gcs %d maxpause %s ms sum %s ms  load %s\n", r, n, m, q, l, c * 10000 / q, a / q, p, g, mp, sp, ld }' | tee -a $W/results.txt
  done
 done
done
