#include "roofline.hpp"

#include "workloads.hpp"

#include <dlfcn.h>

#include <vector>

namespace ebm::bench {
namespace {

constexpr long kRows = 4096, kDepth = 256, kCols = 256;

// cblas_sgemm(CblasRowMajor = 101, CblasNoTrans = 111, ...).
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
using SetThreads = void (*)(int);

}  // namespace

ProductRate measure_product_rate(int threads, double budget_s) {
  const double flops = 2.0 * kRows * kDepth * kCols;
  const std::string shape = std::to_string(kRows) + "x" + std::to_string(kDepth) + "x" + std::to_string(kCols);
  // Loaded for the measurement and kept (unloading a threaded BLAS can leave its threads behind).
  void* blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  const auto sgemm = blas ? reinterpret_cast<Sgemm>(dlsym(blas, "cblas_sgemm")) : nullptr;
  if (sgemm) {
    if (const auto set_threads = reinterpret_cast<SetThreads>(dlsym(blas, "openblas_set_num_threads"))) set_threads(threads);
    std::vector<float> a(kRows * kDepth, 0.5f), b(kDepth * kCols, 0.25f), c(kRows * kCols);
    Workload product;
    product.step = [&] {
      sgemm(101, 111, 111, int(kRows), int(kCols), int(kDepth), 1.0f, a.data(), int(kDepth), b.data(), int(kCols), 0.0f,
            c.data(), int(kCols));
    };
    return {flops / (time_workload(product, budget_s, 5, 1000).median_ms * 1e6), "OpenBLAS sgemm", shape};
  }
  const Workload product = make_engine_workload("matmul", {kRows, 2, kCols});
  return {flops / (time_workload(product, budget_s, 5, 1000).median_ms * 1e6), "ebm matmul", shape};
}

}  // namespace ebm::bench
