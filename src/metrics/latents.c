#include "disentangle/latents.h"

int latents_active(const double *zmin, const double *zmax, int m, double threshold) {
  int n = 0;
  for (int j = 0; j < m; j++) n += zmax[j] - zmin[j] > threshold;
  return n;
}
