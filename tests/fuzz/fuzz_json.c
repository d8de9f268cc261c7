/*
 * Fuzzes pl_json_parse and pl_json_write (core/json.c): whatever parses must write out as JSON
 * that parses again and writes identically. The first 8 bytes, read as a double, must format
 * within the documented 32 bytes and read back as the same number.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= sizeof(double)) {
		double d;
		memcpy(&d, data, sizeof d);
		char num[64];
		memset(num, 0, sizeof num);
		size_t n = pl_json_format_number(d, num);
		CHECK(n < 32 && n == strlen(num));
		if (isfinite(d))
			CHECK(strtod(num, NULL) == d || (d == 0 && strcmp(num, "0") == 0));
		else
			CHECK(strcmp(num, "null") == 0);
	}

	char *text = malloc(size ? size : 1);
	CHECK(text);
	if (size)
		memcpy(text, data, size);
	json_t *v = pl_json_parse(text, size);
	free(text);
	if (!v)
		return 0;
	struct pl_sbuf a = {0}, b = {0};
	CHECK(pl_json_write(&a, v) == 0);
	json_decref(v);
	json_t *w = pl_json_parse(a.data, a.len);
	CHECK(w);
	CHECK(pl_json_write(&b, w) == 0);
	json_decref(w);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	pl_sbuf_close(&a);
	pl_sbuf_close(&b);
	return 0;
}
