/* SPDX-License-Identifier: MIT */
/* fuzz-config.c -- libFuzzer target for the INI parser: any text gives 0 or a filled error, never a crash. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = strndup((const char *) data, size);
        _cleanup_(config_freep) Config *c = config_new_defaults();
        Error e = ERROR_INIT;
        int r;

        if (!text)
                return 0;
        r = config_parse_text(c, text, "fuzz.conf", &e);
        if (r < 0 && (!*e.message || !*e.code))
                abort();
        if (r == 0)
                (void) config_finish(c, &e);
        return 0;
}
