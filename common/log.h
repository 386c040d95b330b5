/* log.h: leveled logging for every objfs program.
 * Owns the level threshold and the sink; never allocates on the logging
 * path and never formats a message whose level is filtered out.  Safe to
 * call from any thread (the default sink writes one line per call). */
#ifndef OBJFS_LOG_H
#define OBJFS_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* A sink receives one fully formatted line (no trailing newline). */
typedef void (*log_sink_fn)(enum log_level lvl, const char *id, const char *line, void *arg);

extern enum log_level log_threshold;

void log_set_level(enum log_level lvl);
/* Parses "debug", "info", "warn", "error"; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
/* Sets the program name printed in each line of the default sink. */
void log_set_ident(const char *ident);
/* Replaces the sink (NULL restores the default stderr sink). */
void log_set_sink(log_sink_fn fn, void *arg);

/* id is a stable identifier such as "frag.checksum" so that operators and
 * tests can match a warning without parsing its text. */
void log_msg(enum log_level lvl, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level lvl, const char *id, const char *fmt, va_list ap);

#define LOG_AT(lvl, id, ...)                                                                       \
	do {                                                                                       \
		if ((lvl) >= log_threshold) {                                                      \
			log_msg((lvl), (id), __VA_ARGS__);                                         \
		}                                                                                  \
	} while (0)
#define log_debug(id, ...) LOG_AT(LOG_LVL_DEBUG, id, __VA_ARGS__)
#define log_info(id, ...) LOG_AT(LOG_LVL_INFO, id, __VA_ARGS__)
#define log_warn(id, ...) LOG_AT(LOG_LVL_WARN, id, __VA_ARGS__)
#define log_error(id, ...) LOG_AT(LOG_LVL_ERROR, id, __VA_ARGS__)

#endif
