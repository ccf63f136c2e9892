#pragma once

#include "common/http/http_server.h"
#include "common/http/request_auth.h"
#include "kubemetrics/config.h"

// How a port or route the agent serves is configured, read the same way for
// `server`, `exporters.prometheus` and `sources.listeners.*`.

namespace kubemetrics {

/// Reads an optional `tls:` mapping below `parent` (cert_file, key_file,
/// client_ca_file). Records on the node a key pair given half, or a
/// client_ca_file without a certificate; whether the files can be loaded
/// is checked when the server starts (HttpServer::start), so a
/// configuration can be checked on a machine without the Secret.
ServerTlsOptions parseServerTls(ConfigNode& parent);

/// Reads an optional `basic_auth:` mapping below `parent` (username,
/// password_file); both or neither. The file is read when the endpoint is
/// built (RequestAuth::create).
BasicAuthOptions parseBasicAuth(ConfigNode& parent);

}  // namespace kubemetrics
