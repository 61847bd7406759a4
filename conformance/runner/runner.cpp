#include "conformance/runner/runner.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "protocol/codec.hpp"
#include "reference/client.hpp"
#include "reference/persistence.hpp"
#include "reference/runtime.hpp"
#include "reference/server.hpp"

namespace syncsim::conformance {

using namespace reference;

namespace {

constexpr std::uint16_t kPort = 9091;

struct Run {
  sim::World* world = nullptr;
  SessionChecker checker;
  std::shared_ptr<Server<SimRuntime>> server;
  std::map<std::string, std::shared_ptr<Client<SimRuntime>>> clients;

  void judge(const protocol::Message& m, std::uint64_t conn, protocol::Sender from, Seen seen) {
    checker.on_frame(FrameRecord{world->now(), conn, from, protocol::encode_frame(m), seen});
  }
};

sim::Time at(double seconds) { return static_cast<sim::Time>(seconds * 1e9); }

// Adds the named bugs to `bugs`; false (with a failure recorded) on an
// unknown name.
template <class Bug, class FromName>
bool add_bugs(const std::vector<std::string>& names, FromName from_name, std::set<Bug>& bugs,
              const char* side, ScenarioResult& result) {
  for (const auto& b : names) {
    auto bug = from_name(b);
    if (!bug) {
      result.failures.push_back(std::string("invalid scenario: unknown ") + side + " bug \"" + b +
                                "\"");
      return false;
    }
    bugs.insert(*bug);
  }
  return true;
}

}  // namespace

ScenarioResult run_scenario(const Scenario& s, std::uint64_t seed) {
  ScenarioResult result;
  result.name = s.name;
  result.file = s.file;
  result.seed = seed;

  // Bug names are the reference's; unknown ones make the scenario invalid.
  ServerConfig server_config;
  if (!add_bugs(s.server_bugs, server_bug_from_name, server_config.bugs, "server", result))
    return result;
  std::map<std::string, ClientConfig> client_configs;
  for (const auto& c : s.clients) {
    ClientConfig cfg;
    if (!add_bugs(c.bugs, client_bug_from_name, cfg.bugs, "client", result)) return result;
    for (const auto& coll : c.shapes) {
      protocol::ShapeDefinition shape;
      shape.shape_id = coll + "-all";
      shape.shape_type = protocol::shape_type::Document{coll, {}};
      cfg.shapes.push_back(shape);
    }
    client_configs[c.name] = cfg;
  }

  sim::WorldOptions options;
  options.seed = seed;
  sim::World w(options);
  Run run;
  run.world = &w;
  w.default_link().latency = at(s.latency_ms / 1000);
  w.default_link().jitter = at(s.jitter_ms / 1000);
  w.default_link().segment_loss = sim::Ratio::ppm(s.segment_loss_ppm);

  w.add_node("server", [&run, server_config](sim::Host& h) {
    run.server = std::make_shared<Server<SimRuntime>>(SimRuntime{&h}, server_config);
    run.server->on_send = [&run](const protocol::Message& m, std::uint64_t conn) {
      run.judge(m, conn, protocol::Sender::Server, Seen::Written);
    };
    run.server->on_receive = [&run](const protocol::Message& m, std::uint64_t conn) {
      run.judge(m, conn, protocol::Sender::Client, Seen::Received);
    };
    run.server->on_closed = [&run](std::uint64_t conn) {
      run.checker.on_close(conn, run.world->now());
    };
    boost::system::error_code ec;
    run.server->start(kPort, ec);
    return std::shared_ptr<void>(run.server);
  });
  for (const auto& c : s.clients) {
    const ClientConfig cfg = client_configs[c.name];
    const std::string name = c.name;
    w.add_node(
        name,
        [&run, cfg, name](sim::Host& h) {
          auto& disk = h.disk();
          const ClientPersistent p = load_persistent(disk);  // DELTA-1, HS-12
          auto client = std::make_shared<Client<SimRuntime>>(SimRuntime{&h},
                                                             sim::Address{"server", kPort}, cfg, p);
          client->on_persist = [&disk](const ClientPersistent& st) { save_persistent(disk, st); };
          client->on_send = [&run](const protocol::Message& m, std::uint64_t conn) {
            run.judge(m, conn, protocol::Sender::Client, Seen::Written);
          };
          client->on_receive = [&run](const protocol::Message& m, std::uint64_t conn) {
            run.judge(m, conn, protocol::Sender::Server, Seen::Received);
          };
          client->on_closed = [&run](std::uint64_t conn) {
            run.checker.on_close(conn, run.world->now());
          };
          client->start();
          run.clients[name] = client;
          return std::shared_ptr<void>(client);
        },
        sim::ClockParams{c.clock_offset_ms * sim::kMillisecond, c.drift_ppm});
  }
  // Workload: each client writes its documents at random times of the window.
  for (const auto& c : s.clients) {
    auto& rng = w.host(*w.find_node(c.name)).rng("workload");
    const std::string collection = c.shapes.empty() ? "orders" : c.shapes.front();
    for (int i = 0; i < c.writes; ++i) {
      const sim::Time t =
          rng.between(at(s.write_from_s), std::max(at(s.write_from_s), at(s.write_until_s)));
      const std::string doc = "doc-" + std::to_string(rng.below(10));
      protocol::Bytes value{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8), 7};
      const std::string name = c.name;
      w.at(t, [&run, name, collection, doc, value] {
        if (auto it = run.clients.find(name); it != run.clients.end())
          it->second->write(collection, doc, value);
      });
    }
  }
  // Faults and admin actions.
  for (const auto& e : s.events) {
    std::vector<sim::NodeId> ids;
    for (const auto& n : e.nodes) ids.push_back(*w.find_node(n));
    w.at(at(e.at_s), [&w, &run, e, ids] {
      if (e.action == "partition") w.partition(ids[0], ids[1]);
      if (e.action == "partition-one-way") w.partition(ids[0], ids[1], true);
      if (e.action == "heal") w.heal(ids[0], ids[1]);
      if (e.action == "restart") w.restart(ids[0], false);
      if (e.action == "crash") w.crash(ids[0]);
      if (e.action == "clock-jump") w.clock_jump(ids[0], e.delta_ms * sim::kMillisecond);
      if (e.action == "purge" && run.server) {
        run.checker.on_purge(0, e.collection, w.now());
        run.server->purge_collection(0, e.collection);
      }
      if (e.action == "reset") {
        for (const auto id : w.connection_ids_of(ids[0])) w.reset_connection(id);
      }
    });
  }

  const auto r = w.run_until(at(s.duration_s));
  run.checker.finish(w.now());
  result.events = r.events;
  result.frames = run.checker.frames();
  result.findings = run.checker.findings();
  result.must_findings = run.checker.must_count();
  result.trace_hash = w.trace().hash();
  result.virtual_s = static_cast<double>(w.now()) / 1e9;

  // Expectations.
  if (s.expect.max_must_findings &&
      result.must_findings > static_cast<std::size_t>(*s.expect.max_must_findings)) {
    result.failures.push_back(
        std::to_string(result.must_findings) + " MUST findings (allowed " +
        std::to_string(*s.expect.max_must_findings) + "); first: " +
        format_check_finding(
            *std::find_if(result.findings.begin(), result.findings.end(),
                          [](const auto& f) { return f.finding.level == protocol::Level::Must; })));
  }
  for (const auto& rule : s.expect.flagged) {
    const bool found =
        std::any_of(result.findings.begin(), result.findings.end(), [&](const CheckFinding& f) {
          return f.finding.rule == rule && f.finding.level == protocol::Level::Must;
        });
    if (!found)
      result.failures.push_back("expected a MUST finding for " + rule + ", none was found");
  }
  if (s.expect.converged && run.server) {
    for (const auto& c : s.clients) {
      auto it = run.clients.find(c.name);
      if (it == run.clients.end() || !w.is_up(*w.find_node(c.name))) continue;
      auto& core = it->second->core();
      if (!core.authenticated()) result.failures.push_back(c.name + " is not connected at the end");
      if (core.pending() > 0) {
        result.failures.push_back(c.name + " still has " + std::to_string(core.pending()) +
                                  " unacknowledged mutations");
      }
      for (const auto& coll : c.shapes) {
        const auto& store = run.server->core().collections();
        const auto sit = store.find({0, coll});
        const std::map<std::string, protocol::Bytes> empty;
        const auto& server_docs = sit == store.end() ? empty : sit->second.documents;
        const auto vit = core.view().find(coll);
        const auto& client_docs = vit == core.view().end() ? empty : vit->second;
        if (client_docs != server_docs) {
          result.failures.push_back(c.name + "'s view of \"" + coll + "\" has " +
                                    std::to_string(client_docs.size()) + " documents, the server " +
                                    std::to_string(server_docs.size()) + " (or differs)");
        }
      }
    }
  }
  result.passed = result.failures.empty();
  return result;
}

}  // namespace syncsim::conformance
