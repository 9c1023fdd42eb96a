/* ctx.c: creation and destruction of an mnap_ctx, and small accessors. */
#include <stdlib.h>
#include <string.h>

#include "mnap_int.h"
#include "cm_ct.h"

const char *mnap_version(void)
{
    return MNAP_VERSION_STRING;
}

const uint8_t mnap_am_aid[MNAP_AM_AID_LEN] = { 0xF0, 0x4D, 0x4E, 0x41, 0x50, 0x41, 0x4D };

mnap_err mnap_ctx_new(mnap_ctx **out, const mnap_transport *t)
{
    mnap_ctx *ctx;
    const char *env;

    if (out == NULL || t == NULL || t->transmit == NULL)
        return MNAP_E_PARAM;
    *out = NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return MNAP_E_NOMEM;
    ctx->cmd = malloc(MNAP_CMD_CAP);
    ctx->rsp = malloc(MNAP_RSP_CAP);
    /* tmp holds a plain command, then the protected response. */
    ctx->tmp = malloc(MNAP_RSP_CAP > MNAP_CMD_CAP ? MNAP_RSP_CAP : MNAP_CMD_CAP);
    if (ctx->cmd == NULL || ctx->rsp == NULL || ctx->tmp == NULL) {
        free(ctx->cmd);
        free(ctx->rsp);
        free(ctx->tmp);
        free(ctx);
        return MNAP_E_NOMEM;
    }
    ctx->tr = *t;
    mnap__aes_init(&ctx->aes);
    ctx->max_cmd = MNAP_DEFAULT_MAX_DATA;
    ctx->max_rsp = MNAP_DEFAULT_MAX_DATA + 1;
    env = getenv("MNAP_TRACE");
    if (env != NULL && strcmp(env, "1") == 0)
        ctx->trace_flags = MNAP_TRACE_ON;
    *out = ctx;
    return MNAP_OK;
}

void mnap_ctx_free(mnap_ctx *ctx)
{
    if (ctx == NULL)
        return;
    mnap__session_drop(ctx);
    ctx->op_depth = 0;
    mnap__release_idle(ctx);
    /* The buffers may still hold plain file data or key material. */
    cm_wipe(ctx->cmd, MNAP_CMD_CAP);
    cm_wipe(ctx->rsp, MNAP_RSP_CAP);
    cm_wipe(ctx->tmp, MNAP_RSP_CAP > MNAP_CMD_CAP ? MNAP_RSP_CAP : MNAP_CMD_CAP);
    free(ctx->cmd);
    free(ctx->rsp);
    free(ctx->tmp);
    cm_wipe(ctx, sizeof(*ctx));
    free(ctx);
}

uint16_t mnap_last_sw(const mnap_ctx *ctx)
{
    return ctx ? ctx->last_sw : 0;
}

int mnap_session_open(const mnap_ctx *ctx, uint8_t *level)
{
    if (ctx == NULL || !ctx->open)
        return 0;
    if (level != NULL)
        *level = ctx->level;
    return 1;
}

mnap_err mnap_card_div_data(const mnap_ctx *ctx, uint8_t div[MNAP_DIV_DATA_LEN])
{
    if (ctx == NULL || div == NULL)
        return MNAP_E_PARAM;
    if (!ctx->have_div)
        return MNAP_E_STATE;
    memcpy(div, ctx->div, MNAP_DIV_DATA_LEN);
    return MNAP_OK;
}

mnap_err mnap_reconnect(mnap_ctx *ctx)
{
    if (ctx == NULL)
        return MNAP_E_PARAM;
    mnap__session_drop(ctx);
    mnap__forget_selection(ctx);
    if (ctx->held) {
        /* A reset inside one's own transaction would keep it: end it. */
        if (ctx->tr.end != NULL)
            ctx->tr.end(ctx->tr.self);
        ctx->held = false;
        ctx->op_depth = 0;
    }
    if (ctx->tr.reconnect == NULL)
        return MNAP_E_STATE;
    mnap__trace_text(ctx, "reconnect");
    return ctx->tr.reconnect(ctx->tr.self);
}
