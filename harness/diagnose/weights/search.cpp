// The search: enumerate, screen by fingerprints, verify by bytes.
#include "harness/diagnose/weights/search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "harness/diagnose/weights/layout_map.hpp"

namespace mxg::diagnose::weights {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::exact: return "EXACT";
    case Verdict::partial: return "PARTIAL";
    case Verdict::unknown: return "UNKNOWN";
  }
  return "?";
}

namespace {

// -0 -> +0 and every NaN -> one quiet NaN, so value equality is byte equality.
std::vector<float> canonical_values(const Tensor& t) {
  std::vector<float> v = t.to_f32();
  for (float& x : v) {
    if (std::isnan(x)) {
      x = std::numeric_limits<float>::quiet_NaN();
    } else if (x == 0.0f) {
      x = 0.0f;
    }
  }
  return v;
}

std::span<const std::byte> bytes_of(const std::vector<float>& v) {
  return {reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(float)};
}

struct Screened {
  Chain chain;
  Screen screen;
  std::int64_t explained = 0;
  std::size_t order = 0;
};

void say(const SearchOptions& o, std::string_view line) {
  if (o.progress) o.progress(line);
}

// Settles dump experts whose probes tied between a few checkpoint experts by counting matching
// tiles against each; returns those still tied (identical content wherever the chain reads).
std::vector<std::int64_t> settle_ties(const Operands& ops, const LayoutMap& m, Screened& s) {
  constexpr std::size_t kMaxTried = 8;
  std::vector<std::int64_t> ambiguous;
  for (std::size_t d = 0; d < s.screen.ties.size(); ++d) {
    const auto& ties = s.screen.ties[d];
    if (ties.size() < 2) continue;
    if (ties.size() > kMaxTried) {
      ambiguous.push_back(static_cast<std::int64_t>(d));
      continue;
    }
    std::int64_t pick = s.chain.experts[d];
    std::int64_t best = matching_tiles(ops, m, static_cast<std::int64_t>(d), pick);
    bool tied = false;
    for (const std::int64_t e : ties) {
      if (e == s.chain.experts[d]) continue;
      const std::int64_t n = matching_tiles(ops, m, static_cast<std::int64_t>(d), e);
      if (n > best) {
        best = n;
        pick = e;
        tied = false;
      } else if (n == best) {
        tied = true;
      }
    }
    s.chain.experts[d] = pick;
    if (tied) ambiguous.push_back(static_cast<std::int64_t>(d));
  }
  return ambiguous;
}

std::string limits_text(const SpaceLimits& l) {
  std::vector<std::string> parts;
  if (l.tp) parts.push_back(fmt::format("tp={}", *l.tp));
  if (l.ep) parts.push_back(fmt::format("ep={}", *l.ep));
  return fmt::format("{}", fmt::join(parts, ", "));
}

Diagnosis search(const WeightsQuery& q, const SearchOptions& o) {
  Diagnosis out;
  std::vector<Chain> chains = enumerate_chains(q.kind, q.checkpoint, q.dump, q.limits, q.checkpoint_label,
                                               q.dump_label);
  if (chains.empty()) {
    out.notes.push_back(fmt::format(
        "no chain the layout library builds{} turns {} {} into {} {} ({} elements); dumps it can build look like: {}",
        q.limits.tp || q.limits.ep ? fmt::format(" with {}", limits_text(q.limits)) : "",
        dtype_name(q.checkpoint.dtype()), shape_string(q.checkpoint.shape()), dtype_name(q.dump.dtype()),
        shape_string(q.dump.shape()), dump_elements(q.kind, q.dump),
        fmt::join(example_dump_shapes(q.kind, q.checkpoint, q.limits, q.checkpoint_label), "; ")));
    return out;
  }
  const PreparedOperands prepared = prepare_operands(q.kind, q.checkpoint, q.dump);
  const Operands& ops = prepared.ops;

  say(o, fmt::format("screening {} candidate chains by tile fingerprints", chains.size()));
  std::vector<Screened> screened;
  screened.reserve(chains.size());
  for (std::size_t i = 0; i < chains.size(); ++i) {
    Screened s;
    s.chain = std::move(chains[i]);
    const LayoutMap m(s.chain);
    s.screen = screen_chain(ops, m, o.screen);
    s.chain.experts = s.screen.experts;
    s.explained = explained_elements(s.chain);
    s.order = i;
    screened.push_back(std::move(s));
  }
  out.candidates = static_cast<std::int64_t>(screened.size());
  std::ranges::sort(screened, [](const Screened& a, const Screened& b) {
    if (a.screen.score != b.screen.score) return a.screen.score > b.screen.score;
    if (a.explained != b.explained) return a.explained > b.explained;
    return a.order < b.order;
  });

  // Selection: the chain under which the most data elements sit in byte-identical tiles wins, and
  // it is EXACT only when no tile differs. (Preferring "exact" first would let a smaller tp window
  // that calls a corrupted tail "padding" beat the true, nearly exact window.) Fully-voted
  // candidates go first, most explained first; a candidate that cannot beat the best so far (it
  // explains fewer elements than the best matched) is skipped, and one that falls behind while
  // being compared is stopped. Equal: the earlier wins; equally exact ones are alternatives.
  std::optional<std::size_t> best;
  std::vector<std::int64_t> best_ambiguous;
  std::vector<bool> compared(screened.size(), false);
  auto consider = [&](std::size_t i) {
    Screened& s = screened[i];
    compared[i] = true;
    const std::int64_t most = s.explained;
    const Verification* b = best ? &out.verification : nullptr;
    if (b && most < b->matched_elements) return;
    const bool best_exact = b && b->exact();
    // Stop once the mismatching tiles hold more elements than this candidate can lose and still
    // beat (or, against an exact best, tie) the best.
    const std::int64_t margin = b ? most - b->matched_elements : 0;
    const std::int64_t stop_after_lost = !b ? 0 : best_exact ? std::max<std::int64_t>(margin, 1) : margin + 1;
    say(o, fmt::format("comparing {} byte for byte", chain_string(s.chain)));
    const LayoutMap m(s.chain);
    std::vector<std::int64_t> ambiguous = settle_ties(ops, m, s);
    Verification v = verify_chain(ops, m, s.chain.experts, {o.max_records, stop_after_lost, o.threads});
    ++out.verified;
    if (v.stopped) return;
    if (b && v.matched_elements == b->matched_elements && v.exact() && best_exact) {
      out.alternatives.push_back(s.chain);
      return;
    }
    const bool better = !b || v.matched_elements > b->matched_elements ||
                        (v.matched_elements == b->matched_elements && v.exact() && !best_exact);
    if (!better) return;
    out.alternatives.clear();
    best = i;
    out.verification = std::move(v);
    best_ambiguous = std::move(ambiguous);
  };
  int tried = 0;
  for (std::size_t i = 0; i < screened.size() && tried < o.exact_verifications; ++i) {
    if (screened[i].screen.score < 1.0) break;
    consider(i);
    ++tried;
  }
  if (!best || !out.verification.exact()) {
    // Nothing exact among the fully-voted: the best-scoring few are compared as well.
    const std::size_t n = std::min<std::size_t>(screened.size(), static_cast<std::size_t>(o.closest_verifications));
    for (std::size_t i = 0; i < n; ++i) {
      if (!compared[i]) consider(i);
    }
  }
  if (!best) return out;  // unreachable: the first candidate compared always becomes the best
  out.verdict = out.verification.exact()                                  ? Verdict::exact
                : out.verification.fraction() >= o.partial_threshold ? Verdict::partial
                                                                          : Verdict::unknown;
  out.chain = screened[*best].chain;
  out.ambiguous_experts = std::move(best_ambiguous);
  for (std::size_t i = 0; i < screened.size() && out.runners_up.size() < 3; ++i) {
    if (i == *best) continue;
    const bool alternative = std::ranges::any_of(out.alternatives, [&](const Chain& c) {
      return chain_string(c) == chain_string(screened[i].chain);
    });
    // Candidates no probe matched say nothing about the dump; they are not listed.
    if (!alternative && screened[i].screen.score > 0) out.runners_up.push_back({screened[i].chain, screened[i].screen.score});
  }
  return out;
}

}  // namespace

PreparedOperands prepare_operands(layout::ExpertTensor kind, const Tensor& checkpoint, const Tensor& dump) {
  const CheckpointGeometry cg = checkpoint_geometry(kind, checkpoint, "checkpoint");
  PreparedOperands p;
  p.ops.checkpoint_experts = cg.experts;
  p.ops.checkpoint_rows = cg.rows;
  p.ops.checkpoint_cols = cg.cols;
  if (is_bias(kind)) {
    p.checkpoint_values = canonical_values(checkpoint);
    p.dump_values = canonical_values(dump);
    p.ops.checkpoint = bytes_of(p.checkpoint_values);
    p.ops.dump = bytes_of(p.dump_values);
    p.ops.element_size = sizeof(float);
  } else {
    p.ops.checkpoint = checkpoint.bytes();
    p.ops.dump = dump.bytes();
    p.ops.element_size = 1;
  }
  return p;
}

Diagnosis diagnose_weights(const WeightsQuery& q, const SearchOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  Diagnosis d = search(q, o);
  if (d.verdict != Verdict::exact && (q.limits.tp || q.limits.ep)) {
    // The restriction may be what is wrong (a sidecar from another rank, a mistyped --tp): look
    // again without it, and say so if that finds the chain.
    say(o, fmt::format("nothing exact with {}; searching every tp / ep", limits_text(q.limits)));
    WeightsQuery open = q;
    open.limits = {};
    Diagnosis unrestricted = search(open, o);
    if (unrestricted.verdict == Verdict::exact) {
      unrestricted.notes.insert(unrestricted.notes.begin(),
                                fmt::format("no chain with {} matches; the exact chain below was found without "
                                            "that restriction",
                                            limits_text(q.limits)));
      unrestricted.candidates += d.candidates;
      unrestricted.verified += d.verified;
      d = std::move(unrestricted);
    }
  }
  d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return d;
}

}  // namespace mxg::diagnose::weights
