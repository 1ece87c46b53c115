// one_hot: labels as one-hot columns, for conditional models.
#include <cstdint>
#include <vector>

#include "helpers.hpp"
#include <latent/data/one_hot.hpp>

namespace test_one_hot {

using latent::Matrix;

TEST_CASE("one_hot puts a 1 in the label's row of each column", "[data][one_hot]") {
  const std::vector<std::uint8_t> labels{2, 0, 3, 2};
  const Matrix<float> codes = latent::data::one_hot<float>(labels, 4);
  Matrix<float> expected(4, 4);
  expected << 0, 1, 0, 0,  //
      0, 0, 0, 0,          //
      1, 0, 0, 1,          //
      0, 0, 1, 0;
  REQUIRE(codes == expected);

  SECTION("fill_one_hot writes into a block of a larger matrix, any integer labels") {
    Matrix<double> m = Matrix<double>::Constant(5, 3, 7.0);
    latent::data::fill_one_hot(m.bottomRows(3), std::vector<int>{1, 2, 0});
    REQUIRE(m.topRows(2) == Matrix<double>::Constant(2, 3, 7.0));
    Matrix<double> bottom(3, 3);
    bottom << 0, 0, 1, 1, 0, 0, 0, 1, 0;
    REQUIRE(m.bottomRows(3) == bottom);
  }
}

TEST_CASE("one_hot refuses a label outside the classes and a destination of the wrong shape, writing nothing",
          "[data][one_hot]") {
  Matrix<float> m = Matrix<float>::Constant(3, 2, 5.0f);
  REQUIRE_THROWS_WITH(latent::data::fill_one_hot(m, std::vector<int>{1, 3}),
                      Catch::Contains("label 3") && Catch::Contains("example 1") && Catch::Contains("0..2"));
  REQUIRE_THROWS_WITH(latent::data::fill_one_hot(m, std::vector<int>{-1, 0}), Catch::Contains("label -1"));
  REQUIRE(m == Matrix<float>::Constant(3, 2, 5.0f));
  REQUIRE_THROWS_AS(latent::data::fill_one_hot(m, std::vector<int>{0, 1, 2}), latent::shape_error);
  REQUIRE_THROWS_WITH(latent::data::one_hot<float>(std::vector<int>{0}, 0), Catch::Contains("0 classes"));
}

}  // namespace test_one_hot
