/* A small YAML document tree for the policy loader.
 *
 * rbd_ynode_parse() reads one YAML document with libyaml's event API into
 * mappings, sequences and scalars, each with the 1-based line and column
 * where it starts. It refuses, with a message in the caller's diag, what a
 * configuration file has no use for and an attacker could abuse: anchors
 * and aliases, tags other than !!str, !!int, !!map and !!seq, more than one
 * document, nesting deeper than RBD_POLICY_DEPTH_MAX, scalars longer than
 * RBD_POLICY_SCALAR_MAX, non-scalar and duplicate mapping keys. Types are
 * not resolved here beyond rbd_ynode_kind(): the schema is the caller's. */
#ifndef RBD_YAMLNODE_H
#define RBD_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

enum rbd_ynode_type {
	RBD_YNODE_SCALAR,
	RBD_YNODE_SEQUENCE,
	RBD_YNODE_MAPPING,
	_RBD_YNODE_TYPE_MAX,
};

/* How a scalar was written. */
enum rbd_ynode_style {
	RBD_YNODE_PLAIN,
	RBD_YNODE_SINGLE_QUOTED,
	RBD_YNODE_DOUBLE_QUOTED,
	RBD_YNODE_LITERAL,		/* | */
	RBD_YNODE_FOLDED,		/* > */
	_RBD_YNODE_STYLE_MAX,
};

/* What a scalar means under the YAML 1.2 core schema (plain scalars only;
 * quoted, block and !!str scalars are strings, !!int ones integers). */
enum rbd_ynode_kind {
	RBD_YKIND_NULL,			/* "", "~", "null" */
	RBD_YKIND_BOOL,			/* true, false */
	RBD_YKIND_INT,			/* decimal: [-+]?[0-9]+ */
	RBD_YKIND_FLOAT,
	RBD_YKIND_STRING,
	RBD_YKIND_SEQUENCE,
	RBD_YKIND_MAPPING,
	_RBD_YKIND_MAX,
};

enum rbd_ynode_tag {
	RBD_YTAG_NONE,
	RBD_YTAG_STR,			/* !!str */
	RBD_YTAG_INT,			/* !!int */
};

struct rbd_ynode {
	enum rbd_ynode_type type;
	unsigned line, col;		/* 1-based start (of the tag if any) */
	/* scalars */
	enum rbd_ynode_style style;
	enum rbd_ynode_tag tag;
	char *value;			/* NUL-terminated; may hold a NUL */
	size_t len;			/* bytes in value */
	unsigned text_col;		/* column of value[0] when the value is
					 * the source text itself, on one line
					 * (no escapes, folds or tag); else 0 */
	/* sequences: kids[i]; mappings: key kids[2i], value kids[2i+1] */
	struct rbd_ynode **kids;
	size_t n_kids;
	size_t cap;
};

/* Parse buf (len bytes, at most RBD_POLICY_FILE_MAX) as one YAML document.
 * name is the file name for messages. Returns 0 and the root in *ret_root
 * (NULL for a stream without a document: empty or only comments), -EINVAL
 * with every problem found added to diag, or -ENOMEM. The tree is the
 * caller's: free it with rbd_ynode_free(). */
int rbd_ynode_parse(const char *name, const char *buf, size_t len,
    struct rbd_ynode **ret_root, struct rbd_diag *diag);

/* Free n and everything below it. NULL is fine. */
void rbd_ynode_free(struct rbd_ynode *n);

/* Number of entries: items of a sequence, pairs of a mapping, 0 else. */
size_t rbd_ynode_count(const struct rbd_ynode *n);

/* The value for key in mapping m, or NULL (not a mapping, or no key). */
const struct rbd_ynode *rbd_ynode_get(const struct rbd_ynode *m,
    const char *key);

enum rbd_ynode_kind rbd_ynode_kind(const struct rbd_ynode *n);

/* "null", "a boolean", "an integer", "a float", "a string", "a sequence",
 * "a mapping": for "expected X, got Y" messages. */
const char *rbd_ynode_kind_str(enum rbd_ynode_kind k);

/* The column of byte offset off of scalar n's value in the source, when
 * the value is written out verbatim on one line (text_col); else n's own
 * column. */
unsigned rbd_ynode_col_at(const struct rbd_ynode *n, size_t off);

/* A scalar's value for a message: control characters as '?', cut to fit
 * size (at least 8) with "...". Returns buf. */
const char *rbd_ynode_show(const struct rbd_ynode *n, char *buf, size_t size);

#endif
