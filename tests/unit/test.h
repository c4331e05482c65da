/* test.h — the unit test harness: TEST(name) cases registered at start-up, ASSERT macros
 * that print both sides, and TEST_MAIN() which runs every case, or the one named in argv[1]
 * (CMake registers each case as its own ctest test, see cmake/Baton.cmake).
 * A failed assertion prints file:line and exits 1, so atexit() handlers (the test
 * harness's process cleanup) still run. */
#ifndef BATON_TEST_H
#define BATON_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*baton_test_fn)(void);
struct baton_test_case {
    const char *name;
    baton_test_fn fn;
};
#define BATON_TEST_MAX 512
extern struct baton_test_case baton_test_cases[BATON_TEST_MAX];
extern int baton_test_count;

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void baton_test_register_##name(void)                      \
    {                                                                                              \
        if (baton_test_count < BATON_TEST_MAX)                                                     \
            baton_test_cases[baton_test_count++] = (struct baton_test_case){#name, name};          \
    }                                                                                              \
    static void name(void)

#define TEST_FAIL(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            TEST_FAIL("assertion failed: %s", #c);                                                 \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long baton_a_ = (long long)(a), baton_b_ = (long long)(b);                            \
        if (baton_a_ != baton_b_)                                                                  \
            TEST_FAIL("%s == %s: %lld != %lld", #a, #b, baton_a_, baton_b_);                       \
    } while (0)

#define ASSERT_NE_INT(a, b)                                                                        \
    do {                                                                                           \
        long long baton_a_ = (long long)(a), baton_b_ = (long long)(b);                            \
        if (baton_a_ == baton_b_)                                                                  \
            TEST_FAIL("%s != %s: both %lld", #a, #b, baton_a_);                                    \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *baton_a_ = (a), *baton_b_ = (b);                                               \
        if (!baton_a_ || !baton_b_ || strcmp(baton_a_, baton_b_) != 0)                             \
            TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, baton_a_ ? baton_a_ : "(null)",        \
                      baton_b_ ? baton_b_ : "(null)");                                             \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *baton_h_ = (hay), *baton_n_ = (needle);                                        \
        if (!baton_h_ || !strstr(baton_h_, baton_n_))                                              \
            TEST_FAIL("%s contains \"%s\": got \"%s\"", #hay, baton_n_,                            \
                      baton_h_ ? baton_h_ : "(null)");                                             \
    } while (0)

#define ASSERT_NULL(p) ASSERT_TRUE((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

#define TEST_MAIN()                                                                                \
    struct baton_test_case baton_test_cases[BATON_TEST_MAX];                                       \
    int baton_test_count;                                                                          \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        int ran = 0;                                                                               \
        for (int i = 0; i < baton_test_count; i++) {                                               \
            if (argc > 1 && strcmp(argv[1], baton_test_cases[i].name) != 0)                        \
                continue;                                                                          \
            fprintf(stderr, "-- %s\n", baton_test_cases[i].name);                                  \
            baton_test_cases[i].fn();                                                              \
            ran++;                                                                                 \
        }                                                                                          \
        if (ran == 0) {                                                                            \
            fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");                   \
            return 1;                                                                              \
        }                                                                                          \
        fprintf(stderr, "%d passed\n", ran);                                                       \
        return 0;                                                                                  \
    }

#endif
