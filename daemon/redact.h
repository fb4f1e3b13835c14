/* SPDX-License-Identifier: MIT */
/* redact.h -- keeps secrets in: masks passwords in server log lines, strips them from child environments. */
#pragma once

#include <stdbool.h>

/* The mask that replaces a secret's text. */
#define REDACTED "********"

/*
 * What a line left open for the next one (a statement logged over several
 * lines): a literal that did not close, or a PASSWORD keyword at the very end.
 * Zero-initialise one per stream.
 */
typedef struct RedactState {
        char quote;   /* '\'', '"' or '$' while inside a literal; 0 when not */
        bool escapes; /* the open literal is E'...' (backslash escapes) */
        bool keyword; /* the previous line ended with PASSWORD: its literal starts this line */
        char tag[34]; /* the open $tag$ of a dollar-quoted literal, with both '$' */
} RedactState;

/*
 * Returns a new copy of line with secrets replaced by REDACTED:
 * the literal after the keyword PASSWORD (any case; so ENCRYPTED PASSWORD
 * too) in any SQL quoting ('...', E'...', U&'...', $tag$...$tag$, "..."),
 * the value of password=... (connection strings, KEY=value settings, any
 * prefix such as PGPASSWORD=), and the password in a URL's user:password@.
 * st carries literals that span lines; NULL treats the line on its own.
 * Pure; the caller frees the result.
 */
char *redact_secrets(const char *line, RedactState *st);

/*
 * The environment for a child that needs none of pgseedd's settings (the
 * postmaster, initdb): env without PGSEED_* (PGSEED_PG_PASSWORD, PGSEED_TOKEN,
 * ...) and PGPASSWORD.  Returns a new NULL-terminated array whose strings are
 * env's own (free only the array).  Call before fork(): it allocates.
 */
char **env_without_secrets(char *const *env);
