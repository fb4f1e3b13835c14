/* SPDX-License-Identifier: MIT */
/* jsonfmt.c -- serializing replies (exact reals) and cutting long strings in them. */

#include "jsonfmt.h"

#include <math.h>
#include <stdio.h>

#include "util.h"

static void format_string(Buffer *b, const char *s, size_t len)
{
        size_t run = 0;

        buffer_append(b, "\"", 1);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                char esc[8];

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                buffer_append(b, s + run, i - run);
                run = i + 1;
                switch (c) {
                case '"':
                        buffer_appends(b, "\\\"");
                        break;
                case '\\':
                        buffer_appends(b, "\\\\");
                        break;
                case '\b':
                        buffer_appends(b, "\\b");
                        break;
                case '\f':
                        buffer_appends(b, "\\f");
                        break;
                case '\n':
                        buffer_appends(b, "\\n");
                        break;
                case '\r':
                        buffer_appends(b, "\\r");
                        break;
                case '\t':
                        buffer_appends(b, "\\t");
                        break;
                default:
                        snprintf(esc, sizeof(esc), "\\u%04X", c);
                        buffer_appends(b, esc);
                }
        }
        buffer_append(b, s + run, len - run);
        buffer_append(b, "\"", 1);
}

/*
 * The shortest %g form that reads back as the same double: values from
 * Postgres (numeric 19.99, float8 0.30000000000000004) come out as Postgres
 * printed them.  Kept a real (".0") when it looks like an integer, and the
 * exponent written without "+" and leading zeros, as jansson writes it.
 */
static void format_real(Buffer *b, double v)
{
        char s[40], *exp;

        for (int prec = 1; prec <= 17; prec++) {
                snprintf(s, sizeof(s), "%.*g", prec, v);
                if (strtod(s, NULL) == v)
                        break;
        }
        exp = strchr(s, 'e');
        if (exp) {
                char *p = exp + 1, *digits;

                if (*p == '+')
                        memmove(p, p + 1, strlen(p));
                else if (*p == '-')
                        p++;
                digits = p;
                while (*digits == '0' && digits[1])
                        digits++;
                memmove(p, digits, strlen(digits) + 1);
        } else if (!strchr(s, '.'))
                strcat(s, ".0");
        buffer_appends(b, s);
}

static void format_indent(Buffer *b, size_t depth)
{
        buffer_append(b, "\n", 1);
        for (size_t i = 0; i < depth; i++)
                buffer_append(b, "  ", 2);
}

static void format_value(Buffer *b, const json_t *v, size_t depth)
{
        char num[32];
        const char *key;
        json_t *item;
        size_t i;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                if (json_object_size(v) == 0) {
                        buffer_appends(b, "{}");
                        break;
                }
                buffer_appends(b, "{");
                i = 0;
                json_object_foreach((json_t *) v, key, item)
                {
                        if (i++ > 0)
                                buffer_appends(b, ",");
                        format_indent(b, depth + 1);
                        format_string(b, key, strlen(key));
                        buffer_appends(b, ": ");
                        format_value(b, item, depth + 1);
                }
                format_indent(b, depth);
                buffer_appends(b, "}");
                break;
        case JSON_ARRAY:
                if (json_array_size(v) == 0) {
                        buffer_appends(b, "[]");
                        break;
                }
                buffer_appends(b, "[");
                json_array_foreach(v, i, item)
                {
                        if (i > 0)
                                buffer_appends(b, ",");
                        format_indent(b, depth + 1);
                        format_value(b, item, depth + 1);
                }
                format_indent(b, depth);
                buffer_appends(b, "]");
                break;
        case JSON_STRING:
                format_string(b, json_string_value(v), json_string_length(v));
                break;
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                buffer_appends(b, num);
                break;
        case JSON_REAL:
                format_real(b, json_real_value(v));
                break;
        case JSON_TRUE:
                buffer_appends(b, "true");
                break;
        case JSON_FALSE:
                buffer_appends(b, "false");
                break;
        case JSON_NULL:
                buffer_appends(b, "null");
                break;
        }
}

char *json_format(const json_t *v, size_t *ret_len)
{
        Buffer b = {0};

        format_value(&b, v, 0);
        buffer_append(&b, "\n", 1);
        if (ret_len)
                *ret_len = b.len;
        return b.data;
}

static json_t *truncated_or_null(const json_t *v, size_t max_chars)
{
        _cleanup_free_ char *cut = NULL;
        size_t len;

        if (!json_is_string(v))
                return NULL;
        cut = utf8_truncate(json_string_value(v), json_string_length(v), max_chars, &len);
        return cut ? json_stringn_nocheck(cut, len) : NULL;
}

void json_truncate_strings(json_t *v, size_t max_chars)
{
        json_t *item, *cut;
        size_t i;

        if (json_is_array(v)) {
                json_array_foreach(v, i, item)
                {
                        cut = truncated_or_null(item, max_chars);
                        if (cut)
                                json_array_set_new(v, i, cut);
                        else
                                json_truncate_strings(item, max_chars);
                }
        } else if (json_is_object(v)) {
                /* The iterator API, because it allows replacing values while walking. */
                for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
                        item = json_object_iter_value(it);
                        cut = truncated_or_null(item, max_chars);
                        if (cut)
                                json_object_iter_set_new(v, it, cut);
                        else
                                json_truncate_strings(item, max_chars);
                }
        }
}
