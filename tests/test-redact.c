/* SPDX-License-Identifier: MIT */
/* test-redact.c -- passwords are masked in server log lines, in every quoting, across lines. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "redact.h"
#include "util.h"

static void expect(const char *in, const char *want)
{
        _cleanup_free_ char *got = redact_secrets(in, NULL);

        if (!streq(got, want))
                fail_msg("redact(%s)\n  got  %s\n  want %s", in, got, want);
}

static void test_redact_sql_literals(void **state)
{
        expect("STATEMENT:  ALTER ROLE x PASSWORD 'sekrit'",
               "STATEMENT:  ALTER ROLE x PASSWORD '" REDACTED "'");
        expect("alter role x password 'sekrit';", "alter role x password '" REDACTED "';");
        expect("ALTER ROLE x WITH ENCRYPTED PASSWORD 'sekrit' VALID UNTIL 'infinity'",
               "ALTER ROLE x WITH ENCRYPTED PASSWORD '" REDACTED "' VALID UNTIL 'infinity'");
        expect("CREATE ROLE x LOGIN PassWord 'it''s sekrit' SUPERUSER",
               "CREATE ROLE x LOGIN PassWord '" REDACTED "' SUPERUSER");
        expect("ALTER ROLE x PASSWORD E'sek\\'rit'", "ALTER ROLE x PASSWORD E'" REDACTED "'");
        expect("ALTER ROLE x PASSWORD e'a\\\\' LOGIN", "ALTER ROLE x PASSWORD e'" REDACTED "' LOGIN");
        expect("ALTER ROLE x PASSWORD U&'sekr\\0069t'", "ALTER ROLE x PASSWORD U&'" REDACTED "'");
        expect("ALTER ROLE x PASSWORD $$sek'rit$$;", "ALTER ROLE x PASSWORD $$" REDACTED "$$;");
        expect("ALTER ROLE x PASSWORD $pw$sek$$rit$pw$ x", "ALTER ROLE x PASSWORD $pw$" REDACTED "$pw$ x");
        expect("ALTER ROLE x PASSWORD \"sekrit\"", "ALTER ROLE x PASSWORD \"" REDACTED "\"");
        expect("ALTER ROLE x PASSWORD'sekrit'", "ALTER ROLE x PASSWORD'" REDACTED "'");
        expect("ALTER ROLE x PASSWORD  \t 'sekrit'", "ALTER ROLE x PASSWORD  \t '" REDACTED "'");
        expect("two: PASSWORD 'a' and password 'b'",
               "two: PASSWORD '" REDACTED "' and password '" REDACTED "'");
        /* An unterminated literal is masked to the end. */
        expect("ALTER ROLE x PASSWORD 'sekrit", "ALTER ROLE x PASSWORD '" REDACTED);
}

static void test_redact_leaves_other_text(void **state)
{
        expect("FATAL:  password authentication failed for user \"app\"",
               "FATAL:  password authentication failed for user \"app\"");
        expect("ALTER ROLE x PASSWORD NULL", "ALTER ROLE x PASSWORD NULL");
        expect("LOG:  database system is ready to accept connections",
               "LOG:  database system is ready to accept connections");
        expect("passwords 'x'", "passwords 'x'");
        expect("", "");
        expect("password", "password");
        expect("http://localhost:7432/health", "http://localhost:7432/health");
}

static void test_redact_conninfo(void **state)
{
        expect("CREATE SUBSCRIPTION s CONNECTION 'host=h password=sekrit dbname=d' PUBLICATION p",
               "CREATE SUBSCRIPTION s CONNECTION 'host=h password=" REDACTED " dbname=d' PUBLICATION p");
        expect("CONNECTION 'host=h password=sekrit'", "CONNECTION 'host=h password=" REDACTED "'");
        expect("password = 'se cr\\'et' user=x", "password = '" REDACTED "' user=x");
        expect("PGPASSWORD=sekrit psql", "PGPASSWORD=" REDACTED " psql");
        expect("POSTGRES_PASSWORD=sekrit", "POSTGRES_PASSWORD=" REDACTED);
        expect("url postgresql://app:sekrit@127.0.0.1:5432/app",
               "url postgresql://app:" REDACTED "@127.0.0.1:5432/app");
        expect("postgresql://app@127.0.0.1/app?password=sekrit&sslmode=disable",
               "postgresql://app@127.0.0.1/app?password=" REDACTED "&sslmode=disable");
}

static void test_redact_across_lines(void **state)
{
        RedactState st = {0};
        const char *lines[] = {
                "2026-12-01 20:00:00 UTC [1] STATEMENT:  ALTER ROLE x PASSWORD",
                "\t  'sekrit';",
                "2026-12-01 20:00:01 UTC [1] STATEMENT:  ALTER ROLE x PASSWORD 'sek",
                "rit' LOGIN",
                "after",
                "ALTER ROLE y PASSWORD $q$one",
                "two$q$ done",
        };
        const char *want[] = {
                "2026-12-01 20:00:00 UTC [1] STATEMENT:  ALTER ROLE x PASSWORD",
                "\t  '" REDACTED "';",
                "2026-12-01 20:00:01 UTC [1] STATEMENT:  ALTER ROLE x PASSWORD '" REDACTED,
                REDACTED "' LOGIN",
                "after",
                "ALTER ROLE y PASSWORD $q$" REDACTED,
                REDACTED "$q$ done",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                _cleanup_free_ char *got = redact_secrets(lines[i], &st);
                if (!streq(got, want[i]))
                        fail_msg("line %zu\n  got  %s\n  want %s", i, got, want[i]);
        }
        assert_int_equal(st.quote, 0);
        assert_false(st.keyword);
}

static void test_redact_never_leaks(void **state)
{
        /* Whatever surrounds it, the secret itself never survives. */
        const char *forms[] = {"PASSWORD 'SEKRIT'",   "password E'SEKRIT'",          "PASSWORD $$SEKRIT$$",
                               "password=SEKRIT",     "password='SEKRIT'",           "x://u:SEKRIT@h",
                               "PASSWORD U&'SEKRIT'", "ENCRYPTED PASSWORD 'SEKRIT'", "PASSWORD\"SEKRIT\""};
        const char *around[][2] = {{"", ""}, {"(", ")"}, {"a ", " b"}, {"", ";"}, {"'", "'"}, {"", NULL}};

        for (size_t i = 0; i < ELEMENTSOF(forms); i++)
                for (size_t j = 0; j < ELEMENTSOF(around); j++) {
                        char in[256];
                        /* NULL: the form twice in a row. */
                        snprintf(in, sizeof(in), "%s%s%s", around[j][0], forms[i],
                                 around[j][1] ? around[j][1] : forms[i]);
                        _cleanup_free_ char *got = redact_secrets(in, NULL);
                        if (strstr(got, "SEKRIT"))
                                fail_msg("'%s' -> '%s'", in, got);
                }
}

static void test_env_without_secrets(void **state)
{
        char *env[] = {"PATH=/usr/bin", "PGSEED_PG_PASSWORD=sekrit", "PGPASSWORD=sekrit", "PGSEED_TOKEN=t",
                       "LANG=C.UTF-8",  "PGPASSWORDX=keep",          "MY_PGSEED_X=keep",  NULL};
        _cleanup_free_ char **out = env_without_secrets(env);

        assert_string_equal(out[0], "PATH=/usr/bin");
        assert_string_equal(out[1], "LANG=C.UTF-8");
        assert_string_equal(out[2], "PGPASSWORDX=keep");
        assert_string_equal(out[3], "MY_PGSEED_X=keep");
        assert_null(out[4]);
        /* The strings are env's own. */
        assert_ptr_equal(out[0], env[0]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_redact_sql_literals), cmocka_unit_test(test_redact_leaves_other_text),
                cmocka_unit_test(test_redact_conninfo),     cmocka_unit_test(test_redact_across_lines),
                cmocka_unit_test(test_redact_never_leaks),  cmocka_unit_test(test_env_without_secrets),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
