/* modeldiff A.h5 B.h5 [-tol T] [-nets a,b]: how far apart two model files are, net by net.
 * For every net under /params: max |a - b| and ||a - b|| / ||a|| over all its tensors.
 * Exit 0 when every net checked (all, or those of -nets) is within T (default 0: identical),
 * 1 when one is not, 2 on bad input (missing file, missing tensor, other shapes). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  hid_t other;
  const char *net, *file_b;
  double diff2, norm2, maxabs;
  int bad;
} Walk;

static float *read_all(hid_t file, const char *path, hsize_t *n) {
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0) return NULL;
  hid_t s = H5Dget_space(d);
  *n = (hsize_t)H5Sget_simple_extent_npoints(s);
  float *v = malloc(sizeof(float) * (*n ? *n : 1));
  if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) free(v), v = NULL;
  H5Sclose(s), H5Dclose(d);
  return v;
}

static herr_t tensor(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  Walk *w = data;
  char path[512];
  hsize_t na, nb;
  snprintf(path, sizeof path, "/params/%s/%s", w->net, name);
  float *a = read_all(group, name, &na), *b = read_all(w->other, path, &nb);
  if (!a || !b || na != nb) {
    fprintf(stderr, "modeldiff: %s: %s in '%s'\n", path, !b ? "missing" : "another size", w->file_b);
    w->bad = 1;
  } else {
    double m = 0;
    for (hsize_t i = 0; i < na; i++) {
      double d = (double)a[i] - b[i];
      w->diff2 += d * d, w->norm2 += (double)a[i] * a[i], m = fmax(m, fabs(d));
    }
    w->maxabs = fmax(w->maxabs, m);
  }
  free(a), free(b);
  return 0;
}

static hid_t open_model(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fprintf(stderr, "modeldiff: cannot open '%s' as HDF5\n", path);
  return f;
}

int main(int argc, char **argv) {
  double tol = 0.0;
  const char *only = NULL;
  int usage = argc < 3 || argc % 2 == 0;
  for (int i = 3; i + 1 < argc && !usage; i += 2) {
    if (!strcmp(argv[i], "-tol")) tol = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "-nets")) only = argv[i + 1];
    else usage = 1;
  }
  if (usage) {
    fprintf(stderr, "usage: modeldiff A.h5 B.h5 [-tol T] [-nets a,b]  (T: largest allowed ||a-b||/||a|| per net)\n");
    return 2;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fa = open_model(argv[1]), fb = open_model(argv[2]);
  if (fa < 0 || fb < 0) return 2;
  hid_t params = H5Gopen2(fa, "/params", H5P_DEFAULT);
  if (params < 0) return fprintf(stderr, "modeldiff: '%s' has no /params\n", argv[1]), 2;
  H5G_info_t info;
  H5Gget_info(params, &info);
  int worse = 0, bad = 0;
  printf("%-14s %12s %12s\n", "net", "max |a-b|", "|a-b|/|a|");
  for (hsize_t i = 0; i < info.nlinks; i++) {
    char net[256];
    H5Lget_name_by_idx(params, ".", H5_INDEX_NAME, H5_ITER_INC, i, net, sizeof net, H5P_DEFAULT);
    Walk w = {.other = fb, .net = net, .file_b = argv[2]};
    hid_t g = H5Gopen2(params, net, H5P_DEFAULT);
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, tensor, &w);
    H5Gclose(g);
    double rel = w.norm2 > 0 ? sqrt(w.diff2 / w.norm2) : sqrt(w.diff2);
    char key[260];
    snprintf(key, sizeof key, ",%s,", net);
    char list[4096];
    snprintf(list, sizeof list, ",%s,", only ? only : "");
    int checked = !only || strstr(list, key);
    printf("%-14s %12.3e %12.3e%s\n", net, w.maxabs, rel, checked ? "" : "  (not checked)");
    bad |= w.bad, worse |= checked && rel > tol;
  }
  H5Gclose(params), H5Fclose(fa), H5Fclose(fb);
  return bad ? 2 : worse ? 1 : 0;
}
