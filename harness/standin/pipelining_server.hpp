// cpp-httplib's Server, answering every request of a pipelined connection.
//
// Why: Debian's cpp-httplib 0.11.4 reads each keep-alive request through a fresh socket stream
// whose read-ahead buffer dies with it, so when a client pipelines N requests in one write, the
// bytes of requests 2..N sit in the discarded buffer and only the first is answered. A real
// server (SGLang's uvicorn, vLLM) answers all of them, and the stand-in must too. This subclass
// keeps one buffered stream per connection for all its requests and hands each request to
// httplib's own request processing (routing, parsing and responses are unchanged).
#pragma once

#include <httplib.h>

namespace mxg::standin {

class PipeliningServer : public httplib::Server {
 private:
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace mxg::standin
