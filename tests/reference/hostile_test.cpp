// Hostile peers: arbitrary (decodable) messages in any order never crash
// either core, and every frame the server answers with still conforms.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/validate.hpp"
#include "reference/client_core.hpp"
#include "reference/server_core.hpp"
#include "tests/support/generators.hpp"

namespace syncsim::test {
namespace {

using namespace protocol;
using namespace reference;

RC_GTEST_PROP(FRAME_10, ServerCoreSurvivesArbitraryMessages, ()) {
  ServerCore server;
  const auto a = *server.open_session("a:1", Now{0, 0});
  const auto b = *server.open_session("b:1", Now{0, 0});
  Handshake hs;
  hs.wire_version = 1;
  if (*rc::gen::arbitrary<bool>()) server.on_frame(a, hs, Now{0, 0});
  const auto messages =
      *rc::gen::resize(40, rc::gen::container<std::vector<Message>>(gen_message()));
  std::int64_t t = 0;
  for (const auto& m : messages) {
    t += *rc::gen::inRange<std::int64_t>(0, 5000);
    server.on_frame(*rc::gen::arbitrary<bool>() ? a : b, m, Now{t, 1'750'000'000'000 + t});
    server.advance(Now{t, 1'750'000'000'000 + t});
    for (const auto& o : server.take_output()) {
      for (const auto& f : validate(o.message, Sender::Server)) {
        // DELTA-10: a scenario-free server only uses fixed reasons; value
        // rules hold whatever the peer sent.
        RC_ASSERT(f.level != Level::Must);
      }
    }
  }
  server.close_session(a, Now{t, t});
  server.close_session(b, Now{t, t});
}

RC_GTEST_PROP(FRAME_10, ClientCoreSurvivesArbitraryMessages, ()) {
  sim::Prng rng(1);
  ClientCore client({}, {}, rng);
  client.on_connected(Now{0, 0});
  HandshakeAck ack;
  ack.success = true;
  ack.session_id = "s";
  ack.server_wire_version = 4;
  client.on_frame(ack, Now{0, 0});
  client.write("orders", "d", {1});
  const auto messages =
      *rc::gen::resize(40, rc::gen::container<std::vector<Message>>(gen_message()));
  std::int64_t t = 0;
  for (const auto& m : messages) {
    t += *rc::gen::inRange<std::int64_t>(0, 5000);
    client.on_frame(m, Now{t, t});
    client.advance(Now{t, t});
    for (const auto& out : client.take_output()) {
      for (const auto& f : validate(out, Sender::Client)) RC_ASSERT(f.level != Level::Must);
    }
  }
  client.on_disconnected(Now{t, t});
}

}  // namespace
}  // namespace syncsim::test
