/* test_metrics.c: unit tests of the metrics registry (common/metrics.c)
 * and its HTTP endpoint (common/metrics_http.c): the exact exposition
 * text, histogram buckets at their bounds, concurrent observations all
 * counted, label escaping, registration mismatches refused, and a real
 * GET /metrics through nng's server and client, with a port in use. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/metrics.h"
#include "../../common/metrics_http.h"
#include "../../common/metrics_proc.h"
#include "../lib/testlib.h"

static const uint64_t small_le[] = {10, 100};
static const struct mx_buckets small = {2, small_le, 0.001};

static void coll(void *arg, struct mx_out *o)
{
	(void)arg;
	mx_out_family(o, "t_shard_term", "Raft term.", MX_GAUGE);
	mx_out_sample(o, "t_shard_term", "shard=\"a\"", 7);
	mx_out_sample(o, "t_shard_term", "shard=\"b\"", 0.25);
}

/* The text format, byte for byte: HELP/TYPE once per family, series in
 * registration order, cumulative buckets with le in base units, _sum and
 * _count, then the collectors' families. */
START_TEST(test_exposition_text)
{
	struct mx_registry *r = mx_create();
	struct mx_metric *c1, *c2, *g, *h, *hl;
	size_t len;
	char *t;

	c1 = mx_counter(r, "t_requests_total", "Requests.", "op=\"put\"");
	c2 = mx_counter(r, "t_requests_total", "Requests.", "op=\"get\"");
	g = mx_gauge(r, "t_dirty_bytes", "Dirty bytes.", NULL);
	h = mx_histogram(r, "t_duration_seconds", "Durations.", NULL, &small);
	hl = mx_histogram(r, "t_duration_seconds", "Durations.", "op=\"put\"", &small);
	ck_assert_ptr_nonnull(c1);
	ck_assert_ptr_nonnull(hl);
	ck_assert_ptr_eq(mx_counter(r, "t_requests_total", "Requests.", "op=\"put\""), c1);
	mx_add(c1, 3);
	mx_add(c2, 1);
	mx_set(g, 4096);
	mx_gauge_add(g, -96);
	mx_observe(h, 10);  /* on a bound: counts in le=0.01 */
	mx_observe(h, 11);  /* just above: le=0.1 */
	mx_observe(h, 500); /* +Inf */
	mx_observe(hl, 1);
	ck_assert_int_eq(mx_add_collector(r, coll, NULL, NULL), 0);
	t = mx_expose(r, &len);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(len, strlen(t));
	ck_assert_str_eq(t, "# HELP t_requests_total Requests.\n"
			    "# TYPE t_requests_total counter\n"
			    "t_requests_total{op=\"put\"} 3\n"
			    "t_requests_total{op=\"get\"} 1\n"
			    "# HELP t_dirty_bytes Dirty bytes.\n"
			    "# TYPE t_dirty_bytes gauge\n"
			    "t_dirty_bytes 4000\n"
			    "# HELP t_duration_seconds Durations.\n"
			    "# TYPE t_duration_seconds histogram\n"
			    "t_duration_seconds_bucket{le=\"0.01\"} 1\n"
			    "t_duration_seconds_bucket{le=\"0.1\"} 2\n"
			    "t_duration_seconds_bucket{le=\"+Inf\"} 3\n"
			    "t_duration_seconds_sum 0.521\n"
			    "t_duration_seconds_count 3\n"
			    "t_duration_seconds_bucket{op=\"put\",le=\"0.01\"} 1\n"
			    "t_duration_seconds_bucket{op=\"put\",le=\"0.1\"} 1\n"
			    "t_duration_seconds_bucket{op=\"put\",le=\"+Inf\"} 1\n"
			    "t_duration_seconds_sum{op=\"put\"} 0.001\n"
			    "t_duration_seconds_count{op=\"put\"} 1\n"
			    "# HELP t_shard_term Raft term.\n"
			    "# TYPE t_shard_term gauge\n"
			    "t_shard_term{shard=\"a\"} 7\n"
			    "t_shard_term{shard=\"b\"} 0.25\n");
	free(t);
	mx_destroy(r);
}
END_TEST

/* The standard latency buckets put a value on a bound in that bound's
 * bucket and expose 50 us as 5e-05 (the form Prometheus' clients use). */
START_TEST(test_latency_buckets)
{
	struct mx_registry *r = mx_create();
	struct mx_metric *h = mx_histogram(r, "t_lat_seconds", "L.", NULL, &mx_buckets_latency);
	size_t len;
	char *t;

	mx_observe(h, 50000);
	mx_observe(h, 10000000001ull);
	t = mx_expose(r, &len);
	ck_assert_ptr_nonnull(strstr(t, "t_lat_seconds_bucket{le=\"5e-05\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "t_lat_seconds_bucket{le=\"10\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "t_lat_seconds_bucket{le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "t_lat_seconds_count 2\n"));
	ck_assert(mx_value(h) == 2);
	free(t);
	mx_destroy(r);
}
END_TEST

/* A name keeps its type, help and buckets; NULL registry and series are
 * no-ops (metrics off). */
START_TEST(test_mismatch_and_null)
{
	struct mx_registry *r = mx_create();
	size_t len;
	char *t;

	ck_assert_ptr_nonnull(mx_counter(r, "t_x", "X.", NULL));
	ck_assert_ptr_null(mx_gauge(r, "t_x", "X.", "a=\"1\""));
	ck_assert_ptr_null(mx_counter(r, "t_x", "Other help.", "a=\"1\""));
	ck_assert_ptr_null(mx_histogram(r, "t_x", "X.", NULL, &small));
	ck_assert_ptr_null(mx_counter(NULL, "t_y", "Y.", NULL));
	mx_add(NULL, 1);
	mx_set(NULL, 1);
	mx_observe(NULL, 1);
	t = mx_expose(NULL, &len);
	ck_assert_str_eq(t, "");
	free(t);
	mx_destroy(r);
}
END_TEST

/* Label values are escaped as the text format requires. */
START_TEST(test_label_escape)
{
	char b[64];

	ck_assert_str_eq(mx_label(b, sizeof(b), "shard", "a\"b\\c\nd"),
			 "shard=\"a\\\"b\\\\c\\nd\"");
	ck_assert_str_eq(mx_label(b, sizeof(b), "op", "frag_put"), "op=\"frag_put\"");
}
END_TEST

/* Error counters by errno: one series per errno seen, named as the
 * text format shows them; project codes by their own names; a code out
 * of range lands in "other". */
START_TEST(test_error_table)
{
	struct mx_registry *r = mx_create();
	struct mx_errtab t = {.r = r, .name = "t_errors_total", .help = "E."};
	size_t len;
	char *x;

	snprintf(t.op, sizeof(t.op), "op=\"lookup\"");
	mx_count_error(&t, -ENOENT);
	mx_count_error(&t, ENOENT);
	mx_count_error(&t, -EIO);
	mx_count_error(&t, -OBJ_ECHECKSUM);
	mx_count_error(&t, -99999);
	mx_count_error(NULL, -EIO);
	x = mx_expose(r, &len);
	ck_assert_str_eq(x, "# HELP t_errors_total E.\n# TYPE t_errors_total counter\n"
			    "t_errors_total{op=\"lookup\",errno=\"ENOENT\"} 2\n"
			    "t_errors_total{op=\"lookup\",errno=\"EIO\"} 1\n"
			    "t_errors_total{op=\"lookup\",errno=\"ECHECKSUM\"} 1\n"
			    "t_errors_total{op=\"lookup\",errno=\"other\"} 1\n");
	free(x);
	mx_destroy(r);
}
END_TEST

/* The process collector reports this process: its build info, CPU,
 * memory, descriptors and threads, in Prometheus' standard names. */
START_TEST(test_process)
{
	struct mx_registry *r = mx_create();
	size_t len;
	char *x;

	ck_assert_int_eq(mx_add_process_collector(r, "t", "1.2"), 0);
	x = mx_expose(r, &len);
	ck_assert_ptr_nonnull(strstr(x, "\nobjfs_build_info{program=\"t\",version=\"1.2\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(x, "# TYPE process_cpu_seconds_total counter\n"));
	ck_assert_ptr_nonnull(strstr(x, "\nprocess_resident_memory_bytes "));
	ck_assert_ptr_nonnull(strstr(x, "\nprocess_open_fds "));
	ck_assert_ptr_nonnull(strstr(x, "\nobjfs_process_threads "));
	ck_assert_ptr_nonnull(strstr(x, "\nobjfs_process_uptime_seconds "));
	free(x);
	mx_destroy(r); /* frees the collector's state (ASan checks) */
}
END_TEST

#define THREADS 4
#define PER_THREAD 100000

static void *hammer(void *arg)
{
	struct mx_metric **m = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		mx_add(m[0], 1);
		mx_observe(m[1], (uint64_t)i);
	}
	return NULL;
}

/* Observations from several threads at once are all counted. */
START_TEST(test_concurrent)
{
	struct mx_registry *r = mx_create();
	struct mx_metric *m[2] = {
	    mx_counter(r, "t_c_total", "C.", NULL),
	    mx_histogram(r, "t_h_seconds", "H.", NULL, &mx_buckets_latency),
	};
	pthread_t th[THREADS];

	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, m), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	ck_assert(mx_value(m[0]) == THREADS * PER_THREAD);
	ck_assert(mx_value(m[1]) == THREADS * PER_THREAD);
	mx_destroy(r);
}
END_TEST

/* GET /metrics through nng's HTTP server and client returns the text;
 * a second server on the same port is refused with a clear message; a
 * bad address and a closed port are errors, not hangs. */
START_TEST(test_http)
{
	struct mx_registry *r = mx_create();
	struct mx_http *h = NULL, *h2 = NULL;
	char addr[64], err[256], *body = NULL;
	size_t len = 0;
	int port = tl_free_port();

	mx_add(mx_counter(r, "t_http_total", "H.", NULL), 42);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	ck_assert_int_eq(mx_http_start(r, addr, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(mx_http_get(addr, 5000, &body, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(body, "# HELP t_http_total H.\n# TYPE t_http_total counter\n"
			       "t_http_total 42\n");
	ck_assert_uint_eq(len, strlen(body));
	free(body);

	/* A port another socket holds (as another process would): refused
	 * with a message naming the address.  (nng shares one server per URL
	 * inside a process, so the holder is a plain socket.) */
	{
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET};
		int p2 = tl_free_port();
		char a2[64], want[128];

		sa.sin_port = htons((uint16_t)p2);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(listen(fd, 1), 0);
		snprintf(a2, sizeof(a2), "127.0.0.1:%d", p2);
		ck_assert_int_eq(mx_http_start(r, a2, &h2, err, sizeof(err)), -EADDRINUSE);
		snprintf(want, sizeof(want), "metrics address %s: address already in use", a2);
		ck_assert_str_eq(err, want);
		close(fd);
	}
	ck_assert_int_eq(mx_http_start(r, "127.0.0.1", &h2, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "metrics address '127.0.0.1' is not HOST:PORT");
	mx_http_stop(h);
	ck_assert_int_eq(mx_http_get(addr, 2000, &body, &len, err, sizeof(err)), -ECONNREFUSED);
	mx_destroy(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exposition_text);
	tcase_add_test(tc, test_latency_buckets);
	tcase_add_test(tc, test_mismatch_and_null);
	tcase_add_test(tc, test_label_escape);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_error_table);
	tcase_add_test(tc, test_process);
	tcase_add_test(tc, test_http);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
