/* keys.c: capabilities, the key wire form and the key file (see keys.h). */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"

int key_allows(const struct key_ent *k, enum key_need need, const char *bucket)
{
	int own;

	if (k->caps & KEY_CAP_NODE) {
		return 0;
	}
	if (need == KEY_NEED_NODE) {
		return -EACCES;
	}
	if (k->caps & KEY_CAP_ADMIN) {
		return 0;
	}
	/* A bucket key from here on. */
	own = bucket == NULL || strcmp(bucket, k->bucket) == 0;
	switch (need) {
	case KEY_NEED_ANY:
		return 0;
	case KEY_NEED_READ:
		/* The catalog holds only bucket names: any key may read it. */
		return own || (bucket != NULL && bucket[0] == '\0') ? 0 : -EACCES;
	case KEY_NEED_WRITE:
		return own && (k->caps & KEY_CAP_RW) ? 0 : -EACCES;
	default:
		return -EACCES;
	}
}

int key_check_name(const char *name)
{
	size_t n = strnlen(name, KEY_NAME_MAX);

	if (n == 0 || n >= KEY_NAME_MAX) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			return -EINVAL;
		}
	}
	return 0;
}

int key_check_caps(uint32_t caps, const char *bucket)
{
	if (caps == KEY_CAP_ADMIN) {
		return bucket[0] == '\0' ? 0 : -EINVAL;
	}
	if (caps == KEY_CAP_RO || caps == KEY_CAP_RW) {
		return msg_check_bucket(bucket);
	}
	return -EINVAL;
}

const char *key_caps_str(const struct key_ent *k, char *buf, size_t cap)
{
	if (k->caps & KEY_CAP_NODE) {
		snprintf(buf, cap, "node");
	} else if (k->caps & KEY_CAP_ADMIN) {
		snprintf(buf, cap, "admin");
	} else {
		snprintf(buf, cap, "%s:%s", (k->caps & KEY_CAP_RW) ? "rw" : "ro", k->bucket);
	}
	return buf;
}

int key_parse_caps(const char *s, uint32_t *caps, char bucket[KEY_BUCKET_MAX])
{
	if (strcmp(s, "admin") == 0) {
		*caps = KEY_CAP_ADMIN;
		bucket[0] = '\0';
		return 0;
	}
	if ((strncmp(s, "rw:", 3) != 0 && strncmp(s, "ro:", 3) != 0) ||
	    strlen(s + 3) >= KEY_BUCKET_MAX) {
		return -EINVAL;
	}
	*caps = s[1] == 'w' ? KEY_CAP_RW : KEY_CAP_RO;
	snprintf(bucket, KEY_BUCKET_MAX, "%s", s + 3);
	return key_check_caps(*caps, bucket);
}

void key_put(struct wr *w, const struct key_ent *k, int secret)
{
	wr_u64(w, k->id);
	wr_str(w, k->name);
	wr_str(w, k->bucket);
	wr_u32(w, k->caps);
	wr_u64(w, (uint64_t)k->ctime_ns);
	if (secret) {
		wr_bytes(w, k->secret, KEY_SECRET_LEN);
	}
}

void key_get(struct rd *r, struct key_ent *k, int secret)
{
	memset(k, 0, sizeof(*k));
	k->id = rd_u64(r);
	rd_str(r, k->name, sizeof(k->name));
	rd_str(r, k->bucket, sizeof(k->bucket));
	k->caps = rd_u32(r);
	k->ctime_ns = (int64_t)rd_u64(r);
	if (secret) {
		rd_bytes(r, k->secret, KEY_SECRET_LEN);
	}
	if (rd_ok(r) && (k->id == KEY_ID_NODE || key_check_name(k->name) != 0 ||
			 key_check_caps(k->caps, k->bucket) != 0)) {
		r->bad = true;
	}
}

/* Hex digits of exactly n bytes into out: 0 or -EINVAL. */
static int unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n) {
		return -EINVAL;
	}
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (v < 0) {
			return -EINVAL;
		}
		if (i % 2 == 0) {
			out[i / 2] = (uint8_t)(v << 4);
		} else {
			out[i / 2] |= (uint8_t)v;
		}
	}
	return 0;
}

static int trimmed(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r')) {
		(*n)--;
	}
	return *n > 0;
}

int key_file_parse(const char *text, size_t len, const char *what, struct key_ent *k, char *err,
		   size_t errlen)
{
	enum { F_NAME = 1, F_ID = 2, F_CAPS = 4, F_SECRET = 8, F_ALL = 15 };
	unsigned seen = 0, line = 0;
	size_t pos = 0;

	memset(k, 0, sizeof(*k));
	while (pos < len) {
		const char *l = text + pos, *eq, *nl = memchr(l, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - l) : len - pos, kn, vn;
		const char *kp, *vp;
		char val[80];
		unsigned f;
		uint8_t id[8];

		pos += n + (nl != NULL);
		line++;
		if (!trimmed(&l, &n) || l[0] == '#') {
			continue;
		}
		eq = memchr(l, '=', n);
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%u: expected NAME = VALUE", what, line);
			return -EINVAL;
		}
		kp = l;
		kn = (size_t)(eq - l);
		vp = eq + 1;
		vn = n - kn - 1;
		trimmed(&kp, &kn);
		trimmed(&vp, &vn);
		f = kn == 4 && memcmp(kp, "name", 4) == 0     ? F_NAME
		    : kn == 2 && memcmp(kp, "id", 2) == 0     ? F_ID
		    : kn == 4 && memcmp(kp, "caps", 4) == 0   ? F_CAPS
		    : kn == 6 && memcmp(kp, "secret", 6) == 0 ? F_SECRET
							      : 0;
		if (f == 0 || (seen & f)) {
			snprintf(err, errlen, "%s:%u: %s key '%.*s'", what, line,
				 f == 0 ? "unknown" : "repeated", (int)(kn > 32 ? 32 : kn), kp);
			return -EINVAL;
		}
		seen |= f;
		if (vn >= sizeof(val) || memchr(vp, '\0', vn) != NULL) {
			snprintf(err, errlen, "%s:%u: value too long", what, line);
			return -EINVAL;
		}
		memcpy(val, vp, vn);
		val[vn] = '\0';
		if (f == F_NAME && (vn >= KEY_NAME_MAX || key_check_name(val) != 0)) {
			snprintf(err, errlen, "%s:%u: invalid key name", what, line);
			return -EINVAL;
		}
		if (f == F_NAME) {
			memcpy(k->name, val, vn + 1);
		}
		if (f == F_ID) {
			if (unhex(val, vn, id, sizeof(id)) != 0) {
				snprintf(err, errlen, "%s:%u: id must be 16 hex digits", what,
					 line);
				return -EINVAL;
			}
			for (size_t i = 0; i < sizeof(id); i++) {
				k->id = k->id << 8 | id[i];
			}
			if (k->id == KEY_ID_NODE) {
				snprintf(err, errlen, "%s:%u: id 0 is reserved", what, line);
				return -EINVAL;
			}
		}
		if (f == F_CAPS && key_parse_caps(val, &k->caps, k->bucket) != 0) {
			snprintf(err, errlen, "%s:%u: caps must be admin, rw:BUCKET or ro:BUCKET",
				 what, line);
			return -EINVAL;
		}
		if (f == F_SECRET && unhex(val, vn, k->secret, KEY_SECRET_LEN) != 0) {
			snprintf(err, errlen, "%s:%u: secret must be %d hex digits", what, line,
				 2 * KEY_SECRET_LEN);
			return -EINVAL;
		}
	}
	if (seen != F_ALL) {
		static const char *const names[] = {"name", "id", "caps", "secret"};
		unsigned i = 0;

		while (seen & (1u << i)) {
			i++;
		}
		snprintf(err, errlen, "%s: no '%s' line: not an objfs key file", what, names[i]);
		return -EINVAL;
	}
	return 0;
}

int key_file_format(const struct key_ent *k, char *buf, size_t cap)
{
	char caps[96], hex[2 * KEY_SECRET_LEN + 1];
	int n;

	for (size_t i = 0; i < KEY_SECRET_LEN; i++) {
		snprintf(hex + 2 * i, 3, "%02x", k->secret[i]);
	}
	n = snprintf(buf, cap,
		     "# objfs client key: whoever reads this file has its rights; keep it "
		     "private\nname = %s\nid = %016llx\ncaps = %s\nsecret = %s\n",
		     k->name, (unsigned long long)k->id, key_caps_str(k, caps, sizeof(caps)), hex);
	memset(hex, 0, sizeof(hex));
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}
