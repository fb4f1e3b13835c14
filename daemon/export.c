/* SPDX-License-Identifier: MIT */
/* export.c -- the dataset as COPY text files, for benchmarks and for looking at the rows. */

#include "export.h"

#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "dataset.h"

typedef struct ExportFiles {
        FILE *f[_TABLE_MAX];
} ExportFiles;

static int put_row(void *userdata, DatasetTable t, const char *row, size_t len)
{
        ExportFiles *x = userdata;

        return fwrite(row, 1, len, x->f[t]) == len ? 0 : -errno;
}

int dataset_export(const Config *c, const char *dir, Error *e)
{
        ExportFiles x = {0};
        RowSink sink = {.put = put_row, .userdata = &x};
        const char *csv = startswith(c->dataset, "csv:");
        int r = mkdir_p(dir, 0755);

        if (r < 0)
                return error_set(e, -r, NULL, NULL, "Cannot create %s: %s", dir, strerror(-r));
        for (int t = 0; t < _TABLE_MAX; t++) {
                _cleanup_free_ char *path = xasprintf("%s/%s.tsv", dir, dataset_table_names[t]);
                x.f[t] = fopen(path, "we");
                if (!x.f[t]) {
                        r = error_set(e, errno, NULL, NULL, "Cannot create %s: %m", path);
                        goto out;
                }
        }
        if (csv) {
                CsvOptions opts = {.limit = c->comments};
                CsvStats stats = {0};
                r = csv_dataset_load(csv, &opts, &sink, &stats, e);
        } else {
                SyntheticSpec spec = {.comments = c->comments, .seed = (uint64_t) c->seed};
                int64_t counts[_TABLE_MAX];
                synthetic_counts(&spec, counts);
                for (int t = 0; t < _TABLE_MAX && r == 0; t++)
                        r = synthetic_generate(&spec, (DatasetTable) t, 0, counts[t], &sink);
                if (r < 0)
                        error_set(e, -r, NULL, NULL, "Cannot write the dataset into %s: %s", dir,
                                  strerror(-r));
        }
out:
        for (int t = 0; t < _TABLE_MAX; t++)
                if (x.f[t] && fclose(x.f[t]) != 0 && r == 0)
                        r = error_set(e, errno, NULL, NULL, "Cannot write into %s: %m", dir);
        return r;
}
