/* disentangle-h5check: parse every object header, attribute and (small) dataset of HDF5 files, in
 * a process of its own, so that a file on which the HDF5 library itself crashes costs this process
 * and not a training run. HDF5 1.10 reads past its buffers on some damaged object headers (found
 * by fuzz_archive: tests/fuzz/regress/archive/hdf5-*); no check of ours can run before HDF5 parses
 * a header, so the parse is tried here first (src/io/h5guard.c starts this program).
 *
 *   disentangle-h5check < LIST     LIST: one file name a line
 *
 * It writes "ready" on stdout, then before it touches a file or an object "INDEX<TAB>/OBJECT[
 * attribute NAME]", so whoever started it knows where it stopped. Exit 0: every file parsed, or
 * refused by HDF5 with an error return (the caller's own reader reports those). Killed by a
 * signal, or any other exit after a file was begun: the library crashed on the last file and
 * object named. Built with AddressSanitizer where the compiler can (configure.ac), so an
 * over-read is caught even where it would not fault. No MPI: it is started from MPI ranks. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Datasets and attributes up to this are read whole (factors, groups, names); of a larger one
 * only the first row, so that a streamed archive of thousands of files is not read up front. */
enum { FULL_READ_BYTES = 1 << 20 };

static long file_index;

/* object: relative to the root group, "." for the root itself; shown as an absolute path */
static void at(const char *object, const char *attr) {
  if (strcmp(object, ".") == 0) object = "";
  printf("%ld\t/%s%s%s\n", file_index, object, attr ? " attribute " : "", attr ? attr : "");
  fflush(stdout);
}

/* The first line: this process started (a sanitizer runtime that cannot start is not a crash). */
static void at_start(void) {
  printf("ready\n");
  fflush(stdout);
}

/* Read a selection of an attribute or dataset as its native type, then free what variable-length
 * data HDF5 allocated. */
static void read_selection(hid_t obj, int is_attr, hid_t ftype, hid_t mspace, hid_t fspace, hssize_t count) {
  hid_t mtype = H5Tget_native_type(ftype, H5T_DIR_DEFAULT);
  if (mtype < 0) return;
  /* the larger of the two: HDF5's conversion buffer is sized by the file's type, which a damaged
   * header can make huge */
  size_t fsize = H5Tget_size(ftype), esize = H5Tget_size(mtype);
  double bytes = (double)count * (double)(fsize > esize ? fsize : esize);
  if (count >= 0 && esize && fsize && bytes <= FULL_READ_BYTES) {
    void *buf = calloc((size_t)count + 1, esize);
    if (buf) {
      herr_t rc = is_attr ? H5Aread(obj, mtype, buf) : H5Dread(obj, mtype, mspace, fspace, H5P_DEFAULT, buf);
      if (rc >= 0 && H5Tdetect_class(mtype, H5T_VLEN) > 0) {
        hid_t space = mspace == H5S_ALL ? (is_attr ? H5Aget_space(obj) : H5Dget_space(obj)) : H5Scopy(mspace);
        if (space >= 0) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf), H5Sclose(space);
      }
      free(buf);
    }
  }
  H5Tclose(mtype);
}

/* A dataset: its creation properties (layout, filters), then, with read_data, all of it when small,
 * else its first row (its first chunk, through the chunk index). */
static void visit_dataset(hid_t d, int read_data) {
  hid_t t = H5Dget_type(d), s = H5Dget_space(d), p = H5Dget_create_plist(d);
  if (p >= 0) {
    H5Pget_layout(p);
    int nf = H5Pget_nfilters(p);
    for (int i = 0; i < nf && i < 32; i++) {
      unsigned flags, conf[8];
      size_t nconf = 8;
      char name[64];
      H5Pget_filter2(p, (unsigned)i, &flags, &nconf, conf, sizeof name, name, NULL);
    }
    H5Pclose(p);
  }
  int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
  hsize_t dims[H5S_MAX_RANK];
  if (read_data && t >= 0 && nd >= 0 && nd <= H5S_MAX_RANK && H5Sget_simple_extent_dims(s, dims, NULL) >= 0) {
    hssize_t n = H5Sget_simple_extent_npoints(s);
    size_t esize = H5Tget_size(t);
    if (nd == 0 || (double)n * (double)esize <= FULL_READ_BYTES) read_selection(d, 0, t, H5S_ALL, H5S_ALL, n);
    else if (dims[0] > 0) {
      hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
      hssize_t row = 1;
      for (int k = 0; k < nd; k++) count[k] = k ? dims[k] : 1, row *= k ? (hssize_t)dims[k] : 1;
      hid_t m = H5Screate_simple(nd, count, NULL);
      if (m >= 0 && H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL) >= 0) read_selection(d, 0, t, m, s, row);
      if (m >= 0) H5Sclose(m);
    }
  }
  if (s >= 0) H5Sclose(s);
  if (t >= 0) H5Tclose(t);
}

/* The attribute names of one object, as H5Aiterate2 lists them (at most MAX_NAMES). */
enum { MAX_NAMES = 256 };
typedef struct {
  const char *object;
  char *name[MAX_NAMES];
  int n;
} Names;

static herr_t visit_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
  (void)info;
  Names *names = data;
  at(names->object, name);
  if (names->n < MAX_NAMES) names->name[names->n++] = strdup(name);
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return 0;
  hid_t t = H5Aget_type(a), s = H5Aget_space(a);
  if (t >= 0 && s >= 0) read_selection(a, 1, t, H5S_ALL, H5S_ALL, H5Sget_simple_extent_npoints(s));
  if (s >= 0) H5Sclose(s);
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return 0;
}

/* H5Aexists_by_name as the readers ask it (archive.c: mean, std, names, kinds): on compact storage
 * it decodes every attribute message of the header on its own path (H5O__attr_exists), with or
 * without the object opened; a name no file has makes it decode all of them. */
static void probe_attrs(hid_t file, const char *object, const Names *listed) {
  static const char *asked[] = {"mean", "std", "names", "kinds"};
  at(object, NULL), H5Aexists_by_name(file, object, "\x7f no such attribute", H5P_DEFAULT);
  for (size_t i = 0; i < sizeof asked / sizeof *asked; i++)
    at(object, asked[i]), H5Aexists_by_name(file, object, asked[i], H5P_DEFAULT);
  for (int i = 0; listed && i < listed->n; i++)
    if (listed->name[i]) at(object, listed->name[i]), H5Aexists_by_name(file, object, listed->name[i], H5P_DEFAULT);
}

/* One object, on its own: its attributes probed by name, its header opened, its attributes listed
 * and read, a dataset's properties read, then the probes again (the header's messages are
 * decoded now). Nothing here needs another object to have parsed. */
static void check_object(hid_t file, const char *name) {
  at(name, NULL);
  probe_attrs(file, name, NULL);
  at(name, NULL);
  H5O_info_t info;
  if (H5Oget_info_by_name2(file, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return;
  hid_t o = H5Oopen(file, name, H5P_DEFAULT);
  if (o < 0) return;
  Names listed = {.object = name, .n = 0};
  H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, visit_attr, &listed);
  at(name, NULL);
  if (info.type == H5O_TYPE_DATASET) visit_dataset(o, 0); /* the walk read the data */
  H5Oclose(o);
  probe_attrs(file, name, &listed);
  for (int i = 0; i < listed.n; i++) free(listed.name[i]);
}

/* The objects' names, as the link walk reaches them (relative to the root). */
typedef struct {
  char **name;
  size_t n, cap;
} Objects;

/* The objects the readers open by name (archive.c, encoded.c, ckpt.c); "." is the root. */
static const char *opened_by_name[] = {".",         "data", "factors", "groups", "kl",
                                       "generated", "swap", "history"};
enum { N_OPENED = sizeof opened_by_name / sizeof *opened_by_name };

static void add_object(Objects *objs, const char *name) {
  if (objs->n == objs->cap) {
    size_t cap = objs->cap ? 2 * objs->cap : 64;
    char **grown = realloc(objs->name, sizeof *grown * cap);
    if (!grown) return;
    objs->name = grown, objs->cap = cap;
  }
  char *copy = strdup(name);
  if (copy) objs->name[objs->n++] = copy;
}

static herr_t list_link(hid_t root, const char *name, const H5L_info_t *info, void *data) {
  (void)root;
  if (info->type != H5L_TYPE_HARD) return 0;
  for (int i = 0; i < N_OPENED; i++)
    if (strcmp(name, opened_by_name[i]) == 0) return 0; /* listed already */
  add_object(data, name);
  return 0;
}

/* HDF5's own walk: each object's header (H5O_INFO_ALL), attributes and data, in link order. */
static herr_t visit_object(hid_t root, const char *name, const H5O_info_t *info, void *data) {
  (void)data;
  at(name, NULL);
  hid_t o = H5Oopen(root, name, H5P_DEFAULT);
  if (o < 0) return 0;
  Names listed = {.object = name, .n = 0};
  H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, visit_attr, &listed);
  for (int i = 0; i < listed.n; i++) free(listed.name[i]);
  at(name, NULL);
  if (info->type == H5O_TYPE_DATASET) visit_dataset(o, 1);
  H5Oclose(o);
  return 0;
}

/* Two passes. First HDF5's own walk of the objects, which stops at the first header it cannot
 * type. Then each object on its own, the root and the objects the readers open by name first, its
 * attributes also looked up by name as the readers do: a header that stopped the walk cannot hide
 * the objects after it, nor the readers' own path through the attribute messages (CI's
 * fuzz_archive find, regress/archive/hdf5-attr-segv-walk-stops.h5). */
static void check_file(const char *path) {
  at(".", NULL);
  struct stat st; /* a FIFO would block the open forever: regular files only, the caller refuses the rest */
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || H5Fis_hdf5(path) <= 0) return;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) return;
  H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_object, NULL, H5O_INFO_ALL);
  Objects objs = {0};
  for (int i = 0; i < N_OPENED; i++) {
    at(opened_by_name[i], NULL);
    if (i == 0 || H5Lexists(f, opened_by_name[i], H5P_DEFAULT) > 0) add_object(&objs, opened_by_name[i]);
  }
  at(".", NULL);
  H5Lvisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, list_link, &objs);
  for (size_t i = 0; i < objs.n; i++) check_object(f, objs.name[i]), free(objs.name[i]);
  free(objs.name);
  H5Fclose(f);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "usage: disentangle-h5check < LIST (one HDF5 file name a line); exit 0 unless HDF5 crashed\n");
    return 2;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  at_start();
  /* the whole list first: the caller writes it all, then reads our progress */
  size_t cap = 0, n = 0;
  char **paths = NULL, *line = NULL;
  size_t len = 0;
  ssize_t got;
  while ((got = getline(&line, &len, stdin)) > 0) {
    if (line[got - 1] == '\n') line[got - 1] = 0;
    if (n == cap && !(paths = realloc(paths, sizeof *paths * (cap = cap ? 2 * cap : 64)))) return 3;
    if (!(paths[n++] = strdup(line))) return 3;
  }
  for (file_index = 0; file_index < (long)n; file_index++) check_file(paths[file_index]);
  fflush(stdout);
  _exit(0); /* no exit handlers: HDF5's and a leak checker's verdicts are not ours to give */
}
