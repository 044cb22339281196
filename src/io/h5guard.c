/* Runs disentangle-h5check on input files (see h5guard.h). posix_spawn, not fork: glibc starts the
 * child without copying this process's pages, which is what an MPI rank with pinned network
 * buffers needs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "disentangle/h5guard.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CHECKER "disentangle-h5check"

static int executable(const char *path) { return path && path[0] && access(path, X_OK) == 0; }

static const char *find_checker(char *buf, size_t len) {
  const char *env = getenv("DISENTANGLE_H5CHECK");
  if (env && strcmp(env, "off") == 0) return NULL;
  if (env && env[0]) return executable(env) ? env : NULL;
  char self[PATH_MAX];
  ssize_t got = readlink("/proc/self/exe", self, sizeof self - 1);
  if (got > 0) {
    self[got] = 0;
    snprintf(buf, len, "%s/%s", dirname(self), CHECKER);
    if (executable(buf)) return buf;
  }
#ifdef DT_BUILD_DIR
  snprintf(buf, len, "%s/src/%s", DT_BUILD_DIR, CHECKER);
  if (executable(buf)) return buf;
#endif
#ifdef DT_BIN_DIR
  snprintf(buf, len, "%s/%s", DT_BIN_DIR, CHECKER);
  if (executable(buf)) return buf;
#endif
  return NULL;
}

/* This process's environment with the checker's own sanitizer settings: an over-read is an
 * error (exit ASAN_EXIT) even if the caller suppresses HDF5's (tests/fuzz/asan.supp), no leak
 * report, and a damaged header's 16 GB request refused (NULL) rather than granted. */
enum { ASAN_EXIT = 86 };
static char **child_environment(void) {
  static char asan[] = "ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=4096:exitcode=86";
  size_t n = 0;
  while (environ[n]) n++;
  char **env = malloc(sizeof *env * (n + 2));
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0) env[k++] = environ[i];
  env[k++] = asan;
  env[k] = NULL;
  return env;
}

/* How long the checker may go without starting another object: $DISENTANGLE_H5CHECK_TIMEOUT
 * seconds, default 300 (one object of at most 1 MB; a stalled parallel file system should not
 * be taken for a damaged file). */
static int no_progress_ms(void) {
  const char *env = getenv("DISENTANGLE_H5CHECK_TIMEOUT");
  long s = env && env[0] ? strtol(env, NULL, 10) : 300;
  return (int)((s >= 1 && s <= 86400 ? s : 300) * 1000);
}

static void write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* the child is gone: its status says why */
    s += w, n -= (size_t)w;
  }
}

int h5guard_check(int n, char *const *paths, char *why, size_t len) {
  char buf[PATH_MAX + 64];
  const char *checker = find_checker(buf, sizeof buf);
  if (len) why[0] = 0;
  if (!checker || n <= 0) return -1;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  if (pipe2(out, O_CLOEXEC) != 0) return close(in[0]), close(in[1]), -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0); /* a sanitizer's report of HDF5's fault */
  char *argv[] = {(char *)CHECKER, NULL};
  pid_t pid;
  /* a rank that ignores SIGPIPE or blocks signals must not hand that to the child */
  posix_spawnattr_t sa;
  posix_spawnattr_init(&sa);
  sigset_t none, all;
  sigemptyset(&none), sigfillset(&all);
  posix_spawnattr_setsigmask(&sa, &none);
  posix_spawnattr_setsigdefault(&sa, &all);
  posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char **env = child_environment();
  /* the checker's AddressSanitizer reserves terabytes of address space for its shadow: it gets
   * the hard limit, not a soft `ulimit -v` meant for this process */
  struct rlimit as, raised;
  int lowered = getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != as.rlim_max;
  raised = as, raised.rlim_cur = as.rlim_max;
  if (lowered) setrlimit(RLIMIT_AS, &raised);
  int rc = env ? posix_spawn(&pid, checker, &fa, &sa, argv, env) : -1;
  if (lowered) setrlimit(RLIMIT_AS, &as);
  free(env);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&sa);
  close(in[0]), close(out[1]);
  if (rc != 0) return close(in[1]), close(out[0]), -1;
  /* the list, all of it (the child reads it to the end before writing), under a SIGPIPE we ignore */
  struct sigaction ign = {.sa_handler = SIG_IGN}, old;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, &old);
  for (int i = 0; i < n; i++) write_all(in[1], paths[i], strlen(paths[i])), write_all(in[1], "\n", 1);
  close(in[1]);
  sigaction(SIGPIPE, &old, NULL);
  /* its progress: keep the last complete line */
  char last[PATH_MAX + 64] = "", line[PATH_MAX + 64];
  int begun = 0; /* a file was begun: "ready" alone means the checker could not work */
  size_t used = 0;
  const int quiet_ms = no_progress_ms();
  int stalled = 0;
  for (;;) {
    struct pollfd pf = {.fd = out[0], .events = POLLIN};
    int ready = poll(&pf, 1, quiet_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) { /* HDF5 going round in circles in a damaged file: stop it */
      stalled = 1;
      kill(pid, SIGKILL);
      break;
    }
    ssize_t got = read(out[0], line + used, sizeof line - 1 - used);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    used += (size_t)got;
    char *start = line, *nl;
    while ((nl = memchr(start, '\n', (size_t)(line + used - start)))) {
      *nl = 0;
      snprintf(last, sizeof last, "%s", start);
      begun |= strchr(start, '\t') != NULL;
      start = nl + 1;
    }
    used = (size_t)(line + used - start);
    memmove(line, start, used);
    if (used == sizeof line - 1) used = 0; /* an object name longer than a path: drop it */
  }
  close(out[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (!begun && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    static int said;
    if (!said++) /* a hard `ulimit -v`, for example */
      fprintf(stderr, "disentangle: note: %s did not start (%s %d); HDF5 files are parsed without it\n", checker,
              WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  }
  if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) || !begun) return -1;
  char *tab = strchr(last, '\t');
  long index = tab ? strtol(last, NULL, 10) : 0;
  if (index < 0 || index >= n) index = 0;
  char how[64];
  if (stalled) snprintf(how, sizeof how, "makes no progress for %d s", quiet_ms / 1000);
  else if (WIFSIGNALED(status)) snprintf(how, sizeof how, "crashes (signal %d, %s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WEXITSTATUS(status) == ASAN_EXIT) snprintf(how, sizeof how, "reads past its buffers");
  else snprintf(how, sizeof how, "fails (exit status %d)", WEXITSTATUS(status));
  snprintf(why, len, "the HDF5 library %s on object '%.*s'", how, 400, tab ? tab + 1 : "/");
  return (int)index;
}
