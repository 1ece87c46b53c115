// latent/autodiff/convolution.hpp: 2-D convolutions over image batches laid
// out as in latent/image_shape.hpp (one image a column, channels fastest).
//
// conv2d unfolds the batch into patches (im2col: one column per output
// pixel, one row per weight of a filter) and multiplies:
//   Y (C_out x pixels) = W (C_out x C_in*kh*kw) cols (C_in*kh*kw x pixels),
// where pixels = H_out * W_out * batch; Y already is the next layer's
// features x batch matrix. Its backward is two products, dW = dY cols^T and
// dcols = W^T dY, and a fold (col2im: each patch entry added back onto the
// pixel it came from) of dcols onto dX.
//
// conv_transpose2d is the data gradient of a convolution: cols = W^T X, then
// col2im onto Y; its backward unfolds dY (im2col) and multiplies twice.
//
// Both fuse a bias and an activation (the backward derives the activation's
// slope from the saved output, as `dense` does) and run their products
// through gemm() (kept workspace, split over threads). The unfolded patches
// are scratch, not saved state: they live in one buffer per thread (see
// ConvScratch), and conv2d's backward unfolds its input again rather than
// keep the forward's patches on the node. Patches are unfolded and
// multiplied a block of images at a time, a block small enough to stay in a
// core's cache (over_unfold_blocks): a batch's patches at once (12.8 MB in a
// conv VAE's second layer) went out to the last-level cache and came back for
// the product, which made the layer 13% slower (Xeon, oneDNN's sgemm).
//
// A filter's weights are ordered as a patch: weight (ky * kw + kx) * C + c of
// a row of W reads channel c at window offset (ky, kx). (PyTorch orders them
// c, ky, kx: the same parameters in another order.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "latent/autodiff/linear.hpp"
#include "latent/image_shape.hpp"

namespace latent {

/// A convolution's window settings, in PyTorch's terms: kernel size, stride,
/// zero padding on each side, output padding (transposed convolutions: rows
/// and columns added at the bottom and right of the output, to pick one of
/// the sizes a stride > 1 maps to the same input size) and whether the layer
/// has a bias. Kernel(4).stride(2).padding(1); Kernel(3, 5) is 3 high, 5 wide.
struct Kernel {
  Index height = 1, width = 1;
  Index stride_height = 1, stride_width = 1;
  Index padding_height = 0, padding_width = 0;
  Index output_padding_height = 0, output_padding_width = 0;
  bool has_bias = true;

  Kernel(Index size) : Kernel(size, size) {}  // implicit: a 4 where a Kernel goes is a 4x4 kernel
  Kernel(Index kernel_height, Index kernel_width) : height(kernel_height), width(kernel_width) {}

  Kernel stride(Index s) const { return stride(s, s); }
  Kernel stride(Index h, Index w) const { return with(&Kernel::stride_height, h, &Kernel::stride_width, w); }
  Kernel padding(Index p) const { return padding(p, p); }
  Kernel padding(Index h, Index w) const { return with(&Kernel::padding_height, h, &Kernel::padding_width, w); }
  Kernel output_padding(Index p) const { return output_padding(p, p); }
  Kernel output_padding(Index h, Index w) const {
    return with(&Kernel::output_padding_height, h, &Kernel::output_padding_width, w);
  }
  Kernel bias(bool on) const {
    Kernel k = *this;
    k.has_bias = on;
    return k;
  }

  /// "kernel 4x4, stride 2, padding 1", for layer descriptions.
  std::string describe() const {
    std::string text = "kernel " + std::to_string(height) + "x" + std::to_string(width);
    text += ", stride " + pair(stride_height, stride_width);
    if (padding_height || padding_width) text += ", padding " + pair(padding_height, padding_width);
    if (output_padding_height || output_padding_width)
      text += ", output padding " + pair(output_padding_height, output_padding_width);
    if (!has_bias) text += ", no bias";
    return text;
  }

 private:
  Kernel with(Index Kernel::*height_field, Index h, Index Kernel::*width_field, Index w) const {
    Kernel k = *this;
    k.*height_field = h;
    k.*width_field = w;
    return k;
  }
  static std::string pair(Index a, Index b) { return a == b ? std::to_string(a) : std::to_string(a) + "x" + std::to_string(b); }
};

/// Where a convolution's windows lie. The image side (image_*: what Conv2d
/// reads, what ConvTranspose2d writes) is scanned by a kernel_height x
/// kernel_width window at the given stride and zero padding; the window's
/// positions form the grid side (grid_*: what Conv2d writes, what
/// ConvTranspose2d reads), a pixel of grid_channels channels each. 32-bit
/// fields, so that the geometry and an activation fit a tape node's state.
struct ConvGeometry {
  std::int32_t image_channels = 0, image_height = 0, image_width = 0;
  std::int32_t grid_channels = 0, grid_height = 0, grid_width = 0;
  std::int32_t kernel_height = 0, kernel_width = 0;
  std::int32_t stride_height = 1, stride_width = 1;
  std::int32_t padding_height = 0, padding_width = 0;

  /// A convolution reading images of shape `in` into `out_channels` channels:
  /// the grid is floor((in + 2 padding - kernel) / stride) + 1 each way.
  static ConvGeometry convolution(const char* op, const ImageShape& in, Index out_channels, const Kernel& k) {
    check(op, in, out_channels, k);
    const Index gh = (in.height + 2 * k.padding_height - k.height) / k.stride_height + 1;
    const Index gw = (in.width + 2 * k.padding_width - k.width) / k.stride_width + 1;
    if (in.height + 2 * k.padding_height < k.height || in.width + 2 * k.padding_width < k.width)
      throw shape_error(std::string(op) + ": a " + k.describe() + " does not fit images " + to_string(in));
    if (k.output_padding_height || k.output_padding_width)
      throw shape_error(std::string(op) + ": output padding is for transposed convolutions (" + k.describe() + ")");
    return make(in, {out_channels, gh, gw}, k);
  }

  /// A transposed convolution reading images of shape `in` (the grid) into
  /// `out_channels` channels: the image is (in - 1) stride - 2 padding +
  /// kernel + output padding each way.
  static ConvGeometry transposed(const char* op, const ImageShape& in, Index out_channels, const Kernel& k) {
    check(op, in, out_channels, k);
    if (k.output_padding_height < 0 || k.output_padding_width < 0 || k.output_padding_height >= k.stride_height ||
        k.output_padding_width >= k.stride_width)
      throw shape_error(std::string(op) + ": the output padding must be at least 0 and less than the stride (" +
                        k.describe() + ")");
    const Index h = (in.height - 1) * k.stride_height - 2 * k.padding_height + k.height + k.output_padding_height;
    const Index w = (in.width - 1) * k.stride_width - 2 * k.padding_width + k.width + k.output_padding_width;
    if (h < 1 || w < 1)
      throw shape_error(std::string(op) + ": a " + k.describe() + " over images " + to_string(in) + " leaves an output of " +
                        std::to_string(h) + "x" + std::to_string(w) + " pixels");
    return make({out_channels, h, w}, in, k);
  }

  ImageShape image() const { return {image_channels, image_height, image_width}; }
  ImageShape grid() const { return {grid_channels, grid_height, grid_width}; }
  /// Entries of one unfolded window: image_channels * kernel_height * kernel_width.
  Index patch_size() const { return Index(image_channels) * kernel_height * kernel_width; }
  /// Window positions in a batch: grid_height * grid_width * batch.
  Index positions(Index batch) const { return Index(grid_height) * grid_width * batch; }
  /// Whether unfolding changes nothing: one window covering the whole
  /// unpadded image (a DCGAN critic's last layer, its generator's first), so
  /// that the patches are the images themselves and the layer is a dense one.
  bool unfold_is_identity() const {
    return grid_height == 1 && grid_width == 1 && kernel_height == image_height && kernel_width == image_width &&
           padding_height == 0 && padding_width == 0;
  }

 private:
  static void check(const char* op, const ImageShape& in, Index out_channels, const Kernel& k) {
    if (!in.valid() || out_channels < 1)
      throw shape_error(std::string(op) + ": images " + to_string(in) + " to " + std::to_string(out_channels) +
                        " channels: every size must be positive");
    if (k.height < 1 || k.width < 1 || k.stride_height < 1 || k.stride_width < 1 || k.padding_height < 0 ||
        k.padding_width < 0)
      throw shape_error(std::string(op) + ": a " + k.describe() +
                        " is not a window (kernel and stride at least 1, padding at least 0)");
    constexpr Index kLargest = std::numeric_limits<std::int32_t>::max() / 4;
    if (in.size() > kLargest || out_channels > kLargest || k.height > kLargest || k.width > kLargest)
      throw shape_error(std::string(op) + ": images " + to_string(in) + " or " + k.describe() + " too large");
  }

  static ConvGeometry make(const ImageShape& image, const ImageShape& grid, const Kernel& k) {
    ConvGeometry g;
    g.image_channels = narrow(image.channels);
    g.image_height = narrow(image.height);
    g.image_width = narrow(image.width);
    g.grid_channels = narrow(grid.channels);
    g.grid_height = narrow(grid.height);
    g.grid_width = narrow(grid.width);
    g.kernel_height = narrow(k.height);
    g.kernel_width = narrow(k.width);
    g.stride_height = narrow(k.stride_height);
    g.stride_width = narrow(k.stride_width);
    g.padding_height = narrow(k.padding_height);
    g.padding_width = narrow(k.padding_width);
    return g;
  }
  static std::int32_t narrow(Index v) { return static_cast<std::int32_t>(v); }
};

namespace detail {

/// The window at grid column gx: its first image column x0 (negative over
/// the padding) and the kernel columns [begin, end) that lie inside the image
/// (begin >= end when none do). The one clipping rule of im2col and col2im,
/// whichever path unfolds a geometry.
struct KernelColumns {
  Index x0, begin, end;
  bool whole(const ConvGeometry& g) const { return begin == 0 && end == g.kernel_width; }
};
inline KernelColumns inside_kernel_columns(const ConvGeometry& g, Index gx) {
  const Index x0 = gx * g.stride_width - g.padding_width;
  return {x0, std::max<Index>(0, -x0), std::min<Index>(g.kernel_width, g.image_width - x0)};
}

/// Calls visit(patch_row, image_offset, count) for every run of a window that
/// lies inside the image, and zero(patch_row, count) for every run over the
/// padding, for the window at grid position (gy, gx): the runs of one kernel
/// row are contiguous in both the image (channels fastest, then x) and the
/// patch. Shared by im2col and col2im, so they cannot disagree.
template <class Visit, class Zero>
void for_each_window_run(const ConvGeometry& g, Index gy, Index gx, const Visit& visit, const Zero& zero) {
  const Index channels = g.image_channels, width = g.image_width, run = Index(g.kernel_width) * channels;
  const auto [x0, kx_begin, kx_end] = inside_kernel_columns(g, gx);
  for (Index ky = 0; ky < g.kernel_height; ++ky) {
    const Index y = gy * g.stride_height - g.padding_height + ky;
    const Index row = ky * run;
    if (y < 0 || y >= g.image_height || kx_end <= kx_begin) {
      zero(row, run);
      continue;
    }
    if (kx_begin > 0) zero(row, kx_begin * channels);
    visit(row + kx_begin * channels, (y * width + x0 + kx_begin) * channels, (kx_end - kx_begin) * channels);
    if (kx_end < g.kernel_width) zero(row + kx_end * channels, (g.kernel_width - kx_end) * channels);
  }
}

/// The longest kernel row (kernel width x channels values) that unfolds and
/// folds through short_run_windows: a first layer's 1 channel, a last
/// layer's, an RGB image's 3.
constexpr Index kShortRun = 16;

/// im2col (Fold false: columns = image's windows) or col2im (Fold true:
/// image += columns) of one image whose kernel rows are Run values long. Such
/// rows cost more to find than to copy when taken a window at a time (a
/// 1-channel layer moved a value per nanosecond, a 64-channel one ten), so
/// they go a kernel row at a time across a grid row: a window's row that lies
/// inside the image, nearly all of them, is Run values copied with no
/// clipping, in a loop whose length the compiler knows. A pixel's grid row
/// fixes its kernel row, so col2im adds each pixel's terms in the same order
/// as window by window: the same sums, bit for bit.
template <Index Run, bool Fold, class Image, class Columns>
void short_run_windows(const ConvGeometry& g, Image image, Columns columns) {
  using S = std::remove_const_t<std::remove_pointer_t<Image>>;
  const Index channels = g.image_channels, width = g.image_width, patch = g.patch_size();
  for (Index gy = 0; gy < g.grid_height; ++gy)
    for (Index ky = 0; ky < g.kernel_height; ++ky) {
      const Index y = gy * g.stride_height - g.padding_height + ky;
      const bool row_inside = y >= 0 && y < g.image_height;
      Columns column = columns + gy * g.grid_width * patch + ky * Run;
      for (Index gx = 0; gx < g.grid_width; ++gx, column += patch) {
        const KernelColumns inside_columns = inside_kernel_columns(g, gx);
        const Index at = (y * width + inside_columns.x0) * channels;  // of the row's first value, were it inside
        if (row_inside && inside_columns.whole(g)) {
          for (Index k = 0; k < Run; ++k) {
            if constexpr (Fold)
              image[at + k] += column[k];
            else
              column[k] = image[at + k];
          }
          continue;
        }
        const Index inside_begin = inside_columns.begin * channels, inside_end = inside_columns.end * channels;
        for (Index k = 0; k < Run; ++k) {
          const bool inside = row_inside && k >= inside_begin && k < inside_end;
          if constexpr (Fold) {
            if (inside) image[at + k] += column[k];
          } else {
            column[k] = inside ? image[at + k] : S(0);
          }
        }
      }
    }
}

/// short_run_windows for this geometry's run length, if it is one of
/// RunsLess1 + 1; false (nothing done) otherwise.
template <bool Fold, class Image, class Columns, Index... RunsLess1>
bool short_run_windows(const ConvGeometry& g, Image image, Columns columns,
                       std::integer_sequence<Index, RunsLess1...>) {
  const Index run = Index(g.kernel_width) * g.image_channels;
  return ((run == RunsLess1 + 1 && (short_run_windows<RunsLess1 + 1, Fold>(g, image, columns), true)) || ...);
}

template <bool Fold, class Image, class Columns>
bool short_run_windows(const ConvGeometry& g, Image image, Columns columns) {
  return short_run_windows<Fold>(g, image, columns, std::make_integer_sequence<Index, kShortRun>{});
}

/// Runs work(first, count) over image ranges that cover 0 .. batch - 1, split
/// over latent's threads when the unfolded patches are large enough.
template <class Work>
void over_images(const ConvGeometry& g, Index batch, const Work& work) {
  const int shares = static_cast<int>(std::min<Index>(element_shares(g.patch_size() * g.positions(batch)), batch));
  run_shares(shares, [&](int share) {
    const Index first = batch * share / shares, last = batch * (share + 1) / shares;
    work(first, last - first);
  });
}

/// Unfolds a batch of images (g.image() x batch) into its windows: cols is
/// g.patch_size() x g.positions(batch), column (b * grid_height + gy) *
/// grid_width + gx the window at grid position (gy, gx) of image b, zero
/// where the window hangs over the padding.
template <class S>
void im2col(const ConvGeometry& g, const S* images, Index batch, S* cols) {
  const Index image_size = g.image().size(), patch = g.patch_size(), grid = Index(g.grid_height) * g.grid_width;
  over_images(g, batch, [&](Index first, Index count) {
    for (Index b = first; b < first + count; ++b) {
      const S* image = images + b * image_size;
      if (short_run_windows<false>(g, image, cols + b * grid * patch)) continue;
      for (Index gy = 0; gy < g.grid_height; ++gy)
        for (Index gx = 0; gx < g.grid_width; ++gx) {
          S* column = cols + ((b * grid) + gy * g.grid_width + gx) * patch;
          // Plain loops, as in col2im: a run is kernel width x channels
          // values, 4 in a first layer, where a call to memmove per run cost
          // more than the copy.
          for_each_window_run(
              g, gy, gx,
              [&](Index row, Index at, Index count_) {
                S* to = column + row;
                const S* from = image + at;
                for (Index k = 0; k < count_; ++k) to[k] = from[k];
              },
              [&](Index row, Index count_) {
                S* to = column + row;
                for (Index k = 0; k < count_; ++k) to[k] = S(0);
              });
        }
    }
  });
}

/// The adjoint of im2col: adds every entry of cols onto the image pixel it was
/// unfolded from (entries over the padding are dropped). images must hold
/// g.image().size() * batch values, already initialized.
template <class S>
void col2im(const ConvGeometry& g, const S* cols, Index batch, S* images) {
  const Index image_size = g.image().size(), patch = g.patch_size(), grid = Index(g.grid_height) * g.grid_width;
  over_images(g, batch, [&](Index first, Index count) {
    for (Index b = first; b < first + count; ++b) {
      S* image = images + b * image_size;
      if (short_run_windows<true>(g, image, cols + b * grid * patch)) continue;
      for (Index gy = 0; gy < g.grid_height; ++gy)
        for (Index gx = 0; gx < g.grid_width; ++gx) {
          const S* column = cols + ((b * grid) + gy * g.grid_width + gx) * patch;
          for_each_window_run(
              g, gy, gx,
              [&](Index row, Index at, Index count_) {
                // A plain loop: the runs are short (kernel width x channels), too
                // short for an Eigen map's setup to pay off; the compiler vectorizes it.
                S* to = image + at;
                const S* from = column + row;
                for (Index k = 0; k < count_; ++k) to[k] += from[k];
              },
              [](Index, Index) {});
        }
    }
  });
}

/// The patches a convolution unfolds and their gradient, kept per thread
/// rather than per node: they are needed only while one forward or backward
/// runs, and per node they made a network's memory its convolutions times its
/// tapes times their batches (a DCGAN trainer kept 4 tapes of ~40 MB each,
/// and an evaluation at batch 500 another 160 MB). A thread keeps only its
/// largest unfold; the buffers grow and are then reused, so a steady step
/// allocates nothing. The price is a second im2col in conv2d's backward, one
/// pass over memory beside the three products of the layer.
template <class S>
class ConvScratch {
 public:
  /// The patches, rows x cols, in the first buffer.
  Eigen::Map<Matrix<S>> columns(Index rows, Index cols) { return view(columns_, rows, cols); }
  /// Their gradient, rows x cols, in the second (a backward needs both at once).
  Eigen::Map<Matrix<S>> column_gradients(Index rows, Index cols) { return view(gradients_, rows, cols); }

 private:
  static Eigen::Map<Matrix<S>> view(Vector<S>& buffer, Index rows, Index cols) {
    if (buffer.size() < rows * cols) buffer.resize(rows * cols);
    return Eigen::Map<Matrix<S>>(buffer.data(), rows, cols);
  }
  Vector<S> columns_, gradients_;
};

/// This thread's convolution scratch.
template <class S>
ConvScratch<S>& conv_scratch() {
  thread_local ConvScratch<S> scratch;
  return scratch;
}

/// Patch bytes a thread unfolds before they are multiplied: within the
/// second-level cache of most cores (512 KB on AMD's Zen 2 and 3, 2 MB on
/// Intel's Sapphire Rapids).
constexpr Index kUnfoldBlockBytes = Index(512) << 10;

/// Patches a block holds at least: each block's products pack the weights
/// anew, which costs about as much as multiplying them by some tens of
/// patches (a DCGAN critic's 256 x 2048 weights against 63 patches a block
/// made its layer 18% slower than its unblocked products).
constexpr Index kMinBlockPatches = 256;

/// Runs work(first, count) over consecutive ranges of images that cover
/// 0 .. batch - 1, each as many images as unfold into kUnfoldBlockBytes a
/// thread, or into kMinBlockPatches patches where that is more; the whole
/// batch at once where unfolding changes nothing.
template <class S, class Work>
void over_unfold_blocks(const ConvGeometry& g, Index batch, const Work& work) {
  const Index positions = std::max<Index>(g.positions(1), 1);
  const Index image_bytes = g.patch_size() * positions * Index(sizeof(S));
  const Index fits = kUnfoldBlockBytes * num_threads() / image_bytes;
  const Index enough = (kMinBlockPatches + positions - 1) / positions;
  const Index images = g.unfold_is_identity() ? batch : std::clamp<Index>(std::max(fits, enough), 1, std::max<Index>(batch, 1));
  for (Index first = 0; first < batch; first += images) work(first, std::min(images, batch - first));
}

/// The images (g.image() x batch, at `images`) unfolded: the images
/// themselves where unfolding changes nothing, else `buffer` filled by im2col.
template <class S>
Eigen::Map<const Matrix<S>> unfolded(const ConvGeometry& g, const S* images, Index batch, Eigen::Map<Matrix<S>> buffer) {
  if (g.unfold_is_identity()) return Eigen::Map<const Matrix<S>>(images, g.patch_size(), g.positions(batch));
  im2col(g, images, batch, buffer.data());
  return Eigen::Map<const Matrix<S>>(buffer.data(), buffer.rows(), buffer.cols());
}

/// A node's state: the geometry, the activation, and whether b is a parent.
template <class Act>
struct ConvState {
  ConvGeometry geometry;
  Act act;
  bool has_bias;
};

template <class S>
void check_conv_operands(const char* op, const ConvGeometry& g, const Var<S>& w, const Var<S>& x, const Var<S>* b,
                         const ImageShape& in, Index weight_rows, Index weight_cols, Index out_channels) {
  require_same_tape(op, w, x);
  if (x.rows() != in.size())
    throw shape_error(std::string(op) + ": expects images " + to_string(in) + " (" + std::to_string(in.size()) +
                      " features a column), got " + shape_string(x.value()));
  if (w.rows() != weight_rows || w.cols() != weight_cols)
    throw shape_error(std::string(op) + ": W is " + shape_string(w.value()) + ", want " + shape_string(weight_rows, weight_cols) +
                      " for images " + to_string(g.image()) + " and kernel " + std::to_string(g.kernel_height) + "x" +
                      std::to_string(g.kernel_width));
  if (b != nullptr) {
    require_same_tape(op, w, *b);
    if (b->rows() != out_channels || b->cols() != 1)
      throw shape_error(std::string(op) + ": b is " + shape_string(b->value()) + ", want " + shape_string(out_channels, 1));
  }
}

template <class S, class Act>
void conv2d_backward(Tape<S>& t, Node<S>& n) {
  const auto state = n.template load<ConvState<Act>>();
  const ConvGeometry& g = state.geometry;
  const Index batch = n.value.cols();
  const auto dy = as_pixels(pre_activation_grad(state.act, n, n.workspace[0]), g.grid_channels);  // C_out x positions
  const Matrix<S>& w = t.parent_value(n, 0);
  const S* x = t.parent_value(n, 1).data();
  const Index image_size = g.image().size();
  // Each product runs over the blocks on its own (the two may run at once,
  // one a thread), with a buffer of its own from this thread's scratch.
  ConvScratch<S>& scratch = conv_scratch<S>();
  accumulate_products(
      t, n, double(w.rows()) * double(w.cols()) * double(g.positions(batch)),
      [&] {
        over_unfold_blocks<S>(g, batch, [&](Index first, Index count) {
          const Index positions = g.positions(count);
          const auto cols = unfolded(g, x + first * image_size, count, scratch.columns(g.patch_size(), positions));
          accumulate_product(t, n, 0, dy.middleCols(g.positions(first), positions), cols.transpose());
        });
      },
      [&] {
        if (g.unfold_is_identity()) {
          accumulate_product(t, n, 1, w.transpose(), dy);
          return;
        }
        S* dx = t.gradient_to_add(n, 1)->data();
        over_unfold_blocks<S>(g, batch, [&](Index first, Index count) {
          const Index positions = g.positions(count);
          auto dcols = scratch.column_gradients(g.patch_size(), positions);
          gemm(dcols, w.transpose(), dy.middleCols(g.positions(first), positions), false);
          col2im(g, dcols.data(), count, dx + first * image_size);
        });
      });
  if (state.has_bias && t.parent_requires_grad(n, 2)) t.accumulate(n, 2, dy.rowwise().sum());
}

template <class S, class Act>
void conv_transpose2d_backward(Tape<S>& t, Node<S>& n) {
  const auto state = n.template load<ConvState<Act>>();
  const ConvGeometry& g = state.geometry;
  const Index batch = n.value.cols();
  const Matrix<S>& dy = pre_activation_grad(state.act, n, n.workspace[0]);
  const Matrix<S>& w = t.parent_value(n, 0);
  const auto x = as_pixels(t.parent_value(n, 1), g.grid_channels);  // C_in x positions
  Matrix<S>* dx = t.parent_requires_grad(n, 1) ? t.gradient_to_add(n, 1) : nullptr;
  const Index image_size = g.image().size();
  // One unfold of a block of dY serves both products of the block.
  over_unfold_blocks<S>(g, batch, [&](Index first, Index count) {
    const Index from = g.positions(first), positions = g.positions(count);
    const auto dcols = unfolded(g, dy.data() + first * image_size, count,
                                conv_scratch<S>().column_gradients(g.patch_size(), positions));
    accumulate_products(
        t, n, double(w.rows()) * double(w.cols()) * double(positions),
        [&] { accumulate_product(t, n, 0, x.middleCols(from, positions), dcols.transpose()); },
        [&] { gemm(as_pixels(*dx, g.grid_channels).middleCols(from, positions), w, dcols, true); });
  });
  if (state.has_bias && t.parent_requires_grad(n, 2))
    t.accumulate(n, 2, as_pixels(dy, g.image_channels).rowwise().sum());
}

/// Records conv2d (Transposed false) or conv_transpose2d (true) of x with
/// weights w and bias *b (none if b is null).
template <bool Transposed, class Act, class S>
Var<S> record_convolution(const Act& act, Var<S> w, Var<S> x, const Var<S>* b, const ConvGeometry& g) {
  const char* op = Transposed ? "conv_transpose2d" : "conv2d";
  const ImageShape in = Transposed ? g.grid() : g.image(), out = Transposed ? g.image() : g.grid();
  check_conv_operands(op, g, w, x, b, in, g.grid_channels, g.patch_size(), out.channels);
  Tape<S>& tape = w.tape();
  const Index batch = x.cols();
  constexpr typename Node<S>::Backward backward = Transposed ? conv_transpose2d_backward<S, Act> : conv2d_backward<S, Act>;
  Var<S> result = b ? tape.record(out.size(), batch, {w, x, *b}, backward) : tape.record(out.size(), batch, {w, x}, backward);
  Node<S>& node = tape.node(result);
  node.store(ConvState<Act>{g, act, b != nullptr});
  auto y = as_pixels(node.value, out.channels);
  if (b) y.colwise() = b->value().col(0);
  ConvScratch<S>& scratch = conv_scratch<S>();
  if constexpr (Transposed) {
    const auto x_pixels = as_pixels(x.value(), in.channels);
    if (g.unfold_is_identity()) {
      gemm(node.value, w.value().transpose(), x_pixels, b != nullptr);  // the windows are the images
    } else {
      // The windows' contributions, then folded onto the (bias-filled) images.
      if (!b) y.setZero();
      over_unfold_blocks<S>(g, batch, [&](Index first, Index count) {
        const Index positions = g.positions(count);
        auto cols = scratch.columns(g.patch_size(), positions);
        gemm(cols, w.value().transpose(), x_pixels.middleCols(g.positions(first), positions), false);
        col2im(g, cols.data(), count, node.value.data() + first * out.size());
      });
    }
  } else {
    over_unfold_blocks<S>(g, batch, [&](Index first, Index count) {
      const Index positions = g.positions(count);
      const auto cols = unfolded(g, x.value().data() + first * in.size(), count, scratch.columns(g.patch_size(), positions));
      gemm(y.middleCols(g.positions(first), positions), w.value(), cols, b != nullptr);
    });
  }
  if constexpr (!Act::is_identity) node.value.array() = act.apply(node.value.array());
  return result;
}

}  // namespace detail

/// Y = act(conv(W, X) + b): X is g.image() x batch, W is g.grid_channels x
/// g.patch_size() (a filter a row), b is g.grid_channels x 1; Y is g.grid() x
/// batch. One node.
template <class Act, class S>
Var<S> conv2d(const Act& act, Var<S> w, Var<S> x, Var<S> b, const ConvGeometry& g) {
  return detail::record_convolution<false>(act, w, x, &b, g);
}

/// conv2d without a bias.
template <class Act, class S>
Var<S> conv2d(const Act& act, Var<S> w, Var<S> x, const ConvGeometry& g) {
  return detail::record_convolution<false, Act, S>(act, w, x, nullptr, g);
}

/// Y = act(conv_transpose(W, X) + b), the data gradient of conv2d with the
/// same geometry: X is g.grid() x batch, W is g.grid_channels x g.patch_size()
/// (PyTorch's ConvTranspose2d weight, in_channels first), b is
/// g.image_channels x 1; Y is g.image() x batch. One node.
template <class Act, class S>
Var<S> conv_transpose2d(const Act& act, Var<S> w, Var<S> x, Var<S> b, const ConvGeometry& g) {
  return detail::record_convolution<true>(act, w, x, &b, g);
}

/// conv_transpose2d without a bias.
template <class Act, class S>
Var<S> conv_transpose2d(const Act& act, Var<S> w, Var<S> x, const ConvGeometry& g) {
  return detail::record_convolution<true, Act, S>(act, w, x, nullptr, g);
}

}  // namespace latent
