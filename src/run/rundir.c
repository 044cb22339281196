/* A run directory belongs to one run. Each run has an identity (128 random bits in hex): in
 * every checkpoint it writes (attribute run_id), in summary.json, and in RUN_DIR/run.json, which
 * names the run the directory belongs to. Rank 0 holds a lock on RUN_DIR/.lock while the run
 * writes there. A new run is refused where another run's files are; a continued run is refused
 * in a directory that names another run; nothing of another run is overwritten or deleted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disentangle/run.h"
#include "disentangle/error.h"
#include "disentangle/log.h"

#define MESSAGE_LEN (3 * CONFIG_PATH_LEN + 1024) /* up to three paths */

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

PetscErrorCode run_new_id(Run *run) {
  PetscFunctionBeginUser;
  char id[CKPT_RUN_ID_LEN + 1] = "";
  if (run->par.rank == 0) {
    unsigned char bytes[CKPT_RUN_ID_LEN / 2];
    FILE *fp = fopen("/dev/urandom", "rb");
    size_t got = fp ? fread(bytes, 1, sizeof bytes, fp) : 0;
    if (fp) fclose(fp);
    if (got != sizeof bytes) { /* no /dev/urandom: the time, the process and the host */
      struct timespec ts;
      char host[256] = "";
      clock_gettime(CLOCK_REALTIME, &ts);
      gethostname(host, sizeof host - 1);
      uint64_t h = mix((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^ mix((uint64_t)getpid());
      for (const char *c = host; *c; c++) h = mix(h ^ (unsigned char)*c);
      for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(h = mix(h + i)) & 0xff;
    }
    for (size_t i = 0; i < sizeof bytes; i++) snprintf(id + 2 * i, 3, "%02x", bytes[i]);
  }
  PetscCallMPI(MPI_Bcast(id, sizeof id, MPI_CHAR, 0, run->par.world));
  snprintf(run->run_id, sizeof run->run_id, "%s", id);
  PetscFunctionReturn(0);
}

/* Rank 0: the run_id that DIR/run.json names, or "". */
static void read_owner(const char *dir, char *id) {
  char path[CONFIG_PATH_LEN + 16], text[4096];
  id[0] = 0;
  snprintf(path, sizeof path, "%s/run.json", dir);
  FILE *fp = fopen(path, "r");
  if (!fp) return;
  size_t n = fread(text, 1, sizeof text - 1, fp);
  fclose(fp);
  text[n] = 0;
  const char *at = strstr(text, "\"run_id\"");
  if (!at || sscanf(at, "\"run_id\" : \"%32[0-9a-f]\"", id) != 1) id[0] = 0;
}

PetscErrorCode run_dir_owner(const Run *run, char owner[CKPT_RUN_ID_LEN + 1]) {
  PetscFunctionBeginUser;
  owner[0] = 0;
  if (run->par.rank == 0) read_owner(run->cfg.run_dir, owner);
  PetscCallMPI(MPI_Bcast(owner, CKPT_RUN_ID_LEN + 1, MPI_CHAR, 0, run->par.world));
  PetscFunctionReturn(0);
}

/* Rank 0's lock on RUN_DIR/.lock, held until the process ends (the kernel releases it then,
 * however the run ends: a killed run leaves no stale lock). */
static int lock_fd = -1;

/* Rank 0: 0 locked, 1 another process holds it (described in msg), 2 the lock file cannot be
 * written (msg), -1 the file system does not lock (msg says so). */
static int take_lock(const Run *run, char *msg, size_t len) {
  const char *dir = run->cfg.run_dir;
  char path[CONFIG_PATH_LEN + 16];
  snprintf(path, sizeof path, "%s/.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    snprintf(msg, len, "cannot write '%s': %s", path, strerror(errno));
    return 2;
  }
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int err = errno;
    if (err == EAGAIN || err == EACCES) {
      char holder[256] = "";
      ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
      holder[n > 0 ? n : 0] = 0;
      holder[strcspn(holder, "\n")] = 0;
      close(fd);
      snprintf(msg, len,
               "run directory '%s' is in use by another run (%s); wait until it ends, or choose another -run_dir", dir,
               holder[0] ? holder : "its lock is on .lock");
      return 1;
    }
    close(fd);
    snprintf(msg, len, "warning: cannot lock '%s' (%s): two runs started at once on %s would not be kept apart", path,
             strerror(err), dir);
    return -1;
  }
  char host[256] = "", line[512];
  gethostname(host, sizeof host - 1);
  int n = snprintf(line, sizeof line, "pid %ld on %s, run %s\n", (long)getpid(), host, run->run_id);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) { /* only informative */
  }
  lock_fd = fd;
  return 0;
}

/* Rank 0: the run files in dir, listed in *list ("" when none); returns which (bit i: named[i],
 * bit 4: checkpoints). */
enum { RUN_JSON = 1, HISTORY = 2 };
static int run_files(const char *dir, char *list, size_t len) {
  static const char *const named[] = {"run.json", "history.csv", "summary.json", "model.h5"};
  int checkpoints = 0, which = 0;
  list[0] = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    long step;
    char tail[8];
    if (sscanf(e->d_name, "ckpt-%ld%7s", &step, tail) == 2 && !strcmp(tail, ".h5")) checkpoints++;
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
      if (!strcmp(e->d_name, named[i]))
        which |= 1 << i, snprintf(list + strlen(list), len - strlen(list), "%s%s", list[0] ? ", " : "", named[i]);
  }
  if (d) closedir(d);
  if (checkpoints)
    snprintf(list + strlen(list), len - strlen(list), "%s%d checkpoint(s) ckpt-*.h5", list[0] ? ", " : "", checkpoints);
  return which | (checkpoints ? 16 : 0);
}

/* Rank 0: RUN_DIR/run.json, written whole under another name and then renamed into place. */
static int write_run_json(const Run *run) {
  char path[CONFIG_PATH_LEN + 16], tmp[CONFIG_PATH_LEN + 32], host[256] = "", when[64] = "";
  time_t now = time(NULL);
  struct tm tm;
  gethostname(host, sizeof host - 1);
  host[strcspn(host, "\"\\")] = 0;
  if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(path, sizeof path, "%s/run.json", run->cfg.run_dir);
  snprintf(tmp, sizeof tmp, "%s/run.json.tmp", run->cfg.run_dir);
  FILE *fp = fopen(tmp, "w");
  if (!fp) return -1;
  fprintf(fp, "{\n  \"run_id\": \"%s\",\n  \"method\": \"%s\",\n  \"started\": \"%s\",\n  \"host\": \"%s\"\n}\n",
          run->run_id, run->cfg.method, when, host);
  int ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
  ok = fclose(fp) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return 0;
  unlink(tmp);
  return -1;
}

/* Rank 0: 0 the directory is this run's, 1 refused (msg), 2 cannot write there (msg). */
static int claim(const Run *run, char *msg, size_t len) {
  const char *dir = run->cfg.run_dir;
  char owner[CKPT_RUN_ID_LEN + 1], files[512];
  read_owner(dir, owner);
  int which = run_files(dir, files, sizeof files), again = owner[0] && !strcmp(owner, run->run_id);
  /* -restart auto found nothing to go on from and took the directory's run id: that run may
   * start over only if it never got as far as a checkpoint */
  if (!run->continued && again && (which & ~(RUN_JSON | HISTORY))) {
    snprintf(msg, len,
             "run directory '%s' holds files of run %s (%s) but none of its checkpoints can be used: -restart auto "
             "would start it over; start afresh with another -run_dir (nothing there is overwritten or deleted)",
             dir, owner, files);
    return 1;
  }
  if (!run->continued && !again && which) {
    snprintf(msg, len,
             "run directory '%s' holds another run's files (%s); go on with that run with -restart auto, or start "
             "afresh with another -run_dir (nothing there is overwritten or deleted)",
             dir, files);
    return 1;
  }
  if (run->continued && owner[0] && strcmp(owner, run->run_id)) {
    snprintf(msg, len,
             "run directory '%s' belongs to run %s (its run.json), but the checkpoint continued is of run %s; choose "
             "another -run_dir",
             dir, owner, run->run_id);
    return 1;
  }
  if (!owner[0] || strcmp(owner, run->run_id)) {
    if (write_run_json(run) != 0) {
      snprintf(msg, len, "cannot write '%s/run.json': %s", dir, strerror(errno));
      return 2;
    }
  }
  return 0;
}

PetscErrorCode run_claim_dir(Run *run) {
  PetscFunctionBeginUser;
  int verdict = 0;
  char msg[MESSAGE_LEN] = "";
  if (run->par.rank == 0) {
    verdict = take_lock(run, msg, sizeof msg);
    if (verdict == -1) fprintf(stderr, "disentangle: %s\n", msg), verdict = 0;
    if (verdict == 0) verdict = claim(run, msg, sizeof msg);
    if (verdict && lock_fd >= 0) close(lock_fd), lock_fd = -1; /* refused: the directory stays as it was */
  }
  PetscCallMPI(MPI_Bcast(&verdict, 1, MPI_INT, 0, run->par.world));
  PetscCallMPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, run->par.world));
  DT_INPUT_CHECK(verdict != 1, run->par.world, "%s", msg);
  PetscCheck(verdict != 2, run->par.world, PETSC_ERR_FILE_WRITE, "%s", msg);
  PetscFunctionReturn(0);
}
