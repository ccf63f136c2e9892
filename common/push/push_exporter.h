#pragma once

// Generic push machinery shared by the push exporters (remote_write,
// wavefront). An exporter is three pieces:
//
//   PayloadEncoder  samples -> one request body (protobuf+snappy, Wavefront
//                   lines+zstd, ...). Format-specific.
//   Transport       one attempt to hand one body to the backend (HTTP POST via
//                   HttpClient, or a TCP stream to a Wavefront proxy), saying
//                   delivered / retry / drop. Format-specific.
//   PushExporter    everything else, shared: batching by size and time,
//                   bounded requests in flight, retry with backoff + jitter,
//                   drop-and-count, the disk spool, self-metrics.
//
// How wavefront plugs in (the same way remote_write does):
//   1. Parse its own keys plus the shared ones with parsePushConfig(node, ...)
//      (timeout, batch, max_in_flight, retry, queue_capacity) and take the
//      spool settings from its ComponentContext (`exporters.spool`, which
//      the agent reads before building any exporter).
//   2. Implement PayloadEncoder (lines, then zstd/gzip via compression.h) and
//      either use makeHttpTransportFactory() (direct ingestion: POST
//      /report?f=wavefront with a bearer header) or write a TCP Transport
//      (proxy mode). A Transport classifies its own failures; for HTTP use
//      classifyHttpStatus().
//   3. PushExporter::create(name, config, std::move(encoder), factory,
//      registry, context->clock) and return it from the factory.
// The encoder and transports never see the spool: a spooled record replays
// through Transport::deliver() with the stored EncodedPayload unchanged, so
// a payload must be self-contained (no per-connection state in the body).
//
// API stable: additions only.

#include <prometheus/registry.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubemetrics/clock.h"
#include "kubemetrics/component.h"
#include "kubemetrics/config.h"
#include "kubemetrics/deadline.h"
#include "kubemetrics/exporter.h"
#include "kubemetrics/http_client.h"
#include "kubemetrics/result.h"
#include "kubemetrics/sample.h"

namespace kubemetrics {
class SecretFile;
}  // namespace kubemetrics

namespace kubemetrics::push {

/// One request body, ready to send or to spool. A value type.
struct EncodedPayload {
  std::string body;           // compressed, as it goes on the wire
  std::size_t samples = 0;    // samples it carries (for the self-metrics)
  std::size_t raw_bytes = 0;  // size before compression
  // Content-Encoding of `body`; PushExporter sets it from the encoder and
  // the spool keeps it, so a record written before a compression change
  // still replays with its own encoding. "" means identity.
  std::string content_encoding;
};

/// Splits one encoded body into two or more smaller ones that together
/// carry the same samples, in the same order, each series whole in one of
/// them; empty when it cannot (one series, or a body it cannot read). The
/// exporter uses it to keep the rest of a request whose receiver refused
/// some samples. Pure: called from any sender thread.
using PayloadSplitter = std::function<std::vector<EncodedPayload>(const EncodedPayload&)>;

/// Turns samples into one request body. Owned by one PushExporter, which
/// calls it from one thread at a time (it serialises callers), so an
/// implementation may keep scratch buffers without locking.
class PayloadEncoder {
 public:
  virtual ~PayloadEncoder() = default;
  /// Encodes and compresses `samples` into one body. Samples the format
  /// cannot carry (invalid after mapping) are left out and added to
  /// `*dropped` (never null); they never make the whole call fail. An error
  /// (kInternal: the compressor failed) drops the whole batch, counted.
  virtual Result<EncodedPayload> encode(std::span<const Sample> samples, std::size_t* dropped) = 0;
  /// The Content-Encoding of the body: "snappy", "zstd", "gzip" or "".
  virtual std::string_view contentEncoding() const = 0;
  /// Rough size of `sample` once encoded, before compression, in bytes; the
  /// exporter sums it to cut batches at batch.max_bytes. Must be cheap.
  virtual std::size_t estimateBytes(const Sample& sample) const {
    return 64 + sample.name.view().size() + sample.labels.size() * 32;
  }
  /// How to split this encoder's bodies (see PayloadSplitter); none by
  /// default: a refused body is dropped whole.
  virtual PayloadSplitter splitter() const { return {}; }

  // Incremental encoding, for a format whose uncompressed body is a run of
  // independent pieces (remote write's TimeSeries, Wavefront's lines): the
  // exporter then encodes each sample once, as it arrives, journals those
  // bytes (spool.mode wal) rather than the samples, and only compresses at
  // the cut. An encoder without it gets encode() at the cut.

  /// True when append() and compress() are implemented. Constant.
  virtual bool appends() const { return false; }
  /// Appends the uncompressed encoding of `samples` to `raw`, which holds
  /// earlier append() output of this encoder (or is empty): what encode()
  /// would write for them, so a format that groups a series' samples does
  /// so within the call (the exporter passes each send()'s share of a
  /// batch in one call). Samples the format cannot carry are left out and
  /// added to `*dropped`.
  virtual void append(std::span<const Sample> samples, std::string& raw, std::size_t* dropped) {
    (void)samples, (void)raw, (void)dropped;
  }
  /// Compresses `raw` (append() output, possibly of an earlier run, read
  /// back from the journal) into one body carrying `samples` samples. An
  /// error (kInternal: the compressor failed) drops the batch, counted.
  virtual Result<EncodedPayload> compress(std::string_view raw, std::size_t samples) {
    (void)raw, (void)samples;
    return makeError(ErrorCode::kInternal, "this encoder does not append");
  }
};

using PayloadEncoderPtr = std::unique_ptr<PayloadEncoder>;

/// The result of one delivery attempt.
struct DeliveryOutcome {
  enum class Kind {
    kDelivered,  // the backend acknowledged the body
    kRetry,      // worth retrying: connection error, timeout, 5xx, 429, 401/403/404/413
    kDrop,       // the backend refused the body for good (400, 422)
  };
  Kind kind = Kind::kDelivered;
  /// For kRetry: the backend's Retry-After, 0 when it gave none. The
  /// exporter waits at least this long (capped by retry.max_backoff).
  std::chrono::milliseconds retry_after{0};
  /// For kRetry/kDrop: what went wrong, with the backend's message (status
  /// and body excerpt), for the rate-limited log line.
  std::string message;
  /// For kDrop: the backend refused some of the samples (out of order, too
  /// old, a duplicate timestamp), not the body, so the others may go in a
  /// smaller request (PayloadEncoder::splitter()).
  bool refused_samples = false;

  static DeliveryOutcome delivered() { return {}; }
  static DeliveryOutcome retry(
      std::string message, std::chrono::milliseconds retry_after = std::chrono::milliseconds(0)) {
    return {Kind::kRetry, retry_after, std::move(message)};
  }
  static DeliveryOutcome drop(std::string message, bool refused_samples = false) {
    return {Kind::kDrop, std::chrono::milliseconds(0), std::move(message), refused_samples};
  }
};

/// One connection's worth of sending. Each sender thread of a PushExporter
/// owns one Transport (HttpClient is per-thread), so an implementation is
/// not thread-safe and may keep a connection open between calls.
class Transport {
 public:
  virtual ~Transport() = default;
  /// One attempt to deliver `payload`, returning by `deadline` (the request
  /// timeout, or earlier at shutdown). Never throws; every failure is an
  /// outcome (connection errors and timeouts are kRetry).
  virtual DeliveryOutcome deliver(const EncodedPayload& payload, Deadline deadline) = 0;
  /// Called from another thread (the shutdown, at its deadline): ends the
  /// deliver() in progress now, as a kRetry, so its payload is spooled
  /// rather than the stop waiting out the request timeout. Thread-safe; no
  /// effect on later calls. The default does nothing (the attempt ends at
  /// its own deadline).
  virtual void cancel() {}
};

using TransportPtr = std::unique_ptr<Transport>;
/// Makes one Transport per sender thread; called max_in_flight times from
/// PushExporter::create (a failure there is a start-up error). Thread-safe.
using TransportFactory = std::function<Result<TransportPtr>()>;

/// Maps an HTTP response to an outcome: 2xx delivered; 400 and 422 (the
/// receiver refuses this body or its samples for good) drop; every other
/// status retries (Retry-After in seconds or as an HTTP date honoured), so
/// an expired token (401/403), a route being deployed (404) or a limit
/// (413, 429) never discards data. `body` is excerpted (first 256 bytes,
/// one line) into the message.
DeliveryOutcome classifyHttpStatus(int status, std::string_view retry_after, std::string_view body);
/// Parses a Retry-After value (delta-seconds or IMF-fixdate) into a wait
/// from now; 0 when absent or malformed. Capped at one hour.
std::chrono::milliseconds parseRetryAfter(std::string_view value);

/// The value of an Authorization header, computed per request (a secret
/// file may have been rotated); an error makes the attempt a retry.
/// Called from every sender thread: thread-safe.
using Authorization = std::function<Result<std::string>()>;

/// An HTTP POST transport: `url`, the fixed `headers` (Content-Type,
/// auth, ...) plus Content-Encoding from the encoder and Content-Length.
struct HttpTransportOptions {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  Authorization authorization;  // when set, the Authorization header of every attempt
  HttpClientOptions client;     // TLS, user agent, connect timeout
};
/// A factory making one HttpClient-backed Transport per sender thread.
/// Every error from HttpClient::send is kRetry (the URL and headers were
/// checked at start-up; what fails later is the network, TLS or the peer).
TransportFactory makeHttpTransportFactory(HttpTransportOptions options,
                                          std::string content_encoding);
/// An HttpTransportOptions::authorization sending "Bearer <token>", the
/// token read from `token` (re-read when the file changes).
Authorization bearerAuthorization(std::shared_ptr<SecretFile> token);

/// `exporters.spool` (kubemetrics/component.h): the agent reads it once and
/// hands it to every push exporter through ComponentContext::spool.
using SpoolConfig = SpoolSettings;

/// The settings every push exporter shares, under its own key.
struct PushConfig {
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per request
  struct Batch {
    std::size_t max_samples = 10000;       // cut a batch at this many samples
    std::uint64_t max_bytes = 4ULL << 20;  // ... or this many bytes before compression
    std::chrono::milliseconds max_wait{std::chrono::seconds(5)};  // ... or after this long
  } batch;
  int max_in_flight = 2;  // sender threads = requests in flight at once
  // Encoded payloads waiting for a sender; beyond, payloads go to the spool.
  std::size_t queue_capacity = 8;
  struct Retry {
    std::chrono::milliseconds initial_backoff{500};
    std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
    // Attempts per payload before it goes to the spool (or, without one,
    // is counted as failed). Spooled payloads are retried until delivered.
    int max_attempts = 5;
  } retry;
  SpoolConfig spool;
  // Also deliver the agent's own self-metrics (the `kubemetrics_*` series
  // of /metrics) to this backend, every self_metrics_interval (>= 1s).
  // The agent reads these; the exporter only carries them.
  bool self_metrics = false;
  std::chrono::milliseconds self_metrics_interval{std::chrono::seconds(60)};

  /// Every problem, paths relative to the exporter's key ("batch.max_samples").
  std::vector<ConfigError> validate() const;
};

/// Reads timeout, batch{max_samples,max_bytes,max_wait}, max_in_flight,
/// queue_capacity, retry{initial_backoff,max_backoff,max_attempts},
/// self_metrics, self_metrics_interval from
/// `node` into `config` (keeping defaults for absent keys) and records
/// validation errors on `node`. Does not call node.finish(). Start-up only.
void parsePushConfig(ConfigNode& node, PushConfig& config);
/// Every problem of `spool`, paths relative to `exporters.spool`.
std::vector<ConfigError> validateSpoolConfig(const SpoolConfig& spool);
/// Reads `exporters.spool` into a SpoolConfig, records errors, finish()es.
/// The agent calls it before building any exporter. Start-up only.
SpoolConfig parseSpoolConfig(ConfigNode& node);

/// Counters of one PushExporter, for tests and the bench (the same numbers
/// are self-metrics). Plain snapshot.
struct PushStats {
  std::uint64_t sent_samples = 0;               // acknowledged by the backend
  std::uint64_t failed_samples = 0;             // attempts that failed (each retryable failure)
  std::uint64_t retried_samples = 0;            // samples in re-sent payloads
  std::uint64_t dropped_samples = 0;            // lost for good, any reason
  std::uint64_t spooled_samples = 0;            // held in the spool: not deliverable at once
  std::uint64_t journaled_samples = 0;          // written ahead to the spool (wal mode)
  std::uint64_t spool_records = 0;              // records waiting in the spool now
  std::uint64_t spool_bytes = 0;                // bytes of segment files now
  std::uint64_t spool_corrupt_records = 0;      // skipped by CRC/length checks
  std::uint64_t spool_write_errors = 0;         // failed appends (disk full, I/O error)
  std::uint64_t journal_recovered_samples = 0;  // read back from a crashed run's journal
  std::uint64_t journal_write_errors = 0;       // journal files not created or written
  std::uint64_t requests = 0;                   // delivery attempts
};

/// A push exporter built from an encoder and a transport factory. The
/// pipeline's flusher thread calls send(); the samples are copied into the
/// current batch (handles, not text), which is encoded when it reaches
/// batch.max_samples / batch.max_bytes, or by the timer thread after
/// batch.max_wait. With spool.mode wal (the default with a spool) the
/// samples are journaled as they are added (batch_journal.h: a killed run's
/// batch is sent first by the next), every encoded payload is appended to
/// the spool and the sender threads replay it from there, oldest first, one
/// at a time, acknowledging it once the backend has it. Otherwise
/// (overflow, or no spool) payloads wait in a bounded queue for one of
/// max_in_flight sender threads; a payload that cannot be queued, or whose
/// retries are exhausted, goes to the spool, which the senders replay
/// oldest-first whenever they are idle and the backend answers again (and
/// after a restart). send() never waits for the network (a wal append is a
/// local write).
///
/// Inside, three parts each own one queue under a lock of their own:
/// Batcher (batcher.h: the current batch, the encoder, the timer),
/// SenderPool (sender_pool.h: the payload queue, the senders, retries) and
/// SpoolReplayer (spool_replayer.h: the spool and the replay schedule);
/// this class wires them. Every time it reads and every wait (max_wait,
/// backoff, replay, the shutdown deadline) is by the Clock given to
/// create(); only the request timeout handed to a Transport is real time.
///
/// Thread-safe: send() (one caller at a time, the flusher), the timer and
/// the senders share state only through those parts; encoding and network
/// I/O run outside every lock. shutdown() encodes what is pending, lets the
/// senders try the queue until `deadline`, cancels the requests still on
/// the wire (Transport::cancel; their payloads are spooled), spools the
/// rest and joins every thread: the stop is bounded by the deadline.
/// The registry and the clock must outlive the exporter.
class PushExporter : public Exporter {
 public:
  /// Registers the self-metrics (labelled exporter=`name`), opens the spool
  /// under spool.dir/`name` (scanning existing segments: a restart replays
  /// them), makes max_in_flight transports and starts the threads. Errors:
  /// the spool directory cannot be created or read (kUnavailable), the
  /// factory failed, a metric name clash (kInternal). `clock` times
  /// batching, backoff, replays and shutdown (a test passes a manual one).
  static Result<std::unique_ptr<PushExporter>> create(std::string name, PushConfig config,
                                                      PayloadEncoderPtr encoder,
                                                      TransportFactory transports,
                                                      prometheus::Registry& registry,
                                                      const Clock& clock = systemClock());
  ~PushExporter() override;

  // kubemetrics::Exporter
  std::string_view name() const override;
  /// Adds the batch's samples to the current batch; encodes and queues full
  /// batches (spooling them when the queue is full). Fails only after
  /// shutdown (kUnavailable).
  Result<void> send(SharedBatch batch) override;
  void shutdown(Deadline deadline) override;
  /// Flush mode: batch.max_wait and every backoff capped at 1 s, spooled
  /// records replayed at once, live payloads retried without limit rather
  /// than spooled (overflow mode). Once.
  void prepareForTermination(std::chrono::system_clock::time_point at) override;

  /// Encodes and queues whatever is pending now, without waiting for
  /// max_wait (tests; the timer does it otherwise).
  void flushForTest();
  /// True once nothing is pending, being encoded, queued, in flight,
  /// replaying or spooled.
  bool idleForTest() const;
  /// No spool and the payload queue half full (Exporter::backlogged).
  bool backlogged() const override;
  PushStats stats() const;
  /// The settings it was created with (the agent reads self_metrics).
  const PushConfig& config() const;

 private:
  class Impl;
  explicit PushExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubemetrics::push
