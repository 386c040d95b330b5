/* rmux_pre.c: encoding and parsing of the Raft connection preamble (see
 * rmux_pre.h).  Every length comes from the peer: each is checked against
 * the limits and against the bytes present before it is used. */
#include "rmux_pre.h"

#include <errno.h>
#include <string.h>

#include "../common/err.h"
#include "../proto/wire.h"

#define RMUX_MAGIC 0x58554d52u /* "RMUX" */

int rmux_pre_len(const uint8_t fixed[RMUX_PRE_FIXED])
{
	struct rd r;
	uint32_t magic;
	uint8_t version;
	size_t glen, alen;

	rd_init(&r, fixed, RMUX_PRE_FIXED);
	magic = rd_u32(&r);
	version = rd_u8(&r);
	glen = rd_u8(&r);
	alen = rd_u8(&r);
	/* The reserved byte must be 0: what was authenticated is then exactly
	 * what a re-encoding gives, and a later version can give it a meaning
	 * without an older node taking it for padding. */
	if (magic == RMUX_MAGIC && version != RMUX_VERSION) {
		return -EPROTONOSUPPORT; /* a node of another release */
	}
	if (magic != RMUX_MAGIC || glen == 0 || glen > RMUX_GROUP_MAX || alen == 0 ||
	    alen > RMUX_ADDR_MAX || rd_u8(&r) != 0) {
		return -OBJ_EPROTO;
	}
	return (int)(RMUX_PRE_FIXED + glen + alen + RMUX_PRE_TAIL);
}

int rmux_pre_encode(const struct frame_key *key, const struct rmux_pre *p, uint8_t *buf, size_t cap)
{
	size_t glen = strnlen(p->group, sizeof(p->group));
	size_t alen = strnlen(p->addr, sizeof(p->addr));
	uint8_t *mac;
	struct wr w;
	int rc;

	if (glen == 0 || glen > RMUX_GROUP_MAX || alen == 0 || alen > RMUX_ADDR_MAX) {
		return -EINVAL;
	}
	wr_init_buf(&w, buf, cap);
	wr_u32(&w, RMUX_MAGIC);
	wr_u8(&w, RMUX_VERSION);
	wr_u8(&w, (uint8_t)glen);
	wr_u8(&w, (uint8_t)alen);
	wr_u8(&w, 0);
	wr_bytes(&w, p->group, glen);
	wr_bytes(&w, p->addr, alen);
	wr_u64(&w, p->id);
	wr_u64(&w, p->ts_ms);
	wr_u64(&w, p->nonce);
	mac = wr_space(&w, FRAME_MAC_LEN);
	if ((rc = wr_status(&w)) != 0) {
		return rc;
	}
	if ((rc = frame_mac(key, buf, w.len - FRAME_MAC_LEN, mac)) != 0) {
		return rc;
	}
	return (int)w.len;
}

int rmux_pre_parse(const struct frame_key *key, const uint8_t *buf, size_t len,
		   struct rmux_pre *out)
{
	int want = len >= RMUX_PRE_FIXED ? rmux_pre_len(buf) : -OBJ_EPROTO;
	size_t glen, alen, signed_len;
	struct rd r;
	int rc;

	if (want < 0 || (size_t)want != len) {
		return want == -EPROTONOSUPPORT ? want : -OBJ_EPROTO;
	}
	signed_len = len - FRAME_MAC_LEN;
	rc = frame_mac_check(key, buf, signed_len, buf + signed_len);
	if (rc != 0) {
		return rc;
	}
	glen = buf[5];
	alen = buf[6];
	rd_init(&r, buf + RMUX_PRE_FIXED, signed_len - RMUX_PRE_FIXED);
	rd_bytes(&r, out->group, glen);
	out->group[glen] = '\0';
	rd_bytes(&r, out->addr, alen);
	out->addr[alen] = '\0';
	out->id = rd_u64(&r);
	out->ts_ms = rd_u64(&r);
	out->nonce = rd_u64(&r);
	/* A NUL inside would make the name c-raft sees shorter than the one
	 * that was authenticated. */
	if (!rd_done(&r) || strlen(out->group) != glen || strlen(out->addr) != alen) {
		return -OBJ_EPROTO;
	}
	return 0;
}
