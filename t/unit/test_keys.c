/*
 * Unit tests of the key registry (src/keys.h): RemoteSessionKey types and
 * the check of values' JSON against them (INTERFACE.md, PROTOCOL.md "Key
 * registration").
 */
#include <stdlib.h>
#include <ctype.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "keys.h"
#include "json.h"
#include "unit.h"

static apr_pool_t *pool;

static const char *types[] = {
    "string", "int", "long", "bool", "double", "object", "array", "json"
};
#define NTYPES 8

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static const char *check(apr_hash_t *reg, const char *key, const char *json)
{
    return rs_keys_check(pool, reg, key, strlen(key), json, strlen(json));
}

/* A registry with the one key KEY of `type`. */
#define KEY "kq7"
static apr_hash_t *one(const char *type)
{
    apr_hash_t *reg = rs_keys_make(pool);
    const char *err = rs_keys_add(pool, reg, KEY, type, NULL);
    CHECK(err == NULL, "add %s %s: %s", KEY, type, err ? err : "");
    return reg;
}

/* `json` must fit `type`. */
static void ok(const char *type, const char *json)
{
    const char *err = check(one(type), KEY, json);
    CHECK(err == NULL, "%s should accept %s: %s", type, json, err ? err : "");
}

/*
 * `json` must not fit `type`; the message names the key, the type as
 * spelled and, when `arrived` is given, what arrived.
 */
static void refused_len(const char *type, const char *json, apr_size_t len,
                        const char *arrived)
{
    const char *err = rs_keys_check(pool, one(type), KEY, 3, json, len);
    CHECK(err != NULL, "%s should refuse %.*s", type, (int)len, json);
    if (!err) {
        unit_hex("JSON", json, len);
        return;
    }
    printf("    %-8s %-24.*s -> %s\n", type, (int)len, json, err);
    CHECK(contains(err, KEY), "message \"%s\" names no key", err);
    CHECK(contains(err, type), "message \"%s\" does not say %s", err, type);
    if (arrived)
        CHECK(contains(err, arrived), "message \"%s\" does not say %s arrived",
              err, arrived);
}

static void refused(const char *type, const char *json, const char *arrived)
{
    refused_len(type, json, strlen(json), arrived);
}

static void test_add(void)
{
    apr_hash_t *reg = rs_keys_make(pool);
    static const char *bad[] = {
        "integer", "", "?", "int??", "?int", "str", "strings", "int ?",
        " int", "int ", "null", "number", "any",
    };
    int i;
    const char *err;

    CHECK(reg && apr_hash_count(reg) == 0, "rs_keys_make gives an empty hash");
    for (i = 0; i < NTYPES; i++) {
        const char *name = apr_psprintf(pool, "k_%s", types[i]);
        const char *nname = apr_psprintf(pool, "k_%s_null", types[i]);
        const char *ntype = apr_pstrcat(pool, types[i], "?", NULL);
        const rs_key_t *k;

        err = rs_keys_add(pool, reg, name, types[i], NULL);
        CHECK(err == NULL, "add %s: %s", types[i], err ? err : "");
        err = rs_keys_add(pool, reg, nname, ntype, NULL);
        CHECK(err == NULL, "add %s: %s", ntype, err ? err : "");

        k = apr_hash_get(reg, name, APR_HASH_KEY_STRING);
        CHECK(k && (int)k->type == i && !strcmp(k->name, name)
              && !strcmp(k->spelling, types[i]), "entry of %s", types[i]);
        /* string, object, array, json allow null already */
        CHECK(k && k->nullable == (i == 0 || i >= 5), "%s nullable %d",
              types[i], k ? k->nullable : -1);
        k = apr_hash_get(reg, nname, APR_HASH_KEY_STRING);
        CHECK(k && (int)k->type == i && k->nullable
              && !strcmp(k->spelling, ntype), "entry of %s", ntype);
    }
    CHECK(apr_hash_count(reg) == 2 * NTYPES, "%u entries",
          apr_hash_count(reg));

    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        err = rs_keys_add(pool, reg, "fresh", bad[i], NULL);
        CHECK(err != NULL && *err, "type \"%s\" accepted", bad[i]);
        if (err && *bad[i] && i == 0) {
            printf("    unknown type -> %s\n", err);
            CHECK(contains(err, bad[i]) && contains(err, "fresh"),
                  "message \"%s\" names the type and the key", err);
        }
    }
    CHECK(apr_hash_get(reg, "fresh", APR_HASH_KEY_STRING) == NULL,
          "refused types register nothing");

    err = rs_keys_add(pool, reg, "k_int", "long", NULL);
    CHECK(err != NULL && *err, "duplicate name accepted");
    if (err) {
        printf("    duplicate -> %s\n", err);
        CHECK(contains(err, "k_int"), "message \"%s\" names the key", err);
    }
    CHECK(((const rs_key_t *)apr_hash_get(reg, "k_int", APR_HASH_KEY_STRING))
          ->type == RS_TYPE_INT, "duplicate leaves the first");
    err = rs_keys_add(pool, reg, "k_int", "int", NULL);
    CHECK(err != NULL, "duplicate with the same type accepted");

    err = rs_keys_add(pool, reg, "", "int", NULL);
    CHECK(err != NULL, "empty key name accepted");

    /* the registry keeps its own copies of the strings */
    {
        char name[8] = "copy", type[8] = "int?";
        const rs_key_t *k;
        CHECK(rs_keys_add(pool, reg, name, type, NULL) == NULL, "add copy");
        memcpy(name, "XXXX", 4);
        memcpy(type, "XXXX", 4);
        k = apr_hash_get(reg, "copy", APR_HASH_KEY_STRING);
        CHECK(k && !strcmp(k->name, "copy") && !strcmp(k->spelling, "int?"),
              "name and spelling copied");
    }
}

static void test_types(void)
{
    /* int */
    ok("int", "0");
    ok("int", "42");
    ok("int", " 42 ");
    ok("int", "-1");
    ok("int", "2147483647");
    ok("int", "-2147483648");
    refused("int", "2147483648", "outside the int range");
    refused("int", "-2147483649", "outside the int range");
    refused("int", "9223372036854775807", NULL);
    refused("int", "42.0", NULL);
    refused("int", "1e2", NULL);
    refused("int", "\"42\"", "string");
    refused("int", "true", "true");
    refused("int", "null", "null");
    refused("int", "[]", "array");
    refused("int", "{}", "object");
    ok("int?", "null");
    ok("int?", "7");
    refused("int?", "\"7\"", "string");
    refused("int?", "2147483648", NULL);

    /* long */
    ok("long", "9223372036854775807");
    ok("long", "-9223372036854775808");
    ok("long", "2147483648");
    ok("long", "0");
    refused("long", "9223372036854775808", NULL);
    refused("long", "-9223372036854775809", NULL);
    refused("long", "1.5", NULL);
    refused("long", "\"1\"", "string");
    refused("long", "null", "null");
    ok("long?", "null");

    /* bool */
    ok("bool", "true");
    ok("bool", "false");
    refused("bool", "1", "an integer");
    refused("bool", "0", NULL);
    refused("bool", "\"true\"", "string");
    refused("bool", "null", "null");
    ok("bool?", "null");
    ok("bool?", "false");

    /* double */
    ok("double", "1");
    ok("double", "1.5");
    ok("double", "-2e10");
    ok("double", "-0.0");
    ok("double", "1.7976931348623157e308");
    ok("double", "9007199254740993");
    refused("double", "\"1\"", "string");
    refused("double", "null", "null");
    refused("double", "true", "true");
    refused("double", "[1]", "array");
    ok("double?", "null");

    /* string (null allowed without ?) */
    ok("string", "\"x\"");
    ok("string", "\"\"");
    ok("string", "\"cl\\u00e9 cl\xC3\xA9 \xF0\x9F\x98\x80\"");
    ok("string", "null");
    ok("string?", "null");
    refused("string", "1", NULL);
    refused("string", "true", "true");
    refused("string", "{}", "object");
    refused("string", "[\"x\"]", "array");

    /* object */
    ok("object", "{}");
    ok("object", "{\"Items\":3,\"Name\":\"x\",\"Sub\":{\"A\":[1,2]}}");
    ok("object", "null");
    refused("object", "[]", "array");
    refused("object", "\"{}\"", "string");
    refused("object", "1", NULL);

    /* array */
    ok("array", "[]");
    ok("array", "[1,\"a\",null,{}]");
    ok("array", "null");
    refused("array", "{}", "object");
    refused("array", "\"[]\"", "string");

    /* json: anything valid */
    ok("json", "1");
    ok("json", "-2.5e-3");
    ok("json", "\"x\"");
    ok("json", "null");
    ok("json", "true");
    ok("json", "{}");
    ok("json", "[[[]]]");
    ok("json", "{\"a\":{\"b\":[1,2,{\"c\":null}]}}");
    ok("json?", "null");
    refused("json", "{", NULL);
}

/* Invalid JSON, or JSON followed by more, is refused under every type. */
static void test_invalid(void)
{
    static const struct { const char *s; apr_size_t n; } bad[] = {
        {"{", 1}, {"42 x", 4}, {"1 2", 3}, {"{} {}", 5}, {"[] x", 4},
        {"nul", 3}, {"tru", 3}, {"'x'", 3}, {"\"abc", 4}, {"[1,]", 4},
        {"{\"a\"}", 5}, {"{\"a\":1,}", 8}, {"01", 2}, {"+1", 2}, {".5", 2},
        {"NaN", 3}, {"Infinity", 8}, {"-", 1}, {"1.", 2}, {"1e", 2},
        {" ", 1}, {"// c\n1", 6}, {"undefined", 9},
        {"42\0", 3},                     /* a NUL after the value */
        {"\"a\0b\"", 5},                 /* a raw NUL in a string */
        {"\"\xC0\x80\"", 4},             /* invalid UTF-8 in a string */
        {"\"\xED\xA0\x80\"", 5},         /* a UTF-8 surrogate */
        {"\"\x01\"", 3},                 /* a raw control character */
    };
    unsigned i, t, q;
    int wrong = 0;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        for (t = 0; t < NTYPES; t++)
            for (q = 0; q < 2; q++) {
                const char *type = q ? apr_pstrcat(pool, types[t], "?", NULL)
                                     : types[t];
                const char *err = rs_keys_check(pool, one(type), KEY, 3,
                                                bad[i].s, bad[i].n);
                if (!err) {
                    printf("FAIL %s accepts invalid JSON #%u\n", type, i);
                    unit_hex("JSON", bad[i].s, bad[i].n);
                    wrong++;
                }
                else if (!contains(err, KEY) || !contains(err, type)) {
                    printf("FAIL message \"%s\" lacks key or type\n", err);
                    wrong++;
                }
            }
    CHECK(wrong == 0, "%d invalid JSON texts accepted or badly reported",
          wrong);
    refused("int", "42 x", NULL);
    refused_len("json", "42\0", 3, NULL);
    refused("string", "\"x\" \"y\"", NULL);
}

/* Messages go to the error log: no part of a value may be in them. */
static void test_no_value_in_messages(void)
{
    static const char *const values[] = {
        "\"s3cr3tvalue\"", "{\"s3cr3tvalue\":1}", "[\"s3cr3tvalue\"]",
        "s3cr3tvalue", "\"s3cr3tvalue", "4242424242", "{\"a\": s3cr3tvalue}",
    };
    unsigned i;
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const char *err = check(one("int"), KEY, values[i]);
        CHECK(err && !strstr(err, "s3cr3tvalue") && !strstr(err, "4242"),
              "message for %s quotes the value: %s", values[i],
              err ? err : "(accepted)");
    }
}

/* Valid JSON (RFC 8259) that Jansson's defaults would refuse. */
static void test_valid_edges(void)
{
    /* RFC 8259 numbers of any size are valid JSON; .NET reads them as
     * double / JsonElement */
    ok("json", "18446744073709551616");
    /* Beyond the range of a double: refused (documented limitation, and
     * System.Text.Json cannot read it as a double either). */
    refused("double", "1e400", NULL);
    ok("double", "18446744073709551616");
    /* an escaped NUL is a valid JSON string; .NET writes it for "\0" */
    ok("string", "\"a\\u0000b\"");
    ok("json", "{\"a\":\"\\u0000\"}");
    CHECK(check(NULL, "big", "18446744073709551616") == NULL,
          "no registry: a big integer refused");
}

static void test_registry_scope(void)
{
    apr_hash_t *reg = rs_keys_make(pool), *empty = rs_keys_make(pool);
    const char *err;
    static const char *valid[] = {
        "1", "\"x\"", "null", "true", "{}", "[1]", "1.5", "{\"A\":{}}",
    };
    unsigned i;

    rs_keys_add(pool, reg, "cart", "object", NULL);
    rs_keys_add(pool, reg, "n", "int", NULL);

    err = check(reg, "other", "1");
    CHECK(err != NULL, "unregistered key accepted");
    if (err) {
        printf("    unregistered -> %s\n", err);
        CHECK(contains(err, "other"), "message \"%s\" names the key", err);
    }
    CHECK(check(reg, "Cart", "{}") != NULL, "keys are case-sensitive");
    CHECK(check(reg, "car", "{}") != NULL, "a prefix is another key");
    CHECK(check(reg, "cart ", "{}") != NULL, "a longer key is another key");
    CHECK(check(reg, "cart", "{}") == NULL, "registered key accepted");

    /* keys go by key_len, not by NUL */
    CHECK(rs_keys_check(pool, reg, "cartxyz", 4, "{}", 2) == NULL,
          "key \"cart\" given by length inside a longer buffer");
    err = rs_keys_check(pool, reg, "cart\0x", 6, "{}", 2);
    CHECK(err != NULL, "key \"cart\\0x\" taken for \"cart\"");
    {
        char key[5] = {'o', 't', 'h', 'r', 'Z'};    /* not NUL-ended */
        err = rs_keys_check(pool, reg, key, 4, "1", 1);
        CHECK(err != NULL, "unregistered key othr accepted");
        if (err)
            CHECK(contains(err, "othr") && !contains(err, "othrZ"),
                  "message \"%s\" shows the key by its length", err);
        err = rs_keys_check(pool, reg, "cartZZZ", 4, "[]", 2);
        CHECK(err && contains(err, "cart") && !contains(err, "cartZ"),
              "message \"%s\" shows the key by its length", err ? err : "");
    }

    /* the value is read by json_len, not by NUL */
    CHECK(rs_keys_check(pool, reg, "n", 1, "12x", 2) == NULL,
          "value \"12\" given by length");
    CHECK(rs_keys_check(pool, reg, "n", 1, "1{", 1) == NULL,
          "value \"1\" given by length");

    /* an empty registry, and NULL, accept any valid JSON under any key */
    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        CHECK(check(empty, "anything", valid[i]) == NULL,
              "empty registry refuses %s", valid[i]);
        CHECK(check(NULL, "anything", valid[i]) == NULL,
              "NULL registry refuses %s", valid[i]);
    }
    err = check(empty, "anything", "{");
    CHECK(err != NULL, "empty registry accepts invalid JSON");
    if (err) {
        printf("    empty registry, invalid -> %s\n", err);
        CHECK(contains(err, "anything"), "message \"%s\" names the key", err);
    }
    CHECK(check(NULL, "anything", "42 x") != NULL,
          "NULL registry accepts trailing garbage");
    CHECK(check(NULL, "anything", "[") != NULL,
          "NULL registry accepts invalid JSON");

    /* length 0: the sender's mark of a value it could not serialize */
    CHECK(rs_keys_check(pool, reg, "n", 1, "", 0) == NULL,
          "registered key with an empty value refused");
    err = rs_keys_check(pool, reg, "other", 5, "", 0);
    CHECK(err != NULL, "unregistered key accepted because its value is empty");
}

static void test_merge(void)
{
    apr_hash_t *base = rs_keys_make(pool), *over = rs_keys_make(pool);
    apr_hash_t *empty = rs_keys_make(pool), *m;
    const rs_key_t *k;

    rs_keys_add(pool, base, "a", "int", NULL);
    rs_keys_add(pool, base, "b", "string", NULL);
    rs_keys_add(pool, over, "b", "long?", NULL);
    rs_keys_add(pool, over, "c", "bool", NULL);

    m = rs_keys_merge(pool, base, over);
    CHECK(m && apr_hash_count(m) == 3, "union has 3 keys (%u)",
          m ? apr_hash_count(m) : 0);
    k = m ? apr_hash_get(m, "a", 1) : NULL;
    CHECK(k && k->type == RS_TYPE_INT, "base's a kept");
    k = m ? apr_hash_get(m, "b", 1) : NULL;
    CHECK(k && k->type == RS_TYPE_LONG && k->nullable
          && !strcmp(k->spelling, "long?"), "over's b wins");
    k = m ? apr_hash_get(m, "c", 1) : NULL;
    CHECK(k && k->type == RS_TYPE_BOOL, "over's c kept");
    CHECK(apr_hash_count(base) == 2 && apr_hash_count(over) == 2
          && ((const rs_key_t *)apr_hash_get(base, "b", 1))->type
          == RS_TYPE_STRING, "merge changes neither input");
    CHECK(check(m, "b", "5") == NULL && check(m, "b", "\"5\"") != NULL,
          "merged registry checks with over's type");

    m = rs_keys_merge(pool, empty, over);
    CHECK(m && apr_hash_count(m) == 2 && apr_hash_get(m, "c", 1),
          "empty base: over's keys");
    m = rs_keys_merge(pool, base, empty);
    CHECK(m && apr_hash_count(m) == 2 && apr_hash_get(m, "a", 1)
          && ((const rs_key_t *)apr_hash_get(m, "b", 1))->type
          == RS_TYPE_STRING, "empty over: base's keys");
    m = rs_keys_merge(pool, empty, rs_keys_make(pool));
    CHECK(m && apr_hash_count(m) == 0, "empty + empty is empty");
}

static void test_check_state(void)
{
    apr_hash_t *reg = rs_keys_make(pool);
    rs_state_t *st = rs_state_make(pool, "id", 20);
    const char *err;

    rs_keys_add(pool, reg, "a", "int", NULL);
    rs_keys_add(pool, reg, "b", "string", NULL);
    rs_keys_add(pool, reg, "c", "object", NULL);

    CHECK(rs_keys_check_state(pool, reg, st, NULL) == NULL, "empty state fits");
    rs_state_set(pool, st, "a", 1, "1", 1);
    rs_state_set(pool, st, "b", 1, "\"x\"", 3);
    rs_state_set(pool, st, "c", 1, "{}", 2);
    CHECK(rs_keys_check_state(pool, reg, st, NULL) == NULL, "good state fits");

    rs_state_set(pool, st, "b", 1, "17", 2);
    err = rs_keys_check_state(pool, reg, st, NULL);
    CHECK(err != NULL, "state with b = 17 accepted");
    if (err) {
        printf("    bad item -> %s\n", err);
        CHECK(contains(err, "b") && contains(err, "string"),
              "message \"%s\" names b and string", err);
    }
    CHECK(rs_keys_check_state(pool, NULL, st, NULL) == NULL,
          "no registry: valid JSON fits");

    rs_state_set(pool, st, "b", 1, "\"y\"", 3);
    rs_state_set(pool, st, "zz", 2, "1", 1);
    err = rs_keys_check_state(pool, reg, st, NULL);
    CHECK(err && contains(err, "zz"), "unregistered zz: \"%s\"",
          err ? err : "(accepted)");

    rs_state_remove(st, "zz", 2);
    rs_state_set(pool, st, "c", 1, "{", 1);
    err = rs_keys_check_state(pool, rs_keys_make(pool), st, NULL);
    CHECK(err && contains(err, "c"), "invalid JSON under an empty registry: "
          "\"%s\"", err ? err : "(accepted)");
}

/*
 * A value sent back byte for byte as stored is not parsed again (issue 15:
 * a big PUT ran at Jansson's speed); everything else about it still is.
 */
static void test_check_unchanged(void)
{
    apr_hash_t *reg = rs_keys_make(pool);
    rs_state_t *known = rs_state_make(pool, "id", 20);
    rs_state_t *st = rs_state_make(pool, "id", 20);
    const char *err;

    rs_keys_add(pool, reg, "a", "int", NULL);
    rs_keys_add(pool, reg, "b", "string", NULL);
    /* what a registry of another day let in: a string under int "a" */
    rs_state_set(pool, known, "a", 1, "\"old\"", 5);
    rs_state_set(pool, known, "b", 1, "\"x\"", 3);
    rs_state_set(pool, known, "gone", 4, "1", 1);

    rs_state_set(pool, st, "a", 1, "\"old\"", 5);
    rs_state_set(pool, st, "b", 1, "\"x\"", 3);
    CHECK(rs_keys_check_state(pool, reg, st, known) == NULL,
          "values as stored are not parsed again");
    CHECK(rs_keys_check_state(pool, reg, st, NULL) != NULL,
          "... and are when nothing is known");

    rs_state_set(pool, st, "a", 1, "\"new\"", 5);
    err = rs_keys_check_state(pool, reg, st, known);
    CHECK(err && contains(err, "int"), "a changed value is checked: \"%s\"",
          err ? err : "(accepted)");

    /* other order: found through the index, not by position */
    st = rs_state_make(pool, "id", 20);
    rs_state_set(pool, st, "b", 1, "\"x\"", 3);
    rs_state_set(pool, st, "a", 1, "\"old\"", 5);
    CHECK(rs_keys_check_state(pool, reg, st, known) == NULL,
          "unchanged values in another order are known too");
    rs_state_set(pool, st, "b", 1, "\"x", 2);
    err = rs_keys_check_state(pool, reg, st, known);
    CHECK(err && contains(err, "invalid JSON"),
          "a prefix of a stored value is not that value: \"%s\"",
          err ? err : "(accepted)");

    /* the name checks stay: an unregistered key, an Apache one */
    rs_state_remove(st, "b", 1);
    rs_state_set(pool, st, "gone", 4, "1", 1);
    err = rs_keys_check_state(pool, reg, st, known);
    CHECK(err && contains(err, "gone") && contains(err, "not registered"),
          "an unchanged value under an unregistered key: \"%s\"",
          err ? err : "(accepted)");
    rs_state_remove(st, "gone", 4);
    rs_keys_add(pool, reg, "mine", "int", "apache");
    rs_state_set(pool, known, "mine", 4, "1", 1);
    rs_state_set(pool, st, "mine", 4, "1", 1);
    err = rs_keys_check_state(pool, reg, st, known);
    CHECK(err && contains(err, "Apache side"),
          "an unchanged Apache key from the client: \"%s\"",
          err ? err : "(accepted)");
}

/* RemoteSessionKey ... apache: the Apache side's keys (issue 8). */
static void test_apache_scope(void)
{
    apr_hash_t *reg = rs_keys_make(pool);
    rs_state_t *st = rs_state_make(pool, "id", 20);
    const rs_state_t *view;
    const char *err;

    CHECK(rs_keys_add(pool, reg, "visits", "int", "apache") == NULL,
          "scope apache accepted");
    err = rs_keys_add(pool, reg, "x", "int", "dotnet");
    CHECK(err && contains(err, "dotnet"), "unknown scope refused: \"%s\"",
          err ? err : "(accepted)");
    CHECK(rs_keys_apache(reg, "visits", 6) && !rs_keys_apache(reg, "x", 1)
          && rs_keys_any_apache(pool, reg), "visits is the Apache side's");
    CHECK(!rs_keys_any_apache(pool, NULL), "no registry, no Apache keys");

    CHECK(check(reg, "other", "\"any\"") == NULL,
          "only Apache keys registered: the registry stays open");
    err = check(reg, "visits", "\"many\"");
    CHECK(err && contains(err, "int"), "an Apache key is type-checked: \"%s\"",
          err ? err : "(accepted)");
    rs_keys_add(pool, reg, "count", "int", NULL);
    err = check(reg, "other", "1");
    CHECK(err && contains(err, "other"), "a .NET key closes it: \"%s\"",
          err ? err : "(accepted)");

    rs_state_set(pool, st, "count", 5, "1", 1);
    rs_state_set(pool, st, "visits", 6, "2", 1);
    err = rs_keys_check_state(pool, reg, st, NULL);
    CHECK(err && contains(err, "visits") && contains(err, "Apache side"),
          "a client state may not write an Apache key: \"%s\"",
          err ? err : "(accepted)");

    rs_state_set(pool, st, "lost", 4, "", 0);
    view = rs_keys_client_view(pool, reg, st);
    CHECK(view != st && view->items->nelts == 1
          && !strcmp(APR_ARRAY_IDX(view->items, 0, rs_item_t).key, "count"),
          "the client sees neither the Apache key nor a zero-length value");
    CHECK(st->items->nelts == 3, "... and the state itself is unchanged");
    rs_state_remove(st, "visits", 6);
    rs_state_remove(st, "lost", 4);
    CHECK(rs_keys_client_view(pool, reg, st) == st,
          "nothing to leave out: the state itself, no copy");
}

/* Messages become PUT reason phrases: a key is shown escaped, cut. */
static void test_shown_key(void)
{
    apr_hash_t *reg = rs_keys_make(pool);
    char big[300];
    const char *err;

    rs_keys_add(pool, reg, "a", "int", NULL);
    err = check(reg, "evil\r\nX-Injected: 1", "1");
    CHECK(err && !strpbrk(err, "\r\n")
          && contains(err, "'evil\\r\\nX-Injected: 1'"),
          "CR LF escaped: \"%s\"", err ? err : "(accepted)");
    err = check(reg, "caf\xc3\xa9", "1");
    CHECK(err && contains(err, "'caf\\xc3\\xa9'"),
          "non-ASCII escaped: \"%s\"", err ? err : "(accepted)");
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err = check(reg, big, "1");
    CHECK(err && strlen(err) < 200 && contains(err, "kkkk...'"),
          "a 299-byte key cut: \"%s\"", err ? err : "(accepted)");
    err = check(reg, "a", "\"x\"");
    CHECK(err && contains(err, "'a' expects int"), "a plain key as it is: "
          "\"%s\"", err ? err : "(accepted)");
}

static void test_one_line(void)
{
    const char *plain = "{\"a\":1}";
    CHECK(rs_json_one_line(pool, plain) == plain, "no CR/LF/TAB: no copy");
    CHECK_STR(rs_json_one_line(pool, "{\r\n\t\"a\" :\n1}"),
              "{   \"a\" : 1}");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);

    test_add();
    test_types();
    test_invalid();
    test_valid_edges();
    test_no_value_in_messages();
    test_registry_scope();
    test_merge();
    test_check_state();
    test_check_unchanged();
    test_apache_scope();
    test_shown_key();
    test_one_line();

    apr_pool_destroy(pool);
    return UNIT_DONE();
}
