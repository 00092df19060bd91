// Anisotropic Gaussian: E(x) = 0.5 sum_i x_i^2 / s_i^2, s_i = 10^((i-1)/99).
// Standard deviations 1..10, variances 1..100 (condition number 100).
transformed data {
  vector[100] s;
  for (i in 1:100) s[i] = pow(10, (i - 1) / 99.0);
}
parameters {
  vector[100] x;
}
model {
  target += -0.5 * dot_self(x ./ s);
}
