#pragma once
// The machine's matrix-product rate, measured in the same run as the workloads it is set
// against (`ebm bench --roofline`): so that "how far from the limit" is a ratio that holds on
// any machine, however noisy.
#include <string>

namespace ebm::bench {

struct ProductRate {
  double gflops = 0;   // 2 m n k / median time
  std::string source;  // "OpenBLAS sgemm" or "ebm matmul"
  std::string shape;   // "4096x256x256"
};

/// The float32 rate of a 4096 x 256 by 256 x 256 product on `threads` threads: OpenBLAS's
/// cblas_sgemm when libopenblas.so.0 can be loaded (Debian's libopenblas0, or a copy on
/// LD_LIBRARY_PATH), else ebm's own product. Median of repeated products over about budget_s.
ProductRate measure_product_rate(int threads, double budget_s);

}  // namespace ebm::bench
