/*
 * Unit tests of src/sid.c: the API key's spellings (every one a .NET peer
 * takes for a key: the adapters' ApiKey check and Guid.TryParse's forms,
 * never the all-zero GUID nor white space around it), the session ID's
 * form, and the constant-time key comparison.
 */
#include <apr_general.h>
#include "unit.h"
#include "sid.h"

static const char *const good[] = {
    "3f2504e04f8911d39a0c0305e82c3301",                     /* N */
    "3F2504E0-4F89-11D3-9A0C-0305E82C3301",                 /* D */
    "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",               /* B */
    "(3f2504e0-4f89-11d3-9a0c-0305e82c3301)",               /* P */
    "{3f2504e04f8911d39a0c0305e82c3301}",   /* the adapters' own tests */
    "(3f2504e04f8911d39a0c0305e82c3301)",
    "{3f2504e0-4f89-11d3-9a0c-0305e82c3301)",   /* the adapters' regex */
    "3f2504e0-4f8911d3-9a0c-0305e82c3301",
    "{3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "{0x3f2504e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}",
    "{0X3f2504e0, 0x4f89, 0x11d3, {0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, "
        "0x33, 0x01}}",
    "{0x3f25 04e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}",
    "00000000-0000-0000-0000-000000000001",
};

static const char *const bad[] = {
    "",
    "00000000-0000-0000-0000-000000000000",
    "{00000000000000000000000000000000}",
    "{0x00000000,0x0000,0x0000,{0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00}}",
    " 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301\t",
    " {0x3f2504e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}}",
    "{0x3f2504e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x01}} ",
    "{0x3f2504e0,0x4f89,0x11d3,{0x9a,0x0c,0x03,0x05,0xe8,0x2c,0x33,0x1}}",
    "3f2504e04-f89-11d3-9a0c-0305e82c3301",
    "3f2504e0--4f89-11d3-9a0c-0305e82c3301",
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301-",
    "{{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
    "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
    "3f2504e04f8911d39a0c0305e82c330",
    "3f2504e04f8911d39a0c0305e82c33011",
    "+0x2504e0-4f89-11d3-9a0c-0305e82c3301",
};

static void guid_spellings(void)
{
    unsigned i;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(rs_guid_valid(good[i]), "accepted: '%s'", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(!rs_guid_valid(bad[i]), "refused: '%s'", bad[i]);
    }
}

static void session_ids(apr_pool_t *p)
{
    const char *id = rs_sid_generate(p);
    CHECK(id && rs_sid_valid(id), "a generated ID is valid: %s", id);
    CHECK(rs_sid_valid("abcdefghijklmnopqrstuvwx"), "a-z");
    CHECK(rs_sid_valid("012345012345012345012345"), "0-5");
    CHECK(!rs_sid_valid("abcdefghijklmnopqrstuvw6"), "6 is not in the set");
    CHECK(!rs_sid_valid("abcdefghijklmnopqrstuvw"), "23 characters");
    CHECK(!rs_sid_valid("abcdefghijklmnopqrstuvwxy"), "25 characters");
    CHECK(!rs_sid_valid("ABCDEFGHIJKLMNOPQRSTUVWX"), "upper case");
}

static void key_equal(void)
{
    const char *k = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    CHECK(rs_key_equal(k, k), "equal");
    CHECK(!rs_key_equal(NULL, k), "missing");
    CHECK(!rs_key_equal("", k), "empty");
    CHECK(!rs_key_equal("3F2504E0-4F89-11D3-9A0C-0305E82C3301", k),
          "ordinal: another case is another key");
    CHECK(!rs_key_equal("3f2504e0-4f89-11d3-9a0c-0305e82c330", k),
          "one byte short");
    CHECK(!rs_key_equal("3f2504e0-4f89-11d3-9a0c-0305e82c33011", k),
          "one byte more");
}

int main(void)
{
    apr_pool_t *p;
    apr_initialize();
    apr_pool_create(&p, NULL);
    guid_spellings();
    session_ids(p);
    key_equal();
    apr_terminate();
    return UNIT_DONE();
}
