/* The phases of a training step as PETSc log events, so that -log_view shows where a step's
 * time goes (and the flops of its sgemm calls, which tensor_sgemm logs): reading the batch,
 * the autoencoder's forward and backward, the adversary (NashAE's regressors, FactorVAE's
 * discriminator), the optimizer, each kind of communication, and checkpoints. */
#ifndef DISENTANGLE_PHASES_H
#define DISENTANGLE_PHASES_H

#include <petscsys.h>

typedef struct {
  PetscLogEvent io;           /* the batch read from the archive */
  PetscLogEvent forward;      /* encoder, head, decoder */
  PetscLogEvent terms;        /* the loss terms' local sums and their gradients (the adversary's use of its nets included) */
  PetscLogEvent backward;     /* decoder, head, encoder */
  PetscLogEvent adversary;    /* training the adversary's own nets */
  PetscLogEvent optimizer;    /* parameter updates */
  PetscLogEvent stats;        /* the ONE allreduce of the step's statistics */
  PetscLogEvent grad_start;   /* starting and testing the autoencoder's gradient buckets */
  PetscLogEvent grad_wait;    /* waiting for them after backward */
  PetscLogEvent grad_reduce;  /* blocking gradient sums (regressors in their rank group, discriminator) */
  PetscLogEvent gather;       /* latents gathered for the adversary, regressors shared back */
  PetscLogEvent checkpoint;   /* writing a checkpoint or model file */
} DtEvents;

extern DtEvents dt_events;

/* Register the events (once; later calls do nothing). Before any of them is used. */
PetscErrorCode phases_register(void);

#endif
