/*
 * A tiny unit-test runner, after libuv's test/ and h2o's t/00unit/. Each test executable includes
 * this header once, writes `static void test_name(void)` functions using the ASSERT macros, and
 * ends with
 *
 *	TEST_MAIN(TEST(test_a), TEST(test_b))
 *
 * A failed assertion prints "file:line: expression" with both values and returns from the current
 * test; the runner then goes on with the next one and finally prints "N passed, N failed". The
 * exit status is 0 only when every test passed. `./test_x name...` runs only the named tests.
 */
#ifndef PL_TEST_H
#define PL_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name; /* the function's name, as given to TEST() */
	void (*fn)(void); /* the test body */
};

#define TEST(fn)                                                                                   \
	{                                                                                          \
#fn, fn                                                                            \
	}

static bool test_failed; /* set by a failing assertion in the current test */

/* Prints n bytes with C escapes for anything outside printable ASCII, quoted. */
static inline void test_print_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	if (!s) {
		fputs("NULL", stderr);
		return;
	}
	fputc('"', stderr);
	for (size_t i = 0; i < n && i < 400; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(stderr, "\\%c", s[i]);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fputc('"', stderr);
	if (n > 400)
		fprintf(stderr, "... (%zu bytes)", n);
}

static inline void test_fail_head(const char *file, int line, const char *what)
{
	test_failed = true;
	fprintf(stderr, "%s:%d: %s failed", file, line, what);
}

static inline bool test_check_mem(const char *file, int line, const char *what, const void *a,
				  size_t alen, const void *b, size_t blen)
{
	if (a && b && alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
		return true;
	test_fail_head(file, line, what);
	fputs("\n  got:      ", stderr);
	test_print_bytes(a, alen);
	fputs("\n  expected: ", stderr);
	test_print_bytes(b, blen);
	fputc('\n', stderr);
	return false;
}

/* Fails the current test unless cond holds. */
#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			test_fail_head(__FILE__, __LINE__, "ASSERT(" #cond ")");                   \
			fputc('\n', stderr);                                                       \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Compares two integers (as long long) and prints both on failure. */
#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long test_a = (long long)(a), test_b = (long long)(b);                        \
		if (test_a != test_b) {                                                            \
			test_fail_head(__FILE__, __LINE__, "ASSERT_EQ(" #a ", " #b ")");           \
			fprintf(stderr, ": %lld != %lld\n", test_a, test_b);                       \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_NULL(p)     ASSERT((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)

/* Compares two NUL-terminated strings (either may be NULL, which only equals NULL). */
#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *test_a = (a), *test_b = (b);                                           \
		if (!(test_a == test_b || (test_a && test_b && strcmp(test_a, test_b) == 0))) {    \
			test_check_mem(__FILE__, __LINE__, "ASSERT_STR_EQ(" #a ", " #b ")",        \
				       test_a, test_a ? strlen(test_a) : 0, test_b,                \
				       test_b ? strlen(test_b) : 0);                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Compares alen bytes at a with blen bytes at b. */
#define ASSERT_MEM_EQ(a, alen, b, blen)                                                            \
	do {                                                                                       \
		if (!test_check_mem(__FILE__, __LINE__, "ASSERT_MEM_EQ(" #a ", " #b ")", (a),      \
				    (alen), (b), (blen)))                                          \
			return;                                                                    \
	} while (0)

/* Compares a byte buffer with a string literal (which may hold NULs: its size is used). */
#define ASSERT_MEM_LIT(a, alen, lit) ASSERT_MEM_EQ(a, alen, lit, sizeof(lit) - 1)

/* Runs tests (all, or those named in argv) and prints the tally; returns the exit status. */
static inline int test_run(const struct test_case *tests, size_t n, int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		bool wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted = wanted || strcmp(argv[a], tests[i].name) == 0;
		if (!wanted)
			continue;
		test_failed = false;
		tests[i].fn();
		if (test_failed) {
			failed++;
			fprintf(stderr, "FAIL %s\n", tests[i].name);
		} else {
			passed++;
			printf("ok   %s\n", tests[i].name);
		}
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                             \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static const struct test_case tests[] = {__VA_ARGS__};                             \
		return test_run(tests, sizeof tests / sizeof *tests, argc, argv);                  \
	}

#endif
