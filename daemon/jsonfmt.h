/* SPDX-License-Identifier: MIT */
/* jsonfmt.h -- JSON as the API writes it: jansson's layout with exact, shortest real numbers. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/*
 * Serializes v with 2-space indents and a trailing newline, writing each real
 * number in the shortest form that reads back as the same double (19.99, not
 * jansson's 19.989999999999998).  Returns a new string and its length in
 * *ret_len (may be NULL).
 */
char *json_format(const json_t *v, size_t *ret_len);

/* Cuts every string value inside v to max_chars characters plus "…" (object keys are left alone). */
void json_truncate_strings(json_t *v, size_t max_chars);
