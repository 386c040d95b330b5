#!/usr/bin/env bash
# quickstart.sh: from a fresh Debian 12 machine (as root) to a running
# local objfs cluster: installs packages, builds, starts 6 nodes on
# loopback with the embedded default config, creates bucket demo, mounts
# it at ./mnt and measures a 256 MiB dd write and read through the mount.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/deps.sh"
"$src/scripts/build.sh" "$src/build"
ctl="$src/build/ctl/objfsctl"
cd "$src"
"$ctl" dev up                       # nodes, bucket demo, mounted at ./mnt
"$ctl" status
f="$src/mnt/quickstart-256M"
echo "dd write of 256 MiB to $f (fsync before dd returns):"
dd if=/dev/zero of="$f" bs=4M count=64 conv=fsync 2>&1 | tail -n 1
# Remount so the read comes from the nodes, not from the client's caches.
fusermount3 -u "$src/mnt"
"$src/build/fuse/objfs" demo "$src/mnt" \
	-o conf="$src/.objfs-dev/objfs.conf",key="$src/.objfs-dev/demo.key"
echo "dd read of it back (after a remount, from the nodes):"
dd if="$f" of=/dev/null bs=4M 2>&1 | tail -n 1
cmp -n $((256 << 20)) "$f" /dev/zero && echo "read back identical"
echo "bucket demo is mounted at $src/mnt; the same files are objects:"
"$ctl" ls demo
echo "stop everything with: $ctl dev down   (it unmounts ./mnt first)"
