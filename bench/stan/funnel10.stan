// Neal's funnel, 10-D, centred: v ~ N(0, 3^2), x_i | v ~ N(0, exp(v/2)^2), i=1..9.
// E = v^2/(2*3^2) + 0.5 exp(-v) sum x_i^2 + 9 v / 2;  log density = -E.
parameters {
  real v;
  vector[9] x;
}
model {
  target += -(square(v) / 18 + 0.5 * exp(-v) * dot_self(x) + 4.5 * v);
}
