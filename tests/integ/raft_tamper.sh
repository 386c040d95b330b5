#!/usr/bin/env bash
# raft_tamper.sh: an attacker on the path of the replication stream.  The
# other nodes reach node 3's Raft port through a relay of this test (a
# TCP proxy) which, once writes are flowing, flips one bit of what the
# leader sends to node 3 on a live connection.  Node 3 refuses the chunk
# and drops the connection (logged), the leader connects again, every
# acknowledged write is there, node 3 catches up, and the three replicas
# of the shard are identical: the flipped entry was never applied.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "python3 missing: skipped"; exit 77; }
NODES=3
base=$((20000 + (RANDOM % 1000) * 10))
real=$((base + 1000 + 2)) # node 3's own Raft port
mkdir -p "$T/cluster"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
conf() { # conf RAFT_PORT_OF_NODE_3
	printf '[cluster]\nname = tamper\nsecret = %s\ntimeout_ms = 2000\n' "$secret"
	for i in 1 2 3; do
		printf '[node %d]\naddr = tcp://127.0.0.1:%d\ndata_dir = %s/cluster/node%d\n' \
			"$i" $((base + i - 1)) "$T" "$i"
	done
	printf 'raft_port = %d\n' "$1"
}

# The proxy: forwards both ways; after $T/flip appears, flips one bit in
# the stream to node 3 of one connection, once, well past its handshake.
cat >"$T/proxy.py" <<'PY'
import os, socket, sys, threading
lport, rport, flipfile, logf = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
state = {"flipped": False, "conns": 0}
lock = threading.Lock()
def log(s):
    with open(logf, "a") as f:
        f.write(s + "\n")
def pump(src, dst, tamper):
    seen = 0
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if tamper and seen + len(b) > 300 and os.path.exists(flipfile):
                with lock:
                    go = not state["flipped"]
                    state["flipped"] = True
                if go:
                    i = max(0, 300 - seen) if seen < 300 else 0
                    b = b[:i] + bytes([b[i] ^ 0x10]) + b[i + 1:]
                    log("flipped a bit at offset %d" % (seen + i))
            seen += len(b)
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
l = socket.socket()
l.bind(("127.0.0.1", lport))
l.listen(64)
with open(logf + ".port", "w") as f:
    f.write("%d\n" % l.getsockname()[1])
while True:
    c, _ = l.accept()
    try:
        u = socket.create_connection(("127.0.0.1", rport))
    except OSError:  # node 3 is restarting: the dialler tries again
        c.close()
        continue
    with lock:
        state["conns"] += 1
        log("connection %d" % state["conns"])
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
# The proxy takes a free port of the kernel's choosing and says which.
python3 "$T/proxy.py" 0 "$real" "$T/flip" "$T/proxy.log" </dev/null &
echo $! >>"$T/pids"
disown # killed by the cleanup without a job message
for _ in $(seq 100); do [ -s "$T/proxy.log.port" ] && break; sleep 0.05; done
proxy=$(cat "$T/proxy.log.port" 2>/dev/null) || fail "the proxy did not start"
conf "$proxy" >"$OBJFS_CONF"
conf "$real" >"$T/node3.conf"

for i in 1 2 3; do
	mkdir -p "$T/cluster/node$i"
	c=$OBJFS_CONF
	[ "$i" -eq 3 ] && c="$T/node3.conf"
	"$NODE" -c "$c" -i "$i" >>"$T/cluster/node$i.log" 2>&1 &
	echo $! >"$T/cluster/node$i.pid"
	echo $! >>"$T/pids"
done
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || fail "cluster did not come up"
ctl bucket create demo >/dev/null || fail "bucket create"
wait_caught_up demo 3
# Only what nodes 1 and 2 start goes through the relay: c-raft answers a
# message at the address its sender gave (node 3's own port), so a node 3
# that leads demo would send and receive everything around it.  Restart
# node 3 until another node leads demo.
for try in 1 2 3 4; do
	l=$(wait_leader demo) || fail "demo has no leader"
	[ "$l" != 3 ] && break
	[ "$try" -lt 4 ] || fail "node 3 kept the lead of demo"
	pid=$(cat "$T/cluster/node3.pid")
	kill "$pid"
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	"$NODE" -c "$T/node3.conf" -i 3 >>"$T/cluster/node3.log" 2>&1 &
	echo $! >"$T/cluster/node3.pid"
	echo $! >>"$T/pids"
	for _ in $(seq 100); do
		l=$(leader_of demo)
		[ -n "$l" ] && [ "$l" != 3 ] && break
		sleep 0.1
	done
	wait_caught_up demo 3
done

randfile "$T/obj" 3000
: >"$T/acked"
(
	for i in $(seq 1 60); do
		if ctl put demo "t/f$i" "$T/obj" >/dev/null 2>"$T/perr"; then
			echo "t/f$i" >>"$T/acked"
		else
			echo "FAILED t/f$i: $(cat "$T/perr")" >>"$T/acked"
		fi
	done
) &
writer=$!
wait_lines "$T/acked" 5 60
still_running "$writer"
: >"$T/flip"
for _ in $(seq 200); do grep -q "flipped" "$T/proxy.log" 2>/dev/null && break; sleep 0.05; done
grep -q "flipped" "$T/proxy.log" || { cat "$T/proxy.log"; ctl status; fail "the proxy flipped nothing"; }
for _ in $(seq 200); do grep -q "rmux.stream" "$T/cluster/node3.log" && break; sleep 0.05; done
grep -q "WARN rmux.stream: replication stream .* from 127.0.0.1:.* dropped: a chunk failed its tag" \
	"$T/cluster/node3.log" || fail "node 3 did not refuse the flipped chunk"
wait "$writer"
grep -q FAILED "$T/acked" && { cat "$T/acked"; fail "a write failed"; }
[ "$(wc -l <"$T/acked")" -eq 60 ] || fail "only $(wc -l <"$T/acked") of 60 writes acknowledged"
ctl put demo t/after "$T/obj" >/dev/null || fail "write after the tampering"
wait_caught_up demo 3
[ "$(grep -c '^connection' "$T/proxy.log")" -ge 2 ] || fail "the dropped connection was not made again"
log "node 3 refused the flipped chunk, was reconnected and caught up"

for i in 1 2 3; do kill "$(cat "$T/cluster/node$i.pid")" 2>/dev/null; done
for i in 1 2 3; do
	pid=$(cat "$T/cluster/node$i.pid")
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
done
first=""
for db in "$T"/cluster/node*/shards/demo.db; do
	[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "$db: integrity check failed"
	sqlite3 "$db" "select parent, hex(name), ino from dirents order by 1, 2; select ino, size, mode, nlink, mtime from inodes order by 1" >"$db.dump"
	if [ -z "$first" ]; then first="$db.dump"; else
		cmp -s "$first" "$db.dump" || fail "replicas differ: $db"
	fi
done
[ "$(grep -c . "$first")" -ge 61 ] || fail "the replicas hold fewer files than written"
log "replicas identical"
log "PASS"
