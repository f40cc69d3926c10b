/* Allocation that exits on out-of-memory, and a growable byte buffer for renderers. */
#ifndef PIDCAR_XMALLOC_H
#define PIDCAR_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
/* Returns a copy the caller frees; xstrdup(NULL) is NULL. */
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));

/* A growable buffer: data is NUL-terminated at len, owned by the buf. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *, size_t hint);
void	 buf_reserve(struct buf *, size_t more);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list) __attribute__((format(printf, 2, 0)));
/* Hands the data to the caller (who frees it) and empties the buf. */
char	*buf_release(struct buf *, size_t *len);
void	 buf_free(struct buf *);

#endif
