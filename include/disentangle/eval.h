/* The configuration of `disentangle eval`. */
#ifndef DISENTANGLE_EVAL_H
#define DISENTANGLE_EVAL_H

#include <petscsys.h>

#include "disentangle/config.h"
#include "disentangle/driver.h"

typedef struct {
  char run_dir[CONFIG_PATH_LEN], model[CONFIG_PATH_LEN], data[CONFIG_PATH_LEN], layer[CONFIG_WORD_LEN];
  char factor_kinds[CONFIG_PATH_LEN];
  PetscInt seed, base, tdv_d, eig_distributed_min, factor_values, factor_bins, metric_train, metric_eval;
  PetscReal kl_threshold, test_share, io_buffer_mb;
} EvalConfig;

#endif
