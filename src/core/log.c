#include "disentangle/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>

void log_info(MPI_Comm comm, const char *fmt, ...) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("disentangle: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
}

double log_peak_rss_mb(MPI_Comm comm) {
  struct rusage ru;
  double mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : -1; /* kB on Linux */
  MPI_Allreduce(MPI_IN_PLACE, &mb, 1, MPI_DOUBLE, MPI_MAX, comm);
  return mb;
}

double log_seconds(void) { return MPI_Wtime(); }

void log_duration(double s, char *buf, size_t len) {
  if (s < 0) s = 0;
  if (s < 60) snprintf(buf, len, "%.1fs", s);
  else if (s < 3600) snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
  else snprintf(buf, len, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}
