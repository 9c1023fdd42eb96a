/* manifest_report.c: the manifest compiler's problem list.  Problems carry
 * the 1-based line and column of the JSON text they are about, so that
 * `mnap manifest check` can point at every one of them. */
#include <stdarg.h>
#include <stdio.h>

#include "manifest_int.h"

void mt_manifest_report_init(mt_manifest_report *r, mt_manifest_problem *items, size_t cap)
{
    r->items = items;
    r->cap = items != NULL ? cap : 0;
    r->count = 0;
}

static bool before(int l1, int c1, int l2, int c2)
{
    return l1 < l2 || (l1 == l2 && c1 < c2);
}

static void add(mt_manifest_report *r, int line, int column, const char *fmt, va_list ap) MF_PRINTF(4, 0);
static void add(mt_manifest_report *r, int line, int column, const char *fmt, va_list ap)
{
    mt_manifest_problem *p = NULL;

    if (r == NULL)
        return;
    if (r->count < r->cap) {
        p = &r->items[r->count];
    } else if (r->cap > 0) {
        /* Full: keep the problems that come first in the file, which is what
         * a reader fixes first, rather than the first ones found (the walk
         * finds unknown fields and cross-file problems out of order). */
        size_t last = 0;
        for (size_t i = 1; i < r->cap; i++)
            if (before(r->items[last].line, r->items[last].column, r->items[i].line, r->items[i].column))
                last = i;
        if (before(line, column, r->items[last].line, r->items[last].column))
            p = &r->items[last];
    }
    if (p != NULL) {
        p->line = line;
        p->column = column;
        /* A message longer than the field is cut: the position still says where. */
        (void)vsnprintf(p->message, sizeof p->message, fmt, ap);
    }
    r->count++;
}

void mf_problem_at(mt_manifest_report *r, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(r, line, column, fmt, ap);
    va_end(ap);
}

void mf_problem(mt_manifest_report *r, const mj_doc *doc, int tok, const char *fmt, ...)
{
    int line, column;
    va_list ap;
    mj_pos(doc, tok, &line, &column);
    va_start(ap, fmt);
    add(r, line, column, fmt, ap);
    va_end(ap);
}

void mf_problem_in(mt_manifest_report *r, const mj_doc *doc, int tok, size_t off, const char *fmt, ...)
{
    int line, column;
    size_t n;
    const char *p = mj_str(doc, tok, &n);
    va_list ap;

    /* One column per byte after the opening quote.  Every decoder stops at
     * the first character it refuses, and a raw newline is one of those, so
     * the offending character is always on the quote's line. */
    mj_pos(doc, tok, &line, &column);
    if (p != NULL && off <= n && mj_kind(doc, tok) == MJ_STRING)
        column += 1 + (int)off;
    va_start(ap, fmt);
    add(r, line, column, fmt, ap);
    va_end(ap);
}

void mf_report_sort(mt_manifest_report *r)
{
    size_t stored = r->count < r->cap ? r->count : r->cap;
    /* Insertion sort: stable, and the list is short and nearly sorted. */
    for (size_t i = 1; i < stored; i++) {
        mt_manifest_problem cur = r->items[i];
        size_t j = i;
        while (j > 0 && before(cur.line, cur.column, r->items[j - 1].line, r->items[j - 1].column)) {
            r->items[j] = r->items[j - 1];
            j--;
        }
        r->items[j] = cur;
    }
}
