/* Shared by the files of the report page (report.c, report_loss.c, report_traversals.c); not
 * a public interface. */
#ifndef DISENTANGLE_REPORT_PAGE_H
#define DISENTANGLE_REPORT_PAGE_H

#include <stdio.h>

#include "disentangle/report.h"

#define PAGE_W 960 /* content width; 20 px padding each side makes a 1000 px page */

/* What every section needs: the data plus per-latent facts resolved once. */
typedef struct {
  FILE *f;
  const ReportData *d;
  double *lo, *hi; /* latent ranges: zmin/zmax, or computed from z */
  int *active;     /* 1 for an active latent */
  int *order;      /* latent indices, active ones first, each group in index order */
  int nactive;
} Report;

const char *report_latent_label(char *buf, size_t len, int j);
/* Finite min and max of n doubles at stride; returns 0 when none is finite. */
int report_finite_range(const double *v, long n, long stride, double *lo, double *hi);
/* Widen [lo, hi] by frac of its width on each side (a unit interval around a single value). */
void report_pad_range(double *lo, double *hi, double frac);
void report_section_begin(Report *r, const char *id, const char *title);
/* A one-line note in place of a figure; closes the section. */
void report_section_note(Report *r, const char *text);
/* Captions are fixed text from this module (no user data), so they may contain markup. */
void report_figure_end(Report *r, const char *caption_html);

/* The sections drawn in their own files: each returns 0, or -1 when out of memory. */
int report_loss_section(Report *r);
int report_loss_height(const ReportData *d);
int report_traversal_section(Report *r);
int report_traversal_height(const ReportData *d);
int report_kl_section(Report *r);
int report_generated_section(Report *r);
int report_generated_height(const ReportData *d);
int report_swap_section(Report *r);
int report_swap_height(const ReportData *d);
int report_kl_height(const ReportData *d);
int report_capture_section(Report *r);
int report_capture_height(const ReportData *d);

#endif
