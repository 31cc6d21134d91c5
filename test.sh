#!/usr/bin/env bash
# The test command of the README and of CI, on a fresh Debian machine (as root, or with sudo):
#
#   ./test.sh                 installs what the tests talk to when it is missing, then runs ./mvnw -B verify
#   ./test.sh --install-only  only the installs
#   ./test.sh ARGS...         Maven arguments instead of "verify", e.g. ./test.sh -o -pl gateway-server verify
#
# JDK 25 cannot be downloaded here: it must be installed already (JAVA_HOME, the java on PATH, or under
# /usr/lib/jvm); .mvn/find-jdk.sh finds it and the script stops with a message when there is none.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# What the tests need from Debian, in one place: "package  command-that-proves-it-is-there  # the tests that use it".
# Each package is installed only when its command is missing (looked for on PATH and in /usr/sbin).
# Keep one line per package; the comment says who needs it, so a package no test needs can go.
torii_packages() {
  cat <<'LIST'
nginx             nginx         # upstreams and peers in gateway-core's proxy tests (NginxServer); bench/run.sh
unbound           unbound       # the DNS server behind the DNS cache (UnboundServer): DNS tests, DnsServerModeTest
redis-server      redis-server  # the upstream of the TCP listener tests (RedisServer, TcpAndMaintenanceServerTest)
redis-tools       redis-cli     # redis-cli, the client of the same tests
dnsutils          dig           # dig against the DNS listener (DnsServerModeTest)
curl              curl          # the HTTP/1.1 and h2 client of the end-to-end tests (ToriiServerTest, DistributionTest)
openssl           openssl       # test certificates and s_client (TLS tests)
nodejs            node          # Node's HTTP/2 client for the RFC 8441 WebSocket test (WebSocketProxyTest)
haproxy           haproxy       # the HAProxy peer of bench/run.sh
dnsmasq           dnsmasq       # the dnsmasq peer of bench/dns.sh
dnsperf           dnsperf       # DNS load in bench/dns.sh
chromium          chromium      # a headless browser for tests of HTML pages (admin status page)
nghttp2-client    h2load        # h2load: HTTP/2 load in DistributionTest and bench/run.sh
wrk               wrk           # HTTP/1.1 load in bench/run.sh, bench/hook-cpu.sh and bench/startup.sh
kubernetes-client kubectl       # `kubectl kustomize` renders deploy/kubernetes (KubernetesManifestTest)
npm               npm           # installs the pinned TypeScript compiler below (PluginTypingsTest)
LIST
}

. .mvn/find-jdk.sh

need=()
while read -r pkg cmd _; do
  [ -n "$pkg" ] || continue
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done < <(torii_packages)

if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Keep Debian's maintainer scripts from starting system services (nginx on :80, unbound on :53, redis, haproxy,
  # dnsmasq): a temporary policy-rc.d, removed afterwards unless it was there before.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  rc=0
  { $sudo apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${need[@]}"; } || rc=$?
  [ -z "$guard" ] || $sudo rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || { echo "test.sh: apt-get failed ($rc)" >&2; exit "$rc"; }
fi
export PATH="$PATH:/usr/sbin"

# The TypeScript compiler that type-checks the example and benchmark plugins against torii.d.ts (PluginTypingsTest in
# gateway-scripts), at the version that test pins: installed from npm when tsc is missing or another version.
torii_typescript=5.9.3
if [ "$(tsc --version 2>/dev/null || true)" != "Version $torii_typescript" ]; then
  echo "test.sh: installing typescript@$torii_typescript (npm)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo npm install -g --no-fund --no-audit "typescript@$torii_typescript"
fi

if [ "${1-}" = "--install-only" ]; then
  exit 0
fi
if [ $# -eq 0 ]; then
  set -- -B verify
fi
exec ./mvnw "$@"
