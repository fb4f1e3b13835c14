/* SPDX-License-Identifier: MIT */
/* fuzz-sqlsplit.c -- libFuzzer target for the SQL statement splitter: no crash, no hang, no text invented. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlfile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = strndup((const char *) data, size);
        _cleanup_strv_free_ char **v = NULL;
        size_t total = 0;

        if (!text)
                return 0;
        v = sql_split(text);
        /* Every statement is a trimmed piece of the input: together never longer than it. */
        for (char **s = v; *s; s++) {
                if (!**s)
                        abort();
                total += strlen(*s);
        }
        if (total > strlen(text))
                abort();
        return 0;
}
