/* SPDX-License-Identifier: MIT */
/* api-openapi.c -- GET /openapi.json: the route table as an OpenAPI 3.1 document. */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "embedded.h"
#include "jsonfmt.h"

static json_t *param_schema(const RouteParam *p)
{
        json_t *s = json_object();

        switch (p->type) {
        case PARAM_INTEGER:
                json_object_set_new(s, "type", json_string("integer"));
                if (p->min || p->max) {
                        json_object_set_new(s, "minimum", json_integer(p->min));
                        json_object_set_new(s, "maximum", json_integer(p->max));
                }
                if (p->def)
                        json_object_set_new(s, "default", json_integer(strtoll(p->def, NULL, 10)));
                return s;
        case PARAM_BOOLEAN:
                json_object_set_new(s, "type", json_string("boolean"));
                if (p->def)
                        json_object_set_new(s, "default", json_boolean(streq(p->def, "true")));
                return s;
        case PARAM_ENUM: {
                json_t *e = json_array();
                for (const char *const *c = p->choices; c && *c; c++)
                        json_array_append_new(e, json_string(*c));
                json_object_set_new(s, "enum", e);
                json_object_set_new(s, "type", json_string("string"));
                if (p->def)
                        json_object_set_new(s, "default", json_string(p->def));
                return s;
        }
        case PARAM_STRING:
        default:
                json_object_set_new(s, "type", json_string("string"));
                if (p->def)
                        json_object_set_new(s, "default", json_string(p->def));
                return s;
        }
}

static json_t *schema_ref(const char *name)
{
        char ref[128];

        snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
        return json_pack("{s:s}", "$ref", ref);
}

/* {"media": {"schema": ...}, ...} for the route's 2xx reply. */
static json_t *route_content(const Route *r)
{
        const char *media = r->media ? r->media : "application/json";
        json_t *content = json_object();

        while (*media) {
                char type[64];
                size_t n = strcspn(media, ",");
                json_t *schema;

                snprintf(type, sizeof(type), "%.*s", (int) n, media);
                if (r->schema && (strstr(type, "json") || streq(type, "application/x-ndjson")))
                        schema = schema_ref(r->schema);
                else
                        schema = json_pack("{s:s}", "type", "string");
                json_object_set_new(content, type, json_pack("{s:o}", "schema", schema));
                media += n;
                media += strspn(media, ", ");
        }
        return content;
}

/* "/clones/{name}" declares a path parameter per {segment}. */
static void path_params(const char *path, json_t *params)
{
        for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
                const char *end = strchr(p, '}');
                char name[64];

                if (!end)
                        break;
                snprintf(name, sizeof(name), "%.*s", (int) (end - p - 1), p + 1);
                json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s}}", "name", name, "in",
                                                        "path", "required", 1, "schema", "type", "string"));
        }
}

static json_t *route_operation(const Route *r)
{
        json_t *op = json_object(), *params = json_array(), *responses = json_object();
        json_t *err = json_pack("{s:s, s:{s:{s:o}}}", "description",
                                "The error, as {\"error\": {code, message, hint}}", "content",
                                "application/json", "schema", schema_ref("Error"));
        static const char *const auth_names[] = {
                [ROUTE_AUTH_NONE] = "none",
                [ROUTE_AUTH_OPEN] = "open",
                [ROUTE_AUTH_READ] = "read",
                [ROUTE_AUTH_MUTATE] = "mutate",
        };
        char id[128], *w = id;

        /* operationId: "get_health", "post_reset", "get_openapi_json". */
        for (const char *m = r->method; *m && w < id + 16; m++)
                *w++ = (char) (*m | 0x20);
        for (const char *p = r->path; *p && w < id + sizeof(id) - 1; p++)
                if (isalnum((unsigned char) *p))
                        *w++ = *p;
                else if (w[-1] != '_')
                        *w++ = '_';
        *w = '\0';
        if (w > id && w[-1] == '_')
                *--w = '\0';
        if (streq(r->path, "/"))
                strlcpy0(w, "_index", sizeof(id) - (size_t) (w - id));

        json_object_set_new(op, "operationId", json_string(id));
        json_object_set_new(op, "summary", json_string(r->summary ? r->summary : ""));
        json_object_set_new(op, "x-pgseed-auth", json_string(auth_names[r->auth]));
        json_object_set_new(op, "x-pgseed-cors",
                            json_string(r->cors == ROUTE_CORS_PUBLIC ? "public" : "private"));
        path_params(r->path, params);
        for (const RouteParam *p = r->params; p && p->name; p++)
                json_array_append_new(params,
                                      json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", p->name, "in", "query",
                                                "description", p->description ? p->description : "",
                                                "required", 0, "schema", param_schema(p)));
        json_object_set_new(op, "parameters", params);

        char ok[8];
        snprintf(ok, sizeof(ok), "%u", r->status ? r->status : 200);
        json_object_set_new(responses, ok,
                            json_pack("{s:s, s:o}", "description", "Success", "content", route_content(r)));
        if (r->probe)
                json_object_set_new(responses, "503",
                                    json_pack("{s:s, s:o}", "description",
                                              "Not ready (or not live): the same body", "content",
                                              route_content(r)));
        json_object_set(responses, "4XX", err);
        if (!r->probe)
                json_object_set(responses, "5XX", err);
        json_decref(err);
        json_object_set_new(op, "responses", responses);
        return op;
}

json_t *openapi_build(const Route *routes, size_t n)
{
        const EmbeddedFile *f = embedded_find("openapi-schemas.json");
        json_t *schemas = f ? json_loadb((const char *) f->data, f->size, 0, NULL) : NULL;
        json_t *doc, *paths = json_object();

        if (!schemas) {
                json_decref(paths);
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                const Route *r = &routes[i];
                json_t *item = json_object_get(paths, r->path);
                char method[16] = "";

                if (!item) {
                        item = json_object();
                        json_object_set_new(paths, r->path, item);
                }
                for (size_t j = 0; j < sizeof(method) - 1 && r->method[j]; j++)
                        method[j] = (char) tolower((unsigned char) r->method[j]);
                json_object_set_new(item, method, route_operation(r));
        }
        doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:{s:o}}", "openapi", "3.1.0", "info",
                        "title", "pgseedd", "version", PGSEED_VERSION, "description",
                        "A seeded PostgreSQL database, kept alive and resettable. Every error reply is "
                        "{\"error\": {\"code\", \"message\", \"hint\"}}.",
                        "servers", "url", "/", "paths", paths, "components", "schemas", schemas);
        return doc;
}

void api_openapi(Request *req)
{
        size_t n;
        const Route *routes = request_routes(req, &n);
        json_t *doc;

        if (!request_query_allow(req, NULL))
                return;
        doc = openapi_build(routes, n);
        if (!doc) {
                http_reply_error(req, 500, "internal", NULL, "The embedded OpenAPI schemas do not parse");
                return;
        }
        http_reply_json(req, 200, doc);
}
