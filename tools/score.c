/* songscope-score: accuracy of songscope's tempo and key on a labelled folder (labels.csv: file, bpm, key).
 * Tempo: Accuracy1 = within 4% of the label; Accuracy2 also forgives x2, x1/2, x3, x1/3 (each within 4%).
 * Key: MIREX weighted score as mir_eval computes it (1 exact, 0.5 a perfect fifth above in the same mode,
 * 0.3 relative, 0.2 parallel, else 0; keycmp.h) and the exact-key rate, over clips with a key label, then the
 * confusion counts (same, fifth, fourth, relative, parallel, other). Tempo again by the label's band (slow below
 * 81 BPM, middle, fast from 170: the bands tools/make-eval-set.py draws grooves from), with the readings at half
 * and at double, since the octave errors go opposite ways at the two ends. With a time_signature column, also how
 * each labelled metre was read. Prints markdown tables, one row per "kind" and one for all; -v adds the
 * per-file misses. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/analysis/pipeline.h"
#include "tools/keycmp.h"
#include "tools/labels.h"
#include "tools/stats.h"

typedef struct tally {
	char kind[64];
	int clips, analysed, tempo_n, acc1, acc2, key_n, key_exact;
	double mirex;
	int rel[TOOL_KEY_NREL]; /* key confusion counts over clips with a key label */
} tally;

/* Time signatures: per labelled metre, how often each metre was reported. */
enum { METRES = 8 };
typedef struct metre_tally {
	char label[METRES][8];
	int n[METRES], got[METRES][METRES]; /* got[labelled][reported], the reported ones in names[] */
	char names[METRES][8];
	int nl, nn;
} metre_tally;

static int metre_slot(char (*names)[8], int *count, const char *name)
{
	for (int i = 0; i < *count; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	if (*count >= METRES)
		return -1;
	snprintf(names[*count], sizeof names[0], "%s", name);
	return (*count)++;
}

static void metre_add(metre_tally *m, const char *label, const char *got)
{
	int i = metre_slot(m->label, &m->nl, label), j = metre_slot(m->names, &m->nn, got);
	if (i < 0 || j < 0)
		return;
	m->n[i]++;
	m->got[i][j]++;
}

static void metre_print(const metre_tally *m)
{
	printf("\n| time signature | clips | right | reported as |\n|---|---:|---:|---|\n");
	int all = 0, right = 0;
	for (int i = 0; i < m->nl; i++) {
		int r = 0;
		for (int j = 0; j < m->nn; j++)
			if (strcmp(m->names[j], m->label[i]) == 0)
				r = m->got[i][j];
		printf("| %s | %d | %d |", m->label[i], m->n[i], r);
		for (int j = 0, first = 1; j < m->nn; j++)
			if (m->got[i][j] > 0) {
				printf("%s %s %d", first ? "" : ",", m->names[j], m->got[i][j]);
				first = 0;
			}
		printf(" |\n");
		all += m->n[i];
		right += r;
	}
	printf("| **all** | %d | %d | |\n", all, right);
}

/* The bar length a time signature names, for telling whether the metre's confidence was earned: 3 for 3/4,
 * 6/8, 3/8, 6/4 and 9/8 (bars of three beats, or of two or three groups of three); 4 for 4/4, 2/4 and 12/8; else
 * its numerator. */
static int bar_group(const char *ts)
{
	int n = atoi(ts);
	return n == 3 || n == 6 || n == 9 ? 3 : n == 2 || n == 4 || n == 12 ? 4 : n;
}

/* The chance that a value of a[] exceeds one of b[] (ties count half): the area under the ROC curve. */
static double auc(const double *a, size_t na, const double *b, size_t nb)
{
	double s = 0.0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			s += a[i] > b[j] ? 1.0 : a[i] == b[j] ? 0.5 : 0.0;
	return na && nb ? s / ((double)na * (double)nb) : NAN;
}

/* Tempo by the label's band: readings right (Acc1, Acc2), at half and at double the label. */
enum { BANDS = 3 };
typedef struct band_tally {
	int n[BANDS], acc1[BANDS], acc2[BANDS], half[BANDS], dbl[BANDS];
} band_tally;

static const char *const band_names[BANDS] = {"slow (below 81 BPM)", "middle (81-169 BPM)", "fast (170 BPM and up)"};

static int band_of(double bpm)
{
	return bpm < 81.0 ? 0 : bpm < 170.0 ? 1 : 2;
}

static int within(double est, double ref, double tol)
{
	return fabs(est - ref) <= tol * ref;
}

static int tempo_acc1(double est, double ref)
{
	return isfinite(est) && within(est, ref, 0.04);
}

static int tempo_acc2(double est, double ref)
{
	static const double f[] = {1.0, 2.0, 0.5, 3.0, 1.0 / 3.0};
	if (!isfinite(est))
		return 0;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (within(est, ref * f[i], 0.04))
			return 1;
	return 0;
}

static tally *tally_for(tally *t, int *nt, int maxt, const char *kind)
{
	for (int i = 0; i < *nt; i++)
		if (strcmp(t[i].kind, kind) == 0)
			return &t[i];
	if (*nt >= maxt)
		return NULL;
	tally *x = &t[(*nt)++];
	memset(x, 0, sizeof *x);
	snprintf(x->kind, sizeof x->kind, "%s", kind[0] ? kind : "(none)");
	return x;
}

static void add(tally *t, int analysed, int has_bpm, int a1, int a2, int has_key, tool_key_rel rel)
{
	double mx = tool_key_weight(rel);
	t->clips++;
	t->analysed += analysed;
	t->tempo_n += has_bpm;
	t->acc1 += a1;
	t->acc2 += a2;
	t->key_n += has_key;
	t->key_exact += has_key && mx == 1.0;
	t->mirex += has_key ? mx : 0.0;
	if (has_key)
		t->rel[rel]++;
}

static void pct(char *out, size_t len, double num, int den)
{
	if (den == 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%%", 100.0 * num / den);
}

static void band_add(band_tally *b, double est, double ref, int a1, int a2)
{
	int i = band_of(ref);
	b->n[i]++;
	b->acc1[i] += a1;
	b->acc2[i] += a2;
	b->half[i] += isfinite(est) && within(est, ref / 2.0, 0.04);
	b->dbl[i] += isfinite(est) && within(est, ref * 2.0, 0.04);
}

static void band_print(const band_tally *b)
{
	printf("\n| labelled tempo | with bpm | tempo Acc1 | tempo Acc2 | read at half | read at double |\n"
	       "|---|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < BANDS; i++) {
		if (b->n[i] == 0)
			continue;
		char a1[16], a2[16];
		pct(a1, sizeof a1, b->acc1[i], b->n[i]);
		pct(a2, sizeof a2, b->acc2[i], b->n[i]);
		printf("| %s | %d | %s | %s | %d | %d |\n", band_names[i], b->n[i], a1, a2, b->half[i], b->dbl[i]);
	}
}

static void row(const tally *t)
{
	char a1[16], a2[16], mx[16], ex[16];
	pct(a1, sizeof a1, t->acc1, t->tempo_n);
	pct(a2, sizeof a2, t->acc2, t->tempo_n);
	pct(mx, sizeof mx, t->mirex, t->key_n);
	pct(ex, sizeof ex, t->key_exact, t->key_n);
	printf("| %s | %d | %d | %d | %s | %s | %d | %s | %s |\n", t->kind, t->clips, t->analysed, t->tempo_n, a1, a2,
	       t->key_n, mx, ex);
}

/* Key confusion counts of one tally: same, fifth (a fifth above the label), fourth (a fourth above, the
 * subdominant), relative, parallel, other. */
static void confusion_row(const tally *t)
{
	printf("| %s | %d |", t->kind, t->key_n);
	for (int k = 0; k < TOOL_KEY_NREL; k++)
		printf(" %d |", t->rel[k]);
	printf("\n");
}

int main(int argc, char **argv)
{
	int verbose = 0;
	ss_analysis_opts opts;
	ss_analysis_opts_default(&opts);
	ss_analysis_process_init(); /* many files in one process */
	static const struct option longopts[] = {
		{"verbose", no_argument, NULL, 'v'}, {"max-seconds", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "vm:h", longopts, NULL)) != -1) {
		if (c == 'v')
			verbose = 1;
		else if (c == 'm')
			opts.max_seconds = atof(optarg);
		else {
			fprintf(c == 'h' ? stdout : stderr, "Usage: songscope-score [-v] [--max-seconds N] DIR\n"
							    "DIR holds the clips and labels.csv (file,bpm,key[,kind,...]).\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "Usage: songscope-score [-v] [--max-seconds N] DIR\n");
		return 2;
	}
	const char *dir = argv[optind];
	tool_labels labels;
	char why[512];
	if (tool_labels_load(dir, &labels, why, sizeof why) != 0) {
		fprintf(stderr, "songscope-score: %s\n", why);
		return 1;
	}
	enum { MAXT = 32 };
	tally kinds[MAXT], all;
	int nk = 0;
	memset(&all, 0, sizeof all);
	snprintf(all.kind, sizeof all.kind, "**all**");
	char *misses = NULL;
	size_t misses_len = 0;
	FILE *mf = open_memstream(&misses, &misses_len);
	if (mf == NULL) {
		fprintf(stderr, "songscope-score: out of memory\n");
		return 1;
	}
	double time_sum = 0.0;
	metre_tally metres;
	memset(&metres, 0, sizeof metres);
	band_tally bands;
	memset(&bands, 0, sizeof bands);
	/* time_signature_confidence where the bar's length is right and where it is wrong (tempo right within Acc2) */
	double *ts_right = calloc(labels.n + 1, sizeof *ts_right), *ts_wrong = calloc(labels.n + 1, sizeof *ts_wrong);
	size_t n_right = 0, n_wrong = 0;
	if (ts_right == NULL || ts_wrong == NULL) {
		fprintf(stderr, "songscope-score: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < labels.n; i++) {
		const tool_label *l = &labels.v[i];
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, l->file);
		ss_result r;
		ss_result_init(&r);
		ss_error err;
		ss_error_clear(&err);
		int ok = ss_analyze_file(path, &opts, &r, &err) == 0;
		int has_bpm = isfinite(l->bpm), has_key = l->key_index >= 0;
		int a1 = ok && has_bpm && tempo_acc1(r.bpm, l->bpm);
		int a2 = ok && has_bpm && tempo_acc2(r.bpm, l->bpm);
		tool_key_rel rel = ok && has_key ? tool_key_relation(r.key_index, r.mode, l->key_index, l->mode)
						 : TOOL_KEY_OTHER;
		if (ok)
			time_sum += r.analysis_duration;
		char tsbuf[16];
		const char *ts = ok ? ss_result_time_signature(&r, tsbuf, sizeof tsbuf) : NULL;
		int metre_miss = ok && l->metre[0] != '\0' && (ts == NULL || strcmp(ts, l->metre) != 0);
		if (ok && l->metre[0] != '\0')
			metre_add(&metres, l->metre, ts != NULL ? ts : "none");
		if (ok && l->metre[0] != '\0' && ts != NULL && a2) {
			if (bar_group(ts) == bar_group(l->metre))
				ts_right[n_right++] = r.time_signature_confidence;
			else
				ts_wrong[n_wrong++] = r.time_signature_confidence;
		}
		add(&all, ok, has_bpm, a1, a2, has_key, rel);
		if (has_bpm) /* a clip that failed counts as a miss, as in the table by kind */
			band_add(&bands, ok ? r.bpm : NAN, l->bpm, a1, a2);
		tally *t = tally_for(kinds, &nk, MAXT, l->kind);
		if (t != NULL)
			add(t, ok, has_bpm, a1, a2, has_key, rel);
		char ek[32], rk[32];
		ss_key_name(r.key_index, r.mode, ek, sizeof ek);
		ss_key_name(l->key_index, l->mode, rk, sizeof rk);
		if (!ok)
			fprintf(mf, "| %s | %.2f | - | %s | - | error: %s |\n", l->file, l->bpm, has_key ? rk : "", err.msg);
		else if ((has_bpm && !a1) || (has_key && rel != TOOL_KEY_SAME) || metre_miss)
			fprintf(mf, "| %s | %.2f | %.2f | %s | %s | %s%s%s%s%s%s%s%s |\n", l->file, l->bpm, r.bpm,
				has_key ? rk : "", ek, has_bpm && !a1 ? (a2 ? "tempo octave " : "tempo miss ") : "",
				has_key && rel != TOOL_KEY_SAME ? "key (" : "",
				has_key && rel != TOOL_KEY_SAME ? tool_key_rel_name(rel) : "",
				has_key && rel != TOOL_KEY_SAME ? ") " : "", metre_miss ? "metre " : "",
				metre_miss ? l->metre : "", metre_miss ? " as " : "",
				metre_miss ? (ts ? ts : "none") : "");
		ss_result_free(&r);
	}
	fclose(mf);
	printf("| kind | clips | analysed | with bpm | tempo Acc1 | tempo Acc2 | with key | key MIREX | key exact |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < nk; i++)
		row(&kinds[i]);
	row(&all);
	printf("\n| kind | with key |");
	for (int k = 0; k < TOOL_KEY_NREL; k++)
		printf(" %s |", tool_key_rel_name((tool_key_rel)k));
	printf("\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < nk; i++)
		if (kinds[i].key_n > 0)
			confusion_row(&kinds[i]);
	confusion_row(&all);
	band_print(&bands);
	if (metres.nl > 0) {
		metre_print(&metres);
		double a = auc(ts_right, n_right, ts_wrong, n_wrong);
		printf("\ntime_signature_confidence, clips with the tempo right within Acc2: bar length right %zu "
		       "(median %.2f), wrong %zu (median %.2f); a right one above a wrong one: %.2f of pairs\n",
		       n_right, tool_median(ts_right, n_right), n_wrong, tool_median(ts_wrong, n_wrong), a);
	}
	free(ts_right);
	free(ts_wrong);
	printf("\nmean analysis time %.1f ms per clip (%d clips analysed)\n",
	       all.analysed ? 1000.0 * time_sum / all.analysed : 0.0, all.analysed);
	if (verbose && misses_len > 0) {
		printf("\n| file | bpm | estimated | key | estimated | miss |\n|---|---:|---:|---|---|---|\n%s", misses);
	}
	free(misses);
	tool_labels_free(&labels);
	return all.analysed == all.clips ? 0 : 1;
}
