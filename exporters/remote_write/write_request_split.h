#pragma once

#include <vector>

#include "common/push/push_exporter.h"

namespace kubemetrics::exporters::remote_write {

/// Splits one remote-write body (a WriteRequest, compressed as its
/// content_encoding says) into two, each with half of its time series, in
/// their order, recompressed the same way; metadata goes with the first
/// half. Empty when the request holds fewer than two series or cannot be
/// read. The sender uses it to keep the rest of a request whose receiver
/// refused some samples (push::PayloadSplitter). Reads only the top-level
/// fields and counts each series' samples; pure and thread-safe.
std::vector<push::EncodedPayload> splitWriteRequest(const push::EncodedPayload& payload);

}  // namespace kubemetrics::exporters::remote_write
