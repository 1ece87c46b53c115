// latent/train/progress.hpp: reports training progress. On a terminal, a bar
// per epoch redrawn in place (steps, loss, samples/s, ETA); otherwise (a file,
// a pipe, CI logs) one plain line per epoch, so logs stay readable.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace latent {

class Progress {
 public:
  enum class Mode { automatic, bar, lines, quiet };

  explicit Progress(Mode mode = Mode::automatic, std::FILE* out = stdout) : out_(out) {
    if (mode == Mode::automatic) mode = isatty(fileno(out)) ? Mode::bar : Mode::lines;
    mode_ = mode;
  }

  void start_epoch(int epoch, int epochs, long steps) {
    epoch_ = epoch;
    epochs_ = epochs;
    steps_ = steps;
    start_ = last_draw_ = Clock::now();
  }

  /// After each step: the step count so far, the running loss, the samples done.
  void step(long step, double loss, long samples) {
    if (mode_ != Mode::bar) return;
    const auto now = Clock::now();
    if (step < steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double elapsed = seconds_since(start_, now);
    const double rate = elapsed > 0 ? samples / elapsed : 0;
    const double eta = step > 0 ? elapsed * double(steps_ - step) / double(step) : 0;
    const int width = 30;
    const int filled = steps_ > 0 ? int(width * step / steps_) : width;
    std::fprintf(out_, "\repoch %d/%d [%s%s] %ld/%ld loss %.4f %.0f samples/s ETA %.0fs ", epoch_, epochs_,
                 std::string(std::size_t(filled), '=').c_str(), std::string(std::size_t(width - filled), ' ').c_str(), step,
                 steps_, loss, rate, eta);
    std::fflush(out_);
  }

  /// At the end of an epoch: a summary line (figures already formatted).
  void end_epoch(const std::string& summary) {
    if (mode_ == Mode::quiet) return;
    if (mode_ == Mode::bar) std::fprintf(out_, "\r\033[K");
    std::fprintf(out_, "epoch %d/%d %s (%.1fs)\n", epoch_, epochs_, summary.c_str(), seconds_since(start_, Clock::now()));
    std::fflush(out_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

  std::FILE* out_;
  Mode mode_;
  int epoch_ = 0, epochs_ = 0;
  long steps_ = 0;
  Clock::time_point start_, last_draw_;
};

}  // namespace latent
