/* ctl_drain.h: the fragment half of objfsctl node out/in.  out rebuilds
 * every fragment whose home is the node on other nodes (the node may be
 * up or down); in writes the node's missing home fragments back and has
 * the stray GC remove the copies that stood in for them.  Blocks the
 * caller; prints progress on a terminal. */
#ifndef OBJFS_CTL_DRAIN_H
#define OBJFS_CTL_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "json.h"

/* Node index self of c->cfg; w NULL: text on stdout, else members of the
 * open JSON object w.  Returns 0 when every block concerned got its
 * fragments (out: the node can be removed), else a negative error. */
int ctl_drain(struct ctl *c, struct jw *w, size_t self, int out);

struct objc;
/* Reads the cluster map from the catalog and sets out[i] (c->cfg.n_nodes
 * bytes) to 1 for each node of the config that is out (objfsctl node
 * out), 0 for the others.  Returns how many are out, or a negative errno
 * (out all 0 then). */
int ctl_nodes_out(struct ctl *c, struct objc *oc, uint8_t *out);

#endif
