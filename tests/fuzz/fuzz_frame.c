/* fuzz_frame.c: the frame envelope as a node or a client reads it off the
 * network (proto/frame.c).  Each input is opened twice under the fixed
 * key: as it is (magic, version, length and tag checks on garbage) and
 * with its tag recomputed (frame_reseal), so the length checks behind the
 * MAC and the error-reply decoding of the client are reached as well. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../proto/msg.h"
#include "fuzz.h"

static struct frame_key key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_key(&key);
	fuzz_quiet();
	return 0;
}

/* What a successful open promises: the body lies inside the frame and the
 * lengths add up. */
static void check_opened(const uint8_t *buf, size_t len, const struct frame_hdr *h,
			 const uint8_t *body)
{
	if (body != buf + FRAME_HDR_LEN || frame_size(h->body_len) != len ||
	    h->body_len > FRAME_MAX_BODY) {
		fuzz_fail("frame_open accepted a frame whose lengths disagree");
	}
}

/* The client's reading of an error reply (common/client.c call_reply). */
static void error_reply(const uint8_t *body, uint32_t len)
{
	char err[MSG_ERR_MAX];
	struct rd r;

	rd_init(&r, body, len);
	msg_get_error(&r, err, sizeof(err));
	if (strlen(err) >= sizeof(err)) {
		fuzz_fail("error text overran its buffer");
	}
	if (r.left == 4) {
		(void)rd_u32(&r); /* the leader hint of -EREMOTE */
	}
}

static void open_once(uint8_t *buf, size_t len)
{
	struct frame_hdr h;
	const uint8_t *body = NULL;
	int rc;

	(void)frame_version(buf, len);
	(void)frame_peek_type(buf, len);
	rc = frame_open(&key, buf, len, &h, &body);
	if (rc != 0 && rc != -OBJ_EPROTO && rc != -OBJ_EAUTH && rc != -EPROTONOSUPPORT) {
		fuzz_fail("frame_open returned an error outside its contract");
	}
	if (rc == 0) {
		check_opened(buf, len, &h, body);
		if (h.status < 0) {
			error_reply(body, h.body_len);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);

	open_once(buf, size);
	/* With a valid tag, a frame whose magic, version and length are right
	 * must open; one whose are not must still be refused. */
	if (frame_reseal(&key, buf, size) == 0) {
		struct frame_hdr h;
		const uint8_t *body;
		struct rd r;
		uint32_t magic, body_len;
		uint64_t key_id;
		uint8_t version;
		int rc;

		rd_init(&r, buf, FRAME_HDR_LEN);
		magic = rd_u32(&r);
		version = rd_u8(&r);
		rd_ptr(&r, 31);
		body_len = rd_u32(&r);
		key_id = rd_u64(&r); /* a frame sealed by another key is refused */
		rc = frame_open(&key, buf, size, &h, &body);
		if (magic == FRAME_MAGIC && version == FRAME_VERSION && key_id == key.id &&
		    body_len <= FRAME_MAX_BODY && frame_size(body_len) == size) {
			if (rc != 0) {
				fuzz_fail("a resealed well-formed frame was refused");
			}
			check_opened(buf, size, &h, body);
		} else if (rc == 0) {
			fuzz_fail("a malformed frame was accepted");
		}
		open_once(buf, size);
	}
	free(buf);
	return 0;
}
