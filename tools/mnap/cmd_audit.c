/* cmd_audit.c: `mnap audit verify`: checks the operator audit log's hash
 * chain (format in audit.h and docs/cli.md). */
#include "audit.h"
#include "cli.h"
#include "i18n.h"

#include <inttypes.h>
#include <string.h>

static const char u_verify[] = N_(
    "audit verify [--last HASH]\n"
    "  Checks every line of the audit log (--audit PATH): the format, the sequence\n"
    "  numbers and the SHA-256 chain.  An edited, inserted or removed line is\n"
    "  reported with its line number (exit 5).  --last also checks the last hash\n"
    "  against one written down earlier, which catches lines removed at the end.\n"
    "  Prints the number of lines and the last hash.\n");

static int on_opt(void *user, int opt, const char *arg)
{
    const char **last = user;

    if (opt != 'l') {
        return -1;
    }
    *last = arg;
    return 0;
}

static int audit_verify_cmd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "last", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 }
    };
    const char *last = NULL;
    audit_report r;
    int first;

    if (cli_getopt(argc, argv, opts, on_opt, &last, &first) != 0 ||
        cli_operands(argc, first, 0, 0, u_verify) != 0) {
        return EX_USAGE;
    }
    int rc = audit_verify(c->audit, last, &r);
    if (c->json) {
        printf("{\"file\":");
        cli_json_str(stdout, c->audit);
        printf(",\"intact\":%s,\"lines\":%" PRIu64 ",\"last_hash\":\"%s\"", rc == 0 ? "true" : "false",
               r.lines, r.last_hash);
        if (rc != 0) {
            printf(",\"bad_line\":%" PRIu64 ",\"problem\":", r.bad_line);
            cli_json_str(stdout, r.why);
        }
        printf("}\n");
    }
    if (rc < 0) {
        cli_error("audit verify: %s", r.why);
        return EX_LOCAL;
    }
    if (rc > 0) {
        cli_error("audit verify: %s: line %" PRIu64 ": %s", c->audit, r.bad_line, r.why);
        return EX_LOCAL;
    }
    if (!c->json) {
        printf("%s: %" PRIu64 " line%s, chain intact, last hash %s\n", c->audit, r.lines,
               r.lines == 1 ? "" : "s", r.last_hash);
    }
    return EX_OK;
}

static const cli_sub subs[] = {
    { "verify", audit_verify_cmd, u_verify },
};

int cmd_audit(cli *c, int argc, char **argv)
{
    return cli_dispatch(c, "audit", subs, sizeof subs / sizeof subs[0], argc, argv);
}
