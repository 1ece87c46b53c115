// seed_idx DIR: writes the seed corpus of fuzz_idx into DIR: small valid IDX
// files of every element type, raw and gzip, so the fuzzer starts from inputs
// that reach deep into the parser.
#include <latent/data/idx.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

template <class T>
latent::data::IdxArray array_of(std::vector<std::size_t> dims, std::vector<T> values) {
  latent::data::IdxArray array;
  array.dims = std::move(dims);
  array.values = std::move(values);
  return array;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: seed_idx DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  std::vector<std::uint8_t> pixels(2 * 5 * 5);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37);
  const std::vector<std::pair<std::string, latent::data::IdxArray>> seeds = {
      {"images-u8", array_of<std::uint8_t>({2, 5, 5}, pixels)},
      {"labels-u8", array_of<std::uint8_t>({4}, {5, 0, 4, 1})},
      {"empty-u8", array_of<std::uint8_t>({0, 3}, {})},
      {"i8", array_of<std::int8_t>({3}, {-1, 0, 1})},
      {"i16", array_of<std::int16_t>({2, 2}, {-300, 2, 300, 4})},
      {"i32", array_of<std::int32_t>({2}, {-70000, 70000})},
      {"f32", array_of<float>({1, 2}, {0.5f, -2.0f})},
      {"f64", array_of<double>({2}, {1e-3, -1e3})},
  };
  try {
    for (const auto& [name, array] : seeds) {
      latent::data::write_idx(dir / name, array);
      latent::data::write_idx(dir / (name + ".gz"), array, latent::data::Compression::gzip);
    }
  } catch (const latent::error& e) {
    std::cerr << "seed_idx: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
