/* Scalar attributes for the tools that write archives (beamgen, dsprites, import). */
#ifndef DISENTANGLE_TOOLS_H5ATTR_H
#define DISENTANGLE_TOOLS_H5ATTR_H

#include <hdf5.h>

/* One scalar value of `type` as attribute `name` of obj; 0 or -1. */
int put_attr(hid_t obj, const char *name, hid_t type, const void *v);
/* A fixed-length NUL-terminated string attribute; 0 or -1. */
int put_string(hid_t obj, const char *name, const char *v);

#endif
