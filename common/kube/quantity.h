#pragma once

#include <string_view>

#include "kubemetrics/result.h"

namespace kubemetrics::kube {

// Parsers for Kubernetes resource.Quantity strings, the format of every
// requests/limits/capacity/allocatable value in the API
// (k8s.io/apimachinery/pkg/api/resource, quantity.go):
//
//   <quantity> ::= <sign><digits>[.<digits>]<suffix>
//   <suffix>   ::= n u m "" k M G T P E          (decimal SI)
//                | Ki Mi Gi Ti Pi Ei             (binary SI)
//                | e<signed int> | E<signed int> (decimal exponent)
//
// Values become doubles: the agent reports them as metric samples, so the
// exact decimal representation Kubernetes keeps is not needed. Pure
// functions; thread-safe.

/// CPU quantity in millicores: "250m" -> 250, "2" -> 2000, "0.5" -> 500,
/// "100u" -> 0.1. kInvalidArgument naming the text for anything that is not
/// a quantity ("", "12Q", "1.2.3", "--1").
Result<double> parseCpuMillicores(std::string_view quantity);

/// Quantity as a plain number (memory in bytes): "128Mi" -> 134217728,
/// "1k" -> 1000, "500m" -> 0.5, "1e3" -> 1000. Same errors as above.
Result<double> parseQuantity(std::string_view quantity);

}  // namespace kubemetrics::kube
