/* ctl_compress.c: `objfsctl bucket info`: a bucket's codec for new blocks
 * and what compression saved on the blocks it holds (META_BLOCK_STATS).
 * Reads only; `bucket create/set --compress` are in ctl_obj.c. */
#include <stdio.h>

#include "../common/compress.h"
#include "../common/object.h"
#include "ctl.h"
#include "json.h"

int ctl_bucket_info(struct objc *oc, const char *bucket, int json)
{
	struct mc_block_stats st;
	char a[32], b[32];
	double ratio;
	int rc = bucket_block_stats(oc, bucket, &st);

	if (rc != 0) {
		return rc;
	}
	/* Stored over written: 1 for raw blocks, 0.25 for 4:1. */
	ratio = st.bytes > 0 ? (double)st.stored / (double)st.bytes : 1.0;
	if (json) {
		struct jw jw;

		jw_init(&jw, stdout, 1);
		jw_obj(&jw, NULL);
		jw_str(&jw, "bucket", bucket);
		jw_str(&jw, "compress", cz_name(st.codec));
		jw_u64(&jw, "blocks", st.blocks);
		jw_u64(&jw, "compressed_blocks", st.compressed);
		jw_u64(&jw, "logical_bytes", st.bytes);
		jw_u64(&jw, "stored_bytes", st.stored);
		jw_num(&jw, "ratio", ratio);
		jw_finish(&jw);
		return 0;
	}
	printf("bucket    %s\n", bucket);
	printf("compress  %s\n", cz_name(st.codec));
	printf("blocks    %llu (%llu compressed)\n", (unsigned long long)st.blocks,
	       (unsigned long long)st.compressed);
	printf("bytes     %s written, %s stored (ratio %.3f)\n", ctl_human(st.bytes, a, sizeof(a)),
	       ctl_human(st.stored, b, sizeof(b)), ratio);
	return 0;
}
