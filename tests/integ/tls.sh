#!/usr/bin/env bash
# tls.sh: `dev up --tls` runs a cluster whose every client-node request is
# TLS (a handshake verified against the dev CA, nothing in clear on the
# port), objects and a mount work over it, a client trusting another CA
# fails with a message naming the CA, and one without TLS gets no answer.
. "$(dirname "$0")/mountlib.sh"

command -v openssl >/dev/null || fail "openssl is needed (scripts/deps.sh)"
cluster_up 4 --tls
K="$T/cluster"
grep -q '^tls_ca = ' "$OBJFS_CONF" || fail "dev up --tls wrote no tls_ca"
port=$(sed -n 's/^addr = tcp:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$OBJFS_CONF" | head -1)

# The node's port answers a TLS handshake with a certificate of the dev CA.
echo | t openssl s_client -connect "127.0.0.1:$port" -CAfile "$K/tls/ca.crt" \
	-verify_return_error >"$T/s_client.out" 2>&1 || { cat "$T/s_client.out"; fail "no TLS on the node port"; }
grep -q "Verify return code: 0 (ok)" "$T/s_client.out" || fail "node certificate not verified by the dev CA"

# Objects and a mount over TLS.
randfile "$T/obj" 3000000
ctl -k "$K/admin.key" put demo a/obj "$T/obj" >/dev/null || fail "put over TLS"
ctl -k "$K/admin.key" get demo a/obj - | cmp -s - "$T/obj" || fail "get over TLS differs"
mount_bucket demo "$T/m" "key=$K/demo.key"
cmp -s "$T/m/a/obj" "$T/obj" || fail "read through the TLS mount differs"
head -c 5000000 /dev/urandom >"$T/m/b" || fail "write through the TLS mount"
unmount_bucket "$T/m" || fail "unmount"
[ "$(ctl -k "$K/admin.key" get demo b - | wc -c)" -eq 5000000 ] || fail "b has the wrong size"

# A client trusting another CA: refused, and told why.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
	-keyout "$T/other.key" -out "$T/other.crt" 2>/dev/null || fail "openssl req"
sed "s|^tls_ca = .*|tls_ca = \"$T/other.crt\"|" "$OBJFS_CONF" >"$T/wrong.conf"
CMD_TIMEOUT=60 t "$CTL" -c "$T/wrong.conf" -k "$K/admin.key" get demo a/obj - >/dev/null 2>"$T/wrong.err" &&
	fail "a client with the wrong CA read an object"
grep -q "ERROR cl.tls: node 1 (tcp://127.0.0.1:$port): TLS handshake failed: the node's certificate is not signed by the CA of tls_ca ($T/other.crt)" \
	"$T/wrong.err" || { cat "$T/wrong.err"; fail "no clear message for the wrong CA"; }

# A client without TLS gets nothing from a TLS node.
grep -v '^tls_ca = ' "$OBJFS_CONF" >"$T/plain.conf"
CMD_TIMEOUT=60 t "$CTL" -c "$T/plain.conf" -k "$K/admin.key" status >"$T/plain.out" 2>&1 &&
	fail "a plain client got a status from TLS nodes"
[ "$(grep -c ' down ' "$T/plain.out")" -eq 4 ] || { cat "$T/plain.out"; fail "a plain client reached a TLS node"; }
log "PASS"
