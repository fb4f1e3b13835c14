/* SPDX-License-Identifier: MIT */
/* runtime.c -- the registry of runtimes: choosing one (auto walks them in order), wrappers around them. */

#include "runtime.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "config.h"

/*
 * The order runtime = auto tries them: the server PGSEED_PG_URL names when
 * set, else Docker when the engine is usable, else the local binaries.
 */
const RuntimeOps *const runtime_registry[] = {
        &runtime_external_ops,
        &runtime_docker_ops,
        &runtime_embedded_ops,
        NULL,
};

static int runtime_new_with(const RuntimeOps *ops, const Config *config, const char *why, Runtime **ret,
                            Error *e)
{
        Runtime *rt = xcalloc(1, sizeof(Runtime));
        int r;

        rt->ops = ops;
        rt->config = config;
        strlcpy0(rt->why, why, sizeof(rt->why));
        r = ops->init(rt, e);
        if (r < 0) {
                free(rt);
                return r;
        }
        *ret = rt;
        return 0;
}

const RuntimeOps *runtime_ops_find(const char *name)
{
        for (const RuntimeOps *const *ops = runtime_registry; *ops; ops++)
                if (streq((*ops)->name, name))
                        return *ops;
        return NULL;
}

int runtime_new(const Config *config, Runtime **ret, Error *e)
{
        const RuntimeOps *ops = runtime_ops_find(config->runtime);
        char why[256], skipped[512] = "";

        if (ops) {
                snprintf(why, sizeof(why), "configured: runtime = %s", ops->name);
                return runtime_new_with(ops, config, why, ret, e);
        }
        if (!streq(config->runtime, "auto"))
                return error_set(e, EINVAL, "invalid_config", NULL, "Unknown runtime '%s'", config->runtime);

        /* auto: the first registered runtime that can work here, saying why the earlier ones cannot. */
        for (const RuntimeOps *const *o = runtime_registry; *o; o++) {
                Error inner = ERROR_INIT;
                char usable[200] = "";
                size_t len = strlen(skipped);

                if (!(*o)->usable || (*o)->usable(config, usable, sizeof(usable), &inner) == 0) {
                        if (*usable)
                                snprintf(why, sizeof(why), "auto: %s%s%s", usable, *skipped ? "; " : "",
                                         skipped);
                        else
                                snprintf(why, sizeof(why), "auto: %s", *skipped ? skipped : (*o)->name);
                        return runtime_new_with(*o, config, why, ret, e);
                }
                /* The one that is not configured at all (external without a URL) need not be mentioned. */
                if (streq(inner.code, "not_configured"))
                        continue;
                snprintf(skipped + len, sizeof(skipped) - len, "%s%s not usable (%s)", len ? "; " : "",
                         streq((*o)->name, "docker") ? "Docker" : (*o)->name, inner.message);
        }
        return error_set(e, ENOENT, "invalid_config", NULL, "No runtime can work here: %s", skipped);
}

json_t *runtime_describe(Runtime *rt)
{
        json_t *o = json_pack("{s:s, s:s}", "name", rt->ops->name, "owner",
                              rt->ops->owns_server ? "pgseedd" : "external");

        if (!o)
                abort();
        if (rt->ops->describe)
                rt->ops->describe(rt, o);
        return o;
}

void runtime_free(Runtime *rt)
{
        if (!rt)
                return;
        if (rt->ops->free)
                rt->ops->free(rt);
        free(rt);
}

int runtime_repair_auth(Runtime *rt, Error *e)
{
        const Config *c = rt->config;
        Error inner = ERROR_INIT;
        int r = -EOPNOTSUPP;

        if (rt->ops->repair_auth)
                r = rt->ops->repair_auth(rt, &inner);
        if (r >= 0)
                return 0;
        if (!rt->ops->owns_server)
                return error_set(
                        e, EACCES, "password_mismatch",
                        "Set PGSEED_PG_PASSWORD (or PGSEED_PG_PASSWORD_FILE) to that role's password "
                        "on the server; pgseedd does not change passwords on a server it does not "
                        "own.",
                        "Postgres at %s:%d refuses the configured password for role %s", c->pg_host,
                        c->pg_port, c->pg_user);
        return error_set(
                e, EACCES, "password_mismatch",
                "Set PGSEED_PG_PASSWORD (or [postgres] password / password_file) back to the password "
                "the data was created with, or start afresh without the old data (`pgseedctl down "
                "--volumes`, which deletes it).",
                "Postgres refuses the configured password for role %s: its data (%s runtime) was "
                "created with another PGSEED_PG_PASSWORD, and pgseedd could not set it (%s)",
                c->pg_user, rt->ops->name, r == -EOPNOTSUPP ? "this runtime cannot" : inner.message);
}

int runtime_disk_free(Runtime *rt, int64_t *ret, char *where, size_t size, Error *e)
{
        if (!rt->ops->disk_free)
                return error_set(e, EOPNOTSUPP, NULL, NULL,
                                 "the %s runtime cannot see the disk of the server it attaches to",
                                 runtime_name(rt));
        return rt->ops->disk_free(rt, ret, where, size, e);
}

bool runtime_explain_failure(Runtime *rt, const char *failure, char *ret, size_t size)
{
        if (!rt || (failure && strstr(failure, RUNTIME_DISK_FULL)))
                return false;
        if (rt->ops->explain_failure)
                return rt->ops->explain_failure(rt, failure ? failure : "", ret, size);
        /* A runtime that cannot look at the disk itself still recognises the server's words. */
        if (failure && strstr(failure, "No space left on device")) {
                snprintf(ret, size,
                         "No space left on device where Postgres keeps its data (" RUNTIME_DISK_FULL
                         "); free space there (for Docker: the engine's data root or the volume)");
                return true;
        }
        return false;
}
