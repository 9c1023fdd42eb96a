/* image.h: from an AP manifest to an AP image, for `ap load` and
 * `manifest build`: checks the manifest (printing every problem as
 * FILE:LINE:COLUMN: message), looks the AP's key set up in the key store,
 * diversifies master keys for the card, and wraps them under the region
 * Key-DEK (itself diversified when the region set holds master keys). */
#ifndef MNAP_IMAGE_H
#define MNAP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "mnap/mnap.h"

/* Checks path into *m (heap: the struct is large).  Prints the problems.
 * Returns EX_OK, EX_LOCAL (invalid or unreadable), or another exit code. */
int image_check(const char *path, mt_manifest **m, size_t *problems);
/* Builds the image of m.  region: the region key set; div: the card's
 * diversification data, needed when a key set holds master keys (NULL
 * otherwise: a master set then gives an error).  out gets at most
 * MT_MANIFEST_MAX_IMAGE bytes.  Returns an exit code (errors printed). */
int image_build(const char *path, const mt_manifest *m, const mnap_keystore *ks,
                const mnap_keyset *region, const uint8_t *div, uint8_t *out, size_t cap,
                size_t *out_len);
void image_free(mt_manifest *m);

#endif
