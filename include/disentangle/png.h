/* PNG encoding of 8-bit gray or RGB images, for the pictures the report embeds (data: URIs).
 * Deterministic: the same pixels always give the same bytes. */
#ifndef DISENTANGLE_PNG_H
#define DISENTANGLE_PNG_H

#include <stddef.h>

/* pixels[(y * width + x) * channels + c], channels 1 (gray) or 3 (RGB). On success *png is a
 * malloc'd PNG file of *len bytes and 0 is returned; -1 with errno EINVAL or ENOMEM otherwise. */
int png_encode(const unsigned char *pixels, int width, int height, int channels, unsigned char **png, size_t *len);

#endif
