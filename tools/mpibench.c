/* mpibench: this machine's MPI latency and bandwidth, for the scaling model (docs/scaling.md).
 *
 *   mpiexec -n P tools/mpibench [-max_mb 16] [-min_seconds 0.05]
 *
 * Prints, one line each (rank 0; times in microseconds per operation over 15 batches of
 * repetitions, each batch at least min_seconds/15 long: the fastest batch, then the median one.
 * On a loaded machine a rank that is descheduled stalls the others, and only the fastest batch
 * is near what the hardware does; the median is what a job got):
 *   pingpong BYTES MIN MEDIAN      one-way time between ranks 0 and 1 (half the round trip)
 *   allreduce P BYTES MIN MEDIAN   MPI_Allreduce of BYTES of floats over P ranks (the slowest rank's time)
 *   iallreduce P BYTES MIN MEDIAN  MPI_Iallreduce + MPI_Wait, the same sizes
 *   fit alpha_us A beta_us_per_byte B   T = alpha + n beta, relative least squares on the fastest ping-pongs
 * and the algorithms Open MPI's tuned component would pick are not forced: what is timed is what
 * the trainer gets. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCHES 15

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median over BATCHES of the mean time per repetition of op (the same repetition count on
 * every rank, agreed from rank 0's calibration). */
typedef void (*Op)(void *ctx);
static void time_op(Op op, void *ctx, double min_seconds, MPI_Comm comm, double *fastest, double *median) {
  int reps = 1;
  for (;;) { /* calibrate: double until one batch takes min_seconds / BATCHES */
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    for (int r = 0; r < reps; r++) op(ctx);
    double t = MPI_Wtime() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm);
    if (t >= min_seconds / BATCHES || reps >= (1 << 22)) break;
    reps *= 2;
  }
  double times[BATCHES];
  for (int b = 0; b < BATCHES; b++) {
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    for (int r = 0; r < reps; r++) op(ctx);
    double t = (MPI_Wtime() - t0) / reps;
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, comm);
    times[b] = t;
  }
  qsort(times, BATCHES, sizeof *times, cmp_double);
  *fastest = times[0], *median = times[BATCHES / 2];
}

typedef struct {
  MPI_Comm comm;
  int rank;
  float *buf;
  int count;
} Ctx;

static void pingpong(void *p) {
  Ctx *c = p;
  int bytes = c->count * (int)sizeof(float);
  char *b = (char *)c->buf;
  if (c->rank == 0) {
    MPI_Send(b, bytes, MPI_BYTE, 1, 0, c->comm);
    MPI_Recv(b, bytes, MPI_BYTE, 1, 0, c->comm, MPI_STATUS_IGNORE);
  } else if (c->rank == 1) {
    MPI_Recv(b, bytes, MPI_BYTE, 0, 0, c->comm, MPI_STATUS_IGNORE);
    MPI_Send(b, bytes, MPI_BYTE, 0, 0, c->comm);
  }
}

static void allreduce(void *p) {
  Ctx *c = p;
  MPI_Allreduce(MPI_IN_PLACE, c->buf, c->count, MPI_FLOAT, MPI_SUM, c->comm);
}

static void iallreduce(void *p) {
  Ctx *c = p;
  MPI_Request req;
  MPI_Iallreduce(MPI_IN_PLACE, c->buf, c->count, MPI_FLOAT, MPI_SUM, c->comm, &req);
  MPI_Wait(&req, MPI_STATUS_IGNORE);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double max_mb = 16, min_seconds = 0.05;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-max_mb") && i + 1 < argc) max_mb = atof(argv[++i]);
    else if (!strcmp(argv[i], "-min_seconds") && i + 1 < argc) min_seconds = atof(argv[++i]);
    else {
      if (rank == 0)
        fprintf(stderr, "mpibench: unknown argument '%s'; usage: mpiexec -n P mpibench [-max_mb 16] [-min_seconds 0.05]\n",
                argv[i]);
      MPI_Finalize();
      return 2;
    }
  }
  if (!(max_mb > 0 && max_mb <= 1024 && min_seconds > 0 && min_seconds < 100)) {
    if (rank == 0) fprintf(stderr, "mpibench: -max_mb must be in (0, 1024] and -min_seconds in (0, 100)\n");
    MPI_Finalize();
    return 2;
  }
  size_t max_count = (size_t)(max_mb * 1048576 / sizeof(float));
  float *buf = calloc(max_count, sizeof *buf);
  if (!buf) {
    fprintf(stderr, "mpibench: cannot allocate %g MB\n", max_mb);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  Ctx c = {.comm = MPI_COMM_WORLD, .rank = rank, .buf = buf};
  double sx = 0, sy = 0, sxx = 0, sxy = 0, sw = 0;
  for (size_t n = 1; n <= max_count; n *= 4) {
    c.count = (int)n;
    double t, tm;
    if (size >= 2) {
      time_op(pingpong, &c, min_seconds, MPI_COMM_WORLD, &t, &tm);
      t /= 2, tm /= 2;
      if (rank == 0) printf("pingpong %zu %.3f %.3f\n", n * sizeof(float), 1e6 * t, 1e6 * tm);
      /* weights 1/t^2: a relative-error fit, so the small sizes fix alpha and the large beta */
      double x = (double)n * sizeof(float), y = 1e6 * t, w = 1.0 / (y * y);
      sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
    }
    time_op(allreduce, &c, min_seconds, MPI_COMM_WORLD, &t, &tm);
    if (rank == 0) printf("allreduce %d %zu %.3f %.3f\n", size, n * sizeof(float), 1e6 * t, 1e6 * tm);
    time_op(iallreduce, &c, min_seconds, MPI_COMM_WORLD, &t, &tm);
    if (rank == 0) printf("iallreduce %d %zu %.3f %.3f\n", size, n * sizeof(float), 1e6 * t, 1e6 * tm);
    fflush(stdout);
  }
  if (size >= 2 && rank == 0) {
    double beta = (sw * sxy - sx * sy) / (sw * sxx - sx * sx), alpha = (sy - beta * sx) / sw;
    printf("fit alpha_us %.4f beta_us_per_byte %.6g (%.2f GB/s)\n", alpha, beta, 1e-3 / beta);
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
