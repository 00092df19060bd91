// Bayesian logistic regression, N(0, 1) prior on all 31 coefficients.
// E = 0.5 (alpha^2 + sum beta^2) - sum_n [y_n eta_n - log1p_exp(eta_n)],
// eta_n = alpha + x_n . beta;  log density = -E.
data {
  int<lower=0> N;
  int<lower=0> K;
  matrix[N, K] X;
  vector[N] y;
}
parameters {
  real alpha;
  vector[K] beta;
}
model {
  vector[N] eta = alpha + X * beta;
  target += -0.5 * (square(alpha) + dot_self(beta));
  target += dot_product(y, eta) - sum(log1p_exp(eta));
}
