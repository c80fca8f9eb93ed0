// External protocol v2 messages: what mxguard writes parses back, and every malformed answer a
// worker could give is refused with one line naming the message and field, never a crash.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/backend/worker_protocol.hpp"
#include "kernels/common/errors.hpp"

namespace mxg::worker {
namespace {

using ::testing::HasSubstr;

std::string refusal_of_response(const std::string& line) {
  try {
    parse_response(line);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string refusal_of_hello(const std::string& line) {
  try {
    parse_hello(line);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(WorkerProtocol, HelloRoundTripsWithVersions) {
  const Hello h{"aiter fused_moe", "0.1.5", "gfx950 (AMD Instinct MI355X)", {{"torch", "2.8.0"}, {"rocm", "7.0"}}};
  const std::string line = format_hello(h);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_THAT(line, HasSubstr("\"protocol\":\"mxguard-worker/2\""));
  const Hello back = parse_hello(line);
  EXPECT_EQ(back.kernel, h.kernel);
  EXPECT_EQ(back.kernel_version, h.kernel_version);
  EXPECT_EQ(back.device, h.device);
  EXPECT_EQ(back.versions, h.versions);
}

TEST(WorkerProtocol, HelloWrittenByHandIsRead) {
  // The spec's example (EXTERNAL_PROTOCOL.md), with fields in another order and one unknown field.
  const Hello h = parse_hello(
      R"({"device": "cpu", "kernel": "k", "protocol": "mxguard-worker/2", "type": "hello", "pid": 12})");
  EXPECT_EQ(h.kernel, "k");
  EXPECT_EQ(h.device, "cpu");
  EXPECT_TRUE(h.kernel_version.empty());
  EXPECT_TRUE(h.versions.empty());
}

TEST(WorkerProtocol, RequestCarriesIdAndPathsWithQuotesAndNewlinesEscaped) {
  const Request r{"case/shape/T=1/flag=1", "/tmp/a \"b\"\n/problem.safetensors", "/tmp/y.safetensors"};
  const std::string line = format_request(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);  // one message, one line
  const Request back = parse_request(line);
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.problem, r.problem);
  EXPECT_EQ(back.output, r.output);
}

TEST(WorkerProtocol, ResponsesOkErrorAndFatal) {
  const Response ok = parse_response(R"({"type":"result","id":"x","status":"ok"})");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.id, "x");
  const Response err = parse_response(R"({"type":"result","id":"x","status":"error","message":"no kernel"})");
  EXPECT_FALSE(err.ok);
  EXPECT_FALSE(err.fatal);
  EXPECT_EQ(err.message, "no kernel");
  const Response fatal = parse_response(format_response({"y", false, "GPU fault", true}));
  EXPECT_FALSE(fatal.ok);
  EXPECT_TRUE(fatal.fatal);
  EXPECT_EQ(fatal.message, "GPU fault");
}

TEST(WorkerProtocol, GarbageIsRefusedNamingWhatIsWrong) {
  EXPECT_THAT(refusal_of_response("Loading kernels..."), HasSubstr("not a JSON line"));
  EXPECT_THAT(refusal_of_response("[1,2]"), HasSubstr("expected a JSON object"));
  EXPECT_THAT(refusal_of_response(R"({"type":"hello"})"), HasSubstr("field 'type'"));
  EXPECT_THAT(refusal_of_response(R"({"type":"result","status":"ok"})"), HasSubstr("field 'id' is missing"));
  EXPECT_THAT(refusal_of_response(R"({"type":"result","id":7,"status":"ok"})"), HasSubstr("field 'id'"));
  EXPECT_THAT(refusal_of_response(R"({"type":"result","id":"x","status":"maybe"})"), HasSubstr("\"maybe\""));
  EXPECT_THAT(refusal_of_response(R"({"type":"result","id":"x","status":"error","fatal":"yes"})"),
              HasSubstr("field 'fatal'"));
}

TEST(WorkerProtocol, HelloOfAnotherProtocolOrWithoutKernelIsRefused) {
  EXPECT_THAT(refusal_of_hello(R"({"type":"hello","protocol":"mxguard-worker/3","kernel":"k"})"),
              HasSubstr("mxguard-worker/3"));
  EXPECT_THAT(refusal_of_hello(R"({"type":"hello","protocol":"mxguard-worker/2"})"), HasSubstr("'kernel'"));
  EXPECT_THAT(refusal_of_hello(R"({"type":"hello","protocol":"mxguard-worker/2","kernel":"k","versions":{"a":1}})"),
              HasSubstr("versions.a"));
}

TEST(WorkerProtocol, DeepNestingIsRefusedWithoutRecursingThroughIt) {
  // 30,000 levels fit in one line below the size bound; the parser must stop at kMaxDepth.
  const std::string deep = R"({"type":"result","id":"x","status":"ok","extra":)" + std::string(30000, '[') +
                           std::string(30000, ']') + "}";
  ASSERT_LT(deep.size(), kMaxLineBytes);
  EXPECT_THAT(refusal_of_response(deep), HasSubstr("nested deeper than"));
}

TEST(WorkerProtocol, LineLongerThanTheBoundIsRefusedBeforeParsing) {
  const std::string huge = R"({"type":"result","id":")" + std::string(kMaxLineBytes, 'a') + R"(","status":"ok"})";
  EXPECT_THAT(refusal_of_response(huge), HasSubstr("more than the protocol's"));
}

}  // namespace
}  // namespace mxg::worker
