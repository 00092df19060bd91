// Rosenbrock banana: E(x) = (a - x1)^2 + b (x2 - x1^2)^2, a = 1, b = 5.
// log density = -E(x)  (x1 ~ N(a, 1/2), x2 | x1 ~ N(x1^2, 1/(2b)); variances).
parameters {
  vector[2] x;
}
model {
  real a = 1;
  real b = 5;
  target += -(square(a - x[1]) + b * square(x[2] - square(x[1])));
}
