/* SPDX-License-Identifier: MIT */
/* redact.h -- masks passwords in Postgres server log lines before they leave pgseedd. */
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
