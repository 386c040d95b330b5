/* log.c: the level threshold, the line format and the swappable sink.
 * Never allocates and never formats a filtered message; any thread may log.
 * The default sink hands each line to one write(2) so threads never interleave. */
#include "log.h"

#include "err.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Longest line, prefix included; longer messages are cut.  2 KiB holds any
 * sane message yet is cheap to keep on the stack of every thread. */
#define LOG_LINE_MAX 2048

/* The macros read this without a lock: a stale level for one message is
 * harmless, and a lock would cost every filtered debug call. */
enum log_level log_threshold = LOG_LVL_INFO;

static const char *const log_level_names[] = {
    [LOG_LVL_DEBUG] = "DEBUG",
    [LOG_LVL_INFO] = "INFO",
    [LOG_LVL_WARN] = "WARN",
    [LOG_LVL_ERROR] = "ERROR",
};

static char log_ident[64];

/* The lock makes log_set_sink a barrier: once it returns, no thread is still
 * inside the old sink, so a test may free what it passed as arg.  Sinks run
 * under the read lock and so must neither log nor swap the sink. */
static pthread_rwlock_t log_sink_lock = PTHREAD_RWLOCK_INITIALIZER;
static log_sink_fn log_sink; /* NULL: the default stderr sink */
static void *log_sink_arg;

void log_set_level(enum log_level lvl)
{
	if (lvl > LOG_LVL_ERROR) {
		lvl = LOG_LVL_ERROR;
	}
	__atomic_store_n(&log_threshold, lvl, __ATOMIC_RELAXED);
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < OBJ_ARRAY_LEN(log_level_names); i++) {
		if (strcasecmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Called once at start-up, before other threads log. */
void log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident != NULL ? ident : "");
}

void log_set_sink(log_sink_fn fn, void *arg)
{
	pthread_rwlock_wrlock(&log_sink_lock);
	log_sink = fn;
	log_sink_arg = fn != NULL ? arg : NULL;
	pthread_rwlock_unlock(&log_sink_lock);
}

/* Writes "2026-11-28T03:05:54.123Z " into buf (at least 32 bytes). */
static size_t log_format_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, len - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return n;
}

/* A message is one line: control characters from file names or peer input
 * must not forge a second line or move the terminal's cursor. */
static void log_sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
			s[i] = '?';
		}
	}
}

static void log_write_stderr(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, buf, len);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return; /* nowhere left to report a logging failure */
		}
		buf += w;
		len -= (size_t)w;
	}
}

void log_vmsg(enum log_level lvl, const char *id, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 1]; /* + the default sink's newline */
	const char *ident = log_ident[0] != '\0' ? log_ident : program_invocation_short_name;
	int saved_errno = errno; /* callers log and then inspect errno */
	size_t n, text;
	int w;

	if (lvl < __atomic_load_n(&log_threshold, __ATOMIC_RELAXED)) {
		return;
	}
	if (lvl > LOG_LVL_ERROR) {
		lvl = LOG_LVL_ERROR;
	}
	if (id == NULL) {
		id = "-";
	}
	n = log_format_time(line, LOG_LINE_MAX);
	w = snprintf(line + n, LOG_LINE_MAX - n, "%s[%ld] %s %s: ", ident, (long)getpid(),
		     log_level_names[lvl], id);
	n += (size_t)w;
	if (n >= LOG_LINE_MAX) {
		n = LOG_LINE_MAX - 1; /* absurd ident or id: the text is lost, not the line */
	}
	text = n;
	w = vsnprintf(line + n, LOG_LINE_MAX - n, fmt, ap);
	if (w > 0) {
		n += (size_t)w;
	}
	if (n >= LOG_LINE_MAX) {
		n = LOG_LINE_MAX - 1;
	}
	log_sanitize(line + text, n - text);

	pthread_rwlock_rdlock(&log_sink_lock);
	if (log_sink != NULL) {
		line[n] = '\0';
		log_sink(lvl, id, line, log_sink_arg);
	} else {
		line[n] = '\n';
		log_write_stderr(line, n + 1);
	}
	pthread_rwlock_unlock(&log_sink_lock);
	errno = saved_errno;
}

void log_msg(enum log_level lvl, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, id, fmt, ap);
	va_end(ap);
}
