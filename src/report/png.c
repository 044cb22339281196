/* A minimal PNG writer (see png.h): one IHDR, one IDAT compressed by zlib's compress2, IEND.
 * Each row takes the filter (none, sub, up, average, Paeth) with the smallest sum of absolute
 * filtered bytes, the heuristic the PNG specification recommends; smooth decoded images then
 * compress several times better than unfiltered. */
#include "disentangle/png.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A chunk at out: length, type, data, CRC of type and data. Returns the bytes written. */
static size_t put_chunk(unsigned char *out, const char *type, const unsigned char *data, size_t len) {
  put32(out, (uint32_t)len);
  memcpy(out + 4, type, 4);
  if (len) memcpy(out + 8, data, len);
  uLong crc = crc32(0L, out + 4, (uInt)(len + 4));
  put32(out + 8 + len, (uint32_t)crc);
  return len + 12;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Row y filtered with filter f into out (without the filter byte); returns its cost. */
static long filter_row(const unsigned char *cur, const unsigned char *prev, size_t n, int bpp, int f, unsigned char *out) {
  long cost = 0;
  for (size_t i = 0; i < n; i++) {
    int a = i >= (size_t)bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0, c = prev && i >= (size_t)bpp ? prev[i - bpp] : 0;
    int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : paeth(a, b, c);
    out[i] = (unsigned char)(cur[i] - pred);
    cost += out[i] < 128 ? out[i] : 256 - out[i];
  }
  return cost;
}

int png_encode(const unsigned char *pixels, int width, int height, int channels, unsigned char **png, size_t *len) {
  *png = NULL, *len = 0;
  if (!pixels || width < 1 || height < 1 || (channels != 1 && channels != 3) || (size_t)width * channels > (1u << 28) ||
      (size_t)height > (1u << 28) / ((size_t)width * channels)) {
    errno = EINVAL;
    return -1;
  }
  size_t stride = (size_t)width * channels, raw_len = (stride + 1) * height;
  unsigned char *raw = malloc(raw_len), *trial = malloc(stride);
  uLongf zlen = compressBound((uLong)raw_len);
  unsigned char *out = malloc(8 + 25 + 12 + zlen + 12);
  if (!raw || !trial || !out) goto nomem;
  for (int y = 0; y < height; y++) {
    const unsigned char *cur = pixels + (size_t)y * stride, *prev = y ? cur - stride : NULL;
    unsigned char *row = raw + (size_t)y * (stride + 1);
    long best = -1;
    for (int f = 0; f < 5; f++) {
      long cost = filter_row(cur, prev, stride, channels, f, trial);
      if (best < 0 || cost < best) best = cost, row[0] = (unsigned char)f, memcpy(row + 1, trial, stride);
    }
  }
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char ihdr[13];
  put32(ihdr, (uint32_t)width);
  put32(ihdr + 4, (uint32_t)height);
  ihdr[8] = 8;                      /* bits per sample */
  ihdr[9] = channels == 1 ? 0 : 2;  /* gray or RGB */
  ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filters, no interlace */
  memcpy(out, sig, 8);
  size_t at = 8 + put_chunk(out + 8, "IHDR", ihdr, 13);
  /* IDAT: compress straight into place after its length and type */
  if (compress2(out + at + 8, &zlen, raw, (uLong)raw_len, 9) != Z_OK) goto nomem;
  put32(out + at, (uint32_t)zlen);
  memcpy(out + at + 4, "IDAT", 4);
  put32(out + at + 8 + zlen, (uint32_t)crc32(0L, out + at + 4, (uInt)(zlen + 4)));
  at += zlen + 12;
  at += put_chunk(out + at, "IEND", NULL, 0);
  free(raw), free(trial);
  *png = out, *len = at;
  return 0;
nomem:
  free(raw), free(trial), free(out);
  errno = ENOMEM;
  return -1;
}
