/*
 * config/cfgperm.c - who else may read or change the files that hold passwords: the
 * auth_file, the config file itself when it sets health_check_password, and the TLS
 * private keys (client_tls_key_file, server_tls_key_file). As OpenSSH
 * does with keys: a file others may write (they could add a user) or that is not a regular
 * file is refused; a file others may read gets a loud warning, since refusing it would stop
 * every install whose checkout or umask left it at 0644.
 */
#include "config/cfgload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Append "file:line: msg\n" to the snapshot's warnings. */
__attribute__((format(printf, 3, 4)))
static void cfgperm_warn(struct loader *ld, int line, const char *fmt, ...)
{
    struct cfg *c = ld->cfg;
    char msg[CFG_WHY_MAX + 128];
    size_t old = c->warnings != NULL ? strlen(c->warnings) : 0, len;
    char *w;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    len = (size_t)snprintf(NULL, 0, "%s:%d: %s\n", ld->path, line, msg);
    w = realloc(c->warnings, old + len + 1);
    if (w == NULL) {
        ld->oom = 1;
        return;
    }
    snprintf(w + old, len + 1, "%s:%d: %s\n", ld->path, line, msg);
    c->warnings = w;
}

/*
 * Judge st, the file at path, named by the key on line; label says what it is in messages.
 * regular: whether a file that is not regular is an error (the config file may be a pipe,
 * and then there is no mode to judge).
 */
static void cfgperm_judge(struct loader *ld, int line, const char *label, const char *path,
                          const struct stat *st, int regular)
{
    unsigned mode = (unsigned)st->st_mode & 07777;

    if (!S_ISREG(st->st_mode)) {
        if (regular)
            cfgload_error(ld, line, "%s is not a regular file; it holds passwords or "
                          "secrets, so it must be a file only its owner can change", label);
        return;
    }
    if (mode & (S_IWGRP | S_IWOTH))
        cfgload_error(ld, line, "%s is writable by %s (mode %04o), and whoever can change it "
                      "controls who may log in; run chmod 600 %s", label,
                      mode & S_IWOTH ? "others" : "its group", mode, path);
    else if (mode & (S_IRGRP | S_IROTH))
        cfgperm_warn(ld, line, "%s holds passwords or secrets and is readable by %s "
                     "(mode %04o); run chmod 600 %s", label,
                     mode & S_IROTH ? "everyone" : "its group", mode, path);
}

/* Line of key name in the first section of kind sect, 0 if it is not set there. */
static int cfgperm_key_line(const struct loader *ld, enum cfg_sect sect, const char *name)
{
    size_t k = cfg_key_find(sect, name);

    for (size_t i = 0; i < ld->n_sects; i++)
        if (ld->sects[i].sect == sect && k < CFG_KEYS_MAX && ld->sects[i].key_line[k])
            return ld->sects[i].key_line[k];
    return 0;
}

int cfgperm_auth_file(struct loader *ld)
{
    const struct cfg *c = ld->cfg;
    char label[CFG_WHY_MAX];
    size_t n_errs = ld->n_errs;
    struct stat st;

    /* A missing or unreadable auth_file is reported when it is read. */
    if (stat(c->auth_file, &st) < 0)
        return 0;
    snprintf(label, sizeof(label), "auth_file \"%s\"", c->auth_file);
    cfgperm_judge(ld, ld->auth_line, label, c->auth_file, &st, 1);
    return ld->n_errs == n_errs ? 0 : -1;
}

void cfgperm_config_file(struct loader *ld)
{
    const struct cfg *c = ld->cfg;
    int line = cfgperm_key_line(ld, SECT_HEALTH, "health_check_password");
    char label[CFG_WHY_MAX];
    struct stat st;

    if (c->health.password == NULL || line == 0 || ld->f == NULL || fileno(ld->f) < 0 ||
        fstat(fileno(ld->f), &st) < 0)
        return;
    snprintf(label, sizeof(label), "\"%s\" (it sets health_check_password)", ld->path);
    cfgperm_judge(ld, line, label, ld->path, &st, 0);
}

void cfgperm_key_file(struct loader *ld, int line, const char *key, const char *path,
                      int fd)
{
    char label[CFG_WHY_MAX];
    struct stat st;

    if (fstat(fd, &st) < 0)
        return;
    snprintf(label, sizeof(label), "%s \"%s\"", key, path);
    cfgperm_judge(ld, line, label, path, &st, 1);
}
