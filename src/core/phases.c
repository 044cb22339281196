#include "disentangle/phases.h"

DtEvents dt_events;

PetscErrorCode phases_register(void) {
  PetscFunctionBeginUser;
  static int done;
  if (done) PetscFunctionReturn(0);
  PetscClassId id;
  PetscCall(PetscClassIdRegister("disentangle", &id));
  PetscCall(PetscLogEventRegister("BatchRead", id, &dt_events.io));
  PetscCall(PetscLogEventRegister("Forward", id, &dt_events.forward));
  PetscCall(PetscLogEventRegister("LossTerms", id, &dt_events.terms));
  PetscCall(PetscLogEventRegister("Backward", id, &dt_events.backward));
  PetscCall(PetscLogEventRegister("Adversary", id, &dt_events.adversary));
  PetscCall(PetscLogEventRegister("Optimizer", id, &dt_events.optimizer));
  PetscCall(PetscLogEventRegister("AllreduceStats", id, &dt_events.stats));
  PetscCall(PetscLogEventRegister("GradBucketStart", id, &dt_events.grad_start));
  PetscCall(PetscLogEventRegister("GradBucketWait", id, &dt_events.grad_wait));
  PetscCall(PetscLogEventRegister("AllreduceGrads", id, &dt_events.grad_reduce));
  PetscCall(PetscLogEventRegister("GatherLatents", id, &dt_events.gather));
  PetscCall(PetscLogEventRegister("Checkpoint", id, &dt_events.checkpoint));
  done = 1;
  PetscFunctionReturn(0);
}
