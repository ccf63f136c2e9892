#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/push/push_exporter.h"
#include "line_format.h"

namespace kubemetrics::exporters::wavefront {

enum class Compression { kNone, kZstd, kGzip };

/// "zstd" -> kZstd, "gzip" -> kGzip, anything else -> kNone.
Compression parseCompression(std::string_view name);
/// The Content-Encoding value: "zstd", "gzip" or "".
std::string_view contentEncodingOf(Compression compression);

/// Self-metrics of the format, labelled exporter=<instance name>:
///   kubemetrics_wavefront_samples_invalid_total{exporter,reason}
///   kubemetrics_wavefront_samples_sanitized_total{exporter}
///   kubemetrics_wavefront_trimmed_tags_total{exporter,reason}
/// Counters are thread-safe (prometheus-cpp); the registry must outlive them.
class WavefrontFormatMetrics {
 public:
  WavefrontFormatMetrics(prometheus::Registry& registry, const std::string& exporter);
  void record(const FormatStats& stats);

 private:
  std::array<prometheus::Counter*, kDropReasonCount> invalid_{};
  prometheus::Counter* sanitized_ = nullptr;
  std::array<prometheus::Counter*, kTrimReasonCount> trimmed_{};
};

/// The PayloadEncoder of the wavefront exporter: one line per sample
/// (LineFormatter), lines joined by '\n' (each ends with one), then the
/// body compressed as configured. Samples the format cannot carry are left
/// out, added to *dropped and counted by reason in the metrics (when given).
///
/// Not thread-safe: PushExporter serialises calls; the line buffer is
/// reused between calls.
class WavefrontEncoder : public push::PayloadEncoder {
 public:
  /// `metrics` may be null (tests, bench). `level` 0 means the codec's
  /// default.
  WavefrontEncoder(LineFormatOptions options, Compression compression, int level,
                   std::unique_ptr<WavefrontFormatMetrics> metrics);

  // kubemetrics::push::PayloadEncoder
  Result<push::EncodedPayload> encode(std::span<const Sample> samples,
                                      std::size_t* dropped) override;
  std::string_view contentEncoding() const override { return contentEncodingOf(compression_); }
  std::size_t estimateBytes(const Sample& sample) const override;
  bool appends() const override { return true; }
  void append(std::span<const Sample> samples, std::string& raw, std::size_t* dropped) override;
  Result<push::EncodedPayload> compress(std::string_view raw, std::size_t samples) override;

  /// Totals since construction (tests, bench).
  const FormatStats& totals() const { return totals_; }

 private:
  LineFormatter formatter_;
  Compression compression_;
  int level_;
  std::unique_ptr<WavefrontFormatMetrics> metrics_;
  std::string lines_;
  FormatStats totals_;
};

}  // namespace kubemetrics::exporters::wavefront
