// Threads: latent's pool runs every share of a task once, also when called
// from inside a task or from several threads at once; products split over
// threads (autodiff/gemm.hpp) give the values and gradients of the one-thread
// products, whichever side of the result is split and whichever way the
// gradient lands (a parameter's, a node's first contribution, a node's later
// one), also when both operands' gradients are computed at once or land in
// one place; a loss summed over threads (bce_with_logits) and optimizer
// updates split over threads give the one-thread results;
// set_num_threads turns Eigen's own product threading off; the default count
// comes from LATENT_NUM_THREADS or the machine's cores.
#include <array>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"

namespace test_threads {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using test::ThreadSettings;

namespace {

// How many times each share of an n-share task ran.
std::vector<int> share_counts(int shares) {
  std::vector<std::atomic<int>> counts(static_cast<std::size_t>(shares));
  latent::run_shares(shares, [&](int share) { counts[static_cast<std::size_t>(share)].fetch_add(1); });
  return std::vector<int>(counts.begin(), counts.end());
}

struct Results {
  Matrix<float> y, dw, db, dx;
};

// y = act(W x + b) for a layer large enough to be split, then the gradients
// of sum(y .* y + y) with x used twice (so dX gets a first and a second contribution).
template <class Act = latent::ReLU>
Results dense_step(Index in, Index out, Index batch, int threads) {
  latent::set_num_threads(threads);
  latent::Rng rng(5);
  latent::Dense<float, Act> layer(in, out, rng);
  Matrix<float> x_value(in, batch);
  rng.fill_uniform(x_value, -1, 1);
  Tape<float> tape;
  Var<float> x = tape.variable(x_value);
  Var<float> y = layer(x);
  Var<float> y2 = layer(x);
  tape.backward(latent::sum(latent::mul(y, y2) + y));
  return {y.value(), layer.weight.grad, layer.bias.grad, x.grad()};
}

Results affine_step(int threads) { return dense_step<latent::Identity>(784, 400, 128, threads); }

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

TEST_CASE("threads: a split layer without activation (affine) equals the one-thread layer", "[threads]") {
  const ThreadSettings restore;
  const Results one = affine_step(1), split = affine_step(2);
  require_close(split.y, one.y);
  require_close(split.dw, one.dw);
  require_close(split.db, one.db);
  require_close(split.dx, one.dx);
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

TEST_CASE("threads: a product of a matrix with itself adds both gradients into one", "[threads]") {
  // Both operands' gradients land in the same place: on two threads they must not be written at once.
  const ThreadSettings restore;
  latent::Rng rng(10);
  Matrix<float> a_value(300, 300);
  rng.fill_uniform(a_value, -1, 1);
  latent::Parameter<float> p(a_value);
  std::vector<Matrix<float>> by_node, by_parameter;
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    Tape<float> tape;
    Var<float> a = tape.variable(a_value);
    tape.backward(latent::sum(latent::square(latent::matmul(a, a))));
    by_node.push_back(a.grad());
    p.zero_grad();
    Tape<float> leaves;  // two leaves of one parameter
    leaves.backward(latent::sum(latent::square(latent::matmul(leaves.leaf(p), leaves.leaf(p)))));
    by_parameter.push_back(p.grad);
  }
  require_close(by_node[1], by_node[0]);
  require_close(by_parameter[1], by_parameter[0]);
  require_close(by_parameter[0], by_node[0]);
}

TEST_CASE("threads: set_num_threads sets latent's count and turns Eigen's product threading off", "[threads]") {
  const ThreadSettings restore;
  latent::set_num_threads(3);
  REQUIRE(latent::num_threads() == 3);
  REQUIRE(Eigen::nbThreads() == 1);
  latent::set_num_threads(0);
  REQUIRE(latent::num_threads() == 1);
}

TEST_CASE("threads: the default is LATENT_NUM_THREADS, else the machine's cores", "[threads]") {
  const char* saved = std::getenv("LATENT_NUM_THREADS");
  const std::string previous = saved ? saved : "";
  ::setenv("LATENT_NUM_THREADS", "3", 1);
  REQUIRE(latent::default_num_threads() == 3);
  for (const char* bad : {"0", "-2", "two", "2x"}) {
    ::setenv("LATENT_NUM_THREADS", bad, 1);
    REQUIRE_THROWS_WITH(latent::default_num_threads(), Catch::Contains("LATENT_NUM_THREADS") && Catch::Contains(bad));
  }
  ::unsetenv("LATENT_NUM_THREADS");
  const unsigned cores = std::thread::hardware_concurrency();
  REQUIRE(latent::default_num_threads() == (cores > 0 ? static_cast<int>(cores) : 1));
  if (saved) ::setenv("LATENT_NUM_THREADS", previous.c_str(), 1);
}

TEST_CASE("threads: the pool runs every share once", "[threads]") {
  const ThreadSettings restore;
  for (int threads : {1, 2, 4}) {
    latent::set_num_threads(threads);
    for (int shares : {0, 1, 2, 3, 7, 64}) {
      CAPTURE(threads, shares);
      // Many jobs in a row: workers that sleep, spin or lag behind must neither skip nor repeat a share.
      for (int job = 0; job < 200; ++job) REQUIRE(share_counts(shares) == std::vector<int>(std::size_t(shares), 1));
    }
  }
}

TEST_CASE("threads: a task that splits work itself, and callers on several threads, run every share once", "[threads]") {
  const ThreadSettings restore;
  latent::set_num_threads(2);
  SECTION("nested: the inner shares run on the thread of the outer share") {
    std::vector<std::atomic<int>> counts(12);
    latent::run_shares(3, [&](int outer) {
      latent::run_shares(4, [&](int inner) { counts[std::size_t(outer * 4 + inner)].fetch_add(1); });
    });
    REQUIRE(std::vector<int>(counts.begin(), counts.end()) == std::vector<int>(12, 1));
  }
  SECTION("concurrent callers") {
    std::vector<std::vector<int>> seen(3);
    std::vector<std::thread> callers;
    for (std::size_t c = 0; c < seen.size(); ++c)
      callers.emplace_back([&, c] {
        for (int job = 0; job < 300; ++job) {
          const std::vector<int> counts = share_counts(5);
          if (counts != std::vector<int>(5, 1)) seen[c] = counts;
        }
      });
    for (std::thread& caller : callers) caller.join();
    for (const std::vector<int>& counts : seen) REQUIRE(counts.empty());
  }
}

TEST_CASE("threads: optimizer updates split over threads equal the one-thread update", "[threads]") {
  const ThreadSettings restore;
  // 3 parameters, 100k elements in all: the shares' boundaries fall inside parameters.
  const auto run = [](int threads, auto optimizer) {
    latent::set_num_threads(threads);
    latent::Rng rng(21);
    std::vector<latent::Parameter<float>> params;
    for (const auto& shape : {std::array<Index, 2>{300, 200}, std::array<Index, 2>{37, 1}, std::array<Index, 2>{199, 201}}) {
      params.emplace_back(Matrix<float>(shape[0], shape[1]));
      rng.fill_uniform(params.back().value, -1, 1);
    }
    latent::ParameterList<float> list;
    for (auto& p : params) list.push_back(&p);
    for (int step = 0; step < 3; ++step) {
      for (auto& p : params) {
        p.grad.resize(p.value.rows(), p.value.cols());
        rng.fill_uniform(p.grad, -1, 1);
      }
      optimizer.step(list);
    }
    std::vector<Matrix<float>> values;
    for (auto& p : params) values.push_back(p.value);
    return values;
  };
  // Equal up to rounding: where a piece starts decides which elements take
  // Eigen's vectorized path (with fused multiply-adds) and which its scalar one.
  const auto require_all_close = [](const std::vector<Matrix<float>>& split, const std::vector<Matrix<float>>& one) {
    REQUIRE(split.size() == one.size());
    for (std::size_t i = 0; i < one.size(); ++i) require_close(split[i], one[i]);
  };
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    require_all_close(run(threads, latent::Adam<float>(1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f)),
                      run(1, latent::Adam<float>(1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f)));
    require_all_close(run(threads, latent::Sgd<float>(1e-2f, 0.9f, true)), run(1, latent::Sgd<float>(1e-2f, 0.9f, true)));
  }
  // And the update is the one written in the optimizer: Adam's first step moves every weight by lr.
  latent::set_num_threads(2);
  latent::Parameter<float> p(Matrix<float>::Zero(400, 200));
  p.grad = Matrix<float>::Constant(400, 200, 0.5f);
  p.grad(7, 9) = -2.0f;
  latent::Adam<float>(1e-3f).step({&p});
  REQUIRE(p.value(7, 9) == Approx(1e-3f));
  REQUIRE(p.value(399, 199) == Approx(-1e-3f));
  REQUIRE((p.value.array().abs() - 1e-3f).abs().maxCoeff() < 1e-7f);
}

TEST_CASE("threads: bce_with_logits summed over threads equals the one-thread loss", "[threads]") {
  const ThreadSettings restore;
  const Matrix<float> logits = (test::random_matrix(784, 128, 31) * 8).cast<float>();
  const Matrix<float> targets = ((test::random_matrix(784, 128, 32).array() + 1) / 2).matrix().cast<float>();
  std::vector<float> losses;
  std::vector<Matrix<float>> grads;
  for (int threads : {1, 2, 3}) {
    latent::set_num_threads(threads);
    Tape<float> tape;
    Var<float> l = tape.variable(logits);
    Var<float> loss = latent::bce_with_logits(l, tape.constant(targets));
    tape.backward(loss);
    losses.push_back(loss.item());
    grads.push_back(l.grad());
  }
  for (std::size_t i = 1; i < losses.size(); ++i) {
    CAPTURE(i);
    REQUIRE(losses[i] == Approx(losses[0]).epsilon(1e-6));
    require_close(grads[i], grads[0]);
  }
}

}  // namespace test_threads
