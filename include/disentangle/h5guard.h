/* The HDF5 library itself crashes (reads past its buffers) on some damaged object headers. Before
 * a reader parses input files it lets disentangle-h5check (src/h5check.c) parse them, in a process
 * of its own: a crash there becomes an input error naming the file and the object, and this
 * process goes on intact. */
#ifndef DISENTANGLE_H5GUARD_H
#define DISENTANGLE_H5GUARD_H

#include <stddef.h>

/* Parse the n files in a child process. Returns the index of the file on which HDF5 crashed,
 * with why = what happened and where ("the HDF5 library reads past its buffers on object
 * '/data attribute mean'", "the HDF5 library crashes (signal 11, Segmentation fault) on object
 * '/'"); -1 when every file
 * parsed (or was refused by HDF5 with an error return, which the caller's reader reports), or when
 * the check cannot run (the program is not found, or DISENTANGLE_H5CHECK=off). Local: call it on
 * one rank and share the verdict. Paths are looked up in this order: $DISENTANGLE_H5CHECK, the
 * directory of this executable, the build tree, the install directory. */
int h5guard_check(int n, char *const *paths, char *why, size_t len);

#endif
