// The layers. Each is a few ad ops; their derivatives of every order come from the ops' own
// backward rules. Images are N x (H W C) rows, channels last (ad/patches.hpp).
#include "layer.hpp"

#include <ebm/ad/ops.hpp>
#include <ebm/ad/patches.hpp>
#include <ebm/core/error.hpp>

namespace ebm::nn::detail {
namespace {

using ad::Var;

template <class T>
class Linear final : public Layer<T> {
 public:
  Linear(const Fields& f, Shape in, Builder<T>& b) {
    out_ = f.integer("out", -1, 1);
    b.begin_layer();
    w_ = b.add("weight", out_, in.size(), {.fan_in = in.size()}, true);
    b_ = b.add("bias", 1, out_, {.fan_in = in.size(), .vector = true});
  }
  Shape output_shape() const override { return {1, 1, out_}; }
  Var<T> forward(Var<T> x, const ForwardContext<T>& c) const override { return ad::linear(x, c.params[w_], c.params[b_]); }
  bool dense_linear(std::size_t& w, std::size_t& b) const override {
    w = w_;
    b = b_;
    return true;
  }

 private:
  Index out_;
  std::size_t w_, b_;
};

template <class T>
class Activation final : public Layer<T> {
 public:
  Activation(Shape in, ad::Fn fn, double param) : in_(in), fn_(fn), param_(param) {}
  Shape output_shape() const override { return in_; }
  Var<T> forward(Var<T> x, const ForwardContext<T>&) const override { return ad::apply(fn_, x, 0, T(param_)); }
  std::string second_order_issue() const override {
    return fn_ == ad::Fn::Relu ? "relu, whose second derivative is zero almost everywhere" : "";
  }
  bool activation(ad::Fn& fn, double& param) const override {
    fn = fn_;
    param = param_;
    return true;
  }

 private:
  Shape in_;
  ad::Fn fn_;
  double param_;
};

template <class T>
class Conv2d final : public Layer<T> {
 public:
  Conv2d(const Fields& f, Shape in, Builder<T>& b) {
    const Index out = f.integer("out", -1, 1), k = f.integer("kernel", -1, 1);
    g_ = {.height = in.height, .width = in.width, .channels = in.channels, .kernel_h = k, .kernel_w = k,
          .stride = f.integer("stride", 1, 1), .padding = f.integer("padding", 0, 0),
          .dilation = f.integer("dilation", 1, 1)};
    try {
      g_.validate("conv2d");
    } catch (const InvalidArgument& e) {
      f.fail(std::string(e.what()) + " (input " + in.str() + ")");
    }
    out_ = {g_.out_height(), g_.out_width(), out};
    b.begin_layer();
    w_ = b.add("weight", out, g_.patch_size(), {.fan_in = g_.patch_size()}, true);
    b_ = b.add("bias", 1, out, {.fan_in = g_.patch_size(), .vector = true});
  }
  Shape output_shape() const override { return out_; }
  Var<T> forward(Var<T> x, const ForwardContext<T>& c) const override {
    const Var<T> y = ad::linear(ad::unfold(x, g_), c.params[w_], c.params[b_]);  // (N Ho Wo) x Cout
    return ad::reshape(y, x.rows(), out_.size());
  }

 private:
  ad::PatchGeometry g_;
  Shape out_;
  std::size_t w_, b_;
};

template <class T>
class AvgPool final : public Layer<T> {
 public:
  AvgPool(const Fields& f, Shape in) {
    const Index k = f.integer("kernel", 2, 1);
    if (in.height % k != 0 || in.width % k != 0)
      f.fail("kernel " + std::to_string(k) + " does not divide the input " + in.str());
    g_ = {.height = in.height, .width = in.width, .channels = in.channels, .kernel_h = k, .kernel_w = k, .stride = k};
    out_ = {in.height / k, in.width / k, in.channels};
  }
  Shape output_shape() const override { return out_; }
  Var<T> forward(Var<T> x, const ForwardContext<T>&) const override {
    // Unfolded rows hold a window's taps one after another, C channels each: sum groups of taps.
    const Index taps = g_.kernel_h * g_.kernel_w, n = x.rows();
    const Var<T> per_tap = ad::reshape(ad::unfold(x, g_), n * out_.height * out_.width * taps, out_.channels);
    return ad::reshape(ad::segment_sum_rows(per_tap, taps) * (T(1) / T(taps)), n, out_.size());
  }

 private:
  ad::PatchGeometry g_;
  Shape out_;
};

template <class T>
class Upsample final : public Layer<T> {
 public:
  Upsample(const Fields& f, Shape in) : in_(in) {
    k_ = f.integer("factor", 2, 1);
    g_ = {.height = in.height * k_, .width = in.width * k_, .channels = in.channels, .kernel_h = k_, .kernel_w = k_,
          .stride = k_};
  }
  Shape output_shape() const override { return {in_.height * k_, in_.width * k_, in_.channels}; }
  Var<T> forward(Var<T> x, const ForwardContext<T>&) const override {
    // Nearest neighbour: each pixel repeated over a k x k window, placed by fold (the adjoint of
    // the non-overlapping unfold, here a permutation).
    const Index n = x.rows(), pixels = in_.height * in_.width;
    const Var<T> repeated = ad::repeat_rows(ad::reshape(x, n * pixels, in_.channels), k_ * k_);
    return ad::fold(ad::reshape(repeated, n * pixels, k_ * k_ * in_.channels), g_);
  }

 private:
  Shape in_;
  Index k_;
  ad::PatchGeometry g_;
};

// Per sample and group: mean and (biased) variance over the group's channels and all pixels,
// then a per-channel scale and shift, as torch.nn.GroupNorm.
template <class T>
class GroupNorm final : public Layer<T> {
 public:
  GroupNorm(const Fields& f, Shape in, Builder<T>& b) : in_(in) {
    groups_ = f.integer("groups", -1, 1);
    eps_ = f.number("eps", 1e-5);
    if (!(eps_ > 0)) f.fail("eps must be > 0, got " + std::to_string(eps_));
    if (in.channels % groups_ != 0)
      f.fail("groups " + std::to_string(groups_) + " does not divide the " + std::to_string(in.channels) + " channels");
    b.begin_layer();
    w_ = b.add("weight", 1, in.channels, {.constant = 1, .vector = true});
    b_ = b.add("bias", 1, in.channels, {.constant = 0, .vector = true});
  }
  Shape output_shape() const override { return in_; }
  Var<T> forward(Var<T> x, const ForwardContext<T>& c) const override {
    const Index n = x.rows(), pixels = in_.height * in_.width, g = groups_, cg = in_.channels / g;
    const T inv_count = T(1) / T(pixels * cg);
    // Rows (sample, pixel, group) of cg channels; group sums collect a sample's pixels.
    auto group_mean = [&](Var<T> v) {  // (N P G) x cg -> N x G
      return ad::segment_sum_rows(ad::reshape(ad::row_sums(v), n * pixels, g), pixels) * inv_count;
    };
    auto spread = [&](Var<T> v) {  // N x G -> (N P G) x 1
      return ad::reshape(ad::repeat_rows(v, pixels), n * pixels * g, 1);
    };
    const Var<T> xr = ad::reshape(x, n * pixels * g, cg);
    const Var<T> centred = xr - spread(group_mean(xr));
    const Var<T> inv_sd = ad::pow(group_mean(ad::square(centred)) + T(eps_), T(-0.5));
    const Var<T> normed = ad::reshape(centred * spread(inv_sd), n * pixels, in_.channels);
    return ad::reshape(normed * c.params[w_] + c.params[b_], n, in_.size());
  }

 private:
  Shape in_;
  Index groups_;
  double eps_;
  std::size_t w_, b_;
};

// FiLM: h * (1 + gamma) + beta per channel, [gamma beta] = W e + b from the conditioning
// embedding e.
template <class T>
class Film final : public Layer<T> {
 public:
  Film(const Fields& f, Shape in, Builder<T>& b) : in_(in) {
    if (b.embedding_width == 0) f.fail("film needs the network's \"condition\" (a noise embedding)");
    b.begin_layer();
    w_ = b.add("weight", 2 * in.channels, b.embedding_width, {.fan_in = b.embedding_width}, true);
    b_ = b.add("bias", 1, 2 * in.channels, {.fan_in = b.embedding_width, .vector = true});
  }
  Shape output_shape() const override { return in_; }
  Var<T> forward(Var<T> x, const ForwardContext<T>& c) const override {
    const Index n = x.rows(), pixels = in_.height * in_.width, ch = in_.channels;
    const Var<T> film = ad::linear(c.embedding, c.params[w_], c.params[b_]);  // N x 2C
    const Var<T> scale = ad::repeat_rows(ad::slice_cols(film, 0, ch) + T(1), pixels);
    const Var<T> shift = ad::repeat_rows(ad::slice_cols(film, ch, ch), pixels);
    return ad::reshape(ad::reshape(x, n * pixels, ch) * scale + shift, n, in_.size());
  }

 private:
  Shape in_;
  std::size_t w_, b_;
};

// x + body(x); the body must keep the shape.
template <class T>
class Residual final : public Layer<T> {
 public:
  Residual(const Fields& f, Shape in, Builder<T>& b) : in_(in) {
    const std::string prefix = b.prefix;
    body_ = build_sequence<T>(f, "body", in, b, prefix + "body.");
    b.prefix = prefix;
    const Shape out = body_.empty() ? in : body_.back()->output_shape();
    if (out.size() != in.size() || out.channels != in.channels)
      f.fail("the body maps " + in.str() + " to " + out.str() + "; a residual block must keep the shape");
  }
  Shape output_shape() const override { return in_; }
  Var<T> forward(Var<T> x, const ForwardContext<T>& c) const override {
    Var<T> h = x;
    for (const auto& l : body_) h = l->forward(h, c);
    return x + h;
  }
  std::string second_order_issue() const override {
    for (const auto& l : body_)
      if (auto issue = l->second_order_issue(); !issue.empty()) return issue;
    return {};
  }

 private:
  Shape in_;
  std::vector<std::unique_ptr<Layer<T>>> body_;
};

template <class T>
class Flatten final : public Layer<T> {
 public:
  Flatten(const Fields&, Shape in) : size_(in.size()) {}
  Shape output_shape() const override { return {1, 1, size_}; }
  Var<T> forward(Var<T> x, const ForwardContext<T>&) const override { return x; }

 private:
  Index size_;
};

template <template <class> class L>
LayerSpec spec_with_params(const char* type, std::vector<std::string> fields) {
  return {type, std::move(fields),
          [](const Fields& f, Shape in, Builder<float>& b) -> std::unique_ptr<Layer<float>> { return std::make_unique<L<float>>(f, in, b); },
          [](const Fields& f, Shape in, Builder<double>& b) -> std::unique_ptr<Layer<double>> { return std::make_unique<L<double>>(f, in, b); }};
}

template <template <class> class L>
LayerSpec spec_without_params(const char* type, std::vector<std::string> fields) {
  return {type, std::move(fields),
          [](const Fields& f, Shape in, Builder<float>&) -> std::unique_ptr<Layer<float>> { return std::make_unique<L<float>>(f, in); },
          [](const Fields& f, Shape in, Builder<double>&) -> std::unique_ptr<Layer<double>> { return std::make_unique<L<double>>(f, in); }};
}

LayerSpec activation_spec(const char* type) {
  auto make = [type]<class T>(const Fields& f, Shape in) -> std::unique_ptr<Layer<T>> {
    const ad::Fn fn = parse_fn(f, type);
    const double param = fn == ad::Fn::Elu ? f.number("alpha", 1.0) : 0.0;
    if (fn != ad::Fn::Elu && f.has("alpha")) f.fail("only elu takes \"alpha\"");
    return std::make_unique<Activation<T>>(in, fn, param);
  };
  return {type, {"alpha"},
          [make](const Fields& f, Shape in, Builder<float>&) { return make.template operator()<float>(f, in); },
          [make](const Fields& f, Shape in, Builder<double>&) { return make.template operator()<double>(f, in); }};
}

}  // namespace

const std::vector<LayerSpec>& layer_specs() {
  static const std::vector<LayerSpec> specs = [] {
    std::vector<LayerSpec> s = {
        spec_with_params<Linear>("linear", {"out"}),
        spec_with_params<Conv2d>("conv2d", {"out", "kernel", "stride", "padding", "dilation"}),
        spec_without_params<AvgPool>("avg_pool", {"kernel"}),
        spec_without_params<Upsample>("upsample", {"factor"}),
        spec_with_params<GroupNorm>("group_norm", {"groups", "eps"}),
        spec_with_params<Film>("film", {}),
        spec_with_params<Residual>("residual", {"body"}),
        spec_without_params<Flatten>("flatten", {}),
    };
    for (const char* fn : {"softplus", "silu", "tanh", "gelu", "elu", "relu", "sigmoid"}) s.push_back(activation_spec(fn));
    return s;
  }();
  return specs;
}

}  // namespace ebm::nn::detail
