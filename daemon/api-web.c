/* SPDX-License-Identifier: MIT */
/* api-web.c -- the dashboard: one page, its script and style, compiled in (daemon/web/, see embed.py). */

#include <string.h>

#include "api.h"
#include "embedded.h"

/*
 * The page runs only its own script and style, talks only to this origin and
 * may not be framed (clickjacking a reset button): no inline code at all, so
 * no hashes to keep in step with the files.
 */
static const char web_csp[] =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const EmbeddedFile *embedded_find(const char *name)
{
        for (const EmbeddedFile *f = embedded_files; f->name; f++)
                if (streq(f->name, name))
                        return f;
        return NULL;
}

bool web_wants_page(Request *req)
{
        const char *accept = request_header(req, "Accept"), *html, *json;

        http_add_header(req, "Vary", "Accept");
        if (!accept)
                return false;
        html = strstr(accept, "text/html");
        json = strstr(accept, "application/json");
        /* Browsers ask for text/html first; curl (any type) and programs get JSON. */
        return html && (!json || html < json);
}

static void reply_file(Request *req, const char *name, const char *content_type)
{
        const EmbeddedFile *f = embedded_find(name);

        if (!f) {
                http_reply_error(req, 500, "internal", NULL, "The embedded file %s is missing", name);
                return;
        }
        http_add_header(req, "Content-Security-Policy", web_csp);
        http_add_header(req, "X-Content-Type-Options", "nosniff");
        http_add_header(req, "X-Frame-Options", "DENY");
        http_add_header(req, "Referrer-Policy", "no-referrer");
        http_reply_text(req, 200, content_type, (const char *) f->data, f->size);
}

void api_web_page(Request *req)
{
        reply_file(req, "index.html", "text/html; charset=utf-8");
}

void api_web_asset(Request *req)
{
        const char *path = request_path(req);

        if (!request_query_allow(req, NULL))
                return;
        if (streq(path, "/ui.js"))
                reply_file(req, "ui.js", "text/javascript; charset=utf-8");
        else
                reply_file(req, "ui.css", "text/css; charset=utf-8");
}
