/* sub.c: subcommand dispatch and option parsing shared by the command groups
 * (every subcommand answers --help with its usage). */
#include "cli.h"
#include "i18n.h"

#include <string.h>

int cli_dispatch(cli *c, const char *group, const cli_sub *subs, size_t n, int argc, char **argv)
{
    bool help = argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;

    if (!help) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(argv[1], subs[i].name) == 0) {
                if (cli_wants_help(argc - 1, argv + 1)) {
                    fputs(gettext(subs[i].usage), stdout);
                    return EX_OK;
                }
                return subs[i].run(c, argc - 1, argv + 1);
            }
        }
        cli_error("unknown subcommand '%s %s' (see 'mnap %s --help')", group, argv[1], group);
        return EX_USAGE;
    }
    FILE *out = argc < 2 ? stderr : stdout;
    fprintf(out, _("Usage: mnap %s SUBCOMMAND ...\n\n"), group);
    for (size_t i = 0; i < n; i++) {
        /* The first line of each usage text is its synopsis. */
        const char *nl = strchr(subs[i].usage, '\n');
        int len = nl != NULL ? (int)(nl - subs[i].usage) : (int)strlen(subs[i].usage);
        fprintf(out, "  %.*s\n", len, subs[i].usage);
    }
    fprintf(out, _("\n'mnap %s SUBCOMMAND --help' for details.\n"), group);
    return argc < 2 ? EX_USAGE : EX_OK;
}

int cli_getopt(int argc, char **argv, const struct option *opts,
               int (*on)(void *user, int opt, const char *arg), void *user, int *first_arg)
{
    char shorts[64];
    size_t k = 0;
    int ch;

    /* The short forms are the long options' single-letter vals.  No '+':
     * GNU getopt then takes options after the operands too. */
    shorts[k++] = ':';
    for (const struct option *o = opts; o != NULL && o->name != NULL && k + 3 < sizeof shorts; o++) {
        if (o->val > 0 && o->val < 128 && o->flag == NULL && o->val != '?' ) {
            shorts[k++] = (char)o->val;
            if (o->has_arg == required_argument) {
                shorts[k++] = ':';
            }
        }
    }
    shorts[k] = '\0';
    optind = 0; /* glibc: a full re-initialisation for each parse */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        if (ch == '?') {
            cli_error("%s: unknown option '%s'", argv[0], argv[optind - 1]);
            return -1;
        }
        if (ch == ':') {
            cli_error("%s: option '%s' needs a value", argv[0], argv[optind - 1]);
            return -1;
        }
        if (on(user, ch, optarg) != 0) {
            return -1;
        }
    }
    *first_arg = optind;
    return 0;
}

int cli_operands(int argc, int first, int min, int max, const char *usage)
{
    int n = argc - first;

    if (n < min || n > max) {
        const char *nl = strchr(usage, '\n');
        int len = nl != NULL ? (int)(nl - usage) : (int)strlen(usage);
        cli_error("usage: mnap %.*s", len, usage);
        return -1;
    }
    return 0;
}

static int no_option(void *user, int opt, const char *arg)
{
    (void)user;
    (void)opt;
    (void)arg;
    return -1;
}

int cli_no_options(int argc, char **argv, int *first_arg)
{
    static const struct option none[] = { { NULL, 0, NULL, 0 } };

    return cli_getopt(argc, argv, none, no_option, NULL, first_arg);
}
