// The matrix runner: instance by instance (inputs and reference computed once), combinations in
// parallel, one results.jsonl line per finished combination, reports at the end.
#include "harness/matrix/runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "harness/interrupt.hpp"
#include "harness/matrix/canonical_inputs.hpp"
#include "harness/matrix/cost_model.hpp"
#include "harness/matrix/case_spec.hpp"
#include "harness/matrix/derivation.hpp"
#include "harness/matrix/device_prep.hpp"
#include "harness/matrix/evaluate.hpp"
#include "harness/matrix/ggml/ggml_instance_run.hpp"
#include "harness/matrix/instance.hpp"
#include "harness/matrix/memory_estimate.hpp"
#include "harness/matrix/mutants.hpp"
#include "harness/matrix/progress.hpp"
#include "harness/matrix/reference_run.hpp"
#include "harness/matrix/replay.hpp"
#include "harness/matrix/run_outputs.hpp"
#include "harness/matrix/scenarios.hpp"
#include "kernels/backend/problem_name.hpp"
#include "kernels/backend/worker_backend.hpp"
#include "kernels/common/errors.hpp"
#include "kernels/common/utc_time.hpp"
#include "reports/console.hpp"
#include "reports/gzip_file.hpp"
#include "reports/html/html_report.hpp"
#include "reports/json_io.hpp"
#include "reports/jsonl.hpp"
#include "reports/out_lock.hpp"
#include "reports/junit.hpp"
#include "reports/markdown.hpp"
#include "kernels/common/version.hpp"

namespace mxg::matrix {

namespace {

// Combinations whose device buffers are identical (is_shuffled and gate_mode are only what the
// kernel is told) are prepared once.
struct BufferGroup {
  Combination buffers;  // is_shuffled / gate_mode of the first member, unused
  std::vector<Combination> members;
};

std::vector<BufferGroup> group_by_buffers(const std::vector<Combination>& combos) {
  std::vector<BufferGroup> groups;
  for (const auto& c : combos) {
    auto same = [&](const BufferGroup& g) {
      return g.buffers.prep == c.prep && g.buffers.weight_shuffle == c.weight_shuffle &&
             g.buffers.scale_shuffle == c.scale_shuffle && g.buffers.padding == c.padding;
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) groups.push_back({c, {c}});
    else it->members.push_back(c);
  }
  return groups;
}

// What one worker needs to run a combination; shared read-only across workers.
struct InstanceContext {
  const Instance* instance;
  const CanonicalInputs* inputs;
  const RankSlice* slice;
  Geometry geometry;
  const Tensor* reference;
  std::int64_t mutant_expert = 0;
};

// Estimated cost of one combination of an instance: the multiply-adds of its routed experts
// (tokens x top-k x the rank's padded w13 and w2 sizes); only ratios matter to the split.
double estimated_cost(const Instance& inst) {
  const auto tp = layout::tp_plan(inst.shape.intermediate, inst.shape.hidden, inst.shape.tp, inst.shape.rank);
  return static_cast<double>(inst.tokens) * static_cast<double>(inst.shape.topk) * 3.0 *
         static_cast<double>(tp.intermediate_padded) * static_cast<double>(tp.hidden_padded);
}

// The combinations one instance will run: AITER-family ones, or the ggml family's.
struct Planned {
  const Instance* instance;
  std::vector<Combination> combos;
  std::vector<ggml::GgmlCombination> ggml_combos;

  std::size_t size() const { return combos.size() + ggml_combos.size(); }
};

template <class C>
std::vector<C> kept_members(const std::vector<C>& combos, const std::vector<bool>& member, std::size_t& u) {
  std::vector<C> kept;
  for (const auto& c : combos)
    if (member[u++]) kept.push_back(c);
  return kept;
}

// Instances per part from which a split keeps each instance whole: its inputs and reference are then
// computed by one part only (they dominate a nightly: cost_model.cpp), and ~4 or more instances a part
// still balance well. Smaller plans are split combination by combination.
constexpr std::size_t kWholeInstancesPerShard = 4;

// A whole-instance split: one unit per instance, weighed by its estimated time on the GPU backend
// (inputs and reference once, then every combination).
std::vector<bool> instance_membership(const std::vector<Planned>& plan, const ShardSpec& shard) {
  std::vector<ShardUnit> units;
  const BackendCost& gpu = backend_costs().at(1);
  for (const auto& pl : plan) {
    const InstanceLoad load = instance_load(*pl.instance, static_cast<std::int64_t>(pl.size()));
    units.push_back({pl.instance->id(), estimate(gpu, {load}).wall_s(1)});
  }
  return shard_membership(units, shard);
}

void keep_shard(std::vector<Planned>& plan, const ShardSpec& shard) {
  if (plan.size() >= kWholeInstancesPerShard * static_cast<std::size_t>(shard.count)) {
    const auto member = instance_membership(plan, shard);
    std::size_t u = 0;
    std::erase_if(plan, [&](const Planned&) { return !member[u++]; });
    return;
  }
  std::vector<ShardUnit> units;
  for (const auto& pl : plan) {
    const double cost = estimated_cost(*pl.instance);
    for (const auto& c : pl.combos) units.push_back({result_id(*pl.instance, combination_id(c)), cost});
    for (const auto& c : pl.ggml_combos) units.push_back({result_id(*pl.instance, ggml::combination_id(c)), cost});
  }
  const auto member = shard_membership(units, shard);
  std::size_t u = 0;
  for (auto& pl : plan) {
    pl.combos = kept_members(pl.combos, member, u);
    pl.ggml_combos = kept_members(pl.ggml_combos, member, u);
  }
  std::erase_if(plan, [](const Planned& pl) { return pl.size() == 0; });
}

// Whether a result id is selected: --filter globs, and --only-id (exact ids) when given.
bool wanted(const std::string& id, const RunOptions& o) {
  if (!selected(id, o.filters)) return false;
  return o.only_ids.empty() || std::find(o.only_ids.begin(), o.only_ids.end(), id) != o.only_ids.end();
}

// --only-id / --write-problem name exact ids: one the case files do not hold is a usage error naming it.
void check_named_ids(const RunOptions& o, const std::vector<Planned>& plan) {
  std::set<std::string> found;
  for (const auto& pl : plan) {
    for (const auto& c : pl.combos) found.insert(result_id(*pl.instance, combination_id(c)));
    for (const auto& c : pl.ggml_combos) found.insert(result_id(*pl.instance, ggml::combination_id(c)));
  }
  for (const auto& id : o.only_ids) {
    if (!found.count(id)) {
      throw InputError(fmt::format("--only-id: '{}' is not a combination of the case files{} (`mxguard matrix --list` "
                                   "names the instances; results.jsonl and summary.md give full ids)",
                                   id, o.filters.empty() ? "" : " selected by --filter"));
    }
  }
}

// --write-problem: the one planned combination (the plan holds only it) written with its reference.
int write_problem_of(const RunOptions& o, const std::vector<Planned>& plan) {
  for (const auto& pl : plan) {
    if (!pl.ggml_combos.empty()) {
      throw InputError("--write-problem: ggml-family combinations have no fused-MoE problem file");
    }
    for (const auto& c : pl.combos) {
      const std::string id = result_id(*pl.instance, combination_id(c));
      if (id != o.write_problem_id) continue;
      write_combination_problem(*pl.instance, c,
                                o.write_problem_out.empty() ? std::filesystem::path(problem_file_name(id))
                                                            : o.write_problem_out,
                                o.backend_options.pad_convention);
      return exit_code::kPass;
    }
  }
  throw InputError(fmt::format("--write-problem: '{}' is not a combination of the case files", o.write_problem_id));
}

// --list: the plan's estimated wall time on each backend (harness/matrix/cost_model.cpp).
void print_estimates(const std::vector<Planned>& plan) {
  std::vector<InstanceLoad> loads;
  for (const auto& pl : plan) loads.push_back(instance_load(*pl.instance, static_cast<std::int64_t>(pl.size())));
  fmt::print("Estimated time (harness/matrix/cost_model.cpp; ci/workflows/README.md \"Time budget\"):\n");
  for (const auto& cost : backend_costs()) {
    const Estimate e = estimate(cost, loads);
    fmt::print("  {:<34} {:>12} on {}; {:>12} on one worker (reference {})\n", cost.backend,
               format_duration(e.wall_s(cost.workers)), cost.workers_note, format_duration(e.wall_s(1)),
               format_duration(e.reference_s));
  }
}

class Runner {
 public:
  explicit Runner(const RunOptions& o) : opt_(o) {}
  int run();

 private:
  // Whether combinations run in a child `mxguard kernel worker`: asked for (or the backend's
  // default), and not a backend that already runs outside mxguard (the external backend: its child
  // must be the user's --kernel-cmd or --kernel-worker, so it is never wrapped in a second child).
  bool isolated() const {
    return opt_.isolate && opt_.backend != "ggml" && backend_isolation(opt_.backend) != Isolation::Inherent;
  }
  std::unique_ptr<FusedMoeBackend> make_worker_backend(std::optional<int> device) const;
  std::vector<std::unique_ptr<FusedMoeBackend>> make_backends(int jobs) const;
  report::CombinationResult run_one(const InstanceContext& ctx, const FusedMoeProblem& prepared,
                                    const Combination& combo, const std::string& mutant,
                                    FusedMoeBackend& backend);
  void record(report::CombinationResult r);
  void run_ggml(const Instance* inst, const std::vector<ggml::GgmlCombination>& combos, int threads,
                const ScopedInterruptHandler& interrupt);
  void finish_reports(report::RunSummary& summary);

  const RunOptions& opt_;
  std::vector<Scenario> scenarios_;
  std::unique_ptr<report::ResultsLog> log_;
  std::set<std::string> done_ids_;
  std::vector<report::CombinationResult> results_;
  std::mutex mu_;
  std::unique_ptr<Progress> progress_;
};

std::unique_ptr<FusedMoeBackend> Runner::make_worker_backend(std::optional<int> device) const {
  BackendOptions o = opt_.backend_options;
  o.device = device;
  if (!isolated()) return make_backend(opt_.backend, o);
  // Isolation: combinations run in a persistent child `mxguard kernel worker` (external protocol v2),
  // so a crash or GPU fault is the ERROR of the combination it was running and the next one gets a
  // fresh worker. The worker reports the real backend's kernel and device in its hello.
  WorkerBackendSettings w;
  w.command = fmt::format("exec '{}' kernel worker --backend '{}' --threads {} --pad-convention {}{}",
                          opt_.self_exe.string(), opt_.backend, o.threads, pad_convention_name(o.pad_convention),
                          o.kernel_mutant.empty() ? "" : fmt::format(" --kernel-mutant '{}'", o.kernel_mutant));
  w.backend_name = opt_.backend;
  w.timeout_seconds = o.timeout_seconds;
  w.rss_limit_bytes = o.worker_rss_limit_bytes;
  w.device = device;
  w.device_note = " (isolated: persistent worker process)";
  return mxg::make_worker_backend(std::move(w));
}

report::CombinationResult Runner::run_one(const InstanceContext& ctx, const FusedMoeProblem& prepared,
                                          const Combination& combo, const std::string& mutant,
                                          FusedMoeBackend& backend) {
  const auto& inst = *ctx.instance;
  report::CombinationResult r = result_header(inst, combination_id(combo), dimension_map(combo));
  if (!mutant.empty()) r.id += "/mutant=" + mutant;
  r.mutant = mutant;
  r.scenarios = mutant.empty()
                    ? realised_scenarios(scenarios_, combo, ctx.geometry, opt_.backend_options.pad_convention)
                    : std::vector<std::string>{};
  const Derivation d = derive(combo, ctx.geometry, opt_.backend_options.pad_convention);
  r.expected_consistent = d.consistent && mutant.empty();
  r.derivation = mutant.empty() ? d.reason : "mutant " + mutant + " breaks the kernel's read";
  const BackendInfo info = backend.info();
  r.backend = info.backend;
  r.kernel = info.kernel;
  r.device = info.device;

  FusedMoeProblem p = prepared;
  p.is_shuffled = combo.is_shuffled;
  p.gate_mode = combo.gate_mode;
  if (!mutant.empty()) apply_mutant(mutant, DeviceMaps{combo, ctx.geometry}, ctx.mutant_expert, p);

  const auto start = std::chrono::steady_clock::now();
  try {
    const Tensor y = backend.run_combination(p, r.id);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    judge(r, y, *ctx.reference, ctx.slice->topk_ids, ctx.slice->topk_weights, ctx.inputs->expert_ids);
  } catch (const std::exception& e) {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.verdict = report::Verdict::Error;
    r.message = e.what();
  }
  return r;
}

// Result ids of every planned combination (mutant ids are these plus "/mutant=NAME").
std::set<std::string> planned_ids(const std::vector<Planned>& plan) {
  std::set<std::string> ids;
  for (const auto& pl : plan) {
    for (const auto& c : pl.combos) ids.insert(result_id(*pl.instance, combination_id(c)));
    for (const auto& c : pl.ggml_combos) ids.insert(result_id(*pl.instance, ggml::combination_id(c)));
  }
  return ids;
}

// The ggml kernel runs in process with its own thread pool (`threads` = --jobs), one combination
// at a time; results not already in a resumed log are recorded as they finish.
void Runner::run_ggml(const Instance* inst, const std::vector<ggml::GgmlCombination>& combos, int threads,
                      const ScopedInterruptHandler& interrupt) {
  std::vector<ggml::GgmlCombination> todo;
  for (const auto& c : combos)
    if (!done_ids_.count(result_id(*inst, ggml::combination_id(c)))) todo.push_back(c);
  if (todo.empty()) return;
  ggml::GgmlRunSettings settings = opt_.ggml;
  settings.threads = threads;
  settings.timeout_seconds = opt_.backend_options.timeout_seconds;
  if (settings.work_dir.empty()) settings.work_dir = opt_.out_dir / "stack";
  ggml::run_ggml_instance(*inst, todo, scenarios_, settings, [&] { return interrupt.requested(); },
                          [&](report::CombinationResult r) { record(std::move(r)); });
  progress_->instance_done(inst->id());
}

void Runner::record(report::CombinationResult r) {
  std::lock_guard lock(mu_);
  log_->append(r);
  progress_->finished(r);
  results_.push_back(std::move(r));
}

// One backend per job, made side by side: a persistent worker's start (imports, JIT, GPU init) can
// take long, and --devices starts one per GPU. The first failure is the run's error.
std::vector<std::unique_ptr<FusedMoeBackend>> Runner::make_backends(int jobs) const {
  std::vector<std::unique_ptr<FusedMoeBackend>> made(static_cast<std::size_t>(jobs));
  std::vector<std::exception_ptr> failures(made.size());
  auto make_one = [&](std::size_t j) {
    try {
      made[j] = make_worker_backend(opt_.devices.empty() ? std::nullopt : std::optional<int>(opt_.devices[j]));
    } catch (...) {
      failures[j] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t j = 1; j < made.size(); ++j) threads.emplace_back(make_one, j);
  make_one(0);
  for (auto& t : threads) t.join();
  for (const auto& f : failures)
    if (f) std::rethrow_exception(f);
  return made;
}

int Runner::run() {
  const auto cases = load_cases(opt_.cases);
  scenarios_ = load_scenarios(opt_.scenarios);
  const auto instances = expand_instances(cases, opt_.seeds);
  if (instances.empty()) throw InputError("no case instances: the case files select nothing");

  // Per instance, the combinations to run (padding from-i-over-tp is dropped where it equals the
  // correct padding: same buffers, same read). The backend decides the family: ggml runs the ggml
  // family's cases, every other backend the AITER family's.
  const std::string family = opt_.backend == "ggml" ? "ggml" : "aiter";
  std::vector<Planned> plan;
  std::int64_t total = 0, unfiltered = 0, other_family = 0;
  for (const auto& inst : instances) {
    if (inst.spec->family != family) {
      ++other_family;
      continue;
    }
    Planned pl{&inst, {}, {}};
    if (family == "ggml") {
      auto combos = ggml::expand_combinations(inst.spec->dimensions);
      if (!opt_.ggml.prep_cmd.empty()) combos = ggml::stack_combinations(combos);
      for (const auto& c : combos) {
        ++unfiltered;
        if (wanted(result_id(inst, ggml::combination_id(c)), opt_)) pl.ggml_combos.push_back(c);
      }
      if (pl.size() > 0) plan.push_back(std::move(pl));
      continue;
    }
    const auto tp = layout::tp_plan(inst.shape.intermediate, inst.shape.hidden, inst.shape.tp, inst.shape.rank);
    for (const auto& c : expand_combinations(inst.spec->dimensions)) {
      if (c.padding == Padding::FromIOverTp && tp.shard_units == tp.units_loaded) continue;
      ++unfiltered;
      if (!wanted(result_id(inst, combination_id(c)), opt_)) continue;
      pl.combos.push_back(c);
    }
    if (pl.size() > 0) plan.push_back(std::move(pl));
  }
  for (const auto& pl : plan) total += static_cast<std::int64_t>(pl.size());
  if (other_family > 0) {
    fmt::print(stderr, "mxguard matrix: {} case instance(s) of another kernel family not run on --backend {}{}\n",
               other_family, opt_.backend, family == "ggml" ? "" : " (ggml-family cases run with --backend ggml)");
  }

  check_named_ids(opt_, plan);
  if (!opt_.write_problem_id.empty()) return write_problem_of(opt_, plan);

  // Selecting nothing would otherwise be an empty, passing run: a typo in CI's --filter must not
  // turn the job green. (A shard beyond the number of combinations is empty by design.)
  if (total == 0) {
    if (unfiltered == 0 && other_family > 0) {
      throw InputError(fmt::format("--backend {}: the case files hold no {}-family case", opt_.backend, family));
    }
    if (unfiltered == 0) {
      throw InputError("the case files select no combination (padding from-i-over-tp is dropped where it "
                       "equals the correct padding)");
    }
    std::string filters;
    for (const auto& f : opt_.filters) filters += (filters.empty() ? "'" : ", '") + f + "'";
    throw InputError(
        fmt::format("--filter {}: selects none of the {} combinations of the case files", filters, unfiltered));
  }

  const std::int64_t selected_total = total;
  if (!opt_.shard.whole()) {
    keep_shard(plan, opt_.shard);
    const std::int64_t selected = total;
    total = 0;
    for (const auto& pl : plan) total += static_cast<std::int64_t>(pl.size());
    fmt::print(stderr, "mxguard matrix: --shard {}/{}: {} of the {} selected combinations\n", opt_.shard.index,
               opt_.shard.count, total, selected);
  }

  if (opt_.list) {
    for (const auto& pl : plan) fmt::print("{}  ({} combinations)\n", pl.instance->id(), pl.size());
    print_estimates(plan);
    fmt::print("{} instances, {} combinations\n", plan.size(), total);
    return exit_code::kPass;
  }

  // The workers' backends are made here, on this thread, before anything is written: an unknown
  // backend or a missing device is an error of the whole run (exit 2 or 3), not an exception escaping
  // a worker thread (which would abort the process).
  const int jobs = !opt_.devices.empty() ? static_cast<int>(opt_.devices.size())
                   : opt_.jobs > 0      ? opt_.jobs
                                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  {
    // Before anything is allocated: an instance that cannot fit is an input error naming its fields.
    std::vector<Instance> planned;
    for (const auto& pl : plan) planned.push_back(*pl.instance);
    const bool given = opt_.max_memory_mib > 0;
    check_memory(planned, jobs, given ? opt_.max_memory_mib * 1048576.0 : default_memory_limit_bytes(), given);
  }
  std::vector<std::unique_ptr<FusedMoeBackend>> backends;
  if (family == "ggml" && !ggml::ggml_kernel_available()) {
    throw InfraError("--backend ggml: this mxguard was built without the ggml source (run ci/fetch-llama-cpp, "
                     "then configure again)");
  }
  if (family == "aiter") backends = make_backends(jobs);

  // Exclusive for this run: a second run on the same --out would delete or interleave our results.
  const report::OutDirLock out_lock(opt_.out_dir, "--out");
  const auto log_path = opt_.out_dir / "results.jsonl";
  const auto closed_log_path = opt_.out_dir / "results.jsonl.gz";  // the log once a run closed it
  // A plain log beside a compressed one is newer (a resumed run that did not reach its close).
  if (opt_.resume && !std::filesystem::exists(log_path) && std::filesystem::exists(closed_log_path)) {
    report::gunzip_copy(closed_log_path, log_path);
  }
  if (!opt_.resume) std::filesystem::remove(closed_log_path);
  if (opt_.resume && std::filesystem::exists(log_path)) {
    auto loaded = report::load_results_jsonl(log_path);
    for (const auto& w : loaded.warnings) fmt::print(stderr, "mxguard matrix: {}\n", w);
    // Only this run's combinations count, each once (the last line of an id wins): a log written with
    // other --cases, --filter or --seed, or holding a combination twice, must not inflate the totals.
    const std::set<std::string> planned = planned_ids(plan);
    std::map<std::string, report::CombinationResult> kept;
    std::int64_t foreign = 0;
    for (auto& r : loaded.results) {
      const auto mutant_at = r.id.find("/mutant=");
      const std::string base = mutant_at == std::string::npos ? r.id : r.id.substr(0, mutant_at);
      if (!planned.count(base) || (mutant_at != std::string::npos && !opt_.mutants)) {
        ++foreign;
        continue;
      }
      if (r.verdict == report::Verdict::Error) {  // errors are re-run
        kept.erase(r.id);
        continue;
      }
      kept.insert_or_assign(r.id, std::move(r));
    }
    for (auto& [id, r] : kept) {
      done_ids_.insert(id);
      results_.push_back(std::move(r));
    }
    fmt::print(stderr, "mxguard matrix: resuming, {} results already in {}{}\n", done_ids_.size(), log_path.string(),
               foreign ? fmt::format(" ({} lines of other combinations ignored)", foreign) : "");
  } else {
    std::filesystem::remove(log_path);
  }
  log_ = std::make_unique<report::ResultsLog>(log_path);

  report::RunSummary summary;
  summary.tool_version = std::string(mxguard_version());  // printers prefix "mxguard"
  summary.versions["mxguard"] = summary.tool_version;
  if (!opt_.image.empty()) summary.versions["image"] = opt_.image;
  summary.shard = {opt_.shard.index, opt_.shard.count, selected_total, total};
  summary.replay_prefix = replay_command_prefix(opt_);
  summary.started_at = utc_now_iso8601();
  summary.backend = opt_.backend;
  for (const auto& c : cases) summary.case_files.push_back(c.file.string());

  progress_ = std::make_unique<Progress>(total, opt_.progress_tty);
  progress_->skip(static_cast<std::int64_t>(done_ids_.size()));
  const ScopedInterruptHandler interrupt;
  const auto wall_start = std::chrono::steady_clock::now();

  for (const auto& pl : plan) {
    if (interrupt.requested()) break;
    const Instance& inst = *pl.instance;
    if (!pl.ggml_combos.empty()) {
      run_ggml(pl.instance, pl.ggml_combos, jobs, interrupt);
      continue;
    }
    std::vector<Combination> todo;
    for (const auto& c : pl.combos)
      if (!done_ids_.count(result_id(inst, combination_id(c)))) todo.push_back(c);
    if (todo.empty() && !opt_.mutants) continue;

    const CanonicalInputs inputs = generate_inputs(inst.shape, inst.tokens, inst.routing, inst.inputs, inst.seed);
    const RankSlice slice = slice_rank(inputs, inst.shape);
    const Tensor reference = reference_output(inputs, slice.plan, inst.shape);
    InstanceContext ctx{&inst, &inputs, &slice, rank_geometry(slice), &reference,
                        inputs.topk_ids.as<std::int32_t>()[0]};

    // Work items: buffer groups of the combinations, then (with --mutants) every mutant on the
    // derived-consistent combinations, whose unmutated verdict is PASS.
    struct Item {
      BufferGroup group;
      std::string mutant;
    };
    std::vector<Item> items;
    for (auto& g : group_by_buffers(todo)) items.push_back({std::move(g), ""});
    if (opt_.mutants) {
      std::vector<Combination> consistent;
      for (const auto& c : pl.combos)
        if (derive(c, ctx.geometry, opt_.backend_options.pad_convention).consistent) consistent.push_back(c);
      for (const auto& mu : builtin_mutants()) {
        // A resumed run skips mutant runs it already has, like any other finished combination.
        std::vector<Combination> mutant_todo;
        for (const auto& c : consistent)
          if (!done_ids_.count(result_id(inst, combination_id(c)) + "/mutant=" + mu.name)) mutant_todo.push_back(c);
        for (auto& g : group_by_buffers(mutant_todo)) items.push_back({std::move(g), mu.name});
        progress_->add_to_total(static_cast<std::int64_t>(mutant_todo.size()));
      }
    }

    std::atomic<std::size_t> next{0};
    std::exception_ptr worker_failure;  // the first exception a worker did not turn into a result
    std::mutex failure_mu;
    auto work = [&](FusedMoeBackend& backend) {
      for (std::size_t i; !interrupt.requested() && (i = next.fetch_add(1)) < items.size();) {
        const auto& item = items[i];
        FusedMoeProblem prepared;
        try {
          prepared = prepare_problem(slice, item.group.buffers, inst.shape, opt_.backend_options.pad_convention);
        } catch (const std::exception& e) {
          for (const auto& c : item.group.members) {
            report::CombinationResult r = result_header(inst, combination_id(c), dimension_map(c));
            if (!item.mutant.empty()) r.id += "/mutant=" + item.mutant;
            r.mutant = item.mutant;
            r.verdict = report::Verdict::Error;
            r.message = std::string("preparing the device buffers failed: ") + e.what();
            record(std::move(r));
          }
          continue;
        }
        for (const auto& c : item.group.members) {
          if (interrupt.requested()) break;
          record(run_one(ctx, prepared, c, item.mutant, backend));
        }
      }
    };
    // An exception leaving a thread would terminate the process; it stops the others and is
    // rethrown here instead (e.g. results.jsonl cannot be written: an infrastructure error).
    auto worker = [&](FusedMoeBackend& backend) {
      try {
        work(backend);
      } catch (...) {
        std::lock_guard lock(failure_mu);
        if (!worker_failure) worker_failure = std::current_exception();
        next.store(items.size());
      }
    };
    std::vector<std::thread> threads;
    for (int j = 1; j < jobs; ++j) threads.emplace_back(worker, std::ref(*backends[static_cast<std::size_t>(j)]));
    worker(*backends[0]);
    for (auto& t : threads) t.join();
    if (worker_failure) std::rethrow_exception(worker_failure);
    progress_->instance_done(inst.id());
  }

  // The kernel's and stack's versions as the backends know them by now (a worker's handshake, an
  // adapter's output metadata); the first backend to name a library wins.
  for (const auto& b : backends) {
    for (const auto& [name, version] : b->info().versions) summary.versions.emplace(name, version);
  }
  summary.interrupted = interrupt.requested();
  summary.finished_at = utc_now_iso8601();
  summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  summary.results = results_;
  summary.mutants = score_mutants(results_);
  progress_->close();
  finish_reports(summary);
  // Closed: compressed (JSON lines of one schema shrink ~10x); --resume and `mxguard merge` read it back.
  log_.reset();
  report::gzip_replace(log_path, closed_log_path);
  if (summary.interrupted) {
    fmt::print(stderr, "mxguard matrix: interrupted; partial report written to {} (rerun with --resume)\n",
               opt_.out_dir.string());
  }
  return report::compute_totals(summary).exit_code;
}

void Runner::finish_reports(report::RunSummary& summary) { write_run_outputs(opt_.out_dir, summary); }

}  // namespace

int run_matrix(const RunOptions& options) { return Runner(options).run(); }

}  // namespace mxg::matrix
