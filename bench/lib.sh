# bench/lib.sh - helpers shared by bench/run.sh, bench/tcp.sh and bench/idle.sh: logging and process control.
# Sourced, never run. The sourcing script sets, before calling them:
#   LOG      the log file say() appends to
#   WORK     start_bg() writes the output of process NAME to $WORK/logs/NAME.out
#   PIDFILE  every process started here is recorded there as "name pid starttime" and stopped by that PID only,
#            after checking that the PID still belongs to the same process (start time from /proc)

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- process control
starttime() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
alive() { # pid starttime
  local want=$2 s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s
  [ "$1" != Z ] && [ "${20}" = "$want" ]
}
# Descendants of a PID (children first level down, recursively), as "pid starttime" lines.
descendants() {
  local root=$1 f s pid ppid
  declare -A kids=()
  for f in /proc/[0-9]*/stat; do
    { read -r s <"$f"; } 2>/dev/null || continue
    pid=${s%% *}; s=${s##*) }; set -- $s; ppid=$2
    kids[$ppid]="${kids[$ppid]:-} $pid"
  done
  local queue=("$root") p c
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    for c in ${kids[$p]:-}; do echo "$c $(starttime "$c" || echo 0)"; queue+=("$c"); done
  done
}

start_bg() { # name cmd...
  local name=$1; shift
  "$@" >"$WORK/logs/$name.out" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$name $pid $(starttime $pid)" >>"$PIDFILE"
  say "started $name pid=$pid: $*"
}

stop_one() { # pid starttime: TERM, then KILL after 10 s
  alive "$1" "$2" || return 0
  kill "$1" 2>/dev/null || true
  local i; for i in $(seq 1 100); do alive "$1" "$2" || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# Stops every process in $PIDFILE (TERM, KILL after 10 s) and the descendants they left, then removes the file.
stop_all() {
  [ -f "$PIDFILE" ] || return 0
  local name pid st all=()
  # Snapshot children before signalling: a launcher script (bin/torii) that does not exec its JVM
  # would otherwise leave an orphan. They were started by us, through the recorded PID.
  while read -r name pid st; do
    alive "$pid" "$st" || continue
    all+=("$pid:$st:$name")
    while read -r c cst; do all+=("$c:$cst:$name-child"); done < <(descendants "$pid")
  done <"$PIDFILE"
  local e
  for e in "${all[@]}"; do
    IFS=: read -r pid st name <<<"$e"
    [[ $name == *-child ]] && continue
    if alive "$pid" "$st"; then kill "$pid" 2>/dev/null || true; say "stopping $name pid=$pid"; fi
  done
  local i left
  for i in $(seq 1 100); do
    left=0
    for e in "${all[@]}"; do IFS=: read -r pid st name <<<"$e"; alive "$pid" "$st" && left=1; done
    [ $left -eq 0 ] && break
    # Children left once their parent is gone (orphans) get TERM too, after 2 s.
    if [ "$i" = 20 ]; then
      for e in "${all[@]}"; do
        IFS=: read -r pid st name <<<"$e"
        if [[ $name == *-child ]] && alive "$pid" "$st"; then kill "$pid" 2>/dev/null || true; fi
      done
    fi
    sleep 0.1
  done
  for e in "${all[@]}"; do
    IFS=: read -r pid st name <<<"$e"
    if alive "$pid" "$st"; then say "pid $pid ($name) ignored TERM for 10 s: KILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$PIDFILE"
}

# ---------------------------------------------------------------- readiness
port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
wait_port() { # port timeout_s: until something listens on 127.0.0.1:port
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do port_busy "$1" && return 0; sleep 0.2; done
  return 1
}
wait_ok() { # url timeout_s: until the body is "ok"
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    [ "$(curl -s --max-time 2 "$1" 2>/dev/null)" = ok ] && return 0
    sleep 0.2
  done
  return 1
}
wait_url() { # url timeout_s: until the status is 200
  local url=$1 end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null)" = 200 ] && return 0
    sleep 0.2
  done
  return 1
}
