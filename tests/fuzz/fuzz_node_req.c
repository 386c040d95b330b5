/* fuzz_node_req.c: fragment and node requests as objfs-node's handlers
 * decode and serve them (nodes/handlers.c over a real fragment store in
 * the scratch directory).  Input: up to 8 requests, each u8 type, u16
 * body length, body; a FRAG_PUT whose header decodes gets its data
 * checksum made right, so stores, reads, lists and deletes of real files
 * are reached.  Every handler must answer 0 or a negative errno, and
 * every reply must decode with the client's decoders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../common/checksum.h"
#include "../../common/err.h"
#include "../../nodes/handlers.h"
#include "fuzz.h"

#define MAX_REQUESTS 8

static const struct key_ent node_key = {.caps = KEY_CAP_NODE, .name = "node"};
static char data_dir[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(data_dir, sizeof(data_dir), "%s/data", fuzz_scratch());
	return 0;
}

/* Gives a FRAG_PUT body whose header decodes the checksum of its data. */
static void fix_put_csum(uint8_t *body, size_t n)
{
	struct frag_hdr h;
	struct rd r;
	const uint8_t *data;
	size_t off;

	rd_init(&r, body, n);
	msg_get_frag_hdr(&r, &h);
	off = n - r.left;
	data = rd_ptr(&r, h.frag_len);
	if (rd_done(&r)) {
		uint64_t c = csum64(data, h.frag_len);

		for (int i = 0; i < 8; i++) {
			body[off - 8 + i] = (uint8_t)(c >> (8 * i));
		}
	}
}

/* The reply as the client reads it (blockio.c, meta_client.c). */
static void check_reply(uint8_t type, const struct srv_reply *out)
{
	struct rd r;
	struct frag_hdr h;

	rd_init(&r, out->w.buf + out->w.reserve, wr_len(&out->w));
	switch (type) {
	case MSG_PING: {
		struct node_status st;

		msg_get_node_status(&r, &st);
		break;
	}
	case MSG_FRAG_GET:
		msg_get_frag_hdr(&r, &h);
		if (!rd_done(&r) || out->tail_len != h.frag_len ||
		    csum64(out->tail, out->tail_len) != h.csum) {
			fuzz_fail("a FRAG_GET reply the client would refuse");
		}
		return;
	case MSG_FRAG_STAT:
		msg_get_frag_hdr(&r, &h);
		break;
	case MSG_FRAG_DEL:
		rd_u32(&r);
		break;
	case MSG_FRAG_LIST: {
		uint32_t cnt = rd_u32(&r);

		for (uint32_t i = 0; i < cnt && rd_ok(&r); i++) {
			msg_get_frag_hdr(&r, &h);
		}
		rd_u8(&r);
		break;
	}
	case MSG_USAGE: {
		uint32_t cnt = rd_u32(&r);
		struct usage_sample us;

		for (uint32_t i = 0; i < cnt && rd_ok(&r); i++) {
			msg_get_usage_sample(&r, &us);
		}
		break;
	}
	case MSG_FRAG_CHECK:
		(void)rd_ptr(&r, rd_u32(&r));
		break;
	default:
		return; /* no reply body to check */
	}
	if (!rd_done(&r)) {
		fuzz_fail("a reply the client would refuse");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_ctx n = {.node_id = 1, .zone = "fuzz", .start_ms = frame_now_ms()};
	struct rd in;

	fuzz_clear(fuzz_scratch());
	mkdir(data_dir, 0755);
	if (frag_open(data_dir, &n.fs) != 0) {
		fuzz_fail("cannot open a fresh fragment store");
	}
	rd_init(&in, data, size);
	for (int i = 0; i < MAX_REQUESTS && in.left >= 3; i++) {
		struct frame_hdr h = {.type = rd_u8(&in)};
		uint16_t len = rd_u16(&in);
		const uint8_t *p = rd_ptr(&in, len);
		struct srv_reply out = {.tail = NULL};
		char err[256] = "";
		uint8_t *body;
		int rc;

		if (p == NULL) {
			break;
		}
		body = fuzz_dup(p, len);
		if (h.type == MSG_FRAG_PUT) {
			fix_put_csum(body, len);
		}
		h.body_len = len;
		wr_init(&out.w, FRAME_HDR_LEN);
		/* As the cluster secret's holder: every capability, so the
		 * handlers behind the dispatch check are reached. */
		rc = node_handle(&n, &h, &node_key, body, &out, err, sizeof(err));
		if (getenv("OBJFS_FUZZ_TRACE") != NULL) {
			fprintf(stderr, "request %d: type %u, %u bytes -> %d %s\n", i, h.type, len,
				rc, err);
		}
		if (rc > 0 || rc <= -OBJ_ELAST) {
			fuzz_fail("a handler answered neither 0 nor a negative errno");
		}
		if (rc == 0) {
			check_reply(h.type, &out);
		}
		free(out.tail);
		wr_free(&out.w);
		free(body);
	}
	frag_close(n.fs);
	return 0;
}
