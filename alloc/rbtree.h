/* rbtree.h - an intrusive red-black tree shared by the heap policies.
 *
 * The node is embedded in the caller's struct (recover it with vram__rb_entry);
 * the tree never allocates and never compares: the caller descends to the link
 * where a new node belongs and calls vram__rb_link, which inserts and rebalances.
 * Every operation is O(log n); vram__rb_next/prev are O(1) amortised over an
 * in-order walk.
 *
 * Invariants (the red-black rules, kept by vram__rb_link and vram__rb_erase and
 * verified by vram__rb_verify): the root is black; a red node has no red child;
 * every path from a node down to a missing child crosses the same number of
 * black nodes; each child's parent pointer names its parent; the root has
 * neither parent nor colour bit. */
#ifndef VRAM_RBTREE_H
#define VRAM_RBTREE_H

#include <stddef.h>
#include <stdint.h>

/* 24 bytes: the colour is bit 0 of the parent's address (nodes are aligned). */
typedef struct vram__rb_node {
    uintptr_t parent_red; /* the parent (0 at the root), | 1 when red */
    struct vram__rb_node *left, *right;
} vram__rb_node;

static inline vram__rb_node *vram__rb_parent(const vram__rb_node *n)
{
    return (vram__rb_node *)(n->parent_red & ~(uintptr_t)1);
}
static inline int vram__rb_is_red(const vram__rb_node *n) { return (int)(n->parent_red & 1u); }

typedef struct vram__rb_tree {
    vram__rb_node *root;
    size_t count;
} vram__rb_tree;

#define vram__rb_entry(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Inserts `node` at `*link`, a NULL child pointer of `parent` (or &tree->root
 * with parent NULL) found by the caller's descent, then rebalances. */
void vram__rb_link(vram__rb_tree *t, vram__rb_node *node, vram__rb_node *parent,
                   vram__rb_node **link);
/* Removes `node`, which must be in `t`. */
void vram__rb_erase(vram__rb_tree *t, vram__rb_node *node);

vram__rb_node *vram__rb_first(const vram__rb_tree *t); /* NULL when empty */
vram__rb_node *vram__rb_last(const vram__rb_tree *t);  /* NULL when empty */
vram__rb_node *vram__rb_next(const vram__rb_node *n);  /* NULL after the last */
vram__rb_node *vram__rb_prev(const vram__rb_node *n);  /* NULL before the first */

/* NULL when the red-black rules, the parent links and the node count hold,
 * else a static description of the first violation found. O(n). */
const char *vram__rb_verify(const vram__rb_tree *t);

#endif
