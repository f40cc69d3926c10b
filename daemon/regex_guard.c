/*
 * A guard in front of glibc's regcomp for expressions from a request or a
 * config file (pure): it estimates from the pattern's shape what compiling it
 * would cost, so that no expression can stall or exhaust the daemon.
 */
#include <stddef.h>
#include <string.h>

#include "daemon.h"
#include "regex_guard.h"

#define DEPTH_MAX	32
#define CAP		(1ULL << 40)	/* saturation: far above any limit */
#define OPT_MAX		500		/* optional nodes: closures grow with their square */

/* What one item (an atom, a group, a repeated item) costs. */
struct cost {
	unsigned long long	nodes;	/* regcomp's tree nodes */
	unsigned long long	opt;	/* of those, ones that may be skipped */
	int			null;	/* can match the empty string */
};

struct level {
	struct cost	group;		/* the finished branches */
	struct cost	branch;		/* the branch being read */
	struct cost	last;		/* its last item, which a repeat applies to */
	int		has_last;
};

static unsigned long long
add(unsigned long long a, unsigned long long b)
{
	return a + b > CAP ? CAP : a + b;
}

static unsigned long long
mul(unsigned long long a, unsigned long long b)
{
	return b != 0 && a > CAP / b ? CAP : a * b;
}

static void
fold_last(struct level *l)
{
	if (!l->has_last)
		return;
	l->branch.nodes = add(l->branch.nodes, l->last.nodes);
	l->branch.opt = add(l->branch.opt, l->last.opt);
	l->branch.null = l->branch.null && l->last.null;
	l->has_last = 0;
}

static void
fold_branch(struct level *l)
{
	fold_last(l);
	l->group.nodes = add(l->group.nodes, l->branch.nodes);
	l->group.opt = add(l->group.opt, l->branch.opt);
	l->group.null = l->group.null || l->branch.null;
	l->branch.nodes = l->branch.opt = 0;
	l->branch.null = 1;
}

static void
level_init(struct level *l)
{
	l->group.nodes = l->group.opt = 0;
	l->group.null = 0;
	l->branch.nodes = l->branch.opt = 0;
	l->branch.null = 1;
	l->has_last = 0;
}

static void
item(struct level *l, struct cost c)
{
	fold_last(l);
	l->last = c;
	l->has_last = 1;
}

static const char *
number(const char *s, unsigned long long *v, int *digits)
{
	for (*v = 0, *digits = 0; *s >= '0' && *s <= '9'; s++, (*digits)++)
		*v = *v > CAP ? *v : *v * 10 + (unsigned long long)(*s - '0');
	return s;
}

/*
 * Applies x{lo,hi} or x{lo,} to the last item: regcomp makes lo copies,
 * then hi - lo optional ones, or one more under a star.  Returns -1 for a
 * star, plus or {n,} over what can match empty: glibc's epsilon closures then
 * grow exponentially with the rest of the expression ("a?{,9}{0,2}{,9}()*"
 * ran for minutes), and "(x?)*" says nothing "x*" does not.
 */
static int
repeat(struct level *l, unsigned long long lo, unsigned long long hi,
    int unbounded)
{
	struct cost	*c = &l->last;
	unsigned long long n = c->nodes, copies = unbounded ? lo + 1 : hi;

	if (!l->has_last)
		return 0;	/* a literal or an error to regcomp */
	if (copies < lo)
		copies = lo;
	if (unbounded && c->null)
		return -1;
	c->opt = add(mul(c->opt, lo), mul(n, copies - lo));
	c->nodes = mul(n, copies);
	c->null = c->null || lo == 0;
	return 0;
}

int
regex_guard(const char *re, unsigned long long max_nodes)
{
	struct level	 lv[DEPTH_MAX];
	struct cost	 atom = { 1, 0, 0 }, anchor = { 1, 0, 1 };
	const char	*s, *t;
	unsigned long long lo, hi;
	int		 d = 0, lodigits, hidigits, comma, rc;

	level_init(&lv[0]);
	for (s = re; *s != '\0'; s++) {
		rc = 0;
		switch (*s) {
		case '\\':
			if (s[1] >= '1' && s[1] <= '9')
				return REGEX_BACKREF;
			if (s[1] == '\0')
				break;
			/* GNU's word boundaries match empty, like ^ and $. */
			s++;
			item(&lv[d], strchr("bB<>`'", *s) != NULL ? anchor : atom);
			break;
		case '^':
		case '$':
			item(&lv[d], anchor);
			break;
		case '[':
			if ((t = regex_skip_bracket(s)) == NULL)
				return REGEX_OK;	/* unterminated: regcomp says so */
			s = t;
			item(&lv[d], atom);
			break;
		case '(':
			if (++d == DEPTH_MAX)
				return REGEX_TOO_BIG;
			level_init(&lv[d]);
			break;
		case ')':
			if (d == 0) {
				item(&lv[d], atom);
				break;
			}
			fold_branch(&lv[d]);
			/* A group is a node too: "()()+++..." is not free. */
			if (lv[d].group.nodes == 0)
				lv[d].group.nodes = 1;
			item(&lv[d - 1], lv[d].group);
			d--;
			break;
		case '|':
			fold_branch(&lv[d]);
			break;
		case '*':
			rc = repeat(&lv[d], 0, 0, 1);
			break;
		case '+':
			rc = repeat(&lv[d], 1, 0, 1);
			break;
		case '?':
			rc = repeat(&lv[d], 0, 1, 0);
			break;
		case '{':
			t = number(s + 1, &lo, &lodigits);
			hi = lo;
			hidigits = 0;
			if ((comma = *t == ',') != 0)
				t = number(t + 1, &hi, &hidigits);
			if (*t != '}' || (lodigits == 0 && !comma)) {
				item(&lv[d], atom);	/* a literal brace to glibc */
				break;
			}
			rc = repeat(&lv[d], lo, hi, comma && hidigits == 0);
			s = t;
			break;
		default:
			item(&lv[d], atom);
			break;
		}
		if (rc == -1)
			return REGEX_TOO_BIG;
		if (add(add(lv[d].group.nodes, lv[d].branch.nodes),
		    lv[d].has_last ? lv[d].last.nodes : 0) > max_nodes ||
		    add(add(lv[d].group.opt, lv[d].branch.opt),
		    lv[d].has_last ? lv[d].last.opt : 0) > OPT_MAX)
			return REGEX_TOO_BIG;
	}
	for (; d >= 0; d--) {
		fold_branch(&lv[d]);
		if (d > 0)
			item(&lv[d - 1], lv[d].group);
	}
	if (lv[0].group.nodes > max_nodes || lv[0].group.opt > OPT_MAX)
		return REGEX_TOO_BIG;
	return REGEX_OK;
}
