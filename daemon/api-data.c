/* SPDX-License-Identifier: MIT */
/* api-data.c -- TEMPORARY stubs for /schema, /sample and /reset (issue 3). */

#include "api.h"

void api_schema(Request *req)
{
        http_reply_error(req, 501, "not_implemented", NULL, "/schema is not implemented yet");
}

void api_sample(Request *req)
{
        http_reply_error(req, 501, "not_implemented", NULL, "/sample is not implemented yet");
}

void api_reset(Request *req)
{
        http_reply_error(req, 501, "not_implemented", NULL, "/reset is not implemented yet");
}
