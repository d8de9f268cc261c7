/*
 * Leveled logging to stderr. Lines carry a UTC timestamp with milliseconds and the level.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum pl_log_level current = PL_LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void pl_log_set_level(enum pl_log_level level)
{
	current = level;
}

int pl_log_parse_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

int pl_log_enabled(enum pl_log_level level)
{
	return level <= current;
}

/*
 * Copies text to out with control characters escaped (\n, \r, \t, \xHH, and \\ for the
 * backslash), so that names and messages from clients cannot forge or break log lines.
 */
static void escape(char *out, size_t size, const char *text)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p && o + 5 < size; p++) {
		unsigned char c = *p;
		if (c >= 0x20 && c != 0x7f && c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		const char *short_form = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
					: c == '\\' ? "\\\\" : NULL;
		if (short_form)
			o += (size_t)snprintf(out + o, size - o, "%s", short_form);
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

void pl_log(enum pl_log_level level, const char *fmt, ...)
{
	if (level > current)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char line[1024];
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(tv.tv_usec / 1000), names[level]);
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	escape(line + n, sizeof line - (size_t)n, text);
	fprintf(stderr, "%s\n", line);
}

bool pl_log_due(uint64_t *last, uint64_t now_ms)
{
	if (*last && now_ms - *last < 1000)
		return false;
	*last = now_ms ? now_ms : 1;
	return true;
}
