/*
 * Capture of a tar stream's metadata blocks while it is decoded: see tar_walk.c.
 */
#ifndef OCI2FS_TAR_WALK_H
#define OCI2FS_TAR_WALK_H
#include <stddef.h>
#include <stdint.h>

/* ustar block size (POSIX.1-2008, pax "ustar Interchange Format"). */
#define TAR_BLOCK 512

typedef struct {
  /* Captured bytes, piece after piece, and the pieces as (stream offset, length) pairs. */
  unsigned char *bytes;
  size_t len, cap;
  double *pieces;
  size_t npieces, pcap;
  /* Walker: what the bytes at `pos` are. */
  int state;
  uint64_t pos;
  /* End of the current data area (skipped) or metadata area (captured). */
  uint64_t until;
  /* A header or extension block being gathered across fed chunks. */
  unsigned char block[TAR_BLOCK];
  size_t have;
  /* Type of the metadata entry whose data is being captured, where that data starts in `bytes`, its size. */
  unsigned char meta_type;
  size_t meta_at;
  uint64_t meta_size;
  /* Data area of the entry after an extended header: a pax "size" record, or -1. */
  double pax_size;
  /* Data area of a GNU sparse entry whose extension blocks are being captured. */
  uint64_t sparse_area;
  int zero_blocks;
} tar_walk_t;

void tar_walk_init(tar_walk_t *w);
/* Feeds the next `n` bytes of the stream. */
void tar_walk_feed(tar_walk_t *w, const unsigned char *p, size_t n);
void tar_walk_free(tar_walk_t *w);

#endif
