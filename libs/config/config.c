/* The config table: environment → typed targets, with bounds, --help and a masked
 * description for the startup log line. */
#include "baton/config.h"
#include "baton/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

static const char *type_name(baton_config_type_t t)
{
    switch (t) {
    case BATON_CFG_STR:
        return "string";
    case BATON_CFG_SECRET:
        return "secret";
    case BATON_CFG_INT:
        return "int";
    case BATON_CFG_BOOL:
        return "bool";
    case BATON_CFG_DURATION:
        return "duration";
    }
    return "?";
}

static int parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return BATON_EINVAL;
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return BATON_EINVAL;
    *out = v;
    return 0;
}

/* Parses one value into its target; writes the reason on failure. */
static int set_one(const baton_config_opt_t *o, const char *val, char *err, size_t errlen)
{
    long long v = 0;
    int64_t ms;
    switch (o->type) {
    case BATON_CFG_STR:
    case BATON_CFG_SECRET:
        free(*(char **)o->target);
        *(char **)o->target = baton_xstrdup(val);
        return 0;
    case BATON_CFG_BOOL:
        if (parse_bool(val, (bool *)o->target) == 0)
            return 0;
        baton_seterr(err, errlen, "%s: expected true or false", o->env);
        return BATON_EINVAL;
    case BATON_CFG_INT:
        if (parse_int(val, &v) != 0) {
            baton_seterr(err, errlen, "%s: expected an integer", o->env);
            return BATON_EINVAL;
        }
        break;
    case BATON_CFG_DURATION:
        if (baton_duration_parse(val, &ms) == 0) {
            v = ms;
        } else if (parse_int(val, &v) != 0 || v < 0) {
            baton_seterr(err, errlen, "%s: expected a duration like 30s, 15m or milliseconds",
                         o->env);
            return BATON_EINVAL;
        }
        break;
    }
    if ((o->min != 0 || o->max != 0) && (v < o->min || v > o->max)) {
        baton_seterr(err, errlen, "%s: %lld is outside [%lld, %lld]", o->env, v, o->min, o->max);
        return BATON_ERANGE;
    }
    *(long long *)o->target = v;
    return 0;
}

int baton_config_load(const baton_config_opt_t *opts, char *err, size_t errlen)
{
    for (const baton_config_opt_t *o = opts; o->name; o++) {
        const char *val = getenv(o->env);
        if (!val || !*val)
            val = o->def;
        if (!val) {
            baton_seterr(err, errlen, "%s is required (%s)", o->env, o->help);
            return BATON_EINVAL;
        }
        int rc = set_one(o, val, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void baton_config_free(const baton_config_opt_t *opts)
{
    for (const baton_config_opt_t *o = opts; o->name; o++) {
        if (o->type == BATON_CFG_STR || o->type == BATON_CFG_SECRET) {
            free(*(char **)o->target);
            *(char **)o->target = NULL;
        }
    }
}

void baton_config_print_help(FILE *out, const char *program, const char *summary,
                             const baton_config_opt_t *opts)
{
    fprintf(out, "%s — %s\n\nUsage: %s [--help] [--version]\n\n", program, summary, program);
    fprintf(out, "Configuration comes from the environment:\n\n");
    fprintf(out, "  %-34s %-9s %-24s %s\n", "VARIABLE", "TYPE", "DEFAULT", "MEANING");
    for (const baton_config_opt_t *o = opts; o->name; o++) {
        const char *def =
            o->def ? (o->type == BATON_CFG_SECRET && *o->def ? "***" : o->def) : "(required)";
        fprintf(out, "  %-34s %-9s %-24s %s", o->env, type_name(o->type), *def ? def : "\"\"",
                o->help);
        if (o->min != 0 || o->max != 0)
            fprintf(out, " [%lld..%lld]", o->min, o->max);
        fputc('\n', out);
    }
    fputc('\n', out);
}

void baton_config_describe(const baton_config_opt_t *opts, baton_buf_t *buf)
{
    for (const baton_config_opt_t *o = opts; o->name; o++) {
        switch (o->type) {
        case BATON_CFG_STR:
            baton_log_kv(buf, o->name, *(char **)o->target);
            break;
        case BATON_CFG_SECRET:
            baton_log_kv(buf, o->name, *(char **)o->target && **(char **)o->target ? "***" : "");
            break;
        case BATON_CFG_BOOL:
            baton_log_kv(buf, o->name, *(bool *)o->target ? "true" : "false");
            break;
        case BATON_CFG_INT:
        case BATON_CFG_DURATION:
            baton_log_kv_int(buf, o->name, *(long long *)o->target);
            break;
        }
    }
}

int baton_config_handle_args(int argc, char **argv, const char *program, const char *summary,
                             const baton_config_opt_t *opts)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            baton_config_print_help(stdout, program, summary, opts);
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", program, BATON_VERSION);
            return 1;
        }
        fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", program, argv[i]);
        return BATON_EINVAL;
    }
    return 0;
}

void baton_config_env_passthrough(const char *prefix, const char *const *skip,
                                  void (*fn)(const char *name, const char *value, void *ud),
                                  void *ud)
{
    size_t plen = strlen(prefix);
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, prefix, plen) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e + plen)
            continue;
        char *name = baton_xstrndup(*e + plen, (size_t)(eq - *e) - plen);
        for (char *p = name; *p; p++)
            *p = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
        bool skipped = false;
        for (const char *const *s = skip; s && *s; s++)
            skipped = skipped || strcmp(*s, name) == 0;
        if (!skipped)
            fn(name, eq + 1, ud);
        free(name);
    }
}
