// The matrix part of the HTML report, accumulated one result at a time (what and why: matrix_digest.hpp).
#include "reports/html/matrix_digest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "reports/digest.hpp"
#include "reports/html/failure_groups.hpp"
#include "reports/json_io.hpp"

namespace mxg::report::html {

using json = Json;  // insertion-ordered: the page data reads in a stable, documented order

namespace {

// Dimensions that vary inside a heatmap cell (an instance of the case), not across its columns.
const std::set<std::string> kCellDims = {"routing", "inputs"};
// Column dimensions in the order the matrix states them (harness/matrix/dimensions.hpp); others follow by name.
const std::vector<std::string> kColumnDimOrder = {"prep",      "weight_shuffle", "scale_shuffle",
                                                  "is_shuffled", "gate_mode",    "padding"};
constexpr std::size_t kMessageChars = 400;
constexpr std::size_t kMissedExamples = 10;
constexpr std::size_t kGroupCells = 400;

double nan_as_inf(double x) { return std::isnan(x) ? std::numeric_limits<double>::infinity() : x; }

std::string clip(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  std::size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return s.substr(0, cut) + "…";
}

std::vector<std::string> split_segments(const std::string& id) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = id.find('/', start);
    out.push_back(id.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

std::string join_segments(const std::vector<std::string>& parts, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) out += '/';
    out += parts[i];
  }
  return out;
}

void keep_common_prefix(std::vector<std::string>& prefix, const std::vector<std::string>& other) {
  std::size_t n = 0;
  while (n < prefix.size() && n < other.size() && prefix[n] == other[n]) ++n;
  prefix.resize(n);
}

void keep_common_suffix(std::vector<std::string>& suffix, const std::vector<std::string>& other) {
  std::size_t n = 0;
  while (n < suffix.size() && n < other.size() && suffix[suffix.size() - 1 - n] == other[other.size() - 1 - n]) ++n;
  suffix.erase(suffix.begin(), suffix.end() - static_cast<std::ptrdiff_t>(n));
}

// "gptoss120b-tp8-r7" < "gptoss120b-tp16-r0": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      const std::string da = a.substr(i, ie - i), db = b.substr(j, je - j);
      const std::string ta = da.substr(std::min(da.find_first_not_of('0'), da.size()));
      const std::string tb = db.substr(std::min(db.find_first_not_of('0'), db.size()));
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// tp and rank, when the shape name carries them ("...-tp8-r7"); "" otherwise.
std::string shape_part(const std::string& shape, const std::regex& re) {
  std::smatch m;
  return std::regex_search(shape, m, re) ? m[1].str() : std::string();
}

// Three significant digits: enough to read, a few bytes per cell in the page.
json short_number(double x) {
  if (!std::isfinite(x)) return double_to_json(x);
  if (x == 0) return 0;
  // strtod, not stod: a subnormal rounds to itself instead of throwing out_of_range.
  return std::strtod(fmt::format("{:.3g}", x).c_str(), nullptr);
}

std::uint32_t intern(std::vector<std::string>& table, const std::string& value) {
  const auto it = std::find(table.begin(), table.end(), value);
  if (it != table.end()) return static_cast<std::uint32_t>(it - table.begin());
  table.push_back(value);
  return static_cast<std::uint32_t>(table.size() - 1);
}

std::string verdict_key(Verdict v) { return std::string(verdict_name(v)); }

json counts_json(const std::array<std::int64_t, 6>& counts) {
  json out = json::object();
  for (Verdict v : kAllVerdicts) {
    if (counts[static_cast<std::size_t>(v)] > 0) out[verdict_key(v)] = counts[static_cast<std::size_t>(v)];
  }
  return out;
}

json counts_json(const std::map<Verdict, std::int64_t>& counts) {
  json out = json::object();
  for (const auto& [v, n] : counts) {
    if (n > 0) out[verdict_key(v)] = n;
  }
  return out;
}

}  // namespace

int verdict_severity(Verdict v) {
  switch (v) {
    case Verdict::Fail: return 5;
    case Verdict::Blind: return 4;
    case Verdict::Error: return 3;
    case Verdict::Caught: return 2;
    case Verdict::Pass: return 1;
    case Verdict::Skipped: return 0;
  }
  return 0;
}

bool represents_before(Verdict va, double nmse_a, const std::string& id_a, Verdict vb, double nmse_b,
                       const std::string& id_b) {
  if (verdict_severity(va) != verdict_severity(vb)) return verdict_severity(va) > verdict_severity(vb);
  const double a = nan_as_inf(nmse_a), b = nan_as_inf(nmse_b);
  if (a != b && (va == Verdict::Pass || va == Verdict::Fail)) return a > b;
  if (a != b && (va == Verdict::Caught || va == Verdict::Blind)) return a < b;
  return id_a < id_b;
}

MatrixDigest::MatrixDigest(DigestOptions options) : options_(options) {}

std::uint32_t MatrixDigest::add_run(RunInfo run) {
  runs_.push_back(std::move(run));
  return static_cast<std::uint32_t>(runs_.size() - 1);
}

void MatrixDigest::set_run(std::uint32_t index, RunInfo run) { runs_.at(index) = std::move(run); }

Totals MatrixDigest::totals() const {
  TotalsAccumulator acc = totals_;
  for (const auto& [name, m] : mutants_) acc.add(m.summary);  // merged across shards: each mutant once
  if (std::any_of(runs_.begin(), runs_.end(), [](const RunInfo& r) { return r.interrupted; })) acc.set_interrupted();
  return acc.totals();
}

Json MatrixDigest::runs_json() const {
  Json runs = Json::array();
  for (const RunInfo& r : runs_) {
    runs.push_back({{"source", r.source},
                    {"tool_version", r.tool_version},
                    {"started_at", r.started_at},
                    {"finished_at", r.finished_at},
                    {"backend", r.backend},
                    {"case_files", r.case_files},
                    {"interrupted", r.interrupted},
                    {"wall_seconds", double_to_json(r.wall_seconds)}});
  }
  return runs;
}

void MatrixDigest::add_mutants(const std::vector<MutantResult>& mutants) {
  for (const MutantResult& m : mutants) {
    Mutant& acc = mutants_[m.name];
    if (acc.summary.name.empty()) {
      acc.summary = m;
    } else {
      acc.summary.killed = acc.summary.killed || m.killed;
      acc.summary.combinations += m.combinations;
      acc.summary.detecting += m.detecting;
      if (acc.summary.description.empty()) acc.summary.description = m.description;
    }
  }
}

std::uint32_t MatrixDigest::row_of(const CombinationResult& r) {
  const auto key = std::make_tuple(r.case_name, r.shape, r.tokens);
  const auto [it, inserted] = row_index_.try_emplace(key, static_cast<std::uint32_t>(rows_.size()));
  if (inserted) rows_.push_back(FineRow{r.case_name, r.shape, r.tokens, {}, false});
  return it->second;
}

std::uint32_t MatrixDigest::col_of(const CombinationResult& r) {
  std::map<std::string, std::string> dims;
  for (const auto& [name, value] : r.dims) {
    if (kCellDims.contains(name)) continue;
    dims.emplace(name, value);
    if (std::find(col_dim_names_.begin(), col_dim_names_.end(), name) == col_dim_names_.end())
      col_dim_names_.push_back(name);
  }
  const auto [it, inserted] = col_index_.try_emplace(dims, static_cast<std::uint32_t>(cols_.size()));
  if (inserted) cols_.push_back(FineCol{std::move(dims), {}, false});
  return it->second;
}

std::uint32_t MatrixDigest::intern_cell_value(std::vector<std::string>& table,
                                              std::unordered_map<std::string, std::uint32_t>& index,
                                              const std::string& value) {
  const auto [it, inserted] = index.try_emplace(value, static_cast<std::uint32_t>(table.size()));
  if (inserted) table.push_back(value);
  return it->second;
}

ResultDetail MatrixDigest::detail_of(const CombinationResult& r, std::uint32_t run, std::uint32_t row,
                                     std::uint32_t col) {
  ResultDetail d;
  d.id = r.id;
  d.verdict = r.verdict;
  d.metrics = r.metrics;
  std::size_t t = 0;
  while (t < tolerances_.size() &&
         !(tolerances_[t].nmse == r.tolerance.nmse && tolerances_[t].max_rel == r.tolerance.max_rel &&
           tolerances_[t].cosine == r.tolerance.cosine)) {
    ++t;
  }
  if (t == tolerances_.size()) {
    tolerances_.push_back(r.tolerance);
    tolerance_counts_.push_back(0);
  }
  d.tolerance = static_cast<std::uint32_t>(t);
  d.hotspots.assign(r.hotspots.begin(), r.hotspots.begin() + static_cast<std::ptrdiff_t>(
                                                                 std::min(r.hotspots.size(), kDetailHotspots)));
  d.message = clip(r.message, kMessageChars);
  d.derivation = clip(r.derivation, kMessageChars);
  d.expected_consistent = r.expected_consistent;
  d.backend = r.backend;
  d.kernel = r.kernel;
  d.device = r.device;
  d.seconds = r.seconds;
  d.run = run;
  d.row = row;
  d.col = col;
  d.scenarios = r.scenarios;
  return d;
}

void MatrixDigest::keep_failure(ResultDetail d) {
  failures_.push_back(std::move(d));
  // Keep memory bounded: past twice the page's share, keep the worst and drop the rest.
  if (failures_.size() >= 2 * options_.failure_details + 64) {
    std::stable_sort(failures_.begin(), failures_.end(), [](const ResultDetail& a, const ResultDetail& b) {
      return represents_before(a.verdict, a.metrics.nmse, a.id, b.verdict, b.metrics.nmse, b.id);
    });
    failures_.resize(options_.failure_details);
  }
}

void MatrixDigest::add_result(const CombinationResult& r, std::uint32_t run) {
  totals_.add(r);
  const std::vector<std::string> segments = split_segments(r.id);

  if (is_mutant_result(r)) {
    Mutant& m = mutants_[r.mutant];
    if (m.summary.name.empty()) m.summary.name = r.mutant;
    auto& [detected, ran] = m.by_row[fmt::format("{} · {} · T={}", r.case_name, r.shape, r.tokens)];
    ++ran;
    if (r.verdict == Verdict::Caught) ++detected;
    return;
  }
  ++results_;
  const std::uint32_t row = row_of(r), col = col_of(r);
  FineRow& fr = rows_[row];
  if (!fr.prefix_set) {
    fr.prefix = segments;
    fr.prefix_set = true;
    fr.min_segments = segments.size();
  } else {
    keep_common_prefix(fr.prefix, segments);
    fr.min_segments = std::min(fr.min_segments, segments.size());
  }
  FineCol& fc = cols_[col];
  if (!fc.suffix_set) {
    fc.suffix = segments;
    fc.suffix_set = true;
  } else {
    keep_common_suffix(fc.suffix, segments);
  }

  for (const std::string* name : {&r.backend, &r.kernel, &r.device}) {
    auto& table = name == &r.backend ? backends_ : name == &r.kernel ? kernels_ : devices_;
    if (!name->empty()) intern(table, *name);
  }

  ResultDetail d = detail_of(r, run, row, col);
  ++tolerance_counts_[d.tolerance];
  const std::uint64_t key = (static_cast<std::uint64_t>(row) << 32) | col;
  auto [cell_it, new_cell] = cells_.try_emplace(key);
  Cell& cell = cell_it->second;
  ++cell.counts[static_cast<std::size_t>(r.verdict)];
  if (new_cell) {
    cell.rep = static_cast<std::uint32_t>(reps_.size());
    reps_.push_back(d);
  } else {
    const ResultDetail& cur = reps_[cell.rep];
    if (represents_before(d.verdict, d.metrics.nmse, d.id, cur.verdict, cur.metrics.nmse, cur.id)) reps_[cell.rep] = d;
  }
  if (r.verdict == Verdict::Fail || r.verdict == Verdict::Blind || r.verdict == Verdict::Error) {
    ++failure_counts_[r.verdict];
    keep_failure(d);
  }

  const auto cell_value = [&](const char* name) {
    const auto it = r.dims.find(name);
    return it == r.dims.end() ? std::string("-") : it->second;
  };
  compact_.push_back(Compact{row, col, intern_cell_value(routings_, routing_index_, cell_value("routing")),
                             intern_cell_value(inputs_, inputs_index_, cell_value("inputs")),
                             intern_cell_value(seeds_, seed_index_, std::to_string(r.seed)), r.verdict});

  if (r.verdict == Verdict::Pass || r.verdict == Verdict::Caught || r.verdict == Verdict::Fail ||
      r.verdict == Verdict::Blind) {
    const double x = r.metrics.nmse;
    if (!std::isfinite(x)) {
      ++nonfinite_nmse_[r.verdict];
    } else if (x <= 0) {
      ++zero_nmse_[r.verdict];
    } else {
      ++histogram_[r.verdict][static_cast<std::int64_t>(std::floor(std::log10(x) / kHistogramBinDecades))];
    }
  }

  for (const std::string& name : r.scenarios) {
    Scenario& s = scenarios_[name];
    ++s.combinations;
    ++s.counts[r.verdict];
    ++s.by_row[row][r.verdict];
    if (r.verdict != Verdict::Caught && r.verdict != Verdict::Skipped && s.missed.size() < kMissedExamples)
      s.missed.push_back(r.id);
  }
}

std::string MatrixDigest::row_label(std::uint32_t fine_row) const {
  const FineRow& r = rows_[fine_row];
  return fmt::format("{} · {} · T={}", r.case_name, r.shape, r.tokens);
}

json MatrixDigest::detail_json(const ResultDetail& d, std::vector<std::string>& texts,
                               std::unordered_map<std::string, std::uint32_t>& text_index) const {
  const auto text = [&](const std::string& s) -> json {
    if (s.empty()) return -1;
    const auto [it, inserted] = text_index.try_emplace(s, static_cast<std::uint32_t>(texts.size()));
    if (inserted) texts.push_back(s);
    return it->second;
  };
  json hs = json::array();
  for (const Hotspot& h : d.hotspots) hs.push_back({h.expert, h.tile, short_number(h.share)});
  json scenarios = json::array();
  for (const std::string& s : d.scenarios) scenarios.push_back(text(s));
  // PASS and CAUGHT messages only restate the metrics; the others say why.
  const bool says_why = d.verdict != Verdict::Pass && d.verdict != Verdict::Caught;
  return json::array({double_to_json(d.metrics.nmse), double_to_json(d.metrics.max_rel),
                      double_to_json(d.metrics.cosine), d.metrics.nonfinite_kernel, d.metrics.nonfinite_ref,
                      d.tolerance, std::move(hs), says_why ? text(d.message) : json(-1), text(d.derivation),
                      d.expected_consistent ? 1 : 0,
                      text(fmt::format("{} / {} / {}", d.backend, d.kernel, d.device)), short_number(d.seconds),
                      d.run, std::move(scenarios)});
}

namespace {

// The heatmap's resolution: how fine rows and columns map onto the drawn ones.
struct Layout {
  std::vector<std::string> dims;        // column dimensions in display order
  std::size_t kept = 0;                 // leading dims that still split columns
  bool merge_tokens = false;
  std::vector<std::uint32_t> row_of;    // fine row -> drawn row
  std::vector<std::uint32_t> col_of;    // fine col -> drawn col
  std::vector<std::vector<std::uint32_t>> col_codes;  // drawn col -> value code per kept dim
  std::vector<std::uint32_t> row_first;  // drawn row -> a fine row in it (for labels)
  std::size_t rows = 0, cols = 0;
};

}  // namespace

json MatrixDigest::to_json() const {
  json out = json::object();
  out["totals"] = totals();
  out["runs"] = runs_json();
  out["backends"] = backends_;
  out["kernels"] = kernels_;
  out["devices"] = devices_;
  json tols = json::array();
  for (std::size_t i = 0; i < tolerances_.size(); ++i) {
    tols.push_back({{"nmse", double_to_json(tolerances_[i].nmse)},
                    {"max_rel", double_to_json(tolerances_[i].max_rel)},
                    {"cosine", double_to_json(tolerances_[i].cosine)},
                    {"results", tolerance_counts_[i]}});
  }
  out["tolerances"] = std::move(tols);

  // ---- heatmap layout ----
  Layout L;
  for (const std::string& d : kColumnDimOrder) {
    if (std::find(col_dim_names_.begin(), col_dim_names_.end(), d) != col_dim_names_.end()) L.dims.push_back(d);
  }
  std::vector<std::string> others;
  for (const std::string& d : col_dim_names_) {
    if (std::find(L.dims.begin(), L.dims.end(), d) == L.dims.end()) others.push_back(d);
  }
  std::sort(others.begin(), others.end());
  L.dims.insert(L.dims.end(), others.begin(), others.end());
  // Values in first-seen order (the runner's enumeration order), per dimension.
  std::vector<std::vector<std::string>> values(L.dims.size());
  std::vector<std::vector<std::uint32_t>> fine_codes(cols_.size(), std::vector<std::uint32_t>(L.dims.size()));
  for (std::size_t c = 0; c < cols_.size(); ++c) {
    for (std::size_t d = 0; d < L.dims.size(); ++d) {
      const auto it = cols_[c].dims.find(L.dims[d]);
      fine_codes[c][d] = intern(values[d], it == cols_[c].dims.end() ? std::string("-") : it->second);
    }
  }
  // Fine rows sorted by case, shape, tokens.
  std::vector<std::uint32_t> row_order(rows_.size());
  std::iota(row_order.begin(), row_order.end(), 0);
  std::sort(row_order.begin(), row_order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const FineRow &x = rows_[a], &y = rows_[b];
    if (x.case_name != y.case_name) return natural_less(x.case_name, y.case_name);
    if (x.shape != y.shape) return natural_less(x.shape, y.shape);
    return x.tokens < y.tokens;
  });
  const auto count_rows = [&](bool merge_tokens) {
    std::set<std::tuple<std::string, std::string, std::int64_t>> keys;
    for (const FineRow& r : rows_) keys.emplace(r.case_name, r.shape, merge_tokens ? -1 : r.tokens);
    return keys.size();
  };
  const auto count_cols = [&](std::size_t kept) {
    std::set<std::vector<std::uint32_t>> keys;
    for (const auto& codes : fine_codes) keys.emplace(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(kept));
    return keys.size();
  };
  bool chosen = false;
  for (int merge = 0; merge < 2 && !chosen; ++merge) {
    const std::size_t nrows = count_rows(merge == 1);
    const std::size_t lowest = merge == 0 && !L.dims.empty() ? 1 : 0;
    for (std::size_t kept = L.dims.size() + 1; kept-- > lowest;) {
      if (nrows * count_cols(kept) <= options_.cell_budget) {
        L.kept = kept;
        L.merge_tokens = merge == 1;
        chosen = true;
        break;
      }
    }
  }
  if (!chosen) {
    L.kept = 0;
    L.merge_tokens = true;
  }
  // Drawn rows.
  L.row_of.assign(rows_.size(), 0);
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::uint32_t> drawn_rows;
  for (std::uint32_t fr : row_order) {
    const FineRow& r = rows_[fr];
    const auto key = std::make_tuple(r.case_name, r.shape, L.merge_tokens ? -1 : r.tokens);
    const auto [it, inserted] = drawn_rows.try_emplace(key, static_cast<std::uint32_t>(L.row_first.size()));
    if (inserted) L.row_first.push_back(fr);
    L.row_of[fr] = it->second;
  }
  L.rows = L.row_first.size();
  // Drawn columns, sorted by their value codes (grouped by the leading dimension, then the next...).
  std::map<std::vector<std::uint32_t>, std::uint32_t> drawn_cols;
  for (const auto& codes : fine_codes) drawn_cols.emplace(std::vector<std::uint32_t>(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(L.kept)), 0);
  for (auto& [codes, index] : drawn_cols) {
    index = static_cast<std::uint32_t>(L.col_codes.size());
    L.col_codes.push_back(codes);
  }
  L.cols = L.col_codes.size();
  L.col_of.resize(cols_.size());
  for (std::size_t c = 0; c < cols_.size(); ++c) {
    L.col_of[c] = drawn_cols.at(std::vector<std::uint32_t>(fine_codes[c].begin(), fine_codes[c].begin() + static_cast<std::ptrdiff_t>(L.kept)));
  }

  // Drawn cells: counts and representative.
  struct DrawnCell {
    std::array<std::int64_t, 6> counts{};
    const ResultDetail* rep = nullptr;
  };
  std::vector<DrawnCell> drawn(L.rows * L.cols);
  for (const auto& [key, cell] : cells_) {
    const std::uint32_t fr = static_cast<std::uint32_t>(key >> 32), fc = static_cast<std::uint32_t>(key & 0xffffffffu);
    DrawnCell& dc = drawn[L.row_of[fr] * L.cols + L.col_of[fc]];
    for (std::size_t v = 0; v < 6; ++v) dc.counts[v] += cell.counts[v];
    const ResultDetail& rep = reps_[cell.rep];
    if (!dc.rep || represents_before(rep.verdict, rep.metrics.nmse, rep.id, dc.rep->verdict, dc.rep->metrics.nmse,
                                     dc.rep->id)) {
      dc.rep = &rep;
    }
  }
  // Id pieces. A drawn row's ids share a prefix. A drawn column's ids end in the same segments except
  // where a merged dimension sits: its template holds those shared segments, position by position from
  // the end, and '*' elsewhere. A cell's representative id is then prefix + middle (its instance) +
  // the template with its '*' filled in, and the template is also the column half of the cell's
  // --filter glob.
  std::vector<std::vector<std::string>> prefixes(L.rows), templates(L.cols);
  std::vector<bool> prefix_set(L.rows, false), template_set(L.cols, false);
  for (std::size_t fr = 0; fr < rows_.size(); ++fr) {
    const std::uint32_t r = L.row_of[fr];
    if (!rows_[fr].prefix_set) continue;
    if (!prefix_set[r]) {
      prefixes[r] = rows_[fr].prefix;
      prefix_set[r] = true;
    } else {
      keep_common_prefix(prefixes[r], rows_[fr].prefix);
    }
  }
  for (std::size_t fc = 0; fc < cols_.size(); ++fc) {
    if (!cols_[fc].suffix_set) continue;
    const std::uint32_t c = L.col_of[fc];
    const auto& suffix = cols_[fc].suffix;
    auto& t = templates[c];
    if (!template_set[c]) {
      t = suffix;
      template_set[c] = true;
      continue;
    }
    if (suffix.size() < t.size()) t.erase(t.begin(), t.end() - static_cast<std::ptrdiff_t>(suffix.size()));
    for (std::size_t k = 0; k < t.size(); ++k) {
      if (t[t.size() - 1 - k] != suffix[suffix.size() - 1 - k]) t[t.size() - 1 - k] = "*";
    }
  }
  // A row with a single instance shares its whole id up to the columns, and a column seen in one row
  // shares all of it: cap both so that they never overlap (the column part of an id is at most one
  // segment per column dimension, the row part at least the rest).
  const std::size_t col_part = L.dims.size();
  for (std::size_t r = 0; r < L.rows; ++r) {
    std::size_t shortest = std::numeric_limits<std::size_t>::max();
    for (std::size_t fr = 0; fr < rows_.size(); ++fr) {
      if (L.row_of[fr] == r && rows_[fr].prefix_set) shortest = std::min(shortest, rows_[fr].min_segments);
    }
    const std::size_t cap = shortest > col_part ? shortest - col_part : 0;
    if (prefixes[r].size() > cap) prefixes[r].resize(cap);
  }
  for (auto& t : templates) {
    if (t.size() > col_part) t.erase(t.begin(), t.end() - static_cast<std::ptrdiff_t>(col_part));
  }

  std::size_t filled = 0;
  for (const DrawnCell& dc : drawn) filled += dc.rep != nullptr;
  const bool all_details = filled <= options_.detail_cells;

  json hm = json::object();
  json col_dims = json::array();
  for (std::size_t d = 0; d < L.dims.size(); ++d) col_dims.push_back({{"name", L.dims[d]}, {"values", values[d]}});
  hm["dims"] = std::move(col_dims);
  hm["kept"] = L.kept;  // dims[0..kept) split columns; the rest are merged into cells
  hm["merged_tokens"] = L.merge_tokens;
  hm["cell_budget"] = options_.cell_budget;
  hm["all_details"] = all_details;
  json rows = json::array();
  for (std::size_t r = 0; r < L.rows; ++r) {
    const FineRow& fr = rows_[L.row_first[r]];
    json row = {{"case", fr.case_name}, {"shape", fr.shape}, {"prefix", join_segments(prefixes[r], 0, prefixes[r].size())}};
    row["tokens"] = L.merge_tokens ? json(nullptr) : json(fr.tokens);
    rows.push_back(std::move(row));
  }
  hm["rows"] = std::move(rows);
  json cols = json::array();
  bool any_star = false;
  for (std::size_t c = 0; c < L.cols; ++c) {
    any_star = any_star || std::find(templates[c].begin(), templates[c].end(), "*") != templates[c].end();
    cols.push_back({{"v", L.col_codes[c]}, {"tpl", join_segments(templates[c], 0, templates[c].size())}});
  }
  hm["cols"] = std::move(cols);

  std::vector<std::string> middles, fills, texts;
  std::map<std::string, std::uint32_t> middle_index, fill_index;
  std::unordered_map<std::string, std::uint32_t> text_index;
  const auto intern_piece = [](std::vector<std::string>& table, std::map<std::string, std::uint32_t>& index,
                               const std::string& piece) {
    const auto [it, inserted] = index.try_emplace(piece, static_cast<std::uint32_t>(table.size()));
    if (inserted) table.push_back(piece);
    return it->second;
  };
  json letters = json::array(), ns = json::array(), mids = json::array(), fill_rows = json::array(),
       errs = json::array();
  json mixed = json::object(), full_ids = json::object(), details = json::object();
  for (std::size_t r = 0; r < L.rows; ++r) {
    std::string line;
    json n_row = json::array(), m_row = json::array(), f_row = json::array(), e_row = json::array();
    for (std::size_t c = 0; c < L.cols; ++c) {
      const DrawnCell& dc = drawn[r * L.cols + c];
      if (!dc.rep) {
        line += '.';
        n_row.push_back(0);
        m_row.push_back(-1);
        f_row.push_back(-1);
        e_row.push_back(nullptr);
        continue;
      }
      const std::string key = fmt::format("{},{}", r, c);
      line += verdict_name(dc.rep->verdict)[0];
      std::int64_t total = 0;
      int kinds = 0;
      for (std::int64_t n : dc.counts) {
        total += n;
        kinds += n > 0;
      }
      n_row.push_back(total);
      if (kinds > 1) mixed[key] = counts_json(dc.counts);
      const std::vector<std::string> seg = split_segments(dc.rep->id);
      const auto& tpl = templates[c];
      const std::size_t pre = prefixes[r].size(), suf = tpl.size();
      if (pre + suf <= seg.size()) {
        m_row.push_back(intern_piece(middles, middle_index, join_segments(seg, pre, seg.size() - suf)));
        std::vector<std::string> starred;  // the representative's values where the template has '*'
        for (std::size_t k = 0; k < suf; ++k) {
          if (tpl[k] == "*") starred.push_back(seg[seg.size() - suf + k]);
        }
        f_row.push_back(starred.empty() ? json(-1) : json(intern_piece(fills, fill_index, join_segments(starred, 0, starred.size()))));
      } else {
        m_row.push_back(-1);
        f_row.push_back(-1);
        full_ids[key] = dc.rep->id;
      }
      e_row.push_back(dc.rep->verdict == Verdict::Error || dc.rep->verdict == Verdict::Skipped
                          ? json(nullptr)
                          : short_number(dc.rep->metrics.nmse));
      const bool bad = dc.rep->verdict == Verdict::Fail || dc.rep->verdict == Verdict::Blind ||
                       dc.rep->verdict == Verdict::Error;
      if (all_details || bad) details[key] = detail_json(*dc.rep, texts, text_index);
    }
    letters.push_back(line);
    ns.push_back(std::move(n_row));
    mids.push_back(std::move(m_row));
    fill_rows.push_back(std::move(f_row));
    errs.push_back(std::move(e_row));
  }
  hm["cells"] = std::move(letters);
  hm["n"] = std::move(ns);
  hm["mixed"] = std::move(mixed);
  hm["middles"] = std::move(middles);
  hm["mid"] = std::move(mids);
  if (any_star) {  // only merged columns have '*' to fill
    hm["fills"] = std::move(fills);
    hm["fill"] = std::move(fill_rows);
  }
  hm["nmse"] = std::move(errs);
  hm["full_ids"] = std::move(full_ids);
  hm["details"] = std::move(details);
  out["heatmap"] = std::move(hm);

  // ---- failures, worst first ----
  std::vector<ResultDetail> worst = failures_;
  std::stable_sort(worst.begin(), worst.end(), [](const ResultDetail& a, const ResultDetail& b) {
    return represents_before(a.verdict, a.metrics.nmse, a.id, b.verdict, b.metrics.nmse, b.id);
  });
  if (worst.size() > options_.failure_details) worst.resize(options_.failure_details);
  json failures = json::array();
  for (const ResultDetail& d : worst) {
    failures.push_back({{"id", d.id},
                        {"verdict", verdict_key(d.verdict)},
                        {"cell", fmt::format("{},{}", L.row_of[d.row], L.col_of[d.col])},
                        {"d", detail_json(d, texts, text_index)}});
  }
  out["failures"] = std::move(failures);
  out["texts"] = std::move(texts);
  json fields = json::array();
  for (const char* f : kDetailFields) fields.push_back(f);
  out["detail_fields"] = std::move(fields);
  out["failure_counts"] = counts_json(failure_counts_);

  // ---- failure groups ----
  json groups = json::array();
  const bool any_failure = std::any_of(failure_counts_.begin(), failure_counts_.end(), [](const auto& kv) { return kv.second > 0; });
  if (any_failure) {
    std::vector<std::string> attrs = L.dims;
    const std::size_t first_row_attr = attrs.size();
    for (const char* a : {"tp", "rank", "shape", "case", "tokens", "routing", "inputs", "seed"}) attrs.emplace_back(a);
    AttributeTable table(attrs);
    const std::regex tp_re("(?:^|-)tp(\\d+)(?:-|$)"), rank_re("(?:^|-)r(\\d+)(?:-|$)");
    std::vector<std::vector<std::uint32_t>> row_codes(rows_.size());
    for (std::size_t fr = 0; fr < rows_.size(); ++fr) {
      const FineRow& r = rows_[fr];
      const std::string tp = shape_part(r.shape, tp_re), rank = shape_part(r.shape, rank_re);
      row_codes[fr] = {table.intern(first_row_attr, tp.empty() ? "-" : tp),
                       table.intern(first_row_attr + 1, rank.empty() ? "-" : rank),
                       table.intern(first_row_attr + 2, r.shape), table.intern(first_row_attr + 3, r.case_name),
                       table.intern(first_row_attr + 4, std::to_string(r.tokens))};
    }
    std::vector<std::vector<std::uint32_t>> col_codes(cols_.size());
    for (std::size_t fc = 0; fc < cols_.size(); ++fc) {
      for (std::size_t d = 0; d < L.dims.size(); ++d) col_codes[fc].push_back(table.intern(d, values[d][fine_codes[fc][d]]));
    }
    std::vector<std::uint32_t> codes(attrs.size());
    std::vector<bool> is_verdict(compact_.size());
    for (const Compact& c : compact_) {
      std::copy(col_codes[c.col].begin(), col_codes[c.col].end(), codes.begin());
      std::copy(row_codes[c.row].begin(), row_codes[c.row].end(), codes.begin() + static_cast<std::ptrdiff_t>(first_row_attr));
      codes[first_row_attr + 5] = table.intern(first_row_attr + 5, routings_[c.routing]);
      codes[first_row_attr + 6] = table.intern(first_row_attr + 6, inputs_[c.inputs]);
      codes[first_row_attr + 7] = table.intern(first_row_attr + 7, seeds_[c.seed]);
      table.add_coded_row(codes);
    }
    struct Statement {
      Verdict verdict;
      std::vector<Verdict> universe;
      const char* universe_text;
    };
    const Statement statements[] = {
        {Verdict::Fail, {Verdict::Pass, Verdict::Fail}, "combinations the layout rules call right (PASS or FAIL)"},
        {Verdict::Blind, {Verdict::Caught, Verdict::Blind}, "combinations the layout rules call wrong (CAUGHT or BLIND)"},
        {Verdict::Error,
         {Verdict::Pass, Verdict::Caught, Verdict::Fail, Verdict::Blind, Verdict::Error},
         "combinations that were run (every verdict but SKIPPED)"},
    };
    for (const Statement& st : statements) {
      if (!failure_counts_.contains(st.verdict) || failure_counts_.at(st.verdict) == 0) continue;
      std::vector<std::size_t> universe;
      std::vector<bool> failing(compact_.size(), false);
      for (std::size_t i = 0; i < compact_.size(); ++i) {
        if (std::find(st.universe.begin(), st.universe.end(), compact_[i].verdict) == st.universe.end()) continue;
        universe.push_back(i);
        failing[i] = compact_[i].verdict == st.verdict;
      }
      const Grouping g = group_failures(table, universe, failing);
      json gj = {{"verdict", verdict_key(st.verdict)},
                 {"universe", st.universe_text},
                 {"universe_size", universe.size()},
                 {"failures", failure_counts_.at(st.verdict)},
                 {"remainder", g.remainder.size()}};
      json list = json::array();
      for (const FailureGroup& fg : g.groups) {
        const auto conds = [&](const std::vector<Condition>& cs) {
          json a = json::array();
          for (const Condition& c : cs) a.push_back({table.name(c.attribute), table.value(c.attribute, c.value)});
          return a;
        };
        std::set<std::string> cells;
        for (std::size_t m : fg.members) {
          if (cells.size() >= kGroupCells) break;
          cells.insert(fmt::format("{},{}", L.row_of[compact_[m].row], L.col_of[compact_[m].col]));
        }
        list.push_back({{"rule", conds(fg.rule)},
                        {"shared", conds(fg.shared)},
                        {"members", fg.members.size()},
                        {"matching", fg.matching},
                        {"failures_matching", fg.failures_matching},
                        {"cells", cells}});
      }
      gj["groups"] = std::move(list);
      groups.push_back(std::move(gj));
    }
  }
  out["groups"] = std::move(groups);
  out["histogram"] = histogram_json();
  out["scenarios"] = scenarios_json();
  out["mutants"] = mutants_json();
  return out;
}

json MatrixDigest::histogram_json() const {
  json out = {{"bin_decades", kHistogramBinDecades}};
  json bins = json::object(), zero = json::object(), nonfinite = json::object();
  for (const auto& [v, hist] : histogram_) {
    json list = json::array();
    for (const auto& [bin, n] : hist) list.push_back({bin, n});
    bins[verdict_key(v)] = std::move(list);
  }
  out["bins"] = std::move(bins);
  out["zero"] = counts_json(zero_nmse_);
  out["nonfinite"] = counts_json(nonfinite_nmse_);
  return out;
}

json MatrixDigest::scenarios_json() const {
  json out = json::array();
  for (const auto& [name, s] : scenarios_) {
    json rows = json::array();
    for (const auto& [row, counts] : s.by_row) rows.push_back({{"row", row_label(row)}, {"counts", counts_json(counts)}});
    out.push_back({{"name", name},
                   {"status", std::string(scenario_status_name(scenario_status(s.counts, s.combinations)))},
                   {"combinations", s.combinations},
                   {"counts", counts_json(s.counts)},
                   {"where", std::move(rows)},
                   {"missed", s.missed}});
  }
  return out;
}

json MatrixDigest::mutants_json() const {
  json out = json::array();
  for (const auto& [name, m] : mutants_) {
    json where = json::array();
    for (const auto& [row, dr] : m.by_row) where.push_back({{"row", row}, {"detected", dr.first}, {"ran", dr.second}});
    out.push_back({{"name", name},
                   {"description", m.summary.description},
                   {"killed", m.summary.killed},
                   {"combinations", m.summary.combinations},
                   {"detecting", m.summary.detecting},
                   {"where", std::move(where)}});
  }
  return out;
}

}  // namespace mxg::report::html
