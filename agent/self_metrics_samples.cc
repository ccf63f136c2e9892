#include "agent/self_metrics_samples.h"

#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

namespace kubemetrics {
namespace {

// As prometheus-cpp's TextSerializer and the Go client write bucket bounds
// and quantiles: PromQL matches `le` as text across scrapes and pushes.
std::string boundText(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  std::array<char, 32> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  (void)ec;  // 32 characters hold any double's shortest form
  return std::string(buffer.data(), end);
}

/// Builds the samples of one family, reusing one builder and the interned
/// names of the derived series.
class FamilyWriter {
 public:
  FamilyWriter(const prometheus::MetricFamily& family, const Labels& extra,
               std::int64_t timestamp_ms, SampleBatch& out)
      : extra_(extra), timestamp_ms_(timestamp_ms), out_(out), name_(Symbol::intern(family.name)) {
    if (family.type == prometheus::MetricType::Histogram ||
        family.type == prometheus::MetricType::Summary) {
      sum_ = Symbol::intern(family.name + "_sum");
      count_ = Symbol::intern(family.name + "_count");
      bucket_ = Symbol::intern(family.name + "_bucket");
    }
  }

  void write(prometheus::MetricType type, const prometheus::ClientMetric& metric) {
    switch (type) {
      case prometheus::MetricType::Counter:
        add(name_, metric, metric.counter.value);
        break;
      case prometheus::MetricType::Gauge:
        add(name_, metric, metric.gauge.value);
        break;
      case prometheus::MetricType::Untyped:
        add(name_, metric, metric.untyped.value);
        break;
      case prometheus::MetricType::Histogram:
        for (const prometheus::ClientMetric::Bucket& bucket : metric.histogram.bucket) {
          add(bucket_, metric, static_cast<double>(bucket.cumulative_count), "le",
              boundText(bucket.upper_bound));
        }
        add(sum_, metric, metric.histogram.sample_sum);
        add(count_, metric, static_cast<double>(metric.histogram.sample_count));
        break;
      case prometheus::MetricType::Summary:
        for (const prometheus::ClientMetric::Quantile& quantile : metric.summary.quantile) {
          add(name_, metric, quantile.value, "quantile", boundText(quantile.quantile));
        }
        add(sum_, metric, metric.summary.sample_sum);
        add(count_, metric, static_cast<double>(metric.summary.sample_count));
        break;
    }
  }

 private:
  void add(Symbol name, const prometheus::ClientMetric& metric, double value,
           std::string_view bound_name = {}, const std::string& bound = {}) {
    builder_.reset(extra_);
    for (const prometheus::ClientMetric::Label& label : metric.label) {
      builder_.set(label.name, label.value);
    }
    if (!bound_name.empty()) builder_.set(bound_name, bound);
    out_.samples.push_back(Sample{name, builder_.build(), value, timestamp_ms_});
  }

  const Labels& extra_;
  const std::int64_t timestamp_ms_;
  SampleBatch& out_;
  const Symbol name_;
  Symbol sum_;
  Symbol count_;
  Symbol bucket_;
  LabelsBuilder builder_;
};

}  // namespace

void appendSelfMetricSamples(const std::vector<prometheus::MetricFamily>& families,
                             const Labels& extra, std::int64_t timestamp_ms, SampleBatch& out) {
  for (const prometheus::MetricFamily& family : families) {
    FamilyWriter writer(family, extra, timestamp_ms, out);
    for (const prometheus::ClientMetric& metric : family.metric) writer.write(family.type, metric);
  }
}

}  // namespace kubemetrics
