/*
 * While a layer is inflated (inflate.c), walk its tar stream and copy the
 * blocks our tar reader will ask for into memory: header blocks, the data of
 * pax extended headers and GNU long names, GNU sparse extension blocks. The
 * reader then lists the spilled layer from memory instead of one pread per
 * header (53k in the benchmark image, ~5 µs each on its VM).
 *
 * A cache, nothing more: each piece is the stream's own bytes at the offset
 * recorded with it, and the reader (src/tar/captured.ts, src/tar/source.ts)
 * parses and checks them as it would the file's, reading the file for
 * anything not captured. So this walk only guesses where the reader will
 * look; a wrong guess (a header field read differently, a quirk not
 * followed) costs reads, never a different result. It stops at the first
 * thing it does not follow, at the end-of-archive blocks, or at the limits.
 *
 * Header layout: POSIX.1-2008 pax "ustar Interchange Format" (size at 124,
 * typeflag at 156), GNU tar's sparse fields ("isextended" at 482 of the
 * header, at 504 of each extension block) and base-256 numbers.
 */
#include "tar_walk.h"

#include <stdlib.h>
#include <string.h>

/* Most bytes captured for one layer (about 120k entries); the rest is read from the file. */
#define CAPTURE_MAX (64u << 20)
/* Largest pax or long-name data captured (the reader's default maxPaxHeaderSize). */
#define META_MAX (1u << 20)
#define SIZE_OFF 124
#define SIZE_LEN 12
#define TYPE_OFF 156
#define GNU_ISEXTENDED_OFF 482
#define GNU_EXT_ISEXTENDED_OFF 504
/* 2^53 - 1: larger sizes are not ones the reader accepts. */
#define MAX_SAFE 9007199254740991ull

enum { W_HEADER, W_EXT, W_META, W_SKIP, W_DONE };

void tar_walk_init(tar_walk_t *w) {
  memset(w, 0, sizeof *w);
  w->state = W_HEADER;
  w->pax_size = -1;
}

void tar_walk_free(tar_walk_t *w) {
  free(w->bytes);
  free(w->pieces);
  w->bytes = NULL;
  w->pieces = NULL;
}

static uint64_t padded(uint64_t n) {
  return (n + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

/* Appends stream bytes [at, at + n) to the capture, extending the last piece when they follow it; 0 when full. */
static int append(tar_walk_t *w, uint64_t at, const unsigned char *p, size_t n) {
  if (w->len + n > CAPTURE_MAX) return 0;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 64 << 10;
    while (cap < w->len + n) cap *= 2;
    unsigned char *b = realloc(w->bytes, cap);
    if (!b) return 0;
    w->bytes = b;
    w->cap = cap;
  }
  memcpy(w->bytes + w->len, p, n);
  w->len += n;
  if (w->npieces > 0 && w->pieces[2 * w->npieces - 2] + w->pieces[2 * w->npieces - 1] == (double)at) {
    w->pieces[2 * w->npieces - 1] += (double)n;
    return 1;
  }
  if (w->npieces == w->pcap) {
    size_t cap = w->pcap ? w->pcap * 2 : 1024;
    double *q = realloc(w->pieces, cap * 2 * sizeof *q);
    if (!q) {
      w->len -= n;
      return 0;
    }
    w->pieces = q;
    w->pcap = cap;
  }
  w->pieces[2 * w->npieces] = (double)at;
  w->pieces[2 * w->npieces + 1] = (double)n;
  w->npieces++;
  return 1;
}

/* A numeric header field: octal text or GNU base-256 (non-negative); 0 when it is neither. */
static int number(const unsigned char *f, size_t len, uint64_t *out) {
  uint64_t v = 0;
  if (f[0] & 0x80) {
    if (f[0] & 0x40) return 0; /* negative */
    v = f[0] & 0x3f;
    for (size_t i = 1; i < len; i++) {
      if (v > (MAX_SAFE >> 8)) return 0;
      v = (v << 8) | f[i];
    }
    *out = v;
    return 1;
  }
  size_t i = 0, digits = 0;
  while (i < len && (f[i] == ' ' || f[i] == 0)) i++;
  for (; i < len && f[i] != ' ' && f[i] != 0; i++) {
    if (f[i] < '0' || f[i] > '7' || ++digits > 17) return 0;
    v = v * 8 + (uint64_t)(f[i] - '0');
  }
  for (; i < len; i++) {
    if (f[i] != ' ' && f[i] != 0) return 0;
  }
  *out = v;
  return 1;
}

/* The value of a pax "size" record in records [p, p + n): 1 found, 0 none, -1 not records we follow. */
static int pax_size(const unsigned char *p, size_t n, uint64_t *out) {
  int found = 0;
  size_t i = 0;
  while (i < n) {
    size_t len = 0, j = i;
    while (j < n && p[j] >= '0' && p[j] <= '9' && len <= n) len = len * 10 + (size_t)(p[j++] - '0');
    if (j == i || j >= n || p[j] != ' ' || len == 0 || len > n - i || p[i + len - 1] != '\n') return -1;
    const unsigned char *key = p + j + 1, *end = p + i + len - 1;
    if (end - key > 5 && memcmp(key, "size=", 5) == 0) {
      uint64_t v = 0;
      const unsigned char *d = key + 5;
      if (d == end) return -1;
      for (; d < end; d++) {
        if (*d < '0' || *d > '9' || v > MAX_SAFE / 10) return -1;
        v = v * 10 + (uint64_t)(*d - '0');
      }
      *out = v;
      found = 1;
    }
    i += len;
  }
  return found;
}

/* Skips an entry's data area of `area` bytes (plus padding). */
static void skip(tar_walk_t *w, uint64_t area) {
  w->until = w->pos + padded(area);
  w->state = w->until > w->pos ? W_SKIP : W_HEADER;
}

/* The metadata area is captured: a pax header's "size" applies to the next entry. */
static void meta_done(tar_walk_t *w, uint64_t size) {
  w->state = W_HEADER;
  if (w->meta_type != 'x' && w->meta_type != 'g') return;
  uint64_t v;
  int r = pax_size(w->bytes + w->meta_at, size, &v);
  if (r < 0 || (r > 0 && w->meta_type == 'g')) w->state = W_DONE; /* a global size would apply to every entry */
  else if (r > 0) w->pax_size = (double)v;
}

/* A whole header block `b` was captured; `pos` is just past it. */
static void on_header(tar_walk_t *w, const unsigned char *b) {
  int zero = 1;
  for (size_t i = 0; i < TAR_BLOCK && zero; i++) zero = b[i] == 0;
  if (zero) {
    if (++w->zero_blocks >= 2) w->state = W_DONE; /* end of archive */
    return;
  }
  w->zero_blocks = 0;
  uint64_t size;
  if (!number(b + SIZE_OFF, SIZE_LEN, &size) || size > MAX_SAFE) {
    w->state = W_DONE;
    return;
  }
  unsigned char type = b[TYPE_OFF];
  uint64_t area = w->pax_size >= 0 ? (uint64_t)w->pax_size : size;
  switch (type) {
    case 'x':
    case 'g':
    case 'L':
    case 'K':
      if (size > META_MAX) {
        w->state = W_DONE;
        return;
      }
      w->meta_type = type;
      w->meta_at = w->len;
      w->meta_size = size;
      w->until = w->pos + padded(size);
      w->state = W_META;
      if (size == 0) meta_done(w, 0);
      return;
    case '1': /* hardlinks, symlinks, devices, directories and FIFOs have no data, whatever their size field says */
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
      w->pax_size = -1;
      return;
    case 'S':
      w->pax_size = -1;
      if (b[GNU_ISEXTENDED_OFF]) {
        w->sparse_area = area;
        w->state = W_EXT;
        return;
      }
      skip(w, area);
      return;
    default:
      w->pax_size = -1;
      skip(w, area);
  }
}

void tar_walk_feed(tar_walk_t *w, const unsigned char *p, size_t n) {
  while (n > 0 && w->state != W_DONE) {
    size_t k;
    switch (w->state) {
      case W_SKIP:
        k = w->until - w->pos < n ? (size_t)(w->until - w->pos) : n;
        w->pos += k;
        if (w->pos == w->until) w->state = W_HEADER;
        break;
      case W_META:
        k = w->until - w->pos < n ? (size_t)(w->until - w->pos) : n;
        if (!append(w, w->pos, p, k)) {
          w->state = W_DONE;
          return;
        }
        w->pos += k;
        if (w->pos == w->until) meta_done(w, w->meta_size);
        break;
      default: { /* W_HEADER, W_EXT: a whole block, gathered in w->block only when it spans two chunks */
        const unsigned char *blk = p;
        if (w->have == 0 && n >= TAR_BLOCK) {
          k = TAR_BLOCK;
        } else {
          k = TAR_BLOCK - w->have < n ? TAR_BLOCK - w->have : n;
          memcpy(w->block + w->have, p, k);
          w->have += k;
          if (w->have < TAR_BLOCK) {
            w->pos += k;
            break;
          }
          w->have = 0;
          blk = w->block;
        }
        w->pos += k;
        if (!append(w, w->pos - TAR_BLOCK, blk, TAR_BLOCK)) {
          w->state = W_DONE;
          return;
        }
        if (w->state == W_HEADER) on_header(w, blk);
        else if (!blk[GNU_EXT_ISEXTENDED_OFF]) skip(w, w->sparse_area);
      }
    }
    p += k;
    n -= k;
  }
}
