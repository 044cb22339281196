/* Where a training step's time goes: encoder, regressors, decoder, ... Exclusive wall-clock
 * times per phase, charged at phase switches, so the phases add up to the time measured.
 * Off unless a caller enables it (bench does); a switch then costs one branch. */
#ifndef DISENTANGLE_PHASE_H
#define DISENTANGLE_PHASE_H

typedef enum {
  PHASE_OTHER,      /* everything not below: data, loss terms, heads, the loop's own work */
  PHASE_ENCODER,    /* encoder forward and backward */
  PHASE_DECODER,    /* decoder forward and backward */
  PHASE_REGRESSORS, /* NashAE's K regressor updates: forward and backward */
  PHASE_ADVERSARY,  /* NashAE's adversarial term: regressors' forward on the slice, backward to z */
  PHASE_ADAM,       /* optimizer updates of every group */
  PHASE_ALLREDUCE,  /* every collective of the step */
  PHASE_COUNT
} Phase;

void phase_enable(int on); /* also zeroes the totals */
/* Charge the time since the last switch to the current phase and make p current; returns the
 * phase it replaced, for the caller to switch back to. */
Phase phase_switch(Phase p);
void phase_totals(double seconds[PHASE_COUNT]); /* up to now, the current phase included */
const char *phase_name(Phase p);

#endif
