/* rbtree.c - red-black insertion and deletion (CLRS, with NULL for the leaves). */
#include "rbtree.h"

static int is_red(const vram__rb_node *n) { return n && vram__rb_is_red(n); }

static void set_parent(vram__rb_node *n, const vram__rb_node *p)
{
    n->parent_red = (uintptr_t)p | (n->parent_red & 1u);
}

static void set_red(vram__rb_node *n, int red)
{
    n->parent_red = (n->parent_red & ~(uintptr_t)1) | (uintptr_t)(red != 0);
}

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
        set_parent(y->left, x);
    set_parent(y, vram__rb_parent(x));
    replace_child(t, vram__rb_parent(x), x, y);
    y->left = x;
    set_parent(x, y);
}

static void rotate_right(vram__rb_tree *t, vram__rb_node *x)
{
    vram__rb_node *y = x->left;
    x->left = y->right;
    if (y->right)
        set_parent(y->right, x);
    set_parent(y, vram__rb_parent(x));
    replace_child(t, vram__rb_parent(x), x, y);
    y->right = x;
    set_parent(x, y);
}

void vram__rb_link(vram__rb_tree *t, vram__rb_node *n, vram__rb_node *parent, vram__rb_node **link)
{
    n->parent_red = (uintptr_t)parent | 1u; /* red */
    n->left = n->right = NULL;
    *link = n;
    t->count++;
    vram__rb_node *p;
    while ((p = vram__rb_parent(n)) && vram__rb_is_red(p)) {
        vram__rb_node *g = vram__rb_parent(p); /* exists: a red node is never the root */
        if (p == g->left) {
            vram__rb_node *u = g->right;
            if (is_red(u)) {
                set_red(p, 0);
                set_red(u, 0);
                set_red(g, 1);
                n = g;
                continue;
            }
            if (n == p->right) {
                rotate_left(t, p);
                n = p;
                p = vram__rb_parent(n);
            }
            set_red(p, 0);
            set_red(g, 1);
            rotate_right(t, g);
        } else {
            vram__rb_node *u = g->left;
            if (is_red(u)) {
                set_red(p, 0);
                set_red(u, 0);
                set_red(g, 1);
                n = g;
                continue;
            }
            if (n == p->left) {
                rotate_right(t, p);
                n = p;
                p = vram__rb_parent(n);
            }
            set_red(p, 0);
            set_red(g, 1);
            rotate_left(t, g);
        }
    }
    set_red(t->root, 0);
}

/* Restores the black height after a black node left the path through x
 * (x may be NULL; xp is its parent). */
static void erase_fixup(vram__rb_tree *t, vram__rb_node *x, vram__rb_node *xp)
{
    while (x != t->root && !is_red(x)) {
        if (x == xp->left) {
            vram__rb_node *w = xp->right; /* exists: x's side is one black short */
            if (vram__rb_is_red(w)) {
                set_red(w, 0);
                set_red(xp, 1);
                rotate_left(t, xp);
                w = xp->right;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                set_red(w, 1);
                x = xp;
                xp = vram__rb_parent(x);
                continue;
            }
            if (!is_red(w->right)) {
                set_red(w->left, 0);
                set_red(w, 1);
                rotate_right(t, w);
                w = xp->right;
            }
            set_red(w, vram__rb_is_red(xp));
            set_red(xp, 0);
            set_red(w->right, 0);
            rotate_left(t, xp);
        } else {
            vram__rb_node *w = xp->left;
            if (vram__rb_is_red(w)) {
                set_red(w, 0);
                set_red(xp, 1);
                rotate_right(t, xp);
                w = xp->left;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                set_red(w, 1);
                x = xp;
                xp = vram__rb_parent(x);
                continue;
            }
            if (!is_red(w->left)) {
                set_red(w->right, 0);
                set_red(w, 1);
                rotate_left(t, w);
                w = xp->left;
            }
            set_red(w, vram__rb_is_red(xp));
            set_red(xp, 0);
            set_red(w->left, 0);
            rotate_right(t, xp);
        }
        x = t->root;
    }
    if (x)
        set_red(x, 0);
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
    vram__rb_node *xp = vram__rb_parent(y);
    if (x)
        set_parent(x, xp);
    replace_child(t, xp, y, x);
    int removed_red = vram__rb_is_red(y);
    if (y != z) {
        if (xp == z)
            xp = y;
        y->left = z->left;
        y->right = z->right;
        set_parent(y, vram__rb_parent(z));
        set_red(y, vram__rb_is_red(z));
        set_parent(y->left, y); /* z had two children: y is its successor */
        if (y->right)
            set_parent(y->right, y);
        replace_child(t, vram__rb_parent(z), z, y);
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
    while (vram__rb_parent(n) && n == vram__rb_parent(n)->right)
        n = vram__rb_parent(n);
    return vram__rb_parent(n);
}

vram__rb_node *vram__rb_prev(const vram__rb_node *n)
{
    if (n->left) {
        n = n->left;
        while (n->right)
            n = n->right;
        return (vram__rb_node *)n;
    }
    while (vram__rb_parent(n) && n == vram__rb_parent(n)->left)
        n = vram__rb_parent(n);
    return vram__rb_parent(n);
}

/* Black height of the subtree at n, or -1 after storing a violation in *why.
 * Recursion depth is the tree height, at most 2 log2(n + 1). */
static int verify_subtree(const vram__rb_node *n, size_t *count, const char **why)
{
    if (!n)
        return 0;
    (*count)++;
    if ((n->left && vram__rb_parent(n->left) != n) || (n->right && vram__rb_parent(n->right) != n)) {
        *why = "red-black tree: a child's parent link does not name its parent";
        return -1;
    }
    if (vram__rb_is_red(n) && (is_red(n->left) || is_red(n->right))) {
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
    return l + !vram__rb_is_red(n);
}

const char *vram__rb_verify(const vram__rb_tree *t)
{
    if (t->root && t->root->parent_red)
        return "red-black tree: the root is red or has a parent";
    const char *why = NULL;
    size_t count = 0;
    if (verify_subtree(t->root, &count, &why) < 0)
        return why;
    if (count != t->count)
        return "red-black tree: node count differs from the recorded count";
    return NULL;
}
