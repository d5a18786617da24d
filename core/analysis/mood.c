#include "core/analysis/mood.h"

#include <math.h>

/* Linear map of x from [lo, hi] to [0, 1], clamped; NaN becomes `dflt`. */
static double unit(double x, double lo, double hi, double dflt)
{
	if (isnan(x))
		return dflt;
	double u = (x - lo) / (hi - lo);
	return u < 0.0 ? 0.0 : u > 1.0 ? 1.0 : u;
}

static double clamp01(double x)
{
	if (isnan(x))
		return 0.0;
	return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

static double sounding(const ss_mood_inputs *in)
{
	return 1.0 - clamp01(in->silence_ratio);
}

double ss_mood_energy(const ss_mood_inputs *in)
{
	double e = 0.40 * unit(in->loudness, -30.0, -6.0, 0.0) + 0.20 * unit(in->onset_density, 0.5, 6.0, 0.0) +
		   0.15 * unit(in->centroid, 800.0, 3500.0, 0.0) + 0.10 * unit(in->flatness, 0.02, 0.35, 0.0) +
		   0.15 * unit(in->percussive, 0.2, 0.6, 0.0);
	return clamp01(e * sounding(in));
}

double ss_mood_danceability(const ss_mood_inputs *in)
{
	double t = 0.0;
	if (isfinite(in->bpm) && in->bpm > 0) {
		double z = log2(in->bpm / 118.0) / 0.5;
		t = exp(-0.5 * z * z);
	}
	double d = 0.30 * t + 0.35 * clamp01(in->pulse_clarity) + 0.20 * clamp01(in->beat_regularity) +
		   0.15 * unit(in->percussive, 0.2, 0.6, 0.0);
	return clamp01(d * sounding(in));
}

double ss_mood_acousticness(const ss_mood_inputs *in)
{
	double a = 0.25 * (1.0 - unit(in->centroid, 1000.0, 3500.0, 0.5)) +
		   0.20 * (1.0 - unit(in->flatness, 0.02, 0.30, 0.5)) +
		   0.15 * (1.0 - unit(in->loudness, -24.0, -8.0, 0.5)) +
		   0.20 * unit(in->loudness_range, 3.0, 15.0, 0.5) + 0.20 * unit(in->harmonic, 0.4, 0.85, 0.5);
	return clamp01(a);
}

double ss_mood_valence(const ss_mood_inputs *in, double energy)
{
	double m = in->mode == 1 ? 1.0 : in->mode == 0 ? -1.0 : 0.0;
	double kc = isnan(in->key_confidence) ? 0.0 : in->key_confidence;
	double w = 0.5 + 2.0 * kc;
	m *= w > 1.0 ? 1.0 : w;
	double t = 0.0;
	if (isfinite(in->bpm) && in->bpm > 0) {
		t = (in->bpm - 110.0) / 50.0;
		t = t < -1.0 ? -1.0 : t > 1.0 ? 1.0 : t;
	}
	double e = isnan(energy) ? 0.5 : energy;
	double v = 0.5 + 0.15 * m + 0.10 * t + 0.30 * (e - 0.5) + 0.10 * (unit(in->centroid, 800.0, 3500.0, 0.5) - 0.5);
	return clamp01(v);
}

const char *ss_mood_word(double valence, double energy)
{
	if (isnan(valence) || isnan(energy))
		return "unknown";
	if (fabs(valence - 0.5) < 0.08 && fabs(energy - 0.5) < 0.08)
		return "neutral";
	if (energy >= 0.5) {
		if (valence >= 0.5)
			return energy >= 0.75 ? "energetic" : "happy";
		return "tense";
	}
	return valence >= 0.5 ? "calm" : "sad";
}
