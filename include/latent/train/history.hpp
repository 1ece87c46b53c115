// latent/train/history.hpp: what a training run records: one row per epoch of
// named figures (losses, their parts, gradient norms, seconds), written as CSV
// (atomically, io/file.hpp: a history.csv is never half a table).
#pragma once

#include <cmath>
#include <locale>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "latent/error.hpp"
#include "latent/io/file.hpp"

namespace latent {

struct EpochRecord {
  int epoch = 0;
  std::vector<std::pair<std::string, double>> values;

  void set(const std::string& name, double value) {
    for (auto& entry : values)
      if (entry.first == name) {
        entry.second = value;
        return;
      }
    values.emplace_back(name, value);
  }

  /// The named figure, or NaN when this epoch did not record it.
  double get(const std::string& name) const {
    for (const auto& entry : values)
      if (entry.first == name) return entry.second;
    return std::nan("");
  }
};

class History {
 public:
  void add(EpochRecord record) { epochs_.push_back(std::move(record)); }
  const std::vector<EpochRecord>& epochs() const { return epochs_; }
  bool empty() const { return epochs_.empty(); }
  const EpochRecord& back() const { return epochs_.back(); }

  /// The names of every figure of every epoch, in first-seen order.
  std::vector<std::string> columns() const {
    std::vector<std::string> names;
    for (const auto& record : epochs_)
      for (const auto& entry : record.values) {
        bool known = false;
        for (const auto& c : names) known = known || c == entry.first;
        if (!known) names.push_back(entry.first);
      }
    return names;
  }

  /// The table as CSV: one header line (epoch, then the columns()), one line
  /// per epoch; a figure an epoch did not record (or recorded as NaN) is empty.
  std::string csv() const {
    const std::vector<std::string> names = columns();
    std::ostringstream out;
    out.imbue(std::locale::classic());  // "0.5", never "0,5", whatever the program's locale
    out << "epoch";
    for (const auto& c : names) out << "," << c;
    out << "\n";
    for (const auto& record : epochs_) {
      out << record.epoch;
      for (const auto& c : names) {
        const double v = record.get(c);
        out << ",";
        if (!std::isnan(v)) out << v;
      }
      out << "\n";
    }
    return out.str();
  }

  /// Writes csv() to `path`, atomically: the file is the old table or the new one, whole.
  void write_csv(const std::string& path) const { io::write_file_atomically(path, csv()); }

 private:
  std::vector<EpochRecord> epochs_;
};

/// Running means of named figures over an epoch's steps.
class RunningMeans {
 public:
  /// A figure's weighted sum and total weight.
  struct Sum {
    std::string name;
    double sum, weight;
  };

  void add(const std::string& name, double value, double weight = 1) { add_sum(name, value * weight, weight); }

  /// Adds a weighted sum and its weight as they are (to combine the figures
  /// of several processes).
  void add_sum(const std::string& name, double weighted_sum, double weight) {
    for (auto& entry : sums_)
      if (entry.name == name) {
        entry.sum += weighted_sum;
        entry.weight += weight;
        return;
      }
    sums_.push_back({name, weighted_sum, weight});
  }

  /// The figures in the order they were first added.
  const std::vector<Sum>& sums() const { return sums_; }

  double mean(const std::string& name) const {
    for (const auto& entry : sums_)
      if (entry.name == name) return entry.sum / entry.weight;
    return std::nan("");
  }

  void write_to(EpochRecord& record, const std::string& prefix = "") const {
    for (const auto& entry : sums_) record.set(prefix + entry.name, entry.sum / entry.weight);
  }

  void clear() { sums_.clear(); }

 private:
  std::vector<Sum> sums_;
};

}  // namespace latent
