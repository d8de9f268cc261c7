/*
 * Tests for core/json.c: parsing and writing must give exactly what JavaScript's
 * JSON.stringify(JSON.parse(text)) gives. Every expected string below was printed by node.
 */
#include "json.h"

#include <math.h>
#include <stdint.h>

#include "test.h"

/* Parses text, writes it back and compares with the expected bytes. */
static void check_round_trip(const char *text, const char *want)
{
	json_t *v = pl_json_parse(text, strlen(text));
	if (!v) {
		test_fail_head(__FILE__, __LINE__, "pl_json_parse");
		fputs(": rejected ", stderr);
		test_print_bytes(text, strlen(text));
		fputc('\n', stderr);
		return;
	}
	struct pl_sbuf b = {0};
	int rc = pl_json_write(&b, v);
	json_decref(v);
	if (rc == 0)
		test_check_mem(__FILE__, __LINE__, "round trip", b.data, b.len, want, strlen(want));
	else
		test_fail_head(__FILE__, __LINE__, "pl_json_write");
	if (test_failed) {
		fputs("  input: ", stderr);
		test_print_bytes(text, strlen(text));
		fputc('\n', stderr);
	}
	pl_sbuf_close(&b);
}

static void test_round_trips(void)
{
	static const char *const cases[][2] = {
	    {"[0.1,1e21,12345678901234567890,-0,1.5e-7,5e-324,1.7976931348623157e308,"
	     "123456789012,0.000001,1e-7,100,1.5,-2.5e-10]",
	     "[0.1,1e+21,12345678901234567000,0,1.5e-7,5e-324,1.7976931348623157e+308,"
	     "123456789012,0.000001,1e-7,100,1.5,-2.5e-10]"},
	    {"[0.30000000000000004,1e+21,999999999999999999999,1e20,123e18,0.0000015,-1E-7,"
	     "2e-323,4.9e-324,1.5E+300,9007199254740993,-9007199254740992]",
	     "[0.30000000000000004,1e+21,1e+21,100000000000000000000,123000000000000000000,"
	     "0.0000015,-1e-7,2e-323,5e-324,1.5e+300,9007199254740992,-9007199254740992]"},
	    {"[0,-0.0,0e10,1.0,100.50,1e0,1e1,1e-0,5e-1,2.5e-6,1234.5678,"
	     "-1.7976931348623157e308,2.2250738585072014e-308,2.225073858507201e-308]",
	     "[0,0,0,1,100.5,1,10,1,0.5,0.0000025,1234.5678,-1.7976931348623157e+308,"
	     "2.2250738585072014e-308,2.225073858507201e-308]"},
	    {"-1.25e-5", "-0.0000125"},
	    {"42", "42"},
	    /* nested objects keep their key order; a repeated key keeps its first place */
	    {"{\"b\":1,\"a\":{\"z\":[],\"y\":{},\"x\":[{\"k\":null,\"j\":true,\"i\":false}]},"
	     "\"c\":\"s\"}",
	     "{\"b\":1,\"a\":{\"z\":[],\"y\":{},\"x\":[{\"k\":null,\"j\":true,\"i\":false}]},"
	     "\"c\":\"s\"}"},
	    {"{\"a\":1,\"a\":2,\"b\":3}", "{\"a\":2,\"b\":3}"},
	    /* array-index keys come first, ascending, as JavaScript orders properties */
	    {"{\"b\":1,\"2\":2,\"1\":3,\"01\":4,\"4294967295\":5,\"4294967294\":6,\"-1\":7,"
	     "\"10\":8}",
	     "{\"1\":3,\"2\":2,\"10\":8,\"4294967294\":6,\"b\":1,\"01\":4,\"4294967295\":5,"
	     "\"-1\":7}"},
	    {"[ 1 , [ 2 , { \"a\" : 3 } ] , \"x\" ]\n", "[1,[2,{\"a\":3}],\"x\"]"},
	    {"true", "true"},
	    {"null", "null"},
	    {"[]", "[]"},
	    {"{}", "{}"},
	    {"\"\"", "\"\""},
	    /* only the mandatory escapes: control characters, '"' and '\'; lowercase hex; DEL,
	     * U+0080, U+2028, U+2029 and the BOM come out raw */
	    {"\"\\u0001\\u001f "
	     "\\n\\r\\t\\b\\f\\\"\\\\\\/\\u007f\\u0080\\u00e9\\u2028\\u2029\\uFEFF\"",
	     "\"\\u0001\\u001f \\n\\r\\t\\b\\f\\\"\\\\/\177\302\200\303\251\342\200\250\342\200\251"
	     "\357\273\277\""},
	    {"\"\\u0000a\\u0000\"", "\"\\u0000a\\u0000\""},
	    {"\"\\u000B\\u000c\\u001F\"", "\"\\u000b\\f\\u001f\""},
	    /* surrogate pairs become raw UTF-8; raw UTF-8 stays as it is */
	    {"\"\\ud83d\\ude00 \303\251 \346\227\245\346\234\254\"",
	     "\"\360\237\230\200 \303\251 \346\227\245\346\234\254\""},
	    {"\"\342\200\250 raw \303\251 \360\237\230\200\"",
	     "\"\342\200\250 raw \303\251 \360\237\230\200\""},
	    {"{\"\\u00e9\\n\":\"\\t\"}", "{\"\303\251\\n\":\"\\t\"}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_round_trip(cases[i][0], cases[i][1]);
		if (test_failed)
			return;
	}
}

/*
 * Powers of two have an asymmetric rounding interval: the shortest digits that read back may lie
 * above the value while the nearest ones of that length do not read back. node prints these.
 */
static void test_round_trip_powers_of_two(void)
{
	check_round_trip("[7.120236347223045e-307,6.189700196426902e+26,5.316911983139664e+36,"
			 "7.174648137343064e-43,5.075883674631299e-116]",
			 "[7.120236347223045e-307,6.189700196426902e+26,5.316911983139664e+36,"
			 "7.174648137343064e-43,5.075883674631299e-116]");
}

static void check_number(double d, const char *want)
{
	char out[64];
	memset(out, 'X', sizeof out);
	size_t n = pl_json_format_number(d, out);
	ASSERT_EQ(n, strlen(want));
	ASSERT_STR_EQ(out, want);
}

static void test_format_number(void)
{
	static const struct {
		double d;
		const char *want;
	} cases[] = {
	    {0.0, "0"},
	    {-0.0, "0"},
	    {1.0, "1"},
	    {-1.0, "-1"},
	    {0.1, "0.1"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {1e21, "1e+21"},
	    {1e20, "100000000000000000000"},
	    {999999999999999868928.0, "999999999999999900000"},
	    {1.5e-7, "1.5e-7"},
	    {1e-7, "1e-7"},
	    {0.000001, "0.000001"},
	    {0.0000015, "0.0000015"},
	    {123456789012.0, "123456789012"},
	    {5e-324, "5e-324"},
	    {-5e-324, "-5e-324"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	    {9007199254740992.0, "9007199254740992"},
	    {12345678901234567890.0, "12345678901234567000"},
	    {1.5, "1.5"},
	    {-2.5e-10, "-2.5e-10"},
	    {123.456, "123.456"},
	    {1e100, "1e+100"},
	    {1.25e-300, "1.25e-300"},
	    {4294967296.0, "4294967296"},
	    {NAN, "null"},
	    {INFINITY, "null"},
	    {-INFINITY, "null"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_number(cases[i].d, cases[i].want);
		if (test_failed) {
			fprintf(stderr, "  (case %zu)\n", i);
			return;
		}
	}
}

/* True when some decimal with `digits` significant digits reads back as d. */
static bool shorter_exists(double d, int digits)
{
	if (digits < 1)
		return false;
	char buf[64];
	snprintf(buf, sizeof buf, "%.*e", digits - 1, d);
	if (strtod(buf, NULL) == d)
		return true;
	/* the nearest candidate failed: try one unit up and down in the last digit */
	char *e = strchr(buf, 'e');
	for (int step = -1; step <= 1; step += 2) {
		char m[64];
		memcpy(m, buf, (size_t)(e - buf));
		m[e - buf] = '\0';
		double mant = strtod(m, NULL);
		double unit = 1;
		for (int i = 1; i < digits; i++)
			unit /= 10;
		char cand[64];
		snprintf(cand, sizeof cand, "%.*f%s", digits - 1, mant + step * unit, e);
		if (strtod(cand, NULL) == d)
			return true;
	}
	return false;
}

/* Counts the significant digits of a formatted number. */
static int significant_digits(const char *s)
{
	int n = 0, lead = 1, zeros = 0;
	for (; *s && *s != 'e'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (lead && *s == '0')
			continue;
		lead = 0;
		if (*s == '0') {
			zeros++;
		} else {
			n += zeros + 1;
			zeros = 0;
		}
	}
	return n;
}

/* Checks that out reads back as d and that no shorter digit string does. */
static bool check_shortest(double d)
{
	char out[64];
	pl_json_format_number(d, out);
	if (strtod(out, NULL) != d || shorter_exists(d, significant_digits(out) - 1)) {
		test_fail_head(__FILE__, __LINE__, "shortest round trip");
		fprintf(stderr, ": %a printed as %s\n", d, out);
		return false;
	}
	return true;
}

static void test_format_random(void)
{
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double d;
		memcpy(&d, &x, sizeof d);
		if (!isfinite(d))
			continue;
		if (!check_shortest(d))
			return;
	}
	/* short decimals such as prices and coordinates */
	for (int i = -2000; i <= 2000; i++) {
		if (!check_shortest(i / 100.0) || !check_shortest(i * 1e-9) ||
		    !check_shortest(i * 1e15))
			return;
	}
}

static void test_format_powers_of_two(void)
{
	for (int e = -1074; e <= 1023; e++)
		if (!check_shortest(ldexp(1.0, e)))
			return;
}

/* Numbers that jansson holds as integers (built by the server, not parsed) print the same way. */
static void test_write_built_values(void)
{
	json_t *v = json_pack("{s:I,s:I,s:I,s:f,s:s%,s:[b,n]}", "int", (json_int_t)42, "big",
			      (json_int_t)9007199254740993LL, "neg", (json_int_t)-7, "real", 0.5,
			      "nul", "a\0b", (size_t)3, "arr", 1);
	ASSERT_NOT_NULL(v);
	struct pl_sbuf b = {0};
	ASSERT_EQ(pl_json_write(&b, v), 0);
	json_decref(v);
	ASSERT_STR_EQ(b.data, "{\"int\":42,\"big\":9007199254740992,\"neg\":-7,\"real\":0.5,"
			      "\"nul\":\"a\\u0000b\",\"arr\":[true,null]}");
	pl_sbuf_close(&b);
}

static void test_parse_values(void)
{
	json_t *v = pl_json_parse("12345678901234567890", 20);
	ASSERT_NOT_NULL(v);
	ASSERT(json_is_real(v)); /* every number is a double, as in JavaScript */
	ASSERT(json_real_value(v) == 12345678901234567890.0);
	json_decref(v);

	v = pl_json_parse("7", 1);
	ASSERT_NOT_NULL(v);
	ASSERT(json_is_real(v));
	json_decref(v);

	v = pl_json_parse("-0", 2);
	ASSERT_NOT_NULL(v);
	ASSERT(json_real_value(v) == 0 && signbit(json_real_value(v)));
	json_decref(v);

	/* exactly len bytes are read */
	v = pl_json_parse("[1]garbage", 3);
	ASSERT_NOT_NULL(v);
	ASSERT_EQ(json_array_size(v), 1);
	json_decref(v);

	/* NUL inside a string is kept */
	v = pl_json_parse("\"a\\u0000b\"", 10);
	ASSERT_NOT_NULL(v);
	ASSERT_EQ(json_string_length(v), 3);
	ASSERT_MEM_LIT(json_string_value(v), 3, "a\0b");
	json_decref(v);
}

static void test_parse_malformed(void)
{
	static const char *const bad[] = {
	    "",         " ",         "[",           "]",
	    "[1,]",     "[1 2]",     "{\"a\"}",     "{\"a\":}",
	    "{a:1}",    "{'a':1}",   "{\"a\":1,}",  "01",
	    "1.",       ".5",        "+1",          "-",
	    "1e",       "1e+",       "0x10",        "NaN",
	    "Infinity", "-Infinity", "undefined",   "tru",
	    "nul",      "[1]x",      "[1][2]",      "\"abc",
	    "\"\\x\"",  "\"\\u12\"", "\"\\u12G4\"", "\"a\nb\"",
	    "\"\t\"",   "\"\\\"",    "\"\377\"",    "\"\300\200\"",
	    "'a'",      "/*c*/1",    "[1]//",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *v = pl_json_parse(bad[i], strlen(bad[i]));
		if (v) {
			json_decref(v);
			test_fail_head(__FILE__, __LINE__, "malformed JSON accepted");
			fputs(": ", stderr);
			test_print_bytes(bad[i], strlen(bad[i]));
			fputc('\n', stderr);
			return;
		}
	}
	/* a NUL byte before the end of the text */
	ASSERT_NULL(pl_json_parse("[1]\0", 4));
	ASSERT_NULL(pl_json_parse("[\0]", 3));
}

/*
 * JavaScript accepts escaped lone surrogates (JSON.parse('"\ud83d"') is a one-unit string), and
 * JSON.stringify itself produces them for a string cut in the middle of an emoji, so a browser
 * client can send one. Rejecting the whole packet disconnects that client.
 */
static void test_parse_lone_surrogate(void)
{
	const char *texts[] = {"[\"hi \\ud83d\"]", "\"\\udc00\"", "\"\\ud800x\"",
			       "\"\\ud83d\\ud83d\\ude00\""};
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		json_t *v = pl_json_parse(texts[i], strlen(texts[i]));
		if (!v) {
			test_fail_head(__FILE__, __LINE__, "lone surrogate rejected");
			fputs(": ", stderr);
			test_print_bytes(texts[i], strlen(texts[i]));
			fputc('\n', stderr);
			return;
		}
		json_decref(v);
	}
}

static void test_deep_nesting(void)
{
	static char text[200002];
	/* 500 levels parse and write back unchanged */
	memset(text, '[', 500);
	memset(text + 500, ']', 500);
	json_t *v = pl_json_parse(text, 1000);
	ASSERT_NOT_NULL(v);
	struct pl_sbuf b = {0};
	ASSERT_EQ(pl_json_write(&b, v), 0);
	json_decref(v);
	ASSERT_MEM_EQ(b.data, b.len, text, 1000);
	pl_sbuf_close(&b);
	/* 100000 levels are refused, not a stack overflow */
	memset(text, '[', 100000);
	memset(text + 100000, ']', 100000);
	ASSERT_NULL(pl_json_parse(text, 200000));
}

TEST_MAIN(TEST(test_round_trips), TEST(test_round_trip_powers_of_two), TEST(test_format_number),
	  TEST(test_format_random), TEST(test_format_powers_of_two), TEST(test_write_built_values),
	  TEST(test_parse_values), TEST(test_parse_malformed), TEST(test_parse_lone_surrogate),
	  TEST(test_deep_nesting))
