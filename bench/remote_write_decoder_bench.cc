// Remote-write receive: decoding a real request body (node_exporter, 2000
// series, ../shared/fixtures/remote-write/) into Samples, with and without
// the snappy step, next to libprotobuf parsing the same bytes into its
// generated WriteRequest (the reference; it produces no Samples).
//
//   build/bench/remote_write_decoder_bench --benchmark_counters_tabular=true
//
// `ns/sample` is CPU time per sample (the decoder is single-threaded).
#include <benchmark/benchmark.h>
#include <snappy.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "remote_write/remote_write.pb.h"
#include "scrapers/listeners/remote_write_decoder.h"

namespace kubemetrics::scrapers::listeners {
namespace {

const std::string& nodeExporterRequest() {
  static const std::string raw = [] {
    std::ifstream in(std::string(KM_FIXTURES_DIR) + "/remote-write/node_exporter_writerequest.pb",
                     std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }();
  return raw;
}

const std::string& nodeExporterBody() {
  static const std::string body = [] {
    std::string out;
    snappy::Compress(nodeExporterRequest().data(), nodeExporterRequest().size(), &out);
    return out;
  }();
  return body;
}

void report(benchmark::State& state, std::size_t samples, std::size_t bytes) {
  const auto total = static_cast<double>(samples) * static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes * state.iterations()));
  state.counters["samples"] = static_cast<double>(samples);
  // CPU seconds per sample, shown in ns by the k/m/u/n suffixes.
  state.counters["s/sample"] =
      benchmark::Counter(total, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_DecodeSnappyBody(benchmark::State& state) {
  const std::string& body = nodeExporterBody();
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  std::size_t samples = 0;
  for (auto _ : state) {
    out.clear();  // what a handler does with a reused batch: releases the handles
    auto stats = decoder.decode(body, out);
    if (!stats) state.SkipWithError(stats.error().message().c_str());
    samples = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  report(state, samples, body.size());
}
BENCHMARK(BM_DecodeSnappyBody);

// Every series new to the decoder (no series cache): a sender's first
// request, or series churning faster than the cache holds them.
void BM_DecodeSnappyBodyNoCache(benchmark::State& state) {
  const std::string& body = nodeExporterBody();
  WriteDecodeLimits limits;
  limits.cached_series = 0;
  RemoteWriteDecoder decoder(limits);
  std::vector<Sample> out;
  std::size_t samples = 0;
  for (auto _ : state) {
    out.clear();
    auto stats = decoder.decode(body, out);
    if (!stats) state.SkipWithError(stats.error().message().c_str());
    samples = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  report(state, samples, body.size());
}
BENCHMARK(BM_DecodeSnappyBodyNoCache);

void BM_DecodeUncompressed(benchmark::State& state) {
  const std::string& raw = nodeExporterRequest();
  RemoteWriteDecoder decoder;
  std::vector<Sample> out;
  std::size_t samples = 0;
  for (auto _ : state) {
    out.clear();
    auto stats = decoder.decodeUncompressed(raw, out);
    if (!stats) state.SkipWithError(stats.error().message().c_str());
    samples = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  report(state, samples, raw.size());
}
BENCHMARK(BM_DecodeUncompressed);

void BM_SnappyUncompressOnly(benchmark::State& state) {
  const std::string& body = nodeExporterBody();
  std::string raw(nodeExporterRequest().size(), '\0');
  for (auto _ : state) {
    benchmark::DoNotOptimize(snappy::RawUncompress(body.data(), body.size(), raw.data()));
  }
  report(state, 2000, body.size());
}
BENCHMARK(BM_SnappyUncompressOnly);

void BM_LibprotobufParse(benchmark::State& state) {
  const std::string& raw = nodeExporterRequest();
  exporters::remote_write::pb::WriteRequest request;
  std::size_t samples = 0;
  for (auto _ : state) {
    request.Clear();
    if (!request.ParseFromString(raw)) state.SkipWithError("libprotobuf refused the fixture");
    samples = 0;
    for (const auto& ts : request.timeseries()) samples += ts.samples_size();
    benchmark::DoNotOptimize(request.timeseries_size());
  }
  report(state, samples, raw.size());
}
BENCHMARK(BM_LibprotobufParse);

}  // namespace
}  // namespace kubemetrics::scrapers::listeners
