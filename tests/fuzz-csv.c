/* SPDX-License-Identifier: MIT */
/* fuzz-csv.c -- libFuzzer target for the CSV record reader: no crash, no hang, same records whatever the
 * buffer size. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Folds every record (line, fields or error) into a hash, checking invariants on the way. */
static uint64_t parse_all(const uint8_t *data, size_t size, size_t buffer_size, size_t max_record)
{
        _cleanup_(csv_reader_freep) CsvReader *r = NULL;
        uint64_t h = HASH64_INIT;
        int64_t last_line = 0, lines = 1;
        size_t records = 0;
        CsvRecord rec;
        int k;

        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n' || data[i] == '\r';
        if (csv_reader_new_memory(data, size, buffer_size, &r) < 0)
                abort();
        csv_reader_set_max_record(r, max_record);
        while ((k = csv_reader_next(r, &rec)) != 0) {
                /* Every record starts on a later line than the one before, so the reader cannot loop. */
                if (rec.line <= last_line || rec.line > lines)
                        abort();
                last_line = rec.line;
                if (++records > size + 1)
                        abort();
                h = hash64(&rec.line, sizeof(rec.line), h);
                if (k == -EBADMSG) {
                        if (!rec.detail || rec.n_fields != 0)
                                abort();
                        h = hash64(rec.detail, strlen(rec.detail), h);
                        continue;
                }
                if (k != 1 || rec.n_fields == 0)
                        abort();
                for (size_t i = 0; i < rec.n_fields; i++) {
                        if (rec.fields[i].data[rec.fields[i].len] != '\0')
                                abort();
                        h = hash64(&rec.fields[i].len, sizeof(size_t), h);
                        h = hash64(rec.fields[i].data, rec.fields[i].len, h);
                }
        }
        return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t max_record;

        if (size < 1)
                return 0;
        /* The first byte picks a record limit, so the too-long path and its resync get exercised too. */
        max_record = data[0] < 128 ? 0 : (size_t) data[0] - 120;
        data++;
        size--;

        if (parse_all(data, size, 4, max_record) != parse_all(data, size, 0, max_record) ||
            parse_all(data, size, 7, max_record) != parse_all(data, size, 4, max_record))
                abort();
        return 0;
}
