/*
 * tests/fuzz/fuzz_cfg.c - libFuzzer harness for the config loader: any bytes as an INI
 * file must give a snapshot or errors, never a crash, and every error line must carry
 * the file name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg *c = NULL;
    char *errors = NULL;
    FILE *f;
    int rc;

    if (size == 0)
        return 0;
    f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    rc = cfg_load_stream(f, "/tmp/fuzz.ini", &c, &errors);
    fclose(f);
    if (rc == 0) {
        if (c == NULL || c->default_cluster == NULL)
            abort();
        cfg_unref(c);
    } else if (errors != NULL) {
        /* Every reported line names the file it is about. */
        for (char *line = errors; *line != '\0';) {
            char *nl = strchr(line, '\n');

            if (strncmp(line, "/tmp/", 5) != 0)
                abort();
            if (nl == NULL)
                break;
            line = nl + 1;
        }
    }
    free(errors);
    return 0;
}
