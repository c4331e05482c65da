#include <limits.h>
#include "test.h"
#include "baton/core.h"

TEST(core_time_roundtrip)
{
    int64_t ms;
    ASSERT_EQ_INT(baton_time_parse("2026-11-21T10:00:00Z", &ms), 0);
    ASSERT_EQ_INT(ms, 1795255200000LL);
    char buf[BATON_RFC3339_LEN];
    ASSERT_EQ_INT(baton_time_format(ms + 123, buf, sizeof buf), 0);
    ASSERT_EQ_STR(buf, "2026-11-21T10:00:00.123Z");
    ASSERT_EQ_INT(baton_time_parse("2026-11-21T11:30:00.5+01:30", &ms), 0);
    ASSERT_EQ_INT(ms, 1795255200500LL);
    ASSERT_EQ_INT(baton_time_parse("1970-01-01T00:00:00Z", &ms), 0);
    ASSERT_EQ_INT(ms, 0);
}

TEST(core_time_rejects)
{
    int64_t ms;
    const char *bad[] = {"",
                         "2026-11-21",
                         "2026-13-01T00:00:00Z",
                         "2026-02-30T00:00:00Z",
                         "2026-11-21T10:00:00",
                         "2026-11-21T25:00:00Z",
                         "2026-11-21T10:00:00Zjunk",
                         "2026-11-21T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ_INT(baton_time_parse(bad[i], &ms), BATON_EPARSE);
    ASSERT_EQ_INT(baton_time_parse("2024-02-29T00:00:00Z", &ms), 0);
}

TEST(core_duration)
{
    int64_t ms;
    ASSERT_EQ_INT(baton_duration_parse("30s", &ms), 0);
    ASSERT_EQ_INT(ms, 30000);
    ASSERT_EQ_INT(baton_duration_parse("15m", &ms), 0);
    ASSERT_EQ_INT(ms, 900000);
    ASSERT_EQ_INT(baton_duration_parse("2h", &ms), 0);
    ASSERT_EQ_INT(ms, 7200000);
    ASSERT_EQ_INT(baton_duration_parse("1d", &ms), 0);
    ASSERT_EQ_INT(ms, 86400000);
    const char *bad[] = {"", "m", "15", "15x", "0m", "-5m", "1.5h", "15 m", "999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ_INT(baton_duration_parse(bad[i], &ms), BATON_EPARSE);
    char buf[16];
    ASSERT_EQ_INT(baton_duration_format(5400000, buf, sizeof buf), 0);
    ASSERT_EQ_STR(buf, "90m");
}

TEST(core_ids)
{
    char a[BATON_ID_LEN], b[BATON_ID_LEN];
    baton_uuidv7(a);
    baton_uuidv7(b);
    ASSERT_EQ_INT(strlen(a), 36);
    ASSERT_TRUE(strcmp(a, b) != 0);
    ASSERT_TRUE(a[14] == '7');
    baton_derived_id("evt-1", "task:med_rec", a);
    baton_derived_id("evt-1", "task:med_rec", b);
    ASSERT_EQ_STR(a, b);
    ASSERT_TRUE(a[14] == '8');
    baton_derived_id("evt-1", "task:transport", b);
    ASSERT_TRUE(strcmp(a, b) != 0);
    /* the separator matters: ("ab","c") and ("a","bc") differ */
    baton_derived_id("ab", "c", a);
    baton_derived_id("a", "bc", b);
    ASSERT_TRUE(strcmp(a, b) != 0);
    char h[65];
    baton_sha256_hex("abc", 3, h);
    ASSERT_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(core_buf)
{
    baton_buf_t b = BATON_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        baton_buf_appendf(&b, "%d,", i);
    ASSERT_TRUE(b.len > 1000);
    ASSERT_TRUE(strncmp(b.data, "0,1,2,", 6) == 0);
    baton_buf_reset(&b);
    baton_buf_puts(&b, "x");
    char *s = baton_buf_steal(&b);
    ASSERT_EQ_STR(s, "x");
    ASSERT_NULL(b.data);
    free(s);
    char *f = baton_xasprintf("%s-%d", "a", 7);
    ASSERT_EQ_STR(f, "a-7");
    free(f);
    char small[4];
    ASSERT_EQ_INT(baton_strlcpy(small, "abcdef", sizeof small), 6);
    ASSERT_EQ_STR(small, "abc");
    ASSERT_EQ_STR(baton_strerror(BATON_ECONFLICT), "conflict");
}

TEST(core_buf_numbers_and_growth)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_buf_put_int(&b, 0);
    baton_buf_putc(&b, ' ');
    baton_buf_put_int(&b, -42);
    baton_buf_putc(&b, ' ');
    baton_buf_put_int(&b, LLONG_MAX);
    baton_buf_putc(&b, ' ');
    baton_buf_put_int(&b, LLONG_MIN);
    ASSERT_EQ_STR(b.data, "0 -42 9223372036854775807 -9223372036854775808");
    /* formatting that exactly fills, then overflows, the spare room */
    for (size_t want = 1; want < 300; want++) {
        baton_buf_t c = BATON_BUF_INIT;
        baton_buf_putc(&c, 'x');
        char pad[301];
        memset(pad, 'y', want);
        pad[want] = '\0';
        baton_buf_appendf(&c, "%s%d", pad, 7);
        ASSERT_EQ_INT((long long)c.len, (long long)want + 2);
        ASSERT_EQ_INT(c.data[want + 1], '7');
        ASSERT_EQ_INT(c.data[want + 2], '\0');
        ASSERT_TRUE(c.cap > c.len);
        baton_buf_free(&c);
    }
    baton_buf_reset(&b);
    for (int i = 0; i < 5000; i++)
        baton_buf_putc(&b, (char)('a' + i % 26));
    ASSERT_EQ_INT((long long)b.len, 5000);
    ASSERT_EQ_INT(b.data[4999], 'a' + 4999 % 26);
    ASSERT_EQ_INT(b.data[5000], '\0');
    baton_buf_free(&b);
}

TEST(core_json_pointer)
{
    baton_buf_t b = BATON_BUF_INIT;
    baton_json_pointer_append(&b, "attributes");
    baton_json_pointer_append(&b, "a/b~c");
    ASSERT_EQ_STR(b.data, "/attributes/a~1b~0c");
    baton_buf_free(&b);
}

TEST_MAIN()
