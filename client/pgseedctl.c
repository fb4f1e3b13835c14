/* SPDX-License-Identifier: MIT */
/* pgseedctl.c -- the client's entry point: global options, the command table, usage. */

#include <curl/curl.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>

#include "ctl.h"
#include "ctl-commands.h"
#include "ctl-http.h"

typedef struct Command {
        const char *name;
        CommandFunc func;
        const char *args; /* synopsis after the name */
        const char *help; /* one line for the overview */
        const char *more; /* option details for `COMMAND --help`, or NULL */
} Command;

static const Command commands[] = {
        {"start", cmd_start, "[--timeout S]",
         "start pgseedd in the background, wait until the database is ready",
         "  --timeout S     how long to wait for ready (default 300)\n"
         "The daemon's output goes to STATE_DIR/pgseedd.log; PGSEED_* variables pass through to it.\n"},
        {"stop", cmd_stop, "", "stop the local pgseedd (SIGTERM, waits up to 60 s)",
         "  --timeout S     how long to wait for it to exit (default 60)\n"
         "Exits 0 also when no pgseedd runs.\n"},
        {"restart", cmd_restart, "[--timeout S]", "stop, then start", NULL},
        {"status", cmd_status, "", "runtime, database URL, seeding progress, tables, CDC facts",
         "Exits 0 whenever pgseedd answers, ready or not (`health` tells them apart), 3 when it does "
         "not.\n"},
        {"health", cmd_health, "", "one line; exit 0 when ready, 1 when not, 3 when unreachable", NULL},
        {"wait", cmd_wait, "[--timeout S]", "wait until the database is ready, showing seeding progress",
         "  --timeout S     give up after S seconds (default 300): exit 1 if not ready by then,\n"
         "                  3 if pgseedd never answered\n"},
        {"reset", cmd_reset, "[--yes] [--mode template|inplace] [--tables A,B]",
         "restore the seeded state (asks first)",
         "  --yes, -y       do not ask (required when stdin is not a terminal)\n"
         "  --mode MODE     template (default): re-clone the database, fast;\n"
         "                  inplace: keep the database, its publication and replication slots\n"
         "  --tables A,B    only these seeded tables, copied from the template in place (every table\n"
         "                  with a foreign key to one of them must be named too)\n"},
        {"schema", cmd_schema, "[--table T]", "tables, row counts, columns, keys, indexes, triggers",
         "  --table T       only this table (NAME or SCHEMA.NAME)\n"},
        {"sample", cmd_sample,
         "[--table T] [--limit N] [--offset M] [--order COL[.desc]] [--columns A,B] [--truncate K]",
         "the first rows of each table (or one) as text tables",
         "  --table T       only this table\n"
         "  --limit N       rows per table (default 10)\n"
         "  --offset M      skip M rows first\n"
         "  --order COL     sort by COL (COL.desc for descending)\n"
         "  --columns A,B   only these columns\n"
         "  --truncate K    cut text values after K characters (default 40; with --json the server's)\n"},
        {"logs", cmd_logs, "[--follow|-f] [--tail N] [--since TS] [--json]", "Postgres's server log",
         "  --follow, -f    keep streaming new lines until Ctrl-C\n"
         "  --tail N        start with the last N lines (default 100; `all` for everything)\n"
         "  --since TS      only lines from TS on (Unix seconds or RFC 3339)\n"
         "  --json          one JSON object per line\n"},
        {"metrics", cmd_metrics, "", "Prometheus metrics, as served", NULL},
        {"clone", cmd_clone, "[--ttl S] [--env]", "lease an isolated copy of the seeded database",
         "  --ttl S         lease for S seconds (default the server's [clones] ttl, 1 h)\n"
         "  --env           print PGDATABASE=... and DATABASE_URL=... lines for eval\n"
         "Waits up to 30 s when the pool is empty.  Return it with `pgseedctl unclone NAME`.\n"},
        {"clones", cmd_clones, "", "the leased clones and the pool", NULL},
        {"unclone", cmd_unclone, "NAME", "return a clone (its database is dropped)", NULL},
        {"workload", cmd_workload,
         "[--rate N] [--mix I,U,D] [--duration S | --count N] [--seed N] [--wait] | --stop | --status",
         "generated change traffic: new comments, likes, replies, edits, deletions",
         "  --rate N        changes per second (default 1000)\n"
         "  --mix I,U,D     insert, update and delete weights (default 60,30,10)\n"
         "  --duration S    stop after S seconds; --count N: after N changes (neither: until --stop)\n"
         "  --seed N        the same seed from the same rows makes the same changes\n"
         "  --wait          wait until it ends, then print its summary\n"
         "  --stop          stop the running workload; --status: its progress\n"
         "A reset stops a running workload first.\n"},
        {"snapshot", cmd_snapshot, "NAME", "freeze the working database's current state as snapshot NAME",
         "Its sessions are ended and it refuses connections while the files are copied (as a reset does).\n"
         "Names: 1 to 40 of a-z, 0-9, '_', '-'.  Go back to it with `pgseedctl restore NAME`.\n"},
        {"snapshots", cmd_snapshots, "", "the named snapshots", NULL},
        {"restore", cmd_restore, "[--yes] NAME", "reset the working database to snapshot NAME (asks first)",
         "  --yes, -y       do not ask (required when stdin is not a terminal)\n"},
        {"unsnapshot", cmd_unsnapshot, "NAME", "drop snapshot NAME", NULL},
        {"snapshot-dump", cmd_snapshot_dump, "NAME FILE", "write snapshot NAME as a pg_dump archive to FILE",
         "FILE - writes to stdout.  The archive is pg_dump's custom format (pg_restore reads it).\n"},
        {"snapshot-load", cmd_snapshot_load, "NAME FILE", "restore a pg_dump archive FILE as snapshot NAME",
         "FILE is a custom-format archive (pgseedctl snapshot-dump, pg_dump -Fc).\n"},
        {"down", cmd_down, "[--volumes]", "stop, remove the Postgres (and its data with --volumes)",
         "  --volumes       also delete the database files (the next start seeds from scratch)\n"},
        {"load-data", cmd_load_data, "CSV_PATH", "restart pgseedd seeded from a YouTube comments CSV", NULL},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: pgseedctl [--url URL] [--json] [--timeout S] COMMAND [ARGS]\n"
                   "\n"
                   "Controls pgseedd, the daemon that keeps a seeded PostgreSQL database ready and\n"
                   "serves it over a JSON API.\n"
                   "\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\n"
                   "Options (before or after the command):\n"
                   "  --url URL      pgseedd's API; default $PGSEED_URL, else api.listen from pgseedd's\n"
                   "                 configuration (read here; with $PGSEEDD set, from `$PGSEEDD\n"
                   "                 --print-config=json`), else " CTL_DEFAULT_URL "\n"
                   "  --cacert FILE  the CA certificate an https:// API is verified with; default\n"
                   "                 $PGSEED_CA, else (for the URL from pgseedd's configuration) the\n"
                   "                 api_ca_file it names, else the system's CAs\n"
                   "  --json         print the API's JSON instead of text\n"
                   "  --timeout S    give up after S seconds: one request (default 10), or the whole\n"
                   "                 wait for wait, start, restart and load-data (default 300)\n"
                   "  --help         this text; `pgseedctl COMMAND --help` for one command\n"
                   "  --version      print the version\n"
                   "\n"
                   "pgseedd is $PGSEEDD, else the one next to pgseedctl, else the one in PATH.\n"
                   "The API token (for a pgseedd with token_file) is $PGSEED_TOKEN, else the\n"
                   "contents of $PGSEED_TOKEN_FILE, else of pgseedd's api.token_file.\n"
                   "\n"
                   "Exit status:\n"
                   "  0  success (health: ready)\n"
                   "  1  not healthy, or the operation failed\n"
                   "  2  usage error, or reset refused without confirmation\n"
                   "  3  pgseedd is unreachable\n");
}

static const Command *command_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

static void command_usage(const Command *c, FILE *f)
{
        if (!c) {
                usage(f);
                return;
        }
        fprintf(f, "Usage: pgseedctl [--url URL] [--json] [--timeout S] %s%s%s\n\n%c%s.\n", c->name,
                *c->args ? " " : "", c->args, c->help[0] - 'a' + 'A', c->help + 1);
        if (c->more)
                fprintf(f, "\n%s", c->more);
}

/* `pgseedctl COMMAND --help`, reached through Ctl.print_usage from ctl_getopt(). */
static void print_command_usage(const char *name)
{
        command_usage(command_find(name), stdout);
}

/* Wide characters, emoji and CJK need Unicode width tables; the data is UTF-8 whatever the user's locale. */
static void locale_setup(void)
{
        const char *codeset;

        if (setlocale(LC_CTYPE, ""))
                codeset = nl_langinfo(CODESET);
        else
                codeset = NULL;
        if (!codeset || !streq(codeset, "UTF-8"))
                setlocale(LC_CTYPE, "C.UTF-8");
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                CTL_GLOBAL_OPTIONS,
                {"version", no_argument, NULL, 'V'},
                {},
        };
        Ctl ctl = {.timeout_s = -1, .print_usage = print_command_usage};
        const Command *cmd;
        const char *env;
        int r = 0, c;

        locale_setup();
        opterr = 0;
        /* '+': stop at the command name; everything after it is the command's. */
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                case CTL_OPT_HELP:
                        usage(stdout);
                        return CTL_EXIT_OK;
                case 'V':
                        printf("pgseedctl %s\n", PGSEED_VERSION);
                        return CTL_EXIT_OK;
                case CTL_OPT_URL:
                case CTL_OPT_JSON:
                case CTL_OPT_TIMEOUT:
                        r = ctl_global_option(&ctl, NULL, c, optarg);
                        if (r != 0)
                                goto finish;
                        break;
                case ':':
                        r = ctl_usage_error(NULL, "option '%s' needs a value", argv[optind - 1]);
                        goto finish;
                default:
                        if (optopt)
                                r = ctl_usage_error(NULL, "unknown option '-%c'", optopt);
                        else
                                r = ctl_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
                        goto finish;
                }
        }
        if (optind >= argc) {
                r = ctl_usage_error(NULL, "no command given");
                goto finish;
        }
        cmd = command_find(argv[optind]);
        if (!cmd) {
                r = ctl_usage_error(NULL, "unknown command '%s'", argv[optind]);
                goto finish;
        }

        env = getenv("PGSEED_URL");
        if (!ctl.url && !isempty(env)) {
                ctl.url = ctl_url_normalize(env);
                if (!ctl.url) {
                        r = ctl_usage_error(NULL, "PGSEED_URL needs an http:// or https:// URL, not '%s'",
                                            env);
                        goto finish;
                }
                ctl.url_explicit = true;
        }

        /*
         * The token is pgseedctl's alone: the pgseedd it runs (start, --print-config) must not inherit
         * it, neither into its environment nor, through it, anywhere else.
         */
        env = getenv("PGSEED_TOKEN");
        if (env) {
                ctl.token_env = xstrdup(env);
                unsetenv("PGSEED_TOKEN");
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "pgseedctl: cannot initialize libcurl\n");
                r = CTL_EXIT_FAILED;
                goto finish;
        }
        argc -= optind;
        argv += optind;
        optind = 0; /* glibc: 0 re-initializes getopt for the command's own arguments */
        r = cmd->func(&ctl, argc, argv);
        curl_global_cleanup();

finish:
        free(ctl.url);
        free(ctl.token_env);
        free(ctl.cacert);
        ctl_http_set_ca(NULL);
        free(ctl.pgseedd);
        json_decref(ctl.config);
        return r;
}
