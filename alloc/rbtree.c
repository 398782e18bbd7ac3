/* rbtree.c - red-black insertion and deletion (CLRS, with NULL for the leaves). */
#include "rbtree.h"

static int is_red(const vram__rb_node *n) { return n && n->red; }

/* Puts `with` where `old` hangs below `parent` (or at the root). */
static void replace_child(vram__rb_tree *t, vram__rb_node *parent, vram__rb_node *old,
                          vram__rb_node *with)
{
    if (!parent)
        t->root = with;
    else if (parent->left == old)
        parent->left = with;
    else
        parent->right = with;
}

static void rotate_left(vram__rb_tree *t, vram__rb_node *x)
{
    vram__rb_node *y = x->right;
    x->right = y->left;
    if (y->left)
        y->left->parent = x;
    y->parent = x->parent;
    replace_child(t, x->parent, x, y);
    y->left = x;
    x->parent = y;
}

static void rotate_right(vram__rb_tree *t, vram__rb_node *x)
{
    vram__rb_node *y = x->left;
    x->left = y->right;
    if (y->right)
        y->right->parent = x;
    y->parent = x->parent;
    replace_child(t, x->parent, x, y);
    y->right = x;
    x->parent = y;
}

void vram__rb_link(vram__rb_tree *t, vram__rb_node *n, vram__rb_node *parent, vram__rb_node **link)
{
    n->parent = parent;
    n->left = n->right = NULL;
    n->red = 1;
    *link = n;
    t->count++;
    vram__rb_node *p;
    while ((p = n->parent) && p->red) {
        vram__rb_node *g = p->parent; /* exists: a red node is never the root */
        if (p == g->left) {
            vram__rb_node *u = g->right;
            if (is_red(u)) {
                p->red = u->red = 0;
                g->red = 1;
                n = g;
                continue;
            }
            if (n == p->right) {
                rotate_left(t, p);
                n = p;
                p = n->parent;
            }
            p->red = 0;
            g->red = 1;
            rotate_right(t, g);
        } else {
            vram__rb_node *u = g->left;
            if (is_red(u)) {
                p->red = u->red = 0;
                g->red = 1;
                n = g;
                continue;
            }
            if (n == p->left) {
                rotate_right(t, p);
                n = p;
                p = n->parent;
            }
            p->red = 0;
            g->red = 1;
            rotate_left(t, g);
        }
    }
    t->root->red = 0;
}

/* Restores the black height after a black node left the path through x
 * (x may be NULL; xp is its parent). */
static void erase_fixup(vram__rb_tree *t, vram__rb_node *x, vram__rb_node *xp)
{
    while (x != t->root && !is_red(x)) {
        if (x == xp->left) {
            vram__rb_node *w = xp->right; /* exists: x's side is one black short */
            if (w->red) {
                w->red = 0;
                xp->red = 1;
                rotate_left(t, xp);
                w = xp->right;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                w->red = 1;
                x = xp;
                xp = x->parent;
                continue;
            }
            if (!is_red(w->right)) {
                w->left->red = 0;
                w->red = 1;
                rotate_right(t, w);
                w = xp->right;
            }
            w->red = xp->red;
            xp->red = 0;
            w->right->red = 0;
            rotate_left(t, xp);
        } else {
            vram__rb_node *w = xp->left;
            if (w->red) {
                w->red = 0;
                xp->red = 1;
                rotate_right(t, xp);
                w = xp->left;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                w->red = 1;
                x = xp;
                xp = x->parent;
                continue;
            }
            if (!is_red(w->left)) {
                w->right->red = 0;
                w->red = 1;
                rotate_left(t, w);
                w = xp->left;
            }
            w->red = xp->red;
            xp->red = 0;
            w->left->red = 0;
            rotate_right(t, xp);
        }
        x = t->root;
    }
    if (x)
        x->red = 0;
}

void vram__rb_erase(vram__rb_tree *t, vram__rb_node *z)
{
    /* y is the node that leaves its position: z itself, or z's successor. */
    vram__rb_node *y = z;
    if (z->left && z->right) {
        y = z->right;
        while (y->left)
            y = y->left;
    }
    vram__rb_node *x = y->left ? y->left : y->right;
    vram__rb_node *xp = y->parent;
    if (x)
        x->parent = xp;
    replace_child(t, xp, y, x);
    int removed_red = y->red;
    if (y != z) {
        if (xp == z)
            xp = y;
        y->left = z->left;
        y->right = z->right;
        y->parent = z->parent;
        y->red = z->red;
        y->left->parent = y; /* z had two children: y is its successor */
        if (y->right)
            y->right->parent = y;
        replace_child(t, z->parent, z, y);
    }
    t->count--;
    if (!removed_red)
        erase_fixup(t, x, xp);
}

vram__rb_node *vram__rb_first(const vram__rb_tree *t)
{
    vram__rb_node *n = t->root;
    while (n && n->left)
        n = n->left;
    return n;
}

vram__rb_node *vram__rb_last(const vram__rb_tree *t)
{
    vram__rb_node *n = t->root;
    while (n && n->right)
        n = n->right;
    return n;
}

vram__rb_node *vram__rb_next(const vram__rb_node *n)
{
    if (n->right) {
        n = n->right;
        while (n->left)
            n = n->left;
        return (vram__rb_node *)n;
    }
    while (n->parent && n == n->parent->right)
        n = n->parent;
    return n->parent;
}

vram__rb_node *vram__rb_prev(const vram__rb_node *n)
{
    if (n->left) {
        n = n->left;
        while (n->right)
            n = n->right;
        return (vram__rb_node *)n;
    }
    while (n->parent && n == n->parent->left)
        n = n->parent;
    return n->parent;
}

/* Black height of the subtree at n, or -1 after storing a violation in *why.
 * Recursion depth is the tree height, at most 2 log2(n + 1). */
static int verify_subtree(const vram__rb_node *n, size_t *count, const char **why)
{
    if (!n)
        return 0;
    (*count)++;
    if ((n->left && n->left->parent != n) || (n->right && n->right->parent != n)) {
        *why = "red-black tree: a child's parent link does not name its parent";
        return -1;
    }
    if (n->red && (is_red(n->left) || is_red(n->right))) {
        *why = "red-black tree: a red node has a red child";
        return -1;
    }
    int l = verify_subtree(n->left, count, why);
    if (l < 0)
        return -1;
    int r = verify_subtree(n->right, count, why);
    if (r < 0)
        return -1;
    if (l != r) {
        *why = "red-black tree: two paths cross different numbers of black nodes";
        return -1;
    }
    return l + !n->red;
}

const char *vram__rb_verify(const vram__rb_tree *t)
{
    if (t->root && (t->root->red || t->root->parent))
        return "red-black tree: the root is red or has a parent";
    const char *why = NULL;
    size_t count = 0;
    if (verify_subtree(t->root, &count, &why) < 0)
        return why;
    if (count != t->count)
        return "red-black tree: node count differs from the recorded count";
    return NULL;
}
