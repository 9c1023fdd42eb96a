/* test_internal_transcript.c: keeps the worked example of docs/protocol.md
 * true.  Reads the transcript between the "transcript:begin" and
 * "transcript:end" markers, replays every "> APDU" line byte for byte against
 * a fresh simulator card (ch_init: the fabrication the example states) and
 * requires the "< response" line that follows it exactly.  Run from the
 * project root, like every suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "card_test.h"

#define DOC "docs/protocol.md"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p)
        p[n] = 0;
    fclose(f);
    return p;
}

static void test_transcript_replays(void **state)
{
    ch_card *c = *state;
    static uint8_t apdu[4096], want[4096], got[MC_RSP_BUF_SIZE];
    char *doc = slurp(DOC), *p, *end, *line, *nl;
    size_t alen = 0, wlen, glen;
    unsigned steps = 0;
    bool have_cmd = false;

    assert_non_null(doc);
    p = strstr(doc, "<!-- transcript:begin -->");
    end = strstr(doc, "<!-- transcript:end -->");
    assert_non_null(p);
    assert_non_null(end);
    for (line = p; line < end; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        if (line[0] == '>' && line[1] == ' ') {
            assert_false(have_cmd);
            alen = ch_hex(line + 2, apdu, sizeof(apdu));
            assert_true(alen != (size_t)-1 && alen >= 4);
            have_cmd = true;
        } else if (line[0] == '<' && line[1] == ' ') {
            assert_true(have_cmd);
            wlen = ch_hex(line + 2, want, sizeof(want));
            assert_true(wlen != (size_t)-1 && wlen >= 2);
            glen = mc_process(&c->sc.card, apdu, alen, got, sizeof(got));
            ASSERT_BYTES(got, glen, want, wlen);
            have_cmd = false;
            steps++;
        }
    }
    assert_false(have_cmd);
    assert_true(steps >= 8);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transcript_replays, ct_setup_blank, ct_teardown),
    };
    return cmocka_run_group_tests_name("internal_transcript", tests, NULL, NULL);
}
