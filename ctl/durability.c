/* durability.c: the Markov estimate of durability.h.
 *
 * Solve for T_i, the expected time to loss from state i (T_{m+1} = 0):
 *   T_0 = 1/a_0 + T_1,  a_i = (n - i) lambda
 *   T_i = 1/(a_i + mu) + a_i/(a_i + mu) T_{i+1} + mu/(a_i + mu) T_0
 * Writing T_i = alpha_i + beta_i T_0 from i = m down to 1 gives
 *   T_0 = (1/a_0 + alpha_1) / (1 - beta_1),
 * and 1 - beta_i = a_i (1 - beta_{i+1}) / (a_i + mu) is computed as that
 * product directly: 1 - beta_1 is far below the double epsilon for
 * realistic rates, and subtracting would give 0. */
#include "durability.h"

#include <math.h>

double dur_mttdl_hours(unsigned k, unsigned m, double afr, double mttr_h)
{
	unsigned n = k + m;
	double lambda, mu, alpha = 0.0, gamma = 1.0; /* gamma_i = 1 - beta_i */

	if (k < 1 || n > 255 || !(afr > 0.0 && afr < 1.0) || !(mttr_h > 0.0)) {
		return -1.0;
	}
	lambda = -log1p(-afr) / DUR_HOURS_PER_YEAR;
	mu = 1.0 / mttr_h;
	for (unsigned i = m; i >= 1; i--) {
		double a = (double)(n - i) * lambda;

		alpha = (1.0 + a * alpha) / (a + mu);
		gamma = a * gamma / (a + mu);
	}
	return (1.0 / ((double)n * lambda) + alpha) / gamma;
}

double dur_annual_loss(unsigned k, unsigned m, double afr, double mttr_h)
{
	double t = dur_mttdl_hours(k, m, afr, mttr_h);

	if (t < 0.0) {
		return -1.0;
	}
	return -expm1(-DUR_HOURS_PER_YEAR / t);
}

unsigned dur_zone_tolerance(unsigned k, unsigned m, unsigned zones)
{
	unsigned n = k + m, per;

	if (zones == 0 || n == 0) {
		return 0;
	}
	per = (n + zones - 1) / zones;
	return m / per;
}
