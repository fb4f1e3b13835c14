/* SPDX-License-Identifier: MIT */
/* api-schema.c -- TEMPORARY stub for GET /schema. */

#include "api.h"

void api_schema(Request *req)
{
        http_reply_error(req, 501, "not_implemented", NULL, "/schema is not implemented yet");
}
