#include "disentangle/phase.h"

#include <string.h>
#include <time.h>

static int enabled;
static Phase current = PHASE_OTHER;
static double since, total[PHASE_COUNT];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void phase_enable(int on) {
  enabled = on;
  memset(total, 0, sizeof total);
  current = PHASE_OTHER;
  since = now();
}

Phase phase_switch(Phase p) {
  Phase was = current;
  if (!enabled || p == current) return was;
  double t = now();
  total[current] += t - since;
  since = t, current = p;
  return was;
}

void phase_totals(double seconds[PHASE_COUNT]) {
  memcpy(seconds, total, sizeof total);
  if (enabled) seconds[current] += now() - since;
}

const char *phase_name(Phase p) {
  static const char *const names[PHASE_COUNT] = {"other", "encoder", "decoder", "regressors", "adversary", "adam", "allreduce"};
  return p >= 0 && p < PHASE_COUNT ? names[p] : "?";
}
