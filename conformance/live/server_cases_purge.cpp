// check --server cases of §5.9 (purge) and §5.13 (definitions), driven
// through the target's operator hooks (D132, D175): a purge or a definition
// is made by the operator, and what each session is sent is judged. Sessions
// of another tenant (a minted token) must see none of it.
#include <algorithm>
#include <memory>

#include "conformance/live/server_case.hpp"

namespace syncsim::conformance::server_case {

using namespace protocol;

namespace purge_steps {

// The steps of each part, in order.
std::vector<Step> join(std::initializer_list<std::vector<Step>> parts) {
  std::vector<Step> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// A session of `tenant` (a minted token), authenticated on `conn`.
std::vector<Step> session(const CaseContext& ctx, std::uint32_t tenant, std::size_t conn) {
  return {send_made([ctx, tenant]() -> Message { return handshake(ctx.mint(tenant)); }, conn),
          handshake_ok(conn)};
}

// Sessions 0 and 1 of the tenant, session 2 of another one.
std::vector<Step> two_tenants(const CaseContext& ctx, std::uint32_t tenant, std::uint32_t other) {
  return join({session(ctx, tenant, 0), session(ctx, tenant, 1), session(ctx, other, 2)});
}

std::vector<Step> subscribed(const std::string& coll, std::size_t conn) {
  const std::string shape_id = "syncsim-purge-" + std::to_string(conn);
  return {send(ShapeSubscribe{document_shape(shape_id, coll)}, conn),
          on(conn, expect<ShapeSnapshot>(
                       "ShapeSnapshot{shape_id: \"" + shape_id + "\"}",
                       [shape_id](const ShapeSnapshot& s) { return s.shape_id == shape_id; }))};
}

const CollectionPurged* notice_of(const View& v, std::size_t conn, const std::string& coll) {
  for (const auto& r : v.of(conn)) {
    const auto* p = std::get_if<CollectionPurged>(&r.message);
    if (p && p->name == coll) return p;
  }
  return nullptr;
}

// PURGE-1: every listed session of the purged tenant gets its notice (a FAIL
// naming the rule when one never comes, D175).
Step notices(const std::string& coll, std::vector<std::size_t> conns) {
  return with_choice(
      await("CollectionPurged{name: \"" + coll + "\"} on every session of the tenant",
            [coll, conns](const View& v) {
              return std::all_of(conns.begin(), conns.end(),
                                 [&](std::size_t c) { return notice_of(v, c, coll) != nullptr; });
            }),
      "PURGE-1 broken: a session of the purged tenant that pushed to or "
      "subscribed the collection was not sent CollectionPurged");
}

// Whatever the server wrote to `conn` before it answers this Ping has been read.
std::vector<Step> drained(std::size_t conn, std::uint64_t ts) {
  return {send(PingPong{ts, false}, conn), pong(ts, conn)};
}

std::string json_of(const std::string& tag) { return "{\"syncsim\":\"" + tag + "\"}"; }

std::size_t definitions(const View& v, std::size_t conn, const std::string& name,
                        const std::string& action) {
  return count<DefinitionSync>(v, conn, [&](const DefinitionSync& d) {
    return d.name == name && (action.empty() || d.action == action);
  });
}

// DEF-4: each listed session of the tenant is sent the change.
Step definition_sent(const std::string& name, const std::string& action,
                     std::vector<std::size_t> conns, std::size_t at_least = 1,
                     std::string rule =
                         "DEF-4 broken: a session of the tenant was not sent the "
                         "definition change") {
  return with_choice(await("DefinitionSync{name: \"" + name + "\", action: \"" + action +
                               "\"} on every session of the tenant",
                           [=](const View& v) {
                             return std::all_of(conns.begin(), conns.end(), [&](std::size_t c) {
                               return definitions(v, c, name, action) >= at_least;
                             });
                           }),
                     std::move(rule));
}

// DEF-4: the other tenant's session got nothing of it.
Step no_definition(const std::string& name, std::size_t conn, std::uint32_t tenant) {
  return hold(1, [=](const View& v) -> std::string {
    const auto n = definitions(v, conn, name, "");
    if (n == 0) return "";
    return "DEF-4 broken: " + std::to_string(n) + " DefinitionSync of \"" + name +
           "\" (a definition of tenant " + std::to_string(tenant) +
           ") sent to a session of another tenant";
  });
}

}  // namespace purge_steps

std::vector<Case> purge_cases(const CaseContext& ctx) {
  using namespace purge_steps;
  const std::uint32_t t = ctx.tenant;
  const std::uint32_t other = t == 0xFFFF'FFFFu ? t - 1 : t + 1;
  const std::string ts = std::to_string(t);
  auto purge_hook = [ts](const std::string& coll) {
    return operator_hook("purge", {{"tenant", ts}, {"collection", coll}});
  };
  auto define_hook = [ts](const std::string& name, const std::string& action) {
    return operator_hook("define", {{"tenant", ts},
                                    {"type", "function"},
                                    {"name", name},
                                    {"action", action},
                                    {"json", action == "put" ? json_of(name) : ""}});
  };
  std::vector<Case> out;

  {  // PURGE-1: two sessions of the tenant (a writer, a subscriber) told; another tenant not.
    const std::string coll = ctx.collection("purge1");
    Case c{{"purge-notice-to-tenant-only", "PURGE-1",
            "a purge through the hook: CollectionPurged{tenant, name} to each session of the "
            "tenant that pushed to or subscribed the collection, none to another tenant's",
            "purge"},
           {},
           true};
    c.steps = join({two_tenants(ctx, t, other),
                    {send(push(1, {7, 1}, coll), 0), acked(1, 0)},
                    subscribed(coll, 1),
                    subscribed(coll, 2),
                    {purge_hook(coll), notices(coll, {0, 1})},
                    drained(2, 51)});
    c.steps.push_back(hold(1, [coll, t, other](const View& v) -> std::string {
      for (std::size_t conn : {0, 1}) {
        const CollectionPurged* p = notice_of(v, conn, coll);
        if (p && p->tenant_id != t)
          return "PURGE-1 broken: CollectionPurged{tenant_id: " + std::to_string(p->tenant_id) +
                 "} for a purge of tenant " + std::to_string(t);
      }
      const auto wrong = count<CollectionPurged>(
          v, 2, [&](const CollectionPurged& p) { return p.name == coll || p.tenant_id != other; });
      if (wrong == 0) return "";
      return "PURGE-1 broken: a session of tenant " + std::to_string(other) + " was sent " +
             std::to_string(wrong) + " CollectionPurged for tenant " + std::to_string(t) +
             "'s purge of \"" + coll + "\"";
    }));
    out.push_back(std::move(c));
  }

  {  // PURGE-2: purge_lsn passes every LSN the session was acknowledged.
    const std::string coll = ctx.collection("purge2");
    out.push_back(
        {{"purge-lsn-above-acked", "PURGE-2",
          "after three acknowledged pushes, the purge's purge_lsn exceeds every LSN acknowledged "
          "for the collection",
          "purge"},
         {send(handshake(ctx.token)), handshake_ok(), send(push(1, {7, 1}, coll)),
          send(push(2, {7, 2}, coll)), send(push(3, {7, 3}, coll)), acked(1), acked(2), acked(3),
          purge_hook(coll), notices(coll, {0}), hold(1, [coll](const View& v) -> std::string {
            std::uint64_t acked = 0;
            for (const auto& r : v.of(0))
              if (const auto* a = std::get_if<DeltaAck>(&r.message))
                acked = std::max(acked, a->lsn);
            const CollectionPurged* p = notice_of(v, 0, coll);
            if (!p || p->purge_lsn > acked) return "";
            return "PURGE-2 broken: purge_lsn " + std::to_string(p->purge_lsn) +
                   " does not exceed lsn " + std::to_string(acked) + ", already acknowledged";
          })}});
  }

  {  // PURGE-4: a push after the purge rejected; no ShapeDelta of the collection afterwards.
    const std::string coll = ctx.collection("purge4");
    auto rejected = [coll](const DeltaReject& r) {
      const auto* custom =
          r.compensation ? std::get_if<compensation::Custom>(&*r.compensation) : nullptr;
      return r.mutation_id == 2 && r.reason == "collection purged" && custom &&
             custom->constraint == "collection_purged" && custom->detail == coll;
    };
    Case c{{"push-after-purge-rejected", "PURGE-4",
            "after a purge, a push to the collection is rejected \"collection purged\" "
            "(Custom{collection_purged}) and no ShapeDelta of it reaches a subscriber",
            "purge"},
           {},
           false};
    c.steps = join({{send(handshake(ctx.token), 0), handshake_ok(0), send(handshake(ctx.token), 1),
                     handshake_ok(1)},
                    subscribed(coll, 1),
                    {send(push(1, {7, 1}, coll), 0), acked(1, 0), purge_hook(coll),
                     send(push(2, {7, 2}, coll), 0),
                     on(0, forbidding(
                               expect<DeltaReject>(
                                   "DeltaReject{mutation_id: 2, reason: \"collection purged\", "
                                   "compensation: Custom{collection_purged, " +
                                       coll + "}}",
                                   rejected),
                               [](const Message& m) {
                                 const auto* a = std::get_if<DeltaAck>(&m);
                                 return a && a->mutation_id == 2;
                               },
                               "PURGE-4 broken: a push to the purged collection was "
                               "acknowledged"))},
                    drained(1, 52)});
    c.steps.push_back(hold(1, [coll](const View& v) -> std::string {
      for (std::size_t conn : {0, 1}) {
        const auto late = count<ShapeDelta>(v, conn, [&](const ShapeDelta& d) {
          return d.collection == coll && d.document_id == "doc-2";
        });
        if (late > 0)
          return "PURGE-4 broken: a ShapeDelta of \"" + coll +
                 "\" for the push made after its purge";
      }
      return "";
    }));
    out.push_back(std::move(c));
  }

  {  // PURGE-5: a session that shakes hands after the purge is told of it.
    const std::string coll = ctx.collection("purge5");
    out.push_back(
        {{"purge-replayed-after-handshake", "PURGE-5",
          "a session that shakes hands after a purge of its tenant is sent its CollectionPurged "
          "(HARNESS CHOICE: offline catch-up)",
          "purge"},
         {send(handshake(ctx.token), 0), handshake_ok(0), send(push(1, {7, 1}, coll), 0),
          acked(1, 0), purge_hook(coll), send(handshake(ctx.token), 1), handshake_ok(1),
          with_choice(await("CollectionPurged{name: \"" + coll + "\"} replayed after the handshake",
                            [coll](const View& v) { return notice_of(v, 1, coll) != nullptr; }),
                      "PURGE-5 (SHOULD, HARNESS CHOICE: recorded purges replayed after each "
                      "handshake; NodeDB Origin never replays) not followed")}});
  }

  {  // DEF-4: a put and a delete reach both sessions of the tenant, never another tenant's.
    const std::string name = "syncsim_" + ctx.tag + "_def1";
    // The put, then the delete: each reaches both sessions of the tenant, not the other's.
    std::vector<Step> steps = two_tenants(ctx, t, other);
    for (const std::string action : {"put", "delete"}) {
      const auto more = join({{define_hook(name, action), definition_sent(name, action, {0, 1})},
                              drained(2, action == "put" ? 53 : 54),
                              {no_definition(name, 2, t)}});
      steps.insert(steps.end(), more.begin(), more.end());
    }
    out.push_back({{"definition-to-tenant-only", "DEF-4",
                    "a definition put and delete through the hook reach every session of the "
                    "tenant, none of another tenant's",
                    "definitions"},
                   std::move(steps),
                   true});
  }

  {  // DEF-4: replayed after a handshake of the tenant; a deleted one no more.
    // Two definitions put newest name first: the replay orders them by name.
    const std::string name = "syncsim_" + ctx.tag + "_def2", later = name + "b";
    Case c{{"definition-replayed-after-handshake", "DEF-4",
            "definitions put before a session's handshake are sent to it after the handshake, "
            "ordered by type then name (not to another tenant's); once deleted, not replayed "
            "(HARNESS CHOICE)",
            "definitions"},
           {},
           true};
    c.steps =
        join({session(ctx, t, 0),
              {define_hook(later, "put"), define_hook(name, "put")},
              {definition_sent(name, "put", {0}), definition_sent(later, "put", {0})},
              session(ctx, t, 1),
              {definition_sent(name, "put", {1}, 1,
                               "DEF-4 (HARNESS CHOICE: every definition of the tenant "
                               "replayed after each handshake) not followed"),
               definition_sent(later, "put", {1}, 1,
                               "DEF-4 (HARNESS CHOICE: every definition of the tenant "
                               "replayed after each handshake) not followed")},
              {hold(1,
                    [name, later](const View& v) -> std::string {
                      for (const auto& r : v.of(1)) {
                        const auto* d = std::get_if<DefinitionSync>(&r.message);
                        if (d && d->name == name) return "";
                        if (d && d->name == later)
                          return "DEF-4 broken: the replay after the handshake sent \"" + later +
                                 "\" before \"" + name + "\" (ordered by type, then name)";
                      }
                      return "";
                    })},
              session(ctx, other, 2),
              drained(2, 55),
              {no_definition(name, 2, t), no_definition(later, 2, t)},
              {define_hook(name, "delete"), define_hook(later, "delete"),
               definition_sent(name, "delete", {0, 1}), definition_sent(later, "delete", {0, 1})},
              session(ctx, t, 3),
              drained(3, 56)});
    c.steps.push_back(hold(1, [name, later](const View& v) -> std::string {
      const auto n = definitions(v, 3, name, "put") + definitions(v, 3, later, "put");
      if (n == 0) return "";
      return "DEF-4 broken: \"" + name + "\" and \"" + later +
             "\" were deleted, yet replayed as puts after a handshake";
    }));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace syncsim::conformance::server_case
