#pragma once

#include <string>
#include <string_view>

#include "common/kube/objects.h"
#include "kubemetrics/result.h"

namespace kubemetrics::kube {

/// The resource usage of one pod as the resource metrics API serves it
/// (metrics.k8s.io/v1beta1 PodMetrics, from metrics-server): summed over
/// its `containers[].usage`. CPU in millicores (a rate over the object's
/// `window`), memory in bytes (the containers' working set, which is what
/// the API reports as "memory"). Plain value type.
struct PodUsage {
  std::string namespace_name;
  std::string name;
  double cpu_millicores = 0;
  double memory_bytes = 0;
};

/// Decodes a PodMetricsList (GET /apis/metrics.k8s.io/v1beta1/pods), field
/// names and shapes per the PodMetrics v1beta1 reference
/// (k8s.io/metrics/pkg/apis/metrics/v1beta1/types.go): items[].metadata
/// {namespace, name}, items[].containers[] {name, usage {cpu, memory}}
/// with resource.Quantity strings ("1532417n", "24180Ki"). Unknown fields
/// ignored; a usage without cpu or memory adds 0 for it; a missing name,
/// a container without `usage` or a value that is not a quantity is a
/// kInvalidArgument error starting with its JSON path. Pure function;
/// thread-safe.
Result<ObjectList<PodUsage>> decodePodMetricsList(std::string_view json);

}  // namespace kubemetrics::kube
