/* The string-list attributes of /factors (`names`, `kinds`), in whatever form the writing tool
 * used (archive.c reads the rest of an archive). */
#include "archive_impl.h"
#include "disentangle/error.h"

#include <ctype.h>
#include <string.h>

/* Append one string of the `names` attribute (len bytes, not NUL-terminated) to the list in out:
 * each comma-separated name trimmed of blanks (also the padding of blank-padded strings).
 * *count counts the names so far; returns -1 when the list outgrows NAMES_LEN. */
static int append_names(char *out, int *count, const char *s, size_t len) {
  size_t used = strlen(out);
  for (size_t at = 0;;) {
    size_t end = at;
    while (end < len && s[end] != ',') end++;
    size_t a = at, b = end;
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    if (used + (*count ? 1 : 0) + (b - a) + 1 > NAMES_LEN) return -1;
    if ((*count)++) out[used++] = ',';
    memcpy(out + used, s + a, b - a);
    used += b - a;
    out[used] = 0;
    if (end == len) return 0;
    at = end + 1;
  }
}

/* A string-list attribute (`names`, `kinds`), in every form h5py, PyTables, MATLAB and the C API write: ASCII or UTF-8
 * (read in the file's own character set: HDF5 converts neither way), variable or fixed length
 * (NUL- or blank-padded), a scalar or an array of any rank, one comma-separated string or one
 * name per element; joined into one comma-separated list of trimmed names. No value (h5py.Empty,
 * a null dataspace) or one empty string leaves out empty: the default names are used. */
PetscErrorCode archive_read_names(MPI_Comm comm, const char *path, hid_t file, const char *attr, char *out) {
  hid_t at, t, s, mt = -1;
  hssize_t cnt;
  H5T_class_t cls;
  size_t size;
  int var, count = 0, ok = 1, fits = 1;
  void *buf = NULL;

  PetscFunctionBeginUser;
  out[0] = 0;
  DT_H5(at = H5Aopen_by_name(file, "/factors", attr, H5P_DEFAULT, H5P_DEFAULT));
  DT_H5(t = H5Aget_type(at));
  DT_H5(s = H5Aget_space(at));
  cls = H5Tget_class(t);
  var = cls == H5T_STRING && H5Tis_variable_str(t) > 0;
  size = H5Tget_size(t);
  cnt = H5Sget_simple_extent_type(s) == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(s);
  if (cls == H5T_STRING && cnt > 0 && cnt <= ARCHIVE_MAX_FACTORS && (var || size <= NAMES_LEN)) {
    if (var) {
      DT_H5(mt = H5Tcopy(H5T_C_S1));
      DT_H5(H5Tset_size(mt, H5T_VARIABLE));
      DT_H5(H5Tset_cset(mt, H5Tget_cset(t)));
    } else DT_H5(mt = H5Tcopy(t)); /* as stored: no conversion, the padding is trimmed below */
    PetscCall(PetscCalloc1((size_t)cnt * (var ? sizeof(char *) : size), (char **)&buf));
    ok = H5Aread(at, mt, buf) >= 0;
    for (hssize_t i = 0; ok && fits && i < cnt; i++) {
      const char *e = var ? ((char **)buf)[i] : (const char *)buf + (size_t)i * size;
      size_t len = 0, max = var ? (e ? strlen(e) : 0) : size;
      while (len < max && e[len]) len++;
      fits = append_names(out, &count, e ? e : "", len) == 0;
    }
    if (var && ok) DT_H5(H5Dvlen_reclaim(mt, s, H5P_DEFAULT, buf));
    PetscCall(PetscFree(buf));
    DT_H5(H5Tclose(mt));
  }
  DT_H5(H5Sclose(s));
  DT_H5(H5Tclose(t));
  DT_H5(H5Aclose(at));
  DT_INPUT_CHECK(cls == H5T_STRING, comm,
                 "archive '%s': attribute %s on /factors is not a string; expected a comma-separated list", path, attr);
  DT_INPUT_CHECK(cnt <= ARCHIVE_MAX_FACTORS, comm,
                 "archive '%s': attribute %s on /factors holds %lld strings; expected one per factor (at most %d)", path,
                 attr, (long long)cnt, ARCHIVE_MAX_FACTORS);
  DT_INPUT_CHECK(ok, comm, "archive '%s': attribute %s on /factors cannot be read (damaged file?)", path, attr);
  DT_INPUT_CHECK(fits && (var || size <= NAMES_LEN), comm,
                 "archive '%s': attribute %s on /factors is longer than %d bytes; expected short names", path,
                 attr, NAMES_LEN - 1);
  PetscFunctionReturn(0);
}

