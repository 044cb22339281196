/* Messages for people: rank 0 speaks, everyone else stays quiet. */
#ifndef DISENTANGLE_LOG_H
#define DISENTANGLE_LOG_H

#include <mpi.h>
#include <petscsys.h>

/* printf to stderr on rank 0 of comm, prefixed "disentangle: ". */
void log_info(MPI_Comm comm, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(2, 3);

/* The peak resident set of this process (getrusage), MB, the largest over comm's ranks; -1 where
 * unknown. Collective. */
double log_peak_rss_mb(MPI_Comm comm);

/* Wall-clock seconds (MPI_Wtime). */
double log_seconds(void);

/* "1h02m", "3m05s", "12.3s": a duration for a person. */
void log_duration(double seconds, char *buf, size_t len);

#endif
