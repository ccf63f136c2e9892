#include "listener_metrics.h"

#include <utility>

namespace kubemetrics::scrapers::listeners {

ListenerMetrics::ListenerMetrics(prometheus::Registry& registry, std::string listener)
    : listener_(std::move(listener)),
      received_(prometheus::BuildCounter()
                    .Name("kubemetrics_listener_received_samples_total")
                    .Help("Samples pushed to a listener and handed to the pipeline.")
                    .Register(registry)
                    .Add({{"listener", listener_}})),
      rejected_(prometheus::BuildCounter()
                    .Name("kubemetrics_listener_rejected_total")
                    .Help("Lines (wavefront) or series (remote_write) a listener rejected "
                          "alone, by reason; the rest of their payload was delivered.")
                    .Register(registry)),
      refused_(prometheus::BuildCounter()
                   .Name("kubemetrics_listener_refused_requests_total")
                   .Help("Requests or connections a listener refused whole, by reason.")
                   .Register(registry)),
      lost_(prometheus::BuildCounter()
                .Name("kubemetrics_listener_lost_lines_total")
                .Help("Lines sent over TCP that could not be delivered, by reason: "
                      "truncated (the connection ended inside the line) or unflushed (the "
                      "agent stopped while the pipeline was full).")
                .Register(registry)) {}

void ListenerMetrics::rejected(std::string_view reason, std::uint64_t count) {
  rejected_.Add({{"listener", listener_}, {"reason", std::string(reason)}})
      .Increment(static_cast<double>(count));
}

void ListenerMetrics::refused(std::string_view reason) {
  refused_.Add({{"listener", listener_}, {"reason", std::string(reason)}}).Increment();
}

void ListenerMetrics::lost(std::string_view reason, std::uint64_t lines) {
  lost_.Add({{"listener", listener_}, {"reason", std::string(reason)}})
      .Increment(static_cast<double>(lines));
}

}  // namespace kubemetrics::scrapers::listeners
