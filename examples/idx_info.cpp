// idx_info: describes IDX files (MNIST's format, raw or gzip): element type,
// dimensions, and the minimum, maximum and mean of the values. A file that
// cannot be read gets one line on stderr naming it and the problem; the other
// files are still described, and the exit status is 1.
#include <latent/data/idx.hpp>

#include <CLI/CLI.hpp>
#include <Eigen/Dense>
#include <iostream>
#include <new>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

template <class T>
std::string number(T value) {
  if constexpr (std::is_integral_v<T>) return std::to_string(static_cast<long long>(value));
  else return std::to_string(value);
}

void describe(const std::string& path, const latent::data::IdxArray& array) {
  std::cout << path << ": " << latent::data::idx_type_name(array.type()) << ", " << array.shape() << " ("
            << array.size() << " values)";
  std::visit(
      [](const auto& values) {
        using T = typename std::decay_t<decltype(values)>::value_type;
        if (values.empty()) return;
        const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> all(values.data(),
                                                                      static_cast<Eigen::Index>(values.size()));
        std::cout << ", min " << number(all.minCoeff()) << ", max " << number(all.maxCoeff()) << ", mean "
                  << all.template cast<double>().mean();
      },
      array.values);
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Describes IDX files (raw or gzip): element type, dimensions, min/max/mean of the values."};
  std::vector<std::string> files;
  app.add_option("FILE", files, "IDX files, e.g. data/mnist/train-images-idx3-ubyte")->required();
  CLI11_PARSE(app, argc, argv);

  int status = 0;
  for (const auto& file : files) {
    try {
      describe(file, latent::data::read_idx(file));
    } catch (const latent::io_error& e) {
      std::cerr << "idx_info: " << e.what() << "\n";
      status = 1;
    } catch (const std::bad_alloc&) {
      std::cerr << "idx_info: " << file << ": not enough memory to read it\n";
      status = 1;
    } catch (const std::exception& e) {
      std::cerr << "idx_info: " << file << ": " << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}
