#include "h5attr.h"

#include <string.h>

int put_attr(hid_t obj, const char *name, hid_t type, const void *v) {
  hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, type, v);
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  return e < 0 ? -1 : 0;
}

int put_string(hid_t obj, const char *name, const char *v) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(v) + 1);
  int e = put_attr(obj, name, t, v);
  H5Tclose(t);
  return e;
}
