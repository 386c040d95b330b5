#!/usr/bin/env bash
# deps.sh: installs every Debian 12 package objfs needs to build, test and
# benchmark.  Run as root.  Safe to run again.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
      libfuse3-dev fuse3 libnng-dev libisal-dev libsqlite3-dev sqlite3
      libxxhash-dev check libssl-dev libraft-dev libuv1-dev libzstd-dev liblz4-dev
      fio valgrind procps iproute2 psmisc attr acl rsync clang-format jq openssl
      clang libclang-rt-14-dev prometheus curl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
