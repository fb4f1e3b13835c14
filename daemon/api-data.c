/* SPDX-License-Identifier: MIT */
/* api-data.c -- TEMPORARY stub for /reset (issue 3). */

#include "api.h"

void api_reset(Request *req)
{
        http_reply_error(req, 501, "not_implemented", NULL, "/reset is not implemented yet");
}
