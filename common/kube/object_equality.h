#pragma once

#include "kubemetrics/kube_metadata.h"

namespace kubemetrics::kube {

// Field-by-field equality of the metadata types (include/ declares no
// operator== for them), so a re-list or a MODIFIED event that changes
// nothing the agent keeps publishes no new snapshot and keeps the old
// objects shared. Pure functions.
bool sameResources(const KubeResources& a, const KubeResources& b);
bool sameContainer(const KubeContainer& a, const KubeContainer& b);
bool samePod(const KubePod& a, const KubePod& b);
bool sameNode(const KubeNode& a, const KubeNode& b);

}  // namespace kubemetrics::kube
