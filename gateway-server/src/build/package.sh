#!/bin/sh
# Run by Maven at `package` (gateway-server/pom.xml, execution dist-package), after the distribution directory is laid:
#   1. runtime/: a Java runtime made by jlink with the modules jdeps finds in lib/ (plus the few that are only reached
#      reflectively), so that the distribution runs on a host without a JDK;
#   2. lib/torii.aot and lib/torii-jit.aot: the JDK's AOT caches (JEP 483/514), made by training runs (`torii train`)
#      on that runtime and the class path and flags bin/torii uses (without and with the JavaScript JIT), so that
#      `torii run` starts with its classes already loaded and linked;
#   3. torii-VERSION-linux-x86_64.tar.gz beside the directory, holding it as torii-VERSION/.
#
# Usage: package.sh DIST_DIR VERSION JAVA_HOME
# Environment: TORII_SKIP_RUNTIME=true skips 1 and 2 (the tarball then needs a JDK 25 on the host).
set -eu
dist=$1
version=$2
jdk=$3
target=$(dirname "$dist")
archive=$target/torii-$version-linux-x86_64.tar.gz

if [ "${TORII_SKIP_RUNTIME:-false}" != true ]; then
  rm -rf "$dist/runtime" "$dist/lib/torii.aot" "$dist/lib/torii-jit.aot"
  # jdeps over every jar: the modules of the JDK that lib/ uses. --ignore-missing-deps: optional dependencies of
  # libraries (e.g. Netty's on BlockHound or Brotli) that are not shipped and not used.
  modules=$("$jdk/bin/jdeps" --ignore-missing-deps --print-module-deps --multi-release 25 "$dist"/lib/*.jar)
  # Reached only by flags or reflectively, so jdeps cannot see them: JVMCI for the JavaScript JIT
  # (jdk.internal.vm.ci), DNS names through JNDI (jdk.naming.dns), and the JFR and JMX agents an operator attaches
  # (jdk.jfr, jdk.management.agent).
  modules=$modules,jdk.internal.vm.ci,jdk.naming.dns,jdk.jfr,jdk.management.agent
  echo "package.sh: jlink --add-modules $modules"
  "$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
    --compress=zip-6 --output "$dist/runtime"
  # The training run: bin/torii picks runtime/bin/java, so the cache is made for what it will be used with.
  # Twice: without the JIT, and with it and a plugin (TORII_JIT=on gives `train` the JVMCI flags of a `run` with
  # plugins), since a cache serves only the flags it was made with. TORII_NO_AOT: not trained on an older cache.
  TORII_NO_AOT=1 TORII_OPTS="-XX:AOTCacheOutput=$dist/lib/torii.aot -Xlog:aot=error" "$dist/bin/torii" train
  [ -s "$dist/lib/torii.aot" ] || { echo "package.sh: no AOT cache was written" >&2; exit 1; }
  if ls "$dist"/lib/compiler-[0-9]*.jar > /dev/null 2>&1; then
    TORII_NO_AOT=1 TORII_JIT=on TORII_OPTS="-XX:AOTCacheOutput=$dist/lib/torii-jit.aot -Xlog:aot=error" \
      "$dist/bin/torii" train --plugins
    [ -s "$dist/lib/torii-jit.aot" ] || { echo "package.sh: no AOT cache for the JIT was written" >&2; exit 1; }
  fi
fi

rm -f "$archive"
tar -C "$target" --transform "s,^$(basename "$dist"),torii-$version," -czf "$archive" "$(basename "$dist")"
echo "package.sh: $archive ($(du -h "$archive" | cut -f1))"
