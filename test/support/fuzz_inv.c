/* fuzz_inv.c: parsing of the card's state dump and the per-command rules of
 * the APDU fuzzer (see fuzz_inv.h and docs/fuzzing.md).
 *
 * The dump layout is the one card/mc_debug.c writes: "MNAPDUMP1", area state,
 * serial, diversification data, AM key set, AM sequence counter, high-water
 * mark, then 'P' + one record per AP in load order, then 'L' + the log.  The
 * rules are written from PROTOCOL.md (§3 counters, §4 AM commands, §5 PIN and
 * files, §8 firewall and "a refused command changes nothing"), not from the
 * runtime's code. */
#include "fuzz_inv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AREA_TERMINATED 0xFF
#define EF_TRANSPARENT 0x01

typedef struct rd {
    const uint8_t *d;
    size_t n, pos;
    bool bad;
} rd;

static const uint8_t *take(rd *r, size_t k)
{
    const uint8_t *p;

    if (r->bad || k > r->n - r->pos) {
        r->bad = true;
        return NULL;
    }
    p = r->d + r->pos;
    r->pos += k;
    return p;
}

static uint8_t u8(rd *r)
{
    const uint8_t *p = take(r, 1);
    return p ? *p : 0;
}

static uint32_t u32(rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

/* KVN, key length, then three keys of that length. */
static const uint8_t *keyset(rd *r, size_t *len)
{
    size_t start = r->pos;
    uint8_t kl;

    (void)u8(r);
    kl = u8(r);
    (void)take(r, 3u * kl);
    *len = r->pos - start;
    return r->bad ? NULL : r->d + start;
}

static void parse_efs(rd *r, fz_ap *ap)
{
    size_t start = r->pos;
    uint8_t count = u8(r);

    for (unsigned i = 0; i < count && !r->bad; i++) {
        const uint8_t *h = take(r, 10);   /* fid(2) sfi type rlen rcount rd wr size(2) */
        if (h == NULL)
            break;
        if (h[3] == EF_TRANSPARENT) {
            (void)take(r, (size_t)h[8] << 8 | h[9]);
        } else {
            uint8_t used = u8(r);
            (void)take(r, (size_t)used * h[4]);
        }
    }
    ap->efs = r->d + start;
    ap->efs_len = r->pos - start;
}

static void parse_ap(rd *r, fz_ap *ap)
{
    const uint8_t *p;

    memset(ap, 0, sizeof(*ap));
    ap->aid_len = u8(r);
    if (ap->aid_len > sizeof(ap->aid)) {
        r->bad = true;
        return;
    }
    p = take(r, ap->aid_len);
    if (p)
        memcpy(ap->aid, p, ap->aid_len);
    ap->state = u8(r);
    ap->policy = take(r, 4);
    ap->max_tries = ap->policy ? ap->policy[1] : 0;
    ap->pin_len = u8(r);
    if (ap->pin_len > sizeof(ap->pin)) {
        r->bad = true;
        return;
    }
    p = take(r, ap->pin_len);
    if (p)
        memcpy(ap->pin, p, ap->pin_len);
    ap->tries = u8(r);
    ap->keys = keyset(r, &ap->keys_len);
    ap->seq = u32(r);
    parse_efs(r, ap);
}

int fz_parse_dump(const uint8_t *d, size_t n, fz_state *st)
{
    rd r = {d, n, 0, false};
    const uint8_t *magic = take(&r, 9);

    memset(st, 0, sizeof(*st));
    if (magic == NULL || memcmp(magic, "MNAPDUMP1", 9) != 0)
        return -1;
    if (n >= 7 && memcmp(d + n - 7, "CORRUPT", 7) == 0) {
        st->corrupt = true;
        return 0;
    }
    st->area = u8(&r);
    (void)take(&r, 8 + 10);   /* serial, diversification data: fixed at fabrication */
    st->am_keys = keyset(&r, &st->am_keys_len);
    st->am_seq = u32(&r);
    st->hwm = u32(&r);
    while (!r.bad && r.pos < n && d[r.pos] == 'P') {
        r.pos++;
        if (st->n_aps == FZ_MAX_APS)
            return -1;
        parse_ap(&r, &st->aps[st->n_aps++]);
    }
    if (r.bad || r.pos >= n || d[r.pos] != 'L')
        return -1;
    return 0;
}

const fz_ap *fz_find_ap(const fz_state *st, const uint8_t *aid, size_t aid_len)
{
    for (size_t i = 0; i < st->n_aps; i++)
        if (st->aps[i].aid_len == aid_len && memcmp(st->aps[i].aid, aid, aid_len) == 0)
            return &st->aps[i];
    return NULL;
}

void fz_violation(const char *what, const char *msg, const fz_step *step)
{
    fprintf(stderr, "\n*** card invariant violated (%s): %s\n", what, msg);
    if (step) {
        fprintf(stderr, "    actor %s, SW %04X, plain command:",
                step->actor == FZ_ACT_AM ? "AM channel"
                : step->actor == FZ_ACT_AP ? "AP channel" : "no channel", step->sw);
        for (size_t i = 0; i < step->len && i < 64; i++)
            fprintf(stderr, " %02X", step->apdu[i]);
        fprintf(stderr, "%s\n", step->len > 64 ? " ..." : "");
    }
    abort();
}

/* --- the command, as the rules need it ---------------------------------- */

typedef struct cmd {
    uint8_t ins, p1, p2;
    const uint8_t *data;
    size_t lc;
} cmd;

static void parse_cmd(const fz_step *s, cmd *c)
{
    const uint8_t *a = s->apdu;

    memset(c, 0, sizeof(*c));
    if (s->len < 4)
        return;
    c->ins = a[1];
    c->p1 = a[2];
    c->p2 = a[3];
    if (s->len > 5 && a[4] != 0 && 5u + a[4] <= s->len) {
        c->lc = a[4];
        c->data = a + 5;
    } else if (s->len > 7 && a[4] == 0) {
        size_t lc = (size_t)a[5] << 8 | a[6];
        if (lc && 7 + lc <= s->len) {
            c->lc = lc;
            c->data = a + 7;
        }
    }
}

/* A command of the AM channel that the card accepted. */
static bool am_ok(const fz_step *s, const cmd *c, uint8_t ins)
{
    return s->actor == FZ_ACT_AM && s->sw == 0x9000 && c->ins == ins;
}

/* The command's data starts with 4F len AID naming ap. */
static bool names(const cmd *c, const fz_ap *ap)
{
    return c->lc >= 2u + ap->aid_len && c->data[0] == 0x4F && c->data[1] == ap->aid_len &&
           memcmp(c->data + 2, ap->aid, ap->aid_len) == 0;
}

static bool own(const fz_step *s, const fz_ap *ap)
{
    return s->actor == FZ_ACT_AP && s->aid_len == ap->aid_len &&
           memcmp(s->aid, ap->aid, ap->aid_len) == 0;
}

static bool same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* PIN rules (PROTOCOL.md §5, §8): tries go up only to the maximum, through
 * VERIFY / CHANGE REFERENCE DATA with the right PIN in the AP's own channel
 * or RESET RETRY COUNTER from the AM; one command uses at most one try. */
static void check_pin(const fz_ap *a, const fz_ap *b, const fz_step *s, const cmd *c,
                      const char *what)
{
    bool rrc = am_ok(s, c, 0x2C) && names(c, a);
    bool pin_cmd = own(s, a) && (c->ins == 0x20 || c->ins == 0x24);
    bool pin_same = same(a->pin, a->pin_len, b->pin, b->pin_len);

    if (rrc) {
        if (b->tries != b->max_tries || b->pin_len == 0)
            fz_violation(what, "RESET RETRY COUNTER did not set the PIN and reset its counter", s);
        return;
    }
    if (!pin_cmd) {
        if (!pin_same || a->tries != b->tries)
            fz_violation(what, "PIN or try counter changed by a command that may not touch it "
                               "(firewall / refused command)", s);
        return;
    }
    if (b->tries + 1 < a->tries)
        fz_violation(what, "one VERIFY/CHANGE used more than one try", s);
    if (b->tries > a->tries) {
        /* Only a right PIN restores the counter, and only to the maximum. */
        const uint8_t *presented = c->data;
        size_t plen = c->lc;
        if (c->ins == 0x24 && c->lc >= 1) {
            plen = c->data[0];
            presented = c->data + 1;
            if (plen > c->lc - 1)
                plen = 0;
        }
        if (s->sw != 0x9000 || !same(presented, plen, a->pin, a->pin_len))
            fz_violation(what, "try counter went up without the right PIN", s);
        if (b->tries != b->max_tries)
            fz_violation(what, "a right PIN did not restore the counter to max tries", s);
    }
    if (!pin_same) {
        size_t olen = c->lc >= 1 ? c->data[0] : 0;
        if (c->ins != 0x24 || s->sw != 0x9000 || c->lc < 1 || olen > c->lc - 1 ||
            !same(c->data + 1 + olen, c->lc - 1 - olen, b->pin, b->pin_len))
            fz_violation(what, "PIN value changed other than by a successful CHANGE "
                               "REFERENCE DATA to the new PIN sent", s);
    }
}

static void check_ap(const fz_ap *a, const fz_ap *b, const fz_step *s, const cmd *c,
                     const char *what)
{
    bool mine = own(s, a);

    if (b->seq < a->seq)
        fz_violation(what, "an AP's sequence counter went down", s);
    if (memcmp(a->policy, b->policy, 4) != 0)
        fz_violation(what, "an AP's PIN policy or minimum level changed", s);
    if (a->state != b->state && !(am_ok(s, c, 0xF0) && c->p1 == 0x40 && names(c, a)))
        fz_violation(what, "an AP's state changed without SET STATUS naming it", s);
    if (!same(a->keys, a->keys_len, b->keys, b->keys_len) &&
        !(mine && c->ins == 0xD8 && s->sw == 0x9000))
        fz_violation(what, "an AP's key set changed without PUT KEY in its own channel", s);
    if (!same(a->efs, a->efs_len, b->efs, b->efs_len) &&
        !(mine && s->sw == 0x9000 && (c->ins == 0xD6 || c->ins == 0xDC || c->ins == 0xE2)))
        fz_violation(what, "an AP's files changed without an accepted write in its own "
                           "channel (firewall F3/F4, or a refused command wrote)", s);
    check_pin(a, b, s, c, what);
}

void fz_check_step(const fz_state *before, const fz_state *after, const fz_step *s,
                   const char *what)
{
    cmd c;
    bool terminate, key_change;

    parse_cmd(s, &c);
    if (after->corrupt)
        fz_violation(what, "the card's NVM became corrupt without a power cut", s);
    terminate = am_ok(s, &c, 0xF0) && c.p1 == 0x80 && c.p2 == 0xFF;
    if (before->area != after->area && !(am_ok(s, &c, 0xF0) && c.p1 == 0x80) &&
        !(am_ok(s, &c, 0xD8) && before->area == 0x01))
        fz_violation(what, "the area state changed without SET STATUS or AREA SETUP", s);
    if (after->area == AREA_TERMINATED) {
        if (after->n_aps != 0)
            fz_violation(what, "a TERMINATED area still holds APs", s);
        return;
    }
    key_change = am_ok(s, &c, 0xD8);
    if (!same(before->am_keys, before->am_keys_len, after->am_keys, after->am_keys_len) &&
        !key_change)
        fz_violation(what, "the AM key set changed without PUT KEY in an AM channel", s);
    if (after->am_seq < before->am_seq)
        fz_violation(what, "the AM sequence counter went down", s);
    if (after->hwm < before->hwm)
        fz_violation(what, "the sequence counter high-water mark went down", s);
    for (size_t i = 0; i < before->n_aps; i++) {
        const fz_ap *a = &before->aps[i];
        const fz_ap *b = fz_find_ap(after, a->aid, a->aid_len);
        if (b == NULL) {
            if (!(am_ok(s, &c, 0xE4) && names(&c, a)) && !terminate)
                fz_violation(what, "an AP vanished without DELETE naming it", s);
            continue;
        }
        check_ap(a, b, s, &c, what);
    }
    for (size_t i = 0; i < after->n_aps; i++)
        if (fz_find_ap(before, after->aps[i].aid, after->aps[i].aid_len) == NULL &&
            !(am_ok(s, &c, 0xE8) && (c.p1 & 0x80)))
            fz_violation(what, "an AP appeared without an accepted last LOAD AP block", s);
}

bool fz_counters_only(const fz_state *before, const fz_state *after, const fz_step *s)
{
    cmd c;

    parse_cmd(s, &c);
    if (after->corrupt || before->area != after->area || before->n_aps != after->n_aps ||
        !same(before->am_keys, before->am_keys_len, after->am_keys, after->am_keys_len) ||
        after->am_seq < before->am_seq || after->hwm < before->hwm)
        return false;
    for (size_t i = 0; i < before->n_aps; i++) {
        const fz_ap *a = &before->aps[i], *b = &after->aps[i];
        bool pin_cmd = own(s, a) && (c.ins == 0x20 || c.ins == 0x24);
        if (a->aid_len != b->aid_len || memcmp(a->aid, b->aid, a->aid_len) != 0 ||
            a->state != b->state || memcmp(a->policy, b->policy, 4) != 0 ||
            !same(a->keys, a->keys_len, b->keys, b->keys_len) ||
            !same(a->efs, a->efs_len, b->efs, b->efs_len) ||
            !same(a->pin, a->pin_len, b->pin, b->pin_len) || b->seq < a->seq)
            return false;
        if (b->tries != a->tries && !(pin_cmd && b->tries + 1 == a->tries))
            return false;
    }
    return true;
}
