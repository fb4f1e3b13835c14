/* SPDX-License-Identifier: MIT */
/* ctl-render.c -- API answers as text for people: health, status, schema, sample tables, progress. */

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "ctl-render.h"
#include "util.h"

#define ELLIPSIS       "\xe2\x80\xa6" /* U+2026, one column wide */
#define MIN_COLUMN     10             /* narrower than this, a cut cell says little: drop columns instead */
#define STATUS_LABEL_W 14

/* ---- small formatters ---------------------------------------------------- */

char *format_count(int64_t n, char *buf, size_t size)
{
        char digits[24], out[40];
        uint64_t u = n < 0 ? -(uint64_t) n : (uint64_t) n;
        int len = snprintf(digits, sizeof(digits), "%" PRIu64, u);
        size_t o = 0;

        if (n < 0)
                out[o++] = '-';
        for (int i = 0; i < len; i++) {
                if (i > 0 && (len - i) % 3 == 0)
                        out[o++] = ',';
                out[o++] = digits[i];
        }
        out[o] = '\0';
        strlcpy0(buf, out, size);
        return buf;
}

char *format_duration_ms(int64_t ms, char *buf, size_t size)
{
        int64_t s = ms / 1000;

        if (ms < 0)
                ms = 0;
        if (ms < 1000)
                snprintf(buf, size, "%" PRId64 " ms", ms);
        else if (ms < 60000)
                snprintf(buf, size, "%.1fs", (double) (ms / 100) / 10.0);
        else if (s < 3600)
                snprintf(buf, size, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, size, "%" PRId64 "h %02" PRId64 "m", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, size, "%" PRId64 "d %02" PRId64 "h", s / 86400, s % 86400 / 3600);
        return buf;
}

/* A string for text built piece by piece; open_memstream grows it.  Aborts on OOM like xmalloc. */
static FILE *membuf_open(char **ret, size_t *ret_size)
{
        FILE *f = open_memstream(ret, ret_size);

        if (!f)
                abort();
        return f;
}

/* ---- text width ------------------------------------------------------------ */

/*
 * Decodes one UTF-8 sequence at s (not at its end).  Returns its length in
 * bytes and the code point, or length 1 and -1 for a byte that does not start
 * a valid, shortest-form sequence.
 */
static size_t utf8_decode(const char *s, int32_t *ret)
{
        const unsigned char *p = (const unsigned char *) s;
        size_t n;
        int32_t cp, min;

        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        } else if ((p[0] & 0xe0) == 0xc0) {
                n = 2, cp = p[0] & 0x1f, min = 0x80;
        } else if ((p[0] & 0xf0) == 0xe0) {
                n = 3, cp = p[0] & 0x0f, min = 0x800;
        } else if ((p[0] & 0xf8) == 0xf0) {
                n = 4, cp = p[0] & 0x07, min = 0x10000;
        } else {
                *ret = -1;
                return 1;
        }
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80) {
                        *ret = -1;
                        return 1;
                }
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                *ret = -1;
                return 1;
        }
        *ret = cp;
        return n;
}

static size_t char_width(int32_t cp)
{
        int w;

        if (cp < 0)
                return 1;
        w = wcwidth((wchar_t) cp);
        /* Unknown to the locale's tables (or a control character): assume one column rather than none. */
        return w < 0 ? 1 : (size_t) w;
}

size_t text_width(const char *s)
{
        size_t w = 0;

        while (*s) {
                int32_t cp;
                s += utf8_decode(s, &cp);
                w += char_width(cp);
        }
        return w;
}

size_t text_prefix_for_width(const char *s, size_t width)
{
        size_t w = 0, off = 0;

        while (s[off]) {
                int32_t cp;
                size_t n = utf8_decode(s + off, &cp), cw = char_width(cp);
                if (w + cw > width)
                        break;
                w += cw;
                off += n;
        }
        return off;
}

/* ---- values -------------------------------------------------------------------- */

/* Copies s to f with everything that would move the cursor or talk to the terminal made visible. */
static void escape_text(FILE *f, const char *s)
{
        while (*s) {
                unsigned char c = (unsigned char) *s;
                int32_t cp;
                size_t n;

                if (c == '\n' || c == '\t' || c == '\r') {
                        fputc('\\', f);
                        fputc(c == '\n' ? 'n' : c == '\t' ? 't' : 'r', f);
                        s++;
                        continue;
                }
                if (c < 0x20 || c == 0x7f) {
                        fprintf(f, "\\x%02x", c);
                        s++;
                        continue;
                }
                n = utf8_decode(s, &cp);
                if (cp < 0)
                        fprintf(f, "\\x%02x", c);
                /* C1 controls: some terminals take U+009B as CSI, so they are as dangerous as ESC. */
                else if (cp >= 0x80 && cp <= 0x9f)
                        fprintf(f, "\\u%04x", (unsigned) cp);
                else
                        fwrite(s, 1, n, f);
                s += n;
        }
}

char *render_value(const json_t *v)
{
        char *out = NULL, *dump;
        size_t size = 0;
        FILE *f;

        if (!v)
                return xstrdup("NULL");
        switch (json_typeof(v)) {
        case JSON_STRING:
                f = membuf_open(&out, &size);
                escape_text(f, json_string_value(v));
                fclose(f);
                return out;
        case JSON_INTEGER:
                return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        case JSON_TRUE:
                return xstrdup("true");
        case JSON_FALSE:
                return xstrdup("false");
        case JSON_REAL:
        case JSON_OBJECT:
        case JSON_ARRAY:
                dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
                if (!dump)
                        abort();
                f = membuf_open(&out, &size);
                escape_text(f, dump);
                fclose(f);
                free(dump);
                return out;
        case JSON_NULL:
        default:
                return xstrdup("NULL");
        }
}

/* ---- tables ---------------------------------------------------------------------- */

int terminal_width(void)
{
        struct winsize ws;
        const char *env = getenv("COLUMNS");
        int64_t n;

        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                return ws.ws_col;
        if (env && parse_int64(env, 20, 100000, &n) == 0)
                return (int) n;
        return 120;
}

/*
 * Narrows columns until the row fits avail columns: the widest ones give up
 * width first, down to the next widest, so short columns (ids, counts) stay
 * whole and long text absorbs the cut.  No column goes below its minimum.
 */
static void columns_fit(size_t n, size_t *w, const size_t *min, size_t avail)
{
        size_t total = 0;

        for (size_t c = 0; c < n; c++)
                total += w[c];
        while (total > avail) {
                size_t max = 0, second = 0, count = 0, excess = total - avail, step;

                for (size_t c = 0; c < n; c++)
                        if (w[c] > min[c] && w[c] > max)
                                max = w[c];
                if (max == 0)
                        break; /* everything at its minimum: the line will be wider than asked */
                for (size_t c = 0; c < n; c++) {
                        if (w[c] < max && w[c] > second)
                                second = w[c];
                        if (w[c] == max && w[c] > min[c])
                                count++;
                }
                step = max - second;
                if (step > (excess + count - 1) / count)
                        step = (excess + count - 1) / count;
                for (size_t c = 0; c < n && excess > 0; c++) {
                        size_t cut;
                        if (w[c] != max || w[c] <= min[c])
                                continue;
                        cut = step < w[c] - min[c] ? step : w[c] - min[c];
                        if (cut > excess)
                                cut = excess;
                        w[c] -= cut;
                        total -= cut;
                        excess -= cut;
                }
        }
}

/* The width of the first n bytes of s (n on a character boundary). */
static size_t text_width_n(const char *s, size_t n)
{
        size_t w = 0, off = 0;

        while (off < n && s[off]) {
                int32_t cp;
                off += utf8_decode(s + off, &cp);
                w += char_width(cp);
        }
        return w;
}

/* Prints s in exactly width columns: cut with an ellipsis when longer, padded unless last and left. */
static void cell_print(FILE *f, const char *s, size_t width, bool right, bool last)
{
        size_t tw = text_width(s), used;

        if (tw > width) {
                size_t n = text_prefix_for_width(s, width > 0 ? width - 1 : 0);
                fwrite(s, 1, n, f);
                fputs(ELLIPSIS, f);
                used = text_width_n(s, n) + 1;
                for (; used < width; used++)
                        fputc(' ', f);
                return;
        }
        if (right)
                for (size_t i = tw; i < width; i++)
                        fputc(' ', f);
        fputs(s, f);
        if (!right && !last)
                for (size_t i = tw; i < width; i++)
                        fputc(' ', f);
}

size_t render_table(FILE *f, size_t n_cols, const char *const *headers, const bool *right, size_t n_rows,
                    const char *const *cells, int width, int indent)
{
        _cleanup_free_ size_t *w = NULL, *min = NULL;
        size_t shown, need, avail;

        if (n_cols == 0)
                return 0;
        w = xcalloc(n_cols, sizeof(size_t));
        min = xcalloc(n_cols, sizeof(size_t));
        for (size_t c = 0; c < n_cols; c++) {
                w[c] = text_width(headers[c]);
                for (size_t r = 0; r < n_rows; r++) {
                        size_t cw = text_width(cells[r * n_cols + c]);
                        if (cw > w[c])
                                w[c] = cw;
                }
                min[c] = w[c] < MIN_COLUMN ? w[c] : MIN_COLUMN;
        }
        /* Columns that cannot get even their minimum are left out (from the right) rather than squeezed. */
        for (shown = n_cols; shown > 1; shown--) {
                need = (size_t) indent + 3 * (shown - 1);
                for (size_t c = 0; c < shown; c++)
                        need += min[c];
                if (need <= (size_t) (width > 0 ? width : 0))
                        break;
        }
        need = (size_t) indent + 3 * (shown - 1);
        avail = (size_t) (width > 0 ? width : 0) > need ? (size_t) width - need : 0;
        columns_fit(shown, w, min, avail);

        fprintf(f, "%*s", indent, "");
        for (size_t c = 0; c < shown; c++) {
                if (c > 0)
                        fputs(" | ", f);
                cell_print(f, headers[c], w[c], right && right[c], c + 1 == shown);
        }
        fprintf(f, "\n%*s", indent, "");
        for (size_t c = 0; c < shown; c++) {
                if (c > 0)
                        fputs("-+-", f);
                for (size_t i = 0; i < w[c]; i++)
                        fputc('-', f);
        }
        fputc('\n', f);
        for (size_t r = 0; r < n_rows; r++) {
                fprintf(f, "%*s", indent, "");
                for (size_t c = 0; c < shown; c++) {
                        if (c > 0)
                                fputs(" | ", f);
                        cell_print(f, cells[r * n_cols + c], w[c], right && right[c], c + 1 == shown);
                }
                fputc('\n', f);
        }
        return shown;
}

/* ---- JSON access ----------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

/* An integer member (reals are rounded), or def when it is missing or not a number. */
static int64_t jint(const json_t *o, const char *key, int64_t def)
{
        json_t *v = json_object_get(o, key);

        if (json_is_integer(v))
                return json_integer_value(v);
        if (json_is_real(v))
                return (int64_t) llround(json_real_value(v));
        return def;
}

/* "schema.name", or just "name" for the public schema when short is set.  Caller frees. */
static char *qualified_name(const char *schema, const char *name, bool short_public)
{
        if (isempty(schema) || (short_public && streq(schema, "public")))
                return xstrdup(name ? name : "?");
        return xasprintf("%s.%s", schema, name ? name : "?");
}

/* The row count /health reports for a table, or -1. */
static int64_t table_count(const json_t *counts, const char *schema, const char *name)
{
        size_t i;
        json_t *t;

        json_array_foreach(counts, i, t)
        {
                if (streq_ptr(jstr(t, "name"), name) &&
                    streq(jstr(t, "schema") ?: "public", schema ?: "public"))
                        return jint(t, "rows", -1);
        }
        return -1;
}

/* Joins a JSON array of strings with sep ("a, b"); non-strings are skipped.  Caller frees. */
static char *join_strings(const json_t *a, const char *sep)
{
        char *out = NULL;
        size_t size = 0, i;
        bool first = true;
        json_t *v;
        FILE *f = membuf_open(&out, &size);

        json_array_foreach(a, i, v)
        {
                if (!json_is_string(v))
                        continue;
                fprintf(f, "%s%s", first ? "" : sep, json_string_value(v));
                first = false;
        }
        fclose(f);
        return out;
}

/* ---- health ---------------------------------------------------------------------- */

/* The bare version number: "15.4 (Debian 15.4-1)" -> "15.4". */
static void short_version(const char *v, char *buf, size_t size)
{
        bufprintf(buf, size, "%.*s", (int) strcspn(v, " "), v);
}

static double seeding_percent(const json_t *seeding)
{
        json_t *p = json_object_get(seeding, "percent");
        int64_t loaded = jint(seeding, "rows_loaded", 0), total = jint(seeding, "rows_total", 0);

        if (json_is_number(p))
                return json_number_value(p);
        return total > 0 ? 100.0 * (double) loaded / (double) total : 0.0;
}

char *render_health_line(const json_t *h)
{
        const char *status = jstr(h, "status"), *reason = jstr(h, "reason"),
                   *version = jstr(h, "postgres_version");
        json_t *seeding = json_object_get(h, "seeding"), *tables = json_object_get(h, "tables");
        char *out = NULL, a[32], b[32];
        size_t size = 0;
        const char *sep = " (";
        FILE *f = membuf_open(&out, &size);

        fprintf(f, "%s", status ? status : "unknown");
        if (!isempty(reason))
                fprintf(f, ": %s", reason);
        if (json_is_object(seeding)) {
                fprintf(f, "%s%s %.0f%%", sep, jstr(seeding, "phase") ?: "seeding",
                        seeding_percent(seeding));
                if (jint(seeding, "rows_total", 0) > 0)
                        fprintf(f, ", %s/%s rows",
                                format_count(jint(seeding, "rows_loaded", 0), a, sizeof(a)),
                                format_count(jint(seeding, "rows_total", 0), b, sizeof(b)));
                sep = ", ";
        }
        if (!isempty(version)) {
                short_version(version, a, sizeof(a));
                fprintf(f, "%sPostgreSQL %s", sep, a);
                sep = ", ";
        }
        if (json_is_array(tables)) {
                size_t n = json_array_size(tables);
                int64_t rows = jint(h, "rows_total", -1);
                if (rows < 0) {
                        size_t i;
                        json_t *t;
                        rows = 0;
                        json_array_foreach(tables, i, t)
                        {
                                rows += jint(t, "rows", 0);
                        }
                }
                fprintf(f, "%s%s rows in %zu table%s", sep, format_count(rows, a, sizeof(a)), n,
                        n == 1 ? "" : "s");
                sep = ", ";
        }
        if (!streq(sep, " ("))
                fputc(')', f);
        fclose(f);
        return out;
}

char *render_progress_line(const json_t *seeding, int width)
{
        const char *phase = jstr(seeding, "phase");
        double pct = seeding_percent(seeding);
        int64_t total = jint(seeding, "rows_total", 0);
        char rest[256], a[32], b[32], d[32], *line;
        size_t rest_w, len;
        int bar, filled;

        if (pct < 0)
                pct = 0;
        if (pct > 100)
                pct = 100;
        /* Tenths of a second throughout, so the line does not jump between "850 ms" and "1.2s". */
        if (jint(seeding, "elapsed_ms", 0) < 60000)
                snprintf(d, sizeof(d), "%.1fs", (double) (jint(seeding, "elapsed_ms", 0) / 100) / 10.0);
        else
                format_duration_ms(jint(seeding, "elapsed_ms", 0), d, sizeof(d));
        if (total > 0)
                snprintf(rest, sizeof(rest), "%3.0f%%  seeding: %s  %s/%s rows  %s", pct,
                         phase ? phase : "?", format_count(jint(seeding, "rows_loaded", 0), a, sizeof(a)),
                         format_count(total, b, sizeof(b)), d);
        else
                snprintf(rest, sizeof(rest), "%3.0f%%  seeding: %s  %s", pct, phase ? phase : "?", d);
        rest_w = text_width(rest);
        /* "[" bar "] " rest, one column spare so that a redrawn line never wraps. */
        bar = width - (int) rest_w - 4;
        if (bar > 40)
                bar = 40;
        if (bar < 10)
                bar = 10;
        filled = (int) lround(pct / 100.0 * bar);

        line = xmalloc((size_t) bar + sizeof(rest) + 8);
        line[0] = '[';
        for (int i = 0; i < bar; i++)
                line[1 + i] = i < filled ? '#' : '.';
        snprintf(line + 1 + bar, sizeof(rest) + 7, "] %s", rest);
        /* Too narrow a terminal: cut rather than wrap (wrapping breaks the in-place redraw). */
        if (width > 1 && text_width(line) > (size_t) width - 1) {
                len = text_prefix_for_width(line, (size_t) width - 1);
                line[len] = '\0';
        }
        return line;
}

/* ---- status ---------------------------------------------------------------------- */

static void status_field(FILE *f, const char *label, const char *fmt, ...) _printf_(3, 4);
static void status_field(FILE *f, const char *label, const char *fmt, ...)
{
        va_list ap;

        fprintf(f, "%-*s", STATUS_LABEL_W, label);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
}

static void status_tables(FILE *f, const json_t *h)
{
        json_t *tables = json_object_get(h, "tables"), *t;
        size_t i, n = json_array_size(tables), name_w = 0, count_w = 0;
        int64_t total = jint(h, "rows_total", 0);
        char a[32];

        if (!json_is_array(tables)) {
                status_field(f, "Tables:", "unknown (the database is not reachable yet)");
                return;
        }
        status_field(f, "Tables:", "%zu, %s rows", n, format_count(total, a, sizeof(a)));
        json_array_foreach(tables, i, t)
        {
                _cleanup_free_ char *name = qualified_name(jstr(t, "schema"), jstr(t, "name"), false);
                size_t w = text_width(name), cw = strlen(format_count(jint(t, "rows", 0), a, sizeof(a)));
                if (w > name_w)
                        name_w = w;
                if (cw > count_w)
                        count_w = cw;
        }
        json_array_foreach(tables, i, t)
        {
                _cleanup_free_ char *name = qualified_name(jstr(t, "schema"), jstr(t, "name"), false);
                fprintf(f, "%-*s%s%*s  %*s\n", STATUS_LABEL_W, "", name, (int) (name_w - text_width(name)),
                        "", (int) count_w, format_count(jint(t, "rows", 0), a, sizeof(a)));
        }
}

static void status_cdc(FILE *f, const json_t *cdc)
{
        json_t *pub = json_object_get(cdc, "publication"),
               *slots = json_object_get(cdc, "replication_slots"), *s;
        size_t i;

        if (!json_is_object(cdc))
                return;
        status_field(f, "WAL level:", "%s", jstr(cdc, "wal_level") ?: "unknown");
        if (json_is_object(pub)) {
                const char *name = jstr(pub, "name") ?: "?";
                if (json_is_true(json_object_get(pub, "exists"))) {
                        int64_t n = jint(pub, "tables", -1);
                        if (n >= 0)
                                status_field(f, "Publication:", "%s (%" PRId64 " table%s)", name, n,
                                             n == 1 ? "" : "s");
                        else
                                status_field(f, "Publication:", "%s", name);
                } else
                        status_field(f, "Publication:", "%s (does not exist)", name);
        }
        if (json_array_size(slots) == 0) {
                status_field(f, "Slots:", "none");
                return;
        }
        json_array_foreach(slots, i, s)
        {
                const char *lsn = jstr(s, "confirmed_flush_lsn");
                fprintf(f, "%-*s%s: %s%s%s, %s", STATUS_LABEL_W, i == 0 ? "Slots:" : "",
                        jstr(s, "name") ?: "?", jstr(s, "type") ?: "", jstr(s, "plugin") ? " " : "",
                        jstr(s, "plugin") ?: "",
                        json_is_true(json_object_get(s, "active")) ? "active" : "inactive");
                if (jstr(s, "database"))
                        fprintf(f, ", database %s", jstr(s, "database"));
                if (lsn)
                        fprintf(f, ", confirmed flush %s", lsn);
                fputc('\n', f);
        }
}

/* Scalar members of an object as "key value, key value"; nested values as compact JSON. */
static void status_object(FILE *f, const char *label, const json_t *o)
{
        const char *key;
        json_t *v;
        bool first = true;

        fprintf(f, "%-*s", STATUS_LABEL_W, label);
        json_object_foreach((json_t *) o, key, v)
        {
                /* Nested details (per-table counts) are shown elsewhere or belong in --json. */
                if (json_is_object(v) || json_is_array(v))
                        continue;
                _cleanup_free_ char *text = render_value(v);
                fprintf(f, "%s%s %s", first ? "" : ", ", key, text);
                first = false;
        }
        fputc('\n', f);
}

void render_status(FILE *f, const json_t *h)
{
        const char *since = jstr(h, "since"), *why = jstr(h, "runtime_reason"), *id = jstr(h, "runtime_id");
        json_t *db = json_object_get(h, "database"), *seeding = json_object_get(h, "seeding");
        json_t *dataset = json_object_get(h, "dataset");
        char a[32];

        if (since)
                status_field(f, "Status:", "%s (since %s)", jstr(h, "status") ?: "unknown", since);
        else
                status_field(f, "Status:", "%s", jstr(h, "status") ?: "unknown");
        if (jstr(h, "reason"))
                status_field(f, "Reason:", "%s", jstr(h, "reason"));
        if (jstr(h, "runtime"))
                status_field(f, "Runtime:", "%s%s%s%s%s%s", jstr(h, "runtime"), why ? " (" : "", why ?: "",
                             why ? ")" : "", id ? ", " : "", id ?: "");
        if (jstr(db, "url"))
                status_field(f, "Database:", "%s", jstr(db, "url"));
        status_field(f, "Postgres:", "%s", jstr(h, "postgres_version") ?: "not connected");
        if (json_object_get(h, "uptime_s")) {
                int64_t up = jint(h, "uptime_s", 0);
                /* Whole seconds is all /health knows: "4s", not "4.0s" or "0 ms". */
                if (up < 60)
                        status_field(f, "Uptime:", "%" PRId64 "s", up < 0 ? 0 : up);
                else
                        status_field(f, "Uptime:", "%s", format_duration_ms(up * 1000, a, sizeof(a)));
        }
        status_field(f, "Restarts:", "%" PRId64, jint(h, "restarts", 0));
        if (jstr(h, "checked_at")) {
                int64_t age = jint(h, "checked_age_ms", -1);
                if (age >= 0)
                        status_field(f, "Checked:", "%s (%s ago)", jstr(h, "checked_at"),
                                     format_duration_ms(age, a, sizeof(a)));
                else
                        status_field(f, "Checked:", "%s", jstr(h, "checked_at"));
        } else
                status_field(f, "Checked:", "not yet");
        if (json_is_object(seeding)) {
                _cleanup_free_ char *bar = render_progress_line(seeding, 80 - STATUS_LABEL_W);
                status_field(f, "Seeding:", "%s", bar);
        }
        if (json_is_object(dataset) && json_object_size(dataset) > 0)
                status_object(f, "Dataset:", dataset);
        status_tables(f, h);
        status_cdc(f, json_object_get(h, "cdc"));
}

/* ---- schema ---------------------------------------------------------------------- */

static void schema_columns(FILE *f, const json_t *columns, int width)
{
        static const char *const headers[] = {"column", "type", "null", "default"};
        size_t n = json_array_size(columns), i;
        _cleanup_free_ char **cells = xcalloc(n * 4 + 1, sizeof(char *));
        json_t *c;

        json_array_foreach(columns, i, c)
        {
                json_t *def = json_object_get(c, "default");
                cells[i * 4] = xstrdup(jstr(c, "name") ?: "?");
                cells[i * 4 + 1] = xstrdup(jstr(c, "type") ?: "");
                cells[i * 4 + 2] =
                        xstrdup(json_is_false(json_object_get(c, "nullable")) ? "not null" : "null");
                cells[i * 4 + 3] = def && !json_is_null(def) ? render_value(def) : xstrdup("");
        }
        render_table(f, 4, headers, NULL, n, (const char *const *) cells, width, 2);
        for (i = 0; i < n * 4; i++)
                free(cells[i]);
}

static void schema_foreign_key(FILE *f, const json_t *fk)
{
        json_t *ref = json_object_get(fk, "references");
        _cleanup_free_ char *cols = join_strings(json_object_get(fk, "columns"), ", ");
        _cleanup_free_ char *rcols = join_strings(json_object_get(ref, "columns"), ", ");
        _cleanup_free_ char *target = qualified_name(jstr(ref, "schema"), jstr(ref, "table"), false);
        const char *del = jstr(fk, "on_delete"), *upd = jstr(fk, "on_update");

        fprintf(f, "    %s (%s) -> %s(%s)", jstr(fk, "name") ?: "?", cols, target, rcols);
        if (del)
                fprintf(f, " ON DELETE %s", del);
        if (upd && !streq(upd, "NO ACTION"))
                fprintf(f, " ON UPDATE %s", upd);
        fputc('\n', f);
}

static void schema_index(FILE *f, const json_t *ix)
{
        const char *def = jstr(ix, "definition");

        if (def) {
                fprintf(f, "    %s: %s\n", jstr(ix, "name") ?: "?", def);
                return;
        }
        _cleanup_free_ char *cols = join_strings(json_object_get(ix, "columns"), ", ");
        const char *kind = "";
        if (json_is_true(json_object_get(ix, "primary")))
                kind = " primary key";
        else if (json_is_true(json_object_get(ix, "unique")))
                kind = " unique";
        fprintf(f, "    %s (%s)%s\n", jstr(ix, "name") ?: "?", cols, kind);
}

/* "BEFORE INSERT OR UPDATE FOR EACH ROW EXECUTE FUNCTION f()" from the parts, else the definition. */
static void schema_trigger(FILE *f, const json_t *t)
{
        const char *timing = jstr(t, "timing"), *level = jstr(t, "level"), *fn = jstr(t, "function");
        json_t *events = json_object_get(t, "events");

        fprintf(f, "    %s: ", jstr(t, "name") ?: "?");
        if (timing && fn) {
                _cleanup_free_ char *ev = json_is_array(events) ? join_strings(events, " OR ")
                                                                : xstrdup(jstr(t, "events") ?: "");
                fprintf(f, "%s %s", timing, ev);
                if (level)
                        fprintf(f, " FOR EACH %s", level);
                fprintf(f, " EXECUTE FUNCTION %s%s\n", fn, strchr(fn, '(') ? "" : "()");
        } else
                fprintf(f, "%s\n", jstr(t, "definition") ?: "?");
}

static void schema_table(FILE *f, const json_t *t, int width)
{
        _cleanup_free_ char *name = qualified_name(jstr(t, "schema"), jstr(t, "name"), false);
        json_t *pk = json_object_get(t, "primary_key"), *list, *v;
        int64_t rows = jint(t, "rows", -1);
        char a[32];
        size_t i;

        if (rows >= 0)
                fprintf(f, "%s (%s row%s)\n", name, format_count(rows, a, sizeof(a)), rows == 1 ? "" : "s");
        else
                fprintf(f, "%s\n", name);
        schema_columns(f, json_object_get(t, "columns"), width);

        if (json_is_object(pk)) {
                _cleanup_free_ char *cols = join_strings(json_object_get(pk, "columns"), ", ");
                fprintf(f, "  Primary key: %s (%s)\n", jstr(pk, "name") ?: "?", cols);
        } else
                fprintf(f, "  Primary key: none\n");
        list = json_object_get(t, "foreign_keys");
        if (json_array_size(list) > 0) {
                fprintf(f, "  Foreign keys:\n");
                json_array_foreach(list, i, v)
                {
                        schema_foreign_key(f, v);
                }
        }
        list = json_object_get(t, "indexes");
        if (json_array_size(list) > 0) {
                fprintf(f, "  Indexes:\n");
                json_array_foreach(list, i, v)
                {
                        schema_index(f, v);
                }
        }
        list = json_object_get(t, "triggers");
        if (json_array_size(list) > 0) {
                fprintf(f, "  Triggers:\n");
                json_array_foreach(list, i, v)
                {
                        schema_trigger(f, v);
                }
        }
}

void render_schema(FILE *f, const json_t *schema, int width)
{
        json_t *one = json_object_get(schema, "table"), *s, *t;
        size_t i, j;
        bool first = true;

        if (json_is_object(one)) {
                schema_table(f, one, width);
                return;
        }
        json_array_foreach(json_object_get(schema, "schemas"), i, s)
        {
                json_array_foreach(json_object_get(s, "tables"), j, t)
                {
                        if (!first)
                                fputc('\n', f);
                        schema_table(f, t, width);
                        first = false;
                }
        }
        if (first)
                fprintf(f, "No tables in database %s.\n", jstr(schema, "database") ?: "?");
}

/* ---- sample ---------------------------------------------------------------------- */

static const char *column_name(const json_t *c)
{
        return json_is_string(c) ? json_string_value(c) : jstr(c, "name");
}

static void sample_one(FILE *f, const json_t *s, const json_t *counts, int width)
{
        json_t *table = json_object_get(s, "table"), *columns = json_object_get(s, "columns");
        json_t *rows = json_object_get(s, "rows"), *order = json_object_get(s, "order"), *row, *c;
        const char *schema = jstr(table, "schema"), *tname = jstr(table, "name");
        _cleanup_free_ char *name = qualified_name(schema, tname, false);
        size_t n_cols = json_array_size(columns), n_rows = json_array_size(rows), i, j, shown;
        int64_t offset = jint(s, "offset", 0), total = table_count(counts, schema, tname);
        char a[32], b[32], d[32];

        fprintf(f, "%s: ", name);
        if (n_rows == 0)
                fprintf(f, "no rows%s%s", offset > 0 ? " at offset " : "",
                        offset > 0 ? format_count(offset, a, sizeof(a)) : "");
        else if (n_rows == 1)
                fprintf(f, "row %s", format_count(offset + 1, a, sizeof(a)));
        else
                fprintf(f, "rows %s-%s", format_count(offset + 1, a, sizeof(a)),
                        format_count(offset + (int64_t) n_rows, b, sizeof(b)));
        if (total >= 0)
                fprintf(f, " of %s", format_count(total, d, sizeof(d)));
        if (jstr(order, "column"))
                fprintf(f, ", ordered by %s%s", jstr(order, "column"),
                        streq_ptr(jstr(order, "direction"), "desc") ? " desc" : "");
        fputc('\n', f);
        if (n_cols == 0 || n_rows == 0)
                return;

        _cleanup_free_ const char **headers = xcalloc(n_cols, sizeof(char *));
        _cleanup_free_ char **cells = xcalloc(n_cols * n_rows, sizeof(char *));
        _cleanup_free_ bool *right = xcalloc(n_cols, sizeof(bool));
        _cleanup_free_ bool *seen = xcalloc(n_cols, sizeof(bool));

        json_array_foreach(columns, j, c)
        {
                headers[j] = column_name(c) ?: "?";
                right[j] = true;
        }
        json_array_foreach(rows, i, row)
        {
                for (j = 0; j < n_cols; j++) {
                        /* Rows are objects keyed by column; accept positional arrays too. */
                        json_t *v = json_is_array(row) ? json_array_get(row, j)
                                                       : json_object_get(row, headers[j]);
                        cells[i * n_cols + j] = render_value(v);
                        if (v && !json_is_null(v)) {
                                seen[j] = true;
                                if (!json_is_number(v))
                                        right[j] = false;
                        }
                }
        }
        /* Numbers read best right-aligned; a column of only NULLs stays left. */
        for (j = 0; j < n_cols; j++)
                right[j] = right[j] && seen[j];
        shown = render_table(f, n_cols, headers, right, n_rows, (const char *const *) cells, width, 0);
        if (shown < n_cols) {
                fprintf(f, "(%zu more column%s not shown:", n_cols - shown, n_cols - shown == 1 ? "" : "s");
                for (j = shown; j < n_cols; j++)
                        fprintf(f, "%s %s", j > shown ? "," : "", headers[j]);
                fprintf(f, "; pick columns with --columns)\n");
        }
        for (i = 0; i < n_cols * n_rows; i++)
                free(cells[i]);
}

void render_sample(FILE *f, const json_t *sample, const json_t *counts, int width)
{
        json_t *tables = json_object_get(sample, "tables"), *s;
        size_t i;

        if (!json_is_array(tables)) {
                sample_one(f, sample, counts, width);
                return;
        }
        json_array_foreach(tables, i, s)
        {
                if (i > 0)
                        fputc('\n', f);
                sample_one(f, s, counts, width);
        }
        if (json_array_size(tables) == 0)
                fprintf(f, "No tables.\n");
}

/* ---- reset ----------------------------------------------------------------------- */

char *render_reset(const json_t *reset)
{
        json_t *tables = json_object_get(reset, "tables"), *t;
        char *out = NULL, a[32];
        size_t size = 0, i;
        FILE *f = membuf_open(&out, &size);

        if (jstr(reset, "snapshot"))
                fprintf(f, "reset from snapshot %s in %s", jstr(reset, "snapshot"),
                        format_duration_ms(jint(reset, "duration_ms", 0), a, sizeof(a)));
        else
                fprintf(f, "reset (%s) in %s", jstr(reset, "mode") ?: "?",
                        format_duration_ms(jint(reset, "duration_ms", 0), a, sizeof(a)));
        int64_t deleted = 0, updated = 0, inserted = 0;
        bool diff = false;

        json_array_foreach(tables, i, t)
        {
                _cleanup_free_ char *name = qualified_name(jstr(t, "schema"), jstr(t, "name"), true);
                fprintf(f, "%s%s %s", i == 0 ? ": " : ", ", name,
                        format_count(jint(t, "rows", 0), a, sizeof(a)));
                /* An in-place reset says how many rows it had to put back. */
                if (json_object_get(t, "deleted") || json_object_get(t, "updated") ||
                    json_object_get(t, "inserted"))
                        diff = true;
                deleted += jint(t, "deleted", 0);
                updated += jint(t, "updated", 0);
                inserted += jint(t, "inserted", 0);
        }
        if (diff)
                fprintf(f, " (rows deleted %" PRId64 ", updated %" PRId64 ", inserted %" PRId64 ")", deleted,
                        updated, inserted);
        fclose(f);
        return out;
}
