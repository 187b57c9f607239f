/*
 * The merge of a .NET client's commit with the stored state (merge.c).
 */
#ifndef RS_MERGE_H
#define RS_MERGE_H

#include <apr_hash.h>
#include "codec.h"

/* 1 when committing in may keep something stored (else in goes as is). */
int rs_merge_needed(apr_pool_t *p, apr_hash_t *keys, const rs_state_t *in);

/* in, with the stored values that stay (see merge.c), in p. */
rs_state_t *rs_merge_client(apr_pool_t *p, apr_hash_t *keys,
                            const rs_state_t *stored, const rs_state_t *in);

#endif
