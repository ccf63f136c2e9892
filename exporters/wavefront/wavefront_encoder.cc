#include "wavefront_encoder.h"

#include <prometheus/family.h>

#include <utility>

#include "common/compression/compression.h"

namespace kubemetrics::exporters::wavefront {

Compression parseCompression(std::string_view name) {
  if (name == "zstd") return Compression::kZstd;
  if (name == "gzip") return Compression::kGzip;
  return Compression::kNone;
}

std::string_view contentEncodingOf(Compression compression) {
  switch (compression) {
    case Compression::kZstd:
      return "zstd";
    case Compression::kGzip:
      return "gzip";
    case Compression::kNone:
      break;
  }
  return "";
}

WavefrontFormatMetrics::WavefrontFormatMetrics(prometheus::Registry& registry,
                                               const std::string& exporter) {
  auto& invalid = prometheus::BuildCounter()
                      .Name("kubemetrics_wavefront_samples_invalid_total")
                      .Help(
                          "Samples left out because no valid Wavefront line could be written "
                          "for them, by reason.")
                      .Register(registry);
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    invalid_[i] =
        &invalid.Add({{"exporter", exporter},
                      {"reason", std::string(dropReasonName(static_cast<DropReason>(i)))}});
  }
  sanitized_ = &prometheus::BuildCounter()
                    .Name("kubemetrics_wavefront_samples_sanitized_total")
                    .Help(
                        "Samples sent with a metric name, source, tag key or tag value "
                        "rewritten to fit the Wavefront data format.")
                    .Register(registry)
                    .Add({{"exporter", exporter}});
  auto& trimmed = prometheus::BuildCounter()
                      .Name("kubemetrics_wavefront_trimmed_tags_total")
                      .Help(
                          "Point tags left out of lines that were sent, by reason: excluded "
                          "(exclude_tags), or to keep a point within 20 tags (empty_value, "
                          "duplicate_value, label_priority).")
                      .Register(registry);
  for (std::size_t i = 0; i < kTrimReasonCount; ++i) {
    trimmed_[i] =
        &trimmed.Add({{"exporter", exporter},
                      {"reason", std::string(trimReasonName(static_cast<TrimReason>(i)))}});
  }
}

void WavefrontFormatMetrics::record(const FormatStats& stats) {
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (stats.dropped[i] != 0) invalid_[i]->Increment(static_cast<double>(stats.dropped[i]));
  }
  if (stats.sanitized != 0) sanitized_->Increment(static_cast<double>(stats.sanitized));
  for (std::size_t i = 0; i < kTrimReasonCount; ++i) {
    if (stats.trimmed[i] != 0) trimmed_[i]->Increment(static_cast<double>(stats.trimmed[i]));
  }
}

WavefrontEncoder::WavefrontEncoder(LineFormatOptions options, Compression compression, int level,
                                   std::unique_ptr<WavefrontFormatMetrics> metrics)
    : formatter_(std::move(options)),
      compression_(compression),
      level_(level),
      metrics_(std::move(metrics)) {}

std::size_t WavefrontEncoder::estimateBytes(const Sample& sample) const {
  // name + value + timestamp + source, and each tag as key="value".
  std::size_t n = sample.name.view().size() + 48;
  for (const Label& label : sample.labels) {
    n += label.name.view().size() + label.value.view().size() + 4;
  }
  return n;
}

Result<push::EncodedPayload> WavefrontEncoder::encode(std::span<const Sample> samples,
                                                      std::size_t* dropped) {
  lines_.clear();
  const std::size_t dropped_before = *dropped;
  append(samples, lines_, dropped);
  return compress(lines_, samples.size() - (*dropped - dropped_before));
}

void WavefrontEncoder::append(std::span<const Sample> samples, std::string& raw,
                              std::size_t* dropped) {
  FormatStats stats;
  for (const Sample& sample : samples) formatter_.format(sample, raw, stats);
  totals_.add(stats);
  if (metrics_ != nullptr) metrics_->record(stats);
  *dropped += stats.droppedTotal();
}

Result<push::EncodedPayload> WavefrontEncoder::compress(std::string_view raw, std::size_t samples) {
  push::EncodedPayload payload;
  payload.samples = samples;
  payload.raw_bytes = raw.size();
  payload.content_encoding = std::string(contentEncodingOf(compression_));
  switch (compression_) {
    case Compression::kZstd: {
      auto body = push::zstdCompress(raw, level_ == 0 ? 3 : level_);
      if (!body) return tl::unexpected(body.error());
      payload.body = std::move(*body);
      break;
    }
    case Compression::kGzip: {
      auto body = push::gzipCompress(raw, level_ == 0 ? 6 : level_);
      if (!body) return tl::unexpected(body.error());
      payload.body = std::move(*body);
      break;
    }
    case Compression::kNone:
      payload.body.assign(raw);
      break;
  }
  return payload;
}

}  // namespace kubemetrics::exporters::wavefront
