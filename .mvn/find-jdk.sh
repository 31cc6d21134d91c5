# Sourced by mvnw, .ci/run and bin/torii: makes sure JAVA_HOME points to a JDK whose feature version is
# at least TORII_MIN_JAVA (25). Keeps a JAVA_HOME that is new enough; otherwise, when the java on PATH is
# too old, picks the newest JDK >= 25 under /usr/lib/jvm (or TORII_JDK_DIRS), saying so on stderr only when
# JAVA_HOME named an older JDK.
# POSIX sh; defines torii_java_feature and torii_find_jdk, then runs torii_find_jdk.

TORII_MIN_JAVA=${TORII_MIN_JAVA:-25}

# Prints the feature version (17, 25, ...) of the java binary $1, or 0.
torii_java_feature() {
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1 | grep . || echo 0
}

torii_find_jdk() {
  _torii_asked=""
  if [ -n "${JAVA_HOME-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    [ "$(torii_java_feature "$JAVA_HOME/bin/java")" -ge "$TORII_MIN_JAVA" ] && return 0
    _torii_asked=$JAVA_HOME
  elif command -v java >/dev/null 2>&1; then
    [ "$(torii_java_feature java)" -ge "$TORII_MIN_JAVA" ] && return 0
  fi
  _torii_best="" _torii_best_v=0 _torii_noglob=""
  case $- in *f*) _torii_noglob=1; set +f ;; esac
  for _torii_dir in ${TORII_JDK_DIRS:-/usr/lib/jvm/* /opt/java/* /opt/jdk*}; do
    [ -x "$_torii_dir/bin/java" ] && [ -x "$_torii_dir/bin/javac" ] || continue
    _torii_v=$(torii_java_feature "$_torii_dir/bin/java")
    if [ "$_torii_v" -ge "$TORII_MIN_JAVA" ] && [ "$_torii_v" -gt "$_torii_best_v" ]; then
      _torii_best=$_torii_dir _torii_best_v=$_torii_v
    fi
  done
  [ -z "$_torii_noglob" ] || set -f
  if [ -n "$_torii_best" ]; then
    JAVA_HOME=$_torii_best
    export JAVA_HOME
    # Said only when it matters: JAVA_HOME named an older JDK, which is not the one used. Replacing an older
    # default java is what a user without JAVA_HOME expects, and a line on every call would be noise.
    [ -z "$_torii_asked" ] ||
      echo "torii: JAVA_HOME ($_torii_asked) is older than $TORII_MIN_JAVA; using JDK $_torii_best_v at $JAVA_HOME" >&2
    return 0
  fi
  echo "torii: JDK $TORII_MIN_JAVA or newer is needed; set JAVA_HOME to one (none found under /usr/lib/jvm)" >&2
  return 1
}

torii_find_jdk
