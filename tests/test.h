/* test: the few assertion macros every C test uses. A failed check prints
 * file:line and the expression, counts the failure, and the test goes on;
 * TEST_EXIT() ends main with the right status and an "N passed, N failed"
 * line. */
#ifndef TARMAC_TESTS_TEST_H
#define TARMAC_TESTS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_, test_failed_;

#define CHECK(expr)                                                   \
  do {                                                                \
    if (expr) {                                                       \
      test_passed_++;                                                 \
    } else {                                                          \
      test_failed_++;                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
              #expr);                                                 \
    }                                                                 \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                  \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ == b_) {                                                         \
      test_passed_++;                                                       \
    } else {                                                                \
      test_failed_++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",     \
              __FILE__, __LINE__, #a, #b, a_, b_);                          \
    }                                                                       \
  } while (0)

/* Compares a byte range with a C string. */
#define CHECK_BYTES(data, len, str)                                          \
  do {                                                                       \
    const char *s_ = (str);                                                  \
    size_t l_ = (size_t)(len);                                               \
    if (l_ == strlen(s_) && (l_ == 0 || memcmp((data), s_, l_) == 0)) {      \
      test_passed_++;                                                        \
    } else {                                                                 \
      test_failed_++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s is \"%.*s\", want \"%s\"\n",  \
              __FILE__, __LINE__, #data, (int)l_, (const char *)(data), s_); \
    }                                                                        \
  } while (0)

#define TEST_EXIT()                                                    \
  do {                                                                 \
    printf("%d passed, %d failed\n", test_passed_, test_failed_);      \
    return test_failed_ ? 1 : 0;                                       \
  } while (0)

#endif
