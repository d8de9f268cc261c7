/*
 * Leveled logging to stderr: one line per connection event or error, nothing per message at the
 * default level. The level is set once from the configuration.
 */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum pl_log_level { PL_LOG_ERROR, PL_LOG_WARN, PL_LOG_INFO, PL_LOG_DEBUG };

/* Sets the most verbose level that is printed. */
void pl_log_set_level(enum pl_log_level level);

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int pl_log_parse_level(const char *name);

/* True when messages of this level are printed (to skip building costly arguments). */
int pl_log_enabled(enum pl_log_level level);

/* Prints one line with a timestamp and the level name. */
void pl_log(enum pl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * True at most once a second for the same *last (ms of the last true, 0 at first): for a line
 * that a flood would repeat ("refusing a session from ..."), which then stays one line a second.
 */
bool pl_log_due(uint64_t *last, uint64_t now_ms);

#define pl_error(...) pl_log(PL_LOG_ERROR, __VA_ARGS__)
#define pl_warn(...) pl_log(PL_LOG_WARN, __VA_ARGS__)
#define pl_info(...) pl_log(PL_LOG_INFO, __VA_ARGS__)
#define pl_debug(...) \
	do { \
		if (pl_log_enabled(PL_LOG_DEBUG)) \
			pl_log(PL_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
