/* metrics_proc.c: process metrics from /proc/self (metrics_proc.h).
 * A file that cannot be read leaves its metrics out of the scrape rather
 * than reporting a made-up zero. */
#include "metrics_proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct proc_coll {
	const char *program, *version;
	double start_time; /* wall clock at start, seconds since the epoch */
	int64_t start_mono_ns;
};

/* utime, stime (ticks), threads and vsize from /proc/self/stat; the
 * command name may hold spaces and parentheses, so fields are counted
 * from the last ')'. */
static int read_stat(double *cpu_s, long *threads, double *vsize)
{
	char buf[1024], *p;
	unsigned long ut, st, vs;
	long nt;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;

	if (f == NULL) {
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After ')': state(3) ... utime(14) stime(15) ... num_threads(20)
	 * itrealvalue(21) starttime(22) vsize(23). */
	if (p == NULL || sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d "
				"%*d %ld %*d %*u %lu",
				&ut, &st, &nt, &vs) != 4) {
		return -EIO;
	}
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	*threads = nt;
	*vsize = (double)vs;
	return 0;
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

static void collect(void *arg, struct mx_out *o)
{
	struct proc_coll *pc = arg;
	double cpu = 0, vsize = 0;
	long threads = 0, fds = open_fds(), rss_pages = 0;
	char lb[256];
	FILE *f;

	if (read_stat(&cpu, &threads, &vsize) == 0) {
		mx_out_family(o, "process_cpu_seconds_total",
			      "Total user and system CPU time spent in seconds.", MX_COUNTER);
		mx_out_sample(o, "process_cpu_seconds_total", NULL, cpu);
		mx_out_family(o, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
			      MX_GAUGE);
		mx_out_sample(o, "process_virtual_memory_bytes", NULL, vsize);
		mx_out_family(o, "objfs_process_threads", "Threads of the process.", MX_GAUGE);
		mx_out_sample(o, "objfs_process_threads", NULL, (double)threads);
	}
	f = fopen("/proc/self/statm", "r");
	if (f != NULL) {
		if (fscanf(f, "%*d %ld", &rss_pages) == 1) {
			mx_out_family(o, "process_resident_memory_bytes",
				      "Resident memory size in bytes.", MX_GAUGE);
			mx_out_sample(o, "process_resident_memory_bytes", NULL,
				      (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	if (fds >= 0) {
		mx_out_family(o, "process_open_fds", "Number of open file descriptors.", MX_GAUGE);
		mx_out_sample(o, "process_open_fds", NULL, (double)fds);
	}
	mx_out_family(o, "process_start_time_seconds",
		      "Start time of the process since unix epoch in seconds.", MX_GAUGE);
	mx_out_sample(o, "process_start_time_seconds", NULL, pc->start_time);
	mx_out_family(o, "objfs_process_uptime_seconds", "Seconds since the process started.",
		      MX_GAUGE);
	mx_out_sample(o, "objfs_process_uptime_seconds", NULL,
		      (double)(clock_mono_ns() - pc->start_mono_ns) / 1e9);
	mx_out_family(o, "objfs_build_info", "Always 1; the labels name the program and release.",
		      MX_GAUGE);
	snprintf(lb, sizeof(lb), "program=\"%s\",version=\"%s\"", pc->program, pc->version);
	mx_out_sample(o, "objfs_build_info", lb, 1);
}

int mx_add_process_collector(struct mx_registry *r, const char *program, const char *version)
{
	struct proc_coll *pc;
	struct timespec ts;
	int rc;

	if (r == NULL) {
		return 0;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL) {
		return -ENOMEM;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	pc->program = program;
	pc->version = version;
	pc->start_time = (double)ts.tv_sec;
	pc->start_mono_ns = clock_mono_ns();
	rc = mx_add_collector(r, collect, pc, free);
	if (rc != 0) {
		free(pc);
	}
	return rc;
}
