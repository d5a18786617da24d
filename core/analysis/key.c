/* Key detection, in order:
 * 1. resample to 5512.5 Hz (libsoxr, streamed in pieces so memory does not grow with the input);
 * 2. magnitude STFT with 0.74 s Hann windows and 50 % overlap (core/analysis/stft.h), a block of frames at
 *    a time;
 * 3. tuning: circular mean of the deviations of interpolated spectral peaks from the A440 grid (first
 *    block, tuning.c);
 * 4. per frame: tuned semitone spectrum C2-B6, removal of harmonics 3/5/6, log compression, local-mean
 *    whitening, folded into a max-normalised chroma (chroma.c); silent frames are skipped and the
 *    others averaged with equal weight;
 * 5. Pearson correlation of the mean chroma with the 24 rotations of a major/minor profile
 *    (key_profiles.c); with the default profile, Krumhansl-Kessler's ranking of the tonics within each
 *    mode is added (the tonic vote, KEY_TONIC_VOTE); the best is the key, the margin over the runner-up gives the
 *    confidence, and a chroma too flat to be told from noise gives no key;
 * 6. the leading-tone rule: when the two best are keys a fifth apart in a near tie, the one scale tone in
 *    which they differ decides between them; a little further apart, the upper major key's leading tone
 *    overrules the lower one when it sounds at least twice as strongly as the lower key's fourth;
 * 7. the natural-minor rule: when the best key is major and its parallel minor is close behind, the minor key is
 *    scored again with the natural minor's flat seventh in place of the harmonic minor's leading tone;
 * 8. the dominant's tonic: a major key whose tonic sounds less than half its dominant gives way to the major key a
 *    fifth above (a mixolydian piece read by its scale). */
#include "core/analysis/key.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>

#include "core/analysis/chroma.h"
#include "core/analysis/key_profiles.h"
#include "core/analysis/stft.h"
#include "core/analysis/tuning.h"

/* The profile used for SS_KEY_PROFILE_DEFAULT, chosen by measurement. First (v1, 28 labelled accompaniment
 * clips, MIREX weighted score on whole 30 s clips / 10 s / 5 s excerpts) Temperley scored 1.000 / 0.988 / 0.905,
 * Krumhansl 0.957 / 0.914 / 0.761 and edma 0.939 / 0.914 / 0.745. Temperley's minor profile expects the raised
 * leading tone, so natural-minor music without it was read as its relative major: on 45 key-labelled
 * rendered-MIDI clips Temperley scored 0.889 with 5 relative-major misses. Then (v4, all 73 key-labelled
 * clips; whole clips / 10 s excerpts): Temperley 0.932 / 0.875, Krumhansl 0.948 / 0.812, Temperley-Kostka-Payne
 * 0.979 / 0.893 (whose minor profile keeps the natural 7th), Albrecht-Shanahan 0.970 / 0.869, Bellman-Budge
 * 0.952 / 0.840, Aarden-Essen 0.852, Sha'ath 0.919, edma 0.889; the mean of Temperley and Kostka-Payne
 * 0.993 / 0.905, the best on both, and the only one that kept every key Temperley had right. On 5 s excerpts
 * Temperley alone stays slightly ahead (0.903 / 0.678 vs 0.853 / 0.670 with the leading-tone rule below, on
 * accompaniments / renders): the mean needs more than a few chords. */
#define KEY_DEFAULT_PROFILE SS_KEY_PROFILE_TEMPERLEY_TKP_KK

/* The leading-tone rule. Two keys of the same mode a fifth apart (C and G major, A and E minor) share six of
 * their seven scale tones; they differ in one: C major has F where G major has its leading tone F# (for minor
 * keys, those of their relative majors). When the two best keys are such a pair and score within this margin
 * of each other (a near tie of the profile correlations), that one tone decides: the dominant key if its
 * leading tone sounds more than the other key's fourth, the lower key otherwise. This is the scale-degree
 * argument behind key-signature estimates (Longuet-Higgins & Steedman 1971, Temperley 2001 ch. 7) applied to
 * one pair that profile correlation cannot tell apart. 0.01-0.03 measured alike on 10 s excerpts of the labelled
 * clips (fifth and fourth confusions 5 -> 4 of 207, MIREX 0.905 -> 0.912); 0.05 and more started to override
 * clear profile decisions. */
#define KEY_LEADING_TONE_MARGIN 0.02

/* The leading tone's second reach. A little further apart than that (within KEY_LEADING_TONE_WINDOW), the profiles
 * still decide, except in one direction: when the lower key is ahead but the upper key's leading tone (F# between C
 * and G major) sounds at least KEY_LEADING_TONE_RATIO times as strongly as the lower key's own fourth (F), the upper
 * key. The lower key's scale has no F#, and a raised fourth is rare in tonal and popular music, while the reverse, a
 * flat seventh in the upper key (F in G major: mixolydian rock and folk), is common, so the rule is one-sided. Major
 * keys only: between minor keys (A and E minor, read through their relative majors) the same tone is the lower key's
 * raised sixth (F# in A minor, melodic minor), which is common, and no labelled minor pair showed such a ratio.
 * Measured on four sets of labelled clips (BENCHMARKS.md, "The leading tone's second reach"): where the two best keys
 * were a fifth apart within 0.1, a leading tone at least twice the fourth went with the upper key in all 30 such
 * clips, while a fourth at least twice the leading tone once went with the upper key (its flat seventh). The window
 * was chosen on three of the sets: 0.06 changed no right answer on whole clips or on 10 s excerpts, 0.1 and 0.15 each
 * broke one excerpt. */
#define KEY_LEADING_TONE_WINDOW 0.06
#define KEY_LEADING_TONE_RATIO 2.0

/* The tonic vote (SS_KEY_PROFILE_TEMPERLEY_TKP_KK, the default). Each key's score from the mean of Temperley and
 * Kostka-Payne also gets KEY_TONIC_VOTE times how far Krumhansl-Kessler's correlation for that key falls below
 * Krumhansl-Kessler's best key of the same mode. Within a mode the two profile sets so rank the tonics together,
 * while the choice between the best major and the best minor key stays the mean's: Krumhansl-Kessler's probe-tone
 * profiles (Krumhansl & Kessler 1982) weigh the tonic more and chromatic notes less harshly than corpus counts,
 * and read a I-vi-IV-V progression as its relative minor, which the mean does not. The mean alone reads a blues or
 * a chromatic major piece (C major with Bb, Eb, F#) a fourth too high, C as F major, because C major's scale has
 * no Bb; the vote names C. Chosen on the whole clips and first 10 s of four labelled sets (the development set, the
 * dev-packages renders, the evaluation set, held-out grooves; 0.5-1.0 alike, 0.7 taken), then checked once on sets
 * built afterwards: 66 new grooves, key MIREX 95.2% -> 96.7%, and 143 renders of the later 30 s windows of the
 * renders' files, which no rule had seen, 86.6% -> 89.2% on whole clips and 74.2% -> 77.5% on their first 10 s
 * (BENCHMARKS.md, "The tonic vote"). */
#define KEY_TONIC_VOTE 0.7

/* The natural-minor rule (the default profile only). The minor profiles are made for the harmonic minor: Temperley's
 * and Kostka-Payne's weigh the raised seventh, the leading tone (G# in A minor), well above the flat seventh (G),
 * which is what classical minor pieces sound. Rock, folk and game music in minor mostly keep the natural minor's flat
 * seventh, and distorted guitars add major thirds: a distorted note's strong fifth partial is its major third two
 * octaves up, and a distorted power chord (root and fifth) also makes the root's major third by intermodulation. Both
 * push such a piece to its parallel major (A minor read as A major). So when the best key is major and its parallel
 * minor is within KEY_PARALLEL_WINDOW, the minor key is scored again with the natural minor's profile (the same table
 * with its two sevenths swapped) and comes first if it then scores more than KEY_PARALLEL_MARGIN higher. A major key
 * that borrows the flat third's chord (I-bIII-IV-I, C Eb F C) has its two thirds alike and the flat seventh over the
 * leading tone too, but its sixth is major (A, in IV): the natural minor gains less there, and wins by less than the
 * margin in three keys of twelve (tests/check_key.c), which it keeps major. On the whole clips of 616 key-labelled
 * clips of eight sets (BENCHMARKS.md, "Two key rules") it changed three keys, each from the parallel major to the
 * labelled minor, and no other. */
#define KEY_PARALLEL_WINDOW 0.15
#define KEY_PARALLEL_MARGIN 0.01

/* The dominant's tonic rule (the default profile only). A major piece in the mixolydian mode (C major with Bb for B:
 * rock's I-bVII vamps) has the scale of the major key a fifth below (F major), so the profiles read that key, whose
 * tonic (F) then sounds far less than its dominant (C), the piece's real tonic. So when the best key is major and its
 * own tonic sounds less than 1/KEY_TONIC_RATIO of the tonic of the major key a fifth above, which scores within
 * KEY_TONIC_WINDOW of it, that key comes first. Measured on 616 key-labelled clips (BENCHMARKS.md, "Two key rules"):
 * two keys changed on whole clips, each a C major render read as F major, and no other; a ratio of 1.8 broke a right
 * answer once the window was 0.6 or more. On their first 10 s it changed three: one to the labelled key, two away from
 * it (one of them an excerpt that holds the dominant, read as the dominant's key). The window lets an I-bVII-I-bVII
 * vamp through in every key (its profile margin is 0.21-0.31; tests/check_key.c); a vamp that also dwells on IV
 * (I-bVII-IV-I) keeps its tonic below twice the fourth's and is still read a fourth too high. */
#define KEY_TONIC_WINDOW 0.4
#define KEY_TONIC_RATIO 2.0

/* Input is resampled to this rate (Hz) before the STFT: the chroma stops near 2 kHz, so a quarter of
 * 22050 Hz keeps everything it uses, makes the STFT four times cheaper and every input rate alike. */
#define KEY_WORK_SR 5512.5

/* Frames per STFT call (71 s at the work rate): bounds memory for long input to about 2 MB. */
#define KEY_BLOCK_FRAMES 192

/* A frame whose band level (about the amplitude of its strongest partial) is below this is silent. */
#define KEY_SILENT_LEVEL 1e-4

/* Tonality gate on the spread of the mean chroma (standard deviation over mean of its 12 values). The chroma
 * of noise is not perfectly flat: its spread shrinks with the number of frames averaged, about
 * KEY_NOISE_K / sqrt(frames) (white, pink and red noise measure up to 0.30 over 3 s = 9 frames, 0.13 over
 * 10 s, 0.11 over 30 s), with a floor for coloured noise. Below max(KEY_NOISE_FLOOR, KEY_NOISE_K /
 * sqrt(frames)) there is no key; confidence ramps to full over the next KEY_TONAL_SPAN. Music measures 0.43
 * and more (0.46 on 3 s excerpts) on the development clips. */
#define KEY_NOISE_FLOOR 0.12
#define KEY_NOISE_K 1.1
#define KEY_TONAL_SPAN 0.1

/* Fewer sounding frames than this (about 1.5 s) name no key: a click or the edges of a DC offset are not
 * enough to tell one. */
#define KEY_MIN_FRAMES 4

/* Margin of correlation between the best and second-best key that maps to confidence 1 - 1/e. */
#define KEY_MARGIN_SCALE 0.1

/* The key of a part of the signal (ss_key_of_span) favours the whole signal's key by this much correlation: a part
 * is read from fewer frames, so its ranking is noisier, and most music stays in one key. Measured with
 * tools/bench-timeline.sh --keys on the sections of the labelled clips, whose label holds for the whole clip (the
 * development set, the dev-packages renders and the evaluation set: 391 sections), and on 32 splices of two
 * development clips in different keys (15 s each): MIREX score of the section keys against the label of the time
 * they cover, bonus 0: 0.892 / 0.752 / 0.914 and splices 0.958; 0.05: 0.909 / 0.793 / 0.936 and 0.958; 0.1: 0.924 /
 * 0.790 / 0.935 and 0.935; 0.2: 0.959 / 0.808 / 0.946 and 0.908 (the whole clip's key on every section: 0.993 /
 * 0.877 / 0.950 and 0.481). 0.05 loses none of the splices' key changes that 0 finds (BENCHMARKS.md). */
#define KEY_SPAN_STAY 0.05

/* Tuning is estimated from peaks in this band, in Hz. */
#define KEY_TUNING_FMIN 100.0
#define KEY_TUNING_FMAX 2000.0

const char *ss_key_profile_name(ss_key_profile_id profile)
{
	switch (profile) {
	case SS_KEY_PROFILE_KRUMHANSL:
		return "krumhansl";
	case SS_KEY_PROFILE_TEMPERLEY:
		return "temperley";
	case SS_KEY_PROFILE_EDMA:
		return "edma";
	case SS_KEY_PROFILE_TKP:
		return "tkp";
	case SS_KEY_PROFILE_TEMPERLEY_TKP:
		return "temperley+tkp";
	case SS_KEY_PROFILE_TEMPERLEY_TKP_KK:
		return "temperley+tkp+kk";
	default:
		return NULL;
	}
}

static void key_unknown(ss_key *out, const char *profile_name, double tuning)
{
	memset(out, 0, sizeof *out);
	out->key_index = -1;
	out->mode = -1;
	out->confidence = 0.0;
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		out->top[i].key_index = -1;
		out->top[i].mode = -1;
		out->top[i].score = 0.0;
	}
	out->tuning_cents = tuning;
	out->tonal_strength = 0.0;
	out->profile = profile_name;
}

/* Smallest power of two >= v (v >= 1). */
static size_t pow2_at_least(double v)
{
	size_t n = 16;
	while ((double)n < v && n < (1u << 20))
		n <<= 1;
	return n;
}

/* Work-rate samples, resampled from the input a piece at a time so that memory stays bounded for long
 * input. Holds global samples [base, base + len); eof once the whole input has come out. */
typedef struct key_source {
	const float *x;   /* input */
	size_t n, pos;    /* input length and samples consumed */
	soxr_t soxr;      /* NULL: the input is already at the work rate and data points into it */
	float *buf;       /* resampled samples (owned), NULL without soxr */
	const float *data;/* buf, or x without soxr */
	size_t cap, len, base;
	int eof;
} key_source;

/* Input samples fed to the resampler per call. */
#define KEY_FEED 16384

static int source_open(key_source *s, const float *x, size_t n, double sr, double work_sr, size_t cap,
		       ss_error *err)
{
	memset(s, 0, sizeof *s);
	s->x = x;
	s->n = n;
	if (work_sr == sr) {
		s->data = x;
		s->len = s->cap = n;
		s->eof = 1;
		return 0;
	}
	soxr_error_t se = NULL;
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* one thread: the caller owns the parallelism */
	s->soxr = soxr_create(sr, work_sr, 1, &se, &io, &q, &rt);
	if (s->soxr == NULL || se != NULL) {
		soxr_delete(s->soxr);
		s->soxr = NULL;
		/* the rates and specification are valid, so what fails is memory (soxr says "malloc failed") */
		return ss_error_set(err, SS_ERR_NOMEM, "resampler for key analysis: %s", se ? se : "failed");
	}
	s->cap = cap + KEY_FEED;
	s->buf = malloc(s->cap * sizeof *s->buf);
	if (s->buf == NULL) {
		soxr_delete(s->soxr);
		s->soxr = NULL;
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for key analysis");
	}
	s->data = s->buf;
	return 0;
}

static void source_close(key_source *s)
{
	if (s->soxr != NULL)
		soxr_delete(s->soxr);
	free(s->buf);
	memset(s, 0, sizeof *s);
}

/* Buffer work-rate samples up to global index upto (exclusive), or to the end. */
static int source_fill(key_source *s, size_t upto, ss_error *err)
{
	while (!s->eof && s->base + s->len < upto) {
		size_t room = s->cap - s->len;
		if (room == 0)
			return ss_error_set(err, SS_ERR_INTERNAL, "key analysis buffer overflow");
		size_t idone = 0, odone = 0;
		size_t ilen = s->n - s->pos < KEY_FEED ? s->n - s->pos : KEY_FEED;
		soxr_error_t se = soxr_process(s->soxr, ilen ? s->x + s->pos : NULL, ilen, &idone, s->buf + s->len,
					       room, &odone);
		if (se != NULL)
			return ss_error_set(err, SS_ERR_INTERNAL, "resampling for key analysis: %s", se);
		s->pos += idone;
		s->len += odone;
		if (ilen == 0 && odone == 0)
			s->eof = 1; /* flushed */
	}
	return 0;
}

/* Forget buffered samples before global index keep. */
static void source_discard(key_source *s, size_t keep)
{
	if (s->soxr == NULL || keep <= s->base)
		return;
	size_t drop = keep - s->base;
	if (drop > s->len)
		drop = s->len;
	memmove(s->buf, s->buf + drop, (s->len - drop) * sizeof *s->buf);
	s->len -= drop;
	s->base += drop;
}

/* Analysis state shared by the blocks of one call. */
typedef struct key_run {
	key_source src;
	double sr;
	size_t n_fft, hop;
	ss_chroma_params cp;
	ss_chroma_map map;
	int have_map;
	double tuning;
	double chroma[12];
	size_t used_frames;
	ss_key_frames *frames; /* each frame's chroma kept here; NULL: not kept */
} key_run;

/* Room in f for frame t. Returns 0, or -1 when out of memory. */
static int frames_reserve(ss_key_frames *f, size_t t)
{
	if (t < f->cap)
		return 0;
	size_t cap = f->cap ? f->cap : 128;
	while (cap <= t)
		cap *= 2;
	double *c = realloc(f->chroma, cap * 12 * sizeof *c);
	if (c == NULL)
		return -1;
	f->chroma = c;
	unsigned char *u = realloc(f->sounding, cap);
	if (u == NULL)
		return -1;
	f->sounding = u;
	f->cap = cap;
	return 0;
}

/* STFT of global frames [t0, t1) (frames centred on t * hop with the signal zero-padded at both ends, as
 * one ss_stft_magnitude call over the whole signal would give), fed to the tuning estimate (first block
 * only) and to the chroma. The source must hold samples from (t0 - margin) * hop on, filled up to the
 * block's last window or to the end of the signal. */
static int key_block(key_run *r, size_t t0, size_t t1, ss_error *err)
{
	key_source *s = &r->src;
	size_t half = r->n_fft / 2;
	size_t margin = (half + r->hop - 1) / r->hop;
	size_t f0 = t0 >= margin ? t0 - margin : 0;
	size_t a = f0 * r->hop;
	size_t want = (t1 - 1) * r->hop + half;
	size_t end = s->base + s->len;
	if (want > end)
		want = end; /* only at the end of the signal, where the STFT zero-pads like the whole-signal one */
	size_t len = want > a ? want - a : 0;
	if (a < s->base)
		return ss_error_set(err, SS_ERR_INTERNAL, "key analysis block before its buffer");
	ss_spectrogram sg;
	if (ss_stft_magnitude(s->data + (a - s->base < s->len ? a - s->base : s->len), len, r->sr, r->n_fft, r->hop,
			      &sg, err) != 0)
		return -1;
	double bin_hz = r->sr / (double)r->n_fft;
	size_t j0 = t0 - f0, j1 = t1 - f0;
	if (j1 > sg.n_frames)
		j1 = sg.n_frames;
	double level_scale = 4.0 / (double)r->n_fft; /* a Hann-windowed sine of amplitude A peaks at A * n_fft / 4 */

	if (!r->have_map) {
		ss_tuning tu;
		ss_tuning_init(&tu);
		for (size_t j = j0; j < j1; j++)
			ss_tuning_add_frame(&tu, sg.mag + j * sg.n_bins, sg.n_bins, bin_hz, KEY_TUNING_FMIN,
					    KEY_TUNING_FMAX);
		r->tuning = ss_tuning_cents(&tu);
		if (ss_chroma_map_init(&r->map, sg.n_bins, bin_hz, r->tuning, &r->cp, err) != 0) {
			ss_spectrogram_free(&sg);
			return -1;
		}
		r->have_map = 1;
	}
	ss_key_frames *kf = r->frames;
	if (kf != NULL && j1 > j0 && frames_reserve(kf, t0 + (j1 - j0) - 1) != 0) {
		ss_spectrogram_free(&sg);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for key analysis");
	}
	for (size_t j = j0; j < j1; j++) {
		double c[12] = {0};
		double e = ss_chroma_add_frame(&r->map, sg.mag + j * sg.n_bins, c);
		int sounding = isfinite(e) && sqrt(e) * level_scale >= KEY_SILENT_LEVEL; /* else silent, or poisoned */
		if (kf != NULL) {
			size_t t = t0 + (j - j0);
			assert(t == kf->n); /* blocks come in order, each frame once */
			for (int i = 0; i < 12; i++)
				kf->chroma[t * 12 + (size_t)i] = sounding ? c[i] : 0.0;
			kf->sounding[t] = (unsigned char)sounding;
			kf->n = t + 1;
		}
		if (!sounding)
			continue;
		for (int i = 0; i < 12; i++)
			r->chroma[i] += c[i];
		r->used_frames++;
	}
	ss_spectrogram_free(&sg);
	return 0;
}

/* The leading-tone rule (KEY_LEADING_TONE_MARGIN, KEY_LEADING_TONE_WINDOW) on the two best keys, order[0] and
 * order[1] (indices into scores: major 0..11, minor 12..23): swaps them when the rule picks the second. chroma
 * is max-normalised. */
static void leading_tone_rule(const double chroma[12], const double scores[SS_KEY_PROFILE_KEYS],
			      int order[SS_KEY_PROFILE_KEYS])
{
	int a = order[0], b = order[1];
	assert(scores[a] >= scores[b]);
	if ((a < 12) != (b < 12) || scores[a] - scores[b] >= KEY_LEADING_TONE_WINDOW)
		return;
	int up = ((b % 12) - (a % 12) + 12) % 12;
	if (up != 7 && up != 5)
		return;
	int lower = up == 7 ? a : b, upper = up == 7 ? b : a;
	/* Tonic of the lower key's major scale: itself, or the relative major of a minor key. */
	int x = (lower % 12 + (lower < 12 ? 0 : 3)) % 12;
	double fourth = chroma[(x + 5) % 12], leading = chroma[(x + 6) % 12];
	int pick;
	if (scores[a] - scores[b] < KEY_LEADING_TONE_MARGIN)
		pick = leading > fourth ? upper : lower;
	else if (a < 12)
		pick = leading >= KEY_LEADING_TONE_RATIO * fourth ? upper : a;
	else
		return;
	if (pick != a) {
		order[0] = b;
		order[1] = a;
	}
}

/* Move key (an index into the scores) to the front of order, the keys before it moving back one place. */
static void order_to_front(int order[SS_KEY_PROFILE_KEYS], int key)
{
	int i = 0;
	while (i < SS_KEY_PROFILE_KEYS && order[i] != key)
		i++;
	assert(i < SS_KEY_PROFILE_KEYS); /* every key is in order once */
	memmove(order + 1, order, (size_t)i * sizeof *order);
	order[0] = key;
}

/* The natural-minor rule (KEY_PARALLEL_WINDOW, KEY_PARALLEL_MARGIN) on the best key, order[0]: when it is major and
 * its parallel minor wins with the natural minor's profile in place of the mean's minor profile (corr: the mean's
 * correlations; scores: the same with the tonic vote), the minor key's score becomes that and it moves to the front,
 * the others keeping their order. chroma is max-normalised. */
static void natural_minor_rule(const double chroma[12], const double corr[SS_KEY_PROFILE_KEYS],
			       double scores[SS_KEY_PROFILE_KEYS], int order[SS_KEY_PROFILE_KEYS])
{
	int major = order[0], minor = major + 12;
	if (major >= 12 || scores[major] - scores[minor] >= KEY_PARALLEL_WINDOW)
		return;
	const double *maj, *min;
	if (ss_key_profile_tables(SS_KEY_PROFILE_TEMPERLEY_TKP_KK, &maj, &min) != 0)
		return;
	double natural[12];
	memcpy(natural, min, sizeof natural);
	natural[10] = min[11];
	natural[11] = min[10];
	double s = scores[minor] - corr[minor] + ss_key_profile_correlate_at(chroma, natural, major);
	if (!(s > scores[major] + KEY_PARALLEL_MARGIN))
		return;
	scores[minor] = s;
	order_to_front(order, minor);
}

/* The dominant's tonic rule (KEY_TONIC_WINDOW, KEY_TONIC_RATIO) on the best key, order[0]: a major key whose tonic
 * sounds less than half the tonic of the major key a fifth above, close behind it, gives way to that key. chroma is
 * max-normalised. */
static void dominant_tonic_rule(const double chroma[12], const double scores[SS_KEY_PROFILE_KEYS],
				int order[SS_KEY_PROFILE_KEYS])
{
	int key = order[0], upper = (key + 7) % 12;
	if (key >= 12 || scores[key] - scores[upper] >= KEY_TONIC_WINDOW)
		return;
	if (chroma[upper] >= KEY_TONIC_RATIO * chroma[key])
		order_to_front(order, upper);
}

/* The tonic vote (KEY_TONIC_VOTE) added to scores, from the max-normalised chroma. */
static void tonic_vote(const double chroma[12], double scores[SS_KEY_PROFILE_KEYS])
{
	double kk[SS_KEY_PROFILE_KEYS];
	if (ss_key_profile_correlate(SS_KEY_PROFILE_KRUMHANSL, chroma, kk) != 0)
		return;
	double best[2] = {-INFINITY, -INFINITY}; /* the best of each mode: major, minor */
	for (int k = 0; k < SS_KEY_PROFILE_KEYS; k++)
		best[k >= 12] = fmax(best[k >= 12], kk[k]);
	for (int k = 0; k < SS_KEY_PROFILE_KEYS; k++)
		scores[k] += KEY_TONIC_VOTE * (kk[k] - best[k >= 12]);
}

/* Key from a summed chroma: fills key_index, mode, top, confidence, tonal_strength, chroma. The key favoured
 * (an index into the scores: major 0..11, minor 12..23; -1 for none) is ranked and its margin measured as if its
 * correlation were `bonus` higher; the scores reported stay the correlations. */
static void key_decide(const double sum[12], size_t frames, ss_key_profile_id profile, int favoured, double bonus,
		       ss_key *out)
{
	double mx = 0.0, mean = 0.0;
	for (int i = 0; i < 12; i++) {
		if (sum[i] > mx)
			mx = sum[i];
		mean += sum[i];
	}
	mean /= 12.0;
	if (!(mx > 0.0))
		return;
	for (int i = 0; i < 12; i++)
		out->chroma[i] = sum[i] / mx;
	double var = 0.0;
	for (int i = 0; i < 12; i++)
		var += (sum[i] - mean) * (sum[i] - mean);
	double spread = sqrt(var / 12.0) / mean;
	double gate = KEY_NOISE_K / sqrt((double)frames);
	if (gate < KEY_NOISE_FLOOR)
		gate = KEY_NOISE_FLOOR;
	if (!(spread >= gate))
		return;

	double corr[SS_KEY_PROFILE_KEYS], scores[SS_KEY_PROFILE_KEYS];
	if (ss_key_profile_correlate(profile, out->chroma, corr) != 0)
		return;
	memcpy(scores, corr, sizeof scores);
	if (profile == SS_KEY_PROFILE_TEMPERLEY_TKP_KK)
		tonic_vote(out->chroma, scores);
	if (favoured >= 0 && favoured < SS_KEY_PROFILE_KEYS)
		scores[favoured] += bonus;
	int order[SS_KEY_PROFILE_KEYS];
	for (int i = 0; i < SS_KEY_PROFILE_KEYS; i++)
		order[i] = i;
	/* Insertion sort, best first; equal scores keep index order, so the result is deterministic. */
	for (int i = 1; i < SS_KEY_PROFILE_KEYS; i++) {
		int v = order[i], j = i;
		while (j > 0 && scores[order[j - 1]] < scores[v]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
	leading_tone_rule(out->chroma, scores, order);
	if (profile == SS_KEY_PROFILE_TEMPERLEY_TKP_KK) {
		natural_minor_rule(out->chroma, corr, scores, order);
		dominant_tonic_rule(out->chroma, scores, order);
	}
	for (int i = 0; i < SS_KEY_CANDIDATES; i++) {
		out->top[i].key_index = order[i] % 12;
		out->top[i].mode = order[i] < 12 ? 1 : 0;
		out->top[i].score = corr[order[i]];
	}
	out->key_index = out->top[0].key_index;
	out->mode = out->top[0].mode;
	/* After the leading-tone rule the first may score a little below the second: the margin is the same near tie
	 * either way, and confidence stays low. After the dominant's tonic rule it may score up to KEY_TONIC_WINDOW below:
	 * the margin is then the distance the tonic's strength overruled. A favoured key's bonus counts in the margin
	 * (ranked as it was). */
	double margin = fabs(scores[order[0]] - scores[order[1]]);
	double tonal = (spread - gate) / KEY_TONAL_SPAN;
	if (tonal > 1.0)
		tonal = 1.0;
	/* Both are damped near the noise gate, so noise that just passes it reads as barely tonal. */
	double best = fmax(corr[order[0]], corr[order[1]]);
	out->tonal_strength = best > 0.0 ? tonal * best : 0.0;
	out->confidence = tonal * (1.0 - exp(-margin / KEY_MARGIN_SCALE));
	if (!(out->confidence > 0.0))
		out->confidence = 0.0;
	/* the mode's margin: over the best key of the other mode, wherever it ranks */
	size_t other = 1;
	while (other < SS_KEY_PROFILE_KEYS && (order[other] < 12) == (order[0] < 12))
		other++;
	assert(other < SS_KEY_PROFILE_KEYS); /* twelve keys of each mode */
	double mode_margin = fmax(margin, fabs(scores[order[0]] - scores[order[other]]));
	out->mode_confidence = fmax(out->confidence, tonal * (1.0 - exp(-mode_margin / KEY_MARGIN_SCALE)));
}

/* ss_key_analyze with explicit chroma parameters, keeping each frame's chroma in frames unless it is NULL. */
static int key_analyze_params(const float *x, size_t n, double sr, ss_key_profile_id profile,
			      const ss_chroma_params *cp, ss_key *out, ss_key_frames *frames, ss_error *err)
{
	if (profile == SS_KEY_PROFILE_DEFAULT)
		profile = KEY_DEFAULT_PROFILE;
	const char *name = ss_key_profile_name(profile);
	if (name == NULL)
		return ss_error_set(err, SS_ERR_INTERNAL, "unknown key profile %d", (int)profile);
	key_unknown(out, name, 0.0);
	if (!(sr >= 1000.0) || !isfinite(sr))
		return ss_error_set(err, SS_ERR_INTERNAL, "bad sample rate for key analysis");
	if (x == NULL || n == 0)
		return 0;

	key_run r;
	memset(&r, 0, sizeof r);
	double work_sr = sr > 1.2 * KEY_WORK_SR ? KEY_WORK_SR : sr;
	r.sr = work_sr;
	r.n_fft = pow2_at_least(0.6 * work_sr);
	r.hop = r.n_fft / 2;
	r.frames = frames;
	if (frames != NULL) {
		frames->profile = profile;
		frames->hop_s = (double)r.hop / work_sr;
	}
	r.cp = *cp;
	size_t half = r.n_fft / 2;
	size_t margin = (half + r.hop - 1) / r.hop;
	if (source_open(&r.src, x, n, sr, work_sr, (KEY_BLOCK_FRAMES + margin + 1) * r.hop + r.n_fft, err) != 0)
		return -1;
	int rc = 0;
	for (size_t t0 = 0;; t0 += KEY_BLOCK_FRAMES) {
		size_t t1 = t0 + KEY_BLOCK_FRAMES;
		/* Everything up to the last window of the block (or the end), and drop what no later block needs. */
		if (source_fill(&r.src, (t1 - 1) * r.hop + half, err) != 0) {
			rc = -1;
			break;
		}
		if (r.src.eof) {
			size_t total = r.src.base + r.src.len;
			size_t n_frames = total > 0 ? 1 + total / r.hop : 0;
			if (t1 > n_frames)
				t1 = n_frames;
		}
		if (t0 >= t1)
			break;
		if (key_block(&r, t0, t1, err) != 0) {
			rc = -1;
			break;
		}
		source_discard(&r.src, t1 >= margin ? (t1 - margin) * r.hop : 0);
	}
	ss_chroma_map_free(&r.map);
	source_close(&r.src);
	if (rc != 0)
		return -1;
	out->tuning_cents = r.tuning;
	if (frames != NULL)
		frames->tuning_cents = r.tuning;
	if (r.used_frames < KEY_MIN_FRAMES)
		return 0;
	key_decide(r.chroma, r.used_frames, profile, -1, 0.0, out);
	return 0;
}

int ss_key_analyze(const float *x, size_t n, double sr, ss_key_profile_id profile, ss_key *out, ss_error *err)
{
	ss_chroma_params cp;
	ss_chroma_params_default(&cp);
	return key_analyze_params(x, n, sr, profile, &cp, out, NULL, err);
}

int ss_key_analyze_frames(const float *x, size_t n, double sr, ss_key_profile_id profile, ss_key *out,
			  ss_key_frames *frames, ss_error *err)
{
	assert(frames != NULL);
	memset(frames, 0, sizeof *frames);
	ss_chroma_params cp;
	ss_chroma_params_default(&cp);
	return key_analyze_params(x, n, sr, profile, &cp, out, frames, err);
}

void ss_key_of_span(const ss_key_frames *f, double start, double end, const ss_key *whole, ss_key *out)
{
	key_unknown(out, ss_key_profile_name(f->profile), f->tuning_cents);
	if (f->n == 0 || !(f->hop_s > 0.0) || !(end > start))
		return;
	/* frames whose centre t * hop_s lies in [start, end) */
	double a = ceil(fmax(start, 0.0) / f->hop_s), b = ceil(end / f->hop_s);
	size_t t0 = a < (double)f->n ? (size_t)a : f->n, t1 = b < (double)f->n ? (size_t)b : f->n;
	double sum[12] = {0};
	size_t used = 0;
	for (size_t t = t0; t < t1; t++) {
		if (!f->sounding[t])
			continue;
		for (int i = 0; i < 12; i++)
			sum[i] += f->chroma[t * 12 + (size_t)i];
		used++;
	}
	/* a span of every frame is the whole signal, decided as it was */
	int favoured = whole != NULL && whole->key_index >= 0 && (t0 > 0 || t1 < f->n)
			       ? whole->key_index + (whole->mode == 1 ? 0 : 12)
			       : -1;
	if (used >= KEY_MIN_FRAMES)
		key_decide(sum, used, f->profile, favoured, KEY_SPAN_STAY, out);
}

void ss_key_frames_free(ss_key_frames *f)
{
	if (f == NULL)
		return;
	free(f->chroma);
	free(f->sounding);
	memset(f, 0, sizeof *f);
}
