// The README's library example: the score of an MLP energy and a gradient of a gradient.
#include <ebm/ad/ops.hpp>
#include <ebm/energy/mlp.hpp>

#include <iostream>

int main() {
  ebm::Mlp<double> mlp({.widths = {2, 64, 64, 1}, .activation = ebm::Activation::Softplus});
  ebm::ad::Tape<double> tape;
  ebm::MatD x = ebm::MatD::Random(100, 2);  // a batch: N x D, one point per row
  auto params = mlp.bind(tape, /*requires_grad=*/true);
  auto xv = tape.variable(x);
  auto energy = mlp.energy(xv, params);  // N x 1
  auto score = tape.grad(ebm::ad::sum(energy), {xv}, {.create_graph = true})[0] * -1.0;  // N x D
  auto loss = ebm::ad::mean(ebm::ad::square(score));
  auto grads = tape.grad(loss, params);  // d loss / d weights: gradients of gradients
  std::cout << "mean squared score " << loss.item() << ", |d loss / d W0| " << grads[0].value().norm() << "\n";
  return 0;
}
