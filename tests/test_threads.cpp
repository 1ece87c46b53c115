// Threads: products split over threads (autodiff/linear.hpp) give the values
// and gradients of the one-thread products, whichever side of the result is
// split and whichever way the gradient lands (a parameter's, a node's first
// contribution, a node's later one); set_num_threads turns Eigen's own
// product threading off.
#include <array>
#include <vector>

#include "helpers.hpp"

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;

namespace {

// Restores latent's and Eigen's thread settings when a test ends.
class ThreadSettings {
 public:
  ThreadSettings() : latent_(latent::detail::requested_threads()), eigen_(Eigen::nbThreads()) {}
  ~ThreadSettings() {
    latent::detail::requested_threads() = latent_;
    Eigen::setNbThreads(eigen_);
  }
  ThreadSettings(const ThreadSettings&) = delete;
  ThreadSettings& operator=(const ThreadSettings&) = delete;

 private:
  int latent_, eigen_;
};

struct Results {
  Matrix<float> y, dw, db, dx;
};

// y = relu(W x + b) for a layer large enough to be split, then the gradients
// of sum(y .* y + y) with x used twice (so dX gets a first and a second contribution).
Results dense_step(Index in, Index out, Index batch, int threads) {
  latent::set_num_threads(threads);
  latent::Rng rng(5);
  latent::Dense<float, latent::ReLU> layer(in, out, rng);
  Matrix<float> x_value(in, batch);
  rng.fill_uniform(x_value, -1, 1);
  Tape<float> tape;
  Var<float> x = tape.variable(x_value);
  Var<float> y = layer(x);
  Var<float> y2 = layer(x);
  tape.backward(latent::sum(latent::mul(y, y2) + y));
  return {y.value(), layer.weight.grad, layer.bias.grad, x.grad()};
}

void require_close(const Matrix<float>& a, const Matrix<float>& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const float scale = std::max(1.0f, b.cwiseAbs().maxCoeff());
  REQUIRE((a - b).cwiseAbs().maxCoeff() <= 1e-5f * scale);
}

}  // namespace

TEST_CASE("threads: split products equal one-thread products", "[threads]") {
  const ThreadSettings restore;
  // {in, out, batch}: results taller than wide (split by rows) and wider than tall (by columns).
  for (const auto& shape : {std::array<Index, 3>{784, 400, 128}, std::array<Index, 3>{300, 40, 900}}) {
    CAPTURE(shape[0], shape[1], shape[2]);
    const Results one = dense_step(shape[0], shape[1], shape[2], 1);
    for (int threads : {2, 3}) {
      CAPTURE(threads);
      const Results split = dense_step(shape[0], shape[1], shape[2], threads);
      SECTION("forward") { require_close(split.y, one.y); }
      SECTION("weight gradient (a parameter's: adds)") { require_close(split.dw, one.dw); }
      SECTION("bias gradient") { require_close(split.db, one.db); }
      SECTION("input gradient (a node's: assigns, then adds)") { require_close(split.dx, one.dx); }
    }
  }
}

TEST_CASE("threads: matmul splits both operands' gradients", "[threads]") {
  const ThreadSettings restore;
  latent::Rng rng(9);
  Matrix<float> a_value(500, 300), b_value(300, 200);
  rng.fill_uniform(a_value, -1, 1);
  rng.fill_uniform(b_value, -1, 1);
  std::vector<Matrix<float>> values, grads_a, grads_b;
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    Tape<float> tape;
    Var<float> a = tape.variable(a_value);
    Var<float> b = tape.variable(b_value);
    Var<float> c = latent::matmul(a, b);
    tape.backward(latent::sum(latent::square(c)));
    values.push_back(c.value());
    grads_a.push_back(a.grad());
    grads_b.push_back(b.grad());
  }
  require_close(values[1], values[0]);
  require_close(grads_a[1], grads_a[0]);
  require_close(grads_b[1], grads_b[0]);
}

TEST_CASE("threads: set_num_threads sets latent's count and turns Eigen's product threading off", "[threads]") {
  const ThreadSettings restore;
  latent::set_num_threads(3);
  REQUIRE(latent::num_threads() == 3);
  REQUIRE(Eigen::nbThreads() == 1);
  latent::set_num_threads(0);
  REQUIRE(latent::num_threads() == 1);
}
