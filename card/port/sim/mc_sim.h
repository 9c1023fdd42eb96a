/* mc_sim.h: the simulator port of the card runtime (host only).
 *
 * NVM is a memory buffer, optionally written through to a file image (with a
 * header: magic, version, size) and fsync'ed at every mc_port_nvm_flush, i.e.
 * at every transaction commit.  It counts NVM writes and bytes, and can cut
 * the power during the Nth write after K of its bytes: from then on every
 * write fails (and is lost) until mc_sim_power_restore.  AES and random bytes
 * come from OpenSSL; random bytes can be made deterministic for transcripts.
 *
 * Use: mc_sim sim; mc_sim_init_mem(&sim, 65536); mc_fabricate(&card, &sim, ...)
 * then mc_power_on(&card, &sim) after every (simulated) power cycle. */
#ifndef MC_SIM_H
#define MC_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define MC_SIM_DEFAULT_NVM_SIZE 65536u

typedef struct mc_sim {
    uint8_t *nvm;
    uint32_t nvm_size;
    int fd;                      /* file image, or -1 */
    /* counters, since init or mc_sim_reset_counters */
    uint64_t writes;
    uint64_t bytes_written;
    uint64_t reads;
    uint64_t flushes;
    /* power-cut injection */
    uint64_t cut_at_write;       /* 1-based index of the write to tear; 0 = off */
    size_t cut_after_bytes;      /* bytes of that write that reach NVM */
    bool power_cut;              /* a cut happened: writes fail until restore */
    size_t cut_len;              /* length of the write the cut tore (0: none yet) */
    uint32_t cut_addr;           /* and its address */
    int cut_how;                 /* the interrupted byte: MC_TEAR_* of card/port_tear.h */
    uint8_t cut_value;           /* its value for MC_TEAR_VALUE */
    /* deterministic random (for transcripts and tests): when set, random
     * bytes come from a counter-mode stream over this seed instead of OpenSSL */
    bool det_random;
    uint8_t det_seed[16];
    uint64_t det_counter;
    /* page-granular tearing (mc_port_tear_page): 0 tears bytes, else the
     * page size (a power of two) whose interrupted page a cut spoils */
    uint32_t tear_page;
} mc_sim;

/* Memory-only NVM of size bytes, erased (0xFF).  0 or -1. */
int mc_sim_init_mem(mc_sim *sim, uint32_t size);
/* Creates a new image file (fails if it exists unless truncate) of size bytes. */
int mc_sim_create_file(mc_sim *sim, const char *path, uint32_t size, bool truncate);
/* Opens an existing image.  Returns 0, or -1 with a message in err (bad
 * magic, version or size, I/O error). */
int mc_sim_open_file(mc_sim *sim, const char *path, char *err, size_t err_cap);
void mc_sim_close(mc_sim *sim);

/* Power-cut injection: tear the nth write from now (1 = the next write) after
 * k bytes, the rest (the interrupted byte included) old.  mc_port_tear_arm
 * (card/port_tear.h) also sets what the interrupted byte holds. */
void mc_sim_arm_cut(mc_sim *sim, uint64_t nth_write_from_now, size_t k_bytes);
void mc_sim_disarm(mc_sim *sim);
/* The same through card/port_tear.h (mc_port_tear_*), which the tear runner
 * uses: any port can offer it. */
/* Power is back: writes work again (call before mc_power_on). */
void mc_sim_power_restore(mc_sim *sim);
void mc_sim_reset_counters(mc_sim *sim);
/* For an NVM write of len bytes (sim_tear.c; every build of the simulator's
 * NVM calls these two around storing the bytes): counts the write and says
 * how many of its bytes land (*landed) and whether the byte after them is
 * torn to *torn_value (*torn); true when the power fails in this write.
 * Then mc_sim_tear_done records what happened. */
bool mc_sim_tear_plan(mc_sim *sim, const uint8_t *buf, size_t len, size_t *landed,
                      bool *torn, uint8_t *torn_value);
void mc_sim_tear_done(mc_sim *sim, uint32_t addr, size_t len, size_t landed, bool cut);
void mc_sim_set_deterministic_random(mc_sim *sim, const uint8_t seed[16]);
/* len bytes of that deterministic stream (sim_det.c).  0, or -1. */
int mc_sim_det_bytes(mc_sim *sim, uint8_t *buf, size_t len);

/* The simulator's transport key set (ENC = MAC = DEK = 40 41 .. 4F, KVN FF)
 * and key-set family (00 01).  TEST KEYS, published in PROTOCOL.md: for
 * simulated cards only. */
extern const uint8_t mc_sim_test_key[16];
extern const uint8_t mc_sim_test_family[2];

/* Takes an exclusive, non-blocking lock on the open image file (flock), so
 * that one image is served by one process at a time.  0, or -1 with a message
 * naming path in err.  Memory NVM needs no lock (returns 0).  Closing the
 * image drops the lock. */
int mc_sim_lock(mc_sim *sim, const char *path, char *err, size_t err_cap);

/* The OpenSSL AES block function as a cm_aes_fn (ctx ignored): the host
 * library and tests use the same one. */
int mc_sim_openssl_aes(void *ctx, int decrypt, const uint8_t *key, size_t key_len,
                       const uint8_t in[16], uint8_t out[16]);

#endif
