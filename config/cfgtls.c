/*
 * config/cfgtls.c - the TLS keys' syntax and, at load, the checks of the files they name
 * (see cfgtls.h). The contexts themselves are built by router/tls.c.
 */
#include "config/cfgtls.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const cfgtls_names[CFGTLS_N_VERSIONS] = {
    "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3",
};

int cfgtls_protocols(const char *spec, unsigned *mask, char *why, size_t why_len)
{
    const char *p = spec;

    *mask = 0;
    while (*p != '\0') {
        char word[32];
        size_t n = 0;
        int i;

        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p)) {
            if (n + 1 < sizeof(word))
                word[n++] = *p;
            p++;
        }
        word[n] = '\0';
        if (strcasecmp(word, "secure") == 0) {
            *mask |= 0xcu;
            continue;
        }
        if (strcasecmp(word, "all") == 0 || strcasecmp(word, "legacy") == 0) {
            *mask |= 0xfu;
            continue;
        }
        for (i = 0; i < CFGTLS_N_VERSIONS; i++)
            if (strcasecmp(word, cfgtls_names[i]) == 0)
                break;
        if (i == CFGTLS_N_VERSIONS) {
            snprintf(why, why_len, "\"%s\" is not a TLS protocol (secure, all, legacy, or a "
                     "list of tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3)", word);
            return -EINVAL;
        }
        *mask |= 1u << i;
    }
    if (*mask == 0) {
        snprintf(why, why_len, "no protocol given (secure, all, legacy, or a list of "
                 "tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3)");
        return -EINVAL;
    }
    return 0;
}
