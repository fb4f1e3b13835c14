/* SPDX-License-Identifier: MIT */
/* api-sample.c -- TEMPORARY stub for GET /sample. */

#include "api.h"

void api_sample(Request *req)
{
        http_reply_error(req, 501, "not_implemented", NULL, "/sample is not implemented yet");
}
