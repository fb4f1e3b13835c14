/* SPDX-License-Identifier: MIT */
/* fuzz-access.c -- libFuzzer target for the Host/Origin parsers and the log redaction: no crash, no leak. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "redact.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = strndup((const char *) data, size);
        RedactState st = {0};
        AccessOrigin o;
        char host[256];
        unsigned port;

        if (!text)
                return 0;
        if (access_host_parse(text, host, sizeof(host), &port) == 0 && strlen(host) >= sizeof(host))
                abort();
        if (access_origin_parse(text, &o) == 0 && (o.port == 0 || o.port > 65535))
                abort();
        (void) access_host_is_loopback(text);
        /* Line by line with state, as /logs does. */
        for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                free(redact_secrets(line, &st));
        }
        return 0;
}
